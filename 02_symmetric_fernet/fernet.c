/* SPDX-License-Identifier: MIT */
/*
 * fernet - chapter 02's tool: make keys, encrypt, decrypt, rotate and inspect
 * Fernet tokens from the shell. Tokens and keys are byte-compatible with
 * Python's cryptography.fernet, so either side can open the other's tokens.
 *
 * Data goes stdin -> stdout (binary-safe); errors go to stderr.
 * Needs: OpenSSL 3 (through common/fernet).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "fernet/fernet.h"

static const char USAGE[] =
    "usage: fernet genkey [--out FILE]\n"
    "       fernet encrypt [--key-file F] [--at UNIX_TIME] [--iv HEX]   < message > token\n"
    "       fernet decrypt [--key-file F]... [--ttl SECONDS] [--at UNIX_TIME] < token > message\n"
    "       fernet rotate --key-file NEW --key-file OLD...              < token > token\n"
    "       fernet inspect                                              < token\n"
    "\n"
    "Chapter 02: Fernet tokens (AES-128-CBC + HMAC-SHA256, github.com/fernet/spec).\n"
    "The key comes from --key-file, or from SECRET_KEY as in the reference course.\n"
    "Several keys (repeat --key-file, or SECRET_KEY=NEW,OLD) work like Python's\n"
    "MultiFernet: encrypt with the first, decrypt with any, rotate to the first.\n"
    "\n"
    "  --out FILE       genkey: write the key to FILE (mode 0600; refuses to overwrite)\n"
    "  --key-file F     a file holding a key; repeat for several keys, newest first\n"
    "  --ttl SECONDS    decrypt: refuse tokens older than this (default: no limit)\n"
    "  --at UNIX_TIME   use this time instead of the clock (known-answer runs)\n"
    "  --iv HEX         encrypt: this IV (32 hex digits) instead of a random one;\n"
    "                   never reuse an IV with the same key outside a test\n"
    "  -h, --help       this text\n"
    "\n"
    "Exit status: 0 success, 1 the token was refused (the reason is printed), 2 usage.\n";

#define MAX_KEYS 8
#define MAX_STDIN ((size_t)64 * 1024 * 1024)

static int write_all(const void *buf, size_t len)
{
    if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
        errorf("stdout", "write failed: %s", strerror(errno));
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

static int cmd_genkey(const char *out)
{
    fernet_key k;
    char *b64 = NULL;
    int fd = -1, rc = EXIT_FAILED;

    if (fernet_key_generate(&k) != 0 || (b64 = fernet_key_to_b64(&k)) == NULL) {
        errorf("genkey", "no random bytes from the operating system");
        goto end;
    }
    if (!out) {
        printf("%s\n", b64);
        rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
        goto end;
    }
    /* 0600 from the start, and never over an existing key */
    if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
        errorf(out, "%s", strerror(errno));
        if (errno == EEXIST)
            hint("a key is already there; use it, or remove it first if you mean to replace it");
        goto end;
    }
    if (write(fd, b64, FERNET_KEY_B64_LEN) != FERNET_KEY_B64_LEN || write(fd, "\n", 1) != 1 ||
        close(fd) != 0) {
        fd = -1;
        errorf(out, "write failed: %s", strerror(errno));
        goto end;
    }
    fd = -1;
    notice("wrote a new Fernet key to %s (mode 0600); share it only with the other side", out);
    rc = EXIT_OK;
end:
    if (fd >= 0)
        close(fd);
    encoding_free_secret(b64, FERNET_KEY_B64_LEN);
    fernet_key_clear(&k);
    return rc;
}

/* stdin without trailing white space (a token pasted or piped with "\n") */
static char *read_token(size_t *len)
{
    char *t = cli_read_file("/dev/stdin", MAX_STDIN, len);
    while (t && *len > 0 && strchr(" \t\r\n", t[*len - 1]))
        t[--(*len)] = '\0';
    return t;
}

static void refused(const char *what, fernet_status st)
{
    errorf(what, "%s", fernet_status_str(st));
    if (st == FERNET_BAD_MAC)
        hint("the token was made with another key, or changed on the way; check the key");
    else if (st == FERNET_EXPIRED)
        hint("the token is older than --ttl; ask the sender for a fresh one");
    else if (st == FERNET_BAD_BASE64)
        hint("a token is one line of base64url starting with gAAAAA; was it cut or wrapped?");
}

