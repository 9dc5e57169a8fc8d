#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06, crash safety: no acknowledged record is ever lost, and a resend
# is stored once, however the server dies.
#
# Six devices (06-client, each its own account and certificate) stream
# records with msg_ids they choose: each record is fsynced into HOME/outbox
# before it is sent, and `06-client resend` removes it only once the server
# answered (tests/helpers/06_crash_ledger.py keeps a copy of each, so what was
# acknowledged is what left the outbox). The server is killed with SIGKILL in
# each round: by its own crash switch (COURSE06_CRASH, common/store/store.c)
# exactly before COMMIT, after COMMIT but before the reply, in the middle of a
# batch, and halfway through a quarantine file; and from outside, after a
# random number of stored records. After each kill: a restart, PRAGMA
# integrity_check, the clients resend what was not acknowledged, and a sample of
# what was (the answer must be "duplicate"). At the end the ledger is checked
# against the database file, every stored signature is verified again by
# tests/helpers/06_audit.py, and an strace run shows the WAL synced before
# the "stored" reply is written to the socket.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
P=$tmp/pki
if ! 04_pki_ca/make-pki.sh "$BIN" "$P" >"$tmp/pki.log" 2>&1; then
  t_fail "06 crash: make-pki.sh builds a PKI with a device CA" "$(tail -n 5 "$tmp/pki.log")"
  exit 0
