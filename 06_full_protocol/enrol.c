/* SPDX-License-Identifier: MIT */
/*
 * enrol.c - accounts and devices: POST /v1/register, and enrolment shaped
 * like EST (RFC 7030): GET /.well-known/est/cacerts, POST
 * /.well-known/est/simpleenroll (HTTP Basic over TLS), POST
 * /.well-known/est/simplereenroll (the current device certificate).
 *
 * What the reference projects got wrong, and what stops it here:
 *   - R4 crashed on a duplicate account and hashed passwords client-side with
 *     unsalted SHA-256: accounts.c answers 409 and stores Argon2id.
 *   - R1 let anyone enrol any client id, and re-enrolled revoked ones: a
 *     certificate needs the account's password, its serial (the device id)
 *     is ours and random, and a revoked device's key is refused for good.
 *   - R5's CA signed whatever arrived, without proof of possession: the CSR's
 *     self-signature proves the key, and its challengePassword must carry
 *     THIS connection's TLS exporter (RFC 9266 tls-exporter, RFC 7030 section
 *     3.5), so a CSR relayed from another connection is refused.
 *   - R2 copied CA:TRUE and the subject from the request: the CSR's subject
 *     and extensions are ignored; the certificate is named after the account.
 * Wire format (RFC 7030 section 4, RFC 8951): the CSR is base64 of DER
 * PKCS#10, the answer base64 of a DER PKCS#7 certs-only message, so curl and
 * `openssl pkcs7 -print_certs` are an EST client too.
 */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/encoding.h"
#include "core/json.h"
#include "net/webserver.h"
#include "pki/pki.h"
#include "service.h"

#define CSR_MAX 8192 /* bytes of base64: an Ed25519 or P-256 CSR is under 1 KiB */

static int reply_busy(struct mg_connection *conn)
{
    /* every Argon2id slot is taken (each holds 19 MiB): later, not never */
    return web_reply_error_retry(conn, 503, 1, "too many password checks at once: retry in a second");
}

/* ---- POST /v1/register {username, password} ----------------------------- */

int h_register(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    json_t *in = NULL;
    const char *user, *pw;
    int64_t id = 0;
    int st;

    web_secret(conn); /* the body is a password: never in the log */
    if ((st = web_read_json(conn, &in)) != 0)
        return st;
    user = json_get_str(in, "username");
    pw = json_get_str(in, "password");
    if (!user || !pw || json_object_size(in) != 2) {
        json_decref(in);
        return web_reply_error(conn, 400, "the body must be {\"username\": ..., \"password\": ...}");
    }
    accounts_status s = accounts_register(svc->acc, user, pw, strlen(pw), (int64_t)time(NULL), &id);
    switch (s) {
    case ACCOUNTS_OK:
        note("registered account '%s' (Argon2id)", user);
        st = web_reply_json(conn, 201, json_pack("{s:s, s:I}", "username", user, "id", (json_int_t)id));
        break;
    case ACCOUNTS_EXISTS:
        st = web_reply_error(conn, 409, "the username '%s' is taken", user);
        break;
    case ACCOUNTS_BAD_NAME:
    case ACCOUNTS_BAD_PASSWORD:
        st = web_reply_error(conn, 400, "%s", accounts_status_str(s));
        break;
    case ACCOUNTS_BUSY:
        st = reply_busy(conn);
        break;
    default:
        st = web_reply_error(conn, 503, "the account was not stored: retry");
    }
    /* the password lives in the parsed body: wipe it there */
    json_t *p = json_object_get(in, "password");
    if (p && json_is_string(p))
        OPENSSL_cleanse((char *)json_string_value(p), json_string_length(p));
    json_decref(in);
    return st;
}

/* ---- base64 (RFC 4648 section 4, the standard alphabet EST uses) -------- */

/* Decode standard base64, skipping line breaks and spaces (RFC 8951: EST
 * bodies are base64, with or without line breaks). 0, or -1. */
static int b64_std_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
    char *clean = malloc(len + 1);
    size_t n = 0, pad = 0;
    int dec;
    if (!clean)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '\r' || in[i] == '\n' || in[i] == ' ' || in[i] == '\t')
            continue;
        clean[n++] = in[i];
    }
    if (n == 0 || n % 4 != 0 || !(*out = malloc(n / 4 * 3 + 1))) {
        free(clean);
        return -1;
    }
    while (pad < 2 && pad < n && clean[n - 1 - pad] == '=')
        pad++;
    dec = EVP_DecodeBlock(*out, (unsigned char *)clean, (int)n);
    free(clean);
    if (dec < 0 || (size_t)dec < pad) {
        free(*out);
        *out = NULL;
        return -1;
    }
    *out_len = (size_t)dec - pad;
    return 0;
}

