/* SPDX-License-Identifier: MIT */
/*
 * exporter.h - the RFC 9266 "tls-exporter" channel binding of one TLS
 * connection, the one computation that both sides of common/net share:
 * webserver.c takes it from each connection civetweb accepts
 * (web_tls_exporter), httpclient.c from each connection libcurl opens
 * (http_session_exporter, and the exporter a body function is given).
 *
 *     uint8_t cb[NET_EXPORTER_LEN];
 *     if (net_tls_exporter(ssl, cb) != 0) ... no binding: refuse to bind ...
 *
 * The value is SSL_export_keying_material() with the label
 * "EXPORTER-Channel-Binding", no context and 32 bytes (RFC 9266 section 2):
 * both ends of one connection compute the same bytes, and no other
 * connection, resumed ones included, has them (RFC 8446 section 7.5).
 */
#ifndef COURSE_NET_EXPORTER_H
#define COURSE_NET_EXPORTER_H

#include <openssl/ssl.h>
#include <stdint.h>

#define NET_EXPORTER_LEN 32
#define NET_EXPORTER_LABEL "EXPORTER-Channel-Binding"

/* 0 with out filled, or -1 (out zeroed) when ssl has no sound exporter: no
 * finished handshake, or TLS 1.2 without the extended master secret
 * (RFC 7627). Without it, a man in the middle can make two TLS 1.2
 * connections share one master secret (the triple handshake attack), and
 * so one exporter: RFC 9266 section 4.2 forbids the binding there. */
int net_tls_exporter(const SSL *ssl, uint8_t out[NET_EXPORTER_LEN]);

#endif
