/* SPDX-License-Identifier: MIT */
/* Unit tests for common/token (chapter 06): round trips, then every refusal
 * with its own status, the clock's edges, rotation, key files and the binding.
 * Tokens with a chosen header or payload are signed here with OpenSSL's HMAC
 * directly, so each test reaches the one rule it is about; the first test pins
 * what libjwt 1.10.2 does on its own, which is why the wrapper exists. */
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
#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/encoding.h"
#include "token/token.h"

#define NOW 1800000000LL
#define URL "https://localhost:8006"
#define SID "c2Vzc2lvbi1pZC0xMjM0NQ"
#define JTI "AAECAwQFBgcICQoLDA0ODw"
/* 65 bytes: one more than sub and sid may have */
#define A65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static token_key K1, K2;
static uint8_t X5T_A[TOKEN_X5T_LEN], X5T_B[TOKEN_X5T_LEN];

static int setup(void **state)
{
    uint8_t s1[TOKEN_SECRET_LEN], s2[TOKEN_SECRET_LEN];
    (void)state;
    for (int i = 0; i < TOKEN_SECRET_LEN; i++) {
        s1[i] = (uint8_t)i;
        s2[i] = (uint8_t)(0xa0 + i);
        X5T_A[i] = (uint8_t)(3 * i);
        X5T_B[i] = (uint8_t)(3 * i);
    }
    X5T_B[31] ^= 1; /* one bit apart */
    token_key_from_raw(&K1, s1);
    token_key_from_raw(&K2, s2);
    return 0;
}

static const token_expect *expect_a(void)
{
    static token_expect ex = {.iss = URL, .aud = URL, .sid = SID, .x5t = X5T_A};
    return &ex;
}

/* ---- building tokens by hand ----------------------------------------------------- */

static char *b64(const void *d, size_t n)
{
    char *s = b64url_encode(d, n, B64_NO_PAD);
    assert_non_null(s);
    return s;
}

/* header.payload.HMAC-md(secret) from the exact texts given */
static char *craft_md(const token_key *k, const char *header, const char *payload,
                      const char *md)
{
    char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload)), *sig, *out;
    size_t n = strlen(h) + strlen(p) + 2, mac_len = 0;
    char *input = malloc(n);
    uint8_t mac[64];
    assert_non_null(input);
    snprintf(input, n, "%s.%s", h, p);
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, k->secret, TOKEN_SECRET_LEN,
                              (const unsigned char *)input, strlen(input), mac, sizeof mac,
                              &mac_len));
    sig = b64(mac, mac_len);
    out = malloc(n + strlen(sig) + 1);
    assert_non_null(out);
    sprintf(out, "%s.%s", input, sig);
    free(h);
    free(p);
    free(input);
    free(sig);
    return out;
}

static char *std_header(const token_key *k)
{
    static char h[80];
    snprintf(h, sizeof h, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", k->kid);
    return h;
}

/* the claims token_issue makes, bound to X5T_A, issued at NOW */
static json_t *std_claims(void)
{
    char *x5t = b64(X5T_A, sizeof X5T_A);
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:{s:s}}", "iss", URL,
                          "aud", URL, "sub", "alice", "sid", SID, "jti", JTI, "token_use",
                          "access", "iat", (json_int_t)NOW, "nbf", (json_int_t)NOW, "exp",
                          (json_int_t)(NOW + 1800), "cnf", "x5t#S256", x5t);
    free(x5t);
    assert_non_null(p);
    return p;
}

static char *dump(json_t *p)
{
    char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(s);
    return s;
}

static token_status verify_at(const char *tok, int64_t now)
{
    token_claims c;
    token_status st = token_verify(&K1, 1, tok, strlen(tok), expect_a(), now, &c);
    if (st != TOKEN_OK) { /* a refusal leaves nothing behind */
        token_claims zero;
        memset(&zero, 0, sizeof zero);
        assert_memory_equal(&c, &zero, sizeof c);
    }
    return st;
}

static token_status verify(const char *tok)
{
    return verify_at(tok, NOW);
}

/* sign a header text over the standard claims, verify, free */
static token_status with_header(const char *header, const char *md)
{
    json_t *p = std_claims();
    char *body = dump(p), *tok = craft_md(&K1, header, body, md);
    token_status st = verify(tok);
    free(tok);
    free(body);
    json_decref(p);
    return st;
}

/* sign a claims set (taken over) with the standard header, verify at now */
static token_status with_claims_at(json_t *p, int64_t now)
{
    char *body = dump(p), *tok = craft_md(&K1, std_header(&K1), body, "SHA256");
    token_status st = verify_at(tok, now);
    free(tok);
    free(body);
    json_decref(p);
    return st;
}

static token_status with_claims(json_t *p)
{
    return with_claims_at(p, NOW);
}

static token_status with_payload_text(const char *payload)
{
    char *tok = craft_md(&K1, std_header(&K1), payload, "SHA256");
    token_status st = verify(tok);
    free(tok);
    return st;
}

