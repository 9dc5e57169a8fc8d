# SPDX-License-Identifier: MIT
# scripts/capture.sh - capture loopback traffic the way an eavesdropper would.
# Source it (after scripts/lib.sh); do not run it.
#
#   capture_check                  0 if dumpcap may capture on lo here; else
#                                  prints why and how to fix it, returns 1
#   capture_start FILE PORT...     start dumpcap on lo with the capture filter
#                                  "tcp port P1 or tcp port P2 ...", wait until
#                                  it captures; stopped on exit if forgotten
#   capture_stop                   stop it and wait until FILE is complete
#   capture_summary FILE [KEYLOG]  what an eavesdropper reads: every TCP
#                                  conversation as text (non-printables as '.'),
#                                  each side's bytes under a line naming who
#                                  sent them to whom (follow-sides.py); with a
#                                  TLS key log, the decrypted HTTP instead
#   capture_payload FILE [KEYLOG]  all TCP payload bytes as text, for grep
#   capture_handshakes FILE        "FULL RESUMED": TLS 1.3 handshakes the
#                                  server did in full / resumed from a ticket
#
# Wireshark's own tools do the work: dumpcap writes pcapng, tshark reads it.

_CAPTURE_PID=
_CAPTURE_ERR=
_CAPTURE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

capture_check() {
  if ! command -v dumpcap >/dev/null 2>&1; then
    echo "capture: dumpcap is not installed (Debian package tshark)." >&2
    echo "hint: sudo apt-get install tshark   (or run 'make test' as root once)" >&2
    return 1
  fi
  local out
  # -L opens the device for real (listing interfaces with -D does not, and
  # succeeds for anyone), so a user who may not capture is caught here
  if ! out=$(timeout 10 dumpcap -i lo -L 2>&1) || grep -qi 'not permitted\|permission' <<<"$out"; then
    echo "capture: dumpcap may not capture on the loopback interface 'lo' as user $(id -un):" >&2
    head -n 2 <<<"$out" | sed 's/^/  | /' >&2
    echo "hint: add yourself to group wireshark (sudo dpkg-reconfigure wireshark-common; answer yes;" >&2
    echo "      sudo usermod -aG wireshark \$USER; log in again), or run the capture as root." >&2
    return 1
  fi
  return 0
}

capture_start() {
  local file=$1
  shift
  local filter="" p
  for p in "$@"; do filter+="${filter:+ or }tcp port $p"; done
  [[ -n "$filter" ]] || { echo "capture_start: no port given" >&2; return 1; }
  mkdir -p "$(dirname "$file")"
  rm -f "$file"
  _CAPTURE_ERR=$(mktemp "${TMPDIR:-/tmp}/dumpcap.XXXXXX")
  dumpcap -q -i lo -f "$filter" -w "$file" 2>"$_CAPTURE_ERR" &
  _CAPTURE_PID=$!
  _COURSE_PIDS+=("$_CAPTURE_PID")
  local i
  for ((i = 0; i < 100; i++)); do
    if grep -q "Capturing on" "$_CAPTURE_ERR" 2>/dev/null; then
      # dumpcap says so a moment before its capture is live; under load the
      # first packets were seen to go missing without this pause
      sleep 0.5
      return 0
    fi
    if ! kill -0 "$_CAPTURE_PID" 2>/dev/null; then
      echo "capture: dumpcap stopped at once:" >&2
      sed 's/^/  | /' "$_CAPTURE_ERR" >&2
      echo "hint: capturing needs root or membership of group wireshark (see 'make doctor')" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "capture: dumpcap did not start capturing within 10 s" >&2
  return 1
}

capture_stop() {
  [[ -n "$_CAPTURE_PID" ]] || return 0
  # let the last packets (FIN/ACK) reach the capture before stopping it
  sleep 0.3
  stop_server "$_CAPTURE_PID"
  _CAPTURE_PID=
  rm -f "$_CAPTURE_ERR"
}

_tshark_keylog_opts() {
  [[ -n "${1:-}" ]] && printf '%s\n' -o "tls.keylog_file:$1"
}

capture_summary() {
  local file=$1 keylog=${2:-} s opts=()
  mapfile -t opts < <(_tshark_keylog_opts "$keylog")
  local n
  n=$(tshark -r "$file" 2>/dev/null | wc -l)
  echo "capture: $file ($n packets)"
  local ends streams
  # at most 20 conversations and 60 lines of each, and a cut is said
  mapfile -t streams < <(tshark -r "$file" -T fields -e tcp.stream 2>/dev/null | sort -un)
  for s in "${streams[@]:0:20}"; do
    # who opened the connection (the SYN without ACK): the client
    ends=$(tshark -r "$file" -Y "tcp.stream == $s && tcp.flags.syn == 1 && tcp.flags.ack == 0" \
      -T fields -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport 2>/dev/null | head -n 1 |
      awk -F'\t' 'NF == 4 { print $1 ":" $2, $3 ":" $4 }')
    if [[ -n "$keylog" ]]; then
      echo "--- TCP conversation $s, decrypted with the key log ---"
      tshark -r "$file" "${opts[@]}" -q -z "follow,tls,ascii,$s" 2>/dev/null |
        "$_CAPTURE_DIR/follow-sides.py" --max-lines 60 $ends
    else
      echo "--- TCP conversation $s, as anyone on the path reads it ---"
      tshark -r "$file" -q -z "follow,tcp,ascii,$s" 2>/dev/null |
        "$_CAPTURE_DIR/follow-sides.py" --max-lines 60 $ends
    fi
  done
  if ((${#streams[@]} > 20)); then
    echo "[... $((${#streams[@]} - 20)) more TCP conversations cut: tshark -r $file -q -z conv,tcp lists them all]"
  fi
}

capture_payload() {
  local file=$1 keylog=${2:-} opts=()
  mapfile -t opts < <(_tshark_keylog_opts "$keylog")
  if [[ -n "$keylog" ]]; then
    # decrypted application data, as tshark reassembles it
    for s in $(tshark -r "$file" -T fields -e tcp.stream 2>/dev/null | sort -un); do
      tshark -r "$file" "${opts[@]}" -q -z "follow,tls,ascii,$s" 2>/dev/null
    done
    return
  fi
  tshark -r "$file" -T fields -e tcp.payload 2>/dev/null | tr -d ':\n' |
    /usr/bin/python3 -c 'import sys,binascii; sys.stdout.write(binascii.unhexlify(sys.stdin.read().strip()).decode("latin-1"))'
}

# TLS 1.3 only: a ServerHello that carries the pre_shared_key extension (type
# 41) accepted the client's ticket: a resumed handshake, without certificate
# or signature. That extension is in the clear, so no key log is needed.
# (A HelloRetryRequest would count as one more full handshake; TLS 1.2 marks
# resumption differently and would count as full.)
capture_handshakes() {
  tshark -r "$1" -Y 'tls.handshake.type == 2' -T fields -e tls.handshake.extension.type 2>/dev/null |
    awk '{ if ($0 ~ /(^|,)41(,|$)/) r++; else f++ } END { printf "%d %d\n", f, r }'
}
