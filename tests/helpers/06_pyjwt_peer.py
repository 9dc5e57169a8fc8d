#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyJWT as the third-party peer of chapter 06's tokens (tests/interop/06_token_pyjwt.sh).

    06_pyjwt_peer.py kid KEYFILE                      the kid, computed here
    06_pyjwt_peer.py x5t CERT                         RFC 8705 x5t#S256, computed here
    06_pyjwt_peer.py decode KEYFILE ISS AUD CERT TOKEN
        PyJWT's strict decode of our token; prints "ok sub=..." or "refused: Error: why"
    06_pyjwt_peer.py make KIND KEYFILE ISS AUD CERT NOW
        prints a token made by PyJWT; KIND is good, none, hs512, hs256lower,
        unbound, expired, nbf_future, iat_future, long_lived, wrong_aud, wrong_iss, typ_at_jwt,
        no_kid, extra_claim, over_long, tampered

Nothing here imports the course's code: the kid, the certificate hash and every
token come from hashlib, cryptography and PyJWT alone.
"""
import base64
import hashlib
import json
import secrets
import sys

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from jwt.algorithms import HMACAlgorithm


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def read_key(path: str) -> bytes:
    with open(path, "rb") as f:
        key = f.read()
    if len(key) != 32:
        sys.exit(f"{path}: {len(key)} bytes, not 32")
    return key


def kid_of(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def x5t_of(cert_path: str) -> str:
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    # the fingerprint is the hash of the DER encoding; say so twice
    der = cert.public_bytes(serialization.Encoding.DER)
    assert cert.fingerprint(hashes.SHA256()) == hashlib.sha256(der).digest()
    return b64url(hashlib.sha256(der).digest())


def decode(key_path, iss, aud, cert_path, token):
    key = read_key(key_path)
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(
            token, key, algorithms=["HS256"], audience=aud, issuer=iss,
            options={"require": ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"]})
    except jwt.PyJWTError as e:
        print(f"refused: {type(e).__name__}: {e}")
        return 1
    want = {"alg": "HS256", "kid": kid_of(key), "typ": "JWT"}
    problems = []
    if header != want:
        problems.append(f"header {header} is not {want}")
    if claims.get("cnf") != {"x5t#S256": x5t_of(cert_path)}:
        problems.append(f"cnf {claims.get('cnf')} is not the certificate's x5t#S256")
    if claims.get("token_use") != "access":
        problems.append("token_use is not access")
    if claims["exp"] - claims["iat"] != 1800 or claims["nbf"] != claims["iat"]:
        problems.append("not a 30-minute token valid from its issue")
    if len(base64.urlsafe_b64decode(claims["jti"] + "==")) != 16:
        problems.append("jti is not 16 bytes")
    if sorted(claims) != sorted(["iss", "aud", "sub", "sid", "jti", "token_use", "iat", "nbf",
                                 "exp", "cnf"]):
        problems.append(f"claims {sorted(claims)}")
    if problems:
        print("refused: " + "; ".join(problems))
        return 1
    print(f"ok sub={claims['sub']} sid={claims['sid']} kid={header['kid']}")
    return 0


def hs256_by_hand(key: bytes, header: dict, claims: dict) -> str:
    """PyJWT will not sign a header whose alg it does not know ("hs256"), so
    the signing input is built here and signed with PyJWT's own HMAC-SHA256."""
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    hmac = HMACAlgorithm(HMACAlgorithm.SHA256)
    sig = hmac.sign(signing_input.encode(), hmac.prepare_key(key))
    return signing_input + "." + b64url(sig)


def make(kind, key_path, iss, aud, cert_path, now):
    key = read_key(key_path)
    now = int(now)
    claims = {"iss": iss, "aud": aud, "sub": "alice", "sid": b64url(secrets.token_bytes(16)),
              "jti": b64url(secrets.token_bytes(16)), "token_use": "access",
              "iat": now, "nbf": now, "exp": now + 1800,
              "cnf": {"x5t#S256": x5t_of(cert_path)}}
    headers = {"kid": kid_of(key)}
    alg = "HS256"
    if kind == "good":
        pass
    elif kind == "none":
        return jwt.encode(claims, None, algorithm="none", headers=headers)
    elif kind == "hs512":
        alg = "HS512"
    elif kind == "hs256lower":
        return hs256_by_hand(key, {"alg": "hs256", "kid": kid_of(key), "typ": "JWT"}, claims)
    elif kind == "unbound":
        del claims["cnf"]
    elif kind == "expired":
        claims.update(iat=now - 3600, nbf=now - 3600, exp=now - 1800)
    elif kind == "nbf_future":
        claims.update(nbf=now + 600)
    elif kind == "iat_future":
        claims.update(iat=now + 600, nbf=now, exp=now + 1200)
    elif kind == "long_lived":
        claims.update(exp=now + 86400)
    elif kind == "wrong_aud":
        claims["aud"] = aud + "/other"
    elif kind == "wrong_iss":
        claims["iss"] = "https://issuer.example"
    elif kind == "typ_at_jwt":
        headers["typ"] = "at+jwt"
    elif kind == "no_kid":
        headers = None
    elif kind == "extra_claim":
        claims["admin"] = True
    elif kind == "over_long":
        claims["sub"] = "a" * 3000
    elif kind == "tampered":
        # a good token, then the payload swapped for one naming another user
        head, _, sig = jwt.encode(claims, key, algorithm=alg, headers=headers).split(".")
        claims["sub"] = "admin"
        return ".".join([head, b64url(json.dumps(claims, separators=(",", ":")).encode()), sig])
    else:
        sys.exit(f"unknown kind {kind}")
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def main(argv):
    if len(argv) == 3 and argv[1] == "kid":
        print(kid_of(read_key(argv[2])))
        return 0
    if len(argv) == 3 and argv[1] == "x5t":
        print(x5t_of(argv[2]))
        return 0
    if len(argv) == 7 and argv[1] == "decode":
        return decode(*argv[2:])
    if len(argv) == 8 and argv[1] == "make":
        print(make(*argv[2:]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
