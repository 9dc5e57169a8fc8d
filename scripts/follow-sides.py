#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# scripts/follow-sides.py - tshark's "follow" text with both sides named.
#
#   tshark -r F -q -z follow,tcp,ascii,0 | scripts/follow-sides.py [--max-lines N] [CLIENT SERVER]
#
# --max-lines N prints the first N lines of the conversation and then one
# line saying how many more were cut (never a silent cut).
#
# CLIENT and SERVER (addr:port, from the conversation's SYN) name the sides
# for certain: in "follow,tls" tshark may list the server as Node 0 and the
# client as ":0", so without them Node 0 is taken to be the client.
#
# tshark prints "Node 0: addr" (the side that opened the connection: the
# client) and "Node 1: addr" (the server), then each segment as a byte count
# (tab-indented when Node 1 sent it) followed by that many bytes as text.
# Dropping the counts, as a plain grep would, loses who sent what; this
# keeps it: each run of one side's bytes starts with a line such as
#   >> client 127.0.0.1:40502 -> server 127.0.0.1:8001 (96 bytes)
# The counts are consumed by length, so a body line of digits stays text.
import re
import signal
import sys

# a reader that stops early (a pager, head) ends us quietly, as it would cat
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
args = sys.argv[1:]
max_lines = None
if len(args) >= 2 and args[0] == "--max-lines":
    max_lines = int(args[1])
    args = args[2:]
client_addr, server_addr = (args[0], args[1]) if len(args) == 2 else (None, None)
lines = sys.stdin.read().split("\n")
nodes = {}
i = 0
out = []
while i < len(lines):
    m = re.match(r"^Node ([01]): (.*)$", lines[i])
    if m:
        nodes[m.group(1)] = m.group(2)
        i += 1
        continue
    m = re.match(r"^(\t?)([0-9]+)$", lines[i])
    if m and len(nodes) == 2:
        if client_addr is None:
            client_addr, server_addr = nodes["0"], nodes["1"]
        # a tab-indented count is Node 1's; Node 1 is the server unless
        # tshark put the server first
        flipped = nodes["0"] == server_addr or nodes["1"] == client_addr
        server = (m.group(1) == "\t") != flipped
        n = int(m.group(2))
        src, dst = ("server", "client") if server else ("client", "server")
        srca, dsta = (server_addr, client_addr) if server else (client_addr, server_addr)
        out.append(f">> {src} {srca} -> {dst} {dsta} ({n} bytes)")
        i += 1
        seen = 0
        # the segment's text: its bytes, each line break counted as one byte
        while i < len(lines) and seen < n:
            out.append(lines[i].rstrip("\r"))
            seen += len(lines[i]) + 1
            i += 1
        continue
    i += 1
if client_addr is not None:
    out.insert(0, f"client {client_addr}, server {server_addr}")
if max_lines is not None and len(out) > max_lines:
    cut = len(out) - max_lines
    out = out[:max_lines] + [f"[... {cut} more line{'s' if cut != 1 else ''} of this conversation cut]"]
for line in out:
    print(line)
