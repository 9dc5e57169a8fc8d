/* SPDX-License-Identifier: MIT */
/*
 * envelope.h - chapter 06's application envelopes: the key schedule that
 * turns one X25519 secret into per-direction AES-256-GCM keys, and the
 * per-direction state that seals and opens DATA_REQUEST, DATA_RESPONSE,
 * CLOSE and NOTIFY envelopes with strict sequence numbers.
 *
 * Key schedule (TLS 1.3's shape, RFC 8446 section 7, with our own labels):
 *
 *   prk       = HKDF-Extract(salt = th, ikm = X25519(e_c, E_s))
 *   c2s_0     = Expand-Label(prk, "c ap traffic", th, 32)
 *   s2c_0     = Expand-Label(prk, "s ap traffic", th, 32)
 *   ntf_0     = Expand-Label(prk, "notify", th, 32)
 *   key_e     = Expand-Label(secret_e, "key", "", 32)
 *   iv_e      = Expand-Label(secret_e, "iv", "", 12)
 *   secret_e+1 = Expand-Label(secret_e, "traffic upd", "", 32)  (old one wiped)
 *   epoch(seq) = (seq - first) / rotate_every     (first: 2 for data, 1 for NOTIFY)
 *   nonce     = iv_e XOR (0^32 || BE64(seq))
 *
 * Expand-Label(secret, label, ctx, L) = HKDF-Expand(secret, HkdfLabel, L)
 * with HkdfLabel = BE16(L) || u8 len || "course06 " label || u8 len || ctx:
 * RFC 8446 section 7.1 with our prefix instead of "tls13 ", so a course key
 * can never equal a TLS key even if both started from the same secret.
 * th is the HELLO/HELLO_ACK transcript hash; it enters as the salt and as
 * the context, so both sides get the same keys only if they saw the same
 * handshake. No key or IV ever travels: both sides compute them.
 *
 * Envelopes: {type, session, seq, ct}, ct = AES-256-GCM(key, nonce, pt, AAD)
 * with the 16-byte tag appended (as Python's AESGCM does), and
 *
 *   AAD = "course06 v1" || u8 type code || u8 len || session
 *         || BE64(seq) || BE32(epoch) [|| SHA-256(request ct), answers only]
 *
 * so moving a ciphertext to another type, session, seq, epoch or request
 * breaks its tag. Opening checks, in this order, and says which failed:
 * the type belongs to this direction (else reflected), seq in range, seq >
 * last (== last: replayed, unless it is a byte-identical resend of the last
 * request, which gets the cached answer back; < last: reordered), seq - last
 * <= ENVELOPE_MAX_GAP, for an answer that it answers the outstanding request
 * (its seq and type), then the tag. Nothing inside a ciphertext is looked
 * at before its tag checks; a ciphertext that is too short is an
 * authentication failure, never a parse error. 'last' and the ratchet move
 * only after a successful open: a forged envelope with a far seq changes
 * nothing (the ratchet runs on a copy that is wiped when the tag fails).
 *
 * A server, per session:
 *     envelope_secrets s;  envelope_schedule(ss, ss_len, th, &s);
 *     envelope_dir_new(ENVELOPE_C2S, s.c2s, 10, session, &rx);   also S2C: tx
 *     envelope_secrets_wipe(&s);
 *     st = envelope_open(rx, ENVELOPE_DATA_REQUEST, seq, ct, n, &pt, &pt_len);
 *     if (st == ENVELOPE_RETRANSMIT) send envelope_cached_answer(rx, ...) again;
 *     else if (st == ENVELOPE_OK) { handle pt;
 *         envelope_seal_answer(tx, rx, ENVELOPE_DATA_RESPONSE, answer, n, &act, &an); }
 *     else refuse with envelope_status_str(st).
 * A client: envelope_seal(tx, ENVELOPE_DATA_REQUEST, seq, ...), then
 * envelope_open_answer(rx, tx, ENVELOPE_DATA_RESPONSE, seq, ...).
 *
 * Where this departs from ../shared/06-design.md sections 3.4-3.5, and why:
 * - The session in the AAD carries a one-byte length prefix (the design has it
 *   bare). Session ids are 22 characters today, but the module takes 1..64
 *   and a prefix keeps the AAD unambiguous whatever the length.
 * - The type code also names the direction (ENVELOPE_CLOSE travels both
 *   ways: the request is 0x13, the answer 0x23), so a reflected CLOSE fails
 *   on its AAD as well as on its key.
 * - Every answer binds SHA-256 of the request ciphertext: the CLOSE answer
 *   too, not only DATA_RESPONSE. An answer belongs to exactly one request.
 * - NOTIFY counts from 1 (the design's "own counter n from 1"), so the epoch
 *   is (seq - first) / N with first = 1 there; the design's (seq - 2) / N is
 *   the data case, first = 2 (HELLO is seq 1).
 * - Replay (seq == last, other bytes), reorder (seq < last) and reflection (a
 *   type of the other direction) are distinct statuses. The design answers
 *   one 409 "replayed or reordered"; a server may still merge them on the
 *   wire, but the log and the tests can tell them apart.
 * - HKDF: common/kex has only extract-then-expand (kex_hkdf_sha256). The
 *   three first secrets use it, since Expand(Extract(th, ss), HkdfLabel) is
 *   exactly one call; the steps from a secret use OpenSSL's EVP_KDF "HKDF" in
 *   EXPAND_ONLY mode. Neither is hand-written. Design 2.8 wants a
 *   kex_hkdf_expand_label in kex; that move is left to whoever owns kex.
 * - The identical-resend cache lives in the request direction's state (the
 *   server's C2S), filled by envelope_seal_answer: the answer is sealed once
 *   and never re-encrypted, and a second answer under a used seq is refused.
 * - The design's "cap 2^31" is ENVELOPE_SEQ_MAX; the sender refuses beyond it
 *   (open a new session), so a (key, nonce) pair is never used twice.
 *
 * Every function is silent: it returns a status, and envelope_status_str()
 * says why in one line. Secrets are wiped (OPENSSL_cleanse) before free.
 * A direction is not thread-safe: chapter 06 serves one request per session
 * at a time, under the session's lock, from the seq check to the answer.
 * Make each direction exactly once per handshake: a second envelope_dir from
 * the same first secret starts its seq again and would reuse (key, nonce)
 * pairs (a notify direction made anew on a WebSocket reconnect, or a session
 * restored after a restart, would do exactly that). A new handshake, new
 * secrets.
 */
