/* SPDX-License-Identifier: MIT */
/*
 * notify.c - live notifications over a WebSocket: GET /v1/notify (R5's push,
 * issue 12), NOTIFY envelopes sealed under the session's third direction.
 *
 * THE LESSON: one thread owns one TLS connection.
 *
 * An SSL object may be used by one thread at a time; OpenSSL does no locking
 * of its own there. civetweb 1.15 reads a WebSocket (read_websocket ->
 * pull_inner -> SSL_read) without its connection lock, while
 * mg_websocket_write takes that lock and calls SSL_write: so the usual
 * pattern, "keep a list of sockets and write to them from whatever thread
 * has news", runs SSL_read and SSL_write on one SSL from two threads at
 * once. It works in a demo and corrupts the connection (or the heap) under
 * load (06-design.md 2.4; cpp-httplib PR #2551 and Apache mod_websocket PR
 * #41 are the same bug; civetweb issue #1181 shows the list-plus-writer
 * pattern, which still races the reader).
 *
 * So here the worker thread civetweb gives the socket is the only one that
 * ever touches it:
 *
 *   connect handler  (before the upgrade, plain HTTP still) the device
 *                    certificate, the Bearer token bound to it, a live
 *                    session, and the caps: a refusal is an HTTP status with
 *                    a reason, and no upgrade
 *   ready handler    IS the writer: it waits on its own queue (a condvar),
 *                    writes each NOTIFY, a heartbeat every 25 s (an
 *                    unsolicited Pong, RFC 6455 5.5.3: the client answers
 *                    nothing), and returns on a write error, on the session's
 *                    end (CLOSE, revocation, the sweeper), on server stop
 *                    (notify_stop), or when the client sends anything (it is
 *                    asked with poll(), never read: reading is civetweb's)
 *   civetweb's reader runs only after the ready handler returned, on the
 *                    same thread: it reads the client's close frame (or EOF)
 *                    and the data handler answers it
 *
 * Everyone else only queues: notify_account (called by the messaging and
 * transfer modules after their COMMIT, by HELLO for the login event, by
 * revocation) seals the NOTIFY for each socket of the account and appends it
 * to that socket's queue. It never waits for a socket: a queue that is full
 * loses its oldest frame, and the next frame says so ("missed": N); the
 * client also sees the gap in seq.
 *
 * Sealing happens when the event is queued, not when it is written: the
 * direction's seq then follows the order of the queue, and a "revoked"
 * frame is sealed while the keys still exist (the revocation wipes them a
 * moment later). The direction lives in the session (live.h: made once by
 * HELLO, under a leaf lock), so a second socket of the same session goes on
 * counting from where the first stopped: a new direction from the same
 * secret would reuse (key, nonce) pairs.
 *
 * The socket is push only. Requests travel as DATA_REQUEST envelopes over
 * HTTPS; civetweb's reader would malloc up to 2 GiB for a frame header a
 * client sends, so the socket is authenticated before the upgrade and
 * anything the client sends ends it.
 *
 * Locks: hub->lock, then a session's ntf_lock (a leaf). notify_account may
 * be called with any session's lock held (an op runs under its session's
 * lock), so nothing here takes a session's main lock, and a session
 * reference is given back (live_put) only with no lock held.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/encoding.h"
#include "core/json.h"
#include "net/webserver.h"
#include "service.h"

#define NOTIFY_PATH "/v1/notify"
#define NOTIFY_QUEUE_MAX 64     /* frames waiting per socket; then the oldest goes */
#define NOTIFY_HEARTBEAT_S 25   /* an unsolicited Pong when nothing else was sent */
#define NOTIFY_SLICE_MS 200     /* how often a waiting writer looks at its session and socket */
#define NOTIFY_PLAIN_MAX 4096   /* a NOTIFY's plaintext: ids and names, never content */
#define NOTIFY_PENDING_S 10     /* a socket accepted but never ready: its handshake failed */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_POLICY 1008

typedef struct frame {
    char *text; /* the NOTIFY envelope's JSON */
    size_t len;
    uint64_t seq;
    char event[16];
} frame;

typedef struct notify_conn {
    struct mg_connection *conn; /* civetweb's: one per worker, reused */
    live_session *s;            /* a reference for the socket's life */
    int64_t account_id;
    char serial[LIVE_SERIAL_SIZE], user[LIVE_USER_SIZE];
    time_t accepted;
    int ready;      /* the handshake went through: the writer runs */
    int done;       /* the writer returned: queue nothing more */
    int revoked;    /* its device is being revoked: the close says so */
    int close_sent; /* a close frame went out (the data handler answers otherwise) */
    pthread_cond_t cond;
    frame q[NOTIFY_QUEUE_MAX];
    size_t head, n;
    unsigned missed; /* frames dropped since the last one queued */
    uint64_t written;
    struct notify_conn *next;
} notify_conn;

