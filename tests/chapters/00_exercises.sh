#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every C exercise is sound: for each checker tests/exercises/NN-K.sh and its
# reference solution docs/instructor/patches/NN-K.patch, on a scratch copy of
# the tree (its files, and build/ copied with cp -a, so that only what the
# patch changes recompiles, and nothing is written through into the real
# build): the checker fails on the unmodified tree with its verdict line
# "check-NN-K: FAIL: ..."; the patch applies (patch -p1, a dry run first);
# the checker then passes, "check-NN-K: PASS: ...". A checker without a patch,
# or a patch without a checker, is a failure.
# First the proof itself, on the fake exercises of
# tests/helpers/exercise_fixtures/tree (README.md there): the sound one must
# pass and each broken one must be caught, so this suite can fail both ways.
# Two exercises at a time; SAN=1 makes the copies use the sanitizer build.
source "$(dirname "$0")/../lib.sh"
FIXTREE="$COURSE_ROOT/tests/helpers/exercise_fixtures/tree"
JOBS=2
tmp=$(course_tmpdir)
SAN=${SAN:-0}

# copy_tree ROOT DEST: ROOT's tracked and untracked-not-ignored files (all
# its files outside git; their times kept, so make sees the build as up to
# date), then its build/
copy_tree() {
  local root=$1 dest=$2
  mkdir -p "$dest"
  if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    tar -C "$root" --exclude=./build -cf - . | tar -C "$dest" -xf -
  else
    (cd "$root" && git ls-files -z --cached --others --exclude-standard . |
    while IFS= read -r -d '' f; do
      [[ $f == build/* ]] && continue
      [[ -e $f || -L $f ]] && printf '%s\0' "$f"
    done | tar --null -T - -cf -) | tar -C "$dest" -xf -
  fi
  if [[ -d $root/build ]]; then
    # not what a checker needs: the fuzzers (73 MB), benchmarks, captures, and
    # the other lane's build (build/san/ only under SAN=1)
    local e keep=()
    mkdir -p "$dest/build"
    for e in "$root"/build/*; do
      case ${e##*/} in
        fuzz | mutate | bench | captures | instructor) continue ;;
        san) [[ $SAN == 1 ]] || continue ;;
      esac
      keep+=("$e")
    done
    ((${#keep[@]} == 0)) || cp -a "${keep[@]}" "$dest/build/"
  fi
}

# checker TREE NAME: run TREE's checker of exercise NAME there, as
# `make check-NAME` would (this build's binaries: those of TREE); sets OUT, RC
CHECK_LIMIT=$(course_limit 300)
checker() {
  local tree=$1 name=$2 bin=$1/build/bin
  [[ $SAN == 1 ]] && bin=$1/build/san/bin
  OUT=$(cd "$tree" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u COURSE_ROOT \
    SAN="$SAN" BIN="$bin" COURSE_BIN="$bin" \
    timeout "$CHECK_LIMIT" bash "tests/exercises/$name.sh" </dev/null 2>&1)
  RC=$?
}

# verdict NAME WORD: the output's verdict lines must be one, "check-NAME: WORD: ..."
verdict() {
  local v
  v=$(grep -E "^check-$1: (PASS|FAIL): " <<<"$OUT")
  [[ -n $v && $(wc -l <<<"$v") -eq 1 && $v == "check-$1: $2: "* ]]
}

tail_out() { tail -n 8 <<<"$OUT" | sed 's/^/  | /'; }

# judge LABEL NAME WANT WHEN: the checker's run (OUT, RC) WHEN ("on the
# unmodified tree", "with the patch") must give the verdict WANT, FAIL (exit
# status 1) or PASS (exit status 0); one PASS or FAIL line says whether it did
judge() {
  local label=$1 name=$2 want=$3 when=$4 rc_want=1 line
  [[ $want == PASS ]] && rc_want=0
  line=$(grep -m 1 -E "^check-$name: (PASS|FAIL): " <<<"$OUT")
  if ((RC == 124)); then
    echo "FAIL: $label: the checker ran past $CHECK_LIMIT s $when"
  elif [[ $want == FAIL ]] && ((RC == 0)); then
    echo "FAIL: $label: the checker passes on the unmodified tree (it must fail until the exercise is done)"
    tail_out
  elif [[ $want == PASS ]] && ((RC != 0)) && verdict "$name" FAIL; then
    echo "FAIL: $label: the checker still fails with the patch: $line"
    tail_out
  elif ((RC != rc_want)) || ! verdict "$name" "$want"; then
    echo "FAIL: $label: $when: exit status $RC and not one verdict line 'check-$name: $want: ...' (exit status $rc_want wanted)"
    tail_out
  elif [[ $want == FAIL ]]; then
    echo "PASS: $label: fails on the unmodified tree ($line)"
  else
    echo "PASS: $label: passes with the patch ($line)"
  fi
}

# prove ROOT NAME LABEL: the PASS/FAIL lines for exercise NAME of tree ROOT
prove() {
  local root=$1 name=$2 label=$3 chk pat d t0 t1 t2
  chk="$root/tests/exercises/$name.sh"
  pat="$root/docs/instructor/patches/$name.patch"
  if [[ ! -f $chk ]]; then
    echo "FAIL: $label: a patch docs/instructor/patches/$name.patch, no checker tests/exercises/$name.sh"
    return
  fi
  if [[ ! -f $pat ]]; then
    echo "FAIL: $label: a checker tests/exercises/$name.sh, no reference patch docs/instructor/patches/$name.patch"
    return
  fi
  d=$(mktemp -d "$tmp/ex-$name.XXXXXX")
  t0=$SECONDS
  copy_tree "$root" "$d/tree"
  t1=$SECONDS
  checker "$d/tree" "$name"
  judge "$label" "$name" FAIL "on the unmodified tree"
  t2=$SECONDS
  if ! OUT=$(cd "$d/tree" && patch -p1 --dry-run -s <"$pat" 2>&1); then
    echo "FAIL: $label: the patch does not apply: $(head -n 3 <<<"$OUT" | tr '\n' ' ')"
    rm -rf "$d"
    return
  fi
  (cd "$d/tree" && patch -p1 -s <"$pat" >/dev/null 2>&1)
  echo "PASS: $label: docs/instructor/patches/$name.patch applies"
  checker "$d/tree" "$name"
  judge "$label" "$name" PASS "with the patch"
  echo "TIME: $label: copy $((t1 - t0)) s, checker $((t2 - t1)) s, patched checker $((SECONDS - t2)) s"
  rm -rf "$d"
}

# names NNK of ROOT's exercises: a checker or a patch (or both)
names() {
  local root=$1
  {
    for f in "$root"/tests/exercises/[0-9][0-9]-[0-9]*.sh; do [[ -f $f ]] && basename "$f" .sh; done
    for f in "$root"/docs/instructor/patches/[0-9][0-9]-[0-9]*.patch; do [[ -f $f ]] && basename "$f" .patch; done
  } | sort -u
}

pool_wait() {
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
}

# ---- the proof on its fixtures -----------------------------------------------------
declare -A caught=(
  [99-2]="the checker passes on the unmodified tree"
  [99-3]="the checker still fails with the patch"
  [99-4]="no reference patch"
  [99-5]="no checker"
  [99-6]="the patch does not apply"
  [99-7]="not one verdict line"
)
mapfile -t fx < <(names "$FIXTREE")
for n in "${fx[@]}"; do
  pool_wait
  prove "$FIXTREE" "$n" "fixture $n" >"$tmp/fx-$n.log" 2>&1 &
done
wait
for n in "${fx[@]}"; do
  log="$tmp/fx-$n.log"
  if [[ $n == 99-1 ]]; then
    if [[ $(grep -c '^PASS: ' "$log") -eq 3 ]] && ! grep -q '^FAIL: ' "$log"; then
      t_pass "exercise proof: the sound fixture 99-1 passes"
    else
      t_fail "exercise proof: the sound fixture 99-1 passes" "$(grep -v '^TIME' "$log" | head -n 5 | tr '\n' ' ')"
    fi
  elif [[ -n ${caught[$n]:-} ]]; then
    if grep '^FAIL: ' "$log" | grep -qF -- "${caught[$n]}"; then
      t_pass "exercise proof: fixture $n is caught (${caught[$n]})"
    else
      t_fail "exercise proof: fixture $n is caught" "no FAIL line says '${caught[$n]}': $(grep -v '^TIME' "$log" | head -n 5 | tr '\n' ' ')"
    fi
  else
    t_fail "exercise proof: fixture $n" "no expectation for it in this suite"
  fi
done
for n in 99-1 "${!caught[@]}"; do
  [[ " ${fx[*]} " == *" $n "* ]] || t_fail "exercise proof: fixture $n" "missing from $FIXTREE"
done

# ---- the course's exercises ---------------------------------------------------------
mapfile -t ex < <(names "$COURSE_ROOT")
if ((${#ex[@]} == 0)); then
  t_skip "exercises" "none yet (no tests/exercises/NN-K.sh)"
  exit 0
fi
for n in "${ex[@]}"; do
  pool_wait
  prove "$COURSE_ROOT" "$n" "exercise $n" >"$tmp/ex-$n.log" 2>&1 &
done
wait
for n in "${ex[@]}"; do cat "$tmp/ex-$n.log"; done

# ---- make exercises and make check-NN-K, as a student types them ------------------
mk=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$COURSE_ROOT")
t_run "${mk[@]}" -s exercises
for n in "${ex[@]}"; do
  t_true "make exercises: $n is listed with its title from the sheet's '### $n' heading" "$(grep "^$n " <<<"$T_OUT")" \
    bash -c 'grep "^$1 " <<<"$2" | grep -v "no ### " | grep -q "make check-$1"' _ "$n" "$T_OUT"
done
t_expect "make check-NN-K: an unknown exercise is refused with the list" 2 \
  --err "check-99-9: error: no exercise 99-9 (no tests/exercises/99-9.sh); the exercises are: ${ex[*]}" -- "${mk[@]}" -s check-99-9
