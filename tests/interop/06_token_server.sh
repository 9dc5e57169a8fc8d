#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06 interop: the live server's access tokens against PyJWT 2.6
# (python3-jwt), both ways. tests/interop/06_token_pyjwt.sh tries the token
# module alone through token-tool; this suite tries the real thing: 06-server
# issues the token in HELLO_ACK (06-client -q token keeps that session open),
# PyJWT decodes it with DATA/token.key (HS256 only, the audience and issuer
# https://localhost, every claim required) and fails with another key. Then
# tokens PyJWT makes with the server's key, for the live session, go to
# GET /v1/whoami with curl --cert/--key: the correct bound one is answered,
# and each broken one (alg none, HS512, "hs256", unbound, bound to another
# certificate, expired, not valid yet, another audience or issuer, a claim we
# never issue, 3 KiB long) is refused with 401 and its own reason.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
PEER="$COURSE_ROOT/tests/helpers/06_pyjwt_peer.py"
if ! "$PY" -c 'import jwt, cryptography' 2>/dev/null; then
  t_fail "06 token server: /usr/bin/python3 has PyJWT" "install python3-jwt (scripts/deps.sh does)"
  exit 0
fi
tmp=$(course_tmpdir)
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 token server: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
DATA=$tmp/data
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$DATA" --cert "$P/server-chain.crt" \
  --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass"; then
  t_fail "06 token server: the server starts" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
URL="https://localhost:$SERVER_PORT"
NAME=https://localhost # the server's --name: iss and aud of every token it issues
printf 'correct horse battery staple\n' >"$tmp/alice.pw"
printf 'another long password\n' >"$tmp/bob.pw"
chmod 600 "$tmp"/*.pw
A=("$BIN/06-client" -q --url "$URL" --cacert "$P/root.crt" --home "$tmp/alice" --user alice --password-file "$tmp/alice.pw")
B=("$BIN/06-client" -q --url "$URL" --cacert "$P/root.crt" --home "$tmp/bob" --user bob --password-file "$tmp/bob.pw")
# setup CLIENT...: register the account and enrol a device (06-client does
# both the way tests/chapters/06_full_protocol.sh checks them)
setup() { "$@" register && "$@" enrol; }
if ! setup "${A[@]}" >"$tmp/setup.log" 2>&1 || ! setup "${B[@]}" >>"$tmp/setup.log" 2>&1; then
  t_fail "06 token server: two accounts register and enrol a device" "$(tail -n 5 "$tmp/setup.log")"
  exit 0
fi
ACRT=$tmp/alice/device.crt
BCRT=$tmp/bob/device.crt

# ---- the server's token, read by PyJWT ------------------------------------------------
TOK=$("${A[@]}" token 2>"$tmp/token.err")
t_true "06 token server: 06-client token prints the server's JWT" "$(cat "$tmp/token.err")" \
  grep -qE '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' <<<"$TOK"
t_true "06 token server: the token key is DATA/token.key, 32 bytes, mode 0600" "$(stat -c '%s %a' "$DATA/token.key")" \
  test "$(stat -c '%s %a' "$DATA/token.key")" = "32 600"
KID=$("$PY" "$PEER" kid "$DATA/token.key")
t_expect "06 token server: PyJWT decodes the server's token (HS256 only, aud, iss, every claim, cnf of alice's device, kid)" \
  0 --out "ok sub=alice sid=" --out "kid=$KID" -- "$PY" "$PEER" decode "$DATA/token.key" "$NAME" "$NAME" "$ACRT" "$TOK"
SID=$(sed -n 's/^ok sub=alice sid=\([^ ]*\) .*/\1/p' <<<"$T_OUT")
t_true "06 token server: the token names the live session (sid)" "sid '$SID'" \
  grep -qE '^[A-Za-z0-9_-]{16,}$' <<<"$SID"
