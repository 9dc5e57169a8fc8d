/* SPDX-License-Identifier: MIT */
/*
 * session-driver - drives http_session (common/net/httpclient.h) against
 * exporter-server, for tests/interop/06_exporter.sh: one kept-alive TLS
 * connection for many requests, the body built from the exporter of the
 * connection that carries it, and a new connection (and a new body) after
 * the server closes the old one.
 *
 *   session-driver reuse  --url URL --cacert F [--cert F --key F] [--narrate]
 *   session-driver nobind --url URL --cacert F [--tls12] [--narrate]
 *
 * reuse prints one "ok: ..." line per check it made and exits 0, or the
 * first failed check as an error and exits 1. nobind sends a body that needs
 * a channel binding over a connection that has none (plain HTTP, or TLS 1.2
 * without the extended master secret): the request must fail without the
 * body function ever running (exit 0 when it does so).
 */
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "net/httpclient.h"
#include "tls/tls.h"

static const char USAGE[] =
    "usage: session-driver reuse  --url URL --cacert F [--cert F --key F] [--narrate]\n"
    "       session-driver nobind --url URL [--cacert F] [--tls12] [--narrate]\n";

/* what the body function saw, call by call */
typedef struct binder {
    int calls;
    uint8_t exporter[32];
} binder;

/* The body that binds the channel: the hex of the connection's exporter
 * (chapter 06 puts it in a signed HELLO; the hex alone is enough to check
 * which connection a body was made for). */
static int bind_body(const uint8_t exporter[32], void *arg, char **body, size_t *len)
{
    binder *b = arg;
    b->calls++;
    memcpy(b->exporter, exporter, 32);
    if (!(*body = hex_encode(exporter, 32)))
        return -1;
    *len = strlen(*body);
    return 0;
}

static int fail(const char *what, const char *fmt, ...) COURSE_PRINTF(2, 3);
static int fail(const char *what, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    errorf(what, "%s", why);
    return EXIT_FAILED;
}

/* One request; the session's exporter (as hex) after it into hex. */
static int request(http_session *s, const http_session_request *r, http_response *res,
                   char hex[65])
{
    uint8_t cb[32];
    char *h;
    if (http_session_do(s, r, res) != 0) {
        errorf(r->path, "%s", res->error);
        return -1;
    }
    if (http_session_exporter(s, cb) != 0 || !(h = hex_encode(cb, 32))) {
        errorf(r->path, "the session knows no exporter for the connection it used");
        http_response_free(res);
        return -1;
    }
    snprintf(hex, 65, "%s", h);
    free(h);
    OPENSSL_cleanse(cb, sizeof cb);
    result("%s %s -> %ld, new connections %ld, exporter %s", r->method, r->path, res->status,
           res->new_connections, hex);
    return 0;
}

static int reuse(http_session *s)
{
    binder b = {0};
    http_session_request get = {.method = "GET", .path = "/exporter"};
    http_session_request bound = {.method = "POST",
                                  .path = "/bound",
                                  .content_type = "text/plain",
                                  .body_fn = bind_body,
                                  .body_arg = &b};
    http_session_request close_it = {.method = "GET", .path = "/close"};
    http_response res;
    char first[65], second[65], mine[65], *h;
    X509 *cert;
    int rc = EXIT_FAILED;

    /* 1. a new connection: the server's value is the session's */
    if (request(s, &get, &res, first) != 0)
        return EXIT_FAILED;
    if (res.status != 200 || strcmp(res.body, first) != 0 || res.new_connections != 1) {
        http_response_free(&res);
        return fail("GET /exporter", "expected 200, one new connection and %s, got %s", first,
                    res.body ? res.body : "");
    }
    http_response_free(&res);
    result("ok: the server's exporter is the session's, on a new connection");

    /* 2. the body is made on the kept connection, from its exporter */
    if (request(s, &bound, &res, second) != 0)
        return EXIT_FAILED;
    h = hex_encode(b.exporter, 32);
    snprintf(mine, sizeof mine, "%s", h ? h : "");
    free(h);
    if (res.status != 200 || res.new_connections != 0 || strcmp(second, first) != 0 ||
        b.calls != 1 || strcmp(mine, first) != 0) {
        http_response_free(&res);
        return fail("POST /bound", "expected the kept connection %s and its body, got %s",
                    first, mine);
    }
    result("ok: %s", res.body);
    http_response_free(&res);
    result("ok: the second request kept the connection (same exporter, no new connection)");

    /* 3. the server closes the connection after this answer */
    if (request(s, &close_it, &res, second) != 0)
        return EXIT_FAILED;
    if (res.status != 200 || strcmp(second, first) != 0 || res.new_connections != 0) {
        http_response_free(&res);
        return fail("GET /close", "expected the kept connection %s, got %s", first, second);
    }
    http_response_free(&res);

    /* 4. a new connection, and the body made again for it */
    if (request(s, &bound, &res, second) != 0)
        return EXIT_FAILED;
    h = hex_encode(b.exporter, 32);
    snprintf(mine, sizeof mine, "%s", h ? h : "");
    free(h);
    if (res.status != 200 || res.new_connections != 1 || strcmp(second, first) == 0 ||
        b.calls != 2 || strcmp(mine, second) != 0) {
        http_response_free(&res);
        return fail("POST /bound after the close",
                    "expected a new connection and a body made for it, got exporter %s, "
                    "body for %s",
                    second, mine);
    }
    result("ok: %s", res.body);
    http_response_free(&res);
    result("ok: after the server closed the connection, a new one carried the request and the "
           "body was made again for it");

    /* 5. the server's certificate of that connection */
    if ((cert = http_session_server_cert(s)) != NULL) {
        char cn[128] = "";
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        result("ok: server certificate CN=%s", cn);
        X509_free(cert);
        rc = EXIT_OK;
    } else {
        errorf("server certificate", "the session has none");
    }

    /* 6. the client certificate, as the server verified it */
    if (rc == EXIT_OK) {
        http_session_request peer = {.method = "GET", .path = "/peer"};
        if (http_session_do(s, &peer, &res) != 0) {
            errorf("GET /peer", "%s", res.error);
            return EXIT_FAILED;
        }
        result("ok: the server sees client certificate %s", res.body);
        http_response_free(&res);
    }
    OPENSSL_cleanse(&b, sizeof b);
    return rc;
}

