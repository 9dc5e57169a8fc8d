#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tls-view.sh CAPTURE - what an eavesdropper learns from a TLS capture without
# the key log: per connection, each TLS record's direction, type and size, the
# handshake messages still in the clear (ClientHello with its SNI and ALPN,
# ServerHello), and the timing. Under TLS 1.3 everything after ServerHello,
# the server's certificate included, is encrypted ("application data").
set -uo pipefail
file=${1:?usage: tls-view.sh CAPTURE.pcapng}
command -v tshark >/dev/null || { echo "tls-view: tshark is not installed" >&2; exit 1; }
# -o tls.keylog_file: (empty) so a key log in Wireshark's preferences cannot decrypt here
tshark -r "$file" -o tls.keylog_file: -Y tls -T fields -E separator='|' \
  -e tcp.stream -e tcp.srcport -e frame.time_relative -e tls.record.content_type \
  -e tls.record.opaque_type -e tls.record.length -e tls.handshake.type \
  -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str \
  -e tls.handshake.version 2>/dev/null |
  awk -F'|' '
    function kind(t) {
      return t == 20 ? "ChangeCipherSpec" : t == 21 ? "Alert" : t == 22 ? "Handshake" : \
             t == 23 ? "application data" : "?" }
    function hs(h) {
      return h == 1 ? "ClientHello" : h == 2 ? "ServerHello" : h == 11 ? "Certificate" : \
             h == 12 ? "ServerKeyExchange" : h == 13 ? "CertificateRequest" : \
             h == 14 ? "ServerHelloDone" : h == 16 ? "ClientKeyExchange" : h == 4 ? "NewSessionTicket" : "type " h }
    {
      if (!($1 in client)) { client[$1] = $2; printf "connection %s (client port %s)\n", $1, $2 }
      dir = ($2 == client[$1]) ? "client -> server" : "server -> client"
      # records in the clear carry content_type, TLS 1.3 encrypted ones opaque_type;
      # in one segment the clear ones come first
      types = ($4 != "" && $5 != "") ? $4 "," $5 : ($4 != "") ? $4 : $5
      n = split(types, t, ","); split($6, len, ","); m = split($7, h, ",")
      desc = ""
      for (i = 1; i <= n; i++) desc = desc (i > 1 ? ", " : "") kind(t[i]) " " len[i] " B"
      extra = ""
      for (i = 1; i <= m; i++) if (h[i] != "") extra = extra (extra ? " + " : "") hs(h[i])
      if ($8 != "") extra = extra ", SNI " $8
      if ($9 != "") extra = extra ", ALPN " $9
      printf "  %8.4f s  %s  %s%s\n", $3, dir, desc, extra ? "  [" extra "]" : ""
    }'
