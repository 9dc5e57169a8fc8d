#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06: what each layer above TLS adds. `make 06-layers` runs every
# scenario; `make 06-layers ARGS=replay` one of them; ARGS=--keep keeps the
# folder (the PKI, the server's data, every log) and says where it is.
#
# The attacker is tests/helpers/06_layers_proxy.py: a proxy that ends the
# client's TLS with a course-CA certificate for localhost and opens its own
# TLS to 06-server with the device's certificate. TLS is broken on purpose;
# what is left is the envelope, the sequence check, the channel binding and
# the token's binding. Each scenario runs twice: with one defence turned off
# by a lab switch of 06-server (off: the attack works, and the output shows
# it) and with it on (refused, and the server's reason as it printed it).
# tests/chapters/06_layers.sh sources this file and checks both halves.
#
#   layers_pki DIR            the PKI, the proxy's certificate, alice and two devices
#   layers_run NAME HALF DIR  one half (off|on); sets LAYERS_VERDICT (one line),
#                             LAYERS_OK (1: it went the way the lab sheet says),
#                             LAYERS_SERVER_LOG, LAYERS_PROXY_LOG, LAYERS_VICTIM_OUT
#   LAYERS_SCENARIOS          NAME|DEFENCE|LAB SWITCH (- none)|ATTACK

LAYERS_SCENARIOS=(
  "observe|envelope (AES-GCM)|--lab-no-envelope|the proxy reads the records it relays"
  "flip|envelope (AES-GCM tag)|--lab-no-envelope|the proxy flips one byte of a record"
  "replay|sequence check|--lab-no-seq|the proxy sends a captured request again"
  "reorder|sequence check|--lab-no-seq|the proxy holds a request back, delivers it late"
  "relay|channel binding (HELLO)|--lab-no-binding|the proxy relays the client's HELLO"
  "steal|token bound to the certificate|--lab-bearer|the proxy uses the token from another certificate"
  "drop|identical-resend cache, msg_id|-|the proxy drops an answer; the client resends"
  "reflect|direction in type, key and AAD|-|the proxy sends the server's answer back to it"
)
LAYERS_PY=/usr/bin/python3

# layers_pki DIR
layers_pki() {
  local d=$1 P=$1/pki
  mkdir -p "$d"
  {
    "${ROOT:?}/04_pki_ca/make-pki.sh" "$BIN" "$P" &&
      # the proxy's certificate: the course CA issues a second one for
      # localhost (what a mis-issuing CA or a TLS-inspection box has)
      "$BIN/minica" issue -q --dir "$P/intermediate" --pass-file "$P/ca-pass" --profile server \
        --name "$P/proxy" localhost 127.0.0.1
  } >"$d/pki.log" 2>&1 || {
    echo "layers: the PKI failed:" >&2
    sed 's/^/  | /' "$d/pki.log" >&2
    return 1
  }
  LAYERS_SRV=(--data "$d/data" --cert "$P/server-chain.crt" --key "$P/server.key"
    --device-ca "$P/devices" --pass-file "$P/ca-pass")
  printf 'correct horse battery staple\n' >"$d/alice.pw"
  chmod 600 "$d/alice.pw"
  _layers_server - || return 1
  local url="https://localhost:$LAYERS_PORT" peer=("$LAYERS_PY" "$ROOT/tests/helpers/06_peer.py")
  {
    "${peer[@]}" --url "$url" --cacert "$P/root.crt" register alice --password-file "$d/alice.pw" &&
      "${peer[@]}" --url "$url" --cacert "$P/root.crt" --home "$d/alice" enrol alice \
        --password-file "$d/alice.pw" &&
      "${peer[@]}" --url "$url" --cacert "$P/root.crt" --home "$d/alice2" enrol alice \
        --password-file "$d/alice.pw"
  } >"$d/accounts.log" 2>&1 || {
    echo "layers: registering alice and enrolling her devices failed:" >&2
    sed 's/^/  | /' "$d/accounts.log" >&2
    return 1
  }
}

