/* SPDX-License-Identifier: MIT */
/*
 * accounts.c - chapter 06's accounts: Argon2id password hashes on SQLite,
 * one answer for a wrong password and an unknown user, a lockout with
 * back-off, and a cap on the hashes that run at once. accounts.h says what
 * each call promises; this file says why it is done so.
 *
 * Two locks, never nested the wrong way: `mu` serialises the connection (a
 * statement, its bindings and its reset); `slots`, a counting semaphore,
 * bounds the hashes. A hash is taken with `mu` released: at 38 ms a hash,
 * holding the connection through it would make every login wait for every
 * other one.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "accounts.h"

#define SALT_LEN 16
#define TAG_LEN 32
/* "$argon2id$v=19$m=4194304,t=64,p=64$" + 22 + "$" + 43, with room to spare */
#define PHC_MAX 160

enum { ST_FIND, ST_INSERT, ST_FAIL, ST_OK, ST_REHASH, ST_UNLOCK, ST_DISABLE, ST_COUNT };

/* Every statement the module runs: prepared once, at open. The names are
 * bound, never spliced into the SQL. */
static const char *const SQL[ST_COUNT] = {
    [ST_FIND] = "SELECT id, pw_hash, locked_until, disabled FROM accounts WHERE username = ?1",
    [ST_INSERT] = "INSERT INTO accounts(username, pw_hash, created_at) VALUES(?1, ?2, ?3) "
                  "RETURNING id",
    /* one statement, so two failures at once both count: the right-hand
     * sides read the row as it was (failed is the old count) */
    [ST_FAIL] = "UPDATE accounts SET failed = failed + 1, locked_until = CASE WHEN failed + 1 > ?3 "
                "THEN ?2 + min(?4, ?5 << min(failed + 1 - ?3 - 1, 30)) ELSE locked_until END "
                "WHERE id = ?1 RETURNING failed, locked_until",
    [ST_OK] = "UPDATE accounts SET failed = 0, locked_until = 0, last_seen = ?2 WHERE id = ?1",
    /* only if nobody changed the password meanwhile */
    [ST_REHASH] = "UPDATE accounts SET pw_hash = ?2 WHERE id = ?1 AND pw_hash = ?3",
    [ST_UNLOCK] = "UPDATE accounts SET failed = 0, locked_until = 0 WHERE username = ?1",
    [ST_DISABLE] = "UPDATE accounts SET disabled = ?2 WHERE username = ?1",
};

struct accounts {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    pthread_mutex_t mu;
    sem_t slots;
    accounts_params p;
    /* what an unknown user's password is checked against: a hash of random
     * bytes with the configured parameters, so "no such user" costs what
     * "wrong password" costs */
    char dummy[PHC_MAX];
};

accounts_params accounts_params_owasp(void)
{
    return (accounts_params){.m_kib = 19456, .t = 2, .p = 1};
}

accounts_params accounts_params_rfc9106(void)
{
    return (accounts_params){.m_kib = 65536, .t = 3, .p = 4};
}

const char *accounts_status_str(accounts_status s)
{
    switch (s) {
    case ACCOUNTS_OK: return "ok";
    case ACCOUNTS_BAD_NAME: return "bad username";
    case ACCOUNTS_BAD_PASSWORD: return "bad password";
    case ACCOUNTS_EXISTS: return "username taken";
    case ACCOUNTS_WRONG: return "wrong username or password";
    case ACCOUNTS_LOCKED: return "account locked";
    case ACCOUNTS_DISABLED: return "account disabled";
    case ACCOUNTS_BUSY: return "busy";
    case ACCOUNTS_ERROR: return "error";
    }
    return "?";
}

int accounts_username_valid(const char *u, char *why, size_t why_len)
{
    const char *reason = NULL;
    size_t n = u ? strnlen(u, ACCOUNTS_NAME_MAX + 1) : 0;

    if (!u || n < ACCOUNTS_NAME_MIN)
        reason = "a username has 3 to 32 characters";
    else if (n > ACCOUNTS_NAME_MAX)
        reason = "a username has at most 32 characters";
    else if (u[0] < 'a' || u[0] > 'z')
        reason = "a username starts with a lower-case letter (a-z)";
    else
        for (size_t i = 1; i < n && !reason; i++)
            if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= '0' && u[i] <= '9') ||
                  u[i] == '_' || u[i] == '.' || u[i] == '-'))
                reason = "a username holds only a-z, 0-9, '_', '.' and '-'";
    if (reason && why && why_len)
        snprintf(why, why_len, "%s", reason);
    return reason == NULL;
}

/* ---- the hash slots ---- */

/* Take a slot, waiting at most ACCOUNTS_SLOT_WAIT_MS. 0, or -1 when all stay
 * taken: the caller answers BUSY instead of queueing without bound. */
