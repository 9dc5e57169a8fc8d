#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06 interop: live notifications over GET /v1/notify, a WebSocket.
# A third-party client (python3-websocket, websocket-client 1.2.3, in
# tests/helpers/06_ws_peer.py, with 06_peer.py's HELLO and key schedule) and
# 06-client listen receive the push when it happens (alice listens, alice
# logs in again: "a new login on your account"), every NOTIFY opened under
# the session's ntf key with seq 1, 2, ...; the refusals before the upgrade
# (no certificate, no token, another device's token, an ended session, over
# the cap, a second socket for one session); a session's CLOSE and its
# device's revocation end the socket; SIGTERM with sockets open stops
# promptly and cleanly. And the lesson of notify.c: 50 events pushed at once
# to one socket, written by the one thread that owns it, arrive all, in
# order, with no gap (under SAN=1 too, where a second thread on one SSL*
# would show).
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
WS_PY="$COURSE_ROOT/tests/helpers/06_ws_peer.py"
PEER_PY="$COURSE_ROOT/tests/helpers/06_peer.py"
if ! "$PY" -c 'import websocket, OpenSSL, cryptography' 2>/dev/null; then
  t_fail "06 websocket: /usr/bin/python3 has websocket-client, pyOpenSSL and cryptography" \
    "install python3-websocket, python3-openssl and python3-cryptography (scripts/deps.sh does)"
  exit 0
fi

tmp=$(course_tmpdir)
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 websocket: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
DATA=$tmp/data
# --notify-max 3: the cap case below opens three and is refused the fourth
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$DATA" --cert "$P/server-chain.crt" \
  --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass" --notify-max 3 -v; then
  t_fail "06 websocket: the server starts on a free port" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
