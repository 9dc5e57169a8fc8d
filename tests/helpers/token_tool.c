/* SPDX-License-Identifier: MIT */
/*
 * token-tool - a command-line driver for common/token (chapter 06), so that a
 * third-party peer (PyJWT, tests/interop/06_token_pyjwt.sh) can read our
 * tokens and we can read its, through exactly the code the server runs.
 *
 * Tokens go stdin -> stdout; errors go to stderr as "token-tool: error: ...".
 */
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "token/token.h"

static const char USAGE[] =
    "usage: token-tool genkey --key FILE\n"
    "       token-tool x5t --cert PEM\n"
    "       token-tool issue --key FILE --iss URL --aud URL --sub NAME --sid ID --cert PEM\n"
    "                        [--lifetime SECONDS] [--now UNIX_TIME]               > token\n"
    "       token-tool verify --key FILE [--key OLD] --iss URL --aud URL --cert PEM\n"
    "                        [--sid ID] [--now UNIX_TIME]                         < token\n"
    "\n"
    "Chapter 06's access tokens (HS256 JWT bound to the client certificate, RFC 8705),\n"
    "made and checked by common/token exactly as the server does.\n"
    "\n"
    "  --key FILE       the 32-byte secret (mode 0600); verify takes two during a rotation\n"
    "  --cert PEM       the client certificate the token is (to be) bound to\n"
    "  --iss, --aud     issuer and audience (the service URL)\n"
    "  --sub, --sid     the account and the session\n"
    "  --lifetime S     issue: seconds until exp (1..1800, default 1800)\n"
    "  --now T          use this time instead of the clock\n"
    "  -h, --help       this text\n"
    "\n"
    "Exit status: 0 success, 1 refused or failed (the reason is printed), 2 usage.\n";

#define MAX_KEYS 2
#define MAX_STDIN ((size_t)64 * 1024)

static int cert_x5t(const char *path, uint8_t out[TOKEN_X5T_LEN])
{
    FILE *f = fopen(path, "r");
    X509 *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    int rc = -1;
    if (f)
        fclose(f);
    if (!cert)
        errorf(path, "not a PEM certificate");
    else if (token_x5t(cert, out) != 0)
        errorf(path, "cannot hash the certificate");
    else
        rc = 0;
    X509_free(cert);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},      {"cert", required_argument, NULL, 'c'},
        {"iss", required_argument, NULL, 'I'},      {"aud", required_argument, NULL, 'A'},
        {"sub", required_argument, NULL, 'S'},      {"sid", required_argument, NULL, 'D'},
        {"lifetime", required_argument, NULL, 'L'}, {"now", required_argument, NULL, 'n'},
        CLI_COMMON_OPTIONS,                         {0},
    };
    const char *files[MAX_KEYS], *cert = NULL, *cmd;
    token_request req = {0};
    token_expect ex = {0};
    token_key keys[MAX_KEYS];
    token_claims cl;
    uint8_t x5t[TOKEN_X5T_LEN];
    size_t nfiles = 0, len = 0;
    int64_t now = (int64_t)time(NULL);
    char err[512], *tok = NULL, *in = NULL;
    int c, rc = EXIT_FAILED;
    token_status st;

    narrate_init("token-tool", NULL);
    memset(keys, 0, sizeof keys);
    while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(c, USAGE))
            continue;
        switch (c) {
        case 'k':
            if (nfiles == MAX_KEYS)
                cli_usage_error("at most %d --key options", MAX_KEYS);
            files[nfiles++] = optarg;
            break;
        case 'c': cert = optarg; break;
        case 'I': req.iss = ex.iss = optarg; break;
        case 'A': req.aud = ex.aud = optarg; break;
        case 'S': req.sub = optarg; break;
        case 'D': req.sid = ex.sid = optarg; break;
        case 'L': req.lifetime = cli_long("--lifetime", optarg, 1, TOKEN_MAX_LIFETIME); break;
        case 'n': now = cli_long("--now", optarg, 1, (long)TOKEN_MAX_TIME); break;
        }
    }
    if (optind != argc - 1)
        cli_usage_error("name one command: genkey, x5t, issue or verify");
    cmd = argv[optind];
    if (strcmp(cmd, "genkey") && strcmp(cmd, "x5t") && strcmp(cmd, "issue") &&
        strcmp(cmd, "verify"))
        cli_usage_error("unknown command '%s'", cmd);
    if (strcmp(cmd, "genkey") && !cert)
        cli_usage_error("%s needs --cert PEM", cmd);
    if (strcmp(cmd, "x5t") && nfiles == 0)
        cli_usage_error("%s needs --key FILE", cmd);
    if ((!strcmp(cmd, "issue") || !strcmp(cmd, "verify")) && (!ex.iss || !ex.aud))
        cli_usage_error("%s needs --iss and --aud", cmd);

    if (strcmp(cmd, "genkey") == 0) {
        if (token_key_generate(&keys[0]) != 0) {
            errorf("genkey", "no random bytes from the operating system");
        } else if (token_key_write(&keys[0], files[0], err, sizeof err) != 0) {
            errorf("genkey", "%s", err);
        } else {
            result("kid: %s", keys[0].kid);
            rc = EXIT_OK;
        }
        goto end;
    }
    if (cert_x5t(cert, x5t) != 0)
        goto end;
    if (strcmp(cmd, "x5t") == 0) {
        char *b64 = b64url_encode(x5t, sizeof x5t, B64_NO_PAD);
        if (b64) {
            result("%s", b64);
            rc = EXIT_OK;
        }
        free(b64);
        goto end;
    }
    for (size_t i = 0; i < nfiles; i++) {
        if (token_key_load(&keys[i], files[i], err, sizeof err) != 0) {
            errorf("key", "%s", err);
            goto end;
        }
    }
    if (strcmp(cmd, "issue") == 0) {
        req.x5t = x5t;
        if ((st = token_issue(&keys[0], &req, now, &cl, &tok)) != TOKEN_OK) {
            errorf("issue", "%s", token_status_str(st));
            goto end;
        }
        printf("%s\n", tok);
        rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
        goto end;
    }
    /* verify: the token from stdin, without its final newline */
    if ((in = cli_read_file("/dev/stdin", MAX_STDIN, &len)) == NULL)
        goto end;
    if (len > 0 && in[len - 1] == '\n')
        in[--len] = '\0';
    ex.x5t = x5t;
    if ((st = token_verify(keys, nfiles, in, len, &ex, now, &cl)) != TOKEN_OK) {
        errorf("token", "%s", token_status_str(st));
        goto end;
    }
    result("ok: sub=%s sid=%s jti=%s iat=%lld exp=%lld", cl.sub, cl.sid, cl.jti,
           (long long)cl.iat, (long long)cl.exp);
    rc = EXIT_OK;
end:
    token_free(tok);
    if (in)
        encoding_free_secret(in, len);
    for (size_t i = 0; i < MAX_KEYS; i++)
        token_key_clear(&keys[i]);
    return rc;
}
