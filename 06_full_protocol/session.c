/* SPDX-License-Identifier: MIT */
/*
 * session.c - R3's protocol, done right: POST /v1/hello (HELLO, HELLO_ACK),
 * POST /v1/data (DATA_REQUEST, DATA_RESPONSE), POST /v1/close (CLOSE), and
 * GET /v1/whoami, the plain-JSON door for the token lessons with curl.
 *
 * The checks at /v1/data, cheapest first (06-design.md 3.8):
 *   1. the client certificate is a live device's      (devices.c)
 *   2. the envelope's JSON is exactly {type, session, seq, ct}
 *   3. the Bearer token: ours, unexpired, for this session, bound to THIS
 *      certificate (RFC 8705), not revoked             (common/token)
 *   4. the session is live and the device's; one request at a time
 *   5. seq above the last, then the AES-GCM tag        (common/envelope)
 *   6. only now is the plaintext read: the signed operation's JSON, and the
 *      device's signature over it                       (common/envelope hello.h)
 *   7. the operation; the answer sealed under the next direction's key
 * Nothing inside a ciphertext is looked at before its tag checks (R5
 * unpickled first), and a refusal never stores anything.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/encoding.h"
#include "core/json.h"
#include "envelope/hello.h"
#include "net/webserver.h"
#include "service.h"

#define HELLO_BODY_MAX 4096

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* R3's CLOSE, in the clear: the reason a request was refused before any
 * session key could seal it. Unauthenticated, so a client takes it as
 * advice, never as proof. */
static int close_plain(struct mg_connection *conn, int status, const char *reason)
{
    warning("refused: %s", reason);
    return web_reply_json(conn, status, json_pack("{s:s, s:s}", "type", "CLOSE", "reason", reason));
}

/* ---- the envelope and the token ----------------------------------------- */

typedef struct envelope_in {
    json_t *json;
    const char *type, *session;
    uint64_t seq;
    uint8_t *ct;
    size_t ct_len;
    int lab_plain; /* LAB (--lab-no-envelope, --lab-no-seq): answer unsealed */
} envelope_in;

static void envelope_in_free(envelope_in *e)
{
    json_decref(e->json);
    free(e->ct);
    memset(e, 0, sizeof *e);
}

/* Exactly {type, session, seq, ct}, each of its type; 0 or the status. */
static int read_envelope(struct mg_connection *conn, const char *want_type, envelope_in *e)
{
    json_t *seq;
    const char *ct;
    int st;
    memset(e, 0, sizeof *e);
    if ((st = web_read_json(conn, &e->json)) != 0)
        return st;
    e->type = json_get_str(e->json, "type");
    e->session = json_get_str(e->json, "session");
    seq = json_object_get(e->json, "seq");
    ct = json_get_str(e->json, "ct");
    if (json_object_size(e->json) != 4 || !e->type || !e->session || !json_is_integer(seq) || !ct) {
        envelope_in_free(e);
        return close_plain(conn, 400, "an envelope is exactly {type, session, seq, ct}");
    }
    if (strcmp(e->type, want_type) != 0) {
        char why[96];
        snprintf(why, sizeof why, "this endpoint takes %s envelopes", want_type);
        envelope_in_free(e);
        return close_plain(conn, 400, why);
    }
    if (json_integer_value(seq) < 1) {
        envelope_in_free(e);
        return close_plain(conn, 400, "seq must be a positive integer");
    }
    e->seq = (uint64_t)json_integer_value(seq);
    if (b64url_decode(ct, strlen(ct), B64_NO_PAD, &e->ct, &e->ct_len) != 0) {
        envelope_in_free(e);
        return close_plain(conn, 400, "ct is not base64url");
    }
    return 0;
}

