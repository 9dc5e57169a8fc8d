/* SPDX-License-Identifier: MIT */
/*
 * 04-server - chapter 04: chapter 03's server, plus a certificate. Its
 * answer in the key exchange is signed with the key of a certificate from the
 * course CA, so a client can tell the server's public value from an
 * attacker's. It is also a small CA on the network: it hands out its root and
 * CRL, and signs a client's CSR when it comes with a one-time enrolment code.
 *
 * Routes:
 *   POST /kex      the client's offer in, ours out, signed (common/pki/signedkex.h):
 *                  a session id names the agreed key from then on
 *   GET  /ca.crt   the course root certificate (PEM)
 *   GET  /crl      the issuing CA's revocation list (PEM)
 *   POST /enrol    {"code", "csr"} -> a client certificate (see enrol.h)
 *   GET  /         the secret, "fluffy tail", as a Fernet token (text/plain)
 *   GET  /page     a small HTML page with a login form, for a browser
 *   POST /login    the form's target: still in the clear, because encryption
 *                  protects only what the program encrypts
 *   POST /message  a Fernet token in, a Fernet token out (the reply)
 *
 * Needs: civetweb (built by `make` from Debian's source), jansson, OpenSSL,
 * and the course PKI (`make pki`: build/pki/).
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "enrol.h"
#include "kex/exchange.h"
#include "fernet/fernet.h"
#include "core/json.h"
#include "pki/pki.h"
#include "kex/sessions.h"
#include "pki/signedkex.h"
#include "net/webserver.h"

static const char ABOUT[] =
    "Chapter 04: chapter 03's server with a certificate. Its key-exchange answer on\n"
    "/kex carries its certificate chain and a signature over the whole exchange, made\n"
    "with the certificate's key: a man in the middle cannot forge it. It also serves\n"
    "the root on /ca.crt and the CRL on /crl, and signs client CSRs on /enrol for a\n"
    "one-time enrolment code. GET / and POST /message work as in chapter 03.\n";
static const char OPTIONS_HELP[] =
    "  --pki DIR        the course PKI made by `make pki` (default build/pki): signs\n"
    "                   with server.key, sends server-chain.crt, enrols with intermediate/\n"
    "  --codes FILE     one-time enrolment codes, one per line (16+ characters each);\n"
    "                   else the one in $ENROL_CODE; else /enrol is closed. Spent\n"
    "                   codes are recorded in FILE.spent and stay spent across restarts\n"
    "  --cert-days N    validity of enrolled client certificates (default 30)\n"
    "  --ttl SECONDS    refuse tokens older than this on POST /message (default 60)\n"
    "  --max-sessions N clients with a live session at once (default 1024); when all\n"
    "                   are taken, POST /kex answers 503 with Retry-After\n";

static const char SECRET[] = "fluffy tail";

/* One agreed key per client, under its session id (thread-safe). */
static sessions *g_sessions;
static uint64_t g_ttl = 60;
static long g_max_sessions = 1024;
/* What signs our answers: the certificate's key, and the chain sent with it. */
static EVP_PKEY *g_sign_key;
static STACK_OF(X509) *g_chain;

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

/* "localhost:8004" -> "localhost", "[::1]:8004" -> "::1" (into buf). */
static const char *host_name(const char *host, char *buf, size_t len)
{
    size_t n;
    if (!host)
        return NULL;
    if (host[0] == '[')
        n = strcspn(++host, "]");
    else
        n = strcspn(host, ":");
    if (n == 0 || n >= len)
        return NULL;
    memcpy(buf, host, n);
    buf[n] = '\0';
    return buf;
}

/* POST /kex: chapter 03's post_kex (03_diffie_hellman/server.c), plus a
 * name and a signature. The client's half is chapter 03's kex_flow_client()
 * with the two hooks of signedkex_flow.c: add_server_name() sends the name
 * read first here, and check_signed_reply() checks, in step 4, what
 * signedkex_sign_reply() adds at the end here. */
