/* SPDX-License-Identifier: MIT */
/* webserver.c - see webserver.h */
#include "net/webserver.h"
#include "net_internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/encoding.h"
#include "core/json.h"
#include "net/exporter.h"

/* One TCP connection, by the far end's address and port. */
typedef struct peer_key {
    char addr[48]; /* "" = free slot */
    int port;
} peer_key;

/* A connection the watchdog saw waiting, and since when. */
typedef struct waiting_conn {
    peer_key k;
    double since;
    int fd;
} waiting_conn;

/* What the handlers can reach through mg_get_user_data(). */
typedef struct web_server {
    const web_config *cfg;
    /* the slow-client watchdog (see "slow clients" below) */
    pthread_mutex_t lock;    /* guards served and stop */
    peer_key *served;        /* connections that sent a complete request head: */
    int nserved;             /* at most one per worker thread */
    int stop;
    int port;                /* the listening port: its connections are ours */
    int cap;                 /* waiting connections one address may have */
    waiting_conn *seen;      /* the previous round's waiting connections */
    size_t nseen;
} web_server;

/* Set by scripts/build-civetweb.sh's patch (civetweb.c, "course patch"):
 * that build refuses a chunk size that would overflow civetweb's length
 * counter. A weak reference, so an older build still links; check_framing
 * then refuses chunked bodies rather than feed them to civetweb. */
extern const char *mg_course_patches(void) __attribute__((weak));

web_config web_config_defaults(void)
{
    web_config c;
    memset(&c, 0, sizeof c);
    c.host = "127.0.0.1";
    c.max_body = WEB_DEFAULT_MAX_BODY;
    c.max_json_depth = JSON_DEFAULT_MAX_DEPTH;
    c.threads = COURSE_THREADS_DEFAULT;
    c.request_timeout_ms = 10000;
    return c;
}

web_config web_config_for(const cli_server *srv)
{
    web_config c = web_config_defaults();
    c.host = srv->host;
    c.port = srv->port;
    c.threads = srv->threads;
    c.max_body = srv->max_body;
    return c;
}

static const web_config *cfg_of(struct mg_connection *conn)
{
    const web_server *s = mg_get_user_data(mg_get_context(conn));
    return s->cfg;
}

const char *web_header(struct mg_connection *conn, const char *name)
{
    return mg_get_header(conn, name);
}

const char *web_peer(struct mg_connection *conn)
{
    return mg_get_request_info(conn)->remote_addr;
}

/* Set on a worker thread when the request's connection must close after the
 * reply (a body we refused to read); cleared as each request arrives. */
static _Thread_local int t_must_close;
/* the request came with a body nobody has read yet: a reply sent now closes
 * the connection, or civetweb would read ("drain") that body after the
 * handler for as long as its sender trickles it, holding a worker (a slow
 * client the watchdog no longer counts, its head being in) */
static _Thread_local int t_body_unread;
/* Set by web_reply_error_retry for the one reply it sends: Retry-After. */
static _Thread_local unsigned t_retry_after;
/* Set while a HEAD request runs its GET handler: replies carry the head only. */
static _Thread_local int t_head;
/* this request, or its answer, carries a credential (web_secret) */
static _Thread_local int t_secret;
/* The methods a known path allows, for the Allow header of a 405. */
static _Thread_local char t_allow[128];
/* The request's path, percent-decoded by dispatch (civetweb's decode_url is
 * off, so that a %00 cannot hide the rest of the path from the check). */
static _Thread_local char t_path[16384 + 1];

/* The Date header, formatted once a second per worker thread: gmtime_r
 * takes glibc's time-zone lock, which 64 threads fight over at full load. */
static const char *http_date(void)
{
    static _Thread_local time_t t_sec = (time_t)-1;
    static _Thread_local char t_date[40];
    time_t now = time(NULL);
    if (now != t_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(t_date, sizeof t_date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        t_sec = now;
    }
    return t_date;
}

/* Keep the connection open only when the client wants it (HTTP/1.1 default,
 * or HTTP/1.0 with "Connection: keep-alive"). */
static int client_wants_keep_alive(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *h = mg_get_header(conn, "Connection");
    if (h)
        return strcasecmp(h, "keep-alive") == 0;
    return strcmp(ri->http_version, "1.1") == 0;
}

int web_reply(struct mg_connection *conn, int status, const char *content_type, const void *body,
              size_t len)
{
    const web_config *cfg = cfg_of(conn);
    char head[2048];
    int keep = !t_must_close && !t_body_unread && client_wants_keep_alive(conn), n;
    const char *date = http_date();

    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "Cache-Control: no-store\r\n"
                 "X-Content-Type-Options: nosniff\r\n"
                 "Date: %s\r\n"
                 "Connection: %s\r\n",
                 status, mg_get_response_code_text(conn, status), content_type, len, date,
                 keep ? "keep-alive" : "close");
    for (const char *const *h = cfg->extra_headers; h && *h && n > 0 && (size_t)n < sizeof head;
         h++)
        n += snprintf(head + n, sizeof head - (size_t)n, "%s\r\n", *h);
    if (t_retry_after && n > 0 && (size_t)n < sizeof head)
        n += snprintf(head + n, sizeof head - (size_t)n, "Retry-After: %u\r\n", t_retry_after);
    t_retry_after = 0;
    if (status == 405 && t_allow[0] && n > 0 && (size_t)n < sizeof head)
        n += snprintf(head + n, sizeof head - (size_t)n, "Allow: %s\r\n", t_allow);
    if (n < 0 || (size_t)n + 2 >= sizeof head)
        return -1; /* only our own fixed headers go here: cannot happen */
    memcpy(head + n, "\r\n", 2);
    n += 2;
    if (!keep)
        mg_disable_keep_alive(conn);

    /* Narrate before writing, so the log reads in the order things happen. */
    wire_out("HTTP/1.1 %d %s (%s, %zu bytes%s)", status, mg_get_response_code_text(conn, status),
             content_type, len, t_head ? ", not sent: the answer to HEAD is the head alone" : "");
    if (t_head) {
        /* RFC 9110 9.3.2: the same head as GET, Content-Length included, and
         * no body; a body here would be read as the start of the next reply. */
        mg_write(conn, head, (size_t)n);
        return status;
    }
    if (t_secret && narrate_is_verbose())
        note("response body: %zu bytes, holding a credential: not shown", len);
    else if (!t_secret)
        hexdump("response body", body, len);

    /* One write for head and body: one TCP segment (one TLS record) for a
     * small reply instead of one per header line. */
    if (len && len <= sizeof head - (size_t)n) {
        memcpy(head + n, body, len);
        mg_write(conn, head, (size_t)n + len);
    } else {
        mg_write(conn, head, (size_t)n);
        if (len)
            mg_write(conn, body, len);
    }
    return status;
}