fi
DATA=$tmp/data
DB=$DATA/course06.db
QDIR=$DATA/received_messages
SRV=(--cert "$P/server-chain.crt" --key "$P/server.key" --device-ca "$P/devices" --pass-file "$P/ca-pass")
LEDGER=$COURSE_ROOT/tests/helpers/06_crash_ledger.py
CLIENTS=6
dup_heard=0 dup_bad=0
ROUNDS=(before-commit after-commit mid-batch quarantine-write random random)
ITER=12 # the most load iterations of one client in one round (4 records each)
printf 'crash test password\n' >"$tmp/pw"
chmod 600 "$tmp/pw"
sq() { /usr/bin/python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for r in db.execute(sys.argv[2]): print("|".join(str(c) for c in r))' "$DB" "$1"; }

# 06-client for client $1 against the current server
cl() {
  local i=$1
  shift
  timeout "$(course_limit 20)" "$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/c$i" \
    --user "crash$i" --password-file "$tmp/pw" "$@"
}

# start the server, armed with COURSE06_CRASH=$1 unless $1 is empty
serve() {
  if [[ -n "$1" ]]; then
    start_server 06-server env COURSE06_CRASH="$1" "$BIN/06-server" --port 0 --data "$DATA" "${SRV[@]}"
  else
    start_server 06-server "$BIN/06-server" --port 0 --data "$DATA" "${SRV[@]}"
  fi || return 1
  URL="https://localhost:$SERVER_PORT"
}

# the server was reaped here: lib.sh must not signal its pid at exit (it may be another process's by then)
forget() {
  local keep=() p
  for p in "${_COURSE_PIDS[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done
  _COURSE_PIDS=("${keep[@]}")
}

# is pid $1 gone (exited; a zombie counts: it is this shell's child, not yet reaped)?
gone() { [[ ! -e /proc/$1 ]] || [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" == Z ]]; }

# one client's load: queue 4 records (every third time one more, quarantined), resend, until a resend
# fails (the server died) or ITER times
load() {
  local i=$1 r=$2 n
  for ((n = 1; n <= ITER; n++)); do
    /usr/bin/python3 "$LEDGER" queue "$tmp/c$i" "$tmp/l$i" 4 "c$i-r$r-$n" $((n % 3)) || break
    cl "$i" -q resend >>"$tmp/load$i.log" 2>&1 || break
  done
  touch "$tmp/done.$r.$i"
}
all_done() { (($(ls "$tmp" | grep -c "^done\.$1\.") == CLIENTS)); }

# after the restart that followed a kill: the database as the server found it, and recovered (checked
# only while a server runs: Python's connection, the last one to close, would checkpoint the WAL itself
# and do the recovery that is the server's to do)
integrity() {
  t_true "06 crash: after the kill of $1 and a restart, PRAGMA integrity_check is ok" "$(sq 'PRAGMA integrity_check')" \
    test "$(sq 'PRAGMA integrity_check')" = ok
}

# after a restart, client $1: resend what was not acknowledged, then K (=$3) of what was: every answer
# to those must be "duplicate" (the server has it), never "stored" (a second copy)
recover() {
  local i=$1 r=$2 k=$3
  cl "$i" -q resend >>"$tmp/load$i.log" 2>&1
  /usr/bin/python3 "$LEDGER" settle "$tmp/c$i" "$tmp/l$i" >/dev/null
  if [[ -n "$(/usr/bin/python3 "$LEDGER" sample "$tmp/c$i" "$tmp/l$i" "$k")" ]]; then
    cl "$i" -v resend >"$tmp/sample.$r.$i" 2>&1
    /usr/bin/python3 "$LEDGER" settle "$tmp/c$i" "$tmp/l$i" >/dev/null
  fi
}
# every client at once (one after another is slow, and the crash switch may fire here too)
recover_all() {
  local i p rp=()
  for ((i = 1; i <= CLIENTS; i++)); do
    recover "$i" "$1" "$2" &
    rp+=($!)
  done
  for p in "${rp[@]}"; do wait "$p"; done
  for ((i = 1; i <= CLIENTS; i++)); do
    [[ -f "$tmp/sample.$1.$i" ]] || continue
    dup_heard=$((dup_heard + $(grep -c 'answer (decrypted): {"status":"duplicate"' "$tmp/sample.$1.$i")))
    dup_bad=$((dup_bad + $(grep -c 'answer (decrypted): {"status":"stored"' "$tmp/sample.$1.$i")))
  done
}

# ---- set-up: one account and one device per client ----
if ! serve ""; then
  t_fail "06 crash: the server starts on a free port" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
ok=1
for ((i = 1; i <= CLIENTS; i++)); do
  cl "$i" -q register >/dev/null 2>&1 && cl "$i" -q enrol >/dev/null 2>&1 || ok=0
done
t_true "06 crash: $CLIENTS clients register and enrol a device each" "$(cl 1 enrol 2>&1 | tail -n 3)" test "$ok" = 1
t_true "06 crash: the server narrates synchronous=FULL, read back on its connection before it listens" \
  "$(head -n 20 "$SERVER_LOG")" grep -q 'store: WAL, synchronous=FULL (2)' "$SERVER_LOG"
t_true "06 crash: an unarmed server says nothing of the crash switch" "$(grep COURSE06_CRASH "$SERVER_LOG")" \
  bash -c '! grep -q COURSE06_CRASH "$1"' _ "$SERVER_LOG"
stop_server "$SERVER_PID"
t_expect "06 crash: an unknown COURSE06_CRASH value refuses to start (a switch silently off would pass a crash test)" 1 \
  --err "COURSE06_CRASH='before-comit': expected before-commit, after-commit, mid-batch or quarantine-write" \
  -- env COURSE06_CRASH=before-comit "$BIN/06-server" --port 0 --data "$DATA" "${SRV[@]}"

# ---- the rounds ----
rounds=0 fails=0 killed=""
: >"$tmp/rounds.err"
for ((r = 1; r <= ${#ROUNDS[@]}; r++)); do
  point=${ROUNDS[r - 1]}
  arm=""
  # the Nth visit, N random, and past what the recovery below commits, so that it lands in the load
  # (the recovery resends one client after another; the load runs them all at once)
  case $point in
    before-commit) arm="$point:$((RANDOM % 16 + 10))" ;;  # the Nth batch
    after-commit) arm="$point:$((RANDOM % 41 + 20))" ;;   # the Nth job
    mid-batch) arm="$point:$((RANDOM % 5 + 2))" ;;        # the Nth gap between two jobs of a batch
    quarantine-write) arm="$point:$((RANDOM % 3 + 2))" ;; # the Nth quarantine file
  esac
  if ! serve "$arm"; then
    t_fail "06 crash: round $r ($point): the server restarts after the kill" "$(tail -n 5 "$SERVER_LOG")"
    fails=1
    break
  fi
  pid=$SERVER_PID
  log=$SERVER_LOG
  [[ -n "$killed" ]] && integrity "$killed"
  if [[ -n "$arm" ]]; then
    grep -q "warning: COURSE06_CRASH=$arm: fault injection for crash tests is ON" "$log" || {
      t_fail "06 crash: round $r: an armed server says so loudly at start" "$(head -n 5 "$log")"
      fails=1
    }
  fi
  # after a restart: the stray .part of a killed quarantine write is gone (store_open removed it)
  stray=$(find "$DATA" \( -name '*.part' -o -name '*.tmp' \) | wc -l)
  [[ $stray == 0 ]] || { t_fail "06 crash: round $r: no temporary file survives a restart" "$(find "$DATA" -name '*.part')"; fails=1; }
  # recovery: what was not acknowledged, then a sample of what was (it must be "duplicate", never "stored")
  recover_all "$r" 1
  # the load: all clients at once, so the writer's batches hold several jobs
  pids=()
  for ((i = 1; i <= CLIENTS; i++)); do
    load "$i" "$r" &
    pids+=($!)
  done
  if [[ $point == random ]]; then
    # from outside, at a random moment: once the server has stored between 5 and 60 more records
    want=$((RANDOM % 56 + 5)) limit=$(($(course_limit 30) * 10)) base=$(sq 'SELECT count(*) FROM receipts')
    for ((k = 0; k < limit; k++)); do
      (($(sq 'SELECT count(*) FROM receipts') - base >= want)) && break
      gone "$pid" && break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
  fi
  # every kill is waited for as an event: the process is gone, or the load ran out without reaching it
  # (every store_write serves a client that waits for its answer: with every client done, none is coming)
  # A process killed by SIGKILL is not gone at once: its sockets close first (so its clients finish), then
  # the kernel tears down its memory (slow for ASan's shadow): with all clients done, it gets 5 s more.
  limit=$(($(course_limit 30) * 10)) grace=$(($(course_limit 5) * 10))
  for ((k = 0; k < limit; k++)); do
    gone "$pid" && break
    # (once the switch has fired, the process is dying: a thread inside fsync finishes it first, which
    # on a busy disk can take seconds, so only a switch that never fired ends the wait early)
    if all_done "$r" && ! grep -q "COURSE06_CRASH: reached" "$log"; then
      ((grace-- > 0)) || { echo "round $r: the load ended, and the server armed with $arm still runs" >>"$log"; break; }
    fi
    sleep 0.1
  done
  outside=0
  gone "$pid" || { outside=1; kill -KILL "$pid" 2>/dev/null; }
  wait "$pid"
  rc=$?
  for p in "${pids[@]}"; do wait "$p"; done
  forget "$pid"
  rounds=$((rounds + 1))
  if [[ $point != random ]]; then
    # the switch is the only way this server dies here: nobody else killed it, it exited 137 (SIGKILL),
    # and it said why, naming the point and the visit. (Not always its last line: another worker may
    # print in the moment between that line and the kill reaching every thread.)
    t_true "06 crash: round $r: the server armed with $arm died by its own SIGKILL (exit 137) at that point" \
      "exit status $rc, killed from outside: $outside; $(grep -m 1 'COURSE06_CRASH: reached' "$log" || tail -n 1 "$log")" \
      bash -c '[[ $1 == 137 && $4 == 0 ]] &&
        grep -qxF "store: COURSE06_CRASH: reached ${2%%:*} (visit ${2##*:}): SIGKILL now" "$3"' \
      _ "$rc" "$arm" "$log" "$outside"
  else
    t_true "06 crash: round $r: the server was killed by SIGKILL from outside (exit 137)" "exit status $rc" test "$rc" = 137
  fi
  killed="round $r ($point)"
  if [[ $point == quarantine-write ]]; then
    t_true "06 crash: round $r: the kill left half a quarantine file as .part (the point is inside the write)" \
      "$(ls -la "$QDIR")" bash -c 'ls "$1" | grep -q "\.part$"' _ "$QDIR"
  fi
done 2>>"$tmp/rounds.err" # bash's "Killed" notice of each server it reaps is the expected news: kept out of the output
grep -v ' Killed ' "$tmp/rounds.err" >&2 # anything else is shown

# ---- the end: a clean server, everything resent, then the ledger against the database ----
if ! serve ""; then
  t_fail "06 crash: the server restarts after the last kill" "$(tail -n 5 "$SERVER_LOG")"
  exit 0
fi
integrity "$killed"
left=0 pairs=()
recover_all end 2
for ((i = 1; i <= CLIENTS; i++)); do
  [[ -z "$(ls -A "$tmp/c$i/outbox")" ]] || left=1
  pairs+=("$tmp/c$i:$tmp/l$i")
done
t_true "06 crash: after the last restart every outbox is empty (everything sent was acknowledged)" \
  "$(for ((i = 1; i <= CLIENTS; i++)); do echo "c$i: $(ls "$tmp/c$i/outbox" | wc -l) left"; done)" test "$left" = 0
t_true "06 crash: a resent acknowledged record is answered 'duplicate', never 'stored' again ($dup_heard heard)" \
  "$dup_bad answered stored, $dup_heard duplicate" test "$dup_bad" = 0 -a "$dup_heard" -gt 0
stop_server "$SERVER_PID"
t_true "06 crash: the last server stops cleanly on SIGTERM (exit 0: no sanitizer report at exit)" \
  "exit status $STOPPED_RC; $(tail -n 3 "$SERVER_LOG")" test "$STOPPED_RC" = 0
t_run /usr/bin/python3 "$LEDGER" verify "$DB" "$DATA" "${pairs[@]}"
ver_out=$T_OUT ver_rc=$T_RC
read -r _ acked _ lost _ dups _ stray <<<"$(head -n 1 <<<"$ver_out")"
t_run /usr/bin/python3 "$COURSE_ROOT/tests/helpers/06_audit.py" "$DB"
audit_out=$T_OUT audit_rc=$T_RC
sig_n=$(grep -o 'audit: [0-9]* rows' <<<"$audit_out" | cut -d' ' -f2)
sig_v=$(grep -o '[0-9]* verified' <<<"$audit_out" | cut -d' ' -f1)
verdict="06 crash: $rounds rounds, ${acked:-?} acknowledged, lost ${lost:-?}, duplicates ${dups:-?}, signatures verified ${sig_v:-?}/${sig_n:-?}, stray temporary files ${stray:-?}"
echo "$verdict"
t_true "06 crash: the verdict: every round ran, nothing acknowledged lost, nothing stored twice, every signature verifies, no stray file" \
  "$verdict; $ver_out; $audit_out" \
  test "$ver_rc" = 0 -a "$audit_rc" = 0 -a "$fails" = 0 -a "$rounds" = "${#ROUNDS[@]}" -a "${acked:-0}" -gt 0 \
  -a "${sig_v:-x}" = "${sig_n:-y}" -a "${sig_n:-0}" -gt 0

# ---- synchronous=FULL, seen from outside: the WAL is synced before the "stored" reply is written ----
# PRAGMA synchronous is a setting of each connection, not of the file: a second connection (sqlite3, Python)
# reads its own default, not the server's. So the server reads it back on its own connections and refuses
# to start unless it is 2 (common/store/store.c connect_db; the narration line is checked above), and here
# the system calls show what it does: SQLite writes the WAL frames with pwrite64 and syncs them with
# fdatasync at COMMIT; the reply is TLS records written to the TCP socket. The rule checked: no byte goes to
# a socket while a WAL write is not yet synced (one client, one request at a time: every reply follows its
# own commit). With synchronous=NORMAL the WAL is not synced at COMMIT and the rule breaks at the reply.
STRACE_NAME="06 crash: strace: every WAL write is fdatasynced before the next byte reaches a socket (the 'stored' reply follows the sync)"
if ! command -v strace >/dev/null; then
  t_skip "$STRACE_NAME" "no strace (scripts/deps.sh installs it)"
elif ! strace -f -qq -e trace=none true 2>/dev/null; then
  t_skip "$STRACE_NAME" "strace cannot trace here (ptrace refused)"
# (SAN=1: LeakSanitizer needs ptrace itself and cannot run under strace: leaks are the other rounds' business)
elif ! ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" start_server 06-server-strace strace -f -qq -yy -s 0 -o "$tmp/strace.txt" \
  -e trace=fdatasync,fsync,write,writev,pwrite64,pwritev,sendto,sendmsg \
  "$BIN/06-server" --port 0 --data "$DATA" "${SRV[@]}"; then
  t_fail "$STRACE_NAME" "the server does not start under strace: $(tail -n 5 "$SERVER_LOG")"
else
  URL="https://localhost:$SERVER_PORT"
  t_expect "06 crash: strace: a record is stored by the traced server" 0 --out "record stored" \
    -- "$BIN/06-client" --url "$URL" --cacert "$P/root.crt" --home "$tmp/c1" \
    send-record '{"FirstName": "strace", "Comments": "one record, traced"}'
  # SIGTERM to the server itself (strace's child): its clean exit ends the trace
  kill -TERM "$(pgrep -P "$SERVER_PID" | head -n 1)" 2>/dev/null
  stop_server "$SERVER_PID"
  t_run /usr/bin/python3 - "$tmp/strace.txt" <<'PY'
import re, sys
wal_pending = None  # the line of a WAL write not yet synced
replies = commits = 0
lines = open(sys.argv[1]).read().splitlines()
excerpt = []
for n, l in enumerate(lines):
    m = re.match(r"\d+\s+(\w+)\((\d+)<([^>]*)>", l)
    if not m:
        continue
    call, target = m.group(1), m.group(3)
    if target.endswith("-wal") and call.startswith("pwrite"):
        wal_pending = wal_pending if wal_pending is not None else n
    elif target.endswith("-wal") and call in ("fdatasync", "fsync"):
        if wal_pending is not None:
            commits += 1
            start = wal_pending
        wal_pending = None
    elif target.startswith("TCP:"):
        if wal_pending is not None:
            print("FAILED: a socket write while a WAL write is not synced:\n  %s\n  %s" % (lines[wal_pending], l))
            sys.exit(1)
        if commits and not excerpt:
            excerpt = [x for x in lines[start:n + 1] if "-wal" in x or "TCP:" in x]
        replies += 1
if not commits or not excerpt:
    print("FAILED: no commit between two socket writes in the trace (%d commits, %d socket writes)" % (commits, replies))
    sys.exit(1)
print("%d WAL commits synced, %d socket writes, none while a WAL write was unsynced; the first record's:" % (commits, replies))
if len(excerpt) > 6:
    excerpt = excerpt[:3] + ["[...]"] + excerpt[-3:]
for x in excerpt:
    print("  " + re.sub(r"<(/[^>]*/)", "<.../", x))
PY
  t_true "$STRACE_NAME" "$T_OUT" test "$T_RC" = 0
  printf '%s\n' "$T_OUT" | sed 's/^/  | /'
fi
