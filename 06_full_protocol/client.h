/* SPDX-License-Identifier: MIT */
/*
 * client.h - what 06-client's parts share.
 *   client.c          the command line and the commands
 *   client_enrol.c    register, enrol, reenrol (accounts and EST)
 *   client_session.c  HELLO / HELLO_ACK, envelopes, CLOSE, the outbox
 */
#ifndef COURSE_06_CLIENT_H
#define COURSE_06_CLIENT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope/envelope.h"
#include "net/httpclient.h"
#include "tls/tls.h"

typedef struct client {
    const char *url;      /* https://localhost:8006 */
    char host[256];       /* its host: the name every signature carries */
    const char *home;     /* HOME: device.key, device.crt, outbox/, session */
    const char *cacert;   /* the CA the server's certificate must chain to */
    const char *user;     /* --user */
    const char *password_file;
    const char *key_type; /* ed25519 (default) or p256 */
    long poll_every, poll_for; /* seconds */
    long max_polls;       /* poll: stop after this many (0: until poll_for) */
    /* the applications' options (client_messages.c, client_transfer.c, client_listen.c) */
    const char *to;       /* --to USER: compose, send-file, send-object, ... */
    int all;              /* --all: inbox with the messages already read */
    const char *save_dir; /* --save DIR: receive saves files there */
    char device_key[512], device_crt[512], outbox[512], session_file[512];
    tls_chain chain;      /* what the TLS handshake checked: for failures a learner can read */
} client;

/* a session after HELLO: keys, counters, the token */
typedef struct channel {
    http_session *http;
    char session[65];
    char *token;
    unsigned rotate_every;
    int64_t expires_at;
    envelope_dir *tx, *rx;
    /* NOTIFY from the server over the WebSocket (client_listen.c); made once
     * per HELLO, like the others: NULL for a session loaded from HOME/session */
    envelope_dir *ntf;
    uint64_t seq;      /* the last seq sent */
    EVP_PKEY *key;     /* the device's */
    X509 *cert;
} channel;

/* ---- client_enrol.c ---- */
/* The password: --password-file, else COURSE06_PASSWORD, else a prompt that
 * does not echo. malloc'ed; free with encoding_free_secret. NULL on error. */
char *client_password(const client *c, size_t *len);
int client_register(client *c);
int client_enrol(client *c, int re);

/* ---- client_session.c ---- */
/* Open a kept-alive HTTPS connection with the device certificate and run
 * HELLO on it. keep NULL: the envelope directions are made; otherwise the
 * first secrets go to *keep, unused (channel_save). 0, or -1 after saying why. */
int channel_open(client *c, channel *ch, envelope_secrets *keep);
/* Send one signed operation (op, payload) and return the opened answer
 * (jansson object) in *answer. 0; -1 after saying why (transport, refusal). */
int channel_op(client *c, channel *ch, const char *op, const uint8_t msg_id[16], int64_t created_ms,
               const uint8_t *payload, size_t len, void **answer);
/* Send an operation signed beforehand (signed_op_make's JSON): 06-load signs
 * before its clock starts. The envelope is sealed here, under the next seq:
 * the answer is checked against the request its direction sealed last. */
int channel_send_signed(client *c, channel *ch, const char *pt, void **answer);
/* CLOSE with a reason; the token dies with the session. */
int channel_close(client *c, channel *ch, const char *reason);
void channel_free(channel *ch);
/* Keep the session for the curl exercises (06-client token): HOME/session,
 * 0600, holds the session's first secrets, unused; `06-client close` takes
 * it (and deletes it first, so it is used once). */
int channel_save(client *c, channel *ch, const envelope_secrets *sec);
int channel_load(client *c, channel *ch);

/* Records: into the outbox (fsynced) before they are sent, out of it once the
 * server has committed them. */
int outbox_add(client *c, const uint8_t msg_id[16], int64_t created_ms, const char *json, size_t len);
int outbox_remove(client *c, const uint8_t msg_id[16]);
/* Send every record in the outbox over ch. The count still left. */
int outbox_flush(client *c, channel *ch, size_t *sent, size_t *left);

int64_t client_now_ms(void);
/* The session options every request of 06-client uses: the server's CA,
 * TLS 1.3, the chain recorder; with_cert: the device certificate. */
http_session_opts client_session_opts(client *c, int with_cert);
/* A transport failure in one line: the TLS reason when there is one (the
 * server refused our certificate, it is revoked, ...), else curl's words. */
void client_transport_error(client *c, const char *what, const http_response *res);

/* ---- the applications' commands ----
 * Each module's main takes the command and its arguments after it (the
 * options are parsed already, into *c) and returns an exit status, or
 * CLIENT_NOT_MINE when cmd is none of its commands. */
#define CLIENT_NOT_MINE (-1)
/* One signed op with any payload in its own session, the answer printed
 * whole (the lab's hand-made request: `op NAME JSON`, `send-op OP JSON|-`). */
int client_raw_op(client *c, const char *op, const uint8_t *payload, size_t len);
int client_messages_main(client *c, const char *cmd, int argc, char **argv); /* users, send, inbox, receipts, menu */
int client_transfer_main(client *c, const char *cmd, int argc, char **argv); /* send-file, send-object, ..., receive */
int client_listen_main(client *c, const char *cmd, int argc, char **argv);   /* listen */

#endif
