#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 04, the CA: minica against openssl and Python's cryptography as
# independent judges. Every claim of 04_pki_ca/README.md about minica is
# checked here; the enrolment service and the signed exchange are in
# tests/chapters/04_pki_ca_pair.sh.
source "$(dirname "$0")/../lib.sh"
t=$(course_tmpdir)
M=$BIN/minica
PY=/usr/bin/python3
cd "$t" || exit 1
(umask 077 && echo "correct horse battery staple" >pass)
echo "not the passphrase" >wrong

# ---- the CA ------------------------------------------------------------------
t_expect "04: init makes a root CA and says what it wrote" 0 \
  --out "wrote root/ca.key" --out "encrypted" --out "wrote root/ca.crt" --out "in 3650 days" \
  -- "$M" init --dir root --pass-file pass
t_expect "04: init refuses to overwrite a CA key" 1 --err "refusing to overwrite" \
  -- "$M" init --dir root --pass-file pass
t_expect "04: intermediate (pathlen 0) signed by the root" 0 --out "wrote inter/ca.crt" \
  --out "wrote inter/chain.crt" -- "$M" intermediate --dir root --pass-file pass --out inter
t_expect "04: issue a server certificate for localhost, 127.0.0.1, ::1" 0 \
  --out "wrote server.key" --out "wrote server.crt" --out "wrote server-chain.crt" \
  --out "expires" --out "in 825 days" --out "DNS:localhost, IP:127.0.0.1, IP:::1" \
  -- "$M" issue --dir inter --pass-file pass --profile server --name server localhost 127.0.0.1 ::1
t_expect "04: issue a client certificate" 0 --out "wrote client.crt" \
  -- "$M" issue --dir inter --pass-file pass --profile client --name client alice alice@example.org
MINICA_PASSPHRASE="correct horse battery staple" \
  t_expect "04: the passphrase may come from MINICA_PASSPHRASE" 0 --out "wrote env.crt" \
  -- "$M" issue --dir inter --profile server --name env env.example
t_expect "04: without a passphrase and no terminal: a clear error" 1 \
  --err "there is no terminal to ask on" --err "hint: use --pass-file" \
  -- "$M" issue --dir inter --profile server --name nopass nopass.example </dev/null

# ---- openssl as the judge ---------------------------------------------------------
t_expect "04: openssl verify -purpose sslserver -verify_hostname localhost" 0 --out "server.crt: OK" \
  -- openssl verify -CAfile root/ca.crt -untrusted inter/ca.crt -purpose sslserver \
  -verify_hostname localhost server.crt
t_expect "04: openssl verify -verify_ip 127.0.0.1" 0 --out "server.crt: OK" \
  -- openssl verify -CAfile root/ca.crt -untrusted inter/ca.crt -purpose sslserver \
  -verify_ip 127.0.0.1 server.crt
t_expect "04: openssl verify -verify_ip ::1" 0 --out "server.crt: OK" \
  -- openssl verify -CAfile root/ca.crt -untrusted inter/ca.crt -verify_ip ::1 server.crt
t_expect "04: openssl agrees a wrong host name fails" 2 --err "hostname mismatch" \
  -- openssl verify -CAfile root/ca.crt -untrusted inter/ca.crt -verify_hostname example.com server.crt
t_expect "04: openssl verify -purpose sslclient accepts the client certificate" 0 \
  --out "client.crt: OK" -- openssl verify -CAfile root/ca.crt -untrusted inter/ca.crt \
  -purpose sslclient client.crt
t_run openssl x509 -in server.crt -noout -text
t_true "04: IP SANs are iPAddress entries, not DNS names" "$T_OUT" \
  grep -q "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" <<<"$T_OUT"
t_true "04: server leaf: CA:FALSE, serverAuth, SKI/AKI" "$T_OUT" eval \
  'grep -q "CA:FALSE" <<<"$T_OUT" && grep -q "TLS Web Server Authentication" <<<"$T_OUT" &&
   grep -q "Subject Key Identifier" <<<"$T_OUT" && grep -q "Authority Key Identifier" <<<"$T_OUT"'
