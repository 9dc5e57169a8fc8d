/* SPDX-License-Identifier: MIT */
/*
 * wsclient.h - a small WebSocket client (RFC 6455) over TLS, written for
 * chapter 06's notifications: libcurl 7.88 here has no WebSocket support
 * (`curl-config --features` lists none), and the protocol is small enough to
 * read whole. It is a lesson too: every step of the RFC a client owes is here
 * and commented in wsclient.c.
 *
 *     SSL_CTX *ctx = ...;        the caller's: TLS 1.3, the CA, the client
 *                                certificate, the server's name to check
 *     const char *hdr[] = {"Authorization: Bearer ...", NULL};
 *     ws_client_opts o = {"localhost", 8006, "/v1/notify", ctx, hdr, 0};
 *     ws_client *w;
 *     ws_status st = ws_connect(&o, &w, &info);      info: a refusal's status and body
 *     while ((st = ws_recv(w, 1000, &text, &len)) == WS_OK || st == WS_TIMEOUT) { ... free(text); }
 *     ws_close(w, 1000, "done");                       also frees w
 *
 * Only what a push-only client needs: text messages in (fragmented ones
 * reassembled), pings answered, close answered; nothing sent but control
 * frames. Every length from the server is checked against a cap before any
 * byte is allocated for it: a frame over max_message is a protocol error,
 * never an allocation. The layering: this module uses OpenSSL and core only;
 * the TLS policy (versions, CA, certificate, name) is the caller's SSL_CTX.
 */
#ifndef COURSE_NET_WSCLIENT_H
#define COURSE_NET_WSCLIENT_H

#include <openssl/ssl.h>
#include <stddef.h>

#define WS_MAX_MESSAGE_DEFAULT 65536
#define WS_HEAD_MAX 8192 /* the server's answer to the upgrade: its head, and a refusal's body */

typedef enum ws_status {
    WS_OK = 0,
    WS_TIMEOUT,      /* ws_recv: nothing complete within the time */
    WS_CLOSED,       /* the server closed (ws_close_code says how), or the connection ended */
    WS_ERR_CONNECT,  /* TCP */
    WS_ERR_TLS,      /* the handshake failed (the caller's tls_chain watcher knows why) */
    WS_ERR_REFUSED,  /* an HTTP answer other than 101: info->status and info->body */
    WS_ERR_ACCEPT,   /* 101, but Sec-WebSocket-Accept (or Upgrade) is not what RFC 6455 says */
    WS_ERR_PROTOCOL, /* a frame the RFC forbids, or over the cap */
    WS_ERR_IO,       /* reading or writing failed */
    WS_ERR_MEMORY,
} ws_status;

const char *ws_status_str(ws_status s);

typedef struct ws_client_opts {
    const char *host; /* for the TCP connection, SNI and Host */
    int port;
    const char *path;
    SSL_CTX *ctx;
    const char *const *headers; /* extra request header lines, NULL-terminated, or NULL */
    size_t max_message;         /* 0: WS_MAX_MESSAGE_DEFAULT */
    int timeout_ms;             /* connect, handshake, upgrade answer; 0: 10 s */
} ws_client_opts;

/* What came back instead of 101 (or why the frames stopped). */
typedef struct ws_info {
    int status;               /* the HTTP status of the upgrade answer (0: none came) */
    char body[WS_HEAD_MAX];   /* a refusal's body, NUL-terminated, cut to fit */
    char detail[160];         /* what exactly went wrong, in words */
} ws_info;

typedef struct ws_client ws_client;

ws_status ws_connect(const ws_client_opts *o, ws_client **out, ws_info *info);
/* The next text message (malloc'ed, NUL-terminated; free it) within
 * timeout_ms. Pings are answered and pongs (heartbeats) skipped on the
 * way. WS_CLOSED once the server's close frame came (it is answered) or the
 * connection ended; detail says which. */
ws_status ws_recv(ws_client *w, int timeout_ms, char **text, size_t *len, ws_info *info);
/* The server's close code and reason (0 and "" before, or without, one). */
int ws_close_code(const ws_client *w, const char **reason);
/* Send a close frame (unless the server's came already), wait up to 2 s for
 * the server's, shut TLS down and free w. NULL is fine. */
void ws_close(ws_client *w, int code, const char *reason);
/* The TLS connection (for its peer certificate, its exporter). */
SSL *ws_ssl(ws_client *w);

#endif