/* base64 in 64-character lines, as RFC 7030's examples are */
static char *b64_std_encode(const unsigned char *in, size_t len, size_t *out_len)
{
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    char *out = malloc(len / 48 * 65 + 70);
    int n = 0, m = 0;
    if (!ctx || !out) {
        EVP_ENCODE_CTX_free(ctx);
        free(out);
        return NULL;
    }
    EVP_EncodeInit(ctx);
    if (EVP_EncodeUpdate(ctx, (unsigned char *)out, &n, in, (int)len) != 1) {
        EVP_ENCODE_CTX_free(ctx);
        free(out);
        return NULL;
    }
    EVP_EncodeFinal(ctx, (unsigned char *)out + n, &m);
    EVP_ENCODE_CTX_free(ctx);
    *out_len = (size_t)(n + m);
    return out;
}

/* A certs-only PKCS#7 (a degenerate SignedData, RFC 7030 section 4.1.3),
 * base64, as application/pkcs7-mime; smime-type=certs-only. */
static int reply_certs(struct mg_connection *conn, X509 *const *certs, size_t n)
{
    PKCS7 *p7 = PKCS7_new();
    unsigned char *der = NULL;
    char *b64 = NULL;
    size_t b64_len = 0;
    int len = -1, st;
    if (p7 && PKCS7_set_type(p7, NID_pkcs7_signed) == 1 &&
        PKCS7_content_new(p7, NID_pkcs7_data) == 1) {
        size_t i;
        for (i = 0; i < n; i++)
            if (PKCS7_add_certificate(p7, certs[i]) != 1)
                break;
        if (i == n)
            len = i2d_PKCS7(p7, &der);
    }
    if (len > 0)
        b64 = b64_std_encode(der, (size_t)len, &b64_len);
    st = b64 ? web_reply(conn, 200, "application/pkcs7-mime; smime-type=certs-only", b64, b64_len)
             : web_reply_error(conn, 500, "cannot encode the certificates");
    free(b64);
    OPENSSL_free(der);
    PKCS7_free(p7);
    return st;
}

int h_est_cacerts(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    X509 *certs[] = {svc->device_ca};
    note("EST cacerts: the device CA a client certificate must chain to");
    return reply_certs(conn, certs, 1);
}

/* ---- the CSR ---------------------------------------------------------- */

/* Read the body as a base64 DER PKCS#10 and check what enrolment needs of
 * it: the self-signature (proof of possession, R5) and the channel binding.
 * 0 with *out, or the status after answering. */
static int read_csr(service *svc, struct mg_connection *conn, X509_REQ **out)
{
    char *body = NULL, challenge[128], expect_b64[64];
    size_t len = 0, der_len = 0;
    unsigned char *der = NULL;
    const unsigned char *p;
    uint8_t cb[WEB_EXPORTER_LEN];
    X509_REQ *csr = NULL;
    int st;

    *out = NULL;
    const char *type = web_header(conn, "Content-Type");
    if (!type || strncmp(type, "application/pkcs10", 18) != 0)
        return web_reply_error(conn, 415, "send the CSR as application/pkcs10 (base64 of DER)");
    if ((st = web_read_body(conn, &body, &len)) != 0)
        return st;
    if (len > CSR_MAX || b64_std_decode(body, len, &der, &der_len) != 0) {
        free(body);
        return web_reply_error(conn, 400, "the body is not base64 of a DER CSR");
    }
    free(body);
    p = der;
    csr = d2i_X509_REQ(NULL, &p, (long)der_len);
    if (!csr || p != der + der_len) {
        free(der);
        X509_REQ_free(csr);
        return web_reply_error(conn, 400, "the body is not a DER PKCS#10 CSR");
    }
    free(der);
    if (pki_csr_verify(csr) != 0) {
        X509_REQ_free(csr);
        return web_reply_error(conn, 400,
                               "the CSR's signature does not verify: no proof that you hold the key");
    }
    if (!svc->enrol_binding_optional) {
        char *e = NULL;
        if (web_tls_exporter(conn, cb) != 0 || !(e = b64url_encode(cb, sizeof cb, B64_NO_PAD))) {
            X509_REQ_free(csr);
            return web_reply_error(conn, 500, "this connection has no TLS exporter value");
        }
        snprintf(expect_b64, sizeof expect_b64, "%s", e);
        free(e);
        if (pki_csr_challenge_get(csr, challenge, sizeof challenge) != 0) {
            X509_REQ_free(csr);
            return web_reply_error(conn, 400,
                                   "the CSR carries no challengePassword: put this connection's "
                                   "tls-exporter there (RFC 7030 section 3.5, RFC 9266)");
        }
        if (strlen(challenge) != strlen(expect_b64) ||
            CRYPTO_memcmp(challenge, expect_b64, strlen(expect_b64)) != 0) {
            X509_REQ_free(csr);
            warning("enrolment refused: the CSR is bound to another TLS connection");
            return web_reply_error(conn, 403,
                                   "the CSR is bound to another TLS connection (its challengePassword "
                                   "is not this connection's tls-exporter): a relayed CSR");
        }
    }
    *out = csr;
    return 0;
}

