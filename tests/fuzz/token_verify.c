/* fuzz: bytes as a Bearer token -> token_verify (the token wrapper's own checks before libjwt, then libjwt) */
/* SPDX-License-Identifier: MIT */
/*
 * The first byte chooses lab_bearer and whether a session is expected; the
 * rest is the token. A second pass feeds a genuine token with the input's
 * bytes spliced into it, so the checks after the signature are reached too.
 */
#include "fuzz.h"

#include "token/token.h"

static token_key key;
static uint8_t x5t[TOKEN_X5T_LEN];
static char *good;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t raw[TOKEN_SECRET_LEN];
    token_request rq;
    token_claims c;
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(i * 3 + 5);
    token_key_from_raw(&key, raw);
    memset(&rq, 0, sizeof rq);
    rq.iss = "https://localhost";
    rq.aud = "https://localhost";
    rq.sub = "alice";
    rq.sid = "fuzzsession";
    rq.x5t = x5t;
    rq.lifetime = 600;
    if (token_issue(&key, &rq, 1700000000, &c, &good) != TOKEN_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    token_expect ex = {"https://localhost", "https://localhost", NULL, x5t, 0};
    token_claims c;
    char *t;
    size_t glen = strlen(good);

    if (size < 1 || size > 1 << 14)
        return -1;
    ex.lab_bearer = data[0] & 1;
    ex.sid = (data[0] & 2) ? "fuzzsession" : NULL;
    (void)token_verify(&key, 1, (const char *)data + 1, size - 1, &ex, 1700000100, &c);
    /* the genuine token with the bytes over its tail (or its middle) */
    if (!(t = malloc(glen + size)))
        return 0;
    memcpy(t, good, glen);
    {
        size_t at = (size_t)data[0] * glen / 256;
        memcpy(t + at, data + 1, size - 1);
        (void)token_verify(&key, 1, t, at + size - 1, &ex, 1700000100, &c);
    }
    free(t);
    return 0;
}
