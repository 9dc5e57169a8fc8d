#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06, R5's typed transfer (issue 12): alice sends bob bytes, text, an
# object, a list and a 10 MiB file interrupted for real (SIGKILL once the
# server's log shows chunks arriving) and resumed; each round-trips byte for
# byte. Then every refusal: hostile file names on the server and, through a
# row edited with sqlite3, on the receiving side; a declared size over the
# limit and the quota (before any .part file exists); a chunk past the end or
# of the wrong length; a hash that does not match; a pickle sent as an object;
# eve reaching for bob's items or alice's upload; saving over an existing name
# or through a symlink. One test per R5 flaw of reference/README.md that
# belongs to transfer.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 transfer: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
DATA=$tmp/data
SRV=(--cert "$P/server-chain.crt" --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass")
if ! start_server 06-server "$BIN/06-server" --port 0 --data "$DATA" "${SRV[@]}" -v; then
  t_fail "06 transfer: the server starts on a free port" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
LOG=$SERVER_LOG
URL="https://localhost:$SERVER_PORT"
DB=$DATA/course06.db
FILES=$DATA/files
sq() { sqlite3 -batch -cmd '.timeout 5000' "$DB" "$@"; }
for u in alice bob eve; do
  printf 'the long password of %s\n' "$u" >"$tmp/$u.pw"
  chmod 600 "$tmp/$u.pw"
done
C=("$BIN/06-client" --url "$URL" --cacert "$P/root.crt")
A=("${C[@]}" --home "$tmp/alice" --user alice --password-file "$tmp/alice.pw")
B=("${C[@]}" --home "$tmp/bob" --user bob --password-file "$tmp/bob.pw")
E=("${C[@]}" --home "$tmp/eve" --user eve --password-file "$tmp/eve.pw")
for u in alice bob eve; do
  t_expect "06 transfer: $u registers and enrols a device" 0 --out "device certificate" \
    -- bash -c '"$@" register && "$@" enrol' _ "${C[@]}" --home "$tmp/$u" --user "$u" --password-file "$tmp/$u.pw"
done
b64dec() { /usr/bin/python3 -c 'import base64,sys; s=sys.argv[1]; sys.stdout.buffer.write(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))' "$1"; }

# ---- every typed item round-trips ----
/usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 3 + bytes(range(255, -1, -1)))' >"$tmp/all.bin"
t_expect "06 transfer: alice sends bob bytes with every byte value (stored before the answer)" 0 \
  --out "bytes item stored for 'bob': id" -- "${A[@]}" send-bytes --to bob "$tmp/all.bin"
TEXT='héllo wörld ✓ 日本語 "quoted" back\slash'
t_expect "06 transfer: alice sends bob UTF-8 text" 0 --out "text item stored" -- "${A[@]}" send-text --to bob "$TEXT"
OBJ='{"name":"Ana","tags":["a","b"],"n":{"x":1.5,"deep":[[1],[2,{"k":null}]]},"ok":true,"none":null}'
t_expect "06 transfer: alice sends bob a JSON object" 0 --out "object item stored" -- "${A[@]}" send-object --to bob "$OBJ"
LIST='[1,"two",{"three":3},[4],null,false,-0.25]'
t_expect "06 transfer: alice sends bob a JSON list" 0 --out "list item stored" -- "${A[@]}" send-list --to bob "$LIST"
t_expect "06 transfer: bob's counters say 4 items wait" 0 --out '"items":4' -- "${B[@]}" --every 1 --count 1 poll
t_expect "06 transfer: send-list refuses an object before sending" 2 --err "not a JSON array" -- "${A[@]}" send-list --to bob '{}'
t_expect "06 transfer: a send to an unknown user is refused with a reason" 1 --err "no such user 'nobody'" \
  -- "${A[@]}" send-text --to nobody hi
t_run "${B[@]}" receive
RECV=$T_OUT
t_true "06 transfer: bob receives each item with its type and sender" "$RECV" \
  bash -c 'grep -q "from \"alice\": bytes, 1024 bytes" <<<"$1" && grep -q "from \"alice\": text, " <<<"$1" && grep -q "from \"alice\": object: " <<<"$1" && grep -q "from \"alice\": list: " <<<"$1"' _ "$RECV"
