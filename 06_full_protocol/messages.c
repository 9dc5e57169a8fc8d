/* SPDX-License-Identifier: MIT */
/*
 * messages.c - R4's messaging, inside chapter 06's signed, encrypted
 * sessions: users, compose, inbox, read, delete, receipts, presence.
 *
 * What R4 got wrong, and what this file does instead:
 * - R4 had no authorisation: every command named a user, and the server
 *   believed it (read anyone's mail, send as anyone). Here the acting
 *   account is the session's (x->s->account_id), which a HELLO signed by
 *   the device key proved; no name in a payload is ever taken for it (a
 *   "from" in a compose payload is ignored), and every query below carries
 *   recipient_id = :me or sender_id = :me. Someone else's message id is
 *   answered exactly as a message that never existed: no existence oracle.
 * - R4 had no framing, so long messages were cut. Here a message is one
 *   JSON string inside one envelope: it arrives whole or is refused whole
 *   (over 64 KiB: refused, never cut).
 * - R4 had no rate limiting. Here compose takes a token from the sender's
 *   bucket: 5 a second, bursts of 20.
 * - A message is a signed operation: its receipt row keeps the payload and
 *   the device's signature, so the inbox hands the reader the proof (the
 *   signed op and the device certificate) and 06-client checks for itself
 *   that alice's device wrote exactly this text to this reader. The server
 *   is trusted to deliver, not to vouch.
 */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/encoding.h"
#include "core/json.h"
#include "core/narrate.h"
#include "pki/pki.h"
#include "service.h"

#define MSG_TEXT_MAX 65536u        /* bytes of UTF-8: R4 cut long messages, this refuses them whole */
#define MSG_LIST_MAX 100           /* messages or receipts in one answer */
#define MSG_ANSWER_BUDGET (640u << 10) /* bytes of answer: well under the envelope's 1 MiB */
#define PRESENCE_ONLINE_S 60       /* online: a live session used within this many seconds */
#define LAST_SEEN_EVERY_S 60       /* accounts.last_seen is written at most this often */

/* the rate limit: a token bucket per account (compose and send share it).
 * A token is RATE_UNIT units, and the bucket gains rate_per_min units a
 * millisecond: rate_per_min tokens a minute, exactly, for any rate. */
#define RATE_BURST 20
#define RATE_UNIT 60000
#define RATE_ACCOUNTS 4096 /* bounded like every table in the course */
static int rate_per_min = MESSAGES_RATE_DEFAULT;

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *refused(const char *fmt, ...) COURSE_PRINTF(1, 2);
static json_t *refused(const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    warning("refused: %s", why);
    return json_pack("{s:s, s:s}", "status", "refused", "reason", why);
}

static json_t *unavailable(const char *why)
{
    warning("not done: %s", why);
    return json_pack("{s:s, s:s}", "status", "unavailable", "reason", why);
}

/* A column's text as a JSON string; a row someone edited into invalid UTF-8
 * becomes a visible placeholder, never a crash or a silent gap. */
static json_t *col_str(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    json_t *j;
    if (!t)
        return json_null();
    j = json_stringn(t, (size_t)sqlite3_column_bytes(st, i));
    return j ? j : json_string("(the stored text is not UTF-8)");
}

static json_t *col_b64(sqlite3_stmt *st, int i)
{
    const void *b = sqlite3_column_blob(st, i);
    char *s = b64url_encode(b ? b : (const void *)"", (size_t)sqlite3_column_bytes(st, i), B64_NO_PAD);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

static json_t *col_int_or_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                     : json_integer(sqlite3_column_int64(st, i));
}

/* The payload of an op: a JSON object, depth 4 (a flat object needs 1). */
static json_t *payload_object(const op_ctx *x, json_t **err_answer)
{
    char err[160];
    json_t *p = json_parse((const char *)x->op->payload, x->op->payload_len, 4, err, sizeof err);
    *err_answer = NULL;
    if (!p) {
        *err_answer = refused("the %s payload is not JSON: %s", x->op->op, err);
        return NULL;
    }
    if (!json_is_object(p)) {
        json_decref(p);
        *err_answer = refused("the %s payload must be a JSON object", x->op->op);
        return NULL;
    }
    return p;
}

