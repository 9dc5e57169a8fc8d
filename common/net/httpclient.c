/* SPDX-License-Identifier: MIT */
/* httpclient.c - see httpclient.h */
#include "net/httpclient.h"
#include "net_internal.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/encoding.h"
#include "core/narrate.h"
#include "net/exporter.h"

typedef struct transfer {
    http_response *res;
    size_t cap;
    size_t max;
    int too_big;
    CURL *curl;
    int tls_seen;
    int chunked_out; /* the request body goes chunked (a session's body function) */
    int secret_body; /* never narrate the request body (it holds a password) */
} transfer;

void http_client_init(void)
{
    /* libcurl reads SSLKEYLOGFILE here, so any key log must be set before. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_client_cleanup(void)
{
    curl_global_cleanup();
}

http_request http_request_defaults(void)
{
    http_request r;
    memset(&r, 0, sizeof r);
    r.method = "GET";
    r.timeout_ms = 10000;
    r.connect_timeout_ms = 5000;
    r.max_response = 8 * 1024 * 1024;
    return r;
}

void http_response_free(http_response *res)
{
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

/* Narrate header blocks line by line, exactly as they went over the wire. */
static void narrate_lines(int out, const char *data, size_t size)
{
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            size_t end = i;
            if (end > start && data[end - 1] == '\r')
                end--;
            if (end > start) {
                char shown[8192];
                const char *line = data + start, *colon = memchr(line, ':', end - start);
                size_t len = end - start;
                if (colon) { /* a header: a credential's value is not shown */
                    const char *v = colon + 1;
                    while (v < data + end && *v == ' ')
                        v++;
                    net_header_shown(line, (size_t)(colon - line), v, (size_t)(data + end - v), shown,
                                     sizeof shown);
                    line = shown;
                    len = strlen(shown);
                }
                if (out)
                    wire_out("%.*s", (int)len, line);
                else
                    wire_in("%.*s", (int)len, line);
            }
            start = i + 1;
        }
    }
}

/* Show a body as the text it is on the wire, when it is text (first 160
 * characters); binary bodies are shown only as --verbose hex dumps. */
static void narrate_body(int out, const char *data, size_t size)
{
    size_t n = size < 160 ? size : 160, line = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)data[i] < 0x20 && data[i] != '\n' && data[i] != '\r' && data[i] != '\t')
            return;
    size_t rest;
    while (line < n && data[line] != '\r' && data[line] != '\n')
        line++;
    n = line;
    if (n == 0)
        return;
    /* " ..." only when something was cut: a line break that merely ends
     * the body (as JSON replies have) is not more text */
    rest = n;
    while (rest < size && (data[rest] == '\r' || data[rest] == '\n'))
        rest++;
    const char *more = rest < size ? " ..." : "";
    if (out)
        wire_out("%.*s%s", (int)n, data, more);
    else
        wire_in("%.*s%s", (int)n, data, more);
}

/* A chunked body as sent holds its framing ("40\r\n" ... "\r\n", then
 * "0\r\n\r\n"): narrate the chunks' data, as the server will read it. 0 if
 * data is whole chunks, -1 if not (then it is narrated as it is). */
