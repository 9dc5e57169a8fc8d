/* fuzz: bytes as a CA folder's index.txt -> pki_index_revoke (the read-modify-write minica revoke and 04-server run) */
/* SPDX-License-Identifier: MIT */
/*
 * The first byte picks which serial to revoke (one the fuzzer can spell, or
 * one that is not hex at all); the rest is index.txt. Either the index is
 * refused with a reason and left as it was, or the serial is marked revoked
 * and every other line is still there (the file is the CA's memory of what
 * it issued: a revocation that drops lines loses certificates from every
 * later CRL).
 */
#include "fuzz.h"

#include "pki/pki.h"

static char index_path[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_path(index_path, sizeof index_path, "index.txt");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *serials[] = {"01", "0A1B", "DEADBEEF", "zz", ""};
    static const char *reasons[] = {"keyCompromise", "superseded", "bogus"};

    if (size < 1 || size > 1 << 16)
        return -1;
    fuzz_write(index_path, data + 1, size - 1);
    if (pki_index_revoke(fuzz_dir(), serials[data[0] % 5], reasons[(data[0] / 5) % 3]) == 0) {
        /* as many lines after as before (empty lines aside) */
        size_t before = 0, after = 0, n = 0;
        char buf[1 << 17];
        FILE *f = fopen(index_path, "rb");
        for (size_t i = 1, start = 1; i <= size; i++)
            if (i == size || data[i] == '\n') {
                before += i > start;
                start = i + 1;
            }
        if (!f)
            abort();
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            after += buf[i] == '\n';
        if (before != after)
            abort(); /* the revocation lost (or made up) lines of the index */
    }
    return 0;
}
