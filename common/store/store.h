/* SPDX-License-Identifier: MIT */
/*
 * store.h - chapter 06's durable store: one SQLite database, R1's records table
 * mapped from signed JSON, the encrypted quarantine, and a group-commit writer.
 *
 * How the server uses it:
 *
 *     store *st;
 *     if (store_open("build/06", &st, err, sizeof err) != 0) { print err; exit 1; }
 *     narrate("store: %s", store_describe(st));   // "WAL, synchronous=FULL (2), foreign keys on"
 *     ...  // per verified DATA_REQUEST, on any worker thread:
 *     store_result res;
 *     store_put_record(st, &receipt, &res);       // answer only after this returns
 *     switch (res.outcome) { STORED/DUPLICATE: 200; CONFLICT: 409; QUARANTINED: a 4xx + reason;
 *                            QUARANTINE_FULL: 429; UNAVAILABLE: 503 "not stored, retry" }   // the server's choice
 *     ...
 *     store_close(st);
 *
 * The rules it keeps:
 * - One writer connection on one thread; every write goes through store_write(), which queues a job and
 *   returns only after the COMMIT holding it was durable (WAL + synchronous=FULL: the WAL is fsynced at each
 *   COMMIT). The writer takes up to STORE_BATCH_MAX jobs, or waits at most 1 ms for more, and puts them in one
 *   BEGIN IMMEDIATE ... COMMIT with a SAVEPOINT each: one fsync for many records, so the rate holds under FULL,
 *   and one job's failure rolls back only that job. A failed COMMIT fails every job of the batch: no false ack.
 * - The records table defines what a record is. Its columns are read from pragma_table_xinfo('records') and
 *   read again whenever PRAGMA schema_version moves (an ALTER TABLE in the sqlite3 shell), so a new column is
 *   accepted on the next record with no restart. JSON keys are compared by exact string equality with those
 *   names, so no byte of the JSON ever becomes SQL text: the INSERT is built from the schema's own names
 *   (checked against [A-Za-z_][A-Za-z0-9_]{0,63} and double-quoted) and every value is bound.
 * - A signed record that cannot be stored is never dropped: it goes into received_messages/ as an AES-256-GCM
 *   file under the quarantine key, with a random name (never a name from the client), and the client is told
 *   why in words it can act on.
 *
 * Where this departs from the design brief (06-design.md section 4), and why:
 * - The quarantine row has no `file` column: the file name is the row's id plus ".bin", so the two can
 *   never disagree, and a name is never read back from the database into a path.
 * - A full quarantine has its own outcome (STORE_QUARANTINE_FULL, the 429 of the brief) rather than being
 *   folded into STORE_UNAVAILABLE: "retry later" and "stop sending bad records" are different advice.
 * - A resend of a quarantined record (same device, msg_id and payload) answers STORE_QUARANTINED with the
 *   first quarantine id and writes no second file, so a client retrying in a loop cannot fill the quota.
 * - Times: receipts.received_at and quarantine.created_at are seconds since the epoch (like accounts);
 *   receipts.created is the client's milliseconds, as signed.
 * - A quarantine file holds the whole receipt (op, created, session, seq and received_at besides the brief's
 *   reason, device, msg_id, payload and signature), so a later replay can rebuild it from the file alone,
 *   as it must for a file whose row never committed. The AAD is "C06Q1" || IV || id: the IV is part of the
 *   header it authenticates.
 * - The file is written as ID.part and linked to ID.bin once whole (see quarantine.c): a crash never leaves
 *   half a .bin, and store_open removes stray .part files.
 * - Besides PRAGMA user_version (1), a STRICT table schema_meta(key, value) is there for a later migration to
 *   record what it did.
 */
#ifndef COURSE_STORE_H
#define COURSE_STORE_H

#include <limits.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_DB_NAME "course06.db"
#define STORE_QDIR_NAME "received_messages"
#define STORE_QKEY_NAME "quarantine.key"
#define STORE_QKEY_LEN 32              /* AES-256 */
#define STORE_SCHEMA_VERSION 2         /* PRAGMA user_version of the schema this code creates */
#define STORE_BATCH_MAX 64             /* jobs per COMMIT */
#define STORE_BATCH_WAIT_US 1000       /* how long the writer waits for a batch to fill */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_PAYLOAD_MAX (1u << 20)   /* a record's JSON text: 1 MiB, like an envelope's plaintext */
#define STORE_TEXT_MAX (64u * 1024u)   /* one TEXT or BLOB field */
#define STORE_FIELDS_MAX 63            /* records columns besides receipt_id (one bit each) */
#define STORE_NAME_MAX 64              /* a column name: [A-Za-z_][A-Za-z0-9_]{0,63} */
#define STORE_SERIAL_MAX 64            /* a device serial: lower-case hex */
#define STORE_Q_FILES_MAX 100          /* quarantine quota per device: files ... */
#define STORE_Q_BYTES_MAX (10u << 20)  /* ... or bytes on disk */
#define STORE_Q_MAGIC "C06Q1"
#define STORE_Q_ID_LEN 32              /* hex characters of a quarantine id (128 random bits) */