# One 06-server per lab switch ("-": none), all on the same data folder,
# started when first needed and kept until layers_stop: a server takes
# about two seconds to stop, so the halves reuse them. Sets LAYERS_PORT and
# LAYERS_LOG (that server's log).
declare -A LAYERS_PORTS=() LAYERS_PIDS=() LAYERS_LOGS=()
_layers_server() {
  local sw=$1 flags=()
  if [[ -z "${LAYERS_PORTS[$sw]:-}" ]]; then
    [[ "$sw" != - ]] && flags=(--lab "$sw")
    start_server "06-server${sw/#-/}" "$BIN/06-server" --port 0 "${LAYERS_SRV[@]}" "${flags[@]}" || return 1
    LAYERS_PORTS[$sw]=$SERVER_PORT LAYERS_PIDS[$sw]=$SERVER_PID LAYERS_LOGS[$sw]=$SERVER_LOG
  fi
  LAYERS_PORT=${LAYERS_PORTS[$sw]} LAYERS_LOG=${LAYERS_LOGS[$sw]}
}

# layers_stop: SIGTERM to every server at once, then each one's exit status;
# LAYERS_STOP_BAD names those that did not exit 0 (a leak under SAN=1 is one)
layers_stop() {
  local sw pid i rc
  LAYERS_STOP_BAD=""
  for sw in "${!LAYERS_PIDS[@]}"; do kill -TERM "${LAYERS_PIDS[$sw]}" 2>/dev/null; done
  for sw in "${!LAYERS_PIDS[@]}"; do
    pid=${LAYERS_PIDS[$sw]}
    # one SIGTERM only (a second one during the shutdown would kill it)
    for ((i = 0; i < $(course_limit 10) * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    rc=$?
    [[ "$sw" == - ]] && sw="(no lab switch)"
    [[ "$rc" == 0 ]] || LAYERS_STOP_BAD+=" 06-server $sw exited $rc at SIGTERM (see ${LAYERS_LOGS[${sw/(no lab switch)/-}]});"
  done
  LAYERS_PORTS=() LAYERS_PIDS=() LAYERS_LOGS=()
}

# the line of a log that matches, or nothing
_first() { grep -m 1 -F -- "$2" "$1" 2>/dev/null; }
# the server's refusal as it printed it: its first warning that is not a LAB one
_server_reason() {
  grep -E '06-server: warning: ' "$1" | grep -v 'LAB' | head -n 1 | sed 's/^06-server: warning: //; s/^refused: //'
}

# layers_run NAME HALF DIR
layers_run() {
  local name=$1 half=$2 d=$3 P=$3/pki s switch="" line
  for s in "${LAYERS_SCENARIOS[@]}"; do
    [[ "${s%%|*}" == "$name" ]] && { IFS='|' read -r _ _ switch _ <<<"$s"; }
  done
  [[ -n "$switch" ]] || { echo "layers: no scenario $name" >&2; return 2; }
  [[ "$half" == off && "$switch" == - ]] && { echo "layers: $name has no lab switch" >&2; return 2; }
  local srv=("${LAYERS_SRV[@]}") mode=$name vic=() w=$d/$name-$half
  mkdir -p "$w"
  [[ "$half" == off ]] && srv+=(--lab "$switch")
  case "$name" in
    observe | flip) [[ "$half" == off ]] && vic+=(--no-envelope) ;;
    relay)
      mode=observe
      vic+=(--hello-via-proxy)
      # both halves the same client, one that does not bind (signs over no
      # exporter; checks HELLO_ACK with the server's pinned certificate): only
      # the server's switch differs. A binding client is refused anyway: its
      # HELLO is signed over the exporter of its TLS connection to the proxy
      vic+=(--unbound --server-cert "$P/server.crt")
      ;;
  esac
  local sw=-
  [[ "$half" == off ]] && sw=$switch
  LAYERS_SERVER_CMD="06-server${sw/#-/}"
  [[ "$half" == off ]] && LAYERS_SERVER_CMD="06-server --lab $sw"
  _layers_server "$sw" || return 1
  local sport=$LAYERS_PORT slog=$LAYERS_LOG from
  from=$(($(wc -l <"$slog") + 1))
  start_server "proxy-$name-$half" "$LAYERS_PY" "$ROOT/tests/helpers/06_layers_proxy.py" proxy \
    --upstream "https://localhost:$sport" --cacert "$P/root.crt" --cert "$P/proxy-chain.crt" \
    --key "$P/proxy.key" --device-cert "$d/alice/device.crt" --device-key "$d/alice/device.key" \
    --steal-cert "$d/alice2/device.crt" --steal-key "$d/alice2/device.key" --mode "$mode" || return 1
  local ppid=$SERVER_PID pport=$SERVER_PORT
  LAYERS_PROXY_LOG=$SERVER_LOG
  LAYERS_VICTIM_CMD="victim ${vic[*]}"
  timeout "$(course_limit 60)" "$LAYERS_PY" "$ROOT/tests/helpers/06_layers_proxy.py" victim \
    --url "https://localhost:$pport" --direct "https://localhost:$sport" --cacert "$P/root.crt" \
    --home "$d/alice" "${vic[@]}" >"$w/victim.out" 2>&1
  LAYERS_VICTIM_OUT=$w/victim.out
  # the proxy acts right after it relays an answer, before it reads the
  # client's next request: when the victim is done, so is the proxy
  stop_server "$ppid"
  # this half's part of the server's log, and the proxy's
  tail -n "+$from" "$slog" >"$w/server.log"
  cp "$LAYERS_PROXY_LOG" "$w/proxy.log"
  LAYERS_SERVER_LOG=$w/server.log LAYERS_PROXY_LOG=$w/proxy.log
  layers_judge "$name" "$half"
}