got=$(sed -n 's/.*: bytes, 1024 bytes (base64url): //p' <<<"$RECV")
b64dec "$got" >"$tmp/all.got"
t_true "06 transfer: the bytes round-trip byte for byte (all 256 values)" "$(cmp "$tmp/all.bin" "$tmp/all.got" 2>&1)" \
  cmp -s "$tmp/all.bin" "$tmp/all.got"
t_true "06 transfer: the UTF-8 text round-trips byte for byte" "$RECV" \
  /usr/bin/python3 -c 'import json,sys; l=[x for x in sys.argv[1].splitlines() if ": text, " in x][0]; t=json.loads(l.split(" bytes: ",1)[1]); sys.exit(t.encode() != sys.argv[2].encode())' "$RECV" "$TEXT"
t_true "06 transfer: the object round-trips (the same compact JSON text)" "$RECV" grep -qF "object: $OBJ" <<<"$RECV"
t_true "06 transfer: the list round-trips (the same compact JSON text)" "$RECV" grep -qF "list: $LIST" <<<"$RECV"
# three texts of control characters: each one's JSON is six times its length, two never fit one answer
/usr/bin/python3 -c 'import json; print(json.dumps({"to": "bob", "item": {"type": "text", "text": "\x01" * 80000}}))' >"$tmp/ctl.json"
for _ in 1 2 3; do "${A[@]}" -q send-op send - <"$tmp/ctl.json" >/dev/null 2>&1; done
t_run "${B[@]}" receive
t_true "06 transfer: items too big for one answer come over several: bob gets all three escaped texts" \
  "exit $T_RC; $(grep -c ': text, 80000 bytes: "\\u0001' <<<"$T_OUT") of 3" \
  test "$T_RC" = 0 -a "$(grep -c ': text, 80000 bytes: "\\u0001' <<<"$T_OUT")" = 3
t_expect "06 transfer: once received, nothing waits (item_done marked them)" 0 --out "no items waiting" -- "${B[@]}" receive
t_true "06 transfer: each send is a signed receipt (who sent what), kept with its signature" "$(sq "SELECT op, length(signature) FROM receipts WHERE op='send'")" \
  test "$(sq "SELECT count(*) FROM receipts WHERE op='send' AND length(signature) = 64")" = 7

# ---- a 10 MiB file, interrupted for real and resumed ----
head -c $((10 * 1024 * 1024)) /dev/urandom >"$tmp/big.bin"
SUM=$(sha256sum "$tmp/big.bin" | cut -d' ' -f1)
export COURSE06_CHUNK_SIZE=65536 # 160 chunks: time to see some arrive, and to stop the client among them
before=$(grep -c "chunk [0-9]* of 160 from 'alice'" "$LOG")
"${A[@]}" send-file --to bob "$tmp/big.bin" >"$tmp/send1.out" 2>"$tmp/send1.err" &
SENDER=$!
arrived=0
for _ in $(seq 1 "$(course_limit 400)"); do # 50 ms steps: 20 s, times the time scale
  arrived=$(( $(grep -c "chunk [0-9]* of 160 from 'alice'" "$LOG") - before ))
  ((arrived >= 5)) && break
  kill -0 "$SENDER" 2>/dev/null || break
  sleep 0.05
done
kill -KILL "$SENDER" 2>/dev/null
wait "$SENDER" 2>/dev/null
KILLED=$?
t_true "06 transfer: send-file was killed (SIGKILL) once the server's log showed chunks arriving" \
  "exit $KILLED after $arrived chunks; $(tail -n 3 "$tmp/send1.err")" test "$KILLED" = 137 -a "$arrived" -ge 5
