#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/exercises/03-2.sh - check exercise 03-2: 03-client and 03-server each
# print the session key's fingerprint,
#   key fingerprint: hhhh hhhh hhhh hhhh
# the first 8 bytes of SHA-256(session key) in hex, so two people can compare
# it over another channel: equal on a direct run, different through 03-mitm.
# Run from the repository root (make check-03-2). One verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 03-2

FP_RE='key fingerprint: [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}'
# the last fingerprint in a text, as 16 hex digits
fp_of() { grep -Eo "$FP_RE" <<<"$1" | tail -n 1 | sed 's/^key fingerprint: //; s/ //g'; }

start_server 03-server "$BIN/03-server" --port 0 >/dev/null 2>&1 ||
  fail "03-server does not start (it must still print 'listening on URL' first)"
URL=$SERVER_URL
SLOG=$SERVER_LOG
out=$(timeout 20 "$BIN/03-client" --verbose --url "$URL" 2>&1) ||
  fail "03-client --verbose failed against 03-server: $(grep -m1 'error' <<<"$out")"
key=$(sed -n 's/.*session key (--verbose only; never on the wire): \([0-9a-f]*\).*/\1/p' <<<"$out")
[[ ${#key} -eq 64 ]] || fail "03-client --verbose no longer prints its session key line"
fc=$(fp_of "$out")
[[ -n "$fc" ]] ||
  fail "03-client prints no 'key fingerprint: hhhh hhhh hhhh hhhh' line: add one after the HKDF step in kex_flow_client() (03_diffie_hellman/kex_flow.c)"
want=$(xxd -r -p <<<"$key" | openssl dgst -sha256 -binary | head -c 8 | xxd -p)
[[ "$fc" == "$want" ]] ||
  fail "the client's fingerprint $fc is not the first 8 bytes of SHA-256(session key) = $want (hash the 32 key bytes, not their hex text)"
fs=$(fp_of "$(cat "$SLOG")")
[[ -n "$fs" ]] ||
  fail "03-server prints no 'key fingerprint: ...' line: add one in post_kex() (03_diffie_hellman/server.c) once the key is derived"
[[ "$fs" == "$fc" ]] || fail "on a direct run the server says $fs and the client $fc: both must hash the same session key"
q=$(timeout 20 "$BIN/03-client" -q --url "$URL" 2>&1)
[[ -z "$(fp_of "$q")" ]] || fail "03-client --quiet still prints the fingerprint: use note(), which --quiet silences"
out=$(timeout 20 "$BIN/03-client" --url "$URL" 2>&1)
[[ -n "$(fp_of "$out")" ]] ||
  fail "03-client prints the fingerprint only with --verbose: it gives nothing away, so print it always"
# through the attacker: the client's key is shared with 03-mitm, not the server
start_server 03-mitm "$BIN/03-mitm" --port 0 --upstream "$URL" >/dev/null 2>&1 || fail "03-mitm does not start"
out=$(timeout 20 "$BIN/03-client" --url "$SERVER_URL" 2>&1) || fail "03-client through 03-mitm failed"
fc=$(fp_of "$out")
fs=$(fp_of "$(cat "$SLOG")")
[[ -n "$fc" && -n "$fs" && "$fc" != "$fs" ]] ||
  fail "through 03-mitm the client ($fc) and the server ($fs) should show different fingerprints"
pass "client and server print the same key fingerprint (SHA-256 of the session key); through 03-mitm they differ"
