/*
 * 05-server - chapter 05: the chapter 01 server over HTTPS. Same routes, same
 * handlers; every byte now travels inside TLS, authenticated by the course
 * CA's certificate (`make pki`).
 *
 * Routes:
 *   GET  /        the secret, "fluffy tail" (text/plain)
 *   GET  /page    a small HTML page with a login form, for a browser
 *   POST /login   the form's target: the password now travels encrypted
 *   POST /echo    JSON in, JSON out: what was received plus the server time
 *   GET  /crl     the CA's revocation list (with --crl), so clients can check it
 * With --client-ca, the client must (or may) show a certificate too: / and
 * /page then greet it by the certificate's subject. With --crl as well, a
 * client certificate on that CRL is refused in the handshake.
 *
 * TLS policy (common/tls/tls.h): TLS 1.2 minimum (1.3 only with --tls13-only),
 * ECDHE + AEAD suites, server preference, resumption, HSTS. With SSLKEYLOGFILE
 * set, the session secrets go to that file for Wireshark.
 *
 * Needs: civetweb built for OpenSSL 3 (`make`), OpenSSL, jansson.
 */
#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cli.h"
#include "tls/tls.h"
#include "net/webserver.h"

/* The course PKI made by `make pki` (chapter 04). */
#define PKI_SERVER_CHAIN "build/pki/server-chain.crt"
#define PKI_SERVER_KEY "build/pki/server.key"

/* civetweb settings (see bench/https.sh). TCP_NODELAY: a small response must
 * not wait for the ACK of the session tickets sent just before it (Nagle and
 * delayed ACKs cost 40 ms per request otherwise). */
#define CIVETWEB_TUNING "tcp_nodelay", "1", "keep_alive_timeout_ms", "15000"

static const char USAGE[] =
    "usage: 05-server [--port N] [--host ADDR] [--cert F --key F] [--tls13-only]\n"
    "                 [--client-ca F [--client-cert required|optional]] [--crl F]\n"
    "                 [--threads N] [--max-body SIZE] [--quiet] [--verbose]\n"
    "\n"
    "Chapter 05: the chapter 01 server over HTTPS (TLS 1.2 and 1.3).\n"
    "Capture it with `make 05-capture`: without the key log you see only the handshake.\n"
    "\n"
    "  --port N           port to listen on (default 8005; 0 = any free port)\n"
    "  --host ADDR        address to listen on (default 127.0.0.1; ::1 for IPv6)\n"
    "  --cert F           certificate chain, PEM (default " PKI_SERVER_CHAIN ")\n"
    "  --key F            its private key, PEM (default " PKI_SERVER_KEY ")\n"
    "  --tls13-only       refuse TLS 1.2 too\n"
    "  --client-ca F      ask clients for a certificate issued by this CA (mutual TLS)\n"
    "  --client-cert M    required (default with --client-ca) or optional\n"
    "  --crl F            serve this CRL on GET /crl; with --client-ca, refuse the\n"
    "                     client certificates it revokes (and SIGHUP reads F again)\n"
    "  --threads N        worker threads = connections served at once (default 32)\n"
    "  --max-body SIZE    largest request body accepted (default 1M; K/M suffixes)\n"
    "  -q, --quiet        print only the 'listening on URL' line and errors\n"
    "  -v, --verbose      also dump request and response bodies in hex\n"
    "  -h, --help         this text\n"
    "\n"
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

/* The verified client certificate's subject, or 0 if the client sent none
 * (mutual TLS off or optional). civetweb only exposes certificates that
 * passed verification against --client-ca. */
static int client_subject(struct mg_connection *conn, char *out, size_t out_len)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (!ri->client_cert || !ri->client_cert->peer_cert)
        return 0;
    tls_name_text(X509_get_subject_name((X509 *)ri->client_cert->peer_cert), out, out_len);
    return out[0] != '\0';
}

static int get_secret(struct mg_connection *conn, void *arg)
{
    char who[256], reply[320];
    (void)arg;
    if (!client_subject(conn, who, sizeof who)) {
        note("sending the secret inside TLS");
        return web_reply_text(conn, 200, SECRET);
    }
    note("client certificate: %s; sending the secret to it", who);
    snprintf(reply, sizeof reply, "%s (for %s)", SECRET, who);
    return web_reply_text(conn, 200, reply);
}

