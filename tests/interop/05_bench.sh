#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench`'s HTTPS row runs end to end: both servers start, every client
# connects, three rows of figures, no socket error and no non-2xx answer.
# Speed is not asserted here: that is what the benchmark itself reports.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)

# the limit bounds a hang; the run takes about 20 s idle, longer when busy
limit=$(course_limit 120)
HTTPS_BENCH_SECONDS=1 HTTPS_BENCH_ROUNDS=1 timeout "$limit" bash "$COURSE_ROOT/bench/https.sh" >"$tmp/out" 2>&1
rc=$?
out=$(cat "$tmp/out")
if ((rc == 124)); then
  t_fail "05 bench: bench/https.sh runs (1 s rounds)" \
    "timed out after $limit s (timeout exit status 124): $(tail -n 20 <<<"$out")"
  # rows printed before the limit are not judged
  t_true() { t_skip "$1" "not judged: bench/https.sh did not finish"; }
else
  t_true "05 bench: bench/https.sh runs (1 s rounds)" "exit status $rc: $(tail -n 20 <<<"$out")" test "$rc" = 0
fi
for r in "keep-alive" "new TLS connection, resumed" "new TLS connection, full"; do
  t_true "05 bench: row '$r' has figures for both servers and no error" "$(grep -F "$r" <<<"$out")" \
    grep -Eq "^$r +[0-9]+ +[0-9]+ +[0-9.]+x +0/0 " <<<"$out"
done
t_true "05 bench: no error line" "$(grep -F '(errors:' <<<"$out")" test "$(grep -cF '(errors:' <<<"$out")" = 0
t_true "05 bench: checks on the wire that wrk resumes and s_time does not" "$out" \
  grep -Eq '^05-server +handshakes seen: wrk \(close\) 1 full \+ [1-9][0-9]* resumed; s_time -new [1-9][0-9]* full \+ 0 resumed' <<<"$out"
