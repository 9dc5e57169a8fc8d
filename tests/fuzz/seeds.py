#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/fuzz/seeds.py DIR VECTORS - the seeds that hold keys, made at build time.

One folder per target under DIR: valid inputs a fuzzer mutates from (a
Fernet token, key files, CSRs in PEM and DER, a certificate chain, a CRL, a
HELLO, a DATA_REQUEST plaintext). They are made fresh here, never committed
(some hold private keys); the committed corpora in tests/fuzz/corpus/ hold no
key (tests/fuzz/README.md). VECTORS is chapter 06's build/vectors/06/hello.json.
"""
import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import NameOID

out, vectors = sys.argv[1], sys.argv[2]
now = datetime.datetime.now(datetime.timezone.utc)


def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


pem = serialization.Encoding.PEM
der = serialization.Encoding.DER
pkcs8 = serialization.PrivateFormat.PKCS8
spki = serialization.PublicFormat.SubjectPublicKeyInfo
nocrypt = serialization.NoEncryption()

# chapter 02: a token (the target's key is bytes 1, 8, 15, ...: 1 + 7i), key files
raw = bytes((i * 7 + 1) & 0xFF for i in range(32))
key = base64.urlsafe_b64encode(raw)
put("fernet_token", "token", Fernet(key).encrypt_at_time(b"hello, fernet", 1700000000))
put("fernet_token", "b64", base64.urlsafe_b64encode(b"any bytes at all"))
put("fernet_keyfile", "key", key + b"\n")
put("fernet_keyfile", "key-crlf", key + b"\r\n")

# chapter 03: key files of each kind the dh tool writes, offers per group
x = x25519.X25519PrivateKey.generate()
p = ec.generate_private_key(ec.SECP256R1())
for name, k in (("x25519", x), ("p256", p)):
    put("kex_keyfile", name + ".key", k.private_bytes(pem, pkcs8, nocrypt))
    put("kex_keyfile", name + ".pub", k.public_key().public_bytes(pem, spki))
nonce = os.urandom(32).hex()
pubs = {
    3: ("x25519", x.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)),
    4: ("p256", p.public_key().public_bytes(serialization.Encoding.X962,
                                            serialization.PublicFormat.UncompressedPoint)),
    0: ("toy", bytes([0, 0, 0, 8])),
}
for g, (name, pub) in pubs.items():
    put("kex_offer", name, bytes([g]) + json.dumps({"group": name, "public": pub.hex(), "nonce": nonce}).encode())

# chapter 04: a CA, a server certificate, CSRs, a CRL
ca_key = ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Seed CA")])
ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
      .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
      .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
      .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
      .sign(ca_key, hashes.SHA256()))
leaf_key = ec.generate_private_key(ec.SECP256R1())
leaf = (x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256()))
crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_name).last_update(now)
       .next_update(now + datetime.timedelta(days=7))
       .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(leaf.serial_number)
                                .revocation_date(now).build())
       .sign(ca_key, hashes.SHA256()))
csr = (x509.CertificateSigningRequestBuilder()
       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice"),
                                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Course")]))
       .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                   x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                      critical=False)
       .add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, b"bound-to-this-connection")
       .sign(ed25519.Ed25519PrivateKey.generate(), None))
csr_pem, csr_der = csr.public_bytes(pem), csr.public_bytes(der)
put("pki_csr", "pem", b"\x00" + csr_pem)
put("pki_csr", "der", b"\x01" + csr_der)
put("pki_csr", "json", b"\x02" + json.dumps({"csr": csr_pem.decode(), "code": "ABCD-EFGH"}).encode())
put("est_body", "csr", base64.encodebytes(csr_der))
chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
put("minica_inspect", "chain.pem", chain)
put("minica_inspect", "csr.pem", csr_pem)
put("minica_inspect", "crl.pem", crl.public_bytes(pem))
put("minica_verify", "chain.pem", chain)
put("minica_verify", "chain-crl.pem", chain + crl.public_bytes(pem))
put("crl_reload", "crl.pem", crl.public_bytes(pem))
serial = format(leaf.serial_number, "X")
put("pki_index", "index.txt",
    b"\x00" + ("V\t%s\t\t%s\tunknown\t/CN=localhost\n" % ("301231235959Z", serial)).encode() +
    b"V\t301231235959Z\t\t01\tunknown\t/CN=alice\n")

# chapter 06: the HELLO and record vectors (tests/helpers/06_hello.py)
with open(vectors) as f:
    v = json.load(f)
for i, d in enumerate(v["devices"]):
    put("hello_parse", "hello-%s" % d["alg"], d["hello"])
for i, r in enumerate(v["records"]):
    put("signed_op", "record-%d" % i, r["pt"])
    put("envelope", "record-%d" % i,
        json.dumps({"type": "DATA_REQUEST", "session": v["session"], "seq": 2, "ct": "pt:" + r["pt"]}))
    put("records", "record-%d" % i, bytes.fromhex(r["payload"]))
put("token_verify", "vector", b"\x03" + v["token"].encode())
