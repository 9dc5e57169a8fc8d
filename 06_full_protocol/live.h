/* SPDX-License-Identifier: MIT */
/*
 * live.h - 06-server's table of live sessions: the state a HELLO creates and
 * every envelope after it uses.
 *
 * A session is an object, not a secret blob: it owns its two envelope
 * directions (common/envelope), which ratchet forward with every message,
 * so there must be exactly one copy of each (a copy would reuse a (key,
 * nonce) pair). That is why 06 does not keep them in common/kex's sessions
 * table, which copies values out: here a request borrows the one object,
 * under a reference count, and takes the session's own lock from the seq
 * check to the answer (06-design.md 3.5: one request per session at a time;
 * a client that wants concurrency opens more sessions).
 *
 *     live_session *s = live_get(t, id);      NULL: unknown, ended or idle
 *     pthread_mutex_lock(&s->lock);
 *     if (!s->ended) { open, handle, seal }   the sweeper may have ended it
 *     pthread_mutex_unlock(&s->lock);
 *     live_put(t, s);                         the last reference frees it
 *
 * Bounded like every table in the course: a full table refuses the new
 * session (503 + Retry-After), it never evicts a live one. Sessions end on
 * CLOSE, after idle_seconds without a request, at their expiry (the token's),
 * when their device is revoked, and when an admin removes them. Ending wipes
 * the keys at once, even while a request still holds a reference.
 */
#ifndef COURSE_06_LIVE_H
#define COURSE_06_LIVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope/envelope.h"

#define LIVE_ID_SIZE 23 /* 16 random bytes, base64url: 22 characters and the NUL */
#define LIVE_SERIAL_SIZE 65
#define LIVE_USER_SIZE 65

typedef struct live_session {
    /* set before live_add, read-only afterwards */
    char id[LIVE_ID_SIZE];
    char device[LIVE_SERIAL_SIZE]; /* the device certificate's serial (hex) */
    char user[LIVE_USER_SIZE];
    int64_t account_id;
    uint8_t x5t[32];               /* SHA-256 of the device certificate */
    char jti[32];                  /* the session's token */
    char peer[48];                 /* the address the HELLO came from */
    int64_t created, expires_at;   /* unix seconds */
    unsigned rotate_every;

    /* under lock */
    pthread_mutex_t lock;
    envelope_dir *rx, *tx; /* client to server (requests), server to client (answers) */
    int ended;             /* keys wiped: refuse everything */
    uint64_t requests, refused;

    /* The notification direction (notify.c): server to client over the
     * WebSocket, made once by HELLO like the other two, so a second socket
     * of the session continues its counter instead of starting it again.
     * Under its own lock, a leaf (nothing else is taken while it is held):
     * a notification is sealed by whichever thread rings it, and that
     * thread may hold another session's lock. NULL once the session ended. */
    pthread_mutex_t ntf_lock;
    envelope_dir *ntf;

    /* the table's (under its lock) */
    int64_t last_used;
    unsigned refs;
    struct live_session *next;
} live_session;

typedef struct live live;

live *live_new(size_t max_sessions, unsigned idle_seconds);
void live_free(live *t);

/* A fresh session id: 16 bytes from the CSPRNG. 0, or -1. */
int live_new_id(char id[LIVE_ID_SIZE]);
/* Make a session object (lock initialised, one reference: the caller's). */
live_session *live_session_new(void);
/* Take s into the table (it keeps its own reference). 0; LIVE_FULL when every
 * slot holds a live session (*retry_after: seconds until one idles out). */
#define LIVE_FULL 1
/* ...and LIVE_DEVICE_FULL when s's device already holds LIVE_PER_DEVICE
 * live sessions: one device (anyone can register and enrol one) must not
 * be able to take every slot and lock everybody else out */
#define LIVE_DEVICE_FULL 2
#define LIVE_PER_DEVICE 8
int live_add(live *t, live_session *s, unsigned *retry_after);
/* Borrow the session id names, if it is live (and mark it used now). */
live_session *live_get(live *t, const char *id);
/* Give a borrowed (or live_session_new) reference back. */
void live_put(live *t, live_session *s);
/* End a session: out of the table, keys wiped. 0 if it was there. */
int live_end(live *t, const char *id);
/* End every session of a device (revoked), or idle for idle_seconds or more
 * (idle_seconds 0: the table's setting), or past its expiry. The count. */
size_t live_end_device(live *t, const char *serial);
/* End the session whose token has this id (06-admin revoke-token). */
size_t live_end_jti(live *t, const char *jti);
/* End every session of an account (disabled). */
size_t live_end_user(live *t, const char *user);
size_t live_sweep(live *t, unsigned idle_seconds);
size_t live_count(live *t);
/* Call fn for each live session (a snapshot: under the table's lock, so fn
 * must be quick and must not call back into t). */
void live_foreach(live *t, void (*fn)(const live_session *s, int64_t now, void *arg), void *arg);

#endif
