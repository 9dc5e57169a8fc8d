#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06 interop: the openssl command line against 06-server, a peer that
# shares none of our code. `openssl s_client -keymatexport
# EXPORTER-Channel-Binding` computes the RFC 9266 tls-exporter of its own
# connection and sends POST /v1/hello on it: the value must equal the hex the
# server narrates for that request, and differ on the next connection (that
# value is what a HELLO signs, so a HELLO cannot be replayed elsewhere). Then
# what the handshake allows: TLS 1.2 is refused, no client certificate is a
# good handshake but a 403, a revoked device's certificate is refused in the
# handshake, and early data (0-RTT, replayable) is never taken. Last, the
# certificates the server issues, read by `openssl verify` and `openssl crl`.
# shellcheck disable=SC2016 # each bash -c script expands its own arguments
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 openssl: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
DATA=$tmp/data
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$DATA" --cert "$P/server-chain.crt" \
  --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass"; then
  t_fail "06 openssl: the server starts" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
LOG=$SERVER_LOG
URL="https://localhost:$SERVER_PORT"
printf 'correct horse battery staple\n' >"$tmp/alice.pw"
printf 'another long password\n' >"$tmp/bob.pw"
chmod 600 "$tmp"/*.pw
A=("$BIN/06-client" -q --url "$URL" --cacert "$P/root.crt" --home "$tmp/alice" --user alice --password-file "$tmp/alice.pw")
B=("$BIN/06-client" -q --url "$URL" --cacert "$P/root.crt" --home "$tmp/bob" --user bob --password-file "$tmp/bob.pw")
# alice's device is Ed25519, bob's P-256: openssl reads both
setup() { "$@" register && "$@" enrol; }
if ! setup "${A[@]}" >"$tmp/setup.log" 2>&1 || ! setup "${B[@]}" --key-type p256 >>"$tmp/setup.log" 2>&1; then
  t_fail "06 openssl: two accounts register and enrol a device" "$(tail -n 5 "$tmp/setup.log")"
  exit 0
fi
ALICE=(-cert "$tmp/alice/device.crt" -key "$tmp/alice/device.key")
BOB=(-cert "$tmp/bob/device.crt" -key "$tmp/bob/device.key")

# narrated: how many exporter values the server has narrated so far
narrated() { grep -c 'tls-exporter of this connection: ' "$LOG"; }

# hello [s_client args...]: one s_client connection that asks for the
# exporter and sends POST /v1/hello with a small body on it, then waits
# (bounded) for the server to narrate that request's exporter. Sets SOUT
# (all s_client printed), KM (s_client's keying material, lower-case hex),
# NARRATED (the server's hex for this request, or empty), STATUS (the HTTP
# status line's code) and SRC (s_client's exit status).
hello() {
  local before i limit
  before=$(narrated)
  SOUT=$(printf 'POST /v1/hello HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' |
    timeout "$(course_limit 10)" openssl s_client -connect "127.0.0.1:$SERVER_PORT" -servername localhost \
      -CAfile "$P/root.crt" -verify_return_error -keymatexport EXPORTER-Channel-Binding \
      -keymatexportlen 32 -ign_eof "$@" 2>&1)
  SRC=$?
  KM=$(sed -n 's/^ *Keying material: //p' <<<"$SOUT" | head -n 1 | tr 'A-F' 'a-f')
  # s_client may print its session details right before the response, on
  # the same line: take the status wherever it starts
  STATUS=$(grep -ao 'HTTP/1\.1 [0-9][0-9][0-9]' <<<"$SOUT" | head -n 1 | cut -d' ' -f2)
  NARRATED=
  limit=$(course_limit 5)
  for ((i = 0; i < limit * 20; i++)); do
    if (($(narrated) > before)); then
      NARRATED=$(grep 'tls-exporter of this connection: ' "$LOG" | sed -n "$((before + 1))p" |
        sed 's/.*tls-exporter of this connection: //')
      break
    fi
    # a handshake that failed narrates nothing: do not wait for it
    ((SRC != 0)) && break
    sleep 0.05
  done
}

# ---- the exporter, seen from both ends (RFC 9266) ------------------------------------------
hello "${ALICE[@]}"
t_true "06 openssl: s_client prints the 32-byte keying material" "$SOUT" grep -qE '^[0-9a-f]{64}$' <<<"$KM"
t_true "06 openssl: the server narrates the exporter of that request" "narrated '$NARRATED'; log: $(tail -n 3 "$LOG")" \
  grep -qE '^[0-9a-f]{64}$' <<<"$NARRATED"
t_true "06 openssl: s_client's EXPORTER-Channel-Binding equals the server's (one connection, one value)" \
  "s_client $KM, server $NARRATED" test -n "$KM" -a "$KM" = "$NARRATED"
t_true "06 openssl: POST /v1/hello with a device certificate reaches the HELLO checks (400 for '{}')" \
  "status '$STATUS'" test "$STATUS" = 400
KM1=$KM
hello "${ALICE[@]}"
t_true "06 openssl: a second connection: the two ends agree again" "s_client $KM, server $NARRATED" \
  test -n "$KM" -a "$KM" = "$NARRATED"
t_true "06 openssl: ...on another value (a HELLO signed for one connection fits no other)" "both $KM" \
  test -n "$KM" -a "$KM" != "$KM1"
hello "${BOB[@]}"
t_true "06 openssl: a P-256 device's connection agrees too" "s_client $KM, server $NARRATED" \
  test -n "$KM" -a "$KM" = "$NARRATED"

# ---- what the handshake allows -------------------------------------------------------------------
t_run openssl s_client -connect "127.0.0.1:$SERVER_PORT" -servername localhost -CAfile "$P/root.crt" \
  -tls1_2 "${ALICE[@]}" </dev/null
t_true "06 openssl: -tls1_2 is refused with a protocol_version alert (TLS 1.3 only)" "rc $T_RC: $T_OUT$T_ERR" \
  bash -c '[[ $1 != 0 ]] && grep -q "alert protocol version" <<<"$2"' _ "$T_RC" "$T_OUT$T_ERR"
hello
t_true "06 openssl: without a client certificate the handshake succeeds (certificates are optional at TLS)" \
  "rc $SRC: $SOUT" bash -c '[[ $1 == 0 ]] && grep -q "^New, TLSv1.3" <<<"$2"' _ "$SRC" "$SOUT"
t_true "06 openssl: ...and POST /v1/hello answers 403" "status '$STATUS'" test "$STATUS" = 403
t_true "06 openssl: ...with R3's CLOSE naming the missing certificate" "$SOUT" \
  grep -q '"type":"CLOSE","reason":"a client certificate is required' <<<"$SOUT"
hello -cert "$P/client.crt" -key "$P/client.key"
t_true "06 openssl: a certificate of the course's other CA is refused in the handshake" \
  "rc $SRC, status '$STATUS'" test "$SRC" != 0 -a -z "$STATUS"

# Early data (0-RTT) can be replayed by anyone on the path; the server never
# takes it. OpenSSL 3.0's s_client sends early data only if the ticket allows
# some ("Max Early Data" > 0), so this checks both ends: the tickets the
# server issues allow none, and a resumed connection given an early POST
# /v1/hello does not send it, so the server never narrates that request; the
# GET of the EST CA certificates sent after the handshake is the only request
# answered.
printf 'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >"$tmp/get"
t_run bash -c 'timeout "$1" openssl s_client -connect "127.0.0.1:$2" -servername localhost -CAfile "$3" \
  -sess_out "$4" -ign_eof <"$5"' _ "$(course_limit 10)" "$SERVER_PORT" "$P/root.crt" "$tmp/sess.pem" "$tmp/get"
t_run openssl sess_id -in "$tmp/sess.pem" -noout -text
t_true "06 openssl: the server's session ticket allows no early data (Max Early Data: 0)" "$T_OUT$T_ERR" \
  grep -q 'Max Early Data: 0$' <<<"$T_OUT"
printf 'POST /v1/hello HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}' >"$tmp/early"
before=$(narrated)
t_run bash -c 'timeout "$1" openssl s_client -connect "127.0.0.1:$2" -servername localhost -CAfile "$3" \
  -sess_in "$4" -early_data "$5" -ign_eof <"$6"' _ "$(course_limit 10)" "$SERVER_PORT" "$P/root.crt" \
  "$tmp/sess.pem" "$tmp/early" "$tmp/get"
t_true "06 openssl: the connection with early data resumed the saved session" "$T_OUT" grep -q '^Reused, TLSv1.3' <<<"$T_OUT"
t_true "06 openssl: ...and s_client sent no early data" "$T_OUT" grep -q 'Early data was not sent' <<<"$T_OUT"
t_true "06 openssl: ...the server answered only the request after the handshake" \
  "$(grep -ao 'HTTP/1\.1 [0-9]*' <<<"$T_OUT" | tr '\n' ' ')" \
  test "$(grep -ao 'HTTP/1\.1 [0-9]*' <<<"$T_OUT" | tr '\n' ' ')" = "HTTP/1.1 200 "
t_true "06 openssl: ...and never saw the early POST /v1/hello" "$(tail -n 3 "$LOG")" test "$(narrated)" = "$before"

# ---- the certificates the server issues, read by openssl --------------------------------------------
for who in alice bob; do
  t_expect "06 openssl: openssl verify -purpose sslclient accepts $who's device certificate" 0 \
    --out "$tmp/$who/device.crt: OK" -- openssl verify -purpose sslclient -CAfile "$P/root.crt" \
    -untrusted "$P/devices-ca.crt" "$tmp/$who/device.crt"
  t_expect "06 openssl: -purpose sslserver refuses it (a device is no server)" 2 \
    --out "error 26 at 0 depth lookup: unsuitable certificate purpose" -- bash -c 'openssl verify -purpose sslserver -CAfile "$1" \
    -untrusted "$2" "$3" 2>&1' _ "$P/root.crt" "$P/devices-ca.crt" "$tmp/$who/device.crt"
done
t_expect "06 openssl: the admin certificate verifies as a TLS client too" 0 --out ": OK" \
  -- openssl verify -purpose sslclient -CAfile "$P/root.crt" -untrusted "$P/devices-ca.crt" "$DATA/admin.crt"

# ---- revocation: the CRL, and the handshake ---------------------------------------------------------
BOB_SERIAL=$(openssl x509 -in "$tmp/bob/device.crt" -noout -serial | cut -d= -f2)
# the device id is the serial as BN_bn2hex writes it, lower case: whole
# bytes, so a leading 0 digit stays (as in openssl x509 -serial)
bob_hex=$(tr 'A-F' 'a-f' <<<"$BOB_SERIAL")
t_expect "06 openssl: 06-admin revoke-device revokes bob's device" 0 --out "\"revoked\":\"$bob_hex\"" \
  -- "$BIN/06-admin" --url "$URL" --cacert "$P/root.crt" --data "$DATA" revoke-device "$bob_hex" --reason keyCompromise
t_run curl -sS --max-time "$(course_limit 10)" --cacert "$P/root.crt" -o "$tmp/crl.der" -w '%{http_code} %{content_type}' "$URL/crl"
t_true "06 openssl: GET /crl answers a DER CRL" "$T_OUT $T_ERR" test "$T_OUT" = "200 application/pkix-crl"
t_expect "06 openssl: openssl crl reads it: issued by the device CA, bob's serial revoked for keyCompromise" 0 \
  --out "Issuer: O = HTTPS from the ground up, CN = Course Device CA" --out "Serial Number: $BOB_SERIAL" \
  --out "Key Compromise" -- openssl crl -inform DER -in "$tmp/crl.der" -noout -text
t_expect "06 openssl: the CRL's signature verifies with the device CA's key" 0 --err "verify OK" \
  -- openssl crl -inform DER -in "$tmp/crl.der" -noout -CAfile "$P/devices-ca.crt"
openssl crl -inform DER -in "$tmp/crl.der" -out "$tmp/crl.pem" 2>/dev/null
t_expect "06 openssl: openssl verify -crl_check with that CRL: bob's certificate is revoked" 2 \
  --out "certificate revoked" -- bash -c 'openssl verify -crl_check -CRLfile "$1" -CAfile "$2" -untrusted "$3" "$4" 2>&1' \
  _ "$tmp/crl.pem" "$P/root.crt" "$P/devices-ca.crt" "$tmp/bob/device.crt"
t_expect "06 openssl: ...and alice's is not" 0 --out ": OK" -- openssl verify -crl_check -CRLfile "$tmp/crl.pem" \
  -CAfile "$P/root.crt" -untrusted "$P/devices-ca.crt" "$tmp/alice/device.crt"
# In TLS 1.3 the server judges the client's certificate after the client's
# Finished, so s_client has already sent its request when the alert comes:
# whether it reads the alert or a reset first is a race. The server's log is
# the witness that cannot be lost; the alert is named when s_client saw it.
refusals() { grep -c 'refusing the client certificate .*CN=bob (depth 0): certificate revoked' "$LOG"; }
before=$(refusals)
hello "${BOB[@]}"
for ((i = 0; i < $(course_limit 5) * 20 && $(refusals) == before; i++)); do sleep 0.05; done
seen="s_client saw no alert (a reset won the race)"
grep -q "alert certificate revoked" <<<"$SOUT" && seen="s_client read the certificate_revoked alert"
t_true "06 openssl: the revoked device's handshake is refused (the server: certificate revoked)" \
  "rc $SRC, status '$STATUS', $seen: $(grep -a -m 3 'alert\|errno' <<<"$SOUT"); log: $(tail -n 2 "$LOG")" \
  bash -c '[[ $1 != 0 && -z $2 ]] && (($3 > $4))' _ "$SRC" "$STATUS" "$(refusals)" "$before"
hello "${ALICE[@]}"
t_true "06 openssl: alice's device still connects, and the ends still agree" "s_client $KM, server $NARRATED" \
  test -n "$KM" -a "$KM" = "$NARRATED"
t_true "06 openssl: the server still serves" "$(tail -n 3 "$LOG")" kill -0 "$SERVER_PID"
stop_server "$SERVER_PID"
t_true "06 openssl: ...and stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$LOG")" test "$STOPPED_RC" = 0
