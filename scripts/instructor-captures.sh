#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/instructor-captures.sh [NN...] - `make instructor-captures`: the
# reference captures of docs/instructor/, made fresh on this machine.
#
# For each chapter (default all six) it runs the chapter's pair under dumpcap,
# as `make NN-capture` does, into build/instructor/captures/: NN_name.pcapng,
# NN_name.keylog for the TLS chapters, NN_name.txt (what the run printed: the
# narration and the eavesdropper's view, decrypted too where there is a key
# log), and INDEX.md naming each file with its packet count, its SHA-256 and
# the command that opens it. Nothing here is committed: a capture holds keys
# and passwords, and every class makes its own.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
source scripts/capture.sh
out=${COURSE_INSTRUCTOR_DIR:-$ROOT/build/instructor}/captures
chapters=("$@")
((${#chapters[@]})) || chapters=(01 02 03 04 05 06)
for nn in "${chapters[@]}"; do
  if [[ ! $nn =~ ^0[1-6]$ ]] || ! compgen -G "${nn}_*/pair.sh" >/dev/null; then
    echo "instructor-captures: error: no chapter '$nn' (chapters: 01 02 03 04 05 06)" >&2
    exit 2
  fi
done
capture_check || exit 1
mkdir -p "$out"
index="$out/INDEX.md"
{
  echo "# Reference captures (made by \`make instructor-captures\` on $(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "| chapter | file | packets | SHA-256 | open it |"
  echo "|---|---|---|---|---|"
} >"$index.new"
failed=()
i=0
for nn in "${chapters[@]}"; do
  i=$((i + 1))
  dir=$(basename "$(dirname "$(compgen -G "${nn}_*/pair.sh" | head -n 1)")")
  echo "instructor-captures: $nn ($i of ${#chapters[@]}): $dir ..."
  rm -f "$out/$dir.pcapng" "$out/$dir.keylog"
  if ! COURSE_CAPTURE_DIR=$out scripts/run-chapter.sh --capture "$nn" >"$out/$dir.txt" 2>&1; then
    echo "instructor-captures: error: chapter $nn failed; its output: $out/$dir.txt" >&2
    failed+=("$nn")
    continue
  fi
  n=$(tshark -r "$out/$dir.pcapng" 2>/dev/null | wc -l)
  sum=$(sha256sum "$out/$dir.pcapng" | cut -d' ' -f1)
  if [[ -s "$out/$dir.keylog" ]]; then
    open="wireshark -r $dir.pcapng -o tls.keylog_file:$dir.keylog"
  else
    open="wireshark -r $dir.pcapng"
  fi
  echo "| $nn | $dir.pcapng$([[ -s "$out/$dir.keylog" ]] && echo " + $dir.keylog") | $n | \`${sum:0:16}...\` | \`$open\` (tshark: \`tshark -r $dir.pcapng${open#*"$dir.pcapng"}\`) |" >>"$index.new"
  echo "instructor-captures: $nn: $dir.pcapng, $n packets$([[ -s "$out/$dir.keylog" ]] && echo ", with its key log")"
done
mv "$index.new" "$index"
if ((${#failed[@]})); then
  echo "instructor-captures: ${#failed[@]} chapter(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "instructor-captures: ${#chapters[@]} capture(s) in $out (index: $index)"
