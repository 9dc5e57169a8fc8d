#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
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
# Course patches go on top of Debian's, after the pin check (step 3b).
# 1. chunk-size-overflow:
# civetweb 1.15 adds a chunk size from the request (up to 2^64-1) to its
# int64_t length counter unchecked (mg_read), a signed overflow a client can
# cause with one chunk line ("7fffffffffffffff"). The web layer cannot stop it:
# civetweb parses chunk lines inside mg_read, with no raw read to go around
# it. The patch refuses such a chunk (mg_read returns -1, the body is
# "malformed") and adds mg_course_patches(), which common/net/webserver.c
# looks for: a build without the patch gets no chunked bodies at all (411).
# 2. header-end: civetweb's header parser took any line that does not start
# with a field name (a folded line, RFC 9112 section 5.2) as the end of the
# headers, and stopped after 64 headers without a word; the headers after
# that point (a Content-Length, say) were ignored, and the body was read as
# the next request: request smuggling behind a proxy that reads them. Both
# are now a malformed request (400).
#
#   scripts/build-civetweb.sh OUTDIR     (normally build/civetweb)
# Produces OUTDIR/libcivetweb.a and OUTDIR/include/civetweb.h, once per
# patch level (OUTDIR/course-patches records it). make calls this only when
# the library is missing: after a change here, rm -rf build/civetweb && make.
set -euo pipefail

OUT=${1:-build/civetweb}
ORIG=civetweb_1.15+dfsg.orig.tar.xz
SHA256=ec372e9737bc820118bbb735f46a07d41f795814ca0f38bc6e67048e7a460f33

PATCH_LEVEL=chunk-size-overflow,header-end

if [[ -f "$OUT/libcivetweb.a" && -f "$OUT/include/civetweb.h" &&
  "$(cat "$OUT/course-patches" 2>/dev/null)" == "$PATCH_LEVEL" ]]; then
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

# a rebuild (a new patch level) uses the files fetched before: the pin
# below checks them all the same
if [[ -f "$SRCDIR/$ORIG" ]] && compgen -G "$SRCDIR/civetweb_1.15+dfsg-*.dsc" >/dev/null; then
  echo "civetweb: using the source package fetched before"
else
  echo "civetweb: fetching Debian's source package (private APT_CONFIG, system apt untouched)"
  apt-get -q update >"$APTDIR/update.log" 2>&1 || {
    echo "build-civetweb: error: apt-get update for deb-src failed (see $APTDIR/update.log)" >&2
    exit 1
  }
  (cd "$SRCDIR" && apt-get -q source --download-only civetweb >"$APTDIR/source.log" 2>&1) || {
    echo "build-civetweb: error: apt-get source civetweb failed (see $APTDIR/source.log)" >&2
    exit 1
  }
fi

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

# 3b. the course's patch (see the top of this file); --forward and a check
# that it applied as a whole, so a changed source fails here, not at run time
patch -d "$SRCDIR/tree" -p1 --forward --quiet <<'PATCH' || {
--- a/src/civetweb.c
+++ b/src/civetweb.c
@@ -3482,6 +3482,15 @@
 }
 
 
+/* course patch: which of scripts/build-civetweb.sh's patches this build has */
+const char *mg_course_patches(void);
+const char *
+mg_course_patches(void)
+{
+	return "chunk-size-overflow,header-end";
+}
+
+
 const struct mg_request_info *
 mg_get_request_info(const struct mg_connection *conn)
 {
@@ -6679,6 +6688,14 @@
 					break;
 				}
 
+				/* course patch: refuse a chunk size the length counter
+				 * cannot hold; adding it would overflow an int64_t */
+				if ((chunkSize > (unsigned long)INT64_MAX)
+				    || ((int64_t)chunkSize > INT64_MAX - conn->content_len)) {
+					conn->is_chunked = 2;
+					return -1;
+				}
+
 				/* append a new chunk */
 				conn->content_len += (int64_t)chunkSize;
 			}
@@ -10417,6 +10434,13 @@
 			dp++;
 		}
 		if (dp == *buf) {
+			/* course patch: only a blank line ends the headers; a
+			 * line that starts with a space or tab (obs-fold, RFC
+			 * 9112 section 5.2) or another byte is an error, not an
+			 * end that hides the headers after it */
+			if ((*dp != '\r') && (*dp != '\n') && (*dp != 0)) {
+				return -1;
+			}
 			/* End of headers reached. */
 			break;
 		}
@@ -10477,6 +10501,13 @@
 			break;
 		}
 	}
+	/* course patch: more headers than fit is an error, not a silent
+	 * end (a Content-Length after the 64th would be read by a proxy and
+	 * not by us: request smuggling) */
+	if ((i == (int)MG_MAX_HEADERS) && (**buf != '\r') && (**buf != '\n')
+	    && (**buf != 0)) {
+		return -1;
+	}
 	return num_headers;
 }
 
PATCH
  echo "build-civetweb: error: the course patch does not apply to this civetweb source" >&2
  exit 1
}
echo "civetweb: course patch applied ($PATCH_LEVEL)"

# 4. compile: OpenSSL 3 API, linked (not dlopen'ed), IPv6 and websockets on
CC=${CC:-cc}
"$CC" -O2 -g -fPIC -w \
  -DOPENSSL_API_3_0 -DNO_SSL_DL -DUSE_WEBSOCKET -DUSE_IPV6 -DNDEBUG \
  -I"$SRCDIR/tree/include" -c "$SRCDIR/tree/src/civetweb.c" -o "$OUT/civetweb.o"
ar rcs "$OUT/libcivetweb.a" "$OUT/civetweb.o"
mkdir -p "$OUT/include"
cp "$SRCDIR/tree/include/civetweb.h" "$OUT/include/civetweb.h"
echo "$PATCH_LEVEL" >"$OUT/course-patches"
echo "civetweb: built $OUT/libcivetweb.a (TLS via OpenSSL 3, linked)"
