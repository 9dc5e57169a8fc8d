/* fernet.c - see fernet.h and tests/vectors/fernet/Spec.md */
#include "fernet.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "fernet_b64.h"

#define HDR_LEN 25  /* version (1) + timestamp (8) + IV (16) */
#define MAC_LEN 32  /* HMAC-SHA256 */
#define BLOCK 16    /* AES block */
/* Bounds every length computation below far from overflow, and keeps lengths
 * inside the int that EVP_*Update takes. */
#define MAX_MSG ((size_t)1 << 30)

/* ---- per-thread reusable contexts --------------------------------------------
 * Fetching an algorithm, allocating a context and expanding a key cost more
 * than encrypting a short message. So each thread keeps one context per job
 * (AES encryption and decryption use different key schedules), each keyed with
 * the last key it saw: a server that uses one key pays for the key set-up once
 * and then only sets a new IV or restarts the HMAC. The algorithm objects are
 * fetched once and shared (they are immutable). */
static EVP_CIPHER *g_aes;
static EVP_MAC *g_hmac;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static int g_ready;

struct keyed_ctx {
    uint8_t key[16]; /* the key this context holds; cleansed with it */
    int keyed;
};

struct fernet_tls {
    EVP_CIPHER_CTX *enc, *dec;
    EVP_MAC_CTX *mac;
    struct keyed_ctx enc_k, dec_k, mac_k;
};

static void tls_free(void *p)
{
    struct fernet_tls *t = p;
    if (!t)
        return;
    EVP_CIPHER_CTX_free(t->enc);
    EVP_CIPHER_CTX_free(t->dec);
    EVP_MAC_CTX_free(t->mac);
    OPENSSL_cleanse(t, sizeof *t);
    free(t);
}

static void global_init(void)
{
    g_aes = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    g_ready = g_aes && g_hmac && pthread_key_create(&g_key, tls_free) == 0;
}

static struct fernet_tls *contexts(void)
{
    struct fernet_tls *t = NULL;
    OSSL_PARAM params[2];

    if (pthread_once(&g_once, global_init) != 0 || !g_ready)
        return NULL;
    if ((t = pthread_getspecific(g_key)) != NULL)
        return t;
    if ((t = calloc(1, sizeof *t)) == NULL)
        return NULL;
    t->enc = EVP_CIPHER_CTX_new();
    t->dec = EVP_CIPHER_CTX_new();
    t->mac = EVP_MAC_CTX_new(g_hmac);
    /* the digest is chosen once; each EVP_MAC_init then only sets the key */
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!t->enc || !t->dec || !t->mac || !EVP_MAC_CTX_set_params(t->mac, params) ||
        pthread_setspecific(g_key, t) != 0) {
        tls_free(t);
        return NULL;
    }
    return t;
}

/* Is this context already keyed with key? If not, remember it will be. */
static int same_key(struct keyed_ctx *kc, const uint8_t key[16])
{
    if (kc->keyed && CRYPTO_memcmp(kc->key, key, 16) == 0)
        return 1;
    memcpy(kc->key, key, 16);
    kc->keyed = 0; /* set again only once the context really holds the key */
    return 0;
}

/* Ready ctx for one message under key and iv (PKCS#7 padding, EVP's default). */
static int cipher_init(EVP_CIPHER_CTX *ctx, struct keyed_ctx *kc, const uint8_t key[16],
                       const uint8_t iv[16], int enc)
{
    int ok = same_key(kc, key) ? EVP_CipherInit_ex2(ctx, NULL, NULL, iv, enc, NULL)
                               : EVP_CipherInit_ex2(ctx, g_aes, key, iv, enc, NULL);
    kc->keyed = ok;
    return ok ? 0 : -1;
}

/* HMAC-SHA256(signing key, data) in one pass. 0 on success. */
static int hmac_sha256(struct fernet_tls *t, const uint8_t key[16], const uint8_t *data,
                       size_t len, uint8_t out[MAC_LEN])
{
    size_t outl = 0;
    /* a NULL key restarts HMAC with the key the context already holds */
    int ok = EVP_MAC_init(t->mac, same_key(&t->mac_k, key) ? NULL : key, 16, NULL);
    t->mac_k.keyed = ok;
    if (!ok || !EVP_MAC_update(t->mac, data, len) || !EVP_MAC_final(t->mac, out, &outl, MAC_LEN) ||
        outl != MAC_LEN)
        return -1;
    return 0;
}

