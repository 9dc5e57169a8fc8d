/* SPDX-License-Identifier: MIT */
/*
 * hello.h - chapter 06's signed, channel-bound session handshake (HELLO /
 * HELLO_ACK, one round trip inside TLS 1.3) and the device's signature on
 * every application record. R3 sent keys and IVs in its HELLO; here nothing
 * secret travels: each side sends an ephemeral X25519 value and a nonce,
 * signs a transcript, and both feed the X25519 secret and the transcript
 * hash th to envelope_schedule() (envelope.h).
 *
 * Wire format (b64url = unpadded base64url; every field that has a length
 * has exactly that length):
 *
 *   HELLO     {"type":"HELLO","v":1,"seq":1,"device":"<serial hex>",
 *              "kex":{"group":"x25519","pub":B64(32)},"nonce":B64(32),
 *              "ts":<ms since epoch>,"sig":B64(sig_c)}
 *   HELLO_ACK {"type":"HELLO_ACK","v":1,"seq":1,"session":S,
 *              "kex":{"group":"x25519","pub":B64(32)},"nonce":B64(32),
 *              "rotate_every":N,"expires_at":<unix s>,"token":T,
 *              "counters":{NAME:COUNT,...},"sig":B64(sig_s)}
 *
 * What is signed (RFC 8446 section 4.4.3's shape: 64 spaces, a context
 * string, one zero byte, then the content; lp(x) = BE16(len) || x):
 *
 *   TBS_H = 64 x 0x20 || "course06 HELLO v1" || 0x00 || cb(32)
 *           || SHA256(device cert DER) || lp(server name) || pub_c(32)
 *           || nonce_c(32) || BE64(ts)
 *   TBS_A = 64 x 0x20 || "course06 HELLO_ACK v1" || 0x00
 *           || SHA256(TBS_H || sig_c) || pub_s(32) || nonce_s(32)
 *           || lp(session) || BE32(rotate_every) || BE64(expires_at)
 *           || SHA256(token) || counters
 *   counters = BE16(count) || for each member, names in byte order:
 *              lp(name) || BE64(value)
 *   th    = SHA256(TBS_H || sig_c || TBS_A || sig_s)
 *
 * The choices written down:
 * - The 64 spaces and the context strings come from TLS 1.3: the device key
 *   also signs TLS's CertificateVerify and chapter 06's records, and a
 *   signature made for one of them can never be read as another, because
 *   each context string differs and is followed by a zero byte.
 * - cb is the TLS connection's RFC 9266 tls-exporter value (32 bytes). A
 *   HELLO signed on one TLS connection does not verify on another, so a
 *   HELLO relayed by a man in the middle with its own TLS connection fails.
 * - The device enters as SHA256 of its certificate's DER, not as the serial
 *   string: the signature names exactly one certificate. The serial on the
 *   wire is only for the server's lookup, and must equal the certificate's.
 * - The server name is length-prefixed, so no two (name, pub) pairs produce
 *   the same bytes; the other fields are fixed-length, so they need none.
 * - ts is milliseconds since the Unix epoch, a non-negative JSON integer;
 *   the server accepts it within HELLO_TS_WINDOW_MS (300 s) of its clock.
 *   expires_at is in seconds (a token's exp is, too).
 * - TBS_A starts from SHA256(TBS_H || sig_c): the answer is bound to one
 *   HELLO and its signature (Noise's MixHash idea), so an ACK cannot be
 *   replayed to another HELLO. The token enters as its SHA-256 (it can be a
 *   few KiB and has its own MAC).
 * - Counters are signed too. The design brief left them as unsigned advice;
 *   signing them costs eight bytes a counter, and leaves one rule for the
 *   lesson: nothing in the ACK can be changed by someone between TLS and the
 *   service (a TLS-terminating proxy) without the client noticing. To give
 *   them one byte form they are strict: at most HELLO_COUNTERS_MAX members,
 *   names [a-z_]{1,32}, values integers 0..2^53, encoded in byte order of
 *   the names, whatever order the JSON has.
 * - Device keys: Ed25519 (pure: EVP_DigestSign with no digest) or ECDSA
 *   P-256 with SHA-256 (DER signature, as OpenSSL makes it). The server key
 *   is ECDSA P-256. Anything else (RSA, P-384, ...) is refused before any
 *   signature is made or checked.
 * - cb never travels. The server builds TBS_H with its own exporter value,
 *   so a HELLO signed on another TLS connection fails the signature check
 *   (HELLO_ERR_SIGNATURE). The first sketch of this API compared a received
 *   cb with CRYPTO_memcmp as a separate step; with cb inside the signed
 *   bytes and not on the wire there is nothing to compare, and nothing an
 *   attacker could set: the check is the signature's (Noise section 11.2,
 *   "sign the handshake hash"). The price is one reason for two causes
 *   (another key, another connection); the string says both.
 * - Signature checks are OpenSSL's (which refuses non-canonical DER), and
 *   every other byte comparison on a secret-derived value is CRYPTO_memcmp.
 *
 * Where this departs from ../shared/06-design.md 3.3 and the first sketch of
 * this API, and why (the choices above aside):
 * - hello_verify takes a non-const request and marks it verified;
 *   hello_accept refuses (HELLO_ERR_STATE) a request that was not, so no
 *   code path can answer an unchecked HELLO.
 * - The design's server order also has "not revoked, account enabled" before
 *   the time stamp, and "rate limit, slot free" after cb: those need the
 *   server's tables, so the server does them around hello_verify (the lookup
 *   by hello_request_device() first, the slot before hello_accept).
 * - The session id takes 1..64 characters (the envelopes' limit), not
 *   exactly 22: the server picks its length, the ACK signs it with lp().
 * - The *_det functions take the ephemeral key and nonce from the caller so
 *   the known-answer tests can reproduce Python's bytes; nothing else may
 *   call them.
 * - hello_ack_info also carries th, so the client can narrate it.
 *
 * Server, for one HELLO:
 *     hello_request *r = NULL;
 *     st = hello_parse(body, len, &r);                 strict, no crypto yet
 *     look up hello_request_device(r) (revoked? account enabled?)
 *     st = hello_verify(r, peer_cert, server_name, exporter, now_ms);
 *     st = hello_accept(r, server_key, session, 10, expires_at, token,
 *                       counters, &ack_json, &secrets);
 *     ... envelope_dir_new(..., secrets.c2s, ...); envelope_secrets_wipe(&secrets);
 *     hello_request_free(r);
 * Client:
 *     st = hello_client_new(device_key, device_cert, server_name, exporter,
 *                           now_ms, &c, &hello_json);   POST it
 *     st = hello_client_finish(c, server_cert_key, body, len, &info, &secrets);
 *     hello_client_free(c); ... hello_ack_info_free(&info);
 * Any failure: a status, and hello_status_str() says why in one line.
 *
 * Every function is silent (no narration, no stderr). Ephemeral keys and the
 * X25519 secret are wiped (OPENSSL_cleanse / kex_free) as soon as the
 * secrets exist, and again on every failure path.
 */
