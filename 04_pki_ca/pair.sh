# SPDX-License-Identifier: MIT
# Chapter 04's pair, for `make 04`, `make 04-capture` and `make demo`.
# demo: enrol for a client certificate, then the signed key exchange works
# direct and is refused through 03-mitm.
# Sourced by scripts/run-chapter.sh after scripts/lib.sh.
servers() {
  PAIR_PKI=${PKI:-$COURSE_ROOT/build/pki}
  if [[ ! -f $PAIR_PKI/server-chain.crt ]]; then
    "$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$PAIR_PKI" >/dev/null || return 1
  fi
  PAIR_TMP=$(course_tmpdir)
  # a fresh one-time enrolment code, handed to the client "out of band" (a file)
  (umask 077 && openssl rand -hex 16 >"$PAIR_TMP/code")
  start_server 04-server "$BIN/04-server" --port 0 --pki "$PAIR_PKI" --codes "$PAIR_TMP/code" ||
    return 1
  local direct=$SERVER_URL
  # chapter 03's attacker, in front of the same server; the client meets it in part 3
  start_server 03-mitm "$BIN/03-mitm" --port 0 --upstream "$direct" || return 1
  MITM_URL=$SERVER_URL
  SERVER_URL=$direct
}
clients() {
  echo "== part 1: enrolment: a key and CSR, a one-time code, a client certificate"
  "$BIN/04-client" --enrol --url "$SERVER_URL" --ca "$PAIR_PKI/root.crt" \
    --code-file "$PAIR_TMP/code" --cn alice --out-dir "$PAIR_TMP/alice" || return 1
  echo
  echo "== part 2: the key exchange, signed by the server's certificate key, checked by the client"
  "$BIN/04-client" --url "$SERVER_URL" --ca "$PAIR_PKI/root.crt" --send "meet at noon" || return 1
  echo
  echo "== part 3: the same client, pointed at 03-mitm ($MITM_URL): it refuses"
  if "$BIN/04-client" --url "$MITM_URL" --ca "$PAIR_PKI/root.crt" --send "meet at noon"; then
    echo "pair: error: the client accepted the man in the middle" >&2
    return 1
  fi
  echo "(refused, as it should: no key was derived, nothing was sent)"
}
