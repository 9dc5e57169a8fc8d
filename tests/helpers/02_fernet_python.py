# SPDX-License-Identifier: MIT
"""Interop driver for tests/interop/02_fernet_python.sh: our `fernet` tool on one
side, Python's cryptography.fernet on the other. Prints PASS:/FAIL: lines.

usage: /usr/bin/python3 02_fernet_python.py BIN_DIR ROUNDS
"""
import base64
import os
import random
import subprocess
import sys
import time

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

BIN, ROUNDS = sys.argv[1], int(sys.argv[2])
TOOL = os.path.join(BIN, "fernet")
rng = random.Random(int.from_bytes(os.urandom(8), "big"))


def tool(args, data, key):
    """Run the C tool with SECRET_KEY=key; returns (exit status, stdout, stderr)."""
    env = dict(os.environ, SECRET_KEY=key.decode() if isinstance(key, bytes) else key)
    p = subprocess.run([TOOL] + args, input=data, capture_output=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr


def check(name, ok, why=""):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))


def messages():
    """Empty, edges of the AES block, text, binary and 1 MiB, plus random ones."""
    fixed = [b"", b"x", b"fluffy tail", bytes(range(256)), b"\x00" * 15, b"\xff" * 16,
             b"A" * 17, os.urandom(1 << 20)]
    rand = [os.urandom(rng.randrange(0, 5000)) for _ in range(ROUNDS)]
    return fixed + rand


def flip(token, rng_):
    """Flip one random bit of the decoded token; return it re-encoded."""
    raw = bytearray(base64.urlsafe_b64decode(token))
    bit = rng_.randrange(len(raw) * 8)
    raw[bit // 8] ^= 1 << (bit % 8)
    return base64.urlsafe_b64encode(bytes(raw)), bit


def main():
    key = Fernet.generate_key()   # a key made by Python ...
    f = Fernet(key)
    msgs = messages()
    now = int(time.time())

    bad = [i for i, m in enumerate(msgs)
           if (r := tool(["decrypt"], f.encrypt(m), key))[0] != 0 or r[1] != m]
    check(f"python -> C: {len(msgs)} Python tokens (empty, binary, 1 MiB, random) decrypt in C",
          not bad, f"messages {bad[:5]} failed")

    bad = []
    for i, m in enumerate(msgs):
        rc, tok, err = tool(["encrypt"], m, key)
        try:
            if rc != 0 or f.decrypt(tok.strip(), ttl=60) != m:
                bad.append(i)
        except InvalidToken:
            bad.append(i)
    check(f"C -> python: {len(msgs)} C tokens (empty, binary, 1 MiB, random) decrypt in Python",
          not bad, f"messages {bad[:5]} failed")

    # Known answer: same key, time and IV -> the same bytes on both sides.
    bad = []
    for i, m in enumerate(msgs[:ROUNDS]):
        iv, at = os.urandom(16), rng.randrange(0, 2**32)
        rc, tok, _ = tool(["encrypt", "--at", str(at), "--iv", iv.hex()], m, key)
        if tok.strip() != f._encrypt_from_parts(m, at, iv):
            bad.append(i)
    check("C and Python make byte-identical tokens for the same time and IV", not bad,
          f"messages {bad[:5]} differ")

    # A C key works in Python.
    rc, ckey, _ = tool(["genkey"], b"", key)
    cf = Fernet(ckey.strip())
    rc, tok, _ = tool(["encrypt"], b"made with a C key", ckey.strip())
    check("a key from 'fernet genkey' is a Python Fernet key",
          rc == 0 and cf.decrypt(tok.strip()) == b"made with a C key")

    # One flipped bit, in tokens from either side: both refuse.
    bad = []
    for side in ("C", "python"):
        for _ in range(ROUNDS):
            m = os.urandom(rng.randrange(0, 300))
            tok = f.encrypt(m) if side == "python" else tool(["encrypt"], m, key)[1].strip()
            t2, bit = flip(tok, rng)
            c_rc = tool(["decrypt"], t2, key)[0]
            try:
                f.decrypt(t2)
                py_refused = False
            except InvalidToken:
                py_refused = True
            if c_rc != 1 or not py_refused:
                bad.append(f"{side} token, bit {bit}: C exit {c_rc}, Python refused {py_refused}")
    check(f"one flipped bit in {2 * ROUNDS} tokens (half from each side) is refused by both",
          not bad, "; ".join(bad[:3]))

    # A wrong key: MAC mismatch in C, InvalidToken in Python.
    other = Fernet.generate_key()
    rc, _, err = tool(["decrypt"], f.encrypt(b"secret"), other)
    check("a Python token under another key: C says 'MAC mismatch' (exit 1)",
          rc == 1 and b"MAC mismatch" in err, err.decode(errors="replace"))

    # TTL: a Python token from 2 minutes ago, checked with a 60 s TTL.
    old = f.encrypt_at_time(b"old", now - 120)
    rc, _, err = tool(["decrypt", "--ttl", "60", "--at", str(now)], old, key)
    check("a 2-minute-old Python token with --ttl 60 is refused as expired",
          rc == 1 and b"expired" in err, err.decode(errors="replace"))
    rc, out, _ = tool(["decrypt", "--ttl", "180", "--at", str(now)], old, key)
    check("the same token with --ttl 180 opens", rc == 0 and out == b"old")

    # Rotation both ways (MultiFernet): the timestamp survives, the new key opens it.
    k_new = Fernet.generate_key()
    ctok = tool(["encrypt", "--at", "1234567890"], b"rotate me", key)[1].strip()
    ptok = MultiFernet([Fernet(k_new), f]).rotate(ctok)
    rc, out, _ = tool(["decrypt"], ptok, k_new)
    check("Python MultiFernet.rotate of a C token opens in C with the new key",
          rc == 0 and out == b"rotate me")
    rc, rot, _ = tool(["rotate"], ctok, k_new + b"," + key)
    ok = rc == 0 and Fernet(k_new).decrypt(rot.strip()) == b"rotate me"
    ok = ok and Fernet(k_new).extract_timestamp(rot.strip()) == 1234567890
    check("fernet rotate (SECRET_KEY=NEW,OLD) gives a token Python opens with the new key, "
          "same timestamp", ok)


main()
