#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An independent client of chapter 06's service, and the envelope attacks.

It is written from the lab sheet (common/envelope/envelope.h, hello.h) and
shares no code with 06-client: TLS 1.3 and the RFC 9266 tls-exporter are
pyOpenSSL's, X25519, Ed25519, ECDSA, AES-GCM, the CSR and the PKCS#7 are
python3-cryptography's, and HTTP/1.1 is done by hand on the TLS connection
(keep-alive, one request at a time, Content-Length bodies) so the exporter is
the exporter of the very connection a request travels on. The TBS layouts
and the key schedule come from the two Python helpers that made the known
answers in tests/vectors/06 (06_hello.py, 06_keyschedule.py, imported, not
copied), so this client and the C module meet only on the wire.

    06_peer.py --url URL --cacert ROOT --home DIR register USER --password-file F
    06_peer.py --url URL --cacert ROOT --home DIR enrol USER --password-file F [--relay]
    06_peer.py --url URL --cacert ROOT --home DIR flow
    06_peer.py --url URL --cacert ROOT --home DIR [--admin DATA] SCENARIO
    06_peer.py selftest          (the peer's own crypto against tests/vectors/06)

Each attack SCENARIO prints one verdict line, "NAME: defended: WHAT" (exit
0) or "NAME: NOT DEFENDED: WHAT" (exit 1), so a test greps the first form
and fails on anything else. Exit 2: usage, or the service could not be
reached. Scenarios: replay-identical replay-other reorder reflect tamper-ct
tamper-aad gap unknown-session unsigned bad-sig other-aud relay-hello
stale-hello hello-key-windows rotate big.

This is a test peer: Python cannot wipe its bytes objects, so the session
secrets live in memory until the process ends (the C client wipes them).
"""
import argparse
import base64
import hashlib
import importlib.util
import json
import os
import pickle
import select
import signal
import socket
import sys
import time
from urllib.parse import urlsplit

from OpenSSL import SSL
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, pkcs7
from cryptography.x509.oid import AttributeOID, NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
PROG = "06_peer.py"
EXPORTER_LABEL = b"EXPORTER-Channel-Binding"  # RFC 9266
HEAD_MAX = 16384  # bytes of a response head we read at most
BODY_MAX = 8 << 20  # bytes of a response body
DEADLINE_S = 120  # the whole run: a stuck server fails the test, never hangs it


def load_helper(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


H = load_helper("c06_hello", "06_hello.py")  # tbs_h, tbs_a, tbs_r, counters_bytes
KS = load_helper("c06_keyschedule", "06_keyschedule.py")  # schedule, traffic, aad, nonce

C2S, S2C = KS.C2S, KS.S2C
T_REQ, T_RESP, T_CLOSE = KS.DATA_REQUEST, KS.DATA_RESPONSE, KS.CLOSE


def die(msg, hint=None, rc=2):
    print("%s: error: %s" % (PROG, msg), file=sys.stderr)
    if hint:
        print("hint: %s" % hint, file=sys.stderr)
    sys.exit(rc)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    """Strict unpadded base64url, as the service sends it."""
    if not isinstance(s, str) or "=" in s:
        raise ValueError("not unpadded base64url")
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if b64u(raw) != s:
        raise ValueError("not canonical base64url")
    return raw


def sha256(b):
    return hashlib.sha256(b).digest()


def compact(o):
    return json.dumps(o, separators=(",", ":")).encode()


def now_ms():
    return int(time.time() * 1000)


# ---- TLS 1.3 and HTTP/1.1 by hand --------------------------------------------------------

class Conn:
    """One TLS 1.3 connection to the service, with or without the device
    certificate. The server's chain is checked against --cacert by OpenSSL
    and its name here (pyOpenSSL 23 exposes no host-name flag)."""

    def __init__(self, args, cert=None, key=None):
        u = urlsplit(args.url)
        if u.scheme != "https" or not u.port:
            die("--url must be https://HOST:PORT, not '%s'" % args.url)
        self.host, self.port, self.name = u.hostname, u.port, args.name
        addr = "127.0.0.1" if self.host == "localhost" else self.host
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        ctx.load_verify_locations(args.cacert)
        ctx.set_verify(SSL.VERIFY_PEER, lambda c, x, err, depth, ok: bool(ok))
        if cert:
            ctx.use_certificate_file(cert)
            ctx.use_privatekey_file(key)
            ctx.check_privatekey()
        try:
            sock = socket.create_connection((addr, self.port), timeout=10)
        except OSError as e:
            die("cannot connect to %s:%d: %s" % (addr, self.port, e), "is 06-server running?")
        sock.settimeout(None)  # blocking; the alarm bounds the whole run
        self.sock = sock
        self.c = SSL.Connection(ctx, sock)
        self.c.set_tlsext_host_name(self.name.encode())
        self.c.set_connect_state()
        self.c.do_handshake()
        if self.c.get_protocol_version_name() != "TLSv1.3":
            die("the server spoke %s, not TLS 1.3" % self.c.get_protocol_version_name())
        peer = self.c.get_peer_certificate().to_cryptography()
        try:
            names = peer.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            dns = names.value.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            dns = []
        if self.name not in dns:
            die("the server's certificate is not for '%s' (it names %s)" % (self.name, dns))
        self.server_pub = peer.public_key()
        self.exporter = self.c.export_keying_material(EXPORTER_LABEL, 32)
        self.buf = b""
        self.closed = False

    def _fill(self):
        try:
            d = self.c.recv(65536)
        except (SSL.ZeroReturnError, SSL.SysCallError):
            d = b""
        if not d:
            self.closed = True
            raise EOFError("the server closed the connection")
        self.buf += d

    def send_head(self, method, path, headers, length):
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (self.name, self.port),
                 "Content-Length: %d" % length]
        lines += ["%s: %s" % kv for kv in headers]
        self.c.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > HEAD_MAX:
                raise ValueError("a response head over %d bytes" % HEAD_MAX)
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or parts[0] != "HTTP/1.1" or not parts[1].isdigit():
            raise ValueError("not an HTTP/1.1 status line: %r" % lines[0])
        hdr = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdr[k.strip().lower()] = v.strip()
        n = hdr.get("content-length", "")
        if not n.isdigit() or int(n) > BODY_MAX:
            raise ValueError("a response without a usable Content-Length: %r" % n)
        while len(self.buf) < int(n):
            self._fill()
        body, self.buf = self.buf[:int(n)], self.buf[int(n):]
        if hdr.get("connection", "").lower() == "close":
            self.closed = True
        return int(parts[1]), hdr, body

    def request(self, method, path, body=b"", headers=()):
        self.send_head(method, path, headers, len(body))
        if body:
            self.c.sendall(body)
        return self.response()

    def close(self):
        try:
            self.c.shutdown()
        except SSL.Error:
            pass
        self.sock.close()


# ---- the device ---------------------------------------------------------------------------

class Device:
    def __init__(self, home):
        self.key_path = os.path.join(home, "device.key")
        self.cert_path = os.path.join(home, "device.crt")
        try:
            with open(self.key_path, "rb") as f:
                self.key = serialization.load_pem_private_key(f.read(), None)
            with open(self.cert_path, "rb") as f:
                self.cert = x509.load_pem_x509_certificate(f.read())
        except OSError as e:
            die("no device in %s: %s" % (home, e), "run '06_peer.py ... enrol USER' first")
        self.der = self.cert.public_bytes(Encoding.DER)
        n = self.cert.serial_number
        self.serial = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big").hex()

    def sign(self, tbs):
        if isinstance(self.key, Ed25519PrivateKey):
            return self.key.sign(tbs)
        return self.key.sign(tbs, ec.ECDSA(hashes.SHA256()))


def verify_sig(pub, sig, tbs):
    """Ed25519 or ECDSA P-256 with SHA-256 (DER); raises InvalidSignature."""
    if isinstance(pub, Ed25519PublicKey):
        pub.verify(sig, tbs)
    elif isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name == "secp256r1":
        pub.verify(sig, tbs, ec.ECDSA(hashes.SHA256()))
    else:
        raise InvalidSignature("a key that is neither Ed25519 nor P-256")


def signed_op(dev, aud, op, payload, msg_id=None, created=None, sign=True, sig=None):
    """DATA_REQUEST's plaintext: the record signed over TBS_R (hello.h)."""
    msg_id = msg_id or os.urandom(16)
    created = now_ms() if created is None else created
    o = {"op": op, "msg_id": b64u(msg_id), "created": created, "payload": b64u(payload)}
    if sign:
        o["sig"] = b64u(sig if sig is not None else
                        dev.sign(H.tbs_r(aud, dev.der, op, msg_id, created, payload)))
    return compact(o)


# ---- envelopes -------------------------------------------------------------------------------

class Direction:
    """One direction's keys: epoch(seq) = (seq - 2) / N, secrets ratcheted
    with "traffic upd", nonce = iv XOR BE64(seq), AAD as envelope.h says."""

    def __init__(self, d, secret0, rotate_every, session):
        self.d, self.rot, self.session = d, rotate_every, session
        self.secrets = [secret0]

    def epoch(self, seq):
        return (seq - KS.FIRST_SEQ[self.d]) // self.rot

    def keys(self, ep):
        while len(self.secrets) <= ep:
            self.secrets.append(KS.next_secret(self.secrets[-1]))
        return KS.traffic(self.secrets[ep])

    def _parts(self, typ, seq, req_ct, ep=None):
        ep = self.epoch(seq) if ep is None else ep
        k, iv = self.keys(ep)
        a = KS.aad(self.d, typ, self.session, seq, ep, sha256(req_ct) if req_ct is not None else None)
        return k, KS.nonce(iv, seq), a

    def seal(self, typ, seq, pt, req_ct=None):
        k, n, a = self._parts(typ, seq, req_ct)
        return AESGCM(k).encrypt(n, pt, a)

    def open(self, typ, seq, ct, req_ct=None, ep=None):
        k, n, a = self._parts(typ, seq, req_ct, ep)
        return AESGCM(k).decrypt(n, ct, a)


ACK_MEMBERS = {"type", "v", "seq", "session", "kex", "nonce", "rotate_every", "expires_at", "token",
               "counters", "sig"}


class Session:
    """HELLO / HELLO_ACK and then envelopes, over one Conn (reopened if the
    server closes it: the session outlives a TCP connection, the HELLO's
    channel binding was checked once)."""

    def __init__(self, args, dev, conn=None):
        self.args, self.dev = args, dev
        self.conn = conn or self.connect()
        self.seq = 1
        self.last = None  # (seq, request ct, answer body) of the last exchange

    def connect(self):
        return Conn(self.args, self.dev.cert_path, self.dev.key_path)

    def post(self, path, body, headers=()):
        if self.conn.closed:
            self.conn = self.connect()
        hdr = [("Content-Type", "application/json")] + list(headers)
        try:
            return self.conn.request("POST", path, body, hdr)
        except EOFError:  # a keep-alive connection the server had closed
            self.conn = self.connect()
            return self.conn.request("POST", path, body, hdr)

    # -- the handshake --
    def make_hello(self, cb=None, ts=None):
        self.eph = X25519PrivateKey.generate()
        self.nonce_c = os.urandom(32)
        pub = self.eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        ts = now_ms() if ts is None else ts
        self.tbs_h = H.tbs_h(cb or self.conn.exporter, self.dev.der, self.args.name, pub,
                             self.nonce_c, ts)
        self.sig_c = self.dev.sign(self.tbs_h)
        return compact({"type": "HELLO", "v": 1, "seq": 1, "device": self.dev.serial,
                        "kex": {"group": "x25519", "pub": b64u(pub)}, "nonce": b64u(self.nonce_c),
                        "ts": ts, "sig": b64u(self.sig_c)})

    def hello(self, cb=None, ts=None):
        """HELLO; (status, body). On 200 the session is set up from the ACK."""
        st, _, body = self.post("/v1/hello", self.make_hello(cb, ts))
        if st == 200:
            self.finish(body, self.conn.server_pub)
        return st, body

    def finish(self, body, server_pub):
        """Check HELLO_ACK strictly, its signature with the TLS server
        certificate's key, and derive the two directions' first secrets."""
        ack = json.loads(body)
        if set(ack) != ACK_MEMBERS or ack["type"] != "HELLO_ACK" or ack["v"] != 1 or ack["seq"] != 1:
            raise ValueError("not a HELLO_ACK: %s" % sorted(ack))
        kex = ack["kex"]
        if set(kex) != {"group", "pub"} or kex["group"] != "x25519":
            raise ValueError("HELLO_ACK kex is not x25519")
        if not (isinstance(ack["session"], str) and isinstance(ack["token"], str)
                and isinstance(ack["rotate_every"], int) and isinstance(ack["expires_at"], int)
                and isinstance(ack["counters"], dict)):
            raise ValueError("HELLO_ACK members of the wrong JSON type")
        pub_s, nonce_s, sig_s = unb64u(kex["pub"]), unb64u(ack["nonce"]), unb64u(ack["sig"])
        if len(pub_s) != 32 or len(nonce_s) != 32:
            raise ValueError("HELLO_ACK pub or nonce is not 32 bytes")
        tbs_a = H.tbs_a(self.tbs_h, self.sig_c, pub_s, nonce_s, ack["session"],
                        ack["rotate_every"], ack["expires_at"], ack["token"], ack["counters"])
        server_pub.verify(sig_s, tbs_a, ec.ECDSA(hashes.SHA256()))  # raises if forged
        shared = self.eph.exchange(X25519PublicKey.from_public_bytes(pub_s))
        self.eph = None
        self.th = sha256(self.tbs_h + self.sig_c + tbs_a + sig_s)
        _, first = KS.schedule(shared, self.th)
        self.ack, self.ack_raw = ack, body
        self.id, self.token, self.rot = ack["session"], ack["token"], ack["rotate_every"]
        self.tx = Direction(C2S, first[C2S], self.rot, self.id)
        self.rx = Direction(S2C, first[S2C], self.rot, self.id)
        self.first = first
        OPENED.append(self)

    # -- envelopes --
    def envelope(self, typ_name, seq, ct, session=None):
        return compact({"type": typ_name, "session": session or self.id, "seq": seq, "ct": b64u(ct)})

    def send(self, path, body, token=None):
        st, _, resp = self.post(path, body, [("Authorization", "Bearer " + (token or self.token))])
        return st, resp

    def exchange(self, pt, seq=None, typ=T_REQ):
        """Seal pt under seq (default: the next), send it, open the answer.
        Returns (http status, answer plaintext dict or None, request body,
        request ct, response body)."""
        seq = self.seq + 1 if seq is None else seq
        name, path = ("DATA_REQUEST", "/v1/data") if typ == T_REQ else ("CLOSE", "/v1/close")
        ct = self.tx.seal(typ, seq, pt)
        body = self.envelope(name, seq, ct)
        st, resp = self.send(path, body)
        self.seq = max(self.seq, seq)
        ans = None
        if st == 200:
            ans = self.open_answer(typ, seq, ct, resp)
        self.last = (seq, ct, resp)
        return st, ans, body, ct, resp

    def open_answer(self, typ, seq, req_ct, resp):
        e = json.loads(resp)
        want = "DATA_RESPONSE" if typ == T_REQ else "CLOSE"
        if set(e) != {"type", "session", "seq", "ct"} or e["type"] != want or e["seq"] != seq \
                or e["session"] != self.id:
            raise ValueError("not the %s to seq %d: %s" % (want, seq, resp[:200]))
        rtyp = T_RESP if typ == T_REQ else T_CLOSE
        return json.loads(self.rx.open(rtyp, seq, unb64u(e["ct"]), req_ct))

    def record(self, payload, seq=None, aud=None):
        return self.exchange(signed_op(self.dev, aud or self.args.name, "record", payload), seq)

    def poll(self, seq=None):
        return self.exchange(signed_op(self.dev, self.args.name, "poll", b"{}"), seq)

    def close_session(self):
        return self.exchange(compact({"reason": "done"}), typ=T_CLOSE)


def error_of(body):
    """The reason of a plain refusal: {"error": ...} or R3's CLOSE {reason}."""
    try:
        j = json.loads(body)
    except ValueError:
        return body[:120].decode("latin-1")
    return str(j.get("error") or j.get("reason") or j)


# ---- verdicts ------------------------------------------------------------------------------

OPENED = []  # every session a HELLO_ACK opened in this run


class Verdict:
    """Collects every check of one scenario; one line at the end."""

    def __init__(self, name):
        self.name, self.bad, self.good = name, [], []

    def check(self, ok, what):
        (self.good if ok else self.bad).append(what)
        return ok

    def done(self):
        # end what this run opened: a device may hold only 8 sessions, and
        # the next scenario is the same device (a session an attack already
        # broke, or the server ended, just refuses: that is fine here)
        for sess in OPENED:
            try:
                sess.close_session()
            except Exception:
                pass
        if self.bad:
            print("%s: NOT DEFENDED: %s" % (self.name, "; ".join(self.bad)))
            sys.exit(1)
        print("%s: defended: %s" % (self.name, "; ".join(self.good)))
        sys.exit(0)


def open_session(args, v):
    dev = Device(args.home)
    s = Session(args, dev)
    st, body = s.hello()
    if st != 200:
        v.check(False, "HELLO answered %d: %s" % (st, error_of(body)))
        v.done()
    return s


def records_count(s):
    """The stored-records counter the server sends with every poll answer."""
    st, ans, *_ = s.poll()
    if st != 200 or not ans or ans.get("status") != "ok":
        raise ValueError("a poll failed: %d %s" % (st, ans))
    return ans["counters"]["records"]


# ---- the scenarios ---------------------------------------------------------------------------

def sc_replay_identical(args, v):
    """A resend of the last request's very bytes (a client that lost the
    answer) gets the first answer back, byte for byte: never a second
    answer sealed under a used seq (a nonce used twice), never a second store."""
    s = open_session(args, v)
    before = records_count(s)
    st, ans, body, ct, resp1 = s.record(compact({"FirstName": "Replay", "Comments": "once"}))
    v.check(st == 200 and ans and ans["status"] == "stored", "the record is stored (%d, %s)" % (st, ans))
    st2, resp2 = s.send("/v1/data", body)  # the very same bytes
    v.check(st2 == 200, "the identical resend is answered 200 (got %d: %s)" % (st2, error_of(resp2)))
    v.check(resp2 == resp1, "the second answer is byte-identical to the first (the cached answer)")
    after = records_count(s)
    v.check(after == before + 1, "the records count grew by one (%d -> %d), not two" % (before, after))


def sc_replay_other(args, v):
    """A new envelope under a seq already used is a replay (R5 had no
    sequence numbers): 409, whatever it carries."""
    s = open_session(args, v)
    st, ans, *_ = s.record(compact({"FirstName": "First"}))
    v.check(st == 200, "seq 2 is answered (%d)" % st)
    st, _, _, _, resp = s.record(compact({"FirstName": "Second"}), seq=2)
    v.check(st == 409, "another envelope under seq 2 is 409 (got %d)" % st)
    v.check("replay" in error_of(resp), "the reason says replayed: %s" % error_of(resp))


def sc_reorder(args, v):
    """Only seq > last is taken: an envelope held back and delivered late is
    refused, and the reason says reordered (not a gap: seq - last must not wrap)."""
    s = open_session(args, v)
    st, *_ = s.poll(seq=4)
    v.check(st == 200, "seq 4 first is answered (%d)" % st)
    st, _, _, _, resp = s.poll(seq=3)
    v.check(st == 409, "seq 3 after seq 4 is 409 (got %d)" % st)
    v.check("reordered" in error_of(resp), "the reason says reordered: %s" % error_of(resp))


def sc_reflect(args, v):
    """The server's own answer sent back to it. Refused three ways: the
    endpoint takes only DATA_REQUEST, the answer's seq is used, and its AAD
    and key belong to the other direction (R5 used one key both ways)."""
    s = open_session(args, v)
    st, ans, _, _, resp = s.poll()
    v.check(st == 200, "a poll is answered (%d)" % st)
    e = json.loads(resp)
    # the server's DATA_RESPONSE, verbatim, as a request
    st, r = s.send("/v1/data", resp)
    v.check(st in (400, 409), "the DATA_RESPONSE sent back verbatim is refused (%d: %s)"
            % (st, error_of(r)))
    # retyped as a DATA_REQUEST, under its own seq and the next one
    for seq in (e["seq"], e["seq"] + 1):
        st, r = s.send("/v1/data", s.envelope("DATA_REQUEST", seq, unb64u(e["ct"])))
        v.check(st in (400, 409), "the answer's ct as a DATA_REQUEST at seq %d is refused (%d: %s)"
                % (seq, st, error_of(r)))
    st, ans, *_ = s.poll()
    v.check(st == 200 and ans["status"] == "ok", "the session still works after (%d)" % st)


def sc_tamper_ct(args, v):
    """Nothing inside a ciphertext is read before its tag checks (R5
    unpickled first): a flipped bit, garbage, a pickle and a stub are all
    'authentication failed', and none of them moves the session's seq."""
    s = open_session(args, v)
    pt = signed_op(s.dev, args.name, "record", compact({"FirstName": "Tampered"}))
    ct = bytearray(s.tx.seal(T_REQ, 2, pt))
    ct[len(ct) // 2] ^= 0x01
    forged = [("one ct bit flipped", bytes(ct)), ("random garbage", os.urandom(64)),
              ("a pickle blob (R5 unpickled before any check)",
               pickle.dumps({"op": "record", "payload": "x"}, protocol=4)),
              ("5 bytes, shorter than a tag", b"\x80\x04\x95\x00\x00")]
    for what, c in forged:
        st, r = s.send("/v1/data", s.envelope("DATA_REQUEST", 2, c))
        v.check(st == 400 and "authentication failed" in error_of(r),
                "%s: 400 authentication failed (got %d: %s)" % (what, st, error_of(r)))
    # the forgeries moved nothing: seq 2 is still free, and nothing was stored
    st, ans, *_ = s.record(compact({"FirstName": "Genuine"}), seq=2)
    v.check(st == 200 and ans["status"] == "stored",
            "the genuine seq 2 after them is stored (%d, %s)" % (st, ans))


def sc_tamper_aad(args, v):
    """The AAD binds type, session, seq and epoch: a ciphertext that is
    genuine in one place opens nowhere else."""
    s = open_session(args, v)
    pt = signed_op(s.dev, args.name, "poll", b"{}")
    ct = s.tx.seal(T_REQ, 2, pt)
    st, r = s.send("/v1/data", s.envelope("DATA_REQUEST", 3, ct))
    v.check(st == 400 and "authentication failed" in error_of(r),
            "a valid seq-2 ct sent under seq 3: 400 authentication failed (got %d: %s)"
            % (st, error_of(r)))
    other = Session(args, s.dev)
    st, body = other.hello()
    v.check(st == 200, "a second session opens (%d)" % st)
    st, r = other.send("/v1/data", other.envelope("DATA_REQUEST", 2, ct))
    v.check(st == 400 and "authentication failed" in error_of(r),
            "session A's ct sent in session B: 400 authentication failed (got %d: %s)"
            % (st, error_of(r)))
    st, r = s.send("/v1/data", s.envelope("CLOSE", 2, ct), token=s.token)
    v.check(st == 400, "a DATA_REQUEST ct labelled CLOSE is refused (%d: %s)" % (st, error_of(r)))
    st, r = s.send("/v1/close", s.envelope("CLOSE", 2, ct))
    v.check(st == 400 and "authentication failed" in error_of(r),
            "a DATA_REQUEST ct sent as a CLOSE: 400 authentication failed (got %d: %s)"
            % (st, error_of(r)))
    st, ans, *_ = s.exchange(pt, seq=2)
    v.check(st == 200, "the same ct under its own seq and session is answered (%d)" % st)


def sc_gap(args, v):
    """seq may skip ahead, but at most 1000: a forged far seq costs the
    server a bounded ratchet, and the limit is exact."""
    s = open_session(args, v)
    st, *_ = s.poll(seq=2)
    v.check(st == 200, "seq 2 is answered (%d)" % st)
    st, _, _, _, resp = s.poll(seq=2 + 1001)
    v.check(st == 409 and "1000" in error_of(resp),
            "seq last+1001 is 409, too far ahead (got %d: %s)" % (st, error_of(resp)))
    st, *_ = s.poll(seq=2 + 1000)
    v.check(st == 200, "seq last+1000, the largest gap allowed, is answered (%d)" % st)


def sc_unknown_session(args, v):
    """An envelope for a session the server no longer has is 404 (HELLO
    again); one for a session the token does not name never reaches the lookup."""
    s = open_session(args, v)
    st, r = s.send("/v1/data", s.envelope("DATA_REQUEST", 2, os.urandom(40),
                                           session="AAAAAAAAAAAAAAAAAAAAAA"))
    v.check(st == 401, "a session id the token does not name is refused before any lookup (%d: %s)"
            % (st, error_of(r)))
    if not args.admin:
        v.check(False, "--admin DATA is needed to end the session (06-admin sweep)")
        return
    # end the session on the server (R1's cleanup, by the admin), keep its token
    a = Conn(args, os.path.join(args.admin, "admin.crt"), os.path.join(args.admin, "admin.key"))
    with open(os.path.join(args.admin, "admin.token")) as f:
        admin_token = f.read().strip()
    hdr = [("Content-Type", "application/json"), ("X-Admin-Token", admin_token)]
    gone, t0 = False, time.monotonic()
    while not gone and time.monotonic() - t0 < 10:  # until ours is idle >= 1 s; bounded
        time.sleep(0.25)
        st, _, body = a.request("POST", "/v1/admin/sweep", compact({"idle_seconds": 1}), hdr)
        if st != 200:
            v.check(False, "the admin sweep answered %d: %s" % (st, error_of(body)))
            return
        st, _, body = a.request("GET", "/v1/admin/sessions", b"", hdr[1:])
        gone = st == 200 and all(x["session"] != s.id for x in json.loads(body)["sessions"])
    v.check(gone, "the admin swept the idle session (06-admin sweep)")
    st, _, _, _, resp = s.poll()
    v.check(st == 404, "an envelope for the swept session is 404 (got %d: %s)" % (st, error_of(resp)))
    v.check("unknown session" in error_of(resp), "the reason: %s" % error_of(resp))


def stored_unchanged(s, v, before, what):
    after = records_count(s)
    v.check(after == before, "%s: nothing stored (records %d -> %d)" % (what, before, after))


def sc_unsigned(args, v):
    """R1's signature was optional: here a record without one is refused,
    inside a valid envelope (so the answer is encrypted), and nothing is stored."""
    s = open_session(args, v)
    before = records_count(s)
    pt = signed_op(s.dev, args.name, "record", compact({"FirstName": "Unsigned"}), sign=False)
    st, ans, *_ = s.exchange(pt)
    v.check(st == 200 and ans and ans["status"] == "refused",
            "a record without sig, in a valid envelope: an encrypted answer 'refused' (%d, %s)"
            % (st, ans))
    stored_unchanged(s, v, before, "unsigned")


def sc_bad_sig(args, v):
    """A signature that does not verify with the certificate's key, whether
    changed or made by another key, stores nothing."""
    s = open_session(args, v)
    before = records_count(s)
    payload = compact({"FirstName": "BadSig"})
    msg_id, created = os.urandom(16), now_ms()
    sig = bytearray(s.dev.sign(H.tbs_r(args.name, s.dev.der, "record", msg_id, created, payload)))
    sig[-1] ^= 0x01
    st, ans, *_ = s.exchange(signed_op(s.dev, args.name, "record", payload, msg_id=msg_id,
                                       created=created, sig=bytes(sig)))
    v.check(st == 200 and ans and ans["status"] == "refused",
            "a record with one signature bit flipped: 'refused' (%d, %s)" % (st, ans))
    # a valid signature, by a key that is not the certificate's
    other = Ed25519PrivateKey.generate() if isinstance(s.dev.key, Ed25519PrivateKey) \
        else ec.generate_private_key(ec.SECP256R1())
    tbs = H.tbs_r(args.name, s.dev.der, "record", msg_id, created, payload)
    sig2 = other.sign(tbs) if isinstance(other, Ed25519PrivateKey) else \
        other.sign(tbs, ec.ECDSA(hashes.SHA256()))
    st, ans, *_ = s.exchange(signed_op(s.dev, args.name, "record", payload, msg_id=msg_id,
                                       created=created, sig=sig2))
    v.check(st == 200 and ans and ans["status"] == "refused",
            "a record signed by another key: 'refused' (%d, %s)" % (st, ans))
    stored_unchanged(s, v, before, "bad signatures")


def sc_other_aud(args, v):
    """The audience is signed (Davis, 'Defective Sign & Encrypt'): a
    record signed for another service is not accepted here."""
    s = open_session(args, v)
    before = records_count(s)
    st, ans, *_ = s.record(compact({"FirstName": "Forwarded"}), aud="other.example")
    v.check(st == 200 and ans and ans["status"] == "refused",
            "a record signed for audience other.example: 'refused' (%d, %s)" % (st, ans))
    stored_unchanged(s, v, before, "other audience")


def sc_relay_hello(args, v):
    """The HELLO's signature covers this TLS connection's exporter: a man
    in the middle with his own TLS connection cannot forward it."""
    dev = Device(args.home)
    victim = Session(args, dev)  # the connection the HELLO was signed on
    relay = Session(args, dev)   # the connection it is sent on
    hello = victim.make_hello()  # signed over victim's exporter
    v.check(victim.conn.exporter != relay.conn.exporter, "two connections, two exporters")
    st, _, body = relay.conn.request("POST", "/v1/hello", hello, [("Content-Type", "application/json")])
    j = json.loads(body) if body.startswith(b"{") else {}
    v.check(st == 403 and j.get("type") == "CLOSE",
            "a HELLO signed over another connection's exporter: 403 CLOSE (got %d: %s)"
            % (st, error_of(body)))
    v.check("signature" in error_of(body), "the reason: %s" % error_of(body))
    st, _, body = victim.conn.request("POST", "/v1/hello", victim.make_hello(),
                                      [("Content-Type", "application/json")])
    v.check(st == 200, "a HELLO on its own connection is accepted (%d)" % st)


def sc_stale_hello(args, v):
    """ts within +-300 s of the server's clock: an old HELLO is not a key."""
    s = Session(args, Device(args.home))
    st, body = s.hello(ts=now_ms() - 600000)
    j = json.loads(body) if body.startswith(b"{") else {}
    v.check(st == 403 and j.get("type") == "CLOSE",
            "a HELLO with ts 10 minutes old: 403 CLOSE (got %d: %s)" % (st, error_of(body)))
    st, body = s.hello(ts=now_ms() + 600000)
    v.check(st == 403, "a HELLO with ts 10 minutes ahead: 403 (got %d: %s)" % (st, error_of(body)))
    st, body = s.hello()
    v.check(st == 200, "a HELLO of now is accepted (%d)" % st)


def windows(b, n):
    return [b[i:i + n] for i in range(len(b) - n + 1)]


def sc_hello_key_windows(args, v):
    """R3 sent the session key and IV in its HELLO_ACK. Here nothing secret
    travels: no 32-byte window of the ACK, raw or base64url-decoded, is a
    traffic secret or an AES key that opens the first request or answer."""
    s = open_session(args, v)
    # the first request and its answer, kept sealed: the windows come first,
    # so a server that leaked its keys fails here, not at our own open
    req_ct = s.tx.seal(T_REQ, 2, signed_op(s.dev, args.name, "poll", b"{}"))
    st, resp = s.send("/v1/data", s.envelope("DATA_REQUEST", 2, req_ct))
    if not v.check(st == 200, "the first DATA_REQUEST is answered (%d%s)"
                   % (st, "" if st == 200 else ": " + error_of(resp))):
        return
    resp_ct = unb64u(json.loads(resp)["ct"])
    sources = [s.ack_raw]
    for k in ("nonce", "sig"):
        sources.append(unb64u(s.ack[k]))
    sources.append(unb64u(s.ack["kex"]["pub"]))
    for part in s.token.split("."):
        sources.append(unb64u(part))
    sources.append(s.id.encode())
    cand32 = {w for src in sources for w in windows(src, 32)}
    # R3's shape (a binary key and IV side by side) is tried on the decoded
    # fields only: every pair of the raw JSON would take minutes
    bin32 = {w for src in sources[1:] for w in windows(src, 32)}
    cand12 = {w for src in sources[1:] for w in windows(src, 12)}
    # what a correct guess would need, from our own side of the schedule
    _, n_req, a_req = s.tx._parts(T_REQ, 2, None)
    _, n_resp, a_resp = s.rx._parts(T_RESP, 2, req_ct)
    opened = []

    def tries(aead, nonce, ct, aad):
        try:
            aead.decrypt(nonce, ct, aad)
            return True
        except InvalidTag:
            return False

    for w in cand32:
        g = AESGCM(w)
        for ct, n, a in ((req_ct, n_req, a_req), (resp_ct, n_resp, a_resp)):
            if tries(g, n, ct, a) or tries(g, n, ct, None):
                opened.append("a window as the AES key")
        k, iv = KS.traffic(w)  # the window as a traffic secret
        for ct, a in ((req_ct, a_req), (resp_ct, a_resp)):
            if tries(AESGCM(k), KS.nonce(iv, 2), ct, a):
                opened.append("a window as a traffic secret")
        if w in bin32:
            for n in cand12:  # R3's shape: key and IV both on the wire
                if tries(g, n, resp_ct, None):
                    opened.append("a window as key with another as IV")
    v.check(not opened, "%d 32-byte windows as key or secret, %d x %d as key and IV: %s"
            % (len(cand32), len(bin32), len(cand12),
               ", ".join(sorted(set(opened))) or "none opens anything"))
    secrets = [s.first[C2S], s.first[S2C]] + list(s.tx.keys(0)) + list(s.rx.keys(0))
    leaked = [i for i, x in enumerate(secrets) if any(x in src for src in sources)]
    v.check(not leaked, "no secret, key or IV of ours appears in the ACK's bytes")
    try:
        s.open_answer(T_REQ, 2, req_ct, resp)
        v.check(True, "while our own keys, never sent, open the answer")
    except InvalidTag:
        v.check(False, "our own keys do not open the answer")


def sc_rotate(args, v):
    """Keys move every N messages per direction, computed from seq on both
    sides and never announced (R3 rotated every 10)."""
    s = open_session(args, v)
    eps_req, eps_resp = set(), set()
    for _ in range(25):
        st, ans, _, _, resp = s.poll()
        if not v.check(st == 200 and ans["status"] == "ok", "poll seq %d answered (%d)" % (s.seq, st)):
            return
        eps_req.add(s.tx.epoch(s.seq))
        eps_resp.add(s.rx.epoch(s.seq))
        print("DATA_REQUEST seq %d epoch %d -> DATA_RESPONSE seq %d epoch %d opened"
              % (s.seq, s.tx.epoch(s.seq), s.seq, s.rx.epoch(s.seq)))
    v.check(eps_req == {0, 1, 2} and eps_resp == {0, 1, 2},
            "25 polls, all answers open, epochs %s out and %s back"
            % (sorted(eps_req), sorted(eps_resp)))
    seq, req_ct, resp = s.last
    ct = unb64u(json.loads(resp)["ct"])
    try:
        s.rx.open(T_RESP, seq, ct, req_ct, ep=0)
        v.check(False, "the last answer (epoch 2) opens with the epoch-0 key: no rotation")
    except InvalidTag:
        v.check(True, "the epoch-2 answer does not open with the epoch-0 key (the keys did move)")


def sc_big(args, v):
    """Framing and limits: a large record arrives intact, one over the
    record's cap is refused inside its envelope, a body over 1 MiB is 413."""
    s = open_session(args, v)
    # each TEXT field at just under the store's 64 KiB cap, four of them
    field = lambda c: (c * 65000)
    rec = {"FirstName": field("F"), "LastName": field("L"), "Address": field("A"),
           "Comments": field("C")}
    payload = compact(rec)
    st, ans, body, *_ = s.record(payload)
    v.check(st == 200 and ans and ans["status"] == "stored",
            "a %d-byte record in a %d-byte envelope is stored (%d, %s)"
            % (len(payload), len(body), st, ans and ans.get("status")))
    if ans and "record_id" in ans:
        print("big: record_id %d payload_sha256 %s" % (ans["record_id"], sha256(payload).hex()))
        if args.save:
            with open(args.save, "wb") as f:
                f.write(payload)
    # over the record's own cap (hello.h RECORD_PAYLOAD_MAX, 512 KiB) but in
    # an envelope under the 1 MiB body limit: opened, then refused, not stored
    before = records_count(s)
    over = compact({"Comments": "O" * (520 * 1024)})
    st, ans, body, *_ = s.record(over)
    v.check(st == 200 and ans and ans["status"] == "refused",
            "a %d-byte payload in a %d-byte envelope: 'refused' (%d, %s)"
            % (len(over), len(body), st, ans and ans.get("reason")))
    stored_unchanged(s, v, before, "over the payload cap")
    # 2 MiB declared: refused on its Content-Length, before the body is read
    c = Conn(args, s.dev.cert_path, s.dev.key_path)
    big = 2 << 20
    c.send_head("POST", "/v1/data", [("Content-Type", "application/json"),
                                     ("Authorization", "Bearer " + s.token)], big)
    ready, _, _ = select.select([c.sock], [], [], 5)
    if not ready:
        try:
            c.c.sendall(b" " * big)
        except SSL.Error:
            pass
    try:
        st, _, r = c.response()
    except (EOFError, SSL.Error) as e:
        st, r = 0, str(e).encode()
    v.check(st == 413, "a 2 MiB body is 413 (got %d: %s)" % (st, error_of(r)))
    st, ans, *_ = s.poll()
    v.check(st == 200 and ans["status"] == "ok", "the session still works after (%d)" % st)


def sc_revoked_open(args, v):
    """R5 had no revocation; a CRL alone stops only new handshakes. Here a
    device revoked by the admin is refused on the connection it already has
    open (keep-alive), on its very next request, and its session is gone."""
    s = open_session(args, v)
    st, ans, *_ = s.poll()
    v.check(st == 200 and ans and ans.get("status") == "ok", "a poll before the revocation works (%d)" % st)
    if not args.admin:
        v.check(False, "--admin DATA is needed to revoke the device (06-admin revoke-device)")
        return
    a = Conn(args, os.path.join(args.admin, "admin.crt"), os.path.join(args.admin, "admin.key"))
    with open(os.path.join(args.admin, "admin.token")) as f:
        admin_token = f.read().strip()
    hdr = [("Content-Type", "application/json"), ("X-Admin-Token", admin_token)]
    st, _, body = a.request("POST", "/v1/admin/revoke-device",
                            compact({"serial": s.dev.serial, "reason": "keyCompromise"}), hdr)
    v.check(st == 200, "the admin revoked the device (%d: %s)" % (st, error_of(body)))
    conn_before = s.conn
    st, _, _, _, resp = s.poll()
    v.check(s.conn is conn_before, "the next request went over the same, already open, TLS connection")
    v.check(st == 403 and "revoked" in error_of(resp),
            "...and is refused: %d %s" % (st, error_of(resp)))
    try:
        Session(args, s.dev).hello()
        v.check(False, "a new TLS handshake with the revoked certificate was accepted")
    except Exception as e:  # the CRL: the handshake itself fails
        v.check(True, "a new handshake with the revoked certificate fails (%s)" % type(e).__name__)


SCENARIOS = {
    "replay-identical": sc_replay_identical, "replay-other": sc_replay_other,
    "reorder": sc_reorder, "reflect": sc_reflect, "tamper-ct": sc_tamper_ct,
    "tamper-aad": sc_tamper_aad, "gap": sc_gap, "unknown-session": sc_unknown_session,
    "unsigned": sc_unsigned, "bad-sig": sc_bad_sig, "other-aud": sc_other_aud,
    "relay-hello": sc_relay_hello, "stale-hello": sc_stale_hello,
    "hello-key-windows": sc_hello_key_windows, "rotate": sc_rotate, "big": sc_big,
    "revoked-open": sc_revoked_open,
}


# ---- accounts, enrolment, the flow -----------------------------------------------------------

def read_password(path):
    try:
        with open(path, "rb") as f:
            return f.readline().rstrip(b"\r\n")
    except OSError as e:
        die("cannot read --password-file: %s" % e)


def cmd_register(args):
    c = Conn(args)
    pw = read_password(args.password_file).decode()
    st, _, body = c.request("POST", "/v1/register", compact({"username": args.user, "password": pw}),
                            [("Content-Type", "application/json")])
    if st != 201:
        die("register: HTTP %d: %s" % (st, error_of(body)), rc=1)
    print("registered: %s" % args.user)


def make_csr(key, exporter):
    """PKCS#10 whose challengePassword is b64url(tls-exporter) (RFC 9266 via
    RFC 7030 section 3.5); subject and extensions are the server's choice."""
    b = (x509.CertificateSigningRequestBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "course06 python peer")]))
         .add_attribute(AttributeOID.CHALLENGE_PASSWORD, b64u(exporter).encode()))
    return b.sign(key, None if isinstance(key, Ed25519PrivateKey) else hashes.SHA256())


