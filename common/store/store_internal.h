/* SPDX-License-Identifier: MIT */
/*
 * store_internal.h - what the store module's files share (store.c: opening, the writer; records.c: the
 * mapper; quarantine.c: the encrypted files). Not for use outside common/store.
 */
#ifndef COURSE_STORE_INTERNAL_H
#define COURSE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "store/store.h"

/* one records column, as pragma_table_xinfo gave it */
typedef enum col_type { COL_INTEGER, COL_REAL, COL_TEXT, COL_BLOB, COL_ANY } col_type;
typedef struct store_col {
    char name[STORE_NAME_MAX + 1];
    col_type type;
    int required; /* NOT NULL without a default */
} store_col;

/* a prepared INSERT for one set of present columns */
typedef struct store_stmt {
    uint64_t mask;
    sqlite3_stmt *stmt;
} store_stmt;
#define STORE_STMT_CACHE 32

/* quarantine usage of one device */
typedef struct store_quota {
    char device[STORE_SERIAL_MAX + 1];
    unsigned files;
    uint64_t bytes;
} store_quota;

typedef struct store_job {
    store_job_fn fn;
    void *arg;
    int result;
    int done;
    struct store_job *next;
} store_job;

/* The crash switch, for tests/chapters/06_crash.sh only: COURSE06_CRASH=POINT[:N] kills the process with
 * SIGKILL the Nth time (default: the first) any thread reaches POINT. store_open reads it once, refuses a
 * value it does not know, and prints a warning when it is set; unset, each point costs one compare. */
typedef enum store_crash_point {
    STORE_CRASH_NONE,
    STORE_CRASH_BEFORE_COMMIT,   /* run_batch: every job of the batch ran, COMMIT not yet sent */
    STORE_CRASH_AFTER_COMMIT,    /* store_write: committed, the worker has the result, nobody has heard it */
    STORE_CRASH_MID_BATCH,       /* run_batch: a job released its savepoint, another job of the batch waits */
    STORE_CRASH_QUARANTINE_WRITE /* store_q_write: half of ID.part written, not fsynced, not linked */
} store_crash_point;

typedef struct store_reader_conn {
    sqlite3 *db;
    struct store_reader_conn *next;
} store_reader_conn;

struct store {
    char *dir;
    char *db_path;
    int qdir_fd;
    uint8_t qkey[STORE_QKEY_LEN];
    char describe[128];

    sqlite3 *wdb; /* the writer's: used on the writer thread only (and by store_open before it starts) */

    /* the writer's queue */
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a job arrived, or stop */
    pthread_cond_t done_cv; /* a batch finished */
    store_job *head, *tail;
    size_t queued;
    int stopping;
    int thread_started;
    pthread_t writer;
    uint64_t jobs, commits;

    /* the crash switch (tests only, see store_crash_point) */
    store_crash_point crash;
    unsigned long crash_at;
    atomic_ulong crash_seen;

    /* the mapper's view of records: writer thread only */
    int cols_valid;
    int schema_version;
    size_t ncols;
    store_col cols[STORE_FIELDS_MAX];
    char cols_problem[256]; /* non-empty: records is unusable as it is now, and why */
    store_stmt stmts[STORE_STMT_CACHE];
    size_t nstmts, stmt_next;
    sqlite3_stmt *receipt_stmt, *version_stmt; /* kept from first use to store_close */

    /* readers */
    pthread_key_t reader_key;
    int reader_key_made;
    store_reader_conn *readers; /* under mu */

    /* quarantine quota, under qmu */
    pthread_mutex_t qmu;
    store_quota *quota;
    size_t nquota;
};

/* store.c: if the crash switch names p, count this visit and die by SIGKILL on the Nth */
void store_crash_check(store *st, store_crash_point p);

/* records.c */
int store_records_check_schema(sqlite3 *db, char *err, size_t err_len);
void store_records_reset(store *st);  /* drops the per-column-set INSERTs */
void store_records_close(store *st);  /* and the kept statements: before the writer's connection closes */
int store_valid_name(const char *s);

/* quarantine.c */
/* Encrypt and write a quarantine file for r with reason, fsync it and the directory; id receives the new
 * name. Counts against the device's quota first: 1 when over quota (nothing written), 0 written, -1 failed
 * (err). */
int store_q_write(store *st, const store_receipt *r, int64_t received_at, const char *reason,
                  char id[STORE_Q_ID_LEN + 1], char *err, size_t err_len);
int store_q_scan(store *st, char *err, size_t err_len);
int store_valid_qid(const char *id);

#endif
