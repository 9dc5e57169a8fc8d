/* kex.c - see kex.h. Key making, public values and validated derivation;
 * PEM files and the private-key import live in kex_file.c. */
#include "kex_internal.h"

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
    /* and we check it ourselves too, in constant time, in case it ever stops */
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
