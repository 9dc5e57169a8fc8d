/* SPDX-License-Identifier: MIT */
/*
 * admin.c - the operator's endpoints, /v1/admin/... (06-admin is their
 * client): list sessions, remove idle ones (R1's session cleanup), revoke a
 * device or a token, unlock an account, the quarantine, and an audit of
 * every stored signature.
 *
 * Three locks on the door, each for a different mistake:
 *   - the peer is this machine (127.0.0.1 or ::1): the admin port is not
 *     the internet's, even when the service is;
 *   - the TLS client certificate is the admin's (06-server issued it to
 *     DATA/admin.crt on first start, from the device CA): a device
 *     certificate is not enough;
 *   - X-Admin-Token, the secret in DATA/admin.token (0600), compared as
 *     SHA-256 digests with CRYPTO_memcmp, so neither its length nor its
 *     first wrong byte shows in the timing. R1 compared a hard-coded
 *     admin secret in its source with !=.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/encoding.h"
#include "core/json.h"
#include "envelope/hello.h"
#include "net/webserver.h"
#include "pki/pki.h"
#include "service.h"

static int admin_allowed(service *svc, struct mg_connection *conn)
{
    const char *peer = web_peer(conn), *tok = web_header(conn, "X-Admin-Token");
    X509 *cert = web_peer_cert(conn);
    char serial[LIVE_SERIAL_SIZE];
    uint8_t md[32];
    unsigned int n = 0;

    if (strcmp(peer, "127.0.0.1") != 0 && strcmp(peer, "::1") != 0)
        return web_reply_error(conn, 403, "the admin endpoints answer this machine only");
    if (!cert || pki_serial_hex(X509_get0_serialNumber(cert), serial, sizeof serial) != 0 ||
        strcmp(serial, svc->admin_serial) != 0)
        return web_reply_error(conn, 403, "the admin endpoints need the admin certificate "
                                          "(DATA/admin.crt and admin.key)");
    if (!tok || strlen(tok) > 256 ||
        EVP_Digest(tok, strlen(tok), md, &n, EVP_sha256(), NULL) != 1 ||
        CRYPTO_memcmp(md, svc->admin_digest, sizeof md) != 0) {
        warning("admin: a request with a wrong or missing X-Admin-Token");
        return web_reply_error(conn, 401, "X-Admin-Token is missing or wrong (DATA/admin.token)");
    }
    return 0;
}

/* POST bodies are small JSON objects; 0 with *in, or the status. */
static int admin_json(service *svc, struct mg_connection *conn, json_t **in)
{
    int st = admin_allowed(svc, conn);
    return st ? st : web_read_json(conn, in);
}

/* ---- sessions ---------------------------------------------------------- */

static void add_session(const live_session *s, int64_t now, void *arg)
{
    json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "session", s->id,
                                         "user", s->user, "device", s->device, "peer", s->peer,
                                         "idle_seconds", (json_int_t)(now - s->last_used),
                                         "expires_in", (json_int_t)(s->expires_at - now),
                                         "created", (json_int_t)s->created));
}

static int admin_sessions(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    int st;
    if ((st = admin_allowed(svc, conn)) != 0)
        return st;
    json_t *list = json_array();
    live_foreach(svc->sessions, add_session, list);
    return web_reply_json(conn, 200, json_pack("{s:o}", "sessions", list));
}

static int admin_sweep(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    json_t *in;
    int st;
    if ((st = admin_json(svc, conn, &in)) != 0)
        return st;
    json_t *idle = json_object_get(in, "idle_seconds");
    json_int_t secs = json_is_integer(idle) ? json_integer_value(idle) : 0;
    json_decref(in);
    if (secs < 0 || secs > 86400)
        return web_reply_error(conn, 400, "idle_seconds must be 0..86400 (0: the server's setting)");
    size_t n = live_sweep(svc->sessions, (unsigned)secs);
    note("admin: removed %zu idle session%s", n, n == 1 ? "" : "s");
    return web_reply_json(conn, 200, json_pack("{s:I}", "removed", (json_int_t)n));
}

/* ---- revocation, accounts ------------------------------------------------ */