int web_reply_text(struct mg_connection *conn, int status, const char *text)
{
    return web_reply(conn, status, "text/plain; charset=utf-8", text, strlen(text));
}

int web_reply_json(struct mg_connection *conn, int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    int rc;
    json_decref(json);
    if (!text)
        return web_reply_text(conn, 500, "internal error: cannot encode JSON\n");
    /* a trailing newline keeps `curl` output readable */
    size_t n = strlen(text);
    char *line = malloc(n + 2);
    if (!line) {
        free(text);
        return web_reply_text(conn, 500, "internal error: out of memory\n");
    }
    memcpy(line, text, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    rc = web_reply(conn, status, "application/json", line, n + 1);
    free(line);
    free(text);
    return rc;
}

int web_reply_error(struct mg_connection *conn, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    note("refusing: %s", msg);
    return web_reply_json(conn, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

int web_reply_error_retry(struct mg_connection *conn, int status, unsigned retry_after,
                          const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t_retry_after = retry_after;
    return web_reply_error(conn, status, "%s", msg);
}

/* A body sent with Transfer-Encoding: chunked (dispatch refused it beside a
 * Content-Length). */
static int is_chunked(struct mg_connection *conn)
{
    const char *te = mg_get_header(conn, "Transfer-Encoding");
    return te && strcasecmp(te, "chunked") == 0;
}

/* A chunked body has no length up front: grow the buffer as it comes, and
 * stop one byte past the limit. */
static int read_chunked(struct mg_connection *conn, size_t max, char **body, size_t *len)
{
    size_t cap = max + 1 < 16384 ? max + 1 : 16384, n = 0;
    char *buf = malloc(cap + 1), *nb;

    if (!buf) {
        t_must_close = 1; /* the body stays unread */
        return web_reply_error(conn, 500, "out of memory");
    }
    for (;;) {
        int got;
        if (n == cap) {
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            /* grow by hand, not realloc: the old copy is wiped, not just freed */
            if (!(nb = malloc(ncap + 1))) {
                encoding_free_secret(buf, n);
                t_must_close = 1;
                return web_reply_error(conn, 500, "out of memory");
            }
            memcpy(nb, buf, n);
            encoding_free_secret(buf, n);
            buf = nb;
            cap = ncap;
        }
        got = mg_read(conn, buf + n, cap - n);
        if (got < 0) { /* a bad chunk line, or the client stopped sending */
            encoding_free_secret(buf, n);
            t_must_close = 1;
            return web_reply_error(conn, 400, "the chunked request body is malformed or cut short");
        }
        if (got == 0)
            break; /* the last chunk (size 0) arrived */
        n += (size_t)got;
        if (n > max) {
            encoding_free_secret(buf, n);
            t_must_close = 1;
            return web_reply_error(conn, 413, "request body is over the limit of %zu bytes", max);
        }
    }
    *body = buf;
    *len = n;
    return 0;
}

/* A body with a Content-Length (checked by dispatch: one, all digits, within
 * the limit): allocate what it declares, and insist on every byte. */
static int read_declared(struct mg_connection *conn, size_t want, char **body, size_t *len)
{
    size_t n = 0;
    char *buf = malloc(want + 1);

    if (!buf) {
        t_must_close = 1; /* the body stays unread */
        return web_reply_error(conn, 500, "out of memory");
    }
    while (n < want) {
        int got = mg_read(conn, buf + n, want - n);
        if (got <= 0) {
            /* 0 is the end of the stream (or civetweb's read timeout), not
             * the end of the body: a body cut short is not a shorter body.
             * What did arrive may hold a password: wiped, not just freed. */
            encoding_free_secret(buf, n);
            t_must_close = 1;
            return web_reply_error(conn, 400,
                                   "the request body ended after %zu of the %zu bytes its "
                                   "Content-Length announced",
                                   n, want);
        }
        n += (size_t)got;
    }
    *body = buf;
    *len = n;
    return 0;
}

static void mark_served(web_server *s, const struct mg_request_info *ri, int add);

int web_read_body(struct mg_connection *conn, char **body, size_t *len)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    web_server *server = mg_get_user_data(mg_get_context(conn));
    size_t max = cfg_of(conn)->max_body;
    int st;

    *body = NULL;
    *len = 0;
    t_body_unread = 0; /* read whole here, or refused with a close */
    /* While the body comes in, the watchdog counts this connection as one
     * that waits for its client, as it does before the head is in: a body
     * trickled a byte at a time holds a worker just as a slow head does. */
    mark_served(server, ri, 0);
    if (is_chunked(conn)) {
        st = read_chunked(conn, max, body, len);
    } else {
        /* Refuse early when the client announces too much: no need to read
         * it (dispatch refuses it already; this keeps the promise here). */
        if (ri->content_length > 0 && (unsigned long long)ri->content_length > max) {
            t_must_close = 1; /* do not read the rest: say so, and close after replying */
            mark_served(server, ri, 1);
            return web_reply_error(conn, 413,
                                   "request body of %lld bytes is over the limit of %zu",
                                   ri->content_length, max);
        }
        st = read_declared(conn, ri->content_length > 0 ? (size_t)ri->content_length : 0, body,
                           len);
    }
    mark_served(server, ri, 1);
    if (st != 0)
        return st;
    (*body)[*len] = '\0';
    if (t_secret && narrate_is_verbose())
        note("request body: %zu bytes, holding a credential: not shown", *len);
    else if (!t_secret)
        hexdump("request body", *body, *len);
    return 0;
}

void web_secret(struct mg_connection *conn)
{
    (void)conn;
    t_secret = 1;
}

int web_read_json(struct mg_connection *conn, json_t **out)
{
    const char *ctype = web_header(conn, "Content-Type");
    char *body;
    size_t len;
    char err[256];
    int st;

    *out = NULL;
    if (!ctype || strncmp(ctype, "application/json", 16) != 0 ||
        (ctype[16] != '\0' && ctype[16] != ';'))
        return web_reply_error(conn, 415, "expected Content-Type: application/json, got %s",
                               ctype ? ctype : "none");
    if ((st = web_read_body(conn, &body, &len)) != 0)
        return st;
    *out = json_parse(body, len, cfg_of(conn)->max_json_depth, err, sizeof err);
    OPENSSL_cleanse(body, len); /* it may hold a password (the parsed copy is the caller's) */
    free(body);
    if (!*out)
        return web_reply_error(conn, 400, "bad JSON: %s", err);
    return 0;
}

/* ---- request framing: refuse what two parsers could read differently ----
 *
 * civetweb 1.15 takes the first of two Content-Length headers, reads "7x" as
 * 7 (strtoll), lets Transfer-Encoding win over a Content-Length, and adds a
 * declared length to its buffer offset without an overflow check. A proxy in
 * front of us may read the same bytes another way (request smuggling), and
 * the overflow is undefined behaviour. RFC 9112 6.3 says what to do: a
 * message whose length cannot be told for certain is an error, and the
 * connection closes after the answer. So each request's framing is checked
 * here, before any handler (or civetweb's "discard the unread body") runs. */

/* Content-Length as RFC 9110 8.6 writes it: digits only. Sets *value (capped
 * at limit + 1, so no overflow however many digits). 0 if well formed. */
static int parse_content_length(const char *s, size_t limit, size_t *value)
{
    size_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v <= limit)
            v = v * 10 + (size_t)(*s - '0');
    }
    *value = v > limit ? limit + 1 : v;
    return 0;
}