#ifndef COURSE_HELLO_H
#define COURSE_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "envelope/envelope.h"

#define HELLO_VERSION 1
#define HELLO_SEQ 1
#define HELLO_GROUP "x25519"
#define HELLO_PUB_LEN 32
#define HELLO_NONCE_LEN 32
#define HELLO_CB_LEN 32              /* RFC 9266 tls-exporter, 32 bytes */
#define HELLO_TS_WINDOW_MS 300000    /* +-300 s between HELLO's ts and the server's clock */
#define HELLO_TS_MAX 9007199254740991 /* 2^53 - 1: every JSON parser reads it exactly */
#define HELLO_DEVICE_MAX 40          /* hex digits: a serial is at most 20 bytes (RFC 5280) */
#define HELLO_NAME_MAX 255           /* server name / audience, bytes */
#define HELLO_SESSION_MAX ENVELOPE_SESSION_MAX
#define HELLO_TOKEN_MAX 4096
#define HELLO_COUNTERS_MAX 8
#define HELLO_COUNTER_NAME_MAX 32
#define HELLO_SIG_MAX 72             /* ECDSA P-256 DER is at most 72 bytes; Ed25519 is 64 */
#define HELLO_JSON_MAX 16384         /* a HELLO or HELLO_ACK longer than this is refused */
#define HELLO_JSON_DEPTH 4

/* The context strings, with the zero byte that ends them in the TBS. */
#define HELLO_CONTEXT "course06 HELLO v1"
#define HELLO_ACK_CONTEXT "course06 HELLO_ACK v1"
#define RECORD_CONTEXT "course06 record v1"

/* Records (DATA_REQUEST's plaintext) */
#define RECORD_OP_MAX 32
#define RECORD_MSG_ID_LEN 16
#define RECORD_PAYLOAD_MAX (512u * 1024u) /* its base64url fits one envelope */
#define RECORD_CERT_PEM_MAX 16384