static char *issue_a(long lifetime, int64_t now)
{
    token_request req = {.iss = URL, .aud = URL, .sub = "alice", .sid = SID, .x5t = X5T_A,
                         .lifetime = lifetime};
    char *tok = NULL;
    assert_int_equal(token_issue(&K1, &req, now, NULL, &tok), TOKEN_OK);
    return tok;
}

/* ---- what libjwt 1.10.2 does on its own ------------------------------------------------ */

static void libjwt_alone_is_not_enough(void **state)
{
    json_t *p = std_claims();
    char *body, *tok;
    jwt_t *jwt = NULL;
    (void)state;
    /* an expired token: libjwt checks no claim */
    json_object_set_new(p, "exp", json_integer(1000));
    body = dump(p);
    tok = craft_md(&K1, std_header(&K1), body, "SHA256");
    assert_int_equal(jwt_decode(&jwt, tok, K1.secret, TOKEN_SECRET_LEN), 0);
    jwt_free(jwt);
    assert_int_equal(verify(tok), TOKEN_BAD_TIMES);
    free(tok);
    /* "hs256" in lower case is taken as HS256 */
    tok = craft_md(&K1, "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", body, "SHA256");
    assert_int_equal(jwt_decode(&jwt, tok, K1.secret, TOKEN_SECRET_LEN), 0);
    assert_int_equal(jwt_get_alg(jwt), JWT_ALG_HS256);
    jwt_free(jwt);
    free(tok);
    /* HS512 with the same key is accepted too */
    tok = craft_md(&K1, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", body, "SHA512");
    assert_int_equal(jwt_decode(&jwt, tok, K1.secret, TOKEN_SECRET_LEN), 0);
    assert_int_equal(jwt_get_alg(jwt), JWT_ALG_HS512);
    jwt_free(jwt);
    free(tok);
    free(body);
    /* a repeated claim: the last one wins */
    tok = craft_md(&K1, std_header(&K1), "{\"sub\":\"alice\",\"sub\":\"admin\"}", "SHA256");
    assert_int_equal(jwt_decode(&jwt, tok, K1.secret, TOKEN_SECRET_LEN), 0);
    assert_string_equal(jwt_get_grant(jwt, "sub"), "admin");
    jwt_free(jwt);
    free(tok);
    json_decref(p);
}

/* ---- round trips ----------------------------------------------------------------------- */

static void issue_then_verify(void **state)
{
    token_request req = {.iss = URL, .aud = URL, .sub = "alice", .sid = SID, .x5t = X5T_A};
    token_claims in, out;
    char *tok = NULL, *tok2 = NULL, *head;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    (void)state;
    assert_int_equal(token_issue(&K1, &req, NOW, &in, &tok), TOKEN_OK);
    assert_true(strlen(tok) < 600);
    /* the header, byte for byte */
    head = strndup(tok, strcspn(tok, "."));
    assert_int_equal(b64url_decode(head, strlen(head), B64_NO_PAD, &raw, &raw_len), 0);
    assert_string_equal((char *)raw, std_header(&K1));
    free(raw);
    free(head);
    assert_int_equal(in.iat, NOW);
    assert_int_equal(in.nbf, NOW);
    assert_int_equal(in.exp, NOW + TOKEN_MAX_LIFETIME); /* the default: 30 minutes */
    assert_int_equal(strlen(in.jti), TOKEN_JTI_LEN);
    assert_int_equal(token_verify(&K1, 1, tok, strlen(tok), expect_a(), NOW, &out), TOKEN_OK);
    assert_string_equal(out.iss, URL);
    assert_string_equal(out.aud, URL);
    assert_string_equal(out.sub, "alice");
    assert_string_equal(out.sid, SID);
    assert_string_equal(out.jti, in.jti);
    assert_int_equal(out.exp, in.exp);
    assert_memory_equal(out.x5t, X5T_A, TOKEN_X5T_LEN);
    /* a fresh jti every time */
    assert_int_equal(token_issue(&K1, &req, NOW, &out, &tok2), TOKEN_OK);
    assert_string_not_equal(out.jti, in.jti);
    /* NULL claims are fine both ways; expect.sid NULL accepts any session */
    token_expect any = *expect_a();
    any.sid = NULL;
    assert_int_equal(token_verify(&K1, 1, tok2, strlen(tok2), &any, NOW, NULL), TOKEN_OK);
    token_free(tok);
    token_free(tok2);
    token_free(NULL);
}

static void kid_is_sha256_prefix(void **state)
{
    uint8_t d[32];
    unsigned int n;
    char *hex;
    (void)state;
    assert_int_equal(EVP_Digest(K1.secret, TOKEN_SECRET_LEN, d, &n, EVP_sha256(), NULL), 1);
    hex = hex_encode(d, 4);
    assert_string_equal(K1.kid, hex);
    assert_string_not_equal(K1.kid, K2.kid);
    free(hex);
}

static void every_status_has_its_own_reason(void **state)
{
    (void)state;
    for (int i = 0; i < TOKEN_STATUS_COUNT; i++) {
        assert_non_null(token_status_str((token_status)i));
        assert_true(strlen(token_status_str((token_status)i)) > 1);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(token_status_str((token_status)i),
                                    token_status_str((token_status)j));
    }
    assert_string_equal(token_status_str(TOKEN_WRONG_CERT), "token bound to another certificate");
    assert_string_equal(token_status_str(TOKEN_STATUS_COUNT), "unknown token status");
}

/* ---- the length, the parts, the encoding ---------------------------------------------------- */

static void over_long_token_is_refused_before_libjwt(void **state)
{
    /* a correctly signed token whose payload is 12 MiB: without the length
     * check first it overruns the copy made for libjwt, and libjwt's own
     * alloca(strlen(payload)) would run off the 8 MiB stack */
    size_t pad = (size_t)12 * 1024 * 1024;
    char *payload = malloc(pad + 32), *tok;
    (void)state;
    assert_non_null(payload);
    strcpy(payload, "{\"x\":\"");
    memset(payload + 6, 'a', pad);
    strcpy(payload + 6 + pad, "\"}");
    tok = craft_md(&K1, std_header(&K1), payload, "SHA256");
    assert_int_equal(verify(tok), TOKEN_TOO_LONG);
    free(tok);
    free(payload);
}

static void length_boundary(void **state)
{
    char big[TOKEN_MAX_LEN + 2];
    (void)state;
    /* 2049 bytes: refused for its length before anything reads the bytes */
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(verify(big), TOKEN_TOO_LONG);
    /* 2048 bytes: not refused for its length (it has no dots) */
    big[TOKEN_MAX_LEN] = '\0';
    assert_int_equal(verify(big), TOKEN_MALFORMED);
    /* a correctly signed token of just over 2048 bytes */
    json_t *p = std_claims();
    char filler[1500];
    memset(filler, 'b', sizeof filler - 1);
    filler[sizeof filler - 1] = '\0';
    json_object_set_new(p, "sub", json_string(filler));
    assert_int_equal(with_claims(p), TOKEN_TOO_LONG);
}

static void malformed(void **state)
{
    char *tok = issue_a(0, NOW), buf[TOKEN_MAX_LEN + 8];
    size_t n = strlen(tok);
    (void)state;
    assert_int_equal(token_verify(&K1, 1, NULL, 0, expect_a(), NOW, NULL), TOKEN_MALFORMED);
    assert_int_equal(verify(""), TOKEN_MALFORMED);
    assert_int_equal(verify("abc"), TOKEN_MALFORMED);
    assert_int_equal(verify("abc.def"), TOKEN_MALFORMED);
    assert_int_equal(verify(".def.ghi"), TOKEN_MALFORMED);
    assert_int_equal(verify("abc..ghi"), TOKEN_MALFORMED);
    assert_int_equal(verify("a.b.c.d"), TOKEN_MALFORMED);
    /* a fourth part after a valid token */
    snprintf(buf, sizeof buf, "%s.AAAA", tok);
    assert_int_equal(verify(buf), TOKEN_MALFORMED);
    /* a NUL inside: libjwt would see only the part before it */
    memcpy(buf, tok, n);
    buf[n] = '\0';
    memcpy(buf + n + 1, "xyz", 4);
    assert_int_equal(token_verify(&K1, 1, buf, n + 4, expect_a(), NOW, NULL), TOKEN_MALFORMED);
    /* the same bytes without the tail are fine */
    assert_int_equal(token_verify(&K1, 1, buf, n, expect_a(), NOW, NULL), TOKEN_OK);
    token_free(tok);
}

static void bad_base64url(void **state)
{
    char *tok = issue_a(0, NOW), *t;
    size_t n = strlen(tok), d1 = strcspn(tok, "."), d2 = d1 + 1 + strcspn(tok + d1 + 1, ".");
    char buf[TOKEN_MAX_LEN + 8];
    (void)state;
    /* '+' and '/' are base64, not base64url; '=' padding; a space */
    const size_t where[] = {0, d1 + 1, d2 + 1};
    const char bad[] = {'+', '/', '=', ' '};
    for (size_t w = 0; w < 3; w++) {
        for (size_t b = 0; b < sizeof bad; b++) {
            memcpy(buf, tok, n + 1);
            buf[where[w] + 2] = bad[b];
            assert_int_equal(verify(buf), TOKEN_BAD_BASE64);
        }
    }
    /* a padded signature */
    snprintf(buf, sizeof buf, "%s=", tok);
    assert_int_equal(verify(buf), TOKEN_BAD_BASE64);
    /* non-canonical: the signature's last character with its unused bits set
     * (43 characters carry 258 bits for 256), a second spelling of one MAC */
    memcpy(buf, tok, n + 1);
    t = strchr("AEIMQUYcgkosw048", buf[n - 1]);
    assert_non_null(t); /* canonical: the two low bits are zero */
    buf[n - 1] = (char)(buf[n - 1] == 'A' ? 'B' : buf[n - 1] + 1);
    assert_int_equal(verify(buf), TOKEN_BAD_BASE64);
    token_free(tok);
}

/* ---- JSON and the header --------------------------------------------------------------------- */

static void not_json(void **state)
{
    char hdr[96];
    (void)state;
    assert_int_equal(with_header("not json", "SHA256"), TOKEN_BAD_JSON);
    assert_int_equal(with_header("[\"HS256\"]", "SHA256"), TOKEN_BAD_JSON);
    snprintf(hdr, sizeof hdr, "%s trailing", std_header(&K1));
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_JSON);
    assert_int_equal(with_payload_text("{\"sub\":"), TOKEN_BAD_JSON);
    assert_int_equal(with_payload_text("\"alice\""), TOKEN_BAD_JSON);
    /* "\u0000": jansson refuses it; libjwt would cut the text there */
    assert_int_equal(with_payload_text("{\"sub\":\"al\\u0000ice\"}"), TOKEN_BAD_JSON);
    /* nested too deep is bad JSON, not a repeated member */
    char deep[200] = "{\"x\":";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    assert_int_equal(with_payload_text(deep), TOKEN_BAD_JSON);
}