t_run openssl x509 -in inter/ca.crt -noout -text
t_true "04: intermediate is CA:TRUE, pathlen:0, keyCertSign+cRLSign" "$T_OUT" eval \
  'grep -q "CA:TRUE, pathlen:0" <<<"$T_OUT" && grep -q "Certificate Sign, CRL Sign" <<<"$T_OUT"'
t_run openssl x509 -in root/ca.crt -noout -text
t_true "04: root is CA:TRUE (critical), keyCertSign+cRLSign (critical)" "$T_OUT" eval \
  'grep -A1 "Basic Constraints: critical" <<<"$T_OUT" | grep -q "CA:TRUE" &&
   grep -A1 "Key Usage: critical" <<<"$T_OUT" | grep -q "Certificate Sign, CRL Sign"'

# ---- keys -----------------------------------------------------------------------
t_true "04: key files are 0600" "$(stat -c '%n %a' root/ca.key inter/ca.key server.key client.key)" \
  eval '[[ $(stat -c %a root/ca.key inter/ca.key server.key client.key | sort -u) == 600 ]]'
t_expect "04: the CA key is encrypted (openssl cannot open it without the passphrase)" 1 \
  -- openssl pkey -in root/ca.key -passin pass: -noout
t_expect "04: ... and opens with it" 0 -- openssl pkey -in root/ca.key -passin file:pass -noout
t_run head -n 1 root/ca.key
t_true "04: the CA key is PKCS#8 encrypted PEM" "$T_OUT" test "$T_OUT" = "-----BEGIN ENCRYPTED PRIVATE KEY-----"
t_expect "04: a wrong passphrase is refused with a reason" 1 \
  --err "the key is encrypted: wrong or missing passphrase" \
  -- "$M" issue --dir inter --pass-file wrong --profile server --name w w.example
for kt in rsa2048 ed25519 ec; do
  t_expect "04: key --key-type $kt" 0 --out "wrote k-$kt.key" -- "$M" key --key-type "$kt" --out "k-$kt.key"
  t_expect "04: csr with every SAN kind ($kt)" 0 --out "wrote c-$kt.csr" \
    -- "$M" csr --key "k-$kt.key" --cn "svc.example" --country FR --state Occitanie \
    --locality Toulouse --org Course --ou Lab \
    --san "DNS:svc.example,IP:10.0.0.1,IP:2001:db8::1,email:ops@example.org,URI:https://svc.example/id" \
    --out "c-$kt.csr"
  t_expect "04: openssl req -verify accepts our CSR ($kt)" 0 --err "verify OK" \
    -- openssl req -in "c-$kt.csr" -noout -verify
  t_expect "04: sign the $kt CSR" 0 --out "wrote s-$kt.crt" \
    -- "$M" sign --dir inter --pass-file pass --csr "c-$kt.csr" --profile server --out "s-$kt.crt"
  t_expect "04: openssl verifies the $kt certificate" 0 --out "OK" \
    -- openssl verify -CAfile root/ca.crt -untrusted inter/ca.crt -verify_ip 2001:db8::1 "s-$kt.crt"
done
t_run stat -c %a k-ec.key
t_true "04: key --out writes 0600" "mode $T_OUT" test "$T_OUT" = 600
t_expect "04: key --encrypt" 0 --out "encrypted with the passphrase" \
  -- "$M" key --encrypt --pass-file pass --out kenc.key
t_expect "04: inspect a key never prints private material" 0 --out "contents not shown" \
  --not "PRIVATE KEY-----" --not "priv:" -- "$M" inspect k-ec.key
t_expect "04: unknown key type is refused" 1 --err "unknown key type 'dsa'" \
  -- "$M" key --key-type dsa --out x.key

# ---- the policy -----------------------------------------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout evil.key \
  -subj /CN=evil.example -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" -addext "subjectAltName=DNS:evil.example" \
  -out evil.csr 2>/dev/null
t_expect "04: a CSR asking for CA:TRUE is signed as a leaf, and minica says it ignored it" 0 \
  --err "ignored what the request asked for: basicConstraints, keyUsage" \
  -- "$M" sign --dir inter --pass-file pass --csr evil.csr --profile server --out evil.crt
