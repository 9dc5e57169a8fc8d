/* SPDX-License-Identifier: MIT */
/*
 * 05-server - chapter 05: the chapter 01 server over HTTPS. Same routes and
 * handlers, every byte inside TLS, authenticated by the course CA (`make pki`).
 *
 * Routes:
 *   GET  /       the secret, "fluffy tail" (text/plain)
 *   GET  /page   a small HTML page with a login form, for a browser
 *   POST /login  the form's target (user=..&password=..): the password now
 *                travels encrypted
 *   POST /echo   JSON in, JSON out: what was received plus the server time
 *   GET  /crl    the CA's revocation list (with --crl), so clients can check it
 * The TLS policy is in policy.c, mutual TLS (--client-ca, --crl) in mtls.c.
 *
 * Needs: civetweb built for OpenSSL 3 (`make`), OpenSSL, jansson.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "mtls.h"
#include "net/webserver.h"
#include "policy.h"
#include "tls/tls.h"

/* The course PKI made by `make pki` (chapter 04). */
#define PKI_SERVER_CHAIN "build/pki/server-chain.crt"
#define PKI_SERVER_KEY "build/pki/server.key"

static const char SYNOPSIS[] =
    "[--cert F --key F] [--tls13-only]\n                 " MTLS_SYNOPSIS "                 ";
static const char ABOUT[] =
    "Chapter 05: the chapter 01 server over HTTPS (TLS 1.2 and 1.3).\n"
    "Capture it with `make 05-capture`: without the key log you see only the handshake.\n";
static const char OPTIONS_HELP[] =
    "  --cert F         certificate chain, PEM (default " PKI_SERVER_CHAIN ")\n"
    "  --key F          its private key, PEM (default " PKI_SERVER_KEY ")\n"
    "  --tls13-only     refuse TLS 1.2 too\n" MTLS_HELP;
static const char EPILOGUE[] =
    "Environment: SSLKEYLOGFILE=FILE writes the TLS secrets there (for Wireshark).\n"
    "The first line on stdout is 'listening on URL'. Stop with Ctrl-C (exit 0).\n"
    "With --client-ca and --crl, `kill -HUP PID` takes a new CRL without a restart.\n";

static const char SECRET[] = "fluffy tail";

