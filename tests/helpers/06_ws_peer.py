#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A third-party notification client of chapter 06: python3-websocket
(websocket-client 1.2.3) with the device certificate, the Bearer token of a
session opened by tests/helpers/06_peer.py (its HELLO and key schedule,
imported, not written twice), and every NOTIFY opened under the session's
ntf key with seq 1, 2, ... checked here.

    06_ws_peer.py --url URL --cacert ROOT --home DIR listen [--count N] [--for S]
    06_ws_peer.py ... hellos N             N x (HELLO, CLOSE): N "login" events
    06_ws_peer.py ... probe CASE [--other-home DIR]
    06_ws_peer.py ... cap N                N sockets open, then one more
    06_ws_peer.py ... continue             a second socket of one session
    06_ws_peer.py ... close-ends           CLOSE of the session ends its socket

listen prints "socket open: session S" once the upgrade went through (a test
waits for that line before it makes an event happen), then one line per
notification, "notify seq N: {...plaintext...}", and "closed by the server:
CODE REASON" if the server closed. Exit 0 after N notifications, or on the
server's close when no --count was given; 1 when the time ran out first or a
NOTIFY did not open (wrong key, seq not the next).

For other tests (messaging, transfer), in Python:

    ws = load_helper(...)                    # this file
    s, dev = ws.open_session(args)           # HELLO (06_peer.Session)
    L = ws.Listener(args, s, dev)            # the WebSocket, upgraded
    ... make the event happen ...
    ev = L.next(timeout=10)                  # the next notification, opened:
                                             # {"event": "message", ..., "counters": {...}}
    L.close()
"""
import argparse
import importlib.util
import json
import os
import socket
import ssl
import struct
import sys
import time

import websocket

HERE = os.path.dirname(os.path.abspath(__file__))
PROG = "06_ws_peer.py"
DEADLINE_S = 120


def load_helper(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


P = load_helper("c06_peer", "06_peer.py")  # Conn, Device, Session, Direction, KS
KS = P.KS
NTF, NOTIFY = KS.NTF, KS.NOTIFY


def say(*a):
    print(*a, flush=True)


def open_session(args, home=None):
    """HELLO as the device in home (default --home): a 06_peer.Session."""
    dev = P.Device(home or args.home)
    s = P.Session(args, dev)
    st, body = s.hello()
    if st != 200:
        P.die("HELLO answered %d: %s" % (st, P.error_of(body)), rc=1)
    return s, dev


def ws_url(args):
    return args.url.replace("https://", "wss://", 1).rstrip("/") + "/v1/notify"


class Refused(Exception):
    def __init__(self, status, reason):
        super().__init__("HTTP %d: %s" % (status, reason))
        self.status, self.reason = status, reason


def raw_upgrade(args, token=None, cert=None, key=None):
    """The upgrade request by hand on 06_peer's TLS connection, so that a
    refusal's status and reason can be read (websocket-client keeps only the
    status). (status, reason or "")."""
    c = P.Conn(args, cert, key)
    hdr = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
           ("Sec-WebSocket-Key", P.b64u(os.urandom(16)) + "==")]
    if token:
        hdr.append(("Authorization", "Bearer " + token))
    try:
        c.send_head("GET", "/v1/notify", hdr, 0)
        while b"\r\n\r\n" not in c.buf:
            c._fill()
        head = c.buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        status = int(head.split(" ", 2)[1])
        if status == 101:
            c.close()
            return 101, ""
        st, _, body = c.response()
        return st, P.error_of(body)
    finally:
        c.close()


class Listener:
    """A notification socket (websocket-client) of session s, and the ntf
    direction that opens its NOTIFY envelopes: seq must be the next one."""

    def __init__(self, args, s, dev, expect_seq=1):
        self.s = s
        self.ntf = P.Direction(NTF, s.first[NTF], s.rot, s.id)
        self.seq = expect_seq - 1
        self.close_code = self.close_reason = None
        sslopt = {"certfile": dev.cert_path, "keyfile": dev.key_path, "ca_certs": args.cacert,
                  "cert_reqs": ssl.CERT_REQUIRED, "ssl_version": ssl.PROTOCOL_TLS_CLIENT}
        try:
            self.ws = websocket.create_connection(ws_url(args), sslopt=sslopt, timeout=10,
                                                  header=["Authorization: Bearer " + s.token])
        except websocket.WebSocketBadStatusException as e:
            raise Refused(e.status_code, str(e))

    def next(self, timeout=10):
        """The next notification's plaintext (a dict), opened and checked;
        None when the server closed the socket (close_code says why).
        Raises TimeoutError when nothing came within timeout seconds."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no notification within %s s" % timeout)
            self.ws.settimeout(left)
            try:
                op, frame = self.ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                raise TimeoutError("no notification within %s s" % timeout)
            except websocket.WebSocketConnectionClosedException:
                self.close_code = self.close_code or 1006
                return None
            if op == websocket.ABNF.OPCODE_CLOSE:
                d = frame.data or b""
                self.close_code = struct.unpack("!H", d[:2])[0] if len(d) >= 2 else 1005
                self.close_reason = d[2:].decode("utf-8", "replace")
                return None
            if op in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
                continue  # the heartbeat
            if op != websocket.ABNF.OPCODE_TEXT:
                raise ValueError("a frame of opcode %d, not text" % op)
            env = json.loads(frame.data)
            if set(env) != {"type", "session", "seq", "ct"} or env["type"] != "NOTIFY" \
                    or env["session"] != self.s.id:
                raise ValueError("not a NOTIFY of this session: %s" % frame.data[:200])
            if env["seq"] <= self.seq:
                raise ValueError("NOTIFY seq %d after %d: not increasing" % (env["seq"], self.seq))
            pt = json.loads(self.ntf.open(NOTIFY, env["seq"], P.unb64u(env["ct"])))
            if env["seq"] != self.seq + 1 and "missed" not in pt:
                raise ValueError("NOTIFY seq %d after %d, and no 'missed' said why" % (env["seq"], self.seq))
            self.seq = env["seq"]
            return pt

    def close(self):
        try:
            self.ws.close(timeout=3)
        except Exception:
            pass


