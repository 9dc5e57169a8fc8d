/*
 * pki_verify.c - verification with plain-word reasons, the CA's index of
 * issued certificates, revocation and CRLs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "pki_internal.h"

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

/* ---- index and CRL ---- */

static const char *const CRL_REASONS[] = {
    "unspecified",          "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
    "cessationOfOperation", NULL,            NULL,           NULL,                 "privilegeWithdrawn",
};

int pki_reason_code(const char *reason)
{
    for (int i = 0; i < (int)(sizeof CRL_REASONS / sizeof CRL_REASONS[0]); i++)
        if (CRL_REASONS[i] && reason && !strcasecmp(reason, CRL_REASONS[i]))
            return i;
    return -1;
}

int pki_crl_reason_valid(const char *reason)
{
    return pki_reason_code(reason) >= 0;
}

/* One process may run several threads that issue (04-server); serialise the
 * read-modify-write of the index. Separate processes must not share a CA dir. */
static pthread_mutex_t g_index_lock = PTHREAD_MUTEX_INITIALIZER;

static int index_path(char *out, size_t n, const char *dir, const char *file)
{
    if (snprintf(out, n, "%s/%s", dir, file) >= (int)n) {
        pki_fail("%s: path too long", dir);
        return -1;
    }
    return 0;
}

/* Read the index (missing = empty). The caller frees *text. */
static int index_load(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *text = calloc(1, 1);
        *len = 0;
        return *text ? 0 : -1;
    }
    fclose(f);
    *text = pki_read_all(path, len);
    return *text ? 0 : -1;
}

static void utc_now(char out[16])
{
    ASN1_TIME *t = ASN1_UTCTIME_set(NULL, time(NULL));
    snprintf(out, 16, "%.*s", t ? ASN1_STRING_length(t) : 0,
             t ? (const char *)ASN1_STRING_get0_data(t) : "");
    ASN1_TIME_free(t);
}

int pki_index_add(const char *dir, X509 *cert)
{
    char path[4096], serial[64], subj[512];
    const ASN1_TIME *na = X509_get0_notAfter(cert);
    char *old = NULL, *buf = NULL;
    size_t len = 0, cap;
    int rc = -1;

    if (index_path(path, sizeof path, dir, "index.txt") ||
        pki_serial_hex(X509_get0_serialNumber(cert), serial, sizeof serial))
        return -1;
    X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof subj);
    pthread_mutex_lock(&g_index_lock);
    if (index_load(path, &old, &len))
        goto end;
    cap = len + 700;
    if (!(buf = malloc(cap)))
        goto end;
    /* OpenSSL `ca` layout, so `openssl ca` and a learner read it alike */
    snprintf(buf, cap, "%sV\t%.*s\t\t%s\tunknown\t%s\n", old, ASN1_STRING_length(na),
             (const char *)ASN1_STRING_get0_data(na), serial, subj);
    rc = pki_write_file(path, buf, strlen(buf), 0644);
end:
    pthread_mutex_unlock(&g_index_lock);
    free(old);
    free(buf);
    return rc;
}

int pki_index_revoke(const char *dir, const char *serial_hex, const char *reason)
{
    char path[4096], now[16];
    char *text = NULL, *out = NULL, *line, *save = NULL;
    size_t len = 0, used = 0, cap = 0;
    int rc = -1, found = 0;

    if (pki_reason_code(reason) < 0) {
        pki_fail("unknown revocation reason '%s' (keyCompromise, cACompromise, "
                 "affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, "
                 "unspecified)", reason ? reason : "");
        return -1;
    }
    if (index_path(path, sizeof path, dir, "index.txt"))
        return -1;
    utc_now(now);
    pthread_mutex_lock(&g_index_lock);
    /* the output is the input plus one revocation time and reason */
    if (index_load(path, &text, &len) || !(out = malloc(cap = len + 128)))
        goto end;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* fields: status, notAfter, revoked, serial, file, subject (TAB-separated;
         * scanf would merge the empty revoked field with its neighbours) */
        char *f[6] = {line}, *p = line;
        int n = 1;
        while (n < 6 && (p = strchr(p, '\t')) != NULL) {
            *p++ = '\0';
            f[n++] = p;
        }
        if (n == 6 && !strcasecmp(f[3], serial_hex)) {
            if (f[0][0] == 'R') {
                pki_fail("certificate %s is already revoked", serial_hex);
                goto end;
            }
            used += (size_t)snprintf(out + used, cap - used, "R\t%s\t%s,%s\t%s\t%s\t%s\n", f[1],
                                     now, CRL_REASONS[pki_reason_code(reason)], f[3], f[4], f[5]);
            found = 1;
        } else {
            for (int i = 0; i < n; i++)
                used += (size_t)snprintf(out + used, cap - used, "%s%s", f[i],
                                         i + 1 < n ? "\t" : "\n");
        }
    }
    if (!found) {
        pki_fail("no certificate with serial %s in %s", serial_hex, path);
        goto end;
    }
    rc = pki_write_file(path, out, used, 0644);
end:
    pthread_mutex_unlock(&g_index_lock);
    free(text);
    free(out);
    return rc;
}
