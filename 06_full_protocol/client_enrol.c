/* SPDX-License-Identifier: MIT */
/*
 * client_enrol.c - 06-client register, enrol, reenrol.
 *
 * Enrolment is EST (RFC 7030) with one addition that makes it sound: the CSR's
 * challengePassword carries the tls-exporter value (RFC 9266) of the very TLS
 * connection that sends it. The CSR can only be built once that connection's
 * handshake is done, so it is made inside the request (http_session's
 * body_fn): if libcurl had to reconnect, the CSR is made again for the new
 * connection. A CSR relayed by someone in the middle carries the exporter of
 * the wrong connection, and the server refuses it.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "core/cli.h"
#include "core/encoding.h"
#include "core/json.h"
#include "pki/pki.h"

#define PASSWORD_MAX 1024

char *client_password(const client *c, size_t *len)
{
    char *pw = NULL;
    const char *env = getenv("COURSE06_PASSWORD");
    if (c->password_file) {
        if (!(pw = cli_read_file(c->password_file, PASSWORD_MAX + 2, len)))
            return NULL;
        while (*len && (pw[*len - 1] == '\n' || pw[*len - 1] == '\r'))
            pw[--*len] = '\0';
        return pw;
    }
    if (env) {
        *len = strlen(env);
        return strdup(env);
    }
    if (!isatty(STDIN_FILENO)) {
        errorf("password", "no --password-file, no COURSE06_PASSWORD, and stdin is not a terminal");
        hint("put the password in a file readable by you only and pass --password-file F");
        return NULL;
    }
    /* a prompt that does not echo: the password never reaches the screen,
     * the shell history or the process list */
    struct termios old, quiet;
    if (!(pw = malloc(PASSWORD_MAX + 2)))
        return NULL;
    fprintf(stderr, "password for %s: ", c->user ? c->user : "?");
    fflush(stderr);
    int restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(pw, PASSWORD_MAX + 2, stdin);
    if (restore)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    if (!got) {
        free(pw);
        return NULL;
    }
    *len = strlen(pw);
    while (*len && (pw[*len - 1] == '\n' || pw[*len - 1] == '\r'))
        pw[--*len] = '\0';
    return pw;
}

static http_session *plain_session(client *c, int with_cert)
{
    http_session_opts o = client_session_opts(c, with_cert);
    return http_session_new(&o);
}

/* One line for a refusal: the server's {"error": ...} or the raw body. */
static void say_refusal(const char *what, const http_response *res)
{
    json_t *j = res->body ? json_parse(res->body, res->body_len, 4, NULL, 0) : NULL;
    const char *e = j ? json_get_str(j, "error") : NULL;
    errorf(what, "HTTP %ld: %s", res->status, e ? e : res->body ? res->body : "(no body)");
    json_decref(j);
}

int client_register(client *c)
{
    size_t len = 0;
    char *pw;
    http_session *s;
    http_response res = {0};
    int rc = -1;
    if (!c->user) {
        errorf("register", "which account? --user NAME");
        return -1;
    }
    if (!(pw = client_password(c, &len)))
        return -1;
    json_t *body = json_pack("{s:s, s:s%}", "username", c->user, "password", pw, len);
    char *text = body ? json_compact(body) : NULL;
    json_decref(body); /* jansson's copy of the password is freed, not wiped: a known limit */
    encoding_free_secret(pw, len);
    if (!text || !(s = plain_session(c, 0))) {
        free(text);
        return -1;
    }
    step("registering account '%s' (the password travels inside TLS; the server stores Argon2id)",
         c->user);
    http_session_request r = {.method = "POST", .path = "/v1/register", .content_type = "application/json",
                              .body = text, .body_len = strlen(text), .secret_body = 1};
    if (http_session_do(s, &r, &res) != 0)
        client_transport_error(c, "register", &res);
    else if (res.status != 201)
        say_refusal("register", &res);
    else {
        result("account '%s' registered", c->user);
        rc = 0;
    }
    encoding_free_secret(text, strlen(text));
    http_response_free(&res);
    http_session_free(s);
    return rc;
}

/* ---- enrolment ----------------------------------------------------------- */

typedef struct csr_ctx {
    EVP_PKEY *key;
    const char *user;
} csr_ctx;

/* body_fn: the CSR for this connection, base64 of DER (RFC 7030 4.2.1) */
static int build_csr(const uint8_t exporter[32], void *arg, char **body, size_t *len)
{
    csr_ctx *x = arg;
    pki_name subject = {0};
    X509_REQ *csr;
    char *cb = b64url_encode(exporter, 32, B64_NO_PAD);
    unsigned char *der = NULL;
    int n = -1;
    subject.cn = x->user; /* advice only: the server names the certificate itself */
    csr = cb ? pki_csr_create(x->key, &subject, NULL, 0) : NULL;
    /* the binding goes in before the signature, so the signature covers it */
    if (csr && pki_csr_challenge_set(csr, cb) == 0 &&
        X509_REQ_sign(csr, x->key, EVP_PKEY_is_a(x->key, "ED25519") ? NULL : EVP_sha256()) > 0)
        n = i2d_X509_REQ(csr, &der);
    if (n > 0) {
        step("CSR for this connection: challengePassword = tls-exporter %.12s... (RFC 9266)", cb);
        EVP_ENCODE_CTX *e = EVP_ENCODE_CTX_new();
        int a = 0, b = 0;
        *body = malloc((size_t)n / 48 * 65 + 70);
        if (e && *body) {
            EVP_EncodeInit(e);
            EVP_EncodeUpdate(e, (unsigned char *)*body, &a, der, n);
            EVP_EncodeFinal(e, (unsigned char *)*body + a, &b);
            *len = (size_t)(a + b);
        }
        EVP_ENCODE_CTX_free(e);
    }
    OPENSSL_free(der);
    X509_REQ_free(csr);
    free(cb);
    return n > 0 && *body ? 0 : -1;
}

