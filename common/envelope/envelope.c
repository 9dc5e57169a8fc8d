/* SPDX-License-Identifier: MIT */
/*
 * envelope.c - chapter 06's key schedule and envelopes (see envelope.h).
 *
 * The whole module rests on two rules. A (key, nonce) pair is never used
 * twice: the nonce is the seq, the seq only grows, and the key changes with
 * the epoch. And the receiver believes nothing before the tag checks: the
 * seq checks that come first only refuse, and every change of state (last,
 * the ratchet, the cached request) happens after a successful open.
 */
#include "envelope/envelope.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "kex/kex.h"

#define HASH_LEN 32

const char *envelope_status_str(envelope_status s)
{
    switch (s) {
    case ENVELOPE_OK:
        return "ok";
    case ENVELOPE_RETRANSMIT:
        return "a byte-identical resend of the last request: it gets the same answer again";
    case ENVELOPE_ERR_ARG:
        return "bad argument (a missing buffer, a length out of range, or rotate_every 0)";
    case ENVELOPE_ERR_REFLECTED:
        return "this type of envelope never travels in this direction: a reflected or "
               "misrouted envelope";
    case ENVELOPE_ERR_SEQ_RANGE:
        return "seq is below the first of this direction or beyond 2^31: the session must end";
    case ENVELOPE_ERR_REPLAY:
        return "seq equals the last one: a replayed envelope (or a resend before any answer "
               "exists)";
    case ENVELOPE_ERR_REORDER:
        return "seq is below the last one: a reordered or replayed envelope";
    case ENVELOPE_ERR_GAP:
        return "seq skips more than 1000 ahead of the last one, or more than 128 key epochs";
    case ENVELOPE_ERR_NOT_ANSWER:
        return "not the answer to the outstanding request (no request, or another seq or type)";
    case ENVELOPE_ERR_ANSWERED:
        return "this request has been answered already: a used seq never carries a second answer";
    case ENVELOPE_ERR_TOO_LONG:
        return "the plaintext is larger than 1 MiB";
    case ENVELOPE_ERR_AUTH:
        return "authentication failed: the ciphertext, its tag, or a field the AAD binds "
               "(type, session, seq, epoch, request) is not what was sealed";
    case ENVELOPE_ERR_CRYPTO:
        return "OpenSSL failed";
    case ENVELOPE_ERR_MEMORY:
        return "out of memory";
    }
    return "unknown envelope status";
}

/* ---- key schedule ----------------------------------------------------------- */

/* HkdfLabel of RFC 8446 section 7.1 with our prefix. Returns its length, 0
 * when a part is too long for its one-byte length. */
static size_t hkdf_label(size_t out_len, const char *label, const uint8_t *ctx, size_t ctx_len,
                         uint8_t buf[2 + 1 + 255 + 1 + 255])
{
    const size_t plen = sizeof ENVELOPE_LABEL_PREFIX - 1, llen = strlen(label);
    size_t n = 0;

    if (plen + llen > 255 || ctx_len > 255 || out_len > 0xffff)
        return 0;
    buf[n++] = (uint8_t)(out_len >> 8);
    buf[n++] = (uint8_t)out_len;
    buf[n++] = (uint8_t)(plen + llen);
    memcpy(buf + n, ENVELOPE_LABEL_PREFIX, plen);
    n += plen;
    memcpy(buf + n, label, llen);
    n += llen;
    buf[n++] = (uint8_t)ctx_len;
    if (ctx_len)
        memcpy(buf + n, ctx, ctx_len);
    return n + ctx_len;
}

