/* SPDX-License-Identifier: MIT */
/*
 * enrol_server.c - the CA side of enrolment (see enrol.h).
 *
 * The order of checks matters: the CSR is read and its self-signature checked
 * first (a broken request costs no code), then the code is held for this
 * request, then the CA signs with the client profile, whatever the request
 * asked for. The code is spent only when a certificate goes back: if the
 * policy refuses the CSR (RSA under 2048 bits, a name it does not sign) or
 * anything fails, the code is given back and works for a better CSR.
 *
 * "Good once" must survive a restart: a code spent only in memory works
 * again when the server is started again with the same codes file. So the
 * SHA-256 of each spent code (never the code) is appended to a record beside
 * the codes file, FILE.spent (FILE by its real path, so a symlink to it finds
 * the same record; for $ENROL_CODE: PKI/enrol.spent), and fsync'ed
 * before the certificate is sent. The server refuses to start when it cannot
 * write that record, when the record is damaged, or when another 04-server
 * holds it (two servers with one codes file would each spend a code once).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/cli.h"
#include "enrol.h"
#include "core/json.h"
#include "pki/pki.h"
#include "net/webserver.h"

#define MAX_CODES 256
#define MIN_CODE 16
#define MAX_CODE 128
/* lines in the spent record: it also keeps the codes of older codes files */
#define MAX_SPENT_LINES 65536
#define SPENT_LINE 65 /* 64 hex digits and a newline */

/* A code is free, held by one request while the CA signs (no other request
 * may take it meanwhile), or spent once a certificate was made with it. */
enum { CODE_FREE, CODE_HELD, CODE_SPENT };

static struct {
    X509 *ca;
    EVP_PKEY *key;
    STACK_OF(X509) *chain; /* what a client needs between its cert and the root */
    char root_path[4096], crl_path[4096], index_dir[4096];
    int days;
    unsigned char hash[MAX_CODES][32]; /* SHA-256 of each code: the codes themselves are not kept */
    int state[MAX_CODES];              /* CODE_FREE, CODE_HELD or CODE_SPENT, under lock */
    int n_codes;
    char spent_path[4200]; /* the record of spent codes */
    int spent_fd;          /* open O_APPEND, flock()ed for as long as we run */
    pthread_mutex_t lock;
} g = {.spent_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

static int add_code(const char *code, size_t len)
{
    unsigned int n = 0;
    if (len < MIN_CODE || len > MAX_CODE) {
        errorf("enrolment codes", "a code must have %d to %d characters (this one has %zu)",
               MIN_CODE, MAX_CODE, len);
        return -1;
    }
    if (g.n_codes == MAX_CODES) {
        errorf("enrolment codes", "at most %d codes", MAX_CODES);
        return -1;
    }
    if (!EVP_Digest(code, len, g.hash[g.n_codes], &n, EVP_sha256(), NULL))
        return -1;
    g.n_codes++;
    return 0;
}

static int load_codes(const char *file)
{
    size_t len = 0;
    char *text, *save = NULL;
    const char *env = getenv("ENROL_CODE");
    int rc = 0;

    if (!file)
        return env && *env ? add_code(env, strlen(env)) : 0;
    if (!(text = cli_read_file(file, 64 * 1024, &len))) {
        if (access(file, F_OK) != 0 && errno == ENOENT)
            hint("make pki writes ten one-time codes to build/pki/codes (one per line, mode 0600); "
                 "or make your own file and give it with --codes FILE");
        return -1;
    }
    /* whoever can read the codes can enrol with them: for us alone, as a key file */
    cli_warn_if_open(file, "enrolment codes file");
    for (char *line = strtok_r(text, "\r\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\r\n", &save))
        if (*line && *line != '#')
            rc = add_code(line, strlen(line));
    OPENSSL_cleanse(text, len);
    free(text);
    return rc;
}

static void hash_hex(const unsigned char h[32], char out[SPENT_LINE + 1])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    out[64] = '\n';
    out[65] = '\0';
}

/* Mark every code whose hash the record lists as spent. 0, or -1 after an
 * error: a damaged record is not guessed at, it stops the server. */