# layers_judge NAME HALF: LAYERS_OK and LAYERS_VERDICT from the three logs
layers_judge() {
  local name=$1 half=$2 S=$LAYERS_SERVER_LOG X=$LAYERS_PROXY_LOG V=$LAYERS_VICTIM_OUT line why
  LAYERS_OK=0
  why=$(_server_reason "$S")
  case "$name-$half" in
    observe-off)
      line=$(_first "$X" 'proxy: READ the record in the clear: {"FirstName":"Pedro"')
      [[ -n "$line" ]] && LAYERS_OK=1 && LAYERS_VERDICT="the proxy read the record's text: ${line#proxy: READ the record in the clear: }"
      LAYERS_CELL="read the record's text" ;;
    observe-on)
      line=$(_first "$X" 'nothing to read')
      [[ -n "$line" ]] && ! grep -q 'READ the record' "$X" && LAYERS_OK=1 &&
        LAYERS_VERDICT="the proxy saw only ciphertext: ${line#proxy: }"
      LAYERS_CELL="ciphertext only" ;;
    flip-off)
      line=$(_first "$S" "op 'record' refused: ")
      [[ -n "$line" ]] && grep -q 'FLIPPED one byte of the record in the clear' "$X" && LAYERS_OK=1 &&
        LAYERS_VERDICT="the changed record reached the application; only the device's signature, one layer down, refused it: ${line#*refused: }"
      LAYERS_CELL="changed in transit; only the signature caught it" ;;
    flip-on)
      [[ "$why" == *"authentication failed"* ]] && grep -q 'HTTP 400' "$V" && LAYERS_OK=1 &&
        LAYERS_VERDICT="refused at the tag, before anything was read: $why"
      LAYERS_CELL="400: authentication failed" ;;
    replay-off)
      line=$(_first "$X" 'proxy: REPLAYED seq 2 (after seq 3): HTTP 200, the server acted on it')
      [[ -n "$line" ]] && grep -q 'LAB --lab-no-seq: seq 2 is not above the last' "$S" && LAYERS_OK=1 &&
        LAYERS_VERDICT="the replayed request was opened and acted on again: ${line#*acted on it: } (the store's msg_id check, one layer down, kept it to one record)"
      LAYERS_CELL="acted on again (store: duplicate)" ;;
    replay-on)
      line=$(_first "$X" 'proxy: REPLAYED seq 2 (after seq 3): HTTP 409')
      [[ -n "$line" && "$why" == *"seq is below the last one"* ]] && LAYERS_OK=1 &&
        LAYERS_VERDICT="refused: $why"
      LAYERS_CELL="409: seq below the last" ;;
    reorder-off)
      line=$(_first "$X" 'proxy: DELIVERED seq 2 LATE (after seq 3): HTTP 200, the server acted on it')
      [[ "$line" == *'"status": "stored"'* ]] && grep -q 'LAB --lab-no-seq' "$S" && LAYERS_OK=1 &&
        LAYERS_VERDICT="the held-back record was stored after the later one: ${line#*acted on it: }"
      LAYERS_CELL="stored out of order" ;;
    reorder-on)
      line=$(_first "$X" 'proxy: DELIVERED seq 2 LATE (after seq 3): HTTP 409')
      [[ -n "$line" && "$why" == *"seq is below the last one"* ]] && LAYERS_OK=1 &&
        LAYERS_VERDICT="refused: $why"
      LAYERS_CELL="409: seq below the last" ;;
    relay-off)
      line=$(_first "$V" 'victim: HELLO through the proxy (signed over no exporter): HTTP 200')
      [[ -n "$line" ]] && grep -q 'LAB --lab-no-binding' "$S" && LAYERS_OK=1 &&
        LAYERS_VERDICT="the relayed HELLO opened a session: ${line#victim: }"
      LAYERS_CELL="relayed HELLO opened a session" ;;
    relay-on)
      line=$(_first "$V" 'victim: HELLO through the proxy: HTTP 403')
      [[ -n "$line" && "$why" == *"the signature does not verify"* ]] && LAYERS_OK=1 &&
        LAYERS_VERDICT="refused: $why"
      LAYERS_CELL="403: signature does not verify" ;;
    steal-off)
      line=$(_first "$X" 'HTTP 200, it worked')
      [[ -n "$line" ]] && grep -q 'LAB --lab-bearer: this token was issued to another certificate' "$S" &&
        LAYERS_OK=1 && LAYERS_VERDICT="the stolen token worked from another certificate: ${line#*it worked: }"
      LAYERS_CELL="stolen token worked" ;;
    steal-on)
      line=$(_first "$X" 'GET /v1/whoami: HTTP 401')
      [[ -n "$line" && -n "$why" ]] && LAYERS_OK=1 && LAYERS_VERDICT="refused: $why"
      LAYERS_CELL="401: token bound to another certificate" ;;
    drop-on)
      line=$(_first "$V" 'victim: record seq 2: {')
      [[ "$line" == *'"status": "stored"'* ]] && grep -q 'DROPPED the answer to seq 2' "$X" &&
        grep -q 'seq 2 again, byte for byte' "$S" &&
        [[ $(grep -c 'record [0-9]* stored' "$S") == 2 ]] && LAYERS_OK=1 &&
        LAYERS_VERDICT="the client's resend got the first answer back, byte for byte; two records sent, two stored: ${line#victim: }"
      LAYERS_CELL="resend answered from the cache, stored once" ;;
    reflect-on)
      line=$(_first "$X" 'REFLECTED its ct retyped as DATA_REQUEST')
      [[ "$line" == *'authentication failed'* ]] &&
        grep -q 'REFLECTED the DATA_RESPONSE back as a request: HTTP 400: this endpoint takes DATA_REQUEST' "$X" &&
        LAYERS_OK=1 && LAYERS_VERDICT="refused twice: this endpoint takes DATA_REQUEST envelopes; retyped: authentication failed (the other direction's key and AAD)"
      LAYERS_CELL="400: wrong type; retyped: authentication failed" ;;
  esac
  [[ $LAYERS_OK == 1 ]] || LAYERS_VERDICT="UNEXPECTED (see $S, $X, $V)"
  return 0
}