static int slot_take(accounts *a)
{
    struct timespec until;
    int rc;
    if (sem_trywait(&a->slots) == 0)
        return 0;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)ACCOUNTS_SLOT_WAIT_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    while ((rc = sem_timedwait(&a->slots, &until)) != 0 && errno == EINTR)
        ;
    return rc == 0 ? 0 : -1;
}

static void slot_give(accounts *a)
{
    sem_post(&a->slots);
}

/* An Argon2id PHC string of pw with a fresh salt and the configured cost.
 * 0 or -1. Call with a slot taken and `mu` released. */
static int hash_password(const accounts *a, const void *pw, size_t pw_len, char *out, size_t out_len)
{
    unsigned char salt[SALT_LEN];
    int rc;
    if (RAND_bytes(salt, sizeof salt) != 1)
        return -1;
    rc = argon2id_hash_encoded(a->p.t, a->p.m_kib, a->p.p, pw, pw_len, salt, sizeof salt, TAG_LEN,
                               out, out_len);
    OPENSSL_cleanse(salt, sizeof salt);
    return rc == ARGON2_OK ? 0 : -1;
}

/* 1 if the stored string's cost is below the configured one in any of m, t
 * or p (or is not Argon2id v=19 at all): re-hash it while we hold the
 * password, the one moment we can. */
static int below_config(const accounts *a, const char *phc)
{
    unsigned v, m, t, p;
    if (sscanf(phc, "$argon2id$v=%u$m=%u,t=%u,p=%u$", &v, &m, &t, &p) != 4 || v != ARGON2_VERSION_13)
        return 1;
    return m < a->p.m_kib || t < a->p.t || p < a->p.p;
}

/* ---- statements ---- */

static sqlite3_stmt *stmt(accounts *a, int which)
{
    sqlite3_reset(a->st[which]);
    sqlite3_clear_bindings(a->st[which]);
    return a->st[which];
}

/* Run an UPDATE keyed by username; the number of rows it changed, or -1. */
static int update_by_name(accounts *a, int which, const char *user, int value)
{
    sqlite3_stmt *s;
    int n = -1;
    pthread_mutex_lock(&a->mu);
    s = stmt(a, which);
    if (sqlite3_bind_text(s, 1, user, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
        (which != ST_DISABLE || sqlite3_bind_int(s, 2, value) == SQLITE_OK) &&
        sqlite3_step(s) == SQLITE_DONE)
        n = sqlite3_changes(a->db);
    sqlite3_reset(s);
    pthread_mutex_unlock(&a->mu);
    return n;
}

int accounts_open(sqlite3 *db, const accounts_params *p, accounts **out)
{
    accounts *a = NULL;
    unsigned char junk[32];
    long cpus;
    int sem_ok = 0, mu_ok = 0;

    if (out)
        *out = NULL;
    if (!db || !p || !out)
        goto fail;
    /* libargon2's own floor is 8 KiB per lane; the ceilings keep a typo in a
     * configuration from asking for terabytes or hours */
    if (p->p < 1 || p->p > 64 || p->t < 1 || p->t > 64 || p->m_kib < 8 * p->p ||
        p->m_kib > 4u * 1024 * 1024 || p->max_hashes > 256)
        goto fail;
    if (!(a = calloc(1, sizeof *a)))
        goto fail;
    a->db = db;
    a->p = *p;
    if (!a->p.max_hashes) {
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        a->p.max_hashes = cpus < 1 ? 1 : cpus > 256 ? 256 : (unsigned)cpus;
    }
    if (pthread_mutex_init(&a->mu, NULL) != 0)
        goto fail;
    mu_ok = 1;
    if (sem_init(&a->slots, 0, a->p.max_hashes) != 0)
        goto fail;
    sem_ok = 1;
    /* another connection (the store's writer) may hold the write lock for a
     * moment: wait for it rather than fail a login */
    sqlite3_busy_timeout(db, 2000);
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &a->st[i], NULL) !=
            SQLITE_OK)
            goto fail; /* no accounts table, or not the one above */
    if (RAND_bytes(junk, sizeof junk) != 1 ||
        hash_password(a, junk, sizeof junk, a->dummy, sizeof a->dummy)) {
        OPENSSL_cleanse(junk, sizeof junk);
        goto fail;
    }
    OPENSSL_cleanse(junk, sizeof junk);
    *out = a;
    return 0;
fail:
    if (a) {
        for (int i = 0; i < ST_COUNT; i++)
            sqlite3_finalize(a->st[i]);
        if (sem_ok)
            sem_destroy(&a->slots);
        if (mu_ok)
            pthread_mutex_destroy(&a->mu);
        free(a);
    }
    sqlite3_close(db);
    return -1;
}

