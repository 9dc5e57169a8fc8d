/* SPDX-License-Identifier: MIT */
/*
 * tls.h - the TLS helpers that chapter 05 (and 06) share: the generic half of
 * a server context (certificate and key, the NSS key log), names and dates of
 * certificates, a watcher that records the chain a client checked and how a
 * handshake ended, and the translation of a failed handshake into one
 * readable reason and a hint.
 *
 * The TLS policy itself (versions, suites, groups, tickets) is chapter 05's
 * lesson and sits in the chapter: 05_https_server/policy.c applies it, with
 * the suites and groups named here so that a server and its tests agree:
 *   - TLS 1.2 minimum; TLS 1.3 only on request.
 *   - TLS 1.2 suites: ECDHE key exchange (forward secrecy) with an AEAD
 *     (AES-GCM or ChaCha20-Poly1305) only; no CBC, no RSA key transport.
 *     TLS 1.3's suites are all AEAD with (EC)DHE already.
 *   - Key exchange groups X25519, P-256, P-384.
 *
 *     tls_server_policy pol = {.cert_chain = "...", .key = "...", .num_tickets = -1};
 *     if (tls_check_server_files(&pol)) return 1;       // readable error first
 *     ... in civetweb's init_ssl callback: policy_apply(ctx, &pol) (the
 *     chapter's), then tls_server_configure(ctx, &pol)
 */
#ifndef COURSE_TLS_H
#define COURSE_TLS_H

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stddef.h>

#define TLS_GROUPS "X25519:P-256:P-384"
#define TLS12_CIPHERS                                                                          \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
/* OpenSSL's own TLS 1.3 list, named so that it cannot change under us */
#define TLS13_CIPHERSUITES                                                                     \
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"

typedef struct tls_server_policy {
    const char *cert_chain; /* PEM: the server's certificate, then its intermediates */
    const char *key;        /* PEM: its private key */
    int tls13_only;         /* refuse TLS 1.2 as well */
    int num_tickets;        /* TLS 1.3 session tickets per handshake (-1: OpenSSL's 2) */
} tls_server_policy;

/* ---- key log (NSS format, what Wireshark reads) ---- */

/* If SSLKEYLOGFILE is set, open it (append, mode 0600). A file that already
 * exists is set to mode 0600 too (open()'s mode only applies to a new file);
 * one that is not a regular file or not ours is refused. Returns 0 (also
 * when unset), -1 after printing why it cannot be opened. */
int tls_keylog_open_from_env(void);
/* The same checks for a program whose TLS library writes the key log itself
 * (libcurl fopen()s it 0644 under the usual umask): create or fix the file
 * as mode 0600 and close it again. Call before libcurl's global init.
 * Returns 0 (also when unset) or -1 after printing why. */
int tls_keylog_prepare_from_env(void);
/* Say on stderr that the key log is being written (if it is). */
void tls_keylog_announce(void);
/* Make ctx write its secrets to the key log opened above (no-op if none). */
void tls_keylog_attach(SSL_CTX *ctx);
void tls_keylog_close(void);

/* ---- server ---- */

/* Load and check the certificate chain and key once, before the server
 * starts, so a missing or mismatched file is one readable error + hint.
 * Returns 0 or -1. */
int tls_check_server_files(const tls_server_policy *pol);
/* Once listening: warn about an expired certificate, announce the key log. */
void tls_server_announce(const tls_server_policy *pol);
/* What every course server's context needs besides the policy: load the
 * certificate chain and key, acknowledge SNI on this one context, take a
 * client's hang-up without close_notify as normal, write the key log.
 * Returns 0 or -1 (reason printed). */
int tls_server_configure(SSL_CTX *ctx, const tls_server_policy *pol);

/* ---- server: revocation of client certificates (mutual TLS) ---- */

/* The CRLs that check client certificates, swapped whole on a reload. */
typedef struct tls_crl tls_crl;
/* Read every CRL of crl_file (PEM; several may follow each other) before the
 * server starts: one readable error if there is none, a warning for a CRL
 * past its nextUpdate. NULL after printing why. */
