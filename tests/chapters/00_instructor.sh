#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The instructor pack (docs/instructor/): a page per chapter with the parts an
# instructor needs, an answer for every question the sheet asks, each
# exercise's reference patch named, and the reference captures' target.
source "$(dirname "$0")/../lib.sh"
cd "$COURSE_ROOT" || exit 1
PARTS=("## Objectives" "## Timing of the core path" "## Answer key" "## Common failures and their fixes"
  "## Rubric for the deliverables" "## Reference capture")
for sheet in 0[1-6]_*/README.md; do
  n=${sheet:0:2}
  page=docs/instructor/$n.md
  if [[ ! -f $page ]]; then
    t_fail "instructor pack: chapter $n has a page" "no $page"
    continue
  fi
  missing=()
  for p in "${PARTS[@]}"; do grep -q "^$p" "$page" || missing+=("$p"); done
  t_true "instructor pack: $page has objectives, timing, answer key, failures, rubric and the reference capture" \
    "missing: ${missing[*]}" test "${#missing[@]}" = 0
  q=$(sed -n '/^## Questions/,/^## Deliverables/p' "$sheet" | grep -cE '^[0-9]+\. ')
  a=$(sed -n '/^## Answer key/,/^## Common failures/p' "$page" | grep -cE '^[0-9]+\. ')
  t_true "instructor pack: $n: an answer for each of the sheet's $q questions" "$a answers for $q questions" \
    test "$q" -gt 0 -a "$a" = "$q"
  # the sheet itself holds no answer: no "Answer" line under its Questions
  t_true "instructor pack: $n: the sheet's questions come without answers" \
    "$(sed -n '/^## Questions/,/^## Deliverables/p' "$sheet" | grep -in 'answer:' | head -n 2)" \
    bash -c '! sed -n "/^## Questions/,/^## Deliverables/p" "$1" | grep -qi "answer:"' _ "$sheet"
  for x in tests/exercises/"$n"-[0-9].sh; do
    [[ -e $x ]] || continue
    k=$(basename "$x" .sh)
    t_true "instructor pack: $page explains exercise $k's solution (patches/$k.patch)" "not named there" \
      grep -q "patches/$k.patch" "$page"
  done
  t_true "instructor pack: $page says how to make its reference capture (make instructor-captures)" \
    "no 'make instructor-captures' there" grep -q "make instructor-captures" "$page"
done
