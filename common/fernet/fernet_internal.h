/* SPDX-License-Identifier: MIT */
/*
 * fernet_internal.h - per-thread OpenSSL contexts for common/fernet/fernet.c (internal:
 * only the fernet*.c files include it).
 *
 * Fetching an algorithm, allocating a context and expanding a key cost more
 * than encrypting a short message. So each thread keeps one context per job
 * (AES encryption and decryption use different key schedules), each keyed with
 * the last key it saw: a server that uses one key pays for the key set-up once
 * and then only sets a new IV or restarts the HMAC. The algorithm objects are
 * fetched once and shared (they are immutable).
 *
 * A cached key must not outlive its use: a server's session key has to go
 * when the session does, even from a thread that is idle. So every thread's
 * contexts are on one list, each with a lock that its own thread holds only
 * while it runs one token (uncontended: a few nanoseconds). fernet_forget_key()
 * (fernet.h) walks the list and, in every thread whose contexts hold that key,
 * frees them (OpenSSL cleanses the key schedule and HMAC state) and wipes the
 * copy; they are made again on next use. A thread's contexts go when the thread
 * ends, and at exit (the main thread's, which no thread-end hook ever sees).
 */
#ifndef COURSE_FERNET_CTX_H
#define COURSE_FERNET_CTX_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define FERNET_HDR_LEN 25 /* version (1) + timestamp (8) + IV (16) */
#define FERNET_MAC_LEN 32 /* HMAC-SHA256 */
#define FERNET_BLOCK 16   /* AES block */
/* Plaintext taken per step of fernet_encrypt: small enough that its
 * ciphertext is still in the CPU's cache when it is MACed and encoded. */
#define FERNET_CHUNK 16384

struct fernet_keyed {
    uint8_t key[16]; /* the key this context holds */
    int keyed;
};

struct fernet_tls {
    pthread_mutex_t lock;           /* held by the owner during one token */
    struct fernet_tls *prev, *next; /* every thread's contexts, for forgetting */
    EVP_CIPHER_CTX *enc, *dec;      /* NULL until used (again) */
    EVP_MAC_CTX *mac;
    struct fernet_keyed enc_k, dec_k, mac_k;
    /* header, then ciphertext on its way to base64: public bytes only */
    uint8_t stage[FERNET_HDR_LEN + FERNET_CHUNK + 2 * FERNET_BLOCK + FERNET_MAC_LEN];
};

/* This thread's contexts (made on first use), locked; or NULL if OpenSSL
 * failed. Hand them back with fernet_tls_put (NULL is fine). */
struct fernet_tls *fernet_tls_get(void);
void fernet_tls_put(struct fernet_tls *t);
/* Ready enc (enc = 1) or dec (enc = 0) for one message under key and iv,
 * with PKCS#7 padding (EVP's default). 0 on success. */
int fernet_cipher_init(struct fernet_tls *t, int enc, const uint8_t key[16], const uint8_t iv[16]);
/* HMAC-SHA256 with the signing key: start, then EVP_MAC_update(t->mac, ...),
 * then end; or all at once. 0 on success. */
int fernet_mac_start(struct fernet_tls *t, const uint8_t key[16]);
int fernet_mac_end(struct fernet_tls *t, uint8_t out[FERNET_MAC_LEN]);
int fernet_hmac(struct fernet_tls *t, const uint8_t key[16], const uint8_t *data, size_t len,
                uint8_t out[FERNET_MAC_LEN]);

/* For tests: how many threads' contexts hold a copy of either half of k. */
size_t fernet_ctx_holders(const uint8_t signing[16], const uint8_t encryption[16]);

#endif
