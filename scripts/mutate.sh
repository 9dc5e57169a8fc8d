#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mutation lane: proof that every security check has a test that fails
# without it.
#
#   scripts/mutate.sh              apply each mutant in tests/mutants/ to a
#                                  scratch copy of the tree, rebuild, run the
#                                  suites it names, print a table
#   scripts/mutate.sh NAME...      only these mutants
#   scripts/mutate.sh --check      only check that every mutant still finds its
#                                  target (one PASS/FAIL line each; make test
#                                  runs this, so a refactor cannot drop one)
#
# A mutant (tests/mutants/NAME.mutant) is a small edit that disables one check:
#   check:    what it disables, in a few words
#   why:      the one-line reason the check is there
#   file:     the source file
#   find:     a fragment that occurs exactly once in the file (\n for a line break)
#   replace:  what it becomes (\n for a line break)
#   suites:   ONLY= patterns for tests/run.sh, space-separated
#   equivalent: (optional) why no test can kill it; the lane then expects it to survive
# A mutant is killed when any of its suites has a FAIL. SURVIVED is a missing test.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MUTANTS=tests/mutants

field() { # field FILE KEY: the value of "KEY: value" (first one)
  sed -n "s/^$2: //p" "$1" | head -n 1
}

# count FILE TEXT: how many times TEXT occurs in FILE (as a fixed string)
occurrences() {
  /usr/bin/python3 -c 'import sys; print(open(sys.argv[1]).read().count(sys.argv[2].replace("\\n", "\n")))' "$1" "$2"
}

check_one() { # check_one MUTANT: does it still apply?
  local m=$1 name file find n
  name=$(basename "$m" .mutant)
  file=$(field "$m" file)
  find=$(field "$m" find)
  for k in check why file find replace suites; do
    if ! grep -q "^$k: " "$m"; then
      echo "FAIL: mutant $name: no '$k:' line"
      return 1
    fi
  done
  if [[ ! -f "$file" ]]; then
    echo "FAIL: mutant $name: $file does not exist (moved? update the mutant)"
    return 1
  fi
  n=$(occurrences "$file" "$find")
  if [[ "$n" != 1 ]]; then
    echo "FAIL: mutant $name: its target occurs $n times in $file, not once (update the mutant)"
    return 1
  fi
  echo "PASS: mutant $name still finds its target in $file"
}

shopt -s nullglob
all=("$MUTANTS"/*.mutant)
shopt -u nullglob

if [[ "${1:-}" == "--check" ]]; then
  rc=0
  for m in "${all[@]}"; do check_one "$m" || rc=1; done
  exit $rc
fi

selected=()
if (($# > 0)); then
  for n in "$@"; do
    [[ -f "$MUTANTS/$n.mutant" ]] || { echo "mutate: error: no mutant $n in $MUTANTS" >&2; exit 2; }
    selected+=("$MUTANTS/$n.mutant")
  done
else
  selected=("${all[@]}")
fi

# A scratch copy of the tree (tracked and untracked files, not build/), with
# the civetweb build shared: the real tree is never edited.
SCRATCH="$ROOT/build/mutate/tree"
mkdir -p "$SCRATCH"
echo "mutate: copying the tree to $SCRATCH"
# (files git tracks and untracked ones it does not ignore; a deleted one is
# skipped). -m: every copied file is new to make, so a copy made over an
# earlier one never keeps objects older than their sources claim to be.
git ls-files -co --exclude-standard -z |
  /usr/bin/python3 -c 'import os,sys; sys.stdout.write("".join(p+"\0" for p in sys.stdin.read().split("\0") if p and os.path.isfile(p)))' |
  tar --null -T - -cf - | tar -xmf - -C "$SCRATCH"
mkdir -p "$SCRATCH/build"
[[ -e "$SCRATCH/build/civetweb" ]] || ln -s "$ROOT/build/civetweb" "$SCRATCH/build/civetweb"
if ! make -C "$SCRATCH" -s -j2 all >"$ROOT/build/mutate/build.log" 2>&1; then
  echo "mutate: error: the unmutated tree does not build (see build/mutate/build.log)" >&2
  exit 1
fi

killed=0 survived=0 expected=0 broken=0
rows=()
for m in "${selected[@]}"; do
  name=$(basename "$m" .mutant)
  file=$(field "$m" file)
  check=$(field "$m" check)
  equiv=$(field "$m" equivalent)
  if ! check_one "$m" >/dev/null; then
    rows+=("$(printf '%-28s %-44s %s' "$name" "$check" "STALE: $(check_one "$m" | sed 's/^FAIL: //')")")
    broken=$((broken + 1))
    continue
  fi
  cp "$SCRATCH/$file" "$SCRATCH/$file.orig"
  /usr/bin/python3 - "$SCRATCH/$file" "$(field "$m" find)" "$(field "$m" replace)" <<'PY'
import sys
path, find, repl = (a.replace("\\n", "\n") for a in sys.argv[1:4])
s = open(path).read()
open(path, "w").write(s.replace(find, repl, 1))
PY
  log="$ROOT/build/mutate/$name.log"
  verdict=""
  bad=""
  if ! make -C "$SCRATCH" -s -j2 all >"$log" 2>&1; then
    # a mutant the compiler refuses proves nothing about the tests
    bad="does not compile (see $log): make the edit compile"
  else
    for suite in $(field "$m" suites); do
      out=$( (cd "$SCRATCH" && ONLY="$suite" BIN="$SCRATCH/build/bin" UNIT="$SCRATCH/build/tests" \
        tests/run.sh) 2>&1)
      printf '%s\n' "$out" >>"$log"
      if grep -q '^failures:' <<<"$out"; then
        verdict="killed by: $(sed -n '/^failures:/{n;p;q}' <<<"$out" | sed 's/^ *//' | cut -c1-90)"
        break
      fi
      if grep -q '^0 passed, 0 failed' <<<"$out"; then
        bad="suite pattern '$suite' selects no test"
        break
      fi
    done
  fi
  mv "$SCRATCH/$file.orig" "$SCRATCH/$file"
  touch "$SCRATCH/$file"
  if [[ -n "$bad" ]]; then
    verdict="BROKEN: $bad"
    broken=$((broken + 1))
  elif [[ -n "$verdict" ]]; then
    if [[ -n "$equiv" ]]; then
      verdict="$verdict (listed as equivalent: remove that line)"
      broken=$((broken + 1))
    else
      killed=$((killed + 1))
    fi
  elif [[ -n "$equiv" ]]; then
    verdict="survived, as expected: $equiv"
    expected=$((expected + 1))
  else
    verdict="SURVIVED"
    survived=$((survived + 1))
  fi
  rows+=("$(printf '%-28s %-44s %s' "$name" "$check" "$verdict")")
  echo "mutate: $name: $verdict"
done
make -C "$SCRATCH" -s -j2 all >/dev/null 2>&1 || true

echo
printf '%-28s %-44s %s\n' "mutant" "check" "verdict"
printf '%s\n' "${rows[@]}"
echo
echo "$killed killed, $survived survived, $expected equivalent, $broken stale, broken or mislabelled"
((survived == 0 && broken == 0))
