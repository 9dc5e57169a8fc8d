#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/https.sh - chapter 05: 05-server against nginx over HTTPS, with wrk.
#
# Same machine, same run, same certificate chain (a course PKI made here by
# make-pki.sh), same TLS policy (TLS 1.2+1.3, the course's ECDHE+AEAD suites,
# X25519/P-256/P-384, server order, session cache and tickets), same body
# ("fluffy tail", 11 bytes, plus HSTS, Cache-Control and nosniff headers).
# nginx runs as a private instance: its own prefix, config, pid and logs under
# a temp dir, no access log; 05-server runs with --quiet (no narration).
#
# Three measurements per server, each for HTTPS_BENCH_SECONDS (5):
#   keep-alive        wrk -t2 -c50: requests/s over 50 kept-alive TLS connections
#   new, resumed      wrk -t2 -c50 -H "Connection: close": every request on a new
#                     TLS connection. wrk keeps the session ticket of its first
#                     connection and offers it on every later one, so these are
#                     resumed TLS 1.3 handshakes (PSK + ECDHE: no certificate, no
#                     signature); the bench checks this on the wire first.
#   new, full         HTTPS_BENCH_CLIENTS (3) parallel `openssl s_time -new`:
#                     a full handshake (certificate, ECDSA signature) and one GET
#                     per connection, as a first-time visitor makes.
# plus socket errors (wrk: connect/read/write/timeout; s_time: clients that
# failed) and non-2xx answers, and each server's CPU time per 1000 requests (from
# /proc: all its processes and threads).
# Each figure is the best of HTTPS_BENCH_ROUNDS (2) rounds, servers alternating.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
export BIN=${BIN:-$ROOT/build/bin}
SECS=${HTTPS_BENCH_SECONDS:-5}
ROUNDS=${HTTPS_BENCH_ROUNDS:-2}
THREADS=${HTTPS_BENCH_SERVER_THREADS:-64}
CLIENTS=${HTTPS_BENCH_CLIENTS:-3}
# what the clients printed, kept for a look when a row shows errors
LOGS=$ROOT/build/bench
mkdir -p "$LOGS" && : >"$LOGS/https-wrk.log" && : >"$LOGS/https-stime.log"
source scripts/lib.sh
source scripts/capture.sh

for tool in wrk nginx openssl; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] ||
    { echo "https bench: $tool is not installed (make deps)" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
tmp=$(course_tmpdir)
P=$tmp/pki
04_pki_ca/make-pki.sh "$BIN" "$P" >/dev/null 2>&1 || { echo "https bench: make-pki.sh failed" >&2; exit 1; }
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- nginx, configured like 05-server ----
ciphers=$(sed -n 's/^ *"\(ECDHE[^"]*\)" *\\*$/\1/p' common/tls/tls.h | tr -d '\n')
ngport=$(free_port)
mkdir -p "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  server_tokens off;
  keepalive_timeout 15s;
  keepalive_requests 100000;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers $ciphers;
  ssl_prefer_server_ciphers on;
  ssl_ecdh_curve X25519:prime256v1:secp384r1;
  ssl_session_cache shared:SSL:10m;
  ssl_session_tickets on;
  server {
    listen 127.0.0.1:$ngport ssl;
    server_name localhost;
    ssl_certificate $P/server-chain.crt;
    ssl_certificate_key $P/server.key;
    location = / {
      default_type "text/plain; charset=utf-8";
      add_header Cache-Control no-store;
      add_header X-Content-Type-Options nosniff;
      add_header Strict-Transport-Security "max-age=63072000";
      return 200 "fluffy tail";
    }
  }
}
EOF
"$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" \
  >"$tmp/nginx/out.log" 2>&1 &
ngpid=$!
_COURSE_PIDS+=("$ngpid")
for ((i = 0; i < 50; i++)); do
  curl -sf --cacert "$P/root.crt" "https://localhost:$ngport/" >/dev/null 2>&1 && break
  sleep 0.1
done
[[ $(curl -s --cacert "$P/root.crt" "https://localhost:$ngport/") == "fluffy tail" ]] ||
  { echo "https bench: nginx did not start:" >&2; cat "$tmp/nginx/logs/error.log" >&2; exit 1; }