/* What store_write returns when the COMMIT (or the BEGIN) failed: nothing the job did is stored. A job's own
 * result must be 0 (keep) or any other value except this one. */
#define STORE_ERR_UNAVAILABLE INT_MIN

typedef struct store store;

/* Open or create DIR/course06.db (DIR 0700, the file 0600), DIR/received_messages/ (0700) and the quarantine
 * key DIR/quarantine.key (32 random bytes, 0600, made with O_EXCL; refused when it is not a regular file, not
 * ours, has a second hard link, can be read by group or other, or is not exactly 32 bytes: token_key_write
 * and token_key_load do both, so the two key files keep one set of rules). Every connection
 * gets journal_mode=WAL (the answer is checked), synchronous=FULL (read back: 2), foreign_keys=ON,
 * busy_timeout=5000, trusted_schema=OFF and SQLITE_DBCONFIG_DEFENSIVE. Creates the schema at user_version 0;
 * refuses a database from a newer version, a `records` table that is not STRICT, a column name outside
 * [A-Za-z_][A-Za-z0-9_]{0,63}, or more than 63 fields. Removes *.part files a crash left in the quarantine
 * directory, counts the quarantine per device (decrypting each file; one that does not decrypt counts for
 * nobody and is left for the administrator), and starts the writer thread. Returns 0, or -1 with err. */
int store_open(const char *dir, store **out, char *err, size_t err_len);

/* BENCH / LAB ONLY (bench/06_records.sh shows what each choice costs; 06-server takes them only with
 * --lab, and says so loudly). Call before store_open; they hold for every store opened afterwards.
 * no_group: one job per COMMIT, no batch wait (no group commit: one fsync per record).
 * sync_normal: the writer's connection runs synchronous=NORMAL: in WAL mode the WAL is then not fsynced at
 * COMMIT, so a record acknowledged before a power cut can be lost (a process crash loses nothing). */
void store_lab_options(int no_group, int sync_normal);

/* Stop the writer after its queue has drained, close every connection, wipe the key, free. No thread may be
 * inside a store_* call any more. NULL is fine. */
void store_close(store *st);

/* What store_open found, for the start-up narration: "WAL, synchronous=FULL (2), foreign keys on". */
const char *store_describe(const store *st);

/* A read-only connection for the calling thread, opened on first use with the same pragmas and closed by
 * store_close. NULL if it cannot be opened. Never write through it (it is opened read-only). */
sqlite3 *store_reader(store *st);

/* A read-write connection with the same settings, owned by the caller (sqlite3_close it), for a part that
 * serialises its own use and writes one short statement at a time (06's accounts). NULL with err. */
sqlite3 *store_connect(store *st, char *err, size_t err_len);

/* Run fn(db, arg) in the writer's transaction, inside its own SAVEPOINT: fn returns 0 to keep what it did,
 * anything else to roll back to the savepoint (the batch goes on). Returns only after the COMMIT holding the
 * job was durable: fn's result, or STORE_ERR_UNAVAILABLE if BEGIN or COMMIT failed (disk full, I/O error, a
 * busy database past the timeout, the store closing) or fn left the transaction broken: then nothing fn did
 * is stored. fn runs on the writer thread: it must not call store_write (that would wait for itself). */
typedef int (*store_job_fn)(sqlite3 *db, void *arg);
int store_write(store *st, store_job_fn fn, void *arg);

/* Counters since store_open, for tests and the benchmark: jobs run, and COMMITs that succeeded. */
void store_stats(store *st, uint64_t *jobs, uint64_t *commits);

/* A signed record, after the server verified its signature: the store never sees unauthenticated input. */
typedef struct store_receipt {
    const char *device_serial; /* lower-case hex, at most 64 characters; the devices row must exist */
    const uint8_t *msg_id;     /* 16 bytes, client-chosen: a resend stores once */
    const char *op;            /* the signed operation ("record") */
    const uint8_t *payload;    /* the record's JSON text, exactly as signed */
    size_t payload_len;
    int64_t created_ms;        /* the client's time stamp, as signed */
    const uint8_t *sig;
    size_t sig_len;
    const char *session;
    uint64_t seq;              /* at most INT64_MAX */
} store_receipt;

typedef enum store_outcome {
    STORE_STORED,          /* receipt and record committed: record_id */
    STORE_DUPLICATE,       /* same device + msg_id + payload as a stored one: its record_id */
    STORE_CONFLICT,        /* same device + msg_id, another payload: 409, nothing stored */
    STORE_QUARANTINED,     /* receipt ('quarantined') + quarantine row + file committed; reason says why */
    STORE_QUARANTINE_FULL, /* it would have been quarantined, but this device is over its quota: 429 */
    STORE_UNAVAILABLE,     /* not stored: retry (503). quarantine_id names the file kept, if any */
    STORE_REFUSED,         /* store_put_op only: the operation's own rule said no (reason); nothing stored */
} store_outcome;

typedef struct store_result {
    store_outcome outcome;
    int64_t record_id;      /* the receipt's id (= records.receipt_id) when STORED, DUPLICATE, QUARANTINED */
    char reason[512];       /* why, for the client: printable ASCII only */
    char quarantine_id[33]; /* "" or the 32-hex id of the quarantine file */
} store_result;

