#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The web layer (common/net/webserver.c) under hostile input, on the real
# 01-server (and 03-server for the session table): bodies cut short, lengths
# that overflow civetweb's counters, ambiguous framing (request smuggling),
# control bytes in paths, HEAD, and one client taking every session slot.
# Each of these was accepted before the web layer checked it.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
PY=/usr/bin/python3

# raw.py PORT BYTES [--half-close] [--wait S]: send BYTES (Python escapes:
# \r\n, \x00) on one connection, print what comes back, then "END: closed" if
# the server closed the connection within S seconds (3), "END: open" if not.
cat >"$tmp/raw.py" <<'EOF'
import socket, sys, time
port, data = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(data)
if "--half-close" in sys.argv:
    s.shutdown(socket.SHUT_WR)  # the body ends here: no more bytes will come
wait = float(sys.argv[sys.argv.index("--wait") + 1]) if "--wait" in sys.argv else 3
got, end, deadline = b"", "open", time.time() + wait
s.settimeout(0.2)
while time.time() < deadline:
    try:
        b = s.recv(65536)
    except socket.timeout:
        continue
    except ConnectionResetError:
        end = "closed"
        break
    if not b:
        end = "closed"
        break
    got += b
sys.stdout.write(got.decode("latin-1") + "\nEND: " + end + "\n")
EOF
raw() { t_run "$PY" "$tmp/raw.py" "$PORT" "$@"; }

if ! start_server 01-server "$BIN/01-server" --port 0; then
  t_fail "web: 01-server starts" "no 'listening on' line"
  exit 0
fi
URL=$SERVER_URL
PORT=$SERVER_PORT
alive() { # the server still answers a normal request
  t_expect "web: $1: the server keeps running" 0 --out "fluffy tail" -- curl -s -m 5 "$URL/"
}

# ---- 1. a body cut short is not a shorter body --------------------------------------
# The client sends 26 of the 60 bytes it announced and waits: civetweb's read
# times out (request_timeout_ms, 10 s) and mg_read returns 0, which is not the
# end of the body. This runs in the background while the checks below go on.
"$PY" "$tmp/raw.py" "$PORT" 'POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60\r\n\r\nuser=alice&password=wonder' \
  --wait 30 >"$tmp/short.out" 2>&1 &
short_pid=$!
raw 'POST /login HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\n\r\nuser=alice&password=wonder' --half-close
t_true "web: a body whose sender stops short (end of stream) is a 400" "got: $T_OUT" \
  bash -c 'grep -q "^HTTP/1.1 400 " <<<"$1" && ! grep -q "welcome" <<<"$1" &&
    grep -q "^END: closed" <<<"$1"' _ "$T_OUT"
raw 'POST /login HTTP/1.1\r\nHost: t\r\nContent-Length: 26\r\n\r\nuser=alice&password=wonder' --half-close
t_true "web: the same body, whole, is answered" "got: $T_OUT" grep -q "welcome, alice" <<<"$T_OUT"

# ---- 3. lengths that overflow civetweb's counters (the SAN lane aborted here) --------
raw 'GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 9223372036854775807\r\n\r\n'
t_true "web: Content-Length 2^63-1 on a route that reads no body is a 413" "got: $T_OUT" \
  grep -q "^HTTP/1.1 413 " <<<"$T_OUT"
t_true "web: ... and the connection is closed" "got: $T_OUT" grep -q "^END: closed" <<<"$T_OUT"
raw 'GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n'
t_true "web: a Content-Length past 2^64 is a 413 too" "got: $T_OUT" grep -q "^HTTP/1.1 413 " <<<"$T_OUT"
alive "huge Content-Length"
raw 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\n{}\r\n0\r\n\r\n'
t_true "web: chunk size 7fffffffffffffff is refused (400)" "got: $T_OUT" \
  grep -q "^HTTP/1.1 400 " <<<"$T_OUT"
raw 'GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n7fffffffffffffff\r\nabc\r\n'
t_true "web: ... also on a route that reads no body (civetweb skips the body)" "got: $T_OUT" \
  grep -q "^HTTP/1.1 200 " <<<"$T_OUT"
alive "huge chunk size"

# ---- 4. framing two parsers could read differently (request smuggling) ----------------
raw 'POST /login HTTP/1.1\r\nHost: t\r\nContent-Length: 26\r\nContent-Length: 7\r\n\r\nuser=alice&password=wonder'
t_true "web: two Content-Length headers are a 400" "got: $T_OUT" \
  bash -c 'grep -q "^HTTP/1.1 400 " <<<"$1" && grep -q "2 Content-Length headers" <<<"$1" &&
    grep -q "^END: closed" <<<"$1"' _ "$T_OUT"