static void duplicate_members(void **state)
{
    char hdr[128];
    json_t *p = std_claims();
    char *body = dump(p), *dup;
    (void)state;
    /* a second alg after the first: libjwt would read "none" */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\",\"alg\":\"none\"}",
             K1.kid);
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_DUPLICATE);
    /* a second sub, correctly signed: libjwt would log in "admin" */
    dup = malloc(strlen(body) + 32);
    assert_non_null(dup);
    sprintf(dup, "%.*s,\"sub\":\"admin\"}", (int)strlen(body) - 1, body);
    assert_int_equal(with_payload_text(dup), TOKEN_DUPLICATE);
    /* the same text without the repeat is accepted: the repeat is the reason */
    assert_int_equal(with_payload_text(body), TOKEN_OK);
    free(dup);
    free(body);
    json_decref(p);
}

static void algorithm_pinned(void **state)
{
    char hdr[128];
    const char *algs[] = {"none", "hs256", "Hs256", "HS512", "HS384", "RS256", "HS256 ", ""};
    (void)state;
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++) {
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", algs[i],
                 K1.kid);
        assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_ALG);
    }
    /* HS512 signed with HS512 and our key: what libjwt accepts */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS512\",\"kid\":\"%s\",\"typ\":\"JWT\"}", K1.kid);
    assert_int_equal(with_header(hdr, "SHA512"), TOKEN_BAD_ALG);
    /* alg:none with no signature at all */
    json_t *p = std_claims();
    char *body = dump(p), *h, *b, tok[TOKEN_MAX_LEN];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"none\",\"kid\":\"%s\",\"typ\":\"JWT\"}", K1.kid);
    h = b64(hdr, strlen(hdr));
    b = b64(body, strlen(body));
    snprintf(tok, sizeof tok, "%s.%s.", h, b);
    assert_int_equal(verify(tok), TOKEN_BAD_ALG);
    free(h);
    free(b);
    free(body);
    json_decref(p);
    /* not a string, or absent */
    snprintf(hdr, sizeof hdr, "{\"alg\":[\"HS256\"],\"kid\":\"%s\",\"typ\":\"JWT\"}", K1.kid);
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_ALG);
    snprintf(hdr, sizeof hdr, "{\"kid\":\"%s\",\"typ\":\"JWT\"}", K1.kid);
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_ALG);
}

