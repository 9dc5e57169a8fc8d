#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06's load generator and store bench, in miniature: that `make bench`
# measures what it says (every record acknowledged, each stored once, no
# error), and that the benchmark's store switches need --lab and say loudly
# what they cost. No timing here: timing on a shared machine is no verdict
# (the figures are `make bench`'s, bench/06_records.sh).
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 load: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
SRV=(--cert "$P/server-chain.crt" --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass")
export COURSE06_PASSWORD='load smoke password'

# ---- the switches: refused without --lab ----
t_expect "06 load: --lab-sync-normal without --lab is refused (not power-loss safe)" 2 \
  --err "need --lab as well" -- "$BIN/06-server" --port 0 --data "$tmp/d0" "${SRV[@]}" --lab-sync-normal
t_expect "06 load: --lab-no-group-commit without --lab is refused" 2 \
  --err "need --lab as well" -- "$BIN/06-server" --port 0 --data "$tmp/d0" "${SRV[@]}" --lab-no-group-commit

# ---- the server as it normally runs: 3 sessions x 4 records, all stored once ----
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$tmp/data" "${SRV[@]}" -q; then
  t_fail "06 load: the server starts" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
URL="https://localhost:$SERVER_PORT"
L=("$BIN/06-load" --url "$URL" --cacert "$P/root.crt" --homes "$tmp/homes")
T_TIMEOUT=30 t_expect "06 load: 06-load enrols 3 Ed25519 devices and every one of their 12 records is acknowledged, 0 errors" 0 \
  --out "records, ed25519, 3 sessions x 4: " --out " 0 errors (12 acknowledged in " \
  -- "${L[@]}" --enrol --sessions 3 --records 4 --csv "$tmp/load.csv" --label smoke
t_true "06 load: the store holds exactly those 12 records, each once" \
  "$(sqlite3 "$tmp/data/course06.db" 'SELECT count(*), count(DISTINCT msg_id) FROM receipts')" \
  test "$(sqlite3 "$tmp/data/course06.db" "SELECT count(*) || ' ' || count(DISTINCT msg_id) FROM receipts WHERE status = 'stored'")" = "12 12"
t_true "06 load: --csv writes a header and the run's row (12 acknowledged, 0 errors)" "$(cat "$tmp/load.csv" 2>&1)" \
  grep -q '^smoke,records,ed25519,3,4,12,0,' "$tmp/load.csv"
T_TIMEOUT=30 t_expect "06 load: P-256 devices too (--key-type p256)" 0 --out " 0 errors (4 acknowledged in " \
  -- "${L[@]}" --enrol --key-type p256 --sessions 2 --records 2
t_expect "06 load: a session whose device is not enrolled is refused before the clock starts" 1 \
  --err "06-load: error: device: no device key and certificate" -- "${L[@]}" --sessions 9 --records 1
SERVER_PID6=$SERVER_PID

# ---- the plain mode (the bench's TLS + HTTP peer) against 05-server ----
if start_server 05-server "$BIN/05-server" --port 0 --cert "$P/server-chain.crt" --key "$P/server.key" --tls13-only -q; then
  t_expect "06 load: --plain posts bodies of --body-size bytes on kept-alive connections (05-server /echo)" 0 \
    --out "plain POST /echo, 2 sessions x 3: " --out " 0 errors (6 acknowledged in " \
    -- "$BIN/06-load" --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt" --plain /echo --body-size 600 \
    --sessions 2 --records 3
  stop_server "$SERVER_PID"
else
  t_fail "06 load: 05-server starts" "$(tail -n 5 "$SERVER_LOG")"
fi
stop_server "$SERVER_PID6"
t_true "06 load: the server stops cleanly on SIGTERM after the load (exit 0)" "exit status $STOPPED_RC" \
  test "$STOPPED_RC" = 0

# ---- the switches with --lab: loud, and they do what they say ----
if start_server 06-server-lab "$BIN/06-server" --port 0 --data "$tmp/data" "${SRV[@]}" --lab --lab-sync-normal \
  --lab-no-group-commit; then
  t_true "06 load: --lab --lab-sync-normal says NOT POWER-LOSS SAFE at start" "$(head -n 20 "$SERVER_LOG")" \
    grep -q 'NOT POWER-LOSS SAFE' "$SERVER_LOG"
  t_true "06 load: --lab --lab-no-group-commit says so at start" "$(head -n 20 "$SERVER_LOG")" \
    grep -q 'no group commit' "$SERVER_LOG"
  L=("$BIN/06-load" --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt" --homes "$tmp/homes")
  T_TIMEOUT=30 t_expect "06 load: with both switches every record is still acknowledged" 0 --out " 0 errors (6 acknowledged in " \
    -- "${L[@]}" --sessions 3 --records 2
  stop_server "$SERVER_PID"
  t_true "06 load: the lab server stops cleanly (exit 0)" "exit status $STOPPED_RC" test "$STOPPED_RC" = 0
else
  t_fail "06 load: the server starts with --lab --lab-sync-normal --lab-no-group-commit" "$(tail -n 5 "$SERVER_LOG")"
fi

# ---- the store alone (06-sqlbench): the bound's program ----
t_expect "06 load: 06-sqlbench stores every record through the group-commit writer" 0 \
  --out "06-sqlbench: 4 threads x 5: " --out "20 of 20 stored" --out "synchronous=FULL, group commit" \
  -- "$BIN/06-sqlbench" --data "$tmp/sql1" --threads 4 --records 5
t_expect "06 load: 06-sqlbench --no-group makes one COMMIT per record" 0 \
  --out "20 COMMITs (1.0 records each)" -- "$BIN/06-sqlbench" --data "$tmp/sql2" --threads 4 --records 5 --no-group
t_true "06 load: 06-sqlbench --sync-normal really runs the writer at synchronous=NORMAL (and says it is not power-loss safe)" \
  "$(cat "$tmp/sql3.out" 2>&1)" \
  bash -c "'$BIN/06-sqlbench' --data '$tmp/sql3' --threads 2 --records 2 --sync-normal >'$tmp/sql3.out' 2>&1 && grep -q 'synchronous=NORMAL, NOT power-loss safe' '$tmp/sql3.out'"
