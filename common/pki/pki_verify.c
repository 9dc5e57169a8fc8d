/* SPDX-License-Identifier: MIT */
/*
 * pki_verify.c - verification with plain-word reasons (the CA's index and
 * revocation: pki_index.c; CRLs: pki_crl.c).
 */
#include <stdio.h>

#include <openssl/x509v3.h>

#include "pki/pki.h"
#include "pki/pki_internal.h"

static const char *const REASONS[] = {"failed",        "expired",        "not yet valid",
                                      "unknown issuer", "name mismatch", "revoked",
                                      "wrong purpose",  "bad signature",  "no CRL for the issuer",
                                      "failed"};

const char *pki_verdict_reason(pki_verdict v)
{
    return (unsigned)v < sizeof REASONS / sizeof REASONS[0] ? REASONS[v] : "failed";
}

static pki_verdict classify(int err)
{
    switch (err) {
    case X509_V_OK:
        return PKI_VERIFY_OK;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return PKI_VERIFY_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return PKI_VERIFY_NOT_YET_VALID;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return PKI_VERIFY_UNKNOWN_ISSUER;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
    case X509_V_ERR_EMAIL_MISMATCH:
        return PKI_VERIFY_NAME_MISMATCH;
    case X509_V_ERR_CERT_REVOKED:
        return PKI_VERIFY_REVOKED;
    case X509_V_ERR_INVALID_PURPOSE:
        return PKI_VERIFY_WRONG_PURPOSE;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
        return PKI_VERIFY_BAD_SIGNATURE;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        return PKI_VERIFY_NO_CRL;
    default:
        return PKI_VERIFY_OTHER;
    }
}

pki_verdict pki_verify(X509 *cert, STACK_OF(X509) *trusted, STACK_OF(X509) *untrusted,
                       const pki_verify_opts *opts, char *detail, size_t detail_len)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_VERIFY_PARAM *param = NULL;
    pki_verdict v = PKI_VERIFY_OTHER;

    snprintf(detail, detail_len, "cannot set up the verification");
    if (!store || !ctx)
        goto end;
    for (int i = 0; trusted && i < sk_X509_num(trusted); i++)
        if (!X509_STORE_add_cert(store, sk_X509_value(trusted, i)))
            goto end;
    if (!X509_STORE_CTX_init(ctx, store, cert, untrusted))
        goto end;
    param = X509_STORE_CTX_get0_param(ctx);
    if (opts->host && !X509_VERIFY_PARAM_set1_host(param, opts->host, 0))
        goto end;
    /* "*.example.org" matches one whole label; "f*.example.org" matches nothing */
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (opts->ip && !X509_VERIFY_PARAM_set1_ip_asc(param, opts->ip)) {
        snprintf(detail, detail_len, "'%s' is not an IP address", opts->ip);
        goto end;
    }
    if (opts->purpose == PKI_PROFILE_SERVER || opts->purpose == PKI_PROFILE_CLIENT) {
        int p = opts->purpose == PKI_PROFILE_SERVER ? X509_PURPOSE_SSL_SERVER
                                                    : X509_PURPOSE_SSL_CLIENT;
        if (!X509_STORE_CTX_set_purpose(ctx, p))
            goto end;
    }
    if (opts->crls) {
        /* the leaf only: our CRL is the issuing CA's; a root's own status
         * would need the root's CRL too (CRL_CHECK_ALL) */
        X509_STORE_CTX_set0_crls(ctx, opts->crls);
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK);
    }
    if (opts->at)
        X509_VERIFY_PARAM_set_time(param, opts->at);
    if (X509_verify_cert(ctx) == 1) {
        v = PKI_VERIFY_OK;
        snprintf(detail, detail_len, "chain of %d certificates up to a trusted root",
                 sk_X509_num(X509_STORE_CTX_get0_chain(ctx)));
    } else {
        int err = X509_STORE_CTX_get_error(ctx);
        X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
        char subj[256] = "?";
        if (bad)
            X509_NAME_oneline(X509_get_subject_name(bad), subj, sizeof subj);
        v = classify(err);
        snprintf(detail, detail_len, "at depth %d (%s): %s", X509_STORE_CTX_get_error_depth(ctx),
                 subj, X509_verify_cert_error_string(err));
    }
end:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return v;
}
