#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The set-up the README promises: the dependency step and `make doctor`.
source "$(dirname "$0")/../lib.sh"
cd "$COURSE_ROOT"

t_expect "setup: deps.sh is silent when everything is installed" 0 -- scripts/deps.sh
t_true "setup: deps.sh --list names the libraries of DESIGN.md" "list incomplete" \
  bash -c 'l=$(scripts/deps.sh --list); for p in libssl-dev libcurl4-openssl-dev libjansson-dev libsqlite3-dev libjwt-dev libargon2-dev libcmocka-dev tshark python3-cryptography python3-jwt; do grep -qx "$p" <<<"$l" || exit 1; done'
if command -v runuser >/dev/null && [[ $(id -u) -eq 0 ]]; then
  # as a user who may not install, a missing package gives the exact line to run;
  # nobody runs a copy, since the checkout may be in a folder only we can enter
  w=$(t_world_dir scripts/deps.sh)
  t_expect "setup: deps.sh as non-root prints the exact apt-get line" 1 \
    --err "deps: run as root:  sudo apt-get update && sudo apt-get install -y --no-install-recommends course-no-such-package" \
    -- runuser -u nobody -- env -C "$w" COURSE_EXTRA_PACKAGES=course-no-such-package ./deps.sh
else
  t_skip "setup: deps.sh as non-root prints the exact apt-get line" "needs root to switch to user nobody"
fi
t_expect "setup: make doctor reports every check green" 0 --out "make doctor: all checks passed" \
  --not "FAIL" -- env BIN="$BIN" scripts/doctor.sh
# Wireshark: the GUI and capture as a user are optional, said as notes with how
# to set them up (a fake wireshark on PATH stands for the GUI being installed)
fakebin=$(course_tmpdir)
if ! command -v wireshark >/dev/null; then
  t_expect "setup: make doctor without the Wireshark GUI says how to get it, and the SSH way" 0 \
    --out "note  Wireshark GUI                not installed" --out "sudo apt-get install wireshark" \
    --out "| wireshark -k -i -" --out "ssh -L 8005:localhost:8005" -- env -u DISPLAY -u WAYLAND_DISPLAY BIN="$BIN" scripts/doctor.sh
fi
printf '#!/bin/sh\necho "Wireshark 4.0.17 (fake, for the test)"\n' >"$fakebin/wireshark"
chmod +x "$fakebin/wireshark"
t_expect "setup: make doctor with the GUI but no display says so (capture here, view elsewhere)" 0 \
  --out "Wireshark GUI                installed, but this session has no display" \
  -- env -u DISPLAY -u WAYLAND_DISPLAY PATH="$fakebin:$PATH" BIN="$BIN" scripts/doctor.sh
t_expect "setup: make doctor with the GUI and a display: ok" 0 --out "ok    Wireshark GUI                Wireshark 4.0.17 (fake" \
  -- env DISPLAY=:99 PATH="$fakebin:$PATH" BIN="$BIN" scripts/doctor.sh
if [[ $(id -u) -eq 0 ]]; then
  if [[ $(stat -L -c %G "$(command -v dumpcap)") != wireshark ]]; then
    t_expect "setup: make doctor as root says an ordinary account cannot capture yet, and how to allow it" 0 \
      --out "note  capture as a user            root can capture; an ordinary account cannot yet" \
      --out "sudo dpkg-reconfigure wireshark-common (answer yes), sudo usermod -aG wireshark USER" \
      -- env BIN="$BIN" scripts/doctor.sh
  else
    t_expect "setup: make doctor as root sees dumpcap set up for group wireshark" 0 \
      --out "ok    capture as a user" -- env BIN="$BIN" scripts/doctor.sh
  fi
fi
t_true "setup: civetweb was built from the pinned Debian source" "no pinned tarball in build/civetweb/src" \
  bash -c 'echo "ec372e9737bc820118bbb735f46a07d41f795814ca0f38bc6e67048e7a460f33  build/civetweb/src/civetweb_1.15+dfsg.orig.tar.xz" | sha256sum -c --quiet'
t_true "setup: civetweb's deb-src lists live in the private APT_CONFIG under build/" "no private apt.conf" \
  grep -q 'Dir::Etc::SourceParts "'"$COURSE_ROOT"'/build/civetweb/apt/sources.list.d"' build/civetweb/apt/apt.conf

# ---- the build and the harness ------------------------------------------------
tmp=$(course_tmpdir)
# a make of its own: not the SAN=1, -j or ONLY= of the make test that runs this
mk=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SAN make --no-print-directory)
# make -jN: civetweb's two files come from one recipe (a grouped target), so a
# build that needs both runs it once; as two rules, -j2 ran two apt downloads
# at once and one failed on the other's lock
t_true "setup: civetweb's two files are made by one run of its recipe (make -j)" \
  "make -n printed build-civetweb.sh other than once: $("${mk[@]}" -n -j2 CIVETWEB="$tmp/cw" \
    "$tmp/cw/libcivetweb.a" "$tmp/cw/include/civetweb.h" 2>&1 | grep -c build-civetweb.sh)" \
  bash -c 'test "$("${@:2}" -n -j2 CIVETWEB="$1/cw" "$1/cw/libcivetweb.a" \
    "$1/cw/include/civetweb.h" 2>&1 | grep -c build-civetweb.sh)" = 1' _ "$tmp" "${mk[@]}"
# a pkg-config module that is missing stops the build with its name and the
# Debian package, not with a compiler error about a header far from the cause
mkdir -p "$tmp/no-pc"
t_expect "setup: a missing pkg-config module stops the build naming it and its Debian package" 2 \
  --err "pkg-config module 'openssl' not found: the Debian package libssl-dev is not installed" \
  --err "make deps" --err "scripts/deps.sh" \
  -- env PKG_CONFIG_LIBDIR="$tmp/no-pc" "${mk[@]}" -n BUILD="$tmp/b" "$tmp/b/bin/01-server"
# make diff-NN: one rule for every chapter, from the chapter.mk's PREV_NN, NEW_NN
t_expect "setup: make diff-05 exits 0, names the tls module and shows its header and the diff" 0 \
  --out "== chapter 05 (05_https_server), after 01_plain_http, introduces the module(s): tls" \
  --out "== common/tls/tls.h (public header of module tls)" \
  --out "+++ 05_https_server/server.c" --out "+++ 05_https_server/client.c" \
  -- "${mk[@]}" -s diff-05
t_expect "setup: make diff-NN fails on diff's real error (status 2), not on a difference" 2 \
  --err "diff-05: error: diff no_such_chapter/server.c 05_https_server/server.c failed (exit status 2)" \
  -- "${mk[@]}" -s diff-05 PREV_05=no_such_chapter
# ONLY= picks unit tests by the name of their source (tests/unit/test_NAME)
t_expect "setup: make test ONLY=unit/test_narrate runs that unit test and nothing else" 0 \
  --out "test_narrate" --out " passed, 0 failed, 0 skipped" --not "test_fernet" --not "== chapters" \
  -- env ONLY=unit/test_narrate UNIT="$(dirname "$BIN")/tests" tests/run.sh
# a command stopped by its time limit is a FAIL that says so (what it printed
# before is not judged): what a scan on a busy machine must report
out=$(COURSE_TIME_SCALE=1 T_TIMEOUT=1 t_expect "slow" 0 --out "started" -- bash -c 'echo started; sleep 5')
t_true "setup: a command past its time limit is a FAIL that names the limit" "$out" \
  test "$(head -n 1 <<<"$out")" = "FAIL: slow: timed out after 1 s (exit status 124)"
