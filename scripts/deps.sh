#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make sure every Debian package the course needs is installed.
#
#   scripts/deps.sh            check; as root install what is missing, otherwise
#                              print the exact apt-get line and exit 1
#   scripts/deps.sh --list     print the package list and exit
#
# COURSE_EXTRA_PACKAGES="a b" adds packages to check (used by the test of
# this script, and handy while a chapter is in development).
# The list is the one place the course names its Debian packages (DESIGN.md
# section 2). Installing is non-interactive so it works in CI with no terminal.
set -euo pipefail

PACKAGES=(
  # build
  gcc make pkg-config dpkg-dev xz-utils ca-certificates
  clang-14 libclang-rt-14-dev # make fuzz and its test lane: clang, libFuzzer and its sanitizers
  # libraries (headers)
  libssl-dev libcurl4-openssl-dev libjansson-dev libsqlite3-dev libjwt-dev
  libargon2-dev libcmocka-dev
  # test peers and capture
  openssl curl tshark python3 python3-cryptography python3-jwt strace
  chromium libnss3-tools testssl.sh nginx wrk # chapter 05: browser, scan, HTTPS bench
  python3-openssl python3-websocket python3-argon2 # chapter 06: EST, push, password-hash peers
  gnuplot-nox # make bench: chapter 06's plot of records/s against sessions
  xxd jq tmux # the sheets' recompute-it-yourself recipes (xxd, jq), the 06 menu test (tmux)
)

# shellcheck disable=SC2206
PACKAGES+=(${COURSE_EXTRA_PACKAGES:-})

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run as root:  sudo apt-get update && sudo $line" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer "no" without a prompt
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -q
# shellcheck disable=SC2086
$line -q
