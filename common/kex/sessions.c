/* SPDX-License-Identifier: MIT */
/* sessions.c - see sessions.h */
#include "kex/sessions.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/encoding.h"

typedef struct entry {
    char id[SESSIONS_ID_SIZE]; /* "" = free slot */
    char client[SESSIONS_CLIENT_SIZE]; /* who made it; "" = nobody named */
    time_t created;
    uint8_t *value;
} entry;

struct sessions {
    pthread_mutex_t lock;
    size_t max, value_len;
    size_t per_client; /* 0: no cap */
    unsigned ttl;
    entry *e;
    uint8_t *values; /* max * value_len bytes, wiped on free */
    void (*on_drop)(const void *value, size_t len);
};

sessions *sessions_new(size_t max_entries, unsigned ttl_seconds, size_t value_len)
{
    sessions *s;
    if (max_entries == 0 || max_entries > 100000 || value_len == 0 || value_len > 256)
        return NULL;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    s->e = calloc(max_entries, sizeof *s->e);
    s->values = calloc(max_entries, value_len);
    if (!s->e || !s->values || pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s->e);
        free(s->values);
        free(s);
        return NULL;
    }
    s->max = max_entries;
    s->per_client = SESSIONS_PER_CLIENT_DEFAULT < max_entries ? SESSIONS_PER_CLIENT_DEFAULT : 0;
    s->ttl = ttl_seconds;
    s->value_len = value_len;
    for (size_t i = 0; i < max_entries; i++)
        s->e[i].value = s->values + i * value_len;
    return s;
}

void sessions_on_drop(sessions *s, void (*fn)(const void *value, size_t len))
{
    pthread_mutex_lock(&s->lock);
    s->on_drop = fn;
    pthread_mutex_unlock(&s->lock);
}

void sessions_set_per_client(sessions *s, size_t n)
{
    pthread_mutex_lock(&s->lock);
    s->per_client = n < s->max ? n : 0; /* a cap of the whole table is no cap */
    pthread_mutex_unlock(&s->lock);
}

size_t sessions_per_client(sessions *s)
{
    size_t n;
    pthread_mutex_lock(&s->lock);
    n = s->per_client;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Caller holds the lock. */
static void drop(sessions *s, entry *e)
{
    if (e->id[0] && s->on_drop)
        s->on_drop(e->value, s->value_len);
    OPENSSL_cleanse(e->value, s->value_len);
    e->id[0] = '\0';
    e->client[0] = '\0';
}

/* Is e a session of client? Names longer than SESSIONS_CLIENT_SIZE - 1 are
 * compared on what is kept (an IPv6 address with a zone still fits). */
static int owned_by(const entry *e, const char *client)
{
    return client && client[0] && strncmp(e->client, client, SESSIONS_CLIENT_SIZE - 1) == 0;
}

static int expired(const sessions *s, const entry *e, time_t now)
{
    return now - e->created >= (time_t)s->ttl;
}

int sessions_put_for(sessions *s, const char *client, const void *value,
                     char id[SESSIONS_ID_SIZE])
{
    uint8_t raw[16];
    char *text;
    entry *slot = NULL;
    size_t mine = 0;
    int rc;
    time_t now = time(NULL);

    if (RAND_bytes(raw, sizeof raw) != 1 || !(text = b64url_encode(raw, sizeof raw, B64_NO_PAD)))
        return -1;
    memcpy(id, text, SESSIONS_ID_SIZE - 1);
    id[SESSIONS_ID_SIZE - 1] = '\0';
    free(text);
    pthread_mutex_lock(&s->lock);
    /* Wipe every expired entry on the way (their keys should not linger),
     * count this client's live ones, and take the first free slot. A live
     * entry is never pushed out: if anyone could do that with an anonymous
     * POST /kex, 1024 of them would end every client's session. */
    for (size_t i = 0; i < s->max; i++) {
        entry *e = &s->e[i];
        if (e->id[0] && expired(s, e, now))
            drop(s, e);
        if (e->id[0] && owned_by(e, client))
            mine++;
        if (!e->id[0] && !slot)
            slot = e;
    }
    if (s->per_client && client && client[0] && mine >= s->per_client) {
        rc = SESSIONS_CLIENT_FULL; /* its share is used: the rest stays for others */
    } else if (!slot) {
        rc = SESSIONS_FULL;
    } else {
        memcpy(slot->id, id, SESSIONS_ID_SIZE);
        snprintf(slot->client, sizeof slot->client, "%s", client ? client : "");
        slot->created = now;
        memcpy(slot->value, value, s->value_len);
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    if (rc != 0)
        id[0] = '\0';
    return rc;
}

int sessions_put(sessions *s, const void *value, char id[SESSIONS_ID_SIZE])
{
    return sessions_put_for(s, NULL, value, id);
}

int sessions_get(sessions *s, const char *id, void *value)
{
    int rc = -1;
    time_t now = time(NULL);
    if (!id || strlen(id) != SESSIONS_ID_SIZE - 1)
        return -1;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->max; i++) {
        entry *e = &s->e[i];
        if (!e->id[0])
            continue;
        if (expired(s, e, now)) { /* whoever it was, its key goes now */
            drop(s, e);
            continue;
        }
        /* ids are random and public; a plain compare leaks nothing secret */
        if (rc != 0 && strcmp(e->id, id) == 0) {
            memcpy(value, e->value, s->value_len);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int sessions_remove(sessions *s, const char *id)
{
    int rc = -1;
    if (!id || strlen(id) != SESSIONS_ID_SIZE - 1)
        return -1;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->max && rc != 0; i++) {
        if (s->e[i].id[0] && strcmp(s->e[i].id, id) == 0) {
            drop(s, &s->e[i]);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Seconds until the oldest live session (of client, if named) expires. */
static unsigned wait_for(sessions *s, const char *client)
{
    time_t now = time(NULL), left = (time_t)s->ttl;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->max; i++) {
        const entry *e = &s->e[i];
        if (e->id[0] && (!client || owned_by(e, client)) &&
            (time_t)s->ttl - (now - e->created) < left)
            left = (time_t)s->ttl - (now - e->created);
    }
    pthread_mutex_unlock(&s->lock);
    return left < 1 ? 1 : (unsigned)left;
}

unsigned sessions_wait(sessions *s)
{
    return wait_for(s, NULL);
}

unsigned sessions_wait_for(sessions *s, const char *client)
{
    return wait_for(s, client ? client : "");
}

size_t sessions_count(sessions *s)
{
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->max; i++)
        n += s->e[i].id[0] != '\0';
    pthread_mutex_unlock(&s->lock);
    return n;
}

void sessions_free(sessions *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->max; i++)
        drop(s, &s->e[i]);
    pthread_mutex_unlock(&s->lock);
    OPENSSL_cleanse(s->values, s->max * s->value_len);
    free(s->values);
    free(s->e);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
