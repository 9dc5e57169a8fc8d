#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 01 end to end: the real 01-server on a free port, driven by 01-client
# and curl. Checks every claim of 01_plain_http/README.md that is not about the
# capture (tests/capture/01_plain_http.sh does that).
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)

if ! start_server 01-server "$BIN/01-server" --port 0; then
  t_fail "01: server starts on a free port" "no 'listening on' line"
  exit 0
fi
t_pass "01: server starts on a free port and prints 'listening on URL'"
URL=$SERVER_URL

t_expect "01: client prints the secret" 0 --out "The secret message is: fluffy tail" \
  -- "$BIN/01-client" --url "$URL"
t_expect "01: --server is an alias of --url" 0 --out "The secret message is: fluffy tail" \
  -- "$BIN/01-client" --server "$URL"
t_expect "01: narration shows the request line and headers as sent" 0 \
  --out "[client] -> GET / HTTP/1.1" --out "[client] -> Host: 127.0.0.1:$SERVER_PORT" \
  --out "[client] <- HTTP/1.1 200 OK" --out "[client] <- Content-Length: 11" --out "[client] <- Date: " \
  -- "$BIN/01-client" --url "$URL"
t_expect "01: --quiet prints only the result" 0 --out "The secret message is: fluffy tail" \
  --not "[client]" -- "$BIN/01-client" --quiet --url "$URL"
t_expect "01: --verbose adds a hex dump of the body" 0 \
  --out "66 6c 75 66 66 79 20 74 61 69 6c" -- "$BIN/01-client" --verbose --url "$URL"

t_expect "01: echo round trip" 0 --out '{"received":{"name":"alice","n":[1,2,3]},"server_time":"' \
  -- "$BIN/01-client" --url "$URL" --post '{"name":"alice","n":[1,2,3]}'
t_expect "01: bad JSON is a 400 with line and column" 1 \
  --err "the server answered 400" --err "line 1, column" \
  -- "$BIN/01-client" --url "$URL" --post '{"name": '
t_expect "01: duplicate JSON keys are refused" 1 --err "duplicate object key" \
  -- "$BIN/01-client" --url "$URL" --post '{"a":1,"a":2}'
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' 'x' >"$tmp/big"
t_expect "01: a body over 1 MiB is a 413" 1 --err "the server answered 413" \
  -- "$BIN/01-client" --url "$URL" --post-file "$tmp/big"
printf '{"pad":"%s"}' "$(head -c 1000000 /dev/zero | tr '\0' 'y')" >"$tmp/almost"
t_expect "01: a body just under the limit is accepted" 0 --out '"received":{"pad":"yyy' \
  -- "$BIN/01-client" --quiet --url "$URL" --post-file "$tmp/almost"

t_run curl -s -o /dev/null -w '%{http_code}' "$URL/no/such/page"
t_true "01: unknown path is a 404" "got $T_OUT" test "$T_OUT" = 404
t_run curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/"
t_true "01: wrong method is a 405" "got $T_OUT" test "$T_OUT" = 405
t_run curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' -d '{}' "$URL/echo"
t_true "01: echo wants application/json (415)" "got $T_OUT" test "$T_OUT" = 415
t_run curl -s "$URL/page"
t_true "01: /page is an HTML page with a login form" "no form in: $T_OUT" \
  grep -q '<form method="post" action="/login">' <<<"$T_OUT"
t_run curl -s -d 'user=alice&password=wonderland' "$URL/login"
t_true "01: the login form is answered" "got: $T_OUT" grep -q 'welcome, alice' <<<"$T_OUT"

t_run curl -s -D - -o /dev/null -H 'Content-Type: application/json' -H 'Content-Length: 99999999' \
  --data-binary '{}' "$URL/echo"
t_true "01: a refused oversized body is answered with Connection: close" "headers: $T_OUT" \
  grep -qi '^Connection: close' <<<"$T_OUT"
# a hostile URI cannot forge narration lines or reach the terminal as escapes
curl -g -s -o /dev/null "$URL/%1b[31mRED%0d%0a[server]%20-%3e%20FAKE" || true
t_true "01: control bytes in a request are logged as \\xNN, not obeyed" "log: $(grep -a RED "$SERVER_LOG")" \
  bash -c "grep -q 'RED\\\\x0d\\\\x0a\[server\] -> FAKE' '$SERVER_LOG' && ! grep -q \$'\\x1b' '$SERVER_LOG' && ! grep -q '^\[server\] -> FAKE' '$SERVER_LOG'"

