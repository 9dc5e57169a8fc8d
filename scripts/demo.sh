#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/demo.sh - the course tour (`make demo`): every chapter that exists,
# in order, with its narration, then a summary table.
# A chapter's NN_*/pair.sh names what its run shows in a line "# demo: ...".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
rows=()
failed=0
for pair in [0-9][0-9]_*/pair.sh; do
  dir=$(dirname "$pair")
  nn=${dir%%_*}
  shown=$(sed -n 's/^# demo: //p' "$pair" | head -n 1)
  echo
  echo "################ chapter $dir ################"
  if NO_COLOR=${NO_COLOR:-} scripts/run-chapter.sh "$nn"; then
    rows+=("$(printf '%-22s %-88s %s' "$dir" "${shown:-(see its README)}" pass)")
  else
    rows+=("$(printf '%-22s %-88s %s' "$dir" "${shown:-(see its README)}" FAIL)")
    failed=$((failed + 1))
  fi
done
echo
echo "################ course tour summary ################"
printf '%-22s %-88s %s\n' chapter "what was shown" result
printf '%s\n' "${rows[@]}"
echo
if ((failed)); then
  echo "$failed chapter(s) failed: run 'make NN' for one, or 'make doctor' to check the machine"
  exit 1
fi
echo "every chapter ran. Next: 'make NN-capture' to see one on the wire, 'make test' for the proofs."