t_run openssl x509 -in evil.crt -noout -ext basicConstraints,keyUsage
t_true "04: ... the result is CA:FALSE with digitalSignature only" "$T_OUT" eval \
  'grep -q "CA:FALSE" <<<"$T_OUT" && ! grep -q "Certificate Sign" <<<"$T_OUT"'
# the would-be sub-CA tries to sign something: verification must fail
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout victim.key \
  -subj /CN=bank.example -out victim.csr 2>/dev/null
openssl x509 -req -in victim.csr -CA evil.crt -CAkey evil.key -days 1 -out victim.crt 2>/dev/null
cat evil.crt inter/ca.crt >evilchain.pem
t_expect "04: a certificate signed by that leaf does not verify" 2 --err "invalid CA certificate" \
  -- openssl verify -CAfile root/ca.crt -untrusted evilchain.pem victim.crt

# tamper with a signed CSR: change one letter of its subject in the DER
"$PY" - c-ec.csr tampered.csr <<'EOF'
import sys, base64, re
pem = open(sys.argv[1]).read()
der = bytearray(base64.b64decode("".join(l for l in pem.splitlines() if "-----" not in l)))
i = der.find(b"svc.example")
der[i] ^= 0x01  # "svc" -> "rvc": the signature no longer matches
b64 = base64.b64encode(bytes(der)).decode()
open(sys.argv[2], "w").write("-----BEGIN CERTIFICATE REQUEST-----\n" +
    "\n".join(b64[j:j+64] for j in range(0, len(b64), 64)) + "\n-----END CERTIFICATE REQUEST-----\n")
EOF
t_run openssl req -in tampered.csr -noout -verify
t_true "04: openssl agrees the tampered CSR's signature is bad" "$T_ERR" \
  grep -q "self-signature verify failure" <<<"$T_ERR"
t_expect "04: a CSR with a broken signature is refused" 1 \
  --err "self-signature does not verify" --not "wrote" \
  -- "$M" sign --dir inter --pass-file pass --csr tampered.csr --profile server --out tampered.crt
t_true "04: ... and nothing was written" "tampered.crt exists" test ! -e tampered.crt
t_expect "04: inspect shows the CSR's self-signature is INVALID" 0 --out "INVALID" \
  -- "$M" inspect tampered.csr
"$M" key --out nosan.key >/dev/null
"$M" csr --key nosan.key --cn nosan.example --out nosan.csr >/dev/null
t_expect "04: a server certificate without SAN is refused" 1 \
  --err "needs at least one subject alternative name" \
  -- "$M" sign --dir inter --pass-file pass --csr nosan.csr --profile server --out nosan.crt
t_expect "04: validity is capped by the issuer's" 0 --out "validity cut to the CA's own expiry" \
  -- "$M" issue --dir inter --pass-file pass --profile server --days 20000 --name long long.example
t_true "04: ... the leaf ends when the intermediate ends" "dates differ" eval \
  '[[ "$(openssl x509 -in long.crt -noout -enddate)" == "$(openssl x509 -in inter/ca.crt -noout -enddate)" ]]'
# a CSR from elsewhere (openssl here, the network for 04-server) gets the same
# name checks as minica's own: no "*", no wildcard beyond a leftmost "*." label
for bad in 'DNS:*' 'DNS:*.*.example' 'DNS:f*o.example' 'email:nobody'; do
  rm -f wild.csr
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout wild.key \
    -subj /CN=wild -addext "subjectAltName=$bad" -out wild.csr 2>/dev/null
  t_expect "04: a CSR asking for $bad is refused" 1 --err "is not a" --not "wrote" \
    -- "$M" sign --dir inter --pass-file pass --csr wild.csr --profile server --out wild.crt
done
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout wild.key \
  -subj /CN=wild -addext "subjectAltName=DNS:*.wild.example" -out wild.csr 2>/dev/null
t_expect "04: ... while a leftmost *. wildcard is signed" 0 --out "wrote wild.crt" \
  -- "$M" sign --dir inter --pass-file pass --csr wild.csr --profile server --out wild.crt
