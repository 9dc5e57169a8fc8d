#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 02 interop: our Fernet against Python's cryptography.fernet, both
# ways, over many random messages (empty, binary, 1 MiB); flipped bits refused
# by both. The checks live in tests/helpers/02_fernet_python.py; this wrapper finds Python.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
if ! "$PY" -c 'import cryptography.fernet' 2>/dev/null; then
  t_fail "02 interop: /usr/bin/python3 has cryptography.fernet" \
    "install python3-cryptography (scripts/deps.sh does)"
  exit 0
fi
ROUNDS=${FERNET_INTEROP_ROUNDS:-40}
"$PY" "$COURSE_ROOT/tests/helpers/02_fernet_python.py" "$BIN" "$ROUNDS" || t_fail "02 interop: driver" "exited with $?"
