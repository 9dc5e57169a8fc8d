#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 05 on the wire: without the key log an eavesdropper reads only the
# TLS handshake's clear parts (SNI, sizes, timing); with it, everything.
source "$(dirname "$0")/../lib.sh"
source "$COURSE_ROOT/scripts/capture.sh"
tmp=$(course_tmpdir)
P=$tmp/pki

if ! capture_check 2>"$tmp/why"; then
  t_fail "05 capture: dumpcap can capture on lo" "$(cat "$tmp/why")"
  exit 0
fi
04_pki_ca/make-pki.sh "$BIN" "$P" >/dev/null 2>&1 || { t_fail "05 capture: PKI" "make-pki.sh failed"; exit 0; }
export SSLKEYLOGFILE=$tmp/05.keylog
start_server 05-server "$BIN/05-server" --port 0 --cert "$P/server-chain.crt" --key "$P/server.key" ||
  { t_fail "05 capture: server starts" "see above"; exit 0; }
capture_start "$tmp/05.pcapng" "$SERVER_PORT" || { t_fail "05 capture: dumpcap starts" "see above"; exit 0; }
"$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt" >/dev/null 2>&1
curl -s --cacert "$P/root.crt" -d 'user=alice&password=wonderland' \
  "https://localhost:$SERVER_PORT/login" >/dev/null
capture_stop
unset SSLKEYLOGFILE

raw=$(capture_payload "$tmp/05.pcapng" | tr -d '\000')
t_true "05 capture: the capture is not empty" "no payload" test "${#raw}" -gt 1000
t_true "05 capture: the secret is not on the wire" "'fluffy tail' found in the raw capture" \
  bash -c '! grep -q "fluffy tail" <<<"$1"' _ "$raw"
t_true "05 capture: the request line is not on the wire" "'GET / HTTP' found" \
  bash -c '! grep -q "GET / HTTP" <<<"$1"' _ "$raw"
t_true "05 capture: the password is not on the wire" "'wonderland' found" \
  bash -c '! grep -q "wonderland" <<<"$1"' _ "$raw"
t_true "05 capture: the SNI (server name) is still readable" "no 'localhost' in the ClientHello" \
  grep -q localhost <<<"$raw"
view=$(05_https_server/tls-view.sh "$tmp/05.pcapng")
t_true "05 capture: the eavesdropper's view shows ClientHello with SNI and the sizes" "$view" \
  grep -q 'client -> server  Handshake [0-9]* B  \[ClientHello, SNI localhost' <<<"$view"
t_true "05 capture: under TLS 1.3 the certificate is encrypted" "a Certificate message in clear" \
  bash -c '! grep -q "Certificate\]" <<<"$1"' _ "$view"

dec=$(tshark -r "$tmp/05.pcapng" -o "tls.keylog_file:$tmp/05.keylog" -Y http -T fields \
  -e http.request.method -e http.request.uri -e http.file_data 2>/dev/null)
t_true "05 capture: with the key log tshark decrypts GET /" "decrypted: $dec" grep -q $'^GET\t/' <<<"$dec"
payload=$(capture_payload "$tmp/05.pcapng" "$tmp/05.keylog")
t_true "05 capture: with the key log the secret is readable" "not in the decrypted payload" \
  grep -q 'fluffy tail' <<<"$payload"
t_true "05 capture: with the key log the password is readable" "not in the decrypted payload" \
  grep -q 'password=wonderland' <<<"$payload"

# What `make bench` calls a new connection, on the wire (05_https_server/README.md,
# "Against nginx"): wrk resumes its first session on every later connection,
# `openssl s_time -new` never resumes.
start_server 05-server "$BIN/05-server" --quiet --port 0 --cert "$P/server-chain.crt" --key "$P/server.key" ||
  { t_fail "05 capture: bench server starts" "see above"; exit 0; }
capture_start "$tmp/wrk.pcapng" "$SERVER_PORT" || { t_fail "05 capture: dumpcap starts" "see above"; exit 0; }
wrk -t1 -c1 -d1s -H "Connection: close" "https://localhost:$SERVER_PORT/" >"$tmp/wrk.out" 2>&1
capture_stop
read -r full resumed <<<"$(capture_handshakes "$tmp/wrk.pcapng")"
t_true "05 capture: wrk (Connection: close) does one full handshake, then resumes" \
  "$full full, $resumed resumed; wrk said: $(tail -n 3 "$tmp/wrk.out")" test "$full" = 1 -a "$resumed" -ge 10
capture_start "$tmp/stime.pcapng" "$SERVER_PORT" || { t_fail "05 capture: dumpcap starts" "see above"; exit 0; }
openssl s_time -connect "localhost:$SERVER_PORT" -new -time 1 -www / >"$tmp/stime.out" 2>&1
capture_stop
read -r full resumed <<<"$(capture_handshakes "$tmp/stime.pcapng")"
t_true "05 capture: openssl s_time -new does full handshakes only" \
  "$full full, $resumed resumed; s_time said: $(tail -n 2 "$tmp/stime.out")" test "$full" -ge 10 -a "$resumed" = 0