t_true "04: every issued certificate is in the index" "$(cat inter/index.txt)" eval \
  '[[ $(grep -c "^V" inter/index.txt) -ge 8 ]] && grep -q "CN=localhost" inter/index.txt'

# separate processes share the CA folder (minica here, 04-server's enrolment):
# the index is locked across processes, so no line is lost
before=$(wc -l <inter/index.txt)
pids=()
for i in 1 2 3 4 5 6 7 8; do
  "$M" issue -q --dir inter --pass-file pass --profile client --name "par$i" "par$i" >/dev/null 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"
t_true "04: eight minica issue runs at once: all eight in the index" "$(wc -l <inter/index.txt) lines, were $before" \
  eval '[[ $(wc -l <inter/index.txt) -eq $((before + 8)) ]] && [[ $(grep -c "CN=par[1-8]$" inter/index.txt) -eq 8 ]]'


# ---- minica verify: each failure with its reason -----------------------------------------
t_expect "04: minica verify accepts the server for localhost" 0 --out "OK: server-chain.crt is valid for localhost" \
  -- "$M" verify --ca root/ca.crt --host localhost --purpose server server-chain.crt
t_expect "04: minica verify accepts the server for ::1" 0 \
  -- "$M" verify --ca root/ca.crt --untrusted inter/ca.crt --ip ::1 server.crt
"$M" issue -q --dir inter --pass-file pass --profile server --name expired \
  --not-before -10d --not-after -1d old.example >/dev/null 2>&1
t_expect "04: expired certificate: reason 'expired'" 1 --err "error: verify expired.crt: expired" \
  --err "hint:" -- "$M" verify --ca root/ca.crt --untrusted inter/ca.crt --host old.example expired.crt
"$M" issue -q --dir inter --pass-file pass --profile server --name future \
  --not-before +2d --not-after +30d future.example >/dev/null 2>&1
t_expect "04: not-yet-valid certificate: reason 'not yet valid'" 1 --err "future.crt: not yet valid" \
  -- "$M" verify --ca root/ca.crt --untrusted inter/ca.crt future.crt
t_expect "04: the lab option warns loudly" 0 --err "warning: lab option" \
  -- "$M" issue -q --dir inter --pass-file pass --profile server --name lab --not-after +1h lab.example
t_expect "04: wrong host name: reason 'name mismatch'" 1 --err "server.crt: name mismatch" \
  -- "$M" verify --ca root/ca.crt --untrusted inter/ca.crt --host example.com server.crt
t_expect "04: wrong IP: reason 'name mismatch'" 1 --err "server.crt: name mismatch" \
  -- "$M" verify --ca root/ca.crt --untrusted inter/ca.crt --ip 10.9.8.7 server.crt
t_expect "04: client certificate used as a server: reason 'wrong purpose'" 1 \
  --err "client.crt: wrong purpose" \
  -- "$M" verify --ca root/ca.crt --untrusted inter/ca.crt --purpose server client.crt
t_expect "04: missing intermediate: reason 'unknown issuer'" 1 --err "server.crt: unknown issuer" \
  --err "hint: no chain to a CA" -- "$M" verify --ca root/ca.crt server.crt
"$M" init -q --dir other --pass-file pass --cn "Someone Else" >/dev/null
t_expect "04: another root: reason 'unknown issuer'" 1 --err "unknown issuer" \
  -- "$M" verify --ca other/ca.crt server-chain.crt

# ---- revocation -------------------------------------------------------------------
"$M" issue -q --dir inter --pass-file pass --profile server --name doomed doomed.example >/dev/null
t_expect "04: crl with nothing revoked" 0 --out "CRL listing 0 revoked" \
  -- "$M" crl --dir inter --pass-file pass --days 7 --out crl0.pem
t_expect "04: not revoked yet: verify with the CRL passes" 0 --out "OK" \
  -- "$M" verify --ca root/ca.crt --untrusted inter/ca.crt --crl crl0.pem doomed.crt