static int read_spent(const char *text, size_t len)
{
    size_t lines = len / SPENT_LINE;
    if (len % SPENT_LINE != 0 || lines > MAX_SPENT_LINES) {
        errorf(g.spent_path, "%s", len % SPENT_LINE
                   ? "the record of spent codes is damaged (a line is cut short or too long)"
                   : "the record of spent codes is too long");
        hint("each line is the SHA-256 of a spent code in hex; 04-server will not guess which "
             "codes were spent: restore the file, or remove only a line you know is bad");
        return -1;
    }
    for (size_t l = 0; l < lines; l++) {
        const char *line = text + l * SPENT_LINE;
        unsigned char h[32];
        if (line[64] != '\n' || strspn(line, "0123456789abcdef") != 64) {
            errorf(g.spent_path, "line %zu is not the SHA-256 of a spent code (64 hex digits): "
                   "the record is damaged", l + 1);
            hint("04-server will not guess which codes were spent: restore the file, or remove "
                 "only a line you know is bad");
            return -1;
        }
        for (int i = 0; i < 32; i++) {
            unsigned v = 0;
            sscanf(line + 2 * i, "%2x", &v);
            h[i] = (unsigned char)v;
        }
        for (int i = 0; i < g.n_codes; i++)
            if (CRYPTO_memcmp(h, g.hash[i], sizeof h) == 0)
                g.state[i] = CODE_SPENT;
    }
    return 0;
}

/* Open (or create, 0600) the record of spent codes beside the codes file,
 * lock it, and mark the codes it lists as spent. */
