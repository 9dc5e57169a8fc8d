/* SPDX-License-Identifier: MIT */
/* fernet.c - Fernet tokens: make, check, open, rotate; see fernet.h and
 * tests/vectors/fernet/Spec.md. The per-thread OpenSSL contexts are in
 * fernet_ctx.c, the token's base64url in fernet_b64.c, keys in fernet_keys.c. */
#include "fernet/fernet.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "fernet/fernet_b64.h"
#include "fernet/fernet_internal.h"

#define HDR_LEN FERNET_HDR_LEN
#define MAC_LEN FERNET_MAC_LEN
#define BLOCK FERNET_BLOCK
#define CHUNK FERNET_CHUNK
/* Bounds every length computation below far from overflow, and keeps lengths
 * inside the int that EVP_*Update takes. */
#define MAX_MSG ((size_t)1 << 30)

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

/* MACs the staged bytes not yet MACed, then base64-encodes every whole 3-byte
 * group and keeps the 0-2 bytes left over at the front of the stage. */
static int stage_flush(struct fernet_tls *t, size_t *pend, size_t *maced, char **out)
{
    size_t whole = *pend / 3 * 3;
    if (!EVP_MAC_update(t->mac, t->stage + *maced, *pend - *maced))
        return -1;
    *out += fb64_encode_groups(t->stage, whole, *out);
    memmove(t->stage, t->stage + whole, *pend - whole);
    *maced = *pend -= whole;
    return 0;
}

/* Encrypt-then-MAC in one pass, CHUNK bytes at a time: each piece of
 * ciphertext is MACed and encoded while it is still in cache, and only the
 * token itself is written out to memory. */
char *fernet_encrypt(const fernet_key *k, const uint8_t *msg, size_t len, uint64_t now,
                     const uint8_t *iv)
{
    struct fernet_tls *t = fernet_tls_get();
    size_t ct_len = (len / BLOCK + 1) * BLOCK, pend = HDR_LEN, maced = 0, done = 0;
    char *token = NULL, *out = NULL, *ret = NULL;
    int n = 0;

    if (!t || len > MAX_MSG || (len > 0 && !msg))
        goto end;
    if ((token = malloc(fb64_len(HDR_LEN + ct_len + MAC_LEN) + 1)) == NULL)
        goto end;
    out = token;
    t->stage[0] = FERNET_VERSION;
    put_be64(t->stage + 1, now);
    if (iv)
        memcpy(t->stage + 9, iv, 16);
    else if (RAND_bytes(t->stage + 9, 16) != 1) /* a fresh, unpredictable IV per token */
        goto end;
    /* PKCS#7 padding is EVP's default. */
    if (fernet_cipher_init(t, 1, k->encryption, t->stage + 9) != 0 ||
        fernet_mac_start(t, k->signing) != 0)
        goto end;
    while (done < len) {
        size_t take = len - done < CHUNK ? len - done : CHUNK;
        if (!EVP_EncryptUpdate(t->enc, t->stage + pend, &n, msg + done, (int)take))
            goto end;
        done += take;
        pend += (size_t)n;
        if (stage_flush(t, &pend, &maced, &out) != 0)
            goto end;
    }
    if (!EVP_EncryptFinal_ex(t->enc, t->stage + pend, &n))
        goto end;
    pend += (size_t)n;
    /* the HMAC covers version, time, IV and ciphertext, and comes last */
    if (!EVP_MAC_update(t->mac, t->stage + maced, pend - maced) ||
        fernet_mac_end(t, t->stage + pend) != 0)
        goto end;
    fb64_encode(t->stage, pend + MAC_LEN, out);
    ret = token;
    token = NULL;
end:
    fernet_tls_put(t);
    free(token);
    return ret;
}

/* Decodes a token into *raw (malloc'ed, *raw_len bytes) and checks what needs
 * no key: base64, version, length. If sign_key is given, it also computes the
 * HMAC of the decoded bytes into mac, a chunk at a time while each is in
 * cache; comparing it is the caller's job, after the time checks. */
static fernet_status unpack(const char *token, size_t token_len, struct fernet_tls *t,
                            const uint8_t *sign_key, uint8_t **raw, size_t *raw_len,
                            uint8_t mac[MAC_LEN])
{
    uint8_t *buf = NULL;
    size_t groups, pad = 0, n, o = 0, maced = 0;
    fernet_status st = FERNET_BAD_BASE64;

    *raw = NULL;
    if (!token || token_len == 0 || token_len % 4)
        return FERNET_BAD_BASE64;
    if (token_len > fb64_len(HDR_LEN + MAX_MSG + BLOCK + MAC_LEN))
        return FERNET_BAD_LENGTH;
    pad = token[token_len - 1] != '=' ? 0 : token[token_len - 2] == '=' ? 2 : 1;
    groups = token_len / 4 - (pad ? 1 : 0); /* whole 4-character groups */
    n = token_len / 4 * 3 - pad;             /* decoded size, if it decodes */
    if ((buf = malloc(n + 3)) == NULL)       /* + 3: the last group decodes whole */
        return FERNET_INTERNAL;
    /* first the header's group: the version and the lengths say enough to
     * refuse most garbage before any more work */
    if (fb64_decode(token, 4, buf) != (long)(groups ? 3 : 3 - pad))
        goto end;
    if (buf[0] != FERNET_VERSION) {
        st = FERNET_BAD_VERSION;
        goto end;
    }
    /* the length checks use only what the wire shows anyway */
    if (n < HDR_LEN + MAC_LEN ||
        ((n - HDR_LEN - MAC_LEN) % BLOCK == 0 && n < FERNET_MIN_TOKEN_BYTES)) {
        st = FERNET_TOO_SHORT;
        goto end;
    }
    if ((n - HDR_LEN - MAC_LEN) % BLOCK) {
        st = FERNET_BAD_LENGTH;
        goto end;
    }
    st = FERNET_INTERNAL;
    if (sign_key && fernet_mac_start(t, sign_key) != 0)
        goto end;
    for (size_t g = 0; g < groups; g += CHUNK / 3) {
        size_t step = groups - g < CHUNK / 3 ? groups - g : CHUNK / 3;
        if (fb64_decode_groups(token + 4 * g, step, buf + o) != 0) {
            st = FERNET_BAD_BASE64;
            goto end;
        }
        o += 3 * step;
        size_t upto = o < n - MAC_LEN ? o : n - MAC_LEN; /* the MAC does not cover itself */
        if (sign_key && upto > maced && !EVP_MAC_update(t->mac, buf + maced, upto - maced))
            goto end;
        maced = upto > maced ? upto : maced;
    }
    if (pad && fb64_decode(token + 4 * groups, 4, buf + o) != (long)(3 - pad)) {
        st = FERNET_BAD_BASE64;
        goto end;
    }
    if (sign_key && (!EVP_MAC_update(t->mac, buf + maced, n - MAC_LEN - maced) ||
                     fernet_mac_end(t, mac) != 0))
        goto end;
    *raw = buf;
    *raw_len = n;
    buf = NULL;
    st = FERNET_OK;
end:
    free(buf);
    return st;
}

