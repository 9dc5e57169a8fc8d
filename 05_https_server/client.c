/* SPDX-License-Identifier: MIT */
/*
 * 05-client - chapter 05: the chapter 01 client over HTTPS (libcurl).
 *
 * GETs the secret from 05-server and prints it; with --post it sends JSON to
 * /echo. Before any byte of HTTP, the TLS handshake: the client checks that
 * the server's certificate chain leads to a CA it trusts (--cacert, the course
 * CA by default), that it has not expired or been revoked (--crl), and that it
 * names the host in the URL. The narration shows the TLS version, the cipher
 * suite and the chain as checked; a failure is one line naming the reason,
 * then a hint.
 *
 * Needs: libcurl built with OpenSSL (Debian's libcurl4-openssl-dev).
 */
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "net/httpclient.h"
#include "pki/pki.h"
#include "tls/tls.h"

/* The course PKI made by `make pki` (chapter 04). */
#define PKI_CA "build/pki/root.crt"

static const char SYNOPSIS[] = "[--post JSON | --post-file FILE] [--cacert F] [--crl F]\n"
                               "                 [--cert F --key F] [--tls-version 1.1|1.2|1.3] ";
static const char ABOUT[] =
    "Chapter 05: the chapter 01 client over HTTPS. Verifies the server's certificate\n"
    "chain and host name, then fetches the secret ('The secret message is: ...').\n";
static const char OPTIONS_HELP[] =
    "  --post JSON      POST this JSON text to URL/echo and print the reply\n"
    "  --post-file F    the same with the body read from a file (at most 16M)\n"
    "  --cacert F       trust only the CA certificates in F (default " PKI_CA ")\n"
    "  --crl F          also check the server's certificate against this CRL\n"
    "  --cert F --key F present this client certificate (mutual TLS)\n"
    "  --tls-version V  offer only TLS version V (1.1 shows a server refusing it)\n";
static const char EPILOGUE[] =
    "Environment: SSLKEYLOGFILE=FILE makes libcurl write the TLS secrets there.\n"
    "Exit status: 0 success, 1 the request or the TLS handshake failed, 2 usage.\n";

typedef struct tls_options {
    long version; /* CURL_SSLVERSION_TLSv1_x or 0 for 1.2 and up */
    tls_chain chain;
    CURL *curl;   /* the transfer in progress */
} tls_options;

static void narrate_chain(const tls_chain *chain);

/* libcurl calls this once the connection (and its TLS handshake) is up and
 * before the request goes out: the moment to say what TLS agreed. */
static int on_connected(void *arg, char *ip, char *local_ip, int port, int local_port)
{
    tls_options *t = arg;
    struct curl_tlssessioninfo *info = NULL;
    (void)local_ip;
    (void)local_port;
    if (curl_easy_getinfo(t->curl, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info &&
        info->backend == CURLSSLBACKEND_OPENSSL && info->internals) {
        SSL *ssl = info->internals;
        step("TLS handshake with %s port %d done: %s, cipher suite %s%s", ip, port,
             SSL_get_version(ssl), SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)),
             SSL_session_reused(ssl) ? " (session resumed)" : "");
        step("the server's certificate chain, as checked against our CA");
        narrate_chain(&t->chain);
    }
    return CURL_PREREQFUNC_OK;
}

static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
    (void)curl;
    return tls_chain_watch(ssl_ctx, arg) == 0 ? CURLE_OK : CURLE_SSL_CONNECT_ERROR;
}

/* The options http_request does not name: the chain recorder, and for the
 * TLS 1.1 lesson a cipher list that lets OpenSSL offer it at all. */
static CURLcode customise(CURL *curl, void *arg)
{
    tls_options *t = arg;
    CURLcode rc = curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    t->curl = curl;
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, &t->chain);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_PREREQFUNCTION, on_connected);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_PREREQDATA, t);
    if (rc == CURLE_OK && t->version == CURL_SSLVERSION_TLSv1_1)
        rc = curl_easy_setopt(curl, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
    return rc;
}

