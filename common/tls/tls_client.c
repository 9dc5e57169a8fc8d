/* SPDX-License-Identifier: MIT */
/* tls_client.c - the client half of tls.h: record the chain a client checks,
 * and turn a failed handshake into one reason and one hint. */
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/narrate.h"
#include "pki/pki.h"
#include "tls/tls.h"

void tls_chain_init(tls_chain *chain)
{
    memset(chain, 0, sizeof *chain);
    chain->depth_max = -1;
    chain->first_error = X509_V_OK;
    chain->alert = -1;
}

/* Where the chain record hangs on an SSL_CTX (an ex_data slot made once). */
static int g_chain_idx = -1;
static pthread_once_t g_chain_once = PTHREAD_ONCE_INIT;

static void chain_idx_make(void)
{
    g_chain_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* OpenSSL calls this for every certificate of the chain, from the root down,
 * and again for each problem it finds. Record; keep OpenSSL's verdict. */
static int on_verify(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    tls_chain *chain = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_chain_idx) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    int depth = X509_STORE_CTX_get_error_depth(store);
    int err = X509_STORE_CTX_get_error(store);

    if (!chain || depth < 0 || depth >= TLS_CHAIN_MAX)
        return preverify_ok;
    tls_chain_cert *c = &chain->cert[depth];
    if (cert && !c->subject[0]) {
        pki_name_text(X509_get_subject_name(cert), c->subject, sizeof c->subject);
        pki_name_text(X509_get_issuer_name(cert), c->issuer, sizeof c->issuer);
        pki_time_text(X509_get0_notAfter(cert), c->not_after, sizeof c->not_after);
        tls_san_text(cert, c->names, sizeof c->names);
    }
    if (depth > chain->depth_max)
        chain->depth_max = depth;
    if (!preverify_ok && c->error == X509_V_OK)
        c->error = err;
    if (!preverify_ok && chain->first_error == X509_V_OK)
        chain->first_error = err;
    return preverify_ok;
}

/* Note when the server asks for a client certificate (mutual TLS), the fatal
 * alert it sends, and OpenSSL's error when the handshake fails: the codes
 * tls_explain_failure reads, before libcurl turns them into text. */
static void on_info(const SSL *ssl, int where, int ret)
{
    tls_chain *chain = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_chain_idx);
    if (!chain)
        return;
    if ((where & SSL_CB_CONNECT_LOOP) && SSL_get_state(ssl) == TLS_ST_CR_CERT_REQ)
        chain->cert_requested = 1;
    /* ret: the alert's level in the high byte, its description in the low */
    if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && (ret >> 8) == SSL3_AL_FATAL &&
        chain->alert < 0)
        chain->alert = ret & 0xff;
    /* SSL_connect returns: on a failure (not a mere "call again") OpenSSL's
     * error queue holds the reason, which libcurl takes next */
    if ((where & SSL_CB_CONNECT_EXIT) == SSL_CB_CONNECT_EXIT && ret <= 0 && !chain->ssl_error)
        chain->ssl_error = ERR_peek_error();
}

int tls_chain_watch(SSL_CTX *ctx, tls_chain *chain)
{
    pthread_once(&g_chain_once, chain_idx_make);
    if (g_chain_idx < 0 || SSL_CTX_set_ex_data(ctx, g_chain_idx, chain) != 1)
        return -1;
    /* keep the mode libcurl chose (verify on), add only the recorder */
    SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), on_verify);
    SSL_CTX_set_info_callback(ctx, on_info);
    return 0;
}

/* ---- why a handshake failed ---------------------------------------------- */

/* The alert the server sent: read by the callback, or else the one OpenSSL
 * turned into its error ("SSL alert number N" is reason 1000 + N). */
static int server_alert(const tls_chain *chain)
{
    int r = chain->ssl_error ? ERR_GET_REASON(chain->ssl_error) : 0;
    if (chain->alert >= 0)
        return chain->alert;
    if (chain->ssl_error && ERR_GET_LIB(chain->ssl_error) == ERR_LIB_SSL &&
        r > SSL_AD_REASON_OFFSET && r < SSL_AD_REASON_OFFSET + 256)
        return r - SSL_AD_REASON_OFFSET;
    return -1;
}

