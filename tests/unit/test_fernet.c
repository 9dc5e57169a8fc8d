/* SPDX-License-Identifier: MIT */
/* Unit tests for common/fernet: every vector of the Fernet spec
 * (tests/vectors/fernet/, run from the repository root), then the edges the
 * spec leaves to the implementer: time limits, tampering, keys, rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <pthread.h>

#include "core/encoding.h"
#include "fernet/fernet.h"
#include "fernet/fernet_internal.h"

/* "1985-10-26T01:20:00-07:00" -> unix time */
static uint64_t iso_time(const char *s)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, se, oh, om;
    char sign;
    assert_int_equal(sscanf(s, "%d-%d-%dT%d:%d:%d%c%d:%d", &y, &mo, &d, &h, &mi, &se, &sign,
                            &oh, &om),
                     9);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    long off = (oh * 60 + om) * 60 * (sign == '-' ? -1 : 1);
    return (uint64_t)((long)timegm(&tm) - off);
}

static json_t *load(const char *name)
{
    char path[256];
    json_error_t err;
    snprintf(path, sizeof path, "tests/vectors/fernet/%s", name);
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        fail_msg("%s:%d: %s", path, err.line, err.text);
    assert_true(json_is_array(j));
    return j;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    return s;
}

static void spec_generate(void **state)
{
    json_t *all = load("generate.json"), *v;
    size_t i;
    (void)state;
    json_array_foreach(all, i, v) {
        fernet_key k;
        uint8_t iv[16];
        json_t *b;
        size_t j;
        assert_int_equal(fernet_key_from_b64(&k, str(v, "secret")), 0);
        json_array_foreach(json_object_get(v, "iv"), j, b) iv[j] = (uint8_t)json_integer_value(b);
        const char *src = str(v, "src");
        char *tok = fernet_encrypt(&k, (const uint8_t *)src, strlen(src), iso_time(str(v, "now")), iv);
        assert_string_equal(tok, str(v, "token"));
        free(tok);
    }
    json_decref(all);
}

static void spec_verify(void **state)
{
    json_t *all = load("verify.json"), *v;
    size_t i;
    (void)state;
    json_array_foreach(all, i, v) {
        fernet_key k;
        uint8_t *msg = NULL;
        size_t len = 0;
        const char *tok = str(v, "token");
        assert_int_equal(fernet_key_from_b64(&k, str(v, "secret")), 0);
        assert_int_equal(fernet_decrypt(&k, tok, strlen(tok),
                                        (uint64_t)json_integer_value(json_object_get(v, "ttl_sec")),
                                        iso_time(str(v, "now")), &msg, &len),
                         FERNET_OK);
        assert_int_equal(len, strlen(str(v, "src")));
        assert_memory_equal(msg, str(v, "src"), len);
        free(msg);
    }
    json_decref(all);
}

/* Each invalid token must be refused for the reason its description names. */
static void spec_invalid(void **state)
{
    static const struct {
        const char *desc;
        fernet_status want;
    } reasons[] = {
        {"incorrect mac", FERNET_BAD_MAC},
        {"too short", FERNET_TOO_SHORT},
        {"invalid base64", FERNET_BAD_BASE64},
        {"payload size not multiple of block size", FERNET_BAD_LENGTH},
        {"payload padding error", FERNET_BAD_PADDING},
        {"far-future TS (unacceptable clock skew)", FERNET_FROM_FUTURE},
        {"expired TTL", FERNET_EXPIRED},
        {"incorrect IV (causes padding error)", FERNET_BAD_PADDING},
    };
    json_t *all = load("invalid.json"), *v;
    size_t i, seen = 0;
    (void)state;
    assert_int_equal(json_array_size(all), 8);
    json_array_foreach(all, i, v) {
        fernet_key k;
        uint8_t *msg = (uint8_t *)"untouched";
        size_t len = 99, r;
        const char *tok = str(v, "token"), *desc = str(v, "desc");
        assert_int_equal(fernet_key_from_b64(&k, str(v, "secret")), 0);
        fernet_status st = fernet_decrypt(&k, tok, strlen(tok),
                                          (uint64_t)json_integer_value(json_object_get(v, "ttl_sec")),
                                          iso_time(str(v, "now")), &msg, &len);
        for (r = 0; r < 8 && strcmp(reasons[r].desc, desc) != 0; r++)
            ;
        if (r == 8)
            fail_msg("no expected reason for invalid vector '%s'", desc);
        if (st != reasons[r].want)
            fail_msg("'%s': got '%s', expected '%s'", desc, fernet_status_str(st),
                     fernet_status_str(reasons[r].want));
        assert_null(msg);
        assert_int_equal(len, 0);
        seen++;
    }
    assert_int_equal(seen, 8);
    json_decref(all);
}

