#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06 on the wire: two layers of encryption. A small flow (register,
# enrol, send-record with the record "Pedro Pascal", poll) runs under dumpcap,
# with both ends writing their TLS secrets (SSLKEYLOGFILE). Without the key
# log an eavesdropper reads only TLS: the SNI, sizes, timing; no path, no
# envelope. With the key log (what the server's operator, or a TLS-
# intercepting proxy, holds) tshark shows every HTTP request (/v1/hello,
# /v1/data) and the envelopes' JSON ("DATA_REQUEST"), but the record itself
# is still nowhere: it travels inside the AES-GCM envelope, under keys that
# only the two ends' HELLO derived, and no TLS key opens that.
# shellcheck disable=SC2016 # each bash -c script expands its own arguments
source "$(dirname "$0")/../lib.sh"
source "$COURSE_ROOT/scripts/capture.sh"
tmp=$(course_tmpdir)
P=$tmp/pki

if ! capture_check 2>"$tmp/why"; then
  t_fail "06 capture: dumpcap can capture on lo" "$(cat "$tmp/why")"
  exit 0
fi
"$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$P" >"$tmp/pki.log" 2>&1 ||
  { t_fail "06 capture: PKI" "make-pki.sh failed: $(tail -n 3 "$tmp/pki.log")"; exit 0; }
# each end writes its own key log; tshark gets both
if ! SSLKEYLOGFILE=$tmp/server.keylog start_server 06-server "$BIN/06-server" --port 0 --data "$tmp/data" \
  --cert "$P/server-chain.crt" --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass"; then
  t_fail "06 capture: the server starts" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
URL="https://localhost:$SERVER_PORT"
PW='correct horse battery staple'
printf '%s\n' "$PW" >"$tmp/alice.pw"
chmod 600 "$tmp/alice.pw"
A=("$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/alice" --user alice --password-file "$tmp/alice.pw")
REC='{"FirstName": "Pedro", "LastName": "Pascal", "Comments": "Pedro Pascal"}'

capture_start "$tmp/06.pcapng" "$SERVER_PORT" || { t_fail "06 capture: dumpcap starts" "see above"; exit 0; }
export SSLKEYLOGFILE=$tmp/client.keylog
{
  "${A[@]}" register
  "${A[@]}" enrol
  "${A[@]}" send-record "$REC"
  "${A[@]}" --every 1 --count 2 poll
} >"$tmp/flow.out" 2>&1
unset SSLKEYLOGFILE
capture_stop
cat "$tmp/server.keylog" "$tmp/client.keylog" >"$tmp/06.keylog" 2>/dev/null

t_true "06 capture: the flow ran: registered, enrolled, record stored, two polls" "$(tail -n 8 "$tmp/flow.out")" \
  bash -c 'grep -q "registered" "$1" && grep -q "CN=alice" "$1" && grep -q "record stored" "$1" &&
    grep -q "poll 2: ok" "$1"' _ "$tmp/flow.out"
t_true "06 capture: the record really is in the store" \
  "$(sqlite3 -batch "$tmp/data/course06.db" 'SELECT FirstName, LastName FROM records' 2>&1)" \
  test "$(sqlite3 -batch "$tmp/data/course06.db" "SELECT LastName FROM records WHERE FirstName='Pedro'")" = Pascal
t_true "06 capture: both ends wrote TLS secrets (TLS 1.3 traffic secrets)" "$(wc -l "$tmp/server.keylog" "$tmp/client.keylog" 2>&1)" \
  bash -c 'grep -q "^CLIENT_TRAFFIC_SECRET_0 " "$1" && grep -q "^SERVER_TRAFFIC_SECRET_0 " "$2"' _ \
  "$tmp/server.keylog" "$tmp/client.keylog"

# ---- without the key log: what anyone on the path reads ----------------------------------
raw=$(capture_payload "$tmp/06.pcapng" | tr -d '\000')
t_true "06 capture: the capture is not empty" "${#raw} bytes of payload" test "${#raw}" -gt 5000
t_true "06 capture: the SNI (server name) is readable" "no 'localhost' in the payload" grep -q localhost <<<"$raw"
for s in /v1/hello /v1/data /v1/register DATA_REQUEST HELLO Pascal Pedro "$PW" alice; do
  t_true "06 capture: without the key log '$s' is nowhere on the wire" "'$s' found in the raw capture" \
    bash -c '! grep -qF -- "$1" <<<"$2"' _ "$s" "$raw"
done
view=$("$COURSE_ROOT/05_https_server/tls-view.sh" "$tmp/06.pcapng")
t_true "06 capture: the eavesdropper's view: TLS 1.3 records and the ClientHello's SNI, nothing more" "$view" \
  bash -c 'grep -q "ClientHello, SNI localhost" <<<"$1" && ! grep -q "Certificate\]" <<<"$1"' _ "$view"