#ifndef COURSE_ENVELOPE_H
#define COURSE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define ENVELOPE_SECRET_LEN 32 /* traffic secrets, SHA-256 sized */
#define ENVELOPE_KEY_LEN 32    /* AES-256 */
#define ENVELOPE_IV_LEN 12     /* GCM's 96-bit nonce */
#define ENVELOPE_TAG_LEN 16
#define ENVELOPE_TH_LEN 32 /* transcript hash, SHA-256 */
#define ENVELOPE_LABEL_PREFIX "course06 "
#define ENVELOPE_AAD_PREFIX "course06 v1"
#define ENVELOPE_ROTATE_DEFAULT 10 /* messages per key, per direction */
#define ENVELOPE_ROTATE_MAX 65535u
#define ENVELOPE_MAX_GAP 1000u            /* seq may skip at most this far ahead */
/* ...and at most this many key epochs: a forged envelope far ahead costs one
 * HKDF step per epoch before its tag can fail, so with a small rotate_every
 * the epochs, not the seqs, are what must be bounded (128 steps: ~0.4 ms) */
#define ENVELOPE_MAX_EPOCH_SKIP 128u
#define ENVELOPE_SEQ_MAX 2147483648u      /* 2^31: then the session must end */
#define ENVELOPE_SESSION_MAX 64           /* bytes of session id in the AAD */
#define ENVELOPE_MAX_PLAINTEXT (1u << 20) /* 1 MiB; --max-body caps the JSON */
#define ENVELOPE_AAD_MAX (sizeof ENVELOPE_AAD_PREFIX - 1 + 2 + ENVELOPE_SESSION_MAX + 8 + 4 + 32)

