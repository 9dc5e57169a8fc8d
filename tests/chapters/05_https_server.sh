#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 05 end to end: 05-server and 05-client with a course PKI made at run
# time by make-pki.sh (chapter 04) in a temp dir, the TLS policy, mutual TLS,
# the key log, and every break-it scenario of 05_https_server/break.sh with
# its documented message and exit status. Third-party peers (curl, openssl)
# are in tests/interop/05_*.sh, the capture in tests/capture/05_*.sh.
source "$(dirname "$0")/../lib.sh"
source "$COURSE_ROOT/05_https_server/break.sh"
tmp=$(course_tmpdir)
P=$tmp/pki

if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "05: make-pki.sh builds a PKI" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
SRV=(--cert "$P/server-chain.crt" --key "$P/server.key")
CA=(--cacert "$P/root.crt")

if ! start_server 05-server "$BIN/05-server" --port 0 "${SRV[@]}" --crl "$P/crl.pem"; then
  t_fail "05: server starts on a free port" "no 'listening on' line"
  exit 0
fi
t_pass "05: server starts and prints 'listening on https://...'"
URL="https://localhost:$SERVER_PORT"
t_true "05: the listening URL is https" "got $SERVER_URL" test "${SERVER_URL%%://*}" = https

t_expect "05: client verifies the chain and prints the secret" 0 \
  --out "The secret message is: fluffy tail" --out "TLS handshake with 127.0.0.1 port $SERVER_PORT done: TLSv1.3" \
  --out "depth 0: O=HTTPS from the ground up, CN=localhost" --out "depth 2: O=HTTPS from the ground up, CN=Course Root CA" --out "verified" \
  --out "for DNS:localhost, IP:127.0.0.1, IP:::1" \
  -- "$BIN/05-client" --url "$URL" "${CA[@]}"
t_expect "05: --server is an alias of --url" 0 --out "The secret message is: fluffy tail" \
  -- "$BIN/05-client" -q --server "$URL" "${CA[@]}"
t_expect "05: a CRL of the intermediate only is not enough (every CA is checked)" 1 \
  --err "no CRL: revocation checking was asked for" --err "missing: the CRL of O=HTTPS from the ground up, CN=Course Root CA" \
  -- "$BIN/05-client" -q --url "$URL" "${CA[@]}" --crl "$P/crl.pem"
"$BIN/minica" crl -q --dir "$P/root" --pass-file "$P/ca-pass" --out "$tmp/root-crl.pem" >/dev/null 2>&1
cat "$tmp/root-crl.pem" "$P/crl.pem" >"$tmp/crls.pem"
t_expect "05: the client checks the CRLs when given them" 0 --out "fluffy tail" \
  -- "$BIN/05-client" -q --url "$URL" "${CA[@]}" --crl "$tmp/crls.pem"
t_expect "05: TLS 1.2 works, with an ECDHE AEAD suite" 0 --out "done: TLSv1.2, cipher suite ECDHE-ECDSA-AES128-GCM-SHA256" \
  -- "$BIN/05-client" --url "$URL" "${CA[@]}" --tls-version 1.2
t_expect "05: echo round trip inside TLS" 0 --out '{"received":{"name":"alice"},"server_time":"' \
  -- "$BIN/05-client" -q --url "$URL" "${CA[@]}" --post '{"name":"alice"}'
t_expect "05: bad JSON is still a 400 with line and column" 1 --err "the server answered 400" \
  -- "$BIN/05-client" -q --url "$URL" "${CA[@]}" --post '{"a": '
t_run curl -s -D - -o /dev/null --cacert "$P/root.crt" "$URL/"
t_true "05: responses carry HSTS (two years)" "headers: $T_OUT" \
  grep -qi '^Strict-Transport-Security: max-age=63072000' <<<"$T_OUT"
t_run curl -s --cacert "$P/root.crt" "$URL/crl" -o "$tmp/crl.der"
t_true "05: GET /crl serves the CRL in DER" "not a CRL" \
  openssl crl -inform DER -in "$tmp/crl.der" -noout
t_run curl -s --cacert "$P/root.crt" "$URL/page"
t_true "05: /page is the HTML page" "got: $T_OUT" grep -q '<title>Chapter 05: HTTPS</title>' <<<"$T_OUT"
t_true "05: /page greets nobody without a client certificate" "got: $T_OUT" \
  bash -c '! grep -q "id=\"hello\"" <<<"$1"' _ "$T_OUT"

# the TLS policy, seen from a client that asks for less
for c in AES128-GCM-SHA256 ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA384; do
  t_run bash -c "echo | openssl s_client -connect 127.0.0.1:$SERVER_PORT -tls1_2 -cipher $c"
  t_true "05: TLS 1.2 suite $c (no ECDHE or no AEAD) is refused" "handshake worked: $T_OUT" \
    bash -c '! grep -q "Cipher is $1" <<<"$2"' _ "$c" "$T_OUT"
done
t_run bash -c "echo | openssl s_client -connect 127.0.0.1:$SERVER_PORT -tls1_2 \
  -cipher ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"
t_true "05: the server's suite preference wins over the client's" "got: $(grep 'Cipher is' <<<"$T_OUT")" \
  grep -q "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" <<<"$T_OUT"