envelope_status envelope_expand_label(const uint8_t *secret, size_t secret_len, const char *label,
                                      const uint8_t *ctx, size_t ctx_len, uint8_t *out,
                                      size_t out_len)
{
    uint8_t info[2 + 1 + 255 + 1 + 255];
    size_t info_len;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[5], *p = params;
    envelope_status st = ENVELOPE_ERR_CRYPTO;

    if (!secret || !secret_len || !label || (ctx_len && !ctx) || !out || out_len == 0 ||
        out_len > 255 * HASH_LEN)
        return ENVELOPE_ERR_ARG;
    if (!(info_len = hkdf_label(out_len, label, ctx, ctx_len, info)))
        return ENVELOPE_ERR_ARG;
    /* The secret is already a pseudorandom key (a traffic secret, or the
     * extract step's output): RFC 5869 says to skip the extract then. */
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, "EXPAND_ONLY", 0);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len);
    *p = OSSL_PARAM_construct_end();
    if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) && (kctx = EVP_KDF_CTX_new(kdf)) &&
        EVP_KDF_derive(kctx, out, out_len, params) > 0)
        st = ENVELOPE_OK;
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return st;
}

/* A first secret: Expand-Label(Extract(th, shared), label, th, 32). That is
 * one extract-then-expand, which kex already does (RFC 5869 HKDF with salt
 * th and info HkdfLabel), so reuse it rather than write a second one. */
static envelope_status first_secret(const uint8_t *shared, size_t shared_len,
                                    const uint8_t th[ENVELOPE_TH_LEN], const char *label,
                                    uint8_t out[ENVELOPE_SECRET_LEN])
{
    uint8_t info[2 + 1 + 255 + 1 + 255];
    size_t info_len = hkdf_label(ENVELOPE_SECRET_LEN, label, th, ENVELOPE_TH_LEN, info);

    if (!info_len)
        return ENVELOPE_ERR_ARG;
    return kex_hkdf_sha256(shared, shared_len, th, ENVELOPE_TH_LEN, info, info_len, out,
                           ENVELOPE_SECRET_LEN) == KEX_OK
               ? ENVELOPE_OK
               : ENVELOPE_ERR_CRYPTO;
}

envelope_status envelope_schedule(const uint8_t *shared, size_t shared_len,
                                  const uint8_t th[ENVELOPE_TH_LEN], envelope_secrets *out)
{
    envelope_status st;

    if (!shared || !shared_len || !th || !out)
        return ENVELOPE_ERR_ARG;
    if ((st = first_secret(shared, shared_len, th, "c ap traffic", out->c2s)) != ENVELOPE_OK ||
        (st = first_secret(shared, shared_len, th, "s ap traffic", out->s2c)) != ENVELOPE_OK ||
        (st = first_secret(shared, shared_len, th, "notify", out->ntf)) != ENVELOPE_OK)
        envelope_secrets_wipe(out);
    return st;
}

void envelope_secrets_wipe(envelope_secrets *s)
{
    if (s)
        OPENSSL_cleanse(s, sizeof *s);
}

envelope_status envelope_traffic_keys(const uint8_t secret[ENVELOPE_SECRET_LEN],
                                      uint8_t key[ENVELOPE_KEY_LEN], uint8_t iv[ENVELOPE_IV_LEN])
{
    envelope_status st;

    if ((st = envelope_expand_label(secret, ENVELOPE_SECRET_LEN, "key", NULL, 0, key,
                                    ENVELOPE_KEY_LEN)) != ENVELOPE_OK ||
        (st = envelope_expand_label(secret, ENVELOPE_SECRET_LEN, "iv", NULL, 0, iv,
                                    ENVELOPE_IV_LEN)) != ENVELOPE_OK) {
        if (key)
            OPENSSL_cleanse(key, ENVELOPE_KEY_LEN);
        if (iv)
            OPENSSL_cleanse(iv, ENVELOPE_IV_LEN);
    }
    return st;
}

envelope_status envelope_next_secret(uint8_t secret[ENVELOPE_SECRET_LEN])
{
    uint8_t next[ENVELOPE_SECRET_LEN];
    envelope_status st = envelope_expand_label(secret, ENVELOPE_SECRET_LEN, "traffic upd", NULL, 0,
                                               next, sizeof next);

    /* forward only: the old secret is overwritten, so a key stolen later
     * cannot be walked back to earlier epochs */
    if (st == ENVELOPE_OK)
        memcpy(secret, next, sizeof next);
    OPENSSL_cleanse(next, sizeof next);
    return st;
}

