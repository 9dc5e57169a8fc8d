/* SPDX-License-Identifier: MIT */
/* Unit tests for common/exchange (offers, derivation, transcript) and
 * common/sessions (lookup, refusal when full, expiry, wiping): the pieces
 * chapter 04 reuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kex/exchange.h"
#include "core/narrate.h"
#include "kex/sessions.h"

#define INFO "test info"

/* client offer -> JSON -> server answer -> JSON -> client finish: same key */
static void run_exchange(kex_group g)
{
    exchange client, server;
    exchange_offer back;
    uint8_t kc[EXCHANGE_KEY_LEN], ks[EXCHANGE_KEY_LEN], *tc = NULL, *ts = NULL;
    size_t nc = 0, ns = 0;
    char err[256];
    json_t *req, *rep;

    assert_int_equal(exchange_begin(&client, g, 1), KEX_OK);
    assert_non_null(req = exchange_offer_json(&client.mine));
    assert_int_equal(exchange_answer(&server, req, INFO, ks, err, sizeof err), 0);
    assert_non_null(rep = exchange_offer_json(&server.mine));
    assert_int_equal(exchange_offer_parse(rep, &back, err, sizeof err), 0);
    assert_int_equal(exchange_finish(&client, &back, INFO, kc), KEX_OK);
    assert_memory_equal(kc, ks, EXCHANGE_KEY_LEN);
    /* both sides see the same transcript, which is what chapter 04 signs */
    assert_int_equal(exchange_transcript(&client, &tc, &nc), 0);
    assert_int_equal(exchange_transcript(&server, &ts, &ns), 0);
    assert_int_equal(nc, ns);
    assert_memory_equal(tc, ts, nc);
    free(tc);
    free(ts);
    json_decref(req);
    json_decref(rep);
    exchange_clear(&client);
    exchange_clear(&server);
}

static void exchange_agrees_in_every_group(void **state)
{
    (void)state;
    for (int g = KEX_TOY; g <= KEX_P256; g++)
        run_exchange((kex_group)g);
}

/* a different label or a swapped nonce gives a different key */
static void key_depends_on_info(void **state)
{
    exchange c, s;
    exchange_offer back;
    uint8_t kc[EXCHANGE_KEY_LEN], ks[EXCHANGE_KEY_LEN];
    char err[256];
    json_t *req, *rep;
    (void)state;
    assert_int_equal(exchange_begin(&c, KEX_X25519, 1), KEX_OK);
    req = exchange_offer_json(&c.mine);
    assert_int_equal(exchange_answer(&s, req, "one label", ks, err, sizeof err), 0);
    rep = exchange_offer_json(&s.mine);
    assert_int_equal(exchange_offer_parse(rep, &back, err, sizeof err), 0);
    assert_int_equal(exchange_finish(&c, &back, "another label", kc), KEX_OK);
    assert_memory_not_equal(kc, ks, EXCHANGE_KEY_LEN);
    /* a peer in another group is refused */
    back.group = KEX_P256;
    assert_int_equal(exchange_finish(&c, &back, INFO, kc), KEX_ERR_GROUP);
    json_decref(req);
    json_decref(rep);
    exchange_clear(&c);
    exchange_clear(&s);
}

static void parse_is_strict(void **state)
{
    static const char *bad[] = {
        "[]",
        "{\"public\":\"09\",\"nonce\":\"00\"}",
        "{\"group\":\"x448\",\"public\":\"09\",\"nonce\":\"00\"}",
        "{\"group\":\"x25519\",\"public\":\"zz\",\"nonce\":\"00\"}",
        "{\"group\":\"x25519\",\"public\":\"\",\"nonce\":\"00\"}",
        "{\"group\":\"x25519\",\"public\":9,\"nonce\":\"00\"}",
        "{\"group\":\"x25519\",\"public\":\"09\",\"nonce\":\"0000\"}",
        "{\"group\":\"x25519\",\"public\":\"09\"}",
    };
    exchange_offer o;
    char err[256];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        err[0] = '\0';
        assert_int_equal(exchange_offer_parse(j, &o, err, sizeof err), -1);
        assert_true(err[0] != '\0');
        json_decref(j);
    }
    /* a public value longer than any group's is refused before decoding */
    char *big = malloc(2 * EXCHANGE_MAX_PUBLIC + 3);
    memset(big, 'a', 2 * EXCHANGE_MAX_PUBLIC + 2);
    big[2 * EXCHANGE_MAX_PUBLIC + 2] = '\0';
    json_t *j = json_pack("{s:s, s:s, s:s}", "group", "x25519", "public", big, "nonce", "00");
    assert_int_equal(exchange_offer_parse(j, &o, err, sizeof err), -1);
    json_decref(j);
    free(big);
}

