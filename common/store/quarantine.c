/* SPDX-License-Identifier: MIT */
/*
 * quarantine.c - R1's received_messages/, done right: a signed record that could not be stored is kept,
 * encrypted, under a random name, and counted against its device's quota.
 *
 * R1 wrote failed messages in plain text under a name built from the client's id (a path the client chose).
 * Here the name is 128 random bits in hex, so nothing from the client ever reaches a path, and the content
 * is AES-256-GCM under the quarantine key:
 *
 *     file = "C06Q1" || IV (12 random bytes) || AES-256-GCM(key, IV, AAD, JSON) || tag (16)
 *     AAD  = "C06Q1" || IV || id (the 32 hex characters of the name)
 *     JSON = {"v":1, "reason", "device", "msg_id" (hex), "op", "created_ms", "session", "seq", "received_at",
 *             "payload" (b64url), "signature" (b64url)}
 *
 * Binding the id into the AAD means a file renamed to another id no longer opens: the name is part of what
 * is authenticated. The file is written as ID.part (openat with O_CREAT|O_EXCL|O_NOFOLLOW, 0600), fsynced,
 * given its final name with linkat (which, unlike rename, never replaces an existing file), and the directory
 * fsynced: a crash leaves a whole ID.bin or a .part that the next store_open removes, never half a .bin.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/encoding.h"
#include "core/json.h"
#include "envelope/envelope.h"
#include "store/store_internal.h"

#define Q_MAGIC_LEN (sizeof STORE_Q_MAGIC - 1)
#define Q_HEAD_LEN (Q_MAGIC_LEN + ENVELOPE_IV_LEN)
#define Q_FILE_MAX (4u << 20) /* a 1 MiB payload is 1.4 MiB in base64url: 4 MiB is generous */

int store_valid_qid(const char *id)
{
    size_t i;
    for (i = 0; id && id[i]; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')) || i >= STORE_Q_ID_LEN)
            return 0;
    return id && i == STORE_Q_ID_LEN;
}

/* "ID.bin" -> 1 and id; anything else -> 0 */
static int bin_name(const char *name, char id[STORE_Q_ID_LEN + 1])
{
    if (strlen(name) != STORE_Q_ID_LEN + 4 || strcmp(name + STORE_Q_ID_LEN, ".bin") != 0)
        return 0;
    memcpy(id, name, STORE_Q_ID_LEN);
    id[STORE_Q_ID_LEN] = '\0';
    return store_valid_qid(id);
}

static size_t q_aad(const uint8_t head[Q_HEAD_LEN], const char *id, uint8_t *aad)
{
    memcpy(aad, head, Q_HEAD_LEN);
    memcpy(aad + Q_HEAD_LEN, id, STORE_Q_ID_LEN);
    return Q_HEAD_LEN + STORE_Q_ID_LEN;
}

/* ---- the quota ------------------------------------------------------------------------------------- */

static store_quota *quota_of(store *st, const char *device, int make)
{
    store_quota *q;
    for (size_t i = 0; i < st->nquota; i++)
        if (strcmp(st->quota[i].device, device) == 0)
            return &st->quota[i];
    if (!make || strlen(device) > STORE_SERIAL_MAX)
        return NULL;
    q = realloc(st->quota, (st->nquota + 1) * sizeof *q);
    if (!q)
        return NULL;
    st->quota = q;
    q = &st->quota[st->nquota++];
    memset(q, 0, sizeof *q);
    memcpy(q->device, device, strlen(device) + 1);
    return q;
}

/* 0 and counted, 1 over quota, -1 out of memory */
static int quota_take(store *st, const char *device, uint64_t bytes, int force)
{
    int rc = 0;
    store_quota *q;
    pthread_mutex_lock(&st->qmu);
    q = quota_of(st, device, 1);
    if (!q)
        rc = -1;
    else if (!force && (q->files + 1 > STORE_Q_FILES_MAX || q->bytes + bytes > STORE_Q_BYTES_MAX))
        rc = 1;
    else {
        q->files++;
        q->bytes += bytes;
    }
    pthread_mutex_unlock(&st->qmu);
    return rc;
}

static void quota_give(store *st, const char *device, uint64_t bytes)
{
    store_quota *q;
    pthread_mutex_lock(&st->qmu);
    q = quota_of(st, device, 0);
    if (q) {
        q->files -= q->files ? 1 : 0;
        q->bytes -= q->bytes >= bytes ? bytes : q->bytes;
    }
    pthread_mutex_unlock(&st->qmu);
}

/* ---- writing --------------------------------------------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static char *q_plaintext(const store_receipt *r, int64_t received_at, const char *reason)
{
    char *mid = hex_encode(r->msg_id, 16);
    char *pl = b64url_encode(r->payload, r->payload_len, B64_NO_PAD);
    char *sg = b64url_encode(r->sig, r->sig_len, B64_NO_PAD);
    char *out = NULL;
    json_t *o = NULL;
    if (mid && pl && sg)
        o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:s}", "v", 1, "reason", reason,
                      "device", r->device_serial, "msg_id", mid, "op", r->op, "created_ms",
                      (json_int_t)r->created_ms, "session", r->session, "seq", (json_int_t)r->seq,
                      "received_at", (json_int_t)received_at, "payload", pl, "signature", sg);
    if (o)
        out = json_dumps(o, JSON_COMPACT);
    json_decref(o); /* jansson does not wipe: the plaintext copies inside it are the price of jansson */
    free(mid);
    if (pl)
        encoding_free_secret(pl, strlen(pl));
    free(sg);
    return out;
}

