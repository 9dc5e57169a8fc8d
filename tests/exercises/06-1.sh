#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-06-1: the records mapper refuses a FirstName that is empty or longer
# than 64 bytes (06_full_protocol/README.md, "Exercises in C", 06-1).
# Starts 06-server on a free port (tests/exercises/06-common.bash), enrols one
# device and sends four records: two that must be quarantined with a reason
# naming FirstName, two that must be stored. One verdict line; exit 0 on PASS.
set -u
cd "$(dirname "$0")/../.." || exit 1
EX=06-1
# shellcheck source=06-common.bash
source tests/exercises/06-common.bash
ex06_start
# send NAME_JSON: 06-client's output (stdout and stderr)
send() { "${C[@]}" send-record "{\"FirstName\": $1, \"LastName\": \"Lovelace\"}" 2>&1; }
long65=\"$(printf 'A%.0s' {1..65})\"
long64=\"$(printf 'B%.0s' {1..64})\"
for bad in '""' "$long65"; do
  out=$(send "$bad")
  shown='""'
  [[ $bad == '""' ]] || shown='"AAA..." (65 bytes)'
  if grep -q '^record stored' <<<"$out"; then
    verdict FAIL "a record with FirstName $shown was stored; it must be quarantined (hint: a rule in validate(), common/store/records.c)"
    exit 1
  fi
  if ! grep -q "record quarantined: .*FirstName" <<<"$out"; then
    verdict FAIL "FirstName $shown: expected 'record quarantined: ...' with a reason that names FirstName, got: $(head -n 1 <<<"$out")"
    exit 1
  fi
done
for good in '"Ada"' "$long64"; do
  out=$(send "$good")
  if ! grep -q '^record stored' <<<"$out"; then
    verdict FAIL "a FirstName of $((${#good} - 2)) bytes must still be stored, got: $(head -n 1 <<<"$out")"
    exit 1
  fi
done
verdict PASS "an empty FirstName and one of 65 bytes are quarantined with a reason naming FirstName; 3 and 64 bytes are stored"
