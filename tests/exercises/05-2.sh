#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-05-2: 05-client warns when the server's certificate expires within 30
# days (and still fetches the secret); a certificate with 45 days left gets no
# warning. Prints one verdict line; exit 0 PASS, 1 FAIL.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 05-2

# shellcheck source=05-common.bash
source tests/exercises/05-common.bash
lab_certs "Expiry Lab CA" "soon --days 10" "later --days 45"
# run_with NAME [client args]: the client against a server showing NAME's certificate
run_with() {
  local name=$1
  shift
  start_server "$name" "$BIN/05-server" --port 0 --cert "$tmp/$name-chain.crt" --key "$tmp/$name.key" >/dev/null ||
    fail "05-server did not start with the $name certificate"
  out=$(timeout 20 "$BIN/05-client" --url "https://localhost:$SERVER_PORT" --cacert "$tmp/ca/ca.crt" "$@" 2>"$tmp/err")
  rc=$?
  stop_server "$SERVER_PID"
}
run_with soon -q
[[ $rc == 0 && "$out" == *"fluffy tail"* ]] ||
  fail "a certificate with 10 days left is still valid: the client must fetch the secret (exit $rc: $(head -n 1 "$tmp/err"))"
grep -Eq "^05-client: warning: the server's certificate expires in (9|10) days \(on 20[0-9-]+ [0-9:]+ UTC\)" "$tmp/err" ||
  fail "no warning for a certificate 10 days from its notAfter (want on stderr, also with -q: 05-client: warning: the server's certificate expires in N days (on DATE): ...); got: $(head -n 1 "$tmp/err")"
run_with later
[[ $rc == 0 && "$out" == *"fluffy tail"* ]] || fail "the client failed against a certificate with 45 days left (exit $rc)"
if grep -q "expires in" "$tmp/err" <(printf '%s\n' "$out"); then
  fail "a certificate with 45 days left must not be warned about (the threshold is 30 days)"
fi
pass "05-client warns about a server certificate within 30 days of its notAfter, and only then"