/* 0 if the request's framing is sound; otherwise the status, after replying
 * (the connection closes: what follows on it cannot be trusted). */
static int check_framing(struct mg_connection *conn, size_t max)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *cl = NULL;
    int ncl = 0, nte = 0;
    size_t len;

    for (int i = 0; i < ri->num_headers; i++) {
        if (strcasecmp(ri->http_headers[i].name, "Content-Length") == 0) {
            ncl++;
            cl = ri->http_headers[i].value;
        } else if (strcasecmp(ri->http_headers[i].name, "Transfer-Encoding") == 0) {
            nte++;
        }
    }
    if (ncl == 0 && nte == 0)
        return 0;
    t_must_close = 1; /* for every refusal below */
    if (ncl > 1)
        return web_reply_error(conn, 400, "the request has %d Content-Length headers; one, please",
                               ncl);
    if (ncl && nte)
        return web_reply_error(conn, 400, "the request has both Content-Length and "
                                          "Transfer-Encoding: its length is ambiguous");
    if (nte > 1)
        return web_reply_error(conn, 400, "the request has %d Transfer-Encoding headers", nte);
    if (nte && !is_chunked(conn))
        return web_reply_error(conn, 400, "Transfer-Encoding '%s' is not one this server reads "
                                          "(only chunked)",
                               mg_get_header(conn, "Transfer-Encoding"));
    /* Without the patch, civetweb's own chunk parser can overflow (see
     * scripts/build-civetweb.sh), and civetweb runs it even for a route that
     * reads no body, to skip the body: so refuse chunked bodies for every
     * route here. */
    if (nte && !mg_course_patches)
        return web_reply_error(conn, 411, "this server's civetweb build lacks the course's "
                                          "chunk-size check; send the body with a "
                                          "Content-Length (rebuild: rm -rf build/civetweb && "
                                          "make)");
    if (ncl) {
        if (parse_content_length(cl, max, &len) != 0)
            return web_reply_error(conn, 400, "Content-Length '%s' is not a whole number of bytes",
                                   cl);
        /* Refuse it here, for every route: civetweb would add a huge length
         * to its buffer offset when it skips a body nobody read. */
        if (len > max)
            return web_reply_error(conn, 413, "request body of %s bytes is over the limit of %zu",
                                   cl, max);
    }
    t_must_close = 0;
    return 0;
}

/* Percent-decode the path into t_path. 0 if it is a clean path; otherwise
 * the status, after replying. A NUL or another control byte in a path is
 * never what a client meant: "/page%00.png" would otherwise match "/page"
 * here and mean "/page.png" to a proxy or a file system. */
static int decode_path(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *raw = ri->local_uri ? ri->local_uri : "";
    int n = mg_url_decode(raw, (int)strlen(raw), t_path, (int)sizeof t_path, 0);

    if (n < 0) {
        t_path[0] = '\0';
        return web_reply_error(conn, 414, "the path is too long");
    }
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t_path[i];
        if (c < 0x20 || c == 0x7f) {
            t_path[i] = '\0'; /* the log shows the path up to the byte */
            return web_reply_error(conn, 400, "the path has a control byte (%%%02X) in it", c);
        }
    }
    return 0;
}

