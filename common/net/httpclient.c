/* SPDX-License-Identifier: MIT */
/* httpclient.c - see httpclient.h */
#include "net/httpclient.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/narrate.h"

typedef struct transfer {
    http_response *res;
    size_t cap;
    size_t max;
    int too_big;
    CURL *curl;
    int tls_seen;
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
                if (out)
                    wire_out("%.*s", (int)(end - start), data + start);
                else
                    wire_in("%.*s", (int)(end - start), data + start);
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

static int on_debug(CURL *curl, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)curl;
    (void)arg;
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

int http_do(const http_request *req, http_response *res)
{
    CURL *curl = NULL;
    struct curl_slist *hdrs = NULL;
    transfer t;
    char errbuf[CURL_ERROR_SIZE] = "";
    char ctype[160];
    int rc = -1;

    memset(res, 0, sizeof *res);
    memset(&t, 0, sizeof t);
    t.res = res;
    t.max = req->max_response;

    curl = curl_easy_init();
    if (!curl) {
        res->code = CURLE_FAILED_INIT;
        snprintf(res->error, sizeof res->error, "libcurl could not start a transfer");
        return -1;
    }
    t.curl = curl;
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
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L); /* feeds on_debug, prints nothing itself */

    if (strcmp(req->method, "GET") != 0 || req->body) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (req->content_type) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s", req->content_type);
        if (add_header(&hdrs, ctype) != 0)
            goto no_memory;
    }
    for (const char *const *h = req->headers; h && *h; h++)
        if (add_header(&hdrs, *h) != 0)
            goto no_memory;
    /* no "Expect: 100-continue" round trip: it only confuses the narration */
    if (add_header(&hdrs, "Expect:") != 0)
        goto no_memory;
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);

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

    if (req->customise && (res->code = req->customise(curl, req->customise_arg)) != CURLE_OK) {
        snprintf(res->error, sizeof res->error, "%s", curl_easy_strerror(res->code));
        goto end;
    }

    res->code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
    if (t.too_big) {
        snprintf(res->error, sizeof res->error, "response body is larger than %zu bytes",
                 req->max_response);
        goto end;
    }
    if (res->code != CURLE_OK) {
        snprintf(res->error, sizeof res->error, "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(res->code));
        goto end;
    }
    if (!res->body) { /* an empty body is still a string */
        res->body = calloc(1, 1);
        if (!res->body)
            goto end;
    }
    rc = 0;
    goto end;
no_memory:
    /* a request without one of its headers is not the request asked for */
    res->code = CURLE_OUT_OF_MEMORY;
    snprintf(res->error, sizeof res->error, "out of memory while adding the request headers");
end:
    if (rc != 0)
        http_response_free(res);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    return rc;
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