int store_q_write(store *st, const store_receipt *r, int64_t received_at, const char *reason,
                  char id[STORE_Q_ID_LEN + 1], char *err, size_t err_len)
{
    uint8_t rnd[16], aad[Q_HEAD_LEN + STORE_Q_ID_LEN], *file = NULL;
    char *pt = NULL, *hex = NULL, part[STORE_Q_ID_LEN + 6], bin[STORE_Q_ID_LEN + 5];
    size_t pt_len, file_len, aad_len, half;
    int fd = -1, rc = -1, q, wrote;

    id[0] = '\0';
    pt = q_plaintext(r, received_at, reason);
    if (!pt) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    pt_len = strlen(pt);
    file_len = Q_HEAD_LEN + pt_len + ENVELOPE_TAG_LEN;
    q = quota_take(st, r->device_serial, file_len, 0);
    if (q != 0) {
        if (q < 0)
            snprintf(err, err_len, "out of memory");
        encoding_free_secret(pt, pt_len);
        return q;
    }
    file = malloc(file_len);
    if (!file || RAND_bytes(rnd, sizeof rnd) != 1 || !(hex = hex_encode(rnd, sizeof rnd))) {
        snprintf(err, err_len, "out of memory or no randomness");
        goto end;
    }
    memcpy(file, STORE_Q_MAGIC, Q_MAGIC_LEN);
    if (RAND_bytes(file + Q_MAGIC_LEN, ENVELOPE_IV_LEN) != 1) {
        snprintf(err, err_len, "no randomness");
        goto end;
    }
    aad_len = q_aad(file, hex, aad);
    if (envelope_aead_seal(st->qkey, STORE_QKEY_LEN, file + Q_MAGIC_LEN, aad, aad_len, (const uint8_t *)pt,
                           pt_len, file + Q_HEAD_LEN) != ENVELOPE_OK) {
        snprintf(err, err_len, "AES-GCM failed");
        goto end;
    }
    snprintf(part, sizeof part, "%s.part", hex);
    snprintf(bin, sizeof bin, "%s.bin", hex);
    fd = openat(st->qdir_fd, part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "%s/%s: %s", STORE_QDIR_NAME, part, strerror(errno));
        goto end;
    }
    /* crash test (COURSE06_CRASH=quarantine-write): the switch kills the process with half the file in
     * ID.part, not fsynced, not linked; the next store_open removes the .part. Switch off: one write. */
    half = st->crash == STORE_CRASH_QUARANTINE_WRITE ? file_len / 2 : file_len;
    wrote = write_all(fd, file, half) == 0;
    if (wrote)
        store_crash_check(st, STORE_CRASH_QUARANTINE_WRITE);
    if (!wrote || write_all(fd, file + half, file_len - half) != 0 || fsync(fd) != 0) {
        snprintf(err, err_len, "%s/%s: %s", STORE_QDIR_NAME, part, strerror(errno));
        goto unlink_part;
    }
    close(fd);
    fd = -1;
    if (linkat(st->qdir_fd, part, st->qdir_fd, bin, 0) != 0) {
        snprintf(err, err_len, "%s/%s: %s", STORE_QDIR_NAME, bin, strerror(errno));
        goto unlink_part;
    }
    unlinkat(st->qdir_fd, part, 0);
    /* the new name is in the directory, and the directory is on disk: only now is the record kept */
    if (fsync(st->qdir_fd) != 0) {
        snprintf(err, err_len, "%s: fsync: %s", STORE_QDIR_NAME, strerror(errno));
        unlinkat(st->qdir_fd, bin, 0);
        goto end;
    }
    memcpy(id, hex, STORE_Q_ID_LEN + 1);
    rc = 0;
    goto end;