/* 1 if pub is the key of a revoked device: such a key never gets a
 * certificate again (R1 re-enrolled revoked ids). */
static int key_was_revoked(service *svc, X509_REQ *csr)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *st;
    EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
    int found = 0;
    if (!db || !pub ||
        sqlite3_prepare_v2(db, "SELECT cert_pem FROM devices WHERE revoked_at IS NOT NULL "
                               "AND reason <> 'superseded'", -1, &st, NULL) != SQLITE_OK)
        return 1; /* cannot tell: refuse */
    while (!found && sqlite3_step(st) == SQLITE_ROW) {
        const char *pem = (const char *)sqlite3_column_text(st, 0);
        BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
        X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        found = c && EVP_PKEY_eq(X509_get0_pubkey(c), pub) == 1;
        X509_free(c);
        BIO_free(b);
    }
    sqlite3_finalize(st);
    return found;
}

typedef struct device_row {
    const char *serial, *pem, *alg;
    const char *replaces; /* re-enrolment: the serial it supersedes, or NULL */
    int64_t account_id, not_after;
    uint8_t x5t[32];
    int superseded;       /* out: 1 if the old certificate was still live (and is no more) */
} device_row;

/* One job, so that a certificate can be renewed once: the old one is marked
 * superseded only if it is still live, and the new one is stored only then.
 * Eight renewals raced with one certificate give one new device, not eight. */
