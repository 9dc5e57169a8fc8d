#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06's channel binding (RFC 9266 tls-exporter) against a third-party
# peer: `openssl s_client -keymatexport EXPORTER-Channel-Binding` computes the
# exporter of its own connection and sends GET /exporter on that same
# connection to exporter-server (tests/helpers/exporter_server.c, on
# common/net's web_serve), which answers the value web_tls_exporter() gives
# its handler: the two must be equal, per connection, for TLS 1.3 and 1.2,
# fresh and resumed. Also: the verified client certificate (web_peer_cert),
# the exporter refused where it is not sound (TLS 1.2 without the extended
# master secret), kept across a TLS 1.3 KeyUpdate, renewed by a TLS 1.2
# renegotiation; and http_session (session-driver): one kept-alive
# connection, bodies built for the connection that carries them.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
P=$tmp/pki
04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1 ||
  { t_fail "06 exporter: PKI" "make-pki.sh failed: $(tail -n 3 "$tmp/pki.log")"; exit 0; }
SRV=(--cert "$P/server-chain.crt" --key "$P/server.key")
CLIENT=(--cert "$P/client-chain.crt" --key "$P/client.key")

# s_client PORT PATH [s_client args...]: one connection, PATH requested on it.
# Sets KM (the exporter s_client computed, lower-case hex), BODY (the hex the
# server answered) and SOUT (everything s_client printed).
s_client() {
  local port=$1 path=$2
  shift 2
  SOUT=$(printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" |
    timeout "$(course_limit 10)" openssl s_client -connect "127.0.0.1:$port" -servername localhost \
      -CAfile "$P/root.crt" -verify_return_error -keymatexport EXPORTER-Channel-Binding \
      -keymatexportlen 32 -ign_eof "$@" 2>&1)
  KM=$(sed -n 's/^ *Keying material: //p' <<<"$SOUT" | head -n 1 | tr 'A-F' 'a-f')
  # the body is the hex at the start of a line (s_client may print its
  # session details right after it, on the same line)
  BODY=$(grep -ao '^[0-9a-f]\{64\}' <<<"$SOUT" | head -n 1)
}

# peer PORT [curl args...]: /peer over curl; sets BODY
peer() {
  local port=$1
  shift
  BODY=$(curl -sS --max-time "$(course_limit 10)" --cacert "$P/root.crt" "$@" "https://localhost:$port/peer" 2>&1)
}

# s_client_cmd PORT LETTER PATH [s_client args...]: s_client's command letter
# (K: key update, R: renegotiate) on a fresh connection, then GET PATH on it.
# Each step waits for what it needs in s_client's output (bounded).
s_client_cmd() {
  local port=$1 letter=$2 path=$3 fifo=$tmp/in.$RANDOM out=$tmp/out.$RANDOM i limit
  shift 3
  mkfifo "$fifo"
  timeout "$(course_limit 15)" openssl s_client -connect "127.0.0.1:$port" -servername localhost \
    -CAfile "$P/root.crt" -verify_return_error -keymatexport EXPORTER-Channel-Binding \
    -keymatexportlen 32 -crlf "$@" <"$fifo" >"$out" 2>&1 &
  local pid=$!
  exec 7>"$fifo"
  limit=$(course_limit 10)
  for ((i = 0; i < limit * 20; i++)); do grep -q "Keying material" "$out" && break; sleep 0.05; done
  printf '%s\n' "$letter" >&7
  local want=KEYUPDATE
  [[ $letter == R ]] && want=RENEGOTIATING
  for ((i = 0; i < limit * 20; i++)); do grep -q "$want" "$out" && break; sleep 0.05; done
  printf 'GET %s HTTP/1.1\nHost: localhost\nConnection: close\n\n' "$path" >&7
  for ((i = 0; i < limit * 20; i++)); do
    grep -q '^[0-9a-f]\{64\}\|"status":\|^course-client\|^none' "$out" && break
    sleep 0.05
  done
  exec 7>&-
  wait "$pid" 2>/dev/null
  SOUT=$(cat "$out")
  KM=$(sed -n 's/^ *Keying material: //p' <<<"$SOUT" | head -n 1 | tr 'A-F' 'a-f')
  BODY=$(grep -ao '^[0-9a-f]\{64\}' <<<"$SOUT" | head -n 1)
  rm -f "$fifo" "$out"
}

is_hex64() { [[ $1 =~ ^[0-9a-f]{64}$ ]]; }

start_server exporter "$BIN/exporter-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" --renegotiation ||
  { t_fail "06 exporter: exporter-server starts" "see above"; exit 0; }
PORT=$SERVER_PORT
LOG=$SERVER_LOG

