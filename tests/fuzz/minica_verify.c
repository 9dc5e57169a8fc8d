/* fuzz: bytes as a certificate chain file (and as its --crl) -> `minica verify --ca CA --crl FILE --host localhost FILE` (mc_verify) */
/* SPDX-License-Identifier: MIT */
#include "fuzz.h"

#include <openssl/pem.h>

#include "minica.h"

static char path[300], ca_path[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    EVP_PKEY *k = fuzz_key();
    X509 *ca = fuzz_self_signed(k, "Fuzz Root", 1);
    FILE *f;

    fuzz_path(path, sizeof path, "chain.pem");
    fuzz_path(ca_path, sizeof ca_path, "ca.crt");
    if (!(f = fopen(ca_path, "w")) || !PEM_write_X509(f, ca) || fclose(f) != 0)
        abort();
    X509_free(ca);
    EVP_PKEY_free(k);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc_opts o;
    char *args[1] = {path};

    if (size > 1 << 16)
        return -1;
    fuzz_write(path, data, size);
    for (int with_crl = 0; with_crl < 2; with_crl++) {
        memset(&o, 0, sizeof o);
        o.args = args;
        o.n_args = 1;
        o.ca = ca_path;
        o.host = "localhost";
        o.crl = with_crl ? path : NULL;
        (void)mc_verify(&o);
    }
    fflush(stdout);
    return 0;
}
