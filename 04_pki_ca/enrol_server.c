/*
 * enrol_server.c - the CA side of enrolment (see enrol.h).
 *
 * The order of checks matters: the CSR is read and its self-signature checked
 * first (a broken request costs no code), then the code is held for this
 * request, then the CA signs with the client profile, whatever the request
 * asked for. The code is spent only when a certificate goes back: if the
 * policy refuses the CSR (RSA under 2048 bits, a name it does not sign) or
 * anything fails, the code is given back and works for a better CSR.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    pthread_mutex_t lock;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

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
    if (!(text = cli_read_file(file, 64 * 1024, &len)))
        return -1;
    for (char *line = strtok_r(text, "\r\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\r\n", &save))
        if (*line && *line != '#')
            rc = add_code(line, strlen(line));
    OPENSSL_cleanse(text, len);
    free(text);
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
