#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/exercises/03-1.sh - check exercise 03-1: `dh toy --a N --peer Y` must
# refuse a peer value outside 2..p-2 (0, 1, p-1, p and above), the way
# kex_derive() does in the chapter pair, and still accept honest ones.
# Run from the repository root (make check-03-1). One verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 03-1

DH=$BIN/dh
# run ARGS...: sets OUT (stdout and stderr) and RC
run() { OUT=$(timeout 10 "$DH" toy "$@" 2>&1); RC=$?; }

# honest values are still taken, with the right secret (19^6 mod 23 = 2)
for v in 19 0x13 2 21; do
  run --a 6 --peer "$v"
  [[ $RC -eq 0 && "$OUT" == *"shared: "* ]] ||
    fail "dh toy --a 6 --peer $v is refused (exit $RC), but $v is a fine public value: refuse only what lies outside 2..p-2"
done
run --a 6 --peer 19
[[ "$OUT" == *"shared: 02"* ]] || fail "dh toy --a 6 --peer 19 no longer prints shared: 02"
# what must be refused: exit 1, an error that names the range, nothing shared
for v in 0 1 22 23 24 0x16 4294967295; do
  run --a 6 --peer "$v"
  if [[ $RC -eq 0 ]]; then
    fail "dh toy --a 6 --peer $v was accepted ($(grep -m1 '^shared:' <<<"$OUT")): refuse values outside 2..p-2 in alice_receives() in 03_diffie_hellman/dh_toy.c (see toy_derive() in common/kex/kex_derive.c)"
  fi
  [[ $RC -eq 1 ]] || fail "dh toy --a 6 --peer $v exits $RC: a refused value is exit 1 (EXIT_FAILED), 2 is for usage errors"
  [[ "$OUT" == *"2..p-2"* ]] || fail "dh toy --a 6 --peer $v is refused, but the error does not say '2..p-2': name the rule so the learner can act"
  [[ "$OUT" != *"shared:"* ]] || fail "dh toy --a 6 --peer $v is refused but still prints a shared secret"
done
# the rule follows p, not the number 23
run --p 4294967291 --g 2 --a 5 --peer 4294967290
[[ $RC -eq 1 ]] || fail "with --p 4294967291, --peer 4294967290 (p-1) is accepted: use p, not 23, in the check"
run --p 4294967291 --g 2 --a 5 --peer 22
[[ $RC -eq 0 ]] || fail "with --p 4294967291, --peer 22 is refused: it is inside 2..p-2 for that p"
pass "dh toy --peer refuses 0, 1, p-1 and values of p and above (exit 1, naming 2..p-2) and takes honest values"
