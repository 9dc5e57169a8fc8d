# SPDX-License-Identifier: MIT
# scripts/lib.sh - shell helpers shared by the run targets, the demo and the
# tests. Source it; do not run it.
#
#   start_server NAME CMD...   start CMD in the background, wait (at most 10 s,
#                              times COURSE_TIME_SCALE)
#                              for its "listening on URL" line, and set
#                              SERVER_URL, SERVER_PORT, SERVER_PID and
#                              SERVER_LOG, and append the port to COURSE_PORTS
#                              (what a capture listens to), the log to
#                              COURSE_LOGS and the pid to COURSE_SERVER_PIDS. Every server started this way is
#                              stopped when the shell exits (stop_servers).
#   stop_server PID            SIGTERM, wait (at most 5 s, scaled), then SIGKILL;
#                              sets STOPPED_RC to the server's exit status
#   stop_servers               stop every server this shell started
#   course_tmpdir              a private temp dir, removed on exit
#   course_limit SECONDS       SECONDS times COURSE_TIME_SCALE: the time limit
#                              to give a wait on a machine this busy
#
# Every time limit here and in the tests bounds a wait for an event (a line,
# an exit), never a pause, so a generous one costs time only when something is
# already wrong. A busy machine needs them longer: a full testssl scan took
# 40 s idle and over 60 s beside a compiler. COURSE_TIME_SCALE multiplies
# them all; by default it is 1 plus the 1-minute load average per CPU (at the
# time the first script sourced this file; tests/run.sh exports it so every
# suite agrees), at most 4.

: "${BIN:=${COURSE_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/bin}}"
COURSE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_COURSE_PIDS=()
_COURSE_TMP=()
COURSE_PORTS=()
COURSE_LOGS=()
COURSE_SERVER_PIDS=()

if [[ ! "${COURSE_TIME_SCALE:-}" =~ ^[1-9][0-9]*$ ]]; then
  COURSE_TIME_SCALE=$(awk -v cpus="$(nproc 2>/dev/null || echo 1)" \
    '{ s = 1 + int($1 / cpus); print (s > 4 ? 4 : s) }' /proc/loadavg 2>/dev/null)
  [[ "$COURSE_TIME_SCALE" =~ ^[1-9][0-9]*$ ]] || COURSE_TIME_SCALE=1
fi
export COURSE_TIME_SCALE

course_limit() { echo $(($1 * COURSE_TIME_SCALE)); }

# Every temp dir of this shell lives under one root, made here, in the shell
# that sources this file: course_tmpdir runs in $(...), a subshell, so a list
# of dirs it kept would be lost with it (they were left behind in /tmp).
_COURSE_TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/course.XXXXXX")

course_cleanup() {
  stop_servers
  local d
  for d in "${_COURSE_TMP[@]}"; do rm -rf "$d"; done
  rm -rf "$_COURSE_TMPROOT"
}
trap course_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

course_tmpdir() {
  mktemp -d "$_COURSE_TMPROOT/XXXXXX"
}

# start_server NAME CMD... ; log goes to $SERVER_LOG (stdout+stderr)
start_server() {
  local name=$1
  shift
  local dir
  dir=$(course_tmpdir)
  SERVER_LOG="$dir/$name.log"
  "$@" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  _COURSE_PIDS+=("$SERVER_PID")
  local i line limit
  limit=$(course_limit 10)
  for ((i = 0; i < limit * 10; i++)); do
    # the first line on stdout; a warning on stderr may come before it
    line=$(grep -m 1 '^listening on ' "$SERVER_LOG" 2>/dev/null)
    if [[ -n "$line" ]]; then
      SERVER_URL=${line#listening on }
      SERVER_PORT=${SERVER_URL##*:}
      COURSE_PORTS+=("$SERVER_PORT")
      COURSE_LOGS+=("$SERVER_LOG")
      COURSE_SERVER_PIDS+=("$SERVER_PID")
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "start_server: $name exited before listening:" >&2
      sed 's/^/  | /' "$SERVER_LOG" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "start_server: $name did not print 'listening on URL' within $limit s (timeout)" >&2
  sed 's/^/  | /' "$SERVER_LOG" >&2
  return 1
}

stop_server() {
  local pid=$1 i limit
  STOPPED_RC=
  kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; STOPPED_RC=$?; return 0; }
  limit=$(course_limit 5)
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop_server: $pid ignored SIGTERM for $limit s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  STOPPED_RC=$?
  local keep=() p
  for p in "${_COURSE_PIDS[@]}"; do [[ "$p" != "$pid" ]] && keep+=("$p"); done
  _COURSE_PIDS=("${keep[@]}")
  return 0
}

stop_servers() {
  local p
  for p in "${_COURSE_PIDS[@]}"; do stop_server "$p"; done
  _COURSE_PIDS=()
}
