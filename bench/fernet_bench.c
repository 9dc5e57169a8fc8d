/* SPDX-License-Identifier: MIT */
/*
 * fernet-bench - how fast common/fernet makes and opens tokens.
 *
 * For each message size given (bytes), encrypts and then decrypts a random
 * message with a fixed key, over and over for about SECONDS seconds, and
 * prints one line per size:
 *
 *     SIZE ROUNDS ELAPSED_SECONDS
 *
 * bench/fernet.sh turns these into throughput and sets them beside Python's
 * Fernet and `openssl speed`, measured in the same run.
 * Needs: OpenSSL 3 (through common/fernet).
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "fernet/fernet.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One round: encrypt, then check and decrypt. 0 on success. */
static int round_trip(const fernet_key *k, const uint8_t *msg, size_t len)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    char *tok = fernet_encrypt(k, msg, len, 1700000000, NULL);
    int rc = -1;
    if (tok && fernet_decrypt(k, tok, strlen(tok), 60, 1700000001, &out, &out_len) == FERNET_OK &&
        out_len == len)
        rc = 0;
    free(out);
    free(tok);
    return rc;
}

int main(int argc, char **argv)
{
    double seconds = 1.0;
    fernet_key k;
    int rc = EXIT_FAILED;

    narrate_init("fernet-bench", NULL);
    if (argc < 3) {
        fprintf(stderr, "usage: fernet-bench SECONDS SIZE...\n");
        return EXIT_USAGE;
    }
    seconds = (double)cli_long("SECONDS", argv[1], 1, 60);
    if (fernet_key_generate(&k) != 0)
        return EXIT_FAILED;
    for (int a = 2; a < argc; a++) {
        size_t len = cli_size("SIZE", argv[a], 0, 64 * 1024 * 1024);
        uint8_t *msg = malloc(len + 1);
        unsigned long rounds = 0;
        double t0, t;
        if (!msg || RAND_bytes(msg, (int)len + 1) != 1) {
            free(msg);
            goto end;
        }
        for (int w = 0; w < 3; w++) /* warm the caches and the per-thread contexts */
            if (round_trip(&k, msg, len) != 0) {
                errorf("round trip", "a token did not open");
                free(msg);
                goto end;
            }
        t0 = now_s();
        do {
            /* check the clock every few rounds only: it is not free either */
            for (int i = 0; i < 16; i++, rounds++)
                if (round_trip(&k, msg, len) != 0) {
                    free(msg);
                    goto end;
                }
        } while ((t = now_s() - t0) < seconds);
        printf("%zu %lu %.6f\n", len, rounds, t);
        free(msg);
    }
    rc = EXIT_OK;
end:
    fernet_key_clear(&k);
    return rc;
}
