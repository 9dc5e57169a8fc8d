/* SPDX-License-Identifier: MIT */
/*
 * 02-client - chapter 02: chapter 01's client, plus symmetric encryption.
 *
 * GETs the secret from 02-server as a Fernet token, checks and decrypts it
 * with the shared key (SECRET_KEY or --key-file) and prints it; with --send it
 * encrypts a message, POSTs the token to /message and decrypts the reply. The
 * narration still shows every line that crossed the network: now the body is
 * a token that only a holder of the key can read.
 *
 * Needs: libcurl, OpenSSL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "fernet/fernet.h"
#include "net/httpclient.h"

static const char ABOUT[] =
    "Chapter 02: chapter 01's client with the secret encrypted. Fetches the secret's\n"
    "Fernet token from 02-server, decrypts it and prints 'The secret message is: ...'.\n"
    "With --send, encrypts a message, sends the token to /message, decrypts the reply.\n"
    "The key is SECRET_KEY or --key-file: the same key as the server's.\n";
static const char OPTIONS_HELP[] =
    "  --key-file F     the shared key (default: the SECRET_KEY environment variable)\n"
    "  --send TEXT      encrypt TEXT, POST the token to URL/message, decrypt the reply\n"
    "  --send-file F    the same with the message read from a file (at most 16M)\n";
static const char EPILOGUE[] =
    "Exit status: 0 success, 1 the request failed, the server said no or a token was\n"
    "refused (wrong key, changed on the way, too old), 2 usage.\n";

/* The options chapter 02 adds; --url and the rest come from core/cli. */
typedef struct options {
    const char *key_file;
} options;

static int option(int c, const char *arg, void *ctx)
{
    options *o = ctx;
    switch (c) {
    case 'k':
        o->key_file = arg;
        return 1;
    }
    return 0;
}

/* Tokens older than this are refused: a recorded token replays only so long. */
#define TTL_SECONDS 60

static fernet_key g_key;

/* Check and decrypt a token from the server. On failure: one error line that
 * names the check that failed, and a hint. */
static uint8_t *open_token(const char *what, const char *token, size_t *msg_len)
{
    uint8_t *msg = NULL;
    fernet_status st;

    step("checking the token's HMAC with our key, then decrypting it (AES-128-CBC)");
    st = fernet_decrypt(&g_key, token, strcspn(token, "\r\n"), TTL_SECONDS, (uint64_t)time(NULL),
                        &msg, msg_len);
    if (st == FERNET_BAD_MAC) {
        errorf(what, "%s: the token was not made with our key, or was changed on the way",
               fernet_status_str(st));
        hint("the client and the server must share one key: compare SECRET_KEY (or --key-file) "
             "on both sides");
    } else if (st != FERNET_OK) {
        errorf(what, "the token was refused: %s", fernet_status_str(st));
        if (st == FERNET_EXPIRED || st == FERNET_FROM_FUTURE)
            hint("tokens live %d s: check that both machines' clocks are right", TTL_SECONDS);
    }
    return msg;
}

static int get_secret(const char *base)
{
    http_request req = http_request_defaults();
    http_response res;
    char url[2048];
    uint8_t *msg;
    size_t msg_len = 0;

    if (http_url_join(url, sizeof url, base, "/"))
        cli_usage_error("--url is too long");
    req.url = url;
    step("GET %s over plain HTTP: the body will be a Fernet token", url);
    if (http_do(&req, &res) != 0) {
        http_report_failure("GET /", &req, &res);
        return EXIT_FAILED;
    }
    if (res.status != 200) {
        errorf("GET /", "the server answered %ld: %s", res.status, res.body);
        http_response_free(&res);
        return EXIT_FAILED;
    }
    step("got a %zu-byte Fernet token: without the key it is noise", res.body_len);
    msg = open_token("decrypt the secret", res.body, &msg_len);
    http_response_free(&res);
    if (!msg)
        return EXIT_FAILED;
    result("The secret message is: %s", (const char *)msg);
    encoding_free_secret(msg, msg_len);
    return EXIT_OK;
}

static int post_message(const char *base, const char *body, size_t len)
{
    http_request req = http_request_defaults();
    http_response res;
    char url[2048], *token;
    uint8_t *msg;
    size_t msg_len = 0;
    int rc = EXIT_OK;

    if (http_url_join(url, sizeof url, base, "/message"))
        cli_usage_error("--url is too long");
    step("encrypting %zu bytes with the shared key (fresh random IV, time stamped)", len);
    if ((token = fernet_encrypt(&g_key, (const uint8_t *)body, len, (uint64_t)time(NULL),
                                NULL)) == NULL) {
        errorf("encrypt", "out of memory");
        return EXIT_FAILED;
    }
    req.method = "POST";
    req.url = url;
    req.body = token;
    req.body_len = strlen(token);
    req.content_type = "text/plain";
    step("POST %s with a %zu-byte Fernet token", url, req.body_len);
    if (http_do(&req, &res) != 0) {
        http_report_failure("POST /message", &req, &res);
        free(token);
        return EXIT_FAILED;
    }
    free(token);
    if (res.status != 200) {
        /* the server explains itself in {"error": ...}; show its words */
        errorf("POST /message", "the server answered %ld: %.*s", res.status,
               (int)strcspn(res.body, "\n"), res.body);
        if (res.status == 400)
            hint("the server refuses tokens made with another key; its log says which check failed");
        rc = EXIT_FAILED;
    } else if ((msg = open_token("decrypt the reply", res.body, &msg_len)) == NULL) {
        rc = EXIT_FAILED;
    } else {
        step("the server answered with a token of its own");
        result("%s", (const char *)msg);
        encoding_free_secret(msg, msg_len);
    }
    http_response_free(&res);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option own[] = {
        {"key-file", required_argument, NULL, 'k'},
        {0},
    };
    options o = {0};
    const cli_program prog = {.synopsis = "[--key-file F] [--send TEXT | --send-file FILE] ",
                              .about = ABOUT,
                              .options_help = OPTIONS_HELP,
                              .epilogue = EPILOGUE,
                              .options = own,
                              .short_options = "k:",
                              .body_option = "send",
                              .option = option,
                              .ctx = &o};
    cli_client cl = cli_client_defaults("http://127.0.0.1", COURSE_PORT(2));
    char *body = NULL;
    size_t len = 0;
    int rc, have;

    narrate_init("02-client", "client");
    cli_parse_client(argc, argv, &prog, &cl);
    /* the one new idea: the same key as the server's, held before we talk */
    if (fernet_keys_load(&o.key_file, o.key_file ? 1 : 0, &g_key, 1) != 1)
        return EXIT_FAILED;

    http_client_init();
    if ((have = cli_client_body(&cl, &body, &len)) < 0)
        rc = EXIT_FAILED;
    else
        rc = have ? post_message(cl.url, body, len) : get_secret(cl.url);
    encoding_free_secret(body, len);
    http_client_cleanup();
    fernet_key_clear(&g_key);
    return rc;
}
