#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make instructor-captures: the instructor pack's reference captures, made
# fresh (docs/instructor/README.md). Chapter 01 here (the others run the same
# code path as make NN-capture, which the chapter capture suites check).
source "$(dirname "$0")/../lib.sh"
source "$COURSE_ROOT/scripts/capture.sh"
cd "$COURSE_ROOT" || exit 1
tmp=$(course_tmpdir)
if ! capture_check 2>"$tmp/why"; then
  t_fail "instructor captures: dumpcap can capture on lo" "$(cat "$tmp/why")"
  exit 0
fi
T_TIMEOUT=120 t_expect "instructor captures: chapter 01 is made, with its progress and where it went" 0 \
  --out "instructor-captures: 01 (1 of 1): 01_plain_http ..." \
  --out "instructor-captures: 1 capture(s) in $tmp/captures" \
  -- env COURSE_INSTRUCTOR_DIR="$tmp" COURSE_BIN="$BIN" BIN="$BIN" scripts/instructor-captures.sh 01
c=$tmp/captures
n=$(tshark -r "$c/01_plain_http.pcapng" 2>/dev/null | wc -l)
t_true "instructor captures: the pcapng holds the chapter's packets" "$n packets" test "$n" -gt 0
t_true "instructor captures: the run's text holds the eavesdropper's view (the secret in the clear)" \
  "no 'fluffy tail' in 01_plain_http.txt" grep -q '^fluffy tail' "$c/01_plain_http.txt"
t_true "instructor captures: plain HTTP gets no key log" "a key log exists" test ! -e "$c/01_plain_http.keylog"
t_true "instructor captures: INDEX.md names the file, its packet count and SHA-256, and how to open it" \
  "$(cat "$c/INDEX.md")" grep -qF "| 01 | 01_plain_http.pcapng | $n | \`$(sha256sum "$c/01_plain_http.pcapng" | cut -c1-16)...\` | \`wireshark -r 01_plain_http.pcapng\`" "$c/INDEX.md"
t_expect "instructor captures: an unknown chapter is refused with the list" 2 \
  --err "instructor-captures: error: no chapter '07' (chapters: 01 02 03 04 05 06)" \
  -- env COURSE_INSTRUCTOR_DIR="$tmp/x" scripts/instructor-captures.sh 07
t_true "instructor captures: ...and writes nothing" "$tmp/x exists" test ! -e "$tmp/x"