static void new_key(fernet_key *k)
{
    assert_int_equal(fernet_key_generate(k), 0);
}

/* Random lengths around block edges, plus empty and 1 MiB, random IVs. */
static void round_trip(void **state)
{
    /* around the AES block, the base64 group and the 16 KiB steps of fernet.c */
    static const size_t sizes[] = {0,     1,     2,     3,     15,    16,    17,    31,
                                   32,    33,    100,   1024,  4097,  16383, 16384, 16385,
                                   49151, 49152, 49153, 65537, 1 << 20};
    fernet_key k;
    (void)state;
    new_key(&k);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *in = malloc(sizes[i] + 1), *out = NULL;
        size_t n = 0;
        assert_non_null(in);
        assert_int_equal(RAND_bytes(in, (int)sizes[i] + 1), 1);
        char *tok = fernet_encrypt(&k, in, sizes[i], 1700000000, NULL);
        assert_non_null(tok);
        assert_memory_equal(tok, "gAAAAA", 6); /* 0x80 and a timestamp < 2^32 */
        assert_int_equal(fernet_decrypt(&k, tok, strlen(tok), 60, 1700000030, &out, &n), FERNET_OK);
        assert_int_equal(n, sizes[i]);
        assert_memory_equal(out, in, n);
        assert_int_equal(out[n], 0);
        free(out);
        free(tok);
        free(in);
    }
    fernet_key_clear(&k);
}

