/* SPDX-License-Identifier: MIT */
/*
 * store.c - opening chapter 06's store (folders, key, database, pragmas, schema) and its one writer thread
 * with group commit. The records mapper is records.c; the quarantine files are quarantine.c. store.h says
 * how the server uses all three.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/cli.h"
#include "core/narrate.h"
#include "store/store_internal.h"
#include "token/token.h"

_Static_assert(STORE_QKEY_LEN == TOKEN_SECRET_LEN, "the quarantine key is a token-sized key file");

/* The schema, exactly as chapter 06's other parts query it. STRICT everywhere: a TEXT in an INTEGER column
 * is an error, not a silent conversion, so the type checks of the mapper have a backstop in the engine. */
static const char SCHEMA[] =
    "CREATE TABLE accounts(id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " pw_hash TEXT NOT NULL, created_at INTEGER NOT NULL, failed INTEGER NOT NULL DEFAULT 0,"
    " locked_until INTEGER NOT NULL DEFAULT 0, tokens_valid_after INTEGER NOT NULL DEFAULT 0,"
    " last_seen INTEGER, disabled INTEGER NOT NULL DEFAULT 0 CHECK(disabled IN (0,1))) STRICT;"
    "CREATE TABLE devices(serial TEXT PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts(id),"
    " cert_pem TEXT NOT NULL, x5t BLOB NOT NULL UNIQUE,"
    " key_alg TEXT NOT NULL CHECK(key_alg IN ('ed25519','p256')), not_after INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, revoked_at INTEGER, reason TEXT,"
    " replaces TEXT REFERENCES devices(serial)) STRICT;" /* the certificate a re-enrolment superseded */
    "CREATE TABLE receipts(id INTEGER PRIMARY KEY, device_serial TEXT NOT NULL REFERENCES devices(serial),"
    " msg_id BLOB NOT NULL CHECK(length(msg_id) = 16), op TEXT NOT NULL, payload BLOB NOT NULL,"
    " payload_sha256 BLOB NOT NULL, created INTEGER NOT NULL, signature BLOB NOT NULL,"
    " received_at INTEGER NOT NULL, session TEXT NOT NULL, seq INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK(status IN ('stored','quarantined')), UNIQUE(device_serial, msg_id)) STRICT;"
    "CREATE TABLE records(receipt_id INTEGER PRIMARY KEY REFERENCES receipts(id), FirstName TEXT,"
    " LastName TEXT, Age INTEGER CHECK(Age BETWEEN 0 AND 150), Hight REAL, Address TEXT, Comments TEXT)"
    " STRICT;"
    "CREATE TABLE quarantine(id TEXT PRIMARY KEY, receipt_id INTEGER REFERENCES receipts(id),"
    " device_serial TEXT NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT;"
    "CREATE TABLE revoked_tokens(jti TEXT PRIMARY KEY, exp INTEGER NOT NULL) STRICT;"
    "CREATE TABLE schema_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;"
    "INSERT INTO schema_meta VALUES('created_by', 'course06 store, schema 1');"
    "PRAGMA user_version = 1;";

/* Schema 2: chapter 06's applications (messaging, R4; typed transfer, R5). What a client sends is a signed
 * operation, kept in receipts like a record's; these rows say what it means. Every query of them carries
 * recipient_id = :me or sender_id = :me (the acting account from the session, never from the request).
 * A schema-1 database gets exactly these statements, in one transaction, on its first open by this code. */
