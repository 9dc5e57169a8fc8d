#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/fuzz/run.sh - run the libFuzzer targets (make fuzz; tests/fuzz/README.md).
#
#   tests/fuzz/run.sh --seconds N [--runs R] [--jobs J] TARGET...
#
# Each target fuzzes for N seconds (or until R executions, if that comes first) from its committed corpus (tests/fuzz/corpus/NAME,
# read only) and its build-time seeds (build/fuzz/seeds/NAME), into a working
# corpus of its own (build/fuzz/work/NAME, kept between runs). J targets run at
# once (default: the machine's cores). Then one table: target, executions,
# executions per second, coverage (features), crashes. A crash, leak or hang
# is kept in build/fuzz/crashes/NAME/ with the line that reproduces it.
# Exit status 1 if any target found something.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
FZ=build/fuzz
seconds=120
runs=-1
jobs=$(nproc 2>/dev/null || echo 2)
targets=()
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --runs) runs=${2:--1}; shift 2 ;;
    --names) names=$2; shift 2 ;;
    --unknown) echo "fuzz: error: no target named: $2 (they are: ${names:-see tests/fuzz/*.c})" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || { echo "fuzz: error: no target to run" >&2; exit 2; }
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 1 ]] || { echo "fuzz: error: --seconds wants a whole number of seconds, got '$seconds'" >&2; exit 2; }

# the course's sanitizer settings, and: a report is a crash (libFuzzer keeps the input)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1}

run_one() { # run_one NAME: fuzz it; its log in build/fuzz/logs/NAME.log
  local t=$1 work=$FZ/work/$1 crashes=$FZ/crashes/$1 dirs=()
  mkdir -p "$work" "$crashes" "$FZ/logs"
  [[ -d tests/fuzz/corpus/$t ]] && dirs+=("tests/fuzz/corpus/$t")
  [[ -d $FZ/seeds/$t ]] && dirs+=("$FZ/seeds/$t")
  # -close_fd_mask=3: the tools' own narration goes nowhere (libFuzzer's and
  # the sanitizers' reports still reach the log); -timeout: a hang is a finding
  "$FZ/bin/$t" -max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=3072 -max_len=16384 \
    -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$crashes/" \
    "$work" "${dirs[@]}" >"$FZ/logs/$t.log" 2>&1
}

echo "fuzz: ${#targets[@]} target(s), $seconds s each$( ((runs > 0)) && echo " (or $runs executions)"), $jobs at a time (logs in $FZ/logs/)"
running=0
for t in "${targets[@]}"; do
  [[ -x $FZ/bin/$t ]] || { echo "fuzz: error: $FZ/bin/$t is not built (make fuzz-build)" >&2; exit 2; }
  run_one "$t" &
  running=$((running + 1))
  if ((running >= jobs)); then wait -n; running=$((running - 1)); fi
done
wait

found=0
printf '\n%-16s %14s %10s %10s %8s\n' target executions exec/s features crashes
for t in "${targets[@]}"; do
  log=$FZ/logs/$t.log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  ft=$(grep -oE ' ft: [0-9]+' "$log" | tail -1 | tr -dc 0-9)
  shopt -s nullglob
  arts=("$FZ/crashes/$t"/crash-* "$FZ/crashes/$t"/leak-* "$FZ/crashes/$t"/timeout-* "$FZ/crashes/$t"/oom-*)
  shopt -u nullglob
  printf '%-16s %14s %10s %10s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "${ft:-?}" "${#arts[@]}"
  for a in "${arts[@]}"; do
    found=1
    echo "    reproduce: $FZ/bin/$t $a    (log: $log)"
  done
done
exit $found
