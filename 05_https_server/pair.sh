# SPDX-License-Identifier: MIT
# Chapter 05's pair, for `make 05`, `make 05-capture` and `make demo`.
# demo: the same secret as chapter 01, now inside TLS 1.3, verified against the course CA
# Sourced by scripts/run-chapter.sh after scripts/lib.sh.
#
# The course PKI (`make pki`, chapter 04) is made or refreshed first; the
# client connects by name (localhost), so the handshake carries the SNI an
# eavesdropper can still read, and the certificate's name is checked.
servers() {
  04_pki_ca/make-pki.sh "$BIN" build/pki >/dev/null || return 1
  start_server 05-server "$BIN/05-server" --port 0 --crl build/pki/crl.pem
}
clients() {
  local url="https://localhost:$SERVER_PORT"
  "$BIN/05-client" --url "$url" &&
    "$BIN/05-client" --url "$url" --post '{"user":"alice","note":"inside TLS"}'
}
