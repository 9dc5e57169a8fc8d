#!/usr/bin/env bash
# bench/https.sh - chapter 05: 05-server against nginx over HTTPS, with wrk.
#
# Same machine, same run, same certificate chain (a course PKI made here by
# make-pki.sh), same TLS policy (TLS 1.2+1.3, the course's ECDHE+AEAD suites,
# X25519/P-256/P-384, server order, session cache and tickets), same body
# ("fluffy tail", 11 bytes, plus HSTS, Cache-Control and nosniff headers).
# nginx runs as a private instance: its own prefix, config, pid and logs under
# a temp dir, no access log; 05-server runs with --quiet (no narration).
#
# Two measurements per server, wrk -t2 -c50 for HTTPS_BENCH_SECONDS (5):
#   keep-alive       requests/s over 50 kept-alive TLS connections
#   new connections  every request on a new TLS connection ("Connection: close"),
#                    so each is a full TLS 1.3 handshake (wrk does not resume)
# plus wrk's socket errors (connect/read/write/timeout) and non-2xx answers.
# Each figure is the best of HTTPS_BENCH_ROUNDS (2) rounds, servers alternating.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
export BIN=${BIN:-$ROOT/build/bin}
SECS=${HTTPS_BENCH_SECONDS:-5}
ROUNDS=${HTTPS_BENCH_ROUNDS:-2}
THREADS=${HTTPS_BENCH_SERVER_THREADS:-64}
source scripts/lib.sh

for tool in wrk nginx; do
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
ciphers=$(sed -n 's/^ *"\(ECDHE[^"]*\)" *\\*$/\1/p' common/tls.h | tr -d '\n')
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

# run_wrk PORT [HEADER]: prints "REQ_PER_S ERRORS NON2XX"
run_wrk() {
  local port=$1 out rps errs non2xx
  shift
  out=$(wrk -t2 -c50 -d"${SECS}s" "$@" "https://localhost:$port/" 2>&1)
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  errs=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "${rps:-0} ${errs:-0} ${non2xx:-0}"
  echo "$out" >>"$tmp/wrk.log"
}
best() { # best OLD NEW: keep the line with the higher req/s
  if [[ -z "$1" ]] || awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN {exit !(b > a)}'; then echo "$2"; else echo "$1"; fi
}
ka_ours="" ka_ng="" nc_ours="" nc_ng=""
for ((r = 0; r < ROUNDS; r++)); do
  ka_ours=$(best "$ka_ours" "$(run_wrk "$ourport")")
  ka_ng=$(best "$ka_ng" "$(run_wrk "$ngport")")
  nc_ours=$(best "$nc_ours" "$(run_wrk "$ourport" -H "Connection: close")")
  nc_ng=$(best "$nc_ng" "$(run_wrk "$ngport" -H "Connection: close")")
done

row() { # row NAME OURS NGINX
  local name=$1
  read -r o_rps o_err o_bad <<<"$2"
  read -r n_rps n_err n_bad <<<"$3"
  printf '%-34s %12.0f %12.0f %7.2fx %10s %10s\n' "$name" "$o_rps" "$n_rps" \
    "$(awk -v a="$o_rps" -v b="$n_rps" 'BEGIN {print (b > 0 ? a / b : 0)}')" \
    "$o_err/$o_bad" "$n_err/$n_bad"
}
echo "wrk -t2 -c50, ${SECS} s, best of $ROUNDS; $(nproc) cores; 05-server --threads $THREADS; nginx $("$NGINX" -v 2>&1 | sed 's#.*/##') workers auto"
printf '%-34s %12s %12s %8s %10s %10s\n' "HTTPS (TLS 1.3, 11-byte body)" "05-server" "nginx" "ratio" "errs/non2xx" "nginx e/n"
row "keep-alive requests/s" "$ka_ours" "$ka_ng"
row "new TLS connections/s (close)" "$nc_ours" "$nc_ng"