# ---- the exporter: s_client's value is the server's -------------------------
s_client "$PORT" /exporter -tls1_3
km13=$KM
t_true "06 exporter: TLS 1.3: s_client's tls-exporter equals what web_tls_exporter answers on that connection" \
  "s_client: '$KM', server: '$BODY'" bash -c 'is() { [[ $1 =~ ^[0-9a-f]{64}$ ]]; }; is "$1" && [[ $1 == "$2" ]]' _ "$KM" "$BODY"
t_true "06 exporter: the server narrates that value on stderr" "not in $LOG" \
  grep -q "exporter-server: note: tls-exporter of 127.0.0.1:[0-9]*: $km13" "$LOG"

s_client "$PORT" /exporter -tls1_2
km12=$KM
t_true "06 exporter: TLS 1.2 (with the extended master secret): s_client's value equals the server's" \
  "s_client: '$KM', server: '$BODY'" bash -c '[[ $1 =~ ^[0-9a-f]{64}$ && $1 == "$2" ]]' _ "$KM" "$BODY"
t_true "06 exporter: that TLS 1.2 connection had the extended master secret" \
  "$(grep -a 'master secret' <<<"$SOUT")" grep -q "Extended master secret: yes" <<<"$SOUT"

s_client "$PORT" /exporter -tls1_3
t_true "06 exporter: two connections have two values" "both $KM" \
  bash -c '[[ $1 =~ ^[0-9a-f]{64}$ && $1 == "$2" && $1 != "$3" && $1 != "$4" ]]' _ "$KM" "$BODY" "$km13" "$km12"

# ---- a resumed TLS 1.3 connection has a value of its own --------------------
s_client "$PORT" /exporter -tls1_3 -sess_out "$tmp/sess"
km_first=$KM
s_client "$PORT" /exporter -tls1_3 -sess_in "$tmp/sess"
t_true "06 exporter: the second connection resumed the first one's TLS session" \
  "$(grep -a -m1 'New,\|Reused,' <<<"$SOUT")" grep -q "^Reused, TLSv1.3" <<<"$SOUT"
t_true "06 exporter: a resumed connection has a value of its own, and the server has it too" \
  "first $km_first, resumed: s_client '$KM', server '$BODY'" \
  bash -c '[[ $1 =~ ^[0-9a-f]{64}$ && $1 == "$2" && $1 != "$3" ]]' _ "$KM" "$BODY" "$km_first"

# ---- the client certificate, as the TLS layer verified it -------------------
peer "$PORT" "${CLIENT[@]}"
t_true "06 exporter: with the course client certificate, /peer names its CN" "got '$BODY'" \
  test "$BODY" = course-client
peer "$PORT"
t_true "06 exporter: without a client certificate, /peer says none" "got '$BODY'" test "$BODY" = none

# ---- after a TLS 1.3 KeyUpdate, the same connection, the same value ----------
s_client_cmd "$PORT" K /exporter -tls1_3
t_true "06 exporter: a TLS 1.3 KeyUpdate keeps the connection's value (no new handshake)" \
  "s_client '$KM', server '$BODY'" bash -c '[[ $1 =~ ^[0-9a-f]{64}$ && $1 == "$2" ]]' _ "$KM" "$BODY"
t_true "06 exporter: the KeyUpdate went out" "$(tail -n 3 <<<"$SOUT")" grep -q KEYUPDATE <<<"$SOUT"

# ---- a TLS 1.2 renegotiation: a second handshake, a new value ----------------
s_client_cmd "$PORT" R /exporter -tls1_2
t_true "06 exporter: after a TLS 1.2 renegotiation the server answers the new handshake's value, not the first one's" \
  "first handshake '$KM', server after it '$BODY'" \
  bash -c '[[ $1 =~ ^[0-9a-f]{64}$ && $2 =~ ^[0-9a-f]{64}$ && $1 != "$2" ]]' _ "$KM" "$BODY"
t_true "06 exporter: the renegotiation happened" "$(tail -n 3 <<<"$SOUT")" grep -q RENEGOTIATING <<<"$SOUT"
s_client_cmd "$PORT" R /peer -tls1_2 -cert "$P/client.crt" -cert_chain "$P/client-chain.crt" -key "$P/client.key"
t_true "06 exporter: after a renegotiation that presents the same client certificate, /peer still names it" \
  "$(grep -a 'RENEG\|^course\|^none' <<<"$SOUT")" \
  bash -c 'grep -q RENEGOTIATING <<<"$1" && grep -aq "^course-client" <<<"$1"' _ "$SOUT"

