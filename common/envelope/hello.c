/* SPDX-License-Identifier: MIT */
/*
 * hello.c - chapter 06's HELLO / HELLO_ACK handshake and record signatures,
 * as hello.h describes them (the wire format, the signed bytes and every
 * choice are written down there). This file has four parts: the signature
 * primitives, strict JSON field readers, the handshake (client, server),
 * and the records. Nothing here prints; every failure is a status.
 */
#include "envelope/hello.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "core/encoding.h"
#include "core/json.h"
#include "kex/kex.h"
#include "pki/pki.h"

#define SPACES 64 /* RFC 8446 4.4.3: 64 bytes of 0x20 before the context string */

const char *hello_status_str(hello_status s)
{
    switch (s) {
    case HELLO_OK:
        return "ok";
    case HELLO_ERR_ARG:
        return "bad argument (a missing value, or a length or number out of range)";
    case HELLO_ERR_TOO_LONG:
        return "the message is longer than its limit";
    case HELLO_ERR_JSON:
        return "not valid JSON, or not one JSON object";
    case HELLO_ERR_DUPLICATE:
        return "a member appears twice: two parsers could disagree on which one counts";
    case HELLO_ERR_MISSING:
        return "a required member is missing";
    case HELLO_ERR_EXTRA:
        return "a member that does not belong to this message";
    case HELLO_ERR_MEMBER_TYPE:
        return "a member has the wrong JSON type (string, integer, object)";
    case HELLO_ERR_MSG_TYPE:
        return "\"type\" is not the message expected here";
    case HELLO_ERR_VERSION:
        return "unsupported protocol version (v must be 1)";
    case HELLO_ERR_SEQ:
        return "the handshake's seq must be 1";
    case HELLO_ERR_GROUP:
        return "unsupported key exchange group (only x25519)";
    case HELLO_ERR_BASE64:
        return "a field is not strict unpadded base64url";
    case HELLO_ERR_LENGTH:
        return "a field has the wrong length";
    case HELLO_ERR_DEVICE:
        return "device is not a lower-case hex serial number";
    case HELLO_ERR_NOT_CERT:
        return "device is not the serial number of the TLS client certificate";
    case HELLO_ERR_TIME:
        return "the time stamp is more than 300 s away from the server's clock";
    case HELLO_ERR_KEY_TYPE:
        return "unsupported key: devices use Ed25519 or ECDSA P-256, the server ECDSA P-256";
    case HELLO_ERR_KEY_MISMATCH:
        return "the private key is not the key of the certificate";
    case HELLO_ERR_SIGNATURE:
        return "the signature does not verify: signed by another key, on another TLS "
               "connection, or a signed field was changed";
    case HELLO_ERR_KEX:
        return "the peer's X25519 value is of low order (an all-zero shared secret)";
    case HELLO_ERR_SESSION:
        return "session id: 1-64 characters of A-Z a-z 0-9 _ -";
    case HELLO_ERR_ROTATE:
        return "rotate_every must be 1..65535";
    case HELLO_ERR_EXPIRES:
        return "expires_at must be a positive integer (seconds since the epoch)";
    case HELLO_ERR_TOKEN:
        return "token: 1-4096 characters of A-Z a-z 0-9 _ - .";
    case HELLO_ERR_COUNTERS:
        return "counters: at most 8 members named [a-z_]{1,32}, each an integer 0..2^53";
    case HELLO_ERR_OP:
        return "op must be [a-z_]{1,32}";
    case HELLO_ERR_STATE:
        return "called out of order (accept before a successful verify, or finish twice)";
    case HELLO_ERR_CERT:
        return "the certificate cannot be read or encoded";
    case HELLO_ERR_CRYPTO:
        return "OpenSSL failed";
    case HELLO_ERR_MEMORY:
        return "out of memory";
    }
    return "unknown hello status";
}

/* ---- signatures ------------------------------------------------------------ */

static int is_p256(EVP_PKEY *key)
{
    char group[64];
    size_t n = 0;
    return key && EVP_PKEY_is_a(key, "EC") &&
           EVP_PKEY_get_group_name(key, group, sizeof group, &n) == 1 &&
           strcmp(group, SN_X9_62_prime256v1) == 0;
}

hello_status c06_key_allowed(EVP_PKEY *key)
{
    if (key && (EVP_PKEY_is_a(key, "ED25519") || is_p256(key)))
        return HELLO_OK;
    return HELLO_ERR_KEY_TYPE;
}

/* Ed25519 hashes inside the signature (pure EdDSA, RFC 8032): no digest. */
static const char *md_for(EVP_PKEY *key)
{
    return EVP_PKEY_is_a(key, "ED25519") ? NULL : "SHA256";
}

int c06_sign(EVP_PKEY *key, const uint8_t *tbs, size_t len, uint8_t **sig, size_t *sig_len)
{
    EVP_MD_CTX *md = NULL;
    uint8_t *buf = NULL;
    size_t n = 0;
    hello_status st = HELLO_ERR_CRYPTO;

    if (!sig || !sig_len || (!tbs && len))
        return HELLO_ERR_ARG;
    *sig = NULL;
    *sig_len = 0;
    if (c06_key_allowed(key) != HELLO_OK)
        return HELLO_ERR_KEY_TYPE;
    if (!(md = EVP_MD_CTX_new()) ||
        EVP_DigestSignInit_ex(md, NULL, md_for(key), NULL, NULL, key, NULL) != 1 ||
        EVP_DigestSign(md, NULL, &n, tbs, len) != 1)
        goto end;
    if (!(buf = malloc(n))) {
        st = HELLO_ERR_MEMORY;
        goto end;
    }
    if (EVP_DigestSign(md, buf, &n, tbs, len) != 1 || n > HELLO_SIG_MAX)
        goto end;
    *sig = buf;
    *sig_len = n;
    buf = NULL;
    st = HELLO_OK;
end:
    free(buf);
    EVP_MD_CTX_free(md);
    return st;
}

