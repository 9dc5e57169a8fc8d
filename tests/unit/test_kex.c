/* SPDX-License-Identifier: MIT */
/* Unit tests for common/kex: RFC 7748 (X25519), RFC 5869 (HKDF-SHA256), the
 * toy group, finite-field and P-256 validation, PEM round trips. The
 * Wycheproof files are read in test_kex_wycheproof.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/encoding.h"
#include "kex/kex.h"

static uint8_t *unhex(const char *h, size_t *n)
{
    uint8_t *b = NULL;
    assert_int_equal(hex_decode(h, &b, n), 0);
    return b;
}

/* X25519(scalar, u) through kex, as hex */
static char *x25519(const uint8_t *scalar, const uint8_t *u)
{
    kex_key *k = NULL;
    uint8_t *s = NULL;
    size_t n = 0;
    char *h;
    assert_int_equal(kex_from_private(KEX_X25519, scalar, 32, &k), KEX_OK);
    assert_int_equal(kex_derive(k, u, 32, &s, &n), KEX_OK);
    assert_int_equal(n, 32);
    h = hex_encode(s, n);
    encoding_free_secret(s, n);
    kex_free(k);
    return h;
}

static void check_x25519(const char *scalar, const char *u, const char *want)
{
    size_t n1, n2;
    uint8_t *a = unhex(scalar, &n1), *b = unhex(u, &n2);
    char *got = x25519(a, b);
    assert_string_equal(got, want);
    free(got);
    free(a);
    free(b);
}