LOG=$SERVER_LOG
URL="https://localhost:$SERVER_PORT"
printf 'correct horse battery staple\n' >"$tmp/alice.pw"
printf 'another long password\n' >"$tmp/bob.pw"
chmod 600 "$tmp"/*.pw
peer() { "$PY" "$PEER_PY" --url "$URL" --cacert "$P/root.crt" "$@"; }
WA=("$PY" "$WS_PY" --url "$URL" --cacert "$P/root.crt" --home "$tmp/alice")
WA2=("$PY" "$WS_PY" --url "$URL" --cacert "$P/root.crt" --home "$tmp/alice2")
CA=("$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/alice-c" --user alice --password-file "$tmp/alice.pw")

# alice: three devices (the Python one, a second one, 06-client's); bob: one
peer --home "$tmp/alice" register alice --password-file "$tmp/alice.pw" >/dev/null 2>&1
peer --home "$tmp/bob" register bob --password-file "$tmp/bob.pw" >/dev/null 2>&1
for d in alice alice2; do peer --home "$tmp/$d" enrol alice --password-file "$tmp/alice.pw" >/dev/null 2>&1; done
peer --home "$tmp/bob" enrol bob --password-file "$tmp/bob.pw" >/dev/null 2>&1
"${CA[@]}" -q enrol >/dev/null 2>&1
for d in alice alice2 bob alice-c; do
  t_true "06 websocket: device $d is enrolled" "$(ls "$tmp/$d" 2>&1)" test -s "$tmp/$d/device.crt"
done

# wait_line FILE TEXT: a bounded wait for a line a background process prints
wait_line() {
  local i limit
  limit=$(course_limit 15)
  for ((i = 0; i < limit * 20; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
# wait_exit PID: bounded; the process's exit status in WAITED_RC
wait_exit() {
  local i limit
  limit=$(course_limit 20)
  for ((i = 0; i < limit * 20; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$1" 2>/dev/null && kill -TERM "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  WAITED_RC=$?
}

# ---- the push arrives when the event happens ----
"${WA[@]}" listen --count 1 --for 20 >"$tmp/l1.out" 2>&1 &
L1=$!
if wait_line "$tmp/l1.out" "socket open"; then
  peer --home "$tmp/alice2" flow >/dev/null 2>&1 # a HELLO of alice's second device
  wait_exit "$L1"
  t_true "06 websocket: alice listens (websocket-client, her certificate, her token), alice logs in again: the push arrives" \
    "$(cat "$tmp/l1.out")" test "$WAITED_RC" = 0
  t_true "06 websocket: ...a 'login' NOTIFY, seq 1, opened under the session's ntf key, naming the device and the address" \
    "$(cat "$tmp/l1.out")" grep -q '^notify seq 1: {"counters": {.*}, "device": "[0-9a-f]*", "event": "login", "from": "127.0.0.1"}' "$tmp/l1.out"
else
  kill "$L1" 2>/dev/null
  t_fail "06 websocket: alice's socket opens" "$(cat "$tmp/l1.out")"
fi
t_true "06 websocket: the server narrates the writer owning its socket" "$(grep notify "$LOG" | tail -n 5)" \
  grep -q "this thread writes it, and only it" "$LOG"

# ---- 06-client listen: the course's own RFC 6455 client (common/net/wsclient.c) ----
"${CA[@]}" listen --count 2 --for 20 >"$tmp/c1.out" 2>"$tmp/c1.err" &
C1=$!
if wait_line "$tmp/c1.out" "listening for notifications"; then
  peer --home "$tmp/alice2" flow >/dev/null 2>&1
  peer --home "$tmp/alice" flow >/dev/null 2>&1
  wait_exit "$C1"
  t_true "06 websocket: 06-client listen --count 2: two logins of alice, two notifications, exit 0" \
    "exit $WAITED_RC; $(cat "$tmp/c1.out" "$tmp/c1.err")" test "$WAITED_RC" = 0
  t_true "06 websocket: ...each opened under the ntf key and printed in words, seq 1 then 2" "$(cat "$tmp/c1.out")" \
    grep -Pzq '\[notify 1\] a new login on your account: device [0-9a-f]+ from 127.0.0.1[^\n]*\n(.*\n)*\[notify 2\] a new login' "$tmp/c1.out"
  t_true "06 websocket: ...and it closed its session after (CLOSE)" "$(cat "$tmp/c1.out")" grep -q "CLOSE: session" "$tmp/c1.out"
else
  kill "$C1" 2>/dev/null
  t_fail "06 websocket: 06-client listen opens its socket" "$(cat "$tmp/c1.out" "$tmp/c1.err")"
fi
t_expect "06 websocket: 06-client listen --for 1 with nothing happening: no notification, exit 0" 0 \
  --out "0 notifications in 1 s" -- "${CA[@]}" listen --for 1

# ---- the applications ring the bell: a message and an item for alice, a read receipt for bob ----
CB=("$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/bob-c" --user bob --password-file "$tmp/bob.pw")
"${CB[@]}" -q enrol >/dev/null 2>&1
"${CA[@]}" listen --count 2 --for 30 >"$tmp/app.out" 2>"$tmp/app.err" &
C2=$!
if wait_line "$tmp/app.out" "listening for notifications"; then
  "${CB[@]}" -q send --to alice "are you there?" >"$tmp/app-send.out" 2>&1
  "${CB[@]}" -q send-text --to alice "a typed item" >>"$tmp/app-send.out" 2>&1
  wait_exit "$C2"
  t_true "06 websocket: bob composes to alice while she listens: a 'message' NOTIFY arrives, with her unread count" \
    "exit $WAITED_RC; $(cat "$tmp/app.out" "$tmp/app.err" "$tmp/app-send.out")" \
    grep -Eq '^\[notify 1\] message [0-9]+ from bob \(.*unread 1' "$tmp/app.out"
  t_true "06 websocket: ...and bob's typed item: a 'transfer' NOTIFY, with the items waiting" "$(cat "$tmp/app.out")" \
    grep -Eq '^\[notify 2\] item [0-9]+ from bob \(.*items 1' "$tmp/app.out"
  t_true "06 websocket: ...and no content in either: a doorbell, the text is fetched by inbox" "$(cat "$tmp/app.out")" \
    bash -c '! grep -q "are you there\|a typed item" "$1"' _ "$tmp/app.out"
else
  kill "$C2" 2>/dev/null
  t_fail "06 websocket: alice's 06-client listen opens its socket for the application events" "$(cat "$tmp/app.out" "$tmp/app.err")"
fi
# the same push to the third-party client (websocket-client), opened by the Python key schedule
"${WA[@]}" listen --count 1 --for 30 >"$tmp/pym.out" 2>&1 &
P1=$!
if wait_line "$tmp/pym.out" "socket open"; then
  "${CB[@]}" -q send --to alice "and now?" >/dev/null 2>&1
  wait_exit "$P1"
  t_true "06 websocket: websocket-client with alice's certificate gets the 'message' NOTIFY when bob composes" \
    "exit $WAITED_RC; $(cat "$tmp/pym.out")" grep -Eq '^notify seq 1: \{.*"event": "message", "from": "bob", "id": [0-9]+\}' "$tmp/pym.out"
else
  kill "$P1" 2>/dev/null
  t_fail "06 websocket: websocket-client opens alice's socket for the message" "$(cat "$tmp/pym.out")"
fi
"${CB[@]}" listen --count 1 --for 30 >"$tmp/rcpt.out" 2>"$tmp/rcpt.err" &
C3=$!
if wait_line "$tmp/rcpt.out" "listening for notifications"; then
  "${CA[@]}" -q inbox >"$tmp/app-inbox.out" 2>&1
  wait_exit "$C3"
  t_true "06 websocket: alice reads her inbox: bob's socket gets the read receipt ('receipt' NOTIFY naming alice)" \
    "exit $WAITED_RC; $(cat "$tmp/rcpt.out" "$tmp/rcpt.err" "$tmp/app-inbox.out")" \
    grep -Eq '^\[notify 1\] message [0-9]+ was read by alice' "$tmp/rcpt.out"
else
  kill "$C3" 2>/dev/null
  t_fail "06 websocket: bob's 06-client listen opens its socket for the receipt" "$(cat "$tmp/rcpt.out" "$tmp/rcpt.err")"
fi

# ---- wsclient's own checks, against a server that breaks RFC 6455 on purpose ----
# fake MODE NAME EXIT OUT: 06_ws_peer.py fake-server MODE, and ws-probe (common/net/wsclient) against it
fake() {
  local pf="$tmp/fake-$1.port" i
  "$PY" "$WS_PY" fake-server "$1" --cert "$P/server-chain.crt" --key "$P/server.key" --port-file "$pf" \
    >"$tmp/fake-$1.out" 2>&1 &
  local F=$!
  for ((i = 0; i < $(course_limit 10) * 20; i++)); do [[ -s "$pf" ]] && break; sleep 0.05; done
  local name="06 websocket: wsclient: $2"
  [[ "$2" == R[0-9]" flaw: "* ]] && name=$2 # the flaw table's regression tests go by their flaw
  t_expect "$name" "$3" --out "$4" -- "$BIN/ws-probe" localhost "$(cat "$pf")" "$P/root.crt" /x
  wait_exit "$F"
}
fake good "a good server's text, a ping (answered), a fragmented message and its close (answered): exit 0" 0 \
  "message: frags!"
t_true "06 websocket: wsclient: ...it answered the ping and the close, masked" "$(cat "$tmp/fake-good.out")" \
  grep -q "the client sent [0-9]* bytes after the answer, masked" "$tmp/fake-good.out"
fake bad-accept "a 101 whose Sec-WebSocket-Accept is not base64(SHA-1(key || GUID)) is refused" 1 \
  "Sec-WebSocket-Accept is not base64(SHA-1(our key"
fake huge "R5 flaw: attacker-chosen lengths allocate up to 4 GiB -> a frame announcing 4 GiB is a protocol error, nothing allocated" 1 \
  "ws: the server broke RFC 6455: a message over this client's cap"
fake long-head "an answer whose head ends past 8 KiB, in one read, is refused (it once overflowed a stack buffer)" 1 \
  "the answer's head is over 8 KiB"
fake masked "a masked frame from the server is refused (RFC 6455 5.1)" 1 "the server masked a frame"
fake rsv "a frame with RSV bits and no extension agreed is refused" 1 "RSV bits set"
fake long-close "a control frame over 125 bytes is refused" 1 "a control frame that is fragmented or over 125 bytes"
fake refuse "a refusal (403) is read with its reason, never upgraded" 1 \
  'ws: the server refused the upgrade: HTTP 403 Forbidden instead of 101 Switching Protocols: {"error":"go away"}'

# ---- refusals before the upgrade ----
t_expect "06 websocket: without a client certificate: 403, no upgrade" 0 \
  --out "nocert: HTTP 403: " -- "${WA[@]}" probe nocert
t_expect "06 websocket: without a token: 401, no upgrade" 0 \
  --out "notoken: HTTP 401: this needs Authorization: Bearer TOKEN" -- "${WA[@]}" probe notoken
t_expect "06 websocket: bob's token on alice's certificate: 401 (the token is bound to bob's device)" 0 \
  --out "othertoken: HTTP 401: " -- "${WA[@]}" probe othertoken --other-home "$tmp/bob"
t_expect "06 websocket: the token of a session that ended (CLOSE): 401" 0 \
  --out "ended: HTTP 401: " -- "${WA[@]}" probe ended
t_expect "06 websocket: a second socket for one session: 409, one per session" 0 \
  --out "same-session: HTTP 409: this session has a notification socket already" -- "${WA[@]}" probe same-session
t_expect "06 websocket: a plain GET of /v1/notify: 426, it is a WebSocket" 0 \
  --out "noupgrade: HTTP 426: /v1/notify is a WebSocket" -- "${WA[@]}" probe noupgrade
t_expect "06 websocket: --notify-max 3: three sockets open, the fourth is 503 with the reason; freed, the slot serves again" 0 \
  --out "socket 3 open" --out "socket 4: HTTP 503: every notification socket is taken (3 of 3, --notify-max)" \
  --out "after closing them: HTTP 101" -- "${WA[@]}" cap 3

# ---- one session, two sockets in turn: one counter ----
t_expect "06 websocket: a second socket for the same session continues the counter (seq 2, never 1 again)" 0 \
  --out "first socket: seq 1, login" --out "second socket: seq 2, login" -- "${WA[@]}" continue

# ---- the session's end ends its socket ----
t_expect "06 websocket: CLOSE of the session ends its socket: the client sees the close (1000)" 0 \
  --out "closed by the server: 1000 the session ended" -- "${WA[@]}" close-ends

# ---- the lesson: one thread writes one socket, however many events come at once ----
# 50 logins of alice's second device from two processes at once (25 HELLO +
# CLOSE each), while alice listens: 50 NOTIFYs queued by many worker threads,
# written by the one thread that owns her socket
"${WA[@]}" listen --count 50 --for 60 >"$tmp/burst.out" 2>&1 &
LB=$!
if wait_line "$tmp/burst.out" "socket open"; then
  "${WA2[@]}" hellos 25 >"$tmp/h1.out" 2>&1 &
  H1=$!
  "${WA2[@]}" hellos 25 >"$tmp/h2.out" 2>&1
  wait_exit "$H1"
  wait_exit "$LB"
  t_true "06 websocket: 50 logins at once from two processes: all 50 NOTIFYs arrive, seq 1 to 50, in order, none missed"     "$(tail -n 3 "$tmp/burst.out"; cat "$tmp/h1.out" "$tmp/h2.out")"     grep -q "received 50 notifications, seq 1 to 50" "$tmp/burst.out"
  t_true "06 websocket: ...every one a login, with no gap and no 'missed'" "$(grep -c '"event": "login"' "$tmp/burst.out")"     test "$(grep -c '"event": "login"' "$tmp/burst.out")" = 50 -a "$(grep -c missed "$tmp/burst.out")" = 0
else
  kill "$LB" 2>/dev/null
  t_fail "06 websocket: alice's socket for the burst opens" "$(cat "$tmp/burst.out")"
fi

"${WA2[@]}" listen --for 20 >"$tmp/l2.out" 2>&1 &
L2=$!
if wait_line "$tmp/l2.out" "socket open"; then
  SERIAL=$(openssl x509 -in "$tmp/alice2/device.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
  "$BIN/06-admin" --url "$URL" --cacert "$P/root.crt" --data "$DATA" revoke-device "$SERIAL" --reason keyCompromise \
    >"$tmp/revoke.out" 2>&1
  wait_exit "$L2"
  t_true "06 websocket: revoking a device: its socket first hears 'revoked' (sealed before the keys went)" \
    "$(cat "$tmp/l2.out" "$tmp/revoke.out")" grep -q "\"event\": \"revoked\"" "$tmp/l2.out"
  t_true "06 websocket: ...then the server closes it (1008, the device was revoked)" \
    "$(cat "$tmp/l2.out")" grep -q "closed by the server: 1008 this device was revoked" "$tmp/l2.out"
else
  kill "$L2" 2>/dev/null
  t_fail "06 websocket: alice2's socket opens" "$(cat "$tmp/l2.out")"
fi

# ---- SIGTERM with sockets open ----
WB=("$PY" "$WS_PY" --url "$URL" --cacert "$P/root.crt" --home "$tmp/bob")
"${WA[@]}" listen --for 30 >"$tmp/s1.out" 2>&1 &
S1=$!
"${WB[@]}" listen --for 30 >"$tmp/s2.out" 2>&1 &
S2=$!
wait_line "$tmp/s1.out" "socket open" && wait_line "$tmp/s2.out" "socket open"
t_true "06 websocket: two sockets are open before the stop" "$(cat "$tmp/s1.out" "$tmp/s2.out")"   grep -q "socket open" "$tmp/s2.out"
t0=$(date +%s%N)
stop_server "$SERVER_PID"
t1=$(date +%s%N)
wait_exit "$S1"
wait_exit "$S2"
t_true "06 websocket: SIGTERM with sockets open: the server stops within 3 s (its writers woken before mg_stop)"   "$(((t1 - t0) / 1000000)) ms; $(tail -n 3 "$LOG")" test $(((t1 - t0) / 1000000)) -lt 3000
t_true "06 websocket: ...and each client sees the close (1001, the server is stopping)"   "$(cat "$tmp/s1.out" "$tmp/s2.out")"   grep -q "closed by the server: 1001 the server is stopping" "$tmp/s1.out"
t_true "06 websocket: ...bob's as well as alice's" "$(cat "$tmp/s2.out")"   grep -q "closed by the server: 1001" "$tmp/s2.out"
t_true "06 websocket: the server stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$LOG")" test "$STOPPED_RC" = 0