void envelope_nonce(const uint8_t iv[ENVELOPE_IV_LEN], uint64_t seq, uint8_t nonce[ENVELOPE_IV_LEN])
{
    memcpy(nonce, iv, ENVELOPE_IV_LEN);
    /* the seq goes big-endian into the last 8 bytes; the first 4 stay iv */
    for (int i = 0; i < 8; i++)
        nonce[ENVELOPE_IV_LEN - 1 - i] ^= (uint8_t)(seq >> (8 * i));
}

/* ---- directions and types ----------------------------------------------- */

uint64_t envelope_first_seq(envelope_direction d)
{
    /* HELLO is seq 1 of the data directions; NOTIFY counts on its own */
    return d == ENVELOPE_NTF ? 1 : 2;
}

uint32_t envelope_epoch(envelope_direction d, uint64_t seq, unsigned rotate_every)
{
    uint64_t first = envelope_first_seq(d);

    if (rotate_every == 0 || seq < first)
        return 0;
    return (uint32_t)((seq - first) / rotate_every);
}

/* The AAD's type code: direction in the high nibble, type in the low one.
 * 0 for a type that never travels this way. */
static uint8_t type_code(envelope_direction d, envelope_type t)
{
    switch (d) {
    case ENVELOPE_C2S:
        return (t == ENVELOPE_DATA_REQUEST || t == ENVELOPE_CLOSE) ? (uint8_t)(0x10 | t) : 0;
    case ENVELOPE_S2C:
        return (t == ENVELOPE_DATA_RESPONSE || t == ENVELOPE_CLOSE) ? (uint8_t)(0x20 | t) : 0;
    case ENVELOPE_NTF:
        return t == ENVELOPE_NOTIFY ? (uint8_t)(0x30 | t) : 0;
    }
    return 0;
}

size_t envelope_aad(envelope_direction d, envelope_type t, const char *session, uint64_t seq,
                    uint32_t epoch, const uint8_t *req_hash, uint8_t out[ENVELOPE_AAD_MAX])
{
    const size_t plen = sizeof ENVELOPE_AAD_PREFIX - 1;
    uint8_t code = type_code(d, t);
    size_t slen, n = 0;

    if (!code || !session || !out)
        return 0;
    slen = strlen(session);
    if (slen == 0 || slen > ENVELOPE_SESSION_MAX)
        return 0;
    /* answers, and only answers, name their request */
    if ((d == ENVELOPE_S2C) != (req_hash != NULL))
        return 0;
    memcpy(out, ENVELOPE_AAD_PREFIX, plen);
    n = plen;
    out[n++] = code;
    out[n++] = (uint8_t)slen;
    memcpy(out + n, session, slen);
    n += slen;
    for (int i = 7; i >= 0; i--)
        out[n++] = (uint8_t)(seq >> (8 * i));
    for (int i = 3; i >= 0; i--)
        out[n++] = (uint8_t)(epoch >> (8 * i));
    if (req_hash) {
        memcpy(out + n, req_hash, HASH_LEN);
        n += HASH_LEN;
    }
    return n;
}

/* ---- AES-GCM -------------------------------------------------------------- */

static const EVP_CIPHER *gcm_cipher(size_t key_len)
{
    switch (key_len) {
    case 16:
        return EVP_aes_128_gcm();
    case 24:
        return EVP_aes_192_gcm();
    case 32:
        return EVP_aes_256_gcm();
    }
    return NULL;
}

envelope_status envelope_aead_seal(const uint8_t *key, size_t key_len,
                                   const uint8_t nonce[ENVELOPE_IV_LEN], const uint8_t *aad,
                                   size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct)
{
    const EVP_CIPHER *cipher = gcm_cipher(key_len);
    EVP_CIPHER_CTX *c = NULL;
    envelope_status st = ENVELOPE_ERR_CRYPTO;
    int n = 0, fin = 0;

    if (!cipher || !key || !nonce || !ct || (aad_len && !aad) || (pt_len && !pt) ||
        aad_len > INT_MAX || pt_len > (size_t)INT_MAX - ENVELOPE_TAG_LEN)
        return ENVELOPE_ERR_ARG;
    if (!(c = EVP_CIPHER_CTX_new()))
        return ENVELOPE_ERR_MEMORY;
    if (EVP_EncryptInit_ex(c, cipher, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, ENVELOPE_IV_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) != 1)
        goto end;
    if (aad_len && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
        goto end;
    n = 0;
    if (pt_len && EVP_EncryptUpdate(c, ct, &n, pt, (int)pt_len) != 1)
        goto end;
    if (EVP_EncryptFinal_ex(c, ct + n, &fin) != 1 || (size_t)n + (size_t)fin != pt_len ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, ENVELOPE_TAG_LEN, ct + pt_len) != 1)
        goto end;
    st = ENVELOPE_OK;
end:
    EVP_CIPHER_CTX_free(c);
    return st;
}

