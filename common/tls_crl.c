/* tls_crl.c - the revocation half of tls.h's server side: load the CRLs named
 * by 05-server --crl into the store that checks client certificates. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>

#include "narrate.h"
#include "tls.h"

/* Every certificate and CRL of a PEM file; NULL after printing why. */
static STACK_OF(X509_INFO) *read_pem(const char *path, const char *what)
{
    BIO *in = BIO_new_file(path, "r");
    STACK_OF(X509_INFO) *items = in ? PEM_X509_INFO_read_bio(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    if (!items) {
        errorf("cannot read", "%s %s: not PEM", what, path);
        hint("`make pki` creates build/pki/root.crt (--client-ca) and build/pki/crl.pem (--crl)");
    }
    return items;
}

/* Is crl signed by one of the certificates in cas (a trust anchor)? */
static int signed_by_anchor(X509_CRL *crl, STACK_OF(X509_INFO) *cas)
{
    for (int i = 0; i < sk_X509_INFO_num(cas); i++) {
        X509 *ca = sk_X509_INFO_value(cas, i)->x509;
        EVP_PKEY *key = ca ? X509_get0_pubkey(ca) : NULL;
        if (key && X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) == 0 &&
            X509_CRL_verify(crl, key) == 1)
            return 1;
    }
    ERR_clear_error();
    return 0;
}

/* tls_crl_check's work; with stale_refused, a CRL past its nextUpdate is an
 * error instead of a warning. */
static int check_crls(const char *crl_file, const char *ca_file, int *all, int stale_refused)
{
    STACK_OF(X509_INFO) *crls = NULL, *cas = NULL;
    int n = 0, rc = -1;
    char when[40];

    *all = 0;
    if (!(crls = read_pem(crl_file, "the CRL")) || !(cas = read_pem(ca_file, "the CA")))
        goto end;
    for (int i = 0; i < sk_X509_INFO_num(crls); i++) {
        X509_CRL *crl = sk_X509_INFO_value(crls, i)->crl;
        if (!crl)
            continue;
        n++;
        if (signed_by_anchor(crl, cas))
            *all = 1;
        /* An out-of-date CRL makes OpenSSL refuse every client certificate
         * (fail closed, as it should): say why before the first refusal. */
        if (X509_CRL_get0_nextUpdate(crl) &&
            X509_cmp_current_time(X509_CRL_get0_nextUpdate(crl)) < 0) {
            tls_time_text(X509_CRL_get0_nextUpdate(crl), when, sizeof when);
            if (stale_refused) {
                errorf("cannot reload", "the CRL in %s was due for renewal on %s: not an update",
                       crl_file, when);
                hint("`minica crl` makes a fresh one");
                goto end;
            }
            warning("the CRL in %s was due for renewal on %s: every client certificate will be "
                    "refused until a fresh one is given",
                    crl_file, when);
        }
    }
    if (n == 0) {
        errorf("cannot read", "the CRL %s: no X509 CRL in it", crl_file);
        hint("`make pki` creates build/pki/crl.pem; `minica crl` makes a fresh one");
        goto end;
    }
    rc = 0;
end:
    sk_X509_INFO_pop_free(crls, X509_INFO_free);
    sk_X509_INFO_pop_free(cas, X509_INFO_free);
    return rc;
}

int tls_crl_check(const char *crl_file, const char *ca_file, int *all)
{
    return check_crls(crl_file, ca_file, all, 0);
}

/* The server's side of a refused client certificate: which one and why
 * (civetweb only logs "certificate verify failed"). Keeps OpenSSL's verdict. */
static int on_client_verify(int ok, X509_STORE_CTX *store)
{
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    char who[256] = "?";
    if (!ok) {
        if (cert)
            tls_name_text(X509_get_subject_name(cert), who, sizeof who);
        notice("refusing the client certificate %s (depth %d): %s", who,
               X509_STORE_CTX_get_error_depth(store),
               X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
    }
    return ok;
}

void tls_client_verify_narrate(SSL_CTX *ctx)
{
    /* the store's callback: civetweb sets the SSL_CTX's own to NULL, and
     * OpenSSL then uses this one */
    X509_STORE_set_verify_cb(SSL_CTX_get_cert_store(ctx), on_client_verify);
}

int tls_crl_reload(SSL_CTX *ctx, const char *crl_file, const char *ca_file, int *all)
{
    int now_all = 0;
    /* X509_STORE_add_crl adds each CRL under the store's lock, so the
     * handshakes going on meanwhile see it whole or not at all. */
    if (check_crls(crl_file, ca_file, &now_all, 1) || tls_crl_attach(ctx, crl_file, *all || now_all))
        return -1;
    *all = *all || now_all;
    return 0;
}

int tls_crl_attach(SSL_CTX *ctx, const char *crl_file, int all)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_INFO) *crls = read_pem(crl_file, "the CRL");
    int rc = -1;

    if (!crls || !store)
        goto end;
    for (int i = 0; i < sk_X509_INFO_num(crls); i++) {
        X509_CRL *crl = sk_X509_INFO_value(crls, i)->crl;
        if (crl && X509_STORE_add_crl(store, crl) != 1) {
            errorf("TLS", "cannot add the CRL %s to the client certificate store", crl_file);
            goto end;
        }
    }
    /* The leaf's issuer must have a CRL (else "unable to get certificate
     * CRL"); with CRL_CHECK_ALL every CA below the root must too. */
    if (X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | (all ? X509_V_FLAG_CRL_CHECK_ALL : 0)) !=
        1) {
        errorf("TLS", "cannot turn on revocation checking");
        goto end;
    }
    rc = 0;
end:
    sk_X509_INFO_pop_free(crls, X509_INFO_free);
    return rc;
}
