/* SPDX-License-Identifier: MIT */
/* live.c - 06-server's live sessions: see live.h. */
#include "live.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/encoding.h"

struct live {
    pthread_mutex_t lock;
    live_session *head;
    size_t count, max;
    unsigned idle;
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

live *live_new(size_t max_sessions, unsigned idle_seconds)
{
    live *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    t->max = max_sessions ? max_sessions : 1;
    t->idle = idle_seconds ? idle_seconds : 1;
    return t;
}

int live_new_id(char id[LIVE_ID_SIZE])
{
    uint8_t raw[16];
    char *text;
    if (RAND_bytes(raw, sizeof raw) != 1 || !(text = b64url_encode(raw, sizeof raw, B64_NO_PAD)))
        return -1;
    memcpy(id, text, LIVE_ID_SIZE - 1);
    id[LIVE_ID_SIZE - 1] = '\0';
    free(text);
    return 0;
}

live_session *live_session_new(void)
{
    live_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->ntf_lock, NULL);
    s->refs = 1;
    return s;
}

/* The keys go as soon as the session ends, even if a request still holds a
 * reference: it finds 'ended' set and refuses. */
static void wipe_keys(live_session *s)
{
    pthread_mutex_lock(&s->lock);
    s->ended = 1;
    envelope_dir_free(s->rx);
    envelope_dir_free(s->tx);
    s->rx = s->tx = NULL;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_lock(&s->ntf_lock);
    envelope_dir_free(s->ntf);
    s->ntf = NULL;
    pthread_mutex_unlock(&s->ntf_lock);
}

static void destroy(live_session *s)
{
    wipe_keys(s);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->ntf_lock);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

/* under t->lock: unlink s; the caller ends it outside the lock */
static void unlink_locked(live *t, live_session *s)
{
    for (live_session **p = &t->head; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            s->next = NULL;
            t->count--;
            return;
        }
    }
}

static int is_stale(const live *t, const live_session *s, int64_t now, unsigned idle)
{
    return now - s->last_used >= (int64_t)idle || now >= s->expires_at;
}

/* Unlink every session that pred picks; returns them as a list whose
 * members the caller ends and releases (outside the table's lock: ending
 * takes each session's lock, which a request may hold for a while). */
static live_session *take_if(live *t, int (*pred)(const live_session *, const void *, int64_t),
                             const void *arg)
{
    live_session *out = NULL;
    int64_t now = now_s();
    for (live_session **p = &t->head; *p;) {
        live_session *s = *p;
        if (pred(s, arg, now)) {
            *p = s->next;
            t->count--;
            s->next = out;
            out = s;
        } else {
            p = &s->next;
        }
    }
    return out;
}

static size_t release_list(live *t, live_session *list)
{
    size_t n = 0;
    while (list) {
        live_session *next = list->next;
        list->next = NULL;
        wipe_keys(list);
        live_put(t, list); /* the table's reference */
        list = next;
        n++;
    }
    return n;
}

typedef struct idle_arg {
    const live *t;
    unsigned idle;
} idle_arg;

static int pick_stale(const live_session *s, const void *arg, int64_t now)
{
    const idle_arg *a = arg;
    return is_stale(a->t, s, now, a->idle);
}

int live_add(live *t, live_session *s, unsigned *retry_after)
{
    idle_arg a = {t, t->idle};
    live_session *stale;
    pthread_mutex_lock(&t->lock);
    stale = take_if(t, pick_stale, &a); /* reclaim first: a full table may only look full */
    size_t mine = 0;
    for (live_session *o = t->head; o; o = o->next)
        mine += strcmp(o->device, s->device) == 0;
    if (t->count >= t->max || mine >= LIVE_PER_DEVICE) {
        int64_t soonest = INT64_MAX, now = now_s();
        int which = mine >= LIVE_PER_DEVICE ? LIVE_DEVICE_FULL : LIVE_FULL;
        for (live_session *o = t->head; o; o = o->next) {
            if (which == LIVE_DEVICE_FULL && strcmp(o->device, s->device) != 0)
                continue;
            int64_t free_at = o->last_used + t->idle;
            if (o->expires_at < free_at)
                free_at = o->expires_at;
            if (free_at < soonest)
                soonest = free_at;
        }
        pthread_mutex_unlock(&t->lock);
        release_list(t, stale);
        if (retry_after)
            *retry_after = soonest == INT64_MAX || soonest <= now ? 1 : (unsigned)(soonest - now);
        return which;
    }
    s->last_used = now_s();
    s->refs++;
    s->next = t->head;
    t->head = s;
    t->count++;
    pthread_mutex_unlock(&t->lock);
    release_list(t, stale);
    return 0;
}

