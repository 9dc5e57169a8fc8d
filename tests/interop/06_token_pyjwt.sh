#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06 interop: our access tokens (common/token, driven by token-tool)
# against PyJWT 2.6 (python3-jwt), both ways. PyJWT decodes our token with
# algorithms=["HS256"], the audience, the issuer and required claims, and fails
# with another key; tokens PyJWT makes are accepted when correct and bound, and
# refused, each with its own reason, when they are alg none, HS512, "hs256",
# unbound, bound to another certificate, expired, not valid yet, or for another
# audience. The certificates are made here, for this run only.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
PEER="$COURSE_ROOT/tests/helpers/06_pyjwt_peer.py"
TOOL="$BIN/token-tool"
if ! "$PY" -c 'import jwt, cryptography' 2>/dev/null; then
  t_fail "06 token interop: /usr/bin/python3 has PyJWT" "install python3-jwt (scripts/deps.sh does)"
  exit 0
fi
if [[ ! -x "$TOOL" ]]; then
  t_fail "06 token interop: token-tool is built" "run make"
  exit 0
fi
tmp=$(course_tmpdir)
cd "$tmp" || exit 1
URL=https://localhost:8006
SID=c2Vzc2lvbi1pZC0xMjM0NQ

for who in a b; do
  if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=device-$who" -keyout "$who.key" -out "$who.pem" 2>/dev/null; then
    t_fail "06 token interop: openssl makes certificate $who" "openssl req failed"
    exit 0
  fi
done

# ---- keys and the binding, computed on both sides -------------------------------------
t_expect "06 token: genkey writes a key" 0 --out "kid: " -- "$TOOL" genkey --key k1.bin
t_expect "06 token: genkey writes a second key" 0 --out "kid: " -- "$TOOL" genkey --key k2.bin
t_true "06 token: the key file is 32 bytes, mode 0600" "$(stat -c '%s %a' k1.bin)" \
  test "$(stat -c '%s %a' k1.bin)" = "32 600"
t_expect "06 token: genkey never overwrites a key" 1 --err "File exists" -- \
  "$TOOL" genkey --key k1.bin
kid=$("$TOOL" genkey --key k3.bin | sed -n 's/^kid: //p')
t_true "06 token: our kid = first 8 hex of SHA-256(secret), as Python computes it" \
  "ours $kid, Python's $("$PY" "$PEER" kid k3.bin)" test "$kid" = "$("$PY" "$PEER" kid k3.bin)"
ours=$("$TOOL" x5t --cert a.pem)
theirs=$("$PY" "$PEER" x5t a.pem)
t_true "06 token: our x5t#S256 of a certificate equals Python's (SHA-256 of the DER)" \
  "ours $ours, Python's $theirs" test -n "$ours" -a "$ours" = "$theirs"
cp k1.bin open.bin && chmod 644 open.bin
t_expect "06 token: a key file others can read is refused" 1 --err "other users" -- \
  "$TOOL" issue --key open.bin --iss $URL --aud $URL --sub alice --sid $SID --cert a.pem

# ---- our token, read by PyJWT ------------------------------------------------------------
if ! "$TOOL" issue --key k1.bin --iss $URL --aud $URL --sub alice --sid $SID --cert a.pem \
  >ours.jwt; then
  t_fail "06 token: token-tool issues a token" "exit status $?"
  exit 0
fi
tok=$(cat ours.jwt)
t_expect "06 token: PyJWT decodes our token (HS256 only, aud, iss, required claims, cnf, header)" \
  0 --out "ok sub=alice sid=$SID kid=$("$PY" "$PEER" kid k1.bin)" -- \
  "$PY" "$PEER" decode k1.bin $URL $URL a.pem "$tok"
t_expect "06 token: PyJWT refuses our token with another key" 1 --out "InvalidSignatureError" -- \
  "$PY" "$PEER" decode k2.bin $URL $URL a.pem "$tok"
t_expect "06 token: PyJWT refuses our token for another audience" 1 \
  --out "InvalidAudienceError" -- \
  "$PY" "$PEER" decode k1.bin $URL https://other.example a.pem "$tok"

# verify NAME RC REASON TOKENFILE [TOOL OPTIONS...]: token-tool verify, token on stdin
verify() {
  local name=$1 rc=$2 reason=$3 file=$4
  shift 4
  local args=(--key k1.bin --iss "$URL" --aud "$URL" --cert a.pem "$@")
  # keys given: those only (a later --cert or --sid simply wins)
  [[ " $* " == *" --key "* ]] && args=(--iss "$URL" --aud "$URL" --cert a.pem "$@")
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  if [[ $rc == 0 ]]; then
    t_expect "$name" 0 --out "ok: sub=alice" -- \
      bash -c 'f=$1; shift; exec "$@" <"$f"' _ "$file" "$TOOL" verify "${args[@]}"
  else
    # shellcheck disable=SC2016
    t_expect "$name" "$rc" --err "token-tool: error: token: $reason" --not "ok: " -- \
      bash -c 'f=$1; shift; exec "$@" <"$f"' _ "$file" "$TOOL" verify "${args[@]}"
  fi
}
verify "06 token: our own token verifies" 0 "" ours.jwt --sid $SID
verify "06 token: our token from another certificate is refused (a stolen token)" 1 \
  "token bound to another certificate" ours.jwt --cert b.pem
