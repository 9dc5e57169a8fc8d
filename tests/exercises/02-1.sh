#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-02-1: exercise 02-1, 02-server --once accepts each token only once
# (02_symmetric_fernet/README.md, "Exercises in C"). Builds the programs, runs
# 02-server on a free loopback port and replays tokens at it with curl; prints
# one verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 02-1

"$BIN/fernet" genkey --out "$tmp/k" 2>/dev/null || fail "fernet genkey did not make a key"
"$BIN/02-server" --help 2>&1 | grep -q -- '--once' ||
  fail "02-server --help does not list --once: add the option (own[] and option() in 02_symmetric_fernet/server.c, and OPTIONS_HELP)"
start_server 02-server "$BIN/02-server" --key-file "$tmp/k" --port 0 --once 2>/dev/null ||
  fail "02-server --once did not start (run it by hand to see why)"

token() { printf '%s' "$1" | "$BIN/fernet" encrypt --key-file "$tmp/k"; }
# post TOKEN: the status code; BODY holds the answer
post() {
  BODY=$(curl -sS --max-time "$(course_limit 5)" -w '\n%{http_code}' --data-binary "$1" "$SERVER_URL/message" 2>&1)
  CODE=${BODY##*$'\n'}
  BODY=${BODY%$'\n'*}
  BODY=${BODY%$'\n'} # one line break at the end is fine
}

tok=$(token 'pay Bob 10 EUR')
post "$tok"
[[ $CODE == 200 ]] || fail "a fresh token was refused the first time ($CODE '$BODY'): --once refuses only what it accepted before"
post "$tok"
[[ $CODE == 400 ]] || fail "with --once, the same token was accepted twice ($CODE): remember each token post_message accepts, and refuse it the next time"
[[ $BODY == '{"error":"invalid token","status":400}' ]] ||
  fail "a replay got '$BODY': answer it like every other bad token, web_reply_error(conn, 400, \"invalid token\")"
grep -q 'refused a token: replayed (already accepted once)' "$SERVER_LOG" ||
  fail "the server's log lacks 'refused a token: replayed (already accepted once)'"
post "$tok"$'\r\n'
[[ $CODE == 400 ]] ||
  fail "the replay with CR LF at the end was accepted: remember the token as it was decrypted (after the strcspn), not the raw body"

# every fresh token is still accepted, and a forged one still refused
for i in $(seq 1 20); do
  post "$(token "message $i")"
  [[ $CODE == 200 ]] || fail "fresh token $i of 20 was refused ($CODE): only a token seen before is a replay"
done
other=$(mktemp -u "$tmp/other.XXXXXX")
"$BIN/fernet" genkey --out "$other" 2>/dev/null
forged=$(printf 'forged' | "$BIN/fernet" encrypt --key-file "$other")
post "$forged"
[[ $CODE == 400 ]] || fail "a token made with another key was accepted ($CODE)"

# threads: the same fresh token from 8 clients at once is accepted exactly once
tok2=$(token 'pay Carol 5 EUR')
pids=()
for i in $(seq 1 8); do
  curl -s -o /dev/null -w '%{http_code}' --max-time "$(course_limit 5)" --data-binary "$tok2" "$SERVER_URL/message" >"$tmp/code$i" &
  pids+=($!)
done
wait "${pids[@]}" # not a bare wait: that would wait for the server too
ok=$(cat "$tmp"/code* | grep -o 200 | wc -l)
[[ $ok == 1 ]] || fail "8 clients sent one token at once and $ok were accepted: look up and insert under one pthread_mutex_t lock"
stop_server "$SERVER_PID"

# without --once nothing changes: the chapter's replay lesson still works
start_server 02-server "$BIN/02-server" --key-file "$tmp/k" --port 0 2>/dev/null ||
  fail "02-server without --once did not start"
tok3=$(token 'pay Dave 1 EUR')
post "$tok3"; a=$CODE
post "$tok3"; b=$CODE
[[ "$a $b" == "200 200" ]] || fail "without --once the replay must still work (got $a then $b): make the check depend on the option"
pass "02-server --once accepts each token once (a replay, even with CR LF added, gets the same 400), also from 8 clients at once; without --once nothing changed"