static int narrate_chunks(const char *data, size_t size)
{
    size_t i = 0;
    while (i < size) {
        size_t n = 0, start = i;
        while (i < size && ((data[i] >= '0' && data[i] <= '9') || (data[i] >= 'a' && data[i] <= 'f') ||
                            (data[i] >= 'A' && data[i] <= 'F')) && i - start < 8) {
            char c = data[i++];
            n = n * 16 + (size_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        if (i == start || i + 2 > size || data[i] != '\r' || data[i + 1] != '\n')
            return -1;
        i += 2;
        if (n > size - i || size - i - n < 2)
            return -1;
        if (n)
            narrate_body(1, data + i, n);
        i += n + 2; /* the chunk's own CRLF (the last chunk's is the end of the body) */
    }
    return 0;
}

static int on_debug(CURL *curl, curl_infotype type, char *data, size_t size, void *arg)
{
    /* arg: the transfer, or NULL (a session's handle between requests) */
    const transfer *t = arg;
    (void)curl;
    switch (type) {
    case CURLINFO_TEXT:
        /* libcurl's own remarks: connection and TLS steps */
        if (narrate_is_verbose())
            note("curl: %.*s", (int)(size && data[size - 1] == '\n' ? size - 1 : size), data);
        break;
    case CURLINFO_HEADER_OUT:
        narrate_lines(1, data, size);
        break;
    case CURLINFO_HEADER_IN:
        narrate_lines(0, data, size);
        break;
    case CURLINFO_DATA_OUT:
        if (t && t->secret_body) {
            /* a password: the narration is a log, and stays without it */
            wire_out("(%zu bytes of body: it holds a password, not shown)", size);
            break;
        }
        if (!(t && t->chunked_out && narrate_chunks(data, size) == 0))
            narrate_body(1, data, size);
        hexdump("request body as sent", data, size);
        break;
    case CURLINFO_DATA_IN:
        narrate_body(0, data, size);
        hexdump("response body as received", data, size);
        break;
    default:
        break;
    }
    return 0;
}

/* First header line back: the TLS handshake is over, note what it agreed. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    transfer *t = arg;
    size_t n = size * nmemb;
    if (!t->tls_seen) {
        struct curl_tlssessioninfo *info = NULL;
        t->tls_seen = 1;
        if (curl_easy_getinfo(t->curl, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info &&
            info->backend == CURLSSLBACKEND_OPENSSL && info->internals) {
            SSL *ssl = info->internals;
            snprintf(t->res->tls_version, sizeof t->res->tls_version, "%s", SSL_get_version(ssl));
            snprintf(t->res->tls_cipher, sizeof t->res->tls_cipher, "%s",
                     SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
        }
    }
    if (n > 13 && strncasecmp(data, "Content-Type:", 13) == 0) {
        const char *v = data + 13;
        size_t len = n - 13;
        while (len && (*v == ' ' || *v == '\t')) {
            v++;
            len--;
        }
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n'))
            len--;
        if (len >= sizeof t->res->content_type)
            len = sizeof t->res->content_type - 1;
        memcpy(t->res->content_type, v, len);
        t->res->content_type[len] = '\0';
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    transfer *t = arg;
    http_response *res = t->res;
    size_t n = size * nmemb;
    if (res->body_len + n > t->max) {
        t->too_big = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    if (res->body_len + n + 1 > t->cap) {
        size_t ncap = t->cap ? t->cap : 4096;
        char *nb;
        while (ncap < res->body_len + n + 1)
            ncap *= 2;
        nb = realloc(res->body, ncap);
        if (!nb)
            return 0;
        res->body = nb;
        t->cap = ncap;
    }
    memcpy(res->body + res->body_len, data, n);
    res->body_len += n;
    res->body[res->body_len] = '\0';
    return n;
}

/* curl_slist_append returns NULL when out of memory and leaves the list as
 * it was: keep the list (to free it) instead of losing it to NULL. */
static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

/* A body libcurl pulls from us (CURLOPT_READFUNCTION): a session's body
 * built by its body function once the connection is up. */
typedef struct stream_body {
    char *data; /* malloc'ed by the body function */
    size_t len;
    size_t sent;
} stream_body;

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    stream_body *b = arg;
    size_t room = size * nitems, n = b->len - b->sent;
    if (n > room)
        n = room;
    memcpy(buf, b->data + b->sent, n);
    b->sent += n;
    return n;
}

/* libcurl rewinds the body when it sends the request again on a new
 * connection (the kept-alive one was dead); the body function then builds a
 * new body for that connection anyway, before any of it is read. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
    stream_body *b = arg;
    if (origin != SEEK_SET || offset != 0)
        return CURL_SEEKFUNC_CANTSEEK;
    b->sent = 0;
    return CURL_SEEKFUNC_OK;
}

/* Everything a request sets on a handle, in one place for http_do and
 * http_session_do: where to, how long, the narration, the body, the headers
 * and the TLS options. stream: the body comes from a stream_body (a session's
 * body function) rather than req->body. Returns 0, or -1 with res->error set
 * (out of memory); *hdrs is the caller's to free either way. */
static int configure(CURL *curl, const http_request *req, transfer *t, char *errbuf,
                     stream_body *stream, struct curl_slist **hdrs, http_response *res)
{
    char ctype[160];

    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    /* Only http and https, and never follow redirects silently. */
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "https-from-the-ground-up/1.0");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(curl, CURLOPT_DEBUGDATA, t);
    curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L); /* feeds on_debug, prints nothing itself */

    t->secret_body = req->secret_body;
    if (stream) {
        /* No length up front: the body does not exist until the connection
         * does, so it goes chunked (webserver.c reads chunked bodies). */
        t->chunked_out = 1;
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, stream);
        curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(curl, CURLOPT_SEEKDATA, stream);
    } else if (strcmp(req->method, "GET") != 0 || req->body) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (req->content_type) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s", req->content_type);
        if (add_header(hdrs, ctype) != 0)
            goto no_memory;
    }
    for (const char *const *h = req->headers; h && *h; h++)
        if (add_header(hdrs, *h) != 0)
            goto no_memory;
    /* no "Expect: 100-continue" round trip: it only confuses the narration */
    if (add_header(hdrs, "Expect:") != 0)
        goto no_memory;
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *hdrs);

    if (req->cacert)
        curl_easy_setopt(curl, CURLOPT_CAINFO, req->cacert);
    if (req->crlfile)
        curl_easy_setopt(curl, CURLOPT_CRLFILE, req->crlfile);
    if (req->client_cert)
        curl_easy_setopt(curl, CURLOPT_SSLCERT, req->client_cert);
    if (req->client_key)
        curl_easy_setopt(curl, CURLOPT_SSLKEY, req->client_key);
    if (req->tls_min_version || req->tls_max_version)
        curl_easy_setopt(curl, CURLOPT_SSLVERSION, req->tls_min_version | req->tls_max_version);
    return 0;
