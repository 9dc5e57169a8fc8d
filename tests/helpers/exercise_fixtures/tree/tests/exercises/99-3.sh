#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-99-3: other.txt must say done; the patch changes answer.txt instead
cd "$(dirname "$0")/../.." || exit 1
if [[ $(cat other.txt) == "done" ]]; then echo "check-99-3: PASS: other.txt says done"; exit 0; fi
echo "check-99-3: FAIL: other.txt does not say done"
exit 1
