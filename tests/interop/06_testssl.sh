#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06 under testssl.sh (Debian package testssl.sh, command testssl):
# 06-server on loopback, the findings read from testssl's JSON. Target: no
# HIGH or CRITICAL finding; each severity's count is one line.
#
# What is scanned: 06-server as a student runs it, with a server certificate
# from the course intermediate CA that names where its CRL is published.
# testssl rates a certificate with neither a CRL nor an OCSP URI HIGH ("no
# way to revoke it"); make-pki.sh's certificate has none, so this suite
# issues its own with a CRL distribution point, http://127.0.0.1:PORT/crl.der
# (plain HTTP, as RFC 5280 section 4.2.1.13 expects: a CRL is signed, and a
# CRL over HTTPS would need a certificate check to fetch what checks
# certificates), served by a small Python HTTP server from the intermediate
# CA's own CRL. testssl reads the URI from the certificate but, without
# --phone-out, does not fetch it; this suite fetches it itself.
#
# The options, and why (timed here on 2 cores: the full default scan ~55 s
# idle and ~95 s beside other builds; this choice ~30 s idle, ~70 s loaded):
#   -p -s -S -U          protocols, cipher categories (NULL, EXPORT, RC4, 3DES,
#                        CBC...), the certificate (chain, key, revocation, SAN)
#                        and every vulnerability check: each place a HIGH or
#                        CRITICAL rating comes from. Left out: cipher preference
#                        (-P), forward secrecy (-f: TLS 1.3 has only FS suites),
#                        HTTP headers (-h: HSTS is a browser's, rated LOW) and
#                        client simulation (INFO only, and the slowest part)
#   --fast               one connection per cipher family instead of one per
#                        cipher: 06-server offers three TLS 1.3 suites only, so
#                        the cipher-by-cipher tests have nothing more to find
#   --warnings batch     no prompt (there is no terminal in make test)
#   --quiet --color 0    no banner, plain text in the report
#   --jsonfile F         flat JSON: one object per finding, with "severity"
#   --openssl /usr/bin/openssl   the system's OpenSSL 3 (TLS 1.3, X25519),
#                        not a copy found first in PATH
#   --add-ca ROOT        trust the course root for the chain check; nothing in
#                        the system trust store changes
#   --ip 127.0.0.1       no DNS: localhost is the name in the certificate
#   --connect-timeout 5 --openssl-timeout 5   a hung connection costs 5 s, not forever
# 06-server asks every client for a certificate (optional at TLS): testssl
# sends none and every check completes, which the "Done" line shows.
# The scan is bounded by 180 s times COURSE_TIME_SCALE; it is judged only
# when it ran to its end (as tests/interop/05_testssl.sh explains).
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
tmp=$(course_tmpdir)
if ! command -v testssl >/dev/null; then
  t_skip "06 testssl" "testssl (Debian package testssl.sh) is not installed; make deps installs it"
  exit 0
fi
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 testssl: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi

# the CRL, served first: its port goes into the certificate
mkdir -p "$tmp/crl"
openssl crl -in "$P/crl.pem" -outform DER -out "$tmp/crl/crl.der"
if ! start_server crl-http "$PY" -u -c '
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
print("listening on http://127.0.0.1:%d" % s.server_port, flush=True)
s.serve_forever()' "$tmp/crl"; then
  t_fail "06 testssl: a CRL server starts" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
CRL_URL="http://127.0.0.1:$SERVER_PORT/crl.der"
t_expect "06 testssl: the intermediate CA's CRL is served at the URL the certificate names" 0 \
  --out "Course Intermediate CA" -- bash -c 'curl -sf "$1" | openssl crl -inform DER -noout -issuer' _ "$CRL_URL"
t_expect "06 testssl: a server certificate with that CRL distribution point" 0 -- \
  "$BIN/minica" issue -q --dir "$P/intermediate" --pass-file "$P/ca-pass" --profile server \
  --name "$tmp/scan" --crl-url "$CRL_URL" localhost 127.0.0.1 ::1

