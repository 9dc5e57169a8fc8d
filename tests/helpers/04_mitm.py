# SPDX-License-Identifier: MIT
"""A smarter man in the middle than 03-mitm, for chapter 04's tests.

It forwards everything to the real 04-server but, in the key-exchange answer,
keeps the server's certificates and signature while swapping the public value
for its own (--mode swap), or the session id for another one (--mode session:
the client would then send its messages under a session of the attacker's
choosing), or asks the server to sign for another name than the one the
client wants (--mode rename NAME). Each time 04-client must refuse before
deriving a key.

Usage: 04_mitm.py --upstream URL --mode swap|session|rename [--name NAME]
Prints "listening on URL" first, like every course server.
"""
import argparse
import base64
import http.server
import json
import os
import urllib.request

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ap = argparse.ArgumentParser()
ap.add_argument("--upstream", required=True)
ap.add_argument("--mode", choices=["swap", "session", "rename"], required=True)
ap.add_argument("--name", default="localhost")
args = ap.parse_args()


class Handler(http.server.BaseHTTPRequestHandler):
    def forward(self, body=None):
        req = urllib.request.Request(args.upstream.rstrip("/") + self.path, data=body,
                                     method=self.command)
        for h in ("Content-Type", "X-Session"):
            if self.headers.get(h):
                req.add_header(h, self.headers[h])
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(*self.forward())

    def do_POST(self):
        body = self.rfile.read(min(int(self.headers.get("Content-Length", 0)), 1 << 20))
        if self.path != "/kex":
            return self.reply(*self.forward(body))
        offer = json.loads(body)
        if args.mode == "rename":
            offer["server_name"] = args.name
        status, answer = self.forward(json.dumps(offer).encode())
        if status == 200 and args.mode == "swap":
            a = json.loads(answer)
            mine = X25519PrivateKey.generate().public_key()
            a["public"] = mine.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
            answer = json.dumps(a).encode()
        if status == 200 and args.mode == "session":
            a = json.loads(answer)
            # another well-formed id: 16 random bytes, base64url, like the server's
            a["session"] = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
            answer = json.dumps(a).encode()
        self.reply(status, answer)

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
