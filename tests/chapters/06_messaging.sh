#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06, R4's messaging inside the signed, encrypted sessions: alice,
# bob and eve registered and enrolled on one server. The flow (compose, the
# unread counter, inbox marks read, receipts to the sender with device and
# time, inbox --all, read, delete, users, presence), every authorisation
# case tried by eve and refused, a message to an unknown or disabled user,
# 64 KiB whole and one byte more refused, the rate limit, the proof of
# authorship and a tampered proof, one named test per R4 messaging flaw, and
# R4's menu driven through tmux for a whole session.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 messaging: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
DATA=$tmp/data
SRV=(--cert "$P/server-chain.crt" --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass")
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$DATA" "${SRV[@]}" -v; then
  t_fail "06 messaging: the server starts on a free port" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
LOG=$SERVER_LOG
URL="https://localhost:$SERVER_PORT"
DB=$DATA/course06.db
# a busy timeout: the server may be committing (a last_seen, a read) as the test edits the file
sq() { sqlite3 -batch -cmd ".timeout 5000" "$DB" "$@"; }
for u in alice bob eve; do printf 'a long password for %s\n' "$u" >"$tmp/$u.pw"; done
chmod 600 "$tmp"/*.pw
C=("$BIN/06-client" --url "$URL" --cacert "$P/root.crt")
A=("${C[@]}" --home "$tmp/alice" --user alice --password-file "$tmp/alice.pw")
B=("${C[@]}" --home "$tmp/bob" --user bob --password-file "$tmp/bob.pw")
E=("${C[@]}" --home "$tmp/eve" --user eve --password-file "$tmp/eve.pw")
for u in alice bob eve; do
  t_expect "06 messaging: $u registers and enrols a device" 0 --out "CN=$u" -- bash -c '"$@" register && "$@" enrol' _ \
    "${C[@]}" --home "$tmp/$u" --user "$u" --password-file "$tmp/$u.pw"
done
serial() { openssl x509 -in "$tmp/$1/device.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }
ALICE_SERIAL=$(serial alice) BOB_SERIAL=$(serial bob)
id_of() { sq "SELECT id FROM accounts WHERE username='$1'"; }
ALICE_ID=$(id_of alice) BOB_ID=$(id_of bob) EVE_ID=$(id_of eve)
receipts_count() { sq "SELECT count(*) FROM receipts"; }

# ---- the flow ----
t_expect "06 messaging: alice sends bob a message (a signed op, committed before the answer)" 0 \
  --out "message stored: id" -- "${A[@]}" --to bob send "hello bob, it is alice"
M1=$(sq "SELECT max(id) FROM messages")
t_true "06 messaging: the row names alice as sender and bob as recipient, and keeps the text" \
  "$(sq "SELECT * FROM messages")" \
  test "$(sq "SELECT sender_id, recipient_id, body FROM messages WHERE id=$M1")" = "$ALICE_ID|$BOB_ID|hello bob, it is alice"
t_true "06 messaging: its receipt keeps the signed payload and alice's device signature" \
  "$(sq "SELECT r.op, r.device_serial, length(r.signature) FROM receipts r JOIN messages m ON m.receipt_id = r.id")" \
  test "$(sq "SELECT r.op || ' ' || r.device_serial || ' ' || (length(r.signature) = 64) || ' ' || (CAST(r.payload AS TEXT) LIKE '%hello bob, it is alice%') FROM receipts r JOIN messages m ON m.receipt_id = r.id WHERE m.id=$M1")" = "compose $ALICE_SERIAL 1 1"
t_expect "06 messaging: bob's poll counts one unread message (R4's LOGIN counts)" 0 --out '"unread":1' \
  -- "${B[@]}" --count 1 poll
t_expect "06 messaging: HELLO_ACK carries the counters too (R4's LOGIN answered with them)" 0 \
  --out 'HELLO_ACK counters: {' --out '"unread":1' -- "${B[@]}" whoami
t_expect "06 messaging: bob's inbox shows alice's message, its signature verified against alice's device" 0 \
  --out "message $M1 from alice, sent " --out "[new: marked read now]" \
  --out "signature: verified (alice's device $ALICE_SERIAL)" --out "hello bob, it is alice" -- "${B[@]}" inbox
t_true "06 messaging: the inbox marked it read, on bob's device, now" "$(sq "SELECT read_at, read_device FROM messages WHERE id=$M1")" \
  test "$(sq "SELECT read_device, abs(read_at - strftime('%s','now')) < 120 FROM messages WHERE id=$M1")" = "$BOB_SERIAL|1"
t_expect "06 messaging: bob's unread counter went down" 0 --out '"unread":0' -- "${B[@]}" --count 1 poll
t_expect "06 messaging: alice's poll counts one new read receipt" 0 --out '"receipts":1' -- "${A[@]}" --count 1 poll
t_expect "06 messaging: alice's receipts say who read it, on which device, and when (R4's VIEW)" 0 \
  --out "the message $M1 you sent to bob was read at 20" --out "on bob's device $BOB_SERIAL [new]" -- "${A[@]}" receipts
t_expect "06 messaging: once seen, the receipt is no longer new, and alice's counter went down" 0 \
  --out "the message $M1 you sent to bob was read" --not "[new]" --out '"receipts":0' \
  -- bash -c '"$@" receipts && "$@" --count 1 poll' _ "${A[@]}"
t_expect "06 messaging: bob's inbox holds no unread message now" 0 --out "no unread messages" -- "${B[@]}" inbox
t_expect "06 messaging: inbox --all shows the messages already read (R4's READ_ALL)" 0 \
  --out "message $M1 from alice" --not "[new" -- "${B[@]}" --all inbox
t_expect "06 messaging: read ID shows one message of bob's inbox, verified" 0 \
  --out "message $M1 from alice" --out "signature: verified" -- "${B[@]}" read "$M1"

# ---- users and presence ----
t_expect "06 messaging: users: alice exists, nobody does not (R4's CHECK; alice wrote to bob: he sees her presence)" 0 \
  --out "alice: exists, offline, last seen 20" --out "nobody: no such user" -- "${B[@]}" users alice nobody
t_expect "06 messaging: ...but alice does not see bob's: he never wrote to her (writing to someone buys no presence)" 0 \
  --out "bob: exists (presence: only for correspondents)" -- "${A[@]}" users bob
t_expect "06 messaging: eve may know bob exists, but not his presence (not a correspondent)" 0 \
  --out "bob: exists (presence: only for correspondents)" -- "${E[@]}" users bob
t_true "06 messaging: last_seen is kept in the accounts table" "$(sq "SELECT username, last_seen FROM accounts")" \
  test "$(sq "SELECT last_seen IS NOT NULL FROM accounts WHERE username='bob'")" = 1
# bob holds a live session (06-client token keeps it open), so he is online
t_run "${A[@]}" -q token
t_expect "06 messaging: presence: alice is online while she holds a live session (she wrote to bob)" 0 \
  --out "alice: online, last seen 20" -- "${B[@]}" presence alice
t_expect "06 messaging: presence of bob for eve: the 'not found' shape (she never wrote to him)" 1 \
  --err "not found: you have no correspondent named 'bob'" -- "${E[@]}" presence bob
"${E[@]}" -q --to bob send "hello bob, from eve" >/dev/null 2>&1
t_expect "06 messaging: eve writes to bob unasked: still no presence of bob for her (only his own messages would give it)" 1 \
  --err "not found: you have no correspondent named 'bob'" -- "${E[@]}" presence bob
t_expect "06 messaging: presence of an unknown user: the same words" 1 \
  --err "not found: you have no correspondent named 'nobody'" -- "${E[@]}" presence nobody
"${A[@]}" -q close >/dev/null 2>&1
t_expect "06 messaging: once alice CLOSEd, she is offline, with her last_seen" 0 \
  --out "alice: offline, last seen 20" -- "${B[@]}" presence alice

# ---- unknown and disabled recipients ----
before=$(receipts_count)
t_expect "06 messaging: a message to an unknown user is refused, and says so" 1 \
  --err "compose: refused: no such user 'nobody'" -- "${A[@]}" --to nobody send "anyone there?"
t_true "06 messaging: ...and nothing was stored (no receipt, no row)" "receipts $before -> $(receipts_count)" \
  test "$(receipts_count)" = "$before"
t_expect "06 messaging: a name that cannot be a user is refused before any lookup" 1 \
  --err "compose: refused: no such user: " -- "${A[@]}" --to "../etc" send "x"
ADM=("$BIN/06-admin" --url "$URL" --cacert "$P/root.crt" --data "$DATA")
t_run "${ADM[@]}" disable eve
t_expect "06 messaging: a message to a disabled account: the same words as an unknown one" 1 \
  --err "compose: refused: no such user 'eve'" -- "${A[@]}" --to eve send "are you there, eve?"
t_run "${ADM[@]}" enable eve

# ---- eve against alice and bob: every authorisation case ----
"${A[@]}" -q --to bob send "bob, the code is 4711" >/dev/null 2>&1
M2=$(sq "SELECT max(id) FROM messages")
t_expect "06 messaging: eve cannot read alice's message to bob by its id (not found, no existence oracle)" 1 \
  --err "read: refused: not found: no message $M2 in your inbox" --not "4711" -- "${E[@]}" read "$M2"
t_expect "06 messaging: ...the same words as an id that never existed" 1 \
  --err "read: refused: not found: no message 999999 in your inbox" -- "${E[@]}" read 999999
t_expect "06 messaging: alice cannot read her own message in bob's inbox either (the reader's rows only)" 1 \
  --err "not found: no message $M2 in your inbox" -- "${A[@]}" read "$M2"
t_expect "06 messaging: eve cannot delete alice's message to bob (not found)" 1 \
  --err "delete: refused: not found: no message $M2 in your inbox" -- "${E[@]}" delete "$M2"
t_true "06 messaging: ...and it is still in bob's inbox, unread" "$(sq "SELECT deleted, read_at FROM messages WHERE id=$M2")" \
  test "$(sq "SELECT deleted || '|' || (read_at IS NULL) FROM messages WHERE id=$M2")" = "0|1"
t_expect "06 messaging: eve's hand-made read of bob's message, with a user name in the payload, is refused" 1 \
  --err "not found: no message $M2 in your inbox" -- "${E[@]}" op read "{\"id\": $M2, \"user\": \"bob\"}"
t_expect "06 messaging: eve's inbox --all holds none of alice's or bob's mail" 0 \
  --out "your inbox is empty" -- "${E[@]}" --all inbox
t_expect "06 messaging: eve's receipts show none of alice's receipts" 0 --out "no read receipts yet" --not "you sent to" \
  -- "${E[@]}" receipts
t_expect "06 messaging: eve's hand-made receipts op naming alice still answers eve's own" 0 --out '"receipts":[]' \
  -- "${E[@]}" op receipts '{"user": "alice", "from": "alice"}'
t_expect "06 messaging: eve sends a compose whose payload says it is from alice: stored, as eve's" 0 \
  --out '"status":"stored"' -- "${E[@]}" op compose '{"to": "bob", "text": "this is alice, really", "from": "alice"}'
M3=$(sq "SELECT max(id) FROM messages")
t_true "06 messaging: ...the stored row's sender is eve (the session's account), never the payload's 'from'" \
  "$(sq "SELECT sender_id, recipient_id FROM messages WHERE id=$M3") (alice $ALICE_ID, eve $EVE_ID)" \
  test "$(sq "SELECT sender_id FROM messages WHERE id=$M3")" = "$EVE_ID"
t_true "06 messaging: ...the server says it ignored the 'from'" "$(tail -n 20 "$LOG")" \
  grep -q "the payload names a \"from\": ignored, the sender is the session's account 'eve'" "$LOG"
t_expect "06 messaging: ...and bob sees it from eve, signed by eve's device" 0 \
  --out "message $M3 from eve" --out "signature: verified (eve's device" --not "from alice, sent" -- "${B[@]}" read "$M3"
# a resend: the same signed op (same msg_id, same payload) again
before=$(sq "SELECT count(*) FROM messages")
MIDHEX=00112233445566778899aabbccddeeff
t_expect "06 messaging: a compose with a chosen msg_id is stored" 0 --out '"status":"stored"' \
  -- env COURSE06_OP_MSG_ID=$MIDHEX "${E[@]}" op compose '{"to": "bob", "text": "once, however often it is sent"}'
MD=$(sq "SELECT max(id) FROM messages")
t_expect "06 messaging: the same compose resent (same msg_id and payload) is a duplicate of the first message, stored once" 0 \
  --out "{\"status\":\"duplicate\",\"message_id\":$MD," \
  -- env COURSE06_OP_MSG_ID=$MIDHEX "${E[@]}" op compose '{"to": "bob", "text": "once, however often it is sent"}'
t_expect "06 messaging: the same msg_id with another text is refused (a msg_id names one signed op)" 1 \
  --err "compose: refused: " \
  -- env COURSE06_OP_MSG_ID=$MIDHEX "${E[@]}" op compose '{"to": "bob", "text": "something else"}'
t_true "06 messaging: ...one row for the three sends" "$(sq "SELECT id, body FROM messages WHERE sender_id=$EVE_ID")" \
  test "$(sq "SELECT count(*) FROM messages")" = $((before + 1))
t_expect "06 messaging: a payload with no text is refused with its shape" 1 \
  --err 'compose takes {"to": USER, "text": TEXT}' -- "${E[@]}" op compose '{"to": "bob"}'
t_expect "06 messaging: a message with terminal control codes (ESC) is refused" 1 \
  --err "control character 0x1b" -- "${E[@]}" --to bob send $'hi \e[2J'
t_expect "06 messaging: read takes a positive id" 1 --err 'read takes {"id": N}' -- "${E[@]}" op read '{"id": "1 OR 1=1"}'

# ---- R4's flaws ----
# R4: every command named a user and the server believed it. Here the
# session's account acts: eve naming alice reads nothing of alice's, and
# sends nothing as alice (the cases above); one test per the README's words.
t_expect "R4 flaw: no authorisation at all (every command names a user and the server believes it: read anyone's mail, send as anyone) -> the session's account acts: eve gets 'not found' for bob's message and her 'from: alice' is stored as eve's" 1 \
  --err "not found: no message $M2 in your inbox" \
  -- bash -c 'test "$(sqlite3 "$1" "SELECT sender_id FROM messages WHERE id=$2")" = "$3" && shift 3 && exec "$@"' _ \
  "$DB" "$M3" "$EVE_ID" "${E[@]}" op read "{\"id\": $M2, \"as\": \"bob\"}"

# 64 KiB, whole: UTF-8 (two- and three-byte characters), newlines, quotes
python3 - "$tmp/big.txt" <<'EOF'
import sys
unit = 'héllo "wörld" \\ ✓ – R4 cut this\n'.encode()
data = (unit * (65536 // len(unit) + 1))[:65536 - 64]
data += b'x' * (65536 - len(data))
assert len(data) == 65536
data.decode('utf-8')
open(sys.argv[1], 'wb').write(data)
EOF
t_expect "06 messaging: a 65536-byte message (UTF-8, newlines, quotes) from stdin is stored" 0 \
  --out "message stored: id" --out "(65536 bytes" -- bash -c '"$@" <"$0"' "$tmp/big.txt" "${A[@]}" --to bob send -
MBIG=$(sq "SELECT max(id) FROM messages")
mkdir -p "$tmp/save"
t_expect "06 messaging: bob reads it back, verified, and --save writes its text" 0 --out "signature: verified" \
  --out "saved 65536 bytes to $tmp/save/message-$MBIG.txt" -- "${B[@]}" --save "$tmp/save" read "$MBIG"
t_true "R4 flaw: no framing (long messages cut) -> a 64 KiB message arrives whole: the text read back is the text sent, byte for byte" \
  "$(cmp "$tmp/big.txt" "$tmp/save/message-$MBIG.txt" 2>&1)" cmp -s "$tmp/big.txt" "$tmp/save/message-$MBIG.txt"
before=$(receipts_count)
t_expect "06 messaging: one byte more (65537) is refused by the server, whole: nothing cut, nothing stored" 1 \
  --err "the message is 65537 bytes: at most 65536 (64 KiB) arrive whole; nothing was cut and nothing stored" \
  -- "${A[@]}" --to bob send "$(head -c 65537 /dev/zero | tr '\0' a)"
t_true "06 messaging: ...no receipt and no row for it" "receipts $before -> $(receipts_count)" test "$(receipts_count)" = "$before"
t_expect "06 messaging: 65537 bytes on stdin are refused by the client before anything is sent" 1 \
  --err "stdin holds more than 65536 bytes" -- bash -c 'head -c 65537 /dev/zero | tr "\0" b | "$@"' _ "${A[@]}" --to bob send -

# ---- the proof of authorship, and tampering with the stored message ----
"${A[@]}" -q --to bob send "pay bob 10 euros" >/dev/null 2>&1
MT=$(sq "SELECT max(id) FROM messages")
sq "UPDATE messages SET body = 'pay bob 90 euros' WHERE id = $MT"
t_expect "06 messaging: a message whose stored text was edited in the database is flagged, loudly" 1 \
  --out "signature: NOT VERIFIED: the text shown is not the text alice's device signed" --out "WARNING: do not trust" \
  --err "message $MT: the proof does not verify" -- "${B[@]}" read "$MT"
"${A[@]}" -q --to bob send "meet at noon" >/dev/null 2>&1
MS=$(sq "SELECT max(id) FROM messages")
sq "UPDATE receipts SET signature = randomblob(64) WHERE id = (SELECT receipt_id FROM messages WHERE id = $MS)"
t_expect "06 messaging: a message whose stored signature was replaced is flagged, loudly" 1 \
  --out "signature: NOT VERIFIED: the signature does not verify" --out "WARNING" -- "${B[@]}" read "$MS"
"${A[@]}" -q --to bob send "the original words" >/dev/null 2>&1
MP=$(sq "SELECT max(id) FROM messages")
sq "UPDATE receipts SET payload = CAST(replace(CAST(payload AS TEXT), 'original', 'forged!!') AS BLOB) WHERE id = (SELECT receipt_id FROM messages WHERE id = $MP); UPDATE messages SET body = 'the forged!! words' WHERE id = $MP"
t_expect "06 messaging: a forged payload and text together still fail: the signature covers the payload" 1 \
  --out "signature: NOT VERIFIED: the signature does not verify" -- "${B[@]}" read "$MP"
"${A[@]}" -q --to bob send "for bob's eyes only" >/dev/null 2>&1
MR=$(sq "SELECT max(id) FROM messages")
sq "UPDATE messages SET recipient_id = $EVE_ID WHERE id = $MR"
t_expect "06 messaging: a message the database redirected to eve is flagged: alice signed it to bob" 1 \
  --out "signature: NOT VERIFIED: the signed message was written to 'bob', not to you ('eve')" -- "${E[@]}" read "$MR"
sq "UPDATE messages SET recipient_id = $BOB_ID, sender_id = $EVE_ID WHERE id = $MR"
t_expect "06 messaging: a message the database says is eve's, signed by alice's device, is flagged" 1 \
  --out "signature: NOT VERIFIED: the signing certificate is issued to 'alice', not to 'eve'" -- "${B[@]}" read "$MR"
sq "UPDATE messages SET sender_id = $ALICE_ID WHERE id = $MR"
# a forger's own key and a certificate naming alice that the course CA never
# issued: the signature checks with that certificate, the chain does not
"${A[@]}" -q --to bob send "I, alice, owe eve 500 euros" >/dev/null 2>&1
MF=$(sq "SELECT max(id) FROM messages")
t_run python3 - "$DB" "$MF" <<'EOF'
import datetime, importlib.util, sqlite3, sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
spec = importlib.util.spec_from_file_location("h", "tests/helpers/06_hello.py")
h = importlib.util.module_from_spec(spec)
spec.loader.exec_module(h)
db = sqlite3.connect(sys.argv[1], timeout=5)
rid, op, msg_id, created, payload = db.execute(
    "SELECT r.id, r.op, r.msg_id, r.created, r.payload FROM receipts r JOIN messages m ON m.receipt_id = r.id "
    "WHERE m.id = ?", (int(sys.argv[2]),)).fetchone()
key = ed25519.Ed25519PrivateKey.generate()
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2)).sign(key, None))
der = cert.public_bytes(serialization.Encoding.DER)
sig = key.sign(h.tbs_r("localhost", der, op, msg_id, created, payload))
serial = "%x" % cert.serial_number
db.execute("INSERT INTO devices(serial, account_id, cert_pem, x5t, key_alg, not_after, created_at) "
           "SELECT ?, account_id, ?, ?, 'ed25519', not_after, created_at FROM devices LIMIT 1",
           (serial, cert.public_bytes(serialization.Encoding.PEM).decode(), h.sha256(der)))
db.execute("UPDATE receipts SET device_serial = ?, signature = ? WHERE id = ?", (serial, sig, rid))
db.commit()
print("forged", serial)
EOF
t_true "06 messaging: (a forger's certificate for 'alice' and its signature are in the database)" "$T_OUT $T_ERR" \
  test "$T_RC" = 0
t_expect "06 messaging: a proof signed by a key whose certificate is not from the course CA is flagged (a name in a certificate proves nothing by itself)" 1 \
  --out "signature: NOT VERIFIED: the device certificate does not chain to $P/root.crt: unknown issuer" -- "${B[@]}" read "$MF"
t_expect "06 messaging: an untouched message of alice's still verifies" 0 \
  --out "signature: verified (alice's device $ALICE_SERIAL)" -- "${B[@]}" read "$MR"
t_expect "06 messaging: the inbox shows the good messages as verified and the tampered ones with the warning" 1 \
  --out "signature: verified (alice's device" --out "NOT VERIFIED" -- "${B[@]}" --all inbox

# ---- delete ----
t_expect "06 messaging: bob deletes a message of his inbox" 0 --out "message $M1 deleted from your inbox" \
  -- "${B[@]}" delete "$M1"
t_expect "06 messaging: ...then it is not found, as any other id" 1 --err "not found: no message $M1 in your inbox" \
  -- "${B[@]}" read "$M1"
t_expect "06 messaging: ...and not deleted twice" 1 --err "not found: no message $M1 in your inbox" -- "${B[@]}" delete "$M1"
# (exit 1: the tampered messages above are still there, flagged)
t_expect "06 messaging: ...and inbox --all leaves it out" 1 --out "message $M2 from alice" --not "message $M1 from" \
  -- "${B[@]}" -q --all inbox
t_true "06 messaging: ...but its signed receipt stays (the proof of what alice sent)" "$(sq "SELECT receipt_id FROM messages WHERE id=$M1")" \
  test "$(sq "SELECT count(*) FROM receipts WHERE id = (SELECT receipt_id FROM messages WHERE id=$M1)")" = 1

# ---- the rate limit (R4 had none) ----
# On a server of its own with --send-rate 1 (1 a minute, bursts of 20) the
# bucket gains nothing while the test runs, so the counts are exact however
# slow the machine (at the default, 5 a second, a slow burst refills as it
# goes: what reaches the store depends on the speed of the burst).
MAIN=("$SERVER_PID" "$SERVER_PORT" "$SERVER_LOG" "$SERVER_URL")
if start_server 06-server "$BIN/06-server" --port 0 --data "$tmp/rdata" "${SRV[@]}" --send-rate 1; then
  RLOG=$SERVER_LOG
  t_true "06 messaging: --send-rate 1 is said at start" "$(head -n 12 "$RLOG")" \
    grep -q "rate limit: 1 message or item a minute, bursts of 20 per account (--send-rate)" "$RLOG"
  RC=("$BIN/06-client" --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt")
  export H1=$tmp/r-alice H2=$tmp/r-bob W2=$tmp/bob.pw
  RA=("${RC[@]}" --home "$tmp/r-alice" --user alice --password-file "$tmp/alice.pw")
  RB=("${RC[@]}" --home "$tmp/r-bob" --user bob --password-file "$tmp/bob.pw")
  t_expect "06 messaging: alice and bob register and enrol on the rate-limit server" 0 --out "CN=bob" \
    -- bash -c '"$@" -q --home "$H1" register && "$@" -q --home "$H1" enrol && "$@" -q --home "$H2" --user bob \
      --password-file "$W2" register && "$@" -q --home "$H2" --user bob --password-file "$W2" enrol' _ \
    "${RC[@]}" --user alice --password-file "$tmp/alice.pw"
  t_expect "R4 flaw: no rate limiting -> a burst beyond 20 messages is refused with the retry words, and the service still serves" 1 \
    --err "rate limited: 1 message a minute, bursts of 20; retry in " --out " of 40 messages stored" \
    -- "${RA[@]}" -q --count 40 --to bob send "burst"
  stored=$(grep -o '[0-9]* of 40 messages stored' <<<"$T_OUT" | cut -d' ' -f1)
  wait1=$(grep -o 'retry in [0-9]* s' <<<"$T_ERR" | tail -n 1 | cut -d' ' -f3)
  # 21 only if the burst itself took over a minute
  t_true "06 messaging: ...the burst of 20 went through and no more" "stored: $stored" \
    test "${stored:-0}" -ge 20 -a "${stored:-40}" -le 21
  t_true "06 messaging: ...the refusal names the wait: at most the minute one token takes" "retry in: $wait1" \
    test "${wait1:-0}" -ge 1 -a "${wait1:-99}" -le 60
  t_expect "06 messaging: ...bob is served meanwhile (the limit is alice's, not the server's)" 0 --out "poll 1: ok" \
    -- "${RB[@]}" --count 1 poll
  t_expect "06 messaging: a typed item takes from the same bucket: after alice's burst of messages, her item is refused" 1 \
    --err "send: rate limited: 1 item or message a minute, bursts of 20; retry in " -- "${RA[@]}" send-text --to bob "and one more"
  t_true "06 messaging: ...and nothing of it reached bob" "$(sqlite3 -batch -cmd '.timeout 5000' "$tmp/rdata/course06.db" 'SELECT count(*) FROM items')" \
    test "$(sqlite3 -batch -cmd '.timeout 5000' "$tmp/rdata/course06.db" 'SELECT count(*) FROM items')" = 0
  # the bucket refills with time: a refusal 2 s later names a shorter wait
  sleep 2
  t_run "${RA[@]}" -q --to bob send "after the burst"
  wait2=$(grep -o 'retry in [0-9]* s' <<<"$T_ERR" | tail -n 1 | cut -d' ' -f3)
  t_true "06 messaging: ...the bucket refills as time passes: 2 s later the wait is shorter" \
    "exit $T_RC; first retry in ${wait1:-?} s, then ${wait2:-?} s" test "$T_RC" = 1 -a -n "$wait2" -a "${wait2:-99}" -lt "${wait1:-0}"
  stop_server "$SERVER_PID"
  t_true "06 messaging: the rate-limit server stops cleanly on SIGTERM" "exit status $STOPPED_RC; $(tail -n 3 "$RLOG")" \
    test "$STOPPED_RC" = 0
else
  t_fail "06 messaging: a server with --send-rate 1 starts" "$(tail -n 5 "$SERVER_LOG")"
fi
SERVER_PID=${MAIN[0]} SERVER_PORT=${MAIN[1]} SERVER_LOG=${MAIN[2]} SERVER_URL=${MAIN[3]}
t_expect "06 messaging: --send-rate outside 1..60000 is a usage error" 2 \
  --err "--send-rate: '0' is not a whole number from 1 to 60000" -- "$BIN/06-server" --send-rate 0
t_true "06 messaging: 06-server --help says the default rate (5 a second, bursts of 20)" "$("$BIN/06-server" --help | grep -A1 -- --send-rate)" \
  bash -c '"$1" --help | grep -A1 -- "--send-rate N" | grep -q "(default 300: 5 a second)"' _ "$BIN/06-server"

# ---- the menu, through tmux ----
if command -v tmux >/dev/null; then
  SOCK=c06msg$$
  trap 'tmux -L "$SOCK" kill-server 2>/dev/null; course_cleanup' EXIT
  menu_cmd() { printf '%q ' "$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/$1" menu; }
  tmux -L "$SOCK" new-session -d -x 120 -y 40 -s alice "bash --norc --noprofile"
  tmux -L "$SOCK" set-option -g history-limit 5000 >/dev/null
  tmux -L "$SOCK" new-window -d -t alice -n bob "bash --norc --noprofile"
  # wait (bounded) until the pane's text holds $2 at least $3 times
  wait_pane() {
    local i n
    for ((i = 0; i < $(course_limit 200); i++)); do
      n=$(tmux -L "$SOCK" capture-pane -p -J -S -2000 -t "$1" 2>/dev/null | grep -cF -- "$2")
      [[ "$n" -ge "${3:-1}" ]] && return 0
      sleep 0.1
    done
    return 1
  }
  keys() { tmux -L "$SOCK" send-keys -t "$1" -l -- "$2"; tmux -L "$SOCK" send-keys -t "$1" Enter; }
  AP=alice:0 BP=alice:bob
  keys "$AP" "$(menu_cmd alice)"
  t_true "06 messaging: menu: alice logs in with her device (HELLO) and sees the menu" \
    "$(tmux -L "$SOCK" capture-pane -p -t "$AP")" wait_pane "$AP" "choice> "
  t_true "06 messaging: menu: the login shows alice's counters (R4's LOGIN)" \
    "$(tmux -L "$SOCK" capture-pane -p -t "$AP")" wait_pane "$AP" "logged in as alice (device $ALICE_SERIAL)"
  keys "$AP" 1; wait_pane "$AP" "to> "; keys "$AP" bob; wait_pane "$AP" "text> "
  keys "$AP" "hello bob, from the menu"
  t_true "06 messaging: menu: compose to bob is stored" "$(tmux -L "$SOCK" capture-pane -p -t "$AP")" \
    wait_pane "$AP" "message stored: id"
  keys "$BP" "$(menu_cmd bob)"
  wait_pane "$BP" "choice> "
  t_true "06 messaging: menu: bob's notifications at login count an unread message" \
    "$(tmux -L "$SOCK" capture-pane -p -t "$BP")" wait_pane "$BP" "notifications: "
  keys "$BP" 2
  t_true "06 messaging: menu: bob reads unread: alice's message" \
    "$(tmux -L "$SOCK" capture-pane -p -S -100 -t "$BP")" wait_pane "$BP" "hello bob, from the menu"
  t_true "06 messaging: menu: ...its signature verified against alice's device" \
    "$(tmux -L "$SOCK" capture-pane -p -S -100 -t "$BP")" wait_pane "$BP" "signature: verified (alice's device $ALICE_SERIAL)"
  keys "$BP" 6
  t_true "06 messaging: menu: bob exits (CLOSE)" "$(tmux -L "$SOCK" capture-pane -p -t "$BP")" wait_pane "$BP" "bye"
  # the server ends alice's session under her (06-admin disable ends an
  # account's sessions); her next choice notices and logs in again
  t_run "${ADM[@]}" disable alice
  t_run "${ADM[@]}" enable alice
  keys "$AP" 5
  t_true "06 messaging: menu: a session the server ended is noticed, and the menu logs in again (a new HELLO)" \
    "$(tmux -L "$SOCK" capture-pane -p -S -100 -t "$AP")" wait_pane "$AP" "logged in again; choose again"
  keys "$AP" 4
  t_true "06 messaging: menu: alice's receipts say bob read it, on his device" \
    "$(tmux -L "$SOCK" capture-pane -p -S -100 -t "$AP")" wait_pane "$AP" "you sent to bob was read at"
  keys "$AP" 5
  t_true "06 messaging: menu: notifications show the counters from a poll" \
    "$(tmux -L "$SOCK" capture-pane -p -t "$AP")" wait_pane "$AP" "notifications: " 3
  keys "$AP" 6
  t_true "06 messaging: menu: exit ends the session with a CLOSE" "$(tmux -L "$SOCK" capture-pane -p -t "$AP")" \
    wait_pane "$AP" "bye"
  tmux -L "$SOCK" capture-pane -p -J -S -2000 -t "$AP" >"$tmp/menu-alice.txt"
  tmux -L "$SOCK" capture-pane -p -J -S -2000 -t "$BP" >"$tmp/menu-bob.txt"
  [[ -n "${MSG_MENU_TRANSCRIPT:-}" ]] && cp "$tmp/menu-alice.txt" "$MSG_MENU_TRANSCRIPT.alice" && cp "$tmp/menu-bob.txt" "$MSG_MENU_TRANSCRIPT.bob"
  t_true "06 messaging: menu: the server saw both menus CLOSE" "$(grep 'CLOSE from' "$LOG" | tail -n 3)" \
    test "$(grep -c "menu: exit" "$LOG")" -ge 2
  tmux -L "$SOCK" kill-server 2>/dev/null
  trap course_cleanup EXIT
else
  t_skip "06 messaging: menu through tmux" "tmux is not installed"
fi
t_expect "06 messaging: menu, scripted (no tty): end of input is exit, with a CLOSE" 0 \
  --out "notifications: " --out "(end of input: exit)" --out "bye" \
  -- bash -c 'printf "5\n" | "$@" menu' _ "${B[@]}"
t_true "06 messaging: ...the server saw that CLOSE" "$(grep 'CLOSE from' "$LOG" | tail -n 2)" \
  grep -q "CLOSE from 'bob': menu: end of input" "$LOG"

# ---- R4's start scripts, as thin wrappers ----
t_expect "06 messaging: start-server.sh without a port says how to call it (R4's shape: start-server.sh PORT)" 2 \
  --err "usage: " -- 06_full_protocol/start-server.sh
t_expect "06 messaging: start-client.sh without a port says how to call it (start-client.sh HOST PORT)" 2 \
  --err "usage: " -- 06_full_protocol/start-client.sh localhost
if [[ -x build/bin/06-client ]]; then
  t_expect "06 messaging: start-client.sh HOST PORT runs the menu with the enrolled device" 0 \
    --out "logged in as bob (device $BOB_SERIAL)" --out "bye" \
    -- bash -c 'printf "5\n6\n" | 06_full_protocol/start-client.sh localhost "$1" --home "$2" --cacert "$3"' _ \
    "$SERVER_PORT" "$tmp/bob" "$P/root.crt"
  t_expect "06 messaging: start-client.sh with no device yet registers and enrols one (R4's CREATE_ACCOUNT), then the menu" 0 \
    --out "no device is enrolled in $tmp/carol yet" --out "account 'carol' registered" --out "logged in as carol" --out "bye" \
    -- env COURSE06_PASSWORD='a long password for carol' bash -c 'printf "carol\ny\n6\n" | 06_full_protocol/start-client.sh localhost "$1" --home "$2" --cacert "$3"' _ \
    "$SERVER_PORT" "$tmp/carol" "$P/root.crt"
else
  t_skip "06 messaging: start-client.sh runs the menu" "build/bin/06-client is not built"
fi

stop_server "$SERVER_PID"
t_true "06 messaging: the server stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$LOG")" test "$STOPPED_RC" = 0