/* {"id": N}, N a positive integer */
static int payload_id(json_t *p, int64_t *id)
{
    json_t *v = json_object_get(p, "id");
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return -1;
    *id = json_integer_value(v);
    return 0;
}

static json_t *not_found(int64_t id)
{
    /* the same words for someone else's message, a deleted one and one that
     * never was: an id tells an attacker nothing */
    return refused("not found: no message %lld in your inbox", (long long)id);
}

/* ---- the rate limit ------------------------------------------------------ */

static struct bucket {
    int64_t account;
    int64_t units; /* tokens x RATE_UNIT */
    int64_t at_ms; /* when units was last brought up to date */
} buckets[RATE_ACCOUNTS];
static size_t n_buckets;
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;

void messages_set_rate(int per_minute)
{
    pthread_mutex_lock(&rate_lock);
    rate_per_min = per_minute;
    pthread_mutex_unlock(&rate_lock);
}

int messages_rate(void)
{
    return rate_per_min;
}

const char *messages_rate_words(char *buf, size_t len, const char *one, const char *many)
{
    int n = rate_per_min;
    if (n % 60 == 0)
        snprintf(buf, len, "%d %s a second, bursts of %d", n / 60, n == 60 ? one : many, RATE_BURST);
    else
        snprintf(buf, len, "%d %s a minute, bursts of %d", n, n == 1 ? one : many, RATE_BURST);
    return buf;
}

static int64_t refill(const struct bucket *b, int64_t now)
{
    int64_t m = b->units + (now - b->at_ms) * rate_per_min;
    return m > RATE_BURST * RATE_UNIT ? RATE_BURST * RATE_UNIT : m;
}

/* Take one token for account; 0, or the seconds until one is there. A full
 * table reuses a bucket that has refilled completely (its account is as if
 * new); when every one is busy, the sender waits like a throttled one. */
static unsigned rate_take(int64_t account)
{
    int64_t now = mono_ms();
    struct bucket *b = NULL;
    unsigned wait = 0;
    pthread_mutex_lock(&rate_lock);
    for (size_t i = 0; i < n_buckets && !b; i++)
        if (buckets[i].account == account)
            b = &buckets[i];
    if (!b && n_buckets < RATE_ACCOUNTS) {
        b = &buckets[n_buckets++];
        *b = (struct bucket){account, RATE_BURST * RATE_UNIT, now};
    }
    for (size_t i = 0; i < n_buckets && !b; i++)
        if (refill(&buckets[i], now) == RATE_BURST * RATE_UNIT) {
            b = &buckets[i];
            *b = (struct bucket){account, RATE_BURST * RATE_UNIT, now};
        }
    if (!b) {
        wait = 1;
    } else {
        b->units = refill(b, now);
        b->at_ms = now;
        if (b->units >= RATE_UNIT)
            b->units -= RATE_UNIT;
        else /* the milliseconds until one token, in whole seconds rounded up */
            wait = (unsigned)(((RATE_UNIT - b->units + rate_per_min - 1) / rate_per_min + 999) / 1000);
    }
    pthread_mutex_unlock(&rate_lock);
    return wait ? (wait < 1 ? 1 : wait) : 0;
}

/* ---- compose ------------------------------------------------------------- */

/* What a message may hold: UTF-8 text (jansson checked that), without the
 * control characters a terminal obeys (ESC sequences, C1 controls such as
 * U+009B, a NUL): a message must not be able to repaint its reader's
 * screen, rewrite the menu's prompt or hide a line. Tab, CR and LF stay. */
static int text_ok(const char *t, size_t n, char *why, size_t why_len)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f) {
            snprintf(why, why_len, "the text holds control character 0x%02x at byte %zu (a message is "
                     "text: no terminal control codes)", ch, i);
            return 0;
        }
        if (ch == 0xc2 && i + 1 < n && (unsigned char)t[i + 1] >= 0x80 && (unsigned char)t[i + 1] <= 0x9f) {
            snprintf(why, why_len, "the text holds the C1 control character U+%04X at byte %zu (a message "
                     "is text: no terminal control codes)", (unsigned char)t[i + 1], i);
            return 0;
        }
    }
    return 1;
}