struct notify_hub {
    pthread_mutex_t lock;
    notify_conn *head;
    size_t count, max;
    int stop;
};

static void frame_free(frame *f)
{
    free(f->text);
    memset(f, 0, sizeof *f);
}

static struct timespec mono_in(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static time_t mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

/* under hub->lock */
static notify_conn *find_conn(struct notify_hub *h, const struct mg_connection *conn)
{
    for (notify_conn *c = h->head; c; c = c->next)
        if (c->conn == conn)
            return c;
    return NULL;
}

/* under hub->lock: out of the list; the caller frees it with no lock held */
static void unlink_conn(struct notify_hub *h, notify_conn *nc)
{
    for (notify_conn **p = &h->head; *p; p = &(*p)->next) {
        if (*p == nc) {
            *p = nc->next;
            nc->next = NULL;
            h->count--;
            return;
        }
    }
}

static void conn_free(service *svc, notify_conn *nc)
{
    for (size_t i = 0; i < nc->n; i++)
        frame_free(&nc->q[(nc->head + i) % NOTIFY_QUEUE_MAX]);
    pthread_cond_destroy(&nc->cond);
    live_put(svc->sessions, nc->s);
    free(nc);
}

/* ---- queueing: any thread ------------------------------------------------ */

/* Seal pt (with "missed" when frames were dropped) under nc's session's ntf
 * direction and append it to nc's queue. Under hub->lock. */
static void enqueue(notify_conn *nc, json_t *pt, const char *event)
{
    frame f = {0};
    char *text, *b64;
    uint8_t *ct = NULL;
    size_t ct_len = 0, len;
    envelope_status es = ENVELOPE_ERR_ARG;

    if (nc->n == NOTIFY_QUEUE_MAX) {
        /* a client that does not read: never wait for it, lose the oldest */
        frame_free(&nc->q[nc->head]);
        nc->head = (nc->head + 1) % NOTIFY_QUEUE_MAX;
        nc->n--;
        nc->missed++;
    }
    if (nc->missed)
        json_object_set_new(pt, "missed", json_integer(nc->missed));
    text = json_compact(pt);
    json_object_del(pt, "missed");
    if (!text)
        return;
    len = strlen(text);
    if (len > NOTIFY_PLAIN_MAX) {
        warning("notify: a '%s' event of %zu bytes is not sent (at most %d: ids and names only)",
                event, len, NOTIFY_PLAIN_MAX);
        encoding_free_secret(text, len);
        return;
    }
    pthread_mutex_lock(&nc->s->ntf_lock);
    if (nc->s->ntf) {
        f.seq = envelope_dir_last(nc->s->ntf) + 1;
        es = envelope_seal(nc->s->ntf, ENVELOPE_NOTIFY, f.seq, (const uint8_t *)text, len, &ct, &ct_len);
    }
    pthread_mutex_unlock(&nc->s->ntf_lock);
    encoding_free_secret(text, len);
    if (es != ENVELOPE_OK) {
        /* the session ended (its writer closes the socket), or the seq ran out */
        if (ct)
            free(ct);
        return;
    }
    b64 = b64url_encode(ct, ct_len, B64_NO_PAD);
    free(ct);
    json_t *env = b64 ? json_pack("{s:s, s:s, s:I, s:s}", "type", "NOTIFY", "session", nc->s->id, "seq",
                                  (json_int_t)f.seq, "ct", b64)
                      : NULL;
    free(b64);
    f.text = env ? json_compact(env) : NULL;
    json_decref(env);
    if (!f.text) {
        nc->missed++; /* sealed and lost: the client sees the gap, and this */
        return;
    }
    f.len = strlen(f.text);
    snprintf(f.event, sizeof f.event, "%s", event);
    nc->q[(nc->head + nc->n) % NOTIFY_QUEUE_MAX] = f;
    nc->n++;
    nc->missed = 0;
    pthread_cond_signal(&nc->cond);
}

static size_t sockets_of(struct notify_hub *h, int64_t account_id)
{
    size_t n = 0;
    pthread_mutex_lock(&h->lock);
    for (notify_conn *c = h->head; c; c = c->next)
        n += c->account_id == account_id && !c->done;
    pthread_mutex_unlock(&h->lock);
    return n;
}

void notify_account(service *svc, int64_t account_id, const char *event, json_t *fields)
{
    struct notify_hub *h = svc->notify;
    json_t *pt, *counters;

    if (!h || !event || (fields && !json_is_object(fields)) || sockets_of(h, account_id) == 0) {
        json_decref(fields);
        return;
    }
    /* {"event", the fields, "counters"}: the names this module sets are its own */
    pt = json_pack("{s:s}", "event", event);
    if (pt && fields) {
        json_object_del(fields, "event");
        json_object_del(fields, "counters");
        json_object_del(fields, "missed");
        json_object_update(pt, fields);
    }
    json_decref(fields);
    if (!pt)
        return;
    /* the counters as they are after the caller's COMMIT (a read, outside
     * every lock of ours) */
    if ((counters = json_object()) != NULL) {
        messages_counters(svc, account_id, counters);
        transfer_counters(svc, account_id, counters);
        json_object_set_new(pt, "counters", counters);
    }
    pthread_mutex_lock(&h->lock);
    for (notify_conn *c = h->head; c; c = c->next)
        if (c->account_id == account_id && !c->done)
            enqueue(c, pt, event);
    pthread_mutex_unlock(&h->lock);
    json_decref(pt);
}

void notify_login(service *svc, const live_session *s)
{
    /* "a new login on your account": every socket of the account hears it
     * (the new session has none yet) */
    notify_account(svc, s->account_id, "login",
                   json_pack("{s:s, s:s}", "device", s->device, "from", s->peer));
}

void notify_device_revoked(service *svc, const char *serial)
{
    struct notify_hub *h = svc->notify;
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t account_id = 0;

    if (!h || !(db = store_reader(svc->st)))
        return;
    if (sqlite3_prepare_v2(db, "SELECT account_id FROM devices WHERE serial = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        account_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (!account_id)
        return;
    pthread_mutex_lock(&h->lock);
    for (notify_conn *c = h->head; c; c = c->next)
        if (strcmp(c->serial, serial) == 0)
            c->revoked = 1;
    pthread_mutex_unlock(&h->lock);
    notify_account(svc, account_id, "revoked", json_pack("{s:s}", "device", serial));
}

/* ---- the connect handler: before the upgrade ----------------------------- */

static int ws_connect(const struct mg_connection *cconn, void *arg)
{
    service *svc = arg;
    struct notify_hub *h = svc->notify;
    /* civetweb passes it const; the refusals below write to it */
    struct mg_connection *conn = (struct mg_connection *)cconn;
    notify_conn *nc, *stale = NULL;
    device_id d;
    token_claims claims;
    live_session *s;
    int st, alive;

    if ((st = device_require(svc, conn, &d, 0)) != 0)
        return 1;
    if ((st = session_check_token(svc, conn, &d, NULL, &claims)) != 0)
        return 1;
    /* a token lives only as long as its session, and this socket too */
    if (!(s = live_get(svc->sessions, claims.sid))) {
        web_reply_error(conn, 401, "the token's session has ended: HELLO again");
        return 1;
    }
    pthread_mutex_lock(&s->ntf_lock);
    alive = s->ntf != NULL;
    pthread_mutex_unlock(&s->ntf_lock);
    if (!alive || strcmp(s->device, d.serial) != 0) {
        live_put(svc->sessions, s);
        web_reply_error(conn, 401, "the token's session has ended: HELLO again");
        return 1;
    }
    if (svc->bind_ip && strcmp(s->peer, web_peer(conn)) != 0) {
        live_put(svc->sessions, s);
        web_reply_error(conn, 403, "this session is bound to the address that opened it (--bind-ip)");
        return 1;
    }
    if (!(nc = calloc(1, sizeof *nc))) {
        live_put(svc->sessions, s);
        web_reply_error(conn, 500, "out of memory");
        return 1;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&nc->cond, &ca);
    pthread_condattr_destroy(&ca);
    nc->conn = conn;
    nc->s = s;
    nc->account_id = s->account_id;
    snprintf(nc->serial, sizeof nc->serial, "%s", s->device);
    snprintf(nc->user, sizeof nc->user, "%s", s->user);
    nc->accepted = mono_s();

    pthread_mutex_lock(&h->lock);
    /* An entry that never became ready had its handshake fail (civetweb
     * then calls no close handler): this worker's own old entry, or one
     * older than NOTIFY_PENDING_S. They go first, so they hold no slot. */
    for (notify_conn **p = &h->head; *p;) {
        notify_conn *o = *p;
        if (!o->ready && (o->conn == conn || nc->accepted - o->accepted > NOTIFY_PENDING_S)) {
            *p = o->next;
            h->count--;
            o->next = stale;
            stale = o;
        } else {
            p = &o->next;
        }
    }
    int mine = 0;
    for (notify_conn *o = h->head; o; o = o->next)
        mine |= o->s == s;
    if (h->stop) {
        st = 1; /* 503 below, with its own reason */
    } else if (h->count >= h->max) {
        st = 503;
    } else if (mine) {
        st = 409;
    } else {
        st = 0;
        nc->next = h->head;
        h->head = nc;
        h->count++;
    }
    size_t count = h->count, max = h->max;
    pthread_mutex_unlock(&h->lock);
    while (stale) {
        notify_conn *next = stale->next;
        conn_free(svc, stale);
        stale = next;
    }
    if (st == 409) {
        conn_free(svc, nc);
        web_reply_error(conn, 409, "this session has a notification socket already: one per session "
                                   "(HELLO again for another)");
        return 1;
    }
    if (st == 1) {
        conn_free(svc, nc);
        web_reply_error_retry(conn, 503, 5, "the server is stopping: retry later");
        return 1;
    }
    if (st == 503) {
        conn_free(svc, nc);
        /* each socket holds a worker thread for its life: a cap keeps the
         * HTTPS requests served */
        web_reply_error_retry(conn, 503, 5,
                              "every notification socket is taken (%zu of %zu, --notify-max): retry later",
                              count, max);
        return 1;
    }
    note("notify: '%s' (device %s, session %.6s...) may upgrade: certificate, token and session "
         "checked; %zu of %zu sockets",
         nc->user, nc->serial, s->id, count, max);
    return 0; /* civetweb sends 101 Switching Protocols, then calls ws_ready */
}

/* ---- the ready handler: the writer --------------------------------------- */

static int send_close(struct mg_connection *conn, notify_conn *nc, int code, const char *why)
{
    char buf[125]; /* a control frame's payload is at most 125 bytes (RFC 6455 5.5) */
    size_t n = strlen(why);
    if (n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[0] = (char)(code >> 8);
    buf[1] = (char)(code & 0xff);
    memcpy(buf + 2, why, n);
    nc->close_sent = 1;
    note("notify: closing the socket of '%s' (%d: %s)", nc->user, code, why);
    return mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, buf, n + 2);
}

static void ws_ready(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    struct notify_hub *h = svc->notify;
    notify_conn *nc;
    frame out[NOTIFY_QUEUE_MAX];
    time_t beat = mono_s() + NOTIFY_HEARTBEAT_S;
    int code = 0;
    const char *why = NULL;

    pthread_mutex_lock(&h->lock);
    if ((nc = find_conn(h, conn)) != NULL)
        nc->ready = 1;
    pthread_mutex_unlock(&h->lock);
    if (!nc)
        return;
    note("notify: socket open for '%s' (session %.6s...): this thread writes it, and only it",
         nc->user, nc->s->id);

    for (;;) {
        size_t k = 0;
        int ended, stop, failed = 0;
        pthread_mutex_lock(&h->lock);
        if (nc->n == 0 && !h->stop) {
            struct timespec until = mono_in(NOTIFY_SLICE_MS);
            pthread_cond_timedwait(&nc->cond, &h->lock, &until);
        }
        pthread_mutex_unlock(&h->lock);
        /* the session's end is looked at before the queue is taken: what was
         * queued before the end (a "revoked" frame) still goes out */
        pthread_mutex_lock(&nc->s->ntf_lock);
        ended = nc->s->ntf == NULL;
        pthread_mutex_unlock(&nc->s->ntf_lock);
        pthread_mutex_lock(&h->lock);
        while (nc->n) {
            out[k++] = nc->q[nc->head];
            memset(&nc->q[nc->head], 0, sizeof nc->q[nc->head]);
            nc->head = (nc->head + 1) % NOTIFY_QUEUE_MAX;
            nc->n--;
        }
        stop = h->stop;
        pthread_mutex_unlock(&h->lock);

        /* no lock held while writing: a slow client slows only its own thread */
        for (size_t i = 0; i < k; i++) {
            if (!failed) {
                wire_out("NOTIFY seq %llu to '%s': a '%s' event, %zu bytes", (unsigned long long)out[i].seq,
                         nc->user, out[i].event, out[i].len);
                failed = mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_TEXT, out[i].text, out[i].len) <= 0;
                nc->written += !failed;
            }
            frame_free(&out[i]);
        }
        if (failed) {
            warning("notify: the socket of '%s' does not take writes: it is gone", nc->user);
            break;
        }
        if (stop) {
            code = WS_CLOSE_GOING_AWAY, why = "the server is stopping";
            break;
        }
        if (ended) {
            pthread_mutex_lock(&h->lock);
            int revoked = nc->revoked;
            pthread_mutex_unlock(&h->lock);
            if (revoked)
                code = WS_CLOSE_POLICY, why = "this device was revoked";
            else
                code = WS_CLOSE_NORMAL, why = "the session ended (CLOSE, idle, expiry or an admin)";
            break;
        }
        if (mono_s() >= beat) {
            /* RFC 6455 5.5.3: an unsolicited Pong is a heartbeat that needs
             * no answer, so the client never has to write */
            if (mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_PONG, "", 0) <= 0)
                break;
            beat = mono_s() + NOTIFY_HEARTBEAT_S;
        }
        /* The client sent something (its close frame, or it went away):
         * stop writing and let civetweb's reader, on this thread, read it. */
        if (web_input_pending(conn, 0) == 1) {
            note("notify: the client of '%s' spoke: the writer stops, civetweb reads", nc->user);
            break;
        }
    }
    if (code)
        send_close(conn, nc, code, why);
    pthread_mutex_lock(&h->lock);
    nc->done = 1;
    for (; nc->n; nc->n--) {
        frame_free(&nc->q[nc->head]);
        nc->head = (nc->head + 1) % NOTIFY_QUEUE_MAX;
    }
    pthread_mutex_unlock(&h->lock);
}

/* After ws_ready returned, on the same thread: whatever the client sends
 * ends the socket. Its close frame is answered (RFC 6455 5.5.1) unless ours
 * went first. */
static int ws_data(struct mg_connection *conn, int bits, char *data, size_t len, void *arg)
{
    service *svc = arg;
    struct notify_hub *h = svc->notify;
    notify_conn *nc;
    int sent;
    pthread_mutex_lock(&h->lock);
    nc = find_conn(h, conn);
    sent = nc ? nc->close_sent : 1;
    pthread_mutex_unlock(&h->lock);
    if (nc && !sent) {
        if ((bits & 0xf) == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) {
            int code = len >= 2 ? ((unsigned char)data[0] << 8) | (unsigned char)data[1] : WS_CLOSE_NORMAL;
            send_close(conn, nc, code, "closed as you asked");
        } else {
            send_close(conn, nc, WS_CLOSE_POLICY,
                       "this socket only pushes: requests go as envelopes over HTTPS");
        }
    }
    return 0; /* 0: civetweb closes the connection */
}

static void ws_close(const struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    struct notify_hub *h = svc->notify;
    notify_conn *nc;
    pthread_mutex_lock(&h->lock);
    if ((nc = find_conn(h, conn)) != NULL)
        unlink_conn(h, nc);
    pthread_mutex_unlock(&h->lock);
    if (!nc)
        return;
    note("notify: socket of '%s' closed after %llu notification%s", nc->user,
         (unsigned long long)nc->written, nc->written == 1 ? "" : "s");
    conn_free(svc, nc);
}

/* ---- start and stop ------------------------------------------------------ */

int notify_start(service *svc, struct mg_context *ctx)
{
    struct notify_hub *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    pthread_mutex_init(&h->lock, NULL);
    h->max = svc->notify_max > 0 ? (size_t)svc->notify_max
                                 : svc->threads >= 8 ? (size_t)svc->threads / 4 : 1;
    /* set before the "listening on" line: no client knows the port yet */
    svc->notify = h;
    mg_set_websocket_handler(ctx, NOTIFY_PATH, ws_connect, ws_ready, ws_data, ws_close, svc);
    note("notify: WebSocket %s, at most %zu sockets (each holds a worker thread)", NOTIFY_PATH, h->max);
    return 0;
}

void notify_stop(service *svc)
{
    struct notify_hub *h = svc->notify;
    if (!h)
        return;
    /* every writer returns (with a close frame, 1001); then mg_stop can
     * join the workers: civetweb's reader sees its stop flag */
    pthread_mutex_lock(&h->lock);
    h->stop = 1;
    for (notify_conn *c = h->head; c; c = c->next)
        pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&h->lock);
}

void notify_free(service *svc)
{
    struct notify_hub *h = svc->notify;
    if (!h)
        return;
    svc->notify = NULL;
    while (h->head) {
        notify_conn *nc = h->head;
        h->head = nc->next;
        conn_free(svc, nc);
    }
    pthread_mutex_destroy(&h->lock);
    free(h);
}
