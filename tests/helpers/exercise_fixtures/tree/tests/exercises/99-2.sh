#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-99-2: a checker that passes on the unmodified tree (it checks what is already so)
cd "$(dirname "$0")/../.." || exit 1
if [[ -f answer.txt ]]; then echo "check-99-2: PASS: answer.txt exists"; exit 0; fi
echo "check-99-2: FAIL: no answer.txt"
exit 1
