/* SPDX-License-Identifier: MIT */
/*
 * signedkex.h - chapter 03's key exchange, authenticated: the server signs
 * the whole transcript with its certificate's key (chapters 04 and 06). The
 * client's narrated flow is in 04_pki_ca/signedkex_flow.c.
 *
 *   client -> POST /kex  {"group", "public", "nonce", "server_name": "localhost"}
 *   server <- 200        {"group", "public", "nonce", "session",
 *                         "certificates": ["<leaf, PEM>", "<intermediate, PEM>", ...],
 *                         "signature": "<base64url>"}
 *
 *   signed = exchange_transcript()            (label, both groups, both public
 *                                              values, both nonces)
 *            || 2-byte length || server name  (the name the client asked for)
 *            || 2-byte length || session id   (the name of the key from now on)
 *
 * The client checks, before it derives anything: the certificate chain up to
 * a root it already trusts (never one that came over the wire), that the
 * certificate is for a TLS server and names the host it wanted, and the
 * signature over what IT saw, and the session id it is told to use. A man in
 * the middle who swaps a public value, or the session id (to make the client
 * send its messages under another client's session, or a dead one), cannot
 * make that signature: the client refuses and says so.
 */
#ifndef COURSE_SIGNEDKEX_H
#define COURSE_SIGNEDKEX_H

#include <jansson.h>
#include <openssl/x509.h>

#include "kex/exchange.h"

/* chapter 04's HKDF label: a key agreed here is never a chapter 03 key */
#define SIGNEDKEX_INFO_04 "HTTPS from the ground up, chapter 04: Fernet key"
#define SIGNEDKEX_MAX_NAME 253
#define SIGNEDKEX_MAX_CERTS 4

#define SIGNEDKEX_MAX_SESSION 64

/* The bytes that get signed (malloc'ed). 0, or -1. */
int signedkex_tbs(const exchange *ex, const char *server_name, const char *session, uint8_t **out,
                  size_t *len);

/* Server: refuse a name our certificate does not carry (err says why), then
 * add "session", "certificates" (chain, leaf first) and "signature" (over the
 * exchange, the name and the session id) to reply. */
int signedkex_sign_reply(json_t *reply, const exchange *ex, const char *server_name,
                         const char *session, EVP_PKEY *key, STACK_OF(X509) *chain, char *err,
                         size_t err_len);

typedef enum signedkex_status {
    SIGNEDKEX_OK = 0,
    SIGNEDKEX_UNSIGNED,      /* no signature or no certificates in the reply */
    SIGNEDKEX_UNTRUSTED,     /* the chain does not verify for that name */
    SIGNEDKEX_BAD_SIGNATURE, /* the signature does not match what we saw */
    SIGNEDKEX_ERROR,         /* malformed input, out of memory */
} signedkex_status;

/* Client: check the reply's chain against trusted (host name or IP address
 * server_name, purpose TLS server), then the signature over our view of the
 * exchange (ex after exchange_finish, or with ex->peer set) and the reply's
 * "session": once this passes, that id is the server's own. err explains. */
signedkex_status signedkex_check_reply(const json_t *reply, const exchange *ex,
                                       const char *server_name, STACK_OF(X509) *trusted,
                                       char *err, size_t err_len);

#endif