raw 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2x\r\n\r\n{}'
t_true "web: Content-Length '2x' is a 400, not 2" "got: $T_OUT" \
  bash -c 'grep -q "^HTTP/1.1 400 " <<<"$1" && ! grep -q "received" <<<"$1"' _ "$T_OUT"
raw 'POST /login HTTP/1.1\r\nHost: t\r\nContent-Length: +26\r\n\r\nuser=alice&password=wonder'
t_true "web: Content-Length '+26' is a 400" "got: $T_OUT" grep -q "^HTTP/1.1 400 " <<<"$T_OUT"
raw 'POST /login HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n'
t_true "web: Content-Length with Transfer-Encoding is a 400 and the connection closes" \
  "got: $T_OUT" bash -c 'grep -q "^HTTP/1.1 400 " <<<"$1" && grep -q "^END: closed" <<<"$1" &&
    ! grep -q "fluffy tail" <<<"$1"' _ "$T_OUT"
# civetweb took a folded line as the end of the headers, and stopped after
# 64 headers without a word: the Content-Length after that point went unread,
# and the body came back as a second request (the course patch refuses both)
raw 'POST /echo HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\nContent-Length: 31\r\n\r\nGET /page HTTP/1.1\r\nHost: x\r\n\r\n'
t_true "web: a folded header line (obs-fold) is a 400, and hides no second request" "got: $T_OUT" \
  bash -c 'grep -q "^HTTP/1.1 400 " <<<"$1" && ! grep -q "<form" <<<"$1"' _ "$T_OUT"
many=$(printf 'X-F%d: v\\r\\n' $(seq 1 64))
raw "POST /echo HTTP/1.1\\r\\nHost: t\\r\\n${many}Content-Length: 31\\r\\n\\r\\nGET /page HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
t_true "web: more headers than civetweb keeps (64) is a 400, and hides no second request" \
  "got: $T_OUT" bash -c 'grep -q "^HTTP/1.1 400 " <<<"$1" && ! grep -q "<form" <<<"$1"' _ "$T_OUT"
raw 'GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nX-B: 2\r\n\r\n'
t_true "web: a request with ordinary headers is still served" "got: $T_OUT" \
  grep -q "fluffy tail" <<<"$T_OUT"
raw 'GET /page%00.png HTTP/1.1\r\nHost: t\r\n\r\n'
t_true "web: GET /page%00.png is a 400, not /page" "got: $T_OUT" \
  bash -c 'grep -q "^HTTP/1.1 400 " <<<"$1" && ! grep -q "<form" <<<"$1"' _ "$T_OUT"
t_run curl -s -o /dev/null -w '%{http_code}' "$URL/page%0d%0aX:%201"
t_true "web: a CR LF in the decoded path is a 400" "got $T_OUT" test "$T_OUT" = 400
t_run curl -s -o /dev/null -w '%{http_code}' "$URL/pa%67e"
t_true "web: a percent-encoded path is still decoded (/pa%67e is /page)" "got $T_OUT" test "$T_OUT" = 200
# a chunked body over --max-body: the limit checked while reading chunks
"$PY" -c 'import sys; sys.stdout.write("{\"pad\":\"" + "y" * 1200000 + "\"}")' >"$tmp/big.json"
t_run curl -s -w '\n%{http_code}' -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
  --data-binary "@$tmp/big.json" "$URL/echo"
t_true "web: a 1.2 MB chunked POST over the 1 MiB limit is a 413" "got: ${T_OUT:0:300}" \
  bash -c 'grep -q "^413$" <<<"$1" && grep -q "over the limit of 1048576 bytes" <<<"$1"' _ "$T_OUT"
t_run curl -s -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
  --data-binary '{"small":true}' "$URL/echo"
t_true "web: a small chunked POST is read whole" "got: $T_OUT" grep -q '"received":{"small":true}' <<<"$T_OUT"

# ---- 5. HEAD is GET without the body ---------------------------------------------------
t_run curl -s -D - -o /dev/null "$URL/page"
get_len=$(sed -n 's/^Content-Length: \([0-9]*\).*/\1/p' <<<"$T_OUT")
raw 'HEAD /page HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n'
t_true "web: HEAD /page is a 200 with GET's Content-Length and no body" "GET length $get_len, got: $T_OUT" \
  bash -c 'grep -q "^HTTP/1.1 200 " <<<"$1" && grep -q "^Content-Length: $2" <<<"$1" &&
    ! grep -q "<form" <<<"$1"' _ "$T_OUT" "$get_len"
t_true "web: ... and the next request on the same connection is answered" "got: $T_OUT" \
  grep -q "fluffy tail" <<<"$T_OUT"
t_expect "web: curl -I sees no excess data" 0 --out "HTTP/1.1 200 OK" --not "xcess" \
  -- curl -sS -I "$URL/"
