/* SPDX-License-Identifier: MIT */
/* exchange.c - see exchange.h: offers, their JSON form, the key derivation
 * and the transcript. The HTTP client half is in exchange_http.c. */
#include "kex/exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/encoding.h"
#include "core/narrate.h"

kex_status exchange_begin(exchange *ex, kex_group g, int is_client)
{
    uint8_t *pub = NULL;
    size_t len = 0;
    kex_status st;

    memset(ex, 0, sizeof *ex);
    ex->is_client = is_client;
    ex->mine.group = g;
    if ((st = kex_generate(g, &ex->key)) != KEX_OK || (st = kex_public(ex->key, &pub, &len)) != KEX_OK)
        goto end;
    if (len > sizeof ex->mine.public_value || RAND_bytes(ex->mine.nonce, EXCHANGE_NONCE_LEN) != 1) {
        st = KEX_ERR_CRYPTO;
        goto end;
    }
    memcpy(ex->mine.public_value, pub, len);
    ex->mine.public_len = len;
end:
    free(pub);
    return st;
}

json_t *exchange_offer_json(const exchange_offer *o)
{
    char *pub = hex_encode(o->public_value, o->public_len);
    char *nonce = hex_encode(o->nonce, EXCHANGE_NONCE_LEN);
    json_t *j = NULL;
    if (pub && nonce)
        j = json_pack("{s:s, s:s, s:s}", "group", kex_group_name(o->group), "public", pub, "nonce",
                      nonce);
    free(pub);
    free(nonce);
    return j;
}

/* hex member `name` of j into out[0..max), exact length if exact != 0 */
static int hex_member(const json_t *j, const char *name, uint8_t *out, size_t max, size_t exact,
                      size_t *got, char *err, size_t err_len)
{
    const char *h = json_string_value(json_object_get(j, name));
    uint8_t *b = NULL;
    size_t n = 0;
    if (!h) {
        snprintf(err, err_len, "member \"%s\" is missing or not a string", name);
        return -1;
    }
    /* bound the text before decoding it */
    if (strlen(h) > 2 * max || hex_decode(h, &b, &n) != 0) {
        snprintf(err, err_len, "member \"%s\" is not hex of at most %zu bytes", name, max);
        return -1;
    }
    if (n == 0 || (exact && n != exact)) {
        snprintf(err, err_len, "member \"%s\" must be %zu bytes, got %zu", name, exact ? exact : 1,
                 n);
        free(b);
        return -1;
    }
    memcpy(out, b, n);
    *got = n;
    free(b);
    return 0;
}

int exchange_offer_parse(const json_t *j, exchange_offer *o, char *err, size_t err_len)
{
    const char *group = json_string_value(json_object_get(j, "group"));
    size_t n = 0;

    memset(o, 0, sizeof *o);
    if (!json_is_object(j)) {
        snprintf(err, err_len, "the offer is not a JSON object");
        return -1;
    }
    if (!group || kex_group_from_name(group, &o->group) != 0) {
        snprintf(err, err_len, "unknown group \"%.32s\" (known: toy, ffdhe2048, modp2048, x25519, "
                               "p256)", group ? group : "");
        return -1;
    }
    if (hex_member(j, "public", o->public_value, sizeof o->public_value, 0, &o->public_len, err,
                   err_len) ||
        hex_member(j, "nonce", o->nonce, EXCHANGE_NONCE_LEN, EXCHANGE_NONCE_LEN, &n, err, err_len))
        return -1;
    return 0;
}

kex_status exchange_finish(exchange *ex, const exchange_offer *peer, const char *info,
                           uint8_t key[EXCHANGE_KEY_LEN])
{
    uint8_t *secret = NULL, salt[2 * EXCHANGE_NONCE_LEN];
    size_t secret_len = 0;
    const exchange_offer *client = ex->is_client ? &ex->mine : peer;
    const exchange_offer *server = ex->is_client ? peer : &ex->mine;
    kex_status st;

    if (peer->group != ex->mine.group)
        return KEX_ERR_GROUP;
    ex->peer = *peer;
    if ((st = kex_derive(ex->key, peer->public_value, peer->public_len, &secret, &secret_len)) !=
        KEX_OK)
        return st;
    /* client nonce first, on both sides, so both compute the same salt */
    memcpy(salt, client->nonce, EXCHANGE_NONCE_LEN);
    memcpy(salt + EXCHANGE_NONCE_LEN, server->nonce, EXCHANGE_NONCE_LEN);
    st = kex_hkdf_sha256(secret, secret_len, salt, sizeof salt, (const uint8_t *)info,
                         strlen(info), key, EXCHANGE_KEY_LEN);
    encoding_free_secret(secret, secret_len);
    return st;
}

int exchange_answer(exchange *ex, const json_t *request, const char *info,
                    uint8_t key[EXCHANGE_KEY_LEN], char *err, size_t err_len)
{
    exchange_offer peer;
    kex_status st;

    memset(ex, 0, sizeof *ex);
    if (exchange_offer_parse(request, &peer, err, err_len) != 0)
        return -1;
    if ((st = exchange_begin(ex, peer.group, 0)) != KEX_OK ||
        (st = exchange_finish(ex, &peer, info, key)) != KEX_OK) {
        snprintf(err, err_len, "%s", kex_status_str(st));
        return -1;
    }
    return 0;
}

static uint8_t *put_field(uint8_t *p, const void *data, size_t len)
{
    p[0] = (uint8_t)(len >> 8);
    p[1] = (uint8_t)len;
    memcpy(p + 2, data, len);
    return p + 2 + len;
}

int exchange_transcript(const exchange *ex, uint8_t **out, size_t *len)
{
    static const char label[] = "HTTPS from the ground up: key exchange transcript v1";
    const exchange_offer *offers[2] = {ex->is_client ? &ex->mine : &ex->peer,
                                       ex->is_client ? &ex->peer : &ex->mine};
    /* label with its length, then two offers of three length-prefixed fields */
    size_t cap = 2 + sizeof label + 2 * (3 * 2 + 16 + EXCHANGE_MAX_PUBLIC + EXCHANGE_NONCE_LEN);
    uint8_t *buf = malloc(cap), *p = buf;

    if (!buf)
        return -1;
    p = put_field(p, label, sizeof label - 1);
    for (int i = 0; i < 2; i++) {
        const char *g = kex_group_name(offers[i]->group);
        p = put_field(p, g, strlen(g));
        p = put_field(p, offers[i]->public_value, offers[i]->public_len);
        p = put_field(p, offers[i]->nonce, EXCHANGE_NONCE_LEN);
    }
    *out = buf;
    *len = (size_t)(p - buf);
    return 0;
}

void exchange_clear(exchange *ex)
{
    kex_free(ex->key);
    OPENSSL_cleanse(ex, sizeof *ex);
}

void exchange_narrate_offer(const char *who, const exchange_offer *o)
{
    char *pub = hex_encode(o->public_value, o->public_len);
    char *nonce = hex_encode(o->nonce, EXCHANGE_NONCE_LEN);
    note("%s group:        %s (on the wire)", who, kex_group_name(o->group));
    if (o->group == KEX_TOY)
        note("%s public value: %u = %u^private mod %u (on the wire)", who, o->public_value[0],
             KEX_TOY_G, KEX_TOY_P);
    else
        note("%s public value: %s (%zu bytes, on the wire)", who, pub ? pub : "?", o->public_len);
    note("%s nonce:        %s (on the wire)", who, nonce ? nonce : "?");
    free(pub);
    free(nonce);
}

int exchange_session_id_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < max &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}