/* Every single-bit flip of the decoded token is refused: the MAC covers all. */
static void every_bit_flip_refused(void **state)
{
    fernet_key k;
    uint8_t *raw = NULL, *msg = NULL;
    size_t raw_len = 0, n = 0;
    (void)state;
    new_key(&k);
    char *tok = fernet_encrypt(&k, (const uint8_t *)"fluffy tail", 11, 1000, NULL);
    assert_int_equal(b64url_decode(tok, strlen(tok), B64_PAD, &raw, &raw_len), 0);
    for (size_t bit = 0; bit < raw_len * 8; bit++) {
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        char *bad = b64url_encode(raw, raw_len, B64_PAD);
        fernet_status st = fernet_decrypt(&k, bad, strlen(bad), 0, 1000, &msg, &n);
        if (st == FERNET_OK)
            fail_msg("bit %zu flipped and the token still decrypted", bit);
        assert_null(msg);
        free(bad);
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* the version byte and the far future have their own reasons */
    raw[0] = 0x81;
    char *bad = b64url_encode(raw, raw_len, B64_PAD);
    assert_int_equal(fernet_decrypt(&k, bad, strlen(bad), 0, 1000, &msg, &n), FERNET_BAD_VERSION);
    free(bad);
    free(raw);
    free(tok);
}

/* TTL and skew at their exact edges, and timestamps chosen to overflow. */
static void time_edges(void **state)
{
    fernet_key k;
    uint8_t *msg = NULL;
    size_t n = 0;
    (void)state;
    new_key(&k);
    char *tok = fernet_encrypt(&k, (const uint8_t *)"x", 1, 1000, NULL);
    size_t len = strlen(tok);
    assert_int_equal(fernet_decrypt(&k, tok, len, 60, 1060, &msg, &n), FERNET_OK);
    free(msg);
    assert_int_equal(fernet_decrypt(&k, tok, len, 60, 1061, &msg, &n), FERNET_EXPIRED);
    assert_int_equal(fernet_decrypt(&k, tok, len, 0, 999999999, &msg, &n), FERNET_OK);
    free(msg);
    assert_int_equal(fernet_decrypt(&k, tok, len, 60, 940, &msg, &n), FERNET_OK);
    free(msg);
    assert_int_equal(fernet_decrypt(&k, tok, len, 60, 939, &msg, &n), FERNET_FROM_FUTURE);
    assert_int_equal(fernet_decrypt(&k, tok, len, 0, 939, &msg, &n), FERNET_FROM_FUTURE);
    free(tok);
    tok = fernet_encrypt(&k, (const uint8_t *)"x", 1, UINT64_MAX, NULL);
    assert_int_equal(fernet_decrypt(&k, tok, strlen(tok), UINT64_MAX, 0, &msg, &n),
                     FERNET_FROM_FUTURE);
    assert_int_equal(fernet_decrypt(&k, tok, strlen(tok), UINT64_MAX, UINT64_MAX - 60, &msg, &n),
                     FERNET_OK);
    free(msg);
    free(tok);
    tok = fernet_encrypt(&k, (const uint8_t *)"x", 1, 0, NULL);
    assert_int_equal(fernet_decrypt(&k, tok, strlen(tok), UINT64_MAX, UINT64_MAX, &msg, &n),
                     FERNET_OK);
    free(msg);
    assert_int_equal(fernet_decrypt(&k, tok, strlen(tok), 1, UINT64_MAX, &msg, &n), FERNET_EXPIRED);
    free(tok);
}

static void wrong_key_and_garbage(void **state)
{
    static const char *garbage[] = {"", "gA", "gAAAAA==", "not a token", "gAAAAAAdwJ6w\n",
                                    "====", "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ"};
    fernet_key a, b;
    uint8_t *msg = NULL;
    size_t n = 0;
    (void)state;
    new_key(&a);
    new_key(&b);
    char *tok = fernet_encrypt(&a, (const uint8_t *)"fluffy tail", 11, 5, NULL);
    assert_int_equal(fernet_decrypt(&b, tok, strlen(tok), 0, 5, &msg, &n), FERNET_BAD_MAC);
    assert_null(msg);
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        assert_int_not_equal(fernet_decrypt(&a, garbage[i], strlen(garbage[i]), 0, 5, &msg, &n),
                             FERNET_OK);
    assert_int_equal(fernet_decrypt(&a, "", 0, 0, 5, &msg, &n), FERNET_BAD_BASE64);
    assert_int_equal(fernet_decrypt(&a, "gA==", 4, 0, 5, &msg, &n), FERNET_TOO_SHORT);
    assert_int_equal(fernet_decrypt(&a, "gQ==", 4, 0, 5, &msg, &n), FERNET_BAD_VERSION);
    free(tok);
}

/* The token's base64 is checked everywhere, not only in the first chunk: a
 * bad character, a '=' inside, or non-canonical last bits are refused. */
static void base64_strict_everywhere(void **state)
{
    fernet_key k;
    uint8_t *msg = NULL, *big = calloc(1, 100000);
    size_t n = 0;
    (void)state;
    new_key(&k);
    assert_non_null(big);
    for (int pad = 0; pad < 3; pad++) {
        /* message lengths giving tokens that end in no, one and two '=' */
        size_t len = 100000 - 16 - (size_t)pad * 16;
        char *tok = fernet_encrypt(&k, big, len, 5, NULL);
        size_t tl = strlen(tok);
        assert_int_equal(fernet_decrypt(&k, tok, tl, 0, 5, &msg, &n), FERNET_OK);
        free(msg);
        const size_t spots[] = {3, 5000, 30000, tl - 40, tl - 5};
        for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
            char saved = tok[spots[i]];
            tok[spots[i]] = '+'; /* standard base64, not base64url */
            assert_int_equal(fernet_decrypt(&k, tok, tl, 0, 5, &msg, &n), FERNET_BAD_BASE64);
            tok[spots[i]] = '=';
            assert_int_equal(fernet_decrypt(&k, tok, tl, 0, 5, &msg, &n), FERNET_BAD_BASE64);
            tok[spots[i]] = saved;
        }
        if (tok[tl - 1] == '=') { /* set a bit the padding says is unused */
            size_t last = tok[tl - 2] == '=' ? tl - 3 : tl - 2;
            static const char ALPHA[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            tok[last] = ALPHA[(strchr(ALPHA, tok[last]) - ALPHA) ^ 1];
            assert_int_equal(fernet_decrypt(&k, tok, tl, 0, 5, &msg, &n), FERNET_BAD_BASE64);
        }
        assert_int_equal(fernet_decrypt(&k, tok, tl - 1, 0, 5, &msg, &n), FERNET_BAD_BASE64);
        free(tok);
    }
    free(big);
}

static void keys_strict(void **state)
{
    fernet_key k, k2;
    (void)state;
    new_key(&k);
    char *s = fernet_key_to_b64(&k);
    assert_int_equal(strlen(s), FERNET_KEY_B64_LEN);
    assert_int_equal(fernet_key_from_b64(&k2, s), 0);
    assert_memory_equal(&k, &k2, sizeof k);
    char padded[64];
    snprintf(padded, sizeof padded, "  %s\n", s); /* a key file's newline is fine */
    assert_int_equal(fernet_key_from_b64(&k2, padded), 0);
    s[43] = 'A'; /* no '=' */
    assert_int_not_equal(fernet_key_from_b64(&k2, s), 0);
    s[43] = '=';
    /* the last character's 2 unused low bits must be zero: canonical form only */
    static const char ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    s[42] = ALPHA[(strchr(ALPHA, s[42]) - ALPHA) ^ 1];
    assert_int_not_equal(fernet_key_from_b64(&k2, s), 0);
    assert_int_not_equal(fernet_key_from_b64(&k2, "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4"), 0);
    assert_int_not_equal(fernet_key_from_b64(&k2, "cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4="), 0);
    assert_int_equal(fernet_key_from_b64(&k2, "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="), 0);
    encoding_free_secret(s, FERNET_KEY_B64_LEN);
    fernet_key_clear(&k);
    uint8_t zero[sizeof k] = {0};
    assert_memory_equal(&k, zero, sizeof k);
}

static void multi_and_rotate(void **state)
{
    fernet_key keys[2], *old = &keys[1];
    uint8_t *msg = NULL;
    size_t n = 0;
    uint64_t ts = 0;
    char *rot = NULL;
    (void)state;
    new_key(&keys[0]);
    new_key(&keys[1]);
    char *tok = fernet_encrypt(old, (const uint8_t *)"rotate me", 9, 1234, NULL);
    assert_int_equal(fernet_multi_decrypt(keys, 2, tok, strlen(tok), 0, 1234, &msg, &n), FERNET_OK);
    assert_memory_equal(msg, "rotate me", 9);
    free(msg);
    assert_int_equal(fernet_multi_decrypt(keys, 1, tok, strlen(tok), 0, 1234, &msg, &n),
                     FERNET_BAD_MAC);
    /* rotation: the new key opens it, the timestamp is kept, the IV is new */
    assert_int_equal(fernet_multi_rotate(keys, 2, tok, strlen(tok), &rot), FERNET_OK);
    assert_int_equal(fernet_token_timestamp(rot, strlen(rot), &ts), FERNET_OK);
    assert_int_equal(ts, 1234);
    assert_string_not_equal(rot, tok);
    assert_int_equal(fernet_decrypt(&keys[0], rot, strlen(rot), 0, 1234, &msg, &n), FERNET_OK);
    free(msg);
    free(rot);
    assert_int_equal(fernet_multi_rotate(keys, 1, tok, strlen(tok), &rot), FERNET_BAD_MAC);
    assert_null(rot);
    char *tok2 = fernet_multi_encrypt(keys, 2, (const uint8_t *)"new", 3, 9, NULL);
    assert_int_equal(fernet_decrypt(&keys[0], tok2, strlen(tok2), 0, 9, &msg, &n), FERNET_OK);
    free(msg);
    free(tok2);
    free(tok);
}

static void reasons_are_distinct(void **state)
{
    (void)state;
    for (int a = FERNET_OK; a <= FERNET_INTERNAL; a++)
        for (int b = a + 1; b <= FERNET_INTERNAL; b++)
            assert_string_not_equal(fernet_status_str((fernet_status)a),
                                    fernet_status_str((fernet_status)b));
    assert_string_equal(fernet_status_str(FERNET_BAD_MAC), "MAC mismatch");
}

/* Each thread gets its own contexts; run several at once (ASan/UBSan lane). */
static void *worker(void *arg)
{
    const fernet_key *k = arg;
    for (int i = 0; i < 200; i++) {
        uint8_t *msg = NULL;
        size_t n = 0;
        char *tok = fernet_encrypt(k, (const uint8_t *)"thread", 6, 77, NULL);
        if (!tok || fernet_decrypt(k, tok, strlen(tok), 0, 77, &msg, &n) != FERNET_OK || n != 6) {
            free(tok);
            return (void *)1;
        }
        free(msg);
        free(tok);
    }
    return NULL;
}

static void threads(void **state)
{
    pthread_t t[4];
    fernet_key k;
    (void)state;
    new_key(&k);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &k), 0);
    for (int i = 0; i < 4; i++) {
        void *r = (void *)1;
        pthread_join(t[i], &r);
        assert_null(r);
    }
}

