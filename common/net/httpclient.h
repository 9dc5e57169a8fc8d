/* SPDX-License-Identifier: MIT */
/*
 * httpclient.h - a small client layer over libcurl that every chapter uses.
 *
 * One call does one request. The narration shows the request and response
 * lines and headers exactly as libcurl sends and receives them
 * (CURLOPT_DEBUGFUNCTION), and bodies as hex with --verbose. Transport
 * failures come back with the text of curl's error buffer, which says what
 * actually went wrong ("Connection refused", "SSL certificate problem: ...").
 *
 *     http_request req = http_request_defaults();
 *     http_response res;
 *     req.url = "http://127.0.0.1:8001/";
 *     if (http_do(&req, &res) != 0) { errorf("GET", "%s", res.error); ... }
 *     ... res.status, res.body, res.body_len ...
 *     http_response_free(&res);
 */
#ifndef COURSE_HTTPCLIENT_H
#define COURSE_HTTPCLIENT_H

#include <curl/curl.h>
#include <stddef.h>

typedef struct http_request {
    const char *method;       /* "GET" (default) or "POST", ... */
    const char *url;          /* full URL */
    const char *body;         /* request body or NULL */
    size_t body_len;          /* bytes of body */
    const char *content_type; /* for the body, e.g. "application/json" */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
    long timeout_ms;          /* whole transfer (default 10 s) */
    long connect_timeout_ms;  /* connect phase (default 5 s) */
    size_t max_response;      /* response body limit (default 8 MiB) */

    /* TLS (chapter 05 on). NULL means libcurl's default. */
    const char *cacert;       /* CA bundle to trust */
    const char *crlfile;      /* CRL to check the server against */
    const char *client_cert;  /* client certificate (PEM) */
    const char *client_key;   /* its private key (PEM) */
    long tls_min_version;     /* CURL_SSLVERSION_* or 0 */
    long tls_max_version;     /* CURL_SSLVERSION_MAX_* or 0 */
    /* Called with the CURL handle just before perform: the place for any
     * option this struct does not name. Return CURLE_OK to go on. */
    CURLcode (*customise)(CURL *curl, void *arg);
    void *customise_arg;
} http_request;

typedef struct http_response {
    long status;              /* HTTP status, 0 if none arrived */
    char *body;               /* NUL-terminated, malloc'ed */
    size_t body_len;
    char content_type[128];   /* from the response, "" if none */
    CURLcode code;            /* CURLE_OK when the transfer worked */
    char error[CURL_ERROR_SIZE + 64]; /* readable reason when code != CURLE_OK */
    /* filled for TLS transfers */
    char tls_version[32];
    char tls_cipher[64];
} http_response;

/* Call once at start (after setting SSLKEYLOGFILE, if ever). */
void http_client_init(void);
void http_client_cleanup(void);

http_request http_request_defaults(void);
/* 0 when a response arrived (any status); -1 on a transport failure. */
int http_do(const http_request *req, http_response *res);
void http_response_free(http_response *res);

/* base ("http://h:p" or "http://h:p/") + path ("/echo") into out.
 * Returns 0, or -1 if it does not fit. */
int http_url_join(char *out, size_t out_len, const char *base, const char *path);

/* One readable line for a failed transfer, with a hint where a learner can
 * act (server not running, wrong port, certificate problems). */
void http_report_failure(const char *what, const http_request *req, const http_response *res);

#endif
