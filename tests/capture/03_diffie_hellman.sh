#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 03 on the wire: the eavesdropper reads both public values and both
# nonces, but not the session key, the secret or the message.
source "$(dirname "$0")/../lib.sh"
source "$COURSE_ROOT/scripts/capture.sh"
tmp=$(course_tmpdir)

if ! capture_check 2>"$tmp/why"; then
  t_fail "03 capture: dumpcap can capture on lo" "$(cat "$tmp/why")"
  exit 0
fi
start_server 03-server "$BIN/03-server" --port 0 || { t_fail "03 capture: server starts" "see above"; exit 0; }
capture_start "$tmp/03.pcapng" "$SERVER_PORT" || { t_fail "03 capture: dumpcap starts" "see above"; exit 0; }
# --verbose makes the client print its session key, so we can look for it on the wire
"$BIN/03-client" --verbose --url "$SERVER_URL" >"$tmp/x25519.out" 2>&1
"$BIN/03-client" --verbose --url "$SERVER_URL" --group p256 --send "meet at noon" >"$tmp/p256.out" 2>&1
capture_stop

payload=$(capture_payload "$tmp/03.pcapng")
for g in x25519 p256; do
  out="$tmp/$g.out"
  t_true "03 capture ($g): the client did get through" "client said: $(tail -n 3 "$out")" \
    grep -q -e 'The secret message is: fluffy tail' -e 'the server read 12 bytes: meet at noon' "$out"
  mine=$(sed -n 's/.*\] *our public value: \([0-9a-f]*\) .*/\1/p' "$out")
  theirs=$(sed -n "s/.*the server's public value: \([0-9a-f]*\) .*/\1/p" "$out")
  nonce=$(sed -n 's/.*our nonce: *\([0-9a-f]*\) .*/\1/p' "$out")
  key=$(sed -n 's/.*session key (--verbose only; never on the wire): \([0-9a-f]*\).*/\1/p' "$out")
  t_true "03 capture ($g): narration gave public values, nonce and key" "missing one" \
    test -n "$mine" -a -n "$theirs" -a -n "$nonce" -a ${#key} = 64
  t_true "03 capture ($g): the client's public value is on the wire" "not in the payload" \
    grep -q "$mine" <<<"$payload"
  t_true "03 capture ($g): the server's public value is on the wire" "not in the payload" \
    grep -q "$theirs" <<<"$payload"
  t_true "03 capture ($g): the client's nonce is on the wire" "not in the payload" \
    grep -q "$nonce" <<<"$payload"
  t_true "03 capture ($g): the session key is not on the wire" "the key is readable on the wire" \
    test "$(grep -c "$key" <<<"$payload")" = 0
done
t_true "03 capture: a gAAAAA token is on the wire" "no token in the payload" grep -q 'gAAAAA' <<<"$payload"
t_true "03 capture: 'fluffy tail' is absent from the capture" "the secret is readable on the wire" \
  test "$(grep -c 'fluffy tail' <<<"$payload")" = 0
t_true "03 capture: the POSTed message is absent too" "'meet at noon' is readable on the wire" \
  test "$(grep -c 'meet at noon' <<<"$payload")" = 0
summary=$(capture_summary "$tmp/03.pcapng")
t_true "03 capture: the eavesdropper summary shows the key exchange" "summary lacks POST /kex" \
  grep -q 'POST /kex' <<<"$summary"