/* A key's cached copies go when it is forgotten, from every thread, even an
 * idle one (regression: each thread kept its last key and the AES and HMAC
 * state expanded from it until the thread ended; the main thread's, never). */
struct idle_arg {
    const fernet_key *k;
    pthread_barrier_t used, forgotten;
    int ok;
};

static int one_token(const fernet_key *k, char *out, size_t out_len)
{
    static const uint8_t iv[16] = {1, 2, 3};
    uint8_t *msg = NULL;
    size_t n = 0;
    char *tok = fernet_encrypt(k, (const uint8_t *)"session", 7, 99, iv);
    int ok = tok && strlen(tok) < out_len &&
             fernet_decrypt(k, tok, strlen(tok), 0, 99, &msg, &n) == FERNET_OK && n == 7;
    if (ok)
        snprintf(out, out_len, "%s", tok);
    free(tok);
    free(msg);
    return ok;
}

static void *idle_worker(void *arg)
{
    struct idle_arg *a = arg;
    char before[256] = "", after[256] = "";
    a->ok = one_token(a->k, before, sizeof before);
    pthread_barrier_wait(&a->used);      /* now idle, holding the key */
    pthread_barrier_wait(&a->forgotten); /* the main thread forgot it */
    /* the same key still works (contexts made again), same token */
    a->ok = a->ok && one_token(a->k, after, sizeof after) && strcmp(before, after) == 0;
    return NULL;
}

