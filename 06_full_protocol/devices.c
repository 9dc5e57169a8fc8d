/* SPDX-License-Identifier: MIT */
/*
 * devices.c - who a client certificate is, and how a device stops being
 * anyone: revocation in the store, in memory and on the CRL.
 *
 * Three places, because each stops a different connection:
 *   - the CRL (DATA/devices-crl.pem, handed to the TLS layer at once): new
 *     TLS handshakes with the certificate fail;
 *   - the in-memory set: a connection that is already open (keep-alive)
 *     fails on its next request, which the CRL cannot do (R5 had neither);
 *   - the devices row (revoked_at): what survives a restart, and what
 *     enrolment reads so that a revoked device never gets a certificate again.
 */
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/webserver.h"
#include "pki/pki.h"
#include "service.h"

/* ---- the in-memory sets ------------------------------------------------- */

static int set_has(char (*set)[LIVE_SERIAL_SIZE], size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i], v) == 0)
            return 1;
    return 0;
}

int device_is_revoked(service *svc, const char *serial)
{
    pthread_mutex_lock(&svc->revoked_lock);
    int r = set_has(svc->revoked_serials, svc->n_revoked_serials, serial);
    pthread_mutex_unlock(&svc->revoked_lock);
    return r;
}

static int add_serial(service *svc, const char *serial)
{
    int rc = 0;
    if (strlen(serial) >= LIVE_SERIAL_SIZE)
        return -1;
    pthread_mutex_lock(&svc->revoked_lock);
    if (!set_has(svc->revoked_serials, svc->n_revoked_serials, serial)) {
        if (svc->n_revoked_serials >= SERVICE_MAX_REVOKED)
            rc = -1; /* the store still has it: device_require reads the row too */
        else
            strcpy(svc->revoked_serials[svc->n_revoked_serials++], serial);
    }
    pthread_mutex_unlock(&svc->revoked_lock);
    return rc;
}

int token_is_revoked(service *svc, const char *jti)
{
    int r = 0;
    pthread_mutex_lock(&svc->revoked_lock);
    for (size_t i = 0; i < svc->n_revoked_jtis && !r; i++)
        r = strcmp(svc->revoked_jtis[i].jti, jti) == 0;
    pthread_mutex_unlock(&svc->revoked_lock);
    return r;
}

/* under revoked_lock: forget the entries whose tokens have expired (they
 * are refused by their exp), so the set holds only what still matters */
static void prune_jtis_locked(service *svc, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < svc->n_revoked_jtis; i++)
        if (svc->revoked_jtis[i].exp + TOKEN_LEEWAY >= now)
            svc->revoked_jtis[k++] = svc->revoked_jtis[i];
    svc->n_revoked_jtis = k;
}

/* 0 added (or there already), -1 full of live entries */
static int add_jti(service *svc, const char *jti, int64_t exp)
{
    int rc = 0, have = 0;
    pthread_mutex_lock(&svc->revoked_lock);
    for (size_t i = 0; i < svc->n_revoked_jtis && !have; i++)
        have = strcmp(svc->revoked_jtis[i].jti, jti) == 0;
    if (!have) {
        if (svc->n_revoked_jtis >= SERVICE_MAX_REVOKED)
            prune_jtis_locked(svc, (int64_t)time(NULL));
        if (svc->n_revoked_jtis >= SERVICE_MAX_REVOKED) {
            rc = -1;
        } else {
            snprintf(svc->revoked_jtis[svc->n_revoked_jtis].jti, sizeof svc->revoked_jtis[0].jti, "%s", jti);
            svc->revoked_jtis[svc->n_revoked_jtis++].exp = exp;
        }
    }
    pthread_mutex_unlock(&svc->revoked_lock);
    return rc;
}

typedef struct jti_row {
    const char *jti;
    int64_t exp;
} jti_row;

