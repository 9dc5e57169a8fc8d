#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 04's pair end to end: enrolment (round trip, wrong code, code used
# twice, broken CSR), the signed key exchange direct, and its refusal through
# 03-mitm and through a smarter attacker that keeps the server's signature.
source "$(dirname "$0")/../lib.sh"
t=$(course_tmpdir)
PY=/usr/bin/python3

if ! "$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$t/pki" >"$t/pki.log" 2>&1; then
  t_fail "04 pair: make-pki.sh" "$(cat "$t/pki.log")"
  exit 0
fi
(umask 077 && printf '%s\n%s\n%s\n' "first-code-0123456789abcdef" "second-code-0123456789abcdef" \
  "retry-code-0123456789abcdef" >"$t/codes")
echo "first-code-0123456789abcdef" >"$t/code1"
echo "second-code-0123456789abcdef" >"$t/code2"
echo "third-code-but-not-on-the-list" >"$t/wrong"
if ! start_server 04-server "$BIN/04-server" --port 0 --pki "$t/pki" --codes "$t/codes"; then
  t_fail "04 pair: server starts" "no 'listening on' line"
  exit 0
fi
t_pass "04 pair: server starts with the course PKI and prints 'listening on URL'"
URL=$SERVER_URL
SLOG=$SERVER_LOG
MAIN_PID=$SERVER_PID
CA=$t/pki/root.crt

# ---- the CA service -------------------------------------------------------------
t_run curl -s "$URL/ca.crt"
t_true "04 pair: GET /ca.crt serves the root" "got: ${T_OUT:0:80}" \
  eval '[[ "$T_OUT" == "$(cat "$CA")" ]]'
curl -s "$URL/crl" >"$t/served-crl.pem"
t_expect "04 pair: GET /crl serves a CRL signed by the intermediate" 0 --err "verify OK" \
  -- openssl crl -in "$t/served-crl.pem" -CAfile "$t/pki/intermediate.crt" -noout
t_expect "04 pair: enrolment round trip" 0 --out "the one in --ca" \
  --out "wrote $t/alice/client.key" --out "wrote $t/alice/client.crt" --out "enrolled as CN=alice" \
  --out "not revoked according to /crl" \
  -- "$BIN/04-client" --enrol --url "$URL" --ca "$CA" --code-file "$t/code1" --cn alice \
  --out-dir "$t/alice"
t_run stat -c %a "$t/alice/client.key"
t_true "04 pair: the enrolled key is 0600" "mode $T_OUT" test "$T_OUT" = 600
t_expect "04 pair: openssl accepts the enrolled certificate as a TLS client" 0 --out OK \
  -- openssl verify -CAfile "$CA" -untrusted "$t/pki/intermediate.crt" -purpose sslclient \
  "$t/alice/client.crt"
t_expect "04 pair: ... and refuses it as a TLS server (client profile only)" 2 \
  -- openssl verify -CAfile "$CA" -untrusted "$t/pki/intermediate.crt" -purpose sslserver \
  "$t/alice/client.crt"
t_true "04 pair: the CA recorded it in its index" "not in index" \
  grep -q "CN=alice" "$t/pki/intermediate/index.txt"
t_expect "04 pair: the same code a second time is refused" 1 \
  --err "403" --err "this enrolment code was already used" --err "hint: an enrolment code works once" \
  -- "$BIN/04-client" --enrol --url "$URL" --ca "$CA" --code-file "$t/code1" --out-dir "$t/again"
t_true "04 pair: ... and nothing was saved" "files exist" test ! -e "$t/again/client.crt"
t_expect "04 pair: a wrong code is refused" 1 --err "wrong enrolment code" \
  -- "$BIN/04-client" --enrol --url "$URL" --ca "$CA" --code-file "$t/wrong" --out-dir "$t/w"
ENROL_CODE=second-code-0123456789abcdef \
  t_expect "04 pair: the code may come from ENROL_CODE" 0 --out "enrolled as CN=bob" \
  -- "$BIN/04-client" --enrol --url "$URL" --ca "$CA" --cn bob --out-dir "$t/bob"
t_expect "04 pair: no code at all: a clear error" 1 --err "no enrolment code" \
  -- env -u ENROL_CODE "$BIN/04-client" --enrol --url "$URL" --ca "$CA" --out-dir "$t/none"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$t/m.key" \
  -subj /CN=mallory -addext "basicConstraints=critical,CA:TRUE" -out "$t/m.csr" 2>/dev/null