def cmd_listen(args):
    s, dev = open_session(args)
    try:
        L = Listener(args, s, dev)
    except Refused as e:
        say("refused: %s" % e)
        sys.exit(1)
    say("socket open: session %s" % s.id)
    got, end = 0, time.monotonic() + args.for_s
    while args.count == 0 or got < args.count:
        left = end - time.monotonic()
        try:
            pt = L.next(timeout=max(left, 0.01))
        except TimeoutError:
            say("timed out after %d notification%s" % (got, "" if got == 1 else "s"))
            sys.exit(1 if args.count else 0)
        if pt is None:
            say("closed by the server: %s %s" % (L.close_code, L.close_reason))
            sys.exit(0 if args.count == 0 else 1)
        got += 1
        say("notify seq %d: %s" % (L.seq, json.dumps(pt, sort_keys=True)))
    L.close()
    say("received %d notification%s, seq 1 to %d, each opened under the ntf key"
        % (got, "" if got == 1 else "s", L.seq))


def cmd_hellos(args):
    dev = P.Device(args.home)
    for i in range(args.n):
        s = P.Session(args, dev)
        st, body = s.hello()
        if st != 200:
            P.die("HELLO %d answered %d: %s" % (i + 1, st, P.error_of(body)), rc=1)
        st, *_ = s.close_session()
        s.conn.close()
    say("%d HELLOs, each closed" % args.n)


def cmd_probe(args):
    case = args.case
    dev = P.Device(args.home)
    if case == "nocert":
        s, _ = open_session(args)
        try:
            st, why = raw_upgrade(args, s.token)
        except Exception as e:  # a TLS refusal is fine too
            st, why = 0, "TLS: %s" % e
        s.close_session()
    elif case == "notoken":
        st, why = raw_upgrade(args, None, dev.cert_path, dev.key_path)
    elif case == "othertoken":
        other, _ = open_session(args, args.other_home)
        st, why = raw_upgrade(args, other.token, dev.cert_path, dev.key_path)
        other.close_session()
    elif case == "ended":
        s, _ = open_session(args)
        s.close_session()
        st, why = raw_upgrade(args, s.token, dev.cert_path, dev.key_path)
    elif case == "same-session":
        s, _ = open_session(args)
        L = Listener(args, s, dev)
        st, why = raw_upgrade(args, s.token, dev.cert_path, dev.key_path)
        L.close()
        s.close_session()
    elif case == "noupgrade":
        s, _ = open_session(args)
        c = P.Conn(args, dev.cert_path, dev.key_path)
        st, _, body = c.request("GET", "/v1/notify", b"", [("Authorization", "Bearer " + s.token)])
        why = P.error_of(body)
        c.close()
        s.close_session()
    else:
        P.die("no such probe: %s" % case)
    say("%s: HTTP %d: %s" % (case, st, why))


def cmd_cap(args):
    held = []
    for i in range(args.n):
        s, dev = open_session(args)
        held.append((s, Listener(args, s, dev)))
        say("socket %d open" % (i + 1))
    s, dev = open_session(args)
    st, why = raw_upgrade(args, s.token, dev.cert_path, dev.key_path)
    say("socket %d: HTTP %d: %s" % (args.n + 1, st, why))
    for hs, L in held:
        L.close()
    # a freed slot is usable again (the writer notices the close within 200 ms)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        st, why = raw_upgrade(args, s.token, dev.cert_path, dev.key_path)
        if st == 101:
            break
        time.sleep(0.1)
    say("after closing them: HTTP %d" % st)


def reopen(args, s, dev, expect_seq):
    """A new socket of session s: the server frees the old one's slot once
    its writer saw the close (bounded wait)."""
    end = time.monotonic() + 10
    while True:
        try:
            return Listener(args, s, dev, expect_seq)
        except Refused as e:
            if e.status != 409 or time.monotonic() > end:
                raise
            time.sleep(0.1)