unlink_part:
    unlinkat(st->qdir_fd, part, 0);
end:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        quota_give(st, r->device_serial, file_len);
    encoding_free_secret(pt, pt_len);
    free(file);
    free(hex);
    return rc;
}

/* ---- reading --------------------------------------------------------------------------------------- */

void store_quarantined_free(store_quarantined *q)
{
    if (!q)
        return;
    if (q->payload)
        encoding_free_secret(q->payload, q->payload_len);
    free(q->reason);
    free(q->device);
    free(q->op);
    free(q->session);
    free(q->sig);
    memset(q, 0, sizeof *q);
}

static char *dup_member(const json_t *o, const char *k)
{
    const char *s = json_get_str(o, k);
    return s ? strdup(s) : NULL;
}

static int read_file(store *st, const char *id, uint8_t **out, size_t *out_len, char *err, size_t err_len)
{
    char bin[STORE_Q_ID_LEN + 5];
    struct stat s;
    uint8_t *buf = NULL;
    size_t got = 0;
    int fd;

    snprintf(bin, sizeof bin, "%s.bin", id);
    fd = openat(st->qdir_fd, bin, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, err_len, errno == ENOENT ? "no such quarantined message" : "%s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode) || s.st_size < (off_t)(Q_HEAD_LEN + ENVELOPE_TAG_LEN) ||
        s.st_size > (off_t)Q_FILE_MAX) {
        snprintf(err, err_len, "not a quarantine file (type or size)");
        close(fd);
        return -1;
    }
    buf = malloc((size_t)s.st_size);
    if (!buf) {
        snprintf(err, err_len, "out of memory");
        close(fd);
        return -1;
    }
    while (got < (size_t)s.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)s.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != (size_t)s.st_size) {
        snprintf(err, err_len, "short read");
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = got;
    return 0;
}

int store_quarantine_read(store *st, const char *id, store_quarantined *out, char *err, size_t err_len)
{
    uint8_t *file = NULL, *pt = NULL, *mid = NULL, aad[Q_HEAD_LEN + STORE_Q_ID_LEN];
    size_t file_len = 0, pt_len = 0, mid_len = 0;
    json_t *o = NULL;
    char perr[200];
    const char *pl, *sg;
    int rc = -1;

    memset(out, 0, sizeof *out);
    /* the id becomes a path: only the exact shape of our own names is accepted */
    if (!st || !store_valid_qid(id)) {
        snprintf(err, err_len, "a quarantine id is 32 lower-case hex digits");
        return -1;
    }
    if (read_file(st, id, &file, &file_len, err, err_len) != 0)
        return -1;
    if (memcmp(file, STORE_Q_MAGIC, Q_MAGIC_LEN) != 0) {
        snprintf(err, err_len, "not a quarantine file (no %s header)", STORE_Q_MAGIC);
        goto end;
    }
    pt_len = file_len - Q_HEAD_LEN - ENVELOPE_TAG_LEN;
    pt = malloc(pt_len + 1);
    if (!pt) {
        snprintf(err, err_len, "out of memory");
        goto end;
    }
    if (envelope_aead_open(st->qkey, STORE_QKEY_LEN, file + Q_MAGIC_LEN, aad, q_aad(file, id, aad),
                           file + Q_HEAD_LEN, file_len - Q_HEAD_LEN, pt) != ENVELOPE_OK) {
        snprintf(err, err_len, "authentication failed: the file was changed or the key is not its key");
        goto end;
    }
    o = json_parse((const char *)pt, pt_len, 4, perr, sizeof perr);
    pl = json_get_str(o, "payload");
    sg = json_get_str(o, "signature");
    if (!o || !pl || !sg || !json_is_integer(json_object_get(o, "seq")) ||
        hex_decode(json_get_str(o, "msg_id") ? json_get_str(o, "msg_id") : "", &mid, &mid_len) != 0 ||
        mid_len != 16) {
        snprintf(err, err_len, "the decrypted content is not a quarantine record");
        goto end;
    }
    memcpy(out->id, id, STORE_Q_ID_LEN + 1);
    memcpy(out->msg_id, mid, 16);
    out->reason = dup_member(o, "reason");
    out->device = dup_member(o, "device");
    out->op = dup_member(o, "op");
    out->session = dup_member(o, "session");
    out->created_ms = (int64_t)json_integer_value(json_object_get(o, "created_ms"));
    out->seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
    out->received_at = (int64_t)json_integer_value(json_object_get(o, "received_at"));
    out->file_size = file_len;
    if (!out->reason || !out->device || !out->op || !out->session ||
        b64url_decode(pl, strlen(pl), B64_NO_PAD, &out->payload, &out->payload_len) != 0 ||
        b64url_decode(sg, strlen(sg), B64_NO_PAD, &out->sig, &out->sig_len) != 0) {
        snprintf(err, err_len, "the decrypted content is not a quarantine record");
        store_quarantined_free(out);
        goto end;
    }
    rc = 0;
end:
    json_decref(o);
    if (pt)
        encoding_free_secret(pt, pt_len + 1);
    free(mid);
    free(file);
    return rc;
}

