#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-99-4: a checker with no reference patch
cd "$(dirname "$0")/../.." || exit 1
echo "check-99-4: FAIL: nothing done yet"
exit 1
