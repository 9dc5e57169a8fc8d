#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# browser.sh - `make 05-browser`: a real browser (Debian's Chromium, headless)
# loads https://localhost:PORT/page from 05-server.
#
# The browser trusts only the course CA, through a throw-away NSS database
# (certutil) under a temporary HOME: the system's and the user's trust stores
# are never touched. First a control run with an empty database (the browser
# must refuse the certificate), then the real one: the page title is read from
# the DOM and a screenshot is saved as build/05-browser/page.png.
#
#   BIN=build/bin 05_https_server/browser.sh [PKI_DIR]   (default build/pki)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
export BIN=${BIN:-$ROOT/build/bin}
PKI=${1:-build/pki}
OUT=${BROWSER_OUT:-build/05-browser}
TITLE="Chapter 05: HTTPS"
source scripts/lib.sh

for tool in chromium certutil; do
  command -v "$tool" >/dev/null || {
    echo "05-browser: error: $tool is not installed (Debian packages chromium, libnss3-tools)" >&2
    echo "hint: make deps (as root) installs them" >&2
    exit 1
  }
done
[[ -f "$PKI/root.crt" ]] || { echo "05-browser: error: no $PKI/root.crt" >&2; echo "hint: make pki" >&2; exit 1; }

tmp=$(course_tmpdir)
# chromium HOME with an NSS db: $HOME/.pki/nssdb is where Chromium on Linux
# looks for locally trusted CAs
newdb() {
  mkdir -p "$1/.pki/nssdb"
  certutil -d "sql:$1/.pki/nssdb" -N --empty-password
}
chromium_run() { # chromium_run HOME PROFILE ARGS... ; quiet and bounded
  local home=$1 profile=$2
  shift 2
  HOME=$home timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" "$@" 2>>"$tmp/chromium.log"
}

start_server 05-server "$BIN/05-server" --port 0 --cert "$PKI/server-chain.crt" \
  --key "$PKI/server.key" || exit 1
url="https://localhost:$SERVER_PORT/page"

echo "1. control: a browser that does not trust the course CA (empty NSS database)"
newdb "$tmp/untrusting"
dom=$(chromium_run "$tmp/untrusting" "$tmp/profile0" --dump-dom "$url")
if grep -q "<title>$TITLE</title>" <<<"$dom"; then
  echo "05-browser: error: the browser showed the page without trusting the CA" >&2
  exit 1
fi
echo "   refused: no page (the server logged: $(grep -o 'alert certificate unknown' "$SERVER_LOG" | head -n 1))"

echo "2. a throw-away NSS database that trusts only the course CA ($PKI/root.crt)"
newdb "$tmp/home"
certutil -d "sql:$tmp/home/.pki/nssdb" -A -t "C,," -n "HTTPS from the ground up - course root" \
  -i "$PKI/root.crt" || exit 1
certutil -d "sql:$tmp/home/.pki/nssdb" -L | grep -i 'course root' | sed 's/^/   trusted: /'

echo "3. headless Chromium loads $url"
dom=$(chromium_run "$tmp/home" "$tmp/profile" --dump-dom "$url")
title=$(grep -o '<title>[^<]*</title>' <<<"$dom" | sed 's/<[^>]*>//g')
if [[ "$title" != "$TITLE" ]]; then
  echo "05-browser: error: page title is '$title', expected '$TITLE'" >&2
  sed 's/^/  | /' "$tmp/chromium.log" | grep -v dbus | tail -n 5 >&2
  exit 1
fi
echo "   page title: $title"
mkdir -p "$OUT"
chromium_run "$tmp/home" "$tmp/profile" --window-size=900,500 --screenshot="$OUT/page.png" "$url" \
  >/dev/null
if [[ ! -s "$OUT/page.png" ]]; then
  echo "05-browser: error: no screenshot written" >&2
  exit 1
fi
echo "4. screenshot: $OUT/page.png ($(stat -c %s "$OUT/page.png") bytes)"
echo "the browser verified the chain and the name localhost against the course CA alone"
