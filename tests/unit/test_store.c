/* SPDX-License-Identifier: MIT */
/* Unit tests for common/store (chapter 06): the pragmas read back, the start-up refusals (a key others can
 * read, a records table that is not STRICT or has a name outside the rule), the records mapper rule by rule
 * (SQL-shaped keys included: they are quarantined and never reach any SQL text), generated columns, live
 * ALTER TABLE from a second connection, duplicates and conflicts, the encrypted quarantine files (mode, name,
 * no plaintext, decryption with the key file, tampering, renaming), the quota, group commit under eight
 * threads, and a failing COMMIT that must never be acknowledged. Each test works in its own mkdtemp dir. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/encoding.h"
#include "envelope/envelope.h"
#include "store/store.h"

#define DEV_A "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define DEV_B "ffeeddccbbaa99887766554433221100"

typedef struct fx {
    char dir[64];
    store *st;
    unsigned next_msg;
} fx;

/* ---- helpers --------------------------------------------------------------------------------------- */

static void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void path_in(const fx *f, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", f->dir, name);
}

static int exec_job(sqlite3 *db, void *arg)
{
    return sqlite3_exec(db, arg, NULL, NULL, NULL) == SQLITE_OK ? 0 : 1;
}

static void seed(fx *f)
{
    assert_int_equal(store_write(f->st, exec_job,
        "INSERT INTO accounts(id, username, pw_hash, created_at) VALUES(1, 'alice', 'x', 1);"
        "INSERT INTO devices(serial, account_id, cert_pem, x5t, key_alg, not_after, created_at)"
        " VALUES('" DEV_A "', 1, 'pem', x'01', 'ed25519', 2, 1),"
        " ('" DEV_B "', 1, 'pem', x'02', 'p256', 2, 1)"), 0);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[512];
    snprintf(f->dir, sizeof f->dir, "/tmp/test_store.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    strcat(f->dir, "/data"); /* store_open makes the data dir itself */
    if (store_open(f->dir, &f->st, err, sizeof err) != 0) {
        fprintf(stderr, "store_open: %s\n", err);
        *strrchr(f->dir, '/') = '\0'; /* cmocka runs no teardown after a failed setup: clean up here */
        rm_rf(f->dir);
        free(f);
        return -1;
    }
    seed(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char top[64];
    store_close(f->st);
    snprintf(top, sizeof top, "%s", f->dir);
    *strrchr(top, '/') = '\0';
    rm_rf(top);
    free(f);
    return 0;
}

static store_result put_as(fx *f, const char *dev, const uint8_t msg[16], const char *json, size_t len)
{
    static const uint8_t sig[64] = {7, 7, 7};
    store_receipt r = {.device_serial = dev, .msg_id = msg, .op = "record", .payload = (const uint8_t *)json,
                       .payload_len = len, .created_ms = 1800000000000LL, .sig = sig, .sig_len = sizeof sig,
                       .session = "sess", .seq = 2};
    store_result res;
    assert_int_equal(store_put_record(f->st, &r, &res), 0);
    return res;
}

static void new_msg(fx *f, uint8_t msg[16])
{
    memset(msg, 0, 16);
    f->next_msg++;
    memcpy(msg, &f->next_msg, sizeof f->next_msg);
}

static store_result put(fx *f, const char *json)
{
    uint8_t msg[16];
    new_msg(f, msg);
    return put_as(f, DEV_A, msg, json, strlen(json));
}

static long long query_int(fx *f, const char *sql)
{
    sqlite3 *db = store_reader(f->st);
    sqlite3_stmt *s;
    long long v = -999;
    assert_non_null(db);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void query_text(fx *f, const char *sql, char *out, size_t len)
{
    sqlite3 *db = store_reader(f->st);
    sqlite3_stmt *s;
    out[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

/* a second connection, as the sqlite3 shell would be */
static void shell(fx *f, const char *sql)
{
    char path[128];
    sqlite3 *db;
    char *msg = NULL;
    path_in(f, STORE_DB_NAME, path, sizeof path);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("shell: %s: %s", sql, msg);
    sqlite3_close(db);
}

static int count_files(fx *f, const char *suffix)
{
    char qdir[128];
    DIR *d;
    struct dirent *e;
    int n = 0;
    path_in(f, STORE_QDIR_NAME, qdir, sizeof qdir);
    d = opendir(qdir);
    assert_non_null(d);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        if (l > s && strcmp(e->d_name + l - s, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf;
    long n;
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

#define EXPECT(res, oc, text)                                                                      \
    do {                                                                                           \
        store_result r_ = (res);                                                                   \
        if (r_.outcome != (oc) || !strstr(r_.reason, (text)))                                      \
            fail_msg("line %d: got %s \"%s\", wanted %s with \"%s\"", __LINE__,                    \
                     store_outcome_str(r_.outcome), r_.reason, store_outcome_str(oc), (text));     \
    } while (0)

/* ---- opening --------------------------------------------------------------------------------------- */

static int check_pragmas_job(sqlite3 *db, void *arg)
{
    int *ok = arg, v = -1;
    sqlite3_stmt *s;
    *ok = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (v != 2)
        return 0;
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &v);
    if (v != 1)
        return 0;
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, -1, &v);
    *ok = v == 0;
    return 0;
}

static void pragmas_read_back(void **state)
{
    fx *f = *state;
    char v[64], path[128];
    struct stat s;
    int ok = 0, on = -1;
    sqlite3 *rd = store_reader(f->st);

    assert_string_equal(store_describe(f->st), "WAL, synchronous=FULL (2), foreign keys on");
    query_text(f, "PRAGMA journal_mode", v, sizeof v);
    assert_string_equal(v, "wal");
    assert_int_equal(query_int(f, "PRAGMA synchronous"), 2);
    assert_int_equal(query_int(f, "PRAGMA foreign_keys"), 1);
    assert_int_equal(query_int(f, "PRAGMA trusted_schema"), 0);
    assert_int_equal(query_int(f, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    sqlite3_db_config(rd, SQLITE_DBCONFIG_DEFENSIVE, -1, &on);
    assert_int_equal(on, 1);
    /* the same thread gets the same reader; it cannot write */
    assert_ptr_equal(store_reader(f->st), rd);
    assert_int_not_equal(sqlite3_exec(rd, "DELETE FROM revoked_tokens", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store_write(f->st, check_pragmas_job, &ok), 0);
    assert_true(ok);
    /* every table STRICT */
    assert_int_equal(query_int(f, "SELECT count(*) FROM pragma_table_list WHERE schema='main' AND type='table'"
                                  " AND name NOT LIKE 'sqlite_%' AND strict = 0"), 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM pragma_table_list WHERE schema='main' AND strict = 1"), 10);
    /* modes */
    assert_int_equal(stat(f->dir, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0700);
    path_in(f, STORE_DB_NAME, path, sizeof path);
    assert_int_equal(stat(path, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0600);
    path_in(f, STORE_QDIR_NAME, path, sizeof path);
    assert_int_equal(stat(path, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0700);
    path_in(f, STORE_QKEY_NAME, path, sizeof path);
    assert_int_equal(stat(path, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0600);
    assert_int_equal(s.st_size, STORE_QKEY_LEN);
}

static int reopen(fx *f, char *err, size_t len)
{
    store_close(f->st);
    f->st = NULL;
    return store_open(f->dir, &f->st, err, len);
}

static void key_file_refusals(void **state)
{
    fx *f = *state;
    char path[128], other[128], err[512];
    uint8_t *k1, *k2;
    size_t n1, n2;

    path_in(f, STORE_QKEY_NAME, path, sizeof path);
    k1 = slurp(path, &n1);
    assert_int_equal(reopen(f, err, sizeof err), 0); /* the same key again, not a new one */
    k2 = slurp(path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(k1, k2, n1);
    free(k2);

    store_close(f->st);
    f->st = NULL;
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), -1);
    assert_non_null(strstr(err, "other users"));
    assert_int_equal(chmod(path, 0600), 0);
    /* a second name for the key */
    path_in(f, "key.link", other, sizeof other);
    assert_int_equal(link(path, other), 0);
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), -1);
    assert_non_null(strstr(err, "hard links"));
    assert_int_equal(unlink(other), 0);
    /* a symbolic link in its place */
    assert_int_equal(rename(path, other), 0);
    assert_int_equal(symlink(other, path), 0);
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), -1);
    assert_int_equal(unlink(path), 0);
    /* not 32 bytes */
    spit(path, k1, n1 - 1);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), -1);
    assert_non_null(strstr(err, "exactly 32"));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rename(other, path), 0);
    /* a data dir others may enter */
    assert_int_equal(chmod(f->dir, 0755), 0);
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), -1);
    assert_non_null(strstr(err, "chmod 700"));
    assert_int_equal(chmod(f->dir, 0700), 0);
    /* the quarantine folder and the database too */
    path_in(f, STORE_QDIR_NAME, other, sizeof other);
    assert_int_equal(chmod(other, 0750), 0);
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), -1);
    assert_non_null(strstr(err, "chmod 700"));
    assert_int_equal(chmod(other, 0700), 0);
    path_in(f, STORE_DB_NAME, other, sizeof other);
    assert_int_equal(chmod(other, 0644), 0);
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), -1);
    assert_non_null(strstr(err, "mode 0600"));
    assert_int_equal(chmod(other, 0600), 0);
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), 0);
    free(k1);
}

