#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-02-2: exercise 02-2, `fernet decrypt` says which of several keys
# opened a token (02_symmetric_fernet/README.md, "Exercises in C"). Builds the
# tool, makes three keys and tokens with each; prints one verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 02-2

for k in new mid old; do
  "$BIN/fernet" genkey --out "$tmp/$k" 2>/dev/null || fail "fernet genkey did not make a key"
done
printf 'made with new' | "$BIN/fernet" encrypt --key-file "$tmp/new" >"$tmp/t-new"
printf 'made with mid' | "$BIN/fernet" encrypt --key-file "$tmp/mid" >"$tmp/t-mid"
printf 'made with old' | "$BIN/fernet" encrypt --key-file "$tmp/old" >"$tmp/t-old"
note() { echo "fernet: note: opened with key $1 of $2 (an older key: 'fernet rotate' moves the token to the first)"; }

# dec TOKEN-FILE ARGS...: sets OUT, ERR and RC of `fernet decrypt ARGS < TOKEN-FILE`
dec() {
  local f=$1
  shift
  OUT=$("$BIN/fernet" decrypt "$@" <"$f" 2>"$tmp/err")
  RC=$?
  ERR=$(cat "$tmp/err")
}

dec "$tmp/t-mid" --key-file "$tmp/new" --key-file "$tmp/mid"
[[ $RC == 0 && $OUT == 'made with mid' ]] || fail "an older key's token no longer opens (exit $RC, stdout '$OUT', stderr '$ERR')"
[[ $ERR == "$(note 2 2)" ]] ||
  fail "a token opened by key 2 of 2 printed '$ERR' on stderr; expected: $(note 2 2)"
dec "$tmp/t-old" --key-file "$tmp/new" --key-file "$tmp/mid" --key-file "$tmp/old"
[[ $RC == 0 && $OUT == 'made with old' && $ERR == "$(note 3 3)" ]] ||
  fail "a token made with the third of 3 keys: exit $RC, stderr '$ERR'; expected the message and: $(note 3 3)"
dec "$tmp/t-mid" --key-file "$tmp/new" --key-file "$tmp/mid" --key-file "$tmp/old"
[[ $ERR == "$(note 2 3)" ]] || fail "a token made with the second of 3 keys printed '$ERR'; expected: $(note 2 3)"
SECRET_KEY="$(cat "$tmp/new"),$(cat "$tmp/mid")" dec "$tmp/t-mid"
[[ $RC == 0 && $ERR == "$(note 2 2)" ]] ||
  fail "with SECRET_KEY=NEW,OLD the old key's token printed '$ERR' (exit $RC): the keys come from the same list either way"
dec "$tmp/t-new" --key-file "$tmp/new" --key-file "$tmp/mid"
[[ $RC == 0 && $OUT == 'made with new' && -z $ERR ]] ||
  fail "a token opened by the first key printed '$ERR' (exit $RC): say nothing when the newest key opened it"
dec "$tmp/t-new" --key-file "$tmp/new"
[[ $RC == 0 && -z $ERR ]] || fail "with one key, decrypt printed '$ERR' (exit $RC): nothing to say there"
dec "$tmp/t-old" --key-file "$tmp/new" --key-file "$tmp/mid"
[[ $RC == 1 && $ERR == "fernet: error: decrypt: MAC mismatch"* && $ERR != *"opened with"* && -z $OUT ]] ||
  fail "a token no key opens: exit $RC, stderr '$ERR'; expected exit 1 and the first key's reason, 'fernet: error: decrypt: MAC mismatch'"
printf 'late' | "$BIN/fernet" encrypt --key-file "$tmp/mid" --at 1000000000 >"$tmp/t-late"
dec "$tmp/t-late" --key-file "$tmp/new" --key-file "$tmp/mid" --ttl 60
[[ $RC == 1 && $ERR == "fernet: error: decrypt: token expired"* ]] ||
  fail "an expired token from an older key: exit $RC, stderr '$ERR'; the TTL still applies with every key"
pass "fernet decrypt names the older key that opened a token (key N of M), says nothing for the newest, and still refuses with the first key's reason"