typedef enum hello_status {
    HELLO_OK = 0,
    HELLO_ERR_ARG,         /* a bad argument (NULL, length, range) */
    HELLO_ERR_TOO_LONG,    /* the JSON is over HELLO_JSON_MAX (or the record's cap) */
    HELLO_ERR_JSON,        /* not JSON, or not one object */
    HELLO_ERR_DUPLICATE,   /* a member appears twice */
    HELLO_ERR_MISSING,     /* a required member is absent */
    HELLO_ERR_EXTRA,       /* a member that does not belong */
    HELLO_ERR_MEMBER_TYPE, /* a member of the wrong JSON type */
    HELLO_ERR_MSG_TYPE,    /* "type" is not the message expected */
    HELLO_ERR_VERSION,     /* v != 1 */
    HELLO_ERR_SEQ,         /* seq != 1 */
    HELLO_ERR_GROUP,       /* kex.group is not "x25519" */
    HELLO_ERR_BASE64,      /* not strict unpadded base64url */
    HELLO_ERR_LENGTH,      /* a field of the wrong length */
    HELLO_ERR_DEVICE,      /* device is not lower-case hex of a serial */
    HELLO_ERR_NOT_CERT,    /* device is not the serial of the TLS client certificate */
    HELLO_ERR_TIME,        /* ts (or a record's created) outside the window */
    HELLO_ERR_KEY_TYPE,    /* a key that is neither Ed25519 nor P-256 (server: not P-256) */
    HELLO_ERR_KEY_MISMATCH, /* the private key is not the certificate's */
    HELLO_ERR_SIGNATURE,   /* the signature does not verify */
    HELLO_ERR_KEX,         /* kex_derive refused the peer's value (low order) */
    HELLO_ERR_SESSION,     /* session id: empty, too long, or not base64url characters */
    HELLO_ERR_ROTATE,      /* rotate_every outside 1..ENVELOPE_ROTATE_MAX */
    HELLO_ERR_EXPIRES,     /* expires_at not a positive integer */
    HELLO_ERR_TOKEN,       /* token: empty, too long, or not JWT characters */
    HELLO_ERR_COUNTERS,    /* counters: too many, bad name, or not a small integer */
    HELLO_ERR_OP,          /* op is not [a-z_]{1,32} */
    HELLO_ERR_STATE,       /* called out of order (accept before verify, finish twice) */
    HELLO_ERR_CERT,        /* a certificate that cannot be read or encoded */
    HELLO_ERR_CRYPTO,      /* OpenSSL failed (its error queue says why) */
    HELLO_ERR_MEMORY,
} hello_status;

/* One line a learner can read, e.g. "the HELLO is not signed by the key of
 * the TLS client certificate". */
const char *hello_status_str(hello_status s);

/* ---- signatures -------------------------------------------------------- */

/* Sign tbs with an Ed25519 or P-256 key (P-256: SHA-256, DER signature);
 * *sig is malloc'ed. Returns a hello_status: 0 (HELLO_OK), or
 * HELLO_ERR_KEY_TYPE for any other key, HELLO_ERR_CRYPTO, HELLO_ERR_MEMORY. */
int c06_sign(EVP_PKEY *key, const uint8_t *tbs, size_t len, uint8_t **sig, size_t *sig_len);
/* 0 (HELLO_OK) = valid. HELLO_ERR_KEY_TYPE for a key of another kind,
 * HELLO_ERR_SIGNATURE for any signature that does not verify (wrong key,
 * changed byte, wrong length, non-canonical DER). */
int c06_verify(EVP_PKEY *pub, const uint8_t *tbs, size_t len, const uint8_t *sig, size_t sig_len);
/* HELLO_OK if key is Ed25519 or EC on P-256, else HELLO_ERR_KEY_TYPE. */
hello_status c06_key_allowed(EVP_PKEY *key);

/* ---- transcript pieces (exposed for the known-answer tests and narration) */

/* The device's id on the wire: lower-case hex of the certificate's serial,
 * two digits a byte, no leading zero byte (pki_serial_hex's form). */
hello_status hello_cert_serial(X509 *cert, char out[HELLO_DEVICE_MAX + 1]);
/* SHA-256 of the certificate's DER. */
hello_status hello_cert_hash(X509 *cert, uint8_t out[32]);

/* TBS_H and TBS_A as above, malloc'ed. counters may be NULL (no members). */
hello_status hello_tbs_h(const uint8_t cb[HELLO_CB_LEN], const uint8_t cert_hash[32],
                         const char *server_name, const uint8_t pub_c[HELLO_PUB_LEN],
                         const uint8_t nonce_c[HELLO_NONCE_LEN], int64_t ts_ms, uint8_t **tbs,
                         size_t *tbs_len);
