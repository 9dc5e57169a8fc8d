/* fuzz: bytes as a key file (PEM) -> kex_from_pem and kex_public_from_pem (chapter 03's dh tool and --key files) */
/* SPDX-License-Identifier: MIT */
#include "fuzz.h"

#include "kex/kex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kex_key *k = NULL;
    kex_group g;
    uint8_t *pub = NULL;
    size_t len = 0;

    if (size > 1 << 15)
        return -1;
    if (kex_from_pem((const char *)data, size, &k) == KEX_OK) {
        uint8_t *p = NULL;
        size_t n = 0;
        if (kex_public(k, &p, &n) != KEX_OK || n != kex_public_len(kex_key_group(k)))
            abort(); /* a key that loads has a public value of its group's length */
        free(p);
        kex_free(k);
    }
    if (kex_public_from_pem((const char *)data, size, &g, &pub, &len) == KEX_OK) {
        if (len != kex_public_len(g))
            abort();
        free(pub);
    }
    return 0;
}
