/* SPDX-License-Identifier: MIT */
/*
 * accounts.h - chapter 06's user accounts: register and log in with a
 * password, on the store's SQLite `accounts` table. R4 done right.
 *
 * R4 ("Secure Communication System") stored an unsalted SHA-256 computed by
 * the client, so the stored value was the password; it crashed on a
 * duplicate account and never limited guessing. Here:
 *
 *   - the server checks the username (^[a-z][a-z0-9_.-]{2,31}$) and the
 *     password's length (8..1024 bytes, NIST SP 800-63B 5.1.1.2: no
 *     composition rules), and a duplicate, in any case, is ACCOUNTS_EXISTS;
 *   - passwords are stored as Argon2id PHC strings (RFC 9106; libargon2):
 *     a 16-byte salt from RAND_bytes, a 32-byte tag, OWASP's parameters by
 *     default, and a login re-hashes a stored string whose parameters are
 *     below the configured ones;
 *   - a wrong password and an unknown user are one answer, ACCOUNTS_WRONG,
 *     after the same work (the unknown user is checked against a dummy hash);
 *   - after 5 failures in a row each further one locks the account for 2^k s
 *     (1, 2, 4, ... at most 15 minutes): 429 + Retry-After at the server;
 *   - at most max_hashes hashes run at once (each takes m_kib of memory), and
 *     a caller that finds every slot taken gets ACCOUNTS_BUSY after a short
 *     bounded wait: 503 + Retry-After, never 32 x 19 MiB at once.
 *
 * The table (the store creates it; tests create it with the same DDL):
 *
 *   CREATE TABLE accounts(id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE COLLATE NOCASE,
 *     pw_hash TEXT NOT NULL, created_at INTEGER NOT NULL, failed INTEGER NOT NULL DEFAULT 0,
 *     locked_until INTEGER NOT NULL DEFAULT 0, tokens_valid_after INTEGER NOT NULL DEFAULT 0,
 *     last_seen INTEGER, disabled INTEGER NOT NULL DEFAULT 0 CHECK(disabled IN (0,1))) STRICT;
 *
 * Use:
 *
 *     accounts_params p = accounts_params_owasp();
 *     accounts *a;
 *     if (accounts_open(db, &p, &a))   // db is the module's now, even on failure
 *         ...
 *     st = accounts_register(a, "alice", pw, pw_len, time(NULL), &id);
 *     st = accounts_login(a, "alice", pw, pw_len, time(NULL), &id, &retry_after);
 *     OPENSSL_cleanse(pw, pw_len);     // the caller's buffer: this module never copies it
 *     accounts_close(a);
 *
 * Thread-safe: one mutex serialises the connection, and it is never held
 * while a hash runs. `now` is the caller's clock (seconds), so tests drive
 * the lockout with a fake one.
 */
#ifndef COURSE06_ACCOUNTS_H
#define COURSE06_ACCOUNTS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Username and password limits (the server's, whatever a client checks). */
#define ACCOUNTS_NAME_MIN 3
#define ACCOUNTS_NAME_MAX 32
#define ACCOUNTS_PW_MIN 8
#define ACCOUNTS_PW_MAX 1024
/* The lockout: this many failures in a row are free, then 2^k s up to the cap. */
#define ACCOUNTS_FREE_FAILURES 5
#define ACCOUNTS_LOCK_MAX 900
/* The first lock: long enough to slow a guesser at once (4 guesses a minute,
 * then fewer), and long enough that a person (or a test on a busy machine)
 * sees the 429 before it is over; 1 s, the brief's 2^0, was neither. */
#define ACCOUNTS_LOCK_BASE 15
/* How long a caller waits for a hash slot before ACCOUNTS_BUSY (ms). */
#define ACCOUNTS_SLOT_WAIT_MS 250

/* Argon2id cost: memory in KiB, passes, lanes; and how many hashes may run
 * at once (0: one per online processor). */
typedef struct accounts_params {
    uint32_t m_kib, t, p;
    unsigned max_hashes; /* 0: nproc */
} accounts_params;