typedef enum envelope_status {
    ENVELOPE_OK = 0,
    ENVELOPE_RETRANSMIT,     /* open: identical resend of the last request */
    ENVELOPE_ERR_ARG,        /* a bad argument (NULL, length, rotate_every) */
    ENVELOPE_ERR_REFLECTED,  /* the type travels the other way */
    ENVELOPE_ERR_SEQ_RANGE,  /* seq before the first or beyond ENVELOPE_SEQ_MAX */
    ENVELOPE_ERR_REPLAY,     /* seq == last, and no cached answer to send for it */
    ENVELOPE_ERR_REORDER,    /* seq < last */
    ENVELOPE_ERR_GAP,        /* seq - last > ENVELOPE_MAX_GAP, or > ENVELOPE_MAX_EPOCH_SKIP epochs */
    ENVELOPE_ERR_NOT_ANSWER, /* answer: no request, or not the request's seq */
    ENVELOPE_ERR_ANSWERED,   /* seal_answer: this request already has one */
    ENVELOPE_ERR_TOO_LONG,   /* plaintext over ENVELOPE_MAX_PLAINTEXT */
    ENVELOPE_ERR_AUTH,       /* the tag does not check (or ct is too short) */
    ENVELOPE_ERR_CRYPTO,     /* OpenSSL failed (its error queue says why) */
    ENVELOPE_ERR_MEMORY,
} envelope_status;

/* One line a learner can read, e.g. "seq is not above the last one: a
 * replayed envelope". */
const char *envelope_status_str(envelope_status s);

/* ---- key schedule ------------------------------------------------------- */

/* RFC 8446 section 7.1 with the "course06 " prefix: out = HKDF-Expand(secret,
 * HkdfLabel(out_len, label, ctx), out_len). label at most 246 bytes, ctx at
 * most 255, out_len 1..255 * 32. */
envelope_status envelope_expand_label(const uint8_t *secret, size_t secret_len, const char *label,
                                      const uint8_t *ctx, size_t ctx_len, uint8_t *out,
                                      size_t out_len);

/* The three first traffic secrets of a session. */
typedef struct envelope_secrets {
    uint8_t c2s[ENVELOPE_SECRET_LEN], s2c[ENVELOPE_SECRET_LEN], ntf[ENVELOPE_SECRET_LEN];
} envelope_secrets;

/* From the X25519 shared secret and the transcript hash th. */
envelope_status envelope_schedule(const uint8_t *shared, size_t shared_len,
                                  const uint8_t th[ENVELOPE_TH_LEN], envelope_secrets *out);
void envelope_secrets_wipe(envelope_secrets *s);

/* key and iv of one epoch's secret. */
envelope_status envelope_traffic_keys(const uint8_t secret[ENVELOPE_SECRET_LEN],
                                      uint8_t key[ENVELOPE_KEY_LEN], uint8_t iv[ENVELOPE_IV_LEN]);
/* secret_e -> secret_e+1 ("traffic upd"), in place: the old one is gone. */
envelope_status envelope_next_secret(uint8_t secret[ENVELOPE_SECRET_LEN]);
/* nonce = iv XOR (0^32 || BE64(seq)), RFC 8446 section 5.3 / Noise 12.4. */
void envelope_nonce(const uint8_t iv[ENVELOPE_IV_LEN], uint64_t seq,
                    uint8_t nonce[ENVELOPE_IV_LEN]);

/* ---- directions and types ----------------------------------------------- */

typedef enum envelope_direction {
    ENVELOPE_C2S = 1, /* client to server: requests, first seq 2 */
    ENVELOPE_S2C = 2, /* server to client: answers, seq = the request's */
    ENVELOPE_NTF = 3, /* server to client over WebSocket: NOTIFY, first seq 1 */
} envelope_direction;

typedef enum envelope_type {
    ENVELOPE_DATA_REQUEST = 1,  /* C2S */
    ENVELOPE_DATA_RESPONSE = 2, /* S2C, an answer */
    ENVELOPE_CLOSE = 3,         /* C2S as a request, S2C as its answer */
    ENVELOPE_NOTIFY = 4,        /* NTF */
} envelope_type;

/* The first seq of a direction (2, 2, 1) and the epoch a seq falls in;
 * seq must be >= the first. */
uint64_t envelope_first_seq(envelope_direction d);
uint32_t envelope_epoch(envelope_direction d, uint64_t seq, unsigned rotate_every);

/* The AAD above; req_hash is SHA-256 of the request ct for an answer (S2C),
 * NULL otherwise. Returns its length (at most ENVELOPE_AAD_MAX), 0 for a
 * bad argument. */
size_t envelope_aad(envelope_direction d, envelope_type t, const char *session, uint64_t seq,
                    uint32_t epoch, const uint8_t *req_hash, uint8_t out[ENVELOPE_AAD_MAX]);

