/* SPDX-License-Identifier: MIT */
/*
 * 03-server - chapter 03: chapter 02's server, plus a key exchange. No key
 * is shared in advance any more: each client agrees one with the server over
 * the open wire (Diffie-Hellman: X25519, P-256, ffdhe2048 or the toy group),
 * HKDF-SHA256 turns it into a Fernet key, and chapter 02 goes on with it.
 *
 * Routes:
 *   POST /kex      the client's offer in, ours out (common/kex/exchange.h): a
 *                  session id names the agreed key from then on
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
#include "kex/exchange.h"
#include "fernet/fernet.h"
#include "kex/sessions.h"
#include "net/webserver.h"

static const char ABOUT[] =
    "Chapter 03: chapter 02's server with the key agreed on the wire. A client first\n"
    "POSTs its Diffie-Hellman offer to /kex and gets ours and a session id; both sides\n"
    "derive the same Fernet key, which never crosses the network. Then GET / and\n"
    "POST /message work as in chapter 02, under that key. Capture it with\n"
    "`make 03-capture`: the public values are readable, the key and the secret are not.\n";
static const char OPTIONS_HELP[] =
    "  --ttl SECONDS    refuse tokens older than this on POST /message (default 60)\n"
    "  --max-sessions N clients with a live session at once (default 1024); when all\n"
    "                   are taken, POST /kex answers 503 with Retry-After\n";

static const char SECRET[] = "fluffy tail";

/* One agreed key per client, under its session id (thread-safe). */
static sessions *g_sessions;
static uint64_t g_ttl = 60;
static long g_max_sessions = 1024;