no_memory:
    /* a request without one of its headers is not the request asked for */
    res->code = CURLE_OUT_OF_MEMORY;
    snprintf(res->error, sizeof res->error, "out of memory while adding the request headers");
    return -1;
}

/* Run the configured transfer and fill res. 0 when a response arrived. */
static int perform(CURL *curl, transfer *t, const char *errbuf, size_t max_response,
                   http_response *res)
{
    long connects = 0;
    res->code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
    if (curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
        res->new_connections = connects;
    if (t->too_big) {
        snprintf(res->error, sizeof res->error, "response body is larger than %zu bytes",
                 max_response);
        return -1;
    }
    if (res->code != CURLE_OK) {
        if (!res->error[0]) /* a callback may have said why already */
            snprintf(res->error, sizeof res->error, "%s",
                     errbuf[0] ? errbuf : curl_easy_strerror(res->code));
        return -1;
    }
    if (!res->body) { /* an empty body is still a string */
        res->body = calloc(1, 1);
        if (!res->body) {
            res->code = CURLE_OUT_OF_MEMORY;
            snprintf(res->error, sizeof res->error, "out of memory");
            return -1;
        }
    }
    return 0;
}

static void transfer_init(transfer *t, http_response *res, CURL *curl, size_t max)
{
    memset(res, 0, sizeof *res);
    memset(t, 0, sizeof *t);
    t->res = res;
    t->max = max;
    t->curl = curl;
}

int http_do(const http_request *req, http_response *res)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    transfer t;
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = -1;

    transfer_init(&t, res, curl, req->max_response);
    if (!curl) {
        res->code = CURLE_FAILED_INIT;
        snprintf(res->error, sizeof res->error, "libcurl could not start a transfer");
        return -1;
    }
    if (configure(curl, req, &t, errbuf, NULL, &hdrs, res) != 0)
        goto end;
    if (req->customise && (res->code = req->customise(curl, req->customise_arg)) != CURLE_OK) {
        snprintf(res->error, sizeof res->error, "%s", curl_easy_strerror(res->code));
        goto end;
    }
    rc = perform(curl, &t, errbuf, req->max_response, res);
end:
    if (rc != 0)
        http_response_free(res);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    return rc;
}