hello_status hello_tbs_a(const uint8_t *tbs_h, size_t tbs_h_len, const uint8_t *sig_c,
                         size_t sig_c_len, const uint8_t pub_s[HELLO_PUB_LEN],
                         const uint8_t nonce_s[HELLO_NONCE_LEN], const char *session,
                         unsigned rotate_every, int64_t expires_at, const char *token,
                         const json_t *counters, uint8_t **tbs, size_t *tbs_len);
/* th = SHA256(TBS_H || sig_c || TBS_A || sig_s) */
hello_status hello_transcript_hash(const uint8_t *tbs_h, size_t tbs_h_len, const uint8_t *sig_c,
                                   size_t sig_c_len, const uint8_t *tbs_a, size_t tbs_a_len,
                                   const uint8_t *sig_s, size_t sig_s_len,
                                   uint8_t th[ENVELOPE_TH_LEN]);

/* ---- client ------------------------------------------------------------ */

typedef struct hello_client hello_client;

/* A fresh X25519 key and nonce, TBS_H signed with the device key, and the
 * HELLO (malloc'ed, NUL-terminated). The key must be Ed25519 or P-256 and
 * be the key of device_cert; cb is this TLS connection's exporter. */
hello_status hello_client_new(EVP_PKEY *device_key, X509 *device_cert, const char *server_name,
                              const uint8_t cb[HELLO_CB_LEN], int64_t now_ms, hello_client **out,
                              char **hello_json);
/* The same with a given X25519 private key and nonce: for known-answer
 * tests only (a reused nonce or key defeats the handshake). */
hello_status hello_client_new_det(EVP_PKEY *device_key, X509 *device_cert,
                                  const char *server_name, const uint8_t cb[HELLO_CB_LEN],
                                  int64_t now_ms, const uint8_t eph[HELLO_PUB_LEN],
                                  const uint8_t nonce[HELLO_NONCE_LEN], hello_client **out,
                                  char **hello_json);

typedef struct hello_ack_info {
    char session[HELLO_SESSION_MAX + 1];
    unsigned rotate_every;
    int64_t expires_at;
    char *token;       /* malloc'ed; hello_ack_info_free wipes it */
    json_t *counters;  /* the ACK's counters object (a reference you own) */
    uint8_t th[ENVELOPE_TH_LEN]; /* the transcript hash, for narration */
} hello_ack_info;
/* Wipes the token, drops the counters; zeroes the struct. NULL is fine. */
void hello_ack_info_free(hello_ack_info *info);

/* Checks the ACK strictly (exact members, types, lengths), its signature
 * with server_pub (the P-256 key of the certificate the client verified in
 * TLS) over TBS_A built from this client's own TBS_H and sig_c, then
 * derives the secrets (kex_derive refuses low-order points) and wipes the
 * ephemeral key. Once only: a second call is HELLO_ERR_STATE. On failure
 * info and secrets are zeroed. */
hello_status hello_client_finish(hello_client *c, EVP_PKEY *server_pub, const char *ack,
                                 size_t ack_len, hello_ack_info *info, envelope_secrets *secrets);
/* Wipes the ephemeral key and the transcript. NULL is fine. */
void hello_client_free(hello_client *c);

/* ---- server ------------------------------------------------------------ */

typedef struct hello_request hello_request; /* a parsed HELLO */

/* Strict: exact members, JSON types, lengths, duplicates refused (core/json.h
 * json_parse), v == 1, seq == 1, group "x25519". No cryptography yet. */
hello_status hello_parse(const char *json, size_t len, hello_request **out);
/* The "device" member (lower-case hex serial), for the device lookup. */
const char *hello_request_device(const hello_request *r);
/* The HELLO's ts, for narration and logs. */
int64_t hello_request_ts(const hello_request *r);

/* In this order, each with its own status: device == the serial of
 * peer_cert (HELLO_ERR_NOT_CERT), ts within +-HELLO_TS_WINDOW_MS of now_ms
 * (HELLO_ERR_TIME), peer_cert's key is Ed25519 or P-256
 * (HELLO_ERR_KEY_TYPE), the signature with that key over TBS_H built with
 * the server's own cb (HELLO_ERR_SIGNATURE: so the signer is the TLS client,
 * on this TLS connection). On success r remembers TBS_H, and only then
 * will hello_accept answer it. (r is not const, unlike the first sketch of
 * this API: verifying is what makes a request acceptable.) */
