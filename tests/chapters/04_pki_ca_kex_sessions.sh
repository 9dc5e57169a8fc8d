#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 04's session table and signed session id: a full table refuses new
# key exchanges (503, Retry-After) instead of ending live sessions, and an
# attacker who swaps the session id in the signed answer is caught.
source "$(dirname "$0")/../lib.sh"
t=$(course_tmpdir)
PY=/usr/bin/python3

if ! "$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$t/pki" >"$t/pki.log" 2>&1; then
  t_fail "04 sessions: make-pki.sh" "$(cat "$t/pki.log")"
  exit 0
fi
CA=$t/pki/root.crt
t_expect "04 sessions: --help documents --max-sessions" 0 --out "--max-sessions N" \
  --out "POST /kex answers 503 with Retry-After" -- "$BIN/04-server" --help
t_expect "04 sessions: --max-sessions 0 is a usage error" 2 --err "--max-sessions" \
  -- "$BIN/04-server" --max-sessions 0
if ! start_server 04-server "$BIN/04-server" --port 0 --pki "$t/pki" --max-sessions 2; then
  t_fail "04 sessions: server starts with --max-sessions 2" "no 'listening on' line"
  exit 0
fi
URL=$SERVER_URL
SLOG=$SERVER_LOG

# ---- a full table refuses; it never ends a live session ----------------------------
# kex: POST an anonymous offer (the X25519 base point is a valid public value);
# the headers and body go to T_OUT
OFFER='{"group":"x25519","public":"'"$(printf '09%.0s' {1..32})"'","nonce":"'"$(printf '00%.0s' {1..32})"'","server_name":"127.0.0.1"}'
kex() { t_run curl -s -i -H 'Content-Type: application/json' -d "$OFFER" "$URL/kex"; }
sid() { sed -n 's/.*"session":"\([A-Za-z0-9_-]*\)".*/\1/p' <<<"$T_OUT"; }
kex
S1=$(sid)
kex
S2=$(sid)
t_true "04 sessions: two anonymous exchanges fill a table of two" "got '$S1' '$S2'" \
  test -n "$S1" -a -n "$S2"
for i in 1 2 3; do kex; done
t_true "04 sessions: a third is refused with 503" "got: ${T_OUT:0:300}" \
  grep -q "^HTTP/1.1 503" <<<"$T_OUT"
t_true "04 sessions: ... with a Retry-After header" "got: ${T_OUT:0:400}" \
  grep -Eq "^Retry-After: [0-9]+" <<<"$T_OUT"
t_true "04 sessions: ... and a clear error" "got: ${T_OUT:0:400}" \
  grep -q '"error":"all 2 sessions are in use: try again in [0-9]* seconds"' <<<"$T_OUT"
for s in "$S1" "$S2"; do
  t_run curl -s -o /dev/null -w '%{http_code}' -H "X-Session: $s" "$URL/"
  t_true "04 sessions: session ${s:0:6}... is still live after the flood (200)" "got $T_OUT" \
    test "$T_OUT" = 200
done
t_expect "04 sessions: a real client is told why" 1 \
  --err "04-client: error: POST /kex: the server answered 503" --err "all 2 sessions are in use" \
  -- "$BIN/04-client" --url "$URL" --ca "$CA"
stop_servers

# ---- the session id is signed ----------------------------------------------------------
if ! start_server 04-server "$BIN/04-server" --port 0 --pki "$t/pki"; then
  t_fail "04 sessions: server starts" "no 'listening on' line"
  exit 0
fi
URL=$SERVER_URL
t_expect "04 sessions: direct, the signed session id is accepted" 0 \
  --out "The secret message is: fluffy tail" -- "$BIN/04-client" --url "$URL" --ca "$CA"
t_true "04 sessions: the server says it signed the session id" "log lacks it" \
  grep -q "and the session id with our certificate's key" "$SERVER_LOG"
if start_server 04-mitm-session "$PY" "$COURSE_ROOT/tests/helpers/04_mitm.py" --upstream "$URL" \
  --mode session; then
  t_expect "04 sessions: an attacker who swaps the session id in the signed answer is caught" 1 \
    --err "the signature does not match: someone is in the middle" \
    --not "combining our private value" --not "The secret message" \
    -- "$BIN/04-client" --url "$SERVER_URL" --ca "$CA"
else
  t_fail "04 sessions: the session-swapping attacker starts" "see above"
fi