def cmd_continue(args):
    s, dev = open_session(args)
    L = Listener(args, s, dev)
    open_session(args)[0].close_session()  # a login event
    a = L.next()
    L.close()
    say("first socket: seq %d, %s" % (L.seq, a and a.get("event")))
    L2 = reopen(args, s, dev, L.seq + 1)
    open_session(args)[0].close_session()
    b = L2.next()
    say("second socket: seq %d, %s (the same counter, under the same ntf direction)"
        % (L2.seq, b and b.get("event")))
    L2.close()
    s.close_session()


def cmd_close_ends(args):
    s, dev = open_session(args)
    L = Listener(args, s, dev)
    say("socket open: session %s" % s.id)
    st, ans, *_ = s.close_session()
    say("CLOSE answered %d: %s" % (st, ans))
    pt = L.next(timeout=10)
    if pt is not None:
        say("a notification instead of the close: %s" % pt)
        sys.exit(1)
    say("closed by the server: %s %s" % (L.close_code, L.close_reason))


# ---- a server that breaks RFC 6455 on purpose, for 06-client's wsclient ----

FAKE_MODES = ("good", "bad-accept", "huge", "masked", "rsv", "long-close", "refuse", "long-head")


def cmd_fake_server(args):
    """One connection: read the upgrade, answer as MODE says, then wait
    (bounded) for the client to go. The port goes to --port-file."""
    import base64
    import hashlib
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(args.cert, args.key)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    ls.settimeout(20)
    raw, _ = ls.accept()
    c = ctx.wrap_socket(raw, server_side=True)
    c.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 8192:
        d = c.recv(4096)
        if not d:
            return
        head += d
    key = ""
    for line in head.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        if k.strip().lower() == "sec-websocket-key":
            key = v.strip()
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                              .digest()).decode()
    mode = args.mode
    if mode == "refuse":
        body = b'{"error":"go away"}'
        c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    else:
        if mode == "bad-accept":
            accept = base64.b64encode(b"\0" * 20).decode()
        # long-head: a head of 15 kB in one write, its end past the client's 8 KiB limit
        pad = ("X-Pad: %s\r\n" % ("p" * 15000)) if mode == "long-head" else ""
        c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "%sSec-WebSocket-Accept: %s\r\n\r\n" % (pad, accept)).encode())
        if mode == "good":
            c.sendall(b"\x81\x05hello" + b"\x89\x02hi" + b"\x01\x03fra" + b"\x80\x03gs!"
                      + b"\x88\x05\x03\xe8bye")
        elif mode == "huge":
            # a text frame announcing 4 GiB (R5's attacker-chosen length), and nothing after
            c.sendall(b"\x81\x7f" + struct.pack("!Q", 1 << 32))
        elif mode == "masked":
            c.sendall(b"\x81\x85" + b"\x01\x02\x03\x04" + bytes(a ^ b for a, b in zip(b"hello", b"\x01\x02\x03\x04\x01")))
        elif mode == "rsv":
            c.sendall(b"\xc1\x05hello")
        elif mode == "long-close":
            c.sendall(b"\x88\x7e\x00\x80" + b"\x03\xe8" + b"x" * 126)
    # what the client sends back (its pong, its close), until it goes
    end = time.monotonic() + 5
    got = b""
    while time.monotonic() < end:
        try:
            d = c.recv(4096)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        if not d:
            break
        got += d
    say("fake-server %s: the client sent %d bytes after the answer%s" % (
        mode, len(got), ", masked" if got[1:2] and got[1] & 0x80 else ""))


def main():
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="https://localhost:8006")
    p.add_argument("--cacert", default="build/pki/root.crt")
    p.add_argument("--home", default="build/06-peer")
    p.add_argument("--name", default="localhost")
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("listen")
    q.add_argument("--count", type=int, default=0)
    q.add_argument("--for", dest="for_s", type=float, default=30)
    q = sub.add_parser("hellos")
    q.add_argument("n", type=int)
    q = sub.add_parser("probe")
    q.add_argument("case", choices=["nocert", "notoken", "othertoken", "ended", "same-session",
                                    "noupgrade"])
    q.add_argument("--other-home")
    q = sub.add_parser("cap")
    q.add_argument("n", type=int)
    sub.add_parser("continue")
    sub.add_parser("close-ends")
    q = sub.add_parser("fake-server")
    q.add_argument("mode", choices=FAKE_MODES)
    q.add_argument("--cert", required=True)
    q.add_argument("--key", required=True)
    q.add_argument("--port-file", required=True)
    args = p.parse_args()
    import signal
    signal.signal(signal.SIGALRM, lambda *_: P.die("no end within %d s" % DEADLINE_S, rc=1))
    signal.alarm(DEADLINE_S)
    {"listen": cmd_listen, "hellos": cmd_hellos, "probe": cmd_probe, "cap": cmd_cap,
     "continue": cmd_continue, "close-ends": cmd_close_ends,
     "fake-server": cmd_fake_server}[args.command](args)


if __name__ == "__main__":
    try:
        main()
    except (ValueError, TimeoutError, Refused, OSError, websocket.WebSocketException) as e:
        print("%s: error: %s: %s" % (PROG, type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
