#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-02-3: exercise 02-3, `fernet inspect --key-file F` checks a token's
# HMAC itself (02_symmetric_fernet/README.md, "Exercises in C"). Builds the tool
# and inspects good, changed and spec tokens with and without a key; prints one
# verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 02-3

for k in a b; do
  "$BIN/fernet" genkey --out "$tmp/$k" 2>/dev/null || fail "fernet genkey did not make a key"
done
OKLINE='HMAC       checked with the key: it matches (made with this key, unchanged)'
BADLINE='HMAC       checked with the key: MISMATCH (another key, or changed on the way)'
KEYLESS='(a key is needed to check the HMAC and read the message: fernet decrypt)'

# insp TOKEN [ARGS...]: OUT and RC of `fernet inspect ARGS` with TOKEN on stdin
insp() {
  local t=$1
  shift
  OUT=$(printf '%s\n' "$t" | "$BIN/fernet" inspect "$@" 2>"$tmp/err")
  RC=$?
}

tok=$(printf 'fluffy tail' | "$BIN/fernet" encrypt --key-file "$tmp/a")
insp "$tok"
[[ $RC == 0 && $OUT == *"$KEYLESS" ]] || fail "inspect without a key changed (exit $RC): it must still end with: $KEYLESS"
insp "$tok" --key-file "$tmp/a"
[[ $RC == 2 ]] && fail "inspect does not take --key-file yet (exit 2): load the key in main before cmd_inspect"
[[ $OUT == *"$OKLINE"* && $RC == 0 ]] ||
  fail "inspect --key-file with the right key did not check the HMAC (exit $RC, last line '${OUT##*$'\n'}'); expected exit 0 and: $OKLINE"
[[ $OUT == *"timestamp  "* && $OUT == *"IV         "* ]] || fail "with a key, inspect no longer shows the layout"
insp "$tok" --key-file "$tmp/b"
[[ $OUT == *"$BADLINE"* && $RC == 1 ]] ||
  fail "inspect --key-file with another key: exit $RC, last line '${OUT##*$'\n'}'; expected exit 1 and: $BADLINE"
c=${tok:40:1}
[[ $c == A ]] && c=B || c=A
insp "${tok:0:40}$c${tok:41}" --key-file "$tmp/a"
[[ $OUT == *"$BADLINE"* && $RC == 1 ]] || fail "a token with one ciphertext character changed was not a MISMATCH (exit $RC)"

# the spec's vectors: the HMAC alone decides, not the time and not the padding
SPEC_KEY=cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=
(umask 077 && echo "$SPEC_KEY" >"$tmp/spec")
vec() {
  python3 -c 'import json, sys
print(next(v["token"] for v in json.load(open(sys.argv[1])) if v["desc"] == sys.argv[2]))' \
    tests/vectors/fernet/invalid.json "$1"
}
insp "$(vec 'payload padding error')" --key-file "$tmp/spec"
[[ $OUT == *"$OKLINE"* && $RC == 0 ]] ||
  fail "the spec's 'payload padding error' token has a valid HMAC, but inspect said '${OUT##*$'\n'}': compute HMAC-SHA256 yourself (not fernet_decrypt, which also checks padding and time)"
insp "$(vec 'expired TTL')" --key-file "$tmp/spec"
[[ $OUT == *"$OKLINE"* && $RC == 0 ]] ||
  fail "the spec's 'expired TTL' token has a valid HMAC, but inspect said '${OUT##*$'\n'}': inspect checks no time"
insp "$(vec 'incorrect mac')" --key-file "$tmp/spec"
[[ $OUT == *"$BADLINE"* && $RC == 1 ]] || fail "the spec's 'incorrect mac' token was not a MISMATCH (exit $RC)"
insp gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA== --key-file "$tmp/spec"
[[ $OUT == *"$OKLINE"* && $RC == 0 ]] || fail "the spec's example token did not match with its key (exit $RC)"
pass "fernet inspect --key-file checks the HMAC alone (good, other key, changed byte, and the spec's padding and TTL tokens), and is unchanged without a key"