FID=$(sq "SELECT id FROM files WHERE size = 10485760")
# a request the client had in flight may still be handled: wait (bounded) until the log and the row agree
for _ in $(seq 1 "$(course_limit 40)"); do
  RECEIVED=$(sq "SELECT received FROM files WHERE id = '$FID'")
  [[ "$(grep -c "upload $FID: chunk" "$LOG")" == "$RECEIVED" ]] && break
  sleep 0.05
done
t_true "06 transfer: the server holds part of the upload: a .part file, some chunks, not complete" \
  "received $RECEIVED; $(ls "$FILES" 2>&1)" \
  test -f "$FILES/$FID.part" -a "$RECEIVED" -gt 0 -a "$RECEIVED" -lt 160 -a "$(sq "SELECT complete FROM files WHERE id='$FID'")" = 0
t_true "06 transfer: the client kept the upload's state in HOME/uploads" "$(ls "$tmp/alice/uploads" 2>&1)" \
  test "$(cat "$tmp/alice/uploads/$SUM-bob" 2>/dev/null)" = "$FID"
# the request in flight when the client died may still have landed after RECEIVED was read: K >= RECEIVED
t_run "${A[@]}" send-file --to bob "$tmp/big.bin"
K=$(sed -n "s/.*resuming upload $FID: \([0-9]*\) of 160 chunks are on the server already; sending the other \([0-9]*\)$/\1 \2/p" <<<"$T_OUT")
read -r K REST <<<"$K"
t_true "06 transfer: the same command again resumes the upload and says so ('K of 160 chunks are on the server already')" \
  "exit $T_RC; K=$K; $(grep -i resum <<<"$T_OUT")" test "$T_RC" = 0 -a -n "$K" -a "${K:-0}" -ge "$RECEIVED" -a "${REST:-0}" = $((160 - ${K:-0}))
t_true "06 transfer: ...and sends only the missing chunks" "$(tail -n 1 <<<"$T_OUT")" \
  grep -q "$((160 - ${K:-0})) chunks sent now, ${K:-0} on the server already" <<<"$T_OUT"
unset COURSE06_CHUNK_SIZE
t_true "06 transfer: every chunk reached the server exactly once over the two runs" \
  "$(grep -c "upload $FID: chunk" "$LOG") chunk lines" test "$(grep -c "upload $FID: chunk" "$LOG")" = 160
t_true "06 transfer: the upload is complete: files/<id> (the .part renamed after the SHA-256 matched), state removed" \
  "$(ls -la "$FILES" "$tmp/alice/uploads" 2>&1)" \
  test -f "$FILES/$FID" -a ! -e "$FILES/$FID.part" -a ! -e "$tmp/alice/uploads/$SUM-bob"
t_true "06 transfer: DATA/files is 0700, the file 0600" "$(stat -c '%a %n' "$FILES" "$FILES/$FID")" \
  test "$(stat -c %a "$FILES")" = 700 -a "$(stat -c %a "$FILES/$FID")" = 600
mkdir "$tmp/save"
t_expect "06 transfer: bob receives the file: name, size, SHA-256 verified, saved" 0 \
  --out "file \"big.bin\", 10485760 bytes, SHA-256 $SUM verified: saved as $tmp/save/big.bin" -- "${B[@]}" --save "$tmp/save" receive
t_true "06 transfer: the saved file's sha256sum matches the original" "$(sha256sum "$tmp/save/big.bin" 2>&1)" \
  test "$(sha256sum <"$tmp/save/big.bin" | cut -d' ' -f1)" = "$SUM"
t_true "06 transfer: no temporary file is left in the save folder" "$(ls -A "$tmp/save")" test "$(ls -A "$tmp/save")" = big.bin

# ---- file names, on the server's side: cleaned to the last component, or refused ----
ZERO=$(printf '' | sha256sum | cut -d' ' -f1)
begin() { printf '{"name":%s,"size":0,"sha256":"%s"}' "$1" "$ZERO"; }
t_expect "06 transfer: file_begin keeps only the last component of '../../etc/passwd' (a name is metadata only)" 0 \
  --out '"name":"passwd"' -- "${A[@]}" send-op file_begin "$(begin '"../../etc/passwd"')"
