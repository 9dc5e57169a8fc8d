/* SPDX-License-Identifier: MIT */
/* fernet_ctx.c - per-thread OpenSSL contexts for Fernet; see fernet_internal.h */
#include "fernet/fernet_internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "fernet/fernet.h"

static EVP_CIPHER *g_aes;
static EVP_MAC *g_hmac;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static int g_ready;
/* Every thread's contexts. Lock order: g_list_lock, then a context's lock. */
static pthread_mutex_t g_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fernet_tls *g_list;

/* Free the OpenSSL contexts (their free functions cleanse the AES key
 * schedule and the HMAC state) and wipe the key copies. The caller holds
 * t->lock, or t is no longer reachable by any other thread. */
static void wipe_keyed(struct fernet_tls *t, struct fernet_keyed *kc)
{
    if (kc == &t->enc_k) {
        EVP_CIPHER_CTX_free(t->enc);
        t->enc = NULL;
    } else if (kc == &t->dec_k) {
        EVP_CIPHER_CTX_free(t->dec);
        t->dec = NULL;
    } else {
        EVP_MAC_CTX_free(t->mac);
        t->mac = NULL;
    }
    OPENSSL_cleanse(kc, sizeof *kc);
}

static void unlink_tls(struct fernet_tls *t)
{
    pthread_mutex_lock(&g_list_lock);
    if (t->prev)
        t->prev->next = t->next;
    else if (g_list == t)
        g_list = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    pthread_mutex_unlock(&g_list_lock);
}

/* Runs when a thread ends (pthread_key destructor), and at exit for the
 * thread that calls exit(). */
static void tls_free(void *p)
{
    struct fernet_tls *t = p;
    if (!t)
        return;
    unlink_tls(t); /* from here on no other thread can reach t */
    wipe_keyed(t, &t->enc_k);
    wipe_keyed(t, &t->dec_k);
    wipe_keyed(t, &t->mac_k);
    pthread_mutex_destroy(&t->lock);
    OPENSSL_cleanse(t, sizeof *t);
    free(t);
}

/* At exit: free the exiting thread's contexts (the main thread's, usually:
 * no thread-end hook runs for it), and forget every key any other thread
 * still holds. Registered after OpenSSL's own atexit, so it runs before. */
static void at_exit(void)
{
    struct fernet_tls *t = pthread_getspecific(g_key);
    if (t) {
        pthread_setspecific(g_key, NULL);
        tls_free(t);
    }
    pthread_mutex_lock(&g_list_lock);
    for (t = g_list; t; t = t->next) {
        pthread_mutex_lock(&t->lock);
        wipe_keyed(t, &t->enc_k);
        wipe_keyed(t, &t->dec_k);
        wipe_keyed(t, &t->mac_k);
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&g_list_lock);
}

static void global_init(void)
{
    g_aes = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    g_ready = g_aes && g_hmac && pthread_key_create(&g_key, tls_free) == 0 && atexit(at_exit) == 0;
}

struct fernet_tls *fernet_tls_get(void)
{
    struct fernet_tls *t = NULL;

    if (pthread_once(&g_once, global_init) != 0 || !g_ready)
        return NULL;
    if ((t = pthread_getspecific(g_key)) == NULL) {
        if ((t = calloc(1, sizeof *t)) == NULL)
            return NULL;
        if (pthread_mutex_init(&t->lock, NULL) != 0) {
            free(t);
            return NULL;
        }
        if (pthread_setspecific(g_key, t) != 0) {
            tls_free(t);
            return NULL;
        }
        pthread_mutex_lock(&g_list_lock);
        t->next = g_list;
        if (g_list)
            g_list->prev = t;
        g_list = t;
        pthread_mutex_unlock(&g_list_lock);
    }
    pthread_mutex_lock(&t->lock);
    return t;
}

void fernet_tls_put(struct fernet_tls *t)
{
    if (t)
        pthread_mutex_unlock(&t->lock);
}

/* Does this context already hold key? If not, note the key it is about to get
 * (keyed stays 0 until the caller's set-up succeeds). */