/* One command per function; inspect is the only one that needs no key. */
static int cmd_inspect(void)
{
    size_t len = 0, raw_len = 0;
    uint8_t *raw = NULL;
    char *tok = read_token(&len), *hex = NULL, when[64] = "?";
    uint64_t ts = 0;
    int rc = EXIT_FAILED;
    fernet_status st;

    if (!tok)
        goto end;
    if ((st = fernet_token_timestamp(tok, len, &ts)) != FERNET_OK) {
        refused("inspect", st);
        goto end;
    }
    if (b64url_decode(tok, len, B64_PAD, &raw, &raw_len) != 0)
        goto end;
    time_t t = (time_t)ts;
    struct tm tm;
    if (ts <= (uint64_t)253402300799 && gmtime_r(&t, &tm)) /* up to year 9999 */
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    size_t ct = raw_len - 25 - 32;
    printf("token      %zu characters of base64url = %zu bytes\n", len, raw_len);
    printf("version    0x%02x (Fernet version 1)\n", raw[0]);
    printf("timestamp  %llu = %s (not secret, not yet verified)\n", (unsigned long long)ts, when);
    printf("IV         %s\n", (hex = hex_encode(raw + 9, 16)));
    free(hex);
    printf("ciphertext %zu bytes = %zu AES block%s: the message is %zu to %zu bytes long\n", ct,
           ct / 16, ct == 16 ? "" : "s", ct - 16, ct - 1);
    printf("HMAC       %s\n", (hex = hex_encode(raw + 25 + ct, 32)));
    free(hex);
    printf("(a key is needed to check the HMAC and read the message: fernet decrypt)\n");
    rc = EXIT_OK;
end:
    free(raw);
    free(tok);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},  {"key-file", required_argument, NULL, 'k'},
        {"ttl", required_argument, NULL, 't'},  {"at", required_argument, NULL, 'a'},
        {"iv", required_argument, NULL, 'i'},   CLI_COMMON_OPTIONS,
        {0},
    };
    const char *files[MAX_KEYS], *out = NULL, *cmd;
    fernet_key keys[MAX_KEYS];
    size_t nfiles = 0, nkeys = 0, len = 0, msg_len = 0;
    uint64_t ttl = 0, now = (uint64_t)time(NULL);
    uint8_t iv[16], *ivp = NULL, *msg = NULL, *bytes = NULL;
    char *in = NULL, *tok = NULL;
    int c, rc = EXIT_FAILED;
    fernet_status st;

    narrate_init("fernet", NULL);
    while ((c = getopt_long(argc, argv, "o:k:t:a:i:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(c, USAGE))
            continue;
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'k':
            if (nfiles == MAX_KEYS)
                cli_usage_error("at most %d --key-file options", MAX_KEYS);
            files[nfiles++] = optarg;
            break;
        case 't':
            ttl = (uint64_t)cli_long("--ttl", optarg, 1, 100L * 365 * 86400);
            break;
        case 'a':
            now = (uint64_t)cli_long("--at", optarg, 0, 253402300799L);
            break;
        case 'i': {
            size_t n = 0;
            if (hex_decode(optarg, &bytes, &n) != 0 || n != 16)
                cli_usage_error("--iv: '%s' is not 32 hex digits (16 bytes)", optarg);
            memcpy(iv, bytes, 16);
            ivp = iv;
            free(bytes);
            break;
        }
        }
    }
    if (optind != argc - 1)
        cli_usage_error("name one command: genkey, encrypt, decrypt, rotate or inspect");
    cmd = argv[optind];
    if (strcmp(cmd, "genkey") == 0)
        return cmd_genkey(out);
    if (strcmp(cmd, "inspect") == 0)
        return cmd_inspect();
    if (strcmp(cmd, "encrypt") && strcmp(cmd, "decrypt") && strcmp(cmd, "rotate"))
        cli_usage_error("unknown command '%s'", cmd);
    if ((nkeys = fernet_keys_load(files, nfiles, keys, MAX_KEYS)) == 0)
        return EXIT_FAILED;

    if (strcmp(cmd, "encrypt") == 0) {
        if ((in = cli_read_file("/dev/stdin", MAX_STDIN, &len)) == NULL)
            goto end;
        if ((tok = fernet_multi_encrypt(keys, nkeys, (uint8_t *)in, len, now, ivp)) == NULL) {
            errorf("encrypt", "failed (out of memory or no random bytes)");
            goto end;
        }
        if ((rc = write_all(tok, strlen(tok))) == EXIT_OK)
            rc = write_all("\n", 1);
    } else if ((in = read_token(&len)) == NULL) {
        goto end;
    } else if (strcmp(cmd, "decrypt") == 0) {
        st = fernet_multi_decrypt(keys, nkeys, in, len, ttl, now, &msg, &msg_len);
        if (st != FERNET_OK) {
            refused("decrypt", st);
            goto end;
        }
        rc = write_all(msg, msg_len);
    } else {
        if ((st = fernet_multi_rotate(keys, nkeys, in, len, &tok)) != FERNET_OK) {
            refused("rotate", st);
            goto end;
        }
        if ((rc = write_all(tok, strlen(tok))) == EXIT_OK)
            rc = write_all("\n", 1);
    }
end:
    /* the message, plain or about to be encrypted, is the secret here */
    encoding_free_secret(msg, msg_len);
    if (in)
        encoding_free_secret(in, len);
    free(tok);
    OPENSSL_cleanse(keys, sizeof keys);
    return rc;
}