/* Append text to out (of out_len, used n) with HTML's special characters escaped. */
static size_t html_escape(char *out, size_t out_len, size_t n, const char *text)
{
    for (const char *s = text; *s; s++) {
        const char *e = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;"
                      : *s == '"' ? "&quot;" : NULL;
        size_t len = e ? strlen(e) : 1;
        if (n + len >= out_len)
            break;
        memcpy(out + n, e ? e : s, len);
        n += len;
    }
    out[n] = '\0';
    return n;
}

static int get_page(struct mg_connection *conn, void *arg)
{
    char who[256], page[4096]; /* head + 6 x 255 escaped + form: always fits */
    size_t n;
    (void)arg;
    n = (size_t)snprintf(page, sizeof page, "%s", PAGE_HEAD);
    if (client_subject(conn, who, sizeof who)) {
        note("greeting the client certificate %s", who);
        n += (size_t)snprintf(page + n, sizeof page - n, "<p id=\"hello\">Hello, ");
        n = html_escape(page, sizeof page, n, who);
        n += (size_t)snprintf(page + n, sizeof page - n, ": your certificate was verified.</p>\n");
    }
    snprintf(page + n, sizeof page - n, "%s", PAGE_FORM);
    return web_reply(conn, 200, "text/html; charset=utf-8", page, strlen(page));
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
    OPENSSL_cleanse(body, len);
    free(body);
    OPENSSL_cleanse(password, sizeof password);
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

/* GET /crl: the revocation list named by --crl, in DER as RFC 5280 wants it
 * over HTTP, read at each request so a new CRL shows at once. */
static int get_crl(struct mg_connection *conn, void *arg)
{
    const char *path = arg;
    BIO *in = NULL;
    X509_CRL *crl = NULL;
    unsigned char *der = NULL;
    int len = -1, st;

    if (!path)
        return web_reply_error(conn, 404, "no CRL is published here (start with --crl FILE)");
    if ((in = BIO_new_file(path, "r")) != NULL &&
        (crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL)) != NULL)
        len = i2d_X509_CRL(crl, &der);
    if (len <= 0)
        st = web_reply_error(conn, 500, "cannot read the CRL %s", path);
    else
        st = web_reply(conn, 200, "application/pkix-crl", der, (size_t)len);
    OPENSSL_free(der);
    X509_CRL_free(crl);
    BIO_free(in);
    return st;
}

/* What the TLS callbacks need: the policy and the mutual TLS settings. */
typedef struct server_tls {
    tls_server_policy policy;
    const char *client_ca;   /* NULL: no client certificates asked for */
    const char *client_mode; /* "required" or "optional" */
    const char *crl;         /* --crl: also checks client certificates (with client_ca) */
    tls_crl *crls;           /* its CRLs, read at start and on SIGHUP */
} server_tls;

/* civetweb calls this with its fresh SSL_CTX before it adds its own settings
 * (session id context, client verification). Return 0 so it goes on. */
static int init_ssl(void *ssl_ctx, void *arg)
{
    const server_tls *t = arg;
    if (tls_server_configure(ssl_ctx, &t->policy))
        return -1;
    if (t->client_ca)
        tls_client_verify_narrate(ssl_ctx);
    /* Mutual TLS: a certificate the CA revoked must not pass for its owner. */
    if (t->crls && tls_crl_attach(ssl_ctx, t->crls))
        return -1;
    return 0;
}

/* SIGHUP: the CA revoked a certificate and published a new CRL; take it
 * without a restart, so that no connection is dropped. */
static void reload_crl(void *arg)
{
    const server_tls *t = arg;
    if (tls_crl_reload(t->crls, t->crl, t->client_ca) == 0)
        note("revocation: reloaded %s (%s)", t->crl,
             tls_crl_covers_chain(t->crls) ? "every CA of the chain" : "the client's certificate only");
    else
        notice("revocation: kept the CRLs in force");
}