envelope_status envelope_aead_open(const uint8_t *key, size_t key_len,
                                   const uint8_t nonce[ENVELOPE_IV_LEN], const uint8_t *aad,
                                   size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    const EVP_CIPHER *cipher = gcm_cipher(key_len);
    EVP_CIPHER_CTX *c = NULL;
    envelope_status st = ENVELOPE_ERR_CRYPTO;
    size_t pt_len;
    int n = 0, fin = 0;

    if (!cipher || !key || !nonce || !ct || (aad_len && !aad) || aad_len > INT_MAX ||
        ct_len > INT_MAX)
        return ENVELOPE_ERR_ARG;
    /* too short to hold a tag: it cannot be authentic, and that is all we say */
    if (ct_len < ENVELOPE_TAG_LEN)
        return ENVELOPE_ERR_AUTH;
    pt_len = ct_len - ENVELOPE_TAG_LEN;
    if (pt_len && !pt)
        return ENVELOPE_ERR_ARG;
    if (!(c = EVP_CIPHER_CTX_new()))
        return ENVELOPE_ERR_MEMORY;
    if (EVP_DecryptInit_ex(c, cipher, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, ENVELOPE_IV_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) != 1)
        goto end;
    if (aad_len && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
        goto end;
    n = 0;
    if (pt_len && EVP_DecryptUpdate(c, pt, &n, ct, (int)pt_len) != 1)
        goto end;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, ENVELOPE_TAG_LEN, (void *)(ct + pt_len)) != 1)
        goto end;
    /* the tag is checked here, after GCM has already written plaintext:
     * on failure those bytes are wiped, never handed out */
    if (EVP_DecryptFinal_ex(c, pt ? pt + n : NULL, &fin) != 1) {
        st = ENVELOPE_ERR_AUTH;
        goto end;
    }
    st = ENVELOPE_OK;
end:
    if (st != ENVELOPE_OK && pt && pt_len)
        OPENSSL_cleanse(pt, pt_len);
    EVP_CIPHER_CTX_free(c);
    return st;
}

/* ---- per-direction state ---------------------------------------------------- */

enum req_state { REQ_NONE = 0, REQ_SEALED, REQ_OPENED };

struct envelope_dir {
    envelope_direction dir;
    unsigned rotate_every;
    char session[ENVELOPE_SESSION_MAX + 1];
    /* the current epoch's secret, key and iv; earlier ones are gone */
    uint32_t epoch;
    uint8_t secret[ENVELOPE_SECRET_LEN], key[ENVELOPE_KEY_LEN], iv[ENVELOPE_IV_LEN];
    uint64_t last;
    /* C2S only: the last request (sealed by a client, opened by a server),
     * and on a server the answer sealed for it */
    enum req_state req;
    envelope_type req_type;
    uint8_t req_hash[HASH_LEN];
    uint8_t *answer;
    size_t answer_len;
};

/* A candidate key for an epoch: computed on the side, so that a message
 * that fails its tag leaves the direction exactly as it was. */
typedef struct epoch_keys {
    uint32_t epoch;
    uint8_t secret[ENVELOPE_SECRET_LEN], key[ENVELOPE_KEY_LEN], iv[ENVELOPE_IV_LEN];
} epoch_keys;

static void wipe_keys(epoch_keys *k)
{
    OPENSSL_cleanse(k, sizeof *k);
}