static int nobind(http_session *s)
{
    binder b = {0};
    http_session_request get = {.method = "GET", .path = "/exporter"};
    http_session_request bound = {.method = "POST",
                                  .path = "/bound",
                                  .content_type = "text/plain",
                                  .body_fn = bind_body,
                                  .body_arg = &b};
    http_response res;
    uint8_t cb[32];

    if (http_session_do(s, &get, &res) != 0) {
        errorf("GET /exporter", "%s", res.error);
        return EXIT_FAILED;
    }
    result("GET /exporter -> %ld: %s", res.status, res.body);
    http_response_free(&res);
    if (http_session_exporter(s, cb) == 0) {
        errorf("GET /exporter", "the session claims an exporter for this connection");
        return EXIT_FAILED;
    }
    result("ok: the session knows no exporter for this connection");
    if (http_session_do(s, &bound, &res) == 0) {
        errorf("POST /bound", "a body that needs a channel binding went out (status %ld)",
               res.status);
        http_response_free(&res);
        return EXIT_FAILED;
    }
    if (b.calls != 0) {
        errorf("POST /bound", "the body function ran without a channel binding");
        return EXIT_FAILED;
    }
    result("ok: refused: %s", res.error);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    http_session_opts o = {0};
    const char *mode = argc > 1 ? argv[1] : "";
    http_session *s;
    int rc;

    narrate_init("session-driver", "client");
    narrate_set_level(1, 0); /* the results and errors only */
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--narrate") == 0) { /* the requests, as http_do narrates them */
            narrate_set_level(0, 0);
            continue;
        }
        if (strcmp(argv[i], "--tls12") == 0) {
            o.tls_min_version = CURL_SSLVERSION_TLSv1_2;
            o.tls_max_version = CURL_SSLVERSION_MAX_TLSv1_2;
            continue;
        }
        if (!v)
            cli_usage_error("%s", USAGE);
        if (strcmp(argv[i], "--url") == 0)
            o.base_url = v;
        else if (strcmp(argv[i], "--cacert") == 0)
            o.cacert = v;
        else if (strcmp(argv[i], "--cert") == 0)
            o.client_cert = v;
        else if (strcmp(argv[i], "--key") == 0)
            o.client_key = v;
        else
            cli_usage_error("%s", USAGE);
        i++;
    }
    if (!o.base_url || (strcmp(mode, "reuse") != 0 && strcmp(mode, "nobind") != 0))
        cli_usage_error("%s", USAGE);
    /* as 05-client does: libcurl writes the key log, into a file made 0600 */
    if (tls_keylog_prepare_from_env() != 0)
        return EXIT_FAILED;
    http_client_init();
    if (!(s = http_session_new(&o))) {
        errorf("session", "out of memory");
        http_client_cleanup();
        return EXIT_FAILED;
    }
    rc = strcmp(mode, "reuse") == 0 ? reuse(s) : nobind(s);
    http_session_free(s);
    http_client_cleanup();
    return rc;
}