t_run bash -c "(sleep 0.5) | openssl s_client -connect 127.0.0.1:$SERVER_PORT -servername localhost \
  -sess_out $tmp/sess >/dev/null 2>&1; (sleep 0.3) | openssl s_client -connect 127.0.0.1:$SERVER_PORT \
  -servername localhost -sess_in $tmp/sess 2>&1"
t_true "05: TLS 1.3 sessions resume (tickets)" "$(grep -E 'New,|Reused,' <<<"$T_OUT")" \
  grep -q "^Reused, TLSv1.3" <<<"$T_OUT"
t_run bash -c "echo | openssl s_client -connect 127.0.0.1:$SERVER_PORT -tls1_2 -reconnect 2>&1"
t_true "05: TLS 1.2 sessions resume (session cache)" "$(grep -E 'New,|Reused,' <<<"$T_OUT" | head -3)" \
  grep -q "^Reused, TLSv1.2" <<<"$T_OUT"
t_run bash -c "echo | openssl s_client -connect 127.0.0.1:$SERVER_PORT -groups secp521r1 2>&1"
t_true "05: a client offering only P-521 is refused (groups X25519, P-256, P-384)" "handshake worked" \
  bash -c '! grep -q "Cipher is TLS_" <<<"$1"' _ "$T_OUT"
t_run bash -c "echo | openssl s_client -connect 127.0.0.1:$SERVER_PORT -groups P-384 2>&1"
t_true "05: a client offering only P-384 is served" "$(grep -E 'Cipher is|alert' <<<"$T_OUT")" \
  grep -q "Cipher is TLS_" <<<"$T_OUT"
# a client that reads its answer and closes the socket without close_notify
# (Python's SSLSocket.close() does not send one)
t_run /usr/bin/python3 - "$SERVER_PORT" "$P/root.crt" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
print(s.recv(4096).decode().splitlines()[0])
s.close()
PY
t_true "05: a client may hang up without close_notify" "got: $T_OUT $T_ERR" grep -q "HTTP/1.1 200 OK" <<<"$T_OUT"
t_expect "05: the server still serves after that" 0 --out "fluffy tail" \
  -- "$BIN/05-client" -q --url "$URL" "${CA[@]}"

stop_server "$SERVER_PID"
t_true "05: SIGTERM stops the server with status 0" "status $STOPPED_RC" test "$STOPPED_RC" = 0
start_server 05-hup "$BIN/05-server" --port 0 "${SRV[@]}" >/dev/null
kill -HUP "$SERVER_PID"
for ((i = 0; i < 50; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
stop_server "$SERVER_PID"
t_true "05: without a CRL to reload, SIGHUP (the terminal closed) stops the server cleanly" \
  "status $STOPPED_RC, log: $(tail -n 2 "$SERVER_LOG")" \
  bash -c 'test "$1" = 0 && grep -q "stopping on SIGHUP: no new connections" "$2"' _ "$STOPPED_RC" "$SERVER_LOG"

# --tls13-only
start_server 05-server13 "$BIN/05-server" --port 0 "${SRV[@]}" --tls13-only >/dev/null
t_expect "05: --tls13-only refuses a TLS 1.2 client" 1 --err "no TLS version in common" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" --tls-version 1.2
t_expect "05: --tls13-only serves TLS 1.3" 0 --out "TLSv1.3" \
  -- "$BIN/05-client" --url "https://localhost:$SERVER_PORT" "${CA[@]}"
stop_server "$SERVER_PID"

# mutual TLS with the course client certificate
CLI=(--cert "$P/client-chain.crt" --key "$P/client.key")
start_server 05-mtls "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" >/dev/null
t_expect "05: mTLS: the course client certificate is greeted by name" 0 \
  --out "The secret message is: fluffy tail (for O=HTTPS from the ground up, CN=course-client)" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" "${CLI[@]}"
t_run curl -s --cacert "$P/root.crt" --cert "$P/client-chain.crt" --key "$P/client.key" \
  "https://localhost:$SERVER_PORT/page"
t_true "05: mTLS: /page says hello to the certificate's subject" "got: $T_OUT" \
  grep -q '<p id="hello">Hello, .*CN=course-client: your certificate was verified' <<<"$T_OUT"
t_expect "05: mTLS: no certificate is refused" 1 --err "the server requires a client certificate" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}"
# A certificate with an empty subject (our CA no longer signs one; another CA
# the server trusts might): made here with openssl and the intermediate's key.
# It was verified, so it is greeted as such, never as "no certificate".
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/" \
  -keyout "$tmp/anon.key" -out "$tmp/anon.csr" >/dev/null 2>&1
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\nsubjectAltName=DNS:anon.example\n' \
  >"$tmp/anon.ext"
openssl x509 -req -in "$tmp/anon.csr" -CA "$P/intermediate.crt" -CAkey "$P/intermediate/ca.key" \
  -passin "file:$P/ca-pass" -CAcreateserial -CAserial "$tmp/anon.srl" -days 1 -extfile "$tmp/anon.ext" \
  -out "$tmp/anon.crt" >/dev/null 2>&1
cat "$tmp/anon.crt" "$P/intermediate.crt" >"$tmp/anon-chain.crt"
t_expect "05: mTLS: a verified certificate with an empty subject is greeted as one, not as none" 0 \
  --out "fluffy tail (for (empty))" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" --cert "$tmp/anon-chain.crt" \
  --key "$tmp/anon.key"
stop_server "$SERVER_PID"
start_server 05-mtls-opt "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" \
  --client-cert optional >/dev/null
t_expect "05: mTLS optional: a client without a certificate gets the plain secret" 0 \
  --out "The secret message is: fluffy tail" --not "(for " \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}"
