/* fuzz: bytes as a CRL file -> tls_crl_load and tls_crl_reload (chapter 05/06's reload path, checked against a CA) */
/* SPDX-License-Identifier: MIT */
/*
 * A good CRL of our own CA is loaded first; each input is then offered as
 * its replacement (reload: refused, or taken), and on its own (load).
 */
#include "fuzz.h"

#include <openssl/pem.h>

#include "tls/tls.h"

static char ca_path[300], crl_path[300], good_path[300];
static tls_crl *live;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    EVP_PKEY *k = fuzz_key();
    X509 *ca = fuzz_self_signed(k, "Fuzz CRL CA", 1);
    X509_CRL *crl = X509_CRL_new();
    FILE *f;

    fuzz_path(ca_path, sizeof ca_path, "ca.crt");
    fuzz_path(crl_path, sizeof crl_path, "crl.pem");
    fuzz_path(good_path, sizeof good_path, "good-crl.pem");
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
    {
        ASN1_TIME *t = X509_gmtime_adj(NULL, -60), *n = X509_gmtime_adj(NULL, 3600L * 24 * 30);
        X509_CRL_set1_lastUpdate(crl, t);
        X509_CRL_set1_nextUpdate(crl, n);
        ASN1_TIME_free(t);
        ASN1_TIME_free(n);
    }
    if (!X509_CRL_sign(crl, k, EVP_sha256()))
        abort();
    if (!(f = fopen(ca_path, "w")) || !PEM_write_X509(f, ca) || fclose(f) != 0)
        abort();
    if (!(f = fopen(good_path, "w")) || !PEM_write_X509_CRL(f, crl) || fclose(f) != 0)
        abort();
    live = tls_crl_load(good_path, ca_path);
    X509_CRL_free(crl);
    X509_free(ca);
    EVP_PKEY_free(k);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tls_crl *c;

    if (size > 1 << 16)
        return -1;
    fuzz_write(crl_path, data, size);
    if ((c = tls_crl_load(crl_path, ca_path)) != NULL)
        tls_crl_free(c);
    if (live)
        (void)tls_crl_reload(live, crl_path, ca_path);
    return 0;
}
