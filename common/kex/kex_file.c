/* SPDX-License-Identifier: MIT */
/* kex_file.c - see kex.h: keys from known private bytes, from and to PEM
 * files (so `openssl genpkey` and `openssl pkeyutl -derive` can sit on the
 * other side), and our private value for the dh tool. */
#include "kex/kex_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

/* A key pair from OSSL_PARAMs: group name, private BN, public (BN or octets). */
static kex_status keypair_fromdata(const char *type, const char *group, const BIGNUM *priv,
                                   const BIGNUM *pub_bn, const uint8_t *pub_oct, size_t pub_len,
                                   EVP_PKEY **out)
{
    kex_status st = KEX_ERR_CRYPTO;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;

    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) ||
        (pub_bn && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, pub_bn)) ||
        (pub_oct &&
         !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub_oct, pub_len)) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, params) <= 0)
        goto end;
    st = KEX_OK;
end:
    /* priv comes from BN_secure_new, so its copy sits in the builder's secure
     * block, which OSSL_PARAM_free wipes */
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return st;
}

/* P-256: d in 1..n-1, Q = d*G computed here because OpenSSL 3.0 does not
 * derive the public point on import. */
static kex_status p256_from_scalar(BIGNUM *d, EVP_PKEY **out)
{
    kex_status st = KEX_ERR_CRYPTO;
    EC_GROUP *grp = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *q = NULL;
    uint8_t oct[65];

    if (!grp || !(q = EC_POINT_new(grp)))
        goto end;
    if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(grp)) >= 0) {
        st = KEX_ERR_PRIVATE;
        goto end;
    }
    if (!EC_POINT_mul(grp, q, d, NULL, NULL, NULL) ||
        EC_POINT_point2oct(grp, q, POINT_CONVERSION_UNCOMPRESSED, oct, sizeof oct, NULL) !=
            sizeof oct)
        goto end;
    st = keypair_fromdata("EC", "prime256v1", d, NULL, oct, sizeof oct, out);
end:
    EC_POINT_free(q);
    EC_GROUP_free(grp);
    return st;
}

/* Finite field: x in 2..p-2, y = g^x mod p with the named group's p and g. */
static kex_status ffdh_from_exponent(kex_group g, BIGNUM *x, EVP_PKEY **out)
{
    kex_status st = KEX_ERR_CRYPTO;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *params_key = NULL;
    BIGNUM *p = NULL, *gen = NULL, *y = NULL, *pm2 = NULL;
    BN_CTX *bnctx = BN_CTX_new();
    OSSL_PARAM params[2];

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)kex_ossl_group(g), 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!bnctx || !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL)) ||
        EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &params_key, EVP_PKEY_KEY_PARAMETERS, params) <= 0 ||
        !EVP_PKEY_get_bn_param(params_key, OSSL_PKEY_PARAM_FFC_P, &p) ||
        !EVP_PKEY_get_bn_param(params_key, OSSL_PKEY_PARAM_FFC_G, &gen) || !(y = BN_new()) ||
        !(pm2 = BN_dup(p)) || !BN_sub_word(pm2, 2))
        goto end;
    if (BN_cmp(x, BN_value_one()) <= 0 || BN_cmp(x, pm2) > 0) {
        st = KEX_ERR_PRIVATE;
        goto end;
    }
    BN_set_flags(x, BN_FLG_CONSTTIME);
    if (!BN_mod_exp(y, gen, x, p, bnctx))
        goto end;
    st = keypair_fromdata("DH", kex_ossl_group(g), x, y, NULL, 0, out);
end:
    BN_free(p);
    BN_free(gen);
    BN_free(y);
    BN_free(pm2);
    BN_CTX_free(bnctx);
    EVP_PKEY_free(params_key);
    EVP_PKEY_CTX_free(ctx);
    return st;
}