t_run curl -s -D - -o /dev/null -X DELETE "$URL/"
t_true "web: a 405 names the allowed methods (Allow: GET, HEAD)" "got: $T_OUT" \
  grep -q "^Allow: GET, HEAD" <<<"$T_OUT"

# ---- 7. the client narrates " ..." only when it cut something --------------------------
t_expect "web: a one-line JSON reply is narrated without ' ...'" 0 \
  --out '<- {"received":{"a":1},"server_time":"' --not 'Z"} ...' \
  -- "$BIN/01-client" --url "$URL" --post '{"a":1}'
printf '{"a":\n1}' >"$tmp/two-lines.json"
t_expect "web: a two-line body is narrated with ' ...'" 0 --out '-> {"a": ...' \
  -- "$BIN/01-client" --url "$URL" --post-file "$tmp/two-lines.json"

wait "$short_pid"
T_OUT=$(cat "$tmp/short.out")
t_true "web: a body cut short of its Content-Length (the client waits) is a 400, not processed" \
  "got: $T_OUT" bash -c 'grep -q "^HTTP/1.1 400 " <<<"$1" && ! grep -q "welcome" <<<"$1" &&
    grep -q "the request body ended after 26 of the 60 bytes" <<<"$1"' _ "$T_OUT"
t_true "web: ... and the connection is closed" "got: $T_OUT" grep -q "^END: closed" <<<"$T_OUT"
alive "everything above"
stop_server "$SERVER_PID"
t_true "web: the server stops with status 0 after all of it" "status $STOPPED_RC" test "$STOPPED_RC" = 0

# ---- 2. slow clients cannot starve the server -------------------------------------------
# 100 connections from 127.0.0.2 that send their request head one byte a
# second would hold all 8 workers for request_timeout_ms each; a normal
# request from 127.0.0.1 went unanswered for a minute.
cat >"$tmp/slow.py" <<'EOF'
import socket, sys, time
port, n, secs, src = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
socks = []
for i in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    socks.append(s)
print("open", len(socks), flush=True)
head, k, end = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100, 0, time.time() + secs
while time.time() < end:
    for s in socks:
        try:
            s.send(head[k % len(head):k % len(head) + 1])
        except OSError:
            pass
    k += 1
    time.sleep(1)
EOF
if start_server 01-server "$BIN/01-server" --port 0 --threads 8; then
  "$PY" "$tmp/slow.py" "$SERVER_PORT" 100 20 127.0.0.2 >"$tmp/slow.out" 2>&1 &
  slow_pid=$!
  end=$((SECONDS + $(course_limit 10)))
  while ((SECONDS < end)); do
    grep -q '^open 100' "$tmp/slow.out" 2>/dev/null && break
    sleep 0.1
  done
  t_true "web: 100 slow clients are connected" "$(cat "$tmp/slow.out")" grep -q '^open 100' "$tmp/slow.out"
  t_run curl -s -m 10 -o /dev/null -w '%{http_code} %{time_total}' "$SERVER_URL/"
  t_true "web: a normal request is served while they are connected" "got '$T_OUT'" \
    bash -c '[[ "$1" == "200 "* ]]' _ "$T_OUT"
  for ((i = 0; i < 50; i++)); do
    grep -q 'slow clients: shut down' "$SERVER_LOG" && break
    sleep 0.1
  done
  t_true "web: the server says it shut down the slow address's extra connections" \
    "log: $(grep -a 'slow clients' "$SERVER_LOG")" \
    grep -q 'slow clients: shut down [0-9]* connections from 127.0.0.2 (4 of its connections' "$SERVER_LOG"
  kill "$slow_pid" 2>/dev/null
  wait "$slow_pid" 2>/dev/null
  stop_server "$SERVER_PID"
else
  t_fail "web: 01-server --threads 8 starts" "no 'listening on' line"
fi

# A request whose head is in but whose body trickles: the handler answers
# GET / without reading it, and civetweb then read ("drained") the body for as
# long as a byte came every few seconds, holding the worker; four of them held
# all four. Now a reply sent while the body is unread closes the connection.
cat >"$tmp/slowbody.py" <<'EOF'
import socket, sys, time
port, n, secs, src = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
socks = []
for i in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    try:  # the server may already be shutting the newest down: that is its job
        s.sendall(sys.argv[5].encode() + b" HTTP/1.1\r\nHost: t\r\nContent-Type: "
                  b"application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n")
    except OSError:
        pass
    s.setblocking(False)
    socks.append(s)
print("open", len(socks), flush=True)
end = time.time() + secs
while time.time() < end:
    for s in socks:
        try:
            s.send(b"x")
        except OSError:
            pass
    time.sleep(1)
