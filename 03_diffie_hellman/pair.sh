# SPDX-License-Identifier: MIT
# Chapter 03's pair, for `make 03`, `make 03-capture` and `make demo`.
# demo: the key is agreed on the wire (public values only), then 03-mitm breaks it
# Sourced by scripts/run-chapter.sh after scripts/lib.sh.
servers() {
  start_server 03-server "$BIN/03-server" --port 0 || return 1
  local direct=$SERVER_URL
  # the attacker, in front of the same server; the client is pointed at it in part 2
  start_server 03-mitm "$BIN/03-mitm" --port 0 --upstream "$direct" || return 1
  MITM_URL=$SERVER_URL
  SERVER_URL=$direct
}
clients() {
  echo "== part 1: 03-client and 03-server agree a key over the open wire (X25519, then the toy group)"
  "$BIN/03-client" --url "$SERVER_URL" &&
    "$BIN/03-client" --url "$SERVER_URL" --group toy --send "meet at noon" || return 1
  echo
  echo "== part 2: the same client, pointed at 03-mitm ($MITM_URL): neither side notices"
  "$BIN/03-client" --url "$MITM_URL" &&
    "$BIN/03-client" --url "$MITM_URL" --send "meet at noon"
}
