/* SPDX-License-Identifier: MIT */
/*
 * client_transfer.c - 06-client's typed transfer, R5's session API as
 * commands:
 *
 *   06-client send-bytes --to bob FILE|-     bytes (at most 256 KiB), any value
 *   06-client send-text --to bob 'héllo'     UTF-8 text
 *   06-client send-object --to bob '{"a":1}' a JSON object (R5 pickled it)
 *   06-client send-list --to bob '[1,2]'     a JSON array
 *   06-client send-file --to bob report.pdf  in chunks; run it again after an
 *                                            interruption and only the missing
 *                                            chunks go (state in HOME/uploads/)
 *   06-client receive [--save DIR]           every item waiting, with its type;
 *                                            files saved into DIR
 *   06-client send-op OP JSON|-              one signed op exactly as written
 *                                            (the lab's refusals)
 *
 * Saving a received file is where R5 went wrong: it wrote to the name the
 * sender chose, so "../../.bashrc" landed outside the folder. Here the name is
 * cleaned again by the same rule the server applies (items.h: a server that
 * was changed, or a row edited, does not change what this side accepts), the
 * bytes go to a temporary name made with openat(O_CREAT | O_EXCL |
 * O_NOFOLLOW) in the folder, their SHA-256 is checked, and only then are they
 * linked to the final name, which never replaces anything (a link fails on an
 * existing name, a symlink included, and is never followed): "report.pdf"
 * taken means "report (1).pdf".
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "core/cli.h"
#include "core/encoding.h"
#include "core/json.h"
#include "core/narrate.h"
#include "envelope/hello.h"
#include "items.h"

#define SEND_FILE_MAX (16u << 20) /* the server's limit too */
#define CHUNK_DEFAULT (256u * 1024u)
#define RECEIVE_ROUNDS 1000       /* items answers of one receive, at most */
#define SAVE_TRIES 100            /* "name (1).ext" ... "name (99).ext" */

/* ---- one op in a session -------------------------------------------------------------------------- */

/* the answer, or NULL after saying why (transport, or a refusal with the server's reason) */
static json_t *do_op(client *c, channel *ch, const char *op, const char *payload, size_t len, int quiet_refusal)
{
    uint8_t msg_id[16];
    json_t *ans = NULL;
    if (RAND_bytes(msg_id, sizeof msg_id) != 1)
        return NULL;
    if (channel_op(c, ch, op, msg_id, client_now_ms(), (const uint8_t *)payload, len, (void **)&ans) != 0)
        return NULL;
    const char *status = json_get_str(ans, "status");
    if (status && (!strcmp(status, "ok") || !strcmp(status, "stored") || !strcmp(status, "duplicate")))
        return ans;
    if (!quiet_refusal) {
        const char *reason = json_get_str(ans, "reason");
        errorf(status ? status : op, "%s", reason ? reason : "(no reason given)");
    }
    json_decref(ans);
    return NULL;
}

static json_t *do_op_json(client *c, channel *ch, const char *op, json_t *payload, int quiet_refusal)
{
    char *text = payload ? json_compact(payload) : NULL;
    json_decref(payload);
    if (!text) {
        errorf(op, "out of memory");
        return NULL;
    }
    json_t *ans = do_op(c, ch, op, text, strlen(text), quiet_refusal);
    free(text);
    return ans;
}

/* open, one op, close */
static int one_op(client *c, const char *op, json_t *payload, json_t **answer)
{
    channel ch;
    *answer = NULL;
    if (channel_open(c, &ch, NULL) != 0) {
        json_decref(payload);
        channel_free(&ch);
        return EXIT_FAILED;
    }
    *answer = do_op_json(c, &ch, op, payload, 0);
    channel_close(c, &ch, "done");
    channel_free(&ch);
    return *answer ? EXIT_OK : EXIT_FAILED;
}

