/* SPDX-License-Identifier: MIT */
/*
 * exchange.h - the key exchange protocol of chapter 03 (reused by 04 and 06):
 * each side sends an "offer" in JSON, both derive the same 32-byte key.
 *
 *   client -> POST /kex   {"group":"x25519","public":"<hex>","nonce":"<hex>"}
 *   server <- 200         {"group":"x25519","public":"<hex>","nonce":"<hex>",
 *                          "session":"<id>"}
 *
 *   shared = DH(our private key, the peer's public value)   (never sent)
 *   key    = HKDF-SHA256(ikm = shared, salt = client nonce || server nonce,
 *                        info = a label naming the chapter, 32 bytes)
 *
 * The nonces make every session's key different even if a side reused its
 * key pair; the label keeps a key made for one purpose out of another.
 * Nothing here authenticates the offers: that is chapter 03's lesson (see
 * 03-mitm). Chapter 04 signs exchange_transcript() to fix it.
 *
 * Client side (03_diffie_hellman/kex_flow.c does all of it, narrated):
 *     exchange ex;  exchange_begin(&ex, KEX_X25519, 1);
 *     json_t *req = exchange_offer_json(&ex.mine);        POST it
 *     exchange_offer peer; exchange_offer_parse(reply, &peer, err, sizeof err);
 *     exchange_finish(&ex, &peer, INFO, key);  exchange_clear(&ex);
 * Server side: exchange_answer(&ex, request, INFO, key, err, len), then reply
 * with exchange_offer_json(&ex.mine) plus a "session" member.
 */
#ifndef COURSE_EXCHANGE_H
#define COURSE_EXCHANGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kex/kex.h"

#define EXCHANGE_NONCE_LEN 32
#define EXCHANGE_KEY_LEN 32
#define EXCHANGE_MAX_PUBLIC 512     /* bytes; the largest group's value is 256 */
#define EXCHANGE_SESSION_HEADER "X-Session"
/* chapter 03's HKDF label */
#define EXCHANGE_INFO_03 "HTTPS from the ground up, chapter 03: Fernet key"

/* What one side puts on the wire. */
typedef struct exchange_offer {
    kex_group group;
    uint8_t public_value[EXCHANGE_MAX_PUBLIC];
    size_t public_len;
    uint8_t nonce[EXCHANGE_NONCE_LEN];
} exchange_offer;

typedef struct exchange {
    int is_client;
    kex_key *key;        /* our ephemeral private key: never leaves this process */
    exchange_offer mine; /* our offer, as sent */
    exchange_offer peer; /* theirs, as received (set by exchange_finish) */
} exchange;

/* A fresh key pair and nonce for group g. */
kex_status exchange_begin(exchange *ex, kex_group g, int is_client);
/* {"group": ..., "public": hex, "nonce": hex}; NULL when out of memory. */
json_t *exchange_offer_json(const exchange_offer *o);
/* Strict reading of an offer: known group, hex public value of at most
 * EXCHANGE_MAX_PUBLIC bytes, hex nonce of exactly 32 bytes. Other members
 * are ignored (chapter 04 adds a signature). 0, or -1 with a reason in err. */
int exchange_offer_parse(const json_t *j, exchange_offer *o, char *err, size_t err_len);
/* Check the peer's group is ours, derive (kex_derive validates the public
 * value), then HKDF as above into key. The shared secret is wiped. */
kex_status exchange_finish(exchange *ex, const exchange_offer *peer, const char *info,
                           uint8_t key[EXCHANGE_KEY_LEN]);
/* Server: parse the client's request, make our own offer in its group,
 * finish. err gets a reason for the client on failure (returns -1). */
int exchange_answer(exchange *ex, const json_t *request, const char *info,
                    uint8_t key[EXCHANGE_KEY_LEN], char *err, size_t err_len);
/* What both sides saw, as bytes to sign (chapter 04): a label, then for the
 * client's offer and then the server's: group name, public value and nonce,
 * each preceded by its 2-byte big-endian length. malloc'ed. */
int exchange_transcript(const exchange *ex, uint8_t **out, size_t *len);
/* Free the key; wipe everything. */
void exchange_clear(exchange *ex);

/* A session id as the server may name one: 1 to max-1 characters of
 * base64url text. Anything else in a reply is refused. */
int exchange_session_id_ok(const char *s, size_t max);

/* Narrate an offer: group, public value (decimal too in the toy group) and
 * nonce, each marked as sent on the wire. `who` is "our" or "the server's". */
void exchange_narrate_offer(const char *who, const exchange_offer *o);

#endif
