/* SPDX-License-Identifier: MIT */
/* Wycheproof vectors for common/kex (tests/vectors/wycheproof, see its README):
 * x25519_test.json, ecdh_secp256r1_ecpoint_test.json, hkdf_sha256_test.json.
 *
 * valid: kex must compute exactly the expected output.
 * invalid: kex must refuse.
 * acceptable (legal but weak input; either outcome may pass), decided per flag:
 *   X25519 ZeroSharedSecret / LowOrderPublic with an all-zero result: we MUST
 *     refuse (RFC 7748 section 6.1 check; an all-zero key is known to everyone).
 *   X25519 Twist, NonCanonicalPublic, SmallPublicKey, SpecialPublicKey,
 *     EdgeCaseMultiplication with a non-zero result: we accept, as RFC 7748
 *     section 5 asks, and the result must then match exactly.
 *   P-256 CompressedPoint / CompressedPublic: we accept the compressed SEC1 form
 *     (kex.h says peers may send it), so the result must match exactly.
 * Run from the repository root (tests/run.sh does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/encoding.h"
#include "kex/kex.h"

#define DIR "tests/vectors/wycheproof/"

typedef struct counts {
    int valid, invalid, accepted, refused;
} counts;

static json_t *load(const char *file)
{
    json_error_t err;
    json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        fail_msg("%s: line %d: %s", file, err.line, err.text);
    return root;
}

static uint8_t *field(const json_t *t, const char *name, size_t *n)
{
    uint8_t *b = NULL;
    const char *h = json_string_value(json_object_get(t, name));
    assert_non_null(h);
    assert_int_equal(hex_decode(h, &b, n), 0);
    return b;
}

static int has_flag(const json_t *t, const char *flag)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(t, "flags"), i, f)
    {
        if (strcmp(json_string_value(f), flag) == 0)
            return 1;
    }
    return 0;
}

static int all_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

/* One ECDH case: derive, then judge by result and flags. */
static void ecdh_case(kex_group g, const json_t *t, counts *c)
{
    size_t npriv, npub, nwant, nsec = 0;
    uint8_t *priv = field(t, "private", &npriv), *pub = field(t, "public", &npub);
    uint8_t *want = field(t, "shared", &nwant), *sec = NULL;
    const char *res = json_string_value(json_object_get(t, "result"));
    int id = (int)json_integer_value(json_object_get(t, "tcId"));
    kex_key *k = NULL;
    kex_status st;

    /* the private half is always well formed in these files */
    if (kex_from_private(g, priv, npriv, &k) != KEX_OK)
        fail_msg("tcId %d: cannot import the private key", id);
    st = kex_derive(k, pub, npub, &sec, &nsec);
    if (strcmp(res, "invalid") == 0) {
        if (st == KEX_OK)
            fail_msg("tcId %d: invalid case accepted (%s)", id,
                     json_string_value(json_object_get(t, "comment")));
        c->invalid++;
    } else if (strcmp(res, "valid") == 0 || !all_zero(want, nwant)) {
        /* valid, or acceptable with a real result: must match */
        if (st != KEX_OK)
            fail_msg("tcId %d (%s): refused: %s", id, res, kex_status_str(st));
        assert_int_equal(nsec, nwant);
        if (memcmp(sec, want, nwant) != 0)
            fail_msg("tcId %d: wrong shared secret", id);
        if (strcmp(res, "valid") == 0)
            c->valid++;
        else
            c->accepted++;
    } else {
        /* acceptable with an all-zero result: we must refuse, with the reason */
        assert_true(has_flag(t, "ZeroSharedSecret") || has_flag(t, "LowOrderPublic"));
        if (st != KEX_ERR_ZERO_SECRET)
            fail_msg("tcId %d: all-zero secret not refused (status %d)", id, st);
        c->refused++;
    }
    if (sec)
        encoding_free_secret(sec, nsec);
    kex_free(k);
    free(priv);
    free(pub);
    free(want);
}

static counts run_ecdh(const char *file, kex_group g)
{
    json_t *root = load(file), *grp, *t;
    size_t i, j;
    counts c = {0};
    json_array_foreach(json_object_get(root, "testGroups"), i, grp)
    {
        json_array_foreach(json_object_get(grp, "tests"), j, t) ecdh_case(g, t, &c);
    }
    assert_int_equal(c.valid + c.invalid + c.accepted + c.refused,
                     json_integer_value(json_object_get(root, "numberOfTests")));
    json_decref(root);
    return c;
}

static void wycheproof_x25519(void **state)
{
    counts c = run_ecdh(DIR "x25519_test.json", KEX_X25519);
    (void)state;
    print_message("x25519: %d valid matched, %d acceptable accepted and matched, "
                  "%d acceptable refused (all-zero secret)\n",
                  c.valid, c.accepted, c.refused);
    assert_int_equal(c.valid, 264);
    assert_int_equal(c.refused, 31);
}

static void wycheproof_p256(void **state)
{
    counts c = run_ecdh(DIR "ecdh_secp256r1_ecpoint_test.json", KEX_P256);
    (void)state;
    print_message("ecdh_secp256r1_ecpoint: %d valid matched, %d invalid refused, "
                  "%d acceptable (compressed) accepted and matched\n",
                  c.valid, c.invalid, c.accepted);
    assert_int_equal(c.valid + c.invalid + c.accepted, 355);
    assert_int_equal(c.invalid, 24);
    assert_int_equal(c.accepted, 1);
}

static void wycheproof_hkdf(void **state)
{
    json_t *root = load(DIR "hkdf_sha256_test.json"), *grp, *t;
    size_t i, j;
    int valid = 0, invalid = 0;
    (void)state;
    json_array_foreach(json_object_get(root, "testGroups"), i, grp)
    {
        json_array_foreach(json_object_get(grp, "tests"), j, t)
        {
            size_t ni, ns, nf, nw;
            uint8_t *ikm = field(t, "ikm", &ni), *salt = field(t, "salt", &ns);
            uint8_t *info = field(t, "info", &nf), *want = field(t, "okm", &nw);
            size_t size = (size_t)json_integer_value(json_object_get(t, "size"));
            int id = (int)json_integer_value(json_object_get(t, "tcId"));
            uint8_t *out = malloc(size ? size : 1);
            kex_status st;
            assert_non_null(out);
            st = kex_hkdf_sha256(ikm, ni, salt, ns, info, nf, out, size);
            if (strcmp(json_string_value(json_object_get(t, "result")), "valid") == 0) {
                if (st != KEX_OK || nw != size || memcmp(out, want, size) != 0)
                    fail_msg("tcId %d: wrong output", id);
                valid++;
            } else {
                /* the only invalid cases ask for more than 255 * 32 bytes */
                if (st != KEX_ERR_HKDF_LENGTH)
                    fail_msg("tcId %d: invalid size not refused", id);
                invalid++;
            }
            free(out);
            free(ikm);
            free(salt);
            free(info);
            free(want);
        }
    }
    print_message("hkdf_sha256: %d valid matched, %d invalid refused\n", valid, invalid);
    assert_int_equal(valid, 83);
    assert_int_equal(invalid, 3);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wycheproof_x25519),
        cmocka_unit_test(wycheproof_p256),
        cmocka_unit_test(wycheproof_hkdf),
    };
    return cmocka_run_group_tests_name("kex_wycheproof", tests, NULL, NULL);
}
