/* SPDX-License-Identifier: MIT */
/* kex.c - see kex.h. Names, key making, public values and HKDF; the
 * validated derivation is in kex_derive.c,
 * PEM files and the private-key import live in kex_file.c. */
#include "kex/kex_internal.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rand.h>

static const char *const GROUP_NAMES[] = {"toy", "ffdhe2048", "modp2048", "x25519", "p256"};

const char *kex_status_str(kex_status s)
{
    switch (s) {
    case KEX_OK:
        return "ok";
    case KEX_ERR_GROUP:
        return "unknown or unsupported group (use toy, ffdhe2048, modp2048, x25519 or p256)";
    case KEX_ERR_PUBLIC_LENGTH:
        return "the peer's public value has the wrong length for this group";
    case KEX_ERR_PUBLIC_RANGE:
        return "the peer's public value is outside 2..p-2 (0, 1 and p-1 force a known shared "
               "secret)";
    case KEX_ERR_PUBLIC_INVALID:
        return "the peer's public value failed the full public-key check (not in the prime-order "
               "subgroup)";
    case KEX_ERR_NOT_ON_CURVE:
        return "the peer's point is not on the P-256 curve (an invalid-curve attack would leak "
               "our private key)";
    case KEX_ERR_ZERO_SECRET:
        return "the shared secret is all zero: the peer sent a low-order X25519 point";
    case KEX_ERR_PRIVATE:
        return "the private value is out of range for this group";
    case KEX_ERR_HKDF_LENGTH:
        return "HKDF-SHA256 can produce 1 to 8160 (255 * 32) bytes";
    case KEX_ERR_CRYPTO:
        return "OpenSSL failed";
    case KEX_ERR_MEMORY:
        return "out of memory";
    }
    return "unknown error";
}

const char *kex_group_name(kex_group g)
{
    return (unsigned)g < sizeof GROUP_NAMES / sizeof *GROUP_NAMES ? GROUP_NAMES[g] : "?";
}

int kex_group_from_name(const char *name, kex_group *g)
{
    for (size_t i = 0; name && i < sizeof GROUP_NAMES / sizeof *GROUP_NAMES; i++) {
        if (strcmp(name, GROUP_NAMES[i]) == 0) {
            *g = (kex_group)i;
            return 0;
        }
    }
    return -1;
}

size_t kex_public_len(kex_group g)
{
    switch (g) {
    case KEX_TOY:
        return 1;
    case KEX_FFDHE2048:
    case KEX_MODP2048:
        return 256;
    case KEX_X25519:
        return 32;
    case KEX_P256:
        return 65;
    }
    return 0;
}

const char *kex_ossl_group(kex_group g)
{
    switch (g) {
    case KEX_FFDHE2048:
        return "ffdhe2048";
    case KEX_MODP2048:
        return "modp_2048";
    case KEX_P256:
        return "prime256v1";
    default:
        return NULL;
    }
}

kex_group kex_key_group(const kex_key *k) { return k->group; }

uint64_t kex_toy_modpow(uint64_t b, uint64_t e, uint64_t m)
{
    uint64_t r = 1 % m;
    b %= m;
    /* m < 2^32, so every product below fits in 64 bits */
    while (e) {
        if (e & 1)
            r = r * b % m;
        b = b * b % m;
        e >>= 1;
    }
    return r;
}

kex_key *kex_key_new(kex_group g)
{
    kex_key *k = OPENSSL_zalloc(sizeof *k);
    if (k)
        k->group = g;
    return k;
}

void kex_free(kex_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    OPENSSL_clear_free(k, sizeof *k);
}

kex_status kex_generate(kex_group g, kex_key **out)
{
    kex_status st = KEX_ERR_CRYPTO;
    EVP_PKEY_CTX *ctx = NULL;
    kex_key *k = NULL;
    OSSL_PARAM params[2];

    *out = NULL;
    if ((unsigned)g > KEX_P256)
        return KEX_ERR_GROUP;
    if (!(k = kex_key_new(g)))
        return KEX_ERR_MEMORY;
    if (g == KEX_TOY) {
        uint8_t r;
        /* rejection sampling keeps x uniform in 2..p-2; x = (p-1)/2 would give
         * y = p-1, a value our own peer check refuses, so skip it too */
        do {
            if (RAND_bytes(&r, 1) != 1)
                goto end;
        } while (r < 2 || r > KEX_TOY_P - 2 || kex_toy_modpow(KEX_TOY_G, r, KEX_TOY_P) == KEX_TOY_P - 1);
        k->toy_x = r;
        k->toy_y = kex_toy_modpow(KEX_TOY_G, r, KEX_TOY_P);
        OPENSSL_cleanse(&r, sizeof r);
        st = KEX_OK;
        goto end;
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, g == KEX_X25519 ? "X25519" : g == KEX_P256 ? "EC" : "DH",
                                     NULL);
    if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0)
        goto end;
    if (g != KEX_X25519) {
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                     (char *)kex_ossl_group(g), 0);
        params[1] = OSSL_PARAM_construct_end();
        if (EVP_PKEY_CTX_set_params(ctx, params) <= 0)
            goto end;
    }
    if (EVP_PKEY_generate(ctx, &k->pkey) <= 0)
        goto end;
    st = KEX_OK;
end:
    EVP_PKEY_CTX_free(ctx);
    if (st == KEX_OK)
        *out = k;
    else
        kex_free(k);
    return st;
}

kex_status kex_public(const kex_key *k, uint8_t **pub, size_t *len)
{
    kex_status st = KEX_ERR_CRYPTO;
    size_t n = kex_public_len(k->group), got = 0;
    uint8_t *buf = OPENSSL_malloc(n);
    BIGNUM *y = NULL;

    *pub = NULL;
    *len = 0;
    if (!buf)
        return KEX_ERR_MEMORY;
    switch (k->group) {
    case KEX_TOY:
        buf[0] = (uint8_t)k->toy_y;
        got = 1;
        break;
    case KEX_X25519:
        got = n;
        if (EVP_PKEY_get_raw_public_key(k->pkey, buf, &got) <= 0)
            goto end;
        break;
    case KEX_P256:
        if (!EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf, n,
                                             &got))
            goto end;
        break;
    case KEX_FFDHE2048:
    case KEX_MODP2048:
        /* fixed length on the wire: a leading zero byte must not vanish */
        if (!EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, &y) ||
            BN_bn2binpad(y, buf, (int)n) != (int)n)
            goto end;
        got = n;
        break;
    }
    if (got != n)
        goto end;
    *pub = buf;
    *len = n;
    buf = NULL;
    st = KEX_OK;
end:
    OPENSSL_free(buf);
    BN_free(y);
    return st;
}

kex_status kex_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
                           size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
                           size_t out_len)
{
    kex_status st = KEX_ERR_CRYPTO;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[5], *p = params;
    static uint8_t empty[1];

    if (out_len == 0 || out_len > 255 * 32)
        return KEX_ERR_HKDF_LENGTH;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
    /* OpenSSL wants a non-NULL pointer even for an empty key */
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm_len ? (void *)ikm : empty,
                                             ikm_len);
    /* no salt parameter = the RFC's string of HashLen zeros */
    if (salt_len)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();
    if (!(kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) || !(kctx = EVP_KDF_CTX_new(kdf)) ||
        EVP_KDF_derive(kctx, out, out_len, params) <= 0)
        goto end;
    st = KEX_OK;
end:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return st;
}
