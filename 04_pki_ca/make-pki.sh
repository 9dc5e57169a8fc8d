#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make-pki.sh BINDIR PKIDIR - build the course PKI (see 04_pki_ca/chapter.mk
# for the list of files). Idempotent: what exists and still verifies is kept.
set -euo pipefail
MINICA=$1/minica
D=$2
mkdir -p "$D"
chmod 700 "$D"
pass=$D/ca-pass
export NO_COLOR=1

if [[ ! -s $pass ]]; then
  # 32 random bytes as hex: the CA keys' passphrase, readable only by us
  (umask 077 && openssl rand -hex 32 >"$pass")
  echo "pki: wrote $pass (random CA passphrase, mode 0600)"
fi
if [[ ! -f $D/root/ca.key ]]; then
  "$MINICA" init -q --dir "$D/root" --pass-file "$pass" --cn "Course Root CA"
  rm -rf "$D/intermediate" "$D/devices"
fi
cp "$D/root/ca.crt" "$D/root.crt"
if [[ ! -f $D/intermediate/ca.key ]]; then
  "$MINICA" intermediate -q --dir "$D/root" --pass-file "$pass" --out "$D/intermediate" \
    --cn "Course Intermediate CA"
  rm -f "$D/server.crt" "$D/client.crt" "$D/crl.pem"
fi
cp "$D/intermediate/ca.crt" "$D/intermediate.crt"
# chapter 06's device CA: a second intermediate, for client certificates only.
# Its EKU clientAuth is inherited down the chain by OpenSSL's purpose check,
# so a certificate it signs never passes for a TLS server, and a device
# certificate never comes from the CA that signs servers.
if [[ ! -f $D/devices/ca.key ]]; then
  "$MINICA" intermediate -q --dir "$D/root" --pass-file "$pass" --out "$D/devices" \
    --cn "Course Device CA" --purpose client
fi
cp "$D/devices/ca.crt" "$D/devices-ca.crt"

# a leaf is kept while it still verifies (and has a week left)
fresh() { # fresh CERT PURPOSE [--host NAME]
  local cert=$1 purpose=$2
  shift 2
  [[ -f $cert && -f ${cert%.crt}.key ]] &&
    "$MINICA" verify -q --ca "$D/root.crt" --untrusted "$D/intermediate.crt" \
      --purpose "$purpose" "$@" "$cert" >/dev/null 2>&1 &&
    openssl x509 -in "$cert" -noout -checkend $((7 * 86400)) >/dev/null
}
if ! fresh "$D/server.crt" server --host localhost; then
  "$MINICA" issue -q --dir "$D/intermediate" --pass-file "$pass" --profile server \
    --name "$D/server" localhost 127.0.0.1 ::1
fi
if ! fresh "$D/client.crt" client; then
  "$MINICA" issue -q --dir "$D/intermediate" --pass-file "$pass" --profile client \
    --name "$D/client" course-client
fi
# the CRL is kept while the intermediate's signature on it verifies and its
# next update is more than a week away. Past its next update, every client
# that checks revocation (05-server, curl --crlfile) refuses every
# certificate: a time bomb that went off a month after `make pki` (issue 15).
crl_fresh() {
  local next
  [[ -f $D/crl.pem ]] &&
    openssl crl -in "$D/crl.pem" -CAfile "$D/intermediate.crt" -noout >/dev/null 2>&1 &&
    next=$(openssl crl -in "$D/crl.pem" -noout -nextupdate 2>/dev/null) &&
    next=$(date -u -d "${next#nextUpdate=}" +%s 2>/dev/null) &&
    ((next - $(date -u +%s) > 7 * 86400))
}
if ! crl_fresh; then
  "$MINICA" crl -q --dir "$D/intermediate" --pass-file "$pass" --days 30 --out "$D/crl.pem"
fi
# chapter 04's one-time enrolment codes (04-server --codes): ten random
# codes, one per line, 32 hex characters each, readable only by us
if [[ ! -s $D/codes ]]; then
  (umask 077 && for _ in 1 2 3 4 5 6 7 8 9 10; do openssl rand -hex 16; done >"$D/codes")
  echo "pki: wrote $D/codes (10 one-time enrolment codes, mode 0600)"
fi
echo "pki: ready in $D (root.crt, intermediate.crt, server.{key,crt}, server-chain.crt, client.{key,crt}, crl.pem, devices-ca.crt)"
