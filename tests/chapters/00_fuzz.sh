#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fuzz targets' regression lane (tests/fuzz/README.md): each target
# replays its committed corpus (tests/fuzz/corpus/NAME: minimised inputs,
# every crash ever found among them) and its build-time seeds, then fuzzes
# for FUZZ_TEST_SECONDS (default 3) from there. A crash, a leak, a hang or
# a sanitizer report fails the target's line. `make fuzz` is the long run.
# The targets always carry ASan and UBSan, so in the SAN=1 lane they would
# do the same work again: there the suite replays the corpus only.
source "$(dirname "$0")/../lib.sh"
cd "$COURSE_ROOT" || exit 1
FZ=build/fuzz
secs=${FUZZ_TEST_SECONDS:-3}
[[ ${SAN:-0} == 1 ]] && secs=0

if ! make --no-print-directory -j2 V=0 fuzz-build >"$FZ.build.log" 2>&1; then
  sed 's/^/    /' "$FZ.build.log" | tail -20
  t_fail "fuzz: the targets build with clang and libFuzzer (scripts/deps.sh installs clang-14 and libclang-rt-14-dev)" \
    "make fuzz-build failed (above)"
  exit 0
fi
rm -f "$FZ.build.log"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1
work=$(course_tmpdir)

one() { # one NAME: the replay and the short fuzz, its verdict in $work/NAME.verdict
  local t=$1 dirs=() n=0 rc
  for d in tests/fuzz/corpus/$t $FZ/seeds/$t; do
    [[ -d $d ]] || continue
    dirs+=("$d")
    n=$((n + $(find "$d" -type f ! -name '.*' | wc -l)))
  done
  mkdir -p "$work/$t.corpus" "$work/$t.art"
  if ((secs > 0)); then
    timeout "$(course_limit 60)" "$FZ/bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=3072 \
      -max_len=16384 -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$work/$t.art/" \
      "$work/$t.corpus" "${dirs[@]}" >"$work/$t.log" 2>&1
  else
    timeout "$(course_limit 60)" "$FZ/bin/$t" -runs=0 -timeout=10 -rss_limit_mb=3072 -close_fd_mask=3 \
      -print_final_stats=1 -artifact_prefix="$work/$t.art/" "$work/$t.corpus" "${dirs[@]}" \
      >"$work/$t.log" 2>&1
  fi
  rc=$?
  local runs
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
  if ((rc == 0)); then
    if ((secs > 0)); then
      echo "PASS: fuzz: $t replays its $n corpus inputs and fuzzes $secs s with no crash (${runs:-?} runs)"
    else
      echo "PASS: fuzz: $t replays its $n corpus inputs with no crash (SAN lane: the plain lane fuzzes)"
    fi >"$work/$t.verdict"
  else
    {
      echo "FAIL: fuzz: $t replays its $n corpus inputs and fuzzes $secs s with no crash: exit status $rc; the report:"
      grep -E 'ERROR|SUMMARY|#[0-9]+ 0x|Test unit written|runtime error' "$work/$t.log" | head -25 | sed 's/^/    /'
      for a in "$work/$t.art"/*; do
        [[ -f $a ]] || continue
        mkdir -p "$FZ/crashes/$t" && cp "$a" "$FZ/crashes/$t/"
        echo "    reproduce: $FZ/bin/$t $FZ/crashes/$t/$(basename "$a")"
      done
    } >"$work/$t.verdict"
  fi
}

# the targets this tree builds (a stale binary of a target whose source is
# gone, such as item_name without items.c, is not run)
bins=()
while IFS= read -r n; do bins+=("$FZ/bin/$n"); done < <(make --no-print-directory -s fuzz-list)
((${#bins[@]})) || { t_fail "fuzz: the targets are built" "make fuzz-list names none"; exit 0; }
running=0
for b in "${bins[@]}"; do
  one "$(basename "$b")" &
  running=$((running + 1))
  if ((running >= 2)); then wait -n; running=$((running - 1)); fi
done
wait
for b in "${bins[@]}"; do cat "$work/$(basename "$b").verdict"; done