csr=$(sed 's/$/\\n/' "$t/m.csr" | tr -d '\n')
# a broken CSR costs no code: the CSR is checked first ("mallory" -> "lallory" in the DER)
bad=$("$PY" -c 'import sys,base64
p=open(sys.argv[1]).read().splitlines()
d=bytearray(base64.b64decode("".join(l for l in p if "-----" not in l)))
d[d.find(b"mallory")]^=1
print("-----BEGIN CERTIFICATE REQUEST-----\\n"+base64.b64encode(bytes(d)).decode()+"\\n-----END CERTIFICATE REQUEST-----\\n",end="")' "$t/m.csr")
t_run curl -s -H 'Content-Type: application/json' \
  -d "{\"code\":\"third-code-but-not-on-the-list\",\"csr\":\"$bad\"}" "$URL/enrol"
t_true "04 pair: a CSR that does not parse or verify is a 400" "got: $T_OUT" \
  eval 'grep -q "bad CSR" <<<"$T_OUT" && grep -q "\"status\":400" <<<"$T_OUT"'
t_run curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"code\":\"third-code-but-not-on-the-list\",\"csr\":\"$csr\"}" "$URL/enrol"
t_true "04 pair: a good CSR with a wrong code is a 403" "got $T_OUT" test "$T_OUT" = 403
t_true "04 pair: the server logged the refusals" "log lacks them" \
  grep -q "refused an enrolment: wrong enrolment code" "$SLOG"
# a CSR the policy refuses costs no code either: the code is spent only when a
# certificate is made (regression: it used to be spent before signing)
enrol_with() { # CSR-file -> T_OUT: the JSON answer, then the HTTP status on its own line
  local body
  body=$(sed 's/$/\\n/' "$1" | tr -d '\n')
  t_run curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"code\":\"retry-code-0123456789abcdef\",\"csr\":\"$body\"}" "$URL/enrol"
}
openssl req -new -newkey rsa:1024 -nodes -keyout "$t/weak.key" -subj /CN=weak -out "$t/weak.csr" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$t/rid.key" \
  -subj /CN=rid -addext "subjectAltName=RID:1.2.3.4" -out "$t/rid.csr" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$t/star.key" \
  -subj /CN=star -addext "subjectAltName=DNS:*" -out "$t/star.csr" 2>/dev/null
enrol_with "$t/weak.csr"
t_true "04 pair: an RSA-1024 CSR is refused (400)" "got: $T_OUT" \
  eval 'grep -q "RSA keys under 2048 bits are refused" <<<"$T_OUT" && grep -q "^400$" <<<"$T_OUT"'
enrol_with "$t/rid.csr"
t_true "04 pair: a CSR asking for a registeredID name is refused (400)" "got: $T_OUT" \
  eval 'grep -q "kind of name this CA does not sign" <<<"$T_OUT" && grep -q "^400$" <<<"$T_OUT"'
enrol_with "$t/star.csr"
t_true "04 pair: a CSR asking for DNS:* is refused (400)" "got: $T_OUT" \
  eval 'grep -q "is not a DNS name" <<<"$T_OUT" && grep -q "^400$" <<<"$T_OUT"'
enrol_with "$t/m.csr"
t_true "04 pair: ... and the same code then enrols a good CSR" "got: $T_OUT" \
  eval 'grep -q "BEGIN CERTIFICATE" <<<"$T_OUT" && grep -q "^200$" <<<"$T_OUT"'
enrol_with "$t/m.csr"
t_true "04 pair: ... once: the spent code is refused" "got: $T_OUT" \
  eval 'grep -q "this enrolment code was already used" <<<"$T_OUT" && grep -q "^403$" <<<"$T_OUT"'

# ---- the signed key exchange ------------------------------------------------------
t_expect "04 pair: signed exchange, direct (127.0.0.1)" 0 \
  --out "chain OK up to our trusted root; certificate for 127.0.0.1; signature valid" \
  --out "The secret message is: fluffy tail" -- "$BIN/04-client" --url "$URL" --ca "$CA"
t_expect "04 pair: signed exchange by name (localhost)" 0 --out "certificate for localhost" \
  --out "The secret message is: fluffy tail" \
  -- "$BIN/04-client" --url "http://localhost:$SERVER_PORT" --ca "$CA"
for g in p256 ffdhe2048; do
  t_expect "04 pair: signed exchange in group $g, and a message" 0 \
    --out "the server read 12 bytes: meet at noon" \
    -- "$BIN/04-client" --url "$URL" --ca "$CA" --group "$g" --send "meet at noon"
done
t_true "04 pair: the server signed the transcript" "log lacks it" \
  grep -q "signed the transcript (both offers and the name 127.0.0.1)" "$SLOG"
"$BIN/minica" init -q --dir "$t/other" --pass-file "$t/pki/ca-pass" >/dev/null
t_expect "04 pair: a client trusting another root refuses the server" 1 \
  --err "the server's certificate is not trusted for 127.0.0.1: unknown issuer" \
  -- "$BIN/04-client" --url "$URL" --ca "$t/other/ca.crt"
t_run curl -s -H 'Content-Type: application/json' \
  -d '{"group":"x25519","public":"'"$(printf '09%.0s' {1..32})"'","nonce":"'"$(printf '00%.0s' {1..32})"'","server_name":"example.com"}' \
  "$URL/kex"
t_true "04 pair: the server will not sign for a name its certificate lacks" "got: $T_OUT" \
  grep -q "this server's certificate is not for" <<<"$T_OUT"

# ---- the man in the middle ------------------------------------------------------------
if start_server 03-mitm "$BIN/03-mitm" --port 0 --upstream "$URL"; then
  MITM=$SERVER_URL
  t_expect "04 pair: through 03-mitm the client refuses before deriving a key" 1 \
    --err "04-client: error: key exchange: the answer is not signed" --err "someone is in the middle" \
    --not "combining our private value" --not "The secret message" \
    -- "$BIN/04-client" --url "$MITM" --ca "$CA"
  t_expect "04 pair: ... while chapter 03's client is still fooled by 03-mitm (against 03-server)" 0 \
    --out "The secret message is: fluffy tail" \
    -- bash -c 'source "$1/scripts/lib.sh"; start_server s "$2/03-server" --port 0 >/dev/null &&
      u=$SERVER_URL && start_server m "$2/03-mitm" --port 0 --upstream "$u" >/dev/null &&
      "$2/03-client" -q --url "$SERVER_URL"' _ "$COURSE_ROOT" "$BIN"
else
  t_fail "04 pair: 03-mitm starts" "see above"
fi
if start_server 04-mitm-swap "$PY" "$COURSE_ROOT/tests/helpers/04_mitm.py" --upstream "$URL" --mode swap; then
  t_expect "04 pair: an attacker who keeps the signature but swaps the public value is caught" 1 \
    --err "the signature does not match: someone is in the middle" \
    --err "hint: the public value that arrived is not the one the server signed" \
    --not "The secret message" -- "$BIN/04-client" --url "$SERVER_URL" --ca "$CA"
else
  t_fail "04 pair: the swapping attacker starts" "see above"
fi
if start_server 04-mitm-rename "$PY" "$COURSE_ROOT/tests/helpers/04_mitm.py" --upstream "$URL" --mode rename --name localhost; then
  t_expect "04 pair: an attacker who asks for a signature on another name is caught" 1 \
    --err "the signature does not match" -- "$BIN/04-client" --url "$SERVER_URL" --ca "$CA"
else
  t_fail "04 pair: the renaming attacker starts" "see above"
fi

# ---- a server certificate that does not name the host ---------------------------------
cp -a "$t/pki" "$t/pki-lh"
"$BIN/minica" issue -q --dir "$t/pki-lh/intermediate" --pass-file "$t/pki-lh/ca-pass" \
  --profile server --name "$t/pki-lh/server" localhost >/dev/null
if start_server 04-server-lh "$BIN/04-server" --port 0 --pki "$t/pki-lh"; then
  LH=$SERVER_URL
  t_expect "04 pair: asking by IP for a localhost-only server: the server says so" 1 \
    --err "this server's certificate is not for" -- "$BIN/04-client" --url "$LH" --ca "$CA"
  start_server 04-mitm-lh "$PY" "$COURSE_ROOT/tests/helpers/04_mitm.py" --upstream "$LH" \
    --mode rename --name localhost
  t_expect "04 pair: a certificate without the wanted name is refused by the client" 1 \
    --err "not trusted for 127.0.0.1: name mismatch" -- "$BIN/04-client" --url "$SERVER_URL" --ca "$CA"
  t_run curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"code":"x","csr":"y"}' "$LH/enrol"
  t_true "04 pair: without codes, enrolment is closed (503)" "got $T_OUT" test "$T_OUT" = 503
