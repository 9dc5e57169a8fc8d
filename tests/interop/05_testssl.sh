#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 05 under testssl.sh: 05_https_server/scan.sh (make 05-scan) with a
# PKI made here; the full scan (about 40 s on an idle machine, well over a
# minute on a busy one), bounded by a time limit of 600 s times
# COURSE_TIME_SCALE. Target: no HIGH or CRITICAL finding; and the policy seen
# from outside. The findings are judged only on a scan that ran to its end:
# a scan stopped by a limit, or one where testssl gave up, leaves a report
# that lacks findings and may still read "no HIGH or CRITICAL".
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
if ! command -v testssl >/dev/null; then
  t_skip "05 testssl" "testssl (Debian package testssl.sh) is not installed; make deps installs it"
  exit 0
fi
04_pki_ca/make-pki.sh "$BIN" "$tmp/pki" >/dev/null 2>&1 || { t_fail "05 testssl: PKI" "make-pki.sh failed"; exit 0; }
scan_limit=600
T_TIMEOUT=$scan_limit t_expect "05 testssl: no HIGH or CRITICAL finding" 0 --out "CRITICAL 0, HIGH 0," \
  --out "no HIGH or CRITICAL finding" --out "the CRL is served there" \
  -- env SCAN_OUT="$tmp/scan" "$COURSE_ROOT/05_https_server/scan.sh" "$tmp/pki"
csv=$tmp/scan/testssl.csv
txt=$tmp/scan/testssl.txt
# testssl prints " Done DATE TIME -->> IP:PORT (NAME) <<--" after its last check
# and "Fatal error: ..." when it gives up (e.g. repeated TCP connect problems)
if ((T_TIMED_OUT)); then
  why="the scan was stopped by its time limit, $(course_limit "$scan_limit") s (timeout exit status 124)"
elif [[ ! -s "$txt" ]]; then
  why="testssl wrote no report ($txt)"
elif grep -q '^Fatal error' "$txt"; then
  why="testssl gave up: $(grep -m 1 '^Fatal error' "$txt")"
elif ! grep -Eq '^ Done [0-9-]+ [0-9:]+ .*-->> ' "$txt"; then
  why="testssl's report has no 'Done' line: it stopped before its last check ($(tail -n 1 "$txt"))"
else
  why=
fi
T_RC= # the scan's output is shown above already
if [[ -z "$why" ]]; then
  t_pass "05 testssl: the scan ran to its end"
else
  t_fail "05 testssl: the scan ran to its end" "$why"
  # what a partial report says is not judged: each finding below is skipped
  t_true() { t_skip "$1" "not judged: the scan did not run to its end"; }
fi
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