/* The chain as the client checked it, root first. */
static void narrate_chain(const tls_chain *chain)
{
    for (int d = chain->depth_max; d >= 0; d--) {
        const tls_chain_cert *c = &chain->cert[d];
        note("depth %d: %s", d, c->subject);
        note("         issued by %s, valid until %s%s%s", c->issuer, c->not_after,
             c->names[0] ? ", for " : "", c->names);
        note("         %s", c->error ? X509_verify_cert_error_string(c->error) : "verified");
    }
}

/* One line naming the reason, then a hint; the chain if we saw one. */
static void report_failure(const char *what, const http_request *req, const http_response *res,
                           const tls_options *t)
{
    char reason[256], hint_text[512];
    /* libcurl's teardown leaves "shutdown while in init" behind: not the reason */
    ERR_clear_error();
    if (t->chain.depth_max >= 0) {
        step("the certificate chain the server sent");
        narrate_chain(&t->chain);
    }
    if (!tls_explain_failure(res->code, &t->chain, req->url, reason, sizeof reason, hint_text,
                             sizeof hint_text)) {
        http_report_failure(what, req, res);
        return;
    }
    errorf(what, "%s (curl: %s)", reason, res->error);
    hint("%s", hint_text);
}

/* Our certificate's dates (TLS_CLIENT_CERT_*): a server's "certificate
 * expired" alert then says whether ours is out of date or its CRL is. */
static int client_cert_dates(const char *path)
{
    X509 *cert = path ? pki_cert_read(path) : NULL;
    int dates = TLS_CLIENT_CERT_UNKNOWN;
    if (cert)
        dates = X509_cmp_current_time(X509_get0_notAfter(cert)) < 0 ? TLS_CLIENT_CERT_EXPIRED
                                                                      : TLS_CLIENT_CERT_IN_DATE;
    X509_free(cert);
    ERR_clear_error();
    return dates;
}

/* Set up the TLS side of a request; the request then goes out with http_do. */
static void tls_request(http_request *req, const char *const *files, tls_options *t)
{
    req->cacert = files[0];
    req->crlfile = files[1];
    req->client_cert = files[2];
    req->client_key = files[3];
    if (t->version) {
        req->tls_min_version = t->version;
        req->tls_max_version = t->version == CURL_SSLVERSION_TLSv1_1   ? CURL_SSLVERSION_MAX_TLSv1_1
                               : t->version == CURL_SSLVERSION_TLSv1_2 ? CURL_SSLVERSION_MAX_TLSv1_2
                                                                        : CURL_SSLVERSION_MAX_TLSv1_3;
    } else {
        req->tls_min_version = CURL_SSLVERSION_TLSv1_2;
    }
    req->customise = customise;
    req->customise_arg = t;
    tls_chain_init(&t->chain);
    t->chain.have_client_cert = files[2] != NULL;
    t->chain.client_cert_dates = client_cert_dates(files[2]);
}

static int get_secret(const char *base, const char *const *files, tls_options *t)
{
    http_request req = http_request_defaults();
    http_response res;
    char url[2048];

    if (http_url_join(url, sizeof url, base, "/"))
        cli_usage_error("--url is too long");
    req.url = url;
    tls_request(&req, files, t);
    step("GET %s: TLS handshake first, trusting only the CA in %s", url, files[0]);
    if (http_do(&req, &res) != 0) {
        report_failure("GET /", &req, &res, t);
        return EXIT_FAILED;
    }
    if (res.status != 200) {
        errorf("GET /", "the server answered %ld: %s", res.status, res.body);
        http_response_free(&res);
        return EXIT_FAILED;
    }
    step("got %zu bytes of %s, encrypted on the wire", res.body_len, res.content_type);
    result("The secret message is: %s", res.body);
    http_response_free(&res);
    return EXIT_OK;
}

static int post_echo(const char *base, const char *body, size_t len, const char *const *files,
                     tls_options *t)
{
    http_request req = http_request_defaults();
    http_response res;
    char url[2048];
    int rc = EXIT_OK;

    if (http_url_join(url, sizeof url, base, "/echo"))
        cli_usage_error("--url is too long");
    req.method = "POST";
    req.url = url;
    req.body = body;
    req.body_len = len;
    req.content_type = "application/json";
    tls_request(&req, files, t);
    step("POST %s with %zu bytes of JSON, inside TLS", url, len);
    if (http_do(&req, &res) != 0) {
        report_failure("POST /echo", &req, &res, t);
        return EXIT_FAILED;
    }
    if (res.status != 200) {
        /* the server explains itself in {"error": ...}; show its words */
        errorf("POST /echo", "the server answered %ld: %.*s", res.status,
               (int)strcspn(res.body, "\n"), res.body);
        rc = EXIT_FAILED;
    } else {
        step("the server echoed it back");
        result("%.*s", (int)strcspn(res.body, "\n"), res.body);
    }
    http_response_free(&res);
    return rc;
}