static int open_spent(const char *pki_dir, const char *codes_file)
{
    struct stat st;
    char *text = NULL;
    size_t got = 0;
    int rc = -1, spent = 0;

    /* the codes file by its real path: a symlink or "./codes" to the same
     * file must find the same record, not start a fresh one */
    char *real = codes_file ? realpath(codes_file, NULL) : NULL;
    if (codes_file && !real) {
        errorf(codes_file, "%s", strerror(errno));
        return -1;
    }
    if (snprintf(g.spent_path, sizeof g.spent_path, "%s%s", real ? real : pki_dir,
                 real ? ".spent" : "/enrol.spent") >= (int)sizeof g.spent_path) {
        errorf("enrolment codes", "the path of the codes file is too long");
        free(real);
        return -1;
    }
    free(real);
    g.spent_fd = open(g.spent_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (g.spent_fd < 0) {
        errorf(g.spent_path, "cannot open the record of spent enrolment codes: %s",
               strerror(errno));
        hint("04-server records each spent code there, so that a code works once even after a "
             "restart; it does not start without it (make the folder writable)");
        return -1;
    }
    if (flock(g.spent_fd, LOCK_EX | LOCK_NB) != 0) {
        errorf(g.spent_path, "another 04-server is using these enrolment codes (%s)",
               errno == EWOULDBLOCK ? "it holds the lock on this record" : strerror(errno));
        hint("run one server per codes file: two would each accept a code once");
        return -1;
    }
    if (fstat(g.spent_fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > (off_t)MAX_SPENT_LINES * SPENT_LINE + 1) {
        errorf(g.spent_path, "not a regular file of at most %d lines", MAX_SPENT_LINES);
        return -1;
    }
    /* hashes of spent codes are not secret, but nobody else needs them */
    if (cli_mode_open(st.st_mode) && fchmod(g.spent_fd, 0600) != 0) {
        errorf(g.spent_path, "chmod 600: %s", strerror(errno));
        return -1;
    }
    if (!(text = malloc((size_t)st.st_size + 1))) {
        errorf(g.spent_path, "out of memory");
        return -1;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(g.spent_fd, text + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            errorf(g.spent_path, "read: %s", n < 0 ? strerror(errno) : "the file got shorter");
            goto end;
        }
        got += (size_t)n;
    }
    text[got] = '\0';
    if (read_spent(text, got))
        goto end;
    for (int i = 0; i < g.n_codes; i++)
        spent += g.state[i] == CODE_SPENT;
    /* on stderr: the first line on stdout must be "listening on URL" */
    notice("enrolment: %d code%s, %d spent, %d left (spent codes are recorded in %s)",
           g.n_codes, g.n_codes == 1 ? "" : "s", spent, g.n_codes - spent, g.spent_path);
    rc = 0;
end:
    free(text);
    return rc;
}

/* Append the hash of a held code to the record and fsync it: after this, the
 * code stays spent whatever happens to this process. 0 or -1. */
static int record_spent(int slot)
{
    char line[SPENT_LINE + 1];
    size_t done = 0;
    int rc = 0;
    off_t before;

    hash_hex(g.hash[slot], line);
    pthread_mutex_lock(&g.lock);
    before = lseek(g.spent_fd, 0, SEEK_END);
    while (done < SPENT_LINE && rc == 0) {
        ssize_t n = write(g.spent_fd, line + done, SPENT_LINE - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            done += (size_t)n;
    }
    if (rc == 0 && fsync(g.spent_fd) != 0)
        rc = -1;
    if (rc)
        errorf(g.spent_path, "cannot record a spent enrolment code: %s", strerror(errno));
    /* half a line would make the record unreadable at the next start: cut it
     * off (if this fails too, the next start refuses the damaged record) */
    if (rc && before >= 0 && done > 0 && ftruncate(g.spent_fd, before) != 0)
        errorf(g.spent_path, "cannot cut off half a line: %s", strerror(errno));
    pthread_mutex_unlock(&g.lock);
    return rc;
}

int enrol_setup(const char *pki_dir, const char *codes_file, int days)
{
    char path[4200], pass[1025] = "";
    FILE *f;
    int rc = -1;

    g.days = days;
    snprintf(g.root_path, sizeof g.root_path, "%s/root.crt", pki_dir);
    snprintf(g.crl_path, sizeof g.crl_path, "%s/crl.pem", pki_dir);
    snprintf(g.index_dir, sizeof g.index_dir, "%s/intermediate", pki_dir);
    snprintf(path, sizeof path, "%s/ca-pass", pki_dir);
    if (!(f = fopen(path, "r")) || !fgets(pass, sizeof pass, f)) {
        errorf(path, "cannot read the CA passphrase");
        hint("run 'make pki' first (it makes %s)", pki_dir);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    pass[strcspn(pass, "\r\n")] = '\0';
    snprintf(path, sizeof path, "%s/ca.crt", g.index_dir);
    if (!(g.ca = pki_cert_read(path)) || !(g.chain = pki_certs_read(path)))
        goto end;
    snprintf(path, sizeof path, "%s/ca.key", g.index_dir);
    if (!(g.key = pki_key_read(path, pass)))
        goto end;
    /* nothing printed here: the first line out must be "listening on URL" */
    rc = load_codes(codes_file);
    if (rc == 0 && g.n_codes > 0)
        rc = open_spent(pki_dir, codes_file);
    OPENSSL_cleanse(pass, sizeof pass);
    return rc;
end:
    OPENSSL_cleanse(pass, sizeof pass);
    errorf("enrolment CA", "%s", pki_last_error());
    return -1;
}

void enrol_teardown(void)
{
    X509_free(g.ca);
    EVP_PKEY_free(g.key);
    sk_X509_pop_free(g.chain, X509_free);
    OPENSSL_cleanse(g.hash, sizeof g.hash);
    if (g.spent_fd >= 0)
        close(g.spent_fd); /* and with it the lock */
    g.spent_fd = -1;
}

static int serve_file(struct mg_connection *conn, const char *path, const char *type)
{
    size_t len = 0;
    char *data = cli_read_file(path, PKI_MAX_FILE, &len);
    int st;
    if (!data)
        return web_reply_error(conn, 404, "not available on this server");
    st = web_reply(conn, 200, type, data, len);
    free(data);
    return st;
}

int enrol_get_ca(struct mg_connection *conn, void *arg)
{
    (void)arg;
    note("serving the root certificate: over plain HTTP anyone on the path could swap it");
    return serve_file(conn, g.root_path, "application/x-pem-file");
}

int enrol_get_crl(struct mg_connection *conn, void *arg)
{
    (void)arg;
    return serve_file(conn, g.crl_path, "application/x-pem-file");
}

/* The slot of the code, now held by this request, if the code is good and
 * free; else -1 with *status and *why for the refusal. */
static int hold_code(const char *code, int *status, const char **why)
{
    unsigned char h[32];
    unsigned int n = 0;
    int match = -1;
    size_t len = code ? strlen(code) : 0;
    *status = 403;
    *why = "wrong enrolment code";
    if (len < MIN_CODE || len > MAX_CODE || !EVP_Digest(code, len, h, &n, EVP_sha256(), NULL))
        return -1;
    pthread_mutex_lock(&g.lock);
    /* compare with every code, always all of them, in constant time: neither
     * the timing nor an early exit tells which code is closest */
    for (int i = 0; i < g.n_codes; i++)
        if (CRYPTO_memcmp(h, g.hash[i], sizeof h) == 0)
            match = i;
    if (match >= 0 && g.state[match] != CODE_FREE) {
        if (g.state[match] == CODE_SPENT)
            *why = "this enrolment code was already used";
        else {
            *status = 409;
            *why = "this enrolment code is in use by another request right now; try again";
        }
        match = -1;
    } else if (match >= 0) {
        g.state[match] = CODE_HELD;
    }
    pthread_mutex_unlock(&g.lock);
    return match;
}

/* Spend a held code (a certificate went out) or give it back (none did). */
static void settle_code(int slot, int spent)
{
    pthread_mutex_lock(&g.lock);
    g.state[slot] = spent ? CODE_SPENT : CODE_FREE;
    pthread_mutex_unlock(&g.lock);
}

int enrol_post(struct mg_connection *conn, void *arg)
{
    json_t *in = NULL, *chain = NULL;
    const char *pem, *why;
    X509_REQ *csr = NULL;
    X509 *cert = NULL;
    pki_sign_opts so = pki_sign_defaults(PKI_PROFILE_CLIENT);
    char *out = NULL, serial[64], until[64];
    int st, slot = -1, spent = 0;
    (void)arg;

    if (g.n_codes == 0)
        return web_reply_error(conn, 503, "enrolment is closed on this server (no codes)");
    if ((st = web_read_json(conn, &in)) != 0)
        return st;
    pem = json_get_str(in, "csr");
    if (!pem || !(csr = pki_csr_from_pem(pem, strlen(pem))) || pki_csr_verify(csr) != 0) {
        st = web_reply_error(conn, 400, "bad CSR: %s", pem ? pki_last_error() : "\"csr\" is missing");
        goto end;
    }
    if ((slot = hold_code(json_get_str(in, "code"), &st, &why)) < 0) {
        note("refused an enrolment: %s", why);
        st = web_reply_error(conn, st, "%s", why);
        goto end;
    }
    so.days = g.days;
    if (!(cert = pki_sign_csr(csr, g.ca, g.key, &so, NULL)) || pki_index_add(g.index_dir, cert)) {
        st = web_reply_error(conn, 400, "not signed: %s", pki_last_error());
        goto end;
    }
    pki_serial_hex(X509_get0_serialNumber(cert), serial, sizeof serial);
    {
        struct tm tm;
        if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) ||
            !strftime(until, sizeof until, "%Y-%m-%d %H:%M UTC", &tm))
            snprintf(until, sizeof until, "?");
    }
    if (!(out = pki_cert_to_pem(cert, NULL)) || !(chain = json_array())) {
        st = web_reply_error(conn, 500, "out of memory");
        goto end;
    }
    for (int i = 0; i < sk_X509_num(g.chain); i++) {
        char *c = pki_cert_to_pem(sk_X509_value(g.chain, i), NULL);
        json_array_append_new(chain, json_string(c ? c : ""));
        free(c);
    }
    /* on disk before the certificate goes out: a crash or a restart after
     * this point cannot make the code good again. If the record cannot be
     * written, no certificate leaves (the one made stays in the index,
     * unsent) and the code is given back. */
    if (record_spent(slot)) {
        st = web_reply_error(conn, 500, "the CA could not record that the code is spent, so it "
                                        "sends no certificate; try again later");
        goto end;
    }
    spent = 1; /* the certificate goes out now: the code is used up */
    note("enrolment code spent; signed a client certificate, serial %s, valid until %s", serial,
         until);
    st = web_reply_json(conn, 200, json_pack("{s:s, s:o, s:s, s:s}", "certificate", out, "chain",
                                             chain, "serial", serial, "not_after", until));
    chain = NULL; /* json_pack's "o" took it */
end:
    if (slot >= 0)
        settle_code(slot, spent);
    json_decref(in);
    json_decref(chain);
    X509_REQ_free(csr);
    X509_free(cert);
    free(out);
    return st;
}
