#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 03 end to end: the dh tool's known answers and refusals, the real
# 03-server/03-client pair in every group, bad offers refused by the server,
# and 03-mitm reading and changing the traffic without either side noticing.
# The capture claims are in tests/capture/03_diffie_hellman.sh, the OpenSSL
# interop in tests/interop/03_diffie_hellman.sh.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
DH=$BIN/dh

# ---- the dh tool --------------------------------------------------------------
t_expect "03: dh toy with the textbook numbers" 0 --out "A = 8, B = 19, shared = 2" \
  --out "Alice computes B^a mod p = 19^6 mod 23 = 2" -- "$DH" toy --a 6 --b 15
t_expect "03: dh toy --crack recovers the private exponent" 0 --out "cracked: x = 6" \
  --out "so Eve computes the shared secret herself: 19^6 mod 23 = 2" -- "$DH" toy --a 6 --b 15 --crack
t_expect "03: dh toy --crack on a 32-bit prime" 0 --out "cracked: x = 123456789" \
  -- "$DH" toy --p 4294967291 --g 2 --a 123456789 --b 5 --crack
# the wire and the capture carry toy values in hex ({"public":"13"}): 0x13 is
# read as 19, so the number a learner copies from the capture is the one cracked
t_expect "03: dh toy --crack --public reads wire hex with 0x (0x13 = 19)" 0 \
  --out "the public value 19 on the wire" --out "cracked: x = 15" -- "$DH" toy --crack --public 0x13
t_expect "03: dh toy --crack --public: a bare number stays decimal" 0 --out "cracked: x = 14" \
  -- "$DH" toy --crack --public 13
t_expect "03: dh toy --crack --other: Eve prints the shared secret as the exchange's hex byte" 0 \
  --out "so Eve computes the shared secret herself: 8^15 mod 23 = 2" --out "shared: 02" \
  -- "$DH" toy --crack --public 0x13 --other 0x08
t_expect "03: dh toy refuses a hex value with a bad digit" 2 --err "--public: '0x1g' is not a number" \
  -- "$DH" toy --crack --public 0x1g
t_expect "03: dh toy --other needs --crack --public" 2 --err "--other goes with --crack --public" \
  -- "$DH" toy --other 3
# Alice alone, with a value given by hand in place of Bob's (the exercise 03-1
# spot: what it does with values outside the group is that exercise's checker)
t_expect "03: dh toy --a --peer: Alice's side with Bob's value given by hand" 0 \
  --out "Alice computes B^a mod p = 19^6 mod 23 = 2" --out "shared: 02" -- "$DH" toy --a 6 --peer 0x13
t_expect "03: dh toy --peer needs --a and no --b" 2 --err "--peer goes with --a alone" \
  -- "$DH" toy --a 6 --b 15 --peer 19
t_expect "03: dh toy refuses a modulus that is not prime" 2 --err "--p: 24 is not prime" \
  -- "$DH" toy --p 24
t_expect "03: dh x25519 random mode agrees" 0 --out "both got the same 32-byte secret" -- "$DH" x25519
t_expect "03: dh p256 random mode agrees" 0 --out "both got the same 32-byte secret" -- "$DH" p256
t_expect "03: dh ffdhe random mode agrees" 0 --out "both got the same 256-byte secret" -- "$DH" ffdhe
t_expect "03: dh ffdhe --group modp2048 agrees" 0 --out "both got the same 256-byte secret" \
  -- "$DH" ffdhe --group modp2048
# RFC 7748 section 6.1, both directions
A_PRIV=77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a
B_PUB=de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f
K=4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742
t_expect "03: dh x25519 known answer (RFC 7748 6.1)" 0 \
  --out "public: 8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" \
  --out "shared: $K" -- "$DH" x25519 --private "$A_PRIV" --peer "$B_PUB"
# Wycheproof ecdh_secp256r1_ecpoint tcId 1
t_expect "03: dh p256 known answer (Wycheproof tcId 1)" 0 \
  --out "shared: 53020d908b0219328b658b525f26780e3ae12bcd952bb25a93bc0895e1714285" \
  -- "$DH" p256 --private 0612465c89a023ab17855b0a6bcebfd3febb53aef84138647b5352e02c10c346 \
  --peer 0462d5bd3372af75fe85a040715d0f502428e07046868b0bfdfa61d731afe44f26ac333a93a9e70a81cd5a95b5bf8d13990eb741c8c38872b4a07d275a014e30cf
t_expect "03: dh hkdf (RFC 5869 A.1)" 0 \
  --out "okm: 3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865" \
  -- "$DH" hkdf --ikm 0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b --salt 000102030405060708090a0b0c \
  --info f0f1f2f3f4f5f6f7f8f9 --len 42
t_expect "03: dh hkdf refuses more than 8160 bytes" 2 --err "--len" -- "$DH" hkdf --ikm 00 --len 8161
# the three refusals the lesson is about
ONE=$(printf '%0511d1' 0)
t_expect "03: ffdhe refuses the peer value 1" 1 --err "outside 2..p-2" --err "hint:" \
  -- "$DH" ffdhe --peer "$ONE"
