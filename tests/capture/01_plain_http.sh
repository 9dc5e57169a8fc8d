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

# ---- the summary never cuts silently, and never dies in a pipe ----
fake=$(printf '%s\n' '===' 'Follow: tcp,ascii' 'Node 0: 127.0.0.1:40000' 'Node 1: 127.0.0.1:8001'
  for i in $(seq 1 30); do printf '6\nline%02d\n\t3\nok\n' "$i"; done; echo '===')
cut=$("$COURSE_ROOT/scripts/follow-sides.py" --max-lines 10 <<<"$fake")
t_true "capture summary: a long conversation ends in a line saying how much was cut" \
  "last line: $(tail -n 1 <<<"$cut")" grep -qx '\[\.\.\. 111 more lines of this conversation cut\]' <<<"$(tail -n 1 <<<"$cut")"
t_true "capture summary: ...and shows its first 10 lines (the sides named first)" "$(head -n 2 <<<"$cut")" \
  test "$(head -n 1 <<<"$cut")" = "client 127.0.0.1:40000, server 127.0.0.1:8001" -a "$(wc -l <<<"$cut")" = 11
for i in $(seq 1 2000); do printf '6\nline%02d\n' "$i"; done >"$tmp/long"
(printf 'Node 0: a:1\nNode 1: b:2\n'; cat "$tmp/long") | "$COURSE_ROOT/scripts/follow-sides.py" 2>"$tmp/pipe-err" | head -n 1 >/dev/null
t_true "capture summary: a reader that stops early (head) gets no Python traceback" "$(head -n 3 "$tmp/pipe-err")" \
  test ! -s "$tmp/pipe-err"