/* ---- keys ------------------------------------------------------------------- */
void fernet_key_from_raw(fernet_key *k, const uint8_t raw[32])
{
    memcpy(k->signing, raw, 16);
    memcpy(k->encryption, raw + 16, 16);
}

int fernet_key_from_b64(fernet_key *k, const char *b64)
{
    uint8_t raw[33]; /* 44 characters with one '=' decode to 32 bytes */
    size_t len;
    int rc = -1;

    while (*b64 == ' ' || *b64 == '\t' || *b64 == '\n' || *b64 == '\r')
        b64++;
    len = strlen(b64);
    while (len > 0 && strchr(" \t\r\n", b64[len - 1]))
        len--;
    if (len != FERNET_KEY_B64_LEN || fb64_decode(b64, len, raw) != 32)
        goto end;
    fernet_key_from_raw(k, raw);
    rc = 0;
end:
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

char *fernet_key_to_b64(const fernet_key *k)
{
    uint8_t raw[32];
    char *s = malloc(FERNET_KEY_B64_LEN + 1);
    if (s) {
        memcpy(raw, k->signing, 16);
        memcpy(raw + 16, k->encryption, 16);
        fb64_encode(raw, sizeof raw, s);
        OPENSSL_cleanse(raw, sizeof raw);
    }
    return s;
}

int fernet_key_generate(fernet_key *k)
{
    uint8_t raw[32];
    int rc = -1;
    /* RAND_priv_bytes: a DRBG instance kept apart from the one that makes
     * public values such as IVs. */
    if (RAND_priv_bytes(raw, sizeof raw) == 1) {
        fernet_key_from_raw(k, raw);
        rc = 0;
    }
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

void fernet_key_clear(fernet_key *k)
{
    OPENSSL_cleanse(k, sizeof *k);
}

/* ---- tokens ------------------------------------------------------------------ */
static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

char *fernet_encrypt(const fernet_key *k, const uint8_t *msg, size_t len, uint64_t now,
                     const uint8_t *iv)
{
    struct fernet_tls *t = contexts();
    uint8_t *raw = NULL;
    char *token = NULL, *ret = NULL;
    size_t ct_len = (len / BLOCK + 1) * BLOCK, raw_len = HDR_LEN + ct_len + MAC_LEN;
    int n1 = 0, n2 = 0;

    if (!t || len > MAX_MSG || (len > 0 && !msg))
        goto end;
    if ((raw = malloc(raw_len)) == NULL || (token = malloc(fb64_len(raw_len) + 1)) == NULL)
        goto end;
    raw[0] = FERNET_VERSION;
    put_be64(raw + 1, now);
    if (iv)
        memcpy(raw + 9, iv, 16);
    else if (RAND_bytes(raw + 9, 16) != 1) /* a fresh, unpredictable IV per token */
        goto end;
    /* PKCS#7 padding is EVP's default; the ciphertext goes straight into place. */
    if (cipher_init(t->enc, &t->enc_k, k->encryption, raw + 9, 1) != 0 ||
        !EVP_EncryptUpdate(t->enc, raw + HDR_LEN, &n1, msg ? msg : raw, (int)len) ||
        !EVP_EncryptFinal_ex(t->enc, raw + HDR_LEN + n1, &n2) || (size_t)(n1 + n2) != ct_len)
        goto end;
    /* Encrypt-then-MAC: the HMAC covers version, time, IV and ciphertext. */
    if (hmac_sha256(t, k->signing, raw, HDR_LEN + ct_len, raw + HDR_LEN + ct_len) != 0)
        goto end;
    fb64_encode(raw, raw_len, token);
    ret = token;
    token = NULL;
end:
    free(raw); /* version, time, IV, ciphertext and MAC: nothing secret */
    free(token);
    return ret;
}

/* Decodes and checks the parts that need no key. On FERNET_OK *raw is the
 * decoded token (malloc'ed) and *raw_len its length. */
static fernet_status unpack(const char *token, size_t token_len, uint8_t **raw, size_t *raw_len)
{
    uint8_t *buf = NULL;
    long n;

    *raw = NULL;
    if (!token || token_len > fb64_len(HDR_LEN + MAX_MSG + BLOCK + MAC_LEN))
        return token ? FERNET_BAD_LENGTH : FERNET_BAD_BASE64;
    if ((buf = malloc(token_len / 4 * 3 + 1)) == NULL)
        return FERNET_INTERNAL;
    if ((n = fb64_decode(token, token_len, buf)) < 0) {
        free(buf);
        return FERNET_BAD_BASE64;
    }
    if (n < 1 || buf[0] != FERNET_VERSION) {
        free(buf);
        return n < 1 ? FERNET_TOO_SHORT : FERNET_BAD_VERSION;
    }
    /* Both length checks only use what the wire shows anyway. */
    if (n < HDR_LEN + MAC_LEN ||
        ((n - HDR_LEN - MAC_LEN) % BLOCK == 0 && n < FERNET_MIN_TOKEN_BYTES)) {
        free(buf);
        return FERNET_TOO_SHORT;
    }
    if ((n - HDR_LEN - MAC_LEN) % BLOCK) {
        free(buf);
        return FERNET_BAD_LENGTH;
    }
    *raw = buf;
    *raw_len = (size_t)n;
    return FERNET_OK;
}

/* MAC check, then decryption. Time checks are the caller's. */
static fernet_status open_raw(const fernet_key *k, const uint8_t *raw, size_t raw_len,
                              uint8_t **msg, size_t *msg_len)
{
    struct fernet_tls *t = contexts();
    size_t ct_len = raw_len - HDR_LEN - MAC_LEN;
    uint8_t mac[MAC_LEN], *out = NULL;
    int n1 = 0, n2 = 0;
    fernet_status st = FERNET_INTERNAL;

    if (!t || hmac_sha256(t, k->signing, raw, HDR_LEN + ct_len, mac) != 0)
        goto end;
    /* Constant time, and before any decryption: a forged token never reaches
     * AES, so padding errors cannot be used as an oracle. */
    if (CRYPTO_memcmp(mac, raw + HDR_LEN + ct_len, MAC_LEN) != 0) {
        st = FERNET_BAD_MAC;
        goto end;
    }
    if ((out = malloc(ct_len + BLOCK + 1)) == NULL)
        goto end;
    if (cipher_init(t->dec, &t->dec_k, k->encryption, raw + 9, 0) != 0 ||
        !EVP_DecryptUpdate(t->dec, out, &n1, raw + HDR_LEN, (int)ct_len))
        goto end;
    if (!EVP_DecryptFinal_ex(t->dec, out + n1, &n2)) {
        /* Only the key holder can get here (the MAC matched): the sender
         * encrypted a malformed padding on purpose. */
        ERR_clear_error(); /* our status says it; OpenSSL's "bad decrypt" adds nothing */
        st = FERNET_BAD_PADDING;
        goto end;
    }
    out[n1 + n2] = '\0';
    *msg = out;
    *msg_len = (size_t)(n1 + n2);
    out = NULL;
    st = FERNET_OK;
end:
    if (out)
        encoding_free_secret(out, ct_len + BLOCK + 1);
    return st;
}

/* The spec's time rules, written without overflow (the timestamp is attacker
 * data and may be anything up to 2^64-1). Python checks the skew only when a
 * TTL is given; we always do: a token from the far future is never right. */
static fernet_status check_time(uint64_t ts, uint64_t ttl, uint64_t now)
{
    if (ttl && now > ts && now - ts > ttl)
        return FERNET_EXPIRED;
    if (ts > now && ts - now > FERNET_MAX_CLOCK_SKEW)
        return FERNET_FROM_FUTURE;
    return FERNET_OK;
}

fernet_status fernet_decrypt(const fernet_key *k, const char *token, size_t token_len,
                             uint64_t ttl, uint64_t now, uint8_t **msg, size_t *msg_len)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    fernet_status st;

    *msg = NULL;
    *msg_len = 0;
    if ((st = unpack(token, token_len, &raw, &raw_len)) != FERNET_OK)
        goto end;
    if ((st = check_time(get_be64(raw + 1), ttl, now)) != FERNET_OK)
        goto end;
    st = open_raw(k, raw, raw_len, msg, msg_len);
end:
    free(raw);
    return st;
}

fernet_status fernet_token_timestamp(const char *token, size_t token_len, uint64_t *ts)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    fernet_status st = unpack(token, token_len, &raw, &raw_len);
    /* inspect wants the layout even of a token whose length is odd */
    if (st == FERNET_OK)
        *ts = get_be64(raw + 1);
    free(raw);
    return st;
}