static int insert_jti(sqlite3 *db, void *arg)
{
    const jti_row *r = arg;
    sqlite3_stmt *st;
    int rc;
    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO revoked_tokens(jti, exp) VALUES (?1, ?2)", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, r->jti, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->exp);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int token_revoke(service *svc, const char *jti, int64_t exp, int in_memory)
{
    jti_row row = {jti, exp};
    if (strlen(jti) >= sizeof svc->revoked_jtis[0].jti)
        return -1;
    /* a full set must say so: an admin told "revoked" about a token that
     * still works is worse than an admin told "retry" */
    if (in_memory && add_jti(svc, jti, exp) != 0)
        return -1;
    return store_write(svc->st, insert_jti, &row) == 0 ? 0 : -1;
}

int revoked_load(service *svc)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *st;
    int64_t now = (int64_t)time(NULL);
    if (!db || sqlite3_prepare_v2(db, "SELECT serial FROM devices WHERE revoked_at IS NOT NULL",
                                  -1, &st, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW)
        add_serial(svc, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    /* a token past its exp is refused anyway: keep only the others */
    if (sqlite3_prepare_v2(db, "SELECT jti, exp FROM revoked_tokens WHERE exp > ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, now - TOKEN_LEEWAY);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *j = (const char *)sqlite3_column_text(st, 0);
        if (j && strlen(j) < sizeof svc->revoked_jtis[0].jti &&
            add_jti(svc, j, sqlite3_column_int64(st, 1)) != 0) {
            sqlite3_finalize(st);
            errorf("revoked tokens", "more than %d unexpired revoked tokens in the store", SERVICE_MAX_REVOKED);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return 0;
}

/* ---- who is this ------------------------------------------------------- */

static int refuse(struct mg_connection *conn, int status, int close_shape, const char *reason)
{
    if (close_shape)
        return web_reply_json(conn, status, json_pack("{s:s, s:s}", "type", "CLOSE", "reason", reason));
    return web_reply_error(conn, status, "%s", reason);
}

static const char DEVICE_SQL[] = "SELECT a.id, a.username, a.disabled, d.revoked_at IS NOT NULL, d.x5t, "
                                 "a.tokens_valid_after "
                                 "FROM devices d JOIN accounts a ON a.id = d.account_id "
                                 "WHERE d.serial = ?1";

/* Every request asks this, on its worker thread's reader connection: the
 * statement is prepared once per thread and kept (make bench: parsing the
 * SQL anew was a tenth of the server's CPU per record). It is used again
 * only while it is still one of this connection's statements (a store
 * closed and opened again has other connections); store_close finalizes it. */
static _Thread_local sqlite3 *device_db;
static _Thread_local sqlite3_stmt *device_st;

static sqlite3_stmt *device_stmt(sqlite3 *db)
{
    for (sqlite3_stmt *s = db && device_db == db ? sqlite3_next_stmt(db, NULL) : NULL; s;
         s = sqlite3_next_stmt(db, s))
        if (s == device_st && sqlite3_sql(s) && strcmp(sqlite3_sql(s), DEVICE_SQL) == 0)
            return s;
    device_db = NULL;
    device_st = NULL;
    if (!db || sqlite3_prepare_v3(db, DEVICE_SQL, -1, SQLITE_PREPARE_PERSISTENT, &device_st, NULL) != SQLITE_OK)
        return NULL;
    device_db = db;
    return device_st;
}

int device_require(service *svc, struct mg_connection *conn, device_id *d, int close_shape)
{
    X509 *cert = web_peer_cert(conn);
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *st = NULL;
    int rc, disabled = 0, revoked = 0, x5t_ok = 0;

    memset(d, 0, sizeof *d);
    if (!cert)
        return refuse(conn, 403, close_shape,
                      "a client certificate is required here: enrol a device first (06-client enrol)");
    if (pki_serial_hex(X509_get0_serialNumber(cert), d->serial, sizeof d->serial) != 0 ||
        token_x5t(cert, d->x5t) != 0)
        return refuse(conn, 403, close_shape, "the client certificate cannot be read");
    /* the TLS layer trusts only the device CA, so a certificate here is one we
     * issued; still, one the store does not know is nobody's */
    if (!(st = device_stmt(db)))
        return web_reply_error(conn, 503, "the store is not available: retry");
    sqlite3_bind_text(st, 1, d->serial, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        d->account_id = sqlite3_column_int64(st, 0);
        snprintf(d->user, sizeof d->user, "%s", (const char *)sqlite3_column_text(st, 1));
        disabled = sqlite3_column_int(st, 2);
        revoked = sqlite3_column_int(st, 3);
        d->tokens_valid_after = sqlite3_column_int64(st, 5);
        x5t_ok = sqlite3_column_bytes(st, 4) == 32 &&
                 CRYPTO_memcmp(sqlite3_column_blob(st, 4), d->x5t, 32) == 0;
    }
    sqlite3_reset(st); /* kept for the next request: reset, bindings cleared */
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW || !x5t_ok)
        return refuse(conn, 403, close_shape, "this certificate belongs to no enrolled device");
    /* the CRL stops new handshakes; this stops the connections already open
     * (the in-memory set at once, the row also after a restart) */
    if (revoked || device_is_revoked(svc, d->serial))
        return refuse(conn, 403, close_shape, "this device's certificate is revoked");
    if (disabled)
        return refuse(conn, 403, close_shape, "this account is disabled");
    d->cert = cert;
    return 0;
}

/* ---- revocation and the CRL -------------------------------------------- */

#define REVOKE_CASCADE_MAX 64 /* a device's renewals and same-key twins revoked with it */

typedef struct revoke_row {
    const char *serial, *reason;
    int64_t at;
    int known;                                       /* the serial is an enrolled device */
    size_t n;                                        /* serials this revocation changed */
    char changed[REVOKE_CASCADE_MAX][LIVE_SERIAL_SIZE];
} revoke_row;

/* the devices that fall with serial: itself, every certificate that renewed
 * it (replaces, followed forward), and every device of the same account with
 * the same public key (a key that is compromised is compromised everywhere) */
static size_t cascade(sqlite3 *db, const char *serial, char out[][LIVE_SERIAL_SIZE], size_t max, int *known)
{
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    EVP_PKEY *key = NULL;
    int64_t account = -1;
    *known = 0;
    if (sqlite3_prepare_v2(db, "SELECT account_id, cert_pem FROM devices WHERE serial = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *known = 1;
            account = sqlite3_column_int64(st, 0);
            BIO *b = BIO_new_mem_buf(sqlite3_column_text(st, 1), sqlite3_column_bytes(st, 1));
            X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
            key = c ? X509_get_pubkey(c) : NULL;
            X509_free(c);
            BIO_free(b);
        }
    }
    sqlite3_finalize(st);
    if (!*known)
        return 0;
    if (sqlite3_prepare_v2(db,
                           "WITH RECURSIVE chain(s) AS (SELECT ?1 UNION "
                           "SELECT d.serial FROM devices d JOIN chain c ON d.replaces = c.s) "
                           "SELECT s FROM chain",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
        while (n < max && sqlite3_step(st) == SQLITE_ROW)
            snprintf(out[n++], LIVE_SERIAL_SIZE, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (key && sqlite3_prepare_v2(db, "SELECT serial, cert_pem FROM devices WHERE account_id = ?1", -1, &st,
                                  NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, account);
        while (n < max && sqlite3_step(st) == SQLITE_ROW) {
            const char *other = (const char *)sqlite3_column_text(st, 0);
            int dup = 0;
            for (size_t i = 0; i < n && !dup; i++)
                dup = strcmp(out[i], other) == 0;
            if (dup)
                continue;
            BIO *b = BIO_new_mem_buf(sqlite3_column_text(st, 1), sqlite3_column_bytes(st, 1));
            X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
            if (c && EVP_PKEY_eq(X509_get0_pubkey(c), key) == 1)
                snprintf(out[n++], LIVE_SERIAL_SIZE, "%s", other);
            X509_free(c);
            BIO_free(b);
        }
    }
    sqlite3_finalize(st);
    EVP_PKEY_free(key);
    return n;
}

static int mark_revoked(sqlite3 *db, void *arg)
{
    revoke_row *r = arg;
    char all[REVOKE_CASCADE_MAX][LIVE_SERIAL_SIZE];
    size_t n = cascade(db, r->serial, all, REVOKE_CASCADE_MAX, &r->known);
    sqlite3_stmt *st;
    r->n = 0;
    /* a live certificate is revoked; a superseded one takes the stronger
     * reason (superseded keys stay usable for enrolment, compromised ones not) */
    if (sqlite3_prepare_v2(db,
                           "UPDATE devices SET revoked_at = ?2, reason = ?3 WHERE serial = ?1 AND "
                           "(revoked_at IS NULL OR (reason = 'superseded' AND ?3 <> 'superseded'))",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, all[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, r->at);
        sqlite3_bind_text(st, 3, r->reason, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            return -1;
        }
        if (sqlite3_changes(db) == 1)
            memcpy(r->changed[r->n++], all[i], LIVE_SERIAL_SIZE);
    }
    sqlite3_finalize(st);
    return 0;
}

int device_crl_publish(service *svc, char *err, size_t len)
{
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *st = NULL;
    pki_revoked *list = NULL;
    char **serials = NULL, **reasons = NULL;
    size_t n = 0, cap = 0;
    X509_CRL *crl = NULL;
    int rc = -1;

    if (!db || sqlite3_prepare_v2(db,
                                  "SELECT serial, revoked_at, reason FROM devices "
                                  "WHERE revoked_at IS NOT NULL ORDER BY revoked_at",
                                  -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, len, "the store cannot list revoked devices");
        return -1;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            pki_revoked *l = realloc(list, ncap * sizeof *l);
            char **s = realloc(serials, ncap * sizeof *s), **r;
            if (l)
                list = l;
            if (s)
                serials = s;
            r = realloc(reasons, ncap * sizeof *r);
            if (r)
                reasons = r;
            if (!l || !s || !r)
                goto out;
            cap = ncap;
        }
        const char *reason = (const char *)sqlite3_column_text(st, 2);
        serials[n] = strdup((const char *)sqlite3_column_text(st, 0));
        reasons[n] = strdup(reason && pki_crl_reason_valid(reason) ? reason : "unspecified");
        if (!serials[n] || !reasons[n]) {
            free(serials[n]);
            free(reasons[n]);
            goto out;
        }
        list[n].serial_hex = serials[n];
        list[n].revoked_at = (time_t)sqlite3_column_int64(st, 1);
        list[n].reason = reasons[n];
        n++;
    }
    /* the CRL number only has to grow: the time does, one per second */
    pthread_mutex_lock(&svc->crl_lock);
    crl = pki_crl_from_list(svc->device_ca, svc->device_ca_key, list, n, (long)time(NULL), 30);
    if (!crl)
        snprintf(err, len, "cannot make the CRL: %s", pki_last_error());
    else if (pki_crl_write(svc->crl_file, crl) != 0)
        snprintf(err, len, "cannot write %s: %s", svc->crl_file, pki_last_error());
    else if (svc->crls && tls_crl_reload(svc->crls, svc->crl_file, svc->device_ca_file) != 0)
        snprintf(err, len, "the TLS layer did not take the new CRL");
    else
        rc = 0;
    pthread_mutex_unlock(&svc->crl_lock);
out:
    for (size_t i = 0; i < n; i++) {
        free(serials[i]);
        free(reasons[i]);
    }
    free(serials);
    free(reasons);
    free(list);
    X509_CRL_free(crl);
    sqlite3_finalize(st);
    return rc;
}

int device_revoke(service *svc, const char *serial, const char *reason, char *err, size_t len)
{
    static revoke_row row; /* 4 KiB: not on a worker's stack; one revocation at a time */
    static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
    size_t ended = 0;
    int rc;
    if (!pki_crl_reason_valid(reason ? reason : "unspecified")) {
        snprintf(err, len, "'%s' is not a CRL reason (keyCompromise, superseded, ...)", reason);
        return -1;
    }
    pthread_mutex_lock(&one);
    memset(&row, 0, sizeof row);
    row.serial = serial;
    row.reason = reason ? reason : "unspecified";
    row.at = (int64_t)time(NULL);
    if (store_write(svc->st, mark_revoked, &row) != 0) {
        snprintf(err, len, "the store did not take the revocation: retry");
        rc = -1;
    } else if (!row.known) {
        snprintf(err, len, "no enrolled device has serial %s", serial);
        rc = -1;
    } else if (row.n == 0) {
        snprintf(err, len, "device %s is already revoked", serial);
        rc = -1;
    } else {
        /* memory first: open connections fail from this instant */
        for (size_t i = 0; i < row.n; i++) {
            add_serial(svc, row.changed[i]);
            notify_device_revoked(svc, row.changed[i]); /* sealed while its keys still exist */
            ended += live_end_device(svc->sessions, row.changed[i]);
        }
        note("revoked device %s (%s)%s: %zu certificate%s, %zu session%s ended", serial, row.reason,
             row.n > 1 ? " with its renewals and same-key devices" : "", row.n, row.n == 1 ? "" : "s",
             ended, ended == 1 ? "" : "s");
        rc = device_crl_publish(svc, err, len);
    }
    pthread_mutex_unlock(&one);
    return rc;
}

int device_superseded(service *svc, const char *serial, char *err, size_t len)
{
    /* the store marked it in the transaction that stored its successor */
    add_serial(svc, serial);
    live_end_device(svc->sessions, serial);
    return device_crl_publish(svc, err, len);
}
