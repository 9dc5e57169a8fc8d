#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What each layer above TLS adds: a TLS-terminating proxy, and its victim.

`make 06-layers` (06_full_protocol/layers.sh) assumes the worst of TLS: a
proxy on the path that ends the client's TLS with a certificate the course
CA issued for localhost (a mis-issued or TLS-inspection certificate), and
opens its own TLS connection to 06-server with the device's credential (a
TLS-inspection box the client certificate was installed on; a bug that gives
TLS away). It sees every HTTP request in the clear. What stops it then is
only what lies above TLS: the envelopes, the sequence numbers, the HELLO's
channel binding, the token's binding to the certificate.

    06_layers_proxy.py proxy --upstream URL --cacert ROOT --cert CHAIN --key KEY
                             --device-cert C --device-key K --mode MODE
                             [--steal-cert C --steal-key K]
    06_layers_proxy.py victim --url PROXY --direct SERVER --cacert ROOT --home DIR
                             [--no-envelope] [--unbound] [--hello-via-proxy]

Proxy modes (one attack each; every line it prints starts with "proxy:"):
  observe  print what it sees: the token, each envelope, its text if readable
  flip     flip one byte of the first record (of its text, if it can read it)
  replay   send the first DATA_REQUEST again, after the next one went through
  reorder  hold the first DATA_REQUEST back (503 to the client), deliver it
           after the next one
  drop     drop the answer to the first DATA_REQUEST (close the connection)
  steal    keep the Bearer token of the first DATA_REQUEST and use it from its
           own connection with another certificate (GET /v1/whoami)
  reflect  send the server's first DATA_RESPONSE back to it as a request
The victim (built on 06_peer.py's protocol code) opens a session (the HELLO
directly on its own connection, unless --hello-via-proxy), then sends two
records and a poll through the proxy and a CLOSE; --no-envelope and
--unbound make it the client of a lab server (ct is the plaintext; the HELLO
is signed over no exporter). Both print "listening on URL" / their results
and stop on their own within --deadline seconds. Loopback only.
"""
import argparse
import base64
import importlib.util
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
HEAD_MAX = 16384
BODY_MAX = 4 << 20


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def say(*a):
    print(*a, flush=True)


def short(text, n=160):
    text = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return text if len(text) <= n else text[:n] + "[...]"


# ---- HTTP/1.1 messages, by hand: head + Content-Length body -------------------------------

class Wire:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def read(self):
        """(start line, [(name, value)], body)"""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > HEAD_MAX:
                raise ValueError("a head over %d bytes" % HEAD_MAX)
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        hdrs = [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:] if ":" in ln]
        n = next((v for k, v in hdrs if k.lower() == "content-length"), "0")
        if not n.isdigit() or int(n) > BODY_MAX:
            raise ValueError("no usable Content-Length: %r" % n)
        while len(self.buf) < int(n):
            self._fill()
        body, self.buf = self.buf[:int(n)], self.buf[int(n):]
        return lines[0], hdrs, body

    def send(self, start, hdrs, body):
        out = [start] + ["%s: %s" % (k, v) for k, v in hdrs if k.lower() != "content-length"]
        out.append("Content-Length: %d" % len(body))
        self.sock.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)


def header(hdrs, name):
    return next((v for k, v in hdrs if k.lower() == name.lower()), None)


def status_of(start):
    parts = start.split(" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def reason_of(body):
    try:
        j = json.loads(body)
        return str(j.get("error") or j.get("reason") or j) if isinstance(j, dict) else short(body)
    except ValueError:
        return short(body)


def readable(ct):
    """The envelope's ct as JSON text, if it is that (no envelope), else None."""
    try:
        j = json.loads(ct)
        return j if isinstance(j, dict) else None
    except ValueError:
        return None


# ---- the proxy ------------------------------------------------------------------------------

