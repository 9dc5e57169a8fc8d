#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 04 on the wire: the certificates, the signature, the public values
# and (in this chapter) the enrolment code and CSR are readable; the secret and
# the message are not. What the lab sheet says an eavesdropper sees.
source "$(dirname "$0")/../lib.sh"
source "$COURSE_ROOT/scripts/capture.sh"
tmp=$(course_tmpdir)

if ! capture_check 2>"$tmp/why"; then
  t_fail "04 capture: dumpcap can capture on lo" "$(cat "$tmp/why")"
  exit 0
fi
"$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$tmp/pki" >/dev/null || { t_fail "04 capture: make-pki" "failed"; exit 0; }
code=capture-code-0123456789abcdef
(umask 077 && echo "$code" >"$tmp/code")
start_server 04-server "$BIN/04-server" --port 0 --pki "$tmp/pki" --codes "$tmp/code" ||
  { t_fail "04 capture: server starts" "see above"; exit 0; }
capture_start "$tmp/04.pcapng" "$SERVER_PORT" || { t_fail "04 capture: dumpcap starts" "see above"; exit 0; }
"$BIN/04-client" --enrol --url "$SERVER_URL" --ca "$tmp/pki/root.crt" --code-file "$tmp/code" \
  --out-dir "$tmp/alice" >"$tmp/enrol.out" 2>&1
"$BIN/04-client" --url "$SERVER_URL" --ca "$tmp/pki/root.crt" --send "meet at noon" >"$tmp/kex.out" 2>&1
"$BIN/04-client" --url "$SERVER_URL" --ca "$tmp/pki/root.crt" >"$tmp/secret.out" 2>&1
capture_stop

payload=$(capture_payload "$tmp/04.pcapng")
t_true "04 capture: the client did get through" "client said: $(tail -n 3 "$tmp/kex.out")" \
  eval 'grep -q "the server read 12 bytes: meet at noon" "$tmp/kex.out" &&
        grep -q "The secret message is: fluffy tail" "$tmp/secret.out" && grep -q "enrolled as" "$tmp/enrol.out"'
mine=$(sed -n 's/.*\] *our public value: \([0-9a-f]*\) .*/\1/p' "$tmp/kex.out")
t_true "04 capture: the client's public value is on the wire" "not in the payload" \
  eval '[[ -n "$mine" ]] && grep -q "$mine" <<<"$payload"'
t_true "04 capture: the server's certificate and signature are on the wire" "not in the payload" \
  eval 'grep -q "BEGIN CERTIFICATE" <<<"$payload" && grep -q "\"signature\"" <<<"$payload"'
t_true "04 capture: the enrolment code crosses in the clear in this chapter" "code not in payload" \
  grep -q "$code" <<<"$payload"
t_true "04 capture: so does the CSR" "no CSR in payload" grep -q "BEGIN CERTIFICATE REQUEST" <<<"$payload"
t_true "04 capture: the client's private key never does" "a private key is on the wire" \
  test "$(grep -c 'PRIVATE KEY' <<<"$payload")" = 0
t_true "04 capture: 'fluffy tail' and the message are absent" "readable on the wire" \
  eval '! grep -q -e "fluffy tail" -e "meet at noon" <<<"$payload"'
