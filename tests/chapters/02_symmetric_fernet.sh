#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 02 end to end: the fernet tool, toy-cipher, and the real 02-server /
# 02-client pair on a free port. Backs the claims of 02_symmetric_fernet/README.md
# (the capture claims are in tests/capture/02_symmetric_fernet.sh).
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
V=$COURSE_ROOT/tests/vectors/fernet
PY=/usr/bin/python3
unset SECRET_KEY

# ---- the fernet tool ------------------------------------------------------------
t_expect "02 fernet: genkey --out writes a key" 0 --err "wrote a new Fernet key to $tmp/k" \
  -- "$BIN/fernet" genkey --out "$tmp/k"
t_true "02 fernet: the key file is mode 0600" "mode $(stat -c %a "$tmp/k")" test "$(stat -c %a "$tmp/k")" = 600
t_true "02 fernet: the key is 44 base64url characters" "got $(cat "$tmp/k")" \
  grep -qE '^[A-Za-z0-9_-]{43}=$' "$tmp/k"
t_expect "02 fernet: genkey refuses to overwrite a key" 1 --err "File exists" --err "hint:" \
  -- "$BIN/fernet" genkey --out "$tmp/k"
"$BIN/fernet" genkey --out "$tmp/other" 2>/dev/null
K=$(cat "$tmp/k")

# the spec's generate.json vector through the command line
SPEC_KEY=cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=
SPEC_TOKEN=gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==
t_run env SECRET_KEY=$SPEC_KEY bash -c "printf hello | '$BIN/fernet' encrypt --at 499162800 --iv 000102030405060708090a0b0c0d0e0f"
t_true "02 fernet: encrypt --at --iv gives the spec's token" "got $T_OUT" test "$T_OUT" = "$SPEC_TOKEN"
t_run env SECRET_KEY=$SPEC_KEY bash -c "echo $SPEC_TOKEN | '$BIN/fernet' decrypt --ttl 60 --at 499162801"
t_true "02 fernet: decrypt gives the spec's message" "got $T_OUT (rc $T_RC)" test "$T_OUT" = hello
t_run bash -c "echo $SPEC_TOKEN | '$BIN/fernet' inspect"
t_true "02 fernet: inspect shows the layout without a key" "got: $T_OUT" \
  grep -q 'timestamp  499162800 = 1985-10-26 08:20:00 UTC' <<<"$T_OUT"
t_true "02 fernet: inspect shows the IV" "got: $T_OUT" grep -q 'IV         000102030405060708090a0b0c0d0e0f' <<<"$T_OUT"