if ! start_server 06-server "$BIN/06-server" --port 0 --data "$tmp/data" --cert "$tmp/scan-chain.crt" \
  --key "$tmp/scan.key" --device-ca "$P/devices" --pass-file "$P/ca-pass"; then
  t_fail "06 testssl: the server starts on a free port" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
LOG=$SERVER_LOG
json=$tmp/testssl.json
txt=$tmp/testssl.txt
scan_limit=180
start=$SECONDS
T_TIMEOUT=$scan_limit t_run testssl --quiet --color 0 --warnings batch --fast -p -s -S -U --openssl /usr/bin/openssl \
  --connect-timeout 5 --openssl-timeout 5 --add-ca "$P/root.crt" --jsonfile "$json" --ip 127.0.0.1 \
  "localhost:$SERVER_PORT"
printf '%s\n' "$T_OUT" >"$txt"
echo "  (testssl took $((SECONDS - start)) s)"
if ((T_TIMED_OUT)); then
  why="the scan was stopped by its time limit, $(course_limit "$scan_limit") s"
elif [[ ! -s "$json" ]]; then
  why="testssl wrote no JSON ($(tail -n 3 "$txt"))"
elif grep -q '^Fatal error' "$txt"; then
  why="testssl gave up: $(grep -m 1 '^Fatal error' "$txt")"
elif ! grep -Eq '^ Done [0-9-]+ [0-9:]+ .*-->> ' "$txt"; then
  why="testssl's report has no 'Done' line: it stopped before its last check ($(tail -n 1 "$txt"))"
else
  why=
fi
# shellcheck disable=SC2034 # read by t_fail: the scan's output is in the report, not for t_fail to repeat
T_RC=
if [[ -n "$why" ]]; then
  t_fail "06 testssl: the scan ran to its end (with the server's optional client-certificate request)" "$why"
  exit 0
fi
t_pass "06 testssl: the scan ran to its end (with the server's optional client-certificate request)"

# one line per severity: "SEVERITY COUNT" then the non-OK findings
counts=$("$PY" - "$json" <<'PY'
import collections, json, sys
rows = json.load(open(sys.argv[1]))
c = collections.Counter(r["severity"] for r in rows)
for s in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "OK", "INFO"):
    print(s, c.get(s, 0))
for r in rows:
    if r["severity"] in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN"):
        print("finding %s %s: %s" % (r["severity"], r["id"], r["finding"]))
PY
)
count() { awk -v s="$1" '$1 == s { print $2 }' <<<"$counts"; }
grep '^finding ' <<<"$counts" | sed 's/^finding /  /'
for s in CRITICAL HIGH; do
  t_true "06 testssl: $(count $s) findings of severity $s (must be 0)" "$(grep "^finding $s" <<<"$counts")" \
    test "$(count $s)" = 0
done
# the rest are reported, not judged: LOW is DNS CAA (there is no DNS on
# loopback); WARN is testssl's own openssl (no GOST engine) and, on a busy
# machine, a session-ticket probe that could not connect
for s in MEDIUM LOW WARN OK INFO; do
  t_true "06 testssl: $(count $s) findings of severity $s (reported, not a failure)" "no count" test -n "$(count $s)"
done
finding() { "$PY" -c 'import json, sys
print(" | ".join(r["finding"] for r in json.load(open(sys.argv[1])) if r["id"] == sys.argv[2]))' "$json" "$1"; }
t_true "06 testssl: TLS 1.3 only (1.2 and below not offered)" "TLS1_2: $(finding TLS1_2); TLS1_3: $(finding TLS1_3)" \
  bash -c '[[ $1 == "not offered" && $2 == offered* ]]' _ "$(finding TLS1_2)" "$(finding TLS1_3)"
t_true "06 testssl: the chain of trust passes with the course root" "$(finding cert_chain_of_trust)" \
  grep -q '^passed' <<<"$(finding cert_chain_of_trust)"
t_true "06 testssl: the certificate's CRL distribution point is seen" "$(finding cert_crlDistributionPoints)" \
  grep -qF "$CRL_URL" <<<"$(finding cert_crlDistributionPoints)"

stop_server "$SERVER_PID"
t_true "06 testssl: the server stops cleanly on SIGTERM after the scan (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$LOG")" test "$STOPPED_RC" = 0