kex_status kex_from_private(kex_group g, const uint8_t *priv, size_t len, kex_key **out)
{
    kex_status st = KEX_ERR_PRIVATE;
    kex_key *k = NULL;
    BIGNUM *x = NULL;

    *out = NULL;
    if ((unsigned)g > KEX_P256)
        return KEX_ERR_GROUP;
    if (!(k = kex_key_new(g)))
        return KEX_ERR_MEMORY;
    if (g == KEX_TOY) {
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
            if (v > KEX_TOY_P)
                goto end; /* already too big: stop before it can overflow */
            v = v << 8 | priv[i];
        }
        if (len == 0 || v < 1 || v > KEX_TOY_P - 2)
            goto end;
        k->toy_x = v;
        k->toy_y = kex_toy_modpow(KEX_TOY_G, v, KEX_TOY_P);
        st = KEX_OK;
    } else if (g == KEX_X25519) {
        /* any 32 bytes are a valid X25519 private key (it is clamped) */
        if (len == 32)
            st = (k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, len))
                     ? KEX_OK
                     : KEX_ERR_CRYPTO;
    } else if (len > 0 && len <= 512) {
        if (!(x = BN_secure_new()) || !BN_bin2bn(priv, (int)len, x))
            st = KEX_ERR_CRYPTO;
        else if (g == KEX_P256)
            st = p256_from_scalar(x, &k->pkey);
        else
            st = ffdh_from_exponent(g, x, &k->pkey);
    }
end:
    BN_clear_free(x);
    if (st == KEX_OK)
        *out = k;
    else
        kex_free(k);
    return st;
}

kex_status kex_private(const kex_key *k, uint8_t **priv, size_t *len)
{
    kex_status st = KEX_ERR_CRYPTO;
    BIGNUM *x = NULL;
    size_t n = 0;
    uint8_t *buf = NULL;

    *priv = NULL;
    *len = 0;
    if (k->group == KEX_TOY) {
        n = 1;
    } else if (k->group == KEX_X25519) {
        if (EVP_PKEY_get_raw_private_key(k->pkey, NULL, &n) <= 0)
            return KEX_ERR_CRYPTO;
    } else {
        if (!EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &x))
            return KEX_ERR_CRYPTO;
        n = k->group == KEX_P256 ? 32 : (size_t)BN_num_bytes(x);
    }
    if (!(buf = OPENSSL_malloc(n ? n : 1))) {
        st = KEX_ERR_MEMORY;
        goto end;
    }
    if (k->group == KEX_TOY)
        buf[0] = (uint8_t)k->toy_x;
    else if (k->group == KEX_X25519 ? EVP_PKEY_get_raw_private_key(k->pkey, buf, &n) <= 0
                                    : BN_bn2binpad(x, buf, (int)n) != (int)n)
        goto end;
    *priv = buf;
    *len = n;
    buf = NULL;
    st = KEX_OK;
end:
    if (buf)
        OPENSSL_clear_free(buf, n);
    BN_clear_free(x);
    return st;
}

/* Never prompt for a passphrase: an encrypted key is an error here. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static kex_status classify(const EVP_PKEY *pk, kex_group *g)
{
    char name[32] = "";
    if (EVP_PKEY_is_a(pk, "X25519")) {
        *g = KEX_X25519;
        return KEX_OK;
    }
    if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, NULL))
        return KEX_ERR_GROUP;
    if (EVP_PKEY_is_a(pk, "EC") && strcmp(name, "prime256v1") == 0)
        *g = KEX_P256;
    else if (EVP_PKEY_is_a(pk, "DH") && strcmp(name, "ffdhe2048") == 0)
        *g = KEX_FFDHE2048;
    else if (EVP_PKEY_is_a(pk, "DH") && strcmp(name, "modp_2048") == 0)
        *g = KEX_MODP2048;
    else
        return KEX_ERR_GROUP;
    return KEX_OK;
}

/* Where needle first occurs in the n bytes at p (not NUL-terminated), or NULL. */
static const char *find_in(const char *p, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; n >= m && i <= n - m; i++)
        if (memcmp(p + i, needle, m) == 0)
            return p + i;
    return NULL;
}