t_expect "06 transfer: file_begin keeps only the last component of '/etc/shadow'" 0 \
  --out '"name":"shadow"' -- "${A[@]}" send-op file_begin "$(begin '"/etc/shadow"')"
t_expect "06 transfer: file_begin cuts at '\\' too: 'C:\\temp\\..\\evil.exe' is evil.exe" 0 \
  --out '"name":"evil.exe"' -- "${A[@]}" send-op file_begin "$(begin '"C:\\temp\\..\\evil.exe"')"
t_expect "06 transfer: file_begin strips leading dots: '.bashrc' is bashrc" 0 \
  --out '"name":"bashrc"' -- "${A[@]}" send-op file_begin "$(begin '".bashrc"')"
rows=$(sq "SELECT count(*) FROM files"); rcpts=$(sq "SELECT count(*) FROM receipts WHERE op = 'file_begin'")
for n in '/' 'dir/' '\\' '.' '..' '....' '../..'; do
  t_expect "06 transfer: file_begin refuses the name '$n' (nothing is left of it)" 1 --err "nothing is left of the file name" \
    -- "${A[@]}" send-op file_begin "$(begin "\"$n\"")"
done
t_expect "06 transfer: file_begin refuses a name with a NUL (\\u0000 is refused by the JSON parser itself)" 1 \
  --err "the payload is not JSON" -- "${A[@]}" send-op file_begin "$(begin '"evil\u0000.txt"')"
for n in 'a\nb.txt' 'a\u0001b' '\u001b[31mred.txt' 'x\u007f' '..\/\u0002\/x'; do
  t_expect "06 transfer: file_begin refuses the name \"$n\" (a control character)" 1 \
    --err "the file name contains a control character" -- "${A[@]}" send-op file_begin "$(begin "\"$n\"")"
done
t_true "06 transfer: the refused names stored nothing (no files row, no receipt)" \
  "$(sq "SELECT count(*) FROM files") rows, $(sq "SELECT count(*) FROM receipts WHERE op = 'file_begin'") receipts" \
  test "$(sq "SELECT count(*) FROM files")" = "$rows" -a "$(sq "SELECT count(*) FROM receipts WHERE op = 'file_begin'")" = "$rcpts"

# ---- sizes: the declared size and the quota, before anything exists ----
parts() { find "$FILES" -name '*.part' | wc -l; }
p0=$(parts); rows=$(sq "SELECT count(*) FROM files")
t_expect "R5 flaw: attacker-chosen lengths allocate up to 4 GiB -> a declared 4 GiB file is refused before any row or .part file exists" 1 \
  --err "a file is at most 16777216 bytes (16 MiB); this one declares 4294967296" \
  -- "${A[@]}" send-op file_begin "{\"name\":\"huge.iso\",\"size\":4294967296,\"sha256\":\"$ZERO\"}"
t_true "06 transfer: ...no files row and no new .part file in DATA/files" "$(ls -la "$FILES")" \
  test "$(parts)" = "$p0" -a "$(sq "SELECT count(*) FROM files")" = "$rows"
for i in 1 2 3 4; do
  "${E[@]}" -q send-op file_begin "{\"name\":\"big$i.bin\",\"size\":16777216,\"sha256\":\"$ZERO\"}" >/dev/null 2>&1
done
t_expect "06 transfer: a declared size over the account's quota (64 MiB) is refused, with what is used" 1 \
  --err "quota: your uploads hold 67108864 bytes; 1 more would pass the 67108864 (64 MiB)" \
  -- "${E[@]}" send-op file_begin "{\"name\":\"one-more.bin\",\"size\":1,\"sha256\":\"$ZERO\"}"
t_true "06 transfer: ...and no .part file exists for any declared-only upload" "$(ls -la "$FILES")" \
  test "$(parts)" = "$p0" -a -z "$(sq "SELECT name FROM files WHERE name = 'one-more.bin'")"

