#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-06-3: `06-admin devices USER` lists an account's devices, each with its
# serial, key type, expiry and whether (and why) it was revoked
# (06_full_protocol/README.md, "Exercises in C", 06-3). Enrols a second device
# for the checker's account, revokes it, and reads the listing; an unknown
# account must be an error. One verdict line; exit 0 on PASS.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
EX=06-3
# shellcheck source=06-common.bash
source tests/exercises/06-common.bash
ex06_start
if ! out=$("${C[@]}" --home "$tmp/dev2" --user checker --key-type p256 enrol 2>&1); then
  fail "could not enrol a second device: $(tail -n 1 <<<"$out")"
fi
DEV2=$(grep -o 'device id (serial) [0-9a-f]*' <<<"$out" | cut -d' ' -f4)
if ! out=$("${ADM[@]}" revoke-device "$DEV2" --reason keyCompromise 2>&1); then
  fail "06-admin revoke-device failed: $(tail -n 1 <<<"$out")"
fi
out=$("${ADM[@]}" devices checker 2>&1)
rc=$?
if [[ $rc -eq 2 ]] || grep -q 'not a command of 06-admin' <<<"$out"; then
  fail "06-admin has no 'devices USER' command yet (hint: a route in admin.c's admin_routes, a command in admin_client.c)"
fi
if [[ $rc -ne 0 ]]; then
  fail "06-admin devices checker exited $rc: $(tail -n 1 <<<"$out")"
fi
# the listing's JSON: the last line that starts with {
json=$(grep '^{' <<<"$out" | tail -n 1)
if ! why=$(python3 - "$json" "$DEV1" "$DEV2" <<'PY' 2>&1
import json, sys
text, dev1, dev2 = sys.argv[1:]
try:
    j = json.loads(text)
except ValueError:
    sys.exit("not JSON: %r" % text[:120])
devs = {d.get("serial"): d for d in j.get("devices", []) if isinstance(d, dict)}
if set(devs) != {dev1, dev2}:
    sys.exit("expected the two devices %s and %s in \"devices\", got %s" % (dev1, dev2, sorted(map(str, devs))))
if devs[dev1].get("key") != "ed25519" or devs[dev2].get("key") != "p256":
    sys.exit("\"key\" must be the key type (ed25519, p256): got %r and %r" % (devs[dev1].get("key"), devs[dev2].get("key")))
if not isinstance(devs[dev1].get("not_after"), int) or devs[dev1]["not_after"] < 1e9:
    sys.exit("\"not_after\" must be the expiry in seconds since 1970, got %r" % devs[dev1].get("not_after"))
if devs[dev1].get("revoked") is not None:
    sys.exit("the first device is not revoked: \"revoked\" must be null, got %r" % devs[dev1].get("revoked"))
if devs[dev2].get("revoked") != "keyCompromise":
    sys.exit("the revoked device's \"revoked\" must be its reason, keyCompromise, got %r" % devs[dev2].get("revoked"))
PY
); then
  fail "06-admin devices checker: $why"
fi
out=$("${ADM[@]}" devices nobody 2>&1)
rc=$?
if [[ $rc -ne 1 ]]; then
  fail "06-admin devices nobody (no such account) must fail with exit status 1 (an HTTP 404), got $rc: $(tail -n 1 <<<"$out")"
fi
pass "06-admin devices lists both devices with serial, key, expiry and the revoked one's reason; an unknown account is refused"
