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

static const char USAGE[] =
    "usage: 04-server [--pki DIR] [--codes FILE] [--cert-days N] [--ttl SECONDS]\n"
    "                 [--max-sessions N] [--port N] [--host ADDR] [--max-body SIZE] [--quiet] [--verbose]\n"
    "\n"
    "Chapter 04: chapter 03's server with a certificate. Its key-exchange answer on\n"
    "/kex carries its certificate chain and a signature over the whole exchange, made\n"
    "with the certificate's key: a man in the middle cannot forge it. It also serves\n"
    "the root on /ca.crt and the CRL on /crl, and signs client CSRs on /enrol for a\n"
    "one-time enrolment code. GET / and POST /message work as in chapter 03.\n"
    "\n"
    "  --pki DIR        the course PKI made by `make pki` (default build/pki): signs\n"
    "                   with server.key, sends server-chain.crt, enrols with intermediate/\n"
    "  --codes FILE     one-time enrolment codes, one per line (16+ characters each);\n"
    "                   else the one in $ENROL_CODE; else /enrol is closed\n"
    "  --cert-days N    validity of enrolled client certificates (default 30)\n"
    "  --ttl SECONDS    refuse tokens older than this on POST /message (default 60)\n"
    "  --max-sessions N clients with a live session at once (default 1024); when all\n"
    "                   are taken, POST /kex answers 503 with Retry-After\n"
    "  --port N         port to listen on (default 8004; 0 = any free port)\n"
    "  --host ADDR      address to listen on (default 127.0.0.1; ::1 for IPv6)\n"
    "  --max-body SIZE  largest request body accepted (default 1M; K/M suffixes)\n"
    "  -q, --quiet      print only the 'listening on URL' line and errors\n"
    "  -v, --verbose    also dump request and response bodies in hex\n"
    "  -h, --help       this text\n"
    "\n"
    "The first line on stdout is 'listening on URL'. Stop with Ctrl-C (exit 0).\n";

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
    /* the name the client wants to reach: we sign it, so it cannot be redirected */
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

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"max-body", required_argument, NULL, 'm'},
        {"ttl", required_argument, NULL, 't'},
        {"max-sessions", required_argument, NULL, 'S'},
        {"pki", required_argument, NULL, 'P'},
        {"codes", required_argument, NULL, 'C'},
        {"cert-days", required_argument, NULL, 'D'},
        CLI_COMMON_OPTIONS,
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
    web_config cfg = web_config_defaults();
    const char *pki = "build/pki", *codes = NULL;
    char path[4096];
    int c, rc = EXIT_FAILED, days = 30;

    narrate_init("04-server", "server");
    cfg.port = 8004;
    cfg.routes = routes;
    while ((c = getopt_long(argc, argv, "p:H:m:t:S:P:C:D:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(c, USAGE))
            continue;
        switch (c) {
        case 'p':
            cfg.port = cli_port("--port", optarg);
            break;
        case 'H':
            cfg.host = optarg;
            break;
        case 'm':
            cfg.max_body = cli_size("--max-body", optarg, 1, 64 * 1024 * 1024);
            break;
        case 't':
            g_ttl = (uint64_t)cli_long("--ttl", optarg, 1, 365L * 86400);
            break;
        case 'S':
            g_max_sessions = cli_long("--max-sessions", optarg, 1, 100000);
            break;
        case 'P':
            pki = optarg;
            break;
        case 'C':
            codes = optarg;
            break;
        case 'D':
            days = (int)cli_long("--cert-days", optarg, 1, 825);
            break;
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    /* at most --max-sessions clients at once, 10 minutes each; the table wipes
     * its keys, and has every thread's Fernet contexts forget them too */
    if (!(g_sessions = sessions_new((size_t)g_max_sessions, 600, EXCHANGE_KEY_LEN))) {
        errorf("start", "out of memory");
        return EXIT_FAILED;
    }
    sessions_on_drop(g_sessions, forget_session_key);
    /* the certificate's key signs every answer; the chain goes with it */
    snprintf(path, sizeof path, "%s/server.key", pki);
    if (!(g_sign_key = pki_key_read(path, NULL))) {
        errorf("start", "%s", pki_last_error());
        hint("run 'make pki' first, or point --pki at the folder it made");
        goto end;
    }
    snprintf(path, sizeof path, "%s/server-chain.crt", pki);
    if (!(g_chain = pki_certs_read(path))) {
        errorf("start", "%s", pki_last_error());
        goto end;
    }
    if (enrol_setup(pki, codes, days) == 0)
        rc = web_serve(&cfg);
end:
    enrol_teardown();
    sk_X509_pop_free(g_chain, X509_free);
    EVP_PKEY_free(g_sign_key);
    sessions_free(g_sessions);
    return rc;
}