plain=$(tshark -r "$tmp/06.pcapng" -Y http -T fields -e http.request.uri 2>/dev/null)
t_true "06 capture: without the key log tshark finds no HTTP at all" "tshark decoded: $plain" test -z "$plain"

# ---- with the key log: TLS is open, the envelope is not ---------------------------------------
uris=$(tshark -r "$tmp/06.pcapng" -o "tls.keylog_file:$tmp/06.keylog" -Y http.request -T fields \
  -e http.request.method -e http.request.uri 2>/dev/null)
for req in $'POST\t/v1/register' $'POST\t/.well-known/est/simpleenroll' $'POST\t/v1/hello' $'POST\t/v1/data'; do
  t_true "06 capture: with the key log tshark shows ${req/$'\t'/ }" "decrypted requests: $(tr '\n\t' '; ' <<<"$uris")" \
    grep -qF -- "$req" <<<"$uris"
done
dec=$(capture_payload "$tmp/06.pcapng" "$tmp/06.keylog" | tr -d '\000')
t_true "06 capture: with the key log the envelopes' JSON is readable: \"type\":\"DATA_REQUEST\"" \
  "not in the decrypted capture" grep -q '"type":"DATA_REQUEST"' <<<"$dec"
t_true "06 capture: ...and the signed HELLO" "not in the decrypted capture" grep -q '"type":"HELLO"' <<<"$dec"
t_true "06 capture: ...and what TLS alone protects: the password in register" "not in the decrypted capture" \
  grep -qF -- "$PW" <<<"$dec"
t_true "06 capture: with the key log 'Pascal' is still nowhere: the record is inside the envelope" \
  "'Pascal' found in the decrypted capture" bash -c '! grep -q Pascal <<<"$1"' _ "$dec"
t_true "06 capture: ...nor 'Pedro'" "'Pedro' found in the decrypted capture" bash -c '! grep -q Pedro <<<"$1"' _ "$dec"
t_true "06 capture: ...nor any field name of the record" "'LastName' found in the decrypted capture" \
  bash -c '! grep -q LastName <<<"$1"' _ "$dec"
# The operator with the key log tries harder than grep: every base64 or
# base64url string in every decrypted HTTP body is decoded, and whatever
# that gives decoded again (four levels), so a record that was merely
# encoded (a "ct" that is only base64 of the signed JSON, whose payload is
# base64 of the record) would be found. AES-GCM's ciphertext decodes to
# noise.
cat >"$tmp/deep.py" <<'EOF2'
import base64, re, sys
needle = sys.argv[1].encode()
TOKEN = re.compile(rb"[A-Za-z0-9_+/=-]{12,}")
seen = 0
def find(data, depth):
    global seen
    if needle in data:
        return depth
    if depth == 4:
        return None
    for m in TOKEN.finditer(data):
        t = m.group().rstrip(b"=").replace(b"+", b"-").replace(b"/", b"_")
        try:
            raw = base64.urlsafe_b64decode(t + b"=" * (-len(t) % 4))
        except ValueError:
            continue
        seen += 1
        d = find(raw, depth + 1)
        if d is not None:
            return d
    return None
d = find(sys.stdin.buffer.read(), 0)
if d is not None:
    print(f"found '{needle.decode()}' under {d} layer(s) of base64")
    sys.exit(1)
print(f"no '{needle.decode()}' in any of {seen} decoded strings")
EOF2
inner=$(printf '{"LastName": "Pascal"}' | base64 -w0)
probe=$(printf '{"op":"record","payload":"%s"}' "$inner" | base64 -w0 | tr '+/' '-_' | tr -d '=')
t_expect "06 capture: the deep search finds a record that is only encoded (its own check)" 1 \
  --out "found 'Pascal' under 2 layer(s)" -- /usr/bin/python3 "$tmp/deep.py" Pascal <<<"{\"ct\":\"$probe\"}"
tshark -r "$tmp/06.pcapng" -o "tls.keylog_file:$tmp/06.keylog" -Y http -T fields -e http.file_data \
  >"$tmp/bodies" 2>/dev/null
t_true "06 capture: tshark decrypts the HTTP bodies, the sealed envelopes among them" "$(head -c 300 "$tmp/bodies")" \
  grep -q '"type":"DATA_REQUEST","session":"[^"]*","seq":[0-9]*,"ct":"' "$tmp/bodies"
for s in Pascal Pedro LastName; do
  t_expect "06 capture: with the key log, decoding every base64 string still finds no '$s'" 0 \
    --out "no '$s' in any of" -- /usr/bin/python3 "$tmp/deep.py" "$s" <"$tmp/bodies"
done
t_true "06 capture: the server still serves" "$(tail -n 3 "$SERVER_LOG")" kill -0 "$SERVER_PID"
stop_server "$SERVER_PID"
t_true "06 capture: ...and stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$SERVER_LOG")" test "$STOPPED_RC" = 0
