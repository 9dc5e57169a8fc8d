/* SPDX-License-Identifier: MIT */
/*
 * transfer.c - R5's typed transfer (send_bytes, send_text, send_object,
 * send_list, send_file, receive) inside the session envelopes, done soundly.
 *
 * R5 (SDTP) pickled every value and unpickled what arrived before checking
 * anything, read a 4-byte length from the peer and allocated that much, and
 * saved a file under the name the sender chose. Here:
 * - an item is strict JSON (items.c): bytes as base64url stay bytes, an object
 *   is a JSON object; nothing else decodes anything;
 * - a file is declared first (file_begin: name, size, SHA-256, signed by the
 *   device, so the receipt proves what it committed to), and its size and
 *   the owner's quota are checked before a row, a byte of memory for it or a
 *   file exists; then it comes in chunks of exactly chunk_size bytes (the
 *   last one shorter), each at its own offset, so nothing is allocated from
 *   a number the peer chose;
 * - the file lives under a random 128-bit id in DATA/files/ (0700); the name
 *   is metadata only, never part of a path (the receiver cleans it again);
 * - every query carries owner_id = :me or recipient_id = :me (the session's
 *   account, never one from the payload); another account's id answers the
 *   same "not found" as an id that never existed: no existence oracle.
 *
 * The ops (the lab sheet's names): send, file_begin, file_chunk, file_status,
 * file_end, file_drop (the owner gives an upload up, unless it was sent),
 * items, item_get, item_done. send and file_begin are kept as
 * signed receipts (store_put_op: who sent what); a chunk is a signed op too
 * (the envelope format wants one), but it is not kept as a receipt: the file
 * holds the bytes and file_begin's receipt the hash the device signed.
 *
 * Crash safety: a chunk is written with pwrite and its bit set in the files
 * row after; the .part is fsynced only at file_end, once, after its SHA-256
 * matched. A crash can so leave a bit for bytes that never reached the disk:
 * file_end then finds the hash wrong, forgets every chunk and says so, and
 * the client sends them again. A rename makes <id> appear whole or not at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/json.h"
#include "core/narrate.h"
#include "items.h"
#include "service.h"

#define FILE_SIZE_MAX (16u << 20)        /* one file: 16 MiB (R5: up to 4 GiB from a 4-byte length) */
#define ITEMS_WAITING_MAX 1000           /* items waiting for one recipient, at most ... */
#define ITEMS_WAITING_BYTES (64 << 20)    /* ... and their inline bytes (files count in their sender's quota) */
#define FILE_QUOTA ((int64_t)64 << 20)   /* every upload of one account, complete or not */
#define CHUNK_SIZE_DEFAULT (256u * 1024u) /* its base64url, signed and sealed, fits the 1 MiB body */
#define CHUNK_SIZE_MIN 1024u
#define ITEMS_LIST_MAX 100               /* items in one answer ... */
#define ITEMS_LIST_BYTES (900u * 1024u)  /* ... and their JSON: the answer fits one envelope (1 MiB); one item's
                                           is at most a send payload's 512 KiB, so one always fits */
#define PAYLOAD_DEPTH (ITEM_JSON_DEPTH + 1) /* {"to", "item": {...}} */

static json_t *refused(const char *fmt, ...) COURSE_PRINTF(1, 2);
static json_t *refused(const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return json_pack("{s:s, s:s}", "status", "refused", "reason", why);
}

static json_t *unavailable(const char *why)
{
    return json_pack("{s:s, s:s}", "status", "unavailable", "reason", why);
}

/* exactly the members named (NULL-terminated list): an unknown one is refused, never ignored */
static int members_ok(const json_t *o, const char *const *allowed, char *why, size_t why_len)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        (void)v;
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k) != 0)
            i++;
        if (!allowed[i]) {
            snprintf(why, why_len, "unknown member \"%.40s\"", k);
            return -1;
        }
    }
    return 0;
}

static int is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* a non-negative integer member, or -1 */
static int64_t get_uint(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
}

