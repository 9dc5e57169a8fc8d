# SPDX-License-Identifier: MIT
# Chapter 01's pair, for `make 01`, `make 01-capture` and `make demo`.
# demo: secret, headers and JSON readable by anyone on the wire
# Sourced by scripts/run-chapter.sh after scripts/lib.sh.
servers() {
  start_server 01-server "$BIN/01-server" --port 0
}
clients() {
  "$BIN/01-client" --url "$SERVER_URL" &&
    "$BIN/01-client" --url "$SERVER_URL" --post '{"user":"alice","note":"visible to all"}'
}
