# SPDX-License-Identifier: MIT
# Chapter 01's pair, for `make 01`, `make 01-capture` and `make demo`.
# demo: secret, headers, JSON and a login password readable by anyone on the wire
# Sourced by scripts/run-chapter.sh after scripts/lib.sh.
servers() {
  start_server 01-server "$BIN/01-server" --port 0
}
clients() {
  "$BIN/01-client" --url "$SERVER_URL" &&
    "$BIN/01-client" --url "$SERVER_URL" --post '{"user":"alice","note":"visible to all"}' &&
    {
      # the login form of GET /page, posted as a browser would: the capture
      # then holds a password (the sheet's deliverable and recompute recipe)
      echo "[curl] POST $SERVER_URL/login with user=alice&password=wonderland, as the form sends it"
      curl -sS -d 'user=alice&password=wonderland' "$SERVER_URL/login"
    }
}