t_expect "04: revoke by certificate file" 0 --out "revoked" --out "keyCompromise" \
  -- "$M" revoke --dir inter --reason keyCompromise doomed.crt
serial=$(openssl x509 -in doomed.crt -noout -serial | cut -d= -f2)
t_expect "04: revoking twice is refused" 1 --err "already revoked" \
  -- "$M" revoke --dir inter --reason superseded "$serial"
t_expect "04: an unknown reason is a usage error" 2 --err "is not one of" \
  -- "$M" revoke --dir inter --reason whim "$serial"
t_expect "04: crl --days 7 lists it" 0 --out "CRL listing 1 revoked" --out "in 7 days" \
  -- "$M" crl --dir inter --pass-file pass --days 7 --out crl.pem
t_expect "04: inspect the CRL: serial, reason, number 2" 0 --out "CRL number:    2" \
  --out "keyCompromise" -- "$M" inspect crl.pem
t_true "04: inspect shows the revoked serial" "serial $serial" \
  eval '"$M" inspect crl.pem | grep -qi "$serial"'
t_expect "04: revoked certificate: reason 'revoked'" 1 --err "doomed.crt: revoked" \
  -- "$M" verify --ca root/ca.crt --untrusted inter/ca.crt --crl crl.pem doomed.crt
t_expect "04: openssl verify -crl_check agrees it is revoked" 2 --err "certificate revoked" \
  -- openssl verify -crl_check -CRLfile crl.pem -CAfile root/ca.crt -untrusted inter/ca.crt doomed.crt
t_expect "04: openssl verify -crl_check accepts the others" 0 --out "server.crt: OK" \
  -- openssl verify -crl_check -CRLfile crl.pem -CAfile root/ca.crt -untrusted inter/ca.crt server.crt
t_run openssl crl -in crl.pem -noout -text
t_true "04: the CRL is signed by the intermediate, with AKI and a CRL number" "$T_OUT" eval \
  'grep -q "CN = Course Intermediate CA" <<<"$T_OUT" && grep -q "X509v3 CRL Number" <<<"$T_OUT" &&
   grep -q "Authority Key Identifier" <<<"$T_OUT" && grep -q "Key Compromise" <<<"$T_OUT"'
"$M" crl -q --dir other --pass-file pass --out crl-other.pem >/dev/null
t_expect "04: a CRL from another CA does not count" 1 --err "doomed.crt: no CRL for the issuer" \
  -- "$M" verify --ca root/ca.crt --untrusted inter/ca.crt --crl crl-other.pem doomed.crt

# ---- Python's cryptography parses every file ----------------------------------
t_expect "04: Python cryptography parses every file and sees the extensions" 0 --out "all checks passed" \
  -- "$PY" "$COURSE_ROOT/tests/helpers/04_pki_check.py" "$t"

# ---- inspect ----------------------------------------------------------------------
t_expect "04: inspect a certificate in words" 0 --out "issued to:     O=HTTPS from the ground up, CN=localhost" \
  --out "names (SAN):   DNS:localhost, IP:127.0.0.1, IP:::1" --out "expires in 82" \
  --out "key:           EC P-256" --out "leaf: may not sign" --out "TLS Web Server Authentication" \
  --out "SHA-256:       " -- "$M" inspect server.crt
t_expect "04: inspect the root: a CA, issued by itself" 0 --out "(itself: a root)" \
  --out "CA: may sign certificates" -- "$M" inspect root/ca.crt
t_expect "04: inspect a CSR" 0 --out "certificate signing request" --out "self-signature: valid" \
  --out "IP:2001:db8::1" --out "email:ops@example.org" --out "URI:https://svc.example/id" \
  -- "$M" inspect c-ec.csr
t_expect "04: inspect an expired certificate says so" 0 --out "EXPIRED" -- "$M" inspect expired.crt
t_expect "04: inspect a non-PEM file fails" 1 --err "not a PEM" -- "$M" inspect pass

# ---- usage --------------------------------------------------------------------
t_expect "04: unknown command is a usage error" 2 --err "unknown command" -- "$M" frobnicate
t_expect "04: an option that does not apply is a usage error" 2 --err "does not apply to 'verify'" \
  -- "$M" verify --dir root --ca root/ca.crt server.crt
