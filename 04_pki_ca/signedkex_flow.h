/* SPDX-License-Identifier: MIT */
/*
 * signedkex_flow.h - chapter 04's client side of the key exchange: chapter
 * 03's flow (03_diffie_hellman/kex_flow.h) plus one step. Between reading the
 * server's offer and using it, the client checks the certificate chain up to
 * the root it already holds, that the certificate names the host it wanted,
 * and the server's signature over everything both sides sent and the session
 * id (common/pki/signedkex.h). The server's half is in 04_pki_ca/server.c.
 */
#ifndef COURSE_SIGNEDKEX_FLOW_H
#define COURSE_SIGNEDKEX_FLOW_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "kex/exchange.h"

/* The exchange with base_url's POST /kex, the server name being the URL's
 * host. Returns 0 with key and session set, or -1 after printing the error
 * and a hint. */
int signedkex_flow_client(const char *base_url, kex_group g, const char *info,
                          STACK_OF(X509) *trusted, uint8_t key[EXCHANGE_KEY_LEN], char *session,
                          size_t session_len);

/* The host of a URL ("localhost", "127.0.0.1", "::1" without brackets). */
int signedkex_url_host(const char *url, char *host, size_t host_len);

#endif