def write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def cmd_enrol(args):
    key = Ed25519PrivateKey.generate() if args.key_type == "ed25519" else \
        ec.generate_private_key(ec.SECP256R1())
    c = Conn(args)
    signer = Conn(args) if args.relay else c  # --relay: bound to one connection, sent on another
    csr = make_csr(key, signer.exporter).public_bytes(Encoding.DER)
    pw = read_password(args.password_file)
    basic = base64.b64encode(args.user.encode() + b":" + pw).decode()
    st, _, body = c.request("POST", "/.well-known/est/simpleenroll", base64.b64encode(csr),
                            [("Content-Type", "application/pkcs10"),
                             ("Authorization", "Basic " + basic)])
    if st != 200:
        die("enrol: HTTP %d: %s" % (st, error_of(body)), rc=1)
    certs = pkcs7.load_der_pkcs7_certificates(base64.b64decode(body))
    if len(certs) != 1 or certs[0].public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) \
            != key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo):
        die("enrol: the answer is not one certificate for our key", rc=1)
    os.makedirs(args.home, mode=0o700, exist_ok=True)
    write_private(os.path.join(args.home, "device.key"),
                  key.private_bytes(Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    with open(os.path.join(args.home, "device.crt"), "wb") as f:
        f.write(certs[0].public_bytes(Encoding.PEM))
    dev = Device(args.home)
    print("enrolled: device %s, %s, %s key" % (dev.serial, certs[0].subject.rfc4514_string(),
                                               args.key_type))


def cmd_flow(args):
    s = Session(args, Device(args.home))
    print("HELLO seq 1 device %s" % s.dev.serial)
    st, body = s.hello()
    if st != 200:
        die("HELLO: HTTP %d: %s" % (st, error_of(body)), rc=1)
    print("HELLO_ACK seq 1 session %s rotate_every %d counters %s"
          % (s.id, s.rot, json.dumps(s.ack["counters"], sort_keys=True)))
    steps = [("record", lambda: s.record(compact({"FirstName": "Python", "LastName": "Peer",
                                                  "Comments": "from 06_peer.py"}))),
             ("poll", s.poll), ("close", s.close_session)]
    for what, fn in steps:
        st, ans, *_ = fn()
        name = "CLOSE" if what == "close" else "DATA_REQUEST"
        print("%s seq %d epoch %d (%s)" % (name, s.seq, s.tx.epoch(s.seq), what))
        if st != 200:
            die("%s: HTTP %d: %s" % (what, st, error_of(s.last[2])), rc=1)
        back = "CLOSE" if what == "close" else "DATA_RESPONSE"
        print("%s seq %d epoch %d: %s" % (back, s.seq, s.rx.epoch(s.seq),
                                          json.dumps(ans, sort_keys=True)))


# ---- the peer's own crypto against the committed known answers ------------------------------

def cmd_selftest(args):
    vec = os.path.join(HERE, "..", "vectors", "06")
    # made at build time (the fixtures hold private keys: none is committed)
    with open(os.path.join(HERE, "..", "..", "build", "vectors", "06", "hello.json")) as f:
        hv = json.load(f)
    with open(os.path.join(vec, "keyschedule.json")) as f:
        kv = json.load(f)
    bad = 0
    server_pub = x509.load_pem_x509_certificate(hv["server_cert_pem"].encode()).public_key()
    for dev in hv["devices"]:
        # finish() on the committed ACK: strict parse, signature, th, secrets
        s = Session.__new__(Session)
        s.tbs_h, s.sig_c = bytes.fromhex(dev["tbs_h"]), bytes.fromhex(dev["sig_c"])
        s.eph = X25519PrivateKey.from_private_bytes(bytes.fromhex(hv["client_x25519_private"]))
        s.finish(dev["ack"].encode(), server_pub)
        ok = (s.th.hex() == dev["th"] and s.first[C2S].hex() == dev["c2s"]
              and s.first[S2C].hex() == dev["s2c"])
        print("selftest: %s HELLO_ACK: %s" % (dev["alg"], "ok" if ok else "MISMATCH"))
        bad += not ok
        h = json.loads(dev["hello"])
        cert = x509.load_pem_x509_certificate(dev["cert_pem"].encode())
        try:
            verify_sig(cert.public_key(), unb64u(h["sig"]), bytes.fromhex(dev["tbs_h"]))
            print("selftest: %s HELLO signature: ok" % dev["alg"])
        except InvalidSignature:
            print("selftest: %s HELLO signature: MISMATCH" % dev["alg"])
            bad += 1
    # Direction against every envelope the C module matches byte for byte
    first = {"c2s": bytes.fromhex(kv["directions"]["c2s"][0]["secret"]),
             "s2c": bytes.fromhex(kv["directions"]["s2c"][0]["secret"])}
    dirs = {"c2s": Direction(C2S, first["c2s"], kv["rotate_every"], kv["session"]),
            "s2c": Direction(S2C, first["s2c"], kv["rotate_every"], kv["session"])}
    types = {"DATA_REQUEST": T_REQ, "DATA_RESPONSE": T_RESP, "CLOSE": T_CLOSE}
    n, req_ct = 0, None
    for e in kv["envelopes"]:
        if e["direction"] not in dirs:
            continue
        d = dirs[e["direction"]]
        rc = req_ct if e["direction"] == "s2c" else None
        ct = d.seal(types[e["type"]], e["seq"], bytes.fromhex(e["plaintext"]), rc)
        if ct.hex() != e["ct"] or d.epoch(e["seq"]) != e["epoch"]:
            print("selftest: envelope %s seq %d: MISMATCH" % (e["type"], e["seq"]))
            bad += 1
        if e["direction"] == "c2s":
            req_ct = ct
        n += 1
    print("selftest: %d envelopes sealed byte for byte: %s" % (n, "ok" if not bad else "see above"))
    sys.exit(1 if bad else 0)


def main():
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="https://localhost:8006")
    p.add_argument("--cacert", default="build/pki/root.crt")
    p.add_argument("--home", default="build/06-peer")
    p.add_argument("--name", default="localhost", help="the server's name, the records' audience")
    p.add_argument("--admin", help="the server's data folder (admin.crt, .key, .token)")
    p.add_argument("--save", help="big: write the stored payload here")
    p.add_argument("--key-type", choices=("ed25519", "p256"), default="ed25519")
    p.add_argument("--password-file")
    p.add_argument("--relay", action="store_true",
                   help="enrol: make the CSR on one connection, send it on another")
    p.add_argument("command", choices=["register", "enrol", "flow", "selftest"] + sorted(SCENARIOS))
    p.add_argument("user", nargs="?")
    args = p.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: die("no answer within %d s" % DEADLINE_S, rc=1))
    signal.alarm(DEADLINE_S)
    if args.command in ("register", "enrol") and (not args.user or not args.password_file):
        p.error("%s needs USER and --password-file" % args.command)
    try:
        if args.command == "register":
            cmd_register(args)
        elif args.command == "enrol":
            cmd_enrol(args)
        elif args.command == "flow":
            cmd_flow(args)
        elif args.command == "selftest":
            cmd_selftest(args)
        else:
            v = Verdict(args.command)
            SCENARIOS[args.command](args, v)
            v.done()
    except SSL.Error as e:
        die("TLS: %s" % (e,), "is --cacert the course root, and the device certificate current?")
    except (EOFError, ValueError, KeyError, TypeError, InvalidSignature, InvalidTag) as e:
        # a server that answers what the lab sheet does not say fails the
        # scenario: an attack test never passes on a broken exchange
        if args.command in SCENARIOS:
            print("%s: NOT DEFENDED: the exchange broke off: %s: %s"
                  % (args.command, type(e).__name__, e))
            sys.exit(1)
        die("%s: %s: %s" % (args.command, type(e).__name__, e), rc=1)


if __name__ == "__main__":
    main()
