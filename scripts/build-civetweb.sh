#!/usr/bin/env bash
# Build civetweb 1.15 from Debian's own source package, for OpenSSL 3.
#
# Why not Debian's libcivetweb1? It is built for the OpenSSL 1.1 API and loads
# libssl at run time; against OpenSSL 3 it misses SSL_get_peer_certificate, so
# mg_init_library(MG_FEATURES_TLS) fails and the first TLS connection crashes
# the server (upstream civetweb issue #1334). Compiled here with
# -DOPENSSL_API_3_0 -DNO_SSL_DL and linked against -lssl -lcrypto it works.
#
# The source comes from `apt-get source` under a private APT_CONFIG whose
# deb-src entries are derived from the machine's own deb entries, so the
# system's apt set-up is not touched. The orig tarball is pinned by SHA-256.
#
#   scripts/build-civetweb.sh OUTDIR     (normally build/civetweb)
# Produces OUTDIR/libcivetweb.a and OUTDIR/include/civetweb.h, once.
set -euo pipefail

OUT=${1:-build/civetweb}
ORIG=civetweb_1.15+dfsg.orig.tar.xz
SHA256=ec372e9737bc820118bbb735f46a07d41f795814ca0f38bc6e67048e7a460f33

if [[ -f "$OUT/libcivetweb.a" && -f "$OUT/include/civetweb.h" ]]; then
  exit 0
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
APTDIR="$OUT/apt"
SRCDIR="$OUT/src"
mkdir -p "$APTDIR"/{sources.list.d,lists/partial,cache/archives/partial} "$SRCDIR"

# 1. deb-src entries derived from the configured deb entries
: >"$APTDIR/sources.list"
shopt -s nullglob
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -f "$f" ]] || continue
  sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$APTDIR/sources.list"
done
for f in /etc/apt/sources.list.d/*.sources; do
  # deb822: every stanza whose Types has "deb" gets "deb-src" instead
  sed -e 's/^\(Types:.*\)\bdeb\b\(.*\)$/\1deb-src\2/' "$f" >"$APTDIR/sources.list.d/$(basename "$f")"
done
shopt -u nullglob

cat >"$APTDIR/apt.conf" <<EOF
Dir::Etc::SourceList "$APTDIR/sources.list";
Dir::Etc::SourceParts "$APTDIR/sources.list.d";
Dir::State::Lists "$APTDIR/lists";
Dir::Cache "$APTDIR/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Sandbox::User "root";
EOF
[[ $(id -u) -eq 0 ]] || echo 'Debug::NoLocking "true";' >>"$APTDIR/apt.conf"
export APT_CONFIG="$APTDIR/apt.conf"

echo "civetweb: fetching Debian's source package (private APT_CONFIG, system apt untouched)"
apt-get -q update >"$APTDIR/update.log" 2>&1 || {
  echo "build-civetweb: error: apt-get update for deb-src failed (see $APTDIR/update.log)" >&2
  exit 1
}
(cd "$SRCDIR" && apt-get -q source --download-only civetweb >"$APTDIR/source.log" 2>&1) || {
  echo "build-civetweb: error: apt-get source civetweb failed (see $APTDIR/source.log)" >&2
  exit 1
}

# 2. the pin: refuse anything but the tarball we checked
got=$(sha256sum "$SRCDIR/$ORIG" | cut -d' ' -f1)
if [[ "$got" != "$SHA256" ]]; then
  echo "build-civetweb: error: $ORIG: SHA-256 is $got, expected $SHA256" >&2
  exit 1
fi
echo "civetweb: $ORIG SHA-256 ok"

# 3. unpack with Debian's patches applied
rm -rf "$SRCDIR/tree"
(cd "$SRCDIR" && dpkg-source --no-check -x civetweb_1.15+dfsg-*.dsc tree >/dev/null)

# 4. compile: OpenSSL 3 API, linked (not dlopen'ed), IPv6 and websockets on
CC=${CC:-cc}
"$CC" -O2 -g -fPIC -w \
  -DOPENSSL_API_3_0 -DNO_SSL_DL -DUSE_WEBSOCKET -DUSE_IPV6 -DNDEBUG \
  -I"$SRCDIR/tree/include" -c "$SRCDIR/tree/src/civetweb.c" -o "$OUT/civetweb.o"
ar rcs "$OUT/libcivetweb.a" "$OUT/civetweb.o"
mkdir -p "$OUT/include"
cp "$SRCDIR/tree/include/civetweb.h" "$OUT/include/civetweb.h"
echo "civetweb: built $OUT/libcivetweb.a (TLS via OpenSSL 3, linked)"