/* After the 'listening on URL' line: what this server enforces. */
static void announce(void *arg)
{
    const server_tls *t = arg;
    step("TLS %s, certificate chain %s", t->policy.tls13_only ? "1.3 only" : "1.2 and 1.3",
         t->policy.cert_chain);
    if (t->client_ca) {
        step("mutual TLS: a client certificate from %s is %s", t->client_ca, t->client_mode);
        if (t->crl)
            note("revocation: checked against %s (%s)", t->crl,
                 tls_crl_covers_chain(t->crls) ? "every CA of the chain"
                                               : "the client's certificate only");
        else
            notice("mutual TLS without --crl: a client certificate the CA has revoked is "
                   "still accepted");
    }
    tls_server_announce(&t->policy);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"max-body", required_argument, NULL, 'm'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"tls13-only", no_argument, NULL, '3'},
        {"client-ca", required_argument, NULL, 'A'},
        {"client-cert", required_argument, NULL, 'M'},
        {"crl", required_argument, NULL, 'C'},
        {"threads", required_argument, NULL, 't'},
        CLI_COMMON_OPTIONS,
        {0},
    };
    static web_route routes[] = {
        {"GET", "/", get_secret, NULL},
        {"GET", "/page", get_page, NULL},
        {"POST", "/login", post_login, NULL},
        {"POST", "/echo", post_echo, NULL},
        {"GET", "/crl", get_crl, NULL},
        {0},
    };
    /* Browsers that saw this once will use https:// only, for two years. */
    static const char *const headers[] = {"Strict-Transport-Security: max-age=63072000", NULL};
    const char *tuning[] = {CIVETWEB_TUNING};
    const char *copts[24];
    server_tls tls = {.policy = {PKI_SERVER_CHAIN, PKI_SERVER_KEY, 0, -1}, .client_mode = "required"};
    web_config cfg = web_config_defaults();
    int c, n = 0, rc;

    narrate_init("05-server", "server");
    cfg.port = 8005;
    /* civetweb gives each open connection a thread: browsers and scanners
     * keep several alive at once */
    cfg.threads = 32;
    cfg.routes = routes;
    cfg.tls = 1;
    cfg.extra_headers = headers;
    while ((c = getopt_long(argc, argv, "p:H:m:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
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
        case 'c':
            tls.policy.cert_chain = optarg;
            break;
        case 'k':
            tls.policy.key = optarg;
            break;
        case '3':
            tls.policy.tls13_only = 1;
            break;
        case 'A':
            tls.client_ca = optarg;
            break;
        case 'M':
            if (strcmp(optarg, "required") != 0 && strcmp(optarg, "optional") != 0)
                cli_usage_error("--client-cert must be 'required' or 'optional', not '%s'", optarg);
            tls.client_mode = optarg;
            break;
        case 'C':
            routes[4].arg = optarg;
            tls.crl = optarg;
            break;
        case 't':
            cfg.threads = (int)cli_long("--threads", optarg, 1, 1024);
            break;
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);

    /* Check the files now: one readable line instead of a failed start. */
    const char *must_read[] = {tls.client_ca, routes[4].arg};
    for (size_t i = 0; i < sizeof must_read / sizeof *must_read; i++) {
        if (must_read[i] && access(must_read[i], R_OK) != 0) {
            errorf("cannot read", "%s: %s", must_read[i], strerror(errno));
            hint("`make pki` creates build/pki/root.crt (--client-ca) and build/pki/crl.pem (--crl)");
            return EXIT_FAILED;
        }
    }
    if (tls_check_server_files(&tls.policy) ||
        (tls.client_ca && tls.crl && !(tls.crls = tls_crl_load(tls.crl, tls.client_ca))) ||
        tls_keylog_open_from_env())
        return EXIT_FAILED;
    for (size_t i = 0; i < sizeof tuning / sizeof *tuning; i++)
        copts[n++] = tuning[i];
    /* TLS 1.2+ ("4") or 1.3 only ("5"), in civetweb's words; tls.c sets the same */
    copts[n++] = "ssl_protocol_version";
    copts[n++] = tls.policy.tls13_only ? "5" : "4";
    if (tls.client_ca) {
        /* Mutual TLS: trust only --client-ca for client certificates, never
         * the system's CA store. */
        copts[n++] = "ssl_verify_peer";
        copts[n++] = strcmp(tls.client_mode, "required") == 0 ? "yes" : "optional";
        copts[n++] = "ssl_ca_file";
        copts[n++] = tls.client_ca;
        copts[n++] = "ssl_default_verify_paths";
        copts[n++] = "no";
        copts[n++] = "ssl_verify_depth";
        copts[n++] = "4";
    }
    copts[n] = NULL;
    cfg.civetweb_options = copts;
    cfg.init_ssl = init_ssl;

    cfg.init_ssl_arg = &tls;
    cfg.on_listening = announce;
    cfg.on_listening_arg = &tls;
    if (tls.crls) {
        cfg.on_reload = reload_crl;
        cfg.on_reload_arg = &tls;
    }
    rc = web_serve(&cfg);
    tls_keylog_close();
    tls_crl_free(tls.crls);
    return rc;
}