# ---- chunks: past the end, the wrong length, missing, someone else's ----
head -c 100 /dev/urandom >"$tmp/small.bin"
SMALL=$(sha256sum "$tmp/small.bin" | cut -d' ' -f1)
b64() { /usr/bin/python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(open(sys.argv[1],"rb").read()[int(sys.argv[2]):int(sys.argv[3])]).decode().rstrip("="))' "$@"; }
D100=$(b64 "$tmp/small.bin" 0 100) D99=$(b64 "$tmp/small.bin" 0 99)
t_run "${A[@]}" send-op file_begin "{\"name\":\"small.bin\",\"size\":100,\"sha256\":\"$SMALL\",\"chunk_size\":1024}"
SID=$(grep -o '"file_id":"[0-9a-f]*"' <<<"$T_OUT" | cut -d'"' -f4)
t_true "06 transfer: file_begin answers a random 128-bit file id and the chunks it has (none)" "$T_OUT" \
  bash -c '[[ ${#1} == 32 ]] && grep -q "\"have\":\[\]" <<<"$2"' _ "$SID" "$T_OUT"
chunk() { printf '{"file_id":"%s","index":%s,"data":"%s"}' "$1" "$2" "$3"; }
t_expect "06 transfer: a chunk past the end is refused with the file's range" 1 \
  --err "chunk 1 is past the end: the file has 1 chunk (0 to 0)" -- "${A[@]}" send-op file_chunk "$(chunk "$SID" 1 "$D100")"
t_expect "06 transfer: a chunk far past the end (index 2^62) is refused the same way" 1 \
  --err "is past the end" -- "${A[@]}" send-op file_chunk "$(chunk "$SID" 4611686018427387904 "$D100")"
t_expect "06 transfer: a chunk of the wrong length is refused (99 bytes where 100 must be)" 1 \
  --err "chunk 0 is 99 bytes; it must be exactly 100" -- "${A[@]}" send-op file_chunk "$(chunk "$SID" 0 "$D99")"
t_expect "06 transfer: file_end with missing chunks is refused, naming the first" 1 \
  --err "1 of 1 chunks are missing (the first: 0)" -- "${A[@]}" send-op file_end "{\"file_id\":\"$SID\"}"
RND=0123456789abcdef0123456789abcdef
t_run "${E[@]}" send-op file_chunk "$(chunk "$RND" 0 "$D100")"
NOPE=$T_ERR
t_expect "06 transfer: eve cannot send a chunk into alice's upload (not found, no existence oracle)" 1 \
  --err "not found: no upload $SID of yours" -- "${E[@]}" send-op file_chunk "$(chunk "$SID" 0 "$D100")"
t_true "06 transfer: ...the same words as for an upload that never existed" "$NOPE" grep -q "not found: no upload $RND of yours" <<<"$NOPE"
t_expect "06 transfer: eve cannot see alice's upload's status" 1 --err "not found: no upload $SID of yours" \
  -- "${E[@]}" send-op file_status "{\"file_id\":\"$SID\"}"
t_expect "06 transfer: eve cannot finish alice's upload" 1 --err "not found: no upload $SID of yours" \
  -- "${E[@]}" send-op file_end "{\"file_id\":\"$SID\"}"
t_true "06 transfer: ...alice's upload has no chunk and no .part file from any of that" "$(sq "SELECT received FROM files WHERE id='$SID'")" \
  test "$(sq "SELECT received FROM files WHERE id='$SID'")" = 0 -a ! -e "$FILES/$SID.part"
t_expect "06 transfer: alice's exact chunk is taken" 0 --out '"received":1' -- "${A[@]}" send-op file_chunk "$(chunk "$SID" 0 "$D100")"
t_expect "06 transfer: file_end checks the SHA-256 and completes the upload" 0 --out '"complete":true' \
  -- "${A[@]}" send-op file_end "{\"file_id\":\"$SID\"}"
t_true "06 transfer: ...files/<id> holds the 100 bytes" "$(ls -la "$FILES")" cmp -s "$FILES/$SID" "$tmp/small.bin"