int c06_verify(EVP_PKEY *pub, const uint8_t *tbs, size_t len, const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *md = NULL;
    int ok = 0;

    if ((!tbs && len) || !sig)
        return HELLO_ERR_ARG;
    if (c06_key_allowed(pub) != HELLO_OK)
        return HELLO_ERR_KEY_TYPE;
    /* no length rule of our own: OpenSSL refuses an Ed25519 signature that
     * is not 64 bytes and a DER one that is not canonical */
    if ((md = EVP_MD_CTX_new()) != NULL &&
        EVP_DigestVerifyInit_ex(md, NULL, md_for(pub), NULL, NULL, pub, NULL) == 1)
        ok = EVP_DigestVerify(md, sig, sig_len, tbs, len) == 1;
    EVP_MD_CTX_free(md);
    /* the status says why; a failed check leaves no stale errors behind */
    ERR_clear_error();
    return ok ? HELLO_OK : HELLO_ERR_SIGNATURE;
}

/* ---- byte building ------------------------------------------------------------ */

/* A growing buffer for the TBS structures. Every field is appended through
 * it, so the layout in hello.h reads straight off the build functions. */
typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    int bad;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->bad)
        return;
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2 + 64;
        uint8_t *p = malloc(cap);
        if (!p) {
            b->bad = 1;
            return;
        }
        if (b->p) {
            memcpy(p, b->p, b->n);
            OPENSSL_cleanse(b->p, b->cap); /* a TBS is not secret, but the habit costs nothing */
            free(b->p);
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_be(buf *b, uint64_t v, int bytes)
{
    uint8_t o[8];
    for (int i = 0; i < bytes; i++)
        o[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    put(b, o, (size_t)bytes);
}

/* lp(x) = BE16(len) || x */
static void put_lp(buf *b, const char *s, size_t n)
{
    put_be(b, n, 2);
    put(b, s, n);
}

/* 64 spaces, the context string and its zero byte */
static void put_context(buf *b, const char *context)
{
    uint8_t sp[SPACES];
    memset(sp, 0x20, sizeof sp);
    put(b, sp, sizeof sp);
    put(b, context, strlen(context) + 1);
}

static hello_status take(buf *b, uint8_t **out, size_t *len)
{
    if (b->bad) {
        free(b->p);
        return HELLO_ERR_MEMORY;
    }
    *out = b->p;
    *len = b->n;
    return HELLO_OK;
}

static int sha256(const void *d, size_t n, uint8_t out[32])
{
    return EVP_Digest(d, n, out, NULL, EVP_sha256(), NULL) == 1;
}

/* ---- field rules ---------------------------------------------------------------- */

static int all_in(const char *s, size_t min, size_t max, const char *alphabet_extra, int lower_only)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (!lower_only && ((c >= 'A' && c <= 'Z') ||
                                                             (c >= '0' && c <= '9')));
        if (!ok && (!alphabet_extra || !strchr(alphabet_extra, c)))
            return 0;
    }
    return 1;
}

static int session_ok(const char *s) { return all_in(s, 1, HELLO_SESSION_MAX, "_-", 0); }
static int token_ok(const char *s) { return all_in(s, 1, HELLO_TOKEN_MAX, "_-.", 0); }
static int name_ok(const char *s) { return s && s[0] && strlen(s) <= HELLO_NAME_MAX; }

static int hello_op_ok(const char *op) { return all_in(op, 1, RECORD_OP_MAX, "_", 1); }

static int device_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > HELLO_DEVICE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* counters: NULL or an object of at most HELLO_COUNTERS_MAX members named
 * [a-z_]{1,32}, each a JSON integer 0..2^53-1 */
static int counters_ok(const json_t *c)
{
    const char *k;
    json_t *v;
    if (!c)
        return 1;
    if (!json_is_object(c) || json_object_size(c) > HELLO_COUNTERS_MAX)
        return 0;
    json_object_foreach((json_t *)c, k, v) {
        if (!all_in(k, 1, HELLO_COUNTER_NAME_MAX, "_", 1) || !json_is_integer(v) ||
            json_integer_value(v) < 0 || json_integer_value(v) > HELLO_TS_MAX)
            return 0;
    }
    return 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* BE16(count) || (lp(name) || BE64(value)) for the names in byte order:
 * one byte form, whatever order the JSON object has */
static void put_counters(buf *b, const json_t *c)
{
    const char *names[HELLO_COUNTERS_MAX], *k;
    size_t n = 0;
    json_t *v;

    if (c)
        json_object_foreach((json_t *)c, k, v) names[n++] = k;
    qsort(names, n, sizeof names[0], cmp_names);
    put_be(b, n, 2);
    for (size_t i = 0; i < n; i++) {
        put_lp(b, names[i], strlen(names[i]));
        put_be(b, (uint64_t)json_integer_value(json_object_get(c, names[i])), 8);
    }
}

/* ---- strict JSON readers ---------------------------------------------------------- */

static hello_status parse_object(const char *text, size_t len, size_t max, json_t **out)
{
    char err[160] = "";
    json_t *v;

    *out = NULL;
    if (!text)
        return HELLO_ERR_ARG;
    if (len > max)
        return HELLO_ERR_TOO_LONG;
    if (!(v = json_parse(text, len, HELLO_JSON_DEPTH, err, sizeof err)))
        return strstr(err, "duplicate") ? HELLO_ERR_DUPLICATE : HELLO_ERR_JSON;
    if (!json_is_object(v)) {
        json_decref(v);
        return HELLO_ERR_JSON;
    }
    *out = v;
    return HELLO_OK;
}

/* exactly the members named, no other */
static hello_status members(const json_t *o, const char *const *names, size_t n)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        size_t i = 0;
        while (i < n && strcmp(k, names[i]) != 0)
            i++;
        if (i == n)
            return HELLO_ERR_EXTRA;
    }
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(o, names[i]))
            return HELLO_ERR_MISSING;
    return HELLO_OK;
}

static hello_status get_str(const json_t *o, const char *name, const char **out)
{
    const json_t *v = json_object_get(o, name);
    /* json_parse refuses "\u0000" (no JSON_ALLOW_NUL), so strlen of a member
     * is its JSON length: test_hello checks that it stays refused */
    if (!json_is_string(v))
        return HELLO_ERR_MEMBER_TYPE;
    *out = json_string_value(v);
    return HELLO_OK;
}

static hello_status get_int(const json_t *o, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_integer(v))
        return HELLO_ERR_MEMBER_TYPE;
    *out = (int64_t)json_integer_value(v);
    return HELLO_OK;
}

