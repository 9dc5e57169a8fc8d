/*
 * sessions.h - a small, bounded, thread-safe table of session secrets, for
 * servers that agree a key per client (chapters 03, 04, 06).
 *
 * Each entry is an opaque secret blob (fixed size per table) under a random
 * id: 16 bytes from the CSPRNG, base64url, 22 characters. Entries expire
 * after ttl seconds; when the table is full the oldest entry goes. Secrets are
 * wiped when they leave the table.
 *
 *     sessions *s = sessions_new(1024, 600, 32);
 *     char id[SESSIONS_ID_SIZE];
 *     sessions_put(s, key, id);          hand id to the client
 *     if (sessions_get(s, id_from_header, key) == 0) ...
 */
#ifndef COURSE_SESSIONS_H
#define COURSE_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#define SESSIONS_ID_SIZE 23 /* 22 characters and the NUL */

typedef struct sessions sessions;

/* NULL when out of memory. value_len: bytes stored per entry (1..256). */
sessions *sessions_new(size_t max_entries, unsigned ttl_seconds, size_t value_len);
/* Store value under a new id. 0 on success. */
int sessions_put(sessions *s, const void *value, char id[SESSIONS_ID_SIZE]);
/* Copy the value stored under id. 0 if found and not expired, -1 otherwise. */
int sessions_get(sessions *s, const char *id, void *value);
size_t sessions_count(sessions *s);
/* Wipe and free. NULL is fine. */
void sessions_free(sessions *s);

#endif
