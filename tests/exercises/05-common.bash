# SPDX-License-Identifier: MIT
# tests/exercises/05-common.bash - what the chapter 05 checkers share. Sourced
# by tests/exercises/05-K.sh after tests/exercises/lib.bash and `exercise 05-K`
# (tmp, BIN, fail).
#   lab_certs CN "NAME [ISSUE-OPTIONS...]"...   a CA of the checker's own in
#       $tmp/ca (named CN), and per NAME a server certificate for localhost and
#       127.0.0.1: $tmp/NAME.crt, NAME.key, NAME-chain.crt; or the FAIL verdict

# shellcheck disable=SC2154 # tmp and BIN: lib.bash
lab_certs() {
  local cn=$1 spec
  shift
  MINICA_PASSPHRASE=$(openssl rand -hex 16)
  export MINICA_PASSPHRASE
  (
    cd "$tmp" && "$BIN/minica" init -q --dir ca --cn "$cn" || exit 1
    for spec in "$@"; do
      # shellcheck disable=SC2086 # the name and its options, split on purpose
      set -- $spec
      "$BIN/minica" issue -q --dir ca --profile server --name "$1" "${@:2}" localhost 127.0.0.1 || exit 1
    done
  ) >"$tmp/minica.log" 2>&1 || fail "minica could not make the lab certificates: $(tail -n 1 "$tmp/minica.log")"
}

