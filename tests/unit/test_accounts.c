/* SPDX-License-Identifier: MIT */
/* Unit tests for chapter 06's accounts (06_full_protocol/accounts.c): the
 * username and password rules, duplicates in any case (R4 crashed there),
 * the Argon2id PHC strings, one answer for a wrong password and an unknown
 * user, the lockout on a fake clock, unlock and disable, the cap on hashes
 * at once, and the re-hash when the parameters go up.
 *
 * accounts.c is a chapter file, not a module, so it is compiled in here (as
 * test_tls.c does with 05's policy.c); the tests then reach the module's
 * semaphore to hold a hash slot for certain, instead of racing a thread.
 * Each test has its own SQLite file in a mkdtemp folder, and a second
 * connection ("peek") to read what was stored. Cheap Argon2 parameters
 * (8 KiB, 1 pass) where only the logic is tested; the real default where the
 * stored string is the point.
 *
 * For tests/interop/06_argon2.sh: with ACCOUNTS_EXPORT=FILE only the
 * interop test runs, and writes to FILE the stored string of a password
 * (line 1: the password, line 2: the string); with ACCOUNTS_IMPORT=FILE as
 * well, FILE's first line is a PHC string made by argon2-cffi for the same
 * password, which must log in (and be re-hashed to our parameters: line 3). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../06_full_protocol/accounts.c"

static const char DDL[] =
    "CREATE TABLE accounts(id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " pw_hash TEXT NOT NULL, created_at INTEGER NOT NULL, failed INTEGER NOT NULL DEFAULT 0,"
    " locked_until INTEGER NOT NULL DEFAULT 0, tokens_valid_after INTEGER NOT NULL DEFAULT 0,"
    " last_seen INTEGER, disabled INTEGER NOT NULL DEFAULT 0 CHECK(disabled IN (0,1))) STRICT;";

static const accounts_params CHEAP = {.m_kib = 8, .t = 1, .p = 1, .max_hashes = 2};

typedef struct fx {
    char dir[64], path[96];
    sqlite3 *peek; /* the test's own connection */
    accounts *a;
} fx;

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static int open_accounts(fx *f, const accounts_params *p)
{
    sqlite3 *db = open_db(f->path);
    return db ? accounts_open(db, p, &f->a) : -1;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_accounts.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
    if (!(f->peek = open_db(f->path)) || sqlite3_exec(f->peek, DDL, NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(f->peek, 2000);
    *state = f;
    return open_accounts(f, &CHEAP);
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    accounts_close(f->a);
    sqlite3_close(f->peek);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* One integer or text of the accounts row of user, through peek. */
static int64_t col_int(fx *f, const char *user, const char *col)
{
    char sql[128];
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    snprintf(sql, sizeof sql, "SELECT %s FROM accounts WHERE username = ?1", col);
    assert_int_equal(sqlite3_prepare_v2(f->peek, sql, -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void stored_hash(fx *f, const char *user, char *out, size_t out_len)
{
    sqlite3_stmt *s = NULL;
    out[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(f->peek, "SELECT pw_hash FROM accounts WHERE username = ?1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    snprintf(out, out_len, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

static accounts_status reg(fx *f, const char *user, const char *pw, int64_t now)
{
    int64_t id = -1;
    accounts_status st = accounts_register(f->a, user, pw, strlen(pw), now, &id);
    assert_true(st == ACCOUNTS_OK ? id > 0 : id == 0);
    return st;
}

static accounts_status login(fx *f, const char *user, const char *pw, int64_t now, unsigned *retry)
{
    return accounts_login(f->a, user, pw, strlen(pw), now, NULL, retry);
}

static void usernames(void **state)
{
    static const struct { const char *u; int ok; const char *why; } cases[] = {
        {"alice", 1, NULL}, {"bob", 1, NULL}, {"a.b-c_d9", 1, NULL},
        {"abcdefghijklmnopqrstuvwxyz012345", 1, NULL},            /* 32 */
        {"abcdefghijklmnopqrstuvwxyz0123456", 0, "at most 32"},   /* 33 */
        {"ab", 0, "3 to 32"}, {"", 0, "3 to 32"}, {NULL, 0, "3 to 32"},
        {"Alice", 0, "starts with a lower-case letter"},
        {"aLice", 0, "only a-z"}, {"9lives", 0, "starts with"}, {"_alice", 0, "starts with"},
        {"al/ce", 0, "only a-z"}, {"../etc", 0, "starts with"}, {"al ce", 0, "only a-z"},
        {"alice\n", 0, "only a-z"}, {"al'; --", 0, "only a-z"}, {"ali\xc3\xa7" "e", 0, "only a-z"},
    };
    char why[128];
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        why[0] = '\0';
        assert_int_equal(accounts_username_valid(cases[i].u, why, sizeof why), cases[i].ok);
        if (cases[i].why)
            assert_non_null(strstr(why, cases[i].why));
        else
            assert_string_equal(why, "");
    }
    /* a name cut short by a NUL is judged on what comes before it */
    assert_int_equal(accounts_username_valid("ab\0cdef", NULL, 0), 0);
}

static void password_lengths_and_names(void **state)
{
    fx *f = *state;
    char pw[1026];
    memset(pw, 'p', sizeof pw);
    pw[7] = '\0';
    assert_int_equal(reg(f, "seven", pw, 1), ACCOUNTS_BAD_PASSWORD);
    pw[7] = 'p';
    pw[8] = '\0';
    assert_int_equal(reg(f, "eight", pw, 1), ACCOUNTS_OK);
    pw[8] = 'p';
    pw[1024] = '\0';
    assert_int_equal(reg(f, "big", pw, 1), ACCOUNTS_OK);
    assert_int_equal(login(f, "big", pw, 2, NULL), ACCOUNTS_OK);
    pw[1024] = 'p';
    pw[1025] = '\0';
    assert_int_equal(reg(f, "toobig", pw, 1), ACCOUNTS_BAD_PASSWORD);
    /* login refuses to hash more than any account can hold */
    assert_int_equal(login(f, "big", pw, 2, NULL), ACCOUNTS_BAD_PASSWORD);
    /* no composition rules, and bytes are bytes (a NUL inside too) */
    assert_int_equal(accounts_register(f->a, "nul", "12345678\0abc", 12, 1, NULL), ACCOUNTS_OK);
    assert_int_equal(accounts_login(f->a, "nul", "12345678\0abc", 12, 2, NULL, NULL), ACCOUNTS_OK);
    assert_int_equal(accounts_login(f->a, "nul", "12345678", 8, 2, NULL, NULL), ACCOUNTS_WRONG);
    assert_int_equal(reg(f, "Upper", "long enough", 1), ACCOUNTS_BAD_NAME);
    assert_int_equal(reg(f, "a/b", "long enough", 1), ACCOUNTS_BAD_NAME);
    assert_int_equal(col_int(f, "seven", "count(*)"), 0);
    assert_string_equal(accounts_status_str(ACCOUNTS_BUSY), "busy");
    assert_string_equal(accounts_status_str(ACCOUNTS_WRONG), "wrong username or password");
}

static void duplicates(void **state)
{
    fx *f = *state;
    assert_int_equal(reg(f, "alice", "password one", 1), ACCOUNTS_OK);
    assert_int_equal(reg(f, "alice", "password two", 2), ACCOUNTS_EXISTS);
    /* a row in another case (written by someone else: the server's own
     * rule is lower case) still takes the name */
    assert_int_equal(sqlite3_exec(f->peek,
                                  "INSERT INTO accounts(username, pw_hash, created_at) "
                                  "VALUES('Bob', 'x', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(reg(f, "bob", "password three", 3), ACCOUNTS_EXISTS);
    /* two registrations of one name at once both pass the look-up; the
     * INSERT decides. A trigger plays the other one: it takes the name just
     * before our INSERT, which then meets the UNIQUE constraint (R4's crash)
     * and answers EXISTS */
    assert_int_equal(sqlite3_exec(f->peek,
                                  "CREATE TRIGGER racer BEFORE INSERT ON accounts "
                                  "WHEN NEW.username = 'lucy' BEGIN "
                                  "INSERT INTO accounts(username, pw_hash, created_at) "
                                  "VALUES('LUCY', 'x', 1); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(reg(f, "lucy", "password four", 4), ACCOUNTS_EXISTS);
    assert_int_equal(col_int(f, "lucy", "count(*)"), 0); /* the statement rolled back whole */
    assert_int_equal(col_int(f, "alice", "count(*)"), 1);
}

/* The real default: PHC strings, one salt each. */
static void phc_strings_owasp(void **state)
{
    fx *f = *state;
    accounts_params p = accounts_params_owasp();
    char h1[PHC_MAX], h2[PHC_MAX];
    const char *prefix = "$argon2id$v=19$m=19456,t=2,p=1$";
    const char *export = getenv("ACCOUNTS_EXPORT"), *import = getenv("ACCOUNTS_IMPORT");
    const char *pw = "correct horse battery staple";

    accounts_close(f->a);
    f->a = NULL;
    assert_int_equal(open_accounts(f, &p), 0);
    assert_int_equal(reg(f, "carol", pw, 1), ACCOUNTS_OK);
    assert_int_equal(reg(f, "dave", pw, 1), ACCOUNTS_OK);
    stored_hash(f, "carol", h1, sizeof h1);
    stored_hash(f, "dave", h2, sizeof h2);
    assert_int_equal(strncmp(h1, prefix, strlen(prefix)), 0);
    assert_int_equal(strncmp(h2, prefix, strlen(prefix)), 0);
    /* 22 characters of salt (16 bytes), '$', 43 of tag (32 bytes) */
    assert_int_equal(strlen(h1), 97);
    assert_int_equal(strlen(h2), 97);
    assert_int_not_equal(memcmp(h1 + strlen(prefix), h2 + strlen(prefix), 22), 0);
    assert_string_not_equal(h1, h2);
    assert_int_equal(argon2id_verify(h1, pw, strlen(pw)), ARGON2_OK);
    assert_int_equal(login(f, "carol", pw, 2, NULL), ACCOUNTS_OK);
    if (export) {
        FILE *out = fopen(export, "w");
        assert_non_null(out);
        fprintf(out, "%s\n%s\n", pw, h1);
        if (import) {
            /* a string argon2-cffi made for the same password logs in, and is
             * re-hashed to ours when its parameters are below them */
            char theirs[PHC_MAX] = "", now[PHC_MAX];
            FILE *in = fopen(import, "r");
            sqlite3_stmt *s = NULL;
            assert_non_null(in);
            assert_non_null(fgets(theirs, sizeof theirs, in));
            fclose(in);
            theirs[strcspn(theirs, "\n")] = '\0';
            assert_int_equal(sqlite3_prepare_v2(f->peek,
                                                "INSERT INTO accounts(username, pw_hash, created_at)"
                                                " VALUES('pyuser', ?1, 1)",
                                                -1, &s, NULL),
                             SQLITE_OK);
            sqlite3_bind_text(s, 1, theirs, -1, SQLITE_STATIC);
            assert_int_equal(sqlite3_step(s), SQLITE_DONE);
            sqlite3_finalize(s);
            assert_int_equal(login(f, "pyuser", "not the password", 3, NULL), ACCOUNTS_WRONG);
            assert_int_equal(login(f, "pyuser", pw, 3, NULL), ACCOUNTS_OK);
            stored_hash(f, "pyuser", now, sizeof now);
            fprintf(out, "%s\n", now);
        }
        assert_int_equal(fclose(out), 0);
    }
}

static void wrong_and_unknown_are_one_answer(void **state)
{
    fx *f = *state;
    int64_t id = 7;
    assert_int_equal(reg(f, "erin", "the right one", 1), ACCOUNTS_OK);
    assert_int_equal(accounts_login(f->a, "erin", "the wrong one", 13, 2, &id, NULL), ACCOUNTS_WRONG);
    assert_int_equal(id, 0);
    assert_int_equal(login(f, "nobody", "the right one", 2, NULL), ACCOUNTS_WRONG);
    assert_int_equal(login(f, "Erin", "the right one", 2, NULL), ACCOUNTS_WRONG); /* not a name */
    assert_int_equal(login(f, "x", "the right one", 2, NULL), ACCOUNTS_WRONG);
    assert_int_equal(accounts_login(f->a, "erin", "the right one", 13, 2, &id, NULL), ACCOUNTS_OK);
    assert_true(id > 0);
    assert_int_equal(col_int(f, "erin", "last_seen"), 2);
    /* nothing was written for the unknown names */
    assert_int_equal(col_int(f, "nobody", "count(*)"), 0);
}

/* The same work for an unknown user: it goes through a hash slot like a
 * known one, so with every slot held both wait, and both answer BUSY. */
static void unknown_user_does_the_work(void **state)
{
    fx *f = *state;
    assert_int_equal(reg(f, "frank", "the right one", 1), ACCOUNTS_OK);
    for (unsigned i = 0; i < f->a->p.max_hashes; i++)
        assert_int_equal(sem_trywait(&f->a->slots), 0);
    assert_int_equal(login(f, "nobody", "the right one", 2, NULL), ACCOUNTS_BUSY);
    assert_int_equal(login(f, "frank", "the wrong one", 2, NULL), ACCOUNTS_BUSY);
    assert_int_equal(login(f, "Frank!", "the wrong one", 2, NULL), ACCOUNTS_BUSY);
    for (unsigned i = 0; i < f->a->p.max_hashes; i++)
        sem_post(&f->a->slots);
    /* BUSY counted no failure */
    assert_int_equal(col_int(f, "frank", "failed"), 0);
}

static void lockout_on_a_fake_clock(void **state)
{
    fx *f = *state;
    int64_t t = 1000;
    unsigned retry = 99, want = ACCOUNTS_LOCK_BASE;
    assert_int_equal(reg(f, "grace", "the right one", t), ACCOUNTS_OK);
    for (int i = 0; i < ACCOUNTS_FREE_FAILURES; i++) {
        assert_int_equal(login(f, "grace", "the wrong one", t, &retry), ACCOUNTS_WRONG);
        assert_int_equal(retry, 0);
    }
    /* the 6th failure locks for 15 s, the 7th for 30 s, ... up to 900 s */
    for (int k = 0; k < 13; k++) {
        assert_int_equal(login(f, "grace", "the wrong one", t, &retry), ACCOUNTS_WRONG);
        assert_int_equal(retry, want);
        /* locked: even the right password is refused, and it costs no count */
        assert_int_equal(login(f, "grace", "the right one", t, &retry), ACCOUNTS_LOCKED);
        assert_int_equal(retry, want);
        assert_int_equal(login(f, "grace", "the wrong one", t + want - 1, &retry), ACCOUNTS_LOCKED);
        assert_int_equal(retry, 1);
        assert_int_equal(col_int(f, "grace", "failed"), ACCOUNTS_FREE_FAILURES + 1 + k);
        t += want;
        want = want * 2 > ACCOUNTS_LOCK_MAX ? ACCOUNTS_LOCK_MAX : want * 2;
    }
    assert_int_equal(want, 900);
    /* the lock has passed: the right password works and the count is reset */
    assert_int_equal(login(f, "grace", "the right one", t, &retry), ACCOUNTS_OK);
    assert_int_equal(retry, 0);
    assert_int_equal(col_int(f, "grace", "failed"), 0);
    assert_int_equal(col_int(f, "grace", "locked_until"), 0);
    for (int i = 0; i < ACCOUNTS_FREE_FAILURES; i++) {
        assert_int_equal(login(f, "grace", "the wrong one", t, &retry), ACCOUNTS_WRONG);
        assert_int_equal(retry, 0);
    }
    assert_int_equal(login(f, "grace", "the wrong one", t, &retry), ACCOUNTS_WRONG);
    assert_int_equal(retry, ACCOUNTS_LOCK_BASE);
}

static void unlock_and_disable(void **state)
{
    fx *f = *state;
    unsigned retry = 0;
    assert_int_equal(reg(f, "heidi", "the right one", 1), ACCOUNTS_OK);
    for (int i = 0; i < ACCOUNTS_FREE_FAILURES + 1; i++)
        assert_int_equal(login(f, "heidi", "the wrong one", 10, &retry), ACCOUNTS_WRONG);
    assert_int_equal(retry, ACCOUNTS_LOCK_BASE);
    assert_int_equal(login(f, "heidi", "the right one", 10, &retry), ACCOUNTS_LOCKED);
    assert_int_equal(accounts_unlock(f->a, "heidi"), 0);
    assert_int_equal(col_int(f, "heidi", "failed"), 0);
    assert_int_equal(login(f, "heidi", "the right one", 10, &retry), ACCOUNTS_OK);
    assert_int_equal(accounts_unlock(f->a, "nobody"), -1);

    assert_int_equal(accounts_disable(f->a, "heidi", 1), 0);
    assert_int_equal(col_int(f, "heidi", "disabled"), 1);
    assert_int_equal(login(f, "heidi", "the right one", 11, NULL), ACCOUNTS_DISABLED);
    /* a guesser cannot tell a disabled account from a wrong password */
    assert_int_equal(login(f, "heidi", "the wrong one", 11, NULL), ACCOUNTS_WRONG);
    assert_int_equal(accounts_disable(f->a, "heidi", 0), 0);
    assert_int_equal(login(f, "heidi", "the right one", 12, NULL), ACCOUNTS_OK);
    assert_int_equal(accounts_disable(f->a, "nobody", 1), -1);
    assert_int_equal(accounts_disable(f->a, "heidi", 2), -1);
    assert_int_equal(col_int(f, "heidi", "disabled"), 0);
}

/* The lookup messaging and transfer use for a recipient: one answer for an
 * unknown and a disabled account, the name matched as the table's NOCASE
 * collation does, and a database error passed on (not "no such user"). */
static void active_id_lookup(void **state)
{
    fx *f = *state;
    int64_t id = -1, heidi = 0;
    assert_int_equal(reg(f, "heidi", "the right one", 1), ACCOUNTS_OK);
    heidi = col_int(f, "heidi", "id");
    assert_int_equal(accounts_active_id(f->peek, "heidi", &id), SQLITE_OK);
    assert_int_equal(id, heidi);
    assert_int_equal(accounts_active_id(f->peek, "HEIDI", &id), SQLITE_OK);
    assert_int_equal(id, heidi);
    assert_int_equal(accounts_active_id(f->peek, "nobody", &id), SQLITE_NOTFOUND);
    assert_int_equal(id, 0);
    assert_int_equal(accounts_disable(f->a, "heidi", 1), 0);
    assert_int_equal(accounts_active_id(f->peek, "heidi", &id), SQLITE_NOTFOUND);
    assert_int_equal(id, 0);
    assert_int_equal(accounts_disable(f->a, "heidi", 0), 0);
    /* a broken database is an error, never "no such user" */
    assert_int_equal(sqlite3_exec(f->peek, "ALTER TABLE accounts RENAME TO gone", NULL, NULL, NULL), SQLITE_OK);
    int rc = accounts_active_id(f->peek, "heidi", &id);
    assert_int_not_equal(rc, SQLITE_OK);
    assert_int_not_equal(rc, SQLITE_NOTFOUND);
    assert_int_equal(sqlite3_exec(f->peek, "ALTER TABLE gone RENAME TO accounts", NULL, NULL, NULL), SQLITE_OK);
}

typedef struct busy_arg {
    fx *f;
    accounts_status st;
    double waited;
} busy_arg;

static void *login_thread(void *p)
{
    busy_arg *b = p;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    b->st = login(b->f, "ivan", "the right one", 5, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    b->waited = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    return NULL;
}

/* max_hashes=1: while one hash runs (the test holds the slot, as a long hash
 * would), a second thread's login waits its bounded time and answers BUSY,
 * and gets through once the slot is free. */
static void busy_when_slots_are_taken(void **state)
{
    fx *f = *state;
    accounts_params one = CHEAP;
    busy_arg b = {.f = f};
    pthread_t th;
    one.max_hashes = 1;
    accounts_close(f->a);
    f->a = NULL;
    assert_int_equal(open_accounts(f, &one), 0);
    assert_int_equal(reg(f, "ivan", "the right one", 1), ACCOUNTS_OK);

    assert_int_equal(sem_trywait(&f->a->slots), 0);
    assert_int_equal(pthread_create(&th, NULL, login_thread, &b), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(b.st, ACCOUNTS_BUSY);
    assert_true(b.waited >= ACCOUNTS_SLOT_WAIT_MS - 5);
    assert_int_equal(reg(f, "judy", "the right one", 1), ACCOUNTS_BUSY);
    sem_post(&f->a->slots);

    assert_int_equal(pthread_create(&th, NULL, login_thread, &b), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(b.st, ACCOUNTS_OK);
    assert_int_equal(reg(f, "judy", "the right one", 1), ACCOUNTS_OK);
}

/* Registered with cheap parameters, logged in under OWASP's: the stored
 * string is now OWASP's (and still the same password); logging in under
 * cheaper parameters again never lowers it. */
static void rehash_when_parameters_rise(void **state)
{
    fx *f = *state;
    accounts_params owasp = accounts_params_owasp();
    char before[PHC_MAX], after[PHC_MAX], again[PHC_MAX];
    assert_int_equal(reg(f, "kim", "the right one", 1), ACCOUNTS_OK);
    stored_hash(f, "kim", before, sizeof before);
    assert_int_equal(strncmp(before, "$argon2id$v=19$m=8,t=1,p=1$", 27), 0);
    accounts_close(f->a);
    f->a = NULL;
    assert_int_equal(open_accounts(f, &owasp), 0);
    assert_int_equal(login(f, "kim", "the wrong one", 2, NULL), ACCOUNTS_WRONG);
    stored_hash(f, "kim", after, sizeof after);
    assert_string_equal(after, before); /* a wrong password re-hashes nothing */
    assert_int_equal(login(f, "kim", "the right one", 2, NULL), ACCOUNTS_OK);
    stored_hash(f, "kim", after, sizeof after);
    assert_int_equal(strncmp(after, "$argon2id$v=19$m=19456,t=2,p=1$", 31), 0);
    assert_int_equal(argon2id_verify(after, "the right one", 13), ARGON2_OK);
    assert_int_equal(login(f, "kim", "the right one", 3, NULL), ACCOUNTS_OK);
    accounts_close(f->a);
    f->a = NULL;
    assert_int_equal(open_accounts(f, &CHEAP), 0);
    assert_int_equal(login(f, "kim", "the right one", 4, NULL), ACCOUNTS_OK);
    stored_hash(f, "kim", again, sizeof again);
    assert_string_equal(again, after);
    /* a password changed between our read and our re-hash (an admin reset,
     * another login's re-hash) is never overwritten with the old one's: a
     * trigger on the success update plays that change */
    assert_int_equal(reg(f, "liam", "the old one", 5), ACCOUNTS_OK);
    accounts_close(f->a);
    f->a = NULL;
    assert_int_equal(open_accounts(f, &owasp), 0);
    assert_int_equal(sqlite3_exec(f->peek,
                                  "CREATE TRIGGER reset AFTER UPDATE OF last_seen ON accounts "
                                  "WHEN NEW.username = 'liam' BEGIN "
                                  "UPDATE accounts SET pw_hash = 'changed meanwhile' "
                                  "WHERE id = NEW.id; END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(login(f, "liam", "the old one", 6, NULL), ACCOUNTS_OK);
    stored_hash(f, "liam", again, sizeof again);
    assert_string_equal(again, "changed meanwhile");
    /* one parameter below is enough: p */
    assert_int_equal(below_config(&(accounts){.p = {.m_kib = 19456, .t = 2, .p = 2}}, after), 1);
    assert_int_equal(below_config(&(accounts){.p = {.m_kib = 19456, .t = 2, .p = 1}}, after), 0);
    /* not Argon2id (here Argon2i): re-hashed, whatever its numbers */
    assert_int_equal(below_config(&(accounts){.p = {.m_kib = 8, .t = 1, .p = 1}},
                                  "$argon2i$v=19$m=8,t=1,p=1$x$y"),
                     1);
}

static void open_refuses(void **state)
{
    fx *f = *state;
    accounts *a = (accounts *)1;
    accounts_params bad = {.m_kib = 4, .t = 1, .p = 1};
    sqlite3 *db;
    assert_int_equal(accounts_open(open_db(f->path), &bad, &a), -1);
    assert_null(a);
    bad = (accounts_params){.m_kib = 8, .t = 0, .p = 1};
    assert_int_equal(accounts_open(open_db(f->path), &bad, &a), -1);
    bad = (accounts_params){.m_kib = 64, .t = 1, .p = 65};
    assert_int_equal(accounts_open(open_db(f->path), &bad, &a), -1);
    assert_int_equal(accounts_open(NULL, &CHEAP, &a), -1);
    /* a database without the table */
    assert_non_null(db = open_db(":memory:"));
    assert_int_equal(accounts_open(db, &CHEAP, &a), -1);
    assert_null(a);
    /* max_hashes 0: one per processor */
    bad = (accounts_params){.m_kib = 8, .t = 1, .p = 1};
    assert_int_equal(accounts_open(open_db(f->path), &bad, &a), 0);
    assert_true(a->p.max_hashes >= 1);
    accounts_close(a);
    accounts_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usernames),
        cmocka_unit_test_setup_teardown(password_lengths_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(phc_strings_owasp, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_and_unknown_are_one_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_user_does_the_work, setup, teardown),
        cmocka_unit_test_setup_teardown(lockout_on_a_fake_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(unlock_and_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(active_id_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(busy_when_slots_are_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(rehash_when_parameters_rise, setup, teardown),
        cmocka_unit_test_setup_teardown(open_refuses, setup, teardown),
    };
    /* the interop suite wants only the stored strings */
    if (getenv("ACCOUNTS_EXPORT"))
        cmocka_set_test_filter("phc_strings_owasp");
    return cmocka_run_group_tests_name("accounts", tests, NULL, NULL);
}