typedef struct compose_job {
    int64_t sender_id;
    const char *to;
    const char *text;
    size_t text_len;
    int64_t now;
    int64_t message_id, recipient_id; /* out */
} compose_job;

/* Runs in the writer's transaction, in the same savepoint as the receipt:
 * the recipient is looked up where the row is written, so a recipient
 * disabled a moment ago cannot slip in between. */
static int compose_fn(sqlite3 *db, int64_t receipt_id, void *arg, char *reason, size_t reason_len)
{
    compose_job *j = arg;
    sqlite3_stmt *st = NULL;
    int rc = accounts_active_id(db, j->to, &j->recipient_id);
    if (rc == SQLITE_NOTFOUND) { /* unknown or disabled: the same words */
        snprintf(reason, reason_len, "no such user '%s'", j->to);
        return STORE_OP_REFUSED;
    }
    if (rc != SQLITE_OK)
        return rc;
    if ((rc = sqlite3_prepare_v2(db,
                                 "INSERT INTO messages(sender_id, recipient_id, receipt_id, body, sent_at) "
                                 "VALUES(?1, ?2, ?3, ?4, ?5)",
                                 -1, &st, NULL)) != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, j->sender_id);
    sqlite3_bind_int64(st, 2, j->recipient_id);
    sqlite3_bind_int64(st, 3, receipt_id);
    sqlite3_bind_text(st, 4, j->text, (int)j->text_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, j->now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;
    j->message_id = sqlite3_last_insert_rowid(db);
    return SQLITE_OK;
}

/* a resend: the row the first copy wrote, found by its receipt */
static int64_t message_of_receipt(service *svc, int64_t receipt_id, int64_t me)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *st;
    int64_t id = 0;
    if (db && sqlite3_prepare_v2(db, "SELECT id FROM messages WHERE receipt_id = ?1 AND sender_id = ?2", -1,
                                 &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, receipt_id);
        sqlite3_bind_int64(st, 2, me);
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return id;
}

static json_t *op_compose(const op_ctx *x)
{
    json_t *err, *p = payload_object(x, &err), *out;
    const char *to, *text;
    char why[160];
    size_t text_len;
    unsigned wait;
    if (!p)
        return err;
    /* the rate limit comes first: refused composes count too, so a burst of
     * guesses at user names is throttled like a burst of messages */
    if ((wait = rate_take(x->s->account_id)) != 0) {
        char words[80];
        json_decref(p);
        return refused("rate limited: %s; retry in %u s",
                       messages_rate_words(words, sizeof words, "message", "messages"), wait);
    }
    to = json_get_str(p, "to");
    text = json_get_str(p, "text");
    if (!to || !text) {
        json_decref(p);
        return refused("compose takes {\"to\": USER, \"text\": TEXT}");
    }
    if (json_object_get(p, "from"))
        note("the payload names a \"from\": ignored, the sender is the session's account '%s'", x->s->user);
    if (!accounts_username_valid(to, why, sizeof why)) {
        out = refused("no such user: %s", why);
        json_decref(p);
        return out;
    }
    text_len = json_string_length(json_object_get(p, "text"));
    if (text_len == 0) {
        json_decref(p);
        return refused("the message is empty");
    }
    if (text_len > MSG_TEXT_MAX) {
        json_decref(p);
        return refused("the message is %zu bytes: at most %u (64 KiB) arrive whole; nothing was cut and "
                       "nothing stored", text_len, MSG_TEXT_MAX);
    }
    if (!text_ok(text, text_len, why, sizeof why)) {
        json_decref(p);
        return refused("%s", why);
    }

    compose_job j = {x->s->account_id, to, text, text_len, now_s(), 0, 0};
    store_receipt r = {x->d->serial, x->op->msg_id, x->op->op, x->op->payload, x->op->payload_len,
                       x->op->created_ms, x->op->sig, x->op->sig_len, x->s->id, x->seq};
    store_result res;
    store_put_op(x->svc->st, &r, compose_fn, &j, &res);
    switch (res.outcome) {
    case STORE_STORED:
        note("message %lld from '%s' to '%s' (%zu bytes) committed with its signed receipt %lld",
             (long long)j.message_id, x->s->user, to, text_len, (long long)res.record_id);
        /* only now, the data durable: the recipient's doorbell (ids and
         * names, never the text: the client fetches that with an op) */
        notify_account(x->svc, j.recipient_id, "message",
                       json_pack("{s:I, s:s}", "id", (json_int_t)j.message_id, "from", x->s->user));
        out = json_pack("{s:s, s:I}", "status", "stored", "message_id", (json_int_t)j.message_id);
        break;
    case STORE_DUPLICATE:
        note("compose resent (same msg_id and payload): the first copy stands");
        out = json_pack("{s:s, s:I}", "status", "duplicate", "message_id",
                        (json_int_t)message_of_receipt(x->svc, res.record_id, x->s->account_id));
        break;
    case STORE_CONFLICT:
    case STORE_REFUSED:
        out = refused("%s", res.reason);
        break;
    default:
        out = unavailable(res.reason[0] ? res.reason : "not stored, retry");
    }
    json_decref(p);
    return out;
}

/* ---- inbox and read ------------------------------------------------------ */

/* A message as the reader gets it, with its proof: the sender's signed op
 * exactly as stored and the certificate of the device that signed it. */
#define MESSAGE_SELECT                                                                                    \
    "SELECT m.id, s.username, m.body, m.sent_at, m.read_at, m.read_device, r.op, r.msg_id, r.created, "  \
    "r.payload, r.signature, r.device_serial, d.cert_pem, m.sender_id "                                  \
    "FROM messages m JOIN accounts s ON s.id = m.sender_id JOIN receipts r ON r.id = m.receipt_id "      \
    "JOIN devices d ON d.serial = r.device_serial WHERE m.recipient_id = ?1 AND m.deleted = 0 "

static json_t *message_json(sqlite3_stmt *st, size_t *size)
{
    json_t *proof = json_object(), *m = json_object();
    if (!proof || !m) {
        json_decref(proof);
        json_decref(m);
        return NULL;
    }
    json_object_set_new(m, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(m, "from", col_str(st, 1));
    json_object_set_new(m, "text", col_str(st, 2));
    json_object_set_new(m, "sent_at", json_integer(sqlite3_column_int64(st, 3)));
    json_object_set_new(m, "read_at", col_int_or_null(st, 4));
    json_object_set_new(m, "read_device", col_str(st, 5));
    json_object_set_new(proof, "op", col_str(st, 6));
    json_object_set_new(proof, "msg_id", col_b64(st, 7));
    json_object_set_new(proof, "created", json_integer(sqlite3_column_int64(st, 8)));
    json_object_set_new(proof, "payload", col_b64(st, 9));
    json_object_set_new(proof, "sig", col_b64(st, 10));
    json_object_set_new(proof, "device", col_str(st, 11));
    json_object_set_new(proof, "cert_pem", col_str(st, 12));
    json_object_set_new(m, "proof", proof);
    /* what it costs in the answer: the text (escaped, at worst twice), the
     * payload in base64url, the certificate, and some room */
    *size = 2 * (size_t)sqlite3_column_bytes(st, 2) + (size_t)sqlite3_column_bytes(st, 9) * 4 / 3 +
            (size_t)sqlite3_column_bytes(st, 12) + 512;
    return m;
}

typedef struct mark_job {
    int64_t me, now;
    const char *device;
    size_t n;
    int64_t ids[MSG_LIST_MAX];
    int marked[MSG_LIST_MAX]; /* out: this call made it read */
} mark_job;

/* Mark read what the reader was just given, on this device, now (R4's
 * READ_UNREAD). The WHERE keeps the owner check in the write too. */
static int mark_read_fn(sqlite3 *db, void *arg)
{
    mark_job *j = arg;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE messages SET read_at = ?3, read_device = ?4 WHERE id = ?1 AND "
                                "recipient_id = ?2 AND read_at IS NULL AND deleted = 0",
                                -1, &st, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < j->n; i++) {
        sqlite3_bind_int64(st, 1, j->ids[i]);
        sqlite3_bind_int64(st, 2, j->me);
        sqlite3_bind_int64(st, 3, j->now);
        sqlite3_bind_text(st, 4, j->device, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = SQLITE_ERROR;
        else
            j->marked[i] = sqlite3_changes(db) == 1;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : 1;
}

/* After the COMMIT: each sender whose message was just read gets a receipt
 * doorbell ("id" and "by", never the text). */
static void ring_receipts(service *svc, const mark_job *j, const int64_t *senders, const char *by)
{
    for (size_t i = 0; i < j->n; i++)
        if (j->marked[i])
            notify_account(svc, senders[i], "receipt",
                           json_pack("{s:I, s:s}", "id", (json_int_t)j->ids[i], "by", by));
}

static json_t *device_ca_pem(service *svc)
{
    size_t len = 0;
    char *pem = svc->device_ca ? pki_cert_to_pem(svc->device_ca, &len) : NULL;
    json_t *j = pem ? json_stringn(pem, len) : json_null();
    free(pem);
    return j;
}

/* inbox {"all": bool} and read {"id": N}: the same rows, the same proof */
static json_t *op_inbox(const op_ctx *x, int one)
{
    json_t *err, *p = payload_object(x, &err), *list, *out;
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    int64_t id = 0, senders[MSG_LIST_MAX];
    int all = 0, more = 0, rc;
    size_t budget = 0;
    mark_job *j;
    if (!p)
        return err;
    if (one && payload_id(p, &id) != 0) {
        json_decref(p);
        return refused("read takes {\"id\": N}, N a message id from your inbox");
    }
    if (!one) {
        json_t *a = json_object_get(p, "all");
        if (a && !json_is_boolean(a)) {
            json_decref(p);
            return refused("inbox takes {\"all\": true|false}");
        }
        all = json_is_true(a);
    }
    json_decref(p);
    if (!(j = calloc(1, sizeof *j)) || !(list = json_array())) {
        free(j);
        return unavailable("out of memory");
    }
    db = store_reader(x->svc->st);
    rc = db ? sqlite3_prepare_v2(db,
                                 one ? MESSAGE_SELECT "AND m.id = ?2"
                                     : MESSAGE_SELECT "AND (?2 OR m.read_at IS NULL) ORDER BY m.id LIMIT ?3",
                                 -1, &st, NULL)
            : SQLITE_CANTOPEN;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, x->s->account_id);
        sqlite3_bind_int64(st, 2, one ? id : all);
        if (!one)
            sqlite3_bind_int(st, 3, MSG_LIST_MAX + 1);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            size_t size;
            json_t *m;
            if (j->n == MSG_LIST_MAX) {
                more = 1;
                break;
            }
            if (!(m = message_json(st, &size)))
                break;
            /* one message always fits (64 KiB of text, its proof: a few
             * hundred KiB); after it, stop before the answer grows past its
             * budget and say there is more */
            if (j->n && budget + size > MSG_ANSWER_BUDGET) {
                json_decref(m);
                more = 1;
                break;
            }
            budget += size;
            if (sqlite3_column_type(st, 4) == SQLITE_NULL)
                json_object_set_new(m, "new", json_true());
            senders[j->n] = sqlite3_column_int64(st, 13);
            j->ids[j->n++] = sqlite3_column_int64(st, 0);
            json_array_append_new(list, m);
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        else if (rc == SQLITE_ROW)
            rc = SQLITE_OK; /* stopped on purpose */
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK) {
        json_decref(list);
        free(j);
        return unavailable("the inbox cannot be read now: retry");
    }
    if (one && j->n == 0) {
        json_decref(list);
        free(j);
        return not_found(id);
    }
    /* what was handed over is read now, on this device */
    j->me = x->s->account_id;
    j->now = now_s();
    j->device = x->s->device;
    if (store_write(x->svc->st, mark_read_fn, j) != 0) {
        json_decref(list);
        free(j);
        return unavailable("the messages could not be marked read: retry");
    }
    for (size_t i = 0; i < j->n; i++)
        if (j->marked[i]) {
            json_t *m = json_array_get(list, i);
            json_object_set_new(m, "read_at", json_integer(j->now));
            json_object_set_new(m, "read_device", json_string(x->s->device));
        }
    ring_receipts(x->svc, j, senders, x->s->user);
    note("%s: %zu message%s for '%s'%s", one ? "read" : all ? "inbox --all" : "inbox", j->n,
         j->n == 1 ? "" : "s", x->s->user, more ? " (more waiting)" : "");
    free(j);
    if (one) {
        out = json_pack("{s:s, s:O, s:o}", "status", "ok", "message", json_array_get(list, 0), "device_ca_pem",
                        device_ca_pem(x->svc));
        json_decref(list);
    } else {
        out = json_pack("{s:s, s:o, s:b, s:o}", "status", "ok", "messages", list, "more", more,
                        "device_ca_pem", device_ca_pem(x->svc));
    }
    return out;
}

/* ---- delete -------------------------------------------------------------- */

typedef struct delete_job {
    int64_t me, id;
    int deleted; /* out */
} delete_job;

static int delete_fn(sqlite3 *db, void *arg)
{
    delete_job *j = arg;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE messages SET deleted = 1 WHERE id = ?1 AND recipient_id = ?2 AND "
                                "deleted = 0",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, j->id);
        sqlite3_bind_int64(st, 2, j->me);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        j->deleted = sqlite3_changes(db) == 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : 1;
}