/* Log the request line as the decoded text a learner can read (narrate shows
 * control bytes as \xNN, and a NUL as \x00). */
static void log_request(const struct mg_request_info *ri)
{
    char uri[4096];
    const char *raw = ri->request_uri ? ri->request_uri : "?";
    int n = mg_url_decode(raw, (int)strlen(raw), uri, (int)sizeof uri, 0);
    char shown[4096 * 4 + 1];
    size_t o = 0;

    if (n < 0) { /* longer than the buffer: show it as it came */
        snprintf(uri, sizeof uri, "%s", raw);
        n = (int)strlen(uri);
    }
    for (int i = 0; i < n && o + 5 < sizeof shown; i++) {
        if (uri[i] == '\0') {
            memcpy(shown + o, "\\x00", 4);
            o += 4;
        } else {
            shown[o++] = uri[i];
        }
    }
    shown[o] = '\0';
    wire_in("%s %s%s%s HTTP/%s", ri->request_method, shown, ri->query_string ? "?" : "",
            ri->query_string ? ri->query_string : "", ri->http_version);
    for (int i = 0; i < ri->num_headers; i++) {
        char line[8192];
        const char *name = ri->http_headers[i].name, *v = ri->http_headers[i].value;
        wire_in("%s", net_header_shown(name, strlen(name), v, strlen(v), line, sizeof line));
    }
}

/* ---- slow clients ----
 *
 * civetweb gives a connection a worker thread from the moment it takes it
 * off its queue, and the worker waits up to request_timeout_ms for the whole
 * request head. 200 connections that send one byte a second hold every worker
 * of an 8-thread server, and a normal request waits behind all of them (it
 * went unanswered for a minute). civetweb 1.15 has no callback between
 * accepting a connection and its complete request head, and no per-address
 * limit, so a watchdog thread does it: ten times a second it lists this
 * server's connections (its sockets, in /proc/self/fd), skips those that have
 * sent a request head (dispatch marks them), and when one address has more
 * than `cap` connections that have been waiting longer than WAIT_GRACE, it
 * shuts down its newest ones. Its `cap` oldest keep their chance, the worker
 * of a shut-down socket reads the end of the stream at once, and other
 * addresses find free workers. A browser or a benchmark sends its request
 * head at once and is never counted for long. The TLS handshake is covered
 * too: it happens before the request head. */
#define WAIT_GRACE 0.5  /* seconds a connection may wait uncounted */
#define WATCH_EVERY_MS 100

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* dispatch: the connection sent a request head (add 1); connection_close:
 * it is gone (add 0). A served connection is held by a worker, so the table
 * has one slot per worker thread. */
static void mark_served(web_server *s, const struct mg_request_info *ri, int add)
{
    peer_key *free_slot = NULL;
    if (!s->served || !ri)
        return;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->nserved; i++) {
        peer_key *k = &s->served[i];
        if (k->addr[0] && k->port == ri->remote_port && strcmp(k->addr, ri->remote_addr) == 0) {
            if (!add)
                k->addr[0] = '\0';
            free_slot = NULL;
            add = 0; /* already there */
            break;
        }
        if (!k->addr[0] && !free_slot)
            free_slot = k;
    }
    if (add && free_slot) {
        snprintf(free_slot->addr, sizeof free_slot->addr, "%s", ri->remote_addr);
        free_slot->port = ri->remote_port;
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- what the TLS layer knows about a connection ------------------------
 *
 * A handler may ask for the channel binding of its connection (RFC 9266
 * tls-exporter) and for the client certificate the handshake verified, but
 * civetweb hands a handler no SSL*. So both are taken while the handshake
 * runs, and kept with the connection. The order on one worker thread, in
 * civetweb 1.15's worker_thread_run (civetweb.c, the "HTTPS connection"
 * branch of its consume_socket loop), is:
 *
 *   sslize(conn, SSL_accept, NULL)    the handshake: OpenSSL calls our info
 *                                     callback (on_tls_info) on this thread,
 *                                     HANDSHAKE_START first, SSL_accept's
 *                                     exit with the handshake finished last
 *   ssl_get_client_cert_info(...)     fills request_info.client_cert
 *   init_connection(conn)             clears conn_data, then calls
 *                                     callbacks.init_connection (ours below)
 *   process_new_connection(conn)      every request of the connection, then
 *                                     close_connection: callbacks.
 *                                     connection_close, then SSL_free
 *
 * The info callback cannot reach the connection's data (init_connection has
 * not made it yet, and clears whatever is there), so it leaves the facts in a
 * _Thread_local slot and connection_opening moves them into the connection.
 * One worker serves one connection at a time, HANDSHAKE_START wipes the slot
 * and connection_opening empties it: what a connection gets is what its own
 * handshake left, never a value of another connection. */

/* the header promises RFC 9266's 32 bytes; exporter.h computes them */
_Static_assert(WEB_EXPORTER_LEN == NET_EXPORTER_LEN, "one exporter length on both sides");

typedef struct tls_facts {
    int done; /* a handshake finished */
    int have_exporter;
    uint8_t exporter[WEB_EXPORTER_LEN];
    int peer_verified; /* a client certificate came, and OpenSSL verified it */
    int fd;            /* the socket under it: for poll() only (web_input_pending) */
} tls_facts;

/* What web_serve keeps per connection (mg_get_user_connection_data). */
typedef struct conn_data {
    tls_facts tls;
} conn_data;

/* The facts of the handshake this worker thread ran last, until
 * connection_opening takes them. */
static _Thread_local tls_facts t_handshake;

