/* SPDX-License-Identifier: MIT */
/*
 * fernet.h - Fernet tokens, exactly as the spec says (tests/vectors/fernet/Spec.md),
 * byte-compatible with Python's cryptography.fernet.
 *
 *   key   = base64url(signing key (16) | encryption key (16))        44 characters
 *   token = base64url(0x80 | timestamp (8, big-endian) | IV (16)
 *                     | AES-128-CBC ciphertext, PKCS#7 padded
 *                     | HMAC-SHA256(signing key, everything before it))
 *
 * Decryption checks, in the spec's order: base64, length, version byte, the
 * timestamp (TTL and the 60-second clock-skew limit), the HMAC (compared in
 * constant time, before any decryption), then the padding. Each failure has its
 * own fernet_status so a lesson can show which check caught what; a program that
 * talks to an attacker should still answer every failure the same way.
 *
 * Thread-safe: each thread keeps its own reusable cipher and MAC contexts.
 */
#ifndef COURSE_FERNET_H
#define COURSE_FERNET_H

#include <stddef.h>
#include <stdint.h>

#define FERNET_KEY_B64_LEN 44
#define FERNET_VERSION 0x80
#define FERNET_MAX_CLOCK_SKEW 60 /* seconds a token may come from the future */
/* version (1) + timestamp (8) + IV (16) + one AES block (16) + HMAC (32) */
#define FERNET_MIN_TOKEN_BYTES 73

typedef struct fernet_key {
    uint8_t signing[16];
    uint8_t encryption[16];
} fernet_key;

typedef enum fernet_status {
    FERNET_OK = 0,
    FERNET_BAD_BASE64,
    FERNET_TOO_SHORT,
    FERNET_BAD_VERSION,
    FERNET_BAD_MAC,
    FERNET_BAD_PADDING,
    FERNET_EXPIRED,
    FERNET_FROM_FUTURE,
    FERNET_BAD_LENGTH,
    FERNET_INTERNAL
} fernet_status;

/* raw = signing key (16) | encryption key (16) */
void fernet_key_from_raw(fernet_key *k, const uint8_t raw[32]);
/* Strict: exactly 44 base64url characters with padding (surrounding white
 * space, such as a file's final newline, is ignored). 0 on success. */
int fernet_key_from_b64(fernet_key *k, const char *b64);
/* malloc'ed, NUL-terminated; free with encoding_free_secret(s, FERNET_KEY_B64_LEN). */
char *fernet_key_to_b64(const fernet_key *k);
/* 32 bytes from the operating system's CSPRNG (RAND_priv_bytes). 0 on success. */
int fernet_key_generate(fernet_key *k);
/* OPENSSL_cleanse */
void fernet_key_clear(fernet_key *k);
/* Wipe every thread's cached copy of k (and the AES and HMAC state expanded
 * from it): call it when a key's use ends, e.g. its session expires. */
void fernet_forget_key(const fernet_key *k);

/* now = unix time; iv = 16 bytes, or NULL for random. Returns a malloc'ed,
 * NUL-terminated token, or NULL (out of memory, no randomness, message too big). */
char *fernet_encrypt(const fernet_key *k, const uint8_t *msg, size_t len, uint64_t now,
                     const uint8_t *iv);
/* ttl 0 = no TTL check. On FERNET_OK *msg is malloc'ed (NUL-terminated for
 * convenience) and *msg_len its length; on failure *msg is NULL. */
fernet_status fernet_decrypt(const fernet_key *k, const char *token, size_t token_len,
                             uint64_t ttl, uint64_t now, uint8_t **msg, size_t *msg_len);
/* short reason, e.g. "MAC mismatch" */
const char *fernet_status_str(fernet_status s);

/* The timestamp a token claims, read WITHOUT verifying anything (for `inspect`
 * and for rotation). Returns FERNET_OK, FERNET_BAD_BASE64, FERNET_TOO_SHORT or
 * FERNET_BAD_VERSION. */
fernet_status fernet_token_timestamp(const char *token, size_t token_len, uint64_t *ts);

/* MultiFernet, as in Python: encrypt with keys[0], decrypt with any of them
 * (first FERNET_OK wins; otherwise the status of keys[0], so a learner sees
 * why the newest key refused it). */
char *fernet_multi_encrypt(const fernet_key *keys, size_t nkeys, const uint8_t *msg,
                           size_t len, uint64_t now, const uint8_t *iv);
fernet_status fernet_multi_decrypt(const fernet_key *keys, size_t nkeys, const char *token,
                                   size_t token_len, uint64_t ttl, uint64_t now,
                                   uint8_t **msg, size_t *msg_len);
/* Python's MultiFernet.rotate: decrypt with any key (no time checks at all),
 * re-encrypt with keys[0] keeping the ORIGINAL timestamp and a fresh IV. On
 * FERNET_OK *out is the new malloc'ed token. */
fernet_status fernet_multi_rotate(const fernet_key *keys, size_t nkeys, const char *token,
                                  size_t token_len, char **out);

/* ---- for programs (common/fernet/fernet_load.c) ----------------------------------
 * The key sources every chapter-02 program accepts: the files named (each
 * --key-file, in order, newest key first), or when there are none the
 * SECRET_KEY environment variable, as the reference course does (several keys
 * separated by commas, newest first). Problems are reported as
 * "PROG: error: key: ..." plus a hint. Returns how many keys were loaded into
 * keys[] (1..max), or 0 after an error. Clear them with fernet_key_clear. */
#define FERNET_KEY_ENV "SECRET_KEY"
size_t fernet_keys_load(const char *const *files, size_t nfiles, fernet_key *keys, size_t max);

#endif
