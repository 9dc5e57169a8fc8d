#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The front README's troubleshooting table quotes what the programs print.
# Each quoted line is checked here: either this suite makes the program print
# it (the scenario below), or a chapter suite asserts that exact text (the
# list at the end). "..." in the README stands for a part that varies.
source "$(dirname "$0")/../lib.sh"
source "$COURSE_ROOT/scripts/capture.sh"
README="$COURSE_ROOT/README.md"
tmp=$(course_tmpdir)

# the README's quoted line that starts with PREFIX (first one)
readme_line() {
  grep -o "^| \`$1[^\`]*\`" "$README" | head -n 1 | sed 's/^| `//; s/`$//'
}

# does TEXT contain LINE, where "..." in LINE matches anything?
matches() {
  local text=$1 line=$2 piece rest
  rest=$text
  while [[ "$line" == *"..."* ]]; do
    piece=${line%%...*}
    [[ "$rest" == *"$piece"* ]] || return 1
    rest=${rest#*"$piece"}
    line=${line#*...}
  done
  [[ "$rest" == *"$line"* ]]
}

# check NAME PREFIX OUTPUT [FROM TO]: the README line, with FROM replaced by TO
check() {
  local name=$1 prefix=$2 out=$3 line
  line=$(readme_line "$prefix")
  [[ -n "$line" ]] || { t_fail "readme: $name" "no README line starts with: $prefix"; return; }
  [[ $# -ge 5 ]] && line=${line//"$4"/"$5"}
  if matches "$out" "$line"; then t_pass "readme: $name"; else
    t_fail "readme: $name" "the program printed: $(head -n 3 <<<"$out")"; fi
}

# deps: as a user who cannot install. nobody runs copies of the scripts in a
# folder every user may enter: the checkout may sit where only we can (a 0700
# home, a mktemp -d folder), and then nobody could not even read deps.sh.
if [[ $(id -u) -eq 0 ]]; then
  w=$(t_world_dir "$COURSE_ROOT/scripts/deps.sh" "$COURSE_ROOT/scripts/lib.sh" "$COURSE_ROOT/scripts/capture.sh")
  out=$(cd "$w" && runuser -u nobody -- env COURSE_EXTRA_PACKAGES=course-no-such-package "$w/deps.sh" 2>&1)
  check "deps line" "deps: missing Debian packages" "$out"
  out=$(cd "$w" && runuser -u nobody -- bash -c "source '$w/lib.sh'; source '$w/capture.sh'; capture_check" 2>&1)
  check "capture permission line" "capture: dumpcap may not capture" "$out"
else
  t_skip "readme: deps line" "needs root to run as another user"
  t_skip "readme: capture permission line" "needs root to run as another user"
fi

# port in use, and no server (README uses the default port 8001)
start_server 01-server "$BIN/01-server" --port 0 >/dev/null
out=$("$BIN/01-server" --port "$SERVER_PORT" 2>&1)
check "port in use" "01-server: error: cannot start the server" "$out" 8001 "$SERVER_PORT"
stop_server "$SERVER_PORT" 2>/dev/null
stop_servers
out=$("$BIN/01-client" --url "http://127.0.0.1:$SERVER_PORT" 2>&1)
check "no server" "01-client: error: GET /: Failed to connect" "$out" 8001 "$SERVER_PORT"

# chapter 02
out=$(env -u SECRET_KEY "$BIN/02-client" --url http://127.0.0.1:1 2>&1)
check "02 no key" "02-client: error: key: no key" "$out"
"$BIN/fernet" genkey >"$tmp/k" 2>/dev/null
chmod 644 "$tmp/k"
out=$(echo hi | "$BIN/fernet" encrypt --key-file "$tmp/k" 2>&1 >/dev/null)
check "fernet key file mode" "fernet: warning: key file F" "$out" " F" " $tmp/k"

# chapter 03
start_server 03-server "$BIN/03-server" --port 0
"$BIN/03-client" -q --group toy --url "$SERVER_URL" >/dev/null 2>&1
check "03 toy group note" "03-server: note: a client chose the toy group" "$(cat "$SERVER_LOG")"
out=$("$BIN/dh" x25519 --private 77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a \
  --peer 0000000000000000000000000000000000000000000000000000000000000000 2>&1)
check "dh low-order point" "dh: error: peer public value: the shared secret is all zero" "$out"
out=$("$BIN/dh" ffdhe --peer "$(printf '00%.0s' {1..255})01" 2>&1)
check "dh value outside 2..p-2" "dh: error: peer public value: the peer's public value is outside" "$out"

# chapters 04 and 05 without `make pki` (their default paths are relative to the course root)
out=$(cd "$tmp" && "$BIN/04-client" --url http://127.0.0.1:1 --ca build/pki/root.crt 2>&1)
check "04 no CA file" "04-client: error: --ca:" "$out"
out=$(cd "$tmp" && env -u MINICA_PASSPHRASE "$BIN/minica" init --dir "$tmp/ca" </dev/null 2>&1)
check "minica no passphrase" "minica: error: passphrase:" "$out"
out=$(cd "$tmp" && "$BIN/05-server" --port 0 2>&1)
check "05 no server certificate" "05-server: error: cannot use the server certificate" "$out"
out=$(cd "$tmp" && "$BIN/05-client" --url https://127.0.0.1:1 2>&1)
check "05 no CA file" "05-client: error: cannot read:" "$out"
out=$("$BIN/05-client" --url http://127.0.0.1:1 2>&1)
check "05 https only" "05-client: error: usage: 05-client speaks HTTPS only" "$out"

# lines whose scenario needs a whole chapter set-up: a chapter suite asserts the
# exact reason (05's break-it table, break.sh, is what its suite checks against)
for prefix in "02-client: error: decrypt the secret: MAC mismatch" \
  "04-client: error: key exchange: the signature does not match" \
  "05-client: error: GET /: unknown CA" "05-client: error: GET /: wrong host name"; do
  line=$(readme_line "$prefix")
  core=${line%%(curl*}
  core=${core#*: error: }
  core=${core#*: } # the reason, without the step it failed in
  core=${core%% }
  if [[ -n "$line" ]] && grep -rqF -- "$core" "$COURSE_ROOT"/tests/chapters/0*.sh "$COURSE_ROOT"/tests/helpers/*.py \
    "$COURSE_ROOT"/05_https_server/break.sh; then
    t_pass "readme: '$prefix' is asserted by a chapter suite"
  else
    t_fail "readme: '$prefix' is asserted by a chapter suite" "no suite asserts: $core"
  fi
done
