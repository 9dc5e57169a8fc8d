/* SPDX-License-Identifier: MIT */
/*
 * fernet_b64.h - base64url for Fernet tokens (internal to common/fernet/fernet.c).
 *
 * encoding.h has the readable codec. Tokens can be megabytes and are encoded
 * and decoded on every request, so this one works through lookup tables
 * (two characters per lookup when encoding, pre-shifted values when decoding)
 * while staying exactly as strict: '=' padding required, only the base64url
 * alphabet, and the unused low bits of the last character must be zero, so
 * one token has exactly one spelling.
 */
#ifndef COURSE_FERNET_B64_H
#define COURSE_FERNET_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed for n bytes, with padding (no NUL). */
static inline size_t fb64_len(size_t n) { return (n + 2) / 3 * 4; }
/* Writes fb64_len(n) characters and a NUL to out. */
void fb64_encode(const uint8_t *in, size_t n, char *out);
/* The middle of a stream: n must be a multiple of 3; writes n / 3 * 4
 * characters (no padding, no NUL) and returns that count. */
size_t fb64_encode_groups(const uint8_t *in, size_t n, char *out);
/* Decodes into out (room for len / 4 * 3 bytes). Returns the byte count, or
 * -1 if s is not canonical padded base64url. */
long fb64_decode(const char *s, size_t len, uint8_t *out);
/* The middle of a stream: decodes groups * 4 characters, none of them '=',
 * into groups * 3 bytes. Returns 0, or -1 if a character is not base64url. */
int fb64_decode_groups(const char *s, size_t groups, uint8_t *out);

#endif