t_expect "03: x25519 refuses a low-order point (all-zero secret)" 1 --err "all zero" \
  -- "$DH" x25519 --peer "$(printf '%064d' 0)"
OFF=0462d5bd3372af75fe85a040715d0f502428e07046868b0bfdfa61d731afe44f26ac333a93a9e70a81cd5a95b5bf8d13990eb741c8c38872b4a07d275a014e30ce
t_expect "03: p256 refuses a point off the curve" 1 --err "not on the P-256 curve" \
  -- "$DH" p256 --peer "$OFF"
t_expect "03: dh with no subcommand is a usage error" 2 --err "no subcommand" -- "$DH"
t_expect "03: dh --help" 0 --out "usage: dh toy" -- "$DH" --help

# ---- the pair, every group ------------------------------------------------------
if ! start_server 03-server "$BIN/03-server" --port 0; then
  t_fail "03: server starts on a free port" "no 'listening on' line"
  exit 0
fi
t_pass "03: server starts on a free port and prints 'listening on URL'"
URL=$SERVER_URL
SLOG=$SERVER_LOG
for g in x25519 p256 ffdhe2048 modp2048 toy; do
  t_expect "03: pair agrees a key and reads the secret ($g)" 0 \
    --out "The secret message is: fluffy tail" --out "our group:        $g (on the wire)" \
    -- "$BIN/03-client" --url "$URL" --group "$g"
  t_expect "03: pair sends a message under the agreed key ($g)" 0 \
    --out "the server read 12 bytes: meet at noon" -- "$BIN/03-client" -q --url "$URL" --group "$g" \
    --send "meet at noon"
done
t_expect "03: narration shows what goes on the wire, not the key" 0 \
  --out "our public value:" --out "the server's public value:" --out "our nonce:" \
  --out "our private value: stays in this process, never sent" \
  --not "session key (--verbose only" -- "$BIN/03-client" --url "$URL"
t_expect "03: --verbose also prints the session key" 0 --out "session key (--verbose only; never on the wire): " \
  -- "$BIN/03-client" --verbose --url "$URL"
t_expect "03: the toy group shows its numbers" 0 --out "= 5^private mod 23 (on the wire)" \
  --out "(toy group, printed to teach; never sent)" -- "$BIN/03-client" --url "$URL" --group toy
t_true "03: the server warns about the toy group" "log lacks the note" \
  grep -q "a client chose the toy group" "$SLOG"
# ... and it is right: Eve rebuilds the session key from the wire alone: the
# hex values in the JSON the client sent and received, as a capture shows them
t_run "$BIN/03-client" --verbose --url "$URL" --group toy
toy_out=$T_OUT
A=$(sed -n 's/.*\] -> {"group":"toy","public":"\([0-9a-f]*\)".*/\1/p' <<<"$toy_out")
B=$(sed -n 's/.*\] <- {"group":"toy","public":"\([0-9a-f]*\)".*/\1/p' <<<"$toy_out")
NC=$(sed -n 's/.*\] *our nonce: *\([0-9a-f]*\) .*/\1/p' <<<"$toy_out")
NS=$(sed -n "s/.*the server's nonce: *\([0-9a-f]*\) .*/\1/p" <<<"$toy_out")
KEY=$(sed -n 's/.*session key (--verbose only; never on the wire): \([0-9a-f]*\).*/\1/p' <<<"$toy_out")
S=$("$DH" toy -q --crack --public "0x$A" --other "0x$B" | sed -n 's/^shared: //p')
INFO_HEX=$(printf '%s' "HTTPS from the ground up, chapter 03: Fernet key" | od -An -v -tx1 | tr -d ' \n')
EVE=$("$DH" hkdf -q --ikm "$S" --salt "$NC$NS" --info "$INFO_HEX" --len 32 | sed -n 's/^okm: //p')
t_true "03: toy group: an eavesdropper rebuilds the session key from the wire's hex values" \
  "A=$A B=$B s=$S eve=$EVE key=$KEY" test -n "$KEY" -a -n "$A" -a "$EVE" = "$KEY"
t_expect "03: unknown group is a usage error" 2 --err "--group: 'x448'" -- "$BIN/03-client" --group x448
t_expect "03: the client's --help: --group, port 8003, and what --verbose adds" 0 \
  --out "--group G" --out "(default http://127.0.0.1:8003)" --out "session key is printed" \
  -- "$BIN/03-client" --help
t_expect "03: the server's --help shows port 8003 and the shared --threads" 0 \
  --out "usage: 03-server" --out "(default 8003;" --out "--threads N" -- "$BIN/03-server" --help

