# SPDX-License-Identifier: MIT
# tests/exercises/04-common.bash - what the chapter 04 checkers share: a
# course PKI of their own, a 04-server on a free loopback port, and CSRs
# sent to its /enrol by hand. Sourced by tests/exercises/04-K.sh after
# tests/exercises/lib.bash (fail, BIN, start_server) and `exercise 04-K`.

# make a PKI in a scratch folder (the tree's build/pki and its codes are
# left alone), start 04-server with codes of our own
ex04_start() {
  EX=$(course_tmpdir)
  04_pki_ca/make-pki.sh "$BIN" "$EX/pki" >"$EX/pki.log" 2>&1 || fail "make-pki.sh failed: $(tail -n 3 "$EX/pki.log")"
  (umask 077 && for i in 1 2 3 4 5 6 7 8; do echo "exercise-04-code-$i-0123456789"; done >"$EX/codes")
  start_server 04-server "$BIN/04-server" --port 0 --pki "$EX/pki" --codes "$EX/codes" 2>/dev/null ||
    fail "04-server did not start (run 'make 04-server' to see why)"
  EX_CODE=1
}

# csr NAME OPENSSL-REQ-OPTIONS...: a CSR in $EX/NAME.csr (CN NAME), made by openssl
csr() {
  local name=$1
  shift
  openssl req -new -nodes -keyout "$EX/$name.key" -subj "/CN=$name" "$@" -out "$EX/$name.csr" \
    2>"$EX/openssl.err" || fail "openssl req failed: $(head -n 2 "$EX/openssl.err")"
}

# enrol NAME: POST /enrol with $EX/NAME.csr and the current code; sets CODE
# (the HTTP status) and BODY. A code is used up only by a 200.
enrol() {
  local out pem
  pem=$(sed 's/$/\\n/' "$EX/$1.csr" | tr -d '\n')
  out=$(curl -sS --max-time "$(course_limit 5)" -w '\n%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"code\":\"exercise-04-code-$EX_CODE-0123456789\",\"csr\":\"$pem\"}" "$SERVER_URL/enrol" 2>&1)
  CODE=${out##*$'\n'}
  # shellcheck disable=SC2034 # BODY is for the checker that sources this
  BODY=${out%$'\n'*}
  [[ $CODE == 200 ]] && EX_CODE=$((EX_CODE + 1))
  return 0
}

# the EC P-256 options of openssl req
# shellcheck disable=SC2034 # for the checker that sources this
EC256=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