t_expect "05: mTLS optional: a client with one is greeted" 0 --out "(for O=HTTPS from the ground up, CN=course-client)" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" "${CLI[@]}"
stop_server "$SERVER_PID"

# mutual TLS and revocation: a client certificate the CA revoked is refused
# once the server has the CRL (--crl); the others are still greeted
"$BIN/minica" issue -q --dir "$P/intermediate" --pass-file "$P/ca-pass" --profile client \
  --name "$tmp/mallory" mallory >/dev/null 2>&1
"$BIN/minica" revoke --dir "$P/intermediate" --reason keyCompromise "$tmp/mallory.crt" >/dev/null 2>&1
"$BIN/minica" crl -q --dir "$P/intermediate" --pass-file "$P/ca-pass" --out "$tmp/crl-mallory.pem" >/dev/null 2>&1
MAL=(--cert "$tmp/mallory-chain.crt" --key "$tmp/mallory.key")
start_server 05-mtls-noc "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" >/dev/null
t_true "05: mTLS without --crl says revoked certificates still pass" "log: $(cat "$SERVER_LOG")" \
  grep -q "05-server: note: mutual TLS without --crl: a client certificate the CA has revoked is still accepted" "$SERVER_LOG"
stop_server "$SERVER_PID"
start_server 05-mtls-crl "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" \
  --crl "$tmp/crl-mallory.pem" >/dev/null
t_true "05: mTLS + --crl of the intermediate checks the client's certificate only" "log: $(cat "$SERVER_LOG")" \
  grep -q "revocation: checked against $tmp/crl-mallory.pem (the client's certificate only)" "$SERVER_LOG"
t_expect "05: mTLS + CRL: a revoked client certificate is refused (TLS 1.2: the alert says why)" 1 \
  --err "the server refused our client certificate: it is revoked (on the server's CRL)" --err "hint: " \
  --not "fluffy tail" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" "${MAL[@]}" --tls-version 1.2
t_expect "05: mTLS + CRL: a revoked client certificate is refused (TLS 1.3)" 1 \
  --err "the server refused our client certificate: it" --not "fluffy tail" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" "${MAL[@]}"
t_run curl -s --cacert "$P/root.crt" "${MAL[@]}" "https://localhost:$SERVER_PORT/page"
t_true "05: mTLS + CRL: curl with the revoked certificate gets no greeting" "got: $T_OUT" \
  bash -c '! grep -q "CN=mallory: your certificate" <<<"$1"' _ "$T_OUT"
t_expect "05: mTLS + CRL: the good client certificate is still greeted" 0 \
  --out "The secret message is: fluffy tail (for O=HTTPS from the ground up, CN=course-client)" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" "${CLI[@]}"
stop_server "$SERVER_PID"
t_true "05: mTLS + CRL: the server says which certificate it refused and why" "log: $(cat "$SERVER_LOG")" \
  grep -q "refusing the client certificate O=HTTPS from the ground up, CN=mallory (depth 0): certificate revoked" \
  "$SERVER_LOG"
# with the root's CRL in the file too, every CA of the chain is checked: a
# revoked intermediate takes all its clients down with it
"$BIN/minica" revoke --dir "$P/root" --reason cACompromise "$P/intermediate.crt" >/dev/null 2>&1
"$BIN/minica" crl -q --dir "$P/root" --pass-file "$P/ca-pass" --out "$tmp/root-crl-revoked.pem" >/dev/null 2>&1
cat "$tmp/root-crl-revoked.pem" "$tmp/crl-mallory.pem" >"$tmp/crls-revoked.pem"
start_server 05-mtls-crl-all "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" \
  --crl "$tmp/crls-revoked.pem" >/dev/null
t_expect "05: mTLS + root's CRL: a client below a revoked intermediate is refused" 1 \
  --err "the server refused our client certificate: it is revoked" --not "fluffy tail" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" "${CLI[@]}" --tls-version 1.2
stop_server "$SERVER_PID"
t_true "05: mTLS + root's CRL: checked at every CA of the chain, the intermediate refused" "log: $(cat "$SERVER_LOG")" \
  bash -c 'grep -q "(every CA of the chain)" "$1" && grep -q "CN=Course Intermediate CA.*(depth 1): certificate revoked" "$1"' \
  _ "$SERVER_LOG"
printf 'not a CRL\n' >"$tmp/bad-crl.pem"
t_expect "05: mTLS with an unreadable CRL does not start" 1 --err "05-server: error: cannot read: the CRL $tmp/bad-crl.pem" \
  -- "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" --crl "$tmp/bad-crl.pem"

# a revocation while the server runs: SIGHUP reads --crl again. A newer CRL
# takes over at once, also for clients holding a session ticket from before;
# an older CRL, a broken one or an out-of-date one is refused and the CRLs in
# force are kept
"$BIN/minica" issue -q --dir "$P/intermediate" --pass-file "$P/ca-pass" --profile client \
  --name "$tmp/eve" eve >/dev/null 2>&1
