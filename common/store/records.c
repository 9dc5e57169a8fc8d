/* SPDX-License-Identifier: MIT */
/*
 * records.c - R1's records table, done right: a signed record's JSON is checked against the table's real
 * columns and stored with bound values, or quarantined with a reason the sender can act on.
 *
 * R1 built its INSERT by pasting the JSON's keys into SQL text, so a key was an injection. Here a key is only
 * ever compared (strcmp) with the names pragma_table_xinfo('records') gives; the SQL is made from those schema
 * names alone, and every value is bound. The column list is read again whenever PRAGMA schema_version moves,
 * so `ALTER TABLE records ADD COLUMN Shoe INTEGER` in the sqlite3 shell is taken by the next record.
 * Everything here runs on the writer thread (inside a store_write job), except the parsing of the payload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/encoding.h"
#include "core/json.h"
#include "store/store_internal.h"

#define RECORD_JSON_DEPTH 8 /* a record is flat: fields are scalars */

int store_valid_name(const char *s)
{
    size_t i = 0;
    if (!s || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (i = 1; s[i]; i++) {
        char c = s[i];
        if (i >= STORE_NAME_MAX)
            return 0;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

int store_records_insert_sql(const char *const *names, size_t n, char *out, size_t out_len)
{
    size_t off = 0;
    int w;
    if (!out || out_len == 0 || n > STORE_FIELDS_MAX)
        return -1;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        w = snprintf(out + off, out_len - off, __VA_ARGS__);                                       \
        if (w < 0 || (size_t)w >= out_len - off)                                                   \
            return -1;                                                                             \
        off += (size_t)w;                                                                          \
    } while (0)
    PUT("INSERT INTO records(\"receipt_id\"");
    for (size_t i = 0; i < n; i++) {
        /* the only names that ever reach SQL text: the schema's, and only when they are plain words,
         * so the double quotes around them can never be closed from inside */
        if (!store_valid_name(names[i]))
            return -1;
        PUT(",\"%s\"", names[i]);
    }
    PUT(") VALUES(?1");
    for (size_t i = 0; i < n; i++)
        PUT(",?%zu", i + 2);
    PUT(")");
#undef PUT
    return 0;
}

/* ---- the table as it is now ------------------------------------------------------------------------ */

/* A name from the client, for a reason: printable ASCII as it is, anything else (and the quote) as \xNN,
 * cut after 48 bytes, so a reason is always one safe line. */
static void put_name(char *out, size_t len, const char *s)
{
    size_t o = 0, i;
    for (i = 0; s[i] && i < 48 && o + 5 < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, len - o, "\\x%02x", c);
    }
    if (s[i] && o + 4 < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* Whatever went into a reason (jansson quotes the bytes near a syntax error; SQLite quotes the schema), it
 * leaves as one line of printable ASCII: a reason is shown to the client and to the administrator. */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

static int col_type_of(const char *t, col_type *out)
{
    static const struct { const char *n; col_type t; } types[] = {
        {"INT", COL_INTEGER}, {"INTEGER", COL_INTEGER}, {"REAL", COL_REAL},
        {"TEXT", COL_TEXT},   {"BLOB", COL_BLOB},       {"ANY", COL_ANY},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (t && strcasecmp(t, types[i].n) == 0) {
            *out = types[i].t;
            return 0;
        }
    return -1;
}

/* Read records' columns into cols. 0, or -1 with problem: not STRICT, a bad name, too many, a type a STRICT
 * table cannot have. */
static int load_cols(sqlite3 *db, store_col *cols, size_t *ncols, char *problem, size_t plen)
{
    sqlite3_stmt *s = NULL;
    int strict = -1, rc = -1, step;
    size_t n = 0;

    if (sqlite3_prepare_v2(db, "SELECT strict FROM pragma_table_list WHERE schema='main' AND name='records'",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(problem, plen, "cannot read the table list: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_step(s) == SQLITE_ROW)
        strict = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (strict < 0) {
        snprintf(problem, plen, "there is no table 'records'");
        return -1;
    }
    /* without STRICT, SQLite stores 'abc' in an INTEGER column: the engine would no longer back the checks */
    if (strict != 1) {
        snprintf(problem, plen, "table 'records' is not STRICT; recreate it with STRICT");
        return -1;
    }
    if (sqlite3_prepare_v2(db, "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, hidden"
                               " FROM pragma_table_xinfo('records')", -1, &s, NULL) != SQLITE_OK) {
        snprintf(problem, plen, "cannot read the columns of 'records': %s", sqlite3_errmsg(db));
        return -1;
    }
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        const char *type = (const char *)sqlite3_column_text(s, 1);
        char shown[200];
        if (!name) {
            snprintf(problem, plen, "a column of 'records' has no name");
            goto end;
        }
        if (!store_valid_name(name)) {
            put_name(shown, sizeof shown, name);
            snprintf(problem, plen, "column '%.160s' of 'records' is not a plain name ([A-Za-z_][A-Za-z0-9_]{0,63})",
                     shown);
            goto end;
        }
        /* hidden 1 is a virtual table's, 2 and 3 are generated columns: never insertable */
        if (sqlite3_column_int(s, 4) != 0 || strcmp(name, "receipt_id") == 0)
            continue;
        if (n == STORE_FIELDS_MAX) {
            snprintf(problem, plen, "'records' has more than %d fields", STORE_FIELDS_MAX);
            goto end;
        }
        if (col_type_of(type, &cols[n].type) != 0) {
            snprintf(problem, plen, "column '%s' of 'records' has type '%s'", name, type ? type : "");
            goto end;
        }
        memcpy(cols[n].name, name, strlen(name) + 1);
        cols[n].required = sqlite3_column_int(s, 2) != 0 && sqlite3_column_int(s, 3) == 0;
        n++;
    }
    if (step != SQLITE_DONE) {
        snprintf(problem, plen, "cannot read the columns of 'records': %s", sqlite3_errmsg(db));
        goto end;
    }
    *ncols = n;
    rc = 0;
end:
    sqlite3_finalize(s);
    return rc;
}

int store_records_check_schema(sqlite3 *db, char *err, size_t err_len)
{
    store_col cols[STORE_FIELDS_MAX];
    size_t n;
    char problem[256];
    if (load_cols(db, cols, &n, problem, sizeof problem) != 0) {
        snprintf(err, err_len, "%s", problem);
        return -1;
    }
    return 0;
}

void store_records_reset(store *st)
{
    for (size_t i = 0; i < st->nstmts; i++)
        sqlite3_finalize(st->stmts[i].stmt);
    st->nstmts = st->stmt_next = 0;
    st->cols_valid = 0;
}

/* A statement the writer runs for every record, prepared once and kept until store_close: preparing costs
 * more than most of these statements take to run. After use it is reset and its bindings cleared, so no
 * pointer into a finished job stays bound. */
static sqlite3_stmt *kept(sqlite3 *db, sqlite3_stmt **slot, const char *sql)
{
    if (!*slot && sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
        sqlite3_finalize(*slot);
        *slot = NULL;
    }
    return *slot;
}

static void done_with(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

void store_records_close(store *st)
{
    store_records_reset(st);
    sqlite3_finalize(st->receipt_stmt);
    sqlite3_finalize(st->version_stmt);
    st->receipt_stmt = st->version_stmt = NULL;
}

static int schema_version(store *st, sqlite3 *db)
{
    sqlite3_stmt *s = kept(db, &st->version_stmt, "PRAGMA schema_version");
    int v = -1;
    if (s && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    if (s)
        done_with(s);
    return v;
}

/* The column list, read again when someone changed the schema: every cached INSERT goes with the old list
 * (one naming a dropped column would fail; one missing a new column would refuse it). */
static void refresh_cols(store *st, sqlite3 *db)
{
    int v = schema_version(st, db);
    if (st->cols_valid && v == st->schema_version)
        return;
    store_records_reset(st);
    st->cols_problem[0] = '\0';
    if (load_cols(db, st->cols, &st->ncols, st->cols_problem, sizeof st->cols_problem) != 0)
        st->ncols = 0;
    st->schema_version = v;
    st->cols_valid = 1;
}

/* ---- validation ------------------------------------------------------------------------------------ */

static void accepted_list(const store *st, char *out, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < st->ncols && o < len; i++) {
        int w = snprintf(out + o, len - o, "%s%s", i ? ", " : "", st->cols[i].name);
        if (w < 0 || (size_t)w >= len - o) {
            if (len > 4)
                memcpy(out + len - 4, "...", 4);
            return;
        }
        o += (size_t)w;
    }
}

static const char *type_words(col_type t)
{
    switch (t) {
    case COL_INTEGER: return "an integer";
    case COL_REAL: return "a number";
    case COL_TEXT: return "a string";
    case COL_BLOB: return "a base64url string";
    default: return "a string, a number, true, false or null";
    }
}

/* The values to bind, one per column; blobs are decoded here and freed by values_free. */
typedef struct values {
    uint64_t mask;
    json_t *v[STORE_FIELDS_MAX];
    uint8_t *blob[STORE_FIELDS_MAX];
    size_t blob_len[STORE_FIELDS_MAX];
} values;

static void values_free(values *vs)
{
    for (size_t i = 0; i < STORE_FIELDS_MAX; i++)
        free(vs->blob[i]);
}

static int find_col(const store *st, const char *key)
{
    for (size_t i = 0; i < st->ncols; i++)
        if (strcmp(st->cols[i].name, key) == 0) /* exact: a key is never anything but compared */
            return (int)i;
    return -1;
}

static int find_col_nocase(const store *st, const char *key)
{
    for (size_t i = 0; i < st->ncols; i++)
        if (strcasecmp(st->cols[i].name, key) == 0)
            return (int)i;
    return -1;
}

/* 0 and vs filled, or -1 with the reason */
static int validate(const store *st, json_t *obj, values *vs, char *reason, size_t rlen)
{
    const char *key;
    json_t *val;
    char shown[200], acc[320];

    memset(vs, 0, sizeof *vs);
    if (!json_is_object(obj)) {
        snprintf(reason, rlen, "not a JSON object: a record is {\"Field\": value, ...}");
        return -1;
    }
    json_object_foreach(obj, key, val) {
        int c = find_col(st, key);
        if (c < 0) {
            /* SQLite names are case-insensitive: 'age' and 'Age' would be one column to it, two keys to us */
            int ci = find_col_nocase(st, key);
            put_name(shown, sizeof shown, key);
            if (ci >= 0 && json_object_get(obj, st->cols[ci].name))
                snprintf(reason, rlen, "fields '%s' and '%s' differ only in case", shown, st->cols[ci].name);
            else if (ci >= 0)
                snprintf(reason, rlen, "unknown field '%s' (names are exact: did you mean '%s'?)", shown,
                         st->cols[ci].name);
            else {
                accepted_list(st, acc, sizeof acc);
                snprintf(reason, rlen, "unknown field '%s' (accepted: %s)", shown, acc);
            }
            return -1;
        }
        vs->mask |= (uint64_t)1 << c;
        vs->v[c] = val;
    }
    for (size_t i = 0; i < st->ncols; i++) {
        const store_col *c = &st->cols[i];
        json_t *v = vs->v[i];
        int ok;
        if (!(vs->mask & ((uint64_t)1 << i))) {
            if (c->required) {
                snprintf(reason, rlen, "missing field '%s'", c->name);
                return -1;
            }
            continue;
        }
        if (json_is_null(v)) {
            if (c->required) {
                snprintf(reason, rlen, "field '%s' must not be null", c->name);
                return -1;
            }
            continue;
        }
        switch (c->type) {
        case COL_INTEGER: ok = json_is_integer(v) || json_is_boolean(v); break;
        case COL_REAL: ok = json_is_number(v); break;
        case COL_TEXT: ok = json_is_string(v); break;
        case COL_BLOB: ok = json_is_string(v); break;
        default: ok = json_is_string(v) || json_is_number(v) || json_is_boolean(v); break;
        }
        if (!ok) {
            snprintf(reason, rlen, "field '%s' must be %s%s", c->name, type_words(c->type),
                     json_is_object(v) || json_is_array(v) ? ", not an object or an array" : "");
            return -1;
        }
        /* a string holds no NUL: json_parse (jansson without JSON_ALLOW_NUL) refuses \u0000, so the
         * length below is the whole string and a TEXT value is never cut at a NUL */
        if (json_is_string(v)) {
            size_t n = json_string_length(v);
            if (n > STORE_TEXT_MAX) {
                snprintf(reason, rlen, "field '%s' is %zu bytes; at most %u", c->name, n, STORE_TEXT_MAX);
                return -1;
            }
            if (c->type == COL_BLOB &&
                b64url_decode(json_string_value(v), n, B64_NO_PAD, &vs->blob[i], &vs->blob_len[i]) != 0) {
                snprintf(reason, rlen, "field '%s' must be base64url without padding", c->name);
                return -1;
            }
        }
    }
    return 0;
}

static int bind_value(sqlite3_stmt *s, int at, const store_col *c, json_t *v, const uint8_t *blob,
                      size_t blob_len)
{
    if (json_is_null(v))
        return sqlite3_bind_null(s, at);
    if (json_is_boolean(v))
        return sqlite3_bind_int(s, at, json_is_true(v));
    if (json_is_integer(v)) {
        if (c->type == COL_REAL)
            return sqlite3_bind_double(s, at, (double)json_integer_value(v));
        return sqlite3_bind_int64(s, at, (sqlite3_int64)json_integer_value(v));
    }
    if (json_is_real(v))
        return sqlite3_bind_double(s, at, json_real_value(v));
    if (c->type == COL_BLOB)
        return sqlite3_bind_blob(s, at, blob ? (const void *)blob : "", (int)blob_len, SQLITE_TRANSIENT);
    return sqlite3_bind_text(s, at, json_string_value(v), (int)json_string_length(v), SQLITE_TRANSIENT);
}

/* the prepared INSERT for this set of present columns, from the cache or made now */
static sqlite3_stmt *insert_stmt(store *st, sqlite3 *db, uint64_t mask)
{
    const char *names[STORE_FIELDS_MAX];
    char sql[STORE_FIELDS_MAX * (STORE_NAME_MAX + 8) + 64];
    size_t n = 0;
    sqlite3_stmt *s = NULL;
    store_stmt *slot;

    for (size_t i = 0; i < st->nstmts; i++)
        if (st->stmts[i].mask == mask)
            return st->stmts[i].stmt;
    for (size_t i = 0; i < st->ncols; i++)
        if (mask & ((uint64_t)1 << i))
            names[n++] = st->cols[i].name;
    if (store_records_insert_sql(names, n, sql, sizeof sql) != 0 ||
        sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return NULL;
    }
    if (st->nstmts < STORE_STMT_CACHE) {
        slot = &st->stmts[st->nstmts++];
    } else { /* full: the oldest goes */
        slot = &st->stmts[st->stmt_next];
        st->stmt_next = (st->stmt_next + 1) % STORE_STMT_CACHE;
        sqlite3_finalize(slot->stmt);
    }
    slot->mask = mask;
    slot->stmt = s;
    return s;
}

/* ---- the job --------------------------------------------------------------------------------------- */

typedef struct put_job {
    store *st;
    const store_receipt *r;
    json_t *obj;             /* NULL: not JSON, parse_reason says why */
    char parse_reason[300];
    uint8_t sha[32];
    int64_t now;
    store_result *res;
    int file_written;
} put_job;

/* SQLite's own verdict on a record (CHECK, STRICT, NOT NULL...) is the sender's problem; anything else
 * (disk full, I/O, out of memory) is ours */
static int record_problem(int rc)
{
    int p = rc & 0xff;
    return p == SQLITE_CONSTRAINT || p == SQLITE_MISMATCH || p == SQLITE_TOOBIG;
}

static void storage_failed(put_job *j, sqlite3 *db, const char *what)
{
    j->res->outcome = STORE_UNAVAILABLE;
    snprintf(j->res->reason, sizeof j->res->reason, "not stored, retry: %s: %s", what, sqlite3_errmsg(db));
}

static int exec_sp(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* INSERT the receipt; 1 and *id when inserted, 0 when (device, msg_id) was there, -1 on error */
static int insert_receipt(put_job *j, sqlite3 *db, const char *status, sqlite3_int64 *id)
{
    const store_receipt *r = j->r;
    sqlite3_stmt *s = kept(db, &j->st->receipt_stmt,
                           "INSERT INTO receipts(device_serial, msg_id, op, payload, payload_sha256, created,"
                           " signature, received_at, session, seq, status)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                           " ON CONFLICT(device_serial, msg_id) DO NOTHING RETURNING id");
    int rc;
    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, r->device_serial, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, r->msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->op, -1, SQLITE_STATIC);
    /* a quarantined record's text lives only in its encrypted file: the
     * receipt keeps its hash and signature (what proves it arrived), never
     * the plaintext the quarantine was made to protect */
    int keep = strcmp(status, "stored") == 0;
    sqlite3_bind_blob(s, 4, keep && r->payload_len ? (const void *)r->payload : "",
                      keep ? (int)r->payload_len : 0, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, j->sha, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, r->created_ms);
    sqlite3_bind_blob(s, 7, r->sig, (int)r->sig_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, j->now);
    sqlite3_bind_text(s, 9, r->session, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 10, (sqlite3_int64)r->seq);
    sqlite3_bind_text(s, 11, status, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        rc = sqlite3_step(s) == SQLITE_DONE ? 1 : -1;
    } else {
        rc = rc == SQLITE_DONE ? 0 : -1;
    }
    done_with(s);
    return rc;
}

/* (device, msg_id) is taken: the same payload again is a resend, another one a conflict */
static int answer_existing(put_job *j, sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    store_result *res = j->res;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT r.id, r.payload_sha256, r.status, q.id, q.reason FROM receipts r"
                               " LEFT JOIN quarantine q ON q.receipt_id = r.id"
                               " WHERE r.device_serial = ?1 AND r.msg_id = ?2", -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, j->r->device_serial, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, j->r->msg_id, 16, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        const void *h = sqlite3_column_blob(s, 1);
        int same = sqlite3_column_bytes(s, 1) == 32 && h && CRYPTO_memcmp(h, j->sha, 32) == 0;
        const char *status = (const char *)sqlite3_column_text(s, 2);
        res->record_id = sqlite3_column_int64(s, 0);
        if (!same) {
            res->outcome = STORE_CONFLICT;
            snprintf(res->reason, sizeof res->reason,
                     "this message id was already used for another payload (receipt %lld)",
                     (long long)res->record_id);
        } else if (status && strcmp(status, "quarantined") == 0) {
            const char *qid = (const char *)sqlite3_column_text(s, 3);
            const char *qr = (const char *)sqlite3_column_text(s, 4);
            res->outcome = STORE_QUARANTINED;
            snprintf(res->quarantine_id, sizeof res->quarantine_id, "%s", qid ? qid : "");
            snprintf(res->reason, sizeof res->reason, "already quarantined: %s",
                     qr ? qr : "(since dropped by the administrator)");
        } else {
            res->outcome = STORE_DUPLICATE;
            snprintf(res->reason, sizeof res->reason, "already stored as record %lld",
                     (long long)res->record_id);
        }
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static int insert_record(store *st, sqlite3 *db, sqlite3_int64 id, values *vs)
{
    sqlite3_stmt *s = insert_stmt(st, db, vs->mask);
    int at = 2, rc;
    if (!s)
        return SQLITE_ERROR;
    sqlite3_bind_int64(s, 1, id);
    for (size_t i = 0; i < st->ncols; i++)
        if (vs->mask & ((uint64_t)1 << i))
            bind_value(s, at++, &st->cols[i], vs->v[i], vs->blob[i], vs->blob_len[i]);
    rc = sqlite3_step(s);
    rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(db); /* before the reset clears it */
    done_with(s);
    return rc;
}

static int put_job_fn(sqlite3 *db, void *arg)
{
    put_job *j = arg;
    store *st = j->st;
    store_result *res = j->res;
    char reason[sizeof res->reason];
    values vs;
    sqlite3_int64 id = 0;
    int rc, valid;
    char err[256];

    memset(&vs, 0, sizeof vs);
    reason[0] = '\0';
    refresh_cols(st, db);
    if (!j->obj)
        snprintf(reason, sizeof reason, "%s", j->parse_reason);
    else if (st->cols_problem[0])
        snprintf(reason, sizeof reason, "the records table cannot take records now: %s", st->cols_problem);
    else
        validate(st, j->obj, &vs, reason, sizeof reason);
    printable(reason);
    valid = reason[0] == '\0';

    if (exec_sp(db, "SAVEPOINT rec") != 0) {
        storage_failed(j, db, "savepoint");
        values_free(&vs);
        return 1;
    }
    rc = insert_receipt(j, db, valid ? "stored" : "quarantined", &id);
    if (rc == 1 && valid) {
        int r2 = insert_record(st, db, id, &vs);
        if (r2 == SQLITE_OK) {
            res->outcome = STORE_STORED;
            res->record_id = id;
            snprintf(res->reason, sizeof res->reason, "stored as record %lld", (long long)id);
            values_free(&vs);
            return exec_sp(db, "RELEASE rec") == 0 ? 0 : 1;
        }
        if (!record_problem(r2)) {
            storage_failed(j, db, "storing the record");
            goto undo;
        }
        /* the engine's CHECK or STRICT refused it: the receipt goes back, and comes again as quarantined */
        snprintf(reason, sizeof reason, "the database refused the record: %s", sqlite3_errmsg(db));
        printable(reason);
        if (exec_sp(db, "ROLLBACK TO rec") != 0) {
            storage_failed(j, db, "rollback");
            values_free(&vs);
            return 1;
        }
        rc = insert_receipt(j, db, "quarantined", &id);
    }
    values_free(&vs);
    if (rc < 0) {
        storage_failed(j, db, "storing the receipt");
        goto undo;
    }
    if (rc == 0) {
        exec_sp(db, "RELEASE rec");
        if (answer_existing(j, db) != 0) {
            storage_failed(j, db, "reading the first copy");
            return 1;
        }
        return 0;
    }

    /* quarantine: the file first (fsynced), then its row, both before anyone hears "quarantined" */
    rc = store_q_write(st, j->r, j->now, reason, res->quarantine_id, err, sizeof err);
    if (rc == 1) {
        res->outcome = STORE_QUARANTINE_FULL;
        snprintf(res->reason, sizeof res->reason, "quarantine full for this device; not stored: %s", reason);
        goto undo;
    }
    if (rc != 0) {
        res->outcome = STORE_UNAVAILABLE;
        snprintf(res->reason, sizeof res->reason, "not stored, retry: the quarantine failed: %s", err);
        goto undo;
    }
    j->file_written = 1;
    {
        sqlite3_stmt *s = NULL;
        int ok = sqlite3_prepare_v2(db, "INSERT INTO quarantine(id, receipt_id, device_serial, reason,"
                                        " created_at) VALUES(?1, ?2, ?3, ?4, ?5)", -1, &s, NULL) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_text(s, 1, res->quarantine_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, id);
            sqlite3_bind_text(s, 3, j->r->device_serial, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 5, j->now);
            ok = sqlite3_step(s) == SQLITE_DONE;
        }
        sqlite3_finalize(s);
        if (!ok) {
            storage_failed(j, db, "recording the quarantine");
            goto undo;
        }
    }
    res->outcome = STORE_QUARANTINED;
    res->record_id = id;
    snprintf(res->reason, sizeof res->reason, "%s", reason);
    return exec_sp(db, "RELEASE rec") == 0 ? 0 : 1;
undo:
    if (!sqlite3_get_autocommit(db)) {
        exec_sp(db, "ROLLBACK TO rec");
        exec_sp(db, "RELEASE rec");
    }
    return 1;
}

/* ---- the entry point ------------------------------------------------------------------------------- */

static int valid_serial(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > STORE_SERIAL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int bad_arg(store_result *res, const char *why)
{
    res->outcome = STORE_UNAVAILABLE;
    snprintf(res->reason, sizeof res->reason, "bad receipt: %s", why);
    return -1;
}

const char *store_outcome_str(store_outcome o)
{
    switch (o) {
    case STORE_STORED: return "stored";
    case STORE_DUPLICATE: return "duplicate";
    case STORE_CONFLICT: return "conflict";
    case STORE_QUARANTINED: return "quarantined";
    case STORE_QUARANTINE_FULL: return "quarantine full";
    case STORE_UNAVAILABLE: return "unavailable";
    case STORE_REFUSED: return "refused";
    }
    return "unknown";
}

/* What every receipt must be before the writer sees it (records and ops alike): -1 with res saying which */
static int check_receipt(const store_receipt *r, store_result *res)
{
    if (!valid_serial(r->device_serial))
        return bad_arg(res, "device serial is not lower-case hex of 1 to 64 digits");
    if (!r->msg_id || !r->op || !*r->op || strlen(r->op) > 64 || !r->session || strlen(r->session) > 128)
        return bad_arg(res, "msg_id, op (1-64 bytes) and session (<= 128 bytes) are required");
    if (!r->payload || r->payload_len > STORE_PAYLOAD_MAX)
        return bad_arg(res, "payload missing or over 1 MiB (the server caps bodies before this)");
    if (!r->sig || r->sig_len == 0 || r->sig_len > 1024)
        return bad_arg(res, "signature missing or over 1024 bytes");
    if (r->seq > (uint64_t)INT64_MAX)
        return bad_arg(res, "seq over 2^63-1");
    return 0;
}

int store_put_record(store *st, const store_receipt *r, store_result *res)
{
    put_job j;
    char perr[256], err[256];
    int rc;

    if (!res)
        return -1;
    memset(res, 0, sizeof *res);
    if (!st || !r)
        return bad_arg(res, "no store or no receipt");
    if (check_receipt(r, res) != 0)
        return -1;

    memset(&j, 0, sizeof j);
    j.st = st;
    j.r = r;
    j.res = res;
    j.now = (int64_t)time(NULL);
    if (EVP_Digest(r->payload, r->payload_len, j.sha, NULL, EVP_sha256(), NULL) != 1)
        return bad_arg(res, "SHA-256 failed");
    /* json_parse only: strict, duplicates refused, depth capped. Nothing else ever parses a payload. */
    j.obj = json_parse((const char *)r->payload, r->payload_len, RECORD_JSON_DEPTH, perr, sizeof perr);
    if (!j.obj)
        snprintf(j.parse_reason, sizeof j.parse_reason, "not JSON: %s", perr);

    rc = store_write(st, put_job_fn, &j);
    json_decref(j.obj);
    printable(res->reason);
    if (rc != STORE_ERR_UNAVAILABLE && res->outcome != STORE_UNAVAILABLE)
        return 0;

    /* Not stored. Whatever the job said, a failed COMMIT took it back: the one honest answer is "retry".
     * The signed record is still never dropped: a quarantine file alone (no row) keeps it. */
    if (rc == STORE_ERR_UNAVAILABLE) {
        store_outcome was = res->outcome;
        res->outcome = STORE_UNAVAILABLE;
        snprintf(res->reason, sizeof res->reason, "not stored, retry: the database could not commit");
        if (was == STORE_DUPLICATE || was == STORE_CONFLICT || was == STORE_QUARANTINE_FULL)
            return 0; /* nothing of this message was to be written */
    }
    if (!j.file_written) {
        size_t n = strlen(res->reason);
        int q = store_q_write(st, r, j.now, res->reason, res->quarantine_id, err, sizeof err);
        if (q == 1)
            snprintf(res->reason + n, sizeof res->reason - n, " (and the quarantine is full for this device)");
        else if (q != 0)
            snprintf(res->reason + n, sizeof res->reason - n, " (and the quarantine failed: %s)", err);
        printable(res->reason);
    }
    return 0;
}

/* ---- a signed operation that is not a record (messaging, transfer) ---------------------------------- */

typedef struct op_job {
    put_job put; /* the receipt's fields, as a record's */
    store_op_fn fn;
    void *arg;
} op_job;

/* the op a taken (device, msg_id) was used for: a msg_id names one signed operation, not one per op */
static int same_op(sqlite3 *db, const store_receipt *r)
{
    sqlite3_stmt *s = NULL;
    int same = 0;
    if (sqlite3_prepare_v2(db, "SELECT op FROM receipts WHERE device_serial = ?1 AND msg_id = ?2", -1, &s,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, r->device_serial, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, r->msg_id, 16, SQLITE_STATIC);
        same = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) &&
               strcmp((const char *)sqlite3_column_text(s, 0), r->op) == 0;
    }
    sqlite3_finalize(s);
    return same;
}

static int op_job_fn(sqlite3 *db, void *arg)
{
    op_job *o = arg;
    put_job *j = &o->put;
    store_result *res = j->res;
    sqlite3_int64 id = 0;
    char reason[sizeof res->reason] = "";
    int rc;

    if (exec_sp(db, "SAVEPOINT op") != 0) {
        storage_failed(j, db, "savepoint");
        return 1;
    }
    rc = insert_receipt(j, db, "stored", &id);
    if (rc < 0) {
        storage_failed(j, db, "storing the receipt");
        goto undo;
    }
    if (rc == 0) { /* a resend: the first copy's rows stand, fn does not run again */
        exec_sp(db, "RELEASE op");
        if (answer_existing(j, db) != 0) {
            storage_failed(j, db, "reading the first copy");
            return 1;
        }
        if (res->outcome != STORE_CONFLICT && !same_op(db, j->r)) {
            res->outcome = STORE_CONFLICT;
            snprintf(res->reason, sizeof res->reason, "this message id was already used for another operation");
        }
        return 0;
    }
    rc = o->fn(db, id, o->arg, reason, sizeof reason);
    if (rc == STORE_OP_REFUSED) {
        res->outcome = STORE_REFUSED;
        snprintf(res->reason, sizeof res->reason, "%s", reason[0] ? reason : "refused");
        goto undo;
    }
    if (rc != SQLITE_OK) {
        if (record_problem(rc)) { /* a CHECK or STRICT backstop: the sender's problem, said as such */
            res->outcome = STORE_REFUSED;
            snprintf(res->reason, sizeof res->reason, "the database refused it: %s", sqlite3_errmsg(db));
        } else {
            storage_failed(j, db, reason[0] ? reason : "storing the operation");
        }
        goto undo;
    }
    res->outcome = STORE_STORED;
    res->record_id = id;
    snprintf(res->reason, sizeof res->reason, "stored as receipt %lld", (long long)id);
    return exec_sp(db, "RELEASE op") == 0 ? 0 : 1;
undo:
    if (!sqlite3_get_autocommit(db)) {
        exec_sp(db, "ROLLBACK TO op");
        exec_sp(db, "RELEASE op");
    }
    return res->outcome == STORE_REFUSED ? 0 : 1;
}

int store_put_op(store *st, const store_receipt *r, store_op_fn fn, void *arg, store_result *res)
{
    op_job o;
    int rc;

    if (!res)
        return -1;
    memset(res, 0, sizeof *res);
    if (!st || !r || !fn)
        return bad_arg(res, "no store, receipt or operation");
    if (check_receipt(r, res) != 0)
        return -1;
    memset(&o, 0, sizeof o);
    o.put.st = st;
    o.put.r = r;
    o.put.res = res;
    o.put.now = (int64_t)time(NULL);
    o.fn = fn;
    o.arg = arg;
    if (EVP_Digest(r->payload, r->payload_len, o.put.sha, NULL, EVP_sha256(), NULL) != 1)
        return bad_arg(res, "SHA-256 failed");
    rc = store_write(st, op_job_fn, &o);
    printable(res->reason);
    if (rc == STORE_ERR_UNAVAILABLE) { /* a failed COMMIT took everything back: nothing was acknowledged */
        res->outcome = STORE_UNAVAILABLE;
        snprintf(res->reason, sizeof res->reason, "not stored, retry: the database could not commit");
    }
    return 0;
}

/* ---- replay: a quarantined record, after the schema was fixed ----------------------------------------- */

typedef struct replay_job {
    put_job put;
    const char *qid;
} replay_job;

static int replay_job_fn(sqlite3 *db, void *arg)
{
    replay_job *rj = arg;
    put_job *j = &rj->put;
    store *st = j->st;
    store_result *res = j->res;
    values vs;
    sqlite3_stmt *s = NULL;
    sqlite3_int64 id = 0;
    int rc, have = 0, stored = 0;

    memset(&vs, 0, sizeof vs);
    refresh_cols(st, db);
    if (!j->obj)
        snprintf(res->reason, sizeof res->reason, "%s", j->parse_reason);
    else if (st->cols_problem[0])
        snprintf(res->reason, sizeof res->reason, "the records table cannot take records now: %s", st->cols_problem);
    else
        validate(st, j->obj, &vs, res->reason, sizeof res->reason);
    if (res->reason[0]) { /* the table still does not take it: it stays where it is */
        res->outcome = STORE_QUARANTINED;
        snprintf(res->quarantine_id, sizeof res->quarantine_id, "%s", rj->qid);
        values_free(&vs);
        return 0;
    }
    if (exec_sp(db, "SAVEPOINT rec") != 0) {
        storage_failed(j, db, "savepoint");
        values_free(&vs);
        return 1;
    }
    /* the receipt of the first arrival, if its row was committed then */
    int same = 1;
    if (sqlite3_prepare_v2(db, "SELECT id, status = 'stored', payload_sha256 = ?3 FROM receipts "
                               "WHERE device_serial = ?1 AND msg_id = ?2",
                           -1, &s, NULL) != SQLITE_OK) {
        storage_failed(j, db, "reading the receipt");
        goto undo;
    }
    sqlite3_bind_text(s, 1, j->r->device_serial, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, j->r->msg_id, 16, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, j->sha, 32, SQLITE_STATIC);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        have = 1;
        id = sqlite3_column_int64(s, 0);
        stored = sqlite3_column_int(s, 1);
        same = sqlite3_column_int(s, 2);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        storage_failed(j, db, "reading the receipt");
        goto undo;
    }
    if (!same) {
        /* the receipt under this (device, msg_id) was signed over another
         * payload: a record for it must not be made from this file's */
        res->outcome = STORE_CONFLICT;
        snprintf(res->reason, sizeof res->reason,
                 "receipt %lld holds another payload under this msg_id: not replayed", (long long)id);
        exec_sp(db, "RELEASE rec");
        values_free(&vs);
        return 0;
    }
    if (stored) {
        res->outcome = STORE_DUPLICATE;
        res->record_id = id;
        snprintf(res->reason, sizeof res->reason, "already stored as record %lld", (long long)id);
    } else {
        if (have) {
            rc = sqlite3_prepare_v2(db, "UPDATE receipts SET status = 'stored', payload = ?2 WHERE id = ?1", -1,
                                    &s, NULL) == SQLITE_OK &&
                         sqlite3_bind_int64(s, 1, id) == SQLITE_OK &&
                         sqlite3_bind_blob(s, 2, j->r->payload_len ? (const void *)j->r->payload : "",
                                           (int)j->r->payload_len, SQLITE_STATIC) == SQLITE_OK &&
                         sqlite3_step(s) == SQLITE_DONE
                     ? 1
                     : -1;
            sqlite3_finalize(s);
            s = NULL;
        } else {
            rc = insert_receipt(j, db, "stored", &id);
        }
        if (rc != 1) {
            storage_failed(j, db, "storing the receipt");
            goto undo;
        }
        int r2 = insert_record(st, db, id, &vs);
        if (r2 != SQLITE_OK) {
            if (!record_problem(r2)) {
                storage_failed(j, db, "storing the record");
                goto undo;
            }
            res->outcome = STORE_QUARANTINED;
            snprintf(res->reason, sizeof res->reason, "the database refused the record: %s", sqlite3_errmsg(db));
            snprintf(res->quarantine_id, sizeof res->quarantine_id, "%s", rj->qid);
            exec_sp(db, "ROLLBACK TO rec");
            exec_sp(db, "RELEASE rec");
            values_free(&vs);
            return 0;
        }
        res->outcome = STORE_STORED;
        res->record_id = id;
        snprintf(res->reason, sizeof res->reason, "stored as record %lld", (long long)id);
    }
    values_free(&vs);
    if (sqlite3_prepare_v2(db, "DELETE FROM quarantine WHERE id = ?1", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_bind_text(s, 1, rj->qid, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
        sqlite3_finalize(s);
        storage_failed(j, db, "removing the quarantine row");
        goto undo;
    }
    sqlite3_finalize(s);
    return exec_sp(db, "RELEASE rec") == 0 ? 0 : 1;
undo:
    values_free(&vs);
    if (!sqlite3_get_autocommit(db)) {
        exec_sp(db, "ROLLBACK TO rec");
        exec_sp(db, "RELEASE rec");
    }
    return 1;
}

int store_quarantine_replay(store *st, const char *id, store_result *res)
{
    store_quarantined q;
    replay_job rj;
    char perr[256], err[256];
    int rc;

    if (!res)
        return -1;
    memset(res, 0, sizeof *res);
    if (!st || !store_valid_qid(id))
        return bad_arg(res, "a quarantine id is 32 lower-case hex digits");
    memset(&q, 0, sizeof q);
    if (store_quarantine_read(st, id, &q, err, sizeof err) != 0)
        return bad_arg(res, err);
    store_receipt r = {q.device, q.msg_id, q.op, q.payload, q.payload_len, q.created_ms,
                       q.sig, q.sig_len, q.session, q.seq};
    memset(&rj, 0, sizeof rj);
    rj.qid = id;
    rj.put.st = st;
    rj.put.r = &r;
    rj.put.res = res;
    rj.put.now = (int64_t)time(NULL);
    if (EVP_Digest(r.payload, r.payload_len, rj.put.sha, NULL, EVP_sha256(), NULL) != 1) {
        store_quarantined_free(&q);
        return bad_arg(res, "SHA-256 failed");
    }
    rj.put.obj = json_parse((const char *)r.payload, r.payload_len, RECORD_JSON_DEPTH, perr, sizeof perr);
    if (!rj.put.obj)
        snprintf(rj.put.parse_reason, sizeof rj.put.parse_reason, "not JSON: %s", perr);
    rc = store_write(st, replay_job_fn, &rj);
    json_decref(rj.put.obj);
    store_quarantined_free(&q);
    printable(res->reason);
    if (rc == STORE_ERR_UNAVAILABLE || rc != 0) {
        res->outcome = STORE_UNAVAILABLE;
        snprintf(res->reason, sizeof res->reason, "not stored, retry: the database could not commit");
        return 0;
    }
    /* committed: the file has done its job (its row is gone already) */
    if ((res->outcome == STORE_STORED || res->outcome == STORE_DUPLICATE) &&
        store_quarantine_drop(st, id, err, sizeof err) != 0)
        snprintf(res->reason + strlen(res->reason), sizeof res->reason - strlen(res->reason),
                 " (the quarantine file stays: %s)", err);
    return 0;
}