const char *fernet_status_str(fernet_status s)
{
    switch (s) {
    case FERNET_OK:
        return "ok";
    case FERNET_BAD_BASE64:
        return "not base64url";
    case FERNET_TOO_SHORT:
        return "token too short";
    case FERNET_BAD_VERSION:
        return "unknown version byte (not 0x80)";
    case FERNET_BAD_MAC:
        return "MAC mismatch";
    case FERNET_BAD_PADDING:
        return "bad padding";
    case FERNET_EXPIRED:
        return "token expired (older than the TTL)";
    case FERNET_FROM_FUTURE:
        return "token from the future (beyond the 60 s clock skew)";
    case FERNET_BAD_LENGTH:
        return "bad length (ciphertext not a whole number of blocks, or too big)";
    case FERNET_INTERNAL:
        break;
    }
    return "internal error";
}

/* ---- MultiFernet -------------------------------------------------------------- */
char *fernet_multi_encrypt(const fernet_key *keys, size_t nkeys, const uint8_t *msg,
                           size_t len, uint64_t now, const uint8_t *iv)
{
    return nkeys ? fernet_encrypt(&keys[0], msg, len, now, iv) : NULL;
}

/* Tries every key on an unpacked token; the status of keys[0] if none fits. */
static fernet_status open_any(const fernet_key *keys, size_t nkeys, const uint8_t *raw,
                              size_t raw_len, uint8_t **msg, size_t *msg_len)
{
    fernet_status first = FERNET_INTERNAL;
    for (size_t i = 0; i < nkeys; i++) {
        fernet_status st = open_raw(&keys[i], raw, raw_len, msg, msg_len);
        if (st == FERNET_OK)
            return st;
        if (i == 0)
            first = st;
    }
    return first;
}