static void facts_wipe(tls_facts *f)
{
    OPENSSL_cleanse(f, sizeof *f);
}

/* The exporter, and whether the client's certificate was verified: asked of
 * OpenSSL, not assumed from civetweb's options. A chapter's init_ssl may
 * install a verify callback that lets a bad certificate through (to narrate
 * it, say); such a certificate is not one a handler may trust. */
static void facts_of(const SSL *ssl, tls_facts *f)
{
    memset(f, 0, sizeof *f);
    f->done = 1;
    f->have_exporter = net_tls_exporter(ssl, f->exporter) == 0;
    f->peer_verified = SSL_get0_peer_certificate(ssl) != NULL &&
                       (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0 &&
                       SSL_get_verify_result(ssl) == X509_V_OK;
    f->fd = SSL_get_fd(ssl);
}

/* The info callback that was on the SSL_CTX before ours (civetweb's no-op,
 * or a chapter's): ours calls it first, so a chapter loses nothing. */
static int g_prev_info_idx = -1;
static pthread_once_t g_prev_info_once = PTHREAD_ONCE_INIT;
typedef void (*info_cb)(const SSL *ssl, int where, int ret);
typedef struct prev_info {
    info_cb fn;
} prev_info;

static void prev_info_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                           void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void prev_info_idx_make(void)
{
    g_prev_info_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, prev_info_free);
}

static void on_tls_info(const SSL *ssl, int where, int ret)
{
    const prev_info *prev = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_prev_info_idx);
    struct mg_connection *conn = SSL_get_app_data(ssl);
    /* set only once connection_opening ran: this is a second handshake */
    conn_data *d = conn ? mg_get_user_connection_data(conn) : NULL;

    if (prev && prev->fn)
        prev->fn(ssl, where, ret);
    if (where & SSL_CB_HANDSHAKE_START) {
        /* TLS 1.3 has no second handshake: OpenSSL says "start" for a
         * KeyUpdate or a ticket arriving later, and neither changes the
         * exporter or the peer. */
        if (d && SSL_version(ssl) == TLS1_3_VERSION)
            return;
        /* A new handshake (the first, or a TLS 1.2 renegotiation): what the
         * last one said no longer holds, even if this one fails. */
        facts_wipe(&t_handshake);
        if (d)
            facts_wipe(&d->tls);
    }
    /* Not at SSL_CB_HANDSHAKE_DONE: OpenSSL says "done" before its state is
     * final, and SSL_get_extms_support (TLS 1.2's extended master secret)
     * still answers "unknown" there. SSL_accept's exit (SSL_read's, for a
     * renegotiation) with ret 1 and the handshake finished is the moment. */
    if ((where & SSL_CB_ACCEPT_EXIT) == SSL_CB_ACCEPT_EXIT && ret == 1 &&
        SSL_is_init_finished(ssl)) {
        tls_facts f;
        if (d && SSL_version(ssl) == TLS1_3_VERSION && d->tls.done)
            return; /* a TLS 1.3 post-handshake message: nothing changed */
        facts_of(ssl, &f);
        if (!d) {
            t_handshake = f;
        } else {
            /* A renegotiation: civetweb's copy of the client certificate is
             * the first handshake's; vouch for it only if it is still the
             * certificate the peer presented. */
            const struct mg_client_cert *cc = mg_get_request_info(conn)->client_cert;
            X509 *now = SSL_get0_peer_certificate(ssl);
            if (!cc || !cc->peer_cert || !now || X509_cmp(now, cc->peer_cert) != 0)
                f.peer_verified = 0;
            d->tls = f;
        }
        facts_wipe(&f);
    }
}

/* Put on_tls_info on a server context, after the chapter's init_ssl had its
 * say (it may have set an info callback of its own: kept, and called).
 * Returns 0 or -1. */
static int tls_info_install(SSL_CTX *ctx)
{
    prev_info *prev;
    pthread_once(&g_prev_info_once, prev_info_idx_make);
    if (g_prev_info_idx < 0)
        return -1;
    if (SSL_CTX_get_info_callback(ctx) == on_tls_info)
        return 0; /* the same context twice: installed already */
    if (!(prev = calloc(1, sizeof *prev)))
        return -1;
    prev->fn = SSL_CTX_get_info_callback(ctx);
    if (SSL_CTX_set_ex_data(ctx, g_prev_info_idx, prev) != 1) {
        free(prev);
        return -1;
    }
    SSL_CTX_set_info_callback(ctx, on_tls_info);
    return 0;
}

/* callbacks.init_connection: right after the handshake, on its thread. */
static int connection_opening(const struct mg_connection *conn, void **data)
{
    conn_data *d = NULL;
    (void)conn; /* its request_info is not readable yet (connection_type is unset) */
    /* a plain HTTP connection ran no handshake, and gets no data */
    if (t_handshake.done && (d = calloc(1, sizeof *d)) != NULL)
        d->tls = t_handshake;
    /* taken (or lost to an allocation failure: then the connection has no
     * exporter, which handlers must treat as "unknown", and do) */
    facts_wipe(&t_handshake);
    *data = d;
    return 0;
}

int web_tls_exporter(struct mg_connection *conn, uint8_t out[WEB_EXPORTER_LEN])
{
    const conn_data *d = mg_get_user_connection_data(conn);
    if (!d || !d->tls.have_exporter) {
        memset(out, 0, WEB_EXPORTER_LEN);
        return -1;
    }
    memcpy(out, d->tls.exporter, WEB_EXPORTER_LEN);
    return 0;
}

X509 *web_peer_cert(struct mg_connection *conn)
{
    const conn_data *d = mg_get_user_connection_data(conn);
    const struct mg_client_cert *cc = mg_get_request_info(conn)->client_cert;
    if (!d || !d->tls.peer_verified || !cc)
        return NULL;
    return (X509 *)cc->peer_cert;
}

