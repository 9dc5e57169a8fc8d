# SPDX-License-Identifier: MIT
# tests/exercises/06-common.bash - what the chapter 06 checkers share (source it
# from the repository root after tests/exercises/lib.bash, with EX set to the
# exercise's number, e.g. 06-1):
#   ex06_start               builds 06-server, 06-client and 06-admin (SAN=1),
#                            makes a PKI in a temp dir, starts 06-server on a
#                            free port, registers the account 'checker' and
#                            enrols one device; sets C (the 06-client command,
#                            -q), ADM (06-admin for this server, -q), P (the
#                            PKI), tmp, and DEV1 (the device id), or prints
#                            the FAIL verdict and exits 1
ex06_start() {
  local bin=build/bin
  [[ ${SAN:-0} == 1 ]] && bin=build/san/bin
  exercise "$EX" "$bin/06-server" "$bin/06-client" "$bin/06-admin"
  # shellcheck disable=SC2154 # tmp: made by exercise (lib.bash)
  P=$tmp/pki
  if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
    fail "04_pki_ca/make-pki.sh could not make a PKI: $(tail -n 1 "$tmp/pki.log")"
  fi
  if ! start_server 06-server "$BIN/06-server" --port 0 --data "$tmp/data" --cert "$P/server-chain.crt" \
    --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass" 2>"$tmp/start.err"; then
    fail "06-server did not start: $(tail -n 2 "$tmp/start.err" | tr '\n' ' ')"
  fi
  export COURSE06_PASSWORD='a checker password, long enough'
  C=("$BIN/06-client" --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt" --home "$tmp/dev" -q)
  if ! "${C[@]}" --user checker register >"$tmp/c.log" 2>&1 || ! "${C[@]}" --user checker enrol >>"$tmp/c.log" 2>&1; then
    fail "could not register and enrol a device: $(tail -n 2 "$tmp/c.log" | tr '\n' ' ')"
  fi
  # shellcheck disable=SC2034 # DEV1 and ADM are for the checkers that source this file
  DEV1=$(grep -o 'device id (serial) [0-9a-f]*' "$tmp/c.log" | cut -d' ' -f4)
  # shellcheck disable=SC2034
  ADM=("$BIN/06-admin" --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt" --data "$tmp/data" -q)
}