# ---- http_session: one kept-alive connection, bodies made for it ------------
: >"$tmp/keylog"
chmod 0644 "$tmp/keylog"
before=$(grep -c "tls-exporter of" "$LOG")
SSLKEYLOGFILE=$tmp/keylog t_expect "06 session: one connection carries the requests; the body is made from its exporter, and again after a reconnect" 0 \
  --out "ok: the server's exporter is the session's, on a new connection" \
  --out "ok: the second request kept the connection (same exporter, no new connection)" \
  --out "ok: bound to this connection: " \
  --out "ok: after the server closed the connection, a new one carried the request and the body was made again for it" \
  --out "ok: server certificate CN=localhost" --out "ok: the server sees client certificate course-client" \
  -- "$BIN/session-driver" reuse --url "https://localhost:$PORT" --cacert "$P/root.crt" \
  --cert "$P/client-chain.crt" --key "$P/client.key"
session_out=$T_OUT
# the server's view: the first three requests came on one connection (one
# client port), the fourth on another
mapfile -t ports < <(grep "tls-exporter of" "$LOG" | tail -n +"$((before + 1))" | sed 's/.*127\.0\.0\.1:\([0-9]*\):.*/\1/')
t_true "06 session: the server saw the first three requests on one connection and the fourth on a new one" \
  "client ports: ${ports[*]}" \
  bash -c '[[ $# -ge 4 && $1 == "$2" && $2 == "$3" && $4 != "$3" ]]' _ "${ports[@]}"
mapfile -t values < <(grep "tls-exporter of" "$LOG" | tail -n +"$((before + 1))" | sed 's/.*: //')
t_true "06 session: the exporters the server narrated are the ones the session used" \
  "server: ${values[*]}" \
  bash -c 'grep -q "exporter $1\$" <<<"$5" && grep -q "exporter $4\$" <<<"$5" && [[ $1 == "$3" && $1 != "$4" ]]' \
  _ "${values[@]:0:4}" "$session_out"
t_true "06 session: SSLKEYLOGFILE works for sessions: both connections' secrets are in the key log" \
  "$(grep -c EXPORTER_SECRET "$tmp/keylog" 2>/dev/null) EXPORTER_SECRET lines" \
  bash -c '[[ $(grep -c "^EXPORTER_SECRET " "$1") -eq 2 ]]' _ "$tmp/keylog"
t_true "06 session: the key log is made private (0600)" "mode $(stat -c %a "$tmp/keylog")" \
  test "$(stat -c %a "$tmp/keylog")" = 600
t_expect "06 session: without a client certificate the server sees none" 0 \
  --out "ok: the server sees client certificate none" \
  -- "$BIN/session-driver" reuse --url "https://localhost:$PORT" --cacert "$P/root.crt"
t_run "$BIN/session-driver" reuse --url "https://localhost:$PORT" --cacert "$P/root.crt" --narrate
t_true "06 session: the narration shows a chunked body as its data, not its chunk framing" \
  "$(grep -a -- '-> ' <<<"$T_OUT" | grep -v ': ' | head -n 4)" \
  bash -c '[[ $1 == 0 ]] && grep -Eq "^\[client\] -> [0-9a-f]{64}\$" <<<"$2" && ! grep -Eq "^\[client\] -> (40|0)( \.\.\.)?\$" <<<"$2"' \
  _ "$T_RC" "$T_OUT"
stop_server "$SERVER_PID"

# ---- web_peer_cert trusts OpenSSL's verdict, not the handshake going on ------
(cd "$tmp" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout self.key \
  -out self.crt -subj /CN=mallory -days 1 >/dev/null 2>&1)
start_server exporter-any "$BIN/exporter-server" --port 0 "${SRV[@]}" --client-ca "$P/root.crt" \
  --accept-any-client-cert || { t_fail "06 exporter: exporter-server --accept-any-client-cert starts" "see above"; exit 0; }
peer "$SERVER_PORT" --cert "$tmp/self.crt" --key "$tmp/self.key"
t_true "06 exporter: a certificate the handshake let through unverified is not a peer certificate" \
  "got '$BODY'" test "$BODY" = none
peer "$SERVER_PORT" "${CLIENT[@]}"
t_true "06 exporter: ... while a verified one still is" "got '$BODY'" test "$BODY" = course-client
stop_server "$SERVER_PID"

# ---- a second handshake that fails leaves no value behind ------------------
# The request head goes out, then s_client renegotiates while the handler
# waits for the body; the server fails that handshake at its ClientHello
# (--fail-renegotiation), so the body never comes, and the handler narrates
# what web_tls_exporter says then: the first handshake's value would be a
# stale one, from keys the connection no longer vouches for.
start_server exporter-failreneg "$BIN/exporter-server" --port 0 "${SRV[@]}" --fail-renegotiation ||
  { t_fail "06 exporter: exporter-server --fail-renegotiation starts" "see above"; exit 0; }