static int post_kex(struct mg_connection *conn, void *arg)
{
    json_t *in = NULL, *out = NULL;
    exchange ex;
    uint8_t key[EXCHANGE_KEY_LEN];
    char err[256], id[SESSIONS_ID_SIZE];
    char name[SIGNEDKEX_MAX_NAME + 1], host[SIGNEDKEX_MAX_NAME + 1];
    const char *want;
    int st;
    (void)arg;
    if ((st = web_read_json(conn, &in)) != 0)
        return st;
    /* the name the client wants to reach (add_server_name): we sign it, so a
     * reply for one name cannot be passed off as one for another */
    want = json_get_str(in, "server_name");
    if (!want) /* a chapter 03 client does not say: take the Host header's name */
        want = host_name(web_header(conn, "Host"), host, sizeof host);
    snprintf(name, sizeof name, "%s", want ? want : "");
    /* parse the client's offer, make ours in its group, derive: all in one */
    st = exchange_answer(&ex, in, SIGNEDKEX_INFO_04, key, err, sizeof err);
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
    err[0] = '\0';
    /* the session id is chosen first because the signature covers it: a man
     * in the middle cannot point the client at another session */
    st = sessions_put_for(g_sessions, web_peer(conn), key, id);
    OPENSSL_cleanse(key, sizeof key);
    if (st == SESSIONS_FULL) {
        exchange_clear(&ex);
        return reply_full(conn);
    }
    if (st == SESSIONS_CLIENT_FULL) { /* this address used its share; others still get one */
        exchange_clear(&ex);
        return web_reply_error_retry(conn, 429, sessions_wait_for(g_sessions, web_peer(conn)),
                                     "this address holds %zu live sessions, its most",
                                     sessions_per_client(g_sessions));
    }
    /* the new step: sign both offers, the name and the session id with our
     * certificate's key, and send the chain; the client checks it all before
     * it uses our public value (signedkex_check_reply in check_signed_reply) */
    if (st != 0 || !(out = exchange_offer_json(&ex.mine)) ||
        signedkex_sign_reply(out, &ex, name, id, g_sign_key, g_chain, err, sizeof err) != 0) {
        json_decref(out);
        out = NULL;
        if (st == 0) /* nobody will ever use it */
            sessions_remove(g_sessions, id);
    }
    exchange_clear(&ex);
    if (!out) {
        note("refused a key exchange: %s", err[0] ? err : "could not store the session");
        return web_reply_error(conn, err[0] ? 400 : 500, "%s", err[0] ? err : "could not store the session");
    }
    note("signed the transcript (both offers and the name %s) and the session id with our "
         "certificate's key", name);
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

/* The options of chapters 03 and 04; chapter 01's come from core/cli. */
typedef struct options {
    const char *pki, *codes;
    int days;
} options;

static int option(int c, const char *arg, void *ctx)
{
    options *o = ctx;
    switch (c) {
    case 't':
        g_ttl = (uint64_t)cli_long("--ttl", arg, 1, 365L * 86400);
        return 1;
    case 'S':
        g_max_sessions = cli_long("--max-sessions", arg, 1, 100000);
        return 1;
    case 'P':
        o->pki = arg;
        return 1;
    case 'C':
        o->codes = arg;
        return 1;
    case 'D':
        o->days = (int)cli_long("--cert-days", arg, 1, 825);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option own[] = {
        {"ttl", required_argument, NULL, 't'},
        {"max-sessions", required_argument, NULL, 'S'},
        {"pki", required_argument, NULL, 'P'},
        {"codes", required_argument, NULL, 'C'},
        {"cert-days", required_argument, NULL, 'D'},
        {0},
    };
    static const web_route routes[] = {
        {"POST", "/kex", post_kex, NULL},
        {"GET", "/ca.crt", enrol_get_ca, NULL},
        {"GET", "/crl", enrol_get_crl, NULL},
        {"POST", "/enrol", enrol_post, NULL},
        {"GET", "/", get_secret, NULL},
        {"GET", "/page", get_page, NULL},
        {"POST", "/login", post_login, NULL},
        {"POST", "/message", post_message, NULL},
        {0},
    };
    options o = {.pki = "build/pki", .days = 30};
    const cli_program prog = {
        .synopsis = "[--pki DIR] [--codes FILE] [--cert-days N] [--ttl SECONDS]\n"
                    "                 [--max-sessions N] ",
        .about = ABOUT,
        .options_help = OPTIONS_HELP,
        .options = own,
        .short_options = "t:S:P:C:D:",
        .option = option,
        .ctx = &o};
    cli_server srv = cli_server_defaults(COURSE_PORT(4));
    web_config cfg;
    char path[4096];
    int rc = EXIT_FAILED;

    narrate_init("04-server", "server");
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
    /* the one new idea: the certificate's key signs every answer on /kex, and
     * the chain goes with it (post_kex; the client checks both in
     * signedkex_flow.c) */
    snprintf(path, sizeof path, "%s/server.key", o.pki);
    if (!(g_sign_key = pki_key_read(path, NULL))) {
        errorf("start", "%s", pki_last_error());
        hint("run 'make pki' first, or point --pki at the folder it made");
        goto end;
    }
    snprintf(path, sizeof path, "%s/server-chain.crt", o.pki);
    if (!(g_chain = pki_certs_read(path))) {
        errorf("start", "%s", pki_last_error());
        goto end;
    }
    if (enrol_setup(o.pki, o.codes, o.days) == 0)
        rc = web_serve(&cfg);
end:
    enrol_teardown();
    sk_X509_pop_free(g_chain, X509_free);
    EVP_PKEY_free(g_sign_key);
    sessions_free(g_sessions);
    return rc;
}