/* The outcome's name: "stored", "duplicate", ... */
const char *store_outcome_str(store_outcome o);

/* Validate the payload against the records table's columns as they are now, and store receipt + record in
 * one job through store_write. A record that fails validation, a CHECK or STRICT is quarantined; when the
 * store itself fails the record is kept in a quarantine file alone (no row) and the outcome is
 * STORE_UNAVAILABLE. The reasons: "not JSON: line 1, column 2: ...", "not a JSON object", "unknown field
 * 'Shoe' (accepted: FirstName, LastName, ...)", "fields 'age' and 'Age' differ only in case", "field 'Age'
 * must be an integer", "missing field 'X'", "Age: CHECK constraint failed", ... Returns 0 with res filled
 * (whatever the outcome), or -1 for a bad argument (res->reason says which; nothing stored). */
int store_put_record(store *st, const store_receipt *r, store_result *res);

/* The INSERT the mapper prepares for these columns, into out: `INSERT INTO records("receipt_id","A",...)
 * VALUES(?1,?2,...)`. Every name must match [A-Za-z_][A-Za-z0-9_]{0,63}; n <= STORE_FIELDS_MAX. Returns 0,
 * or -1 (a bad name, or out too small). Exposed so a test can see that only schema names reach SQL text. */
/* A signed operation that is not a record (chapter 06's messaging and transfer): its receipt row, exactly as
 * a record's (the payload kept, op named), and in the same transaction, savepoint and COMMIT the rows fn
 * writes for it (a messages row, an items row...), so that an acknowledged operation has all its rows and an
 * unacknowledged one none. fn gets the new receipt's id; it returns SQLITE_OK, STORE_OP_REFUSED after writing
 * a reason (a rule of the operation, a quota: everything is taken back, outcome STORE_REFUSED), or another
 * SQLite code (a constraint, CHECK, FOREIGN KEY or UNIQUE, or a STRICT type failure is STORE_REFUSED too,
 * anything else STORE_UNAVAILABLE). A resend
 * (same device, msg_id and payload) does not run fn: STORE_DUPLICATE with the first receipt's id, for the
 * caller to find its rows by; the same msg_id with another payload or op is STORE_CONFLICT. No quarantine:
 * an operation is answered, not kept for later. 0, or -1 for a bad argument (res says which). */
typedef int (*store_op_fn)(sqlite3 *db, int64_t receipt_id, void *arg, char *reason, size_t reason_len);
#define STORE_OP_REFUSED (-2)
int store_put_op(store *st, const store_receipt *r, store_op_fn fn, void *arg, store_result *res);

int store_records_insert_sql(const char *const *names, size_t n, char *out, size_t out_len);

/* ---- the quarantine --------------------------------------------------------------------------------- */

/* One quarantined message, decrypted. Strings are NUL-terminated; free with store_quarantined_free. */
typedef struct store_quarantined {
    char id[33];
    char *reason;
    char *device;
    uint8_t msg_id[16];
    char *op;
    int64_t created_ms;
    char *session;
    uint64_t seq;
    int64_t received_at; /* seconds */
    uint8_t *payload;
    size_t payload_len;
    uint8_t *sig;
    size_t sig_len;
    size_t file_size;    /* bytes on disk, what the quota counts */
    int broken;          /* listing only: the file does not decrypt; reason says why, the rest is empty */
} store_quarantined;

/* Wipes the payload and frees every member (not q itself). */
void store_quarantined_free(store_quarantined *q);

/* Read and decrypt quarantine file ID (exactly 32 lower-case hex: never a path). 0, or -1 with err
 * ("no such quarantined message", "authentication failed: the file was changed or the key is not its key"). */
int store_quarantine_read(store *st, const char *id, store_quarantined *out, char *err, size_t err_len);

/* Call fn for every quarantine file, decrypted, in directory order; fn returns 0 to go on, anything else to
 * stop. A file that does not decrypt (changed on disk, another key) is listed with broken = 1 and the reason,
 * so the administrator sees it and can drop it. Returns how many were listed, or -1 with err. */
typedef int (*store_quarantine_fn)(const store_quarantined *q, void *arg);
int store_quarantine_list(store *st, store_quarantine_fn fn, void *arg, char *err, size_t err_len);

/* Try quarantined message ID again against the records table as it is now (after an ALTER TABLE, say): if
 * the table takes it, the record is stored under its first receipt (now 'stored'), the quarantine row and
 * file go, and res says STORE_STORED; if not, res says STORE_QUARANTINED with today's reason and nothing
 * changes. The caller verifies the signature again first (the store trusts what it is given). 0 with res
 * filled, -1 for a bad id or an unreadable file (res->reason says which). */
int store_quarantine_replay(store *st, const char *id, store_result *res);

/* Remove quarantine file ID and its row (the receipt stays: it is the signed proof the message arrived), and
 * give the device its quota back. 0, or -1 with err. */
int store_quarantine_drop(store *st, const char *id, char *err, size_t err_len);

#endif
