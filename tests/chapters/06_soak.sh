#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06: a short soak (bench/06_soak.sh for 30 s, its long run is in
# make bench). Four workers alternate 06-client send-record and the
# independent client's sessions of 10 records against one 06-server, while
# the server's VmRSS is sampled. Correctness, not speed: every client run
# must succeed (0 errors), every acknowledged record must be in the store
# once with a signature the audit verifies, the server's memory must stay
# under a bound after the warm-up (a looser one than make bench's 4 MiB:
# 8 MiB, for a run this short on a busy machine; under SAN=1 the RSS is
# ASan's and LeakSanitizer judges instead), and the server must exit 0 on
# SIGTERM. How many records a second it managed is printed, never
# asserted.
source "$(dirname "$0")/../lib.sh"
if ! /usr/bin/python3 -c 'import OpenSSL, cryptography' 2>/dev/null; then
  t_fail "06 soak: /usr/bin/python3 has pyOpenSSL and cryptography" "install python3-openssl and python3-cryptography"
  exit 0
fi
T_TIMEOUT=120 t_run env SOAK_SECONDS=30 SOAK_WARMUP=10 SOAK_WORKERS=4 SOAK_TOLERANCE_PCT=25 \
  SOAK_TOLERANCE_KIB=8192 bash "$COURSE_ROOT/bench/06_soak.sh"
printf '%s\n' "$T_OUT" | sed 's/^/  | /'
[[ -n "$T_ERR" ]] && printf '%s\n' "$T_ERR" | head -n 20 | sed 's/^/  | err: /'
if ((T_TIMED_OUT)); then
  t_fail "06 soak: the 30 s soak ends" "stopped by its time limit ($(course_limit 120) s)"
  exit 0
fi
line() { grep -m 1 "^$1" <<<"$T_OUT"; }
errors=$(line 'client runs:' | sed -n 's/.*errors: \([0-9]*\)$/\1/p')
acked=$(line 'client runs:' | sed -n 's/.*records acknowledged: \([0-9]*\),.*/\1/p')
stored=$(line 'client runs:' | sed -n 's/.*records in the store: \([0-9]*\),.*/\1/p')
T_RC=
t_true "06 soak: 30 s of sessions and records, 0 client runs failed" "$(line 'client runs:')" \
  test -n "$errors" -a "$errors" = 0 -a "${acked:-0}" -gt 0
t_true "06 soak: every acknowledged record is in the store, once" "$(line 'client runs:')" test "$acked" = "$stored"
t_true "06 soak: 06-admin audit verifies every stored signature" "$(line 'audit:')" \
  grep -q "\"checked\":$stored,\"bad\":0" <<<"$(line 'audit:')"
if [[ "${SAN:-0}" == 1 ]]; then
  # ASan's allocator grows on its own (bench/06_soak.sh says why); its leak check is the exit status below
  t_skip "06 soak: the server's memory stays under the bound after the warm-up (a leak check, not a speed test)" \
    "under SAN=1 the RSS is ASan's allocator's ($(line 'server VmRSS')); LeakSanitizer judges at the server's exit"
else
  t_true "06 soak: the server's memory stays under the bound after the warm-up (a leak check, not a speed test)" \
    "$(line 'server VmRSS'); $(line 'memory:')" grep -q '^memory: flat' <<<"$(line 'memory:')"
fi
t_true "06 soak: the server stops cleanly on SIGTERM after the soak (exit 0: no sanitizer report at exit)" \
  "$(line 'server exit')" test "$(line 'server exit')" = "server exit on SIGTERM: 0"
t_true "06 soak: the soak's own verdict is ok" "exit status $T_RC; $T_ERR" grep -q '^06 soak: ok' <<<"$T_OUT"
