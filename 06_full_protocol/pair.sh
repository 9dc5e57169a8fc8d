# SPDX-License-Identifier: MIT
# Chapter 06's tour, for `make 06`, `make 06-capture` and `make demo`.
# demo: register, enrol a device (EST, bound to the TLS connection), a signed HELLO, signed records in AES-GCM envelopes, a stolen token refused, CLOSE
# Sourced by scripts/run-chapter.sh after scripts/lib.sh.
#
# A fresh data folder and client home each run (in a temp dir), so the tour
# starts from nothing: the server makes its store and keys on first start.
servers() {
  04_pki_ca/make-pki.sh "$BIN" build/pki >/dev/null || return 1
  TOUR06=$(course_tmpdir)
  start_server 06-server "$BIN/06-server" --port 0 --data "$TOUR06/data"
}
clients() {
  local url="https://localhost:$SERVER_PORT" home="$TOUR06/alice" pw="$TOUR06/alice.pw"
  local c=("$BIN/06-client" --url "$url" --home "$home" --user alice --password-file "$pw")
  (umask 077 && printf 'correct horse battery staple\n' >"$pw")
  echo "== 1. an account: the password travels inside TLS, the server keeps an Argon2id hash"
  "${c[@]}" register || return 1
  echo "== 2. a device: a key made here, a certificate from the device CA (EST, bound to this connection)"
  "${c[@]}" enrol || return 1
  echo "== 3. a signed HELLO, then R1's record in an envelope, signed by the device"
  "${c[@]}" send-record '{"FirstName": "Pedro", "LastName": "Pascal", "Age": 49, "Hight": 1.73, "Address": "Santiago", "Comments": "signed, sealed, stored"}' || return 1
  echo "== 4. a record the table does not take: kept encrypted in quarantine, and the client told why"
  "${c[@]}" send-record '{"FirstName": "Ana", "Shoe": 38}'
  echo "== 5. R3's poll: DATA_REQUEST, DATA_RESPONSE with counters and a random string"
  "${c[@]}" --every 1 --count 2 poll || return 1
  echo "== 6. the token, with curl: it works with this device's certificate only"
  local tok
  tok=$("${c[@]}" -q token) || return 1
  curl -sS --cacert build/pki/root.crt --cert "$home/device.crt" --key "$home/device.key" \
    -H "Authorization: Bearer $tok" "$url/v1/whoami"
  echo
  echo "   ...and the same token without the certificate is refused:"
  curl -sS --cacert build/pki/root.crt -H "Authorization: Bearer $tok" "$url/v1/whoami"
  echo
  echo "== 7. CLOSE: the session's keys are wiped and its token revoked"
  "${c[@]}" close || return 1
  curl -sS --cacert build/pki/root.crt --cert "$home/device.crt" --key "$home/device.key" \
    -H "Authorization: Bearer $tok" "$url/v1/whoami"
  echo
  echo "== 8. the admin's audit: every stored signature verified again"
  "$BIN/06-admin" --url "$url" --data "$TOUR06/data" audit
}