fernet_status fernet_multi_decrypt(const fernet_key *keys, size_t nkeys, const char *token,
                                   size_t token_len, uint64_t ttl, uint64_t now,
                                   uint8_t **msg, size_t *msg_len)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    fernet_status st;

    *msg = NULL;
    *msg_len = 0;
    if ((st = unpack(token, token_len, &raw, &raw_len)) != FERNET_OK)
        goto end;
    if ((st = check_time(get_be64(raw + 1), ttl, now)) != FERNET_OK)
        goto end;
    st = open_any(keys, nkeys, raw, raw_len, msg, msg_len);
end:
    free(raw);
    return st;
}

fernet_status fernet_multi_rotate(const fernet_key *keys, size_t nkeys, const char *token,
                                  size_t token_len, char **out)
{
    uint8_t *raw = NULL, *msg = NULL;
    size_t raw_len = 0, msg_len = 0;
    fernet_status st;

    *out = NULL;
    if ((st = unpack(token, token_len, &raw, &raw_len)) != FERNET_OK)
        goto end;
    if ((st = open_any(keys, nkeys, raw, raw_len, &msg, &msg_len)) != FERNET_OK)
        goto end;
    /* same timestamp as before: rotation changes the key, not the token's age */
    if ((*out = fernet_encrypt(&keys[0], msg, msg_len, get_be64(raw + 1), NULL)) == NULL)
        st = FERNET_INTERNAL;
end:
    encoding_free_secret(msg, msg_len);
    free(raw);
    return st;
}