static const char SCHEMA_2[] =
    /* R4's messages: one per compose receipt; read_at/read_device make the read receipt, receipt_seen_at says
     * whether the sender has seen it */
    "CREATE TABLE messages(id INTEGER PRIMARY KEY, sender_id INTEGER NOT NULL REFERENCES accounts(id),"
    " recipient_id INTEGER NOT NULL REFERENCES accounts(id),"
    " receipt_id INTEGER NOT NULL UNIQUE REFERENCES receipts(id), body TEXT NOT NULL,"
    " sent_at INTEGER NOT NULL, read_at INTEGER, read_device TEXT, receipt_seen_at INTEGER,"
    " deleted INTEGER NOT NULL DEFAULT 0 CHECK(deleted IN (0,1))) STRICT;"
    "CREATE INDEX messages_inbox ON messages(recipient_id, read_at);"
    "CREATE INDEX messages_sent ON messages(sender_id, read_at);"
    /* R5's typed items: bytes, text, a JSON object or list inline; a file by its files row */
    /* a file: the files row (metadata; `have` is the bitmap of chunks on disk, bit i of byte i/8, so a
     * resumed upload sends only the rest) and DATA/files/<id>.part, then <id> once its SHA-256 matched. The
     * recipient is an items row's: one upload may be sent to several people */
    "CREATE TABLE files(id TEXT PRIMARY KEY CHECK(length(id) = 32),"
    " owner_id INTEGER NOT NULL REFERENCES accounts(id),"
    " receipt_id INTEGER NOT NULL UNIQUE REFERENCES receipts(id),"
    " name TEXT NOT NULL, ext TEXT NOT NULL, size INTEGER NOT NULL CHECK(size >= 0),"
    " sha256 BLOB NOT NULL CHECK(length(sha256) = 32), chunk_size INTEGER NOT NULL CHECK(chunk_size > 0),"
    " chunks INTEGER NOT NULL CHECK(chunks >= 0), have BLOB NOT NULL CHECK(length(have) = (chunks + 7) / 8),"
    " received INTEGER NOT NULL DEFAULT 0 CHECK(received BETWEEN 0 AND chunks),"
    " complete INTEGER NOT NULL DEFAULT 0 CHECK(complete IN (0,1)), created_at INTEGER NOT NULL) STRICT;"
    "CREATE TABLE items(id INTEGER PRIMARY KEY, sender_id INTEGER NOT NULL REFERENCES accounts(id),"
    " recipient_id INTEGER NOT NULL REFERENCES accounts(id),"
    " receipt_id INTEGER NOT NULL UNIQUE REFERENCES receipts(id),"
    " type TEXT NOT NULL CHECK(type IN ('bytes','text','object','list','file')), value BLOB,"
    " file_id TEXT REFERENCES files(id), sent_at INTEGER NOT NULL, fetched_at INTEGER) STRICT;"
    "CREATE INDEX items_inbox ON items(recipient_id, fetched_at);"
    "UPDATE schema_meta SET value = 'course06 store, schema 2' WHERE key = 'created_by';"
    "PRAGMA user_version = 2;";

/* ---- folders and the key ------------------------------------------------------------------------- */