# the server is still healthy after all the bad input
t_expect "01: server survives bad input" 0 --out "fluffy tail" -- "$BIN/01-client" -q --url "$URL"
t_true "01: server logged the request line it received" "log lacks it" \
  grep -q '\[server\] <- GET / HTTP/1.1' "$SERVER_LOG"

stop_server "$SERVER_PID"
t_true "01: SIGTERM stops the server with status 0" "status $STOPPED_RC" test "$STOPPED_RC" = 0
t_true "01: the server says it stopped" "log lacks 'stopped'" grep -q '\[server\] .*stopped' "$SERVER_LOG"

t_expect "01: a client with no server fails with a hint" 1 \
  --err "01-client: error: GET /: " --err "hint: is the server running" \
  -- "$BIN/01-client" --url "$URL"
t_expect "01: unknown option is a usage error (2)" 2 --err "try '01-client --help'" \
  -- "$BIN/01-client" --bogus
t_expect "01: bad port is a usage error (2)" 2 --err "--port: 'x' is not a whole number" \
  -- "$BIN/01-server" --port x
t_expect "01: a size that would wrap around (2^54+1 K = 1 K mod 2^64) is a usage error (2)" 2 --err "--max-body" \
  -- "$BIN/01-server" --max-body 18014398509481985K
t_expect "01: --help explains the server" 0 --out "usage: 01-server" -- "$BIN/01-server" --help

# a port that is taken gives one readable line and a hint
start_server 01-server "$BIN/01-server" --port 0 >/dev/null
t_expect "01: port in use is reported with a hint" 1 --err "cannot start the server" \
  --err "hint: another program has port" -- "$BIN/01-server" --port "$SERVER_PORT"

# IPv6 loopback works the same
if start_server 01-server6 "$BIN/01-server" --host ::1 --port 0 2>/dev/null; then
  t_expect "01: IPv6 loopback" 0 --out "fluffy tail" -- "$BIN/01-client" -q --url "$SERVER_URL"
else
  t_skip "01: IPv6 loopback" "this machine has no ::1"
fi

# ---- make 01 (the pair): the sheet's deliverable and its recompute recipe read a login
# password out of the capture make 01-capture writes, so the pair must post the login form
t_run "$COURSE_ROOT/scripts/run-chapter.sh" 01
t_true "01: make 01 posts the login form too (the capture then holds a password)" \
  "no welcome in: $(tail -n 3 <<<"$T_OUT")" grep -q '^welcome, alice (your password crossed' <<<"$T_OUT"
t_true "01: make 01's server saw the password arrive in the clear" "no such line from the server" \
  grep -q "login form for 'alice' arrived with its password in the clear" <<<"$T_OUT"
t_true "01: make 01 succeeds" "exit status $T_RC" test "$T_RC" = 0

# ---- "Read the code" in the chapter READMEs of 01-04 ------------------------------------
# Every file a reading list names must exist (in the chapter, at the repository root or in a
# common/ module), and every function or type it names must be in the chapter's or common/'s
# sources: a moved file or a renamed function shows up here, not in a confused student.
# read_the_code_stale DIR: prints the names in DIR/README.md's section that do not resolve
read_the_code_stale() {
  local dir=$COURSE_ROOT/$1 tok name
  sed -n '/^## Read the code/,/^## [^R]/p' "$dir/README.md" | grep -o '`[^`]*`' | tr -d '`' |
    while IFS= read -r tok; do
      case $tok in
        *'*'* | -* | */) ;; # a pattern, an option or a folder: nothing single to check
        *.c | *.h)
          [[ -f $dir/$tok || -f $COURSE_ROOT/$tok ]] || compgen -G "$COURSE_ROOT/common/*/$tok" >/dev/null ||
            echo "$tok" ;;
        *)
          name=${tok%'()'}
          [[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || continue
          # (a unit test's name, in the list of tests that back the sheet, is in tests/unit/)
          grep -rqw -- "$name" "$dir"/*.[ch] "$COURSE_ROOT"/common/*/*.[ch] "$COURSE_ROOT"/tests/unit/*.c || echo "$tok" ;;
      esac
    done
}
for ch in 01_plain_http 02_symmetric_fernet 03_diffie_hellman 04_pki_ca; do
  t_true "${ch:0:2}: the README has a 'Read the code' list" "none in $ch/README.md" \
    grep -q '^## Read the code' "$COURSE_ROOT/$ch/README.md"
  stale=$(read_the_code_stale "$ch")
  t_true "${ch:0:2}: every file and function 'Read the code' names exists" "not found: ${stale//$'\n'/, }" \
    test -z "$stale"
done
