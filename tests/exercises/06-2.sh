#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-06-2: the server refuses a record whose signed 'created' time is more
# than 300 s ahead of its own clock, and still takes one from the past
# (06_full_protocol/README.md, "Exercises in C", 06-2). The records are put in
# the device's outbox by hand, as 06-client send-record writes them, and sent
# with `06-client resend`, which signs each with the 'created' it finds there.
# One verdict line; exit 0 on PASS.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
EX=06-2
# shellcheck source=06-common.bash
source tests/exercises/06-common.bash
ex06_start
# queue SECONDS_FROM_NOW: one outbox record created that far from now
queue() {
  python3 - "$tmp/dev/outbox" "$1" <<'PY'
import base64, json, os, sys, time
box, ahead = sys.argv[1], int(sys.argv[2])
os.makedirs(box, mode=0o700, exist_ok=True)
mid = os.urandom(16)
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
rec = json.dumps({"FirstName": "Tess", "Comments": "created %+d s from now" % ahead}).encode()
with open(os.path.join(box, mid.hex() + ".json"), "w") as f:
    json.dump({"msg_id": b64(mid), "created": int(time.time() * 1000) + ahead * 1000, "payload": b64(rec)}, f)
PY
}
# resend: 06-client -v resend's output; the decrypted answer is in it
resend() { "${C[@]:0:${#C[@]}-1}" -v resend 2>&1; }
queue 86400
out=$(resend)
answer=$(grep -m 1 'answer (decrypted)' <<<"$out")
if grep -q '"status":"stored"' <<<"$answer"; then
  fail "a record created a day in the future was stored; refuse it (hint: op_record() in 06_full_protocol/session.c, the server's now_ms())"
fi
if ! grep -q '"status":"refused"' <<<"$answer" || ! grep -qi 'future' <<<"$answer"; then
  fail "a record created a day ahead: expected a sealed {\"status\":\"refused\"} whose reason says 'future', got: ${answer:-$(tail -n 2 <<<"$out" | tr '\n' ' ')}"
fi
rm -f "$tmp/dev/outbox"/*.json
for ahead in 60 -86400; do
  queue "$ahead"
  out=$(resend)
  if ! grep -q 'answer (decrypted).*"status":"stored"' <<<"$out"; then
    fail "a record created $ahead s from now must still be stored (the clock may be a little ahead; an outbox may hold old records), got: $(grep -m 1 'answer (decrypted)\|error' <<<"$out")"
  fi
done
pass "a record created a day ahead is refused with a reason; 60 s ahead and a day old are stored"
