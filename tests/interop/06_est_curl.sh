#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06 interop: curl and the openssl command line as the EST client
# (RFC 7030), no code of ours on the client side. Against a server started
# with --enrol-binding optional (the lab setting that lets a CSR come from
# anywhere): /cacerts gives the device CA; a CSR that asks for everything
# (CN=mallory, CA:TRUE, keyCertSign, a SAN, serverAuth) still gets a plain
# leaf named after the account, for TLS clients only (R2); RSA keys are
# refused by name and a CSR whose self-signature is broken proves no key
# (R5); /simplereenroll with the current certificate gives a new one and
# revokes the old (superseded). Against a default server (binding required):
# a CSR without the connection's tls-exporter in its challengePassword is
# refused (RFC 7030 section 3.5), and one with another value is a relayed CSR.
# shellcheck disable=SC2016 # each bash -c script expands its own arguments
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
cd "$tmp" || exit 1
P=$tmp/pki
if ! "$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 EST curl: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
SRV=(--cert "$P/server-chain.crt" --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass")
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$tmp/lab" "${SRV[@]}" --enrol-binding optional; then
  t_fail "06 EST curl: the server starts with --enrol-binding optional" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
LAB="https://localhost:$SERVER_PORT"
LAB_LOG=$SERVER_LOG
LAB_PID=$SERVER_PID
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$tmp/strict" "${SRV[@]}"; then
  t_fail "06 EST curl: a second server starts with the default binding" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
STRICT="https://localhost:$SERVER_PORT"
STRICT_LOG=$SERVER_LOG
STRICT_PID=$SERVER_PID
PW='correct horse battery staple'
CURL=(curl -sS --max-time "$(course_limit 20)" --cacert "$P/root.crt")
for u in "$LAB" "$STRICT"; do
  if ! "${CURL[@]}" -f -H 'Content-Type: application/json' \
    -d "{\"username\":\"alice\",\"password\":\"$PW\"}" "$u/v1/register" >"$tmp/register.out" 2>&1; then
    t_fail "06 EST curl: curl registers alice at $u" "$(cat "$tmp/register.out")"
    exit 0
  fi
done

# enroll URL PATH CSR OUT [curl args...]: POST the base64 DER CSR as
# application/pkcs10; the body goes to OUT; prints the HTTP status
enroll() {
  local u=$1 path=$2 csr=$3 out=$4
  shift 4
  # curl's complaints go to OUT's .err: a refused handshake answers no status (000)
  "${CURL[@]}" "$@" -H 'Content-Type: application/pkcs10' --data-binary "@$csr" -o "$out" -w '%{http_code}' \
    "$u/.well-known/est/$path" 2>"$out.err"
}
# p7 FILE: the certificates of a base64 PKCS#7 certs-only answer, as text
p7() { base64 -d "$1" | openssl pkcs7 -inform DER -print_certs -text -noout; }
# csr KEY OUT [req args...]: a base64 DER CSR for KEY in OUT
csr() {
  local key=$1 out=$2
  shift 2
  openssl req -new -key "$key" -outform DER "$@" | base64 -w0 >"$out"
}

# ---- /cacerts --------------------------------------------------------------------------
t_run "${CURL[@]}" -o cacerts.b64 -w '%{http_code} %{content_type}' "$LAB/.well-known/est/cacerts"
t_true "06 EST curl: /cacerts answers application/pkcs7-mime" "$T_OUT $T_ERR" \
  grep -q '^200 application/pkcs7-mime' <<<"$T_OUT"
t_expect "06 EST curl: base64 -d | openssl pkcs7 -print_certs shows the device CA" 0 \
  --out "subject=O = HTTPS from the ground up, CN = Course Device CA" \
  -- bash -c 'base64 -d cacerts.b64 | openssl pkcs7 -inform DER -print_certs -noout'
base64 -d cacerts.b64 | openssl pkcs7 -inform DER -print_certs -out cacerts.pem 2>/dev/null
t_true "06 EST curl: ...and it is exactly the device CA certificate (same fingerprint)" \
  "$(openssl x509 -in cacerts.pem -noout -fingerprint -sha256 2>&1)" \
  test "$(openssl x509 -in cacerts.pem -noout -fingerprint -sha256 2>&1)" = \
  "$(openssl x509 -in "$P/devices-ca.crt" -noout -fingerprint -sha256)"

# ---- a CSR that asks for too much still gets a device leaf (R2) ---------------------------
openssl genpkey -algorithm ed25519 -out ed25519.key 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.key 2>/dev/null
ASK=(-subj "/CN=mallory/O=Course Root CA" -addext "basicConstraints=critical,CA:TRUE"
  -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
  -addext "extendedKeyUsage=serverAuth,clientAuth" -addext "subjectAltName=DNS:evil.example,DNS:localhost")
for k in ed25519 p256; do
  csr $k.key $k.csr "${ASK[@]}"
  t_true "06 EST curl: openssl req made a $k CSR asking for CA:TRUE, keyCertSign and a SAN" \
    "$(base64 -d $k.csr | openssl req -inform DER -noout -text 2>&1 | grep -A1 'Basic\|Alternative')" \
    bash -c 'base64 -d "$1" | openssl req -inform DER -noout -text | grep -q "CA:TRUE"' _ $k.csr
  code=$(enroll "$LAB" simpleenroll $k.csr $k.p7 -u "alice:$PW")
  t_true "06 EST curl: simpleenroll with curl -u answers 200 for the $k CSR" "HTTP $code: $(head -c 300 $k.p7)" \
    test "$code" = 200
  text=$(p7 $k.p7 2>&1)
  t_true "06 EST curl: the $k leaf names the account: subject CN=alice only (CN=mallory ignored)" "$text" \
    grep -qx ' *Subject: CN *= *alice' <<<"$text"
  t_true "06 EST curl: ...it is no CA: CA:FALSE, the CSR's CA:TRUE ignored (R2 copied it)" "$text" \
    bash -c 'grep -q "CA:FALSE" <<<"$1" && ! grep -q "CA:TRUE" <<<"$1"' _ "$text"
  t_true "06 EST curl: ...it cannot sign certificates or CRLs (keyCertSign ignored)" "$text" \
    bash -c 'grep -A1 "Key Usage: critical" <<<"$1" | grep -qx " *Digital Signature" && ! grep -q "Certificate Sign\|CRL Sign" <<<"$1"' _ "$text"
  t_true "06 EST curl: ...for TLS clients only (serverAuth ignored)" "$text" \
    bash -c 'grep -q "TLS Web Client Authentication" <<<"$1" && ! grep -q "Server Authentication" <<<"$1"' _ "$text"
  t_true "06 EST curl: ...and carries no SAN (the requested names ignored)" "$text" \
    bash -c '! grep -q "evil.example\|DNS:\|Alternative Name" <<<"$1"' _ "$text"
  base64 -d $k.p7 | openssl pkcs7 -inform DER -print_certs -out $k.crt 2>/dev/null
  t_true "06 EST curl: ...for the CSR's own key" "$(openssl x509 -in $k.crt -noout -pubkey 2>&1)" \
    test "$(openssl x509 -in $k.crt -noout -pubkey 2>&1)" = "$(openssl pkey -in $k.key -pubout)"
  t_expect "06 EST curl: openssl verify -purpose sslclient accepts the $k leaf" 0 --out "$k.crt: OK" \
    -- openssl verify -purpose sslclient -CAfile "$P/root.crt" -untrusted "$P/devices-ca.crt" $k.crt
done
code=$(enroll "$LAB" simpleenroll ed25519.csr wrongpw.out -u "alice:not the password")
t_true "06 EST curl: the wrong password is 401" "HTTP $code: $(cat wrongpw.out)" test "$code" = 401

# ---- keys the server does not take, and no proof of possession (R5) ---------------------------
for bits in 1024 2048; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$bits -out rsa$bits.key 2>/dev/null
  csr rsa$bits.key rsa$bits.csr -subj /CN=alice
  code=$(enroll "$LAB" simpleenroll rsa$bits.csr rsa$bits.out -u "alice:$PW")
  t_true "06 EST curl: an RSA-$bits CSR is 400, naming the key: Ed25519 or P-256 only (R5 issued RSA-1024)" \
    "HTTP $code: $(cat rsa$bits.out)" \
    bash -c '[[ $1 == 400 ]] && grep -q "must be Ed25519 or EC P-256; this request.s key is RSA $2" "$3"' _ "$code" $bits rsa$bits.out
done
# the last byte of the DER is the end of the signature: one bit flipped there
# keeps the structure and breaks the self-signature
csr p256.key good.csr -subj /CN=alice
base64 -d good.csr >good.der
/usr/bin/python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[-1] ^= 1; open(sys.argv[2], "wb").write(d)' \
  good.der broken.der
base64 -w0 broken.der >broken.csr
# (openssl 3.0's req -verify says so on stderr and still exits 0)
t_run openssl req -inform DER -in broken.der -noout -verify
t_true "06 EST curl: openssl itself finds the broken CSR's signature bad" "rc $T_RC: $T_ERR" \
  grep -q "self-signature verify failure" <<<"$T_ERR"
code=$(enroll "$LAB" simpleenroll broken.csr broken.out -u "alice:$PW")
t_true "06 EST curl: a CSR with a broken signature is 400: no proof of possession (R5)" \
  "HTTP $code: $(cat broken.out)" \
  bash -c '[[ $1 == 400 ]] && grep -q "no proof that you hold the key" "$2"' _ "$code" broken.out

# ---- simplereenroll: the current certificate asks, the old one is superseded ------------------------
openssl genpkey -algorithm ed25519 -out new.key 2>/dev/null
csr new.key new.csr -subj /CN=alice
code=$(enroll "$LAB" simplereenroll new.csr new.p7 --cert ed25519.crt --key ed25519.key)
t_true "06 EST curl: simplereenroll with curl --cert/--key answers 200" "HTTP $code: $(head -c 300 new.p7)" \
  test "$code" = 200
base64 -d new.p7 | openssl pkcs7 -inform DER -print_certs -out new.crt 2>/dev/null
OLD=$(openssl x509 -in ed25519.crt -noout -serial | cut -d= -f2)
NEW=$(openssl x509 -in new.crt -noout -serial 2>/dev/null | cut -d= -f2)
t_true "06 EST curl: ...a new certificate, CN=alice, for the new key, under a new serial" "old $OLD, new $NEW" \
  bash -c '[[ -n $2 && $1 != "$2" ]] && openssl x509 -in new.crt -noout -subject | grep -q "CN = alice$" &&
    [[ "$(openssl x509 -in new.crt -noout -pubkey)" == "$(openssl pkey -in new.key -pubout)" ]]' _ "$OLD" "$NEW"
"${CURL[@]}" -o crl.der "$LAB/crl"
t_expect "06 EST curl: the CRL now lists the old serial as superseded" 0 --out "Serial Number: $OLD" \
  --out "Superseded" --not "Serial Number: $NEW" -- openssl crl -inform DER -in crl.der -noout -text
# refused: how many handshakes the lab server refused for a revoked certificate
refused() { grep -c 'refusing the client certificate CN=alice (depth 0): certificate revoked' "$LAB_LOG"; }
n=$(refused)
t_run "${CURL[@]}" --cert ed25519.crt --key ed25519.key -o /dev/null -w '%{http_code}' "$LAB/.well-known/est/cacerts"
t_true "06 EST curl: the old certificate no longer passes the handshake (the server says: revoked)" \
  "rc $T_RC, HTTP '$T_OUT': $T_ERR; $(tail -n 2 "$LAB_LOG")" \
  bash -c '[[ $1 != 0 && $2 -gt $3 ]]' _ "$T_RC" "$(refused)" "$n"
# (curl's own message depends on when the alert overtakes its request)
n=$(refused)
code=$(enroll "$LAB" simplereenroll p256.csr again.p7 --cert ed25519.crt --key ed25519.key)
t_true "06 EST curl: ...so it cannot re-enrol again: no answer, the handshake is refused" \
  "HTTP $code: $(cat again.p7.err)" bash -c '[[ $1 == 000 && $2 -gt $3 ]]' _ "$code" "$(refused)" "$n"
code=$(enroll "$LAB" simplereenroll p256.csr nocert.out)
t_true "06 EST curl: simplereenroll without a certificate is 403" "HTTP $code: $(cat nocert.out)" \
  bash -c '[[ $1 == 403 ]] && grep -q "client certificate is required" nocert.out' _ "$code"

# ---- a revoked device's key never gets a certificate again (R1 re-enrolled revoked ids) ------------
P256=$(openssl x509 -in p256.crt -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
t_expect "06 EST curl: 06-admin revoke-device revokes the P-256 device (keyCompromise)" 0 \
  --out "\"revoked\":\"$P256\"" -- "$BIN/06-admin" --url "$LAB" --cacert "$P/root.crt" --data "$tmp/lab" \
  revoke-device "$P256" --reason keyCompromise
code=$(enroll "$LAB" simpleenroll p256.csr compromised.out -u "alice:$PW")
t_true "06 EST curl: a new CSR for that compromised key is 403, whatever the password (R1)" \
  "HTTP $code: $(cat compromised.out)" \
  bash -c '[[ $1 == 403 ]] && grep -q "this key belongs to a revoked device" compromised.out' _ "$code"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out fresh.key 2>/dev/null
csr fresh.key fresh.csr -subj /CN=alice
code=$(enroll "$LAB" simpleenroll fresh.csr fresh.p7 -u "alice:$PW")
t_true "06 EST curl: ...while a fresh key for the same account is enrolled" "HTTP $code: $(head -c 300 fresh.p7)" \
  test "$code" = 200

# ---- the default server: the CSR is bound to its TLS connection (RFC 7030 section 3.5) ------------
code=$(enroll "$STRICT" simpleenroll p256.csr unbound.out -u "alice:$PW")
t_true "06 EST curl: with the binding required, a CSR without challengePassword is 400 citing RFC 7030 section 3.5" \
  "HTTP $code: $(cat unbound.out)" \
  bash -c '[[ $1 == 400 ]] && grep -q "RFC 7030 section 3.5" "$2"' _ "$code" unbound.out
# a challengePassword that is some other connection's exporter, as a relayed
# CSR carries: curl cannot put its own connection's exporter there
cat >relay.cnf <<EOF
[req]
distinguished_name = dn
attributes = attrs
prompt = no
[dn]
CN = alice
[attrs]
challengePassword = $(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
EOF
csr p256.key relay.csr -config relay.cnf
t_true "06 EST curl: openssl req put a challengePassword in the relayed CSR" \
  "$(base64 -d relay.csr | openssl req -inform DER -noout -text 2>&1 | grep -i challenge)" \
  bash -c 'base64 -d relay.csr | openssl req -inform DER -noout -text | grep -q challengePassword'
code=$(enroll "$STRICT" simpleenroll relay.csr relay.out -u "alice:$PW")
t_true "06 EST curl: a CSR bound to another connection is 403 (a relayed CSR)" "HTTP $code: $(cat relay.out)" \
  bash -c '[[ $1 == 403 ]] && grep -q "a relayed CSR" "$2"' _ "$code" relay.out
t_true "06 EST curl: ...and the strict server issued nothing" \
  "$(sqlite3 -batch "$tmp/strict/course06.db" 'SELECT count(*) FROM devices' 2>&1)" \
  test "$(sqlite3 -batch "$tmp/strict/course06.db" 'SELECT count(*) FROM devices')" = 0
t_true "06 EST curl: both servers still serve" "$(tail -n 3 "$LAB_LOG")" kill -0 "$LAB_PID" "$STRICT_PID"
for pid in "$LAB_PID" "$STRICT_PID"; do
  stop_server "$pid"
  t_true "06 EST curl: server $pid stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
    "exit status $STOPPED_RC; $(tail -n 3 "$LAB_LOG" "$STRICT_LOG")" test "$STOPPED_RC" = 0
done