# a CRL's lastUpdate has whole seconds: each CRL below is made a second after the one before
"$BIN/minica" crl -q --dir "$P/intermediate" --pass-file "$P/ca-pass" --out "$tmp/oldest-crl.pem" >/dev/null 2>&1
sleep 1.1
"$BIN/minica" crl -q --dir "$P/intermediate" --pass-file "$P/ca-pass" --out "$tmp/live-crl.pem" >/dev/null 2>&1
EVE=(--cert "$tmp/eve-chain.crt" --key "$tmp/eve.key")
start_server 05-mtls-reload "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" \
  --crl "$tmp/live-crl.pem" >/dev/null
LIVE=https://localhost:$SERVER_PORT
# hup N: send SIGHUP, then wait (5 s at most) until the server has answered N
# of them in all, with "reloaded" or "kept the CRLs"
hup() {
  local i
  kill -HUP "$SERVER_PID"
  for ((i = 0; i < 50; i++)); do
    (($(grep -c "revocation: \(reloaded\|kept the CRLs\)" "$SERVER_LOG") >= $1)) && return 0
    sleep 0.1
  done
  return 1
}
# eve_session VERSION [s_client args]: one GET / as eve with openssl s_client
# (which can keep and offer a session); prints what it saw
eve_session() {
  printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' |
    timeout 20 openssl s_client -connect "127.0.0.1:$SERVER_PORT" -servername localhost \
      -CAfile "$P/root.crt" -cert "$tmp/eve.crt" -key "$tmp/eve.key" -cert_chain "$P/intermediate.crt" \
      -ign_eof "$@" 2>&1
}
t_expect "05: SIGHUP reload: eve is greeted before her certificate is revoked" 0 --out "(for O=HTTPS from the ground up, CN=eve)" \
  -- "$BIN/05-client" -q --url "$LIVE" "${CA[@]}" "${EVE[@]}"
eve_session -sess_out "$tmp/eve13.sess" >/dev/null
eve_session -tls1_2 -sess_out "$tmp/eve12.sess" >/dev/null
out=$(eve_session -sess_in "$tmp/eve13.sess")
t_true "05: SIGHUP reload: eve's TLS 1.3 ticket resumes her session before the reload" "$out" \
  bash -c 'grep -q "^Reused, TLSv1.3" <<<"$1" && grep -q "fluffy tail (for O=HTTPS from the ground up, CN=eve)" <<<"$1"' _ "$out"
out=$(eve_session -tls1_2 -sess_in "$tmp/eve12.sess")
t_true "05: SIGHUP reload: and her TLS 1.2 ticket too" "$out" \
  bash -c 'grep -q "^Reused, TLSv1.2" <<<"$1" && grep -q "fluffy tail (for O=HTTPS from the ground up, CN=eve)" <<<"$1"' _ "$out"
out=$(eve_session -tls1_2 -no_ticket)
t_true "05: SIGHUP reload: TLS 1.2 without a ticket gets no session id (none is cached)" "$out" \
  bash -c 'grep -q "^ *Session-ID: *$" <<<"$1" && grep -q "fluffy tail (for O=HTTPS from the ground up, CN=eve)" <<<"$1"' _ "$out"
sleep 1.1
"$BIN/minica" revoke --dir "$P/intermediate" --reason keyCompromise "$tmp/eve.crt" >/dev/null 2>&1
"$BIN/minica" crl -q --dir "$P/intermediate" --pass-file "$P/ca-pass" --out "$tmp/live-crl.pem" >/dev/null 2>&1
t_expect "05: SIGHUP reload: a new CRL on disk is not used before the signal" 0 --out "(for O=HTTPS from the ground up, CN=eve)" \
  -- "$BIN/05-client" -q --url "$LIVE" "${CA[@]}" "${EVE[@]}"
t_true "05: SIGHUP reload: the server answers the signal" "log: $(tail -n 5 "$SERVER_LOG")" hup 1
t_true "05: SIGHUP reload: the server says it reloaded the CRL" "log: $(tail -n 5 "$SERVER_LOG")" \
  grep -q "revocation: reloaded $tmp/live-crl.pem (the client's certificate only)" "$SERVER_LOG"
t_expect "05: SIGHUP reload: eve is refused once the server has the new CRL" 1 \
  --err "the server refused our client certificate: it is revoked (on the server's CRL)" --not "fluffy tail" \
  -- "$BIN/05-client" -q --url "$LIVE" "${CA[@]}" "${EVE[@]}" --tls-version 1.2
out=$(eve_session -sess_in "$tmp/eve13.sess")
t_true "05: SIGHUP reload: eve's TLS 1.3 ticket from before does not skip the new CRL" "$out" \
  bash -c '! grep -q "^Reused" <<<"$1" && ! grep -q "fluffy tail" <<<"$1"' _ "$out"
out=$(eve_session -tls1_2 -sess_in "$tmp/eve12.sess")
t_true "05: SIGHUP reload: nor does her TLS 1.2 ticket" "$out" \
  bash -c '! grep -q "^Reused" <<<"$1" && ! grep -q "fluffy tail" <<<"$1"' _ "$out"