# ---- the server refuses bad offers and unknown sessions ----------------------------
# kex_refused NAME REASON JSON: POST the offer; pass on a 400 whose error names REASON
kex_refused() {
  t_run curl -s -w ' %{http_code}' -H 'Content-Type: application/json' "$URL/kex" -d "$3"
  local flat=${T_OUT//$'\n'/}
  t_true "$1" "got: $flat" grep -q "$2.* 400\$" <<<"$flat"
}
NONCE=$(printf '%064d' 7)
kex_refused "03: server refuses a low-order X25519 value (400)" 'all zero' \
  "{\"group\":\"x25519\",\"public\":\"$(printf '%064d' 0)\",\"nonce\":\"$NONCE\"}"
kex_refused "03: server refuses the finite-field value 1 (400)" 'outside 2..p-2' \
  "{\"group\":\"ffdhe2048\",\"public\":\"$ONE\",\"nonce\":\"$NONCE\"}"
kex_refused "03: server refuses a P-256 point off the curve (400)" 'not on the P-256 curve' \
  "{\"group\":\"p256\",\"public\":\"$OFF\",\"nonce\":\"$NONCE\"}"
kex_refused "03: server refuses the toy value p-1 = 22 (400)" 'outside 2..p-2' \
  "{\"group\":\"toy\",\"public\":\"16\",\"nonce\":\"$NONCE\"}"
kex_refused "03: server refuses a short nonce (400)" 'must be 32 bytes' \
  "{\"group\":\"x25519\",\"public\":\"$B_PUB\",\"nonce\":\"00\"}"
kex_refused "03: server refuses an unknown group (400)" 'unknown group' \
  '{"group":"rsa","public":"00","nonce":"00"}'
t_run curl -s -o /dev/null -w '%{http_code}' "$URL/"
t_true "03: GET / without a session is a 401" "got $T_OUT" test "$T_OUT" = 401
t_run curl -s -o /dev/null -w '%{http_code}' -H 'X-Session: AAAAAAAAAAAAAAAAAAAAAA' "$URL/"
t_true "03: GET / with an unknown session is a 401" "got $T_OUT" test "$T_OUT" = 401
t_expect "03: server survives bad offers" 0 --out "fluffy tail" -- "$BIN/03-client" -q --url "$URL"

# ---- the man in the middle ---------------------------------------------------------
if ! start_server 03-mitm "$BIN/03-mitm" --port 0 --upstream "$URL"; then
  t_fail "03: mitm starts" "no 'listening on' line"
  exit 0
fi
MURL=$SERVER_URL
MLOG=$SERVER_LOG
MPID=$SERVER_PID
t_pass "03: mitm starts and prints its own 'listening on URL'"
t_expect "03: through the mitm the client still gets the secret, and no error" 0 \
  --out "The secret message is: fluffy tail" --not "error" -- "$BIN/03-client" --verbose --url "$MURL"
client_key=$(sed -n 's/.*session key (--verbose only; never on the wire): \([0-9a-f]*\).*/\1/p' <<<"$T_OUT")
t_true "03: the mitm read the secret in transit" "mitm log lacks it" \
  grep -q 'STOLEN: the secret in transit is "fluffy tail"' "$MLOG"
t_true "03: the mitm holds the client's session key" "client key $client_key not in the mitm log" \
  grep -q "key shared with the client (it believes: with the server): $client_key" "$MLOG"
t_true "03: the key the server holds is a different one" "same key both sides" \
  bash -c "grep -q 'key shared with the server' '$MLOG' && ! grep 'key shared with the server' '$MLOG' | grep -q '$client_key'"
t_expect "03: through the mitm the client sees its own message echoed" 0 \
  --out "the server read 12 bytes: meet at noon" --not "error" \
  -- "$BIN/03-client" -q --url "$MURL" --send "meet at noon"
t_true "03: the server received the mitm's message instead" "server log lacks it" \
  grep -q "decrypted a 25-byte message: send the money to mallory" "$SLOG"
t_true "03: the server noticed nothing (no refused token)" "server refused a token" \
  bash -c "! grep -q 'refused a token' '$SLOG'"
t_true "03: the mitm narrates the rewrite" "mitm log lacks it" \
  grep -q 'CHANGED: the server will receive "send the money to mallory"' "$MLOG"
t_expect "03: the forged reply echoes whatever the client sent" 0 --out "the server read 5 bytes: hello" \
  -- "$BIN/03-client" -q --url "$MURL" --send hello
t_expect "03: mitm needs --upstream" 2 --err "--upstream URL is required" -- "$BIN/03-mitm" --port 0
t_expect "03: the mitm's --help: its own options, and port 8013 beside the server's" 0 \
  --out "--upstream URL" --out "--rewrite TEXT" --out "(default 8013;" -- "$BIN/03-mitm" --help
t_expect "03: an empty --rewrite is a usage error" 2 --err "--rewrite: 1 to 200 characters" \
  -- "$BIN/03-mitm" --upstream "$URL" --rewrite ""

stop_server "$MPID"
t_true "03: SIGTERM stops the mitm with status 0" "status $STOPPED_RC" test "$STOPPED_RC" = 0
stop_servers
t_expect "03: a client with no server fails with a hint" 1 --err "03-client: error: POST /kex: " \
  --err "hint:" -- "$BIN/03-client" --url "$URL"
