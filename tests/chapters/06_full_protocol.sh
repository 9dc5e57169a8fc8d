#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06 end to end: 06-server, 06-client and 06-admin with a course PKI
# made at run time in a temp dir. The whole flow (register, enrol, HELLO,
# records, poll, token, CLOSE), then each refusal: accounts (R4), enrolment
# (R1, R2, R5), certificates at the TLS layer, tokens (R1, R3), records and
# the quarantine (R1), revocation (R5). Envelope attacks that need a hand-made
# client (replay, reorder, reflection, tampering) are in
# tests/interop/06_python_peer.sh, the third-party peers (PyJWT, openssl,
# curl as an EST client, argon2-cffi) in tests/interop/06_*.sh.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
DATA=$tmp/data
SRV=(--cert "$P/server-chain.crt" --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass")
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$DATA" "${SRV[@]}" -v; then
  t_fail "06: the server starts on a free port" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
t_pass "06: the server starts and prints 'listening on https://...'"
LOG=$SERVER_LOG
URL="https://localhost:$SERVER_PORT"
printf 'correct horse battery staple\n' >"$tmp/alice.pw"
printf 'another long password\n' >"$tmp/bob.pw"
printf 'wrong password, surely\n' >"$tmp/wrong.pw"
chmod 600 "$tmp"/*.pw
A=("$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/alice" --user alice --password-file "$tmp/alice.pw")
B=("$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/bob" --user bob --password-file "$tmp/bob.pw")
ADM=("$BIN/06-admin" --url "$URL" --cacert "$P/root.crt" --data "$DATA")
DB=$DATA/course06.db
sq() { sqlite3 -batch "$DB" "$@"; }

# ---- the data folder: generated secrets, modes, the store's settings ----
for f in token.key admin.token quarantine.key admin.key; do
  t_true "06: first start made $f, mode 0600 (no secret in the code, R1)" "$(stat -c %a "$DATA/$f" 2>&1)" \
    test "$(stat -c %a "$DATA/$f")" = 600
done
t_true "06: the data folder is 0700" "$(stat -c %a "$DATA")" test "$(stat -c %a "$DATA")" = 700
t_true "06: the store is in WAL mode" "$(sq 'PRAGMA journal_mode')" test "$(sq 'PRAGMA journal_mode')" = wal
t_true "06: every table is STRICT" "$(sq "SELECT name FROM sqlite_schema WHERE type='table' AND sql NOT LIKE '%STRICT%'")" \
  test -z "$(sq "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE '%STRICT%'")"
t_true "06: the server narrates synchronous=FULL" "$(head -n 20 "$LOG")" grep -q 'synchronous=FULL' "$LOG"

# ---- the README's troubleshooting lines, as the programs print them ----
t_expect "06: a missing device CA is named" 1 --err "06-server: error: device CA: cannot load $tmp/nope/ca.crt and $tmp/nope/ca.key: " \
  -- "$BIN/06-server" --port 0 --data "$tmp/data-nope" "${SRV[@]}" --device-ca "$tmp/nope"
t_expect "06: a client with no device says to enrol" 1 --err "06-client: error: device: no device key and certificate in $tmp/nobody: " \
  --err "hint: enrol first" -- "$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/nobody" poll

# ---- accounts (R4) ----
t_expect "06: register makes an account" 0 --out "account 'alice' registered" -- "${A[@]}" register
t_expect "06: a duplicate username is 409, and the server lives (R4 crashed)" 1 \
  --err "06-client: error: register: HTTP 409: the username 'alice' is taken" \
  -- "${A[@]}" register
t_expect "06: usernames are lower case: ALICE is no second alice" 1 --err "HTTP 400" \
  -- "$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/x" --user ALICE --password-file "$tmp/alice.pw" register
t_expect "06: the server enforces the username rules" 1 --err "HTTP 400" \
  -- "$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/x" --user '../etc' --password-file "$tmp/alice.pw" register
printf 'short\n' >"$tmp/short.pw"
t_expect "06: a password under 8 bytes is refused" 1 --err "HTTP 400" \
  -- "$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/x" --user carol --password-file "$tmp/short.pw" register
t_expect "06: bob registers too (the password from COURSE06_PASSWORD)" 0 --out "account 'bob' registered" \
  -- env COURSE06_PASSWORD="$(cat "$tmp/bob.pw")" "$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/bob" --user bob register
t_expect "06: argon2-cffi verifies the hash the server stored for alice" 0 --out "verified m=19456 t=2 p=1" \
  -- /usr/bin/python3 -c 'import sys, argon2
h = sys.argv[1]; argon2.PasswordHasher().verify(h, sys.argv[2])
p = argon2.extract_parameters(h); print("verified m=%d t=%d p=%d" % (p.memory_cost, p.time_cost, p.parallelism))' \
  "$(sq "SELECT pw_hash FROM accounts WHERE username='alice'")" "$(head -n 1 "$tmp/alice.pw")"
t_true "06: the stored hash is an Argon2id PHC string (R4: unsalted SHA-256)" "$(sq "SELECT pw_hash FROM accounts WHERE username='alice'")" \
  grep -q '^\$argon2id\$v=19\$m=19456,t=2,p=1\$' <<<"$(sq "SELECT pw_hash FROM accounts WHERE username='alice'")"

# ---- enrolment (EST) ----
t_expect "06: enrol with a wrong password is 401" 1 --err "HTTP 401" \
  -- "$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/alice" --user alice --password-file "$tmp/wrong.pw" enrol
t_expect "06: enrol makes a device key and gets its certificate, named after the account" 0 \
  --out "device certificate" --out "CN=alice" --err "" -- "${A[@]}" enrol
t_true "06: the device key is 0600" "$(stat -c %a "$tmp/alice/device.key")" test "$(stat -c %a "$tmp/alice/device.key")" = 600
t_expect "06: openssl verify -purpose sslclient accepts the device certificate" 0 --out "OK" \
  -- openssl verify -purpose sslclient -CAfile "$P/root.crt" -untrusted "$P/devices-ca.crt" "$tmp/alice/device.crt"
t_run openssl x509 -in "$tmp/alice/device.crt" -noout -text
t_true "06: the device certificate is a leaf for clientAuth only" "$T_OUT" \
  bash -c 'grep -q "CA:FALSE" <<<"$1" && grep -q "TLS Web Client Authentication" <<<"$1" && ! grep -q "Server Authentication" <<<"$1"' _ "$T_OUT"
ALICE_SERIAL=$(openssl x509 -in "$tmp/alice/device.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
t_true "06: the serial (the device id) is the server's, 128 random bits (R1 let clients choose)" "serial $ALICE_SERIAL" \
  test "${#ALICE_SERIAL}" -ge 30
t_true "06: the store knows the device under that serial" "$(sq 'SELECT serial FROM devices')" \
  test "$(sq "SELECT count(*) FROM devices WHERE serial='$ALICE_SERIAL'")" = 1
t_expect "06: bob enrols a P-256 device" 0 --out "CN=bob" -- "${B[@]}" --key-type p256 enrol
# the lab sheet's --home build/06-lab/NAME on a fresh tree: the parent did not exist ("No such file or directory")
t_expect "06: enrol makes the folders of --home that do not exist yet (mkdir -p)" 0 --out "CN=bob" \
  -- "${B[@]}" --home "$tmp/lab/deep/bob" enrol
t_true "06: ...each folder it made is 0700" "$(stat -c '%n %a' "$tmp/lab" "$tmp/lab/deep" "$tmp/lab/deep/bob")" \
  test "$(stat -c %a "$tmp/lab" "$tmp/lab/deep" "$tmp/lab/deep/bob" | sort -u)" = 700

# ---- the session and the records ----
REC='{"FirstName": "Pedro", "LastName": "Pascal", "Age": 49, "Hight": 1.73, "Address": "Santiago", "Comments": "hello"}'
t_expect "06: send-record: HELLO, a signed record, CLOSE; stored before the answer" 0 \
  --out "record stored: id" --out "HELLO_ACK: session" --out "DATA_REQUEST seq 2 epoch 0" --out "CLOSE" \
  -- "${A[@]}" send-record "$REC"
t_true "06: the record is in the records table" "$(sq 'SELECT * FROM records')" \
  test "$(sq "SELECT LastName FROM records r JOIN receipts c ON c.id = r.receipt_id WHERE c.device_serial='$ALICE_SERIAL'")" = Pascal
t_true "06: the receipt keeps the signature and the payload (R1's non-repudiation)" "$(sq 'SELECT length(signature), op FROM receipts')" \
  test "$(sq "SELECT length(signature) FROM receipts WHERE device_serial='$ALICE_SERIAL'")" = 64
t_expect "06: R1's form: 06-client --server URL 'JSON'" 0 --out "record stored" \
  -- "$BIN/06-client" --server "$URL" --cacert "$P/root.crt" --home "$tmp/alice" '{"FirstName": "Ana", "Age": 7}'
t_true "06: the outbox is empty once the records are acknowledged" "$(ls "$tmp/alice/outbox" 2>&1)" \
  test -z "$(ls -A "$tmp/alice/outbox" 2>/dev/null)"
t_expect "06: a P-256 device stores a record too" 0 --out "record stored" -- "${B[@]}" send-record '{"FirstName": "Bob"}'
t_expect "06: poll: R3's DATA_REQUEST with counters and a random string" 0 \
  --out "poll 1: ok, random '" --out "poll 2: ok" --out '"records":' -- "${A[@]}" --every 1 --count 2 poll
t_expect "06: --verbose shows the decrypted JSON" 0 --out '"status":"ok"' -- "${A[@]}" -v --every 1 --count 1 poll

# key rotation: 12 polls in one session cross the epoch boundary (every 10)
t_expect "06: keys rotate every 10 messages, never announced (R3)" 0 --out "DATA_REQUEST seq 12 epoch 1" \
  --out "DATA_REQUEST seq 11 epoch 0" -- "${A[@]}" --every 1 --count 11 poll

# ---- records the table does not take: quarantine (R1) ----
t_expect "06: an unknown field is quarantined, and the client told why" 1 \
  --err "06-client: error: record quarantined: unknown field 'Shoe' (accepted: " -- "${A[@]}" send-record '{"FirstName": "Ana", "Shoe": 38}'
QID=$(grep -o 'record quarantined as [0-9a-f]\{32\}' "$LOG" | tail -n 1 | cut -d' ' -f4)
t_expect "06: a wrong type is quarantined" 1 --err "quarantined" --err "Age" -- "${A[@]}" send-record '{"Age": "old"}'
t_expect "06: a CHECK violation is quarantined" 1 --err "quarantined" -- "${A[@]}" send-record '{"Age": 400}'
t_expect "06: a SQL-shaped key is quarantined (R1 built SQL from JSON keys)" 1 --err "quarantined" \
  -- "${A[@]}" send-record '{"FirstName\"); DROP TABLE records; --": "x"}'
t_true "06: ...and the tables are intact" "$(sq '.tables')" test "$(sq "SELECT count(*) FROM records")" -ge 3
t_expect "06: keys equal ignoring case are quarantined" 1 --err "quarantined" \
  -- "${A[@]}" send-record '{"age": 1, "Age": 2}'
QDIR=$DATA/received_messages
t_true "06: the quarantine folder is 0700" "$(stat -c %a "$QDIR")" test "$(stat -c %a "$QDIR")" = 700
bad=0
for f in "$QDIR"/*.bin; do
  [[ "$(stat -c %a "$f")" == 600 && "$(basename "$f")" =~ ^[0-9a-f]{32}\.bin$ ]] || bad=1
  grep -q 'Shoe' "$f" && bad=1
done
t_true "06: quarantine files are 0600, random-named, with no plaintext inside" "$(ls -l "$QDIR")" test "$bad" = 0
t_true "06: quarantined receipts are kept, records are not" "$(sq "SELECT status, count(*) FROM receipts GROUP BY status")" \
  test "$(sq "SELECT count(*) FROM receipts WHERE status='quarantined'")" -ge 4
t_expect "06: 06-admin quarantine lists what was kept, and why" 0 --out "unknown field 'Shoe'" \
  -- "${ADM[@]}" quarantine
"${A[@]}" -q send-record '{"FirstName": "Bea", "Shoe": 41}' >/dev/null 2>&1
QID2=$(grep -o 'record quarantined as [0-9a-f]\{32\}' "$LOG" | tail -n 1 | cut -d' ' -f4)
t_true "06: a quarantined receipt keeps the hash and signature, never the plaintext (the file has it, encrypted)" \
  "$(sq "SELECT length(payload), length(payload_sha256), length(signature) FROM receipts WHERE status = 'quarantined'")" \
  test "$(sq "SELECT count(*) FROM receipts WHERE status = 'quarantined' AND (length(payload) > 0 OR length(payload_sha256) <> 32)")" = 0
t_run "${ADM[@]}" -q quarantine show "$QID"
shown=$(grep -o '"payload":"[A-Za-z0-9_-]*"' <<<"$T_OUT" | cut -d'"' -f4 | tr -- '-_' '+/')
while (( ${#shown} % 4 )); do shown+="="; done
t_true "06: 06-admin quarantine show decrypts it: the signed payload, byte for byte" "$T_OUT $T_ERR" \
  grep -q '"Shoe": 38' <<<"$(base64 -d <<<"$shown" 2>/dev/null)"
t_expect "06: 06-admin quarantine drop removes it" 0 --out "\"dropped\":\"$QID\"" -- "${ADM[@]}" quarantine drop "$QID"
t_true "06: ...file and all" "$(ls "$QDIR")" test ! -e "$QDIR/$QID.bin"
t_expect "06: a quarantine id that is not 32 hex digits is refused (never a path)" 1 --err "HTTP 400" \
  -- "${ADM[@]}" quarantine show ../../etc/passwd
t_expect "06: replay before the schema is fixed: still quarantined, for today's reason" 0 --out '"status":"quarantined"' \
  --out "unknown field 'Shoe'" -- "${ADM[@]}" quarantine replay "$QID2"
sq 'ALTER TABLE records ADD COLUMN Shoe INTEGER'
t_expect "06: after ALTER TABLE, 06-admin quarantine replay stores it (signature verified again)" 0 --out '"status":"stored"' \
  -- "${ADM[@]}" quarantine replay "$QID2"
t_true "06: ...under its first receipt, and the quarantine file is gone" "$(sq "SELECT status FROM receipts r JOIN records c ON c.receipt_id = r.id WHERE c.Shoe = 41")" \
  bash -c 'test "$(sqlite3 "$1" "SELECT r.status FROM receipts r JOIN records c ON c.receipt_id = r.id WHERE c.Shoe = 41")" = stored && test ! -e "$2"' _ "$DB" "$QDIR/$QID2.bin"
t_expect "06: a live ALTER TABLE ADD COLUMN: the new field is taken, no restart" 0 --out "record stored" \
  -- "${A[@]}" send-record '{"FirstName": "Ana", "Shoe": 38}'
t_true "06: ...into the new column" "$(sq 'SELECT Shoe FROM records')" test "$(sq 'SELECT count(*) FROM records WHERE Shoe = 38')" = 1
t_expect "06: a record that is not JSON is refused by the client before it is signed" 2 --err "not JSON" \
  -- "${A[@]}" send-record '{"FirstName": '

# ---- tokens, with curl ----
TOK=$("${A[@]}" -q token 2>"$tmp/token.err")
t_true "06: 06-client token prints a JWT" "$(cat "$tmp/token.err")" grep -qE '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' <<<"$TOK"
CURL_A=(curl -sS --cacert "$P/root.crt" --cert "$tmp/alice/device.crt" --key "$tmp/alice/device.key")
t_expect "06: curl with the certificate and the token gets /v1/whoami" 0 --out '"account":"alice"' \
  --out "\"device\":\"$ALICE_SERIAL\"" -- "${CURL_A[@]}" -H "Authorization: Bearer $TOK" "$URL/v1/whoami"
t_expect "06: the same token with another device's certificate is refused (RFC 8705)" 0 \
  --out "token bound to another certificate" \
  -- curl -sS --cacert "$P/root.crt" --cert "$tmp/bob/device.crt" --key "$tmp/bob/device.key" -H "Authorization: Bearer $TOK" "$URL/v1/whoami"
t_expect "06: without a certificate the token is refused" 0 --out "client certificate is required" \
  -- curl -sS --cacert "$P/root.crt" -H "Authorization: Bearer $TOK" "$URL/v1/whoami"
tampered="${TOK%?}$( [[ "${TOK: -1}" == A ]] && echo B || echo A)"
t_expect "06: a tampered token is refused" 0 --out '"type":"CLOSE"' --not '"account"' \
  -- "${CURL_A[@]}" -H "Authorization: Bearer $tampered" "$URL/v1/whoami"
t_expect "06: no token at all is refused" 0 --out "Authorization: Bearer" -- "${CURL_A[@]}" "$URL/v1/whoami"
t_expect "06: close ends the session token opened" 0 --out "CLOSE: session" -- "${A[@]}" close
t_expect "06: ...and its token is dead (CLOSE revokes it)" 0 --out '"type":"CLOSE"' --not '"account"' \
  -- "${CURL_A[@]}" -H "Authorization: Bearer $TOK" "$URL/v1/whoami"
t_expect "06: close twice: no saved session" 1 --err "06-client token" -- "${A[@]}" close

TOK2=$("${A[@]}" -q token 2>/dev/null)
JTI2=$("${CURL_A[@]}" -H "Authorization: Bearer $TOK2" "$URL/v1/whoami" | sed -n 's/.*"jti":"\([A-Za-z0-9_-]*\)".*/\1/p')
t_expect "06: 06-admin revoke-token revokes one token" 0 --out "\"revoked\":\"$JTI2\"" -- "${ADM[@]}" revoke-token "$JTI2"
t_expect "06: ...which is refused at once (its session ended with it)" 0 --out "the token is revoked" \
  -- "${CURL_A[@]}" -H "Authorization: Bearer $TOK2" "$URL/v1/whoami"
t_expect "06: 06-admin sweep ends sessions idle that long (R1's session cleanup)" 0 --out '"removed":' \
  -- "${ADM[@]}" sweep --idle 1
rm -f "$tmp/alice/session"

# ---- certificates at the TLS layer ----
t_expect "06: HELLO without a client certificate: 403 and R3's CLOSE" 0 --out '"type":"CLOSE"' \
  --out "client certificate is required" -- curl -sS --cacert "$P/root.crt" -X POST -d '{}' "$URL/v1/hello"
t_run curl -sS --cacert "$P/root.crt" --cert "$P/client.crt" --key "$P/client.key" "$URL/v1/whoami"
t_true "06: a certificate from the course's other CA is refused in the handshake (foreign)" "rc $T_RC: $T_ERR" test "$T_RC" -ne 0
t_run openssl s_client -connect "127.0.0.1:$SERVER_PORT" -tls1_2 -CAfile "$P/root.crt" </dev/null
t_true "06: TLS 1.2 is refused (TLS 1.3 only)" "rc $T_RC" test "$T_RC" -ne 0

# ---- lockout (R4: no rate limit) ----
for i in 1 2 3 4 5 6; do
  "$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/bob2" --user bob --password-file "$tmp/wrong.pw" enrol >/dev/null 2>&1
done
t_expect "06: after failed passwords the account is locked: 429 with Retry-After" 1 \
  --err "06-client: error: enrol: HTTP 429: too many failed passwords: try again in " \
  -- "${B[@]}" --home "$tmp/bob2" enrol
t_run curl -sS -D - -o /dev/null --cacert "$P/root.crt" -u bob:x -H 'Content-Type: application/pkcs10' --data-binary 'AAAA' \
  "$URL/.well-known/est/simpleenroll"
t_true "06: the 429 carries Retry-After" "$T_OUT" grep -qi '^Retry-After: [0-9]' <<<"$T_OUT"
t_expect "06: 06-admin unlock lifts it" 0 --out '"unlocked":"bob"' -- "${ADM[@]}" unlock bob
t_expect "06: ...and the right password works again" 0 --out "CN=bob" -- "${B[@]}" --home "$tmp/bob2" enrol

# ---- disabling an account ----
TOKB=$("${B[@]}" --home "$tmp/bob2" -q token 2>/dev/null)
CURL_B2=(curl -sS --cacert "$P/root.crt" --cert "$tmp/bob2/device.crt" --key "$tmp/bob2/device.key")
t_expect "06: 06-admin disable ends the account's sessions" 0 --out '"disabled":true' --out '"sessions_ended":1' \
  -- "${ADM[@]}" disable bob
t_expect "06: ...its token is dead" 0 --out "this account is disabled" --not '"account"' \
  -- "${CURL_B2[@]}" -H "Authorization: Bearer $TOKB" "$URL/v1/whoami"
t_expect "06: ...it opens no session" 1 --err "this account is disabled" -- "${B[@]}" --home "$tmp/bob2" send-record '{"FirstName": "B"}'
t_expect "06: ...and a disabled account never gets a certificate again" 1 --err "HTTP 403: this account is disabled" \
  -- "${B[@]}" --home "$tmp/bob3" enrol
t_expect "06: 06-admin enable: the account is back" 0 --out '"disabled":false' -- "${ADM[@]}" enable bob
t_expect "06: ...and opens sessions again" 0 --out "record stored" -- "${B[@]}" --home "$tmp/bob2" send-record '{"FirstName": "B"}'
t_expect "06: ...but the token from before the disabling stays dead" 0 --out '"type":"CLOSE"' --not '"account"' \
  -- "${CURL_B2[@]}" -H "Authorization: Bearer $TOKB" "$URL/v1/whoami"

# ---- the admin ----
t_expect "06: 06-admin sessions lists the live sessions" 0 --out '"sessions"' -- "${ADM[@]}" sessions
t_expect "06: 06-admin audit verifies every stored signature" 0 --out '"bad":0' -- "${ADM[@]}" audit
t_expect "06: the admin endpoints want the admin token" 0 --out "X-Admin-Token" \
  -- curl -sS --cacert "$P/root.crt" --cert "$DATA/admin.crt" --key "$DATA/admin.key" "$URL/v1/admin/sessions"
t_expect "06: ...the right one: a wrong admin token is 401" 0 --out "X-Admin-Token is missing or wrong" \
  -- curl -sS --cacert "$P/root.crt" --cert "$DATA/admin.crt" --key "$DATA/admin.key" \
  -H "X-Admin-Token: $(tr 0-9a-f a-f0-9 <"$DATA/admin.token")" "$URL/v1/admin/sessions"
t_expect "06: ...and the admin certificate: a device certificate is not enough" 0 --out "admin certificate" \
  -- "${CURL_A[@]}" -H "X-Admin-Token: $(cat "$DATA/admin.token")" "$URL/v1/admin/sessions"
t_expect "06: the admin certificate is nobody's device" 0 --out "no enrolled device" \
  -- curl -sS --cacert "$P/root.crt" --cert "$DATA/admin.crt" --key "$DATA/admin.key" -X POST -d '{}' "$URL/v1/hello"

# ---- what one account or device may hold (the attacker review's findings) ----
printf 'erin has a long password\n' >"$tmp/erin.pw"; chmod 600 "$tmp/erin.pw"
E=("$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --user erin --password-file "$tmp/erin.pw")
"${E[@]}" --home "$tmp/erin0" -q register >/dev/null 2>&1
for i in 0 1 2 3 4 5 6 7 8 9; do "${E[@]}" --home "$tmp/erin$i" -q enrol >/dev/null 2>&1; done
t_true "06: erin enrolled 10 devices" "$(sq "SELECT count(*) FROM devices d JOIN accounts a ON a.id = d.account_id WHERE a.username = 'erin'")" \
  test "$(sq "SELECT count(*) FROM devices d JOIN accounts a ON a.id = d.account_id WHERE a.username = 'erin'")" = 10
t_expect "06: an 11th device is refused: an account cannot mint identities without end" 1 \
  --err "this account already has 10 devices" -- "${E[@]}" --home "$tmp/erin10" enrol
for i in 1 2 3 4 5 6 7 8; do "${E[@]}" --home "$tmp/erin0" -q token >/dev/null 2>&1; done
t_expect "06: a device holds at most 8 sessions: the 9th HELLO is 429 (one device cannot fill the table)" 1 \
  --err "HTTP 429: this device already holds 8 sessions" -- "${E[@]}" --home "$tmp/erin0" send-record '{"FirstName": "Erin"}'
t_expect "06: ...while its other devices still get theirs" 0 --out "record stored" \
  -- "${E[@]}" --home "$tmp/erin1" send-record '{"FirstName": "Erin"}'
OLD1=$(openssl x509 -in "$tmp/erin1/device.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
t_expect "06: reenrol renews the certificate with the current one" 0 --out "device certificate" -- "${E[@]}" --home "$tmp/erin1" reenrol
NEW1=$(openssl x509 -in "$tmp/erin1/device.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
t_true "06: ...the old one is superseded, and the new one names it" "$(sq "SELECT serial, reason, replaces FROM devices WHERE serial IN ('$OLD1', '$NEW1')")" \
  test "$(sq "SELECT reason FROM devices WHERE serial = '$OLD1'")|$(sq "SELECT replaces FROM devices WHERE serial = '$NEW1'")" = "superseded|$OLD1"
t_expect "06: revoking the superseded certificate for keyCompromise takes its renewal with it" 0 \
  --out "\"revoked\":\"$OLD1\"" -- "${ADM[@]}" revoke-device "$OLD1" --reason keyCompromise
t_true "06: ...both are keyCompromise now" "$(sq "SELECT serial, reason FROM devices WHERE serial IN ('$OLD1', '$NEW1')")" \
  test "$(sq "SELECT count(*) FROM devices WHERE serial IN ('$OLD1', '$NEW1') AND reason = 'keyCompromise'")" = 2
t_expect "06: ...the renewal is refused, and its key never enrols again" 1 --err "revoked device" -- "${E[@]}" --home "$tmp/erin1" enrol
t_expect "06: revoking it again says so (409), not a false success" 1 --err "HTTP 409: device $OLD1 is already revoked" \
  -- "${ADM[@]}" revoke-device "$OLD1"
t_true "06: the server's log (even with -v) holds no password and no bearer token" "$(grep -c 'correct horse\|another long password' "$LOG")" \
  bash -c '! grep -q "correct horse\|another long password\|erin has a long" "$1" && ! grep -qF "$2" "$1"' _ "$LOG" "$TOK"

# ---- revocation (R5 had none) ----
t_expect "06: 06-admin revoke-device revokes alice's device" 0 --out "\"revoked\":\"$ALICE_SERIAL\"" \
  -- "${ADM[@]}" revoke-device "$ALICE_SERIAL" --reason keyCompromise
t_run curl -sS --cacert "$P/root.crt" "$URL/crl" -o "$tmp/crl.der"
t_expect "06: GET /crl lists the revoked serial" 0 --out "$(tr 'a-f' 'A-F' <<<"$ALICE_SERIAL")" \
  -- openssl crl -inform DER -in "$tmp/crl.der" -noout -text
# the server's alert (certificate revoked) comes after the client's Finished in TLS 1.3: whether the
# client reads it before its write fails is a race, so the line names HELLO, not always the alert
t_expect "06: a revoked device cannot open a session (the CRL stops the handshake)" 1 --err "06-client: error: HELLO: " \
  -- "${A[@]}" send-record '{"FirstName": "X"}'
t_expect "06: a revoked device never gets a certificate again for its key" 1 --err "revoked device" -- "${A[@]}" enrol
t_true "06: the server still serves after all of it" "$(tail -n 3 "$LOG")" kill -0 "$SERVER_PID"

# ---- a second server: a table of one session, and sessions bound to their address ----
MAIN_PID=$SERVER_PID MAIN_LOG=$LOG
if start_server 06-server-small "$BIN/06-server" --port 0 --data "$tmp/data2" "${SRV[@]}" --sessions 1 --bind-ip; then
  URL2="https://localhost:$SERVER_PORT"
  C=("$BIN/06-client" --url "$URL2" --cacert "$P/root.crt" --home "$tmp/carol" --user carol --password-file "$tmp/alice.pw")
  "${C[@]}" -q register >/dev/null 2>&1; "${C[@]}" -q enrol >/dev/null 2>&1
  TOK3=$("${C[@]}" -q token 2>/dev/null)
  CURL_C=(curl -sS --cacert "$P/root.crt" --cert "$tmp/carol/device.crt" --key "$tmp/carol/device.key")
  t_expect "06: a full session table answers 503 with Retry-After (nothing is evicted)" 1 --err "HTTP 503" \
    -- "${C[@]}" send-record '{"FirstName": "Carol"}'
  t_run "${CURL_C[@]}" -D - -o /dev/null -X POST -d '{}' "$URL2/v1/hello"
  t_true "06: ...with Retry-After" "$T_OUT" grep -qi '^Retry-After: [0-9]' <<<"$T_OUT"
  t_expect "06: --bind-ip: the token works from the address that opened the session" 0 --out '"account":"carol"' \
    -- "${CURL_C[@]}" --interface 127.0.0.1 -H "Authorization: Bearer $TOK3" "$URL2/v1/whoami"
  t_expect "06: --bind-ip: ...and not from another one (R3's binding, off by default)" 0 --out "bound to the address" \
    -- "${CURL_C[@]}" --interface 127.0.0.2 --resolve "localhost:$SERVER_PORT:127.0.0.1" -H "Authorization: Bearer $TOK3" "$URL2/v1/whoami"
  "${C[@]}" -q close >/dev/null 2>&1
  t_expect "06: once it closed, the slot is free again" 0 --out "record stored" -- "${C[@]}" send-record '{"FirstName": "Carol"}'
else
  t_fail "06: a second server starts" "$(tail -n 5 "$SERVER_LOG")"
fi
SERVER_PID=$MAIN_PID LOG=$MAIN_LOG

# ---- R1's certificate without a SAN: the name must be in the SAN, never only in the CN ----
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/nosan.key" -subj /CN=localhost \
  -out "$tmp/nosan.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >"$tmp/nosan.ext"
openssl x509 -req -in "$tmp/nosan.csr" -CA "$P/intermediate/ca.crt" -CAkey "$P/intermediate/ca.key" \
  -passin "file:$P/ca-pass" -set_serial 0x5a5a -days 2 -extfile "$tmp/nosan.ext" -out "$tmp/nosan.crt" 2>/dev/null
cat "$tmp/nosan.crt" "$P/intermediate.crt" >"$tmp/nosan-chain.crt"
if start_server 06-server-nosan "$BIN/06-server" --port 0 --data "$tmp/data3" --cert "$tmp/nosan-chain.crt" \
  --key "$tmp/nosan.key" --device-ca "$P/devices" --pass-file "$P/ca-pass"; then
  t_expect "06: a server certificate that names localhost only in its CN is refused (no SAN, R1)" 1 \
    --err "06-client: error: register: " --not "registered" \
    -- "$BIN/06-client" --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt" --home "$tmp/x" --user zed \
    --password-file "$tmp/alice.pw" register
  t_true "06: ...and no account was made" "$(sqlite3 "$tmp/data3/course06.db" 'SELECT username FROM accounts')" \
    test -z "$(sqlite3 "$tmp/data3/course06.db" 'SELECT username FROM accounts')"
else
  t_fail "06: a server with a SAN-less certificate starts" "$(tail -n 5 "$SERVER_LOG")"
fi
SERVER_PID=$MAIN_PID LOG=$MAIN_LOG
stop_server "$SERVER_PID"
t_true "06: the server stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$LOG")" test "$STOPPED_RC" = 0