/* the sqlite3 shell runs sql on the stopped store's database; then store_open must refuse, saying text */
static void open_refused_after(fx *f, const char *sql, const char *text)
{
    char err[512];
    shell(f, sql);
    if (store_open(f->dir, &f->st, err, sizeof err) != -1 || !strstr(err, text))
        fail_msg("after %s: wanted a refusal with \"%s\", got \"%s\"", sql, text, f->st ? "(opened)" : err);
}

static void records_table_refusals(void **state)
{
    fx *f = *state;
    char err[512];
    store_close(f->st);
    f->st = NULL;
    /* not STRICT: 'abc' would go into Age without a word */
    open_refused_after(f, "PRAGMA foreign_keys=OFF; DROP TABLE records; CREATE TABLE records(receipt_id"
                          " INTEGER PRIMARY KEY, FirstName TEXT, Age INTEGER)", "not STRICT");
    /* a name outside [A-Za-z_][A-Za-z0-9_]{0,63} */
    open_refused_after(f, "DROP TABLE records; CREATE TABLE records(receipt_id INTEGER PRIMARY KEY,"
                          " \"First Name\" TEXT) STRICT", "not a plain name");
    open_refused_after(f, "DROP TABLE records; CREATE TABLE records(receipt_id INTEGER PRIMARY KEY,"
                          " a2345678901234567890123456789012345678901234567890123456789012345 TEXT) STRICT",
                       "not a plain name");
    /* 64 characters is the limit, and fine */
    shell(f, "DROP TABLE records; CREATE TABLE records(receipt_id INTEGER PRIMARY KEY,"
             " a234567890123456789012345678901234567890123456789012345678901234 TEXT) STRICT");
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), 0);
    /* a newer schema */
    store_close(f->st);
    f->st = NULL;
    open_refused_after(f, "PRAGMA user_version = 7", "schema version 7");
    shell(f, "PRAGMA user_version = 2");
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), 0);
    /* a schema-1 database (before messaging) gets the new tables, and only them */
    store_close(f->st);
    f->st = NULL;
    shell(f, "DROP TABLE items; DROP TABLE files; DROP TABLE messages; PRAGMA user_version = 1");
    assert_int_equal(store_open(f->dir, &f->st, err, sizeof err), 0);
    assert_int_equal(query_int(f, "PRAGMA user_version"), 2);
    assert_int_equal(query_int(f, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                                  " ('messages', 'files', 'items')"), 3);
}

/* ---- the mapper ------------------------------------------------------------------------------------ */

static void insert_sql_builder(void **state)
{
    const char *ok[] = {"FirstName", "Age", "_x9"};
    const char *bad[] = {"FirstName\"; DROP TABLE records; --"};
    const char *bad2[] = {"9lives"};
    const char *many[STORE_FIELDS_MAX + 1];
    char sql[512];
    (void)state;
    assert_int_equal(store_records_insert_sql(ok, 3, sql, sizeof sql), 0);
    assert_string_equal(sql, "INSERT INTO records(\"receipt_id\",\"FirstName\",\"Age\",\"_x9\") VALUES(?1,?2,?3,?4)");
    assert_int_equal(store_records_insert_sql(ok, 0, sql, sizeof sql), 0);
    assert_string_equal(sql, "INSERT INTO records(\"receipt_id\") VALUES(?1)");
    assert_int_equal(store_records_insert_sql(bad, 1, sql, sizeof sql), -1);
    assert_int_equal(store_records_insert_sql(bad2, 1, sql, sizeof sql), -1);
    assert_int_equal(store_records_insert_sql(ok, 3, sql, 20), -1); /* too small: refused, not cut */
    for (size_t i = 0; i < STORE_FIELDS_MAX + 1; i++)
        many[i] = "a";
    assert_int_equal(store_records_insert_sql(many, STORE_FIELDS_MAX + 1, sql, sizeof sql), -1);
}

