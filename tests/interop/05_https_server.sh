#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 05 against third-party TLS peers: curl and `openssl s_client` check
# 05-server the way a security engineer would; 05-client talks to
# `openssl s_server` holding the course certificates.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
P=$tmp/pki
04_pki_ca/make-pki.sh "$BIN" "$P" >/dev/null 2>&1 || { t_fail "05 interop: PKI" "make-pki.sh failed"; exit 0; }

start_server 05-server "$BIN/05-server" --port 0 --cert "$P/server-chain.crt" --key "$P/server.key" ||
  { t_fail "05 interop: server starts" "see above"; exit 0; }
URL="https://localhost:$SERVER_PORT"

t_run curl -sS --cacert "$P/root.crt" "$URL/"
t_true "05 interop: curl --cacert gets the secret" "rc $T_RC: $T_OUT $T_ERR" test "$T_OUT" = "fluffy tail"
t_run curl -sS "$URL/"
t_true "05 interop: curl with the system CAs refuses the course certificate" "rc $T_RC" test "$T_RC" = 60
t_run curl -sS --cacert "$P/root.crt" --resolve "www.example.com:$SERVER_PORT:127.0.0.1" \
  "https://www.example.com:$SERVER_PORT/"
t_true "05 interop: curl refuses the certificate for another host name" "rc $T_RC: $T_ERR" \
  test "$T_RC" = 60
t_run curl -sS --cacert "$P/root.crt" --tls-max 1.1 "$URL/"
t_true "05 interop: curl offering at most TLS 1.1 is refused" "rc $T_RC" test "$T_RC" != 0

req=$'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
t_run bash -c 'printf "%s" "$1" | openssl s_client -connect "127.0.0.1:$2" -servername localhost \
  -verify_return_error -verify_hostname localhost -CAfile "$3" -ign_eof 2>&1' _ "$req" "$SERVER_PORT" "$P/root.crt"
t_true "05 interop: openssl s_client -verify_return_error -verify_hostname localhost succeeds" \
  "rc $T_RC: $(grep -E 'Verif|error' <<<"$T_OUT" | head -3)" \
  bash -c '[[ $1 == 0 ]] && grep -q "Verify return code: 0 (ok)" <<<"$2" && grep -q "^fluffy tail" <<<"$2"' \
  _ "$T_RC" "$T_OUT"
t_true "05 interop: s_client sees a clean close (close_notify), not a truncated stream" \
  "$(grep -iE 'closed|eof' <<<"$T_OUT")" bash -c '! grep -qi "unexpected eof" <<<"$1"' _ "$T_OUT"
t_run bash -c 'echo | openssl s_client -connect "127.0.0.1:$1" -verify_return_error \
  -verify_hostname www.example.com -CAfile "$2" 2>&1' _ "$SERVER_PORT" "$P/root.crt"
t_true "05 interop: s_client -verify_hostname www.example.com fails" "rc $T_RC" \
  bash -c '[[ $1 != 0 ]] && grep -q "hostname mismatch" <<<"$2"' _ "$T_RC" "$T_OUT"
stop_server "$SERVER_PID"

# 05-client against openssl s_server with the course certificates
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl s_server -accept "127.0.0.1:$port" -cert "$P/server.crt" -key "$P/server.key" \
  -cert_chain "$P/intermediate.crt" -www -quiet >"$tmp/s_server.log" 2>&1 &
spid=$!
_COURSE_PIDS+=("$spid")
for ((i = 0; i < 50; i++)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
t_expect "05 interop: 05-client verifies openssl s_server and reads its page" 0 \
  --out "TLS handshake with 127.0.0.1 port $port done: TLSv1.3" --out "depth 0: O=HTTPS from the ground up, CN=localhost" \
  --out "The secret message is: " \
  -- "$BIN/05-client" --url "https://localhost:$port" --cacert "$P/root.crt"
t_expect "05 interop: 05-client with TLS 1.2 against s_server" 0 --out "done: TLSv1.2, cipher suite ECDHE-" \
  -- "$BIN/05-client" --url "https://localhost:$port" --cacert "$P/root.crt" --tls-version 1.2
t_expect "05 interop: 05-client refuses s_server when it trusts another CA" 1 --err "unknown CA" \
  -- "$BIN/05-client" -q --url "https://localhost:$port" --cacert "$P/client.crt"
stop_server "$spid"
