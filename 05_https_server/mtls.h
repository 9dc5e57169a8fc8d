/* SPDX-License-Identifier: MIT */
/*
 * mtls.h - 05-server's mutual TLS: the client shows a certificate too.
 *
 * With --client-ca the server asks every client for a certificate issued by
 * that CA (--client-cert required, the default, or optional), greets it by
 * the certificate's subject, and says on stderr which certificate it refused
 * and why. With --crl as well, a client certificate on the CA's revocation
 * list is refused in the handshake, and SIGHUP reads that file again. --crl
 * also publishes the CRL on GET /crl, so that clients can check it.
 *
 * server.c calls these in the order below.
 */
#ifndef COURSE_05_MTLS_H
#define COURSE_05_MTLS_H

#include <civetweb.h>
#include <stddef.h>

#include "tls/tls.h"

typedef struct mtls {
    const char *client_ca;   /* --client-ca: NULL asks no client for a certificate */
    const char *client_mode; /* --client-cert: "required" or "optional" */
    const char *crl;         /* --crl: published on GET /crl, checks client certificates */
    tls_crl *crls;           /* the CRLs in force, read at start and on SIGHUP */
} mtls;

#define MTLS_DEFAULTS {NULL, "required", NULL, NULL}

/* The command line: --client-ca, --client-cert, --crl (long options only). */
#define MTLS_OPTIONS                                                                           \
    {"client-ca", required_argument, NULL, 'A'}, {"client-cert", required_argument, NULL, 'M'}, \
        {"crl", required_argument, NULL, 'C'}
#define MTLS_SYNOPSIS "[--client-ca F [--client-cert required|optional]] [--crl F]\n"
#define MTLS_HELP                                                                              \
    "  --client-ca F    ask clients for a certificate issued by this CA (mutual TLS)\n"         \
    "  --client-cert M  required (default with --client-ca) or optional\n"                     \
    "  --crl F          serve this CRL on GET /crl; with --client-ca, refuse the\n"             \
    "                   client certificates it revokes (and SIGHUP reads F again)\n"
/* Takes option c if it is one of the above; returns 1 if it did. */
int mtls_option(mtls *m, int c, const char *arg);

/* Before the server starts: the files readable (one clear error rather than
 * a failed start), then the CRLs read. 0 or -1 (printed). */
int mtls_check_files(const mtls *m);
int mtls_load_crls(mtls *m);
/* civetweb's options for client certificates, appended to the name/value
 * pairs in opts (an array of room entries, NULL after the last pair).
 * 0, or -1 (printed) if they and the NULL after them do not fit. */
int mtls_civetweb_options(const mtls *m, const char **opts, size_t room);
/* In civetweb's init_ssl: narrate refusals, check the CRLs. 0 or -1 (printed). */
int mtls_init_ssl(SSL_CTX *ctx, mtls *m);
/* After the 'listening on URL' line: what mutual TLS enforces. */
void mtls_announce(const mtls *m);
/* SIGHUP (web_config.on_reload, arg = the mtls): take a new CRL without a restart. */
void mtls_reload(void *arg);
void mtls_free(mtls *m);

/* ---- in the handlers ---- */

/* reply = "SECRET (for SUBJECT)" when the client showed a verified
 * certificate; returns 0 (reply untouched) when it showed none. */
int mtls_secret_for(struct mg_connection *conn, const char *secret, char *reply, size_t len);
/* html = a paragraph greeting the verified client certificate, or "". */
void mtls_greeting_html(struct mg_connection *conn, char *html, size_t len);
/* GET /crl (arg = the mtls): the CRL of --crl in DER, read at each request. */
int mtls_get_crl(struct mg_connection *conn, void *arg);

#endif