t_expect "05: SIGHUP reload: the good client is still greeted" 0 --out "(for O=HTTPS from the ground up, CN=course-client)" \
  -- "$BIN/05-client" -q --url "$LIVE" "${CA[@]}" "${CLI[@]}"
cp "$tmp/oldest-crl.pem" "$tmp/live-crl.pem"
t_true "05: SIGHUP reload: the server answers a second signal" "log: $(tail -n 5 "$SERVER_LOG")" hup 2
t_true "05: SIGHUP reload: an older CRL is refused (it could lift revocations)" "log: $(tail -n 5 "$SERVER_LOG")" \
  grep -q "05-server: error: cannot reload: the CRL in $tmp/live-crl.pem (made .*) is older than the one in force (made .*): it could lift revocations" \
  "$SERVER_LOG"
t_expect "05: SIGHUP reload: after the older CRL eve is still refused" 1 \
  --err "it is revoked (on the server's CRL)" --not "fluffy tail" \
  -- "$BIN/05-client" -q --url "$LIVE" "${CA[@]}" "${EVE[@]}" --tls-version 1.2
printf 'not a CRL\n' >"$tmp/live-crl.pem"
t_true "05: SIGHUP reload: the server answers a third signal" "log: $(tail -n 5 "$SERVER_LOG")" hup 3
t_true "05: SIGHUP reload: a broken CRL is refused and the CRLs in force kept" "log: $(tail -n 5 "$SERVER_LOG")" \
  bash -c 'grep -q "05-server: error: cannot read: the CRL $2: no X509 CRL in it" "$1" &&
    test "$(grep -c "05-server: note: revocation: kept the CRLs in force" "$1")" = 2' _ "$SERVER_LOG" "$tmp/live-crl.pem"
t_expect "05: SIGHUP reload: after a broken CRL eve is still refused" 1 \
  --err "it is revoked (on the server's CRL)" --not "fluffy tail" \
  -- "$BIN/05-client" -q --url "$LIVE" "${CA[@]}" "${EVE[@]}" --tls-version 1.2
t_expect "05: SIGHUP reload: and the server still serves" 0 --out "(for O=HTTPS from the ground up, CN=course-client)" \
  -- "$BIN/05-client" -q --url "$LIVE" "${CA[@]}" "${CLI[@]}"
# odd_crl OUT LAST NEXT: an empty CRL of the intermediate with lastUpdate and
# nextUpdate LAST and NEXT days from now (minica makes only fresh ones)
odd_crl() {
  /usr/bin/python3 - "$P/intermediate" "$P/ca-pass" "$@" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
ca_dir, pass_file, out, last, nxt = sys.argv[1:]
password = open(pass_file, "rb").readline().rstrip(b"\r\n")
key = serialization.load_pem_private_key(open(ca_dir + "/ca.key", "rb").read(), password)
ca = x509.load_pem_x509_certificate(open(ca_dir + "/ca.crt", "rb").read())
now = datetime.datetime.utcnow()
crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
       .last_update(now + datetime.timedelta(days=int(last)))
       .next_update(now + datetime.timedelta(days=int(nxt)))
       .sign(key, hashes.SHA256()))
open(out, "wb").write(crl.public_bytes(serialization.Encoding.PEM))
PY
}
odd_crl "$tmp/stale-crl.pem" -2 -1
cp "$tmp/stale-crl.pem" "$tmp/live-crl.pem"
t_true "05: SIGHUP reload: the server answers a fourth signal" "log: $(tail -n 5 "$SERVER_LOG")" hup 4
t_true "05: SIGHUP reload: a CRL past its nextUpdate is no update and is refused" "log: $(tail -n 5 "$SERVER_LOG")" \
  grep -q "05-server: error: cannot reload: the CRL in $tmp/live-crl.pem was due for renewal on .*: not an update" \
  "$SERVER_LOG"
t_expect "05: SIGHUP reload: after the out-of-date CRL the good client is still greeted" 0 \
  --out "(for O=HTTPS from the ground up, CN=course-client)" -- "$BIN/05-client" -q --url "$LIVE" "${CA[@]}" "${CLI[@]}"
odd_crl "$tmp/live-crl.pem" 1 31
t_true "05: SIGHUP reload: the server answers a fifth signal" "log: $(tail -n 5 "$SERVER_LOG")" hup 5
t_true "05: SIGHUP reload: a CRL dated in the future is refused" "log: $(tail -n 5 "$SERVER_LOG")" \
  grep -q "05-server: error: cannot reload: the CRL in $tmp/live-crl.pem is dated .*, in the future: not an update" \
  "$SERVER_LOG"
t_true "05: SIGHUP reload: exactly one of the five reloads was taken" "log: $(grep revocation: "$SERVER_LOG")" \
  test "$(grep -c "revocation: reloaded" "$SERVER_LOG")" = 1
stop_server "$SERVER_PID"
t_true "05: SIGHUP reload: the server stopped cleanly (exit 0)" "exit status $STOPPED_RC" test "$STOPPED_RC" = 0
# with the root's CRL in force too (every CA of the chain checked), a file
# without it would stop checking the intermediate: refused
cp "$tmp/crls.pem" "$tmp/live-crl.pem"
start_server 05-mtls-reload-all "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" \
  --crl "$tmp/live-crl.pem" >/dev/null
