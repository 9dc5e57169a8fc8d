#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/06_records.sh - chapter 06: acknowledged, signed, encrypted, stored
# records per second, against the bounds measured in the same run.
#
# Ours: 06-load (06_full_protocol/load.c) against 06-server: N kept-alive
# sessions, one thread and one enrolled device each, every record signed and
# every HELLO done before the clock starts; a record counts when its answer
# says "stored" (sent only after the COMMIT holding it was durable).
# Rows: 16 and 32 sessions, Ed25519 and P-256 devices; and at 32 Ed25519
# sessions, the server with --lab --lab-no-group-commit (one fsync per record)
# and with --lab --lab-sync-normal (NOT power-loss safe).
#
# The bounds, each measured here, now, on this machine:
#   verify   `openssl speed -multi NPROC` Ed25519 / ECDSA P-256 verify/s: the
#            server checks one signature per record
#   sqlite   06-sqlbench: the store alone (same module, schema, WAL,
#            synchronous=FULL, group-commit writer; the same record, the same
#            number of concurrent writers; the row's switches)
#   https    06-load --plain against 05-server: a POST of the same body size
#            on the same number of kept-alive TLS 1.3 connections (no
#            envelope, no signature, no store), like 05-server's own bench
# composite = the minimum of the three: each is a stage every record passes,
# so none can be beaten; the real pipeline shares the same cores, so even the
# minimum is optimistic. ratio = our records/s / composite.
#
# BENCH06_RECORDS (200) records per session; BENCH06_SLOW (50) for the
# no-group-commit row (one fsync each). CSV: build/bench/06_records.csv;
# plot: build/bench/06_records.png (gnuplot).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
export BIN=${BIN:-$ROOT/build/bin}
R=${BENCH06_RECORDS:-200}
SLOW=${BENCH06_SLOW:-50}
OUT=$ROOT/build/bench
CSV=$OUT/06_records.csv
PNG=$OUT/06_records.png
mkdir -p "$OUT"
source scripts/lib.sh
for p in 06-server 06-load 06-sqlbench 05-server; do
  [[ -x $BIN/$p ]] || { echo "06 bench: $BIN/$p is missing (make)" >&2; exit 1; }
done
command -v openssl >/dev/null || { echo "06 bench: openssl is not installed (make deps)" >&2; exit 1; }
CORES=$(nproc)
tmp=$(course_tmpdir)
P=$tmp/pki
04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1 || { echo "06 bench: make-pki.sh failed" >&2; exit 1; }
export COURSE06_PASSWORD='bench password, long enough'
RAW=$tmp/raw.csv
LOG=$OUT/06_records.log # what the programs printed, for a look when a row shows errors
: >"$LOG"

# ---- the bounds ----
# openssl speed prints "... sign verify sign/s verify/s"; -multi sums the processes
speed_verify() { # ALG -> verify/s on all cores
  openssl speed -multi "$CORES" -seconds 3 "$1" 2>/dev/null | awk -v a="$2" '$0 ~ a {v=$NF} END {printf "%.0f", v}'
}
# a shared machine: what else ran is part of every figure, ours and the bounds alike
echo "load average before the bench: $(cut -d' ' -f1-3 /proc/loadavg) ($CORES cores)"
echo "bounds (each measured now; $CORES cores):"
V_ED=$(speed_verify ed25519 'Ed25519')
V_P256=$(speed_verify ecdsap256 'nistp256')
printf '  %-40s %8s verify/s\n' "openssl speed -multi $CORES ed25519" "$V_ED" "openssl speed -multi $CORES ecdsap256" "$V_P256"

sqlbench() { # LABEL SESSIONS RECORDS [switches] -> records/s
  local d
  d=$(mktemp -d "$tmp/sql.XXXXXX")
  "$BIN/06-sqlbench" --data "$d/store" --threads "$2" --records "$3" "${@:4}" >>"$LOG" 2>&1 &&
    tail -n 1 "$LOG" | sed -n 's/.*: \([0-9]*\) records\/s.*/\1/p'
  rm -rf "$d"
}
declare -A SQ
for s in 16 32; do SQ[$s]=$(sqlbench full "$s" "$R"); done
SQ[nogroup]=$(sqlbench nogroup 32 "$SLOW" --no-group)
SQ[normal]=$(sqlbench normal 32 "$R" --sync-normal)
printf '  %-40s %8s records/s\n' "06-sqlbench, 16 writers" "${SQ[16]}" "06-sqlbench, 32 writers" "${SQ[32]}" \
  "06-sqlbench, 32, no group commit" "${SQ[nogroup]}" "06-sqlbench, 32, synchronous=NORMAL" "${SQ[normal]}"

