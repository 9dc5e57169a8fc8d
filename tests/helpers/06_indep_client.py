#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""06_indep_client.py - a chapter 06 device written from the lab sheet alone.

Written from 06_full_protocol/README.md, section "The protocol, byte for
byte", and nothing else: not from the C code, not from the other Python
helpers (06_peer.py and friends). Where the sheet left something out, the
sheet was fixed, never this file by copying. So if this client and 06-server
agree, the sheet describes the protocol completely.

Third-party code only: pyOpenSSL (TLS 1.3, the client certificate, the RFC
9266 exporter) and cryptography (X25519, HKDF, AES-GCM, Ed25519/P-256, the
CSR and PKCS#7). The HTTP/1.1 is ten lines here, on purpose: every byte that
goes out is visible.

  06_indep_client.py --url URL --cacert ROOT --home DIR --user U --password-file F CMD
    register            POST /v1/register
    enrol               EST simpleenroll with our own key and CSR
    store JSON          HELLO, one signed record (--count N: N of them), CLOSE
    replay JSON         HELLO, two records, then the first envelope again
    badsig JSON         HELLO, a record whose signature is broken, CLOSE
Each step prints one line. A refusal prints the server's reason and exits 1,
except the one that replay and badsig are there to show (exit 0 once the
server refused; 1 if it accepted).
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import socket
import struct
import sys
import time

from OpenSSL import SSL
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives import hmac
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AttributeOID, NameOID

BODY_MAX = 1 << 20  # what we read of an answer, at most (the server's --max-body)


class Refused(Exception):
    """The server said no; the message is its reason."""


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s):
    if not isinstance(s, str) or "=" in s:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def be16(n):
    return struct.pack(">H", n)


def lp(b):
    return be16(len(b)) + b


def sha256(b):
    return hashlib.sha256(b).digest()


# ---- TLS: 1.3 only, the course root, the name in the SAN -----------------


class Tls:
    """One TLS 1.3 connection with HTTP/1.1 requests kept alive on it."""

    def __init__(self, host, port, cacert, cert=None, key=None):
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        ctx.load_verify_locations(cacert)
        ctx.set_verify(SSL.VERIFY_PEER, lambda conn, x, errno, depth, ok: bool(ok))
        if cert:
            ctx.use_certificate_file(cert)
            ctx.use_privatekey_file(key)
        self.host = host
        sock = socket.create_connection((host, port), timeout=20)
        # pyOpenSSL wants a blocking socket; a kernel timeout still bounds each read
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 20, 0))
        self.c = SSL.Connection(ctx, sock)
        self.c.set_tlsext_host_name(host.encode())
        self.c.set_connect_state()
        self.c.do_handshake()
        # pyOpenSSL checks the chain, not the name: the sheet says the SAN
        leaf = self.c.get_peer_certificate().to_cryptography()
        try:
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            raise Refused("the server certificate has no SAN")
        if host not in san.get_values_for_type(x509.DNSName):
            raise Refused("the server certificate does not name %s in its SAN" % host)
        self.server_pub = leaf.public_key()
        self.buf = b""

    def cb(self):
        # RFC 9266: label EXPORTER-Channel-Binding, 32 bytes, no context
        return self.c.export_keying_material(b"EXPORTER-Channel-Binding", 32)

    def _recv(self):
        try:
            d = self.c.recv(65536)
        except SSL.ZeroReturnError:
            d = b""
        if not d:
            raise Refused("the server closed the connection")
        self.buf += d
        if len(self.buf) > BODY_MAX + 65536:
            raise Refused("answer too long")

    def request(self, method, path, body=b"", headers=()):
        h = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % self.host,
             "Content-Length: %d" % len(body)] + list(headers)
        self.c.sendall(("\r\n".join(h) + "\r\n\r\n").encode() + body)
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        n = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                n = int(v)
        if n > BODY_MAX:
            raise Refused("answer too long")
        while len(self.buf) < n:
            self._recv()
        data, self.buf = self.buf[:n], self.buf[n:]
        return status, data

    def post_json(self, path, obj, headers=()):
        st, data = self.request("POST", path, json.dumps(obj, separators=(",", ":")).encode(),
                                ["Content-Type: application/json"] + list(headers))
        try:
            return st, json.loads(data)
        except ValueError:
            return st, {"error": data.decode("utf-8", "replace")}

    def close(self):
        try:
            self.c.shutdown()
        except SSL.Error:
            pass
        self.c.close()


def reason(j):
    return j.get("reason") or j.get("error") or json.dumps(j)


# ---- the device: keys, CSR, signatures -----------------------------------


