/* SPDX-License-Identifier: MIT */
/* kex_derive.c - see kex.h: the peer's public value is validated first
 * (range, curve, low order), then combined with our private key. */
#include "kex/kex_internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

/* The peer's finite-field value as a key of our group, after the range check
 * that the lesson is about: 2 <= y <= p-2. */
static kex_status ffdh_peer(const kex_key *mine, const uint8_t *peer, size_t len, EVP_PKEY **out)
{
    kex_status st = KEX_ERR_CRYPTO;
    BIGNUM *p = NULL, *y = NULL, *pm2 = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    char group[32];

    if (len != kex_public_len(mine->group))
        return KEX_ERR_PUBLIC_LENGTH;
    if (!EVP_PKEY_get_utf8_string_param(mine->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                        sizeof group, NULL) ||
        !EVP_PKEY_get_bn_param(mine->pkey, OSSL_PKEY_PARAM_FFC_P, &p) ||
        !(y = BN_bin2bn(peer, (int)len, NULL)) || !(pm2 = BN_dup(p)) || !BN_sub_word(pm2, 2))
        goto end;
    if (BN_cmp(y, BN_value_one()) <= 0 || BN_cmp(y, pm2) > 0) {
        st = KEX_ERR_PUBLIC_RANGE;
        goto end;
    }
    if (!(bld = OSSL_PARAM_BLD_new()) ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL)) || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto end;
    st = KEX_OK;
end:
    BN_free(p);
    BN_free(y);
    BN_free(pm2);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return st;
}

/* The peer's P-256 point. OpenSSL decodes it with EC_POINT_oct2point, which
 * refuses a point that is not on the curve: that is the check we rely on. */
static kex_status p256_peer(const uint8_t *peer, size_t len, EVP_PKEY **out)
{
    kex_status st = KEX_ERR_CRYPTO;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM params[3];

    if (!((len == 65 && peer[0] == 4) || (len == 33 && (peer[0] == 2 || peer[0] == 3))))
        return KEX_ERR_PUBLIC_LENGTH;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)peer, len);
    params[2] = OSSL_PARAM_construct_end();
    if (!(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) || EVP_PKEY_fromdata_init(ctx) <= 0)
        goto end;
    st = EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) > 0 ? KEX_OK
                                                                        : KEX_ERR_NOT_ON_CURVE;
end:
    EVP_PKEY_CTX_free(ctx);
    return st;
}

static kex_status toy_derive(const kex_key *mine, const uint8_t *peer, size_t len, uint8_t **secret,
                             size_t *secret_len)
{
    if (len != 1)
        return KEX_ERR_PUBLIC_LENGTH;
    if (peer[0] < 2 || peer[0] > KEX_TOY_P - 2)
        return KEX_ERR_PUBLIC_RANGE;
    if (!(*secret = OPENSSL_malloc(1)))
        return KEX_ERR_MEMORY;
    (*secret)[0] = (uint8_t)kex_toy_modpow(peer[0], mine->toy_x, KEX_TOY_P);
    *secret_len = 1;
    return KEX_OK;
}

kex_status kex_derive(const kex_key *mine, const uint8_t *peer, size_t peer_len, uint8_t **secret,
                      size_t *secret_len)
{
    kex_status st = KEX_ERR_CRYPTO;
    EVP_PKEY *theirs = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *buf = NULL, acc = 0;
    size_t n = 0;
    unsigned int pad = 1;
    OSSL_PARAM params[2];

    *secret = NULL;
    *secret_len = 0;
    if (mine->group == KEX_TOY)
        return toy_derive(mine, peer, peer_len, secret, secret_len);
    if (mine->group == KEX_X25519) {
        if (peer_len != 32)
            return KEX_ERR_PUBLIC_LENGTH;
        if (!(theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, peer_len)))
            goto end;
    } else if (mine->group == KEX_P256) {
        if ((st = p256_peer(peer, peer_len, &theirs)) != KEX_OK)
            goto end;
    } else if ((st = ffdh_peer(mine, peer, peer_len, &theirs)) != KEX_OK) {
        goto end;
    }
    st = KEX_ERR_CRYPTO;
    if (!(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, theirs, NULL)))
        goto end;
    /* Full check of the peer's key: for finite-field groups y^q mod p == 1
     * (the prime-order subgroup), for P-256 on the curve and of order n. */
    if (mine->group != KEX_X25519 && EVP_PKEY_public_check(ctx) <= 0) {
        st = mine->group == KEX_P256 ? KEX_ERR_NOT_ON_CURVE : KEX_ERR_PUBLIC_INVALID;
        goto end;
    }
    EVP_PKEY_CTX_free(ctx);
    if (!(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine->pkey, NULL)) ||
        EVP_PKEY_derive_init(ctx) <= 0)
        goto end;
    /* RFC 7919 / TLS 1.3: the finite-field secret keeps the length of p */
    params[0] = OSSL_PARAM_construct_uint(OSSL_EXCHANGE_PARAM_PAD, &pad);
    params[1] = OSSL_PARAM_construct_end();
    if ((mine->group == KEX_FFDHE2048 || mine->group == KEX_MODP2048) &&
        EVP_PKEY_CTX_set_params(ctx, params) <= 0)
        goto end;
    if (EVP_PKEY_derive_set_peer(ctx, theirs) <= 0 || EVP_PKEY_derive(ctx, NULL, &n) <= 0)
        goto end;
    if (!(buf = OPENSSL_malloc(n))) {
        st = KEX_ERR_MEMORY;
        goto end;
    }
    if (EVP_PKEY_derive(ctx, buf, &n) <= 0) {
        /* OpenSSL 3 refuses an all-zero X25519 result (RFC 7748 section 6.1) */
        st = mine->group == KEX_X25519 ? KEX_ERR_ZERO_SECRET : KEX_ERR_CRYPTO;
        goto end;
    }
    /* and we check it ourselves too, in constant time, in case it ever stops.
     * Today no input reaches this check (OpenSSL refused first, above), so no
     * test can fail without it: tests/mutants/kex-x25519-zero.mutant lists it
     * as an equivalent mutant for that reason. */
    for (size_t i = 0; i < n; i++)
        acc |= buf[i];
    if (mine->group == KEX_X25519 && acc == 0) {
        st = KEX_ERR_ZERO_SECRET;
        goto end;
    }
    *secret = buf;
    *secret_len = n;
    buf = NULL;
    st = KEX_OK;
end:
    if (buf)
        OPENSSL_clear_free(buf, n);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(theirs);
    return st;
}
