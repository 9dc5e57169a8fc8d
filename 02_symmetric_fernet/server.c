/* SPDX-License-Identifier: MIT */
/*
 * 02-server - chapter 02: chapter 01's server, plus symmetric encryption.
 * The secret now leaves as a Fernet token (AES-128-CBC + HMAC-SHA256) made
 * with a key both sides already share: SECRET_KEY or --key-file.
 *
 * Routes:
 *   GET  /         the secret, "fluffy tail", as a Fernet token (text/plain)
 *   GET  /page     a small HTML page with a login form, for a browser
 *   POST /login    the form's target: still in the clear, because encryption
 *                  protects only what the program encrypts
 *   POST /message  a Fernet token in, a Fernet token out (the reply)
 *
 * Needs: civetweb (built by `make` from Debian's source), jansson, OpenSSL.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "fernet/fernet.h"
#include "net/webserver.h"

static const char ABOUT[] =
    "Chapter 02: chapter 01's server with the secret encrypted. Serves a Fernet\n"
    "token of the secret on GET / and answers tokens on POST /message. The key is\n"
    "SECRET_KEY or --key-file (make one with 'fernet genkey'). Capture it with\n"
    "`make 02-capture`: the token is readable, the secret is not.\n";
static const char OPTIONS_HELP[] =
    "  --key-file F     the shared key (default: the SECRET_KEY environment variable)\n"
    "  --ttl SECONDS    refuse tokens older than this on POST /message (default 60)\n";

static const char SECRET[] = "fluffy tail";

/* Loaded once in main, before any request; read-only afterwards. */
static fernet_key g_key;
static uint64_t g_ttl = 60;

static const char PAGE[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>Chapter 02: only the secret is encrypted</title></head>\n"
    "<body><h1>Chapter 02: only the secret is encrypted</h1>\n"
    "<p>This page travelled as plain text. Anyone on the path could read it, and change it.</p>\n"
    "<form method=\"post\" action=\"/login\">\n"
    "<label>User <input name=\"user\"></label>\n"
    "<label>Password <input name=\"password\" type=\"password\"></label>\n"
    "<button type=\"submit\">Log in (in the clear)</button>\n"
    "</form></body></html>\n";

static int get_secret(struct mg_connection *conn, void *arg)
{
    char *token;
    int st;
    (void)arg;
    /* A fresh random IV each time: the same secret never gives the same token. */
    token = fernet_encrypt(&g_key, (const uint8_t *)SECRET, strlen(SECRET), (uint64_t)time(NULL),
                           NULL);
    if (!token)
        return web_reply_error(conn, 500, "could not encrypt");
    note("sending the secret as a Fernet token: %s", token);
    st = web_reply_text(conn, 200, token);
    free(token);
    return st;
}

static int get_page(struct mg_connection *conn, void *arg)
{
    (void)arg;
    return web_reply(conn, 200, "text/html; charset=utf-8", PAGE, strlen(PAGE));
}

static int post_login(struct mg_connection *conn, void *arg)
{
    char *body, user[64], password[128];
    size_t len;
    int st;
    (void)arg;
    if ((st = web_read_body(conn, &body, &len)) != 0)
        return st;
    if (mg_get_var(body, len, "user", user, sizeof user) < 0 ||
        mg_get_var(body, len, "password", password, sizeof password) < 0) {
        free(body);
        return web_reply_error(conn, 400, "the form needs user and password fields");
    }
    free(body);
    /* The server saw the password; so did everybody on the path. */
    note("login form for '%s' arrived with its password in the clear", user);
    char reply[128];
    snprintf(reply, sizeof reply, "welcome, %s (your password crossed the network in the clear)\n",
             user);
    return web_reply_text(conn, 200, reply);
}

static int post_message(struct mg_connection *conn, void *arg)
{
    char *body, *token, reply[256];
    uint8_t *msg = NULL;
    size_t len, msg_len = 0;
    fernet_status fs;
    int st;
    (void)arg;
    if ((st = web_read_body(conn, &body, &len)) != 0)
        return st;
    len = strcspn(body, "\r\n"); /* a token is one line */
    fs = fernet_decrypt(&g_key, body, len, g_ttl, (uint64_t)time(NULL), &msg, &msg_len);
    free(body);
    if (fs != FERNET_OK) {
        /* The reason goes to our log only: telling the sender which check
         * failed would help an attacker probe, and helps nobody else. */
        note("refused a token: %s", fernet_status_str(fs));
        return web_reply_error(conn, 400, "invalid token");
    }
    /* A valid token proves it was made with our key, not that it is new: an
     * attacker who recorded it may send it again until the TTL runs out. */
    note("decrypted a %zu-byte message: %.*s", msg_len, (int)(msg_len > 64 ? 64 : msg_len),
         (const char *)msg);
    snprintf(reply, sizeof reply, "the server read %zu bytes: %.*s", msg_len,
             (int)(msg_len > 200 ? 200 : msg_len), (const char *)msg);
    encoding_free_secret(msg, msg_len);
    token = fernet_encrypt(&g_key, (const uint8_t *)reply, strlen(reply), (uint64_t)time(NULL),
                           NULL);
    OPENSSL_cleanse(reply, sizeof reply);
    if (!token)
        return web_reply_error(conn, 500, "could not encrypt");
    st = web_reply_text(conn, 200, token);
    free(token);
    return st;
}

/* The options chapter 02 adds; chapter 01's come from core/cli. */
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
    case 't':
        g_ttl = (uint64_t)cli_long("--ttl", arg, 1, 365L * 86400);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option own[] = {
        {"key-file", required_argument, NULL, 'k'},
        {"ttl", required_argument, NULL, 't'},
        {0},
    };
    static const web_route routes[] = {
        {"GET", "/", get_secret, NULL},
        {"GET", "/page", get_page, NULL},
        {"POST", "/login", post_login, NULL},
        {"POST", "/message", post_message, NULL},
        {0},
    };
    options o = {0};
    const cli_program prog = {.synopsis = "[--key-file F] [--ttl SECONDS] ",
                              .about = ABOUT,
                              .options_help = OPTIONS_HELP,
                              .options = own,
                              .short_options = "k:t:",
                              .option = option,
                              .ctx = &o};
    cli_server srv = cli_server_defaults(COURSE_PORT(2));
    web_config cfg;
    int rc;

    narrate_init("02-server", "server");
    cli_parse_server(argc, argv, &prog, &srv);
    cfg = web_config_for(&srv);
    cfg.routes = routes;
    /* the one new idea: a key both sides hold before they ever talk */
    if (fernet_keys_load(&o.key_file, o.key_file ? 1 : 0, &g_key, 1) != 1)
        return EXIT_FAILED;
    rc = web_serve(&cfg);
    fernet_key_clear(&g_key);
    return rc;
}