/* ---- kept-alive sessions ------------------------------------------------ */

struct http_session {
    CURL *curl; /* one handle: its connection cache keeps the connection */
    http_session_opts o;
    char *base_url;
    /* what the connection of the last request said (at its pre-request
     * moment: once the transfer is over, libcurl no longer names the SSL*) */
    int have_exporter;
    uint8_t exporter[NET_EXPORTER_LEN];
    X509 *server_cert;
    /* libcurl writes its error text here, at any time the handle is used
     * (closing the kept connection in http_session_free too): it lives as
     * long as the handle */
    char errbuf[CURL_ERROR_SIZE];
    /* the request in progress */
    const http_session_request *req;
    stream_body body;
    http_response *res;
};

http_session *http_session_new(const http_session_opts *o)
{
    http_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->o = *o;
    s->base_url = strdup(o->base_url ? o->base_url : "");
    s->curl = curl_easy_init();
    if (!s->base_url || !s->curl) {
        http_session_free(s);
        return NULL;
    }
    /* the strings the caller passed stay the caller's; only the URL is copied */
    s->o.base_url = s->base_url;
    return s;
}

static void body_wipe(stream_body *b)
{
    if (b->data)
        encoding_free_secret(b->data, b->len);
    memset(b, 0, sizeof *b);
}

void http_session_free(http_session *s)
{
    if (!s)
        return;
    curl_easy_cleanup(s->curl); /* closes the kept connection */
    body_wipe(&s->body);
    X509_free(s->server_cert);
    OPENSSL_cleanse(s->exporter, sizeof s->exporter);
    free(s->base_url);
    free(s);
}

/* libcurl calls this once the connection that carries the request is up,
 * fresh or kept alive, and before a byte of the request goes out: read this
 * connection's exporter and certificate, and (with a body function) build the
 * body from the exporter. A reconnect calls it again, for the new connection. */
