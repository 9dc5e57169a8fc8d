/* fuzz: bytes as a CSR (first byte: 0 PEM, 1 DER, 2 chapter 04's enrolment JSON {"csr":PEM}) -> pki_csr_verify -> pki_sign_csr (the policy) and pki_issue_device (EST) */
/* SPDX-License-Identifier: MIT */
/*
 * The CA is made in memory at start (nothing of the kind is committed).
 * Whatever the request holds, the policy either refuses it with a reason or
 * signs a certificate whose subject and SANs obey its limits.
 */
#include "fuzz.h"

#include <openssl/pem.h>

#include "core/json.h"
#include "pki/pki.h"

static EVP_PKEY *ca_key;
static X509 *ca;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ca_key = fuzz_key();
    ca = fuzz_self_signed(ca_key, "Fuzz CA", 1);
    return 0;
}

static void sign_all(X509_REQ *csr)
{
    char serial[80], challenge[PKI_MAX_CHALLENGE + 1];
    X509 *c;

    (void)pki_csr_challenge_get(csr, challenge, sizeof challenge);
    if (pki_csr_verify(csr) != 0)
        return;
    for (int p = 0; p < 2; p++) {
        pki_sign_opts so = pki_sign_defaults(p ? PKI_PROFILE_SERVER : PKI_PROFILE_CLIENT);
        so.days = 1;
        if ((c = pki_sign_csr(csr, ca, ca_key, &so, NULL)) != NULL) {
            X509_NAME *n = X509_get_subject_name(c);
            if (X509_NAME_entry_count(n) > PKI_MAX_NAME_FIELDS)
                abort(); /* the policy's limit, broken */
            X509_free(c);
        }
    }
    if ((c = pki_issue_device(csr, ca, ca_key, "fuzz-device", 1, serial, sizeof serial)) != NULL)
        X509_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    X509_REQ *csr = NULL;

    if (size < 1 || size > 1 << 16)
        return -1;
    switch (data[0] % 3) {
    case 0:
        csr = pki_csr_from_pem((const char *)data + 1, size - 1);
        break;
    case 1: {
        const unsigned char *p = data + 1;
        csr = d2i_X509_REQ(NULL, &p, (long)(size - 1));
        break;
    }
    default: {
        /* what 04-server's enrol_post does with the body before the code check */
        json_t *in = json_parse((const char *)data + 1, size - 1, JSON_DEFAULT_MAX_DEPTH, NULL, 0);
        const char *pem = in ? json_get_str(in, "csr") : NULL;
        if (pem)
            csr = pki_csr_from_pem(pem, strlen(pem));
        json_decref(in);
    }
    }
    if (csr)
        sign_all(csr);
    X509_REQ_free(csr);
    return 0;
}
