/* SPDX-License-Identifier: MIT */
/*
 * sessions.h - a small, bounded, thread-safe table of session secrets, for
 * servers that agree a key per client (chapters 03, 04, 06).
 *
 * Each entry is an opaque secret blob (fixed size per table) under a random
 * id: 16 bytes from the CSPRNG, base64url, 22 characters. Entries expire
 * after ttl seconds. When the table is full of live entries, a new one is
 * refused, never stored by pushing out a live one: otherwise anybody could
 * end every client's session with enough anonymous key exchanges. Expired
 * entries are wiped and reclaimed on the next put or get. Secrets are wiped
 * when they leave the table, and the on_drop hook (if set) sees each one
 * first, so a caller can forget copies it keeps elsewhere.
 *
 * Refusing newcomers only moves the problem: one client could still fill
 * the table and lock everybody else out for a whole ttl. So each entry also
 * records who made it (the client's address), and one client may hold at
 * most per_client live entries (SESSIONS_PER_CLIENT_DEFAULT): past that it
 * alone is refused (429), while the table has room for the others.
 *
 *     sessions *s = sessions_new(1024, 600, 32);
 *     char id[SESSIONS_ID_SIZE];
 *     switch (sessions_put_for(s, peer_address, key, id)) { 0: hand id to the client;
 *         SESSIONS_CLIENT_FULL: 429, Retry-After: sessions_wait_for(s, peer_address);
 *         SESSIONS_FULL: 503, Retry-After: sessions_wait(s) }
 *     if (sessions_get(s, id_from_header, key) == 0) ...
 */
#ifndef COURSE_SESSIONS_H
#define COURSE_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#define SESSIONS_ID_SIZE 23 /* 22 characters and the NUL */
#define SESSIONS_FULL 1     /* sessions_put: every slot holds a live session */
#define SESSIONS_CLIENT_FULL 2 /* sessions_put_for: this client holds its share */
/* Live sessions one client may hold, unless sessions_set_per_client says
 * otherwise: plenty for a person's tabs and programs, 1/32 of a default table. */
#define SESSIONS_PER_CLIENT_DEFAULT 32
#define SESSIONS_CLIENT_SIZE 48 /* longest client name kept, NUL included */

typedef struct sessions sessions;

/* NULL when out of memory. value_len: bytes stored per entry (1..256). */
sessions *sessions_new(size_t max_entries, unsigned ttl_seconds, size_t value_len);
/* Called, under the table's lock, with each value just before it is wiped
 * (expired, removed, or freed with the table). Must not call back into s. */
void sessions_on_drop(sessions *s, void (*fn)(const void *value, size_t len));
/* Store value under a new id. 0 on success; SESSIONS_FULL when every slot
 * holds a live session (nothing is evicted); -1 on error. No per-client cap:
 * for callers that have no client to name. */
int sessions_put(sessions *s, const void *value, char id[SESSIONS_ID_SIZE]);
/* The same for one client (a name it cannot choose freely, such as its IP
 * address): SESSIONS_CLIENT_FULL when it already holds per_client live
 * sessions, checked before SESSIONS_FULL. */
int sessions_put_for(sessions *s, const char *client, const void *value,
                     char id[SESSIONS_ID_SIZE]);
/* Live sessions one client may hold (1..max_entries; 0: no cap). */
void sessions_set_per_client(sessions *s, size_t n);
size_t sessions_per_client(sessions *s);
/* Copy the value stored under id. 0 if found and not expired, -1 otherwise. */
int sessions_get(sessions *s, const char *id, void *value);
/* Forget id now (wipes its value). 0 if it was there, -1 otherwise. */
int sessions_remove(sessions *s, const char *id);
/* Seconds until the oldest live session expires and frees a slot (at least
 * 1): what a full server puts in Retry-After. */
unsigned sessions_wait(sessions *s);
/* Seconds until client's oldest live session expires (at least 1): the
 * Retry-After of a SESSIONS_CLIENT_FULL refusal. */
unsigned sessions_wait_for(sessions *s, const char *client);
size_t sessions_count(sessions *s);
/* Wipe (on_drop sees each live value) and free. NULL is fine. */
void sessions_free(sessions *s);

#endif
