#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 06, what each layer above TLS adds (make 06-layers): every scenario
# of 06_full_protocol/layers.sh, both halves. With the defence off (a lab
# switch of 06-server) the attack must work, and the output must show it; with
# it on, it must be refused with the server's reason. So each defence's test
# is shown to be able to fail. Also: every lab switch is refused without
# --lab, and says so loudly when used. About 35 s (one PKI, five servers).
source "$(dirname "$0")/../lib.sh"
ROOT=$COURSE_ROOT
source "$ROOT/06_full_protocol/layers.sh"
t0=$SECONDS
tmp=$(course_tmpdir)

# ---- each lab switch needs --lab (checked before anything is loaded) ----
for sw in --lab-no-envelope --lab-no-seq --lab-no-binding --lab-bearer; do
  t_expect "06 layers: $sw without --lab is refused (usage, exit 2): a defence is never off by one word" 2 \
    --err "$sw turns a defence off: it needs --lab as well" \
    -- "$BIN/06-server" --port 0 --data "$tmp/never" "$sw"
done
t_true "06 layers: a refused lab switch made no data folder" "$(ls "$tmp")" test ! -e "$tmp/never"

if ! layers_pki "$tmp" 2>"$tmp/pki.err"; then
  t_fail "06 layers: the PKI, the proxy's certificate and alice's two devices are made" "$(tail -n 8 "$tmp/pki.err")"
  exit 0
fi

# NAME-HALF|test name
NAMES=(
  "observe-off|06 layers: envelope off (--lab-no-envelope): the proxy reads the record's text"
  "observe-on|06 layers: envelope on: the proxy sees only ciphertext, never the record's text"
  "flip-off|06 layers: envelope off: a byte the proxy flipped in the record reaches the application (only the device's signature refuses it)"
  "flip-on|06 layers: envelope on: a flipped ciphertext byte is refused at the tag (400 authentication failed)"
  "replay-off|06 layers: sequence check off (--lab-no-seq): a replayed request is opened and acted on again"
  "replay-on|06 layers: sequence check on: a replayed request is refused (409, seq below the last)"
  "reorder-off|06 layers: sequence check off: a request held back and delivered late is stored after the later one"
  "reorder-on|06 layers: sequence check on: a request delivered late is refused (409, seq below the last)"
  "relay-off|06 layers: channel binding off (--lab-no-binding): a HELLO relayed by the proxy opens a session"
  "relay-on|06 layers: channel binding on: a HELLO relayed by the proxy is refused (403, the signature does not verify)"
  "steal-off|06 layers: token binding off (--lab-bearer): the token the proxy stole works from another certificate"
  "steal-on|06 layers: token binding on: the stolen token is refused from another certificate (401)"
  "drop-on|06 layers: an answer the proxy dropped: the client's resend gets it from the cache, the record is stored once"
  "reflect-on|06 layers: the server's own answer reflected back is refused (wrong type; retyped: authentication failed)"
)
# grouped by server, as layers.sh runs them: the defences on first
for sw in - --lab-no-envelope --lab-no-seq --lab-no-binding --lab-bearer; do
  for s in "${LAYERS_SCENARIOS[@]}"; do
    IFS='|' read -r name _ switch _ <<<"$s"
    if [[ $sw == - ]]; then half=on; elif [[ $switch == "$sw" ]]; then half=off; else continue; fi
    test_name=""
    for n in "${NAMES[@]}"; do [[ "${n%%|*}" == "$name-$half" ]] && test_name=${n#*|}; done
    if ! layers_run "$name" "$half" "$tmp" 2>"$tmp/run.err"; then
      t_fail "$test_name" "the scenario did not run: $(tail -n 5 "$tmp/run.err")"
      continue
    fi
    why="$LAYERS_VERDICT"$'\n'"$(tail -n 6 "$LAYERS_PROXY_LOG")"$'\n'"$(tail -n 4 "$LAYERS_VICTIM_OUT")"$'\n'"$(grep warning "$LAYERS_SERVER_LOG" | head -n 4)"
    t_true "$test_name" "$why" test "$LAYERS_OK" = 1
  done
done

# ---- loud: each lab server said so at start, and on each request it let through ----
for sw in --lab-no-envelope --lab-no-seq --lab-no-binding --lab-bearer; do
  log=${LAYERS_LOGS[$sw]:-/nonexistent}
  t_true "06 layers: 06-server $sw warns at start" "$(head -n 12 "$log" 2>&1)" grep -q -- "warning: LAB: $sw" "$log"
done
t_true "06 layers: --lab-no-envelope warns on each request it takes as plaintext" \
  "$(grep -c 'LAB --lab-no-envelope: DATA_REQUEST seq' "${LAYERS_LOGS[--lab-no-envelope]}")" \
  test "$(grep -c 'LAB --lab-no-envelope: DATA_REQUEST seq' "${LAYERS_LOGS[--lab-no-envelope]}")" -ge 6
t_true "06 layers: the defences-on server never printed a LAB line" \
  "$(grep LAB "${LAYERS_LOGS[-]}")" bash -c '! grep -q LAB "$1"' _ "${LAYERS_LOGS[-]}"

layers_stop
t_true "06 layers: every server (each lab switch, and none) stops cleanly on SIGTERM (exit 0)" \
  "$LAYERS_STOP_BAD" test -z "$LAYERS_STOP_BAD"
echo "06 layers: took $((SECONDS - t0)) s"