static const char PAGE[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>Chapter 03: only the secret is encrypted</title></head>\n"
    "<body><h1>Chapter 03: only the secret is encrypted</h1>\n"
    "<p>This page travelled as plain text. Anyone on the path could read it, and change it.</p>\n"
    "<form method=\"post\" action=\"/login\">\n"
    "<label>User <input name=\"user\"></label>\n"
    "<label>Password <input name=\"password\" type=\"password\"></label>\n"
    "<button type=\"submit\">Log in (in the clear)</button>\n"
    "</form></body></html>\n";

/* A session is over (expired, or the server stops): no worker thread may keep
 * the AES and HMAC state of its key in its Fernet contexts either. */
static void forget_session_key(const void *value, size_t len)
{
    fernet_key key;
    if (len != EXCHANGE_KEY_LEN)
        return;
    fernet_key_from_raw(&key, value);
    fernet_forget_key(&key);
    fernet_key_clear(&key);
}

/* 503 when every session slot is live: we refuse the newcomer rather than
 * end somebody else's session (an anonymous POST /kex must not do that). */
static int reply_full(struct mg_connection *conn)
{
    unsigned wait = sessions_wait(g_sessions);
    return web_reply_error_retry(conn, 503, wait,
                                 "all %ld sessions are in use: try again in %u seconds",
                                 g_max_sessions, wait);
}

/* The key agreed with this client, from its session header; or a 401. */
static int session_key(struct mg_connection *conn, fernet_key *key)
{
    uint8_t raw[EXCHANGE_KEY_LEN];
    if (sessions_get(g_sessions, web_header(conn, EXCHANGE_SESSION_HEADER), raw) != 0)
        return web_reply_error(conn, 401, "no such session: POST /kex first (sessions last 10 "
                                          "minutes)");
    fernet_key_from_raw(key, raw);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

/* POST /kex: the server's half of the exchange. The client's half, step by
 * step, is kex_flow_client() in kex_flow.c; the numbers below are its steps.
 * Nothing here says who sent the offer, so we answer anyone: 03-mitm too. */
static int post_kex(struct mg_connection *conn, void *arg)
{
    json_t *in = NULL, *out = NULL;
    exchange ex;
    uint8_t key[EXCHANGE_KEY_LEN];
    char err[256], id[SESSIONS_ID_SIZE];
    int st;
    (void)arg;
    /* step 2 arrives: the client's offer */
    if ((st = web_read_json(conn, &in)) != 0)
        return st;
    /* steps 1 and 5 for our side: parse the client's offer, make our key pair
     * in its group, derive the same key it will: all in one */
    st = exchange_answer(&ex, in, EXCHANGE_INFO_03, key, err, sizeof err);
    json_decref(in);
    if (st != 0) {
        note("refused a key exchange: %s", err);
        exchange_clear(&ex);
        return web_reply_error(conn, 400, "key exchange refused: %s", err);
    }
    if (ex.mine.group == KEX_TOY)
        notice("a client chose the toy group: anyone watching can compute its key");
    exchange_narrate_offer("client's", &ex.peer);
    exchange_narrate_offer("our", &ex.mine);
    note("derived the session key with HKDF-SHA256; our private value and the key stay here");
    /* step 3: our offer goes back with the id the key is kept under; from now
     * on the client names its session in an X-Session header. One address
     * gets only its share of the table (sessions_put_for). */
    st = sessions_put_for(g_sessions, web_peer(conn), key, id);
    if (st != 0 || !(out = exchange_offer_json(&ex.mine)) ||
        json_object_set_new(out, "session", json_string(id)) != 0) {
        json_decref(out);
        out = NULL;
    }
    OPENSSL_cleanse(key, sizeof key);
    exchange_clear(&ex);
    if (st == SESSIONS_FULL)
        return reply_full(conn);
    if (st == SESSIONS_CLIENT_FULL) /* this address used its share; others still get one */
        return web_reply_error_retry(conn, 429, sessions_wait_for(g_sessions, web_peer(conn)),
                                     "this address holds %zu live sessions, its most",
                                     sessions_per_client(g_sessions));
    if (!out) {
        if (st == 0)
            sessions_remove(g_sessions, id);
        return web_reply_error(conn, 500, "could not store the session");
    }
    return web_reply_json(conn, 200, out);
}

static int get_secret(struct mg_connection *conn, void *arg)
{
    fernet_key key;
    char *token;
    int st;
    (void)arg;
    if ((st = session_key(conn, &key)) != 0)
        return st;
    /* A fresh random IV each time: the same secret never gives the same token. */
    token = fernet_encrypt(&key, (const uint8_t *)SECRET, strlen(SECRET), (uint64_t)time(NULL),
                           NULL);
    fernet_key_clear(&key);
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
    fernet_key key;
    char *body, *token, reply[256];
    uint8_t *msg = NULL;
    size_t len, msg_len = 0;
    fernet_status fs;
    int st;
    (void)arg;
    if ((st = session_key(conn, &key)) != 0)
        return st;
    if ((st = web_read_body(conn, &body, &len)) != 0) {
        fernet_key_clear(&key);
        return st;
    }
    len = strcspn(body, "\r\n"); /* a token is one line */
    fs = fernet_decrypt(&key, body, len, g_ttl, (uint64_t)time(NULL), &msg, &msg_len);
    free(body);
    if (fs != FERNET_OK) {
        fernet_key_clear(&key);
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
    token = fernet_encrypt(&key, (const uint8_t *)reply, strlen(reply), (uint64_t)time(NULL),
                           NULL);
    OPENSSL_cleanse(reply, sizeof reply);
    fernet_key_clear(&key);
    if (!token)
        return web_reply_error(conn, 500, "could not encrypt");
    st = web_reply_text(conn, 200, token);
    free(token);
    return st;
}

/* The options chapter 03 adds; chapter 01's come from core/cli. */
static int option(int c, const char *arg, void *ctx)
{
    (void)ctx;
    switch (c) {
    case 't':
        g_ttl = (uint64_t)cli_long("--ttl", arg, 1, 365L * 86400);
        return 1;
    case 'S':
        g_max_sessions = cli_long("--max-sessions", arg, 1, 100000);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option own[] = {
        {"ttl", required_argument, NULL, 't'},
        {"max-sessions", required_argument, NULL, 'S'},
        {0},
    };
    static const web_route routes[] = {
        {"POST", "/kex", post_kex, NULL},
        {"GET", "/", get_secret, NULL},
        {"GET", "/page", get_page, NULL},
        {"POST", "/login", post_login, NULL},
        {"POST", "/message", post_message, NULL},
        {0},
    };
    const cli_program prog = {.synopsis = "[--ttl SECONDS] [--max-sessions N] ",
                              .about = ABOUT,
                              .options_help = OPTIONS_HELP,
                              .options = own,
                              .short_options = "t:S:",
                              .option = option};
    cli_server srv = cli_server_defaults(COURSE_PORT(3));
    web_config cfg;
    int rc;

    narrate_init("03-server", "server");
    cli_parse_server(argc, argv, &prog, &srv);
    cfg = web_config_for(&srv);
    cfg.routes = routes;
    /* at most --max-sessions clients at once, 10 minutes each; the table wipes
     * its keys, and has every thread's Fernet contexts forget them too */
    if (!(g_sessions = sessions_new((size_t)g_max_sessions, 600, EXCHANGE_KEY_LEN))) {
        errorf("start", "out of memory");
        return EXIT_FAILED;
    }
    sessions_on_drop(g_sessions, forget_session_key);
    rc = web_serve(&cfg);
    sessions_free(g_sessions);
    return rc;
}