/* The Bearer token of this request (service.h). */
int session_check_token(service *svc, struct mg_connection *conn, const device_id *d, const char *sid,
                        token_claims *claims)
{
    const char *h = web_header(conn, "Authorization");
    token_expect ex = {svc->url, svc->url, sid, d->x5t, svc->lab_bearer};
    token_status ts;
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return close_plain(conn, 401, "this needs Authorization: Bearer TOKEN (from HELLO_ACK)");
    ts = token_verify(svc->token_keys, 1, h + 7, strlen(h + 7), &ex, (int64_t)time(NULL), claims);
    if (ts != TOKEN_OK)
        return close_plain(conn, 401, token_status_str(ts));
    /* LAB (--lab-bearer): token_verify skipped the binding; every request it
     * lets through from another certificate says so */
    if (svc->lab_bearer && CRYPTO_memcmp(claims->x5t, d->x5t, sizeof d->x5t) != 0)
        warning("LAB --lab-bearer: this token was issued to another certificate: accepted anyway "
                "(a stolen token works)");
    if (strcmp(claims->sub, d->user) != 0)
        return close_plain(conn, 401, "the token names another account than the certificate");
    if (claims->iat < d->tokens_valid_after)
        return close_plain(conn, 401, "the token predates the account's last revocation");
    if (token_is_revoked(svc, claims->jti))
        return close_plain(conn, 401, "the token is revoked");
    return 0;
}

/* The live session an envelope names, locked, for this device; or NULL
 * after answering (*st). */