static void header_exact(void **state)
{
    char hdr[160];
    (void)state;
    /* the standard header passes */
    assert_int_equal(with_header(std_header(&K1), "SHA256"), TOKEN_OK);
    /* other spacing and order are still the same members: accepted */
    snprintf(hdr, sizeof hdr, "{ \"typ\": \"JWT\", \"kid\": \"%s\", \"alg\": \"HS256\" }", K1.kid);
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_OK);
    /* an extra member (jku would tell a lenient verifier where to fetch keys) */
    snprintf(hdr, sizeof hdr,
             "{\"alg\":\"HS256\",\"jku\":\"https://evil/\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
             K1.kid);
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_HEADER);
    snprintf(hdr, sizeof hdr,
             "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"kid\":\"%s\",\"typ\":\"JWT\"}", K1.kid);
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_HEADER);
    /* typ missing, other, lower case (libjwt compares it with strcasecmp) */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"kid\":\"%s\"}", K1.kid);
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_HEADER);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}", K1.kid);
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_HEADER);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"jwt\"}", K1.kid);
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_HEADER);
    /* kid missing, in capitals, too long, a path */
    assert_int_equal(with_header("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"x\":1}", "SHA256"),
                     TOKEN_BAD_HEADER);
    char upper[TOKEN_KID_LEN + 1];
    for (int i = 0; i <= TOKEN_KID_LEN; i++)
        upper[i] = (char)(K1.kid[i] >= 'a' ? K1.kid[i] - 32 : K1.kid[i]);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", upper);
    if (strcmp(upper, K1.kid) != 0)
        assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_HEADER);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"kid\":\"%s0\",\"typ\":\"JWT\"}", K1.kid);
    assert_int_equal(with_header(hdr, "SHA256"), TOKEN_BAD_HEADER);
    assert_int_equal(with_header("{\"alg\":\"HS256\",\"kid\":\"../../x\",\"typ\":\"JWT\"}",
                                 "SHA256"),
                     TOKEN_BAD_HEADER);
    assert_int_equal(with_header("{\"alg\":\"HS256\",\"kid\":12345678,\"typ\":\"JWT\"}", "SHA256"),
                     TOKEN_BAD_HEADER);
}

