#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06: the lab sheet is the protocol. tests/helpers/06_indep_client.py
# was written from 06_full_protocol/README.md ("The protocol, byte for byte")
# alone, never from the C code or the other Python helpers; here it talks to
# a real 06-server (a PKI made in a temp dir, as tests/chapters/06_full_protocol.sh
# does): it registers, enrols with its own key and CSR, opens a session,
# stores records (across a key rotation), closes; 06-admin audit and the store
# read them back. For a replayed envelope and a badly signed record it must
# get the refusals the server logs for the same case, word for word. If this
# suite fails after a protocol change, the sheet is out of date: fix the
# sheet, then the client from the sheet.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
INDEP="$COURSE_ROOT/tests/helpers/06_indep_client.py"
if ! "$PY" -c 'import OpenSSL, cryptography' 2>/dev/null; then
  t_fail "06 independent client: /usr/bin/python3 has pyOpenSSL and cryptography" \
    "install python3-openssl and python3-cryptography (scripts/deps.sh does)"
  exit 0
fi
tmp=$(course_tmpdir)
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 independent client: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
DATA=$tmp/data
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$DATA" --cert "$P/server-chain.crt" \
  --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass"; then
  t_fail "06 independent client: the server starts on a free port" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
LOG=$SERVER_LOG
URL="https://localhost:$SERVER_PORT"
DB=$DATA/course06.db
sq() { sqlite3 -batch "$DB" "$@"; }
printf 'correct horse battery staple\n' >"$tmp/ada.pw"
chmod 600 "$tmp/ada.pw"
I=("$PY" "$INDEP" --url "$URL" --cacert "$P/root.crt" --home "$tmp/ada" --user ada --password-file "$tmp/ada.pw")
I2=("$PY" "$INDEP" --url "$URL" --cacert "$P/root.crt" --home "$tmp/ada-p256" --user ada --password-file "$tmp/ada.pw"
  --key-type p256)
ADM=("$BIN/06-admin" -q --url "$URL" --cacert "$P/root.crt" --data "$DATA")
records() { sq 'SELECT count(*) FROM records'; }

# ---- register, enrol: no 06-client involved ----
t_expect "06 independent client: register is 201 (the sheet's POST /v1/register)" 0 \
  --out "register: HTTP 201: account 'ada'" -- "${I[@]}" register
t_expect "06 independent client: EST simpleenroll with its own Ed25519 key and a CSR bound by b64url(cb)" 0 \
  --out "enrol: HTTP 200: device certificate CN=ada, device id " -- "${I[@]}" enrol
ID=$(sed -n 's/.*device id \([0-9a-f]*\),.*/\1/p' <<<"$T_OUT")
t_true "06 independent client: the device id it computed is the serial the store knows" "id '$ID'; $(sq 'SELECT serial FROM devices')" \
  test -n "$ID" -a "$(sq "SELECT count(*) FROM devices WHERE serial='$ID'")" = 1
t_expect "06 independent client: openssl verify -purpose sslclient accepts the certificate it received" 0 --out OK \
  -- openssl verify -purpose sslclient -CAfile "$P/root.crt" -untrusted "$P/devices-ca.crt" "$tmp/ada/device.crt"

# ---- a session: HELLO, records across a key rotation, CLOSE ----
REC='{"FirstName": "Ada", "LastName": "Lovelace", "Age": 36, "Comments": "from the sheet"}'
before=$(records)
t_expect "06 independent client: HELLO, 12 signed records (seq 12 is epoch 1: the ratchet), CLOSE" 0 \
  --out "HELLO_ACK: session " --out "DATA_REQUEST seq 2 epoch 0: " --out "DATA_REQUEST seq 11 epoch 0: " \
  --out "DATA_REQUEST seq 12 epoch 1: " --out "DATA_REQUEST seq 13 epoch 1: " --out "record stored: id " \
  --out 'CLOSE seq 14: {"closed": true, "requests": 13}' -- "${I[@]}" --count 12 store "$REC"