static int on_prereq(void *arg, char *ip, char *local_ip, int port, int local_port)
{
    http_session *s = arg;
    struct curl_tlssessioninfo *info = NULL;
    SSL *ssl = NULL;
    (void)ip;
    (void)local_ip;
    (void)port;
    (void)local_port;

    s->have_exporter = 0;
    OPENSSL_cleanse(s->exporter, sizeof s->exporter);
    X509_free(s->server_cert);
    s->server_cert = NULL;
    if (curl_easy_getinfo(s->curl, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info &&
        info->backend == CURLSSLBACKEND_OPENSSL && info->internals)
        ssl = info->internals;
    if (ssl) {
        s->have_exporter = net_tls_exporter(ssl, s->exporter) == 0;
        s->server_cert = SSL_get1_peer_certificate(ssl);
    }
    if (!s->req->body_fn)
        return CURL_PREREQFUNC_OK;

    body_wipe(&s->body);
    if (!s->have_exporter) {
        /* a body that binds a channel needs a channel to bind */
        snprintf(s->res->error, sizeof s->res->error,
                 "no channel binding on this connection (%s): not sending a body that needs "
                 "one",
                 ssl ? "TLS 1.2 without the extended master secret" : "not TLS");
        return CURL_PREREQFUNC_ABORT;
    }
    if (s->req->body_fn(s->exporter, s->req->body_arg, &s->body.data, &s->body.len) != 0 ||
        !s->body.data) {
        body_wipe(&s->body);
        snprintf(s->res->error, sizeof s->res->error,
                 "the request body could not be built for this connection");
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

int http_session_do(http_session *s, const http_session_request *r, http_response *res)
{
    http_request req = http_request_defaults();
    struct curl_slist *hdrs = NULL;
    transfer t;
    char url[4096];
    int rc = -1;

    s->errbuf[0] = '\0';
    transfer_init(&t, res, s->curl, s->o.max_response ? s->o.max_response : req.max_response);
    if (http_url_join(url, sizeof url, s->base_url, r->path) != 0) {
        res->code = CURLE_URL_MALFORMAT;
        snprintf(res->error, sizeof res->error,
                 "the URL is too long: %zu bytes of base URL and path, at most %zu",
                 strlen(s->base_url) + strlen(r->path), sizeof url - 1);
        return -1;
    }
    /* what the last request's connection said: nothing yet for this one */
    s->have_exporter = 0;
    OPENSSL_cleanse(s->exporter, sizeof s->exporter);
    X509_free(s->server_cert);
    s->server_cert = NULL;
    req.url = url;
    req.method = r->method ? r->method : "GET";
    req.content_type = r->content_type;
    req.headers = r->headers;
    req.body = r->body;
    req.body_len = r->body_len;
    req.secret_body = r->secret_body;
    req.cacert = s->o.cacert;
    req.crlfile = s->o.crlfile;
    req.customise = s->o.customise;
    req.customise_arg = s->o.customise_arg;
    req.client_cert = s->o.client_cert;
    req.client_key = s->o.client_key;
    req.tls_min_version = s->o.tls_min_version;
    req.tls_max_version = s->o.tls_max_version;
    if (s->o.timeout_ms)
        req.timeout_ms = s->o.timeout_ms;
    if (s->o.connect_timeout_ms)
        req.connect_timeout_ms = s->o.connect_timeout_ms;
    req.max_response = t.max;

    /* The same handle, its options set afresh: curl_easy_reset keeps the
     * connection cache (and the TLS session cache), so the same options
     * find the kept-alive connection again. */
    curl_easy_reset(s->curl);
    s->req = r;
    s->res = res;
    body_wipe(&s->body);
    if (configure(s->curl, &req, &t, s->errbuf, r->body_fn ? &s->body : NULL, &hdrs, res) != 0)
        goto end;
    curl_easy_setopt(s->curl, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(s->curl, CURLOPT_PREREQDATA, s);
    if (req.customise && (res->code = req.customise(s->curl, req.customise_arg)) != CURLE_OK) {
        snprintf(res->error, sizeof res->error, "%s", curl_easy_strerror(res->code));
        rc = -1;
    } else {
        rc = perform(s->curl, &t, s->errbuf, req.max_response, res);
    }
end:
    /* the handle outlives this call: nothing of it may point into this
     * stack frame (t, hdrs) once it returns */
    curl_easy_setopt(s->curl, CURLOPT_DEBUGDATA, NULL);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
    if (rc != 0)
        http_response_free(res);
    body_wipe(&s->body); /* it may hold what the exporter protects */
    s->req = NULL;
    s->res = NULL;
    curl_slist_free_all(hdrs);
    return rc;
}

int http_session_exporter(http_session *s, uint8_t out[NET_EXPORTER_LEN])
{
    if (!s->have_exporter) {
        memset(out, 0, NET_EXPORTER_LEN);
        return -1;
    }
    memcpy(out, s->exporter, NET_EXPORTER_LEN);
    return 0;
}

X509 *http_session_server_cert(http_session *s)
{
    if (s->server_cert && X509_up_ref(s->server_cert) == 1)
        return s->server_cert;
    return NULL;
}

int http_url_join(char *out, size_t out_len, const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    int w = snprintf(out, out_len, "%.*s%s", (int)n, base, path);
    return w < 0 || (size_t)w >= out_len ? -1 : 0;
}

void http_report_failure(const char *what, const http_request *req, const http_response *res)
{
    errorf(what, "%s", res->error);
    switch (res->code) {
    case CURLE_COULDNT_CONNECT:
        hint("is the server running at %s? start it in another terminal (make NN-server) "
             "or pass the URL it printed with --url",
             req->url);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        hint("the server did not answer in time; is something else listening on that port?");
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        hint("the URL must look like http://127.0.0.1:8001 (or https:// from chapter 05 on)");
        break;
    default:
        break;
    }
}
