/* SPDX-License-Identifier: MIT */
/*
 * encoding.h - hex and base64url, strict both ways.
 *
 * Decoders reject anything that is not exactly the encoding (a stray space,
 * a wrong padding, a character outside the alphabet): in security code a
 * lenient decoder turns two different strings into the same bytes.
 * Every returned buffer is malloc'ed and NUL-terminated (so text can be
 * printed); free it with free(), or with encoding_free_secret() for secrets.
 */
#ifndef COURSE_ENCODING_H
#define COURSE_ENCODING_H

#include <stddef.h>
#include <stdint.h>

/* Lower-case hex. Returns NULL only when out of memory. */
char *hex_encode(const uint8_t *data, size_t len);
/* Accepts upper or lower case, even length only. Returns 0 on success. */
int hex_decode(const char *hex, uint8_t **out, size_t *out_len);

enum b64_padding { B64_NO_PAD = 0, B64_PAD = 1 };
/* base64url (RFC 4648 section 5): '-' and '_' instead of '+' and '/'. */
char *b64url_encode(const uint8_t *data, size_t len, enum b64_padding pad);
/* Strict decode. With B64_PAD the input must carry correct '=' padding;
 * with B64_NO_PAD it must carry none. Unused low bits of the last
 * character must be zero. Returns 0 on success. */
int b64url_decode(const char *text, size_t text_len, enum b64_padding pad, uint8_t **out,
                  size_t *out_len);

/* OPENSSL_cleanse the buffer, then free it. */
void encoding_free_secret(void *buf, size_t len);

#endif