# each of the spec's 8 invalid tokens, refused by the tool with its own reason
if "$PY" -c 1 2>/dev/null; then
  declare -A WHY=(["incorrect mac"]="MAC mismatch" ["too short"]="token too short"
    ["invalid base64"]="not base64url" ["payload size not multiple of block size"]="bad length"
    ["payload padding error"]="bad padding" ["far-future TS (unacceptable clock skew)"]="token from the future"
    ["expired TTL"]="token expired" ["incorrect IV (causes padding error)"]="bad padding")
  n=0
  while IFS=$'\t' read -r desc token at ttl; do
    n=$((n + 1))
    t_run env SECRET_KEY=$SPEC_KEY bash -c "echo '$token' | '$BIN/fernet' decrypt --ttl $ttl --at $at"
    if [[ $T_RC == 1 && "$T_ERR" == *"fernet: error: decrypt: ${WHY[$desc]}"* ]]; then
      t_pass "02 fernet: invalid.json '$desc' refused: ${WHY[$desc]}"
    else
      t_fail "02 fernet: invalid.json '$desc' refused: ${WHY[$desc]}" "rc $T_RC, stderr: $T_ERR"
    fi
  done < <("$PY" -c '
import json, sys, datetime
for v in json.load(open(sys.argv[1])):
    at = int(datetime.datetime.fromisoformat(v["now"]).timestamp())
    print(v["desc"], v["token"], at, v["ttl_sec"], sep="\t")' "$V/invalid.json")
  t_true "02 fernet: all 8 invalid tokens were tried" "only $n" test "$n" = 8
else
  t_fail "02 fernet: invalid tokens" "/usr/bin/python3 is missing (it reads the JSON)"
fi

"$BIN/fernet" genkey --out "$tmp/new" 2>/dev/null
printf 'rotate me' | "$BIN/fernet" encrypt --key-file "$tmp/k" --at 1234567890 >"$tmp/tok1"
"$BIN/fernet" rotate --key-file "$tmp/new" --key-file "$tmp/k" <"$tmp/tok1" >"$tmp/tok2"
t_expect "02 fernet: rotate: the new key alone opens the rotated token" 0 --out "rotate me" \
  -- bash -c "'$BIN/fernet' decrypt --key-file '$tmp/new' --at 1234567890 < '$tmp/tok2'"
t_expect "02 fernet: rotate keeps the original timestamp" 0 --out "timestamp  1234567890 = 2009-02-13 23:31:30 UTC" \
  -- bash -c "'$BIN/fernet' inspect < '$tmp/tok2'"
t_expect "02 fernet: a wrong key is a MAC mismatch (exit 1)" 1 --err "fernet: error: decrypt: MAC mismatch" \
  -- bash -c "printf hi | '$BIN/fernet' encrypt --key-file '$tmp/k' | '$BIN/fernet' decrypt --key-file '$tmp/other'"
t_expect "02 fernet: no key is explained" 1 --err "fernet: error: key: no key: give --key-file FILE or set SECRET_KEY" \
  --err "hint: make a key with" -- bash -c "echo x | '$BIN/fernet' encrypt"
t_expect "02 fernet: a bad SECRET_KEY is explained" 1 --err "SECRET_KEY is not a Fernet key" \
  -- bash -c "echo x | SECRET_KEY=not-a-key '$BIN/fernet' encrypt"
chmod 644 "$tmp/other"
t_expect "02 fernet: a key file others can read gets a warning" 0 --err "can be read by other users" \
  -- bash -c "echo x | '$BIN/fernet' encrypt --key-file '$tmp/other'"
chmod 600 "$tmp/other"
t_expect "02 fernet: --iv must be 16 bytes (usage, 2)" 2 --err "--iv" \
  -- bash -c "echo x | SECRET_KEY=$K '$BIN/fernet' encrypt --iv 00"
t_expect "02 fernet: unknown command (usage, 2)" 2 --err "unknown command" -- "$BIN/fernet" bogus

# ---- toy-cipher ------------------------------------------------------------------
t_expect "02 toy: shift 3 encrypts" 0 --out "ioxiib wdlo" -- "$BIN/toy-cipher" encrypt --shift 3 "fluffy tail"
t_expect "02 toy: and decrypts" 0 --out "fluffy tail" -- "$BIN/toy-cipher" decrypt --shift 3 "ioxiib wdlo"
TEXT="It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness."
t_expect "02 toy: crack finds the shift with no key" 0 --out "shift 11: $TEXT" \
  -- bash -c "'$BIN/toy-cipher' encrypt --shift 11 '$TEXT' | '$BIN/toy-cipher' crack"
t_expect "02 toy: on two words crack warns that its guess may be wrong" 0 --err "few letters: the guess may be wrong" \
  -- "$BIN/toy-cipher" crack "ioxiib wdlo"
t_expect "02 toy: encrypt needs --shift (usage, 2)" 2 --err "needs --shift" -- "$BIN/toy-cipher" encrypt x

# ---- the pair --------------------------------------------------------------------
if ! start_server 02-server "$BIN/02-server" --key-file "$tmp/k" --port 0; then
  t_fail "02: server starts on a free port" "no 'listening on' line"
  exit 0
fi
t_pass "02: server starts on a free port with --key-file"
URL=$SERVER_URL
t_expect "02: right key (--key-file): the client prints the secret" 0 \
  --out "The secret message is: fluffy tail" -- "$BIN/02-client" --key-file "$tmp/k" --url "$URL"
t_expect "02: right key (SECRET_KEY): the client prints the secret" 0 \
  --out "The secret message is: fluffy tail" -- env SECRET_KEY="$K" "$BIN/02-client" --url "$URL"
t_expect "02: wrong key: one error naming the MAC failure, a hint, exit 1" 1 \
  --err "02-client: error: decrypt the secret: MAC mismatch: the token was not made with our key, or was changed on the way" \
  --err "hint: the client and the server must share one key" --not "The secret message is" \
  -- "$BIN/02-client" --key-file "$tmp/other" --url "$URL"
t_expect "02: no key: the client says where a key comes from" 1 \
  --err "02-client: error: key: no key: give --key-file FILE or set SECRET_KEY" -- "$BIN/02-client" --url "$URL"
t_expect "02: the body on the wire is a token, not the secret" 0 --out "[client] <- gAAAAA" \
  --not "<- fluffy tail" -- "$BIN/02-client" --key-file "$tmp/k" --url "$URL"
a=$(curl -s "$URL/") b=$(curl -s "$URL/")
t_true "02: the same secret gives a new token each time (random IV)" "$a = $b" test "$a" != "$b"
t_run bash -c "curl -s '$URL/' | '$BIN/fernet' decrypt --key-file '$tmp/k' --ttl 60"
t_true "02: the server's token opens with the fernet tool" "got $T_OUT" test "$T_OUT" = "fluffy tail"
t_run bash -c "curl -s '$URL/' | SECRET_KEY=$K $PY -c 'import os,sys; from cryptography.fernet import Fernet; print(Fernet(os.environ[\"SECRET_KEY\"]).decrypt(sys.stdin.read().strip().encode(), ttl=60).decode())'"
t_true "02: the server's token opens in Python's Fernet" "got $T_OUT / $T_ERR" test "$T_OUT" = "fluffy tail"

t_expect "02: --send: token in, token out" 0 --out "the server read 14 bytes: pay Bob 10 EUR" \
  --out "[client] -> gAAAAA" --not "[client] -> pay Bob" \
  -- "$BIN/02-client" --key-file "$tmp/k" --url "$URL" --send "pay Bob 10 EUR"
t_true "02: the server logged what it decrypted" "log lacks it" \
  grep -q 'decrypted a 14-byte message: pay Bob 10 EUR' "$SERVER_LOG"
t_expect "02: a token made with another key is a 400, the same for every reason" 1 \
  --err 'the server answered 400: {"error":"invalid token","status":400}' \
  -- "$BIN/02-client" --key-file "$tmp/other" --url "$URL" --send "forged"
t_true "02: the server's log names the reason" "log lacks it" grep -q 'refused a token: MAC mismatch' "$SERVER_LOG"

# what an active attacker can still do: replay a recorded token within the TTL
printf 'pay Mallory 100 EUR' | "$BIN/fernet" encrypt --key-file "$tmp/k" >"$tmp/recorded"
r1=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$tmp/recorded" "$URL/message")
r2=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$tmp/recorded" "$URL/message")
t_true "02: replay: the same recorded token is accepted twice within the TTL" "got $r1 then $r2" \
  test "$r1 $r2" = "200 200"
t_true "02: replay: the server decrypted it twice" "count $(grep -c 'pay Mallory' "$SERVER_LOG")" \
  test "$(grep -c 'decrypted a 19-byte message: pay Mallory 100 EUR' "$SERVER_LOG")" = 2
printf 'pay Mallory 100 EUR' | "$BIN/fernet" encrypt --key-file "$tmp/k" --at $(($(date +%s) - 120)) >"$tmp/old"
r3=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$tmp/old" "$URL/message")
t_true "02: a token older than the TTL (60 s) is refused" "got $r3" test "$r3" = 400
t_true "02: ... and the log says it expired" "log lacks it" grep -q 'refused a token: token expired' "$SERVER_LOG"
tok=$(cat "$tmp/recorded")
c=${tok:50:1}
[[ $c == A ]] && c=B || c=A
printf '%s' "${tok:0:50}$c${tok:51}" >"$tmp/flipped" # one character changed, never the same
r4=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$tmp/flipped" "$URL/message")
t_true "02: a token with one character changed is refused" "got $r4" test "$r4" = 400

t_run curl -s -d 'user=alice&password=wonderland' "$URL/login"
t_true "02: /login is unchanged from chapter 01 (still in the clear)" "got: $T_OUT" grep -q 'welcome, alice' <<<"$T_OUT"

stop_server "$SERVER_PID"
t_true "02: SIGTERM stops the server with status 0" "status $STOPPED_RC" test "$STOPPED_RC" = 0

t_expect "02: the server will not start without a key" 1 \
  --err "02-server: error: key: no key: give --key-file FILE or set SECRET_KEY" -- "$BIN/02-server" --port 0
t_expect "02: --help explains the server" 0 --out "usage: 02-server" -- "$BIN/02-server" --help
t_expect "02: the server's --help lists its own options, then the shared ones with port 8002" 0 \
  --out "--key-file F" --out "--ttl SECONDS" --out "--threads N" --out "(default 8002;" -- "$BIN/02-server" --help
t_expect "02: the client's --help shows its default URL and what its exit statuses mean" 0 \
  --out "usage: 02-client" --out "--send-file F" --out "(default http://127.0.0.1:8002)" \
  --out "refused (wrong key, changed on the way, too old)" -- "$BIN/02-client" --help
t_expect "02: --threads is a shared server option (0 is a usage error)" 2 --err "--threads: '0'" \
  -- "$BIN/02-server" --threads 0
t_expect "02: -t is --ttl (--threads has no short form)" 2 --err "--ttl: '0'" -- "$BIN/02-server" -t 0
t_expect "02: --send and --send-file exclude each other" 2 --err "exclude each other" \
  -- "$BIN/02-client" --send a --send-file b
t_expect "02: make diff-02 shows what chapter 02 adds" 0 --out '+#include "fernet/fernet.h"' \
  --out "+static int post_message" -- make -s -C "$COURSE_ROOT" diff-02

# the README's replay recipe, as a student pastes it: a short TTL, the token
# taken from what the client put on the wire, replayed, then refused once old
if start_server 02-server "$BIN/02-server" --key-file "$tmp/k" --port 0 --ttl 3; then
  t_run "$BIN/02-client" --key-file "$tmp/k" --url "$SERVER_URL" --send 'pay Bob 10 EUR'
  TOKEN=$(sed -n 's/^\[client\] -> \(gAAAAA\)/\1/p' <<<"$T_OUT")
  t_true "02 replay recipe: the client's '[client] -> gAAAAA' line is the token it sent" "got '$TOKEN'" \
    grep -qE '^gAAAAA[A-Za-z0-9_=-]+$' <<<"$TOKEN"
  codes=$(for _ in 1 2; do curl -s -o /dev/null -w '%{http_code} ' --data-binary "$TOKEN" "$SERVER_URL/message"; done)
  sleep 4.5
  codes+=$(curl -s -o /dev/null -w '%{http_code}' --data-binary "$TOKEN" "$SERVER_URL/message")
  t_true "02 replay recipe: replayed twice within --ttl 3, then refused (200 200 400)" "got $codes" \
    test "$codes" = "200 200 400"
  t_true "02 replay recipe: the log shows three payments, then the expiry" "log: $(grep -v '[<>]' "$SERVER_LOG")" \
    test "$(grep -v '^\[server\] [<-]' "$SERVER_LOG" | grep -c 'decrypted a 14-byte message: pay Bob 10 EUR')" = 3 -a \
    "$(grep -c 'refused a token: token expired (older than the TTL)' "$SERVER_LOG")" = 1
  stop_server "$SERVER_PID"
else
  t_fail "02 replay recipe: the server starts with --ttl 3" "no 'listening on' line"
fi
