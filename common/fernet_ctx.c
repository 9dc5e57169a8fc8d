/* fernet_ctx.c - per-thread OpenSSL contexts for Fernet; see fernet_ctx.h */
#include "fernet_ctx.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static EVP_CIPHER *g_aes;
static EVP_MAC *g_hmac;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static int g_ready;

/* Runs when a thread ends (pthread_key destructor). */
static void tls_free(void *p)
{
    struct fernet_tls *t = p;
    if (!t)
        return;
    EVP_CIPHER_CTX_free(t->enc);
    EVP_CIPHER_CTX_free(t->dec);
    EVP_MAC_CTX_free(t->mac);
    OPENSSL_cleanse(t, sizeof *t); /* the key copies in enc_k, dec_k, mac_k */
    free(t);
}

static void global_init(void)
{
    g_aes = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    g_ready = g_aes && g_hmac && pthread_key_create(&g_key, tls_free) == 0;
}

struct fernet_tls *fernet_tls_get(void)
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
    EVP_CIPHER_CTX *ctx = enc ? t->enc : t->dec;
    struct fernet_keyed *kc = enc ? &t->enc_k : &t->dec_k;
    /* same key: keep the expanded key schedule, set only the new IV */
    int ok = same_key(kc, key) ? EVP_CipherInit_ex2(ctx, NULL, NULL, iv, enc, NULL)
                               : EVP_CipherInit_ex2(ctx, g_aes, key, iv, enc, NULL);
    kc->keyed = ok;
    return ok ? 0 : -1;
}

int fernet_mac_start(struct fernet_tls *t, const uint8_t key[16])
{
    /* a NULL key restarts HMAC with the key the context already holds */
    int ok = EVP_MAC_init(t->mac, same_key(&t->mac_k, key) ? NULL : key, 16, NULL);
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