"$BIN/minica" crl -q --dir "$P/intermediate" --pass-file "$P/ca-pass" --out "$tmp/live-crl.pem" >/dev/null 2>&1
t_true "05: SIGHUP reload (every CA): the server answers the signal" "log: $(tail -n 5 "$SERVER_LOG")" hup 1
t_true "05: SIGHUP reload (every CA): a file without the root's CRL is refused" "log: $(tail -n 6 "$SERVER_LOG")" \
  bash -c 'grep -q "05-server: error: cannot reload: $2 has no CRL from .*CN=Course Root CA, which has one in force: its revocations would no longer be checked" "$1" &&
    grep -q "revocation: kept the CRLs in force" "$1"' _ "$SERVER_LOG" "$tmp/live-crl.pem"
stop_server "$SERVER_PID"
# at start, a CRL out of its dates fails closed: a warning, then every
# client is refused, the good one too, for that reason
# fails_closed WHAT CRL WARNING REASON
fails_closed() {
  start_server 05-mtls-dates "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" \
    --crl "$2" >/dev/null || { t_fail "05: $1: the server starts" "see above"; return; }
  t_true "05: $1: the server warns at start" "log: $(head -n 6 "$SERVER_LOG")" \
    grep -q "the CRL in $2 $3" "$SERVER_LOG"
  t_expect "05: $1: even the good client is refused (fail closed)" 1 --not "fluffy tail" \
    -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" "${CLI[@]}" --tls-version 1.2
  stop_server "$SERVER_PID"
  t_true "05: $1: the server refused it for that reason" "log: $(tail -n 4 "$SERVER_LOG")" \
    grep -q "refusing the client certificate .*CN=course-client (depth 0): $4" "$SERVER_LOG"
}
fails_closed "a CRL past its nextUpdate" "$tmp/stale-crl.pem" \
  "was due for renewal on .*: every client certificate will be refused" "CRL has expired"
# what the client says then: OpenSSL's server sends "certificate expired" for
# its own stale CRL too, so the client tells the two apart by its certificate's
# dates: a stale CRL is named (make pki renews it), not the client certificate,
# nor the host name (libcurl calls that alert a failed peer verification)
start_server 05-mtls-stale "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" \
  --crl "$tmp/stale-crl.pem" >/dev/null
for v in 1.2 1.3; do
  t_expect "05: a server with a stale CRL: the client's hint names the CRL, not its certificate (TLS $v)" 1 \
    --err "the server's CRL is out of date (past its nextUpdate), so it refuses every client certificate" \
    --err "hint: the server needs a fresh CRL from the CA: \`make pki\` renews build/pki/crl.pem" \
    --not "wrong host name" --not "fluffy tail" \
    -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" "${CLI[@]}" --tls-version "$v"
done
# and a stale CRL given to the client itself: its own check says so
cat "$tmp/root-crl.pem" "$tmp/stale-crl.pem" >"$tmp/stale-crls.pem"
t_expect "05: a stale CRL given to the client is named as out of date" 1 \
  --err "the CRL is out of date (its nextUpdate has passed)" --not "wrong host name" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" "${CLI[@]}" --crl "$tmp/stale-crls.pem"
stop_server "$SERVER_PID"
"$BIN/minica" issue -q --dir "$P/intermediate" --pass-file "$P/ca-pass" --profile client \
  --name "$tmp/old-client" --not-before -10d --not-after -1d old-client >/dev/null 2>&1
start_server 05-mtls-old "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" \
  --crl "$P/crl.pem" >/dev/null
t_expect "05: an expired client certificate is named as the cause (not the CRL)" 1 \
  --err "the server refused our client certificate: it is expired (past its notAfter date)" \
  --not "CRL is out of date" --not "wrong host name" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}" \
  --cert "$tmp/old-client-chain.crt" --key "$tmp/old-client.key" --tls-version 1.2
stop_server "$SERVER_PID"
odd_crl "$tmp/future-crl.pem" 1 31
fails_closed "a CRL dated in the future" "$tmp/future-crl.pem" \
  "is dated .*, in the future: every client certificate will be refused until then" "CRL is not yet valid"

# key log: both sides write NSS lines to SSLKEYLOGFILE and say so; a key log
# that already exists with mode 0644 is made 0600 before a secret goes in
install -m 0644 /dev/null "$tmp/srv.keylog"
install -m 0644 /dev/null "$tmp/cli.keylog"
SSLKEYLOGFILE=$tmp/srv.keylog start_server 05-keylog "$BIN/05-server" --port 0 "${SRV[@]}" >/dev/null
t_true "05: the server says it writes the key log (after 'listening on')" "log: $(head -3 "$SERVER_LOG")" \
  grep -q "05-server: note: writing TLS session secrets to $tmp/srv.keylog" "$SERVER_LOG"
SSLKEYLOGFILE=$tmp/cli.keylog t_expect "05: the client says libcurl writes the key log" 0 \
  --err "libcurl writes TLS session secrets to $tmp/cli.keylog" \
  -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${CA[@]}"