/* Out of the reader's inbox. The signed receipt stays: it is the proof of
 * what the sender sent, and the sender's read receipt still stands. */
static json_t *op_delete(const op_ctx *x)
{
    json_t *err, *p = payload_object(x, &err);
    delete_job j = {x->s->account_id, 0, 0};
    if (!p)
        return err;
    int bad = payload_id(p, &j.id);
    json_decref(p);
    if (bad)
        return refused("delete takes {\"id\": N}, N a message id from your inbox");
    if (store_write(x->svc->st, delete_fn, &j) != 0)
        return unavailable("not deleted: the database could not commit, retry");
    if (!j.deleted)
        return not_found(j.id);
    note("message %lld deleted from '%s''s inbox", (long long)j.id, x->s->user);
    return json_pack("{s:s, s:I}", "status", "ok", "deleted", (json_int_t)j.id);
}

/* ---- receipts (R4's VIEW) ------------------------------------------------ */

typedef struct seen_job {
    int64_t me, now;
    size_t n;
    int64_t ids[MSG_LIST_MAX];
} seen_job;

static int seen_fn(sqlite3 *db, void *arg)
{
    seen_job *j = arg;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE messages SET receipt_seen_at = ?3 WHERE id = ?1 AND sender_id = ?2 "
                                "AND read_at IS NOT NULL AND receipt_seen_at IS NULL",
                                -1, &st, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < j->n; i++) {
        sqlite3_bind_int64(st, 1, j->ids[i]);
        sqlite3_bind_int64(st, 2, j->me);
        sqlite3_bind_int64(st, 3, j->now);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = SQLITE_ERROR;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : 1;
}

