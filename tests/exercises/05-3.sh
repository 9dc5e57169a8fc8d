#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-05-3: 05-client narrates the server's public key pin
# ("[client]    public key pin: sha256//BASE64"), the value 05-1's --pin takes:
# the same as openssl computes from the certificate, for two servers with
# different keys. Prints one verdict line; exit 0 PASS, 1 FAIL.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 05-3

# shellcheck source=05-common.bash
source tests/exercises/05-common.bash
lab_certs "Pin Lab CA" one "two --key-type rsa2048"
for name in one two; do
  want=$(spki_pin "$tmp/$name.crt")
  start_server "$name" "$BIN/05-server" --port 0 --cert "$tmp/$name-chain.crt" --key "$tmp/$name.key" >/dev/null ||
    fail "05-server did not start with the $name certificate"
  out=$(timeout 20 "$BIN/05-client" --url "https://localhost:$SERVER_PORT" --cacert "$tmp/ca/ca.crt" 2>&1)
  rc=$?
  stop_server "$SERVER_PID"
  [[ $rc == 0 ]] || fail "the client failed against the $name certificate (exit $rc)"
  got=$(sed -n 's/^\[client\]    public key pin: //p' <<<"$out")
  [[ -n "$got" ]] ||
    fail "no line '[client]    public key pin: sha256//...' in the narration (note() in on_connected, after the chain)"
  [[ "$got" == "$want" ]] ||
    fail "the $name server's pin is $want (openssl, from its certificate), the client said $got: hash the DER of the SubjectPublicKeyInfo (i2d_PUBKEY), not the whole certificate"
done
pass "05-client narrates the server's public key pin, as openssl computes it, for an EC and an RSA key"
