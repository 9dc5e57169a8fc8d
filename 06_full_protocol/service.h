/* SPDX-License-Identifier: MIT */
/*
 * service.h - what 06-server's handlers share: the store, the keys, the
 * device CA, the live sessions and the policy switches. One instance, made
 * by server.c at start, read-only afterwards except where a field says
 * which lock guards it.
 *
 * The handlers, by file (each a lesson of its own):
 *   accounts_http.c  POST /v1/register                      (R4's accounts, done right)
 *   est.c            /.well-known/est/cacerts, simpleenroll, simplereenroll  (RFC 7030)
 *   session.c        POST /v1/hello, /v1/data, /v1/close, GET /v1/whoami     (R3's protocol)
 *   admin.c          /v1/admin/...                          (R1's session cleanup, revocation)
 *   devices.c        who a client certificate is, revocation, the CRL
 */
#ifndef COURSE_06_SERVICE_H
#define COURSE_06_SERVICE_H

#include <civetweb.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdint.h>

#include "accounts.h"
#include "envelope/hello.h"
#include "live.h"
#include "store/store.h"
#include "tls/tls.h"
#include "token/token.h"

/* Defaults (06-server --help shows them). */
#define SERVICE_IDLE_DEFAULT 1800     /* seconds without a request, then a session ends */
#define SERVICE_SESSIONS_DEFAULT 1024 /* live sessions at most */
#define SERVICE_DEVICE_DAYS 30        /* a device certificate's validity */
#define SERVICE_MAX_REVOKED 4096      /* revoked serials and tokens kept in memory */

typedef struct service {
    const char *data_dir;
    char url[128];         /* https://NAME: iss and aud of every token */
    const char *server_name; /* "localhost": in every HELLO transcript and record signature */

    store *st;
    accounts *acc;
    token_key token_keys[1];
    uint8_t admin_digest[32];        /* SHA-256 of the admin token */
    char admin_serial[LIVE_SERIAL_SIZE]; /* the admin client certificate's serial */

    /* the device CA: issues client certificates only; its key stays
     * encrypted on disk and decrypted in memory only */
    X509 *device_ca;
    EVP_PKEY *device_ca_key;
    const char *device_ca_file;
    char crl_file[512];  /* DATA/devices-crl.pem, rewritten on each revocation */
    tls_crl *crls;       /* what the TLS layer checks; reloaded without a restart */
    pthread_mutex_t crl_lock;

    EVP_PKEY *server_key; /* signs HELLO_ACK (the TLS server certificate's key) */
    X509 *server_cert;

    live *sessions;
    struct notify_hub *notify; /* notify.c's: the open notification sockets */
    int notify_max;            /* --notify-max (0: a quarter of the worker threads) */
    int threads;               /* civetweb's worker threads */
    unsigned rotate_every;
    unsigned idle_seconds;
    long token_lifetime;
    size_t max_sessions;
    int enrol_binding_optional; /* --enrol-binding optional: lab/curl only */
    int bind_ip;                /* --bind-ip: a session answers only its first address (R3) */
    int lab_bearer;             /* --lab --lab-bearer: tokens not bound to the certificate */
    /* the layers lab (make 06-layers), each with --lab only, each loud */
    int lab_no_envelope; /* --lab-no-envelope: ct is the plaintext, answers too (session.c) */
    int lab_no_seq;      /* --lab-no-seq: a used seq is opened again under its key (session.c) */
    int lab_no_binding;  /* --lab-no-binding: a HELLO over no exporter is taken (session.c) */

    /* revoked device serials and token ids, for connections already open
     * (the CRL stops new handshakes only); under revoked_lock */
    pthread_mutex_t revoked_lock;
    char (*revoked_serials)[LIVE_SERIAL_SIZE];
    size_t n_revoked_serials;
    struct revoked_jti {
        char jti[32];
        int64_t exp; /* after it the token is refused anyway: the entry goes */
    } *revoked_jtis;
    size_t n_revoked_jtis;
} service;

/* ---- devices.c ---------------------------------------------------------- */

/* Who is on the other end of this request, from its client certificate. */
typedef struct device_id {
    char serial[LIVE_SERIAL_SIZE];
    char user[LIVE_USER_SIZE];
    int64_t account_id;
    int64_t tokens_valid_after; /* the account's: older tokens are dead */
    uint8_t x5t[32];
    X509 *cert; /* borrowed from the connection */
} device_id;

/* 0 with *d filled when the connection carries a device certificate of a
 * live device of an enabled account; otherwise the HTTP status after
 * answering (403 with the reason; close_shape: as R3's CLOSE message). */
int device_require(service *svc, struct mg_connection *conn, device_id *d, int close_shape);
int device_is_revoked(service *svc, const char *serial);
/* Revoke: the row, the in-memory set, its sessions, a new CRL the TLS layer
 * takes at once. 0, or -1 with err. */
