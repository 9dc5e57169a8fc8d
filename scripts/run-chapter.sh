#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/run-chapter.sh [--capture] NN - run chapter NN's server/client pair.
#
# The chapter's NN_*/pair.sh defines two functions: `servers` starts its
# servers (start_server ... --port 0) and `clients` runs its clients against
# them. Server narration is shown live beside the client's. With --capture the
# clients run under dumpcap (capture filter on the servers' ports); the capture
# goes to build/captures/NN_name.pcapng (or COURSE_CAPTURE_DIR) and the
# eavesdropper's view is printed. TLS chapters also get a key log
# (build/captures/NN_name.keylog) and the decrypted view.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
capture=0
if [[ "${1:-}" == "--capture" ]]; then capture=1; shift; fi
nn=${1:?usage: run-chapter.sh [--capture] NN}
dir=$(ls -d "${nn}"_* 2>/dev/null | head -n 1)
if [[ -z "$dir" || ! -f "$dir/pair.sh" ]]; then
  echo "run-chapter: error: chapter $nn: no ${nn}_*/pair.sh" >&2
  exit 2
fi
export BIN=${BIN:-${COURSE_BIN:-$ROOT/build/bin}}
source scripts/lib.sh
source scripts/capture.sh
source "$dir/pair.sh"

# COURSE_CAPTURE_DIR: where the capture goes (make instructor-captures sets it)
capdir=${COURSE_CAPTURE_DIR:-$ROOT/build/captures}
pcap="$capdir/$dir.pcapng"
keylog="$capdir/$dir.keylog"
if ((capture)); then
  capture_check || exit 1
  mkdir -p "$(dirname "$pcap")"
  rm -f "$keylog"
  # Every TLS program writes its session keys here (ignored by plain HTTP ones).
  export SSLKEYLOGFILE=$keylog
fi

echo "== chapter $dir"
servers || { echo "run-chapter: error: chapter $nn: a server did not start" >&2; exit 1; }
tails=()
for i in "${!COURSE_LOGS[@]}"; do
  # live server narration, after the 'listening on' line already shown; each
  # tail ends by itself once its server has exited, after its last lines (a
  # fixed pause and a kill lost them when the machine was slow)
  sed -n 1p "${COURSE_LOGS[$i]}"
  tail -n +2 -s 0.1 --pid="${COURSE_SERVER_PIDS[$i]}" -f "${COURSE_LOGS[$i]}" &
  tails+=($!)
done
((capture)) && { capture_start "$pcap" "${COURSE_PORTS[@]}" || exit 1; }
clients
rc=$?
((capture)) && capture_stop
stop_servers
for t in "${tails[@]}"; do wait "$t"; done
if ((capture)); then
  # plain HTTP writes no TLS keys: an empty key log would only mislead
  [[ -s "$keylog" ]] || rm -f "$keylog"
  echo
  echo "== what an eavesdropper on the loopback interface reads"
  capture_summary "$pcap"
  if [[ -s "$keylog" ]]; then
    echo
    echo "== the same capture decrypted with the key log ($keylog)"
    capture_summary "$pcap" "$keylog"
  fi
  echo
  echo "capture written to $pcap"
  echo "open it in Wireshark:  wireshark -r $pcap$([[ -s "$keylog" ]] && echo " -o tls.keylog_file:$keylog")"
fi
exit $rc
