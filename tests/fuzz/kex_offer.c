/* fuzz: bytes as a key-exchange message (JSON) -> exchange_offer_parse -> exchange_finish for every group (peer public value validation) */
/* SPDX-License-Identifier: MIT */
/*
 * The first byte picks our side's group; the rest is the peer's message as
 * 03-server reads it (json_parse with the default depth). Whatever the peer
 * sends, finishing either fails with a status or derives a key: never a
 * crash, never a leak.
 */
#include "fuzz.h"

#include "core/json.h"
#include "kex/exchange.h"

static exchange ex[5];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (int g = 0; g < 5; g++)
        if (exchange_begin(&ex[g], (kex_group)g, 0) != KEX_OK)
            abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    exchange_offer peer;
    uint8_t key[EXCHANGE_KEY_LEN];
    char err[256];
    json_t *j;
    int g;

    if (size < 1 || size > 1 << 15)
        return -1;
    g = data[0] % 5;
    j = json_parse((const char *)data + 1, size - 1, JSON_DEFAULT_MAX_DEPTH, err, sizeof err);
    if (!j)
        return 0;
    if (exchange_offer_parse(j, &peer, err, sizeof err) == 0) {
        if (peer.public_len > EXCHANGE_MAX_PUBLIC)
            abort();
        /* exchange_finish keeps the peer's offer in ex: a copy per input */
        exchange e = ex[g];
        (void)exchange_finish(&e, &peer, "course fuzz", key);
    }
    json_decref(j);
    return 0;
}
