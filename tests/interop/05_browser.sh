#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 05 in a real browser: 05_https_server/browser.sh (make 05-browser)
# with a PKI made here. The browser must refuse the server while its NSS
# database is empty, then load the page once the course CA is in it.
source "$(dirname "$0")/../lib.sh"
tmp=$(course_tmpdir)
if ! command -v chromium >/dev/null || ! command -v certutil >/dev/null; then
  t_skip "05 browser" "chromium or certutil (libnss3-tools) is not installed; make deps installs them"
  exit 0
fi
04_pki_ca/make-pki.sh "$BIN" "$tmp/pki" >/dev/null 2>&1 || { t_fail "05 browser: PKI" "make-pki.sh failed"; exit 0; }
t_expect "05 browser: headless Chromium loads /page trusting only the course CA" 0 \
  --out "refused: no page" --out "page title: Chapter 05: HTTPS" --out "screenshot: $tmp/shots/page.png" \
  -- env BROWSER_OUT="$tmp/shots" "$COURSE_ROOT/05_https_server/browser.sh" "$tmp/pki"
t_true "05 browser: the screenshot is a PNG" "$(file "$tmp/shots/page.png" 2>&1)" \
  bash -c 'head -c 8 "$1" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a"' _ "$tmp/shots/page.png"
t_true "05 browser: the user's own NSS database was not touched" "$HOME/.pki/nssdb lists the course CA" \
  bash -c '! certutil -d "sql:$HOME/.pki/nssdb" -L 2>/dev/null | grep -qi "course root"'