else
  t_fail "04 pair: the localhost-only server starts" "see above"
fi

# ---- start-up and usage -----------------------------------------------------------
t_expect "04 pair: no PKI: the server says what to run" 1 \
  --err "04-server: error: start: $t/nowhere/server.key: No such file or directory" --err "hint: run 'make pki'" \
  -- "$BIN/04-server" --port 0 --pki "$t/nowhere"
t_expect "04 pair: no root: the client says what to run" 1 \
  --err "04-client: error: --ca: $t/nowhere/root.crt: No such file or directory" --err "hint: run 'make pki'" \
  -- "$BIN/04-client" --url "$URL" --ca "$t/nowhere/root.crt"
t_expect "04 pair: --enrol and --send exclude each other" 2 --err "does not go with --send" \
  -- "$BIN/04-client" --enrol --send x
t_expect "04 pair: the client's --help: --enrol and its options, port 8004" 0 \
  --out "usage: 04-client" --out "--enrol" --out "--code-file F" --out "(default http://127.0.0.1:8004)" \
  --out "certificate or signature did not check out" -- "$BIN/04-client" --help
t_expect "04 pair: the server's --help: --pki, --codes, --cert-days, port 8004" 0 \
  --out "usage: 04-server" --out "--pki DIR" --out "--codes FILE" --out "--cert-days N" \
  --out "(default 8004;" -- "$BIN/04-server" --help
t_expect "04 pair: --cert-days 0 is a usage error" 2 --err "--cert-days: '0'" -- "$BIN/04-server" --cert-days 0
stop_server "$MAIN_PID"
t_true "04 pair: SIGTERM stops the server with status 0" "status $STOPPED_RC" test "${STOPPED_RC:-1}" = 0