def sign(key, tbs):
    # Ed25519 pure; P-256 ECDSA over SHA-256, DER
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(tbs)
    return key.sign(tbs, ec.ECDSA(hashes.SHA256()))


def device_id(cert):
    h = format(cert.serial_number, "x")  # no leading zero byte
    return h if len(h) % 2 == 0 else "0" + h


CTX = b" " * 64


def tbs_h(cb, cert_der, name, pub_c, nonce_c, ts):
    return (CTX + b"course06 HELLO v1\0" + cb + sha256(cert_der) + lp(name.encode()) + pub_c + nonce_c
            + struct.pack(">Q", ts))


def tbs_a(th_h, pub_s, nonce_s, session, rotate, expires, token, counters):
    c = be16(len(counters))
    for k in sorted(counters, key=lambda s: s.encode()):
        c += lp(k.encode()) + struct.pack(">Q", counters[k])
    return (CTX + b"course06 HELLO_ACK v1\0" + th_h + pub_s + nonce_s + lp(session.encode())
            + struct.pack(">I", rotate) + struct.pack(">Q", expires) + sha256(token.encode()) + c)


def tbs_r(name, cert_der, op, msg_id, created, payload):
    return (CTX + b"course06 record v1\0" + lp(name.encode()) + sha256(cert_der) + lp(op.encode()) + msg_id
            + struct.pack(">Q", created) + sha256(payload))


# ---- the key schedule and the envelopes ----------------------------------


def expand_label(secret, label, ctx, length):
    full = b"course06 " + label
    info = be16(length) + bytes([len(full)]) + full + bytes([len(ctx)]) + ctx
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def extract(salt, ikm):
    h = hmac.HMAC(salt, hashes.SHA256())
    h.update(ikm)
    return h.finalize()


CODE = {("c2s", "DATA_REQUEST"): 0x11, ("c2s", "CLOSE"): 0x13,
        ("s2c", "DATA_RESPONSE"): 0x22, ("s2c", "CLOSE"): 0x23}


class Direction:
    """One direction's secrets: epoch 0's, ratcheted forward as seq rises."""

    def __init__(self, name, secret, rotate, session):
        self.name, self.secret, self.epoch, self.rotate, self.session = name, secret, 0, rotate, session

    def keys(self, seq):
        want = (seq - 2) // self.rotate
        while self.epoch < want:  # never announced: computed from seq
            self.secret = expand_label(self.secret, b"traffic upd", b"", 32)
            self.epoch += 1
        key = expand_label(self.secret, b"key", b"", 32)
        iv = expand_label(self.secret, b"iv", b"", 12)
        nonce = bytes(a ^ b for a, b in zip(iv, b"\0" * 4 + struct.pack(">Q", seq)))
        return key, nonce, want

    def aad(self, typ, seq, epoch, req_ct):
        s = self.session.encode()
        a = (b"course06 v1" + bytes([CODE[(self.name, typ)], len(s)]) + s + struct.pack(">Q", seq)
             + struct.pack(">I", epoch))
        return a + sha256(req_ct) if req_ct is not None else a

    def seal(self, typ, seq, pt):
        key, nonce, epoch = self.keys(seq)
        return AESGCM(key).encrypt(nonce, pt, self.aad(typ, seq, epoch, None)), epoch

    def open(self, typ, seq, ct, req_ct):
        key, nonce, epoch = self.keys(seq)
        return AESGCM(key).decrypt(nonce, ct, self.aad(typ, seq, epoch, req_ct))


# ---- the steps ------------------------------------------------------------