/* mkdir 0700, or check that the existing one is a directory of ours nobody else can enter */
static int private_dir(const char *path, char *err, size_t err_len)
{
    struct stat s;
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (lstat(path, &s) != 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(s.st_mode)) {
        snprintf(err, err_len, "%s is not a directory", path);
        return -1;
    }
    if (s.st_uid != geteuid()) {
        snprintf(err, err_len, "%s belongs to user %u, not to this server's user %u", path,
                 (unsigned)s.st_uid, (unsigned)geteuid());
        return -1;
    }
    /* it holds the records and the quarantine: other users have no business listing it */
    if (cli_mode_open(s.st_mode)) {
        snprintf(err, err_len, "%s is open to other users (mode %03o); run: chmod 700 %s", path,
                 (unsigned)(s.st_mode & 0777), path);
        return -1;
    }
    return 0;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* The quarantine key is made, written and loaded by the token module's key-file code, the same rules by the
 * same lines: 32 bytes from RAND_priv_bytes, a new file with O_EXCL|O_NOFOLLOW and mode 0600 (two servers
 * starting together cannot both write one), and on load a regular file (no link followed) of ours, with one
 * name, that nobody else can read or write, of exactly 32 bytes. Whoever reads it reads every quarantined
 * record, as whoever reads the token key mints logins. */
static int load_qkey(store *st, char *err, size_t err_len)
{
    char *path = join(st->dir, STORE_QKEY_NAME), werr[256] = "";
    struct stat s;
    token_key k;
    int rc = -1;

    if (!path) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (lstat(path, &s) != 0 && errno == ENOENT) {
        /* a failed write (a second server won the O_EXCL race, a full disk) is judged by the load below */
        if (token_key_generate(&k) != 0)
            snprintf(werr, sizeof werr, "no randomness for a new key");
        else if (token_key_write(&k, path, werr, sizeof werr) == 0)
            werr[0] = '\0';
        token_key_clear(&k);
    }
    if (token_key_load(&k, path, err, err_len) != 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", werr[0] ? werr : err);
        snprintf(err, err_len, "quarantine key: %s", why);
        goto end;
    }
    memcpy(st->qkey, k.secret, STORE_QKEY_LEN);
    rc = 0;
end:
    token_key_clear(&k);
    free(path);
    return rc;
}

/* ---- connections ----------------------------------------------------------------------------------- */

static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t out_len)
{
    sqlite3_stmt *s;
    int rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
        snprintf(out, out_len, "%s", (const char *)sqlite3_column_text(s, 0));
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

/* Open one connection with the store's settings and check each one took: a pragma SQLite does not know,
 * or cannot apply, is silently ignored, so only reading it back proves it. */
static sqlite3 *connect_db(const char *path, int readonly, char *err, size_t err_len)
{
    sqlite3 *db = NULL;
    char v[32];
    int on = -1;
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX |
                SQLITE_OPEN_NOFOLLOW;

    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    /* DEFENSIVE: no writable_schema, no journal_mode=OFF, no shadow-table writes through SQL */
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK || on != 1) {
        snprintf(err, err_len, "%s: SQLITE_DBCONFIG_DEFENSIVE could not be set", path);
        goto fail;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    /* trusted_schema off: a view or trigger planted in the file cannot call functions with side effects */
    if (sqlite3_exec(db, "PRAGMA trusted_schema=OFF; PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    /* journal_mode answers the mode it is in now: "wal", or the old mode when it could not switch */
    if (pragma_text(db, readonly ? "PRAGMA journal_mode" : "PRAGMA journal_mode=WAL", v, sizeof v) != 0 ||
        strcmp(v, "wal") != 0) {
        snprintf(err, err_len, "%s: journal_mode is '%s', not 'wal'", path, v);
        goto fail;
    }
    if (pragma_text(db, "PRAGMA synchronous", v, sizeof v) != 0 || strcmp(v, "2") != 0) {
        snprintf(err, err_len, "%s: synchronous is %s, not 2 (FULL)", path, v);
        goto fail;
    }
    if (pragma_text(db, "PRAGMA foreign_keys", v, sizeof v) != 0 || strcmp(v, "1") != 0) {
        snprintf(err, err_len, "%s: foreign_keys did not turn on", path);
        goto fail;
    }
    return db;
fail:
    sqlite3_close(db);
    return NULL;
}

static void reader_forget(void *p)
{
    (void)p; /* the connection stays on st->readers, and store_close closes it */
}

sqlite3 *store_reader(store *st)
{
    sqlite3 *db = pthread_getspecific(st->reader_key);
    char err[256];
    store_reader_conn *c;

    if (db)
        return db;
    db = connect_db(st->db_path, 1, err, sizeof err);
    if (!db)
        return NULL;
    c = malloc(sizeof *c);
    if (!c || pthread_setspecific(st->reader_key, db) != 0) {
        free(c);
        sqlite3_close(db);
        return NULL;
    }
    c->db = db;
    pthread_mutex_lock(&st->mu);
    c->next = st->readers;
    st->readers = c;
    pthread_mutex_unlock(&st->mu);
    return db;
}

/* A read-write connection of its own for a caller that serialises its use (06's accounts): same settings,
 * checked the same way. Its writes wait for the writer's transaction (busy_timeout), never the reverse for
 * long: each is one short statement. */
sqlite3 *store_connect(store *st, char *err, size_t err_len)
{
    return connect_db(st->db_path, 0, err, err_len);
}

/* ---- the crash switch (tests only) ----------------------------------------------------------------- */

/* A claim like "no acknowledged record is ever lost" is tested by killing the server exactly where a bug
 * would lose one. A kill from outside lands anywhere; these four points land where it matters. They are
 * turned on only by COURSE06_CRASH in the environment, and loudly; unset, each point is one compare. */
static const char *const CRASH_NAMES[] = {
    [STORE_CRASH_BEFORE_COMMIT] = "before-commit",
    [STORE_CRASH_AFTER_COMMIT] = "after-commit",
    [STORE_CRASH_MID_BATCH] = "mid-batch",
    [STORE_CRASH_QUARANTINE_WRITE] = "quarantine-write",
};

/* COURSE06_CRASH=POINT[:N]; unset or empty: off. Anything else it does not know is a refusal to start,
 * never a switch silently off (a crash test that crashes nothing would pass for the wrong reason). */
static int crash_switch(store *st, char *err, size_t err_len)
{
    const char *v = getenv("COURSE06_CRASH"), *colon;
    size_t len;
    char *end = NULL;

    if (!v || !*v)
        return 0;
    colon = strchr(v, ':');
    len = colon ? (size_t)(colon - v) : strlen(v);
    for (int p = STORE_CRASH_BEFORE_COMMIT; p <= STORE_CRASH_QUARANTINE_WRITE; p++)
        if (strlen(CRASH_NAMES[p]) == len && strncmp(v, CRASH_NAMES[p], len) == 0)
            st->crash = (store_crash_point)p;
    st->crash_at = 1;
    if (colon) {
        errno = 0;
        st->crash_at = strtoul(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || st->crash_at < 1 || st->crash_at > 1000000)
            st->crash = STORE_CRASH_NONE;
    }
    if (st->crash == STORE_CRASH_NONE) {
        snprintf(err, err_len, "COURSE06_CRASH='%.40s': expected before-commit, after-commit, mid-batch or "
                 "quarantine-write, optionally :N (1 to 1000000); unset it for a normal run", v);
        return -1;
    }
    warning("COURSE06_CRASH=%s:%lu: fault injection for crash tests is ON: this process kills itself with "
            "SIGKILL at visit %lu of '%s'. Never set it outside a test.", CRASH_NAMES[st->crash],
            st->crash_at, st->crash_at, CRASH_NAMES[st->crash]);
    return 0;
}

void store_crash_check(store *st, store_crash_point p)
{
    char line[160];
    int n;

    if (st->crash != p || atomic_fetch_add(&st->crash_seen, 1) + 1 != st->crash_at)
        return;
    /* write(2), not stdio: nothing buffered, nothing locked, and the line is out before the kill */
    n = snprintf(line, sizeof line, "store: COURSE06_CRASH: reached %s (visit %lu): SIGKILL now\n",
                 CRASH_NAMES[p], st->crash_at);
    if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nothing to do: the kill below is the point */
    }
    /* SIGKILL, as the OOM killer or kill -9 would: no handler, no atexit, no flush, no sqlite3_close.
     * What the process wrote survives (in the kernel's page cache, if not yet on disk): a power cut would
     * take that too, which is why synchronous=FULL is checked apart from this (06_crash.sh, strace). */
    raise(SIGKILL);
}

/* ---- the writer ------------------------------------------------------------------------------------ */

/* BENCH / LAB ONLY (store_lab_options): both 0 in every normal run */
static int lab_no_group, lab_sync_normal;

void store_lab_options(int no_group, int sync_normal)
{
    lab_no_group = no_group;
    lab_sync_normal = sync_normal;
}

static int exec_ok(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/* One batch: BEGIN IMMEDIATE, a SAVEPOINT per job, COMMIT. Results are set here, waiters woken by the
 * caller. A job that leaves the transaction gone (SQLite rolls the whole transaction back on some errors,
 * SQLITE_FULL among them) takes the batch with it: everything before it is gone too. That case needs no
 * test of its own: its savepoint is gone with it, so the ROLLBACK TO or RELEASE that follows fails, and a
 * failed savepoint statement fails the batch. */
static void run_batch(store *st, store_job *jobs)
{
    sqlite3 *db = st->wdb;
    int ok = exec_ok(db, "BEGIN IMMEDIATE");
    size_t n = 0;

    for (store_job *j = jobs; j; j = j->next) {
        n++;
        if (!ok)
            continue;
        if (!exec_ok(db, "SAVEPOINT job")) {
            ok = 0;
            continue;
        }
        j->result = j->fn(db, j->arg);
        if (j->result != 0 && !exec_ok(db, "ROLLBACK TO job"))
            ok = 0;
        else if (!exec_ok(db, "RELEASE job"))
            ok = 0;
        /* crash test: this job's rows are in the open transaction, the next job's not yet */
        if (ok && j->next)
            store_crash_check(st, STORE_CRASH_MID_BATCH);
    }
    /* crash test: every job of the batch ran, nothing is committed: the batch must vanish as a whole */
    if (ok)
        store_crash_check(st, STORE_CRASH_BEFORE_COMMIT);
    /* the COMMIT is the fsync of the WAL under synchronous=FULL: only after it may anyone hear "stored" */
    if (ok && !exec_ok(db, "COMMIT"))
        ok = 0;
    if (!ok && !sqlite3_get_autocommit(db))
        exec_ok(db, "ROLLBACK");
    for (store_job *j = jobs; j; j = j->next)
        if (!ok)
            j->result = STORE_ERR_UNAVAILABLE;
    pthread_mutex_lock(&st->mu);
    st->jobs += n;
    if (ok)
        st->commits++;
    pthread_mutex_unlock(&st->mu);
}

static void deadline_after_us(struct timespec *ts, long us)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_nsec += us * 1000;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *writer_main(void *p)
{
    store *st = p;
    const size_t batch_max = lab_no_group ? 1 : STORE_BATCH_MAX; /* BENCH / LAB: 1 = no group commit */
    pthread_mutex_lock(&st->mu);
    for (;;) {
        store_job *batch, *last;
        size_t n = 1;
        while (!st->head && !st->stopping)
            pthread_cond_wait(&st->work_cv, &st->mu);
        if (!st->head)
            break; /* stopping, and the queue has drained */
        /* group commit: give other workers up to 1 ms to add to this batch, unless it is full */
        if (st->queued < batch_max && !st->stopping) {
            struct timespec ts;
            deadline_after_us(&ts, STORE_BATCH_WAIT_US);
            while (st->queued < batch_max && !st->stopping)
                if (pthread_cond_timedwait(&st->work_cv, &st->mu, &ts) != 0)
                    break;
        }
        batch = last = st->head;
        while (n < batch_max && last->next) {
            last = last->next;
            n++;
        }
        st->head = last->next;
        if (!st->head)
            st->tail = NULL;
        last->next = NULL;
        st->queued -= n;
        pthread_mutex_unlock(&st->mu);

        run_batch(st, batch);

        pthread_mutex_lock(&st->mu);
        for (store_job *j = batch; j;) {
            store_job *next = j->next; /* j lives on its waiter's stack: read next before done */
            j->done = 1;
            j = next;
        }
        pthread_cond_broadcast(&st->done_cv);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

int store_write(store *st, store_job_fn fn, void *arg)
{
    store_job job = {.fn = fn, .arg = arg};
    if (!st || !fn)
        return STORE_ERR_UNAVAILABLE;
    pthread_mutex_lock(&st->mu);
    if (st->stopping) {
        pthread_mutex_unlock(&st->mu);
        return STORE_ERR_UNAVAILABLE;
    }
    if (st->tail)
        st->tail->next = &job;
    else
        st->head = &job;
    st->tail = &job;
    st->queued++;
    pthread_cond_signal(&st->work_cv);
    while (!job.done)
        pthread_cond_wait(&st->done_cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    /* crash test: committed (and fsynced), the worker holds the result, the reply is not yet sent: the
     * client hears nothing and must resend, and its resend must be answered "duplicate" */
    if (job.result == 0)
        store_crash_check(st, STORE_CRASH_AFTER_COMMIT);
    return job.result;
}

void store_stats(store *st, uint64_t *jobs, uint64_t *commits)
{
    pthread_mutex_lock(&st->mu);
    if (jobs)
        *jobs = st->jobs;
    if (commits)
        *commits = st->commits;
    pthread_mutex_unlock(&st->mu);
}

const char *store_describe(const store *st)
{
    return st ? st->describe : "";
}

/* ---- open and close -------------------------------------------------------------------------------- */

static int open_schema(store *st, char *err, size_t err_len)
{
    sqlite3_stmt *s;
    int uv = -1;

    if (sqlite3_prepare_v2(st->wdb, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        uv = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (uv == 0) {
        /* one transaction: a crash halfway leaves no half schema */
        if (!exec_ok(st->wdb, "BEGIN IMMEDIATE")) {
            snprintf(err, err_len, "%s: %s", st->db_path, sqlite3_errmsg(st->wdb));
            return -1;
        }
        if (!exec_ok(st->wdb, SCHEMA) || !exec_ok(st->wdb, SCHEMA_2) || !exec_ok(st->wdb, "COMMIT")) {
            snprintf(err, err_len, "%s: creating the schema: %s", st->db_path, sqlite3_errmsg(st->wdb));
            exec_ok(st->wdb, "ROLLBACK");
            return -1;
        }
    } else if (uv == 1) {
        /* a database from before messaging: add its tables, nothing else changes */
        if (!exec_ok(st->wdb, "BEGIN IMMEDIATE") || !exec_ok(st->wdb, SCHEMA_2) ||
            !exec_ok(st->wdb, "COMMIT")) {
            snprintf(err, err_len, "%s: upgrading the schema from version 1 to 2: %s", st->db_path,
                     sqlite3_errmsg(st->wdb));
            exec_ok(st->wdb, "ROLLBACK");
            return -1;
        }
    } else if (uv != STORE_SCHEMA_VERSION) {
        snprintf(err, err_len, "%s has schema version %d; this server knows version %d", st->db_path, uv,
                 STORE_SCHEMA_VERSION);
        return -1;
    }
    return store_records_check_schema(st->wdb, err, err_len);
}

/* SQLite creates the database with the process's umask; making the file first, 0600, decides instead */
static int private_file(const char *path, char *err, size_t err_len)
{
    struct stat s;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode) || s.st_uid != geteuid() || cli_mode_open(s.st_mode)) {
        snprintf(err, err_len, "%s must be a regular file of this user with mode 0600 (it is %03o)", path,
                 (unsigned)(s.st_mode & 0777));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int store_open(const char *dir, store **out, char *err, size_t err_len)
{
    store *st;
    char *qdir = NULL;

    *out = NULL;
    if (!dir || !*dir) {
        snprintf(err, err_len, "no data directory");
        return -1;
    }
    st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    st->qdir_fd = -1;
    atomic_init(&st->crash_seen, 0);
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->qmu, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the 1 ms batch wait ignores clock changes */
        pthread_cond_init(&st->work_cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    pthread_cond_init(&st->done_cv, NULL);
    if (pthread_key_create(&st->reader_key, reader_forget) != 0) {
        snprintf(err, err_len, "pthread_key_create failed");
        goto fail;
    }
    st->reader_key_made = 1;
    st->dir = strdup(dir);
    st->db_path = join(dir, STORE_DB_NAME);
    qdir = join(dir, STORE_QDIR_NAME);
    if (!st->dir || !st->db_path || !qdir) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    if (crash_switch(st, err, err_len) != 0 || private_dir(dir, err, err_len) != 0 ||
        private_dir(qdir, err, err_len) != 0 ||
        load_qkey(st, err, err_len) != 0 || private_file(st->db_path, err, err_len) != 0)
        goto fail;
    st->qdir_fd = open(qdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (st->qdir_fd < 0) {
        snprintf(err, err_len, "%s: %s", qdir, strerror(errno));
        goto fail;
    }
    st->wdb = connect_db(st->db_path, 0, err, err_len);
    if (!st->wdb || open_schema(st, err, err_len) != 0 || store_q_scan(st, err, err_len) != 0)
        goto fail;
    snprintf(st->describe, sizeof st->describe, "WAL, synchronous=FULL (2), foreign keys on");
    if (lab_sync_normal || lab_no_group) { /* BENCH / LAB ONLY: store_lab_options */
        char v[32];
        if (lab_sync_normal && (!exec_ok(st->wdb, "PRAGMA synchronous=NORMAL") ||
                                pragma_text(st->wdb, "PRAGMA synchronous", v, sizeof v) != 0 || strcmp(v, "1"))) {
            snprintf(err, err_len, "LAB: synchronous=NORMAL did not take");
            goto fail;
        }
        snprintf(st->describe, sizeof st->describe, "WAL, synchronous=%s, foreign keys on; LAB:%s%s",
                 lab_sync_normal ? "NORMAL (1)" : "FULL (2)", lab_sync_normal ? " NOT POWER-LOSS SAFE" : "",
                 lab_no_group ? " no group commit" : "");
    }
    if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
        snprintf(err, err_len, "cannot start the writer thread");
        goto fail;
    }
    st->thread_started = 1;
    free(qdir);
    *out = st;
    return 0;
fail:
    free(qdir);
    store_close(st);
    return -1;
}

void store_close(store *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->stopping = 1;
    pthread_cond_broadcast(&st->work_cv);
    pthread_mutex_unlock(&st->mu);
    if (st->thread_started)
        pthread_join(st->writer, NULL);
    store_records_close(st);
    sqlite3_close(st->wdb);
    while (st->readers) {
        store_reader_conn *c = st->readers;
        st->readers = c->next;
        /* a statement a caller kept prepared on its thread's reader (06's device_require) goes with it */
        for (sqlite3_stmt *s; (s = sqlite3_next_stmt(c->db, NULL)) != NULL;)
            sqlite3_finalize(s);
        sqlite3_close(c->db);
        free(c);
    }
    if (st->reader_key_made) {
        pthread_setspecific(st->reader_key, NULL);
        pthread_key_delete(st->reader_key);
    }
    if (st->qdir_fd >= 0)
        close(st->qdir_fd);
    OPENSSL_cleanse(st->qkey, sizeof st->qkey);
    free(st->quota);
    free(st->dir);
    free(st->db_path);
    pthread_cond_destroy(&st->work_cv);
    pthread_cond_destroy(&st->done_cv);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->qmu);
    free(st);
}