/* AES-GCM with a 96-bit nonce and a 16-byte tag appended; key_len 16, 24 or
 * 32 (the envelopes use 32; the others exist for the Wycheproof test).
 * seal writes pt_len + 16 bytes to ct; open writes ct_len - 16 bytes to pt
 * and wipes them again if the tag fails. */
envelope_status envelope_aead_seal(const uint8_t *key, size_t key_len,
                                   const uint8_t nonce[ENVELOPE_IV_LEN], const uint8_t *aad,
                                   size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct);
envelope_status envelope_aead_open(const uint8_t *key, size_t key_len,
                                   const uint8_t nonce[ENVELOPE_IV_LEN], const uint8_t *aad,
                                   size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt);

/* ---- per-direction state ------------------------------------------------ */

typedef struct envelope_dir envelope_dir;

/* A direction at epoch 0 from its first secret (copied; wipe yours).
 * rotate_every 1..ENVELOPE_ROTATE_MAX; session 1..ENVELOPE_SESSION_MAX bytes. */
envelope_status envelope_dir_new(envelope_direction d, const uint8_t secret0[ENVELOPE_SECRET_LEN],
                                 unsigned rotate_every, const char *session, envelope_dir **out);
/* Wipes every secret and the cached answer. NULL is fine. */
void envelope_dir_free(envelope_dir *d);

/* The last seq sealed or opened (first - 1 before any), and the epoch the
 * direction's current key belongs to. */
uint64_t envelope_dir_last(const envelope_dir *d);
uint32_t envelope_dir_epoch(const envelope_dir *d);

/* Requests (C2S) and notifications (NTF). seal needs seq > last and seq -
 * last <= ENVELOPE_MAX_GAP; *ct is malloc'ed (pt_len + 16 bytes). open adds
 * the checks above and returns ENVELOPE_RETRANSMIT, with *pt NULL, for a
 * byte-identical resend of the last request once it has an answer. */
envelope_status envelope_seal(envelope_dir *d, envelope_type t, uint64_t seq, const uint8_t *pt,
                              size_t pt_len, uint8_t **ct, size_t *ct_len);
envelope_status envelope_open(envelope_dir *d, envelope_type t, uint64_t seq, const uint8_t *ct,
                              size_t ct_len, uint8_t **pt, size_t *pt_len);

/* Answers (S2C), seq = the request's. The server seals under its S2C 'd'
 * the answer to the request its C2S 'req' last opened, and 'req' keeps the
 * bytes for an identical resend; a second answer to that request is
 * ENVELOPE_ERR_ANSWERED. The client opens under its S2C 'd' the answer to
 * the request its C2S 'req' last sealed: any other seq or request is
 * ENVELOPE_ERR_NOT_ANSWER. */
envelope_status envelope_seal_answer(envelope_dir *d, envelope_dir *req, envelope_type t,
                                     const uint8_t *pt, size_t pt_len, uint8_t **ct,
                                     size_t *ct_len);
envelope_status envelope_open_answer(envelope_dir *d, const envelope_dir *req, envelope_type t,
                                     uint64_t seq, const uint8_t *ct, size_t ct_len, uint8_t **pt,
                                     size_t *pt_len);

/* After ENVELOPE_RETRANSMIT: the answer sent the first time, byte for byte
 * (owned by req; valid until its next open or free). */
envelope_status envelope_cached_answer(const envelope_dir *req, const uint8_t **ct, size_t *ct_len);

/* LAB ONLY (06-server --lab --lab-no-seq, make 06-layers): the sequence
 * check turned off, without ever reusing a nonce. A request whose seq is not
 * above the last (replayed, reordered) is opened under that seq's own key and
 * AAD, and nothing moves: 'last', the ratchet and the cached answer stay as
 * they were. Its answer must not be sealed (a second answer under a used seq
 * is a second message under one (key, nonce) pair): the caller sends it
 * unsealed. A seq of an earlier epoch cannot be opened even so, because its
 * key is gone (ENVELOPE_ERR_REORDER). seq must be first..last of d (C2S). */
envelope_status envelope_lab_open_used_seq(const envelope_dir *d, envelope_type t, uint64_t seq,
                                           const uint8_t *ct, size_t ct_len, uint8_t **pt,
                                           size_t *pt_len);

#endif