live_session *live_get(live *t, const char *id)
{
    live_session *found = NULL;
    int64_t now = now_s();
    if (!id || strlen(id) != LIVE_ID_SIZE - 1)
        return NULL;
    pthread_mutex_lock(&t->lock);
    for (live_session *s = t->head; s; s = s->next) {
        /* ids are random and public, but compare them like the tokens they
         * are: no early exit that times how much of one matched */
        if (CRYPTO_memcmp(s->id, id, LIVE_ID_SIZE - 1) == 0) {
            found = s;
            break;
        }
    }
    if (found && is_stale(t, found, now, t->idle)) {
        unlink_locked(t, found);
        pthread_mutex_unlock(&t->lock);
        wipe_keys(found);
        live_put(t, found);
        return NULL;
    }
    if (found) {
        found->refs++;
        found->last_used = now;
    }
    pthread_mutex_unlock(&t->lock);
    return found;
}

void live_put(live *t, live_session *s)
{
    int last;
    if (!s)
        return;
    pthread_mutex_lock(&t->lock);
    last = --s->refs == 0;
    pthread_mutex_unlock(&t->lock);
    if (last)
        destroy(s);
}

static int pick_id(const live_session *s, const void *arg, int64_t now)
{
    (void)now;
    return strcmp(s->id, arg) == 0;
}

static int pick_device(const live_session *s, const void *arg, int64_t now)
{
    (void)now;
    return strcmp(s->device, arg) == 0;
}

static int pick_jti(const live_session *s, const void *arg, int64_t now)
{
    (void)now;
    return strcmp(s->jti, arg) == 0;
}

static int pick_user(const live_session *s, const void *arg, int64_t now)
{
    (void)now;
    return strcmp(s->user, arg) == 0;
}

size_t live_end_jti(live *t, const char *jti)
{
    pthread_mutex_lock(&t->lock);
    live_session *list = take_if(t, pick_jti, jti);
    pthread_mutex_unlock(&t->lock);
    return release_list(t, list);
}

size_t live_end_user(live *t, const char *user)
{
    pthread_mutex_lock(&t->lock);
    live_session *list = take_if(t, pick_user, user);
    pthread_mutex_unlock(&t->lock);
    return release_list(t, list);
}

int live_end(live *t, const char *id)
{
    pthread_mutex_lock(&t->lock);
    live_session *list = take_if(t, pick_id, id);
    pthread_mutex_unlock(&t->lock);
    return release_list(t, list) ? 0 : -1;
}

size_t live_end_device(live *t, const char *serial)
{
    pthread_mutex_lock(&t->lock);
    live_session *list = take_if(t, pick_device, serial);
    pthread_mutex_unlock(&t->lock);
    return release_list(t, list);
}

size_t live_sweep(live *t, unsigned idle_seconds)
{
    idle_arg a = {t, idle_seconds ? idle_seconds : t->idle};
    pthread_mutex_lock(&t->lock);
    live_session *list = take_if(t, pick_stale, &a);
    pthread_mutex_unlock(&t->lock);
    return release_list(t, list);
}

size_t live_count(live *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->count;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void live_foreach(live *t, void (*fn)(const live_session *s, int64_t now, void *arg), void *arg)
{
    int64_t now = now_s();
    pthread_mutex_lock(&t->lock);
    for (live_session *s = t->head; s; s = s->next)
        fn(s, now, arg);
    pthread_mutex_unlock(&t->lock);
}

void live_free(live *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    live_session *list = t->head;
    t->head = NULL;
    t->count = 0;
    pthread_mutex_unlock(&t->lock);
    release_list(t, list);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