start_server 05-server "$BIN/05-server" --quiet --port 0 --threads "$THREADS" \
  --cert "$P/server-chain.crt" --key "$P/server.key" || exit 1
ourport=$SERVER_PORT
[[ $(curl -s --cacert "$P/root.crt" "https://localhost:$ourport/") == "fluffy tail" ]] ||
  { echo "https bench: 05-server does not answer" >&2; exit 1; }

# usage PIDS...: "TICKS SWITCHES" used so far by the given processes: CPU time
# (clock ticks, user + system) and context switches (voluntary and not), summed
# over all their threads
usage() {
  local p t=0 sw=0
  for p in "$@"; do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    sw=$((sw + $(cat /proc/"$p"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n + 0}')))
  done
  echo "$t $sw"
}
# per_request REQUESTS "BEFORE" "AFTER": "CPU_MS_PER_1000 SWITCHES_PER_REQUEST"
# The server's CPU time per request does not depend on what else the machine
# runs at the time, unlike requests/s: on a shared machine it is the steadier
# figure. Context switches show how often a request put a thread to sleep.
per_request() {
  local n=$1 t0 s0 t1 s1
  read -r t0 s0 <<<"$2"
  read -r t1 s1 <<<"$3"
  awk -v n="$n" -v c=$((t1 - t0)) -v s=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN {if (n > 0) printf "%.1f %.2f", c * 1000 / hz * 1000 / n, s / n; else print "0 0"}'
}
# run_wrk "PIDS" PORT [HEADER]: prints
# "REQ_PER_S ERRORS NON2XX CPU_MS_PER_1000_REQUESTS SWITCHES_PER_REQUEST"
run_wrk() {
  local pids=$1 port=$2 out rps errs non2xx reqs u0 u1
  shift 2
  # shellcheck disable=SC2086
  u0=$(usage $pids)
  out=$(wrk -t2 -c50 -d"${SECS}s" "$@" "https://localhost:$port/" 2>&1)
  # shellcheck disable=SC2086
  u1=$(usage $pids)
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  errs=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "${rps:-0} ${errs:-0} ${non2xx:-0} $(per_request "${reqs:-0}" "$u0" "$u1")"
  echo "$out" >>"$LOGS/https-wrk.log"
}
# run_stime "PIDS" PORT: CLIENTS parallel `openssl s_time -new`, full handshakes;
# prints the same five figures as run_wrk (s_time sees no HTTP status: 0 non-2xx)
run_stime() {
  local pids=$1 port=$2 u0 u1 t0 t1 i n=0 failed=0 clients=()
  # shellcheck disable=SC2086
  u0=$(usage $pids)
  t0=$(date +%s.%N)
  for ((i = 0; i < CLIENTS; i++)); do
    # s_time has no read timeout of its own: a stalled server must not hang the bench
    timeout $((SECS + 30)) openssl s_time -connect "localhost:$port" -new -time "$SECS" -www / \
      >"$tmp/stime.$i" 2>&1 &
    clients+=($!)
  done
  wait "${clients[@]}"
  t1=$(date +%s.%N)
  # shellcheck disable=SC2086
  u1=$(usage $pids)
  for ((i = 0; i < CLIENTS; i++)); do
    local got
    got=$(awk '/connections in .* real seconds/ {print $1}' "$tmp/stime.$i")
    if [[ -z "$got" ]] || grep -q ':error:' "$tmp/stime.$i"; then failed=$((failed + 1)); fi
    n=$((n + ${got:-0}))
    cat "$tmp/stime.$i" >>"$LOGS/https-stime.log"
  done
  echo "$(awk -v n="$n" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.1f", n / (t1 - t0)}') $failed 0 $(per_request "$n" "$u0" "$u1")"
}
# handshakes PORT CLIENT...: run the client under dumpcap; "FULL RESUMED"
handshakes() {
  local port=$1
  shift
  capture_start "$tmp/hs.pcapng" "$port" 2>/dev/null || { echo "? ?"; return; }
  "$@" >/dev/null 2>&1
  capture_stop
  capture_handshakes "$tmp/hs.pcapng"
}
best() { # best OLD NEW: the figures of the round with the higher req/s, but the
  # errors and non-2xx answers of all rounds (a failing round must not hide)
  local line o_err o_bad n_err n_bad
  if [[ -z "$1" ]] || awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN {exit !(b > a)}'; then line=$2; else line=$1; fi
  [[ -n "$1" ]] || { echo "$line"; return; }
  read -r _ o_err o_bad _ <<<"$1"
  read -r _ n_err n_bad _ <<<"$2"
  awk -v e=$((o_err + n_err)) -v b=$((o_bad + n_bad)) '{ $2 = e; $3 = b; print }' <<<"$line"
}
ourpids=$SERVER_PID
ngpids="$ngpid $(pgrep -P "$ngpid" | tr '\n' ' ')"

# What wrk's and s_time's new connections really are, seen on the wire.
if capture_check 2>/dev/null; then
  for who in "05-server $ourport" "nginx $ngport"; do
    read -r name port <<<"$who"
    read -r wf wr <<<"$(handshakes "$port" wrk -t1 -c1 -d1s -H "Connection: close" "https://localhost:$port/")"
    read -r sf sr <<<"$(handshakes "$port" openssl s_time -connect "localhost:$port" -new -time 1 -www /)"
    printf '%-9s handshakes seen: wrk (close) %s full + %s resumed; s_time -new %s full + %s resumed\n' \
      "$name" "$wf" "$wr" "$sf" "$sr"
  done
else
  echo "(cannot capture here: the resumed/full split of each client is not checked on the wire)"
fi

ka_ours="" ka_ng="" nc_ours="" nc_ng="" fh_ours="" fh_ng=""
for ((r = 0; r < ROUNDS; r++)); do
  ka_ours=$(best "$ka_ours" "$(run_wrk "$ourpids" "$ourport")")
  ka_ng=$(best "$ka_ng" "$(run_wrk "$ngpids" "$ngport")")
  nc_ours=$(best "$nc_ours" "$(run_wrk "$ourpids" "$ourport" -H "Connection: close")")
  nc_ng=$(best "$nc_ng" "$(run_wrk "$ngpids" "$ngport" -H "Connection: close")")
  fh_ours=$(best "$fh_ours" "$(run_stime "$ourpids" "$ourport")")
  fh_ng=$(best "$fh_ng" "$(run_stime "$ngpids" "$ngport")")
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", (b > 0 ? a / b : 0)}'; }
row() { # row NAME OURS NGINX
  local name=$1
  read -r o_rps o_err o_bad o_cpu o_sw <<<"$2"
  read -r n_rps n_err n_bad n_cpu n_sw <<<"$3"
  printf '%-32s %10.0f %10.0f %7s %8s  %9s %9s %7s  %8s %8s\n' "$name" "$o_rps" "$n_rps" \
    "$(ratio "$o_rps" "$n_rps")" "$o_err/$o_bad" "$o_cpu" "$n_cpu" "$(ratio "$o_cpu" "$n_cpu")" "$o_sw" "$n_sw"
  [[ "$o_err" == 0 && "$o_bad" == 0 && "$n_err" == 0 && "$n_bad" == 0 ]] ||
    echo "  (errors: 05-server $o_err socket / $o_bad non-2xx, nginx $n_err / $n_bad;" \
      "the clients' output is in build/bench/https-wrk.log and https-stime.log)"
}
echo "wrk -t2 -c50 and $CLIENTS x openssl s_time -new, ${SECS} s, best of $ROUNDS, errors of all rounds; $(nproc) cores; 05-server --threads $THREADS; nginx $("$NGINX" -v 2>&1 | sed 's#.*/##') workers auto"
printf '%-32s %10s %10s %7s %8s  %9s %9s %7s  %8s %8s\n' "HTTPS, TLS 1.3, 11-byte body" "05-server" "nginx" \
  "ratio" "errors" "CPU ours" "CPU nginx" "ratio" "switches" "switches"
printf '%-32s %10s %10s %7s %8s  %9s %9s %7s  %8s %8s\n' "" "req/s" "req/s" "" "(ours)" "ms/1000" "ms/1000" "" \
  "ours/req" "nginx/req"
row "keep-alive" "$ka_ours" "$ka_ng"
row "new TLS connection, resumed" "$nc_ours" "$nc_ng"
row "new TLS connection, full" "$fh_ours" "$fh_ng"
