#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/fernet.sh - chapter 02: Fernet encrypt+decrypt throughput.
#
# One round = make a token from a random message, then check and open it (TTL
# on). Three peers, measured now, one after the other, on this machine:
#   ours    build/bin/fernet-bench (common/fernet/fernet.c)
#   Python  cryptography.fernet under /usr/bin/python3 (OpenSSL underneath too)
#   limit   `openssl speed` on 1 MiB buffers: AES-128-CBC encryption and
#           decryption and HMAC-SHA256, combined as one round needs them
#           (encrypt + decrypt + two MACs); base64 and the rest are not in it.
# Targets (issue 3): >= 10x Python at 1 KiB; >= 60% of the limit at 1 MiB.
# FERNET_BENCH_SECONDS (default 2) sets the time per size and peer.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
SECS=${FERNET_BENCH_SECONDS:-2}
SIZES=(100 1024 1048576)
PY=/usr/bin/python3

[[ -x "$BIN/fernet-bench" ]] || { echo "fernet bench: $BIN/fernet-bench is missing (run make)" >&2; exit 1; }
if ! "$PY" -c 'import cryptography.fernet' 2>/dev/null; then
  echo "fernet bench: $PY lacks cryptography (apt-get install python3-cryptography)" >&2
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fernet-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$BIN/fernet-bench" "$SECS" "${SIZES[@]}" >"$tmp/c" || { echo "fernet bench: fernet-bench failed" >&2; exit 1; }
"$PY" - "$SECS" "${SIZES[@]}" >"$tmp/py" <<'PYEOF' || { echo "fernet bench: Python failed" >&2; exit 1; }
import os, sys, time
from cryptography.fernet import Fernet
secs = float(sys.argv[1])
f = Fernet(Fernet.generate_key())
for size in map(int, sys.argv[2:]):
    m = os.urandom(size)
    for _ in range(3):  # warm up, as the C side does
        assert f.decrypt(f.encrypt(m), ttl=60) == m
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(16):
            f.decrypt(f.encrypt(m), ttl=60)
        n += 16
        t = time.perf_counter() - t0
        if t >= secs:
            break
    print(size, n, "%.6f" % t)
PYEOF

# openssl speed -mr prints "+F:N:NAME:BYTES_PER_SECOND" for the one buffer size
speed() { openssl speed -mr -elapsed -seconds 1 -bytes 1048576 "$@" 2>/dev/null | awk -F: '/^\+F:/ {print $4}'; }
enc=$(speed -evp aes-128-cbc) dec=$(speed -decrypt -evp aes-128-cbc) mac=$(speed -hmac sha256)
[[ -n "$enc" && -n "$dec" && -n "$mac" ]] || { echo "fernet bench: openssl speed failed" >&2; exit 1; }

join -j1 <(sort -n "$tmp/c") <(sort -n "$tmp/py") | sort -n | awk -v enc="$enc" -v dec="$dec" -v mac="$mac" '
function human(n) { return n >= 1048576 ? sprintf("%d MiB", n / 1048576) : n >= 1024 ? sprintf("%d KiB", n / 1024) : sprintf("%d B", n) }
BEGIN {
  limit = 1 / (1 / enc + 1 / dec + 2 / mac)
  printf "Fernet encrypt+decrypt, one round per message (MB/s = 10^6 message bytes per second)\n"
  printf "%-8s %12s %11s %12s %11s %9s %14s\n", "message", "ours MB/s", "rounds/s", "Python MB/s", "rounds/s", "ours/Py", "ours/limit"
}
{
  size = $1; c_rate = $2 / $3; p_rate = $4 / $5
  lim = (size >= 1048576) ? sprintf("%.0f%%", 100 * c_rate * size / limit) : "-"
  printf "%-8s %12.1f %11.0f %12.1f %11.0f %8.1fx %14s\n", human(size), c_rate * size / 1e6, c_rate, p_rate * size / 1e6, p_rate, c_rate / p_rate, lim
  if (size == 1024) kib = c_rate / p_rate
  if (size == 1048576) mib = c_rate * size / limit
}
END {
  printf "limit (openssl speed, 1 MiB buffers): AES-128-CBC encrypt %.0f MB/s, decrypt %.0f MB/s, HMAC-SHA256 %.0f MB/s\n", enc / 1e6, dec / 1e6, mac / 1e6
  printf "  -> a round (encrypt, decrypt, two MACs) at most %.0f MB/s\n", limit / 1e6
  printf "target >= 10x Python at 1 KiB: %.1fx (%s); target >= 60%% of the limit at 1 MiB: %.0f%% (%s)\n", kib, (kib >= 10 ? "met" : "MISSED"), 100 * mib, (mib >= 0.6 ? "met" : "MISSED")
}'
