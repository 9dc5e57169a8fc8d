#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-99-6: a patch that does not apply: answer.txt must say yes
cd "$(dirname "$0")/../.." || exit 1
if [[ $(cat answer.txt) == yes ]]; then echo "check-99-6: PASS: answer.txt says yes"; exit 0; fi
echo "check-99-6: FAIL: answer.txt does not say yes (hint: edit it)"
exit 1