t_expect "04: a bad SAN is refused" 1 --err "is not an IPv4 or IPv6 address" \
  -- "$M" csr --key k-ec.key --san IP:300.1.1.1 --out bad.csr
t_expect "04: --help lists every command" 0 --out "init" --out "intermediate" --out "revoke" \
  --out "--not-before" -- "$M" --help

# ---- make pki ---------------------------------------------------------------------
t_expect "04: make-pki.sh builds the course PKI" 0 --out "pki: ready" --out "wrote" \
  -- "$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$t/pki"
sums=$(cd pki && sha256sum ./*.crt ./*.key ./crl.pem)
t_expect "04: make-pki.sh again changes nothing" 0 --out "pki: ready" --not "wrote" \
  -- "$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$t/pki"
t_true "04: ... same files" "they changed" eval '[[ "$sums" == "$(cd pki && sha256sum ./*.crt ./*.key ./crl.pem)" ]]'
t_expect "04: the course PKI's server chain verifies for 127.0.0.1" 0 --out "OK" \
  -- "$M" verify --ca pki/root.crt --ip 127.0.0.1 --purpose server --crl pki/crl.pem pki/server-chain.crt
t_run stat -c %a pki/ca-pass pki/server.key pki/client.key
t_true "04: the PKI's passphrase and keys are 0600" "$T_OUT" eval '[[ $(sort -u <<<"$T_OUT") == 600 ]]'
# chapter 06's device CA: an intermediate of the same root, for clients only
t_expect "04: make pki's device CA verifies against the root" 0 --out "pki/devices-ca.crt: OK" \
  -- openssl verify -CAfile pki/root.crt pki/devices-ca.crt
t_true "04: devices-ca.crt is the device CA folder's certificate" "they differ" \
  cmp -s pki/devices-ca.crt pki/devices/ca.crt
t_run openssl x509 -in pki/devices-ca.crt -noout -subject -ext basicConstraints,extendedKeyUsage
t_true "04: the device CA is CN Course Device CA, CA:TRUE pathlen 0, EKU clientAuth only" "$T_OUT" eval \
  'grep -q "CN = Course Device CA" <<<"$T_OUT" && grep -q "CA:TRUE, pathlen:0" <<<"$T_OUT" &&
   grep -q "TLS Web Client Authentication" <<<"$T_OUT" && ! grep -q "Server Authentication" <<<"$T_OUT"'
t_run stat -c %a pki/devices/ca.key
t_true "04: the device CA key is 0600" "mode $T_OUT" test "$T_OUT" = 600
t_expect "04: the device CA key is encrypted (no passphrase: refused)" 1 \
  -- openssl pkey -in pki/devices/ca.key -passin pass: -noout
t_expect "04: ... and opens with build/pki/ca-pass" 0 \
  -- openssl pkey -in pki/devices/ca.key -passin file:pki/ca-pass -noout
t_expect "04: the device CA issues a client certificate" 0 --out "wrote dev1.crt" \
  -- "$M" issue --dir pki/devices --pass-file pki/ca-pass --profile client --name dev1 device-one
t_expect "04: openssl verify -purpose sslclient accepts it" 0 --out "dev1.crt: OK" \
  -- openssl verify -CAfile pki/root.crt -untrusted pki/devices-ca.crt -purpose sslclient dev1.crt
t_expect "04: a server certificate under the device CA is signed ..." 0 --out "wrote devsrv.crt" \
  -- "$M" issue --dir pki/devices --pass-file pki/ca-pass --profile server --name devsrv localhost
t_expect "04: ... but never passes for a TLS server (the CA's EKU is clientAuth)" 2 \
  --err "unsuitable certificate purpose" --err "at 1 depth" \
  -- openssl verify -CAfile pki/root.crt -untrusted pki/devices-ca.crt -purpose sslserver devsrv.crt
t_expect "04: intermediate --purpose takes client or server only" 2 --err "is not client or server" \
  -- "$M" intermediate --dir root --pass-file pass --out inter-bad --purpose both
