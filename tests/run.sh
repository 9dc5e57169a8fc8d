#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/run.sh - the one test runner `make test` calls.
#
# Runs, in order: the cmocka unit tests (build/tests/test_*, TAP output), then
# every shell suite in tests/chapters, tests/interop and tests/capture (sorted
# by name). Counts PASS/FAIL/SKIP lines and ends with the line
#   N passed, N failed, N skipped
# Exit status 0 only when nothing failed.
#
# Environment: BIN (binaries), UNIT (unit test binaries), SAN=1 for the
# sanitizer lane, ONLY=PATTERN to run only what PATTERN names: a suite whose
# path contains it (tests/chapters/05_https_server.sh), or a unit test, named
# tests/unit/test_NAME after its source (ONLY=unit runs the unit tests only).
# COURSE_TIME_SCALE=N multiplies every time limit (scripts/lib.sh); it is
# chosen once here, from the load, and every suite gets the same.
# TEST_JOBS=N runs N shell suites at once (default one per two cores).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export BIN=${BIN:-${COURSE_BIN:-$ROOT/build/bin}}
UNIT=${UNIT:-$ROOT/build/tests}
export SAN=${SAN:-0}
export COURSE_ROOT=$ROOT
export NO_COLOR=1
# Sanitizer reports end the process with a failure and a readable report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=99}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp:print_suppressions=0}
# course_limit and COURSE_TIME_SCALE (exported); this shell starts no server
source "$ROOT/scripts/lib.sh"

passed=0
failed=0
skipped=0
failures=()
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/course-tests.XXXXXX")
trap 'course_cleanup; rm -rf "$LOGDIR"' EXIT

count() { # count SUITE LOGFILE
  local suite=$1 log=$2 p f s
  p=$(grep -c '^PASS: ' "$log")
  f=$(grep -c '^FAIL: ' "$log")
  s=$(grep -c '^SKIP: ' "$log")
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  while IFS= read -r line; do failures+=("$suite: ${line#FAIL: }"); done < <(grep '^FAIL: ' "$log")
}

wanted() { [[ -z "${ONLY:-}" || "$1" == *"$ONLY"* ]]; }

# TEST_JOBS: how many shell suites run at once (default: one per two cores,
# at least one; TEST_JOBS=1 runs them one after another)
TEST_JOBS=${TEST_JOBS:-$(($(nproc 2>/dev/null || echo 2) / 2))}
((TEST_JOBS >= 1)) || TEST_JOBS=1

run_suite() { # run_suite SUITE: its lines into LOGDIR/NAME.log
  local s=$1 log limit rc
  log="$LOGDIR/$(basename "$s").log"
  limit=$(course_limit 900)
  timeout "$limit" bash "$s" >"$log" 2>&1
  rc=$?
  if [[ $rc -eq 124 ]]; then
    echo "FAIL: $(basename "$s"): the suite timed out after $limit s" >>"$log"
  elif [[ $rc -ne 0 ]] && ! grep -q '^FAIL: ' "$log"; then
    echo "FAIL: $(basename "$s"): the suite itself exited with status $rc" >>"$log"
  fi
}

echo "== unit tests (cmocka)"
for t in "$UNIT"/test_*; do
  [[ -x "$t" ]] || continue
  name=$(basename "$t")
  # matched by the name of its source, not by where the build put the binary
  wanted "tests/unit/$name" || continue
  log="$LOGDIR/$name.log"
  # TAP: "ok N - name", "not ok N - name", "ok N # SKIP name"
  limit=$(course_limit 600)
  (cd "$ROOT" && CMOCKA_MESSAGE_OUTPUT=TAP timeout "$limit" "$t") >"$log.raw" 2>&1
  rc=$?
  # (cmocka 1.1.5 writes a skip as "not ok N # SKIP name": a skip all the same)
  sed -n -e 's/^\(not \)\{0,1\}ok [0-9]* # SKIP[ -]*\(.*\)/SKIP: \2: skipped/p' \
    -e '/# SKIP/!s/^ok [0-9]* - \(.*\)/PASS: \1/p' \
    -e '/# SKIP/!s/^not ok [0-9]* - \(.*\)/FAIL: \1: see the cmocka output above/p' "$log.raw" >"$log"
  if [[ $rc -eq 124 ]]; then
    echo "FAIL: $name: timed out after $limit s" >>"$log"
  elif [[ $rc -ne 0 ]] && ! grep -q '^FAIL: ' "$log"; then
    echo "FAIL: $name: exited with status $rc" >>"$log"
  fi
  if grep -q '^FAIL: ' "$log"; then cat "$log.raw"; fi
  printf '  %-32s %s passed, %s failed\n' "$name" "$(grep -c '^PASS' "$log")" "$(grep -c '^FAIL' "$log")"
  count "$name" "$log"
done

for group in chapters interop capture; do
  shopt -s nullglob
  suites=(tests/$group/*.sh)
  shopt -u nullglob
  chosen=()
  for s in "${suites[@]}"; do wanted "$s" && chosen+=("$s"); done
  [[ ${#chosen[@]} -gt 0 ]] || continue
  echo "== $group"
  # TEST_JOBS suites at a time (each has its own temp folder and free ports, and
  # waits for events, not times); their lines are shown in order all the same
  running=0
  for s in "${chosen[@]}"; do
    if ((TEST_JOBS == 1)); then
      run_suite "$s" # one at a time: its lines show as soon as it ends
    else
      if ((running >= TEST_JOBS)); then
        wait -n
        running=$((running - 1))
      fi
      run_suite "$s" &
      running=$((running + 1))
      continue
    fi
    sed 's/^/  /' "$LOGDIR/$(basename "$s").log"
    count "$s" "$LOGDIR/$(basename "$s").log"
  done
  ((TEST_JOBS == 1)) && continue
  wait
  for s in "${chosen[@]}"; do
    log="$LOGDIR/$(basename "$s").log"
    # show each suite's lines, so a CI log says what ran
    sed 's/^/  /' "$log"
    count "$s" "$log"
  done
done

echo
if ((failed > 0)); then
  echo "failures:"
  printf '  %s\n' "${failures[@]}"
  echo
fi
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0 && passed > 0))
