#!/bin/sh
# SPDX-License-Identifier: MIT
# start-server.sh PORT [06-server options...] - R4's startServer.sh, for chapter 06.
#
# R4's script ran `python3 server.py PORT` with a self-signed certificate and
# a database of password "hashes" the clients computed. This one is as thin:
# it runs build/bin/06-server on PORT with the course PKI (`make pki`:
# build/pki/server-chain.crt and its key, the device CA that issues the
# clients' certificates) and its data in build/06. What it adds over R4's is
# all in the server: TLS 1.3 with a CA-issued certificate, accounts with
# Argon2id, device certificates (EST), signed HELLOs, envelopes, signed
# messages, authorisation on every op, a rate limit. Extra options go to
# 06-server as they are (see build/bin/06-server --help), e.g. --data DIR.
set -eu
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: $0 PORT [06-server options...]" >&2
  exit 2
fi
port=$1
shift
if [ ! -x build/bin/06-server ]; then
  echo "$0: build/bin/06-server is not built: run make" >&2
  exit 1
fi
if [ ! -f build/pki/server-chain.crt ] || [ ! -d build/pki/devices ]; then
  echo "$0: the course PKI is not there: run make pki" >&2
  exit 1
fi
exec build/bin/06-server --port "$port" "$@"
