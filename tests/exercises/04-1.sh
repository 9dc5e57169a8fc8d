#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-04-1: exercise 04-1, a name constraint for 04-server's
# enrolment CA (04_pki_ca/README.md, "Exercises in C"): it signs DNS names
# in course.test only. Builds, starts 04-server on a free loopback port with
# a PKI and codes of its own, sends CSRs to /enrol; prints one verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 04-1

source tests/exercises/04-common.bash

ex04_start
csr evil "${EC256[@]}" -addext "subjectAltName=DNS:evil.example"
enrol evil
[[ $CODE == 200 ]] && fail "a CSR for DNS:evil.example was signed: refuse every DNS name outside course.test (enrol_post in 04_pki_ca/enrol_server.c)"
[[ $CODE == 400 && $BODY == *"outside this CA's domain (course.test)"* ]] ||
  fail "a CSR for DNS:evil.example answered $CODE '$BODY', expected 400 with \"DNS name evil.example is outside this CA's domain (course.test)\""
[[ $BODY == *"DNS name evil.example is outside"* ]] || fail "the refusal should name the DNS name: got '$BODY'"
csr mixed "${EC256[@]}" -addext "subjectAltName=DNS:web.course.test,DNS:evil.example"
enrol mixed
[[ $CODE == 400 && $BODY == *"evil.example is outside"* ]] ||
  fail "a CSR for web.course.test AND evil.example answered $CODE: one name outside is enough to refuse"
csr boundary "${EC256[@]}" -addext "subjectAltName=DNS:evilcourse.test"
enrol boundary
[[ $CODE == 400 ]] ||
  fail "DNS:evilcourse.test answered $CODE: it ends in 'course.test' but is not in it; compare at a label boundary (a '.' before the domain)"
csr short "${EC256[@]}" -addext "subjectAltName=DNS:test"
enrol short
[[ $CODE == 400 ]] || fail "DNS:test (shorter than the domain) answered $CODE, expected 400"
for name in web.course.test course.test Printer.Course.TEST; do
  csr "ok-${name//./-}" "${EC256[@]}" -addext "subjectAltName=DNS:$name,IP:127.0.0.1"
  enrol "ok-${name//./-}"
  [[ $CODE == 200 ]] || fail "a CSR for DNS:$name answered $CODE '$BODY', expected 200 (DNS compares names without case)"
done
# the codes: a refusal costs none, so 3 of our 8 are spent now
[[ $EX_CODE == 4 ]] || fail "expected three enrolments to succeed, the code counter says $((EX_CODE - 1))"
csr alice "${EC256[@]}"
enrol alice
[[ $CODE == 200 ]] || fail "a CSR with no DNS name (04-client's: CN=alice only) answered $CODE '$BODY': the constraint is on DNS names"
csr star "${EC256[@]}" -addext "subjectAltName=DNS:*"
enrol star
[[ $CODE == 400 && $BODY == *"is not a DNS name"* ]] ||
  fail "DNS:* answered $CODE '$BODY': the policy's own syntax check must still come first (check the names after pki_sign_csr)"
pass "the enrolment CA signs DNS names in course.test only (label boundary, any case), a refusal costs no code"