hello_status hello_verify(hello_request *r, X509 *peer_cert, const char *server_name,
                          const uint8_t cb[HELLO_CB_LEN], int64_t now_ms);

/* The server's half: a fresh X25519 key and nonce, TBS_A signed with the
 * P-256 server_key, the ACK (malloc'ed), and the session's secrets. session
 * 1..HELLO_SESSION_MAX characters of [A-Za-z0-9_-]; token JWT characters
 * [A-Za-z0-9_.-], 1..HELLO_TOKEN_MAX; counters NULL or a small object as
 * above. HELLO_ERR_STATE unless hello_verify succeeded on r; HELLO_ERR_KEX
 * if the client's X25519 value is of low order. */
hello_status hello_accept(const hello_request *r, EVP_PKEY *server_key, const char *session,
                          unsigned rotate_every, int64_t expires_at, const char *token,
                          const json_t *counters, char **ack_json, envelope_secrets *secrets);
/* The same with a given X25519 private key and nonce: known-answer tests only. */
hello_status hello_accept_det(const hello_request *r, EVP_PKEY *server_key, const char *session,
                              unsigned rotate_every, int64_t expires_at, const char *token,
                              const json_t *counters, const uint8_t eph[HELLO_PUB_LEN],
                              const uint8_t nonce[HELLO_NONCE_LEN], char **ack_json,
                              envelope_secrets *secrets);
void hello_request_free(hello_request *r);

/* ---- records (06-design 3.6; signed.c) ----------------------------------
 *
 *   TBS_R = 64 x 0x20 || "course06 record v1" || 0x00 || lp(aud)
 *           || SHA256(device cert DER) || lp(op) || msg_id(16)
 *           || BE64(created_ms) || SHA256(payload)
 *   pt    = {"op":OP,"msg_id":B64(16),"created":<ms>,"payload":B64(bytes),
 *            "sig":B64(sig)}
 *
 * aud is the server's name: a record signed for one service does not verify
 * at another (Davis, "Defective Sign & Encrypt"), and the device's
 * certificate hash says who signed. The payload is bytes, so nothing needs
 * canonical JSON. The signature checks who, what, where and when; whether
 * `created` is recent and `msg_id` is new is the server's decision.
 */

/* TBS_R, malloc'ed. aud 1..HELLO_NAME_MAX bytes, op [a-z_]{1,32}, created_ms
 * 0..HELLO_TS_MAX, payload 0..RECORD_PAYLOAD_MAX bytes (NULL if len 0). */
hello_status c06_record_tbs(const char *aud, X509 *device_cert, const char *op,
                            const uint8_t msg_id[RECORD_MSG_ID_LEN], int64_t created_ms,
                            const uint8_t *payload, size_t len, uint8_t **tbs, size_t *tbs_len);

typedef struct signed_op {
    char op[RECORD_OP_MAX + 1];
    uint8_t msg_id[RECORD_MSG_ID_LEN];
    int64_t created_ms;
    uint8_t *payload; /* malloc'ed (at least one byte, even for an empty payload) */
    size_t payload_len;
    uint8_t *sig; /* malloc'ed */
    size_t sig_len;
} signed_op;

/* Sign a record with the device key (which must be device_cert's) and make
 * the DATA_REQUEST plaintext (malloc'ed, NUL-terminated). */
hello_status signed_op_make(EVP_PKEY *key, X509 *cert, const char *aud, const char *op,
                            const uint8_t msg_id[RECORD_MSG_ID_LEN], int64_t created_ms,
                            const uint8_t *payload, size_t len, char **pt_json);
/* Strict: exactly the five members, types, lengths, base64url. *out is
 * zeroed first and holds nothing on failure. Checks no signature. */
hello_status signed_op_parse(const uint8_t *pt, size_t len, signed_op *out);
/* The signature with cert's key, over TBS_R for this aud. */
hello_status signed_op_verify(const signed_op *o, X509 *cert, const char *aud);
/* Frees payload and sig (wiped first) and zeroes the struct. */
void signed_op_clear(signed_op *o);

/* The audit: re-verify a stored record from its stored fields, the device
 * certificate as PEM (kept after the certificate expires or is revoked: a
 * signature stays checkable). HELLO_ERR_CERT if the PEM is not exactly one
 * readable certificate. */
hello_status signed_op_verify_stored(const char *cert_pem, size_t pem_len, const char *aud,
                                     const char *op, const uint8_t msg_id[RECORD_MSG_ID_LEN],
                                     int64_t created_ms, const uint8_t *payload, size_t len,
                                     const uint8_t *sig, size_t sig_len);

#endif
