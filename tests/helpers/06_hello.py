#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Chapter 06's HELLO / HELLO_ACK handshake and record signatures, written
again in Python from the wire format and TBS layouts in
common/envelope/hello.h, to make known-answer vectors for
tests/unit/test_hello.c. It shares no code with the C module: the TBS bytes
are built here with struct, SHA-256 is hashlib's, X25519, Ed25519, ECDSA and
the certificates are python3-cryptography's, and the key schedule is the one
of tests/helpers/06_keyschedule.py written again (HMAC extract, HKDFExpand).

    /usr/bin/python3 tests/helpers/06_hello.py > build/vectors/06/hello.json   (the Makefile does it)
    /usr/bin/python3 tests/helpers/06_hello.py --check build/vectors/06/hello.json

Every input comes from a fixed string through SHA-256, the certificates are
signed with a fixed Ed25519 key (deterministic), and Ed25519 signatures are
deterministic, so those parts are the same on every run. ECDSA P-256
signatures are randomised (cryptography 38 has no RFC 6979 signing), so
--check takes them from the committed file, verifies each one with its
public key, and recomputes everything that depends on them (th, the
secrets): the file matches only if every signature in it is valid and every
other byte is what this script makes.
"""
import base64
import datetime
import hashlib
import hmac
import json
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat,
                                                          PublicFormat)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAME = "localhost"
TS = 1767225600123            # 2026-01-01T00:00:00.123Z, in ms
ROTATE_EVERY = 10
EXPIRES_AT = TS // 1000 + 1800
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwZWRybyJ9.dmVjdG9yLW5vdC1hLW1hYw"
COUNTERS = {"unread": 3, "notifications": 1}   # signed in name order, not this order
RECORD_OP = "store_record"
RECORD_CREATED = TS + 877
RECORD_PAYLOAD = b'{"FirstName":"Pedro","LastName":"Pascal","Age":49,"Comments":"fluffy tail"}'
NOT_BEFORE = datetime.datetime(2026, 1, 1, 0, 0, 0)
NOT_AFTER = datetime.datetime(2036, 1, 1, 0, 0, 0)


def sha256(b):
    return hashlib.sha256(b).digest()


def fixed(name, n=32):
    """Test inputs from a name: nothing random, nothing secret."""
    return sha256(b"course06 hello vector " + name.encode())[:n]


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def be(v, n):
    return v.to_bytes(n, "big")


def lp(s):
    return struct.pack(">H", len(s)) + s


def context(name):
    return b" " * 64 + name + b"\x00"


# ---- the signed structures (hello.h) ------------------------------------------------------

def tbs_h(cb, cert_der, server_name, pub_c, nonce_c, ts):
    return (context(b"course06 HELLO v1") + cb + sha256(cert_der) + lp(server_name.encode())
            + pub_c + nonce_c + be(ts, 8))


def counters_bytes(c):
    out = struct.pack(">H", len(c))
    for name in sorted(c, key=lambda k: k.encode()):
        out += lp(name.encode()) + be(c[name], 8)
    return out


def tbs_a(tbs_h_, sig_c, pub_s, nonce_s, session, rotate_every, expires_at, token, counters):
    return (context(b"course06 HELLO_ACK v1") + sha256(tbs_h_ + sig_c) + pub_s + nonce_s
            + lp(session.encode()) + be(rotate_every, 4) + be(expires_at, 8)
            + sha256(token.encode()) + counters_bytes(counters))


def tbs_r(aud, cert_der, op, msg_id, created, payload):
    return (context(b"course06 record v1") + lp(aud.encode()) + sha256(cert_der)
            + lp(op.encode()) + msg_id + be(created, 8) + sha256(payload))


# ---- the key schedule (envelope.h), again -------------------------------------------------

def expand_label(secret, label, ctx, length):
    full = b"course06 " + label
    info = be(length, 2) + bytes([len(full)]) + full + bytes([len(ctx)]) + ctx
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def schedule(shared, th):
    prk = hmac.new(th, shared, hashlib.sha256).digest()
    return {d: expand_label(prk, label, th, 32).hex()
            for d, label in (("c2s", b"c ap traffic"), ("s2c", b"s ap traffic"),
                             ("ntf", b"notify"))}


# ---- keys and certificates ------------------------------------------------------------------

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def p256_key(name):
    d = int.from_bytes(fixed(name), "big") % (P256_N - 1) + 1
    return ec.derive_private_key(d, ec.SECP256R1())


def serial_for(name):
    """16 bytes with a first byte in 0x10..0x4f: positive, no leading zero byte."""
    b = fixed("serial " + name, 16)
    return bytes([(b[0] & 0x3F) | 0x10]) + b[1:]


CA_KEY = Ed25519PrivateKey.from_private_bytes(fixed("ca ed25519"))
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "course06 vector CA")])


def cert_for(key, cn, serial, client):
    eku = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(CA_NAME)
         .public_key(key.public_key())
         .serial_number(int.from_bytes(serial, "big"))
         .not_valid_before(NOT_BEFORE)
         .not_valid_after(NOT_AFTER)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage([eku]), critical=False))
    if not client:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]),
                            critical=False)
    return b.sign(CA_KEY, None)  # Ed25519: deterministic, so the certificate is too


def pem_private(key):
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


class Signer:
    """Signs, or with --check takes a randomised signature from the committed
    file after verifying it: Ed25519 is always recomputed (deterministic)."""

    def __init__(self, committed):
        self.committed = committed
        self.taken = 0

    def sign(self, key, tbs, where):
        if isinstance(key, Ed25519PrivateKey):
            sig = key.sign(tbs)
            key.public_key().verify(sig, tbs)
            return sig
        if self.committed is not None:
            sig = bytes.fromhex(self.committed(where))
            self.taken += 1
        else:
            sig = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
        key.public_key().verify(sig, tbs, ec.ECDSA(hashes.SHA256()))  # raises if not valid
        return sig


def compact(o):
    return json.dumps(o, separators=(",", ":"))


def make(signer):
    raw = lambda k: k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    cb = fixed("tls exporter")
    session = b64(fixed("session", 16))
    eph_c = X25519PrivateKey.from_private_bytes(fixed("client x25519"))
    eph_s = X25519PrivateKey.from_private_bytes(fixed("server x25519"))
    nonce_c, nonce_s = fixed("client nonce"), fixed("server nonce")
    shared = eph_c.exchange(eph_s.public_key())
    assert shared == eph_s.exchange(eph_c.public_key())
    server_key = p256_key("server p256")
    server_cert = cert_for(server_key, SERVER_NAME, serial_for("server"), client=False)
    msg_id = fixed("msg id", 16)

    doc = {
        "about": "chapter 06 HELLO / HELLO_ACK and record signatures, made by "
                 "tests/helpers/06_hello.py (python3-cryptography); see tests/vectors/06/hello.md",
        "server_name": SERVER_NAME,
        "cb": cb.hex(),
        "ts": TS,
        "session": session,
        "rotate_every": ROTATE_EVERY,
        "expires_at": EXPIRES_AT,
        "token": TOKEN,
        "counters": COUNTERS,
        "counters_bytes": counters_bytes(COUNTERS).hex(),
        "client_x25519_private": fixed("client x25519").hex(),
        "client_x25519_public": raw(eph_c).hex(),
        "client_nonce": nonce_c.hex(),
        "server_x25519_private": fixed("server x25519").hex(),
        "server_x25519_public": raw(eph_s).hex(),
        "server_nonce": nonce_s.hex(),
        "shared": shared.hex(),
        "server_key_pem": pem_private(server_key),
        "server_cert_pem": server_cert.public_bytes(Encoding.PEM).decode(),
        "devices": [],
        "records": [],
    }
    devices = [("ed25519", Ed25519PrivateKey.from_private_bytes(fixed("device ed25519"))),
               ("p256", p256_key("device p256"))]
    for i, (alg, key) in enumerate(devices):
        serial = serial_for("device " + alg)
        cert = cert_for(key, "course06 vector device " + alg, serial, client=True)
        der = cert.public_bytes(Encoding.DER)
        th_ = tbs_h(cb, der, SERVER_NAME, raw(eph_c), nonce_c, TS)
        sig_c = signer.sign(key, th_, ("devices", i, "sig_c"))
        hello = compact({"type": "HELLO", "v": 1, "seq": 1, "device": serial.hex(),
                         "kex": {"group": "x25519", "pub": b64(raw(eph_c))},
                         "nonce": b64(nonce_c), "ts": TS, "sig": b64(sig_c)})
        ta = tbs_a(th_, sig_c, raw(eph_s), nonce_s, session, ROTATE_EVERY, EXPIRES_AT, TOKEN,
                   COUNTERS)
        sig_s = signer.sign(server_key, ta, ("devices", i, "sig_s"))
        ack = compact({"type": "HELLO_ACK", "v": 1, "seq": 1, "session": session,
                       "kex": {"group": "x25519", "pub": b64(raw(eph_s))},
                       "nonce": b64(nonce_s), "rotate_every": ROTATE_EVERY,
                       "expires_at": EXPIRES_AT, "token": TOKEN, "counters": COUNTERS,
                       "sig": b64(sig_s)})
        th = sha256(th_ + sig_c + ta + sig_s)
        dev = {"alg": alg, "key_pem": pem_private(key),
               "cert_pem": cert.public_bytes(Encoding.PEM).decode(), "serial": serial.hex(),
               "cert_sha256": sha256(der).hex(), "tbs_h": th_.hex(), "sig_c": sig_c.hex(),
               "hello": hello, "tbs_a": ta.hex(), "sig_s": sig_s.hex(), "ack": ack,
               "th": th.hex()}
        dev.update(schedule(shared, th))
        doc["devices"].append(dev)

        tr = tbs_r(SERVER_NAME, der, RECORD_OP, msg_id, RECORD_CREATED, RECORD_PAYLOAD)
        sig_r = signer.sign(key, tr, ("records", i, "sig"))
        pt = compact({"op": RECORD_OP, "msg_id": b64(msg_id), "created": RECORD_CREATED,
                      "payload": b64(RECORD_PAYLOAD), "sig": b64(sig_r)})
        doc["records"].append({"alg": alg, "aud": SERVER_NAME, "op": RECORD_OP,
                               "msg_id": msg_id.hex(), "created": RECORD_CREATED,
                               "payload": RECORD_PAYLOAD.hex(), "tbs_r": tr.hex(),
                               "sig": sig_r.hex(), "pt": pt})
    return json.dumps(doc, indent=1) + "\n"


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            text = f.read()
        old = json.loads(text)

        def committed(where):
            part, i, name = where
            return old[part][i][name]
        signer = Signer(committed)
        try:
            again = make(signer)
        except Exception as e:  # a committed signature that does not verify
            sys.exit("06_hello.py: error: %s: %s: %s" % (sys.argv[2], type(e).__name__, e))
        if again != text:
            sys.exit("06_hello.py: error: %s differs from what this script makes" % sys.argv[2])
        print("%s: matches (%d ECDSA signatures taken from it, each verified)"
              % (sys.argv[2], signer.taken))
        return
    if len(sys.argv) != 1:
        sys.exit("usage: 06_hello.py [--check FILE]")
    sys.stdout.write(make(Signer(None)))


if __name__ == "__main__":
    main()