/* "The message you sent to bob was read on device D at T": the sender's
 * own messages only, the newest first; those not seen before are "new",
 * and are seen from now on (the counter goes down). */
static json_t *op_receipts(const op_ctx *x)
{
    sqlite3 *db = store_reader(x->svc->st);
    sqlite3_stmt *st = NULL;
    json_t *list = json_array();
    seen_job *j = calloc(1, sizeof *j);
    int rc = db && list && j ? sqlite3_prepare_v2(db,
                                                  "SELECT m.id, a.username, m.read_at, m.read_device, "
                                                  "m.receipt_seen_at IS NULL, m.sent_at FROM messages m JOIN "
                                                  "accounts a ON a.id = m.recipient_id WHERE m.sender_id = ?1 "
                                                  "AND m.read_at IS NOT NULL ORDER BY m.read_at DESC, m.id "
                                                  "DESC LIMIT ?2",
                                                  -1, &st, NULL)
                             : SQLITE_NOMEM;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, x->s->account_id);
        sqlite3_bind_int(st, 2, MSG_LIST_MAX);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int fresh = sqlite3_column_int(st, 4);
            json_array_append_new(list,
                                  json_pack("{s:I, s:o, s:I, s:I, s:o, s:b}", "id",
                                            (json_int_t)sqlite3_column_int64(st, 0), "to", col_str(st, 1),
                                            "sent_at", (json_int_t)sqlite3_column_int64(st, 5), "read_at",
                                            (json_int_t)sqlite3_column_int64(st, 2), "read_device",
                                            col_str(st, 3), "new", fresh));
            if (fresh)
                j->ids[j->n++] = sqlite3_column_int64(st, 0);
        }
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK) {
        json_decref(list);
        free(j);
        return unavailable("the receipts cannot be read now: retry");
    }
    j->me = x->s->account_id;
    j->now = now_s();
    if (j->n && store_write(x->svc->st, seen_fn, j) != 0) {
        json_decref(list);
        free(j);
        return unavailable("the receipts could not be marked seen: retry");
    }
    free(j);
    return json_pack("{s:s, s:o}", "status", "ok", "receipts", list);
}

