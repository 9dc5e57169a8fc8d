/* SPDX-License-Identifier: MIT */
/* encoding.c - see encoding.h */
#include "core/encoding.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static const char HEX[] = "0123456789abcdef";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *hex_encode(const uint8_t *data, size_t len)
{
    char *s = malloc(len * 2 + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = HEX[data[i] >> 4];
        s[2 * i + 1] = HEX[data[i] & 15];
    }
    s[len * 2] = '\0';
    return s;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(const char *hex, uint8_t **out, size_t *out_len)
{
    size_t n = strlen(hex);
    uint8_t *buf;
    if (n % 2)
        return -1;
    buf = malloc(n / 2 + 1);
    if (!buf)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(buf);
            return -1;
        }
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    buf[n / 2] = 0;
    *out = buf;
    *out_len = n / 2;
    return 0;
}

char *b64url_encode(const uint8_t *data, size_t len, enum b64_padding pad)
{
    size_t cap = (len + 2) / 3 * 4 + 1, o = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        size_t rem = len - i;
        if (rem > 1)
            v |= (uint32_t)data[i + 1] << 8;
        if (rem > 2)
            v |= data[i + 2];
        s[o++] = B64URL[(v >> 18) & 63];
        s[o++] = B64URL[(v >> 12) & 63];
        if (rem > 1)
            s[o++] = B64URL[(v >> 6) & 63];
        else if (pad)
            s[o++] = '=';
        if (rem > 2)
            s[o++] = B64URL[v & 63];
        else if (pad)
            s[o++] = '=';
    }
    s[o] = '\0';
    return s;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int b64url_decode(const char *text, size_t n, enum b64_padding pad, uint8_t **out,
                  size_t *out_len)
{
    size_t chars = n, o = 0;
    uint8_t *buf;
    uint32_t acc = 0;
    int bits = 0;

    if (pad) {
        if (n % 4)
            return -1;
        while (chars > 0 && n - chars < 2 && text[chars - 1] == '=')
            chars--;
    }
    if (chars % 4 == 1)
        return -1; /* one leftover character can never carry a byte */
    buf = malloc(chars * 3 / 4 + 1);
    if (!buf)
        return -1;
    for (size_t i = 0; i < chars; i++) {
        int v = b64url_value(text[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* non-canonical: leftover bits must be zero */
        OPENSSL_cleanse(buf, o);
        free(buf);
        return -1;
    }
    buf[o] = 0;
    *out = buf;
    *out_len = o;
    return 0;
}

void encoding_free_secret(void *buf, size_t len)
{
    if (!buf)
        return;
    OPENSSL_cleanse(buf, len);
    free(buf);
}
