# SPDX-License-Identifier: MIT
# tests/exercises/lib.bash - what every exercise checker starts with. A checker
# (tests/exercises/NN-K.sh, run by `make check-NN-K`) reads:
#
#     cd "$(dirname "$0")/../.." || exit 1      # the repository root
#     source tests/exercises/lib.bash
#     exercise 02-1                              # its name; builds the tree
#     ...its checks: fail "what is missing, and where to look"...
#     pass "what now works"
#
# exercise NN-K [TARGET...]  names the checker (EXERCISE) and builds TARGETs
#                            (default: all) with `make -s`, or prints the FAIL
#                            verdict with the compiler's first error
# pass TEXT, fail TEXT       the one verdict line, `check-NN-K: PASS: TEXT`
#                            or `check-NN-K: FAIL: TEXT`, then exit 0 or 1
# spki_pin CERT              the pin of CERT's public key as curl takes it:
#                            sha256// and the base64 of the SHA-256 of its
#                            SubjectPublicKeyInfo (DER)
# tmp                        a folder of the checker's own, removed at exit
# and scripts/lib.sh: BIN (the sanitizer build's binaries under SAN=1, also
# when the checker runs without make), start_server (stopped at exit),
# course_tmpdir, course_limit.
set -uo pipefail
[[ ${SAN:-0} == 1 && -z ${COURSE_BIN:-} ]] && export COURSE_BIN=$PWD/build/san/bin
# shellcheck source=../../scripts/lib.sh
source scripts/lib.sh

pass() {
  echo "check-$EXERCISE: PASS: $*"
  exit 0
}
fail() {
  echo "check-$EXERCISE: FAIL: $*"
  exit 1
}
exercise() {
  EXERCISE=$1
  shift
  tmp=$(course_tmpdir)
  if ! make -s SAN="${SAN:-0}" "${@:-all}" >"$tmp/build.log" 2>&1; then
    fail "the tree does not build: $(grep -m 1 -E 'error|Error' "$tmp/build.log" || tail -n 1 "$tmp/build.log")"
  fi
}
spki_pin() {
  echo "sha256//$(openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -binary | base64)"
}