static envelope_status keys_for(const envelope_dir *d, uint32_t epoch, epoch_keys *k)
{
    envelope_status st = ENVELOPE_OK;

    /* keys only go forward: an earlier epoch's secret is gone for good */
    if (epoch < d->epoch)
        return ENVELOPE_ERR_REORDER;
    k->epoch = epoch;
    memcpy(k->secret, d->secret, sizeof k->secret);
    if (epoch == d->epoch) {
        memcpy(k->key, d->key, sizeof k->key);
        memcpy(k->iv, d->iv, sizeof k->iv);
        return ENVELOPE_OK;
    }
    /* check_seq bounds this loop to ENVELOPE_MAX_EPOCH_SKIP steps for a
     * request; an answer's steps are bounded by the requests really opened */
    for (uint32_t e = d->epoch; e < epoch && st == ENVELOPE_OK; e++)
        st = envelope_next_secret(k->secret);
    if (st == ENVELOPE_OK)
        st = envelope_traffic_keys(k->secret, k->key, k->iv);
    if (st != ENVELOPE_OK)
        wipe_keys(k);
    return st;
}

/* Commit a successful seal or open: the new last, and the key it used. */
static void commit(envelope_dir *d, uint64_t seq, const epoch_keys *k)
{
    d->last = seq;
    d->epoch = k->epoch;
    memcpy(d->secret, k->secret, sizeof d->secret);
    memcpy(d->key, k->key, sizeof d->key);
    memcpy(d->iv, k->iv, sizeof d->iv);
}

static void drop_answer(envelope_dir *d)
{
    if (d->answer)
        OPENSSL_cleanse(d->answer, d->answer_len);
    free(d->answer);
    d->answer = NULL;
    d->answer_len = 0;
}

static int sha256(const uint8_t *b, size_t n, uint8_t out[HASH_LEN])
{
    return EVP_Digest(b, n, out, NULL, EVP_sha256(), NULL) == 1;
}

envelope_status envelope_dir_new(envelope_direction d, const uint8_t secret0[ENVELOPE_SECRET_LEN],
                                 unsigned rotate_every, const char *session, envelope_dir **out)
{
    envelope_dir *x;
    size_t slen;
    envelope_status st;

    if (!out)
        return ENVELOPE_ERR_ARG;
    *out = NULL;
    if ((d != ENVELOPE_C2S && d != ENVELOPE_S2C && d != ENVELOPE_NTF) || !secret0 || !session ||
        rotate_every == 0 || rotate_every > ENVELOPE_ROTATE_MAX)
        return ENVELOPE_ERR_ARG;
    slen = strlen(session);
    if (slen == 0 || slen > ENVELOPE_SESSION_MAX)
        return ENVELOPE_ERR_ARG;
    if (!(x = calloc(1, sizeof *x)))
        return ENVELOPE_ERR_MEMORY;
    x->dir = d;
    x->rotate_every = rotate_every;
    memcpy(x->session, session, slen + 1);
    memcpy(x->secret, secret0, ENVELOPE_SECRET_LEN);
    x->last = envelope_first_seq(d) - 1;
    if ((st = envelope_traffic_keys(x->secret, x->key, x->iv)) != ENVELOPE_OK) {
        envelope_dir_free(x);
        return st;
    }
    *out = x;
    return ENVELOPE_OK;
}

void envelope_dir_free(envelope_dir *d)
{
    if (!d)
        return;
    drop_answer(d);
    OPENSSL_cleanse(d, sizeof *d);
    free(d);
}

uint64_t envelope_dir_last(const envelope_dir *d)
{
    return d ? d->last : 0;
}

uint32_t envelope_dir_epoch(const envelope_dir *d)
{
    return d ? d->epoch : 0;
}

/* Type and order, what every envelope and every answer must pass, in the
 * order envelope.h gives. The checks only refuse; nothing changes here. */
static envelope_status check_order(const envelope_dir *d, envelope_type t, uint64_t seq)
{
    if (!type_code(d->dir, t))
        return ENVELOPE_ERR_REFLECTED;
    if (seq < envelope_first_seq(d->dir) || seq > ENVELOPE_SEQ_MAX)
        return ENVELOPE_ERR_SEQ_RANGE;
    if (seq == d->last)
        return ENVELOPE_ERR_REPLAY;
    if (seq < d->last)
        return ENVELOPE_ERR_REORDER;
    return ENVELOPE_OK;
}