# Run directly (make 06-layers [ARGS="NAME... --keep"]).
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -uo pipefail
  ROOT=$(cd "$(dirname "$0")/.." && pwd)
  cd "$ROOT" || exit 1
  export BIN=${BIN:-$ROOT/build/bin}
  source scripts/lib.sh
  keep=0 only=()
  for a in "$@"; do
    case "$a" in
      --keep) keep=1 ;;
      -h | --help)
        echo "usage: layers.sh [--keep] [SCENARIO...]  (make 06-layers ARGS=\"replay --keep\")"
        printf '  %s\n' "${LAYERS_SCENARIOS[@]%%|*}"
        exit 0 ;;
      *)
        ok=0
        for s in "${LAYERS_SCENARIOS[@]}"; do [[ "${s%%|*}" == "$a" ]] && ok=1; done
        [[ $ok == 1 ]] || { echo "layers: no scenario '$a'; there are: ${LAYERS_SCENARIOS[*]%%|*}" >&2; exit 2; }
        only+=("$a") ;;
    esac
  done
  if [[ $keep == 1 ]]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/06-layers.XXXXXX"); else dir=$(course_tmpdir); fi
  echo "== the course PKI, the proxy's certificate, alice and two devices (in $dir)"
  layers_pki "$dir" || exit 1
  shortp() { sed "s#$dir/##g"; }
  # run the halves grouped by server (the defences on first: the setup's
  # server), then show them scenario by scenario
  declare -A R_OK=() R_VERDICT=() R_CELL=() R_CMD=() R_VIC=()
  sel=()
  for s in "${LAYERS_SCENARIOS[@]}"; do
    name=${s%%|*}
    [[ ${#only[@]} -gt 0 && " ${only[*]} " != *" $name "* ]] || sel+=("$s")
  done
  for sw in - --lab-no-envelope --lab-no-seq --lab-no-binding --lab-bearer; do
    for s in "${sel[@]}"; do
      IFS='|' read -r name _ switch _ <<<"$s"
      if [[ $sw == - ]]; then half=on; elif [[ $switch == "$sw" ]]; then half=off; else continue; fi
      if layers_run "$name" "$half" "$dir"; then
        R_OK[$name-$half]=$LAYERS_OK R_VERDICT[$name-$half]=$LAYERS_VERDICT R_CELL[$name-$half]=$LAYERS_CELL
        R_CMD[$name-$half]=$LAYERS_SERVER_CMD R_VIC[$name-$half]=$LAYERS_VICTIM_CMD
      else
        R_OK[$name-$half]=0 R_VERDICT[$name-$half]="did not run" R_CELL[$name-$half]="did not run"
      fi
    done
  done
  layers_stop
  fails=0 rows=()
  for s in "${sel[@]}"; do
    IFS='|' read -r name defence switch attack <<<"$s"
    echo
    echo "== $name: $attack (defence: $defence)"
    cells=()
    for half in off on; do
      if [[ $half == off && $switch == - ]]; then
        cells+=("(no lab switch)")
        continue
      fi
      w=$dir/$name-$half
      echo "-- $half: ${R_CMD[$name-$half]:-}; the proxy in mode ${name/relay/observe}; ${R_VIC[$name-$half]:-}" |
        shortp
      lines=$(grep -E '^proxy: (READ|FLIPPED|REPLAYED|DELIVERED|HELD|DROPPED|REFLECTED|the stolen|saw HELLO)' \
        "$w/proxy.log" 2>/dev/null)
      [[ -n "$lines" ]] || lines=$(grep -E '^proxy: .*nothing to read' "$w/proxy.log" 2>/dev/null)
      [[ -z "$lines" ]] || printf '%s\n' "$lines" | head -n 4 | cut -c1-200 | shortp
      grep -E '^victim: ' "$w/victim.out" 2>/dev/null | head -n 3 | cut -c1-200
      grep -E '06-server: warning: ' "$w/server.log" 2>/dev/null | head -n 2 | cut -c1-200 |
        sed 's/^06-server: /server: /'
      echo "=> $half: ${R_VERDICT[$name-$half]}" | shortp
      [[ ${R_OK[$name-$half]} == 1 ]] || fails=$((fails + 1))
      cells+=("${R_CELL[$name-$half]}")
    done
    rows+=("$defence|$attack|${cells[0]}|${cells[1]}")
  done
  echo
  echo "== summary: what each layer adds when TLS is broken"
  {
    echo "defence|attack|off|on"
    printf '%s\n' "${rows[@]}"
  } | column -t -s '|' -o ' | '
  echo
  if [[ -n "$LAYERS_STOP_BAD" ]]; then
    echo "layers:$LAYERS_STOP_BAD" >&2
    fails=$((fails + 1))
  fi
  [[ $keep == 1 ]] && echo "kept: $dir (the PKI, the data, each scenario's server.log, proxy.log, victim.out)"
  if [[ $fails -gt 0 ]]; then
    echo "layers: $fails check(s) did not go the way the lab sheet says" >&2
    exit 1
  fi
  echo "every defence shown: off, the attack works; on, refused"
fi