head -c 32 /dev/urandom >"$tmp/other.key"
t_expect "06 token server: PyJWT refuses the server's token with another key" 1 --out "InvalidSignatureError" \
  -- "$PY" "$PEER" decode "$tmp/other.key" "$NAME" "$NAME" "$ACRT" "$TOK"
t_expect "06 token server: PyJWT refuses it for another audience" 1 --out "InvalidAudienceError" \
  -- "$PY" "$PEER" decode "$DATA/token.key" "$NAME" https://other.example "$ACRT" "$TOK"
t_expect "06 token server: ...and sees it is not bound to bob's device" 1 --out "not the certificate's x5t#S256" \
  -- "$PY" "$PEER" decode "$DATA/token.key" "$NAME" "$NAME" "$BCRT" "$TOK"

# ---- PyJWT's tokens, read by the server ---------------------------------------------------
# mint KIND SUB SID CERT: a token PyJWT makes with the server's key, now; only
# hashlib, cryptography and PyJWT: nothing of the course's code
cat >"$tmp/mint.py" <<'EOF'
import base64, hashlib, json, secrets, sys, time
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import HMACAlgorithm

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

kind, key_path, name, sub, sid, cert_path = sys.argv[1:7]
key = open(key_path, "rb").read()
assert len(key) == 32
with open(cert_path, "rb") as f:
    der = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
now = int(time.time())
claims = {"iss": name, "aud": name, "sub": sub, "sid": sid, "jti": b64url(secrets.token_bytes(16)),
          "token_use": "access", "iat": now, "nbf": now, "exp": now + 1800,
          "cnf": {"x5t#S256": b64url(hashlib.sha256(der).digest())}}
headers = {"kid": hashlib.sha256(key).hexdigest()[:8]}
alg = "HS256"
if kind == "none":
    print(jwt.encode(claims, None, algorithm="none", headers=headers))
    sys.exit(0)
if kind == "hs256lower":
    # PyJWT signs no alg it does not know: the header is made by hand and the
    # signing input signed with PyJWT's own HMAC-SHA256
    h = {"alg": "hs256", "kid": headers["kid"], "typ": "JWT"}
    si = b64url(json.dumps(h, separators=(",", ":")).encode()) + "." + \
        b64url(json.dumps(claims, separators=(",", ":")).encode())
    mac = HMACAlgorithm(HMACAlgorithm.SHA256)
    print(si + "." + b64url(mac.sign(si.encode(), mac.prepare_key(key))))
    sys.exit(0)
if kind == "hs512":
    alg = "HS512"
elif kind == "unbound":
    del claims["cnf"]
elif kind == "expired":
    claims.update(iat=now - 3600, nbf=now - 3600, exp=now - 1800)
elif kind == "nbf_future":
    claims.update(nbf=now + 600)
elif kind == "wrong_aud":
    claims["aud"] = "https://other.example"
elif kind == "wrong_iss":
    claims["iss"] = "https://issuer.example"
elif kind == "extra_claim":
    claims["admin"] = True
elif kind == "3kib":
    # a long jti pads the token to about 3 KiB: over the 2048-byte limit
    claims["jti"] = "A" * 2200
elif kind != "good":
    sys.exit(f"unknown kind {kind}")
print(jwt.encode(claims, key, algorithm=alg, headers=headers))
EOF
# mint KIND [SUB [CERT [SID]]] > FILE
mint() {
  "$PY" "$tmp/mint.py" "$1" "$DATA/token.key" "$NAME" "${2:-alice}" "${4:-$SID}" "${3:-$ACRT}" ||
    echo "mint-failed"
}
# whoami NAME STATUS TEXT TOKEN [CERT KEY]: GET /v1/whoami with curl, the token
# as a bearer, alice's device certificate unless another is given
whoami() {
  local name=$1 status=$2 text=$3 tok=$4 crt=${5:-$ACRT} key=${6:-$tmp/alice/device.key}
  t_expect "$name" 0 --out "HTTP $status" --out "$text" -- curl -sS --max-time "$(course_limit 10)" \
    --cacert "$P/root.crt" --cert "$crt" --key "$key" -H "Authorization: Bearer $tok" \
    -w '\nHTTP %{http_code}\n' "$URL/v1/whoami"
}
whoami "06 token server: the server's own token gets /v1/whoami" 200 '"account":"alice"' "$TOK"
whoami "06 token server: a correct, bound PyJWT token for the live session gets /v1/whoami" 200 \
  "\"session\":\"$SID\"" "$(mint good)"