stop_server "$SERVER_PID"
t_true "05: server key log has TLS 1.3 secrets" "no SERVER_TRAFFIC_SECRET_0" \
  grep -q '^SERVER_TRAFFIC_SECRET_0 [0-9a-f]\{64\} [0-9a-f]\{64,96\}$' "$tmp/srv.keylog"
t_true "05: server key log is mode 0600 (it existed as 0644)" "mode $(stat -c %a "$tmp/srv.keylog")" \
  test "$(stat -c %a "$tmp/srv.keylog")" = 600
t_true "05: client key log is mode 0600 (it existed as 0644)" "mode $(stat -c %a "$tmp/cli.keylog")" \
  test "$(stat -c %a "$tmp/cli.keylog")" = 600
rm -f "$tmp/new.keylog"
SSLKEYLOGFILE=$tmp/new.keylog t_expect "05: a key log libcurl creates is mode 0600 too" 1 \
  -- "$BIN/05-client" -q --url "https://localhost:1" "${CA[@]}"
t_true "05: the client's new key log is mode 0600" "mode $(stat -c %a "$tmp/new.keylog" 2>&1)" \
  test "$(stat -c %a "$tmp/new.keylog" 2>/dev/null)" = 600
# /dev/null: a device, never to be chmod-ed (and nothing a capture can use)
SSLKEYLOGFILE=/dev/null t_expect "05: the server refuses a key log that is not a regular file" 1 \
  --err "05-server: error: SSLKEYLOGFILE: will not write TLS secrets to /dev/null: not a regular file" \
  --err "hint: point SSLKEYLOGFILE at a new file of yours" -- "$BIN/05-server" --port 0 "${SRV[@]}"
SSLKEYLOGFILE=/dev/null t_expect "05: so does the client" 1 \
  --err "05-client: error: SSLKEYLOGFILE: will not write TLS secrets to /dev/null: not a regular file" \
  -- "$BIN/05-client" -q --url "https://localhost:1" "${CA[@]}"
t_true "05: /dev/null kept its mode" "mode $(stat -c %a /dev/null)" test "$(stat -c %a /dev/null)" = 666
install -m 0644 /dev/null "$tmp/other.keylog"
if chown nobody "$tmp/other.keylog" 2>/dev/null; then
  SSLKEYLOGFILE=$tmp/other.keylog t_expect "05: the server refuses a key log of another user" 1 \
    --err "will not write TLS secrets to $tmp/other.keylog: the file belongs to another user" \
    -- "$BIN/05-server" --port 0 "${SRV[@]}"
else
  t_skip "05: the server refuses a key log of another user" "needs root to chown a file"
fi

# make 05-break ARGS=...: one scenario by name; an unknown name lists them
t_expect "05: break.sh NAME runs that scenario alone" 0 --out "1 of 1 scenarios failed the way they should" \
  --out "== revoked:" --not "== expired:" -- env BIN="$BIN" "$COURSE_ROOT/05_https_server/break.sh" revoked
t_expect "05: break.sh with an unknown name exits 2 and lists the scenarios" 2 \
  --err "break: no scenario 'nope'; there are: unknown-ca wrong-name" -- env BIN="$BIN" "$COURSE_ROOT/05_https_server/break.sh" nope
t_run env BIN="$BIN" "$COURSE_ROOT/05_https_server/break.sh" --help
t_true "05: break.sh --help lists the scenarios and ends its usage with a newline" "got: $T_OUT" \
  bash -c 'grep -q "^usage: break.sh \[--keep\]" <<<"$1" && grep -q "^  mtls-foreign$" <<<"$1" &&
    test "$(env BIN="$2" "$3" --help | tail -c 1 | od -An -c | tr -d " ")" = "\\n"' \
  _ "$T_OUT" "$BIN" "$COURSE_ROOT/05_https_server/break.sh"
# --keep: the folder stays under build/, and a command printed from it can be
# re-run by hand there (the server line, then the client with the new port)
t_run env BIN="$BIN" "$COURSE_ROOT/05_https_server/break.sh" revoked --keep
kept=$(sed -n 's/^kept: \([^ ]*\) .*/\1/p' <<<"$T_OUT")
t_true "05: break.sh --keep keeps its folder under build/ and says where" "got: $T_OUT" \
  bash -c '[[ $1 == "$2"/build/05-break.* && -f $1/lab/ca.crt && -f $1/revoked-chain.crt ]]' _ "$kept" "$COURSE_ROOT"
if [[ -d "$kept" && "$kept" == "$COURSE_ROOT"/build/05-break.* ]]; then
  read -ra srv_line <<<"$(sed -n 's/^server: 05-server //p' <<<"$T_OUT")"
  read -ra cli_line <<<"$(sed -n 's/^client: 05-client //p' <<<"$T_OUT")"
  cd "$kept" || exit 1
  if start_server 05-kept "$BIN/05-server" "${srv_line[@]}" >/dev/null; then
    cli_line=("${cli_line[@]/#https:\/\/localhost:*/https://localhost:$SERVER_PORT}")
    t_expect "05: break.sh --keep: the printed client command, re-run in the kept folder, fails the same way" 1 \
      --err "revoked: the CA has withdrawn the server's certificate" -- "$BIN/05-client" "${cli_line[@]}"
    stop_server "$SERVER_PID"
  else
    t_fail "05: break.sh --keep: the printed server line starts in the kept folder" "${srv_line[*]}"
  fi
  cd "$COURSE_ROOT" || exit 1
  rm -rf "$kept"
