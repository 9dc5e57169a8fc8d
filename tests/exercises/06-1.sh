#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-06-1: the records mapper refuses a FirstName that is empty, only
# spaces, or holds a control character (06_full_protocol/README.md,
# "Exercises in C", 06-1). Starts 06-server on a free port
# (tests/exercises/06-common.bash), enrols one device and sends records: the
# bad ones must be quarantined with a reason naming FirstName, the good ones
# stored. One verdict line; exit 0 on PASS.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
EX=06-1
# shellcheck source=06-common.bash
source tests/exercises/06-common.bash
ex06_start
# send NAME_JSON: 06-client's output (stdout and stderr)
send() { "${C[@]}" send-record "{\"FirstName\": $1, \"LastName\": \"Lovelace\"}" 2>&1; }
for bad in '""' '"   "' '"Ada\nLovelace"' '"Ada\u001b[2J"'; do
  out=$(send "$bad")
  if grep -q '^record stored' <<<"$out"; then
    fail "a record with FirstName $bad was stored; it must be quarantined (hint: a rule in validate(), common/store/records.c)"
  fi
  if ! grep -q "record quarantined: .*FirstName" <<<"$out"; then
    fail "FirstName $bad: expected 'record quarantined: ...' with a reason that names FirstName, got: $(head -n 1 <<<"$out")"
  fi
done
for good in '"Ada"' '" Jean Paul "' '"Zoë"' '"Ⅻ"'; do
  out=$(send "$good")
  if ! grep -q '^record stored' <<<"$out"; then
    fail "a record with FirstName $good must still be stored, got: $(head -n 1 <<<"$out")"
  fi
done
pass "a FirstName that is empty, only spaces, or holds a newline or an escape is quarantined with its reason; 'Ada', ' Jean Paul ' and UTF-8 names are stored"
