/* SPDX-License-Identifier: MIT */
/*
 * exporter-server - a tiny TLS server on web_serve that shows what the web
 * layer knows about each connection: its RFC 9266 channel binding
 * (web_tls_exporter) and its verified client certificate (web_peer_cert).
 * tests/interop/06_exporter.sh holds it against `openssl s_client
 * -keymatexport`, and tests/helpers/session_driver.c against http_session.
 *
 *   GET  /exporter  the hex of this connection's exporter (409 if unknown)
 *   GET  /peer      the subject CN of the verified client certificate, or "none"
 *   POST /bound     body: the hex exporter the client computed; 200 "bound to
 *                   this connection: HEX" if it is this connection's, else 409
 *                   (if the body does not arrive, the exporter is narrated all
 *                   the same: what a handler would see then)
 *   GET  /close     the exporter, then the server closes the connection
 *
 * Every request narrates the exporter of its connection on stderr:
 *   exporter-server: note: tls-exporter of 127.0.0.1:PORT: HEX
 *
 * Test options (none is a course setting): --client-ca asks for an optional
 * client certificate; --renegotiation allows TLS 1.2 renegotiation (civetweb
 * forbids it), and --fail-renegotiation lets one start and then fails it;
 * --accept-any-client-cert keeps a handshake going whatever the client's
 * certificate (what web_peer_cert must not take for verified); --no-ems
 * refuses TLS 1.2's extended master secret.
 */
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "net/webserver.h"
#include "tls/tls.h"

static const char ABOUT[] = "A TLS server that answers each connection's channel binding "
                            "(RFC 9266 tls-exporter) and verified client certificate.";
static const char OPTIONS_HELP[] =
    "  --cert F --key F       the server's certificate chain and key (PEM; default build/pki)\n"
    "  --client-ca F          ask for a client certificate (optional) issued under F\n"
    "  --tls13-only           refuse TLS 1.2\n"
    "  --renegotiation        allow TLS 1.2 renegotiation (a test of a second handshake)\n"
    "  --fail-renegotiation   ... and fail it once it has started (at its ClientHello)\n"
    "  --accept-any-client-cert  let the handshake go on with an unverified client cert\n"
    "  --no-ems               refuse TLS 1.2's extended master secret (RFC 7627)\n";

typedef struct helper {
    tls_server_policy policy;
    const char *client_ca;
    int renegotiation;
    int accept_any;
    int no_ems;
    int fail_renegotiation;
} helper;

/* The connection's exporter as hex into out (2 * WEB_EXPORTER_LEN + 1), or
 * -1 when the web layer does not know it. */
static int exporter_hex(struct mg_connection *conn, char *out)
{
    uint8_t cb[WEB_EXPORTER_LEN];
    char *hex;
    int rc = -1;
    if (web_tls_exporter(conn, cb) == 0 && (hex = hex_encode(cb, sizeof cb)) != NULL) {
        snprintf(out, 2 * WEB_EXPORTER_LEN + 1, "%s", hex);
        free(hex);
        rc = 0;
    }
    OPENSSL_cleanse(cb, sizeof cb);
    if (rc == 0)
        notice("tls-exporter of %s:%d: %s", web_peer(conn), mg_get_request_info(conn)->remote_port,
               out);
    else
        notice("tls-exporter of %s:%d: unknown", web_peer(conn),
               mg_get_request_info(conn)->remote_port);
    return rc;
}

static int get_exporter(struct mg_connection *conn, void *arg)
{
    char hex[2 * WEB_EXPORTER_LEN + 1];
    (void)arg;
    if (exporter_hex(conn, hex) != 0)
        return web_reply_error(conn, 409, "this connection has no channel binding");
    return web_reply_text(conn, 200, hex);
}

static int get_close(struct mg_connection *conn, void *arg)
{
    web_close_after_reply(conn);
    return get_exporter(conn, arg);
}

static int get_peer(struct mg_connection *conn, void *arg)
{
    X509 *peer = web_peer_cert(conn);
    char cn[256] = "none";
    (void)arg;
    if (peer &&
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn) < 0)
        snprintf(cn, sizeof cn, "(no CN)");
    return web_reply_text(conn, 200, cn);
}

static int post_bound(struct mg_connection *conn, void *arg)
{
    char hex[2 * WEB_EXPORTER_LEN + 1], reply[160], *body;
    size_t len;
    int st;
    (void)arg;
    if ((st = web_read_body(conn, &body, &len)) != 0) {
        /* What a handler sees of the channel after its body failed to come
         * (a TLS 1.2 renegotiation that broke off mid-body, say): narrated,
         * and it must never be the first handshake's value. */
        exporter_hex(conn, hex);
        return st;
    }
    if (exporter_hex(conn, hex) != 0) {
        free(body);
        return web_reply_error(conn, 409, "this connection has no channel binding");
    }
    st = len == strlen(hex) && CRYPTO_memcmp(body, hex, len) == 0;
    free(body);
    if (!st)
        return web_reply_error(conn, 409, "bound to another connection: this one's is %s", hex);
    snprintf(reply, sizeof reply, "bound to this connection: %s", hex);
    return web_reply_text(conn, 200, reply);
}