tls_crl *tls_crl_load(const char *crl_file, const char *ca_file);
/* 1 when one of the CRLs is signed by a CA of ca_file (the trust anchor, the
 * root of the course PKI): only then is every CA of a client's chain checked
 * (X509_V_FLAG_CRL_CHECK_ALL), else the client's own certificate only. */
int tls_crl_covers_chain(tls_crl *c);
/* Check every client certificate of ctx against c: a revoked certificate, a
 * CA without a CRL, or an out-of-date CRL then fails the handshake. Session
 * resumption goes by tickets only, and a ticket made before the latest
 * reload is not resumed (the client's certificate is checked again).
 * Returns 0 or -1 (reason printed). c must outlive ctx's handshakes. */
int tls_crl_attach(SSL_CTX *ctx, tls_crl *c);
/* Read crl_file again while the server runs (05-server on SIGHUP) and put its
 * CRLs in force at once, for new handshakes. Refused, with the CRLs in force
 * kept: a broken file; a CRL past its nextUpdate or dated in the future (no
 * update); a CRL older than the one in force for the same CA (it could lift
 * revocations); a file without a CRL from a CA that has one in force (its
 * revocations would go unchecked). Returns 0 or -1 (reason printed). */
int tls_crl_reload(tls_crl *c, const char *crl_file, const char *ca_file);
void tls_crl_free(tls_crl *c);
/* Say on stderr which client certificate ctx refuses, and why ("certificate
 * revoked"). The decision itself is unchanged. */
void tls_client_verify_narrate(SSL_CTX *ctx);

/* ---- names and dates ---- */

/* Names and times of certificates: pki_name_text() and pki_time_text() in
 * pki/pki.h, the one formatter chapters 04 and 05 share. */
/* "DNS:localhost, IP:127.0.0.1" from the subjectAltName, "" if none. */
void tls_san_text(X509 *cert, char *out, size_t out_len);

/* ---- client: the chain as checked ---- */

#define TLS_CHAIN_MAX 8
/* tls_chain.client_cert_dates: our own certificate's dates, when the caller
 * knows them, so a server's "certificate expired" alert can be told apart:
 * our certificate is out of date, or the server's CRL is (OpenSSL sends the
 * same alert for both) */
enum { TLS_CLIENT_CERT_UNKNOWN = 0, TLS_CLIENT_CERT_IN_DATE, TLS_CLIENT_CERT_EXPIRED };
typedef struct tls_chain_cert {
    char subject[256];
    char issuer[256];
    char not_after[40];
    char names[256]; /* subjectAltName */
    int error;       /* X509_V_OK or the first verification error at this depth */
} tls_chain_cert;

typedef struct tls_chain {
    int depth_max;   /* highest depth seen, -1 for none */
    int first_error; /* X509_V_OK or the first error anywhere */
    int cert_requested;   /* the server asked for a client certificate */
    int have_client_cert; /* set by the caller: we had one to give */
    int client_cert_dates; /* set by the caller: TLS_CLIENT_CERT_* (0: not known) */
    int alert;            /* the fatal TLS alert the server sent (SSL_AD_*), -1 for none */
    unsigned long ssl_error; /* OpenSSL's first error when the handshake failed, 0 for none */
    tls_chain_cert cert[TLS_CHAIN_MAX];
} tls_chain;

void tls_chain_init(tls_chain *chain);
/* Record, into chain, every certificate OpenSSL checks on ctx's connections
 * and the verdict at each depth. The decision itself is unchanged.
 * Returns 0 or -1. */
int tls_chain_watch(SSL_CTX *ctx, tls_chain *chain);

/* ---- client: why a handshake failed ---- */

/* From the transfer's result and what the watcher recorded (the X509 verify
 * codes, the server's alert, OpenSSL's error code), one reason ("the server's
 * certificate has expired") and one hint; url names the server. No message
 * text is matched: libcurl's and OpenSSL's words may change, their codes do
 * not. Returns 1 if it recognised a TLS problem, 0 otherwise. */
int tls_explain_failure(CURLcode code, const tls_chain *chain, const char *url, char *reason,
                        size_t reason_len, char *hint_text, size_t hint_len);

#endif
