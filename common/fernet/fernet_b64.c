/* SPDX-License-Identifier: MIT */
/* fernet_b64.c - see fernet_b64.h */
#include "fernet/fernet_b64.h"

#include <pthread.h>
#include <string.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
#define BAD 0x01000000u /* above every valid 24-bit group */

static char g_enc2[4096][2]; /* 12 bits -> two characters */
static uint32_t g_dec[4][256]; /* character -> its 6 bits, already shifted into place */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void tables_init(void)
{
    for (int i = 0; i < 4096; i++) {
        g_enc2[i][0] = B64[i >> 6];
        g_enc2[i][1] = B64[i & 63];
    }
    for (int t = 0; t < 4; t++)
        for (int c = 0; c < 256; c++)
            g_dec[t][c] = BAD;
    for (uint32_t v = 0; v < 64; v++) {
        unsigned char c = (unsigned char)B64[v];
        g_dec[0][c] = v << 18;
        g_dec[1][c] = v << 12;
        g_dec[2][c] = v << 6;
        g_dec[3][c] = v;
    }
}

/* The 8 bytes at p, big-endian (compilers turn this into one load and a byte swap). */
static inline uint64_t load_be64(const uint8_t *p)
{
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
           (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
           (uint64_t)p[6] << 8 | (uint64_t)p[7];
}

size_t fb64_encode_groups(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0;
    pthread_once(&g_once, tables_init);
    /* 6 bytes -> 8 characters per step, reading 8 bytes (so stop 2 early) */
    for (; i + 8 <= n; i += 6, out += 8) {
        uint64_t v = load_be64(in + i) >> 16;
        memcpy(out, g_enc2[v >> 36], 2);
        memcpy(out + 2, g_enc2[(v >> 24) & 4095], 2);
        memcpy(out + 4, g_enc2[(v >> 12) & 4095], 2);
        memcpy(out + 6, g_enc2[v & 4095], 2);
    }
    for (; i + 3 <= n; i += 3, out += 4) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        memcpy(out, g_enc2[v >> 12], 2);
        memcpy(out + 2, g_enc2[v & 4095], 2);
    }
    return n / 3 * 4;
}

void fb64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = n / 3 * 3;
    out += fb64_encode_groups(in, i, out);
    if (n - i == 1) {
        out[0] = B64[in[i] >> 2];
        out[1] = B64[(in[i] & 3) << 4];
        out[2] = out[3] = '=';
        out += 4;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
        out[0] = B64[v >> 10];
        out[1] = B64[(v >> 4) & 63];
        out[2] = B64[(v << 2) & 63];
        out[3] = '=';
        out += 4;
    }
    *out = '\0';
}

int fb64_decode_groups(const char *s, size_t groups, uint8_t *out)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t bad = 0;
    size_t g = 0;
    pthread_once(&g_once, tables_init);
    /* two groups per step: 8 characters -> 6 bytes */
    for (; g + 2 <= groups; g += 2, p += 8, out += 6) {
        uint32_t v = g_dec[0][p[0]] | g_dec[1][p[1]] | g_dec[2][p[2]] | g_dec[3][p[3]];
        uint32_t w = g_dec[0][p[4]] | g_dec[1][p[5]] | g_dec[2][p[6]] | g_dec[3][p[7]];
        bad |= v | w; /* one test after the loop instead of a branch per group */
        out[0] = (uint8_t)(v >> 16);
        out[1] = (uint8_t)(v >> 8);
        out[2] = (uint8_t)v;
        out[3] = (uint8_t)(w >> 16);
        out[4] = (uint8_t)(w >> 8);
        out[5] = (uint8_t)w;
    }
    for (; g < groups; g++, p += 4, out += 3) {
        uint32_t v = g_dec[0][p[0]] | g_dec[1][p[1]] | g_dec[2][p[2]] | g_dec[3][p[3]];
        bad |= v;
        out[0] = (uint8_t)(v >> 16);
        out[1] = (uint8_t)(v >> 8);
        out[2] = (uint8_t)v;
    }
    return bad & BAD ? -1 : 0;
}

long fb64_decode(const char *s, size_t len, uint8_t *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t groups, pad = 0;
    uint32_t v, leftover;

    if (len == 0 || len % 4)
        return -1;
    if (p[len - 1] == '=')
        pad = p[len - 2] == '=' ? 2 : 1;
    groups = len / 4 - (pad ? 1 : 0);
    if (fb64_decode_groups(s, groups, out) != 0)
        return -1;
    if (!pad)
        return (long)(groups * 3);
    /* '=' decodes as BAD in g_dec, so it cannot slip in anywhere else */
    p += groups * 4;
    out += groups * 3;
    v = g_dec[0][p[0]] | g_dec[1][p[1]] | (pad == 1 ? g_dec[2][p[2]] : 0);
    out[0] = (uint8_t)(v >> 16);
    if (pad == 1)
        out[1] = (uint8_t)(v >> 8);
    /* the bits below the last whole byte must be zero: canonical form */
    leftover = pad == 1 ? (v & 0xff) : (v & 0xffff);
    if ((v & BAD) || leftover)
        return -1;
    return (long)(groups * 3 + 3 - pad);
}
