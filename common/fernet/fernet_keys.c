/* SPDX-License-Identifier: MIT */
/* fernet_keys.c - Fernet keys: 16 bytes to sign, 16 to encrypt; see fernet.h */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "fernet/fernet.h"
#include "fernet/fernet_b64.h"

void fernet_key_from_raw(fernet_key *k, const uint8_t raw[32])
{
    memcpy(k->signing, raw, 16);
    memcpy(k->encryption, raw + 16, 16);
}

int fernet_key_from_b64(fernet_key *k, const char *b64)
{
    uint8_t raw[33]; /* 44 characters with one '=' decode to 32 bytes */
    size_t len;
    int rc = -1;

    while (*b64 == ' ' || *b64 == '\t' || *b64 == '\n' || *b64 == '\r')
        b64++;
    len = strlen(b64);
    while (len > 0 && strchr(" \t\r\n", b64[len - 1]))
        len--;
    if (len != FERNET_KEY_B64_LEN || fb64_decode(b64, len, raw) != 32)
        goto end;
    fernet_key_from_raw(k, raw);
    rc = 0;
end:
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

char *fernet_key_to_b64(const fernet_key *k)
{
    uint8_t raw[32];
    char *s = malloc(FERNET_KEY_B64_LEN + 1);
    if (s) {
        memcpy(raw, k->signing, 16);
        memcpy(raw + 16, k->encryption, 16);
        fb64_encode(raw, sizeof raw, s);
        OPENSSL_cleanse(raw, sizeof raw);
    }
    return s;
}

int fernet_key_generate(fernet_key *k)
{
    uint8_t raw[32];
    int rc = -1;
    /* RAND_priv_bytes: a DRBG instance kept apart from the one that makes
     * public values such as IVs. */
    if (RAND_priv_bytes(raw, sizeof raw) == 1) {
        fernet_key_from_raw(k, raw);
        rc = 0;
    }
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

void fernet_key_clear(fernet_key *k)
{
    OPENSSL_cleanse(k, sizeof *k);
}