static long parse_version(const char *s)
{
    if (strcmp(s, "1.1") == 0)
        return CURL_SSLVERSION_TLSv1_1;
    if (strcmp(s, "1.2") == 0)
        return CURL_SSLVERSION_TLSv1_2;
    if (strcmp(s, "1.3") == 0)
        return CURL_SSLVERSION_TLSv1_3;
    cli_usage_error("--tls-version must be 1.1, 1.2 or 1.3, not '%s'", s);
    return 0;
}

/* The command line beyond --url: what to send, and the TLS files. */
typedef struct options {
    const char *files[4]; /* cacert, crl, client certificate, client key */
    long version;
} options;

static int option(int c, const char *arg, void *ctx)
{
    options *o = ctx;
    switch (c) {
    case 'a':
        o->files[0] = arg;
        return 1;
    case 'r':
        o->files[1] = arg;
        return 1;
    case 'c':
        o->files[2] = arg;
        return 1;
    case 'k':
        o->files[3] = arg;
        return 1;
    case 'T':
        o->version = parse_version(arg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option own[] = {
        {"cacert", required_argument, NULL, 'a'},
        {"crl", required_argument, NULL, 'r'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"tls-version", required_argument, NULL, 'T'},
        {0},
    };
    options o = {.files = {PKI_CA, NULL, NULL, NULL}};
    const cli_program prog = {.synopsis = SYNOPSIS, .about = ABOUT, .options_help = OPTIONS_HELP,
                              .epilogue = EPILOGUE, .options = own, .short_options = NULL,
                              .body_option = "post",
                              .option = option, .ctx = &o};
    cli_client cl = cli_client_defaults("https://localhost", COURSE_PORT(5));
    const char *url, *const *files = o.files;
    char *body = NULL;
    size_t len = 0;
    int have;
    tls_options t;
    int rc;

    memset(&t, 0, sizeof t);
    narrate_init("05-client", "client");
    cli_parse_client(argc, argv, &prog, &cl);
    url = cl.url;
    t.version = o.version;
    if (!files[2] != !files[3])
        cli_usage_error("--cert and --key go together");
    /* an https client that would quietly fall back to http:// teaches the wrong thing */
    if (strncasecmp(url, "https://", 8) != 0)
        cli_usage_error("05-client speaks HTTPS only: the URL must start with https:// (got %s)",
                        url);
    for (int i = 0; i < 4; i++) {
        if (files[i] && access(files[i], R_OK) != 0) {
            errorf("cannot read", "%s", files[i]);
            hint("`make pki` creates the course CA and certificates under build/pki/");
            return EXIT_FAILED;
        }
    }
    if (t.version == CURL_SSLVERSION_TLSv1_1)
        warning("offering only TLS 1.1, a deprecated version (RFC 8996): for the lesson only");
    /* libcurl reads SSLKEYLOGFILE in curl_global_init and writes it itself,
     * with fopen() (mode 0644 under the usual umask, an existing file's mode
     * kept): create or fix it as 0600 first. */
    if (tls_keylog_prepare_from_env())
        return EXIT_FAILED;
    if (getenv("SSLKEYLOGFILE") && getenv("SSLKEYLOGFILE")[0])
        notice("libcurl writes TLS session secrets to %s (SSLKEYLOGFILE): whoever has this "
               "file can decrypt the captured traffic",
               getenv("SSLKEYLOGFILE"));

    http_client_init();
    if ((have = cli_client_body(&cl, &body, &len)) < 0)
        rc = EXIT_FAILED;
    else
        rc = have ? post_echo(url, body, len, files, &t) : get_secret(url, files, &t);
    encoding_free_secret(body, len);
    http_client_cleanup();
    return rc;
}
