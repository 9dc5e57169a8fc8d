#!/usr/bin/env bash
# Chapter 05 under testssl.sh: 05_https_server/scan.sh (make 05-scan) with a
# PKI made here; the full scan (about 40 s here), bounded by a timeout.
# Target: no HIGH or CRITICAL finding; and the policy seen from outside.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
if ! command -v testssl >/dev/null; then
  t_skip "05 testssl" "testssl (Debian package testssl.sh) is not installed; make deps installs it"
  exit 0
fi
04_pki_ca/make-pki.sh "$BIN" "$tmp/pki" >/dev/null 2>&1 || { t_fail "05 testssl: PKI" "make-pki.sh failed"; exit 0; }
t_expect "05 testssl: no HIGH or CRITICAL finding" 0 --out "CRITICAL 0, HIGH 0," \
  --out "no HIGH or CRITICAL finding" --out "the CRL is served there" \
  -- env SCAN_OUT="$tmp/scan" "$COURSE_ROOT/05_https_server/scan.sh" "$tmp/pki"
csv=$tmp/scan/testssl.csv
finding() { grep "^\"$1\"," "$csv" | cut -d, -f4,5; }
t_true "05 testssl: TLS 1.0 and 1.1 not offered" "$(finding TLS1) / $(finding TLS1_1)" \
  bash -c '[[ $1 == *"not offered"* && $2 == *"not offered"* ]]' _ "$(finding TLS1)" "$(finding TLS1_1)"
t_true "05 testssl: TLS 1.3 offered" "$(finding TLS1_3)" grep -q '"offered with final"' <<<"$(finding TLS1_3)"
t_true "05 testssl: no CBC (obsolete) ciphers" "$(finding cipherlist_AVERAGE)" \
  grep -q '"not offered"' <<<"$(finding cipherlist_AVERAGE)"
t_true "05 testssl: server cipher order" "$(finding cipher_order)" grep -q '"server"' <<<"$(finding cipher_order)"
t_true "05 testssl: HSTS seen, over 180 days" "$(finding HSTS_time)" grep -q '^"OK"' <<<"$(finding HSTS_time)"
t_true "05 testssl: the chain of trust passes with the course root" "$(finding cert_chain_of_trust)" \
  grep -q '"passed."' <<<"$(finding cert_chain_of_trust)"
t_true "05 testssl: a CRL distribution point is published" "$(finding cert_crlDistributionPoints)" \
  grep -q 'https://localhost:[0-9]*/crl' <<<"$(finding cert_crlDistributionPoints)"
t_true "05 testssl: no TLS compression (CRIME)" "$(finding CRIME_TLS)" grep -q '"not vulnerable"' <<<"$(finding CRIME_TLS)"
t_true "05 testssl: no client-initiated renegotiation" "$(finding secure_client_renego)" \
  grep -q '"not vulnerable"' <<<"$(finding secure_client_renego)"