/* An envelope that arrives: its order, then how far ahead it may reach. An
 * answer's seq is its request's, which passed this when it was opened, so
 * answers check only their order: with a gap limit, requests opened without
 * an answer (a refusal sent in plain HTTP) would leave a session that can
 * never be answered again once they add up to the gap. */
static envelope_status check_seq(const envelope_dir *d, envelope_type t, uint64_t seq)
{
    envelope_status st = check_order(d, t, seq);
    if (st != ENVELOPE_OK)
        return st;
    if (seq - d->last > ENVELOPE_MAX_GAP ||
        envelope_epoch(d->dir, seq, d->rotate_every) - d->epoch > ENVELOPE_MAX_EPOCH_SKIP)
        return ENVELOPE_ERR_GAP;
    return ENVELOPE_OK;
}


/* Seal under the key of seq's epoch; commits on success. */
static envelope_status seal_at(envelope_dir *d, envelope_type t, uint64_t seq,
                               const uint8_t *req_hash, const uint8_t *pt, size_t pt_len,
                               uint8_t **ct, size_t *ct_len)
{
    uint8_t aad[ENVELOPE_AAD_MAX], nonce[ENVELOPE_IV_LEN], *out;
    size_t aad_len;
    epoch_keys k;
    envelope_status st;

    if (pt_len > ENVELOPE_MAX_PLAINTEXT)
        return ENVELOPE_ERR_TOO_LONG;
    if ((st = keys_for(d, envelope_epoch(d->dir, seq, d->rotate_every), &k)) != ENVELOPE_OK)
        return st;
    if (!(aad_len = envelope_aad(d->dir, t, d->session, seq, k.epoch, req_hash, aad))) {
        wipe_keys(&k);
        return ENVELOPE_ERR_ARG;
    }
    if (!(out = malloc(pt_len + ENVELOPE_TAG_LEN))) {
        wipe_keys(&k);
        return ENVELOPE_ERR_MEMORY;
    }
    envelope_nonce(k.iv, seq, nonce);
    if ((st = envelope_aead_seal(k.key, ENVELOPE_KEY_LEN, nonce, aad, aad_len, pt, pt_len, out)) !=
        ENVELOPE_OK) {
        free(out);
        wipe_keys(&k);
        return st;
    }
    commit(d, seq, &k);
    wipe_keys(&k);
    *ct = out;
    *ct_len = pt_len + ENVELOPE_TAG_LEN;
    return ENVELOPE_OK;
}

/* Open under the key of seq's epoch; commits on success only. */
static envelope_status open_at(envelope_dir *d, envelope_type t, uint64_t seq,
                               const uint8_t *req_hash, const uint8_t *ct, size_t ct_len,
                               uint8_t **pt, size_t *pt_len)
{
    uint8_t aad[ENVELOPE_AAD_MAX], nonce[ENVELOPE_IV_LEN], *out;
    size_t aad_len, n;
    epoch_keys k;
    envelope_status st;

    if (ct_len < ENVELOPE_TAG_LEN)
        return ENVELOPE_ERR_AUTH;
    n = ct_len - ENVELOPE_TAG_LEN;
    if (n > ENVELOPE_MAX_PLAINTEXT)
        return ENVELOPE_ERR_TOO_LONG;
    if ((st = keys_for(d, envelope_epoch(d->dir, seq, d->rotate_every), &k)) != ENVELOPE_OK)
        return st;
    if (!(aad_len = envelope_aad(d->dir, t, d->session, seq, k.epoch, req_hash, aad))) {
        wipe_keys(&k);
        return ENVELOPE_ERR_ARG;
    }
    /* one byte more so an empty plaintext is still a real buffer */
    if (!(out = malloc(n + 1))) {
        wipe_keys(&k);
        return ENVELOPE_ERR_MEMORY;
    }
    envelope_nonce(k.iv, seq, nonce);
    st = envelope_aead_open(k.key, ENVELOPE_KEY_LEN, nonce, aad, aad_len, ct, ct_len, out);
    if (st != ENVELOPE_OK) {
        free(out); /* already wiped by envelope_aead_open */
        wipe_keys(&k);
        return st;
    }
    commit(d, seq, &k);
    wipe_keys(&k);
    out[n] = 0;
    *pt = out;
    *pt_len = n;
    return ENVELOPE_OK;
}