static void rfc7748_5_2_vectors(void **state)
{
    (void)state;
    check_x25519("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                 "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                 "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    /* the top bit of u is set: X25519 must mask it */
    check_x25519("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                 "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                 "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

/* k = u = 9; loop r = X25519(k, u); u = k; k = r */
static void rfc7748_5_2_iterated(void **state)
{
    uint8_t k[32] = {9}, u[32] = {9}, *r = NULL;
    size_t n = 0;
    (void)state;
    for (int i = 1; i <= 1000; i++) {
        char *h = x25519(k, u);
        assert_int_equal(hex_decode(h, &r, &n), 0);
        memcpy(u, k, 32);
        memcpy(k, r, 32);
        free(r);
        if (i == 1)
            assert_string_equal(h, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
        if (i == 1000)
            assert_string_equal(h, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
        free(h);
    }
}

static void check_public(kex_group g, const char *priv, const char *want_pub)
{
    size_t n;
    uint8_t *p = unhex(priv, &n), *pub = NULL;
    kex_key *k = NULL;
    char *h;
    assert_int_equal(kex_from_private(g, p, n, &k), KEX_OK);
    assert_int_equal(kex_public(k, &pub, &n), KEX_OK);
    h = hex_encode(pub, n);
    assert_string_equal(h, want_pub);
    free(h);
    free(pub);
    free(p);
    kex_free(k);
}

static void rfc7748_6_1(void **state)
{
    const char *a = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    const char *b = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
    const char *A = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    const char *B = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    const char *K = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    (void)state;
    check_public(KEX_X25519, a, A);
    check_public(KEX_X25519, b, B);
    check_x25519(a, B, K);
    check_x25519(b, A, K);
}

static void check_hkdf(const char *ikm, const char *salt, const char *info, size_t len,
                       const char *okm)
{
    size_t ni, ns, nf;
    uint8_t *i = unhex(ikm, &ni), *s = unhex(salt, &ns), *f = unhex(info, &nf);
    uint8_t out[128];
    char *h;
    assert_true(len <= sizeof out);
    assert_int_equal(kex_hkdf_sha256(i, ni, s, ns, f, nf, out, len), KEX_OK);
    h = hex_encode(out, len);
    assert_string_equal(h, okm);
    free(h);
    free(i);
    free(s);
    free(f);
}

static void rfc5869_a1_a3(void **state)
{
    char ikm2[161], salt2[161], info2[161];
    (void)state;
    check_hkdf("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
               "f0f1f2f3f4f5f6f7f8f9", 42,
               "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    for (int i = 0; i < 80; i++) {
        snprintf(ikm2 + 2 * i, 3, "%02x", i);
        snprintf(salt2 + 2 * i, 3, "%02x", 0x60 + i);
        snprintf(info2 + 2 * i, 3, "%02x", 0xb0 + i);
    }
    check_hkdf(ikm2, salt2, info2, 82,
               "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb"
               "41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
    check_hkdf("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "", 42,
               "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

static void hkdf_length_limits(void **state)
{
    uint8_t ikm[1] = {1}, out[1];
    (void)state;
    assert_int_equal(kex_hkdf_sha256(ikm, 1, NULL, 0, NULL, 0, out, 0), KEX_ERR_HKDF_LENGTH);
    assert_int_equal(kex_hkdf_sha256(ikm, 1, NULL, 0, NULL, 0, out, 8161), KEX_ERR_HKDF_LENGTH);
}

/* The textbook numbers: p = 23, g = 5, a = 6, b = 15 -> A = 8, B = 19, s = 2 */
static void toy_textbook(void **state)
{
    uint8_t a = 6, b = 15, *s = NULL, *pub = NULL, bad[] = {0, 1, 22, 23, 200};
    size_t n = 0;
    kex_key *ka = NULL, *kb = NULL;
    (void)state;
    assert_int_equal(kex_toy_modpow(5, 6, 23), 8);
    assert_int_equal(kex_from_private(KEX_TOY, &a, 1, &ka), KEX_OK);
    assert_int_equal(kex_from_private(KEX_TOY, &b, 1, &kb), KEX_OK);
    assert_int_equal(kex_public(ka, &pub, &n), KEX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(pub[0], 8);
    free(pub);
    uint8_t B = 19;
    assert_int_equal(kex_derive(ka, &B, 1, &s, &n), KEX_OK);
    assert_int_equal(s[0], 2);
    encoding_free_secret(s, n);
    for (size_t i = 0; i < sizeof bad; i++)
        assert_int_equal(kex_derive(kb, &bad[i], 1, &s, &n), KEX_ERR_PUBLIC_RANGE);
    assert_int_equal(kex_derive(kb, bad, 2, &s, &n), KEX_ERR_PUBLIC_LENGTH);
    kex_free(ka);
    kex_free(kb);
    uint8_t zero = 0, big = 22;
    assert_int_equal(kex_from_private(KEX_TOY, &zero, 1, &ka), KEX_ERR_PRIVATE);
    assert_int_equal(kex_from_private(KEX_TOY, &big, 1, &ka), KEX_ERR_PRIVATE);
    assert_null(ka);
}

/* both sides of a real exchange get the same secret */
static void agree(kex_group g, size_t secret_len)
{
    kex_key *a = NULL, *b = NULL;
    uint8_t *pa = NULL, *pb = NULL, *sa = NULL, *sb = NULL;
    size_t na, nb, la, lb;
    assert_int_equal(kex_generate(g, &a), KEX_OK);
    assert_int_equal(kex_generate(g, &b), KEX_OK);
    assert_int_equal(kex_public(a, &pa, &na), KEX_OK);
    assert_int_equal(kex_public(b, &pb, &nb), KEX_OK);
    assert_int_equal(na, kex_public_len(g));
    assert_int_equal(kex_derive(a, pb, nb, &sa, &la), KEX_OK);
    assert_int_equal(kex_derive(b, pa, na, &sb, &lb), KEX_OK);
    assert_int_equal(la, secret_len);
    assert_int_equal(lb, secret_len);
    assert_memory_equal(sa, sb, la);
    encoding_free_secret(sa, la);
    encoding_free_secret(sb, lb);
    free(pa);
    free(pb);
    kex_free(a);
    kex_free(b);
}

static void every_group_agrees(void **state)
{
    (void)state;
    agree(KEX_TOY, 1);
    agree(KEX_FFDHE2048, 256);
    agree(KEX_MODP2048, 256);
    agree(KEX_X25519, 32);
    agree(KEX_P256, 32);
}

/* RFC 7919 ffdhe2048's p */
static const char FFDHE2048_P[] =
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695A9E13641146433FBCC939DCE249B"
    "3EF97D2FE363630C75D8F681B202AEC4617AD3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E"
    "7F57C935984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797ABC0AB182B324FB61D108"
    "A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2EC"
    "C03404CD28342F619172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005C58EF1837D16"
    "83B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF";

/* 0, 1, p-1, p and above are refused before any arithmetic; so is a value
 * in range but outside the prime-order subgroup (y^q != 1). */
static void ffdh_rejects_bad_values(void **state)
{
    kex_key *k = NULL;
    uint8_t *s = NULL, y[256], *p = NULL;
    size_t n = 0;
    (void)state;
    assert_int_equal(hex_decode(FFDHE2048_P, &p, &n), 0);
    assert_int_equal(n, 256);
    assert_int_equal(kex_generate(KEX_FFDHE2048, &k), KEX_OK);
    memset(y, 0, sizeof y);
    assert_int_equal(kex_derive(k, y, 256, &s, &n), KEX_ERR_PUBLIC_RANGE); /* 0 */
    y[255] = 1;
    assert_int_equal(kex_derive(k, y, 256, &s, &n), KEX_ERR_PUBLIC_RANGE); /* 1 */
    memcpy(y, p, 256);
    assert_int_equal(kex_derive(k, y, 256, &s, &n), KEX_ERR_PUBLIC_RANGE); /* p */
    y[255] = 0xfe;
    assert_int_equal(kex_derive(k, y, 256, &s, &n), KEX_ERR_PUBLIC_RANGE); /* p-1 */
    memset(y, 0xff, sizeof y);
    assert_int_equal(kex_derive(k, y, 256, &s, &n), KEX_ERR_PUBLIC_RANGE); /* > p */
    assert_int_equal(kex_derive(k, y, 255, &s, &n), KEX_ERR_PUBLIC_LENGTH);
    /* p = 3 mod 4, so -1 is a non-residue and -4 = p-4 is one too: in range,
     * but outside the subgroup of order q, so the full check refuses it */
    memcpy(y, p, 256);
    y[255] = 0xfb;
    assert_int_equal(kex_derive(k, y, 256, &s, &n), KEX_ERR_PUBLIC_INVALID);
    /* 2 = g is a fine public value (the peer's private key would be 1) */
    memset(y, 0, sizeof y);
    y[255] = 2;
    assert_int_equal(kex_derive(k, y, 256, &s, &n), KEX_OK);
    encoding_free_secret(s, n);
    free(p);
    kex_free(k);
}

static void p256_and_x25519_reject_bad_points(void **state)
{
    kex_key *k = NULL;
    uint8_t *pub = NULL, *s = NULL, zero[32] = {0};
    size_t n = 0, sl = 0;
    (void)state;
    assert_int_equal(kex_generate(KEX_P256, &k), KEX_OK);
    assert_int_equal(kex_public(k, &pub, &n), KEX_OK);
    assert_int_equal(n, 65);
    assert_int_equal(pub[0], 4);
    pub[64] ^= 1; /* y no longer matches x */
    assert_int_equal(kex_derive(k, pub, n, &s, &sl), KEX_ERR_NOT_ON_CURVE);
    pub[0] = 5;
    assert_int_equal(kex_derive(k, pub, n, &s, &sl), KEX_ERR_PUBLIC_LENGTH);
    assert_int_equal(kex_derive(k, pub, 64, &s, &sl), KEX_ERR_PUBLIC_LENGTH);
    free(pub);
    kex_free(k);
    assert_int_equal(kex_generate(KEX_X25519, &k), KEX_OK);
    assert_int_equal(kex_derive(k, zero, 32, &s, &sl), KEX_ERR_ZERO_SECRET);
    zero[0] = 1; /* u = 1 has order 4: also low order */
    assert_int_equal(kex_derive(k, zero, 32, &s, &sl), KEX_ERR_ZERO_SECRET);
    assert_int_equal(kex_derive(k, zero, 31, &s, &sl), KEX_ERR_PUBLIC_LENGTH);
    assert_null(s);
    kex_free(k);
}

static void pem_round_trip(void **state)
{
    static const kex_group groups[] = {KEX_X25519, KEX_P256, KEX_FFDHE2048, KEX_MODP2048};
    char dir[] = "/tmp/test_kex.XXXXXX", priv[64], pubf[64];
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(priv, sizeof priv, "%s/k.pem", dir);
    snprintf(pubf, sizeof pubf, "%s/k.pub", dir);
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++) {
        kex_key *k = NULL, *l = NULL;
        uint8_t *p1 = NULL, *p2 = NULL, *p3 = NULL;
        size_t n1, n2, n3, len;
        kex_group g;
        struct stat sb;
        char *text;
        assert_int_equal(kex_generate(groups[i], &k), KEX_OK);
        assert_int_equal(kex_save_pem(k, priv, pubf), KEX_OK);
        assert_int_equal(stat(priv, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
        FILE *f = fopen(priv, "r");
        assert_non_null(f);
        text = calloc(1, 8192);
        len = fread(text, 1, 8191, f);
        fclose(f);
        assert_int_equal(kex_from_pem(text, len, &l), KEX_OK);
        assert_int_equal(kex_key_group(l), groups[i]);
        encoding_free_secret(text, 8192);
        f = fopen(pubf, "r");
        text = calloc(1, 8192);
        len = fread(text, 1, 8191, f);
        fclose(f);
        assert_int_equal(kex_public_from_pem(text, len, &g, &p3, &n3), KEX_OK);
        assert_int_equal(g, groups[i]);
        /* a public key is not a private key */
        kex_key *none = NULL;
        assert_int_not_equal(kex_from_pem(text, len, &none), KEX_OK);
        assert_null(none);
        free(text);
        /* the reloaded key, the original and the public file agree */
        assert_int_equal(kex_public(l, &p1, &n1), KEX_OK);
        assert_int_equal(kex_public(k, &p2, &n2), KEX_OK);
        assert_int_equal(n1, n3);
        assert_int_equal(n2, n3);
        assert_memory_equal(p1, p3, n1);
        assert_memory_equal(p2, p3, n2);
        free(p1);
        free(p2);
        free(p3);
        kex_free(k);
        kex_free(l);
    }
    unlink(priv);
    unlink(pubf);
    rmdir(dir);
}

static void group_names(void **state)
{
    kex_group g;
    (void)state;
    for (int i = KEX_TOY; i <= KEX_P256; i++) {
        assert_int_equal(kex_group_from_name(kex_group_name((kex_group)i), &g), 0);
        assert_int_equal(g, i);
    }
    assert_int_equal(kex_group_from_name("X25519 ", &g), -1);
    assert_int_equal(kex_group_from_name("", &g), -1);
    assert_non_null(strstr(kex_status_str(KEX_ERR_PUBLIC_RANGE), "2..p-2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc7748_5_2_vectors),  cmocka_unit_test(rfc7748_5_2_iterated),
        cmocka_unit_test(rfc7748_6_1),          cmocka_unit_test(rfc5869_a1_a3),
        cmocka_unit_test(hkdf_length_limits),   cmocka_unit_test(toy_textbook),
        cmocka_unit_test(every_group_agrees),   cmocka_unit_test(ffdh_rejects_bad_values),
        cmocka_unit_test(p256_and_x25519_reject_bad_points),
        cmocka_unit_test(pem_round_trip),       cmocka_unit_test(group_names),
    };
    return cmocka_run_group_tests_name("kex", tests, NULL, NULL);
}