static void unknown_kid(void **state)
{
    (void)state;
    assert_int_equal(with_header("{\"alg\":\"HS256\",\"kid\":\"00000000\",\"typ\":\"JWT\"}",
                                 "SHA256"),
                     TOKEN_UNKNOWN_KID);
    /* a token of K2's verified with K1 only */
    json_t *p = std_claims();
    char *body = dump(p), *tok = craft_md(&K2, std_header(&K2), body, "SHA256");
    assert_int_equal(verify(tok), TOKEN_UNKNOWN_KID);
    assert_int_equal(token_verify(&K1, 0, tok, strlen(tok), expect_a(), NOW, NULL),
                     TOKEN_UNKNOWN_KID);
    free(tok);
    free(body);
    json_decref(p);
}

/* ---- the signature --------------------------------------------------------------------------- */

static void tampered(void **state)
{
    char *tok = issue_a(0, NOW), buf[TOKEN_MAX_LEN + 8];
    size_t n = strlen(tok), d1 = strcspn(tok, ".");
    json_t *p = std_claims();
    char *body, *forged;
    (void)state;
    /* one character of the payload changed ('A' <-> 'B' keeps it base64url) */
    memcpy(buf, tok, n + 1);
    buf[d1 + 5] = (char)(buf[d1 + 5] == 'A' ? 'B' : 'A');
    assert_int_not_equal(verify(buf), TOKEN_OK);
    /* a signature character changed */
    memcpy(buf, tok, n + 1);
    buf[n - 5] = (char)(buf[n - 5] == 'A' ? 'B' : 'A');
    assert_int_equal(verify(buf), TOKEN_BAD_SIGNATURE);
    /* the signature cut to 31 bytes (42 characters end on whole bytes only
     * for 31.5; 40 characters = 30 bytes) */
    memcpy(buf, tok, n + 1);
    buf[n - 3] = '\0';
    assert_int_equal(verify(buf), TOKEN_BAD_SIGNATURE);
    /* no signature at all */
    memcpy(buf, tok, n + 1);
    buf[strrchr(buf, '.') - buf + 1] = '\0';
    assert_int_equal(verify(buf), TOKEN_BAD_SIGNATURE);
    /* claims re-signed with another secret under our kid */
    json_object_set_new(p, "sub", json_string("mallory"));
    body = dump(p);
    forged = craft_md(&K2, std_header(&K1), body, "SHA256");
    assert_int_equal(verify(forged), TOKEN_BAD_SIGNATURE);
    /* and a payload swapped in under a valid signature */
    char *b = b64(body, strlen(body));
    snprintf(buf, sizeof buf, "%.*s.%s%s", (int)d1, tok, b, strrchr(tok, '.'));
    assert_int_equal(verify(buf), TOKEN_BAD_SIGNATURE);
    free(b);
    free(forged);
    free(body);
    json_decref(p);
    token_free(tok);
}

/* ---- the claims ------------------------------------------------------------------------------ */

static void claims_closed_and_typed(void **state)
{
    const char *names[] = {"iss", "aud", "sub", "sid", "jti", "token_use", "iat", "nbf", "exp"};
    json_t *p;
    (void)state;
    assert_int_equal(with_claims(std_claims()), TOKEN_OK);
    /* a claim we never issue */
    p = std_claims();
    json_object_set_new(p, "admin", json_true());
    assert_int_equal(with_claims(p), TOKEN_BAD_CLAIMS);
    /* each one missing, then each one of the wrong type */
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        p = std_claims();
        json_object_del(p, names[i]);
        assert_int_equal(with_claims(p), TOKEN_BAD_CLAIMS);
        p = std_claims();
        json_object_set_new(p, names[i], i < 6 ? json_integer(1) : json_string("1800000000"));
        assert_int_equal(with_claims(p), TOKEN_BAD_CLAIMS);
    }
    /* times: a real number, negative, past year 9999 */
    p = std_claims();
    json_object_set_new(p, "iat", json_real(1.8e9));
    assert_int_equal(with_claims(p), TOKEN_BAD_CLAIMS);
    p = std_claims();
    json_object_set_new(p, "nbf", json_integer(-1));
    assert_int_equal(with_claims(p), TOKEN_BAD_CLAIMS);
    p = std_claims();
    json_object_set_new(p, "exp", json_integer(TOKEN_MAX_TIME + 1));
    assert_int_equal(with_claims(p), TOKEN_BAD_CLAIMS);
    /* aud as an array (RFC 7519 allows it; we issue one string) */
    p = std_claims();
    json_object_set_new(p, "aud", json_pack("[s]", URL));
    assert_int_equal(with_claims(p), TOKEN_BAD_CLAIMS);
    /* sub empty, with a space, 65 bytes */
    const char *subs[] = {"", "al ice", A65};
    for (size_t i = 0; i < 3; i++) {
        p = std_claims();
        json_object_set_new(p, "sub", json_string(subs[i]));
        assert_int_equal(with_claims(p), TOKEN_BAD_CLAIMS);
    }
    /* iss, aud and sid of the wrong shape are refused as such, before any
     * comparison (sid is copied out even when the caller names no session) */
    const char *shapes[][2] = {{"iss", ""}, {"aud", "https://x /"}, {"sid", "a b"},
                               {"sid", A65}};
    for (size_t i = 0; i < 4; i++) {
        p = std_claims();
        json_object_set_new(p, shapes[i][0], json_string(shapes[i][1]));
        assert_int_equal(with_claims(p), TOKEN_BAD_CLAIMS);
    }
    /* jti: 21 characters, 22 that are not base64url, non-canonical */
    const char *jtis[] = {"AAECAwQFBgcICQoLDA0OD", "AAECAwQFBgcICQoLDA0OD+",
                          "AAECAwQFBgcICQoLDA0ODx"};
    for (size_t i = 0; i < 3; i++) {
        p = std_claims();
        json_object_set_new(p, "jti", json_string(jtis[i]));
        assert_int_equal(with_claims(p), TOKEN_BAD_CLAIMS);
    }
}

