#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-05-1: 05-client --pin sha256//BASE64 pins the server's public key.
# Two servers show valid certificates for localhost from the same trusted CA,
# each with its own key: with the first one's pin the client must get the
# secret from the first and refuse the second, saying it was the pin.
# Prints one verdict line; exit 0 PASS, 1 FAIL.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 05-1

# shellcheck source=05-common.bash
source tests/exercises/05-common.bash
lab_certs "Pin Lab CA" first second
# the pin: base64 of the SHA-256 of the first certificate's SubjectPublicKeyInfo (DER)
pin=$(spki_pin "$tmp/first.crt")
client() { timeout 20 "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" --cacert "$tmp/ca/ca.crt" "$@"; }

start_server first "$BIN/05-server" --port 0 --cert "$tmp/first-chain.crt" --key "$tmp/first.key" >/dev/null ||
  fail "05-server did not start with the lab certificate"
out=$(client --pin "$pin" 2>"$tmp/err")
rc=$?
if [[ $rc == 2 ]]; then
  fail "05-client does not take --pin yet ($(head -n 1 "$tmp/err")): add the option in 05_https_server/client.c"
fi
[[ $rc == 0 && "$out" == *"fluffy tail"* ]] ||
  fail "with the right pin the client got no secret (exit $rc: $(head -n 1 "$tmp/err")): is the pin passed to libcurl as given?"
out=$(client --pin "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=;$pin" 2>"$tmp/err")
rc=$?
[[ $rc == 0 && "$out" == *"fluffy tail"* ]] ||
  fail "a pin list (sha256//A;sha256//B, for a key change) must accept a key that is one of them"
stop_server "$SERVER_PID"

start_server second "$BIN/05-server" --port 0 --cert "$tmp/second-chain.crt" --key "$tmp/second.key" >/dev/null ||
  fail "05-server did not start with the second certificate"
client >/dev/null 2>"$tmp/err" || fail "without --pin the second server (a valid certificate) must still be accepted: $(head -n 1 "$tmp/err")"
out=$(client --pin "$pin" 2>"$tmp/err")
rc=$?
[[ $rc == 1 && "$out" != *"fluffy tail"* ]] ||
  fail "a server whose key is not the pinned one was accepted (exit $rc): set CURLOPT_PINNEDPUBLICKEY"
if ! grep -qi 'pin' "$tmp/err" || ! grep -q '^hint: ' "$tmp/err"; then
  fail "refused, but the error does not say it was the pin, with a hint (got: $(head -n 2 "$tmp/err" | tr '\n' ' '))"
fi
stop_server "$SERVER_PID"
pass "05-client --pin accepts the pinned key and refuses another valid key, naming the pin"