/* ---- the directory --------------------------------------------------------------------------------- */

/* opendir on a copy of the directory descriptor, rewound: readdir must see the whole directory each time */
static DIR *open_qdir(store *st)
{
    int fd = dup(st->qdir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d && fd >= 0)
        close(fd);
    if (d)
        rewinddir(d);
    return d;
}

int store_q_scan(store *st, char *err, size_t err_len)
{
    DIR *d = open_qdir(st);
    struct dirent *e;
    char id[STORE_Q_ID_LEN + 1], e2[256];
    size_t len;

    if (!d) {
        snprintf(err, err_len, "%s: %s", STORE_QDIR_NAME, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        len = strlen(e->d_name);
        /* a crash between create and link left this: its message never got an answer, so it is resent */
        if (len == STORE_Q_ID_LEN + 5 && strcmp(e->d_name + STORE_Q_ID_LEN, ".part") == 0) {
            unlinkat(st->qdir_fd, e->d_name, 0);
            continue;
        }
        if (bin_name(e->d_name, id)) {
            store_quarantined q;
            if (store_quarantine_read(st, id, &q, e2, sizeof e2) == 0) {
                quota_take(st, q.device, q.file_size, 1);
                store_quarantined_free(&q);
            }
        }
    }
    closedir(d);
    return 0;
}

int store_quarantine_list(store *st, store_quarantine_fn fn, void *arg, char *err, size_t err_len)
{
    DIR *d;
    struct dirent *e;
    char id[STORE_Q_ID_LEN + 1], why[256];
    int n = 0;

    if (!st || !fn) {
        snprintf(err, err_len, "no store or no callback");
        return -1;
    }
    d = open_qdir(st);
    if (!d) {
        snprintf(err, err_len, "%s: %s", STORE_QDIR_NAME, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        store_quarantined q;
        int stop;
        if (!bin_name(e->d_name, id))
            continue;
        if (store_quarantine_read(st, id, &q, why, sizeof why) != 0) {
            memset(&q, 0, sizeof q);
            memcpy(q.id, id, sizeof q.id);
            q.broken = 1;
            q.reason = strdup(why);
        }
        stop = fn(&q, arg);
        store_quarantined_free(&q);
        n++;
        if (stop)
            break;
    }
    closedir(d);
    return n;
}

static int drop_row(sqlite3 *db, void *arg)
{
    sqlite3_stmt *s = NULL;
    int ok = sqlite3_prepare_v2(db, "DELETE FROM quarantine WHERE id = ?1", -1, &s, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
        ok = sqlite3_step(s) == SQLITE_DONE;
    }
    sqlite3_finalize(s);
    return ok ? 0 : 1;
}

int store_quarantine_drop(store *st, const char *id, char *err, size_t err_len)
{
    store_quarantined q;
    char bin[STORE_Q_ID_LEN + 5], why[256];
    int readable, rc;

    if (!st || !store_valid_qid(id)) {
        snprintf(err, err_len, "a quarantine id is 32 lower-case hex digits");
        return -1;
    }
    readable = store_quarantine_read(st, id, &q, why, sizeof why) == 0;
    snprintf(bin, sizeof bin, "%s.bin", id);
    if (unlinkat(st->qdir_fd, bin, 0) != 0) {
        snprintf(err, err_len, errno == ENOENT ? "no such quarantined message" : "%s", strerror(errno));
        if (readable)
            store_quarantined_free(&q);
        return -1;
    }
    fsync(st->qdir_fd);
    if (readable) { /* a broken file was never counted */
        quota_give(st, q.device, q.file_size);
        store_quarantined_free(&q);
    }
    rc = store_write(st, drop_row, (void *)id);
    if (rc != 0) {
        snprintf(err, err_len, "the file is gone, but its row could not be deleted (retry the drop)");
        return -1;
    }
    return 0;
}