/* A key file holds one PEM block and, after its END line, nothing but white
 * space. The PEM readers stop at the END line and never look further, so a
 * NUL byte, a second key or any text after it would be silently ignored:
 * what is in a key file is what is used, or it is an error. 0, or -1 with
 * the reason on OpenSSL's error queue (the caller's errorf prints it). */
static int pem_alone(const char *pem, size_t len)
{
    const char *why = NULL, *begin = find_in(pem, len, "-----BEGIN "), *end = NULL, *p;
    const char *stop = pem + len;

    if (memchr(pem, '\0', len))
        why = "it holds a NUL byte";
    else if (begin && find_in(begin + 1, (size_t)(stop - begin - 1), "-----BEGIN "))
        why = "it holds more than one PEM block";
    else if (begin && (end = find_in(begin, (size_t)(stop - begin), "-----END ")) != NULL &&
             (p = find_in(end + 9, (size_t)(stop - end - 9), "-----")) != NULL)
        for (p += 5; p < stop && !why; p++)
            if (!strchr(" \t\r\n", *p))
                why = "there is more after its END line";
    /* no BEGIN or END line: the PEM reader says so in its own words */
    if (!why)
        return 0;
    ERR_raise_data(ERR_LIB_PEM, PEM_R_BAD_END_LINE,
                   "a key file holds one PEM block and nothing after it, and %s", why);
    return -1;
}

static kex_status read_pem(const char *pem, size_t len, int public_ok, kex_key **out)
{
    kex_status st = KEX_ERR_CRYPTO;
    BIO *bio = NULL;
    EVP_PKEY *pk = NULL;
    kex_group g = KEX_TOY;

    *out = NULL;
    if (len > 64 * 1024 || pem_alone(pem, len) || !(bio = BIO_new_mem_buf(pem, (int)len)))
        goto end;
    if (public_ok) {
        pk = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
        if (!pk) {
            ERR_clear_error(); /* not a public key: try a private one */
            BIO_free(bio);
            if (!(bio = BIO_new_mem_buf(pem, (int)len)))
                goto end;
        }
    }
    if (!pk && !(pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)))
        goto end;
    if ((st = classify(pk, &g)) != KEX_OK)
        goto end;
    if (!(*out = kex_key_new(g))) {
        st = KEX_ERR_MEMORY;
        goto end;
    }
    (*out)->pkey = pk; /* the kex_key owns it now */
    pk = NULL;
end:
    EVP_PKEY_free(pk);
    BIO_free(bio);
    return st;
}

kex_status kex_from_pem(const char *pem, size_t len, kex_key **out)
{
    return read_pem(pem, len, 0, out);
}

kex_status kex_public_from_pem(const char *pem, size_t len, kex_group *g, uint8_t **pub,
                               size_t *pub_len)
{
    kex_key *k = NULL;
    kex_status st = read_pem(pem, len, 1, &k);
    *pub = NULL;
    *pub_len = 0;
    if (st == KEX_OK) {
        *g = k->group;
        st = kex_public(k, pub, pub_len);
    }
    kex_free(k);
    return st;
}

static int write_pem(const char *path, mode_t mode, const EVP_PKEY *pk, int private)
{
    int ok = 0, fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
    FILE *f = NULL;
    if (fd < 0)
        return 0;
    /* an existing file keeps its old mode through O_CREAT: set it */
    if (fchmod(fd, mode) != 0 || !(f = fdopen(fd, "w"))) {
        close(fd);
        return 0;
    }
    ok = private ? PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_PUBKEY(f, pk);
    if (fclose(f) != 0)
        ok = 0;
    return ok;
}

kex_status kex_save_pem(const kex_key *k, const char *priv_path, const char *pub_path)
{
    if (k->group == KEX_TOY)
        return KEX_ERR_GROUP;
    if (!write_pem(priv_path, 0600, k->pkey, 1))
        return KEX_ERR_CRYPTO;
    if (pub_path && !write_pem(pub_path, 0644, k->pkey, 0))
        return KEX_ERR_CRYPTO;
    return KEX_OK;
}
