#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-01-1: exercise 01-1, a new route GET /hello?name=NAME on 01-server
# (01_plain_http/README.md, "Exercises in C"). Builds 01-server, runs it on a
# free loopback port and asks it with curl; prints one verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 01-1

start_server 01-server "$BIN/01-server" --port 0 2>/dev/null ||
  fail "01-server did not start (run 'make 01-server' to see why)"

# ask PATH [curl options...]: sets CODE (the status) and BODY
ask() {
  local out
  out=$(curl -sS --max-time "$(course_limit 5)" -w '\n%{http_code}' "${@:2}" "$SERVER_URL$1" 2>&1)
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
  BODY=${BODY%$'\n'} # one line break at the end is fine
}

ask "/hello?name=alice"
[[ $CODE == 404 ]] && fail "GET /hello is a 404: add it to the route table in main (01_plain_http/server.c)"
[[ $CODE == 200 && $BODY == "hello, alice" ]] ||
  fail "GET /hello?name=alice answered $CODE '$BODY', expected 200 'hello, alice'"
ask "/hello?name=Ada%20Lovelace"
[[ $CODE == 200 && $BODY == "hello, Ada Lovelace" ]] ||
  fail "GET /hello?name=Ada%20Lovelace answered $CODE '$BODY': the name is percent-decoded (mg_get_var does it)"
long=$(printf 'x%.0s' {1..32})
ask "/hello?name=$long"
[[ $CODE == 200 && $BODY == "hello, $long" ]] || fail "a name of 32 bytes answered $CODE '$BODY', expected 200"
for q in "" "?name=" "?user=alice" "?name=${long}y" "?name=a%0ab"; do
  ask "/hello$q"
  [[ $CODE == 400 ]] ||
    fail "GET /hello$q answered $CODE '$BODY', expected 400 (no name, an empty one, over 32 bytes or with a control byte)"
done
ask "/hello?name=alice" -d 'x'
[[ $CODE == 405 ]] || fail "POST /hello answered $CODE, expected 405: the route is for GET only"
ask "/"
[[ $CODE == 200 && $BODY == "fluffy tail" ]] || fail "GET / no longer answers the secret ($CODE '$BODY')"
pass "GET /hello?name=NAME greets NAME, and refuses a missing, empty, long (>32) or control-byte name with 400"