class Client:
    def __init__(self, a):
        u = a.url.split("://", 1)[1].rstrip("/")
        self.host, port = u.rsplit(":", 1)
        self.port = int(port)
        self.a = a
        self.key_file = os.path.join(a.home, "device.key")
        self.cert_file = os.path.join(a.home, "device.crt")

    def tls(self, device=False):
        if device:
            return Tls(self.host, self.port, self.a.cacert, self.cert_file, self.key_file)
        return Tls(self.host, self.port, self.a.cacert)

    def password(self):
        with open(self.a.password_file, "rb") as f:
            return f.readline().rstrip(b"\r\n")

    def register(self):
        t = self.tls()
        st, j = t.post_json("/v1/register", {"username": self.a.user, "password": self.password().decode()})
        t.close()
        if st != 201:
            raise Refused("register: HTTP %d: %s" % (st, reason(j)))
        print("register: HTTP 201: account '%s' has id %s" % (j["username"], j["id"]))

    def enrol(self):
        os.makedirs(self.a.home, mode=0o700, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate() if self.a.key_type == "ed25519" \
            else ec.generate_private_key(ec.SECP256R1())
        t = self.tls()
        cb = t.cb()
        algo = None if self.a.key_type == "ed25519" else hashes.SHA256()
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.a.user)]))
               .add_attribute(AttributeOID.CHALLENGE_PASSWORD, b64url(cb).encode())
               .sign(key, algo))
        der = csr.public_bytes(serialization.Encoding.DER)
        basic = base64.b64encode(self.a.user.encode() + b":" + self.password()).decode()
        st, body = t.request("POST", "/.well-known/est/simpleenroll", base64.b64encode(der),
                             ["Content-Type: application/pkcs10", "Authorization: Basic " + basic])
        t.close()
        if st != 200:
            try:
                why = reason(json.loads(body))
            except ValueError:
                why = body.decode("utf-8", "replace")
            raise Refused("enrol: HTTP %d: %s" % (st, why))
        certs = pkcs7.load_der_pkcs7_certificates(base64.b64decode(body))
        if len(certs) != 1:
            raise Refused("enrol: the PKCS#7 holds %d certificates, not one" % len(certs))
        cert = certs[0]
        if cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) != \
                key.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo):
            raise Refused("enrol: the certificate is not for our key")
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(self.cert_file, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        print("enrol: HTTP 200: device certificate %s, device id %s, cb in the CSR %s..."
              % (cert.subject.rfc4514_string(), device_id(cert), b64url(cb)[:12]))

    # -- the session --

    def hello(self):
        with open(self.key_file, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        with open(self.cert_file, "rb") as f:
            self.cert = x509.load_pem_x509_certificate(f.read())
        self.cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        self.t = t = self.tls(device=True)
        e = x25519.X25519PrivateKey.generate()
        pub_c = e.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        nonce_c = secrets.token_bytes(32)
        ts = int(time.time() * 1000)
        th_bytes = tbs_h(t.cb(), self.cert_der, self.host, pub_c, nonce_c, ts)
        sig_c = sign(self.key, th_bytes)
        st, ack = t.post_json("/v1/hello", {
            "type": "HELLO", "v": 1, "seq": 1, "device": device_id(self.cert),
            "kex": {"group": "x25519", "pub": b64url(pub_c)}, "nonce": b64url(nonce_c), "ts": ts,
            "sig": b64url(sig_c)})
        if st != 200:
            raise Refused("HELLO: HTTP %d: %s" % (st, reason(ack)))
        want = {"type", "v", "seq", "session", "kex", "nonce", "rotate_every", "expires_at", "token",
                "counters", "sig"}
        if set(ack) != want or ack["type"] != "HELLO_ACK" or ack["v"] != 1 or ack["seq"] != 1 \
                or ack["kex"].get("group") != "x25519":
            raise Refused("HELLO_ACK: not the message the sheet shows: %s" % sorted(ack))
        pub_s, nonce_s, sig_s = unb64url(ack["kex"]["pub"]), unb64url(ack["nonce"]), unb64url(ack["sig"])
        ta = tbs_a(sha256(th_bytes + sig_c), pub_s, nonce_s, ack["session"], ack["rotate_every"],
                   ack["expires_at"], ack["token"], ack["counters"])
        try:
            t.server_pub.verify(sig_s, ta, ec.ECDSA(hashes.SHA256()))
        except Exception:
            raise Refused("HELLO_ACK: the signature is not the server certificate's key's")
        th = sha256(th_bytes + sig_c + ta + sig_s)
        ss = e.exchange(x25519.X25519PublicKey.from_public_bytes(pub_s))
        del e  # the ephemeral key is done with
        prk = extract(th, ss)
        self.session, self.token, self.seq = ack["session"], ack["token"], 1
        self.c2s = Direction("c2s", expand_label(prk, b"c ap traffic", th, 32), ack["rotate_every"], self.session)
        self.s2c = Direction("s2c", expand_label(prk, b"s ap traffic", th, 32), ack["rotate_every"], self.session)
        print("HELLO_ACK: session %s, signed by the server's key, th %s..., counters %s"
              % (self.session, th.hex()[:16], json.dumps(ack["counters"], sort_keys=True)))

    def envelope(self, typ, pt):
        """Seal pt as the next request; the body to send and what its answer needs."""
        self.seq += 1
        ct, epoch = self.c2s.seal(typ, self.seq, pt)
        body = {"type": typ, "session": self.session, "seq": self.seq, "ct": b64url(ct)}
        return body, ct, epoch

    def send(self, path, body, ct):
        """Post one envelope; the opened answer, or Refused with the server's reason."""
        st, j = self.t.post_json(path, body, ["Authorization: Bearer " + self.token])
        if st != 200:
            raise Refused("HTTP %d: %s" % (st, reason(j)))
        atype = "CLOSE" if body["type"] == "CLOSE" else "DATA_RESPONSE"
        if set(j) != {"type", "session", "seq", "ct"} or j["type"] != atype or j["seq"] != body["seq"] \
                or j["session"] != self.session:
            raise Refused("the answer is not the %s the sheet shows: %s" % (atype, j))
        pt = self.s2c.open(atype, j["seq"], unb64url(j["ct"]), ct)
        return json.loads(pt)

    def signed_op(self, op, payload, break_sig=False):
        msg_id, created = secrets.token_bytes(16), int(time.time() * 1000)
        sig = sign(self.key, tbs_r(self.host, self.cert_der, op, msg_id, created, payload))
        if break_sig:  # one bit of the signature flipped: the envelope is fine, the signature not
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        return json.dumps({"op": op, "msg_id": b64url(msg_id), "created": created, "payload": b64url(payload),
                           "sig": b64url(sig)}, separators=(",", ":")).encode()

    def record(self, rec, break_sig=False):
        body, ct, epoch = self.envelope("DATA_REQUEST", self.signed_op("record", rec.encode(), break_sig))
        ans = self.send("/v1/data", body, ct)
        return body, ct, epoch, ans

    def close_session(self):
        body, ct, _ = self.envelope("CLOSE", json.dumps({"reason": "done"}).encode())
        ans = self.send("/v1/close", body, ct)
        print("CLOSE seq %d: %s" % (body["seq"], json.dumps(ans, sort_keys=True)))
        self.t.close()

    def answer_line(self, body, epoch, ans):
        print("DATA_REQUEST seq %d epoch %d: %s" % (body["seq"], epoch, json.dumps(ans, sort_keys=True)))

    def store(self, rec):
        self.hello()
        for _ in range(self.a.count):  # over rotate_every of them: the keys ratchet on
            body, _, epoch, ans = self.record(rec)
            self.answer_line(body, epoch, ans)
            if ans.get("status") != "stored":
                raise Refused("record %s: %s" % (ans.get("status"), ans.get("reason")))
            print("record stored: id %d" % ans["record_id"])
        self.close_session()

    def replay(self, rec):
        self.hello()
        b1, ct1, e1, a1 = self.record(rec)
        self.answer_line(b1, e1, a1)
        # the last request again, byte for byte: its first answer, nothing stored twice
        again = self.send("/v1/data", b1, ct1)
        print("the same envelope again at once: %s (the first answer, not a second record)"
              % json.dumps(again, sort_keys=True))
        second = dict(json.loads(rec), FirstName="Second")  # another record, so seq 3 is stored too
        b2, _, e2, a2 = self.record(json.dumps(second))
        self.answer_line(b2, e2, a2)
        if a2.get("status") != "stored":
            raise Refused("record %s: %s" % (a2.get("status"), a2.get("reason")))
        # now seq 2 is below the last: what an attacker who kept it would send
        try:
            self.send("/v1/data", b1, ct1)
        except Refused as r:
            print("replayed envelope (seq %d after seq %d): refused: %s" % (b1["seq"], b2["seq"], r))
            self.close_session()
            return 0
        raise Refused("the replayed envelope was accepted")

    def badsig(self, rec):
        self.hello()
        body, _, epoch, ans = self.record(rec, break_sig=True)
        self.answer_line(body, epoch, ans)
        self.close_session()
        if ans.get("status") == "refused":
            print("bad signature: refused: %s" % ans.get("reason"))
            return 0
        raise Refused("a record with a broken signature was answered %s" % ans.get("status"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--cacert", required=True)
    p.add_argument("--home", required=True)
    p.add_argument("--user", default="indie")
    p.add_argument("--password-file")
    p.add_argument("--key-type", choices=("ed25519", "p256"), default="ed25519")
    p.add_argument("--count", type=int, default=1, help="store: records in the one session (1..100)")
    p.add_argument("cmd", choices=("register", "enrol", "store", "replay", "badsig"))
    p.add_argument("record", nargs="?", default='{"FirstName": "Ada", "LastName": "Lovelace"}')
    a = p.parse_args()
    if not 1 <= a.count <= 100:
        p.error("--count is 1..100")
    c = Client(a)
    try:
        if a.cmd == "register":
            c.register()
        elif a.cmd == "enrol":
            c.enrol()
        else:
            return getattr(c, a.cmd)(a.record) or 0
    except Refused as r:
        print("06_indep_client: refused: %s" % r, file=sys.stderr)
        return 1
    except (SSL.Error, OSError, ValueError) as e:
        print("06_indep_client: error: %s" % (str(e) or type(e).__name__), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