static void issuer_audience_use_session(void **state)
{
    json_t *p;
    (void)state;
    p = std_claims();
    json_object_set_new(p, "iss", json_string("https://other.example"));
    assert_int_equal(with_claims(p), TOKEN_WRONG_ISSUER);
    p = std_claims();
    json_object_set_new(p, "aud", json_string("https://other.example"));
    assert_int_equal(with_claims(p), TOKEN_WRONG_AUDIENCE);
    /* a prefix is not the audience, nor is a longer URL */
    p = std_claims();
    json_object_set_new(p, "aud", json_string("https://localhost:800"));
    assert_int_equal(with_claims(p), TOKEN_WRONG_AUDIENCE);
    p = std_claims();
    json_object_set_new(p, "aud", json_string(URL "/admin"));
    assert_int_equal(with_claims(p), TOKEN_WRONG_AUDIENCE);
    p = std_claims();
    json_object_set_new(p, "token_use", json_string("refresh"));
    assert_int_equal(with_claims(p), TOKEN_WRONG_USE);
    p = std_claims();
    json_object_set_new(p, "sid", json_string("c2Vzc2lvbi1pZC0xMjM0Ng"));
    assert_int_equal(with_claims(p), TOKEN_WRONG_SESSION);
}

static json_t *times(int64_t iat, int64_t nbf, int64_t exp)
{
    json_t *p = std_claims();
    json_object_set_new(p, "iat", json_integer(iat));
    json_object_set_new(p, "nbf", json_integer(nbf));
    json_object_set_new(p, "exp", json_integer(exp));
    return p;
}

static void clock_edges(void **state)
{
    const int64_t L = TOKEN_LEEWAY, T = NOW;
    (void)state;
    /* exp: valid while exp > now - 30 */
    assert_int_equal(with_claims_at(times(T, T, T + 600), T + 600 + L - 1), TOKEN_OK);
    assert_int_equal(with_claims_at(times(T, T, T + 600), T + 600 + L), TOKEN_EXPIRED);
    /* nbf: valid from nbf - 30 */
    assert_int_equal(with_claims_at(times(T, T + 100, T + 600), T + 100 - L), TOKEN_OK);
    assert_int_equal(with_claims_at(times(T, T + 100, T + 600), T + 100 - L - 1),
                     TOKEN_NOT_YET_VALID);
    /* iat: at most 30 s ahead of our clock */
    assert_int_equal(with_claims_at(times(T + L, T, T + 600), T), TOKEN_OK);
    assert_int_equal(with_claims_at(times(T + L + 1, T, T + 600), T), TOKEN_ISSUED_IN_FUTURE);
    /* lifetime: exp - iat <= 1800 */
    assert_int_equal(with_claims_at(times(T, T, T + 1800), T), TOKEN_OK);
    assert_int_equal(with_claims_at(times(T, T, T + 1801), T), TOKEN_TOO_LONG_LIVED);
    assert_int_equal(with_claims_at(times(T - 100000, T, T + 100), T), TOKEN_TOO_LONG_LIVED);
    /* never valid: nbf or iat not before exp */
    assert_int_equal(with_claims_at(times(T, T + 600, T + 600), T), TOKEN_BAD_TIMES);
    assert_int_equal(with_claims_at(times(T + 600, T, T + 600), T), TOKEN_BAD_TIMES);
    /* through token_issue: 60 s tokens */
    char *tok = issue_a(60, T);
    assert_int_equal(verify_at(tok, T - L), TOKEN_OK);
    assert_int_equal(verify_at(tok, T - L - 1), TOKEN_NOT_YET_VALID);
    assert_int_equal(verify_at(tok, T + 60 + L - 1), TOKEN_OK);
    assert_int_equal(verify_at(tok, T + 60 + L), TOKEN_EXPIRED);
    token_free(tok);
    tok = issue_a(0, T); /* the default, 30 minutes */
    assert_int_equal(verify_at(tok, T + 1800 + L - 1), TOKEN_OK);
    assert_int_equal(verify_at(tok, T + 1800 + L), TOKEN_EXPIRED);
    /* a clock no token can carry is the caller's bug, never a verdict on the
     * token (and now - leeway must not overflow) */
    assert_int_equal(verify_at(tok, 0), TOKEN_INTERNAL);
    assert_int_equal(verify_at(tok, INT64_MIN + 1), TOKEN_INTERNAL);
    assert_int_equal(verify_at(tok, TOKEN_MAX_TIME + 1), TOKEN_INTERNAL);
    token_free(tok);
}

