/* SPDX-License-Identifier: MIT */
/* fernet_load.c - where chapter-02 programs get their keys; see fernet.h */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "fernet/fernet.h"

static void key_hint(void)
{
    hint("make a key with 'build/bin/fernet genkey --out build/02.key' and give the same key to "
         "both sides (--key-file build/02.key, or export SECRET_KEY=$(cat build/02.key))");
}

static int load_file(const char *path, fernet_key *k)
{
    size_t len = 0;
    char *text = NULL;
    int rc = -1;

    if ((text = cli_read_file(path, 1024, &len)) == NULL)
        goto end;
    /* the key is read as a C string: a NUL would end it early and hide
     * whatever follows, while a second line is refused; refuse both */
    if (memchr(text, '\0', len)) {
        errorf("key", "%s holds a NUL byte: a key file holds the key (44 base64url characters) "
               "and a line end, nothing else", path);
        key_hint();
        goto end;
    }
    if (fernet_key_from_b64(k, text) != 0) {
        errorf("key", "%s does not hold a Fernet key (44 base64url characters, ending in '=')",
               path);
        key_hint();
        goto end;
    }
    /* like ssh: a shared secret others can read is no secret; say so, go on */
    cli_warn_if_open(path, "key file");
    rc = 0;
end:
    encoding_free_secret(text, len);
    return rc;
}

/* SECRET_KEY="NEWEST,OLDER,..." */
static size_t load_env(const char *env, fernet_key *keys, size_t max)
{
    char one[FERNET_KEY_B64_LEN + 8];
    size_t n = 0;
    const char *p = env;

    for (;;) {
        size_t len = strcspn(p, ",");
        if (n == max) {
            errorf("key", "%s holds more than %zu keys", FERNET_KEY_ENV, max);
            n = 0;
            break;
        }
        if (len >= sizeof one) {
            len = 0; /* too long to be a key: let the check below say so */
            one[0] = '\0';
        } else {
            memcpy(one, p, len);
            one[len] = '\0';
        }
        if (fernet_key_from_b64(&keys[n], one) != 0) {
            if (n == 0 && p[len] != ',')
                errorf("key", "%s is not a Fernet key (44 base64url characters, ending in '=')",
                       FERNET_KEY_ENV);
            else
                errorf("key", "key number %zu in %s is not a Fernet key (44 base64url "
                       "characters, ending in '='; keys are separated by commas)", n + 1,
                       FERNET_KEY_ENV);
            key_hint();
            n = 0;
            break;
        }
        n++;
        if (p[len] != ',')
            break;
        p += len + 1;
    }
    OPENSSL_cleanse(one, sizeof one);
    if (n == 0)
        OPENSSL_cleanse(keys, max * sizeof *keys);
    return n;
}

size_t fernet_keys_load(const char *const *files, size_t nfiles, fernet_key *keys, size_t max)
{
    const char *env = getenv(FERNET_KEY_ENV);

    if (max == 0)
        return 0;
    if (nfiles > 0) {
        if (nfiles > max) {
            errorf("key", "at most %zu key files", max);
            return 0;
        }
        for (size_t i = 0; i < nfiles; i++) {
            if (load_file(files[i], &keys[i]) != 0) {
                OPENSSL_cleanse(keys, max * sizeof *keys);
                return 0;
            }
        }
        return nfiles;
    }
    if (env && *env)
        return load_env(env, keys, max);
    errorf("key", "no key: give --key-file FILE or set %s", FERNET_KEY_ENV);
    key_hint();
    return 0;
}
