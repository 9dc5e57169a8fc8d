/* SPDX-License-Identifier: MIT */
/*
 * kex.h - key agreement (Diffie-Hellman) and HKDF, the small API chapters
 * 03, 04 and 06 share.
 *
 * A group names the maths both sides use; each side makes an ephemeral key,
 * sends its public value, and combines its private key with the peer's
 * public value into the same shared secret. The shared secret is never used
 * directly as a key: it goes through HKDF-SHA256 first.
 *
 *     kex_key *mine = NULL;
 *     uint8_t *pub = NULL, *secret = NULL;
 *     size_t pub_len = 0, secret_len = 0;
 *     kex_status st = kex_generate(KEX_X25519, &mine);
 *     if (st == KEX_OK) st = kex_public(mine, &pub, &pub_len);      send pub
 *     if (st == KEX_OK) st = kex_derive(mine, peer, peer_len, &secret, &secret_len);
 *     if (st != KEX_OK) errorf("key exchange", "%s", kex_status_str(st));
 *     ... kex_hkdf_sha256(secret, secret_len, salt, ..., out, 32) ...
 *     encoding_free_secret(secret, secret_len); free(pub); kex_free(mine);
 *
 * Public values on the wire, per group (all big-endian where it matters):
 *   toy        the number g^x mod p in the byte length of p (p=23: 1 byte)
 *   ffdhe2048  g^x mod p, exactly 256 bytes, zero-padded (RFC 7919)
 *   modp2048   the same in RFC 3526 group 14
 *   x25519     32 bytes, RFC 7748
 *   p256       an uncompressed SEC1 point, 65 bytes starting 04
 *              (peers may also send the 33-byte compressed form)
 *
 * kex_derive validates the peer's value before using it, and says why it
 * refused: finite-field values must lie in 2..p-2 (1 and p-1 would force the
 * secret to 1 or p-1), an X25519 value of low order gives an all-zero secret,
 * a P-256 point must lie on the curve (else: invalid-curve attack).
 *
 * All real groups go through OpenSSL's EVP interface. The toy group is done
 * by hand with 64-bit integers, so a learner can check it on paper; it is
 * trivially breakable and exists only to teach.
 */
#ifndef COURSE_KEX_H
#define COURSE_KEX_H

#include <stddef.h>
#include <stdint.h>

typedef enum kex_group {
    KEX_TOY = 0,   /* p = 23, g = 5: the textbook numbers */
    KEX_FFDHE2048, /* RFC 7919 ffdhe2048 */
    KEX_MODP2048,  /* RFC 3526 group 14 */
    KEX_X25519,    /* RFC 7748 */
    KEX_P256,      /* NIST P-256 (secp256r1, prime256v1) */
} kex_group;

typedef enum kex_status {
    KEX_OK = 0,
    KEX_ERR_GROUP,          /* unknown group name, or key of another group */
    KEX_ERR_PUBLIC_LENGTH,  /* the peer's value has the wrong length */
    KEX_ERR_PUBLIC_RANGE,   /* finite field: not in 2..p-2 */
    KEX_ERR_PUBLIC_INVALID, /* finite field: not in the prime-order subgroup */
    KEX_ERR_NOT_ON_CURVE,   /* P-256: the point is not on the curve */
    KEX_ERR_ZERO_SECRET,    /* X25519: all-zero secret (low-order point) */
    KEX_ERR_PRIVATE,        /* a given private key is out of range */
    KEX_ERR_HKDF_LENGTH,    /* HKDF-SHA256 output over 255 * 32 bytes */
    KEX_ERR_CRYPTO,         /* OpenSSL failed (its error queue says why) */
    KEX_ERR_MEMORY,
} kex_status;

/* One line a learner can read, e.g. "the peer's public value is 1 or p-1
 * (outside 2..p-2): it would force a known shared secret". */
const char *kex_status_str(kex_status s);

/* Wire names: "toy", "ffdhe2048", "modp2048", "x25519", "p256". */
const char *kex_group_name(kex_group g);
/* 0 on success, -1 for an unknown name. */
int kex_group_from_name(const char *name, kex_group *g);
/* Length of a public value in the wire form above (65 for P-256). */
size_t kex_public_len(kex_group g);

/* Toy group parameters (also used by the dh tool's toy mode). */
#define KEX_TOY_P 23u
#define KEX_TOY_G 5u
/* b^e mod m by square-and-multiply, for m < 2^32 (products fit 64 bits). */
uint64_t kex_toy_modpow(uint64_t b, uint64_t e, uint64_t m);

typedef struct kex_key kex_key; /* an ephemeral private key with its group */

/* A fresh random key. *out is NULL on failure. */
kex_status kex_generate(kex_group g, kex_key **out);
/* A key from known private bytes (known-answer tests): X25519 32 raw bytes;
 * P-256 a big-endian scalar in 1..n-1 (at most 33 bytes, leading zeros ok);
 * finite field a big-endian exponent in 2..p-2; toy one byte or more
 * big-endian, in 1..p-2. */
kex_status kex_from_private(kex_group g, const uint8_t *priv, size_t len, kex_key **out);
/* A key loaded from a PEM private key file (e.g. made by `openssl genpkey`):
 * X25519, EC P-256, or DH in ffdhe2048 / modp_2048. `pem` need not be
 * NUL-terminated. */
kex_status kex_from_pem(const char *pem, size_t len, kex_key **out);
/* The raw public value of a PEM public key (SubjectPublicKeyInfo) or private
 * key, in the wire form, with its group: turns a peer's key file into what
 * kex_derive takes. */
kex_status kex_public_from_pem(const char *pem, size_t len, kex_group *g, uint8_t **pub,
                               size_t *pub_len);
/* Write the private key (PKCS#8 PEM, mode 0600) and, if pub_path is not NULL,
 * the public key (SubjectPublicKeyInfo PEM). Toy keys cannot be saved. */
kex_status kex_save_pem(const kex_key *k, const char *priv_path, const char *pub_path);

kex_group kex_key_group(const kex_key *k);
/* Our public value in wire form (malloc'ed). */
kex_status kex_public(const kex_key *k, uint8_t **pub, size_t *len);
/* Our private value, for narration in the toy group only and for the dh
 * tool's --show-private; malloc'ed, free with encoding_free_secret(). */
kex_status kex_private(const kex_key *k, uint8_t **priv, size_t *len);

/* Validate the peer's public value, then compute the shared secret
 * (malloc'ed; free with encoding_free_secret()). Secret lengths: toy 1,
 * finite field 256 (zero-padded, as RFC 7919 and TLS 1.3 require), X25519
 * 32, P-256 32 (the x coordinate). */
kex_status kex_derive(const kex_key *mine, const uint8_t *peer, size_t peer_len,
                      uint8_t **secret, size_t *secret_len);

/* Free the key, wiping the private part. NULL is fine. */
void kex_free(kex_key *k);

/* HKDF-SHA256 (RFC 5869) through EVP_KDF: extract with salt (empty salt is
 * a zero block, as the RFC says), expand with info into out[0..out_len).
 * out_len must be 1..8160 (255 * 32). */
kex_status kex_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
                           size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
                           size_t out_len);

#endif