EOF
# slowbody WHAT REQUEST: 4 connections from 127.0.0.3 trickle the bodies of
# REQUEST into a 4-thread server; a normal request must still be served.
# "GET /" is answered without reading the body (civetweb drained it after the
# handler); "POST /login" reads it (a trickled body holds the worker while it
# reads: the watchdog counts it as waiting, as a slow head).
slowbody() {
  if ! start_server 01-slowbody "$BIN/01-server" --port 0 --threads 4; then
    t_fail "web: 01-server --threads 4 starts" "no 'listening on' line"
    return
  fi
  "$PY" "$tmp/slowbody.py" "$SERVER_PORT" 4 20 127.0.0.3 "$2" >"$tmp/slowbody.out" 2>&1 &
  slow_pid=$!
  end=$((SECONDS + $(course_limit 10)))
  while ((SECONDS < end)); do
    grep -q '^open 4' "$tmp/slowbody.out" 2>/dev/null && break
    sleep 0.1
  done
  t_true "web: 4 clients trickle the bodies of their $1 requests" "$(cat "$tmp/slowbody.out")" \
    grep -q '^open 4' "$tmp/slowbody.out"
  t_run curl -s -m 10 -o /dev/null -w '%{http_code}' "$SERVER_URL/"
  t_true "web: a normal request is served while 4 $1 bodies trickle into a 4-thread server" \
    "got '$T_OUT'" test "$T_OUT" = 200
  kill "$slow_pid" 2>/dev/null
  wait "$slow_pid" 2>/dev/null
  stop_server "$SERVER_PID"
}
slowbody "GET /" "GET /"
slowbody "POST /login" "POST /login"

# ---- 6. one client cannot take every key-exchange session ------------------------------
if ! start_server 03-server "$BIN/03-server" --port 0; then
  t_fail "web: 03-server starts" "no 'listening on' line"
  exit 0
fi
URL=$SERVER_URL
OFFER='{"group":"toy","public":"08","nonce":"'"$(printf '%064d' 7)"'"}'
kex() { curl -s -i -H 'Content-Type: application/json' -d "$OFFER" "$@" "$URL/kex"; }
ok=0
for ((i = 0; i < 32; i++)); do
  kex | grep -q '^HTTP/1.1 200' && ok=$((ok + 1))
done
t_true "web: one address gets its 32 sessions" "got $ok" test "$ok" = 32
T_OUT=$(kex)
t_true "web: the 33rd from the same address is a 429 with Retry-After" "got: ${T_OUT:0:400}" \
  bash -c 'grep -q "^HTTP/1.1 429" <<<"$1" && grep -Eq "^Retry-After: (59[0-9]|600)" <<<"$1" &&
    grep -q "this address holds 32 live sessions" <<<"$1"' _ "$T_OUT"
T_OUT=$(kex --interface 127.0.0.2)
t_true "web: another address still gets a session (the table is not full)" "got: ${T_OUT:0:300}" \
  grep -q '^HTTP/1.1 200' <<<"$T_OUT"
t_expect "web: the real client from the flooding address is told why" 1 \
  --err "the server answered 429" --err "this address holds 32 live sessions" \
  -- "$BIN/03-client" --url "$URL"
stop_server "$SERVER_PID"

# the same share in chapter 04 (signed key exchange over the same table)
if ! "$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$tmp/pki" >"$tmp/pki.log" 2>&1; then
  t_fail "web: 04 make-pki.sh" "$(cat "$tmp/pki.log")"
  exit 0
fi
if ! start_server 04-server "$BIN/04-server" --port 0 --pki "$tmp/pki"; then
  t_fail "web: 04-server starts" "no 'listening on' line"
  exit 0
fi
URL=$SERVER_URL
OFFER='{"group":"x25519","public":"'"$(printf '09%.0s' {1..32})"'","nonce":"'"$(printf '00%.0s' {1..32})"'","server_name":"127.0.0.1"}'
ok=0
for ((i = 0; i < 32; i++)); do
  kex | grep -q '^HTTP/1.1 200' && ok=$((ok + 1))
done
T_OUT=$(kex)
t_true "web: 04: 32 sessions for one address, then a 429 with Retry-After" "got $ok, then: ${T_OUT:0:400}" \
  bash -c '[[ $2 == 32 ]] && grep -q "^HTTP/1.1 429" <<<"$1" && grep -Eq "^Retry-After: [0-9]+" <<<"$1"' \
  _ "$T_OUT" "$ok"
T_OUT=$(kex --interface 127.0.0.2)
t_true "web: 04: another address still gets a session" "got: ${T_OUT:0:300}" \
  grep -q '^HTTP/1.1 200' <<<"$T_OUT"
stop_server "$SERVER_PID"
