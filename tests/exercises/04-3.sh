#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-04-3: exercise 04-3, minica verify --pin sha256//BASE64 (the
# pin of the certificate's public key, as curl --pinnedpubkey takes it;
# 04_pki_ca/README.md, "Exercises in C"). Builds minica, makes a PKI of its
# own, computes the pins with openssl; prints one verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 04-3

EX=$(course_tmpdir)
P=$EX/pki
04_pki_ca/make-pki.sh "$BIN" "$P" >"$EX/pki.log" 2>&1 || fail "make-pki.sh failed: $(tail -n 3 "$EX/pki.log")"
# the pin, by openssl: SHA-256 of the SubjectPublicKeyInfo, in base64
server_pin=$(spki_pin "$P/server.crt")
inter_pin=$(spki_pin "$P/intermediate.crt")
# verify [options...] CERT: sets RC, OUT (stdout and stderr)
verify() {
  OUT=$("$BIN/minica" verify --ca "$P/root.crt" "$@" 2>&1)
  RC=$?
}

verify --pin "$server_pin" "$P/server-chain.crt"
[[ $RC == 2 && $OUT == *"unrecognized option"* ]] &&
  fail "minica verify does not take --pin yet: add the option (04_pki_ca/minica.c, minica.h) and the check (mc_verify in minica_verify.c)"
[[ $RC == 0 ]] || fail "verify with the server key's own pin exited $RC: $OUT"
[[ $OUT == *"OK: "* ]] || fail "verify with the right pin did not print its OK line: $OUT"
verify --pin "$inter_pin" "$P/server-chain.crt"
[[ $RC == 1 ]] ||
  fail "verify with the intermediate's pin (not the server's key) exited $RC, expected 1: the pin is of the leaf's key"
[[ $OUT == *"does not match --pin"* ]] || fail "a pin that does not match should say \"does not match --pin\": $OUT"
[[ $OUT == *"$server_pin"* ]] || fail "the refusal should name the certificate's own pin ($server_pin): $OUT"
verify --pin "$server_pin" "$P/client-chain.crt"
[[ $RC == 1 ]] || fail "client-chain.crt passed with the server's pin (exit $RC)"
# the pin adds to the chain, never replaces it: no chain, no pass
OUT=$("$BIN/minica" verify --ca "$P/devices-ca.crt" --pin "$server_pin" "$P/server-chain.crt" 2>&1)
RC=$?
[[ $RC == 1 && $OUT == *"unknown issuer"* ]] ||
  fail "with a --ca it does not chain to, the right pin still passed (exit $RC): check the chain first, then the pin"
verify --pin "sha256//$(openssl x509 -in "$P/server.crt" -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -hex | sed 's/.*= //')" "$P/server-chain.crt"
[[ $RC == 2 ]] || fail "--pin with a hex SHA-256 exited $RC, expected 2 (a usage error: the pin is base64, 44 characters)"
for bad in "md5//${server_pin#sha256//}" "sha256//" "${server_pin}x" "${server_pin#sha256//}"; do
  verify --pin "$bad" "$P/server-chain.crt"
  [[ $RC == 2 ]] || fail "--pin '$bad' exited $RC, expected 2 (a usage error): accept sha256// and 44 base64 characters only"
done
pass "minica verify --pin checks the leaf's public key (SHA-256 of its SubjectPublicKeyInfo) after the chain, and refuses a malformed pin"
