/* SPDX-License-Identifier: MIT */
/*
 * wsclient.c - see wsclient.h. RFC 6455 from the client's side, in the
 * order a connection lives:
 *
 *   1. TCP, then TLS with the caller's SSL_CTX; the name we dialled is the
 *      name the certificate must carry (SNI and the check, section 4.1's
 *      "the client MUST" of wss).
 *   2. The opening handshake (section 4.1): GET PATH with Upgrade:
 *      websocket, Connection: Upgrade, Sec-WebSocket-Version: 13 and a
 *      Sec-WebSocket-Key of 16 bytes from the CSPRNG (base64). A server that
 *      answers 101 proves it read this request, not a cached one: its
 *      Sec-WebSocket-Accept must be base64(SHA-1(key || the RFC's GUID))
 *      (section 4.2.2). Anything but 101 is a refusal, read with its body.
 *   3. Frames (section 5.2): a server's frames are never masked (a client
 *      MUST fail the connection if one is, 5.1), the RSV bits are 0 unless an
 *      extension was agreed (none is), lengths come in 7, 16 or 64 bits and
 *      the shortest form is the only valid one; control frames are final
 *      and at most 125 bytes (5.5). Every length is compared with a cap
 *      before a byte is allocated: the server decides what it sends, never
 *      how much memory we spend.
 *   4. Control frames: a Ping is answered with a Pong carrying the same
 *      bytes (5.5.2), a Pong is a heartbeat and needs nothing (5.5.3), a
 *      Close is answered with a Close (5.5.1). What we send is masked with a
 *      fresh 4-byte key from the CSPRNG (5.3, 10.3: a predictable mask lets
 *      a page poison a proxy's cache).
 *
 * One thread owns a ws_client: reading and writing happen on the caller's
 * thread only (the same lesson as the server's notify.c).
 */
#include "net/wsclient.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 section 1.3 */
#define WS_FRAME_TIME_MS 10000 /* a frame the server began must end within this */
#define WS_CLOSE_WAIT_MS 2000

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

struct ws_client {
    int fd;
    SSL *ssl;
    size_t max_message;
    unsigned char buf[16384]; /* bytes read and not yet parsed: buf[off..have) */
    size_t off, have;
    char *msg; /* a text message being reassembled from fragments */
    size_t msg_len;
    int in_msg;
    int closed, close_sent, close_code;
    char close_reason[124];
};

const char *ws_status_str(ws_status s)
{
    switch (s) {
    case WS_OK: return "ok";
    case WS_TIMEOUT: return "nothing came in time";
    case WS_CLOSED: return "the connection is closed";
    case WS_ERR_CONNECT: return "cannot connect";
    case WS_ERR_TLS: return "the TLS handshake failed";
    case WS_ERR_REFUSED: return "the server refused the upgrade";
    case WS_ERR_ACCEPT: return "the server's 101 does not prove it read our handshake (Sec-WebSocket-Accept)";
    case WS_ERR_PROTOCOL: return "the server broke RFC 6455";
    case WS_ERR_IO: return "reading or writing failed";
    case WS_ERR_MEMORY: return "out of memory";
    }
    return "?";
}