/* Decrypts a token whose MAC has been checked. */
static fernet_status decrypt_raw(struct fernet_tls *t, const fernet_key *k, const uint8_t *raw,
                                 size_t raw_len, uint8_t **msg, size_t *msg_len)
{
    size_t ct_len = raw_len - HDR_LEN - MAC_LEN;
    uint8_t *out = NULL;
    int n1 = 0, n2 = 0;
    fernet_status st = FERNET_INTERNAL;

    if ((out = malloc(ct_len + BLOCK + 1)) == NULL)
        goto end;
    if (fernet_cipher_init(t, 0, k->encryption, raw + 9) != 0 ||
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

/* Every decryption, for one key or several (MultiFernet), in the spec's order:
 * decode, version, length, time (unless times is 0), MAC, decrypt. The status
 * of keys[0] if no key fits. *ts gets the token's time when asked for. */
static fernet_status open_token(const fernet_key *keys, size_t nkeys, const char *token,
                                size_t token_len, int times, uint64_t ttl, uint64_t now,
                                uint8_t **msg, size_t *msg_len, uint64_t *ts)
{
    struct fernet_tls *t = fernet_tls_get();
    uint8_t *raw = NULL, mac[MAC_LEN];
    size_t raw_len = 0;
    fernet_status st = FERNET_INTERNAL;

    *msg = NULL;
    *msg_len = 0;
    if (!t || nkeys == 0)
        goto end;
    if ((st = unpack(token, token_len, t, keys[0].signing, &raw, &raw_len, mac)) != FERNET_OK)
        goto end;
    if (ts)
        *ts = get_be64(raw + 1);
    if (times && (st = check_time(get_be64(raw + 1), ttl, now)) != FERNET_OK)
        goto end;
    for (size_t i = 0; i < nkeys; i++) {
        if (i > 0 && fernet_hmac(t, keys[i].signing, raw, raw_len - MAC_LEN, mac) != 0) {
            st = FERNET_INTERNAL;
            goto end;
        }
        /* Constant time, and before any decryption: a forged token never
         * reaches AES, so padding errors cannot serve as an oracle. */
        if (CRYPTO_memcmp(mac, raw + raw_len - MAC_LEN, MAC_LEN) == 0) {
            st = decrypt_raw(t, &keys[i], raw, raw_len, msg, msg_len);
            goto end;
        }
    }
    st = FERNET_BAD_MAC;
end:
    fernet_tls_put(t);
    free(raw);
    return st;
}

fernet_status fernet_decrypt(const fernet_key *k, const char *token, size_t token_len,
                             uint64_t ttl, uint64_t now, uint8_t **msg, size_t *msg_len)
{
    return open_token(k, 1, token, token_len, 1, ttl, now, msg, msg_len, NULL);
}

fernet_status fernet_token_timestamp(const char *token, size_t token_len, uint64_t *ts)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    fernet_status st = unpack(token, token_len, NULL, NULL, &raw, &raw_len, NULL);
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

fernet_status fernet_multi_decrypt(const fernet_key *keys, size_t nkeys, const char *token,
                                   size_t token_len, uint64_t ttl, uint64_t now,
                                   uint8_t **msg, size_t *msg_len)
{
    return open_token(keys, nkeys, token, token_len, 1, ttl, now, msg, msg_len, NULL);
}

fernet_status fernet_multi_rotate(const fernet_key *keys, size_t nkeys, const char *token,
                                  size_t token_len, char **out)
{
    uint8_t *msg = NULL;
    size_t msg_len = 0;
    uint64_t ts = 0;
    fernet_status st;

    *out = NULL;
    /* as Python's rotate: no time checks, and the token keeps its timestamp,
     * because rotation changes the key, not the token's age */
    if ((st = open_token(keys, nkeys, token, token_len, 0, 0, 0, &msg, &msg_len, &ts)) != FERNET_OK)
        return st;
    if ((*out = fernet_encrypt(&keys[0], msg, msg_len, ts, NULL)) == NULL)
        st = FERNET_INTERNAL;
    encoding_free_secret(msg, msg_len);
    return st;
}
