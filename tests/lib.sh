# SPDX-License-Identifier: MIT
# tests/lib.sh - assertions for the shell test suites. Source it.
#
# Each check prints one line the runner counts:
#   PASS: name | FAIL: name: why | SKIP: name: why
#
#   t_run CMD...                  run CMD (60 s limit, times COURSE_TIME_SCALE;
#                                 T_TIMEOUT=N for another limit); sets T_OUT,
#                                 T_ERR, T_RC, and T_TIMED_OUT (1 if the limit
#                                 stopped CMD, then T_ERR says so)
#   t_expect NAME RC [--out S] [--err S] [--not S] -- CMD...
#                                 run CMD; pass if the exit status is RC, stdout
#                                 contains each --out S, stderr each --err S,
#                                 and neither contains any --not S
#   t_true NAME WHY CMD...        pass if CMD exits 0 (WHY is shown on failure)
#   t_pass NAME / t_fail NAME WHY / t_skip NAME WHY
#   t_world_dir FILE...           a temp dir that every user may enter, with a
#                                 copy of each FILE: what a test runs as another
#                                 user (nobody), wherever the checkout lives
#
# A command that runs out of time is a FAIL that names the limit, never a
# pass on what it printed before it was stopped.
# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

t_pass() { echo "PASS: $1"; }
t_fail() {
  echo "FAIL: $1: $2"
  if [[ -n "${T_RC:-}" ]]; then
    echo "  | exit status: $T_RC"
    [[ -n "${T_OUT:-}" ]] && printf '%s\n' "$T_OUT" | head -n 30 | sed 's/^/  | out: /'
    [[ -n "${T_ERR:-}" ]] && printf '%s\n' "$T_ERR" | head -n 30 | sed 's/^/  | err: /'
  fi
  return 0
}
t_skip() { echo "SKIP: $1: $2"; }

_T_DIR=$(course_tmpdir)
t_run() {
  local limit
  limit=$(course_limit "${T_TIMEOUT:-60}")
  T_OUT=$(timeout "$limit" "$@" 2>"$_T_DIR/stderr")
  T_RC=$?
  T_ERR=$(cat "$_T_DIR/stderr")
  T_TIMED_OUT=0
  # 124: timeout(1) stopped it (a command's own 124 reads the same; none here uses it)
  if [[ $T_RC -eq 124 ]]; then
    T_TIMED_OUT=1
    T_ERR+="${T_ERR:+$'\n'}t_run: timed out: ${*:1:3} was stopped after $limit s (T_TIMEOUT=${T_TIMEOUT:-60} x COURSE_TIME_SCALE=$COURSE_TIME_SCALE)"
  fi
}

t_expect() {
  local name=$1 want=$2
  shift 2
  local outs=() errs=() nots=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do
    case "$1" in
      --out) outs+=("$2"); shift 2 ;;
      --err) errs+=("$2"); shift 2 ;;
      --not) nots+=("$2"); shift 2 ;;
      *) echo "t_expect: unknown option $1" >&2; return 2 ;;
    esac
  done
  shift
  t_run "$@"
  if ((T_TIMED_OUT)); then
    t_fail "$name" "timed out after $(course_limit "${T_TIMEOUT:-60}") s (exit status 124)"
    return 0
  fi
  if [[ "$T_RC" != "$want" ]]; then
    t_fail "$name" "exit status $T_RC, expected $want"
    return 0
  fi
  local s
  for s in "${outs[@]}"; do
    [[ "$T_OUT" == *"$s"* ]] || { t_fail "$name" "stdout lacks: $s"; return 0; }
  done
  for s in "${errs[@]}"; do
    [[ "$T_ERR" == *"$s"* ]] || { t_fail "$name" "stderr lacks: $s"; return 0; }
  done
  for s in "${nots[@]}"; do
    [[ "$T_OUT$T_ERR" != *"$s"* ]] || { t_fail "$name" "output contains: $s"; return 0; }
  done
  t_pass "$name"
}

t_true() {
  local name=$1 why=$2
  shift 2
  # T_RC cleared: the details t_fail prints belong to t_run, not to CMD
  if "$@"; then t_pass "$name"; else T_RC= t_fail "$name" "$why"; fi
}

t_world_dir() {
  local d f
  d=$(course_tmpdir)
  # course_tmpdir is 0700 like mktemp -d, and so may the checkout be (a 0700
  # home, a mktemp -d folder): other users may enter this one (and pass
  # through its parent, whose other entries stay 0700)
  chmod 711 "$_COURSE_TMPROOT"
  chmod 755 "$d"
  for f in "$@"; do cp -p "$f" "$d/" && chmod a+rX "$d/$(basename "$f")"; done
  echo "$d"
}