static void stores_a_full_record(void **state)
{
    fx *f = *state;
    char v[128], sql[256];
    store_result r = put(f, "{\"FirstName\":\"Ada\",\"LastName\":\"Lovelace\",\"Age\":36,\"Hight\":1.65,"
                            "\"Address\":\"London\",\"Comments\":\"first programmer\"}");
    EXPECT(r, STORE_STORED, "stored as record");
    assert_true(r.record_id > 0);
    assert_string_equal(r.quarantine_id, "");
    snprintf(sql, sizeof sql, "SELECT FirstName || '|' || LastName || '|' || Age || '|' || Hight || '|' ||"
             " Address || '|' || Comments FROM records WHERE receipt_id = %lld", (long long)r.record_id);
    query_text(f, sql, v, sizeof v);
    assert_string_equal(v, "Ada|Lovelace|36|1.65|London|first programmer");
    snprintf(sql, sizeof sql, "SELECT status || '|' || op || '|' || session || '|' || seq || '|' ||"
             " length(payload_sha256) || '|' || device_serial FROM receipts WHERE id = %lld",
             (long long)r.record_id);
    query_text(f, sql, v, sizeof v);
    assert_string_equal(v, "stored|record|sess|2|32|" DEV_A);
    /* types: true is 1, an integer in a REAL column is a real, null is NULL, absent fields are NULL */
    r = put(f, "{\"Age\":true,\"Hight\":2,\"FirstName\":null}");
    EXPECT(r, STORE_STORED, "stored");
    snprintf(sql, sizeof sql, "SELECT Age || '|' || typeof(Hight) || '|' || typeof(FirstName) || '|' ||"
             " typeof(Comments) FROM records WHERE receipt_id = %lld", (long long)r.record_id);
    query_text(f, sql, v, sizeof v);
    assert_string_equal(v, "1|real|null|null");
    EXPECT(put(f, "{}"), STORE_STORED, "stored");
}

static int no_sql_text_contains(sqlite3 *db, void *arg)
{
    int *found = arg;
    *found = 0;
    for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s))
        if (sqlite3_sql(s) && (strstr(sqlite3_sql(s), "DROP") || strstr(sqlite3_sql(s), "--")))
            *found = 1;
    return 0;
}

