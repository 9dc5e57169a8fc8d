/* tls_client.c - the client half of tls.h: record the chain a client checks,
 * and turn a failed handshake into one reason and one hint. */
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tls/tls.h"

void tls_chain_init(tls_chain *chain)
{
    memset(chain, 0, sizeof *chain);
    chain->depth_max = -1;
    chain->first_error = X509_V_OK;
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
        tls_name_text(X509_get_subject_name(cert), c->subject, sizeof c->subject);
        tls_name_text(X509_get_issuer_name(cert), c->issuer, sizeof c->issuer);
        tls_time_text(X509_get0_notAfter(cert), c->not_after, sizeof c->not_after);
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

/* Note when the server asks for a client certificate (mutual TLS). */
static void on_info(const SSL *ssl, int where, int ret)
{
    tls_chain *chain = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_chain_idx);
    (void)ret;
    if (chain && (where & SSL_CB_CONNECT_LOOP) && SSL_get_state(ssl) == TLS_ST_CR_CERT_REQ)
        chain->cert_requested = 1;
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

static int has(const char *text, const char *needle)
{
    return text && strstr(text, needle) != NULL;
}

int tls_explain_failure(const char *error_text, const tls_chain *chain, const char *url,
                        char *reason, size_t reason_len, char *hint_text, size_t hint_len)
{
    int verr = chain ? chain->first_error : X509_V_OK;
    const char *names = chain && chain->depth_max >= 0 ? chain->cert[0].names : "";

    reason[0] = hint_text[0] = '\0';
#define SAY(r, ...)                                                                            \
    do {                                                                                       \
        snprintf(reason, reason_len, "%s", r);                                                 \
        snprintf(hint_text, hint_len, __VA_ARGS__);                                            \
        return 1;                                                                              \
    } while (0)

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
        for (int d = 0; chain && d <= chain->depth_max && d < TLS_CHAIN_MAX; d++)
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
    default:
        snprintf(reason, reason_len, "the server's certificate failed verification: %s",
                 X509_verify_cert_error_string(verr));
        snprintf(hint_text, hint_len, "inspect it with: openssl s_client -connect HOST:PORT "
                                      "-showcerts");
        return 1;
    }
    if (has(error_text, "no alternative certificate subject name matches") ||
        has(error_text, "does not match target host name") ||
        has(error_text, "subject name does not match"))
        SAY("wrong host name: the certificate is valid, but not for the host in the URL",
            "the certificate names %s; use one of those in the URL (not %s), or issue a "
            "certificate for this name",
            names[0] ? names : "other hosts", url);
    /* With TLS 1.3 the client finishes its handshake before the server has
     * judged its certificate; the server's refusal (an alert, then a close)
     * can arrive as a reset connection before the alert is read. */
    if (chain && chain->cert_requested &&
        (has(error_text, "getpeername() failed") || has(error_text, "Connection reset") ||
         has(error_text, "Broken pipe") || has(error_text, "unexpected eof") ||
         has(error_text, "SSL_ERROR_SYSCALL"))) {
        if (!chain->have_client_cert)
            error_text = "alert certificate required";
        else
            /* the alert was lost: unknown CA and revoked look the same */
            SAY("the server refused our client certificate: it does not trust the CA that "
                "issued it, or the certificate is revoked (the server hung up before its "
                "alert could be read)",
                "use a client certificate issued by the course CA (make pki) and not revoked; "
                "with --tls-version 1.2 the server's alert arrives before the hang-up");
    }
    if (has(error_text, "alert certificate revoked"))
        SAY("the server refused our client certificate: it is revoked (on the server's CRL)",
            "ask the CA for a new client certificate; a revoked one may be in a thief's hands");
    if (has(error_text, "alert certificate required"))
        SAY("the server requires a client certificate (mutual TLS) and we sent none",
            "pass the course client certificate: --cert build/pki/client-chain.crt "
            "--key build/pki/client.key");
    if (has(error_text, "alert unknown ca") || has(error_text, "alert bad certificate") ||
        has(error_text, "alert certificate unknown"))
        SAY("the server refused our client certificate: it does not trust the CA that "
            "issued it",
            "use a client certificate issued by the course CA (make pki)");
    if (has(error_text, "alert protocol version") || has(error_text, "unsupported protocol") ||
        has(error_text, "no protocols available"))
        SAY("no TLS version in common: the server refused every version we offered",
            "TLS 1.0 and 1.1 are deprecated (RFC 8996) and refused by careful servers; offer "
            "TLS 1.2 or later");
    if (has(error_text, "wrong version number") || has(error_text, "packet length too long"))
        SAY("the server did not answer in TLS (is it a plain HTTP server?)",
            "https:// needs a TLS server such as 05-server; chapters 01-04 speak http://");
    if (has(error_text, "alert handshake failure"))
        SAY("the handshake failed: no cipher suite or group in common",
            "compare the client's offer with the server's policy: openssl s_client -connect "
            "HOST:PORT -msg");
#undef SAY
    return 0;
}
