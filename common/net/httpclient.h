/* SPDX-License-Identifier: MIT */
/*
 * httpclient.h - a small client layer over libcurl that every chapter uses.
 *
 * http_do: one call does one request, on a connection of its own.
 * http_session: many requests on one kept-alive connection (chapter 06), and
 * the channel binding of that connection (RFC 9266 tls-exporter) to put in
 * a request's body.
 *
 * Both are narrated the same way. The narration shows the request and response
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
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

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
    /* 1: the body holds a password; the narration says how long it is, never
     * what it is (credential headers are always cut short) */
    int secret_body;
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
    /* connections the transfer had to open (CURLINFO_NUM_CONNECTS): 1 for a
     * new connection, 0 when a session's kept-alive one carried it */
    long new_connections;
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

/* ---- kept-alive sessions (chapter 06) ----
 *
 * One CURL easy handle reused for every request, so that one TLS connection
 * carries them all; libcurl opens a new one when the server closed it (and
 * resumes the TLS session where it can). SSLKEYLOGFILE works as for http_do:
 * libcurl writes the key log of every connection it opens.
 *
 *     http_session_opts o = {.base_url = "https://localhost:8006",
 *                            .cacert = "build/pki/root.crt"};
 *     http_session *s = http_session_new(&o);
 *     http_session_request r = {.method = "POST", .path = "/v1/hello",
 *                               .content_type = "application/json",
 *                               .body_fn = make_hello, .body_arg = &state};
 *     if (http_session_do(s, &r, &res) != 0) ... res.error ...
 *     http_response_free(&res);
 *     http_session_free(s);
 */
typedef struct http_session http_session;

typedef struct http_session_opts {
    const char *base_url;   /* "https://localhost:8006" (copied) */
    const char *cacert, *crlfile, *client_cert, *client_key; /* as in http_request; the
                                                              * strings must outlive the
                                                              * session */
    long tls_min_version, tls_max_version; /* CURL_SSLVERSION_* or 0 */
    long timeout_ms, connect_timeout_ms;   /* per request; 0: the http_request defaults */
    size_t max_response;                   /* 0: the http_request default */
    /* as in http_request: called before each request, for options this
     * struct does not name (the TLS chain recorder); it must not set the
     * PREREQ callback, which the session uses */
    CURLcode (*customise)(CURL *curl, void *arg);
    void *customise_arg;
} http_session_opts;

/* NULL on error (out of memory). No connection is made until the first
 * request. */
http_session *http_session_new(const http_session_opts *o);
/* Closes the connection; NULL is fine. */
void http_session_free(http_session *s);

/* Build the body once the connection that will carry the request has
 * finished its TLS handshake, from that connection's exporter
 * (CURLOPT_PREREQFUNCTION + CURLINFO_TLS_SSL_PTR): so a body that binds the
 * channel is always sent on the channel it binds, even when libcurl had to
 * reconnect (then it is called again, with the new connection's value).
 * Return 0 with a malloc'ed body (the session wipes and frees it), or -1 to
 * abort the request. Never called on a connection without a sound exporter
 * (plain HTTP, TLS 1.2 without the extended master secret): the request
 * fails instead. The body goes chunked (its length is not known up front). */
typedef int (*http_body_fn)(const uint8_t exporter[32], void *arg, char **body, size_t *len);

typedef struct http_session_request {
    const char *method, *path;          /* "POST", "/v1/hello" (joined to base_url) */
    const char *content_type;           /* for the body, or NULL */
    const char *const *headers;         /* extra "Name: value" lines, NULL-terminated */
    const char *body;                   /* a fixed body (with body_len), or: */
    size_t body_len;
    http_body_fn body_fn;               /* a body made for the connection */
    void *body_arg;
    int secret_body;                    /* as in http_request */
} http_session_request;

/* 0 when a response arrived (any status), -1 on a transport failure
 * (res->error says why), like http_do; the narration is http_do's
 * (request/response lines and headers; bodies with --verbose).
 * res->new_connections says whether the kept connection carried it (0). */
int http_session_do(http_session *s, const http_session_request *r, http_response *res);
/* The exporter of the connection the last request used: 0 with out filled,
 * or -1 (out zeroed) when that request reached no TLS connection with a
 * sound exporter. */
int http_session_exporter(http_session *s, uint8_t out[32]);
/* The server's leaf certificate of that connection (a new reference:
 * X509_free it), or NULL. */
X509 *http_session_server_cert(http_session *s);

#endif