/* ---- the binding ----------------------------------------------------------------------------- */

static void binding(void **state)
{
    char *tok = issue_a(0, NOW), *x5t;
    token_expect ex = *expect_a();
    json_t *p;
    (void)state;
    /* the certificate one bit apart */
    ex.x5t = X5T_B;
    assert_int_equal(token_verify(&K1, 1, tok, strlen(tok), &ex, NOW, NULL), TOKEN_WRONG_CERT);
    /* no peer certificate at all */
    ex.x5t = NULL;
    assert_int_equal(token_verify(&K1, 1, tok, strlen(tok), &ex, NOW, NULL), TOKEN_NO_PEER_CERT);
    /* the lab's bearer mode skips the comparison, and only that */
    ex.lab_bearer = 1;
    assert_int_equal(token_verify(&K1, 1, tok, strlen(tok), &ex, NOW, NULL), TOKEN_NO_PEER_CERT);
    ex.x5t = X5T_B;
    assert_int_equal(token_verify(&K1, 1, tok, strlen(tok), &ex, NOW, NULL), TOKEN_OK);
    token_free(tok);
    /* no cnf */
    p = std_claims();
    json_object_del(p, "cnf");
    assert_int_equal(with_claims(p), TOKEN_UNBOUND);
    /* cnf of another shape */
    x5t = b64(X5T_A, sizeof X5T_A);
    json_t *bad[] = {
        json_string(x5t),
        json_pack("{s:s}", "x5t", x5t),
        json_pack("{s:s, s:s}", "x5t#S256", x5t, "jkt", x5t),
        json_pack("{s:s}", "x5t#S256", "AAAA"),
        json_pack("{s:s}", "x5t#S256", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8+"),
        json_pack("{s:i}", "x5t#S256", 1),
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p = std_claims();
        json_object_set_new(p, "cnf", bad[i]);
        assert_int_equal(with_claims(p), TOKEN_BAD_CNF);
    }
    free(x5t);
}

static void binding_helper_hashes_der(void **state)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    X509 *cert = X509_new();
    uint8_t want[32], got[TOKEN_X5T_LEN], *der = NULL;
    unsigned int n = 0;
    int der_len;
    (void)state;
    assert_non_null(pk);
    assert_non_null(cert);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, pk);
    assert_true(X509_sign(cert, pk, NULL) > 0);
    der_len = i2d_X509(cert, &der);
    assert_true(der_len > 0);
    assert_int_equal(EVP_Digest(der, (size_t)der_len, want, &n, EVP_sha256(), NULL), 1);
    assert_int_equal(token_x5t(cert, got), 0);
    assert_memory_equal(got, want, 32);
    assert_int_equal(token_x5t(NULL, got), -1);
    OPENSSL_free(der);
    X509_free(cert);
    EVP_PKEY_free(pk);
}

/* ---- rotation -------------------------------------------------------------------------------- */

static void rotation(void **state)
{
    token_key both[2] = {K2, K1}; /* new first, old second */
    token_request req = {.iss = URL, .aud = URL, .sub = "alice", .sid = SID, .x5t = X5T_A};
    char *old = issue_a(0, NOW), *neu = NULL;
    (void)state;
    assert_int_equal(token_issue(&K2, &req, NOW, NULL, &neu), TOKEN_OK);
    assert_int_equal(token_verify(both, 2, old, strlen(old), expect_a(), NOW, NULL), TOKEN_OK);
    assert_int_equal(token_verify(both, 2, neu, strlen(neu), expect_a(), NOW, NULL), TOKEN_OK);
    /* the old key retired: its tokens stop working */
    assert_int_equal(token_verify(&both[0], 1, old, strlen(old), expect_a(), NOW, NULL),
                     TOKEN_UNKNOWN_KID);
    assert_int_equal(token_verify(&both[0], 1, neu, strlen(neu), expect_a(), NOW, NULL), TOKEN_OK);
    token_free(old);
    token_free(neu);
}

/* ---- issuing --------------------------------------------------------------------------------- */

static void issue_refuses_what_verify_would(void **state)
{
    token_request good = {.iss = URL, .aud = URL, .sub = "alice", .sid = SID, .x5t = X5T_A};
    token_request r;
    char *tok = (char *)1;
    (void)state;
#define REFUSED(field, value)                                                                 \
    do {                                                                                      \
        r = good;                                                                             \
        r.field = value;                                                                      \
        assert_int_equal(token_issue(&K1, &r, NOW, NULL, &tok), TOKEN_BAD_INPUT);             \
        assert_null(tok);                                                                     \
    } while (0)
    REFUSED(lifetime, TOKEN_MAX_LIFETIME + 1);
    REFUSED(lifetime, -1);
    REFUSED(sub, "");
    REFUSED(sub, "al ice");
    REFUSED(sub, NULL);
    REFUSED(iss, NULL);
    REFUSED(aud, "https://x/\n");
    REFUSED(sid, NULL);
    REFUSED(x5t, NULL);
#undef REFUSED
    assert_int_equal(token_issue(&K1, &good, 0, NULL, &tok), TOKEN_BAD_INPUT);
    assert_int_equal(token_issue(&K1, &good, TOKEN_MAX_TIME, NULL, &tok), TOKEN_BAD_INPUT);
}