/* OWASP's minimum, the default: m=19456 (19 MiB) t=2 p=1, 38 ms here. */
accounts_params accounts_params_owasp(void);
/* RFC 9106 section 4's second recommendation: m=65536 t=3 p=4, 164 ms here. */
accounts_params accounts_params_rfc9106(void);

typedef struct accounts accounts;

/* db: a read-write connection this module owns from now on, whatever the
 * result (closed on failure too); it serialises its use with its own mutex,
 * never holds that mutex while hashing, and sets a 2 s busy timeout (the
 * store's writer may hold the lock a moment). Checks the parameters (m_kib
 * 8*p..4 GiB, t 1..64, p 1..64, max_hashes at most 256) and that the
 * accounts table is there. 0, or -1 with *out NULL. */
int accounts_open(sqlite3 *db, const accounts_params *p, accounts **out);
/* Closes db too. NULL is fine. */
void accounts_close(accounts *a);

typedef enum accounts_status {
    ACCOUNTS_OK,
    ACCOUNTS_BAD_NAME,     /* not ^[a-z][a-z0-9_.-]{2,31}$ (register only) */
    ACCOUNTS_BAD_PASSWORD, /* not 8..1024 bytes (login: over 1024 only) */
    ACCOUNTS_EXISTS,       /* the username is taken, in any case */
    ACCOUNTS_WRONG,        /* wrong password or unknown user: one answer, same work (a dummy hash) */
    ACCOUNTS_LOCKED,       /* too many failures: try again in *retry_after seconds */
    ACCOUNTS_DISABLED,     /* right password, but an administrator disabled the account */
    ACCOUNTS_BUSY,         /* all hash slots taken: 503 + Retry-After */
    ACCOUNTS_ERROR,        /* the database or the hash failed */
} accounts_status;

/* "ok", "bad username", ... one short phrase per status. */
const char *accounts_status_str(accounts_status s);

/* 1 if u is ^[a-z][a-z0-9_.-]{2,31}$; else 0 and why (why may be NULL). */
int accounts_username_valid(const char *u, char *why, size_t why_len);

/* A new account; *account_id its id (account_id may be NULL). */
accounts_status accounts_register(accounts *a, const char *user, const char *pw, size_t pw_len,
                                  int64_t now, int64_t *account_id);

/* Lockout: after 5 failures in a row, each further failure locks the account
 * for 15 x 2^k s (k = failures - 6 counting this one: 15 s after the sixth,
 * 30 s after the seventh, ..., at most 15 min). The failing call answers
 * ACCOUNTS_WRONG with *retry_after = the lock it just set (0 while free); a
 * locked account answers ACCOUNTS_LOCKED with *retry_after = the seconds
 * left, even for the right password, without hashing and without counting.
 * Success resets the count (and last_seen = now), and re-hashes the password
 * when the stored parameters are below the configured ones. A disabled
 * account answers ACCOUNTS_DISABLED for the right password only (a wrong one
 * is ACCOUNTS_WRONG, so a guesser learns nothing). retry_after and
 * account_id may be NULL. */
accounts_status accounts_login(accounts *a, const char *user, const char *pw, size_t pw_len,
                               int64_t now, int64_t *account_id, unsigned *retry_after);

/* The id of the account `user` if it exists and is not disabled, read on
 * db (any connection: a writer's transaction, where the row it guards is
 * written, or a reader): SQLITE_OK and *id; SQLITE_NOTFOUND for an unknown
 * and for a disabled account alike (one answer, so a caller's refusal is no
 * oracle); else SQLite's error code (busy, I/O: "retry", never "no such
 * user"). Needs no accounts handle: messaging and transfer call it. */
int accounts_active_id(sqlite3 *db, const char *user, int64_t *id);

/* Admin: clear the failure count and the lock. 0, -1 unknown user. */
int accounts_unlock(accounts *a, const char *user);
/* Admin: disabled 1 or 0. 0, -1 unknown user (or disabled not 0/1). */
int accounts_disable(accounts *a, const char *user, int disabled);

#endif
