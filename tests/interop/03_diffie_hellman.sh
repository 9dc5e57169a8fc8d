#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 03 against OpenSSL's command line: `openssl genpkey` makes one key,
# `dh --save-key` the other, and `openssl pkeyutl -derive` and `dh --key
# --peer-key` must compute the same shared secret from the same key files,
# in both directions, for X25519, P-256, ffdhe2048 and modp_2048.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
cd "$tmp" || exit 1

# derive_openssl MINE PEER [PKEYOPT...]: the secret as lower-case hex
derive_openssl() {
  local mine=$1 peer=$2
  shift 2
  openssl pkeyutl -derive -inkey "$mine" -peerkey "$peer" "$@" | od -An -v -tx1 | tr -d ' \n'
}
# derive_dh "SUBCOMMAND [OPTIONS]" MINE PEER: our tool's 'shared: HEX' line, as hex
derive_dh() {
  # shellcheck disable=SC2086 # the subcommand and its options, split on purpose
  "$BIN/dh" $1 -q --key "$2" --peer-key "$3" | sed -n 's/^shared: //p'
}

check() { # NAME SUBCOMMAND GENPKEY-ARGS... -- PKEYUTL-ARGS...
  local name=$1 sub=$2
  shift 2
  local gen=() opt=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do gen+=("$1"); shift; done
  shift
  opt=("$@")
  rm -f a.pem a.pub b.pem b.pem.pub
  if ! openssl genpkey "${gen[@]}" -out a.pem 2>/dev/null || ! openssl pkey -in a.pem -pubout -out a.pub; then
    t_fail "03 interop $name: openssl makes a key" "openssl genpkey ${gen[*]} failed"
    return
  fi
  # shellcheck disable=SC2086
  t_expect "03 interop $name: dh writes a key pair" 0 --out "public: " -- "$BIN/dh" $sub --save-key b.pem
  t_true "03 interop $name: the private key file is 0600" "mode $(stat -c %a b.pem)" \
    test "$(stat -c %a b.pem)" = 600
  local o1 o2 d1 d2
  o1=$(derive_openssl a.pem b.pem.pub "${opt[@]}")
  o2=$(derive_openssl b.pem a.pub "${opt[@]}")
  d1=$(derive_dh "$sub" b.pem a.pub)
  d2=$(derive_dh "$sub" a.pem b.pem.pub)
  t_true "03 interop $name: both sides derive a non-empty secret" "openssl '$o1', dh '$d1'" \
    test -n "$o1" -a -n "$d1"
  t_true "03 interop $name: openssl (their key, our public) = dh (our key, their public)" \
    "openssl $o1 vs dh $d1" test "$o1" = "$d1"
  t_true "03 interop $name: openssl reading our private key agrees too" \
    "openssl $o2 vs dh $d1" test "$o2" = "$d1"
  t_true "03 interop $name: dh reads openssl's private key" "dh $d2 vs openssl $o1" test "$d2" = "$o1"
}

check x25519 x25519 -algorithm X25519 --
check p256 p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256 --
# RFC 7919 / TLS 1.3 keep the finite-field secret at the length of p: dh_pad
check ffdhe2048 ffdhe -algorithm DH -pkeyopt group:ffdhe2048 -- -pkeyopt dh_pad:1
check modp2048 "ffdhe --group modp2048" -algorithm DH -pkeyopt group:modp_2048 -- -pkeyopt dh_pad:1

# a key of a group we do not speak is refused with a reason, not misused
openssl genpkey -algorithm X448 -out x448.pem 2>/dev/null
t_expect "03 interop: an X448 key file is refused" 1 --err "unknown or unsupported group" \
  -- "$BIN/dh" x25519 --key x448.pem --peer-key a.pub
openssl genpkey -algorithm X25519 -out x.pem 2>/dev/null
t_expect "03 interop: an X25519 key given to 'dh p256' is refused" 1 --err "this is a x25519 key" \
  -- "$BIN/dh" p256 --key x.pem