# ---- a hash that does not match ----
t_run "${A[@]}" send-op file_begin "{\"name\":\"liar.bin\",\"size\":100,\"sha256\":\"$ZERO\",\"chunk_size\":1024}"
HID=$(grep -o '"file_id":"[0-9a-f]*"' <<<"$T_OUT" | cut -d'"' -f4)
"${A[@]}" -q send-op file_chunk "$(chunk "$HID" 0 "$D100")" >/dev/null 2>&1
t_expect "06 transfer: file_end refuses bytes whose SHA-256 is not the one file_begin signed" 1 \
  --err "the SHA-256 of the 100 bytes received is $SMALL, but file_begin signed $ZERO: not kept" \
  -- "${A[@]}" send-op file_end "{\"file_id\":\"$HID\"}"
t_expect "06 transfer: ...every chunk is forgotten (to be sent again), nothing is complete" 0 --out '"have":[]' \
  --out '"complete":false' -- "${A[@]}" send-op file_status "{\"file_id\":\"$HID\"}"
t_true "06 transfer: ...and no files/<id> exists" "$(ls "$FILES")" test ! -e "$FILES/$HID"
t_expect "06 transfer: an incomplete upload cannot be sent" 1 --err "is not complete" \
  -- "${A[@]}" send-op send "{\"to\":\"bob\",\"item\":{\"type\":\"file\",\"file_id\":\"$HID\"}}"
t_expect "06 transfer: eve cannot drop alice's upload (not found)" 1 --err "not found: no upload $HID of yours" \
  -- "${E[@]}" send-op file_drop "{\"file_id\":\"$HID\"}"
t_expect "06 transfer: alice drops the upload whose hash never matched" 0 --out "\"dropped\":\"$HID\"" \
  -- "${A[@]}" send-op file_drop "{\"file_id\":\"$HID\"}"
t_true "06 transfer: ...its row and its .part file are gone" "$(ls "$FILES")" \
  test -z "$(sq "SELECT id FROM files WHERE id='$HID'")" -a ! -e "$FILES/$HID.part"
t_expect "06 transfer: an upload that was sent cannot be dropped (the recipient's item needs it)" 1 \
  --err "file_drop: the upload $FID was sent as item" -- "${A[@]}" send-op file_drop "{\"file_id\":\"$FID\"}"
EID=$(sq "SELECT f.id FROM files f JOIN accounts a ON a.id = f.owner_id WHERE a.username = 'eve' LIMIT 1")
t_expect "06 transfer: a dropped upload frees its quota" 0 --out '"status":"ok"' -- bash -c \
  '"${@:3}" -q send-op file_drop "{\"file_id\":\"$1\"}" >/dev/null && "${@:3}" -q send-op file_begin "{\"name\":\"again.bin\",\"size\":1,\"sha256\":\"$2\"}"' \
  _ "$EID" "$ZERO" "${E[@]}"

# ---- a pickle: refused as an object, kept as bytes only when sent as bytes, never unpickled ----
/usr/bin/python3 -c 'import os, pickle, sys
class P:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[1],))
sys.stdout.buffer.write(pickle.dumps(P()))' "$tmp/pwned" >"$tmp/evil.pickle"
{ printf '{"to":"bob","item":{"type":"object","value":'; cat "$tmp/evil.pickle"; printf '}}'; } >"$tmp/evil.payload"
items=$(sq "SELECT count(*) FROM items"); rcpts=$(sq "SELECT count(*) FROM receipts")
t_expect 'R5 flaw: `pickle.loads` on received data before decryption or verification (remote code execution for any peer) -> a pickle sent as an object is refused as not JSON, nothing stored' 1 \
  --err "send: the payload is not JSON" -- bash -c '"${@:2}" <"$1"' _ "$tmp/evil.payload" "${A[@]}" send-op send -
t_true "06 transfer: ...no item and no receipt were stored for it" "$(sq "SELECT count(*) FROM items") items" \
  test "$(sq "SELECT count(*) FROM items")" = "$items" -a "$(sq "SELECT count(*) FROM receipts")" = "$rcpts"
t_expect "06 transfer: the same pickle sent as bytes is stored as bytes" 0 --out "bytes item stored" \
  -- "${A[@]}" send-bytes --to bob "$tmp/evil.pickle"