static int same_key(struct fernet_keyed *kc, const uint8_t key[16])
{
    if (kc->keyed && CRYPTO_memcmp(kc->key, key, 16) == 0)
        return 1;
    memcpy(kc->key, key, 16);
    kc->keyed = 0;
    return 0;
}

int fernet_cipher_init(struct fernet_tls *t, int enc, const uint8_t key[16], const uint8_t iv[16])
{
    EVP_CIPHER_CTX **ctx = enc ? &t->enc : &t->dec;
    struct fernet_keyed *kc = enc ? &t->enc_k : &t->dec_k;
    int ok;
    if (!*ctx) { /* first use, or its key was forgotten */
        kc->keyed = 0;
        if (!(*ctx = EVP_CIPHER_CTX_new()))
            return -1;
    }
    /* same key: keep the expanded key schedule, set only the new IV */
    ok = same_key(kc, key) ? EVP_CipherInit_ex2(*ctx, NULL, NULL, iv, enc, NULL)
                           : EVP_CipherInit_ex2(*ctx, g_aes, key, iv, enc, NULL);
    kc->keyed = ok;
    return ok ? 0 : -1;
}

int fernet_mac_start(struct fernet_tls *t, const uint8_t key[16])
{
    int ok;
    if (!t->mac) { /* first use, or its key was forgotten */
        OSSL_PARAM params[2];
        /* the digest is chosen once; each EVP_MAC_init then only sets the key */
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
        params[1] = OSSL_PARAM_construct_end();
        t->mac_k.keyed = 0;
        if (!(t->mac = EVP_MAC_CTX_new(g_hmac)) || !EVP_MAC_CTX_set_params(t->mac, params)) {
            EVP_MAC_CTX_free(t->mac);
            t->mac = NULL;
            return -1;
        }
    }
    /* a NULL key restarts HMAC with the key the context already holds */
    ok = EVP_MAC_init(t->mac, same_key(&t->mac_k, key) ? NULL : key, 16, NULL);
    t->mac_k.keyed = ok;
    return ok ? 0 : -1;
}

int fernet_mac_end(struct fernet_tls *t, uint8_t out[FERNET_MAC_LEN])
{
    size_t outl = 0;
    return EVP_MAC_final(t->mac, out, &outl, FERNET_MAC_LEN) && outl == FERNET_MAC_LEN ? 0 : -1;
}

int fernet_hmac(struct fernet_tls *t, const uint8_t key[16], const uint8_t *data, size_t len,
                uint8_t out[FERNET_MAC_LEN])
{
    if (fernet_mac_start(t, key) != 0 || !EVP_MAC_update(t->mac, data, len))
        return -1;
    return fernet_mac_end(t, out);
}

/* 1 if kc holds key (a copy is there, whether or not set-up finished). */
static int holds(const struct fernet_keyed *kc, const uint8_t key[16])
{
    static const uint8_t zero[16];
    return CRYPTO_memcmp(kc->key, zero, 16) != 0 && CRYPTO_memcmp(kc->key, key, 16) == 0;
}

/* Visit every thread's contexts that hold either half; forget them if asked. */
static size_t visit(const uint8_t signing[16], const uint8_t encryption[16], int forget)
{
    size_t n = 0;
    if (pthread_once(&g_once, global_init) != 0 || !g_ready)
        return 0;
    pthread_mutex_lock(&g_list_lock);
    for (struct fernet_tls *t = g_list; t; t = t->next) {
        int hit = 0;
        /* waits for a token in progress on that thread: it holds this lock */
        pthread_mutex_lock(&t->lock);
        struct fernet_keyed *kcs[3] = {&t->enc_k, &t->dec_k, &t->mac_k};
        for (int i = 0; i < 3; i++) {
            if (!holds(kcs[i], i < 2 ? encryption : signing))
                continue;
            hit = 1;
            if (forget)
                wipe_keyed(t, kcs[i]);
        }
        pthread_mutex_unlock(&t->lock);
        n += (size_t)hit;
    }
    pthread_mutex_unlock(&g_list_lock);
    return n;
}

void fernet_forget_key(const fernet_key *k)
{
    if (k)
        visit(k->signing, k->encryption, 1);
}

size_t fernet_ctx_holders(const uint8_t signing[16], const uint8_t encryption[16])
{
    return visit(signing, encryption, 0);
}