/* The certificate out of a base64 certs-only PKCS#7 */
static X509 *cert_from_p7(const char *b64, size_t len)
{
    unsigned char *der = malloc(len + 1);
    size_t n = 0;
    X509 *cert = NULL;
    char *clean = malloc(len + 1);
    if (!der || !clean)
        goto out;
    for (size_t i = 0; i < len; i++)
        if (b64[i] != '\n' && b64[i] != '\r' && b64[i] != ' ')
            clean[n++] = b64[i];
    int d = n % 4 == 0 ? EVP_DecodeBlock(der, (unsigned char *)clean, (int)n) : -1;
    if (d > 0) {
        const unsigned char *p = der;
        PKCS7 *p7 = d2i_PKCS7(NULL, &p, d);
        STACK_OF(X509) *certs = p7 && PKCS7_type_is_signed(p7) ? p7->d.sign->cert : NULL;
        if (certs && sk_X509_num(certs) > 0)
            cert = X509_dup(sk_X509_value(certs, 0));
        PKCS7_free(p7);
    }
out:
    free(der);
    free(clean);
    return cert;
}

static EVP_PKEY *device_key(client *c, int re)
{
    struct stat sb;
    if (re || stat(c->device_key, &sb) == 0) {
        EVP_PKEY *k = pki_key_read(c->device_key, NULL);
        if (!k)
            errorf("device key", "%s: %s", c->device_key, pki_last_error());
        else
            note("using the device key %s", c->device_key);
        return k;
    }
    EVP_PKEY *k = pki_key_generate(c->key_type);
    if (!k || pki_key_write(c->device_key, k, NULL) != 0) {
        errorf("device key", "cannot make %s: %s", c->device_key, pki_last_error());
        EVP_PKEY_free(k);
        return NULL;
    }
    step("made a new %s device key %s (mode 0600); it never leaves this folder", c->key_type,
         c->device_key);
    return k;
}

/* mkdir -p for --home, each folder made 0700: `--home build/lab/alice` works
 * on a fresh tree (a missing build/lab was "No such file or directory") */
static int make_home(const char *home)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", home) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int client_enrol(client *c, int re)
{
    char basic[1100], *auth = NULL, *pw = NULL, *userpass = NULL;
    const char *headers[2] = {NULL, NULL};
    size_t pwlen = 0;
    http_response res = {0};
    http_session *s = NULL;
    EVP_PKEY *key;
    X509 *cert = NULL;
    int rc = -1;

    if (!re && !c->user) {
        errorf("enrol", "which account? --user NAME");
        return -1;
    }
    if (make_home(c->home) != 0) {
        errorf("home", "cannot make %s: %s", c->home, strerror(errno));
        return -1;
    }
    if (!(key = device_key(c, re)))
        return -1;
    csr_ctx x = {key, c->user ? c->user : "device"};
    if (!re) {
        /* HTTP Basic (RFC 7617) inside TLS: what EST's simpleenroll asks */
        if (!(pw = client_password(c, &pwlen)))
            goto out;
        size_t ul = strlen(c->user);
        if (!(userpass = malloc(ul + 1 + pwlen + 1)))
            goto out;
        memcpy(userpass, c->user, ul);
        userpass[ul] = ':';
        memcpy(userpass + ul + 1, pw, pwlen + 1);
        int n = EVP_EncodeBlock((unsigned char *)basic + 21, (unsigned char *)userpass,
                                (int)(ul + 1 + pwlen));
        memcpy(basic, "Authorization: Basic ", 21);
        if (n < 0 || (size_t)n + 22 > sizeof basic)
            goto out;
        basic[21 + n] = '\0';
        headers[0] = basic;
    }
    if (!(s = plain_session(c, re)))
        goto out;
    step("%s at %s%s", re ? "re-enrolling with the current certificate" : "enrolling a device",
         c->url, re ? "/.well-known/est/simplereenroll" : "/.well-known/est/simpleenroll");
    http_session_request r = {
        .method = "POST",
        .path = re ? "/.well-known/est/simplereenroll" : "/.well-known/est/simpleenroll",
        .content_type = "application/pkcs10",
        .headers = headers,
        .body_fn = build_csr, /* the CSR is made once the connection is up: it binds it */
        .body_arg = &x,
    };
    if (http_session_do(s, &r, &res) != 0) {
        client_transport_error(c, "enrol", &res);
        goto out;
    }
    if (res.status != 200) {
        say_refusal("enrol", &res);
        goto out;
    }
    if (!(cert = cert_from_p7(res.body, res.body_len))) {
        errorf("enrol", "the answer holds no certificate");
        goto out;
    }
    char serial[80], subject[256], until[64];
    pki_serial_hex(X509_get0_serialNumber(cert), serial, sizeof serial);
    pki_name_text(X509_get_subject_name(cert), subject, sizeof subject);
    pki_time_text(X509_get0_notAfter(cert), until, sizeof until);
    if (pki_cert_write(c->device_crt, cert) != 0) {
        errorf("enrol", "cannot write %s: %s", c->device_crt, pki_last_error());
        goto out;
    }
    result("device certificate %s: %s, device id (serial) %s, valid until %s", c->device_crt,
           subject, serial, until);
    rc = 0;
out:
    OPENSSL_cleanse(basic, sizeof basic);
    if (userpass)
        encoding_free_secret(userpass, strlen(userpass));
    if (pw)
        encoding_free_secret(pw, pwlen);
    free(auth);
    X509_free(cert);
    EVP_PKEY_free(key);
    http_response_free(&res);
    http_session_free(s);
    return rc;
}
