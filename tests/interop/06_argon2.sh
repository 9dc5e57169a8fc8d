#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06 interop: the password hashes of 06_full_protocol/accounts.c
# against argon2-cffi (python3-argon2), an independent Argon2 binding, both
# ways. The unit test test_accounts, run with ACCOUNTS_EXPORT, registers an
# account with the real default parameters (OWASP: m=19456 t=2 p=1) and
# writes the stored PHC string; argon2-cffi verifies it with the password,
# refuses it with another, and reads the parameters we claim. The other way:
# a string argon2-cffi made (with cheaper parameters) is put in the table
# (ACCOUNTS_IMPORT), logs in through accounts_login, and comes back re-hashed
# to ours, which argon2-cffi verifies too.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
UNIT=${UNIT:-$(dirname "$BIN")/tests}
DRIVER=$UNIT/test_accounts
if ! "$PY" -c 'import argon2' 2>/dev/null; then
  t_fail "06 argon2 interop: /usr/bin/python3 has argon2-cffi" "install python3-argon2 (scripts/deps.sh does)"
  exit 0
fi
if [[ ! -x "$DRIVER" ]]; then
  t_fail "06 argon2 interop: the unit test test_accounts is built" "run make"
  exit 0
fi
tmp=$(course_tmpdir)
cd "$tmp" || exit 1
PW="correct horse battery staple"

# argon2-cffi's own string for the password, cheaper than ours (16-byte tag)
t_run "$PY" -c 'import argon2, sys
print(argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(sys.argv[1]))' "$PW"
t_true "06 argon2: argon2-cffi makes a string for the import" "$T_ERR" eval '[[ $T_OUT == \$argon2id\$* ]]'
echo "$T_OUT" >theirs.txt

t_expect "06 argon2: test_accounts exports a stored hash and imports argon2-cffi's" 0 \
  --out "ok 1 - phc_strings_owasp" --not "not ok" --not "lockout" \
  -- env CMOCKA_MESSAGE_OUTPUT=TAP ACCOUNTS_EXPORT="$tmp/ours.txt" ACCOUNTS_IMPORT="$tmp/theirs.txt" "$DRIVER"
t_run wc -l ours.txt
t_true "06 argon2: three lines: the password, our string, the re-hashed import" "$T_OUT" \
  test "${T_OUT%% *}" = 3

check() { # check NAME PYTHON-BODY: the body sees pw, ours, rehashed, theirs, argon2
  t_expect "06 argon2: $1" 0 --out "ok" -- "$PY" -c 'import sys, argon2
from argon2.exceptions import VerifyMismatchError
lines = open(sys.argv[1]).read().split("\n")
pw, ours, rehashed = lines[0], lines[1], lines[2]
theirs = open(sys.argv[2]).read().strip()
ph = argon2.PasswordHasher()
'"$2"'
print("ok")' "$tmp/ours.txt" "$tmp/theirs.txt"
}
check "argon2-cffi verifies our stored hash with the password" \
  'assert ph.verify(ours, pw) is True'
check "argon2-cffi refuses it with another password" '
try:
    ph.verify(ours, pw + "!")
    sys.exit("verified with the wrong password")
except VerifyMismatchError:
    pass'
check "our string is Argon2id v=19, m=19456 t=2 p=1, 16-byte salt, 32-byte tag" '
p = argon2.extract_parameters(ours)
assert p.type == argon2.Type.ID and p.version == 19, p
assert (p.memory_cost, p.time_cost, p.parallelism) == (19456, 2, 1), p
assert (p.salt_len, p.hash_len) == (16, 32), p
assert len(ours) == 97, len(ours)'
check "argon2-cffi set to OWASP's parameters sees no need to re-hash ours" '
assert not argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32,
                                 salt_len=16).check_needs_rehash(ours)'
check "argon2-cffi's string logged in and was re-hashed to ours, which it verifies" '
assert rehashed != theirs and rehashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), rehashed
assert argon2.extract_parameters(rehashed).hash_len == 32
assert ph.verify(rehashed, pw) is True'