/* ---- users and presence -------------------------------------------------- */

typedef struct presence {
    int64_t account;
    int online;
    int64_t last_used;
} presence;

static void presence_fn(const live_session *s, int64_t now, void *arg)
{
    presence *p = arg;
    if (s->account_id != p->account)
        return;
    if (s->last_used > p->last_used)
        p->last_used = s->last_used;
    if (now - s->last_used < PRESENCE_ONLINE_S)
        p->online = 1;
}

/* The account named, if it is the caller or a correspondent (someone who
 * has written to the caller: one unsolicited message must not buy its sender
 * the recipient's comings and goings) and enabled: 1 with its
 * presence; 0 when it is not to be shown; -1 when the store failed. */
static int presence_of(service *svc, int64_t me, const char *name, json_t **out)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *st = NULL;
    presence p = {0, 0, 0};
    int64_t last_seen = 0;
    int rc, found = 0;
    if (!db || sqlite3_prepare_v2(db,
                                  "SELECT a.id, a.last_seen FROM accounts a WHERE a.username = ?1 AND "
                                  "a.disabled = 0 AND (a.id = ?2 OR EXISTS (SELECT 1 FROM messages m WHERE "
                                  "m.recipient_id = ?2 AND m.sender_id = a.id))",
                                  -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, me);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        found = 1;
        p.account = sqlite3_column_int64(st, 0);
        last_seen = sqlite3_column_int64(st, 1); /* NULL reads as 0: never */
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    if (!found)
        return 0;
    live_foreach(svc->sessions, presence_fn, &p);
    if (p.last_used > last_seen)
        last_seen = p.last_used;
    *out = json_pack("{s:b, s:o}", "online", p.online,
                     "last_seen", last_seen ? json_integer(last_seen) : json_null());
    return 1;
}