/* DATA/files/, 0700, ours, a directory (not a link to one) */
static int files_dir(service *svc, char *path, size_t len)
{
    struct stat s;
    snprintf(path, len, "%s/files", svc->data_dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    if (lstat(path, &s) != 0 || !S_ISDIR(s.st_mode) || s.st_uid != geteuid() || (s.st_mode & 077)) {
        warning("%s must be a directory of this user, mode 0700", path);
        return -1;
    }
    return 0;
}

/* DATA/files/<id> or <id>.part: the id is 32 hex digits (checked by every caller), never a name */
static int file_path(service *svc, const char *id, int part, char *path, size_t len)
{
    char dir[600];
    if (!is_hex(id, 32) || files_dir(svc, dir, sizeof dir) != 0)
        return -1;
    return snprintf(path, len, "%s/%s%s", dir, id, part ? ".part" : "") < (int)len ? 0 : -1;
}

static json_t *have_list(const uint8_t *bits, int64_t chunks)
{
    json_t *a = json_array();
    for (int64_t i = 0; a && i < chunks; i++)
        if (bits && (bits[i / 8] >> (i % 8)) & 1)
            json_array_append_new(a, json_integer((json_int_t)i));
    return a;
}

static store_receipt receipt_of(const op_ctx *x)
{
    store_receipt r = {x->d->serial, x->op->msg_id, x->op->op, x->op->payload, x->op->payload_len,
                       x->op->created_ms, x->op->sig, x->op->sig_len, x->s->id, x->seq};
    return r;
}

/* ---- one upload's row, as its owner sees it --------------------------------------------------------- */

typedef struct upload {
    char id[33];
    int64_t size, chunk_size, chunks, received;
    int complete;
    uint8_t sha[32];
    uint8_t *have; /* (chunks + 7) / 8 bytes, malloc'ed */
    char name[ITEM_NAME_MAX + 1];
} upload;

/* 0 found, 1 not found (or someone else's: the same answer), -1 the store failed */
static int upload_get(service *svc, const char *id, int64_t owner, upload *u)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *s = NULL;
    int rc = -1;
    memset(u, 0, sizeof *u);
    if (!is_hex(id, 32))
        return 1;
    if (!db || sqlite3_prepare_v2(db,
                                  "SELECT size, chunk_size, chunks, received, complete, sha256, have, name "
                                  "FROM files WHERE id = ?1 AND owner_id = ?2",
                                  -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, owner);
    int st = sqlite3_step(s);
    if (st == SQLITE_ROW) {
        memcpy(u->id, id, 33);
        u->size = sqlite3_column_int64(s, 0);
        u->chunk_size = sqlite3_column_int64(s, 1);
        u->chunks = sqlite3_column_int64(s, 2);
        u->received = sqlite3_column_int64(s, 3);
        u->complete = sqlite3_column_int(s, 4);
        if (sqlite3_column_bytes(s, 5) == 32)
            memcpy(u->sha, sqlite3_column_blob(s, 5), 32);
        size_t n = (size_t)sqlite3_column_bytes(s, 6);
        u->have = calloc(1, n + 1);
        if (u->have && n)
            memcpy(u->have, sqlite3_column_blob(s, 6), n);
        snprintf(u->name, sizeof u->name, "%s", (const char *)sqlite3_column_text(s, 7));
        rc = u->have ? 0 : -1;
    } else if (st == SQLITE_DONE) {
        rc = 1;
    }
    sqlite3_finalize(s);
    return rc;
}

static json_t *upload_not_found(const char *id)
{
    /* the same words for someone else's upload and for one that never existed */
    return refused("not found: no upload %.32s of yours", is_hex(id, 32) ? id : "(that id)");
}

/* ---- send ------------------------------------------------------------------------------------------- */

typedef struct send_job {
    int64_t me;
    const char *to;
    const item *it;
    int64_t recipient, item_id;
} send_job;

static int send_fn(sqlite3 *db, int64_t receipt_id, void *arg, char *reason, size_t reason_len)
{
    send_job *j = arg;
    sqlite3_stmt *s = NULL;
    int rc = accounts_active_id(db, j->to, &j->recipient);
    if (rc == SQLITE_NOTFOUND) { /* the same words for a disabled account: no oracle */
        snprintf(reason, reason_len, "no such user '%.64s'", j->to);
        return STORE_OP_REFUSED;
    }
    if (rc != SQLITE_OK) /* busy or broken: "not stored, retry", never "no such user" */
        return rc;
    /* what waits for one recipient is bounded: a sender must not fill another
     * account's items (and the disk) faster than it fetches them */
    if ((rc = sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(length(value)), 0) FROM items "
                                     "WHERE recipient_id = ?1 AND fetched_at IS NULL",
                                 -1, &s, NULL)) != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(s, 1, j->recipient);
    int64_t waiting = 0, waiting_bytes = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        waiting = sqlite3_column_int64(s, 0);
        waiting_bytes = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    if (waiting >= ITEMS_WAITING_MAX || waiting_bytes + (int64_t)j->it->len > ITEMS_WAITING_BYTES) {
        snprintf(reason, reason_len, "'%.64s' has %lld items (%lld bytes) waiting: at most %d, or %d MiB, until "
                 "they fetch some", j->to, (long long)waiting, (long long)waiting_bytes, ITEMS_WAITING_MAX,
                 ITEMS_WAITING_BYTES >> 20);
        return STORE_OP_REFUSED;
    }
    if (j->it->type == ITEM_FILE) {
        if ((rc = sqlite3_prepare_v2(db, "SELECT complete FROM files WHERE id = ?1 AND owner_id = ?2", -1, &s,
                                     NULL)) != SQLITE_OK)
            return rc;
        sqlite3_bind_text(s, 1, j->it->file_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, j->me);
        int st = sqlite3_step(s), complete = st == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
        sqlite3_finalize(s);
        if (complete < 0) {
            snprintf(reason, reason_len, "not found: no upload %s of yours", j->it->file_id);
            return STORE_OP_REFUSED;
        }
        if (!complete) {
            snprintf(reason, reason_len, "the upload %s is not complete: send its chunks and file_end first",
                     j->it->file_id);
            return STORE_OP_REFUSED;
        }
    }
    if ((rc = sqlite3_prepare_v2(db,
                                 "INSERT INTO items(sender_id, recipient_id, receipt_id, type, value, file_id, "
                                 "sent_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                 -1, &s, NULL)) != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(s, 1, j->me);
    sqlite3_bind_int64(s, 2, j->recipient);
    sqlite3_bind_int64(s, 3, receipt_id);
    sqlite3_bind_text(s, 4, item_type_str(j->it->type), -1, SQLITE_STATIC);
    if (j->it->type == ITEM_FILE)
        sqlite3_bind_null(s, 5);
    else /* the bytes as they came: never parsed again except as JSON text for an object or list */
        sqlite3_bind_blob64(s, 5, j->it->data ? (const void *)j->it->data : "", j->it->len, SQLITE_STATIC);
    if (j->it->type == ITEM_FILE)
        sqlite3_bind_text(s, 6, j->it->file_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 6);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return rc;
    j->item_id = sqlite3_last_insert_rowid(db);
    return SQLITE_OK;
}

static int64_t id_by_receipt(service *svc, const char *sql, int64_t receipt_id, char *text, size_t text_len)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *s = NULL;
    int64_t id = 0;
    if (db && sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, receipt_id);
        if (sqlite3_step(s) == SQLITE_ROW) {
            id = sqlite3_column_int64(s, 0);
            if (text && sqlite3_column_text(s, 0))
                snprintf(text, text_len, "%s", (const char *)sqlite3_column_text(s, 0));
        }
    }
    sqlite3_finalize(s);
    return id;
}

static json_t *op_send(const op_ctx *x, const json_t *p)
{
    static const char *const allowed[] = {"to", "item", NULL};
    char why[256];
    item it;
    const char *to = json_get_str(p, "to");
    json_t *jitem = json_object_get(p, "item");
    if (members_ok(p, allowed, why, sizeof why) != 0)
        return refused("send: %s (send has \"to\" and \"item\")", why);
    if (!to || !*to || strlen(to) > 64)
        return refused("send: \"to\" names the recipient (a username)");
    if (!jitem)
        return refused("send: \"item\" is missing");
    /* the compose rate limit: an item lands in another account's hands like a message */
    unsigned wait = messages_rate_take(x->s->account_id);
    if (wait) {
        char words[80];
        return refused("send: rate limited: %s; retry in %u s",
                       messages_rate_words(words, sizeof words, "item or message", "items or messages"), wait);
    }
    char *text = json_compact(jitem);
    if (!text)
        return unavailable("out of memory");
    int rc = item_parse((const uint8_t *)text, strlen(text), &it, why, sizeof why);
    free(text);
    if (rc != 0)
        return refused("send: %s", why);
    send_job j = {x->s->account_id, to, &it, 0, 0};
    store_receipt r = receipt_of(x);
    store_result res;
    store_put_op(x->svc->st, &r, send_fn, &j, &res);
    json_t *out;
    switch (res.outcome) {
    case STORE_STORED:
        note("item %lld (%s, %zu bytes) from '%s' to '%s' stored (receipt %lld)", (long long)j.item_id,
             item_type_str(it.type), it.len, x->s->user, to, (long long)res.record_id);
        /* after the COMMIT: a doorbell, never the content */
        notify_account(x->svc, j.recipient, "transfer",
                       json_pack("{s:I, s:s, s:s}", "id", (json_int_t)j.item_id, "from", x->s->user, "type",
                                 item_type_str(it.type)));
        out = json_pack("{s:s, s:I}", "status", "stored", "item_id", (json_int_t)j.item_id);
        break;
    case STORE_DUPLICATE:
        out = json_pack("{s:s, s:I}", "status", "duplicate", "item_id",
                        (json_int_t)id_by_receipt(x->svc, "SELECT id FROM items WHERE receipt_id = ?1",
                                                  res.record_id, NULL, 0));
        break;
    case STORE_CONFLICT:
    case STORE_REFUSED:
        warning("send from '%s' refused: %s", x->s->user, res.reason);
        out = refused("%s", res.reason);
        break;
    default:
        out = unavailable(res.reason[0] ? res.reason : "not stored, retry");
    }
    item_free(&it);
    return out;
}

/* ---- file_begin --------------------------------------------------------------------------------------- */

typedef struct begin_job {
    int64_t me;
    char id[33];
    const char *name, *ext;
    int64_t size, chunk_size, chunks;
    const uint8_t *sha;
} begin_job;

static int begin_fn(sqlite3 *db, int64_t receipt_id, void *arg, char *reason, size_t reason_len)
{
    begin_job *j = arg;
    sqlite3_stmt *s = NULL;
    int rc;
    /* the quota, in the writer's transaction: two uploads at once cannot both slip under it */
    if ((rc = sqlite3_prepare_v2(db, "SELECT coalesce(sum(size), 0) FROM files WHERE owner_id = ?1", -1, &s,
                                 NULL)) != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(s, 1, j->me);
    int64_t used = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (used + j->size > FILE_QUOTA) {
        snprintf(reason, reason_len,
                 "quota: your uploads hold %lld bytes; %lld more would pass the %lld (64 MiB) an account may "
                 "keep",
                 (long long)used, (long long)j->size, (long long)FILE_QUOTA);
        return STORE_OP_REFUSED;
    }
    if ((rc = sqlite3_prepare_v2(db,
                                 "INSERT INTO files(id, owner_id, receipt_id, name, ext, size, sha256, "
                                 "chunk_size, chunks, have, created_at) "
                                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                                 -1, &s, NULL)) != SQLITE_OK)
        return rc;
    sqlite3_bind_text(s, 1, j->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, j->me);
    sqlite3_bind_int64(s, 3, receipt_id);
    sqlite3_bind_text(s, 4, j->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, j->ext, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, j->size);
    sqlite3_bind_blob(s, 7, j->sha, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, j->chunk_size);
    sqlite3_bind_int64(s, 9, j->chunks);
    sqlite3_bind_zeroblob(s, 10, (int)((j->chunks + 7) / 8));
    sqlite3_bind_int64(s, 11, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static json_t *upload_answer(const upload *u)
{
    char *sha = hex_encode(u->sha, 32);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s?, s:I, s:I, s:o, s:b}", "status", "ok", "file_id", u->id,
                          "name", u->name, "size", (json_int_t)u->size, "sha256", sha, "chunk_size",
                          (json_int_t)u->chunk_size, "chunks", (json_int_t)u->chunks, "have",
                          have_list(u->have, u->chunks), "complete", u->complete);
    free(sha);
    return o;
}

static json_t *op_file_begin(const op_ctx *x, const json_t *p)
{
    static const char *const allowed[] = {"name", "size", "sha256", "chunk_size", NULL};
    char why[256], name[ITEM_NAME_MAX + 1], ext[ITEM_EXT_MAX + 1];
    const char *raw_name = json_get_str(p, "name"), *sha_hex = json_get_str(p, "sha256");
    json_t *jsize = json_object_get(p, "size");
    uint8_t *sha = NULL;
    size_t sha_len = 0;

    if (members_ok(p, allowed, why, sizeof why) != 0)
        return refused("file_begin: %s (it has name, size, sha256 and chunk_size)", why);
    /* the declared size first, before a row, a file or a byte of memory exists for it (R5 allocated the
     * length a peer declared: 4 GiB from a 4-byte header) */
    if (!json_is_integer(jsize) || json_integer_value(jsize) < 0)
        return refused("file_begin: \"size\" is the file's length in bytes, an integer >= 0");
    if (json_integer_value(jsize) > (json_int_t)FILE_SIZE_MAX)
        return refused("file_begin: a file is at most %u bytes (16 MiB); this one declares %lld",
                       (unsigned)FILE_SIZE_MAX, (long long)json_integer_value(jsize));
    int64_t size = (int64_t)json_integer_value(jsize), chunk = CHUNK_SIZE_DEFAULT;
    if (json_object_get(p, "chunk_size")) {
        chunk = get_uint(p, "chunk_size");
        if (chunk < (int64_t)CHUNK_SIZE_MIN || chunk > (int64_t)CHUNK_SIZE_DEFAULT)
            return refused("file_begin: chunk_size is %u to %u bytes", CHUNK_SIZE_MIN, CHUNK_SIZE_DEFAULT);
    }
    if (!raw_name)
        return refused("file_begin: \"name\" is missing");
    /* a string with \u0000 never gets here (json_parse); json_string_length sees the whole of it anyway */
    if (item_name_sanitise(raw_name, json_string_length(json_object_get(p, "name")), name, ext, why,
                           sizeof why) != 0)
        return refused("file_begin: %s", why);
    if (!is_hex(sha_hex, 64) || hex_decode(sha_hex, &sha, &sha_len) != 0 || sha_len != 32) {
        free(sha);
        return refused("file_begin: \"sha256\" is the file's SHA-256, 64 lower-case hex digits");
    }
    begin_job j = {.me = x->s->account_id, .name = name, .ext = ext, .size = size, .chunk_size = chunk,
                   .chunks = (size + chunk - 1) / chunk, .sha = sha};
    uint8_t rnd[16];
    char *hex = NULL;
    if (RAND_bytes(rnd, sizeof rnd) != 1 || !(hex = hex_encode(rnd, sizeof rnd))) {
        free(sha);
        return unavailable("no random id");
    }
    memcpy(j.id, hex, 33);
    free(hex);
    store_receipt r = receipt_of(x);
    store_result res;
    store_put_op(x->svc->st, &r, begin_fn, &j, &res);
    free(sha);
    char id[40] = "";
    switch (res.outcome) {
    case STORE_STORED:
        snprintf(id, sizeof id, "%s", j.id);
        note("upload %s begun by '%s': '%s', %lld bytes in %lld chunks of %lld (nothing on disk yet)", id,
             x->s->user, name, (long long)size, (long long)j.chunks, (long long)chunk);
        break;
    case STORE_DUPLICATE: /* a resent file_begin: the same upload, with what it has so far */
        id_by_receipt(x->svc, "SELECT id FROM files WHERE receipt_id = ?1", res.record_id, id, sizeof id);
        break;
    case STORE_CONFLICT:
    case STORE_REFUSED:
        warning("file_begin from '%s' refused: %s", x->s->user, res.reason);
        return refused("file_begin: %s", res.reason);
    default:
        return unavailable(res.reason[0] ? res.reason : "not stored, retry");
    }
    upload u;
    if (upload_get(x->svc, id, x->s->account_id, &u) != 0) {
        free(u.have);
        return unavailable("the upload was stored but cannot be read back: file_status it");
    }
    json_t *out = upload_answer(&u);
    free(u.have);
    return out;
}

/* ---- file_chunk ----------------------------------------------------------------------------------------- */

typedef struct bit_job {
    const char *id;
    int64_t index; /* -1: forget every chunk (a hash that did not match) */
    int complete;  /* file_end: mark complete */
} bit_job;

static int bit_fn(sqlite3 *db, void *arg)
{
    bit_job *j = arg;
    sqlite3_stmt *s = NULL;
    int rc;
    if (j->complete) {
        rc = sqlite3_prepare_v2(db, "UPDATE files SET complete = 1 WHERE id = ?1", -1, &s, NULL);
    } else if (j->index < 0) {
        rc = sqlite3_prepare_v2(db, "UPDATE files SET have = zeroblob(length(have)), received = 0 WHERE id = ?1",
                                -1, &s, NULL);
    } else { /* read, set, write: on the writer thread, so two chunks at once cannot lose a bit */
        /* SQL has no bit operations on a BLOB's bytes: done in C */
        if ((rc = sqlite3_prepare_v2(db, "SELECT have FROM files WHERE id = ?1", -1, &s, NULL)) != SQLITE_OK)
            return rc;
        sqlite3_bind_text(s, 1, j->id, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_ROW) {
            sqlite3_finalize(s);
            return SQLITE_NOTFOUND;
        }
        int n = sqlite3_column_bytes(s, 0);
        uint8_t *bits = malloc((size_t)n + 1);
        if (!bits || j->index / 8 >= n) {
            free(bits);
            sqlite3_finalize(s);
            return SQLITE_NOMEM;
        }
        memcpy(bits, sqlite3_column_blob(s, 0), (size_t)n);
        sqlite3_finalize(s);
        int was = (bits[j->index / 8] >> (j->index % 8)) & 1;
        bits[j->index / 8] |= (uint8_t)(1u << (j->index % 8));
        rc = sqlite3_prepare_v2(db, "UPDATE files SET have = ?2, received = received + ?3 WHERE id = ?1", -1,
                                &s, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(s, 1, j->id, -1, SQLITE_STATIC);
            sqlite3_bind_blob(s, 2, bits, n, SQLITE_TRANSIENT);
            sqlite3_bind_int(s, 3, !was);
            rc = sqlite3_step(s);
        }
        free(bits);
        sqlite3_finalize(s);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(s, 1, j->id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int full_pwrite(int fd, const uint8_t *p, size_t n, off_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w, off += w;
    }
    return 0;
}

static int64_t chunk_len(const upload *u, int64_t index)
{
    return index == u->chunks - 1 ? u->size - index * u->chunk_size : u->chunk_size;
}

static json_t *op_file_chunk(const op_ctx *x, const json_t *p)
{
    static const char *const allowed[] = {"file_id", "index", "data", NULL};
    char why[128], path[700];
    const char *id = json_get_str(p, "file_id");
    json_t *jdata = json_object_get(p, "data");
    int64_t index = get_uint(p, "index");
    upload u;
    uint8_t *data = NULL;
    size_t len = 0;

    if (members_ok(p, allowed, why, sizeof why) != 0)
        return refused("file_chunk: %s (it has file_id, index and data)", why);
    if (!json_is_integer(json_object_get(p, "index")))
        return refused("file_chunk: \"index\" is the chunk's number, an integer from 0");
    int g = upload_get(x->svc, id, x->s->account_id, &u);
    if (g != 0) {
        free(u.have);
        return g > 0 ? upload_not_found(id) : unavailable("the store cannot be read: retry");
    }
    json_t *out = NULL;
    if (u.complete) {
        out = refused("file_chunk: the upload %s is complete already", u.id);
    } else if (index < 0 || index >= u.chunks) {
        out = refused("file_chunk: chunk %lld is past the end: the file has %lld chunk%s (0 to %lld)",
                      (long long)(index < 0 ? json_integer_value(json_object_get(p, "index")) : index),
                      (long long)u.chunks, u.chunks == 1 ? "" : "s", (long long)u.chunks - 1);
    } else if (!json_is_string(jdata) ||
               json_string_length(jdata) > ((size_t)u.chunk_size / 3 + 1) * 4 + 4 ||
               b64url_decode(json_string_value(jdata), json_string_length(jdata), B64_NO_PAD, &data, &len) != 0) {
        out = refused("file_chunk: \"data\" is the chunk in base64url without padding, at most chunk_size "
                      "(%lld) bytes",
                      (long long)u.chunk_size);
    } else if ((int64_t)len != chunk_len(&u, index)) {
        out = refused("file_chunk: chunk %lld is %zu bytes; it must be exactly %lld (chunk_size %lld, size %lld)",
                      (long long)index, len, (long long)chunk_len(&u, index), (long long)u.chunk_size,
                      (long long)u.size);
    } else if (file_path(x->svc, u.id, 1, path, sizeof path) != 0) {
        out = unavailable("the files folder is not usable: see the server's log");
    } else {
        /* O_NOFOLLOW: a link planted under the id is refused, not written through */
        int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || full_pwrite(fd, data, len, (off_t)(index * u.chunk_size)) != 0) {
            warning("upload %s: cannot write chunk %lld: %s", u.id, (long long)index, strerror(errno));
            out = unavailable("the chunk could not be written: send it again");
        }
        if (fd >= 0)
            close(fd);
        if (!out) {
            bit_job b = {u.id, index, 0};
            int rc = store_write(x->svc->st, bit_fn, &b);
            if (rc != 0) {
                out = unavailable("the chunk was written but not recorded: send it again");
            } else {
                upload v;
                int64_t received = upload_get(x->svc, u.id, x->s->account_id, &v) == 0 ? v.received : -1;
                free(v.have);
                note("upload %s: chunk %lld of %lld from '%s' (%zu bytes), %lld received", u.id,
                     (long long)index + 1, (long long)u.chunks, x->s->user, len, (long long)received);
                out = json_pack("{s:s, s:I, s:I, s:I}", "status", "ok", "index", (json_int_t)index, "received",
                                (json_int_t)received, "chunks", (json_int_t)u.chunks);
            }
        }
    }
    free(data);
    free(u.have);
    return out;
}

/* ---- file_status, file_end ---------------------------------------------------------------------------- */

static json_t *op_file_status(const op_ctx *x, const json_t *p)
{
    static const char *const allowed[] = {"file_id", NULL};
    char why[128];
    upload u;
    if (members_ok(p, allowed, why, sizeof why) != 0)
        return refused("file_status: %s (it has file_id)", why);
    const char *id = json_get_str(p, "file_id");
    int g = upload_get(x->svc, id, x->s->account_id, &u);
    json_t *out = g == 0 ? upload_answer(&u) : g > 0 ? upload_not_found(id) : unavailable("retry");
    free(u.have);
    return out;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    return rc;
}

static json_t *op_file_end(const op_ctx *x, const json_t *p)
{
    static const char *const allowed[] = {"file_id", NULL};
    char why[128], part[700], final[700], dir[600];
    upload u;
    if (members_ok(p, allowed, why, sizeof why) != 0)
        return refused("file_end: %s (it has file_id)", why);
    const char *id = json_get_str(p, "file_id");
    int g = upload_get(x->svc, id, x->s->account_id, &u);
    if (g != 0) {
        free(u.have);
        return g > 0 ? upload_not_found(id) : unavailable("retry");
    }
    json_t *out = NULL;
    if (u.complete) {
        out = upload_answer(&u);
        goto done;
    }
    if (u.received < u.chunks) {
        int64_t first = 0;
        while (first < u.chunks && (u.have[first / 8] >> (first % 8)) & 1)
            first++;
        out = refused("file_end: %lld of %lld chunks are missing (the first: %lld); file_status lists what "
                      "the server has",
                      (long long)(u.chunks - u.received), (long long)u.chunks, (long long)first);
        goto done;
    }
    if (file_path(x->svc, u.id, 1, part, sizeof part) != 0 || file_path(x->svc, u.id, 0, final, sizeof final) ||
        files_dir(x->svc, dir, sizeof dir) != 0) {
        out = unavailable("the files folder is not usable: see the server's log");
        goto done;
    }
    struct stat st;
    /* a file_end whose rename was done but whose row was not marked (the store failed then): the bytes were
     * checked before the rename, only the mark is missing */
    if (lstat(final, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == (off_t)u.size && lstat(part, &st) != 0)
        goto mark;
    int fd = open(part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600); /* O_CREAT: an empty file */
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != (off_t)u.size) {
        if (fd >= 0)
            close(fd);
        out = unavailable("the upload's bytes on disk are not all there: file_status, and send the chunks again");
        goto done;
    }
    /* the SHA-256 the device signed in file_begin, over the bytes as they are on disk */
    uint8_t buf[65536], md[32];
    unsigned mdl = 0;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;
    for (off_t off = 0; ok && off < (off_t)u.size;) {
        ssize_t r = pread(fd, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            ok = 0;
        else
            ok = EVP_DigestUpdate(h, buf, (size_t)r) == 1, off += r;
    }
    ok = ok && EVP_DigestFinal_ex(h, md, &mdl) == 1 && mdl == 32;
    EVP_MD_CTX_free(h);
    if (!ok) {
        close(fd);
        out = unavailable("the upload could not be read back: retry file_end");
        goto done;
    }
    if (CRYPTO_memcmp(md, u.sha, 32) != 0) {
        close(fd);
        char *got = hex_encode(md, 32), *want = hex_encode(u.sha, 32);
        bit_job b = {u.id, -1, 0};
        int forgot = store_write(x->svc->st, bit_fn, &b) == 0;
        warning("upload %s: SHA-256 %s, file_begin signed %s: refused", u.id, got ? got : "?", want ? want : "?");
        out = refused("file_end: the SHA-256 of the %lld bytes received is %s, but file_begin signed %s: not "
                      "kept; %s",
                      (long long)u.size, got ? got : "?", want ? want : "?",
                      forgot ? "every chunk is forgotten, send them again (or begin a new upload)"
                             : "send the chunks again");
        free(got);
        free(want);
        goto done;
    }
    /* durable before it is named, named before it is acknowledged */
    if (fsync(fd) != 0 || close(fd) != 0 || rename(part, final) != 0 || fsync_dir(dir) != 0) {
        warning("upload %s: cannot make it durable: %s", u.id, strerror(errno));
        out = unavailable("the file could not be made durable: retry file_end");
        goto done;
    }
mark:;
    bit_job b = {u.id, 0, 1};
    if (store_write(x->svc->st, bit_fn, &b) != 0) {
        out = unavailable("the file is on disk but not marked complete: retry file_end");
        goto done;
    }
    u.complete = 1;
    note("upload %s complete: %lld bytes, SHA-256 as signed, fsynced, renamed to files/%s", u.id,
         (long long)u.size, u.id);
    out = upload_answer(&u);
done:
    free(u.have);
    return out;
}

/* ---- file_drop: the owner gives an upload up (a hash that never matched, a file not sent after all) ----- */

typedef struct drop_job {
    const char *id;
    int64_t me;
    int64_t sent_as; /* an items row that names it: then it stays */
    int dropped;
} drop_job;

static int drop_fn(sqlite3 *db, void *arg)
{
    drop_job *j = arg;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT min(id) FROM items WHERE file_id = ?1", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(s, 1, j->id, -1, SQLITE_STATIC);
    j->sent_as = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (j->sent_as)
        return SQLITE_OK;
    if ((rc = sqlite3_prepare_v2(db, "DELETE FROM files WHERE id = ?1 AND owner_id = ?2", -1, &s, NULL)) !=
        SQLITE_OK)
        return rc;
    sqlite3_bind_text(s, 1, j->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, j->me);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    j->dropped = sqlite3_changes(db) > 0;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static json_t *op_file_drop(const op_ctx *x, const json_t *p)
{
    static const char *const allowed[] = {"file_id", NULL};
    char why[128], part[700], final[700];
    upload u;
    if (members_ok(p, allowed, why, sizeof why) != 0)
        return refused("file_drop: %s (it has file_id)", why);
    const char *id = json_get_str(p, "file_id");
    int g = upload_get(x->svc, id, x->s->account_id, &u);
    free(u.have);
    if (g != 0)
        return g > 0 ? upload_not_found(id) : unavailable("retry");
    drop_job j = {u.id, x->s->account_id, 0, 0};
    if (store_write(x->svc->st, drop_fn, &j) != 0)
        return unavailable("not dropped, retry");
    if (j.sent_as) /* the recipient's item needs the bytes */
        return refused("file_drop: the upload %s was sent as item %lld: it stays", u.id, (long long)j.sent_as);
    if (!j.dropped)
        return upload_not_found(id);
    /* the row went first: a crash now leaves a file nobody names, never a row without its file */
    if (file_path(x->svc, u.id, 1, part, sizeof part) == 0)
        unlink(part);
    if (file_path(x->svc, u.id, 0, final, sizeof final) == 0)
        unlink(final);
    note("upload %s dropped by '%s'", u.id, x->s->user);
    return json_pack("{s:s, s:s}", "status", "ok", "dropped", u.id);
}

/* ---- the recipient's side: items, item_get, item_done ---------------------------------------------------- */

static json_t *item_json(sqlite3_stmt *s)
{
    /* i.id, a.username, i.type, i.value, i.sent_at, i.fetched_at, f.name, f.ext, f.size, f.sha256,
     * f.chunk_size, f.chunks */
    const char *type = (const char *)sqlite3_column_text(s, 2);
    const uint8_t *v = sqlite3_column_blob(s, 3);
    size_t n = (size_t)sqlite3_column_bytes(s, 3);
    json_t *o = json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)sqlite3_column_int64(s, 0), "from",
                          (const char *)sqlite3_column_text(s, 1), "type", type, "sent_at",
                          (json_int_t)sqlite3_column_int64(s, 4));
    if (!o)
        return NULL;
    if (sqlite3_column_type(s, 5) != SQLITE_NULL)
        json_object_set_new(o, "fetched_at", json_integer((json_int_t)sqlite3_column_int64(s, 5)));
    if (!strcmp(type, "bytes")) {
        char *b = b64url_encode(v ? v : (const uint8_t *)"", n, B64_NO_PAD);
        json_object_set_new(o, "data", b ? json_string(b) : json_null());
        free(b);
    } else if (!strcmp(type, "text")) {
        json_object_set_new(o, "text", json_stringn(v ? (const char *)v : "", n));
    } else if (!strcmp(type, "object") || !strcmp(type, "list")) {
        /* stored as the JSON text json_parse accepted; read back by it alone */
        json_t *val = json_parse(v ? (const char *)v : "", n, ITEM_JSON_DEPTH, NULL, 0);
        json_object_set_new(o, "value", val ? val : json_null());
    } else if (!strcmp(type, "file")) {
        char *sha = sqlite3_column_bytes(s, 9) == 32 ? hex_encode(sqlite3_column_blob(s, 9), 32) : NULL;
        json_object_set_new(o, "file",
                            json_pack("{s:s?, s:s?, s:I, s:s?, s:I, s:I}", "name",
                                      (const char *)sqlite3_column_text(s, 6), "ext",
                                      (const char *)sqlite3_column_text(s, 7), "size",
                                      (json_int_t)sqlite3_column_int64(s, 8), "sha256", sha, "chunk_size",
                                      (json_int_t)sqlite3_column_int64(s, 10), "chunks",
                                      (json_int_t)sqlite3_column_int64(s, 11)));
        free(sha);
    }
    return o;
}

static json_t *op_items(const op_ctx *x, const json_t *p)
{
    static const char *const allowed[] = {"all", NULL};
    char why[128];
    if (members_ok(p, allowed, why, sizeof why) != 0)
        return refused("items: %s (it has \"all\", optional)", why);
    int all = json_is_true(json_object_get(p, "all"));
    sqlite3 *db = store_reader(x->svc->st);
    sqlite3_stmt *s = NULL;
    if (!db || sqlite3_prepare_v2(db,
                                  "SELECT i.id, a.username, i.type, i.value, i.sent_at, i.fetched_at, f.name, "
                                  "f.ext, f.size, f.sha256, f.chunk_size, f.chunks "
                                  "FROM items i JOIN accounts a ON a.id = i.sender_id "
                                  "LEFT JOIN files f ON f.id = i.file_id "
                                  "WHERE i.recipient_id = ?1 AND (?2 OR i.fetched_at IS NULL) "
                                  "ORDER BY i.id LIMIT ?3",
                                  -1, &s, NULL) != SQLITE_OK)
        return unavailable("the store cannot be read: retry");
    sqlite3_bind_int64(s, 1, x->s->account_id);
    sqlite3_bind_int(s, 2, all);
    sqlite3_bind_int(s, 3, ITEMS_LIST_MAX + 1);
    json_t *list = json_array();
    size_t bytes = 0;
    int more = 0, st;
    while (list && (st = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *o = item_json(s);
        /* one envelope holds the answer: stop before the items' JSON would overflow it (measured as it
         * will be sent: a text of control characters is six times its length once escaped) */
        size_t n = o ? json_dumpb(o, NULL, 0, JSON_COMPACT) : 0;
        if (json_array_size(list) >= ITEMS_LIST_MAX || (json_array_size(list) && bytes + n > ITEMS_LIST_BYTES)) {
            json_decref(o);
            more = 1;
            break;
        }
        bytes += n;
        if (o)
            json_array_append_new(list, o);
    }
    sqlite3_finalize(s);
    if (!list)
        return unavailable("out of memory");
    return json_pack("{s:s, s:o, s:b}", "status", "ok", "items", list, "more", more);
}

/* the recipient's file item: 0 found (complete file), 1 not found (for anyone else, the same) */
static int file_item(service *svc, int64_t item_id, int64_t me, upload *u)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *s = NULL;
    int rc = 1;
    memset(u, 0, sizeof *u);
    if (!db || sqlite3_prepare_v2(db,
                                  "SELECT f.id, f.size, f.chunk_size, f.chunks FROM items i JOIN files f "
                                  "ON f.id = i.file_id WHERE i.id = ?1 AND i.recipient_id = ?2 AND f.complete = 1",
                                  -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, item_id);
    sqlite3_bind_int64(s, 2, me);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
        snprintf(u->id, sizeof u->id, "%s", (const char *)sqlite3_column_text(s, 0));
        u->size = sqlite3_column_int64(s, 1);
        u->chunk_size = sqlite3_column_int64(s, 2);
        u->chunks = sqlite3_column_int64(s, 3);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static json_t *op_item_get(const op_ctx *x, const json_t *p)
{
    static const char *const allowed[] = {"id", "index", NULL};
    char why[128], path[700];
    upload u;
    if (members_ok(p, allowed, why, sizeof why) != 0)
        return refused("item_get: %s (it has id and index)", why);
    int64_t id = get_uint(p, "id"), index = get_uint(p, "index");
    int g = id < 0 ? 1 : file_item(x->svc, id, x->s->account_id, &u);
    if (g != 0)
        return g > 0 ? refused("not found: no file item %lld for you", (long long)id) : unavailable("retry");
    if (index < 0 || index >= u.chunks)
        return refused("item_get: chunk %lld is past the end: the file has %lld chunks", (long long)index,
                       (long long)u.chunks);
    if (file_path(x->svc, u.id, 0, path, sizeof path) != 0)
        return unavailable("the files folder is not usable: see the server's log");
    size_t n = (size_t)chunk_len(&u, index);
    uint8_t *buf = malloc(n ? n : 1);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    size_t got = 0;
    while (buf && fd >= 0 && got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(index * u.chunk_size) + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    json_t *out;
    char *b = buf && got == n ? b64url_encode(buf, n, B64_NO_PAD) : NULL;
    if (!b) {
        warning("item %lld: cannot read chunk %lld of files/%s", (long long)id, (long long)index, u.id);
        out = unavailable("the file could not be read: retry");
    } else {
        out = json_pack("{s:s, s:I, s:I, s:s}", "status", "ok", "id", (json_int_t)id, "index", (json_int_t)index,
                        "data", b);
    }
    free(b);
    free(buf);
    return out;
}

typedef struct done_job {
    int64_t id, me;
    int found;
} done_job;

static int done_fn(sqlite3 *db, void *arg)
{
    done_job *j = arg;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE items SET fetched_at = coalesce(fetched_at, ?3) "
                                "WHERE id = ?1 AND recipient_id = ?2",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(s, 1, j->id);
    sqlite3_bind_int64(s, 2, j->me);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    j->found = sqlite3_changes(db) > 0;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static json_t *op_item_done(const op_ctx *x, const json_t *p)
{
    static const char *const allowed[] = {"id", NULL};
    char why[128];
    if (members_ok(p, allowed, why, sizeof why) != 0)
        return refused("item_done: %s (it has id)", why);
    done_job j = {get_uint(p, "id"), x->s->account_id, 0};
    if (j.id < 0)
        return refused("item_done: \"id\" is an item's number, from items");
    if (store_write(x->svc->st, done_fn, &j) != 0)
        return unavailable("not stored, retry");
    if (!j.found)
        return refused("not found: no item %lld for you", (long long)j.id);
    note("item %lld fetched by '%s'", (long long)j.id, x->s->user);
    return json_pack("{s:s, s:I}", "status", "ok", "id", (json_int_t)j.id);
}

/* ---- the dispatch ------------------------------------------------------------------------------------ */

json_t *transfer_op(const op_ctx *x)
{
    static const struct {
        const char *name;
        json_t *(*fn)(const op_ctx *, const json_t *);
    } ops[] = {
        {"send", op_send},           {"file_begin", op_file_begin}, {"file_chunk", op_file_chunk},
        {"file_status", op_file_status}, {"file_end", op_file_end}, {"items", op_items},
        {"file_drop", op_file_drop}, {"item_get", op_item_get}, {"item_done", op_item_done},
    };
    size_t i = 0;
    while (i < sizeof ops / sizeof ops[0] && strcmp(ops[i].name, x->op->op) != 0)
        i++;
    if (i == sizeof ops / sizeof ops[0])
        return NULL;
    char err[160];
    /* the payload is JSON text, read by json_parse (depth-capped, duplicates refused) and nothing else: a
     * pickle, or anything that is not JSON, stops here with the parser's words */
    json_t *p = json_parse((const char *)x->op->payload, x->op->payload_len, PAYLOAD_DEPTH, err, sizeof err);
    if (!p) {
        warning("%s from '%s' refused: not JSON: %s", x->op->op, x->s->user, err);
        return refused("%s: the payload is not JSON: %s (nothing stored; no other format is ever decoded)",
                       x->op->op, err);
    }
    json_t *out = json_is_object(p) ? ops[i].fn(x, p) : refused("%s: the payload must be a JSON object", x->op->op);
    json_decref(p);
    return out ? out : unavailable("out of memory");
}

void transfer_counters(service *svc, int64_t account_id, json_t *counters)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *s = NULL;
    json_int_t n = 0;
    if (db && sqlite3_prepare_v2(db, "SELECT count(*) FROM items WHERE recipient_id = ?1 AND fetched_at IS NULL",
                                 -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, account_id);
        if (sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    json_object_set_new(counters, "items", json_integer(n));
}