static void detail(ws_info *info, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void detail(ws_info *info, const char *fmt, ...)
{
    va_list ap;
    if (!info)
        return;
    va_start(ap, fmt);
    vsnprintf(info->detail, sizeof info->detail, fmt, ap);
    va_end(ap);
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* wait for the socket (POLLIN or POLLOUT) until deadline: 1, 0 timeout, -1 */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd p = {fd, events, 0};
        if (left <= 0)
            return 0;
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* after an SSL call that returned r <= 0: wait for what it wants. 1 retry,
 * 0 timeout, -1 failed, -2 the peer closed TLS (close_notify) */
static int ssl_wait(ws_client *w, int r, long long deadline)
{
    switch (SSL_get_error(w->ssl, r)) {
    case SSL_ERROR_WANT_READ: return wait_fd(w->fd, POLLIN, deadline);
    case SSL_ERROR_WANT_WRITE: return wait_fd(w->fd, POLLOUT, deadline);
    case SSL_ERROR_ZERO_RETURN: return -2;
    default: return -1;
    }
}

static ws_status write_all(ws_client *w, const void *data, size_t len)
{
    long long deadline = now_ms() + WS_FRAME_TIME_MS;
    while (len) {
        int n = SSL_write(w->ssl, data, len > 65536 ? 65536 : (int)len);
        if (n > 0) {
            data = (const char *)data + n;
            len -= (size_t)n;
            continue;
        }
        int r = ssl_wait(w, n, deadline);
        if (r <= 0)
            return r == 0 ? WS_TIMEOUT : WS_ERR_IO;
    }
    return WS_OK;
}

/* at least n (<= sizeof buf) unparsed bytes in buf, reading until deadline */
static ws_status need(ws_client *w, size_t n, long long deadline, ws_info *info)
{
    if (w->have - w->off >= n)
        return WS_OK;
    if (w->off) {
        memmove(w->buf, w->buf + w->off, w->have - w->off);
        w->have -= w->off;
        w->off = 0;
    }
    while (w->have < n) {
        int got = SSL_read(w->ssl, w->buf + w->have, (int)(sizeof w->buf - w->have));
        if (got > 0) {
            w->have += (size_t)got;
            continue;
        }
        int r = ssl_wait(w, got, deadline);
        if (r == 0)
            return WS_TIMEOUT;
        if (r < 0) {
            w->closed = 1;
            detail(info, "%s", r == -2 || SSL_get_error(w->ssl, got) == SSL_ERROR_SYSCALL
                                   ? "the connection ended without a close frame"
                                   : "TLS read failed");
            return WS_CLOSED;
        }
    }
    return WS_OK;
}

/* A frame of ours: final, masked with a fresh key, payload <= 125 (we send
 * control frames only). */
static ws_status send_frame(ws_client *w, int op, const void *payload, size_t len)
{
    unsigned char f[2 + 4 + 125];
    if (len > 125)
        return WS_ERR_PROTOCOL;
    f[0] = (unsigned char)(0x80 | op);
    f[1] = (unsigned char)(0x80 | len);
    if (RAND_bytes(f + 2, 4) != 1)
        return WS_ERR_IO;
    for (size_t i = 0; i < len; i++)
        f[6 + i] = ((const unsigned char *)payload)[i] ^ f[2 + (i & 3)];
    return write_all(w, f, 6 + len);
}

static ws_status send_close(ws_client *w, int code, const char *reason)
{
    unsigned char p[125];
    size_t n = reason ? strlen(reason) : 0;
    if (w->close_sent)
        return WS_OK;
    if (n > sizeof p - 2)
        n = sizeof p - 2;
    p[0] = (unsigned char)(code >> 8);
    p[1] = (unsigned char)(code & 0xff);
    memcpy(p + 2, reason, n);
    w->close_sent = 1;
    return send_frame(w, OP_CLOSE, p, n + 2);
}

/* ---- 1 and 2: connection and opening handshake ---------------------------- */

static int tcp_connect(const char *host, int port, long long deadline)
{
    struct addrinfo hints = {0}, *res = NULL;
    char service[16];
    int fd = -1;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        int err = 0;
        socklen_t el = sizeof err;
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 &&
            (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 1 ||
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* standard base64 (RFC 4648 section 4, padded), as section 4.1 wants it */
static void b64_std(const unsigned char *in, int len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, len);
}

/* a header's value in a response head (name matched case-insensitively,
 * whitespace trimmed), copied to out; 0, or -1 if absent */
static int head_value(const char *head, const char *name, char *out, size_t out_len)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
        l += 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1, *e = strstr(v, "\r\n");
            while (*v == ' ' || *v == '\t')
                v++;
            if (!e)
                e = v + strlen(v);
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            snprintf(out, out_len, "%.*s", (int)(e - v), v);
            return 0;
        }
    }
    return -1;
}

/* "Connection: keep-alive, Upgrade": the token, case-insensitively */
static int has_token(const char *list, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = list; *p; p++)
        if (strncasecmp(p, token, n) == 0 && (p == list || p[-1] == ' ' || p[-1] == ',') &&
            (p[n] == '\0' || p[n] == ' ' || p[n] == ','))
            return 1;
    return 0;
}