int web_input_pending(struct mg_connection *conn, int timeout_ms)
{
    const conn_data *d = mg_get_user_connection_data(conn);
    struct pollfd p;
    int n;
    if (!d || !d->tls.done || d->tls.fd < 0)
        return -1;
    /* POLLIN is also what a closed or reset connection reports */
    p.fd = d->tls.fd;
    p.events = POLLIN;
    p.revents = 0;
    n = poll(&p, 1, timeout_ms);
    return n < 0 ? -1 : n > 0;
}

void web_close_after_reply(struct mg_connection *conn)
{
    (void)conn;
    t_must_close = 1;
}

/* callbacks.connection_close: the connection is going (civetweb then clears
 * conn_data and frees the SSL). */
static void connection_closing(const struct mg_connection *conn)
{
    conn_data *d = mg_get_user_connection_data(conn);
    mark_served(mg_get_user_data(mg_get_context(conn)), mg_get_request_info(conn), 0);
    if (d) {
        facts_wipe(&d->tls);
        free(d);
    }
    /* a handshake that failed after its facts were taken leaves none behind */
    facts_wipe(&t_handshake);
}

/* The peer of socket fd, if it is one of this server's connections. */
static int peer_of(int fd, int port, peer_key *k)
{
    struct sockaddr_storage peer, local;
    socklen_t pl = sizeof peer, ll = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &ll) != 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &pl) != 0 || local.ss_family != peer.ss_family)
        return -1;
    if (peer.ss_family == AF_INET) {
        const struct sockaddr_in *p = (const struct sockaddr_in *)&peer;
        if (ntohs(((const struct sockaddr_in *)&local)->sin_port) != port)
            return -1;
        inet_ntop(AF_INET, &p->sin_addr, k->addr, sizeof k->addr);
        k->port = ntohs(p->sin_port);
        return 0;
    }
    if (peer.ss_family == AF_INET6) {
        const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)&peer;
        if (ntohs(((const struct sockaddr_in6 *)&local)->sin6_port) != port)
            return -1;
        inet_ntop(AF_INET6, &p->sin6_addr, k->addr, sizeof k->addr);
        k->port = ntohs(p->sin6_port);
        return 0;
    }
    return -1;
}

static int is_served(web_server *s, const peer_key *k)
{
    int yes = 0;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->nserved && !yes; i++)
        yes = s->served[i].addr[0] && s->served[i].port == k->port &&
              strcmp(s->served[i].addr, k->addr) == 0;
    pthread_mutex_unlock(&s->lock);
    return yes;
}

/* Shut down the connection w: through a dup of its fd, checked to be the
 * same connection, so that civetweb closing the fd meanwhile and reusing the
 * number for another client cannot make us cut the wrong one. */
static void cut(const waiting_conn *w, int port)
{
    peer_key k;
    int fd = dup(w->fd);
    if (fd < 0)
        return;
    if (peer_of(fd, port, &k) == 0 && k.port == w->k.port && strcmp(k.addr, w->k.addr) == 0)
        shutdown(fd, SHUT_RDWR);
    close(fd);
}

static int by_since(const void *a, const void *b)
{
    double x = ((const waiting_conn *)a)->since, y = ((const waiting_conn *)b)->since;
    return x < y ? -1 : x > y;
}

/* One round: list the waiting connections, cut each address's excess. */
static void watch_round(web_server *s)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    waiting_conn *now_w = NULL;
    size_t n = 0, cap = 0;
    double now = now_seconds();

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        waiting_conn w;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        w.fd = atoi(e->d_name);
        if (w.fd == dirfd(d) || peer_of(w.fd, s->port, &w.k) != 0 || is_served(s, &w.k))
            continue;
        w.since = now;
        for (size_t i = 0; i < s->nseen; i++)
            if (s->seen[i].k.port == w.k.port && strcmp(s->seen[i].k.addr, w.k.addr) == 0)
                w.since = s->seen[i].since;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            waiting_conn *nw = ncap <= 65536 ? realloc(now_w, ncap * sizeof *nw) : NULL;
            if (!nw)
                break;
            now_w = nw;
            cap = ncap;
        }
        now_w[n++] = w;
    }
    closedir(d);
    /* oldest first; per address, the first `cap` aged ones keep their chance */
    if (n > 1) /* qsort wants a real array, even of none */
        qsort(now_w, n, sizeof *now_w, by_since);
    for (size_t i = 0; i < n; i++) {
        int older = 0, cut_here = 0;
        if (now - now_w[i].since < WAIT_GRACE || now_w[i].fd < 0)
            continue;
        for (size_t j = 0; j < i; j++)
            older += now_w[j].fd >= 0 && now - now_w[j].since >= WAIT_GRACE &&
                     strcmp(now_w[j].k.addr, now_w[i].k.addr) == 0;
        if (older < s->cap)
            continue;
        /* cut every later one of this address in one go, and say so once */
        for (size_t j = i; j < n; j++) {
            if (now - now_w[j].since >= WAIT_GRACE && now_w[j].fd >= 0 &&
                strcmp(now_w[j].k.addr, now_w[i].k.addr) == 0) {
                cut(&now_w[j], s->port);
                now_w[j].fd = -1; /* gone: not carried to the next round */
                cut_here++;
            }
        }
        note("slow clients: shut down %d connections from %s (%d of its connections already "
             "wait for their request head or body)",
             cut_here, now_w[i].k.addr, s->cap);
    }
    /* what the next round compares with: the ones still there */
    {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (now_w[i].fd >= 0)
                now_w[m++] = now_w[i];
        free(s->seen);
        s->seen = now_w;
        s->nseen = m;
    }
}