SRV6=(--cert "$P/server-chain.crt" --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass" -q)
start6() { # extra server options
  start_server 06-server "$BIN/06-server" --port 0 --data "$tmp/data" "${SRV6[@]}" "$@" ||
    { echo "06 bench: 06-server did not start" >&2; exit 1; }
  URL="https://localhost:$SERVER_PORT"
  PID6=$SERVER_PID
}
TICK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; } # utime + stime of every thread
load() { # 06-load options... -> the result line in $LINE, the CSV row in $RAW, the server's CPU us/record in $SCPU
  local rc t0 t1 n
  t0=$(ticks "$PID6")
  LINE=$("$BIN/06-load" --url "$URL" --cacert "$P/root.crt" --homes "$tmp/homes" --csv "$RAW" "$@" 2>>"$LOG")
  rc=$?
  t1=$(ticks "$PID6")
  n=$(sed -n 's/.*(\([0-9]*\) acknowledged.*/\1/p' <<<"$LINE")
  SCPU=$(awk -v a="$t0" -v b="$t1" -v n="${n:-0}" -v t="$TICK" 'BEGIN {printf "%.0f", n ? (b - a) * 1e6 / t / n : 0}')
  echo "$LINE (server CPU $SCPU us per record)" >>"$LOG"
  return $rc
}

# the devices: enrolled, and their first HELLO and record done (warm caches)
start6
for k in ed25519 p256; do
  load --enrol --key-type "$k" --sessions 32 --records 2 --label warm ||
    { echo "06 bench: enrolling the $k devices failed (see $LOG)" >&2; exit 1; }
done
BODY=$(tail -n 1 "$RAW" | cut -d, -f12)

# ---- 05-server, the same body on as many kept-alive connections ----
start_server 05-server "$BIN/05-server" --port 0 --cert "$P/server-chain.crt" --key "$P/server.key" \
  --tls13-only -q || { echo "06 bench: 05-server did not start" >&2; exit 1; }
