#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06 interop: an independent Python client (tests/helpers/06_peer.py:
# pyOpenSSL's TLS 1.3 and tls-exporter, python3-cryptography's X25519,
# Ed25519, ECDSA, AES-GCM and CSR, HTTP/1.1 by hand) against 06-server, and
# through it every envelope-level attack: replay, reorder, reflection,
# tampered ciphertext and AAD, a far gap, an unknown session, unsigned,
# badly signed and misaddressed records, a relayed or stale HELLO, R3's keys
# in the HELLO_ACK, key rotation and the size limits. Each attack prints one
# verdict line, "NAME: defended: ..." only when every refusal came as the lab
# sheet says. Then tests/helpers/06_audit.py re-verifies every stored
# signature from the database alone, and catches a row changed behind the
# server's back. The PKI is made here, for this run only.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
PEER_PY="$COURSE_ROOT/tests/helpers/06_peer.py"
AUDIT_PY="$COURSE_ROOT/tests/helpers/06_audit.py"
if ! "$PY" -c 'import OpenSSL, cryptography' 2>/dev/null; then
  t_fail "06 python peer: /usr/bin/python3 has pyOpenSSL and cryptography" \
    "install python3-openssl and python3-cryptography (scripts/deps.sh does)"
  exit 0
fi
if ! command -v sqlite3 >/dev/null; then
  t_fail "06 python peer: the sqlite3 shell is installed" "install sqlite3 (scripts/deps.sh does)"
  exit 0
fi
t_expect "06 python peer: its own crypto matches the committed known answers (tests/vectors/06)" 0 \
  --out "HELLO_ACK: ok" --out "envelopes sealed byte for byte: ok" --not "MISMATCH" -- "$PY" "$PEER_PY" selftest

tmp=$(course_tmpdir)
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 python peer: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
DATA=$tmp/data
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$DATA" --cert "$P/server-chain.crt" \
  --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass" -v; then
  t_fail "06 python peer: the server starts on a free port" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
LOG=$SERVER_LOG
DB=$DATA/course06.db
sq() { sqlite3 -batch "$DB" "$@"; }
printf 'correct horse battery staple\n' >"$tmp/alice.pw"
printf 'another long password\n' >"$tmp/bob.pw"
chmod 600 "$tmp"/*.pw
# the service is https://localhost:PORT: SNI, Host and every signature say localhost
A=("$PY" "$PEER_PY" --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt" --home "$tmp/alice"
  --admin "$DATA")
B=("$PY" "$PEER_PY" --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt" --home "$tmp/bob")

# ---- an account and a device, with no 06-client involved ----
t_expect "06 python peer: register over TLS 1.3 is 201" 0 --out "registered: alice" \
  -- "${A[@]}" register alice --password-file "$tmp/alice.pw"
t_expect "06 python peer: a CSR bound to another connection's exporter is refused (R5: no proof of the channel)" 1 \
  --err "HTTP 403" --err "relayed CSR" -- "${A[@]}" --relay enrol alice --password-file "$tmp/alice.pw"
t_true "06 python peer: ...and no device was issued for it" "$(sq 'SELECT serial FROM devices')" \
  test "$(sq 'SELECT count(*) FROM devices')" = 0
t_expect "06 python peer: an Ed25519 CSR carrying this connection's tls-exporter enrols" 0 \
  --out "enrolled: device" --out "CN=alice" -- "${A[@]}" enrol alice --password-file "$tmp/alice.pw"
t_true "06 python peer: the device key it wrote is 0600" "$(stat -c %a "$tmp/alice/device.key")" \
  test "$(stat -c %a "$tmp/alice/device.key")" = 600
t_expect "06 python peer: bob registers" 0 -- "${B[@]}" register bob --password-file "$tmp/bob.pw"
t_expect "06 python peer: a P-256 CSR enrols too" 0 --out "p256 key" \
  -- "${B[@]}" --key-type p256 enrol bob --password-file "$tmp/bob.pw"

# ---- the flow: HELLO, a record, a poll, CLOSE ----
t_expect "06 python peer: HELLO, a signed record, a poll, CLOSE, every answer opened" 0 \
  --out "HELLO_ACK seq 1 session" --out "DATA_RESPONSE seq 2 epoch 0: {" --out '"status": "stored"' \
  --out "DATA_RESPONSE seq 3 epoch 0:" --out '"status": "ok"' --out 'CLOSE seq 4 epoch 0: {"closed": true' \
  -- "${A[@]}" flow
t_expect "06 python peer: the same flow with a P-256 device (ECDSA signatures)" 0 \
  --out '"status": "stored"' --out '"closed": true' -- "${B[@]}" flow
t_true "06 python peer: the record is in the records table" "$(sq 'SELECT FirstName, LastName FROM records')" \
  test "$(sq "SELECT count(*) FROM records WHERE FirstName='Python' AND LastName='Peer'")" = 2

# ---- the attacks: one verdict each ----
scenario() { # NAME WHAT
  t_expect "06 python peer: $1: $2" 0 --out "$1: defended" --not "NOT DEFENDED" -- "${A[@]}" "$1"
}
scenario replay-identical "the same DATA_REQUEST bytes twice get the cached answer, byte for byte, and one record"
scenario replay-other "a new envelope under a used seq is 409"
scenario reorder "seq 4 then seq 3: the second is 409"
scenario reflect "the server's DATA_RESPONSE sent back as a request is refused"
scenario tamper-ct "a flipped ct bit, garbage and a pickle blob are 400 authentication failed (R5), and move nothing"
scenario tamper-aad "a valid ct under another seq, session or type is refused"
scenario gap "seq last+1001 is 409, last+1000 is answered"
scenario unknown-session "a session the server no longer has is 404 (and one the token does not name, 401)"
scenario unsigned "a record without a signature, in a valid envelope: encrypted 'refused', nothing stored"
scenario bad-sig "a record with a wrong signature or another key's: 'refused', nothing stored"
scenario other-aud "a record signed for another audience: 'refused' (surreptitious forwarding)"
scenario relay-hello "a HELLO signed over another connection's exporter is 403 CLOSE (channel binding)"
scenario stale-hello "a HELLO 10 minutes old or ahead is 403"
scenario hello-key-windows "R3's flaw: no window of the HELLO_ACK is a key that opens anything"
scenario rotate "25 polls: epochs 0, 1, 2 on both sides, every answer opens"
t_expect "06 python peer: big: a 254 KiB record intact, over the record cap refused, a 2 MiB body 413" 0 \
  --out "big: defended" --not "NOT DEFENDED" -- "${A[@]}" --save "$tmp/big.json" big
BIG_ID=$(sed -n 's/^big: record_id \([0-9]*\) .*/\1/p' <<<"$T_OUT")
sq "SELECT writefile('$tmp/stored.json', payload) FROM receipts WHERE id = ${BIG_ID:-0}" >/dev/null
t_true "06 python peer: ...the stored payload is the sent one, byte for byte (read back with sqlite3)" \
  "receipt ${BIG_ID:-?}: $(stat -c %s "$tmp/stored.json" 2>&1) bytes stored, $(stat -c %s "$tmp/big.json" 2>&1) sent" \
  cmp -s "$tmp/stored.json" "$tmp/big.json"
