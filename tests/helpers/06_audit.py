#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Re-verify every stored record signature of chapter 06, from the database
alone: an audit that trusts neither the server that stored the rows nor the
C code that checked them (06-admin audit is the server's own view).

    06_audit.py DATA/course06.db [--aud localhost]

For each receipts row it rebuilds TBS_R (common/envelope/hello.h: 64
spaces, "course06 record v1", 0, lp(aud), SHA-256 of the device
certificate's DER, lp(op), msg_id, BE64(created), SHA-256(payload)) from the
stored fields and the device's certificate PEM (devices.cert_pem, kept
after the certificate expires or is revoked), verifies the signature with
that certificate's key (Ed25519, or ECDSA P-256 with SHA-256) and checks the
stored payload_sha256. The TBS layout is tests/helpers/06_hello.py's (the
known-answer maker), imported, so the audit and the vectors agree by
construction and the C module is the other side.

Prints one line per failed row and "audit: N rows, V verified, F failed";
exit 0 if none failed, 1 if any did, 2 if the database cannot be read.
The database is opened read-only: an audit never writes.
"""
import argparse
import hashlib
import importlib.util
import os
import sqlite3
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("c06_hello", os.path.join(HERE, "06_hello.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)

QUERY = ("SELECT r.id, r.op, r.msg_id, r.created, r.payload, r.payload_sha256, r.signature, "
         "d.cert_pem FROM receipts r LEFT JOIN devices d ON d.serial = r.device_serial "
         # a quarantined receipt keeps no plaintext (its encrypted file does): nothing to re-verify here
         "WHERE r.status = 'stored' ORDER BY r.id")


def check_row(aud, row):
    """None if the row verifies, else why not."""
    rid, op, msg_id, created, payload, payload_sha, sig, pem = row
    if pem is None:
        return "no device certificate for this row"
    if not isinstance(payload, bytes) or not isinstance(sig, bytes) or not isinstance(msg_id, bytes):
        return "payload, signature or msg_id is not a BLOB"
    if len(msg_id) != 16:
        return "msg_id is %d bytes, not 16" % len(msg_id)
    if payload_sha != hashlib.sha256(payload).digest():
        return "payload_sha256 is not SHA-256 of the stored payload"
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as e:
        return "the certificate PEM does not load: %s" % e
    tbs = H.tbs_r(aud, cert.public_bytes(Encoding.DER), op, msg_id, created, payload)
    pub = cert.public_key()
    try:
        if isinstance(pub, Ed25519PublicKey):
            pub.verify(sig, tbs)
        elif isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name == "secp256r1":
            pub.verify(sig, tbs, ec.ECDSA(hashes.SHA256()))
        else:
            return "the certificate's key is neither Ed25519 nor P-256"
    except InvalidSignature:
        return "the signature does not verify over the stored fields"
    return None


def main():
    p = argparse.ArgumentParser(prog="06_audit.py", description=__doc__.split("\n\n")[0])
    p.add_argument("db")
    p.add_argument("--aud", default="localhost", help="the server's name the records were signed for")
    args = p.parse_args()
    if not os.path.isfile(args.db):
        print("06_audit.py: error: %s: no such database" % args.db, file=sys.stderr)
        sys.exit(2)
    try:
        db = sqlite3.connect("file:%s?mode=ro" % args.db, uri=True)
        rows = db.execute(QUERY).fetchall()
    except sqlite3.Error as e:
        print("06_audit.py: error: %s: %s" % (args.db, e), file=sys.stderr)
        print("hint: is it a chapter 06 store (build/06/course06.db)?", file=sys.stderr)
        sys.exit(2)
    failed = 0
    for row in rows:
        why = check_row(args.aud, row)
        if why:
            failed += 1
            print("audit: receipt %d: %s" % (row[0], why))
    print("audit: %d rows, %d verified, %d failed" % (len(rows), len(rows) - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