ws_status ws_connect(const ws_client_opts *o, ws_client **out, ws_info *info)
{
    ws_client *w;
    unsigned char key[16], sha[EVP_MAX_MD_SIZE];
    char key_b64[32], want[64], got[128], req[4096], cat[96];
    unsigned sha_len = 0;
    long long deadline = now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 10000);
    size_t n;
    ws_status st;
    unsigned char ip[16];

    *out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    if (!(w = calloc(1, sizeof *w)))
        return WS_ERR_MEMORY;
    w->fd = -1;
    w->max_message = o->max_message ? o->max_message : WS_MAX_MESSAGE_DEFAULT;
    if ((w->fd = tcp_connect(o->host, o->port, deadline)) < 0) {
        detail(info, "no TCP connection to %s", o->host);
        st = WS_ERR_CONNECT;
        goto fail;
    }
    /* 1. TLS; the certificate must name the host we dialled */
    if (!(w->ssl = SSL_new(o->ctx)) || SSL_set_fd(w->ssl, w->fd) != 1) {
        st = WS_ERR_MEMORY;
        goto fail;
    }
    int is_ip = inet_pton(AF_INET, o->host, ip) == 1 || inet_pton(AF_INET6, o->host, ip) == 1;
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(w->ssl), o->host) != 1
              : SSL_set_tlsext_host_name(w->ssl, o->host) != 1 || SSL_set1_host(w->ssl, o->host) != 1) {
        st = WS_ERR_MEMORY;
        goto fail;
    }
    for (;;) {
        int r = SSL_connect(w->ssl);
        if (r == 1)
            break;
        if (ssl_wait(w, r, deadline) != 1) {
            detail(info, "the TLS handshake with %s failed", o->host);
            st = WS_ERR_TLS;
            goto fail;
        }
    }

    /* 2. the opening handshake: a fresh key, and the answer it implies */
    if (RAND_bytes(key, sizeof key) != 1) {
        st = WS_ERR_IO;
        goto fail;
    }
    b64_std(key, sizeof key, key_b64);
    snprintf(cat, sizeof cat, "%s%s", key_b64, WS_GUID);
    if (EVP_Digest(cat, strlen(cat), sha, &sha_len, EVP_sha1(), NULL) != 1) {
        st = WS_ERR_IO;
        goto fail;
    }
    b64_std(sha, (int)sha_len, want);
    n = (size_t)snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                         o->path, o->host, o->port, key_b64);
    for (const char *const *h = o->headers; h && *h; h++) {
        /* a CR or LF inside a value would start a header (or a request) of its own */
        if (strpbrk(*h, "\r\n") || n + strlen(*h) + 4 >= sizeof req) {
            detail(info, "a header line holds CR or LF, or is too long");
            st = WS_ERR_PROTOCOL;
            goto fail;
        }
        n += (size_t)snprintf(req + n, sizeof req - n, "%s\r\n", *h);
    }
    n += (size_t)snprintf(req + n, sizeof req - n, "\r\n");
    if ((st = write_all(w, req, n)) != WS_OK) {
        detail(info, "cannot send the upgrade request");
        goto fail;
    }
    OPENSSL_cleanse(req, sizeof req); /* it held the bearer token */

    /* the answer's head, at most WS_HEAD_MAX bytes */
    char *end = NULL;
    while (!end) {
        if (w->have >= WS_HEAD_MAX) {
            detail(info, "the answer's head is over 8 KiB");
            st = WS_ERR_PROTOCOL;
            goto fail;
        }
        if ((st = need(w, w->have + 1, deadline, info)) != WS_OK) {
            if (st == WS_TIMEOUT)
                detail(info, "no answer to the upgrade request in time");
            goto fail;
        }
        w->buf[w->have < sizeof w->buf ? w->have : sizeof w->buf - 1] = '\0';
        end = strstr((char *)w->buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - (char *)w->buf) + 4;
    /* one read may bring far more than WS_HEAD_MAX bytes (up to the buffer):
     * the head must end within the limit, not merely start within it */
    if (head_len > WS_HEAD_MAX) {
        detail(info, "the answer's head is over 8 KiB");
        st = WS_ERR_PROTOCOL;
        goto fail;
    }
    char head[WS_HEAD_MAX + 1];
    memcpy(head, w->buf, head_len - 2);
    head[head_len - 2] = '\0'; /* keeps the last header's CRLF for head_value */
    int status = 0;
    if (sscanf(head, "HTTP/1.1 %3d", &status) != 1 || status < 100 || status > 599) {
        detail(info, "not an HTTP/1.1 answer");
        st = WS_ERR_PROTOCOL;
        goto fail;
    }
    w->off = head_len;
    if (info)
        info->status = status;
    if (status != 101) {
        /* a refusal: its body says why (bounded; a server is not owed more) */
        long cl = head_value(head, "Content-Length", got, sizeof got) == 0 ? strtol(got, NULL, 10) : 0;
        if (cl < 0 || cl >= (long)sizeof info->body)
            cl = (long)sizeof info->body - 1;
        if (cl > 0 && need(w, (size_t)cl, deadline, NULL) == WS_OK && info) {
            memcpy(info->body, w->buf + w->off, (size_t)cl);
            info->body[cl] = '\0';
        }
        detail(info, "HTTP %s instead of 101 Switching Protocols", strtok(head + 9, "\r"));
        st = WS_ERR_REFUSED;
        goto fail;
    }
    /* 4.1, the client's checks of a 101 */
    if (head_value(head, "Upgrade", got, sizeof got) != 0 || strcasecmp(got, "websocket") != 0 ||
        head_value(head, "Connection", got, sizeof got) != 0 || !has_token(got, "upgrade")) {
        detail(info, "101 without Upgrade: websocket and Connection: Upgrade");
        st = WS_ERR_ACCEPT;
        goto fail;
    }
    if (head_value(head, "Sec-WebSocket-Accept", got, sizeof got) != 0 || strcmp(got, want) != 0) {
        detail(info, "Sec-WebSocket-Accept is not base64(SHA-1(our key || the RFC's GUID))");
        st = WS_ERR_ACCEPT;
        goto fail;
    }
    if (head_value(head, "Sec-WebSocket-Extensions", got, sizeof got) == 0 ||
        head_value(head, "Sec-WebSocket-Protocol", got, sizeof got) == 0) {
        detail(info, "the server chose an extension or subprotocol we did not offer");
        st = WS_ERR_ACCEPT;
        goto fail;
    }
    *out = w;
    return WS_OK;
fail:
    OPENSSL_cleanse(req, sizeof req);
    ws_close(w, 0, NULL);
    return st;
}