static int admin_revoke_device(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    json_t *in;
    char err[256];
    int st;
    if ((st = admin_json(svc, conn, &in)) != 0)
        return st;
    const char *serial = json_get_str(in, "serial"), *reason = json_get_str(in, "reason");
    if (!serial || strlen(serial) >= LIVE_SERIAL_SIZE) {
        json_decref(in);
        return web_reply_error(conn, 400, "the body must be {\"serial\": HEX, \"reason\": ...}");
    }
    if (device_revoke(svc, serial, reason ? reason : "unspecified", err, sizeof err) != 0)
        st = web_reply_error(conn, strstr(err, "no enrolled") ? 404 : strstr(err, "already revoked") ? 409 : 400,
                             "%s", err);
    else
        st = web_reply_json(conn, 200, json_pack("{s:s, s:s}", "revoked", serial, "crl", svc->crl_file));
    json_decref(in);
    return st;
}

static int admin_revoke_token(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    json_t *in;
    int st;
    if ((st = admin_json(svc, conn, &in)) != 0)
        return st;
    const char *jti = json_get_str(in, "jti");
    if (!jti || strlen(jti) != TOKEN_JTI_LEN) {
        json_decref(in);
        return web_reply_error(conn, 400, "the body must be {\"jti\": the token's 22-character id}");
    }
    /* kept until the longest a token can live has passed; and the session
     * it belongs to ends with it (its keys go: nothing more rides on it) */
    if (token_revoke(svc, jti, (int64_t)time(NULL) + TOKEN_MAX_LIFETIME + TOKEN_LEEWAY, 1) != 0) {
        st = web_reply_error(conn, 503, "the revocation was not taken: retry");
    } else {
        size_t ended = live_end_jti(svc->sessions, jti);
        note("admin: revoked token %s (%zu session%s ended)", jti, ended, ended == 1 ? "" : "s");
        st = web_reply_json(conn, 200, json_pack("{s:s, s:I}", "revoked", jti, "sessions_ended", (json_int_t)ended));
    }
    json_decref(in);
    return st;
}

static int admin_unlock(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    json_t *in;
    int st;
    if ((st = admin_json(svc, conn, &in)) != 0)
        return st;
    const char *user = json_get_str(in, "username");
    if (!user)
        st = web_reply_error(conn, 400, "the body must be {\"username\": ...}");
    else if (accounts_unlock(svc->acc, user) != 0)
        st = web_reply_error(conn, 404, "no account '%s'", user);
    else
        st = web_reply_json(conn, 200, json_pack("{s:s}", "unlocked", user));
    json_decref(in);
    return st;
}

/* tokens issued before now die with the account's disabling, whatever their
 * session (a token outlives nothing its account lost) */
typedef struct valid_after {
    const char *user;
    int64_t at;
} valid_after;