static void forget_key(void **state)
{
    struct idle_arg a = {0};
    fernet_key k, other;
    pthread_t t;
    char before[256], after[256];
    (void)state;
    new_key(&k);
    new_key(&other);
    a.k = &k;
    assert_int_equal(pthread_barrier_init(&a.used, NULL, 2), 0);
    assert_int_equal(pthread_barrier_init(&a.forgotten, NULL, 2), 0);
    assert_int_equal(pthread_create(&t, NULL, idle_worker, &a), 0);
    pthread_barrier_wait(&a.used);
    /* the main thread used it too: two threads hold a copy */
    assert_true(one_token(&k, before, sizeof before));
    assert_int_equal(fernet_ctx_holders(k.signing, k.encryption), 2);
    fernet_forget_key(&other); /* another key: nothing of k goes */
    assert_int_equal(fernet_ctx_holders(k.signing, k.encryption), 2);
    fernet_forget_key(&k);
    assert_int_equal(fernet_ctx_holders(k.signing, k.encryption), 0);
    pthread_barrier_wait(&a.forgotten);
    pthread_join(t, NULL);
    assert_true(a.ok);
    /* after forgetting, the main thread's contexts come back and agree */
    assert_true(one_token(&k, after, sizeof after));
    assert_string_equal(before, after);
    assert_int_equal(fernet_ctx_holders(k.signing, k.encryption), 1);
    fernet_forget_key(&k);
    assert_int_equal(fernet_ctx_holders(k.signing, k.encryption), 0);
    fernet_forget_key(NULL); /* harmless */
    pthread_barrier_destroy(&a.used);
    pthread_barrier_destroy(&a.forgotten);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_generate),         cmocka_unit_test(spec_verify),
        cmocka_unit_test(spec_invalid),          cmocka_unit_test(round_trip),
        cmocka_unit_test(every_bit_flip_refused), cmocka_unit_test(time_edges),
        cmocka_unit_test(wrong_key_and_garbage), cmocka_unit_test(base64_strict_everywhere),
        cmocka_unit_test(keys_strict),
        cmocka_unit_test(multi_and_rotate),      cmocka_unit_test(reasons_are_distinct),
        cmocka_unit_test(threads),               cmocka_unit_test(forget_key),
    };
    return cmocka_run_group_tests_name("fernet", tests, NULL, NULL);
}
