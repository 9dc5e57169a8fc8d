#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-04-2: exercise 04-2, the key types 04-server's enrolment CA
# signs (04_pki_ca/README.md, "Exercises in C"): EC P-256 and Ed25519 only.
# Builds, starts 04-server on a free loopback port with a PKI and codes of
# its own, sends CSRs to /enrol; prints one verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 04-2

source tests/exercises/04-common.bash

ex04_start
csr rsa -newkey rsa:2048
enrol rsa
[[ $CODE == 200 ]] && fail "an RSA-2048 CSR was signed: refuse every key but EC P-256 and Ed25519 (enrol_post in 04_pki_ca/enrol_server.c)"
[[ $CODE == 400 && $BODY == *"EC P-256 and Ed25519 keys only"* ]] ||
  fail "an RSA-2048 CSR answered $CODE '$BODY', expected 400 with \"this CA signs EC P-256 and Ed25519 keys only\""
csr p384 -newkey ec -pkeyopt ec_paramgen_curve:P-384
enrol p384
[[ $CODE == 400 && $BODY == *"keys only"* ]] ||
  fail "an EC P-384 CSR answered $CODE '$BODY': an EC key is not enough, the curve must be P-256 (EVP_PKEY_get_group_name)"
csr weak -newkey rsa:1024
enrol weak
[[ $CODE == 400 && $BODY == *"RSA keys under 2048 bits are refused"* ]] ||
  fail "an RSA-1024 CSR answered $CODE '$BODY': the policy's own refusal must still come first (check the key after pki_sign_csr)"
csr p256 "${EC256[@]}"
enrol p256
[[ $CODE == 200 ]] || fail "an EC P-256 CSR (what 04-client makes) answered $CODE '$BODY', expected 200"
[[ $EX_CODE == 2 ]] || fail "the refusals cost codes: the P-256 CSR needed code $EX_CODE"
csr ed -newkey ed25519
enrol ed
[[ $CODE == 200 ]] || fail "an Ed25519 CSR answered $CODE '$BODY', expected 200"
pass "the enrolment CA signs EC P-256 and Ed25519 keys only; RSA (any size) and P-384 get a 400 that costs no code"
