#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 03's session table: when every slot holds a live session, POST /kex
# is refused (503 with Retry-After) instead of pushing out a live session, so
# anonymous key exchanges cannot end other clients' sessions.
source "$(dirname "$0")/../lib.sh"

t_expect "03 sessions: --help documents --max-sessions" 0 --out "--max-sessions N" \
  --out "POST /kex answers 503 with Retry-After" -- "$BIN/03-server" --help
t_expect "03 sessions: --max-sessions over 100000 is a usage error" 2 --err "--max-sessions" \
  -- "$BIN/03-server" --max-sessions 100001
if ! start_server 03-server "$BIN/03-server" --port 0 --max-sessions 3; then
  t_fail "03 sessions: server starts with --max-sessions 3" "no 'listening on' line"
  exit 0
fi
URL=$SERVER_URL
# an anonymous offer in the toy group (public value 8): cheap, and enough
OFFER='{"group":"toy","public":"08","nonce":"'"$(printf '%064d' 7)"'"}'
kex() { t_run curl -s -i -H 'Content-Type: application/json' -d "$OFFER" "$URL/kex"; }
sid() { sed -n 's/.*"session":"\([A-Za-z0-9_-]*\)".*/\1/p' <<<"$T_OUT"; }
t_expect "03 sessions: a real client gets a session" 0 --out "fluffy tail" \
  -- "$BIN/03-client" -q --url "$URL"
kex
S2=$(sid)
kex
S3=$(sid)
t_true "03 sessions: two more anonymous exchanges fill a table of three" "got '$S2' '$S3'" \
  test -n "$S2" -a -n "$S3"
# the flood: bounded, many more than the table holds
for ((i = 0; i < 10; i++)); do kex; done
t_true "03 sessions: the flood is refused with 503" "got: ${T_OUT:0:300}" \
  grep -q "^HTTP/1.1 503" <<<"$T_OUT"
t_true "03 sessions: ... with Retry-After (seconds until the oldest session ends)" \
  "got: ${T_OUT:0:400}" grep -Eq "^Retry-After: (59[0-9]|600)" <<<"$T_OUT"
t_true "03 sessions: ... and a clear error" "got: ${T_OUT:0:400}" \
  grep -q '"error":"all 3 sessions are in use: try again in [0-9]* seconds"' <<<"$T_OUT"
for s in "$S2" "$S3"; do
  t_run curl -s -o /dev/null -w '%{http_code}' -H "X-Session: $s" "$URL/"
  t_true "03 sessions: session ${s:0:6}... still works after the flood (200)" "got $T_OUT" \
    test "$T_OUT" = 200
done
t_expect "03 sessions: a new client is told why, not given a broken session" 1 \
  --err "03-client: error: POST /kex: the server answered 503" --err "all 3 sessions are in use" \
  -- "$BIN/03-client" --url "$URL"
t_true "03 sessions: the server logged the refusal" "log lacks it" \
  grep -q "refusing: all 3 sessions are in use" "$SERVER_LOG"
