#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-01-2: exercise 01-2, a --header 'NAME: VALUE' option (short -H) for
# 01-client (01_plain_http/README.md, "Exercises in C"). Builds the programs,
# runs 01-server on a free loopback port and reads in its narration what the
# client sent; prints one verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 01-2

start_server 01-server "$BIN/01-server" --port 0 2>/dev/null ||
  fail "01-server did not start (run 'make 01-server' to see why)"
limit=$(course_limit 10)

# client ARGS...: run 01-client against the server; sets RC, OUT (stdout and stderr)
client() {
  OUT=$(timeout "$limit" "$BIN/01-client" --quiet --url "$SERVER_URL" "$@" 2>&1)
  RC=$?
}
# received LINE: the server's narration shows LINE as a header it read
received() { grep -qxF "[server] <- $1" "$SERVER_LOG"; }

client --header 'X-Course: chapter-01' --header 'X-Lab: get'
[[ $RC == 2 && $OUT == *unrecognized* ]] &&
  fail "01-client does not know --header yet: add it to its cli_program (options, short_options, option)"
[[ $RC == 0 && $OUT == *"The secret message is: fluffy tail"* ]] ||
  fail "01-client --header 'X-Course: chapter-01' exited $RC: $OUT"
{ received "X-Course: chapter-01" && received "X-Lab: get"; } ||
  fail "the server did not receive both header lines (set req.headers, a NULL-terminated list)"
client -H 'X-Short: yes'
{ [[ $RC == 0 ]] && received "X-Short: yes"; } || fail "-H, the short form, did not send its header (exit $RC)"
client -H 'X-Lab: post' --post '{"n":1}'
{ [[ $RC == 0 ]] && received "X-Lab: post"; } || fail "--header with --post did not reach the server (exit $RC: $OUT)"
eight=()
for i in 1 2 3 4 5 6 7 8; do eight+=(-H "X-N$i: $i"); done
client "${eight[@]}"
{ [[ $RC == 0 ]] && received "X-N8: 8"; } || fail "eight --header options should all be sent (exit $RC: $OUT)"

for bad in 'no colon here' ': no name' $'X-Split: a\r\nX-Injected: b' $'X-Tab:\tx\x01'; do
  client -H "$bad"
  [[ $RC == 2 ]] ||
    fail "--header '${bad//[$'\r\n\x01']/?}' exited $RC, expected 2 (a usage error): a header is NAME: VALUE, no control byte"
done
received "X-Injected: b" && fail "a line break in --header let the client send a header of its own"
client "${eight[@]}" -H 'X-N9: 9'
[[ $RC == 2 ]] || fail "a ninth --header exited $RC, expected 2 (a usage error: at most 8)"
pass "01-client --header/-H sends up to 8 'NAME: VALUE' lines and refuses malformed ones (exit 2)"
