/* fuzz: bytes as an EST simpleenroll body (application/pkcs10, base64 of DER) -> enrol.c's b64_std_decode -> d2i_X509_REQ -> pki_csr_verify -> pki_csr_challenge_get -> pki_issue_device */
/* SPDX-License-Identifier: MIT */
/*
 * The steps of read_csr() in 06_full_protocol/enrol.c, which takes a
 * civetweb connection: the target includes enrol.c to call its own static
 * base64 decoder, then runs the checks read_csr and issue() run, in order.
 */
#include "fuzz.h"

#include "../../06_full_protocol/enrol.c"

static EVP_PKEY *ca_key;
static X509 *ca;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ca_key = fuzz_key();
    ca = fuzz_self_signed(ca_key, "Fuzz Device CA", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t der_len = 0;
    X509_REQ *csr;
    char challenge[128], serial[80];
    X509 *c;

    if (size > CSR_MAX)
        return -1;
    if (b64_std_decode((const char *)data, size, &der, &der_len) != 0)
        return 0;
    p = der;
    csr = d2i_X509_REQ(NULL, &p, (long)der_len);
    if (csr && p == der + der_len && pki_csr_verify(csr) == 0) {
        (void)pki_csr_challenge_get(csr, challenge, sizeof challenge);
        if ((c = pki_issue_device(csr, ca, ca_key, "fuzz-device", 30, serial, sizeof serial)))
            X509_free(c);
    }
    X509_REQ_free(csr);
    free(der);
    return 0;
}
