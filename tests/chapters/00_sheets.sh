#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The lab sheets do what they say: every chapter's README.md follows the
# template (docs/LAB-TEMPLATE.md) and its commands print what it shows.
#
# First the runner itself, tests/helpers/sheet.py, on its self-test sheets
# (tests/helpers/sheet_fixtures/): pass_*.md must pass, fail_*.md must fail
# with exactly the FAIL lines their <!-- expect: TEXT --> comments name (one
# FAIL line containing TEXT each), so a runner that cannot fail fails here.
# A fixture's <!-- args: ... --> comment gives sheet.py options, each
# <!-- env: VAR=VALUE --> a variable of its environment (@ROOT@: the tree).
# Then each chapter sheet NN_*/README.md named in SHEETS (default: every one
# there is; SHEETS="" runs none, SHEETS="01 03" those two),
# two at a time; sheet.py's PASS/FAIL lines are this suite's.
# No network namespace (not root): every check is a SKIP.
source "$(dirname "$0")/../lib.sh"
RUNNER="$COURSE_ROOT/tests/helpers/sheet.py"
FIXTURES="$COURSE_ROOT/tests/helpers/sheet_fixtures"
if [[ -z ${SHEETS+set} ]]; then
  SHEETS=
  for f in "$COURSE_ROOT"/[0-9][0-9]_*/README.md; do [[ -f $f ]] && SHEETS+=" $(basename "$(dirname "$f")" | cut -c1-2)"; done
fi
tmp=$(course_tmpdir)

# a tiny tree for the fixtures to copy (they use no course file)
mkdir -p "$tmp/root/sub"
echo "a file" >"$tmp/root/file"

# run_sheet LOG ARGS...: sheet.py ARGS into LOG, its exit status appended as
# a last line "rc=N" (bounded: a runner that hangs is a failure, not a wait);
# FENV: VAR=VALUE words for its environment
FENV=()
run_sheet() {
  local log=$1 rc
  shift
  timeout "$(course_limit 600)" env "${FENV[@]}" /usr/bin/python3 "$RUNNER" "$@" >"$log" 2>&1
  rc=$?
  echo "rc=$rc" >>"$log"
}

# at most JOBS background jobs of this shell at once
pool_wait() {
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
}

log_rc() { tail -n 1 "$1" | sed 's/^rc=//'; }

if [[ $(id -u) -ne 0 ]] || ! unshare -n true 2>/dev/null; then
  t_skip "sheets" "cannot make a network namespace (unshare -n needs root)"
  exit 0
fi

# ---- the runner on its fixtures -------------------------------------------------
# four at a time: they mostly wait (for a server, a time limit)
JOBS=4
fixtures=("$FIXTURES"/*.md)
for f in "${fixtures[@]}"; do
  name=$(basename "$f" .md)
  mapfile -t fenv < <(sed -n 's/^<!-- env: \(.*\) -->$/\1/p' "$f" | sed "s|@ROOT@|$tmp/root|g")
  pool_wait
  FENV=(COURSE_TIME_SCALE=1 "${fenv[@]}")
  # shellcheck disable=SC2046 # the fixture's options, word-split on purpose
  run_sheet "$tmp/fx-$name.log" --root "$tmp/root" $(sed -n 's/^<!-- args: \(.*\) -->$/\1/p' "$f") "$f" &
done
wait

for f in "${fixtures[@]}"; do
  name=$(basename "$f" .md)
  log="$tmp/fx-$name.log"
  rc=$(log_rc "$log")
  fails=$(grep '^FAIL: ' "$log")
  nfail=$(grep -c '^FAIL: ' "$log")
  check="sheet runner: fixture $name"
  if [[ $name == pass_* ]]; then
    if [[ $rc == 0 && $nfail == 0 ]] && grep -q '^PASS: ' "$log"; then
      t_pass "$check passes"
    else
      t_fail "$check passes" "exit status $rc, $nfail FAIL line(s): $(grep -m 3 '^FAIL: ' "$log" | tr '\n' ' ')"
    fi
    continue
  fi
  mapfile -t expects < <(sed -n 's/^<!-- expect: \(.*\) -->$/\1/p' "$f")
  why=""
  ((${#expects[@]} > 0)) || why="the fixture names no <!-- expect: --> line"
  [[ $rc == 1 ]] || why="sheet.py exited with status $rc, expected 1"
  ((nfail == ${#expects[@]})) || why="$nfail FAIL line(s), expected ${#expects[@]}: $(tr '\n' ' ' <<<"$fails")"
  if [[ -z $why ]]; then
    # each expected text as often as the fixture names it, in a FAIL line
    # or the diff under it
    for e in "${expects[@]}"; do
      want=$(printf '%s\n' "${expects[@]}" | grep -cxF -- "$e")
      got=$(grep -cF -- "$e" "$log")
      ((got >= want)) || { why="no FAIL line says: $e"; break; }
    done
  fi
  if [[ -z $why ]]; then t_pass "$check fails as it should"; else
    t_fail "$check fails as it should" "$why"; fi
done

# no process of a fixture outlives the runner (the stray fixture's sleeps)
if pgrep -f '^sleep 301[12]$' >/dev/null; then
  t_fail "sheet runner: no stray process after the fixtures" "$(pgrep -af '^sleep 301[12]$' | head -n 3)"
else
  t_pass "sheet runner: no stray process after the fixtures"
fi

# ---- the chapter sheets -----------------------------------------------------------
JOBS=2
ran=()
FENV=()
for nn in $SHEETS; do
  sheet=
  for f in "$COURSE_ROOT/${nn}"_*/README.md; do [[ -f $f ]] && { sheet=$f; break; }; done
  if [[ -z $sheet ]]; then
    t_fail "sheet $nn" "no ${nn}_*/README.md"
    continue
  fi
  ran+=("$nn")
  pool_wait
  run_sheet "$tmp/sheet-$nn.log" --root "$COURSE_ROOT" "$sheet" &
done
wait

for nn in "${ran[@]}"; do
  log="$tmp/sheet-$nn.log"
  rc=$(log_rc "$log")
  sed '$d' "$log"
  if [[ $rc == 77 ]]; then
    continue
  elif [[ $rc != 0 ]] && ! grep -q '^FAIL: ' "$log"; then
    t_fail "sheet $nn" "sheet.py exited with status $rc and no FAIL line"
  elif [[ $rc == 0 ]] && grep -q '^FAIL: ' "$log"; then
    t_fail "sheet $nn" "sheet.py printed FAIL lines but exited 0"
  fi
done
