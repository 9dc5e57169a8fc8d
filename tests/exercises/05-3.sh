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

m=$BIN/minica
MINICA_PASSPHRASE=$(openssl rand -hex 16)
export MINICA_PASSPHRASE
(cd "$tmp" && "$m" init -q --dir ca --cn "Pin Lab CA" &&
  "$m" issue -q --dir ca --profile server --name one localhost 127.0.0.1 &&
  "$m" issue -q --dir ca --profile server --name two --key-type rsa2048 localhost 127.0.0.1) >"$tmp/minica.log" 2>&1 ||
  fail "minica could not make the lab certificates: $(tail -n 1 "$tmp/minica.log")"
for name in one two; do
  want=sha256//$(openssl x509 -in "$tmp/$name.crt" -pubkey -noout | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -binary | base64)
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