/* The reasons said from more than one place. */
static const char REQUIRED[] =
    "the server requires a client certificate (mutual TLS) and we sent none";
static const char REQUIRED_HINT[] = "pass the course client certificate: --cert "
                                    "build/pki/client-chain.crt --key build/pki/client.key";
static const char NO_VERSION[] =
    "no TLS version in common: the server refused every version we offered";
static const char NO_VERSION_HINT[] = "TLS 1.0 and 1.1 are deprecated (RFC 8996) and refused by "
                                      "careful servers; offer TLS 1.2 or later";

/* reason, then the hint (printf-style); returns 1 (recognised) */
static int say(char *reason, size_t reason_len, char *hint_text, size_t hint_len, const char *r,
               const char *fmt, ...) COURSE_PRINTF(6, 7);
static int say(char *reason, size_t reason_len, char *hint_text, size_t hint_len, const char *r,
               const char *fmt, ...)
{
    va_list ap;
    snprintf(reason, reason_len, "%s", r);
    va_start(ap, fmt);
    vsnprintf(hint_text, hint_len, fmt, ap);
    va_end(ap);
    return 1;
}

int tls_explain_failure(CURLcode code, const tls_chain *chain, const char *url, char *reason,
                        size_t reason_len, char *hint_text, size_t hint_len)
{
    static const tls_chain none = {.depth_max = -1, .first_error = X509_V_OK, .alert = -1};
    const char *names;
    int verr, alert, lib_reason;

    if (!chain)
        chain = &none;
    verr = chain->first_error;
    names = chain->depth_max >= 0 ? chain->cert[0].names : "";
    alert = server_alert(chain);
    lib_reason = chain->ssl_error && ERR_GET_LIB(chain->ssl_error) == ERR_LIB_SSL
                     ? ERR_GET_REASON(chain->ssl_error)
                     : 0;
    reason[0] = hint_text[0] = '\0';
    if (code == CURLE_OK)
        return 0;
#define SAY(...) return say(reason, reason_len, hint_text, hint_len, __VA_ARGS__)

    /* 1. We refused the server's certificate: OpenSSL's verify code says why. */
    switch (verr) {
    case X509_V_OK:
        break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        SAY("unknown CA: the server's certificate does not lead to a CA we trust",
            "trust the course CA with --cacert build/pki/root.crt (run `make pki`); an "
            "unknown CA is exactly what a man in the middle would show, so never skip this check");
    case X509_V_ERR_CERT_HAS_EXPIRED:
        SAY("expired: the server's certificate is past its notAfter date",
            "the server needs a fresh certificate (minica issues one); check this machine's "
            "clock too");
    case X509_V_ERR_CERT_NOT_YET_VALID:
        SAY("not yet valid: the server's certificate starts in the future",
            "check this machine's clock, or wait until the certificate's notBefore date");
    case X509_V_ERR_CERT_REVOKED:
        SAY("revoked: the CA has withdrawn the server's certificate (it is on the CRL)",
            "the server must get a new certificate; a revoked one may be in a thief's hands");
    case X509_V_ERR_UNABLE_TO_GET_CRL: {
        /* libcurl checks every certificate of the chain, not just the leaf */
        const char *who = "";
        for (int d = 0; d <= chain->depth_max && d < TLS_CHAIN_MAX; d++)
            if (chain->cert[d].error == X509_V_ERR_UNABLE_TO_GET_CRL) {
                who = chain->cert[d].issuer;
                break;
            }
        SAY("no CRL: revocation checking was asked for, but no CRL from the issuer was given",
            "--crl must hold the CRL of every CA in the chain (root and intermediate, one "
            "file); missing: the CRL of %s",
            who[0] ? who : "a CA of the chain");
    }
    case X509_V_ERR_CRL_HAS_EXPIRED:
        SAY("the CRL is out of date (its nextUpdate has passed)",
            "fetch or generate a fresh CRL from the CA");
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        break; /* the wrong host name, below */
    default:
        snprintf(reason, reason_len, "the server's certificate failed verification: %s",
                 X509_verify_cert_error_string(verr));
        snprintf(hint_text, hint_len,
                 "inspect it with: openssl s_client -connect HOST:PORT -showcerts");
        return 1;
    }
    /* 2. The chain verified, yet libcurl refused the peer: it checks the host
     * name itself, after OpenSSL (CURLE_PEER_FAILED_VERIFICATION). */
    /* (libcurl also says PEER_FAILED_VERIFICATION when the server's alert is
     * "certificate expired": that is the server refusing us, step 3) */
    if (verr != X509_V_OK || (code == CURLE_PEER_FAILED_VERIFICATION && alert < 0))
        SAY("wrong host name: the certificate is valid, but not for the host in the URL",
            "the certificate names %s; use one of those in the URL (not %s), or issue a "
            "certificate for this name",
            names[0] ? names : "other hosts", url);
    /* 3. The server refused us, and its alert says why. */
    switch (alert) {
    case SSL_AD_CERTIFICATE_REVOKED:
        SAY("the server refused our client certificate: it is revoked (on the server's CRL)",
            "ask the CA for a new client certificate; a revoked one may be in a thief's hands");
    case SSL_AD_CERTIFICATE_REQUIRED:
        SAY(REQUIRED, "%s", REQUIRED_HINT);
    case SSL_AD_CERTIFICATE_EXPIRED:
        /* OpenSSL's server sends this alert for our certificate past its
         * notAfter and for its own CRL past its nextUpdate alike */
        if (chain->client_cert_dates == TLS_CLIENT_CERT_EXPIRED)
            SAY("the server refused our client certificate: it is expired (past its notAfter "
                "date)",
                "ask the CA for a new client certificate (`make pki` renews the course's); "
                "check this machine's clock too");
        if (chain->client_cert_dates == TLS_CLIENT_CERT_IN_DATE)
            SAY("the server refused our client certificate as out of date, yet it is in date: "
                "the server's CRL is out of date (past its nextUpdate), so it refuses every "
                "client certificate",
                "the server needs a fresh CRL from the CA: `make pki` renews build/pki/crl.pem, "
                "then restart the server or send it SIGHUP (kill -HUP)");
        SAY("the server refused our client certificate as out of date: either it is past its "
            "notAfter date, or the server's CRL is past its nextUpdate",
            "check the certificate's dates (openssl x509 -noout -dates -in FILE); if they are "
            "good, the server needs a fresh CRL from the CA (`make pki` renews "
            "build/pki/crl.pem)");
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_CERTIFICATE_UNKNOWN:
        SAY("the server refused our client certificate: it does not trust the CA that "
            "issued it",
            "use a client certificate issued by the course CA (make pki)");
    case SSL_AD_PROTOCOL_VERSION:
        SAY(NO_VERSION, "%s", NO_VERSION_HINT);
    case SSL_AD_HANDSHAKE_FAILURE:
        /* TLS 1.2's way to say "no certificate, no entry" */
        if (chain->cert_requested && !chain->have_client_cert)
            SAY(REQUIRED, "%s", REQUIRED_HINT);
        SAY("the handshake failed: no cipher suite or group in common",
            "compare the client's offer with the server's policy: openssl s_client -connect "
            "HOST:PORT -msg");
    }
    /* 4. With TLS 1.3 the client finishes its handshake before the server has
     * judged its certificate; the server's refusal (an alert, then a close)
     * can arrive as a reset connection before the alert is read. */
    if (alert < 0 && chain->cert_requested &&
        (code == CURLE_SSL_CONNECT_ERROR || code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR ||
         code == CURLE_GOT_NOTHING)) {
        if (!chain->have_client_cert)
            SAY(REQUIRED, "%s", REQUIRED_HINT);
        /* the alert was lost: unknown CA and revoked look the same */
        SAY("the server refused our client certificate: it does not trust the CA that "
            "issued it, or the certificate is revoked (the server hung up before its "
            "alert could be read)",
            "use a client certificate issued by the course CA (make pki) and not revoked; "
            "with --tls-version 1.2 the server's alert arrives before the hang-up");
    }
    /* 5. Our own side of the handshake gave up: OpenSSL's reason code. */
    switch (lib_reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
        SAY(NO_VERSION, "%s", NO_VERSION_HINT);
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
        SAY("the server did not answer in TLS (is it a plain HTTP server?)",
            "https:// needs a TLS server such as 05-server; chapters 01-04 speak http://");
    }
#undef SAY
    return 0;
}
