#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/exercises/03-3.sh - check exercise 03-3: `dh toy --crack` finds the
# private value by baby-step giant-step, about 2*sqrt(p) steps instead of up
# to p: a random value in the 32-bit group within a few seconds, with the
# right x and an honest count of steps ("after N tries").
# Run from the repository root (make check-03-3). One verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 03-3

DH=$BIN/dh
P=4294967291
LIMIT=$(course_limit 3)
# the public value g^a mod p, from the tool's own known-answer mode
public_of() { "$DH" toy -q --p "$1" --g "$2" --a "$3" --b 2 | sed -n 's/^A = \([0-9]*\),.*/\1/p'; }

# the textbook numbers still work, and the small answers stay the smallest
out=$(timeout 10 "$DH" toy --a 6 --b 15 --crack 2>&1) || fail "dh toy --a 6 --b 15 --crack fails: $(tail -n 1 <<<"$out")"
grep -q '^cracked: x = 6$' <<<"$out" || fail "dh toy --a 6 --b 15 --crack no longer finds x = 6"
grep -q '^shared: 02$' <<<"$out" || fail "dh toy --a 6 --b 15 --crack no longer prints shared: 02"
# large private values in the 32-bit group (2 generates it: x is unique in 0..p-2)
for a in 4000000000 3141592653 4294967289 65537; do
  y=$(public_of "$P" 2 "$a")
  [[ -n "$y" ]] || fail "dh toy --p $P --g 2 --a $a does not print its 'A = ...' line"
  out=$(timeout "$LIMIT" "$DH" toy --p "$P" --g 2 --crack --public "$y" 2>&1)
  rc=$?
  [[ $rc -ne 124 ]] ||
    fail "cracking a 32-bit public value took over $LIMIT s: the brute force in discrete_log() (03_diffie_hellman/dh_toy.c) tries up to p exponents; baby-step giant-step needs about 2*sqrt(p)"
  [[ $rc -eq 0 ]] || fail "dh toy --p $P --g 2 --crack --public $y exits $rc: $(tail -n 1 <<<"$out")"
  x=$(sed -n 's/^cracked: x = //p' <<<"$out")
  [[ "$x" == "$a" ]] || fail "for 2^$a mod $P the crack says x = ${x:-nothing}: check the giant step (g^-m) and x = i*m + j"
  tries=$(sed -n 's/.*found x = [0-9]* after \([0-9]*\) tries.*/\1/p' <<<"$out")
  [[ -n "$tries" ]] || fail "the crack no longer says 'found x = X after N tries'"
  ((tries <= 2 * 65536 + 2)) ||
    fail "the crack reports $tries tries for x = $a: count the baby steps and the giant steps it made (at most about 2*sqrt(p) = 131072)"
  ((tries >= 1)) || fail "the crack reports 0 tries: count the baby steps and the giant steps"
done
pass "dh toy --crack uses baby-step giant-step: 32-bit private values found in about 2*sqrt(p) steps, the right x each time"