static json_t *op_users(const op_ctx *x, int presence_op)
{
    json_t *err, *p = payload_object(x, &err), *pres = NULL, *out;
    const char *name;
    char why[160];
    if (!p)
        return err;
    name = json_get_str(p, "name");
    if (!name) {
        json_decref(p);
        return refused("%s takes {\"name\": USER}", x->op->op);
    }
    if (!accounts_username_valid(name, why, sizeof why)) {
        out = presence_op ? refused("not found: no correspondent named that (%s)", why)
                          : json_pack("{s:s, s:s, s:b, s:s}", "status", "ok", "name", name, "exists", 0,
                                      "why", why);
        json_decref(p);
        return out;
    }
    int vis = presence_of(x->svc, x->s->account_id, name, &pres);
    if (vis < 0) {
        json_decref(p);
        return unavailable("the accounts cannot be read now: retry");
    }
    if (presence_op) {
        /* not a correspondent, disabled, unknown: one shape for all three */
        out = vis ? json_pack("{s:s, s:s, s:o}", "status", "ok", "name", name, "presence", pres)
                  : refused("not found: you have no correspondent named '%s'", name);
        if (out && vis) { /* the flat shape of the contract: online and last_seen at the top */
            json_object_update(out, pres);
            json_object_del(out, "presence");
        }
        json_decref(p);
        return out;
    }
    /* users: whether the name exists is R4's CHECK (you need it to write to
     * someone); presence only for a correspondent */
    sqlite3 *db = store_reader(x->svc->st);
    int64_t id;
    int exists = db && accounts_active_id(db, name, &id) == SQLITE_OK;
    out = json_pack("{s:s, s:s, s:b}", "status", "ok", "name", name, "exists", exists);
    if (out && vis)
        json_object_set_new(out, "presence", pres);
    else if (vis)
        json_decref(pres);
    json_decref(p);
    return out;
}