static int set_valid_after(sqlite3 *db, void *arg)
{
    const valid_after *v = arg;
    sqlite3_stmt *st;
    int rc;
    if (sqlite3_prepare_v2(db, "UPDATE accounts SET tokens_valid_after = ?2 WHERE username = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, v->user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v->at);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

/* {"username": U, "disabled": true|false}: a disabled account opens no
 * session and gets no certificate; its sessions and tokens end now */
static int admin_disable(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    json_t *in;
    int st;
    if ((st = admin_json(svc, conn, &in)) != 0)
        return st;
    const char *user = json_get_str(in, "username");
    json_t *flag = json_object_get(in, "disabled");
    if (!user || !json_is_boolean(flag)) {
        json_decref(in);
        return web_reply_error(conn, 400, "the body must be {\"username\": ..., \"disabled\": true|false}");
    }
    int off = json_is_true(flag);
    /* iat is in seconds: a token of this very second before the disabling
     * had its session, which ends below, so "before now" is enough */
    valid_after v = {user, (int64_t)time(NULL)};
    if (accounts_disable(svc->acc, user, off) != 0) {
        st = web_reply_error(conn, 404, "no account '%s'", user);
    } else if (off && store_write(svc->st, set_valid_after, &v) != 0) {
        st = web_reply_error(conn, 503, "the account is disabled, but its old tokens were not marked: retry");
    } else {
        size_t ended = off ? live_end_user(svc->sessions, user) : 0;
        note("admin: account '%s' %s (%zu session%s ended)", user, off ? "disabled" : "enabled", ended,
             ended == 1 ? "" : "s");
        st = web_reply_json(conn, 200, json_pack("{s:s, s:b, s:I}", "username", user, "disabled", off,
                                                 "sessions_ended", (json_int_t)ended));
    }
    json_decref(in);
    return st;
}

/* ---- audit: every stored signature, verified again ----------------------- */

static int admin_audit(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    sqlite3 *db;
    sqlite3_stmt *q;
    json_int_t checked = 0, bad = 0;
    int st;
    if ((st = admin_allowed(svc, conn)) != 0)
        return st;
    if (!(db = store_reader(svc->st)) ||
        sqlite3_prepare_v2(db,
                           "SELECT r.id, d.cert_pem, r.op, r.msg_id, r.created, r.payload, r.signature, "
                           "r.payload_sha256 FROM receipts r JOIN devices d ON d.serial = r.device_serial "
                           "WHERE r.status = 'stored' ORDER BY r.id",
                           -1, &q, NULL) != SQLITE_OK)
        return web_reply_error(conn, 503, "the store is not available");
    json_t *failures = json_array();
    while (sqlite3_step(q) == SQLITE_ROW) {
        uint8_t md[32];
        unsigned int mdn = 0;
        const void *payload = sqlite3_column_blob(q, 5);
        int plen = sqlite3_column_bytes(q, 5);
        int ok = sqlite3_column_bytes(q, 3) == 16 && sqlite3_column_bytes(q, 7) == 32 &&
                 EVP_Digest(payload ? payload : "", (size_t)plen, md, &mdn, EVP_sha256(), NULL) == 1 &&
                 CRYPTO_memcmp(md, sqlite3_column_blob(q, 7), 32) == 0 &&
                 signed_op_verify_stored((const char *)sqlite3_column_text(q, 1), (size_t)sqlite3_column_bytes(q, 1), svc->server_name,
                                  (const char *)sqlite3_column_text(q, 2), sqlite3_column_blob(q, 3),
                                  sqlite3_column_int64(q, 4), payload, (size_t)plen,
                                  sqlite3_column_blob(q, 6), (size_t)sqlite3_column_bytes(q, 6)) == 0;
        checked++;
        if (!ok) {
            bad++;
            json_array_append_new(failures, json_integer(sqlite3_column_int64(q, 0)));
        }
    }
    sqlite3_finalize(q);
    note("audit: %lld signature%s checked, %lld do%s not verify", (long long)checked, checked == 1 ? "" : "s",
         (long long)bad, bad == 1 ? "es" : "");
    return web_reply_json(conn, 200, json_pack("{s:I, s:I, s:o}", "checked", checked, "bad", bad,
                                               "bad_receipts", failures));
}

/* ---- the quarantine: what was signed but could not be stored ------------ */

static int add_quarantined(const store_quarantined *q, void *arg)
{
    json_array_append_new(arg, q->broken
                                   ? json_pack("{s:s, s:s, s:b}", "id", q->id, "reason", q->reason, "broken", 1)
                                   : json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id", q->id, "device",
                                               q->device, "op", q->op, "reason", q->reason, "received_at",
                                               (json_int_t)q->received_at, "bytes",
                                               (json_int_t)q->payload_len));
    return 0;
}

static int admin_quarantine_list(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    char err[256];
    int st;
    if ((st = admin_allowed(svc, conn)) != 0)
        return st;
    json_t *list = json_array();
    if (store_quarantine_list(svc->st, add_quarantined, list, err, sizeof err) < 0) {
        json_decref(list);
        return web_reply_error(conn, 503, "%s", err);
    }
    return web_reply_json(conn, 200, json_pack("{s:o}", "quarantine", list));
}

/* {"id": 32 hex}: the id is only ever compared and used as a file name by
 * the store, which checks it is exactly 32 lower-case hex digits */
static int quarantine_id(service *svc, struct mg_connection *conn, char id[33])
{
    json_t *in;
    int st;
    if ((st = admin_json(svc, conn, &in)) != 0)
        return st;
    const char *v = json_get_str(in, "id");
    if (!v || strlen(v) != 32) {
        json_decref(in);
        return web_reply_error(conn, 400, "the body must be {\"id\": the quarantine id, 32 hex digits}");
    }
    memcpy(id, v, 33);
    json_decref(in);
    return 0;
}

static int admin_quarantine_show(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    store_quarantined q;
    char id[33], err[256];
    int st;
    if ((st = quarantine_id(svc, conn, id)) != 0)
        return st;
    memset(&q, 0, sizeof q);
    if (store_quarantine_read(svc->st, id, &q, err, sizeof err) != 0)
        return web_reply_error(conn, 404, "%s", err);
    char *msg = b64url_encode(q.msg_id, sizeof q.msg_id, B64_NO_PAD);
    char *sig = b64url_encode(q.sig, q.sig_len, B64_NO_PAD);
    char *pl = b64url_encode(q.payload, q.payload_len, B64_NO_PAD);
    json_t *j = msg && sig && pl ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "id", q.id, "reason",
                                             q.reason, "device", q.device, "op", q.op, "msg_id", msg,
                                             "created", (json_int_t)q.created_ms, "payload", pl,
                                             "signature", sig)
                                 : NULL;
    free(msg);
    free(sig);
    free(pl);
    store_quarantined_free(&q);
    return j ? web_reply_json(conn, 200, j) : web_reply_error(conn, 500, "out of memory");
}

static int admin_quarantine_drop(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    char id[33], err[256];
    int st;
    if ((st = quarantine_id(svc, conn, id)) != 0)
        return st;
    if (store_quarantine_drop(svc->st, id, err, sizeof err) != 0)
        return web_reply_error(conn, 404, "%s", err);
    note("admin: dropped quarantined message %s", id);
    return web_reply_json(conn, 200, json_pack("{s:s}", "dropped", id));
}

/* Replay: the signature is verified again (with the device's certificate as
 * stored), then the store tries the records table as it is now. */
static int admin_quarantine_replay(struct mg_connection *conn, void *arg)
{
    service *svc = arg;
    store_quarantined q;
    store_result res;
    char id[33], err[256];
    int st, ok = 0;
    if ((st = quarantine_id(svc, conn, id)) != 0)
        return st;
    memset(&q, 0, sizeof q);
    if (store_quarantine_read(svc->st, id, &q, err, sizeof err) != 0)
        return web_reply_error(conn, 404, "%s", err);
    sqlite3 *db = store_reader(svc->st);
    sqlite3_stmt *c = NULL;
    if (db && sqlite3_prepare_v2(db, "SELECT cert_pem FROM devices WHERE serial = ?1", -1, &c, NULL) == SQLITE_OK) {
        sqlite3_bind_text(c, 1, q.device, -1, SQLITE_STATIC);
        if (sqlite3_step(c) == SQLITE_ROW)
            ok = signed_op_verify_stored((const char *)sqlite3_column_text(c, 0),
                                         (size_t)sqlite3_column_bytes(c, 0), svc->server_name, q.op,
                                         q.msg_id, q.created_ms, q.payload, q.payload_len, q.sig,
                                         q.sig_len) == HELLO_OK;
    }
    sqlite3_finalize(c);
    store_quarantined_free(&q);
    if (!ok)
        return web_reply_error(conn, 409, "the stored signature does not verify: not replayed");
    if (store_quarantine_replay(svc->st, id, &res) != 0)
        return web_reply_error(conn, 404, "%s", res.reason);
    note("admin: replayed quarantined message %s: %s", id, store_outcome_str(res.outcome));
    return web_reply_json(conn, res.outcome == STORE_UNAVAILABLE ? 503 : 200,
                          json_pack("{s:s, s:s, s:I}", "status", store_outcome_str(res.outcome), "reason",
                                    res.reason, "record_id", (json_int_t)res.record_id));
}

const web_route admin_routes[] = {
    {"GET", "/v1/admin/sessions", admin_sessions, NULL},
    {"POST", "/v1/admin/sweep", admin_sweep, NULL},
    {"POST", "/v1/admin/revoke-device", admin_revoke_device, NULL},
    {"POST", "/v1/admin/revoke-token", admin_revoke_token, NULL},
    {"POST", "/v1/admin/unlock", admin_unlock, NULL},
    {"POST", "/v1/admin/disable", admin_disable, NULL},
    {"GET", "/v1/admin/audit", admin_audit, NULL},
    {"GET", "/v1/admin/quarantine", admin_quarantine_list, NULL},
    {"POST", "/v1/admin/quarantine/show", admin_quarantine_show, NULL},
    {"POST", "/v1/admin/quarantine/drop", admin_quarantine_drop, NULL},
    {"POST", "/v1/admin/quarantine/replay", admin_quarantine_replay, NULL},
    {0},
};