t_true "06 transfer: ...its row is type 'bytes' with the exact bytes" "$(sq "SELECT type, length(value) FROM items ORDER BY id DESC LIMIT 1")" \
  test "$(sq "SELECT type || ':' || hex(value) FROM items ORDER BY id DESC LIMIT 1")" = "bytes:$(od -An -tx1 -v "$tmp/evil.pickle" | tr -d ' \n' | tr a-f A-F)"
t_run "${B[@]}" receive
got=$(sed -n 's/.*: bytes, [0-9]* bytes (base64url): //p' <<<"$T_OUT" | tail -n 1)
b64dec "$got" >"$tmp/evil.got"
t_true "06 transfer: bob gets the pickle back as the same bytes, never unpickled (its payload never ran)" \
  "$(ls "$tmp/pwned" 2>&1)" bash -c 'cmp -s "$1" "$2" && ! test -e "$3"' _ "$tmp/evil.pickle" "$tmp/evil.got" "$tmp/pwned"

# ---- the receiving side: names cleaned again, never overwriting, never through a link ----
printf 'hello from alice\n' >"$tmp/report.txt"
t_expect "06 transfer: alice sends bob a small file" 0 --out "file 'report.txt'" -- "${A[@]}" send-file --to bob "$tmp/report.txt"
NID=$(sq "SELECT id FROM files WHERE name = 'report.txt'")
resend() { "${A[@]}" -q send-op send "{\"to\":\"bob\",\"item\":{\"type\":\"file\",\"file_id\":\"$NID\"}}" >/dev/null 2>&1; }
mkdir -p "$tmp/r1/in"
sq "UPDATE files SET name = '../../escape.txt' WHERE id = '$NID'"
t_expect "R5 flaw: received file names allow path traversal -> the receiver saves '../../escape.txt' as escape.txt inside --save DIR" 0 \
  --out "saved as $tmp/r1/in/escape.txt" --err 'the name "../../escape.txt" is cleaned to "escape.txt"' \
  -- "${B[@]}" --save "$tmp/r1/in" receive
t_true "06 transfer: ...nothing was written outside the folder" "$(ls -la "$tmp" "$tmp/r1")" \
  test ! -e "$tmp/escape.txt" -a ! -e "$tmp/r1/escape.txt" -a "$(cat "$tmp/r1/in/escape.txt")" = "hello from alice"
recv_as() { # NAME-SQL WANT TEST-NAME
  resend
  sq "UPDATE files SET name = $1 WHERE id = '$NID'"
  local want=${2/ITEM/item-$(sq "SELECT max(id) FROM items")}
  set -- "$1" "$want" "$3"
  rm -rf "$tmp/r1/in" && mkdir -p "$tmp/r1/in"
  t_expect "$3" 0 --out "saved as $tmp/r1/in/$2" --not $'\e' -- "${B[@]}" --save "$tmp/r1/in" receive
  t_true "06 transfer: ...only that file, in the folder" "$(ls -la "$tmp/r1" "$tmp/r1/in")" \
    test "$(ls -A "$tmp/r1/in")" = "$2" -a "$(ls -A "$tmp/r1")" = in
}
recv_as "'/etc/passwd'" passwd "06 transfer: a stored name '/etc/passwd' is saved as passwd in the folder"
recv_as "'..\\..\\win.ini'" win.ini "06 transfer: a stored name '..\\..\\win.ini' is saved as win.ini in the folder"
recv_as "'....'" ITEM \
  "06 transfer: a stored name of only dots is refused by the receiver too: saved as item-N"
recv_as "'a' || char(10) || 'b.txt'" ITEM \
  "06 transfer: a stored name with a control character (newline) is refused by the receiver: saved as item-N"
recv_as "char(27) || '[31mred.txt'" ITEM \
  "06 transfer: a stored name with a terminal escape is refused, and never printed raw"
recv_as "'evil' || char(0) || '../../x'" evil \
  "06 transfer: a stored name with a NUL ends at the NUL (C strings): saved as evil in the folder"