class Proxy:
    def __init__(self, args):
        self.args, self.lock = args, threading.Lock()
        self.data_seen = 0  # DATA_REQUESTs seen so far
        self.captured = None  # (start, hdrs, body) of the first DATA_REQUEST
        self.held = None
        self.dropped = False
        u = args.upstream.split("//", 1)[1]
        self.host, self.port = u.rsplit(":", 1)[0], int(u.rsplit(":", 1)[1].rstrip("/"))
        self.up_ctx = self.client_ctx(args.device_cert, args.device_key)

    def client_ctx(self, cert, key):
        c = ssl.create_default_context(cafile=self.args.cacert)
        c.minimum_version = ssl.TLSVersion.TLSv1_3
        c.load_cert_chain(cert, key)
        return c

    def upstream(self, ctx=None):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=15)
        return Wire((ctx or self.up_ctx).wrap_socket(s, server_hostname=self.host))

    def exchange(self, up, req):
        up.send(*req)
        return up.read()

    # what the proxy reads in each message
    def look_request(self, start, hdrs, body):
        path = start.split(" ")[1] if " " in start else "?"
        if path == "/v1/hello":
            j = json.loads(body)
            say("proxy: saw HELLO from device %s: relayed on its own TLS connection to the server"
                % j.get("device"))
            return None
        if path not in ("/v1/data", "/v1/close"):
            say("proxy: saw %s" % start)
            return None
        e = json.loads(body)
        ct = unb64u(e["ct"])
        say("proxy: saw %s seq %d, session %s..., Authorization: Bearer %s..."
            % (e["type"], e["seq"], e["session"][:6], (header(hdrs, "Authorization") or "")[7:27]))
        pt = readable(ct)
        if pt is None:
            say("proxy: its ct is %d bytes of AES-GCM ciphertext: nothing to read (%s...)"
                % (len(ct), ct[:12].hex()))
        elif "payload" in pt:
            say("proxy: READ the %s in the clear: %s" % (pt.get("op"), short(unb64u(pt["payload"]))))
        else:
            say("proxy: READ in the clear: %s" % short(ct))
        return e

    def look_answer(self, start, body):
        if status_of(start) != 200:
            say("proxy: the server answered %d: %s" % (status_of(start), reason_of(body)))
            return
        try:
            e = json.loads(body)
            ct = unb64u(e["ct"])
        except (ValueError, KeyError, TypeError):
            return
        pt = readable(ct)
        if pt is None:
            say("proxy: the answer is %d bytes of ciphertext: nothing to read" % len(ct))
        else:
            say("proxy: READ the answer in the clear: %s" % short(ct))

    def answer_of_own(self, what, start, body):
        """What the server said to a request the proxy sent itself."""
        st = status_of(start)
        if st != 200:
            say("proxy: %s: HTTP %d: %s" % (what, st, reason_of(body)))
            return
        try:
            pt = readable(unb64u(json.loads(body)["ct"]))
        except (ValueError, KeyError, TypeError):
            pt = None
        if pt is not None:
            say("proxy: %s: HTTP 200, the server acted on it: %s" % (what, short(json.dumps(pt))))
        else:
            say("proxy: %s: HTTP 200: %s" % (what, short(body)))

    def flip(self, body):
        e = json.loads(body)
        ct = bytearray(unb64u(e["ct"]))
        pt = readable(bytes(ct))
        if pt is not None and "payload" in pt:
            before = unb64u(pt["payload"])
            after = bytearray(before)
            i = before.find(b":") + 3  # the first letter of the first value
            after[i] ^= 0x01
            pt["payload"] = b64u(bytes(after))
            e["ct"] = b64u(json.dumps(pt, separators=(",", ":")).encode())
            say("proxy: FLIPPED one byte of the record in the clear: %s -> %s"
                % (short(before, 60), short(bytes(after), 60)))
        else:
            ct[len(ct) // 2] ^= 0x01
            e["ct"] = b64u(bytes(ct))
            say("proxy: FLIPPED one byte of the ciphertext (byte %d of %d)" % (len(ct) // 2, len(ct)))
        return json.dumps(e, separators=(",", ":")).encode()

    def steal(self, hdrs):
        tok = header(hdrs, "Authorization")
        w = self.upstream(self.client_ctx(self.args.steal_cert, self.args.steal_key))
        w.send("GET /v1/whoami HTTP/1.1", [("Host", "localhost"), ("Authorization", tok)], b"")
        start, _, body = w.read()
        w.sock.close()
        what = "the stolen token from another certificate (%s): GET /v1/whoami" % self.args.steal_cert
        if status_of(start) == 200:
            say("proxy: %s: HTTP 200, it worked: %s" % (what, short(body)))
        else:
            say("proxy: %s: HTTP %d: %s" % (what, status_of(start), reason_of(body)))

    def serve(self, cw):
        """One client connection, relayed request by request."""
        mode, up = self.args.mode, None
        try:
            while True:
                try:
                    start, hdrs, body = cw.read()
                except EOFError:
                    return
                req = (start, hdrs, body)
                e = self.look_request(*req)
                if up is None:
                    up = self.upstream()
                nth = 0
                if e is not None and e["type"] == "DATA_REQUEST":
                    with self.lock:
                        self.data_seen += 1
                        nth = self.data_seen
                if nth == 1 and mode == "flip":
                    req = (start, hdrs, self.flip(body))
                if nth == 1 and mode in ("replay", "reflect", "steal"):
                    self.captured = req
                if nth == 1 and mode == "reorder":
                    self.held = req
                    say("proxy: HELD BACK seq %d; told the client 503" % e["seq"])
                    cw.send("HTTP/1.1 503 Service Unavailable",
                            [("Content-Type", "application/json"), ("Retry-After", "1")],
                            b'{"error":"proxy: upstream busy"}')
                    continue
                rstart, rhdrs, rbody = self.exchange(up, req)
                self.look_answer(rstart, rbody)
                if nth == 1 and mode == "drop" and not self.dropped:
                    self.dropped = True
                    say("proxy: DROPPED the answer to seq %d (HTTP %d, %d bytes): the client "
                        "never sees it" % (e["seq"], status_of(rstart), len(rbody)))
                    return
                cw.send(rstart, rhdrs, rbody)
                if header(rhdrs, "Connection") == "close":
                    up.sock.close()
                    up = None
                if nth == 1 and mode == "steal":
                    self.steal(hdrs)
                if nth == 1 and mode == "reflect" and status_of(rstart) == 200:
                    self.reflect(up or self.upstream(), hdrs, rbody)
                if nth == 2 and mode == "replay":
                    s0, h0, b0 = self.captured
                    seq = json.loads(b0)["seq"]
                    self.answer_of_own("REPLAYED seq %d (after seq %d)" % (seq, e["seq"]),
                                       *self.exchange(up, self.captured)[::2])
                if nth == 2 and mode == "reorder":
                    seq = json.loads(self.held[2])["seq"]
                    self.answer_of_own("DELIVERED seq %d LATE (after seq %d)" % (seq, e["seq"]),
                                       *self.exchange(up, self.held)[::2])
        except (OSError, ValueError, EOFError, ssl.SSLError) as x:
            say("proxy: connection ended: %s" % x)
        finally:
            if up is not None:
                up.sock.close()

    def reflect(self, up, hdrs, resp):
        auth = [("Host", "localhost"), ("Content-Type", "application/json"),
                ("Authorization", header(hdrs, "Authorization"))]
        self.answer_of_own("REFLECTED the DATA_RESPONSE back as a request",
                           *self.exchange(up, ("POST /v1/data HTTP/1.1", auth, resp))[::2])
        e = json.loads(resp)
        e["type"], e["seq"] = "DATA_REQUEST", e["seq"] + 1
        body = json.dumps(e, separators=(",", ":")).encode()
        self.answer_of_own("REFLECTED its ct retyped as DATA_REQUEST seq %d" % e["seq"],
                           *self.exchange(up, ("POST /v1/data HTTP/1.1", auth, body))[::2])


def cmd_proxy(args):
    proxy = Proxy(args)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.minimum_version = ssl.TLSVersion.TLSv1_3
    sctx.load_cert_chain(args.cert, args.key)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                tls = sctx.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError) as x:
                say("proxy: a client's TLS handshake failed: %s" % x)
                return
            tls.settimeout(30)
            proxy.serve(Wire(tls))

    socketserver.ThreadingTCPServer.daemon_threads = True
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    say("listening on https://localhost:%d" % srv.server_address[1])
    say("proxy: mode %s; the client's TLS ends here (a course-CA certificate for localhost), "
        "the server's TLS starts here (the device's certificate)" % args.mode)
    srv.serve_forever()


# ---- the victim -----------------------------------------------------------------------------

def load_peer():
    spec = importlib.util.spec_from_file_location("c06_peer", os.path.join(HERE, "06_peer.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cmd_victim(args):
    P = load_peer()

    class LabSession(P.Session):
        """06_peer's session; with --no-envelope, the lab server's way: ct is the plaintext."""

        def exchange(self, pt, seq=None, typ=P.T_REQ):
            if not args.no_envelope:
                return super().exchange(pt, seq, typ)
            seq = self.seq + 1 if seq is None else seq
            name, path = ("DATA_REQUEST", "/v1/data") if typ == P.T_REQ else ("CLOSE", "/v1/close")
            body = self.envelope(name, seq, pt)
            st, resp = self.send(path, body)
            self.seq = max(self.seq, seq)
            ans = json.loads(unb64u(json.loads(resp)["ct"])) if st == 200 else None
            self.last = (seq, pt, resp)
            return st, ans, body, pt, resp

    peer_args = argparse.Namespace(url=args.url if args.hello_via_proxy else args.direct,
                                   cacert=args.cacert, name="localhost")
    dev = P.Device(args.home)
    s = LabSession(peer_args, dev)
    unbound = b"\0" * 32 if args.unbound else None
    if args.unbound and args.server_cert:
        # a client without channel binding checks HELLO_ACK's signature with
        # the server's key as it knows it from elsewhere (pinned), not with
        # the key of the TLS connection it is on: that one is the proxy's
        with open(args.server_cert, "rb") as f:
            s.conn.server_pub = P.x509.load_pem_x509_certificate(f.read()).public_key()
    how = "through the proxy" if args.hello_via_proxy else "on its own connection to the server"
    st, body = s.hello(cb=unbound)
    if st != 200:
        say("victim: HELLO %s: HTTP %d: %s" % (how, st, P.error_of(body)))
        return 1
    say("victim: HELLO %s%s: HTTP 200, session %s opened" % (
        how, " (signed over no exporter)" if args.unbound else "", s.id))
    if not args.hello_via_proxy:
        peer_args.url = args.url  # from now on, every request goes through the proxy
        s.conn.close()
        s.conn = s.connect()
    steps = [("record", {"FirstName": "Pedro", "LastName": "Pascal", "Comments": "first"}),
             ("record", {"FirstName": "Ana", "Comments": "second"}), ("poll", None)]
    for op, rec in steps:
        seq = s.seq + 1
        if op == "record":
            st, ans, *_, resp = s.record(P.compact(rec))
        else:
            st, ans, *_, resp = s.poll()
        if st == 200:
            shown = {k: v for k, v in ans.items() if k != "counters"} if op == "poll" else ans
            say("victim: %s seq %d: %s" % (op, seq, json.dumps(shown, sort_keys=True)))
        else:
            say("victim: %s seq %d: HTTP %d: %s; moving on" % (op, seq, st, P.error_of(resp)))
    st, ans, *_ = s.close_session()
    say("victim: CLOSE seq %d: %s" % (s.seq, json.dumps(ans, sort_keys=True) if st == 200 else st))
    return 0


def main():
    p = argparse.ArgumentParser(prog="06_layers_proxy.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="role", required=True)
    x = sub.add_parser("proxy")
    x.add_argument("--upstream", required=True)
    x.add_argument("--cacert", required=True)
    x.add_argument("--cert", required=True)
    x.add_argument("--key", required=True)
    x.add_argument("--device-cert", required=True)
    x.add_argument("--device-key", required=True)
    x.add_argument("--steal-cert")
    x.add_argument("--steal-key")
    x.add_argument("--mode", required=True,
                   choices=["observe", "flip", "replay", "reorder", "drop", "steal", "reflect"])
    v = sub.add_parser("victim")
    v.add_argument("--url", required=True)
    v.add_argument("--direct", required=True)
    v.add_argument("--cacert", required=True)
    v.add_argument("--home", required=True)
    v.add_argument("--no-envelope", action="store_true")
    v.add_argument("--unbound", action="store_true")
    v.add_argument("--hello-via-proxy", action="store_true")
    v.add_argument("--server-cert", help="with --unbound: the server's certificate, pinned")
    for a in (x, v):
        a.add_argument("--deadline", type=int, default=60, help="stop after this many seconds")
    args = p.parse_args()
    if args.role == "proxy" and args.mode == "steal" and not (args.steal_cert and args.steal_key):
        p.error("--mode steal needs --steal-cert and --steal-key")
    signal.signal(signal.SIGALRM, lambda *_: (say("%s: deadline of %d s reached" % (args.role, args.deadline)),
                                              os._exit(3)))
    signal.alarm(args.deadline)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.role == "proxy":
        cmd_proxy(args)
    else:
        sys.exit(cmd_victim(args))


if __name__ == "__main__":
    main()
