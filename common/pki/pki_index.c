/* SPDX-License-Identifier: MIT */
/*
 * pki_index.c - the CA's index of issued certificates (OpenSSL `ca` layout)
 * and revocation; the CRL made from it is in pki_crl.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "pki/pki.h"
#include "pki/pki_internal.h"

static const char *const CRL_REASONS[] = {
    "unspecified",          "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
    "cessationOfOperation", NULL,            NULL,           NULL,                 "privilegeWithdrawn",
};

int pki_reason_code(const char *reason)
{
    for (int i = 0; i < (int)(sizeof CRL_REASONS / sizeof CRL_REASONS[0]); i++)
        if (CRL_REASONS[i] && reason && !strcasecmp(reason, CRL_REASONS[i]))
            return i;
    return -1;
}

int pki_crl_reason_valid(const char *reason)
{
    return pki_reason_code(reason) >= 0;
}

static int index_path(char *out, size_t n, const char *dir, const char *file)
{
    if (snprintf(out, n, "%s/%s", dir, file) >= (int)n) {
        pki_fail("%s: path too long", dir);
        return -1;
    }
    return 0;
}

/* Threads of one process (04-server's enrolment) and separate processes
 * (minica revoke or crl while 04-server enrols) may change the CA folder at
 * once. Each read-modify-write of index.txt or crlnumber holds the mutex (the
 * threads) and an flock() on DIR/index.lock (the processes): without both, two
 * writers read the same old index and the second rename loses the first's
 * line. The lock file is never removed: a writer that removed it could let the
 * next two lock two different files. */
static pthread_mutex_t g_index_lock = PTHREAD_MUTEX_INITIALIZER;

int pki_index_lock(const char *dir)
{
    char path[4096];
    int fd;
    if (index_path(path, sizeof path, dir, "index.lock"))
        return -1;
    pthread_mutex_lock(&g_index_lock);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        pki_fail("%s: cannot open the CA's lock file: %s", path, strerror(errno));
        pthread_mutex_unlock(&g_index_lock);
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        pki_fail("%s: cannot lock: %s", path, strerror(errno));
        close(fd);
        pthread_mutex_unlock(&g_index_lock);
        return -1;
    }
    return fd;
}

void pki_index_unlock(int fd)
{
    if (fd < 0)
        return;
    close(fd); /* closing the last descriptor releases the flock */
    pthread_mutex_unlock(&g_index_lock);
}

/* Append to out (cap bytes, *used of them taken) or fail: never past the end,
 * never a silently cut line. */
static int put(char *out, size_t cap, size_t *used, const char *fmt, ...) COURSE_PRINTF(4, 5);
static int put(char *out, size_t cap, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int w;
    if (*used >= cap) {
        pki_fail("the new index does not fit in memory as planned");
        return -1;
    }
    va_start(ap, fmt);
    w = vsnprintf(out + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap - *used) {
        pki_fail("the new index does not fit in memory as planned");
        return -1;
    }
    *used += (size_t)w;
    return 0;
}
/* Read the index (missing = empty). The caller frees *text. */
/* The index is read as C text, line by line (strtok_r): a NUL byte would end
 * it there, silently. A revocation would then rewrite the file without the
 * lines after the NUL, and a CRL would leave out the revocations listed there
 * (a revoked certificate passing again). Found by the fuzz target pki_index:
 * so a NUL anywhere is refused, and the file left as it is. */
int pki_index_text_ok(const char *text, size_t len, const char *path)
{
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        pki_fail("%s holds a NUL byte at offset %zu: not an index this CA wrote; refusing to "
                 "read past it (fix the file by hand)",
                 path, (size_t)(nul - text));
        return -1;
    }
    return 0;
}

static int index_load(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *text = calloc(1, 1);
        *len = 0;
        return *text ? 0 : -1;
    }
    fclose(f);
    *text = pki_read_all(path, len);
    if (*text && pki_index_text_ok(*text, *len, path) != 0) {
        free(*text);
        *text = NULL;
    }
    return *text ? 0 : -1;
}