static const char PAGE_HEAD[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>Chapter 05: HTTPS</title></head>\n"
    "<body><h1>Chapter 05: HTTPS</h1>\n"
    "<p>This page travelled inside TLS. An eavesdropper sees the server name, sizes and "
    "timing; not this text, and no one on the path could change it.</p>\n";
static const char PAGE_FORM[] =
    "<form method=\"post\" action=\"/login\">\n"
    "<label>User <input name=\"user\"></label>\n"
    "<label>Password <input name=\"password\" type=\"password\"></label>\n"
    "<button type=\"submit\">Log in (encrypted)</button>\n"
    "</form></body></html>\n";

static int get_secret(struct mg_connection *conn, void *arg)
{
    char reply[320];
    (void)arg;
    if (mtls_secret_for(conn, SECRET, reply, sizeof reply))
        return web_reply_text(conn, 200, reply);
    note("sending the secret inside TLS");
    return web_reply_text(conn, 200, SECRET);
}

static int get_page(struct mg_connection *conn, void *arg)
{
    char hello[2048], page[4096];
    (void)arg;
    mtls_greeting_html(conn, hello, sizeof hello);
    int n = snprintf(page, sizeof page, "%s%s%s", PAGE_HEAD, hello, PAGE_FORM);
    if (n < 0 || (size_t)n >= sizeof page)
        return web_reply_error(conn, 500, "the page does not fit its buffer");
    return web_reply(conn, 200, "text/html; charset=utf-8", page, (size_t)n);
}

static int post_login(struct mg_connection *conn, void *arg)
{
    char *body, user[64], password[128];
    size_t len;
    int st, ok;
    (void)arg;
    if ((st = web_read_body(conn, &body, &len)) != 0)
        return st;
    ok = mg_get_var(body, len, "user", user, sizeof user) >= 0 &&
         mg_get_var(body, len, "password", password, sizeof password) >= 0;
    /* The body and the buffer hold the password, on every path. */
    OPENSSL_cleanse(body, len);
    free(body);
    OPENSSL_cleanse(password, sizeof password);
    if (!ok)
        return web_reply_error(conn, 400, "the form needs user and password fields");
    /* The server saw the password; nobody on the path did. */
    note("login form for '%s' arrived; its password crossed the network encrypted", user);
    char reply[128];
    snprintf(reply, sizeof reply, "welcome, %s (your password crossed the network encrypted)\n",
             user);
    return web_reply_text(conn, 200, reply);
}

static int post_echo(struct mg_connection *conn, void *arg)
{
    json_t *in = NULL;
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    int st;
    (void)arg;
    if ((st = web_read_json(conn, &in)) != 0)
        return st;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return web_reply_json(conn, 200, json_pack("{s:o, s:s}", "received", in, "server_time", now));
}

/* What the TLS callbacks need: the files and versions, and mutual TLS. */
typedef struct server_tls {
    tls_server_policy policy;
    mtls mtls;
} server_tls;

/* civetweb calls this with its fresh SSL_CTX before it adds its own settings
 * (session id context, client verification). Return 0 so it goes on. */
static int init_ssl(void *ssl_ctx, void *arg)
{
    server_tls *t = arg;
    return policy_apply(ssl_ctx, &t->policy) || tls_server_configure(ssl_ctx, &t->policy) ||
           mtls_init_ssl(ssl_ctx, &t->mtls) ? -1 : 0;
}

/* After the 'listening on URL' line: what this server enforces. */
static void announce(void *arg)
{
    const server_tls *t = arg;
    step("TLS %s, certificate chain %s", t->policy.tls13_only ? "1.3 only" : "1.2 and 1.3",
         t->policy.cert_chain);
    mtls_announce(&t->mtls);
    tls_server_announce(&t->policy);
}

static int option(int c, const char *arg, void *ctx)
{
    server_tls *t = ctx;
    switch (c) {
    case 'c':
        t->policy.cert_chain = arg;
        return 1;
    case 'k':
        t->policy.key = arg;
        return 1;
    case '3':
        t->policy.tls13_only = 1;
        return 1;
    }
    return mtls_option(&t->mtls, c, arg);
}

int main(int argc, char **argv)
{
    static const struct option own[] = {
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"tls13-only", no_argument, NULL, '3'},
        MTLS_OPTIONS,
        {0},
    };
    server_tls tls = {{PKI_SERVER_CHAIN, PKI_SERVER_KEY, 0, -1}, MTLS_DEFAULTS};
    web_route routes[] = {
        {"GET", "/", get_secret, NULL},
        {"GET", "/page", get_page, NULL},
        {"POST", "/login", post_login, NULL},
        {"POST", "/echo", post_echo, NULL},
        {"GET", "/crl", mtls_get_crl, &tls.mtls},
        {0},
    };
    const cli_program prog = {.synopsis = SYNOPSIS, .about = ABOUT, .options_help = OPTIONS_HELP,
                              .epilogue = EPILOGUE, .options = own, .option = option, .ctx = &tls};
    cli_server srv = cli_server_defaults(COURSE_PORT(5));
    /* Browsers that saw this once will use https:// only, for two years. */
    static const char *const headers[] = {"Strict-Transport-Security: max-age=63072000", NULL};

    narrate_init("05-server", "server");
    srv.threads = 32; /* a thread per open connection: browsers keep several open */
    cli_parse_server(argc, argv, &prog, &srv);
    /* civetweb's settings (bench/https.sh). TCP_NODELAY: a small response must
     * not wait 40 ms for the ACK of the session tickets sent just before it.
     * TLS 1.2+ ("4") or 1.3 only ("5") in civetweb's words, as policy.c says. */
    const char *copts[16] = {"tcp_nodelay", "1", "keep_alive_timeout_ms", "15000",
                             "ssl_protocol_version", tls.policy.tls13_only ? "5" : "4"};
    if (mtls_check_files(&tls.mtls) || tls_check_server_files(&tls.policy) ||
        mtls_load_crls(&tls.mtls) ||
        mtls_civetweb_options(&tls.mtls, copts, sizeof copts / sizeof *copts) ||
        tls_keylog_open_from_env()) {
        mtls_free(&tls.mtls); /* the CRLs may be read when a later check fails */
        return EXIT_FAILED;
    }
    web_config cfg = web_config_for(&srv);
    cfg.routes = routes;
    cfg.tls = 1;
    cfg.extra_headers = headers;
    cfg.civetweb_options = copts;
    cfg.init_ssl = init_ssl;
    cfg.init_ssl_arg = &tls;
    cfg.on_listening = announce;
    cfg.on_listening_arg = &tls;
    cfg.on_reload = tls.mtls.crls ? mtls_reload : NULL; /* NULL: SIGHUP stops the server */
    cfg.on_reload_arg = &tls.mtls;
    int rc = web_serve(&cfg);
    tls_keylog_close();
    mtls_free(&tls.mtls);
    return rc;
}