static live_session *lock_session(service *svc, struct mg_connection *conn, const device_id *d,
                                  const char *id, int *st)
{
    live_session *s = live_get(svc->sessions, id);
    if (!s) {
        *st = close_plain(conn, 404, "unknown session (it ended, idled out, or never was): HELLO again");
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    if (s->ended || strcmp(s->device, d->serial) != 0) {
        pthread_mutex_unlock(&s->lock);
        live_put(svc->sessions, s);
        *st = close_plain(conn, 404, "unknown session (it ended, idled out, or never was): HELLO again");
        return NULL;
    }
    if (svc->bind_ip && strcmp(s->peer, web_peer(conn)) != 0) {
        pthread_mutex_unlock(&s->lock);
        live_put(svc->sessions, s);
        *st = close_plain(conn, 403, "this session is bound to the address that opened it (--bind-ip)");
        return NULL;
    }
    return s;
}

static void unlock_session(service *svc, live_session *s)
{
    pthread_mutex_unlock(&s->lock);
    live_put(svc->sessions, s);
}

/* {type, session, seq, ct} back, ct base64url */
static int reply_envelope(struct mg_connection *conn, const char *type, const char *session,
                          uint64_t seq, const uint8_t *ct, size_t ct_len)
{
    char *b64 = b64url_encode(ct, ct_len, B64_NO_PAD);
    if (!b64)
        return web_reply_error(conn, 500, "out of memory");
    json_t *j = json_pack("{s:s, s:s, s:I, s:s}", "type", type, "session", session, "seq",
                          (json_int_t)seq, "ct", b64);
    free(b64);
    return web_reply_json(conn, 200, j);
}

/* Seal the answer to the request s->rx just opened, and send it. */
static int answer(service *svc, struct mg_connection *conn, live_session *s, envelope_type t,
                  const envelope_in *e, json_t *pt)
{
    char *text = json_compact(pt);
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    uint64_t seq = e->seq;
    int st;
    json_decref(pt);
    if (!text)
        return web_reply_error(conn, 500, "out of memory");
    /* LAB (--lab-no-envelope, --lab-no-seq): this request was not opened
     * under a fresh seq, so its answer is not sealed (under a used seq that
     * would be a second message under one nonce): ct is the plaintext */
    if (e->lab_plain) {
        warning("LAB: the answer to seq %llu goes back unsealed: %s", (unsigned long long)seq, text);
        st = reply_envelope(conn, t == ENVELOPE_CLOSE ? "CLOSE" : "DATA_RESPONSE", s->id, seq,
                            (const uint8_t *)text, strlen(text));
        encoding_free_secret(text, strlen(text));
        return st;
    }
    if (narrate_is_verbose())
        note("answer (plaintext, sealed next): %s", text);
    envelope_status es = envelope_seal_answer(s->tx, s->rx, t, (const uint8_t *)text, strlen(text),
                                              &ct, &ct_len);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    if (es != ENVELOPE_OK)
        return web_reply_error(conn, 500, "cannot seal the answer: %s", envelope_status_str(es));
    wire_out("%s seq %llu epoch %u: %zu bytes of ciphertext",
             t == ENVELOPE_CLOSE ? "CLOSE" : "DATA_RESPONSE", (unsigned long long)seq,
             envelope_epoch(ENVELOPE_S2C, seq, s->rotate_every), ct_len);
    st = reply_envelope(conn, t == ENVELOPE_CLOSE ? "CLOSE" : "DATA_RESPONSE", s->id, seq, ct, ct_len);
    free(ct);
    (void)svc;
    return st;
}

/* Open a request envelope under s; 0 with the plaintext, or the status
 * after answering (the identical resend of the last request included: it
 * gets its first answer again, byte for byte). */
static int open_request(const service *svc, struct mg_connection *conn, live_session *s,
                        envelope_type t, envelope_in *e, uint8_t **pt, size_t *pt_len)
{
    /* LAB (--lab-no-envelope): no AES-GCM at all: ct is taken as the
     * plaintext, with no tag and no seq check, and the answer goes back the
     * same way (answer()) */
    if (svc->lab_no_envelope) {
        warning("LAB --lab-no-envelope: %s seq %llu taken as plaintext (%zu bytes): no tag checked, "
                "no seq; whoever terminates TLS reads and changes it",
                e->type, (unsigned long long)e->seq, e->ct_len);
        if (!(*pt = malloc(e->ct_len + 1)))
            return web_reply_error(conn, 500, "out of memory");
        memcpy(*pt, e->ct, e->ct_len);
        (*pt)[e->ct_len] = 0;
        *pt_len = e->ct_len;
        e->lab_plain = 1;
        s->requests++;
        return 0;
    }
    envelope_status es = envelope_open(s->rx, t, e->seq, e->ct, e->ct_len, pt, pt_len);
    /* LAB (--lab-no-seq): the order check off. A replayed or reordered
     * envelope is opened under its own seq's key and acted on again; nothing
     * in the direction moves, and the answer goes back unsealed (answer()) */
    if (svc->lab_no_seq && (es == ENVELOPE_ERR_REPLAY || es == ENVELOPE_ERR_REORDER)) {
        envelope_status les =
            envelope_lab_open_used_seq(s->rx, t, e->seq, e->ct, e->ct_len, pt, pt_len);
        if (les == ENVELOPE_OK) {
            warning("LAB --lab-no-seq: seq %llu is not above the last (%llu): %s; opened anyway and "
                    "acted on again",
                    (unsigned long long)e->seq, (unsigned long long)envelope_dir_last(s->rx),
                    envelope_status_str(es));
            e->lab_plain = 1;
            s->requests++;
            return 0;
        }
        warning("LAB --lab-no-seq: seq %llu cannot be opened even with the check off: %s",
                (unsigned long long)e->seq, envelope_status_str(les));
    }
    if (es == ENVELOPE_RETRANSMIT) {
        const uint8_t *ct;
        size_t n;
        note("seq %llu again, byte for byte: the answer it had, not a second one",
             (unsigned long long)e->seq);
        if (envelope_cached_answer(s->rx, &ct, &n) != ENVELOPE_OK)
            return web_reply_error(conn, 500, "the cached answer is gone");
        return reply_envelope(conn, t == ENVELOPE_CLOSE ? "CLOSE" : "DATA_RESPONSE", s->id, e->seq, ct,
                              n);
    }
    if (es != ENVELOPE_OK) {
        s->refused++;
        int status = es == ENVELOPE_ERR_AUTH ? 400 : 409;
        warning("session %.6s..., seq %llu: %s", s->id, (unsigned long long)e->seq,
                envelope_status_str(es));
        return web_reply_error(conn, status, "%s", envelope_status_str(es));
    }
    wire_in("%s seq %llu epoch %u: %zu bytes of ciphertext opened", e->type,
            (unsigned long long)e->seq, envelope_epoch(ENVELOPE_C2S, e->seq, s->rotate_every),
            e->ct_len);
    s->requests++;
    return 0;
}

/* Steps 1 to 5 of the check order, for /v1/data and /v1/close alike: the
 * device, the envelope, the token, the session (locked), seq and tag. On
 * success the session is returned locked with the plaintext in *pt; NULL
 * otherwise, after answering (*st; the identical resend of the last request
 * was answered from the cache). */
static live_session *receive(service *svc, struct mg_connection *conn, envelope_type t, device_id *d,
                             envelope_in *e, token_claims *claims, uint8_t **pt, size_t *pt_len, int *st)
{
    live_session *s;
    *pt = NULL;
    memset(e, 0, sizeof *e);
    if ((*st = device_require(svc, conn, d, 1)) != 0 ||
        (*st = read_envelope(conn, t == ENVELOPE_CLOSE ? "CLOSE" : "DATA_REQUEST", e)) != 0)
        return NULL;
    if ((*st = session_check_token(svc, conn, d, e->session, claims)) != 0 ||
        !(s = lock_session(svc, conn, d, e->session, st))) {
        envelope_in_free(e);
        return NULL;
    }
    if ((*st = open_request(svc, conn, s, t, e, pt, pt_len)) != 0 || !*pt) {
        unlock_session(svc, s);
        envelope_in_free(e);
        return NULL;
    }
    return s;
}

/* ---- POST /v1/hello ------------------------------------------------------ */

/* What HELLO_ACK and every poll answer count: this device's records, and
 * the account's unread messages, unseen receipts and waiting items. */
static json_t *counters(service *svc, const device_id *d)
{
    const char *serial = d->serial;
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *st;
    json_int_t stored = 0, quarantined = 0;
    if (db && sqlite3_prepare_v2(db,
                                 "SELECT count(*) FILTER (WHERE status = 'stored'), "
                                 "count(*) FILTER (WHERE status = 'quarantined') "
                                 "FROM receipts WHERE device_serial = ?1 AND op = 'record'",
                                 -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            stored = sqlite3_column_int64(st, 0);
            quarantined = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
    }
    json_t *c = json_pack("{s:I, s:I}", "records", stored, "quarantined", quarantined);
    if (c) {
        messages_counters(svc, d->account_id, c);
        transfer_counters(svc, d->account_id, c);
        messages_seen(svc, d->account_id); /* this is the account's own request */
    }
    return c;
}

int h_hello(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    device_id d;
    char *body = NULL, *ack = NULL, *token = NULL;
    size_t len = 0;
    uint8_t cb[WEB_EXPORTER_LEN];
    hello_request *req = NULL;
    hello_status hs;
    envelope_secrets sec;
    token_claims claims;
    live_session *s = NULL;
    unsigned retry = 0;
    int st;

    if ((st = device_require(svc, conn, &d, 1)) != 0)
        return st;
    /* this connection's channel binding (RFC 9266): the HELLO must be signed
     * over it; `openssl s_client -keymatexport EXPORTER-Channel-Binding
     * -keymatexportlen 32` shows the same value on the client's side */
    if (web_tls_exporter(conn, cb) != 0)
        return close_plain(conn, 500, "this connection has no TLS exporter value");
    char *cb_hex = hex_encode(cb, sizeof cb);
    note("tls-exporter of this connection: %s", cb_hex ? cb_hex : "?");
    free(cb_hex);
    if (live_count(svc->sessions) >= svc->max_sessions) {
        live_sweep(svc->sessions, 0);
        if (live_count(svc->sessions) >= svc->max_sessions)
            return web_reply_error_retry(conn, 503, 5, "every session slot is taken: retry later");
    }
    if ((st = web_read_body(conn, &body, &len)) != 0)
        return st;
    if (len > HELLO_BODY_MAX) {
        free(body);
        return close_plain(conn, 413, "a HELLO is a few hundred bytes");
    }
    hs = hello_parse(body, len, &req);
    free(body);
    if (hs != HELLO_OK)
        return close_plain(conn, 400, hello_status_str(hs));
    hs = hello_verify(req, d.cert, svc->server_name, cb, now_ms());
    /* LAB (--lab-no-binding): a HELLO signed over no connection (an all-zero
     * exporter, as a protocol without channel binding has) is taken too, so
     * nothing ties it to this TLS connection: a relayed one goes unnoticed */
    if (hs == HELLO_ERR_SIGNATURE && svc->lab_no_binding) {
        static const uint8_t unbound[WEB_EXPORTER_LEN];
        hs = hello_verify(req, d.cert, svc->server_name, unbound, now_ms());
        if (hs == HELLO_OK)
            warning("LAB --lab-no-binding: this HELLO is bound to no TLS connection (signed over no "
                    "exporter): accepted anyway");
    }
    if (hs != HELLO_OK) {
        hello_request_free(req);
        return close_plain(conn, 403, hello_status_str(hs));
    }
    wire_in("HELLO from device %s ('%s'): signature by the certificate's key, channel bound", d.serial,
            d.user);

    if (!(s = live_session_new()) || live_new_id(s->id) != 0) {
        hello_request_free(req);
        live_put(svc->sessions, s);
        return web_reply_error(conn, 500, "out of memory");
    }
    token_request tr = {svc->url, svc->url, d.user, s->id, d.x5t, svc->token_lifetime};
    token_status ts = token_issue(svc->token_keys, &tr, (int64_t)time(NULL), &claims, &token);
    if (ts != TOKEN_OK) {
        hello_request_free(req);
        live_put(svc->sessions, s);
        return web_reply_error(conn, 500, "cannot issue the token: %s", token_status_str(ts));
    }
    json_t *cnt = counters(svc, &d);
    hs = hello_accept(req, svc->server_key, s->id, svc->rotate_every, claims.exp, token, cnt, &ack,
                      &sec);
    json_decref(cnt);
    hello_request_free(req);
    if (hs != HELLO_OK) {
        token_free(token);
        live_put(svc->sessions, s);
        return web_reply_error(conn, 500, "cannot answer the HELLO: %s", hello_status_str(hs));
    }
    snprintf(s->device, sizeof s->device, "%s", d.serial);
    snprintf(s->user, sizeof s->user, "%s", d.user);
    snprintf(s->jti, sizeof s->jti, "%s", claims.jti);
    snprintf(s->peer, sizeof s->peer, "%s", web_peer(conn));
    memcpy(s->x5t, d.x5t, sizeof s->x5t);
    s->account_id = d.account_id;
    s->created = (int64_t)time(NULL);
    s->expires_at = claims.exp;
    s->rotate_every = svc->rotate_every;
    if (envelope_dir_new(ENVELOPE_C2S, sec.c2s, svc->rotate_every, s->id, &s->rx) != ENVELOPE_OK ||
        envelope_dir_new(ENVELOPE_S2C, sec.s2c, svc->rotate_every, s->id, &s->tx) != ENVELOPE_OK ||
        /* the notification direction, made here once (notify.c seals with it) */
        envelope_dir_new(ENVELOPE_NTF, sec.ntf, svc->rotate_every, s->id, &s->ntf) != ENVELOPE_OK) {
        envelope_secrets_wipe(&sec);
        token_free(token);
        free(ack);
        live_put(svc->sessions, s);
        return web_reply_error(conn, 500, "cannot set up the session keys");
    }
    envelope_secrets_wipe(&sec);
    token_free(token);
    int added = live_add(svc->sessions, s, &retry);
    if (added != 0) {
        free(ack);
        live_put(svc->sessions, s);
        if (added == LIVE_DEVICE_FULL)
            return web_reply_error_retry(conn, 429, retry,
                                         "this device already holds %d sessions: CLOSE one first",
                                         LIVE_PER_DEVICE);
        return web_reply_error_retry(conn, 503, retry, "every session slot is taken: retry later");
    }
    note("session %s for '%s' on device %s: keys every %u messages, token until %lld", s->id, s->user,
         s->device, s->rotate_every, (long long)s->expires_at);
    wire_out("HELLO_ACK: session, server's X25519 value and nonce, token, signed by the server's key "
             "(no key or IV travels)");
    /* "a new login on your account": the account's notification sockets */
    notify_login(svc, s);
    live_put(svc->sessions, s);
    web_secret(conn); /* the HELLO_ACK holds the bearer token */
    st = web_reply(conn, 200, "application/json", ack, strlen(ack));
    free(ack);
    return st;
}

/* ---- POST /v1/data ------------------------------------------------------- */

/* R3's random string, from the CSPRNG (R3 used rand()). */
static void random_letters(char *out, size_t n)
{
    static const char A[] = "abcdefghijklmnopqrstuvwxyz";
    uint8_t r[64];
    if (n > sizeof r)
        n = sizeof r;
    if (RAND_bytes(r, (int)n) != 1)
        memset(r, 0, n);
    for (size_t i = 0; i < n; i++)
        out[i] = A[r[i] % 26]; /* 256 = 9 * 26 + 22: a small bias, no secret rides on it */
    out[n] = '\0';
}

static json_t *op_record(service *svc, live_session *s, const device_id *d, const signed_op *op,
                         uint64_t seq)
{
    store_receipt r = {d->serial, op->msg_id, op->op, op->payload, op->payload_len, op->created_ms,
                       op->sig, op->sig_len, s->id, seq};
    store_result res;
    store_put_record(svc->st, &r, &res);
    switch (res.outcome) {
    case STORE_STORED:
        note("record %lld stored (committed before this answer)", (long long)res.record_id);
        return json_pack("{s:s, s:I}", "status", "stored", "record_id", (json_int_t)res.record_id);
    case STORE_DUPLICATE:
        note("record already stored as %lld: the same msg_id and payload", (long long)res.record_id);
        return json_pack("{s:s, s:I}", "status", "duplicate", "record_id", (json_int_t)res.record_id);
    case STORE_CONFLICT:
        return json_pack("{s:s, s:s}", "status", "refused", "reason", res.reason);
    case STORE_QUARANTINED:
        warning("record quarantined as %s: %s", res.quarantine_id, res.reason);
        return json_pack("{s:s, s:s, s:s}", "status", "quarantined", "reason", res.reason, "id",
                         res.quarantine_id);
    default:
        warning("record not stored: %s", res.reason);
        return json_pack("{s:s, s:s}", "status", "unavailable", "reason",
                         res.reason[0] ? res.reason : "not stored, retry");
    }
}

int h_data(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    device_id d;
    envelope_in e;
    token_claims claims;
    live_session *s;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    signed_op op;
    json_t *out;
    int st;

    if (!(s = receive(svc, conn, ENVELOPE_DATA_REQUEST, &d, &e, &claims, &pt, &pt_len, &st)))
        return st;
    /* Authenticated by the session key; now the device's own signature. */
    hello_status hs = signed_op_parse(pt, pt_len, &op);
    int parsed = hs == HELLO_OK; /* op holds the payload and signature: cleared on every path */
    encoding_free_secret(pt, pt_len);
    if (hs != HELLO_OK) {
        s->refused++;
        out = json_pack("{s:s, s:s}", "status", "refused", "reason", hello_status_str(hs));
    } else if ((hs = signed_op_verify(&op, d.cert, svc->server_name)) != HELLO_OK) {
        s->refused++;
        warning("op '%s' refused: %s", op.op, hello_status_str(hs));
        out = json_pack("{s:s, s:s}", "status", "refused", "reason", hello_status_str(hs));
    } else if (strcmp(op.op, "record") == 0) {
        out = op_record(svc, s, &d, &op, e.seq);
    } else if (strcmp(op.op, "poll") == 0) {
        char letters[9];
        random_letters(letters, 8);
        out = json_pack("{s:s, s:s, s:I, s:o}", "status", "ok", "random", letters, "server_time",
                        (json_int_t)time(NULL), "counters", counters(svc, &d));
    } else {
        /* the applications: messaging (R4), typed transfer (R5) */
        op_ctx x = {svc, s, &d, &op, e.seq};
        if (!(out = messages_op(&x)) && !(out = transfer_op(&x)))
            out = json_pack("{s:s, s:s}", "status", "refused", "reason",
                            "unknown op (this server knows: record, poll, and the messaging and transfer "
                            "ops of the lab sheet)");
        else if (json_is_object(out) && !json_object_get(out, "counters"))
            json_object_set_new(out, "counters", counters(svc, &d));
    }
    if (parsed)
        signed_op_clear(&op);
    if (out)
        json_object_set_new(out, "seq", json_integer((json_int_t)e.seq));
    st = out ? answer(svc, conn, s, ENVELOPE_DATA_RESPONSE, &e, out)
             : web_reply_error(conn, 500, "out of memory");
    unlock_session(svc, s);
    envelope_in_free(&e);
    return st;
}

/* ---- POST /v1/close ------------------------------------------------------ */

int h_close(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    device_id d;
    envelope_in e;
    token_claims claims;
    live_session *s;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    char id[LIVE_ID_SIZE];
    int st;

    if (!(s = receive(svc, conn, ENVELOPE_CLOSE, &d, &e, &claims, &pt, &pt_len, &st)))
        return st;
    json_t *why = json_parse((const char *)pt, pt_len, 4, NULL, 0);
    const char *reason = why ? json_get_str(why, "reason") : NULL;
    note("CLOSE from '%s': %s", s->user, reason ? reason : "(no reason given)");
    json_decref(why);
    encoding_free_secret(pt, pt_len);
    st = answer(svc, conn, s, ENVELOPE_CLOSE, &e,
                json_pack("{s:b, s:I}", "closed", 1, "requests", (json_int_t)s->requests));
    memcpy(id, s->id, sizeof id);
    unlock_session(svc, s);
    /* the session's keys go now, and its token with it */
    live_end(svc->sessions, id);
    if (token_revoke(svc, claims.jti, claims.exp, 0) != 0)
        warning("the token %s is not recorded as revoked (it dies with its session anyway)",
                claims.jti);
    envelope_in_free(&e);
    return st;
}

/* ---- GET /v1/whoami ------------------------------------------------------ */

int h_whoami(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    device_id d;
    token_claims claims;
    live_session *s;
    int st;

    if ((st = device_require(svc, conn, &d, 0)) != 0)
        return st;
    if ((st = session_check_token(svc, conn, &d, NULL, &claims)) != 0)
        return st;
    /* a token lives only as long as its session (CLOSE ends both) */
    if (!(s = live_get(svc->sessions, claims.sid)))
        return close_plain(conn, 401, "the token's session has ended");
    int elsewhere = svc->bind_ip && strcmp(s->peer, web_peer(conn)) != 0;
    live_put(svc->sessions, s);
    if (elsewhere)
        return close_plain(conn, 403, "this session is bound to the address that opened it (--bind-ip)");
    return web_reply_json(conn, 200,
                          json_pack("{s:s, s:s, s:s, s:s, s:I}", "account", d.user, "device", d.serial,
                                    "session", claims.sid, "jti", claims.jti, "token_expires_at",
                                    (json_int_t)claims.exp));
}
