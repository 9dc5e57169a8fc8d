#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-99-7: no verdict line (it says ok/not ok, not check-99-7: PASS/FAIL)
cd "$(dirname "$0")/../.." || exit 1
if [[ $(cat answer.txt) == yes ]]; then echo "ok"; exit 0; fi
echo "not ok"
exit 1