/* ---- the dispatch and the counters ---------------------------------------- */

json_t *messages_op(const op_ctx *x)
{
    const char *op = x->op->op;
    if (!strcmp(op, "compose"))
        return op_compose(x);
    if (!strcmp(op, "inbox"))
        return op_inbox(x, 0);
    if (!strcmp(op, "read"))
        return op_inbox(x, 1);
    if (!strcmp(op, "delete"))
        return op_delete(x);
    if (!strcmp(op, "receipts"))
        return op_receipts(x);
    if (!strcmp(op, "users"))
        return op_users(x, 0);
    if (!strcmp(op, "presence"))
        return op_users(x, 1);
    return NULL;
}

typedef struct seen_at {
    int64_t account, now;
} seen_at;

static int last_seen_fn(sqlite3 *db, void *arg)
{
    seen_at *a = arg;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE accounts SET last_seen = ?2 WHERE id = ?1 AND (last_seen IS NULL OR "
                                "last_seen < ?2)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, a->account);
        sqlite3_bind_int64(st, 2, a->now);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : 1;
}

/* HELLO_ACK and every answer count the unread messages and the unseen
 * receipts. They are also where an account is seen (a HELLO, a poll, an
 * op): accounts.last_seen, which presence reads once the sessions are
 * gone, is written here, at most once a minute per account (a poll every
 * second must not cost a COMMIT every second). */
void messages_counters(service *svc, int64_t account_id, json_t *counters)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *st;
    json_int_t unread = 0, receipts = 0;
    int64_t last_seen = 0, now = now_s();
    if (db && sqlite3_prepare_v2(db,
                                 "SELECT (SELECT count(*) FROM messages WHERE recipient_id = ?1 AND read_at IS "
                                 "NULL AND deleted = 0), (SELECT count(*) FROM messages WHERE sender_id = ?1 "
                                 "AND read_at IS NOT NULL AND receipt_seen_at IS NULL), (SELECT last_seen FROM "
                                 "accounts WHERE id = ?1)",
                                 -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, account_id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            unread = sqlite3_column_int64(st, 0);
            receipts = sqlite3_column_int64(st, 1);
            last_seen = sqlite3_column_int64(st, 2);
        }
        sqlite3_finalize(st);
    }
    json_object_set_new(counters, "unread", json_integer(unread));
    json_object_set_new(counters, "receipts", json_integer(receipts));
    (void)last_seen, (void)now;
}

/* The account made a request just now: last_seen, at most once a minute.
 * Only on the account's own requests: a notification rung by someone else
 * must neither wait on the writer nor make its recipient look active. */
void messages_seen(service *svc, int64_t account_id)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *st;
    int64_t last_seen = 0, now = now_s();
    if (db && sqlite3_prepare_v2(db, "SELECT last_seen FROM accounts WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, account_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            last_seen = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (now - last_seen >= LAST_SEEN_EVERY_S) {
        seen_at a = {account_id, now};
        if (store_write(svc->st, last_seen_fn, &a) != 0)
            warning("accounts.last_seen not updated (the database could not commit)");
    }
}

unsigned messages_rate_take(int64_t account_id)
{
    return rate_take(account_id);
}
