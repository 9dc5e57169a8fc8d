#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 05's break-it scenarios: `make 05-break` runs them all; each shows
# the server it starts, the client command and the error it gets.
# tests/chapters/05_https_server.sh sources this file and checks every
# scenario's message and exit status, so the lab sheet and the tests agree.
#
# The certificates are made here at run time by minica (chapter 04), in a
# temp dir: a "lab" CA the client trusts, and a "foreign" CA it does not
# (an attacker's). Nothing is committed, nothing in build/pki is touched.
#
#   break_pki DIR          make both CAs and every certificate below in DIR
#   break_run NAME DIR     start the scenario's server, run its client; sets
#                          BREAK_CMD (the client command), T_OUT/T_ERR/T_RC
#   BREAK_SCENARIOS        NAME|EXIT|EXPECTED STDERR TEXT|what it shows

BREAK_SCENARIOS=(
  "unknown-ca|1|unknown CA: the server's certificate does not lead to a CA we trust|the server's certificate comes from a CA the client does not trust"
  "wrong-name|1|wrong host name: the certificate is valid, but not for the host in the URL|a valid certificate, for www.example.com, served as localhost"
  "expired|1|expired: the server's certificate is past its notAfter date|a certificate whose validity ended yesterday"
  "revoked|1|revoked: the CA has withdrawn the server's certificate (it is on the CRL)|a certificate the CA revoked; the client checks the CRL"
  "tls11|1|no TLS version in common: the server refused every version we offered|a client that offers only TLS 1.1"
  "mtls-none|1|the server requires a client certificate (mutual TLS) and we sent none|mutual TLS required, the client has no certificate"
  "mtls-foreign|1|the server refused our client certificate: it does not trust the CA that issued it|mutual TLS, a client certificate from the foreign CA"
)

# break_pki DIR: lab CA (trusted), foreign CA (not), and the certificates.
break_pki() {
  local d=$1 m=${BIN:?}/minica
  # A throw-away passphrase for throw-away CAs; never written to a file.
  MINICA_PASSPHRASE=$(openssl rand -hex 16)
  export MINICA_PASSPHRASE
  mkdir -p "$d"
  (
    cd "$d" || exit 1
    "$m" init -q --dir lab --cn "Lab Root CA" &&
      "$m" init -q --dir foreign --cn "Foreign Root CA" &&
      "$m" issue -q --dir lab --profile server --name good localhost 127.0.0.1 &&
      "$m" issue -q --dir lab --profile server --name other www.example.com &&
      "$m" issue -q --dir lab --profile server --name expired --not-before -10d --not-after -1d \
        localhost 127.0.0.1 &&
      "$m" issue -q --dir lab --profile server --name revoked localhost 127.0.0.1 &&
      "$m" revoke -q --dir lab --reason keyCompromise revoked.crt &&
      "$m" crl -q --dir lab &&
      "$m" issue -q --dir foreign --profile server --name mallory localhost 127.0.0.1 &&
      "$m" issue -q --dir foreign --profile client --name eve eve
  ) >"$d/minica.log" 2>&1 || {
    echo "break: minica failed:" >&2
    sed 's/^/  | /' "$d/minica.log" >&2
    return 1
  }
}

