/* SPDX-License-Identifier: MIT */
/*
 * webserver.h - a small server layer over civetweb that every chapter uses.
 *
 * A chapter describes its routes and calls web_serve(): the layer checks the
 * civetweb build (start-up self-test), listens on host:port (port 0 = any
 * free port), prints "listening on URL" as the first line on stdout, logs each
 * request, enforces the request limits, and on SIGINT/SIGTERM stops accepting,
 * lets running requests finish and returns 0. SIGHUP does the same, unless
 * on_reload is set: then SIGHUP calls it and the server goes on.
 *
 *     static const web_route routes[] = {
 *         {"GET", "/", get_secret, NULL},
 *         {0},
 *     };
 *     web_config cfg = web_config_for(&srv);    (srv from cli_parse_server)
 *     cfg.routes = routes;
 *     return web_serve(&cfg);
 *
 * Handlers return the HTTP status they sent (for the log).
 *
 * Before a handler runs, every request's framing is checked (one
 * Content-Length of digits only, within max_body; never beside a
 * Transfer-Encoding) and its percent-decoded path must hold no control byte:
 * otherwise 400/413 and the connection closes. HEAD runs the GET handler
 * and sends its head alone. A 405 names the allowed methods (Allow).
 */
#ifndef COURSE_WEBSERVER_H
#define COURSE_WEBSERVER_H

#include <civetweb.h>
#include <jansson.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cli.h"
#include "core/narrate.h"

typedef int (*web_handler)(struct mg_connection *conn, void *arg);

typedef struct web_route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* exact path, query string excluded */
    web_handler fn;
    void *arg;
} web_route;

#define WEB_DEFAULT_MAX_BODY COURSE_MAX_BODY_DEFAULT

typedef struct web_config {
    const char *host;        /* default "127.0.0.1"; "::1" for IPv6 */
    int port;                /* 0: any free port */
    size_t max_body;         /* request body limit (413 above it) */
    size_t max_json_depth;   /* JSON nesting limit for web_read_json */
    int threads;             /* worker threads */
    int request_timeout_ms;  /* per-request read/write timeout; the whole request head
                              * must arrive within it */
    /* Slow clients: connections from one address that may wait for their
     * request head (or TLS handshake) past half a second, each holding a
     * worker; the address's newer ones beyond it are shut down.
     * 0: half the threads; -1: no limit. */
    int per_client_pending;
    const web_route *routes; /* terminated by an entry with fn == NULL */

    /* TLS (chapter 05 on): set tls = 1 and name the files (civetweb's
     * ssl_certificate option, or an init_ssl that loads them). Every TLS
     * server watches its handshakes, so that handlers can ask for
     * web_tls_exporter() and web_peer_cert(). */
    int tls;
    /* Extra civetweb options as name/value pairs, NULL-terminated. */
    const char *const *civetweb_options;
    /* Called by civetweb with the SSL_CTX before it loads the certificate
     * (return 0 to let civetweb go on, 1 if the callback did all the work).
     * The web layer adds its handshake watcher (an info callback) after this
     * returns; an info callback set here is kept and still called. */
    int (*init_ssl)(void *ssl_ctx, void *user_data);
    void *init_ssl_arg;
    /* Header lines added to every response, e.g. "Strict-Transport-Security: max-age=63072000". */
    const char *const *extra_headers;
    /* Called once right after the "listening on URL" line, for what a
     * program has to say only once it serves (e.g. the key log notice). */
    void (*on_listening)(void *arg);
    void *on_listening_arg;
    /* Set it and SIGHUP calls it (on the thread that waits for signals, while
     * requests go on) instead of ending the server: re-read what may change
     * under a running server, as `nginx -s reload` does. */
    void (*on_reload)(void *arg);
    void *on_reload_arg;

    /* WebSockets (chapter 06's /v1/notify). civetweb routes an upgrade to
     * the handlers registered with mg_set_websocket_handler, but only if
     * dispatch lets the request through: for a path listed here it checks
     * the framing and logs it like any request, then hands a GET with
     * "Upgrade: websocket" on to civetweb (anything else on such a path is
     * answered 426). NULL-terminated; NULL for none. */
    const char *const *websocket_paths;
    /* Called once civetweb runs, before the "listening on" line, with its
     * context (for mg_set_websocket_handler); nonzero: web_serve stops and
     * fails. */
    int (*on_started)(struct mg_context *ctx, void *arg);
    /* Called when a stop signal came, before mg_stop: wake every handler
     * that waits for something (mg_stop joins the worker threads, so a
     * handler waiting forever would hang the stop). */
    void (*on_stopping)(void *arg);
    void *on_started_arg; /* for both */
} web_config;