envelope_status envelope_seal(envelope_dir *d, envelope_type t, uint64_t seq, const uint8_t *pt,
                              size_t pt_len, uint8_t **ct, size_t *ct_len)
{
    uint8_t hash[HASH_LEN];
    envelope_status st;

    if (!d || !ct || !ct_len || (pt_len && !pt) || d->dir == ENVELOPE_S2C)
        return ENVELOPE_ERR_ARG;
    *ct = NULL;
    *ct_len = 0;
    if ((st = check_seq(d, t, seq)) != ENVELOPE_OK)
        return st;
    if ((st = seal_at(d, t, seq, NULL, pt, pt_len, ct, ct_len)) != ENVELOPE_OK)
        return st;
    if (d->dir == ENVELOPE_C2S) {
        /* the client remembers which request its answer must name */
        if (!sha256(*ct, *ct_len, hash)) {
            /* the seq is used up either way; this request gets no answer */
            d->req = REQ_NONE;
            free(*ct);
            *ct = NULL;
            *ct_len = 0;
            return ENVELOPE_ERR_CRYPTO;
        }
        memcpy(d->req_hash, hash, HASH_LEN);
        d->req = REQ_SEALED;
        d->req_type = t;
        drop_answer(d);
    }
    return ENVELOPE_OK;
}

envelope_status envelope_open(envelope_dir *d, envelope_type t, uint64_t seq, const uint8_t *ct,
                              size_t ct_len, uint8_t **pt, size_t *pt_len)
{
    uint8_t hash[HASH_LEN];
    envelope_status st;

    if (!d || !pt || !pt_len || (ct_len && !ct) || d->dir == ENVELOPE_S2C)
        return ENVELOPE_ERR_ARG;
    *pt = NULL;
    *pt_len = 0;
    st = check_seq(d, t, seq);
    /* The one exception to seq > last: the very bytes of the last request,
     * answered already (a proxy or the client retried after losing the
     * answer). Same bytes means same tag, which checked the first time, so
     * nothing needs opening; the caller resends the cached answer. */
    if (st == ENVELOPE_ERR_REPLAY && d->req == REQ_OPENED && d->answer && t == d->req_type) {
        if (!sha256(ct, ct_len, hash))
            return ENVELOPE_ERR_CRYPTO;
        if (CRYPTO_memcmp(hash, d->req_hash, HASH_LEN) == 0)
            return ENVELOPE_RETRANSMIT;
    }
    if (st != ENVELOPE_OK)
        return st;
    if (d->dir == ENVELOPE_C2S && !sha256(ct, ct_len, hash))
        return ENVELOPE_ERR_CRYPTO;
    if ((st = open_at(d, t, seq, NULL, ct, ct_len, pt, pt_len)) != ENVELOPE_OK)
        return st;
    if (d->dir == ENVELOPE_C2S) {
        /* a new request: the old answer can never be asked for again */
        memcpy(d->req_hash, hash, HASH_LEN);
        d->req = REQ_OPENED;
        d->req_type = t;
        drop_answer(d);
    }
    return ENVELOPE_OK;
}

/* DATA_REQUEST is answered by DATA_RESPONSE, CLOSE by CLOSE. */
static int answers(envelope_type request, envelope_type answer)
{
    return (request == ENVELOPE_DATA_REQUEST && answer == ENVELOPE_DATA_RESPONSE) ||
           (request == ENVELOPE_CLOSE && answer == ENVELOPE_CLOSE);
}