/* ---- key files ------------------------------------------------------------------------------- */

static void key_files(void **state)
{
    char dir[] = "/tmp/test_token.XXXXXX", path[128], other[128], err[256];
    token_key k, back;
    struct stat st;
    FILE *f;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/token.key", dir);
    assert_int_equal(token_key_generate(&k), 0);
    assert_int_equal(token_key_write(&k, path, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, TOKEN_SECRET_LEN);
    assert_int_equal(token_key_load(&back, path, err, sizeof err), 0);
    assert_memory_equal(back.secret, k.secret, TOKEN_SECRET_LEN);
    assert_string_equal(back.kid, k.kid);
    /* never over an existing key */
    assert_int_equal(token_key_write(&K1, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "exists"));
    assert_int_equal(token_key_load(&back, path, err, sizeof err), 0);
    assert_memory_equal(back.secret, k.secret, TOKEN_SECRET_LEN);
    /* others may read it: refused */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(token_key_load(&back, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "other users"));
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(token_key_load(&back, path, err, sizeof err), -1);
    assert_int_equal(chmod(path, 0600), 0);
    /* a trailing newline, or a byte short */
    f = fopen(path, "ab");
    assert_non_null(f);
    fputc('\n', f);
    fclose(f);
    assert_int_equal(token_key_load(&back, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 32 bytes"));
    assert_int_equal(truncate(path, TOKEN_SECRET_LEN - 1), 0);
    assert_int_equal(token_key_load(&back, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "holds 31 bytes"));
    /* a symlink to a good key file: not followed (whoever can swap the link
     * chooses the key), neither to read nor to write through */
    assert_int_equal(truncate(path, 0), 0);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(k.secret, 1, TOKEN_SECRET_LEN, f), TOKEN_SECRET_LEN);
    fclose(f);
    assert_int_equal(token_key_load(&back, path, err, sizeof err), 0);
    snprintf(other, sizeof other, "%s/link.key", dir);
    assert_int_equal(symlink(path, other), 0);
    assert_int_equal(token_key_load(&back, other, err, sizeof err), -1);
    assert_int_equal(token_key_write(&k, other, err, sizeof err), -1);
    /* a directory, nothing */
    assert_int_equal(token_key_load(&back, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    unlink(other);
    /* a second hard link: a second name, that someone else may control */
    assert_int_equal(link(path, other), 0);
    assert_int_equal(token_key_load(&back, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "hard links"));
    unlink(other);
    assert_int_equal(token_key_load(&back, path, err, sizeof err), 0);
    /* a FIFO in the key's place is refused at once, never waited on */
    assert_int_equal(mkfifo(other, 0600), 0);
    assert_int_equal(token_key_load(&back, other, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    unlink(other);
    /* a 0600 file that belongs to another user: its owner could rewrite it
     * and mint tokens (only root can make one to test with) */
    if (geteuid() == 0) {
        assert_int_equal(chown(path, 65534, 65534), 0);
        assert_int_equal(token_key_load(&back, path, err, sizeof err), -1);
        assert_non_null(strstr(err, "belongs to user 65534"));
        assert_int_equal(chown(path, 0, 0), 0);
    }
    unlink(path);
    assert_int_equal(token_key_load(&back, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(rmdir(dir), 0);
    token_key_clear(&k);
    token_key_clear(&back);
    for (size_t i = 0; i < sizeof k; i++)
        assert_int_equal(((uint8_t *)&k)[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(libjwt_alone_is_not_enough),
        cmocka_unit_test(issue_then_verify),
        cmocka_unit_test(kid_is_sha256_prefix),
        cmocka_unit_test(every_status_has_its_own_reason),
        cmocka_unit_test(over_long_token_is_refused_before_libjwt),
        cmocka_unit_test(length_boundary),
        cmocka_unit_test(malformed),
        cmocka_unit_test(bad_base64url),
        cmocka_unit_test(not_json),
        cmocka_unit_test(duplicate_members),
        cmocka_unit_test(algorithm_pinned),
        cmocka_unit_test(header_exact),
        cmocka_unit_test(unknown_kid),
        cmocka_unit_test(tampered),
        cmocka_unit_test(claims_closed_and_typed),
        cmocka_unit_test(issuer_audience_use_session),
        cmocka_unit_test(clock_edges),
        cmocka_unit_test(binding),
        cmocka_unit_test(binding_helper_hashes_der),
        cmocka_unit_test(rotation),
        cmocka_unit_test(issue_refuses_what_verify_would),
        cmocka_unit_test(key_files),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