verify "06 token: our token in another session is refused" 1 "token belongs to another session" \
  ours.jwt --sid c2Vzc2lvbi1pZC0xMjM0Ng
verify "06 token: our token after the old key is retired is refused" 1 \
  "kid names no key this server holds" ours.jwt --key k2.bin --key k3.bin
verify "06 token: our token during a rotation (new key first, old second) verifies" 0 "" ours.jwt \
  --key k2.bin --key k1.bin

# ---- PyJWT's tokens, read by us -------------------------------------------------------------
NOW=$(date +%s)
# make_token KIND [OUT [CERT [KEY]]]: a PyJWT token made at NOW, in OUT (KIND.jwt)
make_token() {
  local kind=$1 out=${2:-$1.jwt} cert=${3:-a.pem} key=${4:-k1.bin}
  "$PY" "$PEER" make "$kind" "$key" $URL $URL "$cert" "$NOW" >"$out" ||
    t_fail "06 token: PyJWT makes a '$kind' token" "exit status $?"
}
for kind in good none hs512 hs256lower unbound expired nbf_future iat_future long_lived wrong_aud \
  wrong_iss typ_at_jwt no_kid extra_claim over_long tampered; do
  make_token $kind
done
make_token good wrongcert.jwt b.pem
make_token good otherkey.jwt a.pem k2.bin

verify "06 token: a correct, bound PyJWT token is accepted" 0 "" good.jwt --now "$NOW"
verify "06 token: PyJWT alg none is refused" 1 "alg is not exactly HS256" none.jwt --now "$NOW"
verify "06 token: PyJWT HS512 with our key is refused" 1 "alg is not exactly HS256" hs512.jwt \
  --now "$NOW"
verify "06 token: a lower-case \"hs256\" token is refused" 1 "alg is not exactly HS256" \
  hs256lower.jwt --now "$NOW"
verify "06 token: an unbound PyJWT token is refused" 1 \
  "token carries no certificate binding (cnf)" \
  unbound.jwt --now "$NOW"
verify "06 token: a PyJWT token bound to another certificate is refused" 1 \
  "token bound to another certificate" wrongcert.jwt --now "$NOW"
verify "06 token: an expired PyJWT token is refused" 1 "token expired" expired.jwt --now "$NOW"
verify "06 token: a PyJWT token with nbf in the future is refused" 1 \
  "token not valid yet (nbf in the future)" nbf_future.jwt --now "$NOW"
verify "06 token: a PyJWT token issued in the future is refused" 1 \
  "token issued in the future (iat)" iat_future.jwt --now "$NOW"
verify "06 token: a PyJWT token valid for a day is refused" 1 \
  "token lives longer than 1800 seconds" long_lived.jwt --now "$NOW"
verify "06 token: a PyJWT token for another audience is refused" 1 \
  "token meant for another audience" wrong_aud.jwt --now "$NOW"
verify "06 token: a PyJWT token from another issuer is refused" 1 \
  "token issued by another issuer" wrong_iss.jwt --now "$NOW"
verify "06 token: a PyJWT token with typ at+jwt is refused" 1 \
  "header is not exactly {alg, kid, typ:JWT}" typ_at_jwt.jwt --now "$NOW"
verify "06 token: a PyJWT token without kid is refused" 1 \
  "header is not exactly {alg, kid, typ:JWT}" no_kid.jwt --now "$NOW"
verify "06 token: a PyJWT token with a claim we never issue is refused" 1 \
  "claims are not exactly the expected set" extra_claim.jwt --now "$NOW"
verify "06 token: a PyJWT token over 2048 bytes is refused" 1 "token longer than 2048 bytes" \
  over_long.jwt --now "$NOW"
verify "06 token: a PyJWT token made with another key is refused" 1 \
  "kid names no key this server holds" otherkey.jwt --now "$NOW"
verify "06 token: a PyJWT token made with the newer key verifies during a rotation" 0 "" \
  otherkey.jwt --now "$NOW" --key k2.bin --key k1.bin
# a PyJWT token whose payload was swapped for one naming another user
verify "06 token: a tampered PyJWT token is refused" 1 "signature does not verify" tampered.jwt \
  --now "$NOW"
# a PyJWT token with another token's signature
IFS=. read -r h p _ <good.jwt
printf '%s.%s.%s\n' "$h" "$p" "$(cut -d. -f3 otherkey.jwt)" >sigswap.jwt
verify "06 token: a PyJWT token with another token's signature is refused" 1 \
  "signature does not verify" sigswap.jwt --now "$NOW"