t_true "06 python peer: ...and its fields are whole in the records table" \
  "$(sq "SELECT length(FirstName), length(Comments) FROM records WHERE receipt_id = ${BIG_ID:-0}")" \
  test "$(sq "SELECT length(FirstName) + length(LastName) + length(Address) + length(Comments) FROM records WHERE receipt_id = ${BIG_ID:-0}")" = 260000

# ---- the audit, from the database alone ----
N=$(sq 'SELECT count(*) FROM receipts')
t_true "06 python peer: the runs above stored receipts to audit" "$N receipts" test "$N" -ge 5
t_expect "06 python peer: 06_audit.py re-verifies every stored signature (Ed25519 and P-256)" 0 \
  --out "audit: $N rows, $N verified, 0 failed" -- "$PY" "$AUDIT_PY" "$DB"
t_expect "06 python peer: the audience is in what was signed: audited for another name, every row fails" 1 \
  --out "audit: $N rows, 0 verified, $N failed" -- "$PY" "$AUDIT_PY" "$DB" --aud other.example
ROW=$(sq "SELECT min(id) FROM receipts WHERE status = 'stored'")
sq "UPDATE receipts SET payload = CAST('{\"FirstName\":\"Mallory\"}' AS BLOB) WHERE id = $ROW"
t_expect "06 python peer: a payload changed behind the server's back: 1 failed, exit 1" 1 \
  --out "receipt $ROW: payload_sha256" --out "audit: $N rows, $((N - 1)) verified, 1 failed" -- "$PY" "$AUDIT_PY" "$DB"
H=$(printf '{"FirstName":"Mallory"}' | sha256sum | cut -c1-64)
sq "UPDATE receipts SET payload_sha256 = X'$H' WHERE id = $ROW"
t_expect "06 python peer: ...and with its hash fixed up too, the signature still catches it" 1 \
  --out "receipt $ROW: the signature does not verify" --out "audit: $N rows, $((N - 1)) verified, 1 failed" \
  -- "$PY" "$AUDIT_PY" "$DB"

t_expect "06 python peer: after every attack the server still serves a whole flow" 0 \
  --out '"closed": true' -- "${A[@]}" flow
t_true "06 python peer: the server is still running" "$(tail -n 3 "$LOG")" kill -0 "$SERVER_PID"
t_expect "06 python peer: revoked-open: a revoked device is refused on the connection it already has open (R5)" 0 \
  --out "revoked-open: defended" --not "NOT DEFENDED" -- "${B[@]}" --admin "$DATA" revoked-open
stop_server "$SERVER_PID"
t_true "06 python peer: ...and stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$LOG")" test "$STOPPED_RC" = 0