whoami "06 token server: the same PyJWT token from bob's device is refused (RFC 8705)" 401 \
  '"reason":"token bound to another certificate"' "$(mint good)" "$BCRT" "$tmp/bob/device.key"
whoami "06 token server: PyJWT alg none is refused" 401 '"reason":"alg is not exactly HS256"' "$(mint none)"
whoami "06 token server: PyJWT HS512 with the server's key is refused" 401 '"reason":"alg is not exactly HS256"' \
  "$(mint hs512)"
whoami "06 token server: a lower-case \"hs256\" header is refused" 401 '"reason":"alg is not exactly HS256"' \
  "$(mint hs256lower)"
whoami "06 token server: an unbound PyJWT token (no cnf) is refused" 401 \
  '"reason":"token carries no certificate binding (cnf)"' "$(mint unbound)"
whoami "06 token server: a PyJWT token bound to bob's certificate, sent from alice's, is refused" 401 \
  '"reason":"token bound to another certificate"' "$(mint good alice "$BCRT")"
whoami "06 token server: an expired PyJWT token is refused" 401 '"reason":"token expired"' "$(mint expired)"
whoami "06 token server: a PyJWT token with nbf in the future is refused" 401 \
  '"reason":"token not valid yet (nbf in the future)"' "$(mint nbf_future)"
whoami "06 token server: a PyJWT token for another audience is refused" 401 \
  '"reason":"token meant for another audience"' "$(mint wrong_aud)"
whoami "06 token server: a PyJWT token from another issuer is refused" 401 \
  '"reason":"token issued by another issuer"' "$(mint wrong_iss)"
whoami "06 token server: a PyJWT token with a claim the server never issues is refused" 401 \
  '"reason":"claims are not exactly the expected set' "$(mint extra_claim)"
long=$(mint 3kib)
t_true "06 token server: the long PyJWT token is about 3 KiB" "${#long} bytes" test "${#long}" -ge 3000 -a "${#long}" -le 3500
whoami "06 token server: a 3 KiB PyJWT token is refused" 401 '"reason":"token longer than 2048 bytes"' "$long"
whoami "06 token server: a PyJWT token for bob, bound to alice's device, is refused" 401 \
  '"reason":"the token names another account than the certificate"' "$(mint good bob)"
whoami "06 token server: a PyJWT token for a session that never was is refused" 401 \
  '"reason":"the token'"'"'s session has ended"' "$(mint good alice "$ACRT" c2Vzc2lvbi1pZC0xMjM0NQ)"

# ---- the session ends, and its tokens with it -------------------------------------------------
GOOD=$(mint good)
t_expect "06 token server: 06-client close ends the session" 0 --out "CLOSE: session" -- "${A[@]}" close
whoami "06 token server: after CLOSE the server's token is refused (it lives only as long as its session)" 401 \
  '"reason":"the token'"'"'s session has ended"' "$TOK"
whoami "06 token server: ...and so is a correct PyJWT token for that session" 401 \
  '"reason":"the token'"'"'s session has ended"' "$GOOD"
t_true "06 token server: the server still serves" "$(tail -n 3 "$SERVER_LOG")" kill -0 "$SERVER_PID"
stop_server "$SERVER_PID"
t_true "06 token server: ...and stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$SERVER_LOG")" test "$STOPPED_RC" = 0