static void *watchdog(void *arg)
{
    web_server *s = arg;
    for (;;) {
        struct timespec ts = {0, WATCH_EVERY_MS * 1000000L};
        int stop;
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&s->lock);
        stop = s->stop;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
        watch_round(s);
    }
    return NULL;
}

/* Every request comes through here: log it as it arrived, check its framing
 * and path, then route it. */
static int dispatch(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const web_config *cfg = cfg_of(conn);
    int path_known = 0, head = strcmp(ri->request_method, "HEAD") == 0, st;
    const char *want = head ? "GET" : ri->request_method;
    size_t o = 0;

    t_must_close = 0;
    t_retry_after = 0;
    t_allow[0] = '\0';
    /* HEAD gets the head only, whatever answers it (a 404 or 405 too) */
    t_head = head;
    t_secret = 0;
    mark_served(mg_get_user_data(mg_get_context(conn)), ri, 1);

    t_body_unread = 0;
    log_request(ri);
    if ((st = check_framing(conn, cfg->max_body)) != 0 || (st = decode_path(conn)) != 0)
        return st;
    t_body_unread = ri->content_length > 0 || is_chunked(conn);

    for (const char *const *w = cfg->websocket_paths; w && *w; w++) {
        const char *up = mg_get_header(conn, "Upgrade");
        if (strcmp(*w, t_path) != 0)
            continue;
        if (strcmp(ri->request_method, "GET") == 0 && up && strcasecmp(up, "websocket") == 0)
            return 0; /* civetweb: its WebSocket handlers (on_started registered them) */
        return web_reply_error(conn, 426, "%s is a WebSocket: GET with Upgrade: websocket", t_path);
    }
    for (const web_route *r = cfg->routes; r && r->fn; r++) {
        if (strcmp(r->path, t_path) != 0)
            continue;
        path_known = 1;
        if (strcmp(r->method, want) == 0)
            return r->fn(conn, r->arg);
        /* the Allow header of a 405: this path's methods, HEAD beside GET */
        if (o < sizeof t_allow)
            o += (size_t)snprintf(t_allow + o, sizeof t_allow - o, "%s%s%s", o ? ", " : "",
                                  r->method, strcmp(r->method, "GET") == 0 ? ", HEAD" : "");
    }
    if (path_known)
        return web_reply_error(conn, 405, "method %s is not allowed on %s", ri->request_method,
                               t_path);
    return web_reply_error(conn, 404, "no such path: %s", t_path);
}

/* While starting, civetweb's first complaint is the real reason (for example
 * "cannot bind to 127.0.0.1:8001: 98 (Address already in use)"); keep it for
 * the one error line. Afterwards, pass civetweb's messages on as notes. */
static char g_start_reason[256];
static int g_starting;

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    if (g_starting) {
        if (!g_start_reason[0])
            snprintf(g_start_reason, sizeof g_start_reason, "%s", message);
        return 1;
    }
    notice("civetweb: %s", message);
    return 1;
}

/* Start-up self-test: say in one line what is wrong with the civetweb build. */
static int self_test(const web_config *cfg)
{
    unsigned want = cfg->tls ? MG_FEATURES_TLS : 0;
    unsigned got = mg_init_library(want);
    if (cfg->tls && (!mg_check_feature(MG_FEATURES_TLS) || (got & MG_FEATURES_TLS) == 0)) {
        errorf("civetweb self-test",
               "TLS is not available (mg_init_library(MG_FEATURES_TLS) = %#x); this is the "
               "OpenSSL 1.1 build of civetweb",
               got);
        hint("rebuild it for OpenSSL 3: rm -rf build/civetweb && make");
        mg_exit_library(); /* mg_init_library succeeded in part: undo it */
        return -1;
    }
    return 0;
}

/* civetweb hands init_ssl its own user_data (our web_server): pass the
 * chapter's init_ssl_arg on, as webserver.h promises. */
static int init_ssl_hook(void *ssl_ctx, void *user_data)
{
    const web_server *s = user_data;
    int rc = s->cfg->init_ssl ? s->cfg->init_ssl(ssl_ctx, s->cfg->init_ssl_arg) : 0;
    /* civetweb put its own (no-op) info callback on the context just before
     * calling us (init_ssl_ctx_impl); ours goes over whatever is there now,
     * and calls it. A server that cannot tell its handlers the channel
     * binding must not start: a handler would take "unknown" for a refusal
     * it cannot explain. */
    if (rc >= 0 && tls_info_install(ssl_ctx) != 0) {
        notice("cannot watch the TLS handshakes (out of memory)");
        return -1;
    }
    return rc;
}

/* The options web_serve sets itself, name and value: 6 pairs. */
#define WEB_OWN_OPTIONS 12
#define WEB_MAX_OPTIONS 64