/* b64url of exactly `want` bytes into out */
static hello_status get_b64_fixed(const json_t *o, const char *name, uint8_t *out, size_t want)
{
    const char *s = NULL;
    uint8_t *b = NULL;
    size_t n = 0;
    hello_status st = get_str(o, name, &s);
    if (st != HELLO_OK)
        return st;
    if (b64url_decode(s, strlen(s), B64_NO_PAD, &b, &n) != 0)
        return HELLO_ERR_BASE64;
    if (n != want) {
        free(b);
        return HELLO_ERR_LENGTH;
    }
    memcpy(out, b, n);
    OPENSSL_cleanse(b, n);
    free(b);
    return HELLO_OK;
}

/* a signature: 1..HELLO_SIG_MAX bytes */
static hello_status get_sig(const json_t *o, uint8_t out[HELLO_SIG_MAX], size_t *len)
{
    const char *s = NULL;
    uint8_t *b = NULL;
    size_t n = 0;
    hello_status st = get_str(o, "sig", &s);
    if (st != HELLO_OK)
        return st;
    if (b64url_decode(s, strlen(s), B64_NO_PAD, &b, &n) != 0)
        return HELLO_ERR_BASE64;
    if (n == 0 || n > HELLO_SIG_MAX) {
        free(b);
        return HELLO_ERR_LENGTH;
    }
    memcpy(out, b, n);
    *len = n;
    free(b);
    return HELLO_OK;
}

/* type, v, seq: the three members every handshake message starts with */
static hello_status get_header(const json_t *o, const char *type)
{
    const char *t = NULL;
    int64_t v = 0, seq = 0;
    hello_status st;
    if ((st = get_str(o, "type", &t)) != HELLO_OK)
        return st;
    if (strcmp(t, type) != 0)
        return HELLO_ERR_MSG_TYPE;
    if ((st = get_int(o, "v", &v)) != HELLO_OK)
        return st;
    if (v != HELLO_VERSION)
        return HELLO_ERR_VERSION;
    if ((st = get_int(o, "seq", &seq)) != HELLO_OK)
        return st;
    return seq == HELLO_SEQ ? HELLO_OK : HELLO_ERR_SEQ;
}

/* kex: {"group":"x25519","pub":B64(32)} */
static hello_status get_kex(const json_t *o, uint8_t pub[HELLO_PUB_LEN])
{
    static const char *const names[] = {"group", "pub"};
    const json_t *k = json_object_get(o, "kex");
    const char *g = NULL;
    hello_status st;
    if (!json_is_object(k))
        return HELLO_ERR_MEMBER_TYPE;
    if ((st = members(k, names, 2)) != HELLO_OK || (st = get_str(k, "group", &g)) != HELLO_OK)
        return st;
    if (strcmp(g, HELLO_GROUP) != 0)
        return HELLO_ERR_GROUP;
    return get_b64_fixed(k, "pub", pub, HELLO_PUB_LEN);
}

static int set_b64(json_t *o, const char *name, const uint8_t *d, size_t n)
{
    char *s = b64url_encode(d, n, B64_NO_PAD);
    int rc = s ? json_object_set_new(o, name, json_string(s)) : -1;
    free(s);
    return rc;
}

static json_t *kex_object(const uint8_t pub[HELLO_PUB_LEN])
{
    json_t *k = json_object();
    if (k && (json_object_set_new(k, "group", json_string(HELLO_GROUP)) != 0 ||
              set_b64(k, "pub", pub, HELLO_PUB_LEN) != 0)) {
        json_decref(k);
        k = NULL;
    }
    return k;
}

static hello_status dump(json_t *o, int ok, char **out)
{
    char *s = ok ? json_compact(o) : NULL;
    json_decref(o);
    if (!s)
        return HELLO_ERR_MEMORY;
    *out = s;
    return HELLO_OK;
}

/* ---- transcript pieces -------------------------------------------------------------- */

hello_status hello_cert_serial(X509 *cert, char out[HELLO_DEVICE_MAX + 1])
{
    char hex[2 * 64 + 2];
    if (!cert || !out)
        return HELLO_ERR_ARG;
    if (pki_serial_hex(X509_get0_serialNumber(cert), hex, sizeof hex) != 0 || !device_ok(hex))
        return HELLO_ERR_CERT;
    memcpy(out, hex, strlen(hex) + 1);
    return HELLO_OK;
}

hello_status hello_cert_hash(X509 *cert, uint8_t out[32])
{
    unsigned char *der = NULL;
    int n;
    int ok;
    if (!cert || !out)
        return HELLO_ERR_ARG;
    if ((n = i2d_X509(cert, &der)) <= 0)
        return HELLO_ERR_CERT;
    ok = sha256(der, (size_t)n, out);
    OPENSSL_free(der);
    return ok ? HELLO_OK : HELLO_ERR_CRYPTO;
}

hello_status hello_tbs_h(const uint8_t cb[HELLO_CB_LEN], const uint8_t cert_hash[32],
                         const char *server_name, const uint8_t pub_c[HELLO_PUB_LEN],
                         const uint8_t nonce_c[HELLO_NONCE_LEN], int64_t ts_ms, uint8_t **tbs,
                         size_t *tbs_len)
{
    buf b = {0};
    if (!cb || !cert_hash || !name_ok(server_name) || !pub_c || !nonce_c || ts_ms < 0 ||
        ts_ms > HELLO_TS_MAX || !tbs || !tbs_len)
        return HELLO_ERR_ARG;
    put_context(&b, HELLO_CONTEXT);
    put(&b, cb, HELLO_CB_LEN);
    put(&b, cert_hash, 32);
    put_lp(&b, server_name, strlen(server_name));
    put(&b, pub_c, HELLO_PUB_LEN);
    put(&b, nonce_c, HELLO_NONCE_LEN);
    put_be(&b, (uint64_t)ts_ms, 8);
    return take(&b, tbs, tbs_len);
}

/* the ACK's own fields, checked the same way on both sides */
static hello_status ack_fields_ok(const char *session, unsigned rotate_every, int64_t expires_at,
                                  const char *token, const json_t *counters)
{
    if (!session_ok(session))
        return HELLO_ERR_SESSION;
    if (rotate_every < 1 || rotate_every > ENVELOPE_ROTATE_MAX)
        return HELLO_ERR_ROTATE;
    if (expires_at <= 0 || expires_at > HELLO_TS_MAX)
        return HELLO_ERR_EXPIRES;
    if (!token_ok(token))
        return HELLO_ERR_TOKEN;
    if (!counters_ok(counters))
        return HELLO_ERR_COUNTERS;
    return HELLO_OK;
}

