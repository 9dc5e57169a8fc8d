#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Chapter 06 key schedule and envelopes, written again in Python from the
lab sheet (common/envelope/envelope.h), to make known-answer vectors for
tests/unit/test_envelope.c. It shares no code with the C module: HKDF-Extract
is the standard library's HMAC, Expand-Label is python3-cryptography's
HKDFExpand, X25519 and AES-GCM are python3-cryptography's.

    /usr/bin/python3 tests/helpers/06_keyschedule.py > tests/vectors/06/keyschedule.json
    /usr/bin/python3 tests/helpers/06_keyschedule.py --check tests/vectors/06/keyschedule.json

Every input is derived from a fixed string, so the output is the same on
every run (--check says whether a committed file still matches).
"""
import base64
import hashlib
import hmac
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

LABEL_PREFIX = b"course06 "
AAD_PREFIX = b"course06 v1"
ROTATE_EVERY = 10

C2S, S2C, NTF = 1, 2, 3
DATA_REQUEST, DATA_RESPONSE, CLOSE, NOTIFY = 1, 2, 3, 4
FIRST_SEQ = {C2S: 2, S2C: 2, NTF: 1}
DIR_NAME = {C2S: "c2s", S2C: "s2c", NTF: "ntf"}
TYPE_NAME = {DATA_REQUEST: "DATA_REQUEST", DATA_RESPONSE: "DATA_RESPONSE", CLOSE: "CLOSE",
             NOTIFY: "NOTIFY"}


def sha256(b):
    return hashlib.sha256(b).digest()


def fixed(name, n=32):
    """Test inputs from a name: nothing random, nothing secret."""
    return sha256(b"course06 vector " + name.encode())[:n]


def hkdf_label(length, label, context):
    full = LABEL_PREFIX + label
    return length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context


def expand_label(secret, label, context, length):
    return HKDFExpand(hashes.SHA256(), length, hkdf_label(length, label, context)).derive(secret)


def schedule(shared, th):
    prk = hmac.new(th, shared, hashlib.sha256).digest()  # HKDF-Extract(salt=th, ikm=shared)
    out = {
        C2S: expand_label(prk, b"c ap traffic", th, 32),
        S2C: expand_label(prk, b"s ap traffic", th, 32),
        NTF: expand_label(prk, b"notify", th, 32),
    }
    # the same thing in one HKDF call, as the C side computes it
    again = HKDF(hashes.SHA256(), 32, th, hkdf_label(32, b"c ap traffic", th)).derive(shared)
    assert again == out[C2S]
    return prk, out


def traffic(secret):
    return expand_label(secret, b"key", b"", 32), expand_label(secret, b"iv", b"", 12)


def next_secret(secret):
    return expand_label(secret, b"traffic upd", b"", 32)


def epoch(direction, seq):
    return (seq - FIRST_SEQ[direction]) // ROTATE_EVERY


def nonce(iv, seq):
    pad = bytes(4) + seq.to_bytes(8, "big")
    return bytes(a ^ b for a, b in zip(iv, pad))


def aad(direction, typ, session, seq, ep, req_hash=None):
    s = session.encode()
    out = AAD_PREFIX + bytes([direction << 4 | typ, len(s)]) + s
    out += seq.to_bytes(8, "big") + ep.to_bytes(4, "big")
    if direction == S2C:
        out += req_hash
    return out


def secret_at(first, ep):
    s = first
    for _ in range(ep):
        s = next_secret(s)
    return s


def main():
    client = X25519PrivateKey.from_private_bytes(fixed("client x25519"))
    server = X25519PrivateKey.from_private_bytes(fixed("server x25519"))
    raw = lambda k: k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = client.exchange(server.public_key())
    assert shared == server.exchange(client.public_key())
    th = sha256(b"course06 vector transcript: TBS_H || sig_c || TBS_A || sig_s")
    session = base64.urlsafe_b64encode(fixed("session", 16)).rstrip(b"=").decode()
    prk, first = schedule(shared, th)

    doc = {
        "about": "chapter 06 key schedule and envelopes, made by tests/helpers/06_keyschedule.py "
                 "(python3-cryptography); see tests/vectors/06/README.md",
        "rotate_every": ROTATE_EVERY,
        "client_private": fixed("client x25519").hex(),
        "server_private": fixed("server x25519").hex(),
        "client_public": raw(client).hex(),
        "server_public": raw(server).hex(),
        "shared": shared.hex(),
        "th": th.hex(),
        "session": session,
        "prk": prk.hex(),
        "expand_label": [],
        "directions": {},
        "envelopes": [],
    }
    for label, ctx, n in [(b"c ap traffic", th, 32), (b"key", b"", 32), (b"iv", b"", 12),
                          (b"exporter", b"\x00\x01\x02", 64), (b"x", b"", 1)]:
        doc["expand_label"].append({"secret": first[C2S].hex(), "label": label.decode(),
                                    "context": ctx.hex(), "length": n,
                                    "out": expand_label(first[C2S], label, ctx, n).hex()})
    for d in (C2S, S2C, NTF):
        epochs = []
        for ep in range(4):
            s = secret_at(first[d], ep)
            k, iv = traffic(s)
            epochs.append({"epoch": ep, "secret": s.hex(), "key": k.hex(), "iv": iv.hex()})
        doc["directions"][DIR_NAME[d]] = epochs

    def envelope(d, typ, seq, pt, req_ct=None):
        ep = epoch(d, seq)
        k, iv = traffic(secret_at(first[d], ep))
        req_hash = sha256(req_ct) if req_ct is not None else None
        a = aad(d, typ, session, seq, ep, req_hash)
        n = nonce(iv, seq)
        ct = AESGCM(k).encrypt(n, pt, a)
        e = {"direction": DIR_NAME[d], "type": TYPE_NAME[typ], "seq": seq, "epoch": ep,
             "plaintext": pt.hex(), "aad": a.hex(), "nonce": n.hex(), "ct": ct.hex()}
        doc["envelopes"].append(e)
        return ct

    # one session in order: each request is followed by its answer; seq 11
    # and 12 straddle the first rotation, 25 skips to epoch 2, 1001 is 976
    # ahead of 25 (a gap under 1000) in epoch 99
    for seq, op in [(2, b'{"op":"poll"}'), (11, b'{"op":"store","payload":"UGVkcm8gUGFzY2Fs"}'),
                    (12, b""), (25, b'{"op":"poll"}'), (1001, b'{"op":"poll","n":1001}')]:
        req = envelope(C2S, DATA_REQUEST, seq, op)
        envelope(S2C, DATA_RESPONSE, seq, b'{"status":"ok","seq":%d}' % seq, req)
    req = envelope(C2S, CLOSE, 1002, b'{"reason":"done"}')
    envelope(S2C, CLOSE, 1002, b'{"closed":true}', req)
    for n in (1, 10, 11, 31):
        envelope(NTF, NOTIFY, n, b'{"event":"inbox","n":%d}' % n)

    text = json.dumps(doc, indent=1) + "\n"
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            if f.read() != text:
                sys.exit("06_keyschedule.py: error: %s differs from what this script makes" % sys.argv[2])
        print("%s: matches" % sys.argv[2])
        return
    if len(sys.argv) != 1:
        sys.exit("usage: 06_keyschedule.py [--check FILE]")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