fifo=$tmp/reneg.in
out=$tmp/reneg.out
mkfifo "$fifo"
timeout "$(course_limit 15)" openssl s_client -tls1_2 -connect "127.0.0.1:$SERVER_PORT" -servername localhost \
  -CAfile "$P/root.crt" -verify_return_error -crlf -keymatexport EXPORTER-Channel-Binding \
  -keymatexportlen 32 <"$fifo" >"$out" 2>&1 &
cpid=$!
exec 7>"$fifo"
limit=$(course_limit 10)
for ((i = 0; i < limit * 20; i++)); do grep -q "Keying material" "$out" && break; sleep 0.05; done
printf 'POST /bound HTTP/1.1\nHost: localhost\nContent-Length: 64\n\n' >&7
for ((i = 0; i < limit * 20; i++)); do grep -q "<- POST /bound" "$SERVER_LOG" && break; sleep 0.05; done
printf 'R\n' >&7
for ((i = 0; i < limit * 20; i++)); do grep -q "tls-exporter of" "$SERVER_LOG" && break; sleep 0.05; done
exec 7>&-
wait "$cpid" 2>/dev/null
first=$(sed -n 's/^ *Keying material: //p' "$out" | head -n 1 | tr 'A-F' 'a-f')
after=$(sed -n 's/.*tls-exporter of 127\.0\.0\.1:[0-9]*: //p' "$SERVER_LOG" | head -n 1)
t_true "06 exporter: the renegotiation started and the server failed it" "$(grep -a 'RENEG\|alert' "$out")" \
  bash -c 'grep -q RENEGOTIATING "$1" && grep -q "alert handshake failure" "$1"' _ "$out"
t_true "06 exporter: after a second handshake failed, the handler gets no exporter (not the first handshake's)" \
  "first handshake $first, the handler got '$after'" test "$after" = unknown
stop_server "$SERVER_PID"

# ---- TLS 1.2 without the extended master secret has no sound exporter -------
start_server exporter-noems "$BIN/exporter-server" --port 0 "${SRV[@]}" --no-ems ||
  { t_fail "06 exporter: exporter-server --no-ems starts" "see above"; exit 0; }
s_client "$SERVER_PORT" /exporter -tls1_2
t_true "06 exporter: TLS 1.2 without the extended master secret: no channel binding (409), though s_client can compute a value" \
  "$(grep -a 'master secret' <<<"$SOUT"); km '$KM'; body '$BODY'" \
  bash -c 'grep -q "Extended master secret: no" <<<"$1" && [[ $2 =~ ^[0-9A-Fa-f]{64}$ ]] && grep -q "HTTP/1.1 409" <<<"$1" && grep -q "no channel binding" <<<"$1"' \
  _ "$SOUT" "$KM"
s_client "$SERVER_PORT" /exporter -tls1_3
t_true "06 exporter: the same server over TLS 1.3 has its binding" "s_client '$KM', server '$BODY'" \
  bash -c '[[ $1 =~ ^[0-9a-f]{64}$ && $1 == "$2" ]]' _ "$KM" "$BODY"
t_expect "06 session: a body that binds the channel is never built on a connection without a sound exporter" 0 \
  --out "ok: the session knows no exporter for this connection" \
  --out "ok: refused: no channel binding on this connection (TLS 1.2 without the extended master secret)" \
  -- "$BIN/session-driver" nobind --url "https://localhost:$SERVER_PORT" --cacert "$P/root.crt" --tls12
stop_server "$SERVER_PID"

# ---- --tls13-only: the exporter over TLS 1.3, and no TLS 1.2 at all ----------
start_server exporter-13 "$BIN/exporter-server" --port 0 "${SRV[@]}" --tls13-only ||
  { t_fail "06 exporter: exporter-server --tls13-only starts" "see above"; exit 0; }
s_client "$SERVER_PORT" /exporter -tls1_2
t_true "06 exporter: --tls13-only refuses a TLS 1.2 handshake" "km '$KM' body '$BODY'" \
  bash -c '[[ -z $1 && -z $2 ]] && grep -q "alert protocol version" <<<"$3"' _ "$KM" "$BODY" "$SOUT"
s_client "$SERVER_PORT" /exporter -tls1_3
t_true "06 exporter: --tls13-only serves TLS 1.3 with its binding" "s_client '$KM', server '$BODY'" \
  bash -c '[[ $1 =~ ^[0-9a-f]{64}$ && $1 == "$2" ]]' _ "$KM" "$BODY"
stop_server "$SERVER_PID"