int device_revoke(service *svc, const char *serial, const char *reason, char *err, size_t len);
/* A re-enrolment's old certificate, already marked superseded in the store:
 * out of the TLS layer too (the in-memory set, its sessions, the CRL). */
int device_superseded(service *svc, const char *serial, char *err, size_t len);
/* Write DATA/devices-crl.pem from the devices table (at start and on each
 * revocation) and hand it to the TLS layer. */
int device_crl_publish(service *svc, char *err, size_t len);
int token_is_revoked(service *svc, const char *jti);
/* Revoke a token id until exp: in the store (what survives a restart) and,
 * with in_memory, in the set every request checks (06-admin revoke-token;
 * CLOSE needs no entry there: its token dies with its session). 0, or -1
 * when the store did not take it or the set is full of live entries. */
int token_revoke(service *svc, const char *jti, int64_t exp, int in_memory);
/* Load the revoked serials and tokens from the store (at start). */
int revoked_load(service *svc);

/* ---- session.c: what the applications' handlers share ------------------- */

/* The Bearer token of this request, checked against this certificate and
 * session (sid NULL: any live one). 0 with *claims, or the HTTP status
 * after answering (401 with the reason). */
int session_check_token(service *svc, struct mg_connection *conn, const device_id *d, const char *sid,
                        token_claims *claims);

/* One signed operation inside a DATA_REQUEST, already opened (the session
 * key) and verified (the device certificate's signature over op, msg_id,
 * created and payload, for this server). The acting account is the
 * session's (s->account_id, s->user), never a name in the payload. */
typedef struct op_ctx {
    service *svc;
    live_session *s;     /* locked by the caller for the whole op */
    const device_id *d;  /* the request's certificate: serial, account, cert */
    const signed_op *op; /* op->payload: the JSON text exactly as signed */
    uint64_t seq;        /* the envelope's */
} op_ctx;

/* Each application module answers the ops it knows: a JSON object with
 * "status" ("ok", "stored", "duplicate", or "refused" with a "reason"), or
 * NULL when op->op is none of its names (session.c then tries the next).
 * Out of memory inside an op: {"status":"unavailable"}. */
json_t *messages_op(const op_ctx *x); /* messages.c: R4's messaging */
json_t *transfer_op(const op_ctx *x); /* transfer.c: R5's typed transfer */
/* Their members of the counters in HELLO_ACK and in every poll answer. */
void messages_counters(service *svc, int64_t account_id, json_t *counters);
void transfer_counters(service *svc, int64_t account_id, json_t *counters);
/* Read only, so notify.c may ring another account's socket with them. The
 * account's own request: messages_seen keeps accounts.last_seen (once a
 * minute). The compose rate limit (5/s, bursts of 20), shared by every op
 * that puts something in another account's hands: 0, or seconds to wait. */
void messages_seen(service *svc, int64_t account_id);
unsigned messages_rate_take(int64_t account_id);
/* compose and send, per account: per_minute tokens a minute (the default
 * MESSAGES_RATE_DEFAULT is 5 a second), bursts of 20; set once at start */
#define MESSAGES_RATE_DEFAULT 300
void messages_set_rate(int per_minute);
int messages_rate(void);
/* "5 messages a second, bursts of 20" (one/many: what is counted) */
const char *messages_rate_words(char *buf, size_t len, const char *one, const char *many);

/* ---- notify.c: live notifications over a WebSocket ---------------------- */

/* Ring every open notification socket of an account: event ("message",
 * "receipt", "transfer", "presence") and its fields (stolen; NULL for none).
 * Never blocks on a socket: it queues. */
void notify_account(service *svc, int64_t account_id, const char *event, json_t *fields);
/* GET /v1/notify, after mg_start; and, before mg_stop, wake every writer so
 * it returns (civetweb joins its workers). */
int notify_start(service *svc, struct mg_context *ctx);
void notify_stop(service *svc);
/* After web_serve returned (civetweb's threads are gone): the hub goes. */
void notify_free(service *svc);
/* The events notify.c rings itself: a new session of an account (HELLO:
 * {"event":"login","device","from"}), and a device about to be revoked
 * ({"event":"revoked","device"}, sealed before its sessions' keys go, so
 * the device's own sockets get it too before they close). */
void notify_login(service *svc, const live_session *s);
void notify_device_revoked(service *svc, const char *serial);

/* ---- the handlers ------------------------------------------------------- */
int h_register(struct mg_connection *conn, void *svc);
int h_est_cacerts(struct mg_connection *conn, void *svc);
int h_est_enroll(struct mg_connection *conn, void *svc);
int h_est_reenroll(struct mg_connection *conn, void *svc);
int h_hello(struct mg_connection *conn, void *svc);
int h_data(struct mg_connection *conn, void *svc);
int h_close(struct mg_connection *conn, void *svc);
int h_whoami(struct mg_connection *conn, void *svc);

#endif