/* ---- 3 and 4: frames --------------------------------------------------- */

/* the payload of the current frame: len bytes into dst, in buffer-sized steps */
static ws_status read_payload(ws_client *w, unsigned char *dst, uint64_t len, long long deadline,
                              ws_info *info)
{
    while (len) {
        size_t step = len > sizeof w->buf ? sizeof w->buf : (size_t)len;
        ws_status st = need(w, step, deadline, info);
        if (st != WS_OK)
            return st == WS_TIMEOUT ? WS_ERR_IO : st;
        memcpy(dst, w->buf + w->off, step);
        w->off += step;
        dst += step;
        len -= step;
    }
    return WS_OK;
}

static ws_status protocol(ws_client *w, ws_info *info, const char *why)
{
    detail(info, "%s", why);
    send_close(w, 1002, "protocol error"); /* 7.4.1: 1002, and we stop */
    w->closed = 1;
    return WS_ERR_PROTOCOL;
}

ws_status ws_recv(ws_client *w, int timeout_ms, char **text, size_t *len, ws_info *info)
{
    long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    *text = NULL;
    *len = 0;
    if (info)
        info->detail[0] = '\0';
    for (;;) {
        ws_status st;
        if (w->closed)
            return WS_CLOSED;
        if ((st = need(w, 2, deadline, info)) != WS_OK)
            return st;
        /* a frame began: it must end soon, whatever the caller's timeout */
        long long fdl = now_ms() + WS_FRAME_TIME_MS;
        unsigned b0 = w->buf[w->off], b1 = w->buf[w->off + 1];
        int op = (int)(b0 & 0x0f), fin = (b0 & 0x80) != 0;
        unsigned len7 = b1 & 0x7f;
        size_t hl = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
        uint64_t plen = len7;
        if (b0 & 0x70)
            return protocol(w, info, "RSV bits set, and no extension was agreed (5.2)");
        if (b1 & 0x80)
            return protocol(w, info, "the server masked a frame; it must not (5.1)");
        if ((st = need(w, hl, fdl, info)) != WS_OK)
            return st == WS_TIMEOUT ? WS_ERR_IO : st;
        if (len7 == 126) {
            plen = (uint64_t)w->buf[w->off + 2] << 8 | w->buf[w->off + 3];
            if (plen < 126)
                return protocol(w, info, "a length in 16 bits that fits in 7 (5.2: the shortest form)");
        } else if (len7 == 127) {
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | w->buf[w->off + 2 + i];
            if (plen >> 63)
                return protocol(w, info, "a 64-bit length with its top bit set (5.2)");
            if (plen <= 0xffff)
                return protocol(w, info, "a length in 64 bits that fits in 16 (5.2: the shortest form)");
        }
        if (op & 8) { /* control frames: final, short */
            if (op != OP_CLOSE && op != OP_PING && op != OP_PONG)
                return protocol(w, info, "an unknown control opcode");
            if (!fin || plen > 125)
                return protocol(w, info, "a control frame that is fragmented or over 125 bytes (5.5)");
        } else {
            if (op != OP_CONT && op != OP_TEXT && op != OP_BINARY)
                return protocol(w, info, "an unknown data opcode");
            if (op == OP_BINARY)
                return protocol(w, info, "a binary frame: this client takes text only");
            if ((op == OP_CONT) != (w->in_msg != 0))
                return protocol(w, info, "a continuation without a message, or a message inside one (5.4)");
            /* the cap, before anything is allocated for it */
            if (plen > w->max_message || w->msg_len + plen > w->max_message)
                return protocol(w, info, "a message over this client's cap (max_message)");
        }
        w->off += hl;

        if (op & 8) {
            unsigned char p[125];
            if ((st = read_payload(w, p, plen, fdl, info)) != WS_OK)
                return st;
            if (op == OP_PING) {
                if ((st = send_frame(w, OP_PONG, p, (size_t)plen)) != WS_OK)
                    return st == WS_TIMEOUT ? WS_ERR_IO : st;
                continue;
            }
            if (op == OP_PONG)
                continue; /* an unsolicited Pong: the server's heartbeat (5.5.3) */
            /* Close: its code and reason, answered with the same code */
            if (plen == 1)
                return protocol(w, info, "a close frame of 1 byte (5.5.1)");
            w->close_code = plen >= 2 ? (p[0] << 8 | p[1]) : 1005;
            snprintf(w->close_reason, sizeof w->close_reason, "%.*s", plen > 2 ? (int)plen - 2 : 0,
                     (const char *)p + 2);
            send_close(w, w->close_code == 1005 ? 1000 : w->close_code, "");
            w->closed = 1;
            if (info)
                snprintf(info->detail, sizeof info->detail, "the server closed: %d %s", w->close_code,
                         w->close_reason);
            return WS_CLOSED;
        }
        char *m = realloc(w->msg, w->msg_len + (size_t)plen + 1);
        if (!m)
            return WS_ERR_MEMORY;
        w->msg = m;
        if ((st = read_payload(w, (unsigned char *)m + w->msg_len, plen, fdl, info)) != WS_OK)
            return st;
        w->msg_len += (size_t)plen;
        w->in_msg = !fin;
        if (fin) {
            w->msg[w->msg_len] = '\0';
            *text = w->msg;
            *len = w->msg_len;
            w->msg = NULL;
            w->msg_len = 0;
            return WS_OK;
        }
    }
}

int ws_close_code(const ws_client *w, const char **reason)
{
    if (reason)
        *reason = w->close_reason;
    return w->close_code;
}

SSL *ws_ssl(ws_client *w)
{
    return w->ssl;
}

void ws_close(ws_client *w, int code, const char *reason)
{
    if (!w)
        return;
    if (w->ssl && code && !w->closed && send_close(w, code, reason) == WS_OK) {
        /* the closing handshake: wait (bounded) for the server's close */
        long long deadline = now_ms() + WS_CLOSE_WAIT_MS;
        while (!w->closed && now_ms() < deadline) {
            char *t;
            size_t n;
            ws_status st = ws_recv(w, (int)(deadline - now_ms()), &t, &n, NULL);
            free(t);
            if (st != WS_OK)
                break;
        }
    }
    if (w->ssl) {
        SSL_shutdown(w->ssl); /* our close_notify; we do not wait for theirs */
        SSL_free(w->ssl);
    }
    if (w->fd >= 0)
        close(w->fd);
    free(w->msg);
    free(w);
}
