#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 01 on the wire: everything an eavesdropper on loopback can read.
source "$(dirname "$0")/../lib.sh"
source "$COURSE_ROOT/scripts/capture.sh"
tmp=$(course_tmpdir)

if ! capture_check 2>"$tmp/why"; then
  t_fail "01 capture: dumpcap can capture on lo" "$(cat "$tmp/why")"
  exit 0
fi
start_server 01-server "$BIN/01-server" --port 0 || { t_fail "01 capture: server starts" "see above"; exit 0; }
capture_start "$tmp/01.pcapng" "$SERVER_PORT" || { t_fail "01 capture: dumpcap starts" "see above"; exit 0; }
"$BIN/01-client" -q --url "$SERVER_URL" >/dev/null
curl -s -d 'user=alice&password=wonderland' "$SERVER_URL/login" >/dev/null
capture_stop

payload=$(capture_payload "$tmp/01.pcapng")
t_true "01 capture: the secret 'fluffy tail' is readable on the wire" "not in the payload" \
  grep -q 'fluffy tail' <<<"$payload"
t_true "01 capture: the request line is readable" "no 'GET / HTTP/1.1'" \
  grep -q 'GET / HTTP/1.1' <<<"$payload"
t_true "01 capture: the login password is readable" "no 'password=wonderland'" \
  grep -q 'password=wonderland' <<<"$payload"
summary=$(capture_summary "$tmp/01.pcapng")
t_true "01 capture: the eavesdropper summary shows the secret" "summary lacks it" \
  grep -q '^fluffy tail' <<<"$summary"
# the capture filter kept to the server's port: nothing else got in
others=$(tshark -r "$tmp/01.pcapng" -T fields -e tcp.srcport -e tcp.dstport 2>/dev/null |
  grep -v -w "$SERVER_PORT" | wc -l)
t_true "01 capture: only the chapter's port was captured" "$others packets on other ports" \
  test "$others" = 0