int web_serve(const web_config *cfg)
{
    web_server srv;
    pthread_t watcher;
    int watching = 0;
    struct mg_callbacks cb;
    struct mg_context *ctx;
    struct mg_server_port ports[4];
    const char *opts[WEB_MAX_OPTIONS + 1];
    char listen[128], threads[16], timeout[16];
    char errtext[256] = "";
    struct mg_error_data errd = {NULL, errtext, sizeof errtext};
    struct mg_init_data init;
    int n = 0, nports, sig = 0, v6 = strchr(cfg->host, ':') != NULL, rc = EXIT_FAILED;
    size_t extra = 0;
    sigset_t set;

    /* A chapter's options are security settings (ciphers, protocol versions,
     * client certificates): a server without one of them must not start. */
    for (const char *const *o = cfg->civetweb_options; o && o[0]; o += 2) {
        if (!o[1]) {
            errorf("civetweb options", "option '%s' has no value", o[0]);
            return EXIT_FAILED;
        }
        extra += 2;
    }
    if (extra > WEB_MAX_OPTIONS - WEB_OWN_OPTIONS) {
        errorf("civetweb options", "%zu options given, at most %d fit; refusing to start without "
                                   "some of them",
               extra / 2, (WEB_MAX_OPTIONS - WEB_OWN_OPTIONS) / 2);
        return EXIT_FAILED;
    }

    /* civetweb refuses TLS without a certificate only when no init_ssl is
     * set, and the web layer always sets one for its handshake watcher: say
     * it here, as civetweb would have. */
    if (cfg->tls && !cfg->init_ssl) {
        int have_cert = 0;
        for (const char *const *o = cfg->civetweb_options; o && o[0]; o += 2)
            have_cert |= strcmp(o[0], "ssl_certificate") == 0;
        if (!have_cert) {
            errorf("cannot start the server", "TLS needs a certificate: set the civetweb "
                                              "option ssl_certificate, or an init_ssl that "
                                              "loads one");
            return EXIT_FAILED;
        }
    }
    if (self_test(cfg))
        return EXIT_FAILED;

    memset(&srv, 0, sizeof srv);
    srv.cfg = cfg;
    pthread_mutex_init(&srv.lock, NULL);
    srv.nserved = cfg->threads > 0 ? cfg->threads : 1;
    srv.cap = cfg->per_client_pending > 0 ? cfg->per_client_pending
              : cfg->threads > 1          ? cfg->threads / 2
                                          : 1;
    if (!(srv.served = calloc((size_t)srv.nserved, sizeof *srv.served))) {
        errorf("cannot start the server", "out of memory");
        mg_exit_library();
        return EXIT_FAILED;
    }

    /* Block the stop signals before civetweb starts its threads, so every
     * thread inherits the mask and only sigwait() below ever sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP); /* the terminal went away, or on_reload's signal */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    snprintf(listen, sizeof listen, v6 ? "[%s]:%d%s" : "%s:%d%s", cfg->host, cfg->port,
             cfg->tls ? "s" : "");
    snprintf(threads, sizeof threads, "%d", cfg->threads);
    snprintf(timeout, sizeof timeout, "%d", cfg->request_timeout_ms);
    opts[n++] = "listening_ports";
    opts[n++] = listen;
    opts[n++] = "num_threads";
    opts[n++] = threads;
    /* the whole request head must arrive within this time (civetweb counts
     * from the connection's first byte), and each body read too */
    opts[n++] = "request_timeout_ms";
    opts[n++] = timeout;
    opts[n++] = "enable_keep_alive";
    opts[n++] = "yes";
    /* dispatch decodes the path itself, to see a %00 (decode_path) */
    opts[n++] = "decode_url";
    opts[n++] = "no";
    /* accept a flood of connections at once, so the watchdog sees (and
     * cuts) them all in one round instead of 20 at a time */
    opts[n++] = "connection_queue";
    opts[n++] = "256";
    for (const char *const *o = cfg->civetweb_options; o && o[0]; o += 2) {
        opts[n++] = o[0];
        opts[n++] = o[1];
    }
    opts[n] = NULL;

    memset(&cb, 0, sizeof cb);
    cb.begin_request = dispatch;
    cb.log_message = log_message;
    /* every TLS server gets the handshake watcher (init_ssl_hook), composed
     * with the chapter's init_ssl if it has one */
    cb.init_ssl = cfg->tls ? init_ssl_hook : NULL;
    cb.init_connection = connection_opening;
    cb.connection_close = connection_closing;
    init.callbacks = &cb;
    init.user_data = &srv;
    init.configuration_options = opts;

    g_starting = 1;
    ctx = mg_start2(&init, &errd);
    g_starting = 0;
    if (!ctx) {
        const char *why = g_start_reason[0] ? g_start_reason : errtext;
        errorf("cannot start the server", "%s", why[0] ? why : "civetweb said nothing");
        if (strstr(why, "in use"))
            hint("another program has port %d; pick another with --port N (0 = any free port)",
                 cfg->port);
        goto end;
    }
    nports = mg_get_server_ports(ctx, 4, ports);
    if (nports < 1) {
        errorf("cannot start the server", "civetweb reports no listening port");
        goto end;
    }
    srv.port = ports[0].port;
    if (cfg->on_started && cfg->on_started(ctx, cfg->on_started_arg) != 0) {
        errorf("cannot start the server", "the program's start-up hook failed");
        goto end;
    }
    if (cfg->per_client_pending >= 0 && pthread_create(&watcher, NULL, watchdog, &srv) == 0)
        watching = 1;
    /* The first stdout line, flushed: scripts and tests wait for it. */
    result("listening on %s://%s%s%s:%d", cfg->tls ? "https" : "http", v6 ? "[" : "", cfg->host,
           v6 ? "]" : "", ports[0].port);
    if (cfg->on_listening)
        cfg->on_listening(cfg->on_listening_arg);

    while (sigwait(&set, &sig) == 0 && sig == SIGHUP && cfg->on_reload) {
        step("SIGHUP: reloading");
        cfg->on_reload(cfg->on_reload_arg);
    }
    step("stopping on %s: no new connections, finishing running requests",
         sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM");
    rc = EXIT_OK;
    if (cfg->on_stopping)
        cfg->on_stopping(cfg->on_started_arg);
end:
    if (watching) {
        pthread_mutex_lock(&srv.lock);
        srv.stop = 1;
        pthread_mutex_unlock(&srv.lock);
        pthread_join(watcher, NULL);
    }
    if (ctx)
        mg_stop(ctx);
    mg_exit_library();
    free(srv.seen);
    free(srv.served);
    pthread_mutex_destroy(&srv.lock);
    if (rc == EXIT_OK)
        step("stopped");
    return rc;
}