envelope_status envelope_seal_answer(envelope_dir *d, envelope_dir *req, envelope_type t,
                                     const uint8_t *pt, size_t pt_len, uint8_t **ct, size_t *ct_len)
{
    uint8_t *copy;
    envelope_status st;

    if (!d || !req || !ct || !ct_len || (pt_len && !pt) || d->dir != ENVELOPE_S2C ||
        req->dir != ENVELOPE_C2S || strcmp(d->session, req->session) != 0)
        return ENVELOPE_ERR_ARG;
    *ct = NULL;
    *ct_len = 0;
    if (!type_code(d->dir, t))
        return ENVELOPE_ERR_REFLECTED;
    if (req->req != REQ_OPENED || !answers(req->req_type, t))
        return ENVELOPE_ERR_NOT_ANSWER;
    if (req->answer)
        return ENVELOPE_ERR_ANSWERED;
    if ((st = check_order(d, t, req->last)) != ENVELOPE_OK)
        return st;
    if (pt_len > ENVELOPE_MAX_PLAINTEXT)
        return ENVELOPE_ERR_TOO_LONG;
    /* keep the answer, byte for byte, for an identical resend: a used seq
     * is never sealed again, not even with the same plaintext. The copy is
     * allocated first, so a sealed answer is always a cached one. */
    if (!(copy = malloc(pt_len + ENVELOPE_TAG_LEN)))
        return ENVELOPE_ERR_MEMORY;
    if ((st = seal_at(d, t, req->last, req->req_hash, pt, pt_len, ct, ct_len)) != ENVELOPE_OK) {
        free(copy);
        return st;
    }
    memcpy(copy, *ct, *ct_len);
    req->answer = copy;
    req->answer_len = *ct_len;
    return ENVELOPE_OK;
}

envelope_status envelope_open_answer(envelope_dir *d, const envelope_dir *req, envelope_type t,
                                     uint64_t seq, const uint8_t *ct, size_t ct_len, uint8_t **pt,
                                     size_t *pt_len)
{
    envelope_status st;

    if (!d || !req || !pt || !pt_len || (ct_len && !ct) || d->dir != ENVELOPE_S2C ||
        req->dir != ENVELOPE_C2S || strcmp(d->session, req->session) != 0)
        return ENVELOPE_ERR_ARG;
    *pt = NULL;
    *pt_len = 0;
    if ((st = check_order(d, t, seq)) != ENVELOPE_OK)
        return st;
    if (req->req != REQ_SEALED || seq != req->last || !answers(req->req_type, t))
        return ENVELOPE_ERR_NOT_ANSWER;
    return open_at(d, t, seq, req->req_hash, ct, ct_len, pt, pt_len);
}

envelope_status envelope_cached_answer(const envelope_dir *req, const uint8_t **ct, size_t *ct_len)
{
    if (!req || !ct || !ct_len)
        return ENVELOPE_ERR_ARG;
    if (req->req != REQ_OPENED || !req->answer)
        return ENVELOPE_ERR_NOT_ANSWER;
    *ct = req->answer;
    *ct_len = req->answer_len;
    return ENVELOPE_OK;
}

/* LAB ONLY (--lab-no-seq): open_at on a scratch copy, so its commit lands in
 * the copy, which is wiped; the real direction is never touched. */
envelope_status envelope_lab_open_used_seq(const envelope_dir *d, envelope_type t, uint64_t seq,
                                           const uint8_t *ct, size_t ct_len, uint8_t **pt,
                                           size_t *pt_len)
{
    envelope_dir scratch;
    envelope_status st;

    if (!d || !pt || !pt_len || (ct_len && !ct) || d->dir != ENVELOPE_C2S)
        return ENVELOPE_ERR_ARG;
    *pt = NULL;
    *pt_len = 0;
    if (!type_code(d->dir, t))
        return ENVELOPE_ERR_REFLECTED;
    if (seq < envelope_first_seq(d->dir) || seq > d->last)
        return ENVELOPE_ERR_ARG; /* only a used seq: a fresh one takes envelope_open */
    scratch = *d;
    scratch.answer = NULL; /* the cached answer stays the real direction's */
    st = open_at(&scratch, t, seq, NULL, ct, ct_len, pt, pt_len);
    OPENSSL_cleanse(&scratch, sizeof scratch);
    return st;
}