/* A verify callback that keeps every handshake going: OpenSSL still records
 * its verdict (SSL_get_verify_result), which web_peer_cert must read. */
static int accept_any(int preverify_ok, X509_STORE_CTX *store)
{
    (void)preverify_ok;
    (void)store;
    return 1;
}

/* --fail-renegotiation: the first ClientHello of a connection goes on, the
 * second (a renegotiation, which OpenSSL has started by then) is refused. */
static int g_hello_idx = -1;
static int second_hello_fails(SSL *ssl, int *alert, void *arg)
{
    (void)arg;
    if (SSL_get_ex_data(ssl, g_hello_idx)) {
        *alert = SSL_AD_HANDSHAKE_FAILURE;
        return SSL_CLIENT_HELLO_ERROR;
    }
    SSL_set_ex_data(ssl, g_hello_idx, (void *)"seen");
    return SSL_CLIENT_HELLO_SUCCESS;
}

static int init_ssl(void *ssl_ctx, void *arg)
{
    helper *h = arg;
    SSL_CTX *ctx = ssl_ctx;
    if (tls_server_configure(ctx, &h->policy) != 0)
        return -1;
    /* civetweb forbids renegotiation, and OpenSSL 3 refuses a client's by
     * default: both undone, for a test of a second handshake */
    if (h->renegotiation || h->fail_renegotiation) {
        SSL_CTX_clear_options(ctx, SSL_OP_NO_RENEGOTIATION);
        SSL_CTX_set_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    }
    if (h->fail_renegotiation) {
        if (g_hello_idx < 0 && (g_hello_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL)) < 0)
            return -1;
        SSL_CTX_set_client_hello_cb(ctx, second_hello_fails, NULL);
    }
    /* the store's callback: civetweb sets the SSL_CTX's own after this
     * returns (ssl_verify_peer), and OpenSSL then falls back to this one */
    if (h->accept_any)
        X509_STORE_set_verify_cb(SSL_CTX_get_cert_store(ctx), accept_any);
    /* a TLS 1.2 connection without EMS: one whose exporter is not unique */
    if (h->no_ems)
        SSL_CTX_set_options(ctx, SSL_OP_NO_EXTENDED_MASTER_SECRET);
    return 0;
}

static int option(int c, const char *arg, void *ctx)
{
    helper *h = ctx;
    switch (c) {
    case 'c':
        h->policy.cert_chain = arg;
        return 1;
    case 'k':
        h->policy.key = arg;
        return 1;
    case 'a':
        h->client_ca = arg;
        return 1;
    case '3':
        h->policy.tls13_only = 1;
        return 1;
    case 'r':
        h->renegotiation = 1;
        return 1;
    case 'A':
        h->accept_any = 1;
        return 1;
    case 'E':
        h->no_ems = 1;
        return 1;
    case 'F':
        h->fail_renegotiation = 1;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option own[] = {
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"client-ca", required_argument, NULL, 'a'},
        {"tls13-only", no_argument, NULL, '3'},
        {"renegotiation", no_argument, NULL, 'r'},
        {"accept-any-client-cert", no_argument, NULL, 'A'},
        {"no-ems", no_argument, NULL, 'E'},
        {"fail-renegotiation", no_argument, NULL, 'F'},
        {0},
    };
    helper h = {{"build/pki/server-chain.crt", "build/pki/server.key", 0, -1}, NULL, 0, 0, 0, 0};
    static const web_route routes[] = {
        {"GET", "/exporter", get_exporter, NULL},
        {"GET", "/peer", get_peer, NULL},
        {"POST", "/bound", post_bound, NULL},
        {"GET", "/close", get_close, NULL},
        {0},
    };
    const cli_program prog = {.synopsis = "[--cert F --key F] [--client-ca F] [--tls13-only]",
                              .about = ABOUT,
                              .options_help = OPTIONS_HELP,
                              .options = own,
                              .option = option,
                              .ctx = &h};
    cli_server srv = cli_server_defaults(0);
    const char *copts[16] = {"ssl_protocol_version", NULL};
    size_t n = 2;
    int rc;

    narrate_init("exporter-server", "server");
    cli_parse_server(argc, argv, &prog, &srv);
    copts[1] = h.policy.tls13_only ? "5" : "4";
    if (h.client_ca) {
        copts[n++] = "ssl_verify_peer";
        copts[n++] = "optional";
        copts[n++] = "ssl_ca_file";
        copts[n++] = h.client_ca;
        copts[n++] = "ssl_default_verify_paths";
        copts[n++] = "no";
    }
    if (tls_check_server_files(&h.policy) || tls_keylog_open_from_env())
        return EXIT_FAILED;
    web_config cfg = web_config_for(&srv);
    cfg.routes = routes;
    cfg.tls = 1;
    cfg.civetweb_options = copts;
    cfg.init_ssl = init_ssl;
    cfg.init_ssl_arg = &h;
    rc = web_serve(&cfg);
    tls_keylog_close();
    return rc;
}
