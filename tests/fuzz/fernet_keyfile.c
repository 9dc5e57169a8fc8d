/* fuzz: bytes as a --key-file -> fernet_keys_load (chapter 02's programs), then the key encrypts and decrypts */
/* SPDX-License-Identifier: MIT */
#include "fuzz.h"

#include "fernet/fernet.h"

static char path[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_path(path, sizeof path, "fernet.key");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *files[1] = {path};
    fernet_key keys[2];
    size_t n;

    fuzz_write(path, data, size);
    n = fernet_keys_load(files, 1, keys, 2);
    if (n > 0) {
        uint8_t *msg = NULL;
        size_t len = 0;
        char *tok = fernet_encrypt(&keys[0], (const uint8_t *)"x", 1, 1700000000, NULL);
        if (!tok || fernet_decrypt(&keys[0], tok, strlen(tok), 0, 1700000000, &msg, &len) != FERNET_OK ||
            len != 1)
            abort(); /* a key that loads must work */
        free(msg);
        free(tok);
        for (size_t i = 0; i < n; i++)
            fernet_key_clear(&keys[i]);
    }
    return 0;
}