t_true "06 independent client: the store holds its 12 records, under its device" "$(sq 'SELECT count(*) FROM records')" \
  test "$(sq "SELECT count(*) FROM records r JOIN receipts c ON c.id = r.receipt_id WHERE c.device_serial='$ID' AND r.LastName='Lovelace'")" = 12
t_expect "06 independent client: a P-256 device enrols and stores a record too" 0 \
  --out "record stored: id " -- bash -c '"$@" enrol && "$@" store "{\"FirstName\": \"Ada\", \"LastName\": \"P256\"}"' _ "${I2[@]}"
t_expect "06 independent client: 06-admin audit verifies every signature it made (Ed25519 and P-256)" 0 \
  --out '"bad":0' --out "\"checked\":$(sq 'SELECT count(*) FROM receipts')" -- "${ADM[@]}" audit
t_true "06 independent client: ...and the audit checked 13 records" "$T_OUT" test "$(sq 'SELECT count(*) FROM receipts')" = 13
t_true "06 independent client: the receipt keeps its 64-byte Ed25519 signature" "$(sq "SELECT length(signature) FROM receipts WHERE device_serial='$ID'" | sort -u)" \
  test "$(sq "SELECT DISTINCT length(signature) FROM receipts WHERE device_serial='$ID'")" = 64

# ---- the refusals, compared with what the server says for the same case ----
before=$(records)
t_expect "06 independent client: a replayed envelope (seq 2 sent again after seq 3) is refused with 409" 0 \
  --out "the same envelope again at once: " --out "replayed envelope (seq 2 after seq 3): refused: HTTP 409: " \
  -- "${I[@]}" replay "$REC"
mine=$(sed -n 's/^replayed envelope.*refused: HTTP 409: //p' <<<"$T_OUT")
srv=$(grep -o 'seq 2: seq is .*' "$LOG" | tail -n 1 | sed 's/^seq 2: //')
t_true "06 independent client: ...with the reason the server logs, word for word" "client '$mine', server '$srv'" \
  test -n "$mine" -a "$mine" = "$srv"
t_true "06 independent client: ...that reason is the sheet's (seq below the last: reordered or replayed)" "$mine" \
  test "$mine" = "seq is below the last one: a reordered or replayed envelope"
t_true "06 independent client: the byte-identical resend got its first answer, and 2 records were stored, not 3" \
  "$before then $(records)" test "$(records)" = $((before + 2))
before=$(records)
t_expect "06 independent client: a record with one bit of its signature flipped is refused inside the envelope" 0 \
  --out '"status": "refused"' --out "bad signature: refused: " -- "${I[@]}" badsig "$REC"
mine=$(sed -n 's/^bad signature: refused: //p' <<<"$T_OUT")
srv=$(grep -o "op 'record' refused: .*" "$LOG" | tail -n 1 | sed "s/^op 'record' refused: //")
t_true "06 independent client: ...with the reason the server logs, word for word" "client '$mine', server '$srv'" \
  test -n "$mine" -a "$mine" = "$srv"
t_true "06 independent client: ...and nothing was stored for it" "$before then $(records)" test "$(records)" = "$before"

# the C client in the same store, for the same account's other device: the two agree on one service
printf 'another long password\n' >"$tmp/bob.pw"
B=("$BIN/06-client" -q --url "$URL" --cacert "$P/root.crt" --home "$tmp/bob" --user bob --password-file "$tmp/bob.pw")
t_expect "06 independent client: 06-client registers, enrols and stores beside it" 0 --out "record stored" \
  -- bash -c '"$@" register >/dev/null && "$@" enrol >/dev/null && "$@" send-record "{\"FirstName\": \"Bob\"}"' _ "${B[@]}"
t_expect "06 independent client: the audit verifies both clients' signatures" 0 --out '"bad":0' -- "${ADM[@]}" audit

stop_server "$SERVER_PID"
t_true "06 independent client: the server stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$LOG")" test "$STOPPED_RC" = 0