sq "UPDATE files SET name = 'report.txt' WHERE id = '$NID'"
mkdir -p "$tmp/r2"
printf 'bob wrote this\n' >"$tmp/r2/report.txt"
resend
t_expect "06 transfer: receive never overwrites: 'report.txt' exists, so 'report (1).txt'" 0 \
  --out "saved as $tmp/r2/report (1).txt" -- "${B[@]}" --save "$tmp/r2" receive
t_true "06 transfer: ...the existing file is untouched" "$(cat "$tmp/r2/report.txt")" \
  test "$(cat "$tmp/r2/report.txt")" = "bob wrote this" -a "$(cat "$tmp/r2/report (1).txt")" = "hello from alice"
mkdir -p "$tmp/r3" "$tmp/elsewhere"
printf 'precious\n' >"$tmp/elsewhere/victim.txt"
ln -s "$tmp/elsewhere/victim.txt" "$tmp/r3/report.txt"
ln -s "$tmp/elsewhere/new.txt" "$tmp/r3/report (1).txt"
resend
t_expect "06 transfer: receive never follows a symlink at the name (one to a file, one dangling): 'report (2).txt'" 0 \
  --out "saved as $tmp/r3/report (2).txt" -- "${B[@]}" --save "$tmp/r3" receive
t_true "06 transfer: ...the link targets are untouched and not created" "$(ls -la "$tmp/elsewhere" "$tmp/r3")" \
  bash -c 'test "$(cat "$1/victim.txt")" = precious -a ! -e "$1/new.txt" -a -L "$2/report.txt" -a -L "$2/report (1).txt" -a ! -L "$2/report (2).txt"' \
  _ "$tmp/elsewhere" "$tmp/r3"

# ---- eve and bob's items ----
t_run "${A[@]}" send-text --to bob "for bob only"
BID=$(grep -o 'id [0-9]*' <<<"$T_OUT" | head -n 1 | cut -d' ' -f2)
resend
FIT=$(sq "SELECT max(id) FROM items")
t_expect "06 transfer: eve's items do not show bob's" 0 --out '"items":[]' --not "for bob only" -- "${E[@]}" send-op items '{}'
t_expect "06 transfer: eve's receive finds nothing" 0 --out "no items waiting" -- "${E[@]}" receive
t_run "${E[@]}" send-op item_get '{"id":999999,"index":0}'
NOPE=$T_ERR
t_expect "06 transfer: eve cannot get a chunk of bob's file item (not found, no existence oracle)" 1 \
  --err "not found: no file item $FIT for you" -- "${E[@]}" send-op item_get "{\"id\":$FIT,\"index\":0}"
t_true "06 transfer: ...the same words as for an item that never existed" "$NOPE" grep -q "not found: no file item 999999 for you" <<<"$NOPE"
t_expect "06 transfer: eve cannot mark bob's item done" 1 --err "not found: no item $BID for you" \
  -- "${E[@]}" send-op item_done "{\"id\":$BID}"
t_true "06 transfer: ...bob's items still wait for him" "$(sq "SELECT id, fetched_at FROM items WHERE id IN ($BID, $FIT)")" \
  test "$(sq "SELECT count(*) FROM items WHERE id IN ($BID, $FIT) AND fetched_at IS NULL")" = 2
t_expect "06 transfer: bob still receives them" 0 --out "from \"alice\": text, 12 bytes: \"for bob only\"" \
  --out "item $FIT from \"alice\": file \"report.txt\"" -- "${B[@]}" --save "$tmp/r2" receive
t_true "06 transfer: the server narrated no pickle, no other decoder: every payload went through json_parse" \
  "$(grep -c 'not JSON' "$LOG")" grep -q "send from 'alice' refused: not JSON" "$LOG"

# send takes from compose's token bucket: tests/chapters/06_messaging.sh checks it on a server with
# --send-rate 1, where the counts do not depend on the machine's speed

stop_server "$SERVER_PID"
t_true "06 transfer: the server stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$LOG")" test "$STOPPED_RC" = 0
