/* SPDX-License-Identifier: MIT */
/* kex_internal.h - what kex.c and kex_file.c share; not for chapter code. */
#ifndef COURSE_KEX_INTERNAL_H
#define COURSE_KEX_INTERNAL_H

#include <openssl/evp.h>

#include "kex/kex.h"

struct kex_key {
    kex_group group;
    EVP_PKEY *pkey;  /* every real group */
    uint64_t toy_x;  /* toy group: private exponent */
    uint64_t toy_y;  /* toy group: g^x mod p */
};

kex_key *kex_key_new(kex_group g);
/* OpenSSL's name for a named group ("ffdhe2048", "modp_2048", "prime256v1"). */
const char *kex_ossl_group(kex_group g);

#endif