static void sessions_store_and_refuse(void **state)
{
    sessions *s = sessions_new(2, 600, 4);
    char a[SESSIONS_ID_SIZE], b[SESSIONS_ID_SIZE], c[SESSIONS_ID_SIZE];
    uint8_t v[4];
    (void)state;
    assert_non_null(s);
    assert_int_equal(sessions_put(s, "aaaa", a), 0);
    assert_int_equal(strlen(a), SESSIONS_ID_SIZE - 1);
    assert_int_equal(sessions_put(s, "bbbb", b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(sessions_get(s, a, v), 0);
    assert_memory_equal(v, "aaaa", 4);
    assert_int_equal(sessions_get(s, "AAAAAAAAAAAAAAAAAAAAAA", v), -1);
    assert_int_equal(sessions_get(s, NULL, v), -1);
    assert_int_equal(sessions_get(s, "short", v), -1);
    /* full of live sessions: a third is refused, and both live ones stay
     * (regression: it used to push out the oldest, so anonymous puts could
     * end every client's session) */
    assert_int_equal(sessions_put(s, "cccc", c), SESSIONS_FULL);
    assert_string_equal(c, "");
    assert_int_equal(sessions_count(s), 2);
    assert_int_equal(sessions_get(s, a, v), 0);
    assert_memory_equal(v, "aaaa", 4);
    assert_int_equal(sessions_get(s, b, v), 0);
    assert_memory_equal(v, "bbbb", 4);
    assert_true(sessions_wait(s) >= 599 && sessions_wait(s) <= 600);
    /* a removed one frees its slot */
    assert_int_equal(sessions_remove(s, a), 0);
    assert_int_equal(sessions_remove(s, a), -1);
    assert_int_equal(sessions_get(s, a, v), -1);
    assert_int_equal(sessions_put(s, "cccc", c), 0);
    assert_int_equal(sessions_get(s, c, v), 0);
    assert_memory_equal(v, "cccc", 4);
    sessions_free(s);
    /* a ttl of 0 expires everything at once; expired slots are reclaimed,
     * so a full table of dead sessions still takes new ones */
    s = sessions_new(1, 0, 4);
    assert_int_equal(sessions_put(s, "dddd", a), 0);
    assert_int_equal(sessions_get(s, a, v), -1);
    assert_int_equal(sessions_put(s, "eeee", b), 0);
    assert_int_equal(sessions_put(s, "ffff", c), 0);
    assert_int_equal(sessions_wait(s), 1);
    sessions_free(s);
    assert_null(sessions_new(0, 1, 4));
    assert_null(sessions_new(1, 1, 0));
}

/* on_drop sees each value as it leaves: expired, removed, or freed */
static char g_dropped[16];
static size_t g_ndropped;

static void on_drop(const void *value, size_t len)
{
    if (len == 4 && g_ndropped + 4 < sizeof g_dropped) {
        memcpy(g_dropped + g_ndropped, value, 4);
        g_ndropped += 4;
    }
}

static void sessions_drop_hook(void **state)
{
    sessions *s = sessions_new(4, 600, 4);
    char a[SESSIONS_ID_SIZE], b[SESSIONS_ID_SIZE];
    uint8_t v[4];
    (void)state;
    assert_non_null(s);
    sessions_on_drop(s, on_drop);
    g_ndropped = 0;
    assert_int_equal(sessions_put(s, "aaaa", a), 0);
    assert_int_equal(sessions_put(s, "bbbb", b), 0);
    assert_int_equal(sessions_remove(s, a), 0);
    assert_int_equal(g_ndropped, 4);
    assert_memory_equal(g_dropped, "aaaa", 4);
    sessions_free(s); /* the live one is dropped too */
    assert_int_equal(g_ndropped, 8);
    assert_memory_equal(g_dropped + 4, "bbbb", 4);
    /* expiry, seen by the next get of any id */
    s = sessions_new(4, 0, 4);
    sessions_on_drop(s, on_drop);
    g_ndropped = 0;
    assert_int_equal(sessions_put(s, "cccc", a), 0);
    assert_int_equal(sessions_put(s, "dddd", b), 0); /* reclaims cccc on the way */
    assert_int_equal(g_ndropped, 4);
    assert_memory_equal(g_dropped, "cccc", 4);
    assert_int_equal(sessions_get(s, "AAAAAAAAAAAAAAAAAAAAAA", v), -1);
    assert_int_equal(g_ndropped, 8);
    assert_memory_equal(g_dropped + 4, "dddd", 4);
    assert_int_equal(sessions_count(s), 0);
    sessions_free(s);
    assert_int_equal(g_ndropped, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exchange_agrees_in_every_group),
        cmocka_unit_test(key_depends_on_info),
        cmocka_unit_test(parse_is_strict),
        cmocka_unit_test(sessions_store_and_refuse),
        cmocka_unit_test(sessions_drop_hook),
    };
    narrate_init("test_exchange", NULL);
    narrate_set_level(1, 0); /* the exchange narrates; keep the TAP output clean */
    return cmocka_run_group_tests_name("exchange", tests, NULL, NULL);
}