static int insert_device(sqlite3 *db, void *arg)
{
    device_row *r = arg;
    sqlite3_stmt *st;
    int rc;
    if (r->replaces) {
        if (sqlite3_prepare_v2(db,
                               "UPDATE devices SET revoked_at = ?2, reason = 'superseded' "
                               "WHERE serial = ?1 AND revoked_at IS NULL",
                               -1, &st, NULL) != SQLITE_OK)
            return -1;
        sqlite3_bind_text(st, 1, r->replaces, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
        if (rc != 0)
            return -1;
        if (sqlite3_changes(db) != 1)
            return 1; /* renewed or revoked meanwhile: store nothing */
        r->superseded = 1;
    }
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO devices(serial, account_id, cert_pem, x5t, key_alg, not_after, "
                           "created_at, replaces) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (r->replaces)
        sqlite3_bind_text(st, 8, r->replaces, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    sqlite3_bind_text(st, 1, r->serial, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->account_id);
    sqlite3_bind_text(st, 3, r->pem, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, r->x5t, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->alg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->not_after);
    sqlite3_bind_int64(st, 7, (int64_t)time(NULL));
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

/* A person's devices at most: each one may hold sessions and fill its own
 * quarantine quota, so an account must not be able to mint them without end */
#define DEVICES_PER_ACCOUNT 10

static int live_devices(service *svc, int64_t account_id)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *st;
    int n = -1;
    if (db && sqlite3_prepare_v2(db, "SELECT count(*) FROM devices WHERE account_id = ?1 AND revoked_at IS NULL",
                                 -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, account_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

/* Issue the device certificate for user, store the device, answer it.
 * replaces: the serial a re-enrolment renews (NULL for a new device).
 * Returns the status; *serial gets the new device id. */
static int issue(service *svc, struct mg_connection *conn, X509_REQ *csr, const char *user,
                 int64_t account_id, const char *replaces, char serial[LIVE_SERIAL_SIZE])
{
    device_row row = {0};
    int have = live_devices(svc, account_id);
    X509 *cert;
    char *pem = NULL;
    int st;
    EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);

    if (key_was_revoked(svc, csr))
        return web_reply_error(conn, 403, "this key belongs to a revoked device: make a new key");
    if (have < 0)
        return web_reply_error_retry(conn, 503, 1, "the store is not available: retry");
    if (!replaces && have >= DEVICES_PER_ACCOUNT)
        return web_reply_error(conn, 409, "this account already has %d devices: revoke one first (06-admin revoke-device)",
                               DEVICES_PER_ACCOUNT);
    cert = pki_issue_device(csr, svc->device_ca, svc->device_ca_key, user, SERVICE_DEVICE_DAYS,
                            serial, LIVE_SERIAL_SIZE);
    if (!cert)
        return web_reply_error(conn, 400, "the CSR was refused: %s", pki_last_error());
    row.serial = serial;
    row.replaces = replaces;
    row.account_id = account_id;
    row.alg = EVP_PKEY_is_a(pub, "ED25519") ? "ed25519" : "p256";
    row.not_after = (int64_t)time(NULL) + SERVICE_DEVICE_DAYS * 86400LL;
    if (!(pem = pki_cert_to_pem(cert, NULL)) || token_x5t(cert, row.x5t) != 0) {
        st = web_reply_error(conn, 500, "cannot encode the certificate");
    } else {
        row.pem = pem;
        int w = store_write(svc->st, insert_device, &row);
        if (w == 1) {
            /* the certificate just made was never stored: it is nobody's */
            st = web_reply_error(conn, 409, "this certificate was renewed or revoked meanwhile: nothing issued");
        } else if (w != 0) {
            st = web_reply_error_retry(conn, 503, 1, "the device was not stored: retry");
        } else {
            note("issued device %s to '%s' (%s key, clientAuth, %d days)", serial, user, row.alg,
                 SERVICE_DEVICE_DAYS);
            X509 *certs[] = {cert};
            st = reply_certs(conn, certs, 1);
        }
    }
    free(pem);
    X509_free(cert);
    return st;
}

/* "Authorization: Basic base64(user:password)" (RFC 7617) into user and pw. */
static int basic_auth(struct mg_connection *conn, char *user, size_t ulen, char **pw, size_t *pwlen)
{
    const char *h = web_header(conn, "Authorization");
    unsigned char *dec = NULL;
    size_t n = 0;
    char *colon;
    if (!h || strncasecmp(h, "Basic ", 6) != 0 || strlen(h) > 2048 ||
        b64_std_decode(h + 6, strlen(h + 6), &dec, &n) != 0)
        return -1;
    dec[n] = '\0';
    colon = memchr(dec, ':', n);
    if (!colon || memchr(dec, '\0', n) || (size_t)(colon - (char *)dec) >= ulen) {
        encoding_free_secret(dec, n);
        return -1;
    }
    memcpy(user, dec, (size_t)(colon - (char *)dec));
    user[colon - (char *)dec] = '\0';
    *pwlen = n - (size_t)(colon - (char *)dec) - 1;
    if (!(*pw = malloc(*pwlen + 1))) {
        encoding_free_secret(dec, n);
        return -1;
    }
    memcpy(*pw, colon + 1, *pwlen);
    (*pw)[*pwlen] = '\0';
    encoding_free_secret(dec, n);
    return 0;
}

int h_est_enroll(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    char user[LIVE_USER_SIZE], serial[LIVE_SERIAL_SIZE], *pw = NULL;
    size_t pwlen = 0;
    int64_t account_id = 0;
    unsigned retry = 0;
    X509_REQ *csr = NULL;
    int st;

    if (basic_auth(conn, user, sizeof user, &pw, &pwlen) != 0) {
        /* curl -u sends Basic at once, so no WWW-Authenticate round trip is
         * needed (the web layer has no extra-header reply) */
        return web_reply_error(conn, 401, "enrolment needs HTTP Basic: curl -u USER:PASSWORD");
    }
    accounts_status s = accounts_login(svc->acc, user, pw, pwlen, (int64_t)time(NULL), &account_id,
                                       &retry);
    encoding_free_secret(pw, pwlen);
    switch (s) {
    case ACCOUNTS_OK:
        break;
    case ACCOUNTS_LOCKED:
        warning("enrolment: account '%s' is locked for %u s after failed passwords", user, retry);
        return web_reply_error_retry(conn, 429, retry ? retry : 1,
                                     "too many failed passwords: try again in %u s", retry);
    case ACCOUNTS_BUSY:
        return reply_busy(conn);
    case ACCOUNTS_DISABLED:
        return web_reply_error(conn, 403, "this account is disabled");
    case ACCOUNTS_WRONG:
        warning("enrolment: wrong password or unknown user '%s'", user);
        return web_reply_error(conn, 401, "wrong username or password");
    default:
        return web_reply_error(conn, 503, "the account cannot be checked: retry");
    }
    if ((st = read_csr(svc, conn, &csr)) != 0)
        return st;
    st = issue(svc, conn, csr, user, account_id, NULL, serial);
    X509_REQ_free(csr);
    return st;
}

int h_est_reenroll(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    device_id d;
    char serial[LIVE_SERIAL_SIZE], err[256];
    X509_REQ *csr = NULL;
    int st;

    if ((st = device_require(svc, conn, &d, 0)) != 0)
        return st;
    if ((st = read_csr(svc, conn, &csr)) != 0)
        return st;
    /* one certificate per device: the store marks the old one superseded in
     * the same transaction that stores the new one; here the old one leaves
     * the TLS layer too (the in-memory set, its sessions, the CRL) */
    st = issue(svc, conn, csr, d.user, d.account_id, d.serial, serial);
    X509_REQ_free(csr);
    if (st == 200 && device_superseded(svc, d.serial, err, sizeof err) != 0)
        warning("re-enrolment: %s", err);
    return st;
}