# break_run NAME DIR
break_run() {
  local name=$1 d=$2
  local srv=(--cert "$d/good-chain.crt" --key "$d/good.key") cli=(--cacert "$d/lab/ca.crt")
  case "$name" in
    unknown-ca) srv=(--cert "$d/mallory-chain.crt" --key "$d/mallory.key") ;;
    wrong-name) srv=(--cert "$d/other-chain.crt" --key "$d/other.key") ;;
    expired) srv=(--cert "$d/expired-chain.crt" --key "$d/expired.key") ;;
    revoked)
      srv=(--cert "$d/revoked-chain.crt" --key "$d/revoked.key")
      cli+=(--crl "$d/lab/crl.pem")
      ;;
    tls11) cli+=(--tls-version 1.1) ;;
    mtls-none) srv+=(--client-ca "$d/lab/ca.crt" --client-cert required) ;;
    mtls-foreign)
      srv+=(--client-ca "$d/lab/ca.crt" --client-cert required)
      cli+=(--cert "$d/eve-chain.crt" --key "$d/eve.key")
      ;;
    good) ;;
    *) echo "break: no scenario $name" >&2; return 2 ;;
  esac
  start_server "05-server-$name" "$BIN/05-server" --port 0 "${srv[@]}" || return 1
  BREAK_SERVER=("05-server" "${srv[@]}")
  BREAK_SERVER_LOG=$SERVER_LOG
  BREAK_CMD=("05-client" -q --url "https://localhost:$SERVER_PORT" "${cli[@]}")
  T_OUT=$(timeout 30 "$BIN/05-client" -q --url "https://localhost:$SERVER_PORT" "${cli[@]}" \
    2>"$d/stderr")
  T_RC=$?
  T_ERR=$(cat "$d/stderr")
  stop_server "$SERVER_PID"
}

# Run directly (make 05-break [ARGS="NAME... --keep"]): every scenario, or the
# ones named, shown as a learner would type it. --keep keeps the folder (under
# build/, its path printed at the end) so the commands can be re-run by hand.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -uo pipefail
  ROOT=$(cd "$(dirname "$0")/.." && pwd)
  cd "$ROOT" || exit 1
  export BIN=${BIN:-$ROOT/build/bin}
  source scripts/lib.sh
  keep=0 only=()
  for a in "$@"; do
    case "$a" in
      --keep) keep=1 ;;
      -h | --help | --list)
        echo "usage: break.sh [--keep] [SCENARIO...]  (make 05-break ARGS=\"revoked --keep\")"
        printf '  %s\n' "${BREAK_SCENARIOS[@]%%|*}"
        exit 0 ;;
      *)
        ok=0
        for s in "${BREAK_SCENARIOS[@]}"; do [[ "${s%%|*}" == "$a" ]] && ok=1; done
        [[ $ok == 1 ]] || { echo "break: no scenario '$a'; there are: ${BREAK_SCENARIOS[*]%%|*}" >&2; exit 2; }
        only+=("$a") ;;
    esac
  done
  if [[ $keep == 1 ]]; then
    mkdir -p build && dir=$(mktemp -d "$ROOT/build/05-break.XXXXXX") || exit 1
  else
    dir=$(course_tmpdir)
  fi
  echo "== making the lab certificates with minica (in $dir)"
  break_pki "$dir" || exit 1
  short() { sed "s#$dir/##g"; }
  fails=0 ran=0
  for s in "${BREAK_SCENARIOS[@]}"; do
    IFS='|' read -r name want text what <<<"$s"
    if ((${#only[@]})); then
      sel=0
      for o in "${only[@]}"; do [[ "$o" == "$name" ]] && sel=1; done
      [[ $sel == 1 ]] || continue
    fi
    ran=$((ran + 1))
    echo
    echo "== $name: $what"
    break_run "$name" "$dir" || { fails=$((fails + 1)); continue; }
    echo "server: ${BREAK_SERVER[*]} --port 0" | short
    echo "client: ${BREAK_CMD[*]}" | short
    printf '%s\n' "$T_ERR" | short
    echo "exit status $T_RC"
    # the server's side of the story: its warning or civetweb's handshake error
    grep -E 'warning|sslize error' "$BREAK_SERVER_LOG" | head -n 1 | short | sed 's/^/server log: /'
    if [[ "$T_RC" != "$want" || "$T_ERR" != *"$text"* ]]; then
      echo "break: UNEXPECTED: wanted exit status $want and: $text" >&2
      fails=$((fails + 1))
    fi
  done
  echo
  echo "$((ran - fails)) of $ran scenarios failed the way they should"
  if [[ $keep == 1 ]]; then
    echo "kept: $dir (the paths above are relative to it: cd there, start the server"
    echo "  line with $BIN/05-server, then the client with $BIN/05-client and the port it printed)"
  fi
  exit $((fails > 0))
fi