static void utc_now(char out[16])
{
    ASN1_TIME *t = ASN1_UTCTIME_set(NULL, time(NULL));
    snprintf(out, 16, "%.*s", t ? ASN1_STRING_length(t) : 0,
             t ? (const char *)ASN1_STRING_get0_data(t) : "");
    ASN1_TIME_free(t);
}

int pki_index_add(const char *dir, X509 *cert)
{
    char path[4096], serial[64], subj[512];
    const ASN1_TIME *na = X509_get0_notAfter(cert);
    char *old = NULL, *buf = NULL;
    size_t len = 0, cap, used = 0;
    int rc = -1, lock = -1;

    if (index_path(path, sizeof path, dir, "index.txt") ||
        pki_serial_hex(X509_get0_serialNumber(cert), serial, sizeof serial))
        return -1;
    X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof subj);
    if ((lock = pki_index_lock(dir)) < 0)
        return -1;
    if (index_load(path, &old, &len))
        goto end;
    cap = len + 700;
    if (!(buf = malloc(cap)))
        goto end;
    memcpy(buf, old, len);
    used = len;
    if (used > 0 && buf[used - 1] != '\n') /* a last line without its newline */
        buf[used++] = '\n';
    /* OpenSSL `ca` layout, so `openssl ca` and a learner read it alike */
    if (put(buf, cap, &used, "V\t%.*s\t\t%s\tunknown\t%s\n", ASN1_STRING_length(na),
            (const char *)ASN1_STRING_get0_data(na), serial, subj))
        goto end;
    rc = pki_write_file(path, buf, used, 0644);
end:
    pki_index_unlock(lock);
    free(old);
    free(buf);
    return rc;
}

int pki_index_revoke(const char *dir, const char *serial_hex, const char *reason)
{
    char path[4096], now[16];
    char *text = NULL, *out = NULL, *line, *save = NULL;
    size_t len = 0, used = 0, cap = 0;
    int rc = -1, found = 0, lock = -1;

    if (pki_reason_code(reason) < 0) {
        pki_fail("unknown revocation reason '%s' (keyCompromise, cACompromise, "
                 "affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, "
                 "unspecified)", reason ? reason : "");
        return -1;
    }
    if (index_path(path, sizeof path, dir, "index.txt"))
        return -1;
    utc_now(now);
    if ((lock = pki_index_lock(dir)) < 0)
        return -1;
    /* the output is the input plus one revocation time and reason (one line
     * changes: a serial listed twice is refused below); put() checks anyway */
    if (index_load(path, &text, &len) || !(out = malloc(cap = len + 128)))
        goto end;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* fields: status, notAfter, revoked, serial, file, subject (TAB-separated;
         * scanf would merge the empty revoked field with its neighbours) */
        char *f[6] = {line}, *p = line;
        int n = 1;
        while (n < 6 && (p = strchr(p, '\t')) != NULL) {
            *p++ = '\0';
            f[n++] = p;
        }
        if (n == 6 && !strcasecmp(f[3], serial_hex)) {
            if (found) {
                pki_fail("%s lists serial %s more than once; refusing to guess which to revoke "
                         "(fix the file by hand)", path, serial_hex);
                goto end;
            }
            if (f[0][0] == 'R') {
                pki_fail("certificate %s is already revoked", serial_hex);
                goto end;
            }
            if (put(out, cap, &used, "R\t%s\t%s,%s\t%s\t%s\t%s\n", f[1], now,
                    CRL_REASONS[pki_reason_code(reason)], f[3], f[4], f[5]))
                goto end;
            found = 1;
        } else {
            for (int i = 0; i < n; i++)
                if (put(out, cap, &used, "%s%s", f[i], i + 1 < n ? "\t" : "\n"))
                    goto end;
        }
    }
    if (!found) {
        pki_fail("no certificate with serial %s in %s", serial_hex, path);
        goto end;
    }
    rc = pki_write_file(path, out, used, 0644);
end:
    pki_index_unlock(lock);
    free(text);
    free(out);
    return rc;
}