static void mapper_table(void **state)
{
    fx *f = *state;
    char big[STORE_TEXT_MAX + 64], deep[64];
    int found = 1;
    static const struct { const char *json; store_outcome oc; const char *reason; } cases[] = {
        {"{\"Shoe\":1}", STORE_QUARANTINED,
         "unknown field 'Shoe' (accepted: FirstName, LastName, Age, Hight, Address, Comments)"},
        {"{\"Age\":\"12\"}", STORE_QUARANTINED, "field 'Age' must be an integer"},
        {"{\"Age\":12.5}", STORE_QUARANTINED, "field 'Age' must be an integer"},
        {"{\"Hight\":\"tall\"}", STORE_QUARANTINED, "field 'Hight' must be a number"},
        {"{\"FirstName\":5}", STORE_QUARANTINED, "field 'FirstName' must be a string"},
        {"{\"FirstName\":true}", STORE_QUARANTINED, "field 'FirstName' must be a string"},
        {"{\"FirstName\":{\"a\":1}}", STORE_QUARANTINED, "not an object or an array"},
        {"{\"Comments\":[1,2]}", STORE_QUARANTINED, "not an object or an array"},
        {"{\"Age\":1,\"age\":2}", STORE_QUARANTINED, "fields 'age' and 'Age' differ only in case"},
        {"{\"age\":2}", STORE_QUARANTINED, "unknown field 'age' (names are exact: did you mean 'Age'?)"},
        {"{\"receipt_id\":5}", STORE_QUARANTINED, "unknown field 'receipt_id'"},
        {"{\"Age\":200}", STORE_QUARANTINED, "CHECK constraint failed"},
        {"{\"Age\":-1}", STORE_QUARANTINED, "CHECK constraint failed"},
        {"{\"FirstName\":\"a\\u0000b\"}", STORE_QUARANTINED, "not JSON: "}, /* jansson refuses \u0000 */
        {"not json", STORE_QUARANTINED, "not JSON: "},
        {"{\"Age\":1,\"Age\":2}", STORE_QUARANTINED, "not JSON: "},
        {"[1,2]", STORE_QUARANTINED, "not a JSON object"},
        {"\"Ada\"", STORE_QUARANTINED, "not a JSON object"},
        {"", STORE_QUARANTINED, "not JSON: "},
        /* R1's injection: the key is compared, never pasted */
        {"{\"FirstName\\\"; DROP TABLE records; --\":\"x\"}", STORE_QUARANTINED,
         "unknown field 'FirstName\"; DROP TABLE records; --'"},
        {"{\"FirstName\\\" TEXT); --\":1}", STORE_QUARANTINED, "unknown field"},
        {"{\"\\u00c4ge\":1}", STORE_QUARANTINED, "unknown field '\\xc3\\x84ge'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        store_result r = put(f, cases[i].json);
        EXPECT(r, cases[i].oc, cases[i].reason);
        if (r.outcome == STORE_QUARANTINED)
            assert_int_equal(strlen(r.quarantine_id), 32);
    }
    /* the reasons are plain lines even when the key is not */
    {
        store_result r = put(f, "{\"a\\nb\\u001b[31m\":1}");
        EXPECT(r, STORE_QUARANTINED, "unknown field 'a\\x0ab\\x1b[31m'");
    }
    /* jansson quotes the bytes near a syntax error: they leave as printable ASCII, in the answer and the row */
    {
        store_result r = put(f, "{\"Age\": \x1b[2J\xc3\xa4\x01}");
        char row[600];
        EXPECT(r, STORE_QUARANTINED, "not JSON: ");
        for (const char *c = r.reason; *c; c++)
            assert_true(*c >= 0x20 && *c <= 0x7e);
        query_text(f, "SELECT reason FROM quarantine ORDER BY rowid DESC LIMIT 1", row, sizeof row);
        assert_string_equal(row, r.reason);
        assert_non_null(strchr(r.reason, '?'));
    }
    /* text up to 64 KiB, not one byte more */
    memset(big, 'x', sizeof big);
    memcpy(big, "{\"Comments\":\"", 13);
    memcpy(big + 13 + STORE_TEXT_MAX, "\"}", 3);
    EXPECT(put(f, big), STORE_STORED, "stored");
    big[13 + STORE_TEXT_MAX] = 'x';
    memcpy(big + 13 + STORE_TEXT_MAX + 1, "\"}", 3);
    EXPECT(put(f, big), STORE_QUARANTINED, "field 'Comments' is 65537 bytes; at most 65536");
    /* depth is capped before jansson parses */
    memset(deep, '[', 40);
    deep[40] = '\0';
    EXPECT(put(f, deep), STORE_QUARANTINED, "not JSON: ");

    /* the tables are all there, and no statement the writer prepared ever held the key's text */
    assert_int_equal(query_int(f, "SELECT count(*) FROM sqlite_schema WHERE name = 'records'"), 1);
    assert_int_equal(store_write(f->st, no_sql_text_contains, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM receipts WHERE status = 'quarantined'"),
                     (long long)(sizeof cases / sizeof cases[0]) + 4);
    assert_int_equal(query_int(f, "SELECT count(*) FROM quarantine"), (long long)(sizeof cases / sizeof cases[0]) + 4);
    assert_int_equal(query_int(f, "SELECT count(*) FROM records"), 1);
}

static void generated_required_and_live_schema(void **state)
{
    fx *f = *state;
    char v[128], sql[160];
    store_result r;

    EXPECT(put(f, "{\"Comments\":\"before\"}"), STORE_STORED, "stored");
    EXPECT(put(f, "{\"Shoe\":42}"), STORE_QUARANTINED, "unknown field 'Shoe'");
    /* the sqlite3 shell, while the store runs: the next record sees the new column */
    shell(f, "ALTER TABLE records ADD COLUMN Shoe INTEGER");
    r = put(f, "{\"Shoe\":42,\"FirstName\":\"Grace\"}");
    EXPECT(r, STORE_STORED, "stored");
    snprintf(sql, sizeof sql, "SELECT Shoe FROM records WHERE receipt_id = %lld", (long long)r.record_id);
    assert_int_equal(query_int(f, sql), 42);
    EXPECT(put(f, "{\"Shoe\":\"big\"}"), STORE_QUARANTINED, "field 'Shoe' must be an integer");
    EXPECT(put(f, "{\"Nope\":1}"), STORE_QUARANTINED, "(accepted: FirstName, LastName, Age, Hight, Address, "
                                                      "Comments, Shoe)");
    /* and a dropped one is refused; the INSERT cached with it is gone too */
    shell(f, "ALTER TABLE records DROP COLUMN Comments");
    EXPECT(put(f, "{\"Comments\":\"after\"}"), STORE_QUARANTINED, "unknown field 'Comments'");
    EXPECT(put(f, "{\"FirstName\":\"Grace\",\"Shoe\":40}"), STORE_STORED, "stored");
    /* generated columns are not fields */
    shell(f, "ALTER TABLE records ADD COLUMN Full TEXT GENERATED ALWAYS AS (FirstName || ' ' || LastName) VIRTUAL");
    EXPECT(put(f, "{\"Full\":\"x\"}"), STORE_QUARANTINED, "unknown field 'Full'");
    r = put(f, "{\"FirstName\":\"Alan\",\"LastName\":\"Turing\"}");
    EXPECT(r, STORE_STORED, "stored");
    snprintf(sql, sizeof sql, "SELECT Full FROM records WHERE receipt_id = %lld", (long long)r.record_id);
    query_text(f, sql, v, sizeof v);
    assert_string_equal(v, "Alan Turing");
    /* a table rebuilt with required fields: NOT NULL without a default must be present, with one need not */
    shell(f, "PRAGMA foreign_keys=OFF; DROP TABLE records; CREATE TABLE records(receipt_id INTEGER PRIMARY KEY"
             " REFERENCES receipts(id), Name TEXT NOT NULL, Level INTEGER NOT NULL DEFAULT 1, Tag BLOB, Any ANY)"
             " STRICT");
    EXPECT(put(f, "{\"Level\":2}"), STORE_QUARANTINED, "missing field 'Name'");
    EXPECT(put(f, "{\"Name\":null}"), STORE_QUARANTINED, "field 'Name' must not be null");
    EXPECT(put(f, "{\"Name\":\"n\",\"Tag\":\"AAEC\"}"), STORE_STORED, "stored");
    assert_int_equal(query_int(f, "SELECT length(Tag) FROM records WHERE Tag IS NOT NULL"), 3);
    EXPECT(put(f, "{\"Name\":\"n\",\"Tag\":\"AAE=\"}"), STORE_QUARANTINED, "base64url without padding");
    EXPECT(put(f, "{\"Name\":\"n\",\"Any\":1.5}"), STORE_STORED, "stored");
    EXPECT(put(f, "{\"Name\":\"n\",\"Any\":\"s\"}"), STORE_STORED, "stored");
    EXPECT(put(f, "{\"Name\":\"n\",\"Any\":[1]}"), STORE_QUARANTINED, "field 'Any' must be");
    /* a table that stopped being STRICT while the store runs takes no record */
    shell(f, "DROP TABLE records; CREATE TABLE records(receipt_id INTEGER PRIMARY KEY, Name TEXT)");
    EXPECT(put(f, "{\"Name\":\"n\"}"), STORE_QUARANTINED, "not STRICT");
}

/* ---- duplicates ------------------------------------------------------------------------------------ */

static void duplicates_and_conflicts(void **state)
{
    fx *f = *state;
    uint8_t msg[16];
    const char *a = "{\"FirstName\":\"A\"}", *b = "{\"FirstName\":\"B\"}", *bad = "{\"Shoe\":1}";
    store_result r1, r2;

    new_msg(f, msg);
    r1 = put_as(f, DEV_A, msg, a, strlen(a));
    EXPECT(r1, STORE_STORED, "stored");
    r2 = put_as(f, DEV_A, msg, a, strlen(a));
    EXPECT(r2, STORE_DUPLICATE, "already stored");
    assert_int_equal(r2.record_id, r1.record_id);
    EXPECT(put_as(f, DEV_A, msg, b, strlen(b)), STORE_CONFLICT, "another payload");
    /* the same msg_id from another device is another message */
    EXPECT(put_as(f, DEV_B, msg, b, strlen(b)), STORE_STORED, "stored");
    assert_int_equal(query_int(f, "SELECT count(*) FROM records"), 2);

    /* a quarantined record sent again: the first quarantine answer, no second file */
    new_msg(f, msg);
    r1 = put_as(f, DEV_A, msg, bad, strlen(bad));
    EXPECT(r1, STORE_QUARANTINED, "unknown field");
    assert_int_equal(count_files(f, ".bin"), 1);
    r2 = put_as(f, DEV_A, msg, bad, strlen(bad));
    EXPECT(r2, STORE_QUARANTINED, "already quarantined: unknown field 'Shoe'");
    assert_string_equal(r2.quarantine_id, r1.quarantine_id);
    assert_int_equal(r2.record_id, r1.record_id);
    assert_int_equal(count_files(f, ".bin"), 1);
    EXPECT(put_as(f, DEV_A, msg, a, strlen(a)), STORE_CONFLICT, "another payload");
}

/* ---- quarantine files ------------------------------------------------------------------------------ */

static void quarantine_files(void **state)
{
    fx *f = *state;
    const char *payload = "{\"Shoe\":\"secret-sauce-7731\",\"FirstName\":\"Mallory\"}";
    char path[192], qdir[128], other[192], err[256], *b64;
    uint8_t msg[16], *file, key[STORE_QKEY_LEN + 1], aad[64], *pt;
    size_t flen, klen, plen;
    struct stat s;
    store_result r;
    store_quarantined q;
    uint8_t *kbuf;

    new_msg(f, msg);
    r = put_as(f, DEV_A, msg, payload, strlen(payload));
    EXPECT(r, STORE_QUARANTINED, "unknown field 'Shoe'");
    assert_int_equal(strlen(r.quarantine_id), 32);
    assert_int_equal(strspn(r.quarantine_id, "0123456789abcdef"), 32);
    assert_int_equal(query_int(f, "SELECT count(*) FROM quarantine q JOIN receipts r ON r.id = q.receipt_id"
                                  " WHERE r.status = 'quarantined' AND q.device_serial = '" DEV_A "'"), 1);
    path_in(f, STORE_QDIR_NAME, qdir, sizeof qdir);
    snprintf(path, sizeof path, "%s/%s.bin", qdir, r.quarantine_id);
    assert_int_equal(stat(path, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0600);
    assert_int_equal(stat(qdir, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0700);
    assert_int_equal(count_files(f, ".part"), 0);

    /* no plaintext: neither the payload, nor its base64url, nor the reason, nor a field value */
    file = slurp(path, &flen);
    assert_memory_equal(file, "C06Q1", 5);
    assert_null(memmem(file, flen, payload, strlen(payload)));
    assert_null(memmem(file, flen, "secret-sauce", 12));
    assert_null(memmem(file, flen, "Mallory", 7));
    assert_null(memmem(file, flen, "unknown field", 13));
    b64 = b64url_encode((const uint8_t *)payload, strlen(payload), B64_NO_PAD);
    assert_null(memmem(file, flen, b64, strlen(b64)));
    free(b64);

    /* it opens with the key file alone: AES-256-GCM, IV after the header, AAD = header || IV || id */
    path_in(f, STORE_QKEY_NAME, other, sizeof other);
    kbuf = slurp(other, &klen);
    assert_int_equal(klen, STORE_QKEY_LEN);
    memcpy(key, kbuf, klen);
    free(kbuf);
    memcpy(aad, file, 17);
    memcpy(aad + 17, r.quarantine_id, 32);
    plen = flen - 17 - 16;
    pt = malloc(plen + 1);
    assert_int_equal(envelope_aead_open(key, 32, file + 5, aad, 49, file + 17, flen - 17, pt), ENVELOPE_OK);
    pt[plen] = '\0';
    assert_non_null(strstr((char *)pt, "\"reason\":\"unknown field 'Shoe'"));
    assert_non_null(strstr((char *)pt, "\"device\":\"" DEV_A "\""));
    free(pt);

    /* and through the API, every field back */
    assert_int_equal(store_quarantine_read(f->st, r.quarantine_id, &q, err, sizeof err), 0);
    assert_string_equal(q.id, r.quarantine_id);
    assert_string_equal(q.device, DEV_A);
    assert_memory_equal(q.msg_id, msg, 16);
    assert_int_equal(q.payload_len, strlen(payload));
    assert_memory_equal(q.payload, payload, q.payload_len);
    assert_int_equal(q.sig_len, 64);
    assert_int_equal(q.sig[0], 7);
    assert_string_equal(q.op, "record");
    assert_string_equal(q.session, "sess");
    assert_int_equal(q.seq, 2);
    assert_int_equal(q.created_ms, 1800000000000LL);
    assert_non_null(strstr(q.reason, "unknown field 'Shoe'"));
    assert_int_equal(q.file_size, flen);
    store_quarantined_free(&q);

    /* one byte changed anywhere (header, IV, ciphertext, tag) and it no longer opens */
    {
        size_t at[] = {0, 4, 5, 16, 17, flen / 2, flen - 17, flen - 1};
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
            file[at[i]] ^= 0x01;
            spit(path, file, flen);
            assert_int_equal(store_quarantine_read(f->st, r.quarantine_id, &q, err, sizeof err), -1);
            file[at[i]] ^= 0x01;
        }
        spit(path, file, flen);
        assert_int_equal(store_quarantine_read(f->st, r.quarantine_id, &q, err, sizeof err), 0);
        store_quarantined_free(&q);
        file[flen / 2] ^= 0x80;
        spit(path, file, flen);
        assert_int_equal(store_quarantine_read(f->st, r.quarantine_id, &q, err, sizeof err), -1);
        assert_non_null(strstr(err, "authentication failed"));
        file[flen / 2] ^= 0x80;
        spit(path, file, flen);
    }
    /* the name is authenticated too: the same bytes under another id do not open */
    snprintf(other, sizeof other, "%s/%s.bin", qdir, "00112233445566778899aabbccddeeff");
    assert_int_equal(link(path, other), 0);
    assert_int_equal(store_quarantine_read(f->st, "00112233445566778899aabbccddeeff", &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "authentication failed"));
    assert_int_equal(unlink(other), 0);
    /* ids are our names only: never a path */
    assert_int_equal(store_quarantine_read(f->st, "../course06.db", &q, err, sizeof err), -1);
    assert_int_equal(store_quarantine_read(f->st, "00112233445566778899AABBCCDDEEFF", &q, err, sizeof err), -1);
    assert_int_equal(store_quarantine_drop(f->st, "../../etc/passwd", err, sizeof err), -1);
    /* a name that climbs out of received_messages/ is refused before it becomes a path */
    snprintf(other, sizeof other, "%s/keep.bin", f->dir);
    spit(other, (const uint8_t *)"x", 1);
    assert_int_equal(store_quarantine_drop(f->st, "../keep", err, sizeof err), -1);
    assert_int_equal(stat(other, &s), 0);
    assert_int_equal(store_quarantine_read(f->st, "00112233445566778899aabbccddeeff", &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "no such"));
    free(file);
    memset(key, 0, sizeof key);
}

typedef struct listing {
    int n, broken;
    char ids[8][33];
} listing;

static int list_fn(const store_quarantined *q, void *arg)
{
    listing *l = arg;
    if (q->broken)
        l->broken++;
    else
        assert_string_equal(q->device, DEV_A);
    if (l->n < 8)
        memcpy(l->ids[l->n], q->id, 33);
    l->n++;
    return 0;
}

static void quarantine_list_drop_and_stale_parts(void **state)
{
    fx *f = *state;
    listing l = {0};
    char err[256], path[192], part[192];
    store_result r1 = put(f, "{\"X\":1}"), r2 = put(f, "{\"Y\":2}");
    uint8_t junk[40] = {0};

    EXPECT(r1, STORE_QUARANTINED, "unknown");
    EXPECT(r2, STORE_QUARANTINED, "unknown");
    assert_int_equal(store_quarantine_list(f->st, list_fn, &l, err, sizeof err), 2);
    assert_int_equal(l.broken, 0);
    /* a broken file is listed as broken, not skipped and not fatal */
    snprintf(path, sizeof path, "%s/%s/%s.bin", f->dir, STORE_QDIR_NAME, "0123456789abcdef0123456789abcdef");
    spit(path, junk, sizeof junk);
    memset(&l, 0, sizeof l);
    assert_int_equal(store_quarantine_list(f->st, list_fn, &l, err, sizeof err), 3);
    assert_int_equal(l.broken, 1);
    assert_int_equal(store_quarantine_drop(f->st, "0123456789abcdef0123456789abcdef", err, sizeof err), 0);
    /* drop: the file and the row go, the signed receipt stays */
    assert_int_equal(store_quarantine_drop(f->st, r1.quarantine_id, err, sizeof err), 0);
    assert_int_equal(store_quarantine_drop(f->st, r1.quarantine_id, err, sizeof err), -1);
    assert_non_null(strstr(err, "no such"));
    assert_int_equal(count_files(f, ".bin"), 1);
    assert_int_equal(query_int(f, "SELECT count(*) FROM quarantine"), 1);
    assert_int_equal(query_int(f, "SELECT count(*) FROM receipts WHERE status = 'quarantined'"), 2);
    /* a .part a crash left behind is removed at the next start; a .bin stays */
    snprintf(part, sizeof part, "%s/%s/%s.part", f->dir, STORE_QDIR_NAME, "0123456789abcdef0123456789abcdef");
    spit(part, junk, sizeof junk);
    assert_int_equal(reopen(f, err, sizeof err), 0);
    assert_int_equal(count_files(f, ".part"), 0);
    assert_int_equal(count_files(f, ".bin"), 1);
}

static void quota(void **state)
{
    fx *f = *state;
    char err[256], *big;
    store_result r, last = {0};
    int n = 0;

    for (int i = 0; i < STORE_Q_FILES_MAX; i++) {
        r = put(f, "{\"Shoe\":1}");
        EXPECT(r, STORE_QUARANTINED, "unknown field");
        if (i == 0)
            last = r;
    }
    r = put(f, "{\"Shoe\":1}");
    EXPECT(r, STORE_QUARANTINE_FULL, "quarantine full for this device");
    assert_string_equal(r.quarantine_id, "");
    /* nothing of it was kept: no file, no receipt */
    assert_int_equal(count_files(f, ".bin"), STORE_Q_FILES_MAX);
    assert_int_equal(query_int(f, "SELECT count(*) FROM receipts"), STORE_Q_FILES_MAX);
    /* good records still go in, and another device has its own quota */
    EXPECT(put(f, "{\"Age\":3}"), STORE_STORED, "stored");
    {
        uint8_t msg[16];
        new_msg(f, msg);
        EXPECT(put_as(f, DEV_B, msg, "{\"Shoe\":1}", 10), STORE_QUARANTINED, "unknown field");
    }
    /* counted again at start */
    assert_int_equal(reopen(f, err, sizeof err), 0);
    EXPECT(put(f, "{\"Shoe\":1}"), STORE_QUARANTINE_FULL, "quarantine full");
    /* a dropped file gives its place back */
    assert_int_equal(store_quarantine_drop(f->st, last.quarantine_id, err, sizeof err), 0);
    EXPECT(put(f, "{\"Shoe\":1}"), STORE_QUARANTINED, "unknown field");
    EXPECT(put(f, "{\"Shoe\":1}"), STORE_QUARANTINE_FULL, "quarantine full");

    /* bytes: 10 MiB per device, whatever the count */
    big = malloc(STORE_PAYLOAD_MAX + 1);
    memset(big, 'x', STORE_PAYLOAD_MAX);
    big[STORE_PAYLOAD_MAX] = '\0';
    for (;;) {
        uint8_t msg[16];
        new_msg(f, msg);
        r = put_as(f, DEV_B, msg, big, STORE_PAYLOAD_MAX);
        if (r.outcome != STORE_QUARANTINED)
            break;
        assert_true(++n < 20);
    }
    EXPECT(r, STORE_QUARANTINE_FULL, "quarantine full");
    assert_true(n >= 5 && n <= 7); /* 1 MiB of payload is ~1.4 MiB in the file */
    free(big);
}

/* ---- the writer ------------------------------------------------------------------------------------ */

typedef struct thr {
    fx *f;
    int id, ok;
} thr;

/* n threads running fn(thr *), each of which must set ok */
static void run_threads(fx *f, int n, void *(*fn)(void *))
{
    pthread_t th[8];
    thr t[8];
    assert_true(n <= 8);
    for (int i = 0; i < n; i++) {
        t[i] = (thr){.f = f, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, fn, &t[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_true(t[i].ok);
    }
}

static int insert_jti(sqlite3 *db, void *arg)
{
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT INTO revoked_tokens VALUES('%s', 1)", (const char *)arg);
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : 1;
}

static int insert_then_fail(sqlite3 *db, void *arg)
{
    insert_jti(db, arg);
    return 7;
}

static int rollback_whole(sqlite3 *db, void *arg)
{
    insert_jti(db, arg);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL); /* a job that ends the writer's transaction */
    return 0;
}

static void *writer_thread(void *p)
{
    thr *t = p;
    t->ok = 1;
    for (int i = 0; i < 50; i++) {
        char jti[32];
        snprintf(jti, sizeof jti, "t%d-%d", t->id, i);
        if (store_write(t->f->st, insert_jti, jti) != 0)
            t->ok = 0;
    }
    return NULL;
}

static void group_commit_batches(void **state)
{
    fx *f = *state;
    uint64_t j0, c0, j1, c1;

    store_stats(f->st, &j0, &c0);
    run_threads(f, 8, writer_thread);
    store_stats(f->st, &j1, &c1);
    assert_int_equal(j1 - j0, 400);
    assert_int_equal(query_int(f, "SELECT count(*) FROM revoked_tokens"), 400);
    /* several jobs per COMMIT: with 8 writers waiting, a batch holds more than one */
    assert_true(c1 - c0 < 400);
    assert_true(c1 - c0 >= 400 / STORE_BATCH_MAX);
    /* one job failing rolls back only itself */
    assert_int_not_equal(store_write(f->st, insert_jti, "t0-0"), 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM revoked_tokens"), 400);
    assert_int_equal(store_write(f->st, insert_then_fail, "undone"), 7);
    assert_int_equal(query_int(f, "SELECT count(*) FROM revoked_tokens WHERE jti = 'undone'"), 0);
    /* a job that ends the transaction itself: not stored, and said so */
    assert_int_equal(store_write(f->st, rollback_whole, "gone"), STORE_ERR_UNAVAILABLE);
    assert_int_equal(query_int(f, "SELECT count(*) FROM revoked_tokens WHERE jti = 'gone'"), 0);
    assert_int_equal(store_write(f->st, insert_jti, "after"), 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM revoked_tokens"), 401);
}

static int refuse_commit(void *arg)
{
    (void)arg;
    return 1; /* SQLite turns the COMMIT into a ROLLBACK */
}

static int fail_commits(sqlite3 *db, void *arg)
{
    sqlite3_commit_hook(db, arg ? refuse_commit : NULL, NULL);
    return insert_jti(db, "doomed");
}

static int clear_hook(sqlite3 *db, void *arg)
{
    (void)arg;
    sqlite3_commit_hook(db, NULL, NULL);
    return 0;
}

typedef struct busy_arg {
    fx *f;
    volatile int started;
    int rc;
} busy_arg;

static void *busy_writer(void *p)
{
    busy_arg *b = p;
    b->started = 1;
    b->rc = store_write(b->f->st, insert_jti, "while-busy");
    return NULL;
}

static void busy_database_waits(void **state)
{
    fx *f = *state;
    char path[128];
    sqlite3 *other;
    pthread_t th;
    busy_arg b = {.f = f, .rc = -1};
    struct timespec ts = {0, 100 * 1000 * 1000};

    /* another connection holds the write lock (the sqlite3 shell in a transaction): the writer waits for it
     * (busy_timeout) instead of failing the batch at once */
    path_in(f, STORE_DB_NAME, path, sizeof path);
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(pthread_create(&th, NULL, busy_writer, &b), 0);
    for (int i = 0; i < 5000 && !b.started; i++) {
        struct timespec ms = {0, 1000 * 1000};
        nanosleep(&ms, NULL);
    }
    assert_true(b.started);
    nanosleep(&ts, NULL); /* only widens the window; a longer hold would stay under the 5 s timeout */
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(b.rc, 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM revoked_tokens WHERE jti = 'while-busy'"), 1);
}

/* the database may grow by a few pages only: room for a receipt, not for what the trigger below adds */
static int cap_growth(sqlite3 *db, void *arg)
{
    sqlite3_stmt *s;
    long long pages = 0;
    char sql[64];
    (void)arg;
    if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        pages = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages + 16);
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : 1;
}

static void *put_thread(void *p)
{
    thr *t = p;
    uint8_t msg[16] = {0xee}; /* one message sent by all: in one batch, the later ones see the first */
    const char *a = "{\"FirstName\":\"during the failure\"}";
    store_result r = put_as(t->f, DEV_A, msg, a, strlen(a));
    t->ok = r.outcome == STORE_UNAVAILABLE;
    return NULL;
}

static void failed_commit_is_never_acknowledged(void **state)
{
    fx *f = *state;
    uint8_t msg[16];
    const char *a = "{\"FirstName\":\"Ada\"}";
    char big[40000], err[256];
    store_result r;
    store_quarantined q;
    long long receipts0 = query_int(f, "SELECT count(*) FROM receipts");

    /* the COMMIT fails: the job's own result is not what the caller hears */
    assert_int_equal(store_write(f->st, fail_commits, "on"), STORE_ERR_UNAVAILABLE);
    assert_int_equal(query_int(f, "SELECT count(*) FROM revoked_tokens WHERE jti = 'doomed'"), 0);
    /* a record in a failing batch: 503, kept as a file alone, and no row */
    new_msg(f, msg);
    r = put_as(f, DEV_A, msg, a, strlen(a));
    EXPECT(r, STORE_UNAVAILABLE, "not stored, retry");
    assert_int_equal(strlen(r.quarantine_id), 32);
    assert_int_equal(store_quarantine_read(f->st, r.quarantine_id, &q, err, sizeof err), 0);
    assert_memory_equal(q.payload, a, strlen(a));
    store_quarantined_free(&q);
    /* several at once, all refused */
    run_threads(f, 4, put_thread);
    assert_int_equal(store_write(f->st, clear_hook, NULL), 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM receipts"), receipts0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM quarantine"), 0);
    /* the resend after the failure is stored, once: it was never there */
    EXPECT(put_as(f, DEV_A, msg, a, strlen(a)), STORE_STORED, "stored");
    EXPECT(put_as(f, DEV_A, msg, a, strlen(a)), STORE_DUPLICATE, "already stored");

    /* a full disk, deterministically: the database may not grow */
    assert_int_equal(store_write(f->st, exec_job, "PRAGMA max_page_count = 1"), 0); /* answers the current size */
    memset(big, 'y', sizeof big);
    memcpy(big, "{\"Comments\":\"", 13);
    memcpy(big + sizeof big - 3, "\"}", 3);
    new_msg(f, msg);
    r = put_as(f, DEV_A, msg, big, strlen(big));
    EXPECT(r, STORE_UNAVAILABLE, "not stored, retry");
    assert_int_equal(strlen(r.quarantine_id), 32);
    assert_int_equal(store_write(f->st, exec_job, "PRAGMA max_page_count = 1073741823"), 0);
    assert_int_equal(query_int(f, "SELECT count(*) FROM receipts"), receipts0 + 1);
    EXPECT(put_as(f, DEV_A, msg, big, strlen(big)), STORE_STORED, "stored");

    /* the disk fills up at the record itself, after its receipt: still "retry", not "your record is bad" */
    shell(f, "CREATE TRIGGER fill BEFORE INSERT ON records BEGIN"
             " INSERT INTO revoked_tokens VALUES(hex(randomblob(1000000)), 1); END");
    assert_int_equal(store_write(f->st, cap_growth, NULL), 0);
    new_msg(f, msg);
    r = put_as(f, DEV_A, msg, a, strlen(a));
    EXPECT(r, STORE_UNAVAILABLE, "not stored, retry: storing the record");
    assert_int_equal(store_write(f->st, exec_job, "PRAGMA max_page_count = 1073741823"), 0);
    shell(f, "DROP TRIGGER fill");
    assert_int_equal(query_int(f, "SELECT count(*) FROM receipts"), receipts0 + 2);
    assert_int_equal(query_int(f, "SELECT count(*) FROM quarantine"), 0);
    EXPECT(put_as(f, DEV_A, msg, a, strlen(a)), STORE_STORED, "stored");
}

static void *mixed_thread(void *p)
{
    thr *t = p;
    t->ok = 1;
    for (int i = 0; i < 25; i++) {
        uint8_t msg[16] = {0xaa, (uint8_t)t->id, (uint8_t)i};
        const char *j = (i % 5 == 4) ? "{\"Bad\":1}" : "{\"FirstName\":\"x\",\"Age\":7}";
        store_result r = put_as(t->f, DEV_B, msg, j, strlen(j));
        sqlite3 *rd = store_reader(t->f->st);
        if (r.outcome != ((i % 5 == 4) ? STORE_QUARANTINED : STORE_STORED) || !rd ||
            sqlite3_exec(rd, "SELECT count(*) FROM records", NULL, NULL, NULL) != SQLITE_OK)
            t->ok = 0;
    }
    return NULL;
}

static void concurrent_records_and_readers(void **state)
{
    fx *f = *state;
    run_threads(f, 8, mixed_thread);
    assert_int_equal(query_int(f, "SELECT count(*) FROM records"), 8 * 20);
    assert_int_equal(query_int(f, "SELECT count(*) FROM quarantine"), 8 * 5);
    assert_int_equal(count_files(f, ".bin"), 8 * 5);
    assert_int_equal(query_int(f, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
}

static void bad_arguments(void **state)
{
    fx *f = *state;
    uint8_t msg[16] = {1};
    store_receipt r = {.device_serial = "ABC", .msg_id = msg, .op = "record", .payload = (const uint8_t *)"{}",
                       .payload_len = 2, .sig = msg, .sig_len = 16, .session = "s"};
    store_result res;
    assert_int_equal(store_put_record(f->st, &r, &res), -1);
    assert_non_null(strstr(res.reason, "lower-case hex"));
    r.device_serial = "../x";
    assert_int_equal(store_put_record(f->st, &r, &res), -1);
    r.device_serial = DEV_A;
    r.sig_len = 0;
    assert_int_equal(store_put_record(f->st, &r, &res), -1);
    r.sig_len = 16;
    r.payload_len = STORE_PAYLOAD_MAX + 1;
    assert_int_equal(store_put_record(f->st, &r, &res), -1);
    r.payload_len = 2;
    assert_int_equal(store_put_record(f->st, &r, &res), 0);
    EXPECT(res, STORE_STORED, "stored");
    /* a device the devices table does not know: the foreign key refuses, nothing is acknowledged */
    r.device_serial = "abcdef";
    assert_int_equal(store_put_record(f->st, &r, &res), 0);
    EXPECT(res, STORE_UNAVAILABLE, "FOREIGN KEY");
    assert_int_equal(query_int(f, "SELECT count(*) FROM receipts WHERE device_serial = 'abcdef'"), 0);
}

/* ---- store_put_op: a signed operation's receipt and its own rows, together or not at all ---------------- */

typedef struct op_arg {
    int calls;
    int refuse; /* 1: STORE_OP_REFUSED; 2: a CHECK failure; 3: a foreign key (storage, not the sender) */
} op_arg;

static int message_rows(sqlite3 *db, int64_t receipt_id, void *arg, char *reason, size_t len)
{
    op_arg *a = arg;
    char sql[256];
    a->calls++;
    if (a->refuse == 1) {
        snprintf(reason, len, "bob's inbox is full");
        return STORE_OP_REFUSED;
    }
    snprintf(sql, sizeof sql,
             "INSERT INTO messages(sender_id, recipient_id, receipt_id, body, sent_at, deleted)"
             " VALUES(1, %d, %lld, 'hi', 1, %d)", a->refuse == 3 ? 99 : 1, (long long)receipt_id,
             a->refuse == 2 ? 7 : 0);
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? SQLITE_OK : sqlite3_extended_errcode(db);
}

static store_result put_op(fx *f, const uint8_t msg[16], const char *op, const char *payload, op_arg *a)
{
    static const uint8_t sig[64] = {9};
    store_receipt r = {.device_serial = DEV_A, .msg_id = msg, .op = op, .payload = (const uint8_t *)payload,
                       .payload_len = strlen(payload), .created_ms = 1800000000000LL, .sig = sig,
                       .sig_len = sizeof sig, .session = "sess", .seq = 3};
    store_result res;
    assert_int_equal(store_put_op(f->st, &r, message_rows, a, &res), 0);
    return res;
}

static void operations(void **state)
{
    fx *f = *state;
    uint8_t m1[16], m2[16];
    op_arg a = {0, 0};
    store_result res;

    new_msg(f, m1);
    res = put_op(f, m1, "compose", "{\"to\":\"alice\"}", &a);
    EXPECT(res, STORE_STORED, "stored as receipt");
    assert_int_equal(a.calls, 1);
    assert_int_equal(query_int(f, "SELECT count(*) FROM messages m JOIN receipts r ON r.id = m.receipt_id"
                                  " WHERE r.op = 'compose'"), 1);
    /* a resend: the first receipt's id, and its rows are not written twice */
    int64_t first = res.record_id;
    res = put_op(f, m1, "compose", "{\"to\":\"alice\"}", &a);
    EXPECT(res, STORE_DUPLICATE, "already stored");
    assert_int_equal(res.record_id, first);
    assert_int_equal(a.calls, 1);
    assert_int_equal(query_int(f, "SELECT count(*) FROM messages"), 1);
    /* the same msg_id for another payload, or another op */
    res = put_op(f, m1, "compose", "{\"to\":\"bob\"}", &a);
    EXPECT(res, STORE_CONFLICT, "another payload");
    res = put_op(f, m1, "send", "{\"to\":\"alice\"}", &a);
    EXPECT(res, STORE_CONFLICT, "another operation");
    /* the op's own rule, a CHECK, a foreign key: no receipt is left behind by any of them */
    new_msg(f, m2);
    a.refuse = 1;
    res = put_op(f, m2, "compose", "{}", &a);
    EXPECT(res, STORE_REFUSED, "bob's inbox is full");
    a.refuse = 2;
    res = put_op(f, m2, "compose", "{}", &a);
    EXPECT(res, STORE_REFUSED, "CHECK constraint");
    a.refuse = 3;
    res = put_op(f, m2, "compose", "{}", &a);
    EXPECT(res, STORE_REFUSED, "FOREIGN KEY");
    assert_int_equal(query_int(f, "SELECT count(*) FROM receipts WHERE op = 'compose'"), 1);
    assert_int_equal(query_int(f, "SELECT count(*) FROM messages"), 1);
    /* and after all of it the msg_id is still free for the operation that works */
    a.refuse = 0;
    res = put_op(f, m2, "compose", "{}", &a);
    EXPECT(res, STORE_STORED, "stored");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(insert_sql_builder),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(pragmas_read_back),
        T(key_file_refusals),
        T(records_table_refusals),
        T(stores_a_full_record),
        T(mapper_table),
        T(generated_required_and_live_schema),
        T(duplicates_and_conflicts),
        T(quarantine_files),
        T(quarantine_list_drop_and_stale_parts),
        T(quota),
        T(group_commit_batches),
        T(busy_database_waits),
        T(failed_commit_is_never_acknowledged),
        T(concurrent_records_and_readers),
        T(bad_arguments),
        T(operations),
#undef T
    };
    /* a common umask, so the modes checked are the ones the store chose, not the ones the umask left */
    umask(022);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