fi

# every break-it scenario, with the message and status the lab sheet shows
if break_pki "$tmp/break"; then
  for s in "${BREAK_SCENARIOS[@]}"; do
    IFS='|' read -r name want text what <<<"$s"
    if break_run "$name" "$tmp/break" && [[ "$T_RC" == "$want" && "$T_ERR" == *"$text"* ]] &&
      grep -q '^hint: ' <<<"$T_ERR"; then
      t_pass "05: break-it $name: exit $want, '$text' and a hint"
    else
      t_fail "05: break-it $name" "wanted exit $want and: $text"
    fi
  done
  start_server 05-mtls-opt2 "$BIN/05-server" --port 0 --cert "$tmp/break/good-chain.crt" \
    --key "$tmp/break/good.key" --client-ca "$tmp/break/lab/ca.crt" --client-cert optional >/dev/null
  t_expect "05: mTLS optional still refuses a certificate from a foreign CA" 1 \
    --err "the server refused our client certificate" \
    -- "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" --cacert "$tmp/break/lab/ca.crt" \
    --cert "$tmp/break/eve-chain.crt" --key "$tmp/break/eve.key"
  stop_server "$SERVER_PID"
  break_run good "$tmp/break"
  t_true "05: break-it control: the lab's good certificate works" "exit $T_RC: $T_ERR" test "$T_RC" = 0
else
  t_fail "05: break-it certificates" "minica failed"
fi

# The client's refusal of a foreign CA, seen from the server's side: 05-client
# must abort the handshake with an "unknown CA" alert (48). A verify callback
# that accepted everything would still fail the transfer (libcurl checks the
# verify result afterwards), but only after finishing the handshake: the
# server would never hear the alert, and only this test would notice.
if [[ -f "$tmp/break/mallory.crt" ]]; then
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  openssl s_server -accept "127.0.0.1:$port" -naccept 1 -cert "$tmp/break/mallory.crt" \
    -key "$tmp/break/mallory.key" -www >"$tmp/s_server-foreign.log" 2>&1 &
  spid=$!
  _COURSE_PIDS+=("$spid")
  # -naccept 1: a probe would use up its one connection, so wait for its word
  for ((i = 0; i < 50; i++)); do grep -qs '^ACCEPT' "$tmp/s_server-foreign.log" && break; sleep 0.1; done
  t_expect "05: the client refuses a server certificate from a foreign CA" 1 --err "unknown CA" \
    -- "$BIN/05-client" -q --url "https://localhost:$port" --cacert "$tmp/break/lab/ca.crt"
  for ((i = 0; i < 50; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  stop_server "$spid"
  t_true "05: the server hears the client's 'unknown CA' alert (48): the handshake was aborted" \
    "s_server log: $(tr '\n' ' ' <"$tmp/s_server-foreign.log" | cut -c 1-400)" \
    grep -q 'alert unknown ca.*SSL alert number 48' "$tmp/s_server-foreign.log"
fi

# errors a learner meets first
t_expect "05: a missing certificate file is one error and a hint" 1 \
  --err "05-server: error: cannot use the server certificate: $tmp/none.crt" --err "hint: \`make pki\`" \
  -- "$BIN/05-server" --port 0 --cert "$tmp/none.crt" --key "$P/server.key"
t_expect "05: a key that does not match is refused" 1 --err "the private key does not belong to the certificate" \
  -- "$BIN/05-server" --port 0 "${SRV[0]}" "${SRV[1]}" --key "$P/client.key"
t_expect "05: a missing --client-ca file is one error and a hint" 1 \
  --err "05-server: error: cannot read: $tmp/none.crt: No such file or directory" --err "hint: \`make pki\`" \
  -- "$BIN/05-server" --port 0 "${SRV[@]}" --client-ca "$tmp/none.crt"
t_expect "05: a missing CA file is named, with a hint" 1 --err "05-client: error: cannot read: $tmp/none.crt" \
  --err "hint: \`make pki\`" -- "$BIN/05-client" --cacert "$tmp/none.crt"
t_expect "05: https to a plain HTTP server is explained" 1 --err "did not answer in TLS" \
  -- bash -c "$(printf '%q ' "$BIN/01-server") --port 0 >$tmp/01.log 2>&1 & pid=\$!; sleep 0.5; \
     port=\$(head -1 $tmp/01.log | sed 's/.*://'); \
     $(printf '%q ' "$BIN/05-client") -q --url https://localhost:\$port ${CA[*]}; rc=\$?; kill \$pid; exit \$rc"
t_expect "05: --client-cert takes required or optional" 2 --err "--client-cert must be" \
  -- "$BIN/05-server" --client-cert maybe
t_expect "05: the client refuses an http:// URL (no silent plain text)" 2 --err "speaks HTTPS only" \
  -- "$BIN/05-client" --url "http://127.0.0.1:8001"
t_expect "05: --tls-version takes 1.1, 1.2 or 1.3" 2 --err "--tls-version must be" \
  -- "$BIN/05-client" --tls-version 1.0
t_expect "05: --help explains the server" 0 --out "usage: 05-server" -- "$BIN/05-server" --help
