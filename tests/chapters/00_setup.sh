#!/usr/bin/env bash
# The set-up the README promises: the dependency step and `make doctor`.
source "$(dirname "$0")/../lib.sh"
cd "$COURSE_ROOT"

t_expect "setup: deps.sh is silent when everything is installed" 0 -- scripts/deps.sh
t_true "setup: deps.sh --list names the libraries of DESIGN.md" "list incomplete" \
  bash -c 'l=$(scripts/deps.sh --list); for p in libssl-dev libcurl4-openssl-dev libjansson-dev libsqlite3-dev libjwt-dev libargon2-dev libcmocka-dev tshark python3-cryptography python3-jwt; do grep -qx "$p" <<<"$l" || exit 1; done'
if command -v runuser >/dev/null && [[ $(id -u) -eq 0 ]]; then
  # as a user who may not install, a missing package gives the exact line to run
  t_expect "setup: deps.sh as non-root prints the exact apt-get line" 1 \
    --err "deps: run as root:  sudo apt-get update && sudo apt-get install -y --no-install-recommends course-no-such-package" \
    -- runuser -u nobody -- env COURSE_EXTRA_PACKAGES=course-no-such-package scripts/deps.sh
else
  t_skip "setup: deps.sh as non-root prints the exact apt-get line" "needs root to switch to user nobody"
fi
t_expect "setup: make doctor reports every check green" 0 --out "make doctor: all checks passed" \
  --not "FAIL" -- env BIN="$BIN" scripts/doctor.sh
t_true "setup: civetweb was built from the pinned Debian source" "no pinned tarball in build/civetweb/src" \
  bash -c 'echo "ec372e9737bc820118bbb735f46a07d41f795814ca0f38bc6e67048e7a460f33  build/civetweb/src/civetweb_1.15+dfsg.orig.tar.xz" | sha256sum -c --quiet'
t_true "setup: civetweb's deb-src lists live in the private APT_CONFIG under build/" "no private apt.conf" \
  grep -q 'Dir::Etc::SourceParts "'"$COURSE_ROOT"'/build/civetweb/apt/sources.list.d"' build/civetweb/apt/apt.conf