web_config web_config_defaults(void);
/* The defaults, with what every server's command line sets (cli_parse_server). */
web_config web_config_for(const cli_server *srv);

/* Run the server until SIGINT or SIGTERM. Returns the process exit status. */
int web_serve(const web_config *cfg);

/* ---- inside a handler ---- */

/* Send a complete response. Each logs "-> HTTP/1.1 STATUS (type, N bytes)". */
int web_reply(struct mg_connection *conn, int status, const char *content_type, const void *body,
              size_t len);
int web_reply_text(struct mg_connection *conn, int status, const char *text);
/* Takes ownership of json (decrefs it). */
int web_reply_json(struct mg_connection *conn, int status, json_t *json);
/* {"error": "...", "status": N} with a printf-style message. */
int web_reply_error(struct mg_connection *conn, int status, const char *fmt, ...)
    COURSE_PRINTF(3, 4);
/* The same, with "Retry-After: SECONDS" (e.g. 503 when a table is full). */
int web_reply_error_retry(struct mg_connection *conn, int status, unsigned retry_after,
                          const char *fmt, ...) COURSE_PRINTF(4, 5);

/* Read the whole request body under the server's limit. Returns 0 with a
 * malloc'ed NUL-terminated body, or an HTTP status after replying with the
 * error itself (413 too large; 400 unreadable, or cut short of its
 * Content-Length) and marking the connection to close. */
int web_read_body(struct mg_connection *conn, char **body, size_t *len);
/* Read and parse a JSON body. Returns 0 with *out set, or the status after
 * replying (415 wrong type, 413, 400 with the parser's line and column). */
int web_read_json(struct mg_connection *conn, json_t **out);

/* This request or its answer carries a credential (a password, a token):
 * the narration shows the bodies' length only, even with --verbose. Call it
 * before web_read_body / web_read_json / web_reply. */
void web_secret(struct mg_connection *conn);

/* The request's header value, or NULL. */
const char *web_header(struct mg_connection *conn, const char *name);
/* The client's IP address as text ("127.0.0.1", "::1"): what per-client
 * limits count by (a client can open connections at will, but not choose
 * its address on the far side of a TCP handshake). */
const char *web_peer(struct mg_connection *conn);

/* Close the connection once the reply is sent ("Connection: close"), as a
 * server does when it wants a client to come back on a new connection. */
void web_close_after_reply(struct mg_connection *conn);

/* ---- the TLS connection under the request ---- */

#define WEB_EXPORTER_LEN 32
/* RFC 9266 tls-exporter of this request's TLS connection:
 * SSL_export_keying_material with label "EXPORTER-Channel-Binding", no
 * context, 32 bytes: what both ends of this connection, and no other, can
 * compute. 0 with out filled; -1 (out zeroed) if the connection is not TLS or
 * the value is unknown (never a value of another connection). Unknown also
 * for TLS 1.2 without the extended master secret (RFC 9266 section 4.2), and
 * after a TLS 1.2 renegotiation that failed. A renegotiation that succeeds
 * gives its own value. */
int web_tls_exporter(struct mg_connection *conn, uint8_t out[WEB_EXPORTER_LEN]);
/* The client certificate the TLS layer verified for this connection
 * (borrowed, valid while the handler runs), or NULL: none was sent, none was
 * asked for, or OpenSSL's verification did not pass (a chapter's verify
 * callback may have let the handshake go on). */
X509 *web_peer_cert(struct mg_connection *conn);
/* Whether the client has sent anything not read yet (a frame, a TLS alert,
 * EOF) within timeout_ms, asked of the socket with poll() and never read:
 * for a handler that only writes (a WebSocket pusher) and must notice the
 * client leave without calling SSL_read itself. 1 yes, 0 no, -1 unknown
 * (not a TLS connection). */
int web_input_pending(struct mg_connection *conn, int timeout_ms);

#endif
