#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mutation lane's list still applies: every mutant in tests/mutants/ finds
# its target exactly once, so a refactor cannot drop a mutant without a word.
# (`make mutate` runs the mutants themselves: too long for make test.)
source "$(dirname "$0")/../lib.sh"
"$COURSE_ROOT/scripts/mutate.sh" --check
