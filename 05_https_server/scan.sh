#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scan.sh - `make 05-scan`: testssl.sh (Debian command `testssl`) against
# 05-server, the findings summarised by severity. Target: no HIGH, no CRITICAL.
#
# Revocation must be checkable, so the scanned server gets its own certificate
# from the course intermediate CA with a CRL distribution point that names the
# server's own GET /crl (served from the CA's CRL). testssl trusts the course
# root through --add-ca; nothing in the system's trust store changes.
#
#   BIN=build/bin 05_https_server/scan.sh [PKI_DIR]     (default build/pki)
#   SCAN_FAST=1  testssl --fast (fewer cipher checks; about half the time)
#   SCAN_OUT=DIR where the report goes (default build/05-scan)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
export BIN=${BIN:-$ROOT/build/bin}
PKI=${1:-build/pki}
OUT=${SCAN_OUT:-build/05-scan}
source scripts/lib.sh

command -v testssl >/dev/null || {
  echo "05-scan: error: testssl is not installed (Debian package testssl.sh)" >&2
  echo "hint: make deps (as root) installs it" >&2
  exit 1
}
[[ -f "$PKI/intermediate/ca.key" && -f "$PKI/ca-pass" ]] ||
  { echo "05-scan: error: no course PKI in $PKI" >&2; echo "hint: make pki" >&2; exit 1; }
tmp=$(course_tmpdir)
mkdir -p "$OUT"

# a free port first: the certificate names its CRL URL, which names the port
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
crl_url="https://localhost:$port/crl"
echo "1. a server certificate with a CRL distribution point ($crl_url)"
"$BIN/minica" issue -q --dir "$PKI/intermediate" --pass-file "$PKI/ca-pass" --profile server \
  --name "$tmp/scan" --crl-url "$crl_url" localhost 127.0.0.1 ::1 >"$tmp/minica.log" 2>&1 ||
  { sed 's/^/  | /' "$tmp/minica.log" >&2; exit 1; }
start_server 05-server "$BIN/05-server" --port "$port" --cert "$tmp/scan-chain.crt" \
  --key "$tmp/scan.key" --crl "$PKI/crl.pem" --threads 32 || exit 1
if ! curl -sf --cacert "$PKI/root.crt" "$crl_url" | openssl crl -inform DER -noout 2>/dev/null; then
  echo "05-scan: error: the CRL is not served at $crl_url" >&2
  exit 1
fi
echo "   the CRL is served there (DER, as RFC 5280 asks)"

echo "2. testssl ${SCAN_FAST:+--fast }against localhost:$port (about a minute)"
rm -f "$OUT/testssl.csv"
start=$(date +%s)
timeout 900 testssl --quiet --color 0 --warnings batch ${SCAN_FAST:+--fast} \
  --add-ca "$PKI/root.crt" --csvfile "$OUT/testssl.csv" --ip 127.0.0.1 "localhost:$port" \
  >"$OUT/testssl.txt" 2>&1
echo "   took $(($(date +%s) - start)) s; full report: $OUT/testssl.txt, $OUT/testssl.csv"
[[ -s "$OUT/testssl.csv" ]] || { echo "05-scan: error: testssl wrote no report" >&2; exit 1; }

echo "3. findings by severity"
# CSV: "id","fqdn/ip","port","severity","finding","cve","cwe"
/usr/bin/python3 - "$OUT/testssl.csv" <<'PY'
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
count = collections.Counter(r["severity"] for r in rows)
order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "OK", "INFO"]
print("   " + ", ".join(f"{s} {count.get(s, 0)}" for s in order))
for r in rows:
    if r["severity"] in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN") and r["id"] != "engine_problem":
        print(f"   {r['severity']:<8} {r['id']}: {r['finding']}")
sys.exit(1 if count.get("CRITICAL", 0) + count.get("HIGH", 0) else 0)
PY
rc=$?
if ((rc == 0)); then
  echo "no HIGH or CRITICAL finding"
else
  echo "05-scan: error: testssl reports HIGH or CRITICAL findings (above)" >&2
fi
exit $rc