void accounts_close(accounts *a)
{
    if (!a)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(a->st[i]);
    sqlite3_close(a->db);
    sem_destroy(&a->slots);
    pthread_mutex_destroy(&a->mu);
    OPENSSL_cleanse(a->dummy, sizeof a->dummy);
    free(a);
}

accounts_status accounts_register(accounts *a, const char *user, const char *pw, size_t pw_len,
                                  int64_t now, int64_t *account_id)
{
    char phc[PHC_MAX];
    accounts_status st = ACCOUNTS_ERROR;
    sqlite3_stmt *s;
    int rc;

    if (account_id)
        *account_id = 0;
    if (!a)
        return ACCOUNTS_ERROR;
    if (!accounts_username_valid(user, NULL, 0))
        return ACCOUNTS_BAD_NAME;
    /* NIST SP 800-63B: at least 8, at least 64 allowed, no composition
     * rules; the ceiling keeps one request from hashing a megabyte */
    if (!pw || pw_len < ACCOUNTS_PW_MIN || pw_len > ACCOUNTS_PW_MAX)
        return ACCOUNTS_BAD_PASSWORD;
    /* a name already taken costs no hash: look first (the INSERT below still
     * decides, for two registrations of one name at once) */
    pthread_mutex_lock(&a->mu);
    s = stmt(a, ST_FIND);
    rc = sqlite3_bind_text(s, 1, user, -1, SQLITE_TRANSIENT) == SQLITE_OK ? sqlite3_step(s)
                                                                            : SQLITE_ERROR;
    sqlite3_reset(s);
    pthread_mutex_unlock(&a->mu);
    if (rc == SQLITE_ROW)
        return ACCOUNTS_EXISTS;
    if (rc != SQLITE_DONE)
        return ACCOUNTS_ERROR;
    if (slot_take(a))
        return ACCOUNTS_BUSY;
    rc = hash_password(a, pw, pw_len, phc, sizeof phc);
    slot_give(a);
    if (rc)
        goto end;
    pthread_mutex_lock(&a->mu);
    s = stmt(a, ST_INSERT);
    if (sqlite3_bind_text(s, 1, user, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
        sqlite3_bind_text(s, 2, phc, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
        sqlite3_bind_int64(s, 3, now) == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            if (account_id)
                *account_id = sqlite3_column_int64(s, 0);
            st = ACCOUNTS_OK;
        } else if (sqlite3_extended_errcode(a->db) == SQLITE_CONSTRAINT_UNIQUE) {
            /* R4's handler crashed here; the UNIQUE COLLATE NOCASE column
             * answers for "Alice" and "alice" alike */
            st = ACCOUNTS_EXISTS;
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s); /* the bound copy of the hash goes */
    pthread_mutex_unlock(&a->mu);
end:
    OPENSSL_cleanse(phc, sizeof phc);
    return st;
}

/* What login needs of a row, copied out under the mutex. */
typedef struct row {
    int found;
    int64_t id, locked_until;
    int disabled;
    char phc[PHC_MAX];
} row;

static int find(accounts *a, const char *user, row *r)
{
    sqlite3_stmt *s;
    int rc;
    memset(r, 0, sizeof *r);
    pthread_mutex_lock(&a->mu);
    s = stmt(a, ST_FIND);
    rc = sqlite3_bind_text(s, 1, user, -1, SQLITE_TRANSIENT) == SQLITE_OK ? sqlite3_step(s)
                                                                            : SQLITE_ERROR;
    if (rc == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(s, 1);
        r->found = 1;
        r->id = sqlite3_column_int64(s, 0);
        r->locked_until = sqlite3_column_int64(s, 2);
        r->disabled = sqlite3_column_int(s, 3);
        /* a stored string that does not fit is no hash of ours: it never verifies */
        if (h && strlen(h) < sizeof r->phc)
            memcpy(r->phc, h, strlen(h) + 1);
    }
    sqlite3_reset(s);
    pthread_mutex_unlock(&a->mu);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Count a failure; the lock it set (seconds from now), 0, or -1. */
static int64_t record_failure(accounts *a, int64_t id, int64_t now)
{
    sqlite3_stmt *s;
    int64_t lock = -1;
    pthread_mutex_lock(&a->mu);
    s = stmt(a, ST_FAIL);
    if (sqlite3_bind_int64(s, 1, id) == SQLITE_OK && sqlite3_bind_int64(s, 2, now) == SQLITE_OK &&
        sqlite3_bind_int(s, 3, ACCOUNTS_FREE_FAILURES) == SQLITE_OK &&
        sqlite3_bind_int(s, 4, ACCOUNTS_LOCK_MAX) == SQLITE_OK &&
        sqlite3_bind_int(s, 5, ACCOUNTS_LOCK_BASE) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        int64_t until = sqlite3_column_int64(s, 1);
        lock = until > now ? until - now : 0;
    }
    sqlite3_reset(s);
    pthread_mutex_unlock(&a->mu);
    return lock;
}

static int record_success(accounts *a, int64_t id, int64_t now, const char *new_phc,
                          const char *old_phc)
{
    sqlite3_stmt *s;
    int ok;
    pthread_mutex_lock(&a->mu);
    s = stmt(a, ST_OK);
    ok = sqlite3_bind_int64(s, 1, id) == SQLITE_OK && sqlite3_bind_int64(s, 2, now) == SQLITE_OK &&
         sqlite3_step(s) == SQLITE_DONE;
    sqlite3_reset(s);
    if (ok && new_phc) {
        s = stmt(a, ST_REHASH);
        ok = sqlite3_bind_int64(s, 1, id) == SQLITE_OK &&
             sqlite3_bind_text(s, 2, new_phc, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
             sqlite3_bind_text(s, 3, old_phc, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
             sqlite3_step(s) == SQLITE_DONE;
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    pthread_mutex_unlock(&a->mu);
    return ok ? 0 : -1;
}

accounts_status accounts_login(accounts *a, const char *user, const char *pw, size_t pw_len,
                               int64_t now, int64_t *account_id, unsigned *retry_after)
{
    char fresh[PHC_MAX] = "";
    accounts_status st = ACCOUNTS_ERROR;
    row r;
    int match, rehash = 0;

    if (account_id)
        *account_id = 0;
    if (retry_after)
        *retry_after = 0;
    if (!a)
        return ACCOUNTS_ERROR;
    if (!pw || pw_len > ACCOUNTS_PW_MAX)
        return ACCOUNTS_BAD_PASSWORD;
    /* a name that could never have been registered is an unknown user: the
     * same answer after the same work, not a faster "bad username" */
    if (!accounts_username_valid(user, NULL, 0))
        memset(&r, 0, sizeof r);
    else if (find(a, user, &r))
        return ACCOUNTS_ERROR;
    /* locked: no hash at all (that is the point: no guess is checked), and
     * the failure count stays as it is */
    if (r.found && r.locked_until > now) {
        int64_t left = r.locked_until - now;
        if (retry_after)
            *retry_after = (unsigned)(left > ACCOUNTS_LOCK_MAX ? ACCOUNTS_LOCK_MAX : left);
        st = ACCOUNTS_LOCKED;
        goto end;
    }
    if (slot_take(a)) {
        st = ACCOUNTS_BUSY;
        goto end;
    }
    /* argon2id_verify compares the tags in constant time */
    match = argon2id_verify(r.found && r.phc[0] ? r.phc : a->dummy, pw, pw_len) == ARGON2_OK;
    if (match && r.found && !r.disabled && below_config(a, r.phc))
        rehash = hash_password(a, pw, pw_len, fresh, sizeof fresh) == 0;
    slot_give(a);
    if (!r.found || !r.phc[0]) {
        st = ACCOUNTS_WRONG;
    } else if (!match) {
        int64_t lock = record_failure(a, r.id, now);
        if (lock < 0)
            goto end;
        if (retry_after)
            *retry_after = (unsigned)lock;
        st = ACCOUNTS_WRONG;
    } else if (r.disabled) {
        st = ACCOUNTS_DISABLED;
    } else if (record_success(a, r.id, now, rehash ? fresh : NULL, r.phc) == 0) {
        if (account_id)
            *account_id = r.id;
        st = ACCOUNTS_OK;
    }
end:
    OPENSSL_cleanse(fresh, sizeof fresh);
    OPENSSL_cleanse(r.phc, sizeof r.phc);
    return st;
}

int accounts_active_id(sqlite3 *db, const char *user, int64_t *id)
{
    sqlite3_stmt *st = NULL;
    int rc;
    *id = 0;
    if ((rc = sqlite3_prepare_v2(db, "SELECT id FROM accounts WHERE username = ?1 AND disabled = 0", -1, &st,
                                 NULL)) != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc == SQLITE_DONE ? SQLITE_NOTFOUND : rc;
}

int accounts_unlock(accounts *a, const char *user)
{
    if (!a || !user)
        return -1;
    return update_by_name(a, ST_UNLOCK, user, 0) == 1 ? 0 : -1;
}

int accounts_disable(accounts *a, const char *user, int disabled)
{
    if (!a || !user || (disabled != 0 && disabled != 1))
        return -1;
    return update_by_name(a, ST_DISABLE, user, disabled) == 1 ? 0 : -1;
}
