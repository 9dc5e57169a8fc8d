#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/bench.sh - `make bench`: every bench/*.sh, in order. Each benchmark
# measures our program and a named peer in the same run and prints ratios, so
# the figures compare like with like on whatever machine runs them. Benchmarks
# are never part of `make test`: timing on a shared machine is not a verdict.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export BIN=${BIN:-${COURSE_BIN:-$ROOT/build/bin}}
export COURSE_ROOT=$ROOT
shopt -s nullglob
benches=(bench/*.sh)
if ((${#benches[@]} == 0)); then
  echo "make bench: no benchmarks yet"
  exit 0
fi
rc=0
for b in "${benches[@]}"; do
  echo "== $(basename "$b" .sh)"
  bash "$b" || { echo "bench: $b failed" >&2; rc=1; }
  echo
done
exit $rc
