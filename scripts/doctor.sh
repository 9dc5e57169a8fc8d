#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/doctor.sh - `make doctor`: is this machine ready for the course?
# One line per check, with a fix where one fails. Exit status 0 only if all pass.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BIN=${BIN:-${COURSE_BIN:-$ROOT/build/bin}}
source scripts/lib.sh
source scripts/capture.sh
bad=0
ok() { printf '  ok    %-28s %s\n' "$1" "$2"; }
no() {
  printf '  FAIL  %-28s %s\n' "$1" "$2"
  printf '        %-28s fix: %s\n' "" "$3"
  bad=$((bad + 1))
}
# first line of a command's output; no pipe into head, whose early exit can
# kill the writer with SIGPIPE and, under pipefail, fail the check at random
ver() {
  local out
  out=$("$@" 2>/dev/null) || return 1
  printf '%s' "${out%%$'\n'*}"
}
apt_fix() { echo "sudo apt-get install $*   (or run 'make test' as root)"; }
note() { # an optional part missing: said, with how to set it up, not counted as a failure
  printf '  note  %-28s %s\n' "$1" "$2"
  printf '        %-28s how: %s\n' "" "$3"
}
ssh_view_hint() {
  echo "ssh LAB 'dumpcap -i lo -f \"tcp port 8005\" -w -' | wireshark -k -i -   (live), or copy build/captures/*.pcapng and its .keylog to your computer; ssh -L 8005:localhost:8005 LAB lets your own browser reach a lab server"
}
# may an ordinary user run dumpcap? Debian's wireshark-common (answered yes)
# gives it to group wireshark, mode 0750, with capture capabilities
dumpcap_for_users() {
  local d
  d=$(command -v dumpcap) || return 1
  getent group wireshark >/dev/null || return 1
  [[ $(stat -L -c '%G' "$d") == wireshark ]] || return 1
  if command -v getcap >/dev/null; then
    [[ $(getcap "$(readlink -f "$d")" 2>/dev/null) == *cap_net_raw* ]] || return 1
  fi
}

echo "make doctor: checking this machine for the course"
if v=$(ver cc --version); then ok "C compiler" "$v"; else no "C compiler" "cc not found" "$(apt_fix gcc)"; fi
if v=$(ver make --version); then ok "make" "$v"; else no "make" "not found" "$(apt_fix make)"; fi

for lib in openssl:libssl-dev libcurl:libcurl4-openssl-dev jansson:libjansson-dev sqlite3:libsqlite3-dev \
  libjwt:libjwt-dev libargon2:libargon2-dev cmocka:libcmocka-dev; do
  pc=${lib%%:*} pkg=${lib#*:}
  if v=$(pkg-config --modversion "$pc" 2>/dev/null); then
    ok "library $pc" "$v"
  else
    no "library $pc" "not found by pkg-config" "$(apt_fix "$pkg")"
  fi
done
# OpenSSL must be 3.x: the course uses EVP_MAC, EVP_KDF and the 3.0 API only
if v=$(pkg-config --modversion openssl 2>/dev/null) && [[ "$v" != 3.* ]]; then
  no "OpenSSL 3" "found $v" "the course needs OpenSSL 3 (Debian 12 ships 3.0)"
fi

# civetweb: built here from Debian's source, and able to serve TLS for real
if [[ -f build/civetweb/libcivetweb.a ]]; then
  ok "civetweb library" "build/civetweb/libcivetweb.a (Debian source, OpenSSL 3 API)"
else
  no "civetweb library" "not built yet" "make   (builds it from Debian's source package)"
fi
if [[ -x "$BIN/tls-selftest" ]] && command -v openssl >/dev/null; then
  d=$(course_tmpdir)
  if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/key.pem" \
    -out "$d/cert.pem" -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 2>/dev/null; then
    cat "$d/key.pem" "$d/cert.pem" >"$d/both.pem"
    # a bound on a hang (it takes well under a second), longer on a busy machine
    if v=$(timeout "$(course_limit 20)" "$BIN/tls-selftest" "$d/both.pem" "$d/cert.pem" 2>"$d/err"); then
      ok "civetweb TLS listener" "served HTTPS on loopback: $v"
    else
      no "civetweb TLS listener" "$(head -n 1 "$d/err")" "rm -rf build/civetweb && make"
    fi
  else
    no "civetweb TLS listener" "could not make a test certificate" "$(apt_fix openssl)"
  fi
else
  no "civetweb TLS listener" "build/bin/tls-selftest missing" "make"
fi

if d=$(capture_check 2>&1); then
  ok "capture on loopback" "dumpcap can capture on lo ($(ver dumpcap --version | cut -d' ' -f1-3))"
else
  no "capture on loopback" "$(head -n 1 <<<"$d")" "$(sed -n 's/^hint: //p' <<<"$d" | head -n 1)"
fi
if command -v tshark >/dev/null; then
  ok "tshark" "$(ver tshark --version)"
else
  no "tshark" "not found" "$(apt_fix tshark)"
fi
# Optional, so a note rather than a failure: the Wireshark GUI (every
# Wireshark step in the sheets has a tshark line), and capture as an
# ordinary user (a student's account, not root).
if command -v wireshark >/dev/null; then
  if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
    ok "Wireshark GUI" "$(ver wireshark --version)"
  else
    note "Wireshark GUI" "installed, but this session has no display (DISPLAY is not set)" \
      "capture here, look on your own computer: $(ssh_view_hint)"
  fi
else
  note "Wireshark GUI" "not installed (optional: each Wireshark step has a tshark line)" \
    "sudo apt-get install wireshark; on a machine without a screen (SSH): $(ssh_view_hint)"
fi
if [[ $(id -u) != 0 ]]; then
  ok "capture as user $(id -un)" "dumpcap may capture on lo (checked above)"
elif dumpcap_for_users; then
  ok "capture as a user" "dumpcap is set up for group wireshark (members: $(getent group wireshark | cut -d: -f4))"
else
  note "capture as a user" "root can capture; an ordinary account cannot yet" \
    "sudo dpkg-reconfigure wireshark-common (answer yes), sudo usermod -aG wireshark USER, log in again"
fi

if v=$(/usr/bin/python3 -c 'import cryptography, jwt; print("cryptography", cryptography.__version__, "/ PyJWT", jwt.__version__)' 2>/dev/null); then
  ok "/usr/bin/python3 peers" "$v"
else
  no "/usr/bin/python3 peers" "cryptography or jwt missing" "$(apt_fix python3-cryptography python3-jwt)"
fi
if v=$(openssl version 2>/dev/null); then ok "openssl CLI" "$v"; else no "openssl CLI" "not found" "$(apt_fix openssl)"; fi
if v=$(ver curl --version); then
  ok "curl CLI" "$(cut -d' ' -f1-2,4-5 <<<"$v")"
else
  no "curl CLI" "not found" "$(apt_fix curl)"
fi

echo
if ((bad)); then
  echo "make doctor: $bad check(s) failed"
  exit 1
fi
echo "make doctor: all checks passed"