hello_status hello_tbs_a(const uint8_t *tbs_h, size_t tbs_h_len, const uint8_t *sig_c,
                         size_t sig_c_len, const uint8_t pub_s[HELLO_PUB_LEN],
                         const uint8_t nonce_s[HELLO_NONCE_LEN], const char *session,
                         unsigned rotate_every, int64_t expires_at, const char *token,
                         const json_t *counters, uint8_t **tbs, size_t *tbs_len)
{
    uint8_t h[32], tk[32];
    EVP_MD_CTX *md = NULL;
    buf b = {0};
    hello_status st;
    int ok;

    if (!tbs_h || !sig_c || !pub_s || !nonce_s || !tbs || !tbs_len)
        return HELLO_ERR_ARG;
    if ((st = ack_fields_ok(session, rotate_every, expires_at, token, counters)) != HELLO_OK)
        return st;
    /* SHA256(TBS_H || sig_c): the ACK answers exactly this signed HELLO */
    ok = (md = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(md, tbs_h, tbs_h_len) == 1 &&
         EVP_DigestUpdate(md, sig_c, sig_c_len) == 1 && EVP_DigestFinal_ex(md, h, NULL) == 1 &&
         sha256(token, strlen(token), tk);
    EVP_MD_CTX_free(md);
    if (!ok)
        return HELLO_ERR_CRYPTO;
    put_context(&b, HELLO_ACK_CONTEXT);
    put(&b, h, 32);
    put(&b, pub_s, HELLO_PUB_LEN);
    put(&b, nonce_s, HELLO_NONCE_LEN);
    put_lp(&b, session, strlen(session));
    put_be(&b, rotate_every, 4);
    put_be(&b, (uint64_t)expires_at, 8);
    put(&b, tk, 32);
    put_counters(&b, counters);
    return take(&b, tbs, tbs_len);
}

hello_status hello_transcript_hash(const uint8_t *tbs_h, size_t tbs_h_len, const uint8_t *sig_c,
                                   size_t sig_c_len, const uint8_t *tbs_a, size_t tbs_a_len,
                                   const uint8_t *sig_s, size_t sig_s_len,
                                   uint8_t th[ENVELOPE_TH_LEN])
{
    EVP_MD_CTX *md;
    int ok;
    if (!tbs_h || !sig_c || !tbs_a || !sig_s || !th)
        return HELLO_ERR_ARG;
    ok = (md = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(md, tbs_h, tbs_h_len) == 1 &&
         EVP_DigestUpdate(md, sig_c, sig_c_len) == 1 &&
         EVP_DigestUpdate(md, tbs_a, tbs_a_len) == 1 &&
         EVP_DigestUpdate(md, sig_s, sig_s_len) == 1 && EVP_DigestFinal_ex(md, th, NULL) == 1;
    EVP_MD_CTX_free(md);
    return ok ? HELLO_OK : HELLO_ERR_CRYPTO;
}

/* X25519 with the peer's value (low order refused by kex_derive), then th
 * into the key schedule; the shared secret is wiped here */
static hello_status derive(const kex_key *eph, const uint8_t peer[HELLO_PUB_LEN],
                           const uint8_t th[ENVELOPE_TH_LEN], envelope_secrets *out)
{
    uint8_t *ss = NULL;
    size_t ss_len = 0;
    kex_status ks = kex_derive(eph, peer, HELLO_PUB_LEN, &ss, &ss_len);
    envelope_status es;

    if (ks == KEX_ERR_ZERO_SECRET || ks == KEX_ERR_PUBLIC_LENGTH) {
        ERR_clear_error(); /* the status says why */
        return HELLO_ERR_KEX;
    }
    if (ks != KEX_OK)
        return ks == KEX_ERR_MEMORY ? HELLO_ERR_MEMORY : HELLO_ERR_CRYPTO;
    es = envelope_schedule(ss, ss_len, th, out);
    encoding_free_secret(ss, ss_len);
    return es == ENVELOPE_OK ? HELLO_OK : HELLO_ERR_CRYPTO;
}

/* an ephemeral X25519 key: random, or given (known-answer tests) */
static hello_status ephemeral(const uint8_t *given, kex_key **k, uint8_t pub[HELLO_PUB_LEN])
{
    uint8_t *p = NULL;
    size_t n = 0;
    kex_status ks = given ? kex_from_private(KEX_X25519, given, HELLO_PUB_LEN, k)
                          : kex_generate(KEX_X25519, k);
    if (ks == KEX_OK)
        ks = kex_public(*k, &p, &n);
    if (ks == KEX_OK && n == HELLO_PUB_LEN)
        memcpy(pub, p, n);
    free(p);
    if (ks != KEX_OK || n != HELLO_PUB_LEN) {
        kex_free(*k);
        *k = NULL;
        return ks == KEX_ERR_MEMORY ? HELLO_ERR_MEMORY : HELLO_ERR_CRYPTO;
    }
    return HELLO_OK;
}

/* ---- client ------------------------------------------------------------------------ */

struct hello_client {
    kex_key *eph; /* NULL once finished */
    uint8_t *tbs_h;
    size_t tbs_h_len;
    uint8_t sig[HELLO_SIG_MAX];
    size_t sig_len;
};

void hello_client_free(hello_client *c)
{
    if (!c)
        return;
    kex_free(c->eph);
    free(c->tbs_h);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

static hello_status client_new(EVP_PKEY *key, X509 *cert, const char *server_name,
                               const uint8_t cb[HELLO_CB_LEN], int64_t now_ms,
                               const uint8_t *eph, const uint8_t *nonce_in, hello_client **out,
                               char **hello_json)
{
    char device[HELLO_DEVICE_MAX + 1];
    uint8_t cert_hash[32], pub[HELLO_PUB_LEN], nonce[HELLO_NONCE_LEN], *sig = NULL;
    size_t sig_len = 0;
    hello_client *c = NULL;
    json_t *o = NULL;
    hello_status st;

    if (!out || !hello_json)
        return HELLO_ERR_ARG;
    *out = NULL;
    *hello_json = NULL;
    if (!key || !cert || !cb || !name_ok(server_name) || now_ms < 0 || now_ms > HELLO_TS_MAX)
        return HELLO_ERR_ARG;
    /* the kind of key first: an RSA or P-384 device never gets as far as signing */
    if ((st = c06_key_allowed(key)) != HELLO_OK)
        return st;
    if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        return HELLO_ERR_KEY_MISMATCH;
    }
    if ((st = hello_cert_serial(cert, device)) != HELLO_OK ||
        (st = hello_cert_hash(cert, cert_hash)) != HELLO_OK)
        return st;
    if (!(c = calloc(1, sizeof *c)))
        return HELLO_ERR_MEMORY;
    if (nonce_in)
        memcpy(nonce, nonce_in, sizeof nonce);
    else if (RAND_bytes(nonce, sizeof nonce) != 1) {
        st = HELLO_ERR_CRYPTO;
        goto fail;
    }
    if ((st = ephemeral(eph, &c->eph, pub)) != HELLO_OK ||
        (st = hello_tbs_h(cb, cert_hash, server_name, pub, nonce, now_ms, &c->tbs_h,
                          &c->tbs_h_len)) != HELLO_OK ||
        (st = (hello_status)c06_sign(key, c->tbs_h, c->tbs_h_len, &sig, &sig_len)) != HELLO_OK)
        goto fail;
    memcpy(c->sig, sig, sig_len);
    c->sig_len = sig_len;
    st = HELLO_ERR_MEMORY;
    if (!(o = json_object()))
        goto fail;
    st = dump(o,
              json_object_set_new(o, "type", json_string("HELLO")) == 0 &&
                  json_object_set_new(o, "v", json_integer(HELLO_VERSION)) == 0 &&
                  json_object_set_new(o, "seq", json_integer(HELLO_SEQ)) == 0 &&
                  json_object_set_new(o, "device", json_string(device)) == 0 &&
                  json_object_set_new(o, "kex", kex_object(pub)) == 0 &&
                  set_b64(o, "nonce", nonce, sizeof nonce) == 0 &&
                  json_object_set_new(o, "ts", json_integer(now_ms)) == 0 &&
                  set_b64(o, "sig", sig, sig_len) == 0,
              hello_json);
    if (st != HELLO_OK)
        goto fail;
    free(sig);
    *out = c;
    return HELLO_OK;
fail:
    free(sig);
    hello_client_free(c);
    return st;
}

hello_status hello_client_new(EVP_PKEY *device_key, X509 *device_cert, const char *server_name,
                              const uint8_t cb[HELLO_CB_LEN], int64_t now_ms, hello_client **out,
                              char **hello_json)
{
    return client_new(device_key, device_cert, server_name, cb, now_ms, NULL, NULL, out,
                      hello_json);
}

hello_status hello_client_new_det(EVP_PKEY *device_key, X509 *device_cert,
                                  const char *server_name, const uint8_t cb[HELLO_CB_LEN],
                                  int64_t now_ms, const uint8_t eph[HELLO_PUB_LEN],
                                  const uint8_t nonce[HELLO_NONCE_LEN], hello_client **out,
                                  char **hello_json)
{
    if (!eph || !nonce)
        return HELLO_ERR_ARG;
    return client_new(device_key, device_cert, server_name, cb, now_ms, eph, nonce, out,
                      hello_json);
}

void hello_ack_info_free(hello_ack_info *info)
{
    if (!info)
        return;
    if (info->token)
        encoding_free_secret(info->token, strlen(info->token));
    json_decref(info->counters);
    OPENSSL_cleanse(info, sizeof *info);
}

hello_status hello_client_finish(hello_client *c, EVP_PKEY *server_pub, const char *ack,
                                 size_t ack_len, hello_ack_info *info, envelope_secrets *secrets)
{
    static const char *const names[] = {"type",       "v",     "seq",      "session",
                                        "kex",        "nonce", "rotate_every", "expires_at",
                                        "token",      "counters", "sig"};
    uint8_t pub_s[HELLO_PUB_LEN], nonce_s[HELLO_NONCE_LEN], sig_s[HELLO_SIG_MAX], *tbs_a = NULL;
    size_t sig_s_len = 0, tbs_a_len = 0;
    const char *session = NULL, *token = NULL;
    int64_t rotate = 0, expires = 0;
    const json_t *counters;
    json_t *o = NULL;
    hello_status st;

    if (!info || !secrets)
        return HELLO_ERR_ARG;
    memset(info, 0, sizeof *info);
    envelope_secrets_wipe(secrets);
    if (!c || !ack)
        return HELLO_ERR_ARG;
    if (!c->eph)
        return HELLO_ERR_STATE;
    if (!is_p256(server_pub))
        return HELLO_ERR_KEY_TYPE;
    if ((st = parse_object(ack, ack_len, HELLO_JSON_MAX, &o)) != HELLO_OK)
        return st;
    if ((st = members(o, names, sizeof names / sizeof names[0])) != HELLO_OK ||
        (st = get_header(o, "HELLO_ACK")) != HELLO_OK ||
        (st = get_str(o, "session", &session)) != HELLO_OK || (st = get_kex(o, pub_s)) != HELLO_OK ||
        (st = get_b64_fixed(o, "nonce", nonce_s, sizeof nonce_s)) != HELLO_OK ||
        (st = get_int(o, "rotate_every", &rotate)) != HELLO_OK ||
        (st = get_int(o, "expires_at", &expires)) != HELLO_OK ||
        (st = get_str(o, "token", &token)) != HELLO_OK)
        goto end;
    counters = json_object_get(o, "counters");
    if (!json_is_object(counters)) {
        st = HELLO_ERR_MEMBER_TYPE;
        goto end;
    }
    if ((st = get_sig(o, sig_s, &sig_s_len)) != HELLO_OK)
        goto end;
    if (rotate < 1 || rotate > ENVELOPE_ROTATE_MAX) {
        st = HELLO_ERR_ROTATE;
        goto end;
    }
    /* TBS_A from our own TBS_H and signature, never from anything the ACK
     * says about the HELLO: an ACK for another HELLO cannot verify */
    if ((st = hello_tbs_a(c->tbs_h, c->tbs_h_len, c->sig, c->sig_len, pub_s, nonce_s, session,
                          (unsigned)rotate, expires, token, counters, &tbs_a, &tbs_a_len)) !=
        HELLO_OK)
        goto end;
    if ((st = (hello_status)c06_verify(server_pub, tbs_a, tbs_a_len, sig_s, sig_s_len)) !=
        HELLO_OK)
        goto end;
    if ((st = hello_transcript_hash(c->tbs_h, c->tbs_h_len, c->sig, c->sig_len, tbs_a, tbs_a_len,
                                    sig_s, sig_s_len, info->th)) != HELLO_OK ||
        (st = derive(c->eph, pub_s, info->th, secrets)) != HELLO_OK)
        goto end;
    st = HELLO_ERR_MEMORY;
    if (!(info->token = strdup(token)))
        goto end;
    memcpy(info->session, session, strlen(session) + 1);
    info->rotate_every = (unsigned)rotate;
    info->expires_at = expires;
    info->counters = json_incref((json_t *)counters);
    st = HELLO_OK;
end:
    /* the ephemeral key goes as soon as the ACK is settled, good or bad: a
     * second ACK never gets another try with it */
    kex_free(c->eph);
    c->eph = NULL;
    free(tbs_a);
    json_decref(o);
    if (st != HELLO_OK) {
        hello_ack_info_free(info);
        envelope_secrets_wipe(secrets);
    }
    return st;
}

/* ---- server -------------------------------------------------------------------------- */

struct hello_request {
    char device[HELLO_DEVICE_MAX + 1];
    uint8_t pub[HELLO_PUB_LEN], nonce[HELLO_NONCE_LEN], sig[HELLO_SIG_MAX];
    size_t sig_len;
    int64_t ts;
    uint8_t *tbs_h; /* set by a successful hello_verify */
    size_t tbs_h_len;
};

void hello_request_free(hello_request *r)
{
    if (!r)
        return;
    free(r->tbs_h);
    OPENSSL_cleanse(r, sizeof *r);
    free(r);
}

hello_status hello_parse(const char *text, size_t len, hello_request **out)
{
    static const char *const names[] = {"type", "v", "seq", "device", "kex", "nonce", "ts", "sig"};
    const char *device = NULL;
    hello_request *r = NULL;
    json_t *o = NULL;
    hello_status st;

    if (!out)
        return HELLO_ERR_ARG;
    *out = NULL;
    if ((st = parse_object(text, len, HELLO_JSON_MAX, &o)) != HELLO_OK)
        return st;
    if (!(r = calloc(1, sizeof *r))) {
        json_decref(o);
        return HELLO_ERR_MEMORY;
    }
    if ((st = members(o, names, sizeof names / sizeof names[0])) != HELLO_OK ||
        (st = get_header(o, "HELLO")) != HELLO_OK ||
        (st = get_str(o, "device", &device)) != HELLO_OK)
        goto end;
    if (!device_ok(device)) {
        st = HELLO_ERR_DEVICE;
        goto end;
    }
    memcpy(r->device, device, strlen(device) + 1);
    if ((st = get_kex(o, r->pub)) != HELLO_OK ||
        (st = get_b64_fixed(o, "nonce", r->nonce, sizeof r->nonce)) != HELLO_OK ||
        (st = get_int(o, "ts", &r->ts)) != HELLO_OK)
        goto end;
    if (r->ts < 0 || r->ts > HELLO_TS_MAX) {
        st = HELLO_ERR_TIME;
        goto end;
    }
    st = get_sig(o, r->sig, &r->sig_len);
end:
    json_decref(o);
    if (st != HELLO_OK)
        hello_request_free(r);
    else
        *out = r;
    return st;
}

const char *hello_request_device(const hello_request *r) { return r ? r->device : NULL; }
int64_t hello_request_ts(const hello_request *r) { return r ? r->ts : -1; }

hello_status hello_verify(hello_request *r, X509 *peer_cert, const char *server_name,
                          const uint8_t cb[HELLO_CB_LEN], int64_t now_ms)
{
    char serial[HELLO_DEVICE_MAX + 1];
    uint8_t cert_hash[32], *tbs = NULL;
    size_t tbs_len = 0;
    int64_t d;
    hello_status st;

    if (!r || !peer_cert || !cb || !name_ok(server_name) || now_ms < 0 || now_ms > HELLO_TS_MAX)
        return HELLO_ERR_ARG;
    free(r->tbs_h); /* a request verified again starts unverified */
    r->tbs_h = NULL;
    r->tbs_h_len = 0;
    /* 1. the device named is the certificate presented in TLS */
    if ((st = hello_cert_serial(peer_cert, serial)) != HELLO_OK)
        return st;
    if (strcmp(serial, r->device) != 0)
        return HELLO_ERR_NOT_CERT;
    /* 2. fresh: both values are in 0..2^53, so the difference cannot overflow */
    d = r->ts - now_ms;
    if (d > HELLO_TS_WINDOW_MS || d < -HELLO_TS_WINDOW_MS)
        return HELLO_ERR_TIME;
    /* 3. signed by the certificate's key (c06_verify refuses any key but
     * Ed25519 and P-256), over this connection's exporter */
    if ((st = hello_cert_hash(peer_cert, cert_hash)) != HELLO_OK ||
        (st = hello_tbs_h(cb, cert_hash, server_name, r->pub, r->nonce, r->ts, &tbs,
                          &tbs_len)) != HELLO_OK)
        return st;
    st = (hello_status)c06_verify(X509_get0_pubkey(peer_cert), tbs, tbs_len, r->sig, r->sig_len);
    if (st != HELLO_OK) {
        free(tbs);
        return st;
    }
    r->tbs_h = tbs;
    r->tbs_h_len = tbs_len;
    return HELLO_OK;
}

static hello_status accept_with(const hello_request *r, EVP_PKEY *server_key, const char *session,
                                unsigned rotate_every, int64_t expires_at, const char *token,
                                const json_t *counters, const uint8_t *eph_in,
                                const uint8_t *nonce_in, char **ack_json,
                                envelope_secrets *secrets)
{
    uint8_t pub[HELLO_PUB_LEN], nonce[HELLO_NONCE_LEN], th[ENVELOPE_TH_LEN], *tbs_a = NULL,
                                                                           *sig = NULL;
    size_t tbs_a_len = 0, sig_len = 0;
    uint8_t *ss = NULL;
    size_t ss_len = 0;
    kex_key *eph = NULL;
    kex_status ks;
    json_t *o = NULL;
    hello_status st;

    if (!ack_json || !secrets)
        return HELLO_ERR_ARG;
    *ack_json = NULL;
    envelope_secrets_wipe(secrets);
    if (!r)
        return HELLO_ERR_ARG;
    if (!r->tbs_h)
        return HELLO_ERR_STATE;
    if (!is_p256(server_key))
        return HELLO_ERR_KEY_TYPE;
    if ((st = ack_fields_ok(session, rotate_every, expires_at, token, counters)) != HELLO_OK)
        return st;
    if (nonce_in)
        memcpy(nonce, nonce_in, sizeof nonce);
    else if (RAND_bytes(nonce, sizeof nonce) != 1)
        return HELLO_ERR_CRYPTO;
    if ((st = ephemeral(eph_in, &eph, pub)) != HELLO_OK)
        return st;
    /* the client's value first: a low-order point costs the server no signature */
    ks = kex_derive(eph, r->pub, HELLO_PUB_LEN, &ss, &ss_len);
    if (ks != KEX_OK) {
        st = ks == KEX_ERR_ZERO_SECRET ? HELLO_ERR_KEX : HELLO_ERR_CRYPTO;
        if (st == HELLO_ERR_KEX)
            ERR_clear_error(); /* the status says why */
        goto end;
    }
    if ((st = hello_tbs_a(r->tbs_h, r->tbs_h_len, r->sig, r->sig_len, pub, nonce, session,
                          rotate_every, expires_at, token, counters, &tbs_a, &tbs_a_len)) !=
            HELLO_OK ||
        (st = (hello_status)c06_sign(server_key, tbs_a, tbs_a_len, &sig, &sig_len)) != HELLO_OK ||
        (st = hello_transcript_hash(r->tbs_h, r->tbs_h_len, r->sig, r->sig_len, tbs_a, tbs_a_len,
                                    sig, sig_len, th)) != HELLO_OK)
        goto end;
    if (envelope_schedule(ss, ss_len, th, secrets) != ENVELOPE_OK) {
        st = HELLO_ERR_CRYPTO;
        goto end;
    }
    st = HELLO_ERR_MEMORY;
    if (!(o = json_object()))
        goto end;
    st = dump(o,
              json_object_set_new(o, "type", json_string("HELLO_ACK")) == 0 &&
                  json_object_set_new(o, "v", json_integer(HELLO_VERSION)) == 0 &&
                  json_object_set_new(o, "seq", json_integer(HELLO_SEQ)) == 0 &&
                  json_object_set_new(o, "session", json_string(session)) == 0 &&
                  json_object_set_new(o, "kex", kex_object(pub)) == 0 &&
                  set_b64(o, "nonce", nonce, sizeof nonce) == 0 &&
                  json_object_set_new(o, "rotate_every", json_integer(rotate_every)) == 0 &&
                  json_object_set_new(o, "expires_at", json_integer(expires_at)) == 0 &&
                  json_object_set_new(o, "token", json_string(token)) == 0 &&
                  json_object_set_new(o, "counters",
                                      counters ? json_deep_copy(counters) : json_object()) == 0 &&
                  set_b64(o, "sig", sig, sig_len) == 0,
              ack_json);
end:
    kex_free(eph);
    if (ss)
        encoding_free_secret(ss, ss_len);
    OPENSSL_cleanse(th, sizeof th);
    free(tbs_a);
    free(sig);
    if (st != HELLO_OK)
        envelope_secrets_wipe(secrets);
    return st;
}

hello_status hello_accept(const hello_request *r, EVP_PKEY *server_key, const char *session,
                          unsigned rotate_every, int64_t expires_at, const char *token,
                          const json_t *counters, char **ack_json, envelope_secrets *secrets)
{
    return accept_with(r, server_key, session, rotate_every, expires_at, token, counters, NULL,
                       NULL, ack_json, secrets);
}

hello_status hello_accept_det(const hello_request *r, EVP_PKEY *server_key, const char *session,
                              unsigned rotate_every, int64_t expires_at, const char *token,
                              const json_t *counters, const uint8_t eph[HELLO_PUB_LEN],
                              const uint8_t nonce[HELLO_NONCE_LEN], char **ack_json,
                              envelope_secrets *secrets)
{
    if (!eph || !nonce)
        return HELLO_ERR_ARG;
    return accept_with(r, server_key, session, rotate_every, expires_at, token, counters, eph,
                       nonce, ack_json, secrets);
}

/* ---- records ----------------------------------------------------------------------------- */

hello_status c06_record_tbs(const char *aud, X509 *device_cert, const char *op,
                            const uint8_t msg_id[RECORD_MSG_ID_LEN], int64_t created_ms,
                            const uint8_t *payload, size_t len, uint8_t **tbs, size_t *tbs_len)
{
    uint8_t cert_hash[32], ph[32];
    buf b = {0};
    hello_status st;

    if (!name_ok(aud) || !device_cert || !msg_id || created_ms < 0 || created_ms > HELLO_TS_MAX ||
        (!payload && len) || len > RECORD_PAYLOAD_MAX || !tbs || !tbs_len)
        return HELLO_ERR_ARG;
    if (!hello_op_ok(op))
        return HELLO_ERR_OP;
    if ((st = hello_cert_hash(device_cert, cert_hash)) != HELLO_OK)
        return st;
    if (!sha256(payload ? (const void *)payload : "", len, ph))
        return HELLO_ERR_CRYPTO;
    put_context(&b, RECORD_CONTEXT);
    put_lp(&b, aud, strlen(aud));
    put(&b, cert_hash, 32);
    put_lp(&b, op, strlen(op));
    put(&b, msg_id, RECORD_MSG_ID_LEN);
    put_be(&b, (uint64_t)created_ms, 8);
    put(&b, ph, 32);
    return take(&b, tbs, tbs_len);
}

hello_status signed_op_make(EVP_PKEY *key, X509 *cert, const char *aud, const char *op,
                            const uint8_t msg_id[RECORD_MSG_ID_LEN], int64_t created_ms,
                            const uint8_t *payload, size_t len, char **pt_json)
{
    uint8_t *tbs = NULL, *sig = NULL;
    size_t tbs_len = 0, sig_len = 0;
    json_t *o = NULL;
    hello_status st;

    if (!pt_json)
        return HELLO_ERR_ARG;
    *pt_json = NULL;
    if (!key || !cert)
        return HELLO_ERR_ARG;
    if ((st = c06_key_allowed(key)) != HELLO_OK)
        return st;
    if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        return HELLO_ERR_KEY_MISMATCH;
    }
    if ((st = c06_record_tbs(aud, cert, op, msg_id, created_ms, payload, len, &tbs, &tbs_len)) !=
            HELLO_OK ||
        (st = (hello_status)c06_sign(key, tbs, tbs_len, &sig, &sig_len)) != HELLO_OK)
        goto end;
    st = HELLO_ERR_MEMORY;
    if (!(o = json_object()))
        goto end;
    st = dump(o,
              json_object_set_new(o, "op", json_string(op)) == 0 &&
                  set_b64(o, "msg_id", msg_id, RECORD_MSG_ID_LEN) == 0 &&
                  json_object_set_new(o, "created", json_integer(created_ms)) == 0 &&
                  set_b64(o, "payload", payload ? payload : (const uint8_t *)"", len) == 0 &&
                  set_b64(o, "sig", sig, sig_len) == 0,
              pt_json);
end:
    free(tbs);
    free(sig);
    return st;
}

void signed_op_clear(signed_op *o)
{
    if (!o)
        return;
    if (o->payload)
        encoding_free_secret(o->payload, o->payload_len);
    free(o->sig);
    OPENSSL_cleanse(o, sizeof *o);
}

/* the plaintext's limit: five members around a base64url payload */
#define RECORD_JSON_MAX ((RECORD_PAYLOAD_MAX * 4 + 2) / 3 + 1024)

hello_status signed_op_parse(const uint8_t *pt, size_t len, signed_op *out)
{
    static const char *const names[] = {"op", "msg_id", "created", "payload", "sig"};
    const char *op = NULL, *payload = NULL;
    uint8_t sig[HELLO_SIG_MAX];
    json_t *o = NULL;
    hello_status st;

    if (!out)
        return HELLO_ERR_ARG;
    memset(out, 0, sizeof *out);
    if ((st = parse_object((const char *)pt, len, RECORD_JSON_MAX, &o)) != HELLO_OK)
        return st;
    if ((st = members(o, names, sizeof names / sizeof names[0])) != HELLO_OK ||
        (st = get_str(o, "op", &op)) != HELLO_OK)
        goto end;
    if (!hello_op_ok(op)) {
        st = HELLO_ERR_OP;
        goto end;
    }
    memcpy(out->op, op, strlen(op) + 1);
    if ((st = get_b64_fixed(o, "msg_id", out->msg_id, RECORD_MSG_ID_LEN)) != HELLO_OK ||
        (st = get_int(o, "created", &out->created_ms)) != HELLO_OK)
        goto end;
    if (out->created_ms < 0 || out->created_ms > HELLO_TS_MAX) {
        st = HELLO_ERR_TIME;
        goto end;
    }
    if ((st = get_str(o, "payload", &payload)) != HELLO_OK)
        goto end;
    if (strlen(payload) > (RECORD_PAYLOAD_MAX * 4 + 2) / 3) {
        st = HELLO_ERR_TOO_LONG;
        goto end;
    }
    if (b64url_decode(payload, strlen(payload), B64_NO_PAD, &out->payload, &out->payload_len) !=
        0) {
        out->payload = NULL;
        st = HELLO_ERR_BASE64;
        goto end;
    }
    if ((st = get_sig(o, sig, &out->sig_len)) != HELLO_OK)
        goto end;
    st = HELLO_ERR_MEMORY;
    if (!(out->sig = malloc(out->sig_len)))
        goto end;
    memcpy(out->sig, sig, out->sig_len);
    st = HELLO_OK;
end:
    json_decref(o);
    if (st != HELLO_OK)
        signed_op_clear(out);
    return st;
}

static hello_status verify_fields(X509 *cert, const char *aud, const char *op,
                                  const uint8_t msg_id[RECORD_MSG_ID_LEN], int64_t created_ms,
                                  const uint8_t *payload, size_t len, const uint8_t *sig,
                                  size_t sig_len)
{
    uint8_t *tbs = NULL;
    size_t tbs_len = 0;
    hello_status st;

    if (!cert || !sig)
        return HELLO_ERR_ARG;
    if ((st = c06_record_tbs(aud, cert, op, msg_id, created_ms, payload, len, &tbs, &tbs_len)) !=
        HELLO_OK)
        return st;
    st = (hello_status)c06_verify(X509_get0_pubkey(cert), tbs, tbs_len, sig, sig_len);
    free(tbs);
    return st;
}

hello_status signed_op_verify(const signed_op *o, X509 *cert, const char *aud)
{
    if (!o)
        return HELLO_ERR_ARG;
    return verify_fields(cert, aud, o->op, o->msg_id, o->created_ms, o->payload, o->payload_len,
                         o->sig, o->sig_len);
}

hello_status signed_op_verify_stored(const char *cert_pem, size_t pem_len, const char *aud,
                                     const char *op, const uint8_t msg_id[RECORD_MSG_ID_LEN],
                                     int64_t created_ms, const uint8_t *payload, size_t len,
                                     const uint8_t *sig, size_t sig_len)
{
    BIO *bio;
    X509 *cert = NULL, *extra = NULL;
    hello_status st;

    if (!cert_pem || pem_len == 0 || pem_len > RECORD_CERT_PEM_MAX)
        return HELLO_ERR_ARG;
    if (!(bio = BIO_new_mem_buf(cert_pem, (int)pem_len)))
        return HELLO_ERR_MEMORY;
    cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    /* exactly one certificate: a stored row names one signer */
    if (cert)
        extra = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error(); /* the second read's "no start line" is the good case */
    if (!cert || extra) {
        X509_free(cert);
        X509_free(extra);
        return HELLO_ERR_CERT;
    }
    st = verify_fields(cert, aud, op, msg_id, created_ms, payload, len, sig, sig_len);
    X509_free(cert);
    return st;
}
