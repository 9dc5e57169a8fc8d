/* SPDX-License-Identifier: MIT */
/*
 * 06-sqlbench - the store alone, for `make bench`: one of the bounds beside
 * 06-load's figures. The same store module 06-server uses (schema, WAL,
 * synchronous=FULL, the one writer thread and its group commit), the same
 * receipt and record as 06-load sends (its JSON, a 64-byte signature), the
 * same concurrency (N threads, each a device, each waiting for its COMMIT
 * before the next record, as a session does). No TLS, no HTTP, no envelope,
 * no signature check: what SQLite and the disk allow with this policy.
 *
 *   06-sqlbench --data DIR --threads 32 --records 200 [--no-group] [--sync-normal]
 *
 * --no-group and --sync-normal are the benchmark's switches of the store
 * (store_lab_options), for the rows that show what each choice costs.
 */
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "store/store.h"

static const char USAGE[] =
    "usage: 06-sqlbench --data DIR [--threads N] [--records R] [--no-group] [--sync-normal] [-q]\n"
    "Chapter 06's store alone: N threads store R records each through the group-commit\n"
    "writer (WAL, synchronous=FULL); prints records/s and records per COMMIT.\n"
    "  --data DIR      a new folder for the store (it is made; use a fresh one)\n"
    "  --threads N     concurrent writers, each a device (default 16, at most 256)\n"
    "  --records R     records per thread (default 200)\n"
    "  --no-group      one record per COMMIT (BENCH ONLY)\n"
    "  --sync-normal   synchronous=NORMAL: NOT power-loss safe (BENCH ONLY)\n"
    "Exit status: 0 when every record was stored, 1 otherwise, 2 usage.\n";

typedef struct sb_worker {
    store *st;
    long idx, records, ok;
    char serial[33];
} sb_worker;

static pthread_barrier_t start_line;

/* an account and a device per thread: receipts.device_serial must name a device row */
static int seed(sqlite3 *db, void *arg)
{
    sb_worker *w = arg;
    sqlite3_stmt *s = NULL;
    char user[32];
    uint8_t x5t[32];
    int rc = SQLITE_ERROR;
    snprintf(user, sizeof user, "bench%ld", w->idx);
    if (RAND_bytes(x5t, sizeof x5t) != 1)
        return rc;
    if (sqlite3_prepare_v2(db, "INSERT INTO accounts(username, pw_hash, created_at) VALUES(?1, 'x', 0)", -1,
                           &s, NULL) != SQLITE_OK)
        return rc;
    sqlite3_bind_text(s, 1, user, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_finalize(s);
    if (rc != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO devices(serial, account_id, cert_pem, x5t, key_alg, not_after, "
                               "created_at) VALUES(?1, last_insert_rowid(), 'x', ?2, 'ed25519', 0, 0)",
                           -1, &s, NULL) != SQLITE_OK)
        return SQLITE_ERROR;
    sqlite3_bind_text(s, 1, w->serial, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, x5t, sizeof x5t, SQLITE_STATIC);
    rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_finalize(s);
    return rc;
}

static void *worker_main(void *p)
{
    sb_worker *w = p;
    uint8_t sig[64];
    RAND_bytes(sig, sizeof sig);
    pthread_barrier_wait(&start_line);
    for (long r = 0; r < w->records; r++) {
        uint8_t id[16];
        char rec[160];
        store_result res;
        /* 06-load's record, byte for byte */
        int n = snprintf(rec, sizeof rec,
                         "{\"FirstName\": \"Pedro\", \"LastName\": \"Pascal\", \"Age\": 49, "
                         "\"Comments\": \"load session %ld record %ld\"}",
                         w->idx, r);
        RAND_bytes(id, sizeof id);
        store_receipt rc = {.device_serial = w->serial, .msg_id = id, .op = "record",
                            .payload = (const uint8_t *)rec, .payload_len = (size_t)n,
                            .created_ms = 1, .sig = sig, .sig_len = sizeof sig,
                            .session = "benchbenchbenchbenchbe", .seq = (uint64_t)r + 2};
        if (store_put_record(w->st, &rc, &res) == 0 && res.outcome == STORE_STORED)
            w->ok++;
    }
    pthread_barrier_wait(&start_line);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},   {"threads", required_argument, NULL, 't'},
        {"records", required_argument, NULL, 'r'}, {"no-group", no_argument, NULL, 'G'},
        {"sync-normal", no_argument, NULL, 'Y'},  CLI_COMMON_OPTIONS,
        {0},
    };
    const char *dir = NULL;
    long threads = 16, records = 200;
    int no_group = 0, sync_normal = 0, ch, rc = EXIT_FAILED;
    char err[512];
    store *st = NULL;

    narrate_init("06-sqlbench", "client");
    while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(ch, USAGE))
            continue;
        switch (ch) {
        case 'd': dir = optarg; break;
        case 't': threads = cli_long("--threads", optarg, 1, 256); break;
        case 'r': records = cli_long("--records", optarg, 1, 100000); break;
        case 'G': no_group = 1; break;
        case 'Y': sync_normal = 1; break;
        default: cli_usage_error("unknown option");
        }
    }
    if (!dir || optind != argc)
        cli_usage_error("--data DIR, and no arguments besides the options");
    store_lab_options(no_group, sync_normal);
    if (store_open(dir, &st, err, sizeof err) != 0) {
        errorf("store", "%s", err);
        return EXIT_FAILED;
    }
    sb_worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    if (!ws || !th)
        goto out;
    for (long i = 0; i < threads; i++) {
        ws[i] = (sb_worker){.st = st, .idx = i, .records = records};
        snprintf(ws[i].serial, sizeof ws[i].serial, "%032lx", (unsigned long)i + 1);
        if (store_write(st, seed, &ws[i]) != 0) {
            errorf("store", "cannot add the bench's device %ld", i);
            goto out;
        }
    }
    uint64_t jobs0, commits0, jobs1, commits1;
    store_stats(st, &jobs0, &commits0);
    pthread_barrier_init(&start_line, NULL, (unsigned)threads + 1);
    for (long i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, worker_main, &ws[i]) != 0)
            abort(); /* the barrier counts on every thread */
    pthread_barrier_wait(&start_line);
    double t0 = now_s();
    pthread_barrier_wait(&start_line);
    double secs = now_s() - t0;
    for (long i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start_line);
    store_stats(st, &jobs1, &commits1);
    long ok = 0;
    for (long i = 0; i < threads; i++)
        ok += ws[i].ok;
    uint64_t commits = commits1 - commits0;
    printf("06-sqlbench: %ld threads x %ld: %.0f records/s, %llu COMMITs (%.1f records each), %ld of %ld "
           "stored in %.3f s (%s%s)\n",
           threads, records, secs > 0 ? (double)ok / secs : 0, (unsigned long long)commits,
           commits ? (double)(jobs1 - jobs0) / (double)commits : 0, ok, threads * records, secs,
           sync_normal ? "synchronous=NORMAL, NOT power-loss safe" : "synchronous=FULL",
           no_group ? ", no group commit" : ", group commit");
    rc = ok == threads * records ? EXIT_OK : EXIT_FAILED;
out:
    store_close(st);
    free(ws);
    free(th);
    return rc;
}
