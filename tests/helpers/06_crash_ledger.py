#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The bookkeeping of tests/chapters/06_crash.sh: what each client sent, what it
heard, and what the database kept.

A client here is one 06-client --home HOME. Records are queued the way
06-client send-record queues them (client_session.c outbox_add): a file
HOME/outbox/<msg_id hex>.json = {"msg_id": b64url, "created": ms, "payload":
b64url}, fsynced before its name appears, with a msg_id chosen by the client.
`06-client resend` sends what is there and removes a file only when the server
answered stored, duplicate or quarantined. The ledger (LEDGER/<id>.json) keeps a
copy of each: a ledger entry whose outbox file is gone was acknowledged.

    queue HOME LEDGER COUNT TAG [0|1|2]    queue COUNT records (and, with 0, one
                                           more with an unknown field: quarantined)
    settle HOME LEDGER                     mark what is gone from the outbox as
                                           acknowledged; prints "acked A of N"
    sample HOME LEDGER K                   put K acknowledged stored records back
                                           in the outbox (a resend must answer
                                           "duplicate"); prints their ids
    verify DB DATA HOME:LEDGER...          prints "acknowledged A lost L
                                           duplicates D stray S" and one line per
                                           problem; exit 0 if L = D = S = 0

Nothing here trusts the server: "acknowledged" is what the client did with its
outbox, and "lost" is looked up in the database file itself.
"""
import base64
import glob
import json
import os
import random
import sqlite3
import sys
import time


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def write_durably(path, text):
    """tmp + fsync + rename + fsync of the folder: the name appears only with the whole content"""
    d = os.path.dirname(path)
    tmp = os.path.join(d, "." + os.path.basename(path) + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    dfd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def entries(ledger):
    for p in sorted(glob.glob(os.path.join(ledger, "*.json"))):
        with open(p) as f:
            yield os.path.basename(p)[:-5], json.load(f)


def cmd_queue(home, ledger, count, tag, shoe):
    os.makedirs(os.path.join(home, "outbox"), mode=0o700, exist_ok=True)
    os.makedirs(os.path.join(ledger, "acked"), mode=0o700, exist_ok=True)
    for i in range(int(count) + (1 if shoe else 0)):
        mid = os.urandom(16)
        rec = {"FirstName": tag, "LastName": "n%d" % i, "Comments": os.urandom(8).hex()}
        if shoe and i == int(count):
            rec = {"FirstName": tag, "Shoe": 42, "Comments": os.urandom(8).hex()}  # quarantined
        payload = json.dumps(rec, separators=(",", ":")).encode()
        entry = {"msg_id": b64u(mid), "created": int(time.time() * 1000), "payload": b64u(payload)}
        text = json.dumps(entry, separators=(",", ":"))
        # the ledger first: an outbox file without its ledger entry would be a record nobody checks
        write_durably(os.path.join(ledger, mid.hex() + ".json"), text)
        write_durably(os.path.join(home, "outbox", mid.hex() + ".json"), text)


def cmd_settle(home, ledger):
    acked = n = 0
    for mid, _ in entries(ledger):
        n += 1
        mark = os.path.join(ledger, "acked", mid)
        if not os.path.exists(os.path.join(home, "outbox", mid + ".json")) and not os.path.exists(mark):
            open(mark, "w").close()
        acked += os.path.exists(mark)
    print("acked %d of %d" % (acked, n))


def cmd_sample(home, ledger, k):
    done = [(mid, e) for mid, e in entries(ledger)
            if os.path.exists(os.path.join(ledger, "acked", mid)) and b"Shoe" not in unb64u(e["payload"])
            and not os.path.exists(os.path.join(home, "outbox", mid + ".json"))]
    for mid, e in random.sample(done, min(int(k), len(done))):
        write_durably(os.path.join(home, "outbox", mid + ".json"), json.dumps(e, separators=(",", ":")))
        print(mid)


def device_serial(db, home):
    """the devices row of HOME's certificate (the serial as the server spells it)"""
    from cryptography import x509  # here only: queue and settle run often and need no X.509
    with open(os.path.join(home, "device.crt"), "rb") as f:
        n = x509.load_pem_x509_certificate(f.read()).serial_number
    for (s,) in db.execute("SELECT serial FROM devices"):
        if int(s, 16) == n:
            return s
    return "%x" % n


def cmd_verify(db_path, data, pairs):
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    problems = []
    acked = lost = 0
    for pair in pairs:
        home, ledger = pair.split(":", 1)
        serial = device_serial(db, home)
        for mid, e in entries(ledger):
            if not os.path.exists(os.path.join(ledger, "acked", mid)):
                continue
            acked += 1
            payload = unb64u(e["payload"])
            rows = db.execute("SELECT id, status, payload FROM receipts WHERE device_serial = ? AND msg_id = ?",
                              (serial, bytes.fromhex(mid))).fetchall()
            if not rows:
                lost += 1
                problems.append("lost: %s %s was acknowledged and is not in receipts" % (serial, mid))
                continue
            rid, status, stored = rows[0]
            want = "quarantined" if b"Shoe" in payload else "stored"
            if status != want:
                lost += 1
                problems.append("lost: %s %s is %s, not %s" % (serial, mid, status, want))
            elif want == "stored" and (stored != payload or
                                       db.execute("SELECT count(*) FROM records WHERE receipt_id = ?",
                                                  (rid,)).fetchone()[0] != 1):
                lost += 1
                problems.append("lost: %s %s: its payload or its records row is not what was sent" % (serial, mid))
    # the same (device, msg_id) twice (UNIQUE forbids it: counted anyway), the same payload twice, a
    # receipt with two records rows (a PRIMARY KEY forbids it), a quarantined receipt with two files' rows
    dup = db.execute("SELECT count(*) - count(DISTINCT device_serial || hex(msg_id)) FROM receipts").fetchone()[0]
    dup += db.execute("SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n FROM receipts"
                      " WHERE status = 'stored' GROUP BY payload)").fetchone()[0]
    dup += db.execute("SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n FROM records"
                      " GROUP BY FirstName, LastName, Comments)").fetchone()[0]
    dup += db.execute("SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n FROM quarantine"
                      " GROUP BY receipt_id)").fetchone()[0]
    if dup:
        problems.append("duplicates: %d rows stored twice" % dup)
    stray = []
    for root, _, files in os.walk(data):
        stray += [os.path.join(root, f) for f in files if f.endswith(".part") or f.endswith(".tmp")]
    for s in stray:
        problems.append("stray temporary file: %s" % s)
    db.close()
    print("acknowledged %d lost %d duplicates %d stray %d" % (acked, lost, dup, len(stray)))
    for p in problems[:20]:
        print(p)
    return 0 if lost == 0 and dup == 0 and not stray else 1


def main(a):
    if len(a) in (5, 6) and a[0] == "queue":
        return cmd_queue(a[1], a[2], a[3], a[4], a[5:] == ["0"]) or 0
    if len(a) == 3 and a[0] == "settle":
        return cmd_settle(a[1], a[2]) or 0
    if len(a) == 4 and a[0] == "sample":
        return cmd_sample(a[1], a[2], a[3]) or 0
    if len(a) >= 4 and a[0] == "verify":
        return cmd_verify(a[1], a[2], a[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