/* FILE, or "-" for stdin, at most max bytes */
static uint8_t *read_input(const char *path, size_t max, size_t *len)
{
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
    if (fd < 0) {
        errorf(path, "%s", strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(max + 1);
    size_t n = 0;
    while (buf && n <= max) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    if (fd)
        close(fd);
    if (buf && n > max) {
        errorf(path, "over %zu bytes (send-file takes larger ones)", max);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int send_item(client *c, json_t *it)
{
    const char *type = json_get_str(it, "type");
    char what[16];
    snprintf(what, sizeof what, "%s", type ? type : "?");
    json_t *ans = NULL;
    int rc = one_op(c, "send", json_pack("{s:s, s:o}", "to", c->to, "item", it), &ans);
    if (rc == EXIT_OK)
        result("%s item %s for '%s': id %lld (signed, committed before the answer)", what,
               json_get_str(ans, "status"), c->to, (long long)json_integer_value(json_object_get(ans, "item_id")));
    json_decref(ans);
    return rc;
}

/* ---- send-file, with resume ------------------------------------------------------------------------- */

static long chunk_size_wanted(void)
{
    const char *e = getenv("COURSE06_CHUNK_SIZE"); /* the lab's smaller chunks, to watch a resume */
    long n = e ? strtol(e, NULL, 10) : (long)CHUNK_DEFAULT;
    return n >= 1024 && n <= (long)CHUNK_DEFAULT ? n : (long)CHUNK_DEFAULT;
}

static int sha256_fd(int fd, off_t size, uint8_t md[32])
{
    uint8_t buf[65536];
    unsigned n = 0;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;
    for (off_t off = 0; ok && off < size;) {
        ssize_t r = pread(fd, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR)
            continue;
        ok = r > 0 && EVP_DigestUpdate(h, buf, (size_t)r) == 1;
        off += r > 0 ? r : 0;
    }
    ok = ok && EVP_DigestFinal_ex(h, md, &n) == 1 && n == 32;
    EVP_MD_CTX_free(h);
    return ok ? 0 : -1;
}

/* HOME/uploads/<sha256>-<to>: the file_id of an upload under way */
static int state_path(client *c, const char *sha_hex, char *path, size_t len)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/uploads", c->home);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    return snprintf(path, len, "%s/%s-%s", dir, sha_hex, c->to) < (int)len ? 0 : -1;
}

static int state_read(const char *path, char id[33])
{
    char buf[64] = "";
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(buf, sizeof buf, f) && strlen(buf) >= 32;
    fclose(f);
    if (!ok)
        return -1;
    memcpy(id, buf, 32);
    id[32] = 0;
    for (int i = 0; i < 32; i++)
        if (!strchr("0123456789abcdef", id[i]))
            return -1;
    return 0;
}

static int state_write(const char *path, const char *id)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int ok = write(fd, id, 32) == 32 && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    return close(fd) == 0 && ok ? 0 : -1;
}

static int send_file(client *c, const char *path)
{
    char name[ITEM_NAME_MAX + 1], ext[ITEM_EXT_MAX + 1], why[160], state[800], id[33] = "";
    uint8_t md[32];
    struct stat st;
    channel ch;
    json_t *ans = NULL;
    int rc = EXIT_FAILED, have_channel = 0;
    uint8_t *buf = NULL;
    char *sha_hex = NULL;

    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (item_name_sanitise(base, strlen(base), name, ext, why, sizeof why) != 0) {
        errorf("send-file", "%s: %s", path, why);
        return EXIT_FAILED;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        errorf("send-file", "%s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
        goto out;
    }
    if (st.st_size > (off_t)SEND_FILE_MAX) {
        errorf("send-file", "%s is %lld bytes: a file is at most 16 MiB", path, (long long)st.st_size);
        goto out;
    }
    if (sha256_fd(fd, st.st_size, md) != 0 || !(sha_hex = hex_encode(md, 32))) {
        errorf("send-file", "%s: cannot read it", path);
        goto out;
    }
    if (state_path(c, sha_hex, state, sizeof state) != 0) {
        errorf("send-file", "cannot make %s/uploads", c->home);
        goto out;
    }
    if (channel_open(c, &ch, NULL) != 0) {
        channel_free(&ch);
        goto out;
    }
    have_channel = 1;
    /* an upload of these bytes to this person already under way: ask what the server has */
    if (state_read(state, id) == 0) {
        ans = do_op_json(c, &ch, "file_status", json_pack("{s:s}", "file_id", id), 1);
        if (ans && json_integer_value(json_object_get(ans, "size")) == (json_int_t)st.st_size &&
            !strcmp(json_get_str(ans, "sha256") ? json_get_str(ans, "sha256") : "", sha_hex)) {
            size_t n = json_array_size(json_object_get(ans, "have"));
            json_int_t total = json_integer_value(json_object_get(ans, "chunks"));
            result("resuming upload %s: %zu of %lld chunks are on the server already; sending the other %lld",
                   id, n, (long long)total, (long long)(total - (json_int_t)n));
        } else {
            note("the upload in %s is unknown to the server: beginning again", state);
            json_decref(ans);
            ans = NULL;
        }
    }
    if (!ans) {
        step("file_begin: '%s', %lld bytes, SHA-256 %s (signed: this device commits to the content)", name,
             (long long)st.st_size, sha_hex);
        ans = do_op_json(c, &ch, "file_begin",
                         json_pack("{s:s, s:I, s:s, s:I}", "name", name, "size", (json_int_t)st.st_size, "sha256",
                                   sha_hex, "chunk_size", (json_int_t)chunk_size_wanted()),
                         0);
        if (!ans)
            goto out;
        snprintf(id, sizeof id, "%s", json_get_str(ans, "file_id") ? json_get_str(ans, "file_id") : "");
        if (strlen(id) != 32 || state_write(state, id) != 0) {
            errorf("send-file", "cannot keep the upload's state in %s", state);
            goto out;
        }
    }
    int64_t cs = json_integer_value(json_object_get(ans, "chunk_size"));
    int64_t chunks = json_integer_value(json_object_get(ans, "chunks"));
    int complete = json_is_true(json_object_get(ans, "complete"));
    if (cs <= 0 || cs > (int64_t)CHUNK_DEFAULT || chunks != (st.st_size + cs - 1) / cs) {
        errorf("send-file", "the server's chunk_size (%lld) and chunks (%lld) do not fit this file", (long long)cs,
               (long long)chunks);
        goto out;
    }
    uint8_t *have = calloc(1, (size_t)chunks + 1);
    json_t *h = json_object_get(ans, "have");
    for (size_t i = 0; have && i < json_array_size(h); i++) {
        json_int_t k = json_integer_value(json_array_get(h, i));
        if (k >= 0 && k < chunks)
            have[k] = 1;
    }
    json_decref(ans);
    ans = NULL;
    buf = malloc((size_t)cs);
    if (!have || !buf) {
        free(have);
        goto out;
    }
    int64_t sent = 0, already = 0;
    int tty = isatty(2);
    for (int64_t i = 0; i < chunks && !complete; i++) {
        if (have[i]) {
            already++;
            continue;
        }
        size_t n = (size_t)(i == chunks - 1 ? st.st_size - i * cs : cs), got = 0;
        while (got < n) {
            ssize_t r = pread(fd, buf + got, n - got, (off_t)(i * cs) + (off_t)got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        char *b = got == n ? b64url_encode(buf, n, B64_NO_PAD) : NULL;
        if (!b) {
            errorf("send-file", "%s changed while it was sent", path);
            free(have);
            goto out;
        }
        json_t *a = do_op_json(c, &ch, "file_chunk",
                               json_pack("{s:s, s:I, s:s}", "file_id", id, "index", (json_int_t)i, "data", b), 0);
        free(b);
        if (!a) {
            hint("run the same command again: it sends only the chunks the server does not have");
            free(have);
            goto out;
        }
        json_decref(a);
        sent++;
        /* progress on stderr: every chunk on a terminal, each tenth otherwise (a log stays short) */
        int64_t pct = (i + 1) * 100 / chunks, prev = i * 100 / chunks;
        if (tty)
            fprintf(stderr, "\rsend-file: chunk %lld of %lld (%lld%%)", (long long)i + 1, (long long)chunks,
                    (long long)pct);
        else if (pct / 10 != prev / 10 || sent == 1)
            fprintf(stderr, "send-file: chunk %lld of %lld (%lld%%)\n", (long long)i + 1, (long long)chunks,
                    (long long)pct);
    }
    if (sent && tty)
        fprintf(stderr, "\n");
    free(have);
    if (!(ans = do_op_json(c, &ch, "file_end", json_pack("{s:s}", "file_id", id), 0))) {
        hint("run the same command again: the server says which chunks it still needs");
        goto out;
    }
    json_decref(ans);
    ans = do_op_json(c, &ch, "send",
                     json_pack("{s:s, s:{s:s, s:s}}", "to", c->to, "item", "type", "file", "file_id", id), 0);
    if (!ans)
        goto out;
    unlink(state);
    result("file '%s' (%lld bytes, SHA-256 %s) sent to '%s' as item %lld: %lld chunk%s sent now, %lld on the "
           "server already",
           name, (long long)st.st_size, sha_hex, c->to, (long long)json_integer_value(json_object_get(ans, "item_id")),
           (long long)sent, sent == 1 ? "" : "s", (long long)already);
    rc = EXIT_OK;
out:
    json_decref(ans);
    if (have_channel) {
        channel_close(c, &ch, rc == EXIT_OK ? "done" : "send-file failed");
        channel_free(&ch);
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    free(sha_hex);
    return rc;
}

/* ---- receive --------------------------------------------------------------------------------------- */

/* a string from the server, printed so that it cannot move the cursor or colour the terminal */
static char *printable(const char *s)
{
    json_t *j = json_string(s ? s : "");
    char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return out;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* fetch a file item's chunks into a new temporary name in dirfd, check size and SHA-256, link it to a name
 * that does not exist yet. 0 with saved_as filled, or -1 after saying why (nothing is left behind). */
static int save_file(client *c, channel *ch, int dirfd, json_int_t item_id, const json_t *meta, char *saved_as,
                     size_t saved_len)
{
    char name[ITEM_NAME_MAX + 1], ext[ITEM_EXT_MAX + 1], why[160], tmp[96];
    const char *sent_name = json_get_str(meta, "name"), *sha_hex = json_get_str(meta, "sha256");
    json_int_t size = json_integer_value(json_object_get(meta, "size"));
    json_int_t cs = json_integer_value(json_object_get(meta, "chunk_size"));
    json_int_t chunks = json_integer_value(json_object_get(meta, "chunks"));
    uint8_t *want = NULL, md[32], rnd[8];
    size_t want_len = 0;
    int rc = -1;

    if (size < 0 || size > (json_int_t)SEND_FILE_MAX || cs <= 0 || cs > (json_int_t)CHUNK_DEFAULT ||
        chunks != (size + cs - 1) / cs || !sha_hex || hex_decode(sha_hex, &want, &want_len) != 0 || want_len != 32) {
        errorf("receive", "item %lld: the server's description of the file does not add up", (long long)item_id);
        free(want);
        return -1;
    }
    /* the name again, by the same rule: this side does not trust the server's cleaning either */
    if (item_name_sanitise(sent_name ? sent_name : "", sent_name ? strlen(sent_name) : 0, name, ext, why,
                           sizeof why) != 0) {
        char *shown = printable(sent_name);
        warning("item %lld: the name %s is refused here (%s): saving it as item-%lld", (long long)item_id,
                shown ? shown : "?", why, (long long)item_id);
        free(shown);
        snprintf(name, sizeof name, "item-%lld", (long long)item_id);
        ext[0] = 0;
    } else if (strcmp(name, sent_name) != 0) {
        char *shown = printable(sent_name);
        warning("item %lld: the name %s is cleaned to \"%s\"", (long long)item_id, shown ? shown : "?", name);
        free(shown);
    }
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        free(want);
        return -1;
    }
    char *r = hex_encode(rnd, sizeof rnd);
    snprintf(tmp, sizeof tmp, ".06-receive-%lld-%s.part", (long long)item_id, r ? r : "0");
    free(r);
    /* a fresh name in the folder: O_EXCL fails on anything already there, O_NOFOLLOW on a link */
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        errorf("receive", "cannot create %s/%s: %s", c->save_dir, tmp, strerror(errno));
        free(want);
        return -1;
    }
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;
    json_int_t total = 0;
    for (json_int_t i = 0; ok && i < chunks; i++) {
        json_t *a = do_op_json(c, ch, "item_get", json_pack("{s:I, s:I}", "id", item_id, "index", i), 0);
        const char *d = a ? json_get_str(a, "data") : NULL;
        uint8_t *bytes = NULL;
        size_t n = 0;
        json_int_t expect = i == chunks - 1 ? size - i * cs : cs;
        ok = d && b64url_decode(d, strlen(d), B64_NO_PAD, &bytes, &n) == 0 && (json_int_t)n == expect &&
             EVP_DigestUpdate(h, bytes, n) == 1 && write_all(fd, bytes, n) == 0;
        if (!ok && a)
            errorf("receive", "item %lld: chunk %lld is not the %lld bytes it should be", (long long)item_id,
                   (long long)i, (long long)expect);
        total += (json_int_t)n;
        free(bytes);
        json_decref(a);
    }
    unsigned mdl = 0;
    ok = ok && EVP_DigestFinal_ex(h, md, &mdl) == 1 && total == size;
    EVP_MD_CTX_free(h);
    if (ok && CRYPTO_memcmp(md, want, 32) != 0) {
        errorf("receive", "item %lld: the SHA-256 of the bytes received is not the one the sender signed: not "
               "saved", (long long)item_id);
        ok = 0;
    }
    if (ok && (fsync(fd) != 0)) {
        errorf("receive", "cannot write %s: %s", tmp, strerror(errno));
        ok = 0;
    }
    close(fd);
    /* link, then unlink the temporary name: a rename that never replaces (linkat fails with EEXIST on any
     * existing name, a dangling symlink included, and does not follow it) */
    for (int k = 0; ok && k < SAVE_TRIES; k++) {
        char cand[ITEM_NAME_MAX + 32];
        size_t el = strlen(ext);
        if (k == 0)
            snprintf(cand, sizeof cand, "%s", name);
        else if (el)
            snprintf(cand, sizeof cand, "%.*s (%d).%s", (int)(strlen(name) - el - 1), name, k, ext);
        else
            snprintf(cand, sizeof cand, "%s (%d)", name, k);
        if (linkat(dirfd, tmp, dirfd, cand, 0) == 0) {
            snprintf(saved_as, saved_len, "%s", cand);
            rc = 0;
            break;
        }
        if (errno != EEXIST) {
            errorf("receive", "cannot name %s/%s: %s", c->save_dir, cand, strerror(errno));
            break;
        }
        if (k == 0)
            note("'%s' exists in %s: not overwritten, trying another name", cand, c->save_dir);
    }
    if (ok && rc != 0 && errno == EEXIST)
        errorf("receive", "every name from '%s' to '%s (%d)' is taken in %s", name, name, SAVE_TRIES - 1,
               c->save_dir);
    unlinkat(dirfd, tmp, 0);
    if (rc == 0)
        fsync(dirfd);
    free(want);
    return rc;
}

static int receive(client *c)
{
    channel ch;
    int rc = EXIT_OK, dirfd = -1;
    size_t shown = 0;
    if (c->save_dir && (dirfd = open(c->save_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        errorf("receive", "--save %s: %s", c->save_dir, strerror(errno));
        return EXIT_FAILED;
    }
    if (channel_open(c, &ch, NULL) != 0) {
        channel_free(&ch);
        if (dirfd >= 0)
            close(dirfd);
        return EXIT_FAILED;
    }
    json_int_t last = 0; /* items answers come in id order: a file left waiting is not shown twice */
    for (int round = 0; round < RECEIVE_ROUNDS; round++) {
        json_t *ans = do_op(c, &ch, "items", "{}", 2, 0);
        if (!ans) {
            rc = EXIT_FAILED;
            break;
        }
        json_t *list = json_object_get(ans, "items");
        int progress = 0;
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *it = json_array_get(list, i);
            json_int_t id = json_integer_value(json_object_get(it, "id"));
            const char *type = json_get_str(it, "type");
            char *from = printable(json_get_str(it, "from"));
            int done = 1;
            if (id <= last) {
                free(from);
                continue;
            }
            last = id;
            progress = 1;
            shown++;
            if (!type) {
                done = 0;
            } else if (!strcmp(type, "bytes")) {
                const char *d = json_get_str(it, "data");
                uint8_t *b = NULL;
                size_t n = 0;
                if (d && b64url_decode(d, strlen(d), B64_NO_PAD, &b, &n) == 0)
                    result("item %lld from %s: bytes, %zu bytes (base64url): %s", (long long)id, from, n, d);
                else
                    done = 0;
                free(b);
            } else if (!strcmp(type, "text")) {
                char *t = json_dumps(json_object_get(it, "text"), JSON_ENCODE_ANY);
                result("item %lld from %s: text, %zu bytes: %s", (long long)id, from,
                       json_string_length(json_object_get(it, "text")), t ? t : "?");
                free(t);
            } else if (!strcmp(type, "object") || !strcmp(type, "list")) {
                char *t = json_compact(json_object_get(it, "value"));
                result("item %lld from %s: %s: %s", (long long)id, from, type, t ? t : "?");
                free(t);
            } else if (!strcmp(type, "file")) {
                json_t *m = json_object_get(it, "file");
                char *nm = printable(json_get_str(m, "name"));
                char saved[ITEM_NAME_MAX + 32];
                if (dirfd < 0) {
                    result("item %lld from %s: file %s, %lld bytes, SHA-256 %s: waits (receive --save DIR "
                           "fetches it)",
                           (long long)id, from, nm ? nm : "?",
                           (long long)json_integer_value(json_object_get(m, "size")),
                           json_get_str(m, "sha256") ? json_get_str(m, "sha256") : "?");
                    done = 0;
                } else if (save_file(c, &ch, dirfd, id, m, saved, sizeof saved) == 0) {
                    result("item %lld from %s: file %s, %lld bytes, SHA-256 %s verified: saved as %s/%s",
                           (long long)id, from, nm ? nm : "?",
                           (long long)json_integer_value(json_object_get(m, "size")),
                           json_get_str(m, "sha256") ? json_get_str(m, "sha256") : "?", c->save_dir, saved);
                } else {
                    done = 0;
                    rc = EXIT_FAILED;
                }
                free(nm);
            } else {
                done = 0;
            }
            free(from);
            if (done) {
                json_t *a = do_op_json(c, &ch, "item_done", json_pack("{s:I}", "id", id), 0);
                if (!a)
                    rc = EXIT_FAILED;
                json_decref(a);
            }
        }
        int more = json_is_true(json_object_get(ans, "more"));
        json_decref(ans);
        if (!more || !progress)
            break;
    }
    if (!shown && rc == EXIT_OK)
        result("no items waiting");
    channel_close(c, &ch, "done");
    channel_free(&ch);
    if (dirfd >= 0)
        close(dirfd);
    return rc;
}

/* ---- the commands ------------------------------------------------------------------------------------ */

/* send-op: the payload from the command line or stdin (a pickle's bytes
 * too), then the lab's hand-made request (client_messages.c) */
static int send_op(client *c, const char *op, const char *arg)
{
    size_t len = 0;
    uint8_t *payload = !strcmp(arg, "-") ? read_input("-", RECORD_PAYLOAD_MAX, &len)
                                         : (uint8_t *)strdup(arg);
    if (!payload)
        return EXIT_FAILED;
    if (strcmp(arg, "-"))
        len = strlen(arg);
    int rc = client_raw_op(c, op, payload, len);
    free(payload);
    return rc;
}

int client_transfer_main(client *c, const char *cmd, int argc, char **argv)
{
    int sends = !strcmp(cmd, "send-bytes") || !strcmp(cmd, "send-text") || !strcmp(cmd, "send-object") ||
                !strcmp(cmd, "send-list") || !strcmp(cmd, "send-file");
    if (sends) {
        if (argc != 1)
            cli_usage_error("%s --to USER takes one argument", cmd);
        if (!c->to)
            cli_usage_error("%s: to whom? --to USER", cmd);
    }
    if (!strcmp(cmd, "send-bytes")) {
        size_t n = 0;
        uint8_t *b = read_input(argv[0], ITEM_INLINE_MAX, &n);
        char *d = b ? b64url_encode(b, n, B64_NO_PAD) : NULL;
        free(b);
        if (!d)
            return EXIT_FAILED;
        int rc = send_item(c, json_pack("{s:s, s:s}", "type", "bytes", "data", d));
        free(d);
        return rc;
    }
    if (!strcmp(cmd, "send-text")) {
        json_t *t = json_stringn(argv[0], strlen(argv[0]));
        if (!t) {
            errorf("send-text", "the text is not UTF-8");
            return EXIT_FAILED;
        }
        return send_item(c, json_pack("{s:s, s:o}", "type", "text", "text", t));
    }
    if (!strcmp(cmd, "send-object") || !strcmp(cmd, "send-list")) {
        char err[160];
        int obj = cmd[5] == 'o';
        json_t *v = json_parse(argv[0], strlen(argv[0]), ITEM_JSON_DEPTH - 1, err, sizeof err);
        if (!v || (obj ? !json_is_object(v) : !json_is_array(v))) {
            errorf(cmd, "%s", v ? (obj ? "not a JSON object {...}" : "not a JSON array [...]") : err);
            json_decref(v);
            return EXIT_USAGE;
        }
        return send_item(c, json_pack("{s:s, s:o}", "type", obj ? "object" : "list", "value", v));
    }
    if (!strcmp(cmd, "send-file"))
        return send_file(c, argv[0]);
    if (!strcmp(cmd, "receive")) {
        if (argc != 0)
            cli_usage_error("receive takes no argument (--save DIR saves files)");
        return receive(c);
    }
    if (!strcmp(cmd, "send-op")) {
        if (argc != 2)
            cli_usage_error("send-op OP JSON|-");
        return send_op(c, argv[0], argv[1]);
    }
    return CLIENT_NOT_MINE;
}