PID5=$SERVER_PID
declare -A HT
for s in 16 32; do
  LINE=$("$BIN/06-load" --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt" --plain /echo \
    --body-size "$BODY" --sessions "$s" --records "$R" 2>>"$LOG")
  echo "$LINE" >>"$LOG"
  HT[$s]=$(sed -n 's/.*: \([0-9]*\) requests\/s.*/\1/p' <<<"$LINE")
done
stop_server "$PID5"
printf '  %-40s %8s requests/s\n' "05-server POST /echo, $BODY B, 16 conns" "${HT[16]}" \
  "05-server POST /echo, $BODY B, 32 conns" "${HT[32]}"
echo

# ---- our rows ----
ROWS=() # "label|key|sessions|sqlite bound key|note"
run_rows() { # SQKEY NOTE RECORDS KEY SESSIONS...
  local sq=$1 note=$2 n=$3 k=$4 s
  shift 4
  for s in "$@"; do
    load --key-type "$k" --sessions "$s" --records "$n" --label "$k/$s${note:+/$sq}"
    ROWS+=("$k|$s|${sq:-$s}|$note|$SCPU|$LINE")
  done
}
for k in ed25519 p256; do run_rows "" "" "$R" "$k" 16 32; done
stop_server "$PID6"
start6 --lab --lab-no-group-commit
run_rows nogroup "no group commit" "$SLOW" ed25519 32
stop_server "$PID6"
start6 --lab --lab-sync-normal
run_rows normal "synchronous=NORMAL: NOT power-loss safe" "$R" ed25519 32
stop_server "$PID6"

# ---- the table ----
min() { printf '%s\n' "$@" | grep -E '^[0-9]+$' | sort -n | head -n 1; }
echo "key      sessions records/s  p50 ms  p99 ms errors | verify  sqlite   https composite  ratio | CPU us/record: server client"
echo "label,key,sessions,records_per_s,p50_ms,p99_ms,errors,verify_bound,sqlite_bound,https_bound,composite,ratio,note,server_cpu_us,client_cpu_us" >"$CSV"
declare -A RPS P99 RATIO
for row in "${ROWS[@]}"; do
  IFS='|' read -r k s sq note scpu line <<<"$row"
  ccpu=$(sed -n 's/.*CPU \([0-9]*\) us per record.*/\1/p' <<<"$line")
  rps=$(sed -n 's/.*: \([0-9]*\) records\/s.*/\1/p' <<<"$line")
  p50=$(sed -n 's/.*p50 \([0-9.]*\) ms.*/\1/p' <<<"$line")
  p99=$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' <<<"$line")
  err=$(sed -n 's/.* \([0-9]*\) errors.*/\1/p' <<<"$line")
  [[ -n $rps ]] || { rps=0; p50=-; p99=-; err="failed (see $LOG)"; }
  v=$V_ED
  [[ $k == p256 ]] && v=$V_P256
  comp=$(min "$v" "${SQ[$sq]}" "${HT[$s]}")
  ratio=$(awk -v a="$rps" -v b="$comp" 'BEGIN {printf "%.2f", b ? a / b : 0}')
  printf '%-8s %8s %9s %7s %7s %6s | %6s %7s %7s %9s %6s | %20s %6s%s\n' "$k" "$s" "$rps" "$p50" "$p99" "$err" "$v" \
    "${SQ[$sq]}" "${HT[$s]}" "$comp" "$ratio" "$scpu" "$ccpu" "${note:+  ($note)}"
  echo "$k/$s${note:+/$sq},$k,$s,$rps,$p50,$p99,$err,$v,${SQ[$sq]},${HT[$s]},$comp,$ratio,$note,$scpu,$ccpu" >>"$CSV"
  if [[ -z $note ]]; then RPS[$k/$s]=$rps; P99[$k/$s]=$p99; RATIO[$k/$s]=$ratio; fi
done
echo "composite = min(verify, sqlite, https) for the row's key type, sessions and store switches; ratio = records/s / composite"
echo "a ratio above 1: the bound was measured a minute apart on a shared machine, and moved (fsync rates do)"
echo "CPU: what the server and the load generator each spent per acknowledged record; both share the $CORES cores,"
echo "     so $CORES x 1e6 / (server + client) is the most this machine can do whatever the stages"
echo

# ---- the targets, met or missed ----
verdict() { # NAME CONDITION-TEXT TRUE/FALSE
  if [[ $3 == 1 ]]; then echo "  met:    $1 ($2)"; else echo "  missed: $1 ($2)"; fi
}
echo "targets:"
best=$(printf '%s\n' "${RPS[ed25519/16]:-0}" "${RPS[ed25519/32]:-0}" | sort -n | tail -n 1)
verdict ">= 5000 records/s with Ed25519 devices" "best $best records/s, ratio $(awk -v a="$best" 'BEGIN {printf "%.2f", a / 5000}') of 5000" \
  "$(awk -v a="$best" 'BEGIN {print (a >= 5000)}')"
for r in ed25519/16 ed25519/32 p256/16 p256/32; do
  verdict ">= half the composite bound, $r" "ratio ${RATIO[$r]:-0}" "$(awk -v a="${RATIO[$r]:-0}" 'BEGIN {print (a >= 0.5)}')"
done
for r in ed25519/32 p256/32; do
  verdict "p99 < 20 ms at 32 sessions, $r" "p99 ${P99[$r]:-?} ms, ratio $(awk -v a="${P99[$r]:-0}" 'BEGIN {printf "%.2f", a / 20}') of 20 ms" \
    "$(awk -v a="${P99[$r]:-999}" 'BEGIN {print (a < 20)}')"
done
errs=0
for row in "${ROWS[@]}"; do
  e=$(sed -n 's/.* \([0-9]*\) errors.*/\1/p' <<<"${row##*|}")
  errs=$((errs + ${e:-1}))
done
verdict "zero errors" "$errs in all rows" "$((errs == 0))"
echo "CSV: $CSV (the load generator's own rows: $LOG)"

# ---- the plot ----
if command -v gnuplot >/dev/null; then
  awk -F, 'NR > 1 && $13 == "" {print $2, $3, $4, $11}' "$CSV" >"$tmp/plot.dat"
  gnuplot <<EOF 2>>"$LOG" && echo "plot: $PNG"
set terminal png size 800,500
set output "$PNG"
set title "chapter 06: acknowledged records/s against concurrent sessions ($CORES cores)"
set xlabel "sessions"
set ylabel "records/s"
set yrange [0:*]
set xtics (16, 32)
set key left top
plot "< grep '^ed25519' $tmp/plot.dat" using 2:3 with linespoints title "Ed25519 devices", \
     "< grep '^p256' $tmp/plot.dat" using 2:3 with linespoints title "P-256 devices", \
     "< grep '^ed25519' $tmp/plot.dat" using 2:4 with linespoints dashtype 2 title "composite bound (Ed25519)", \
     "< grep '^p256' $tmp/plot.dat" using 2:4 with linespoints dashtype 2 title "composite bound (P-256)"
EOF
else
  echo "plot: skipped, gnuplot is not installed (apt-get install gnuplot-nox, or make deps)"
fi
exit 0
