/* SPDX-License-Identifier: MIT */
/*
 * kex_flow.h - chapter 03's key exchange from the client's side, over HTTP
 * and narrated, so a learner sees what goes on the wire and what never does.
 * The server's half is in 03_diffie_hellman/server.c (post_kex); the pieces
 * both halves use are the kex module (common/kex/exchange.h).
 *
 *   the client, here                         the server, post_kex()
 *   1. a fresh key pair and nonce
 *      (exchange_begin)
 *   2. POST /kex with our offer  ---------->  exchange_answer(): reads it, makes
 *      (exchange_offer_json)                  its own key pair in our group and
 *                                             derives the key (its 1 and 5)
 *   3. read the server's offer   <----------  its offer and a session id
 *      (exchange_offer_parse)                 (sessions_put keeps the key)
 *   4. chapter 04 only: check the offer is    chapter 04 only: signs both offers,
 *      the server's own (hooks->check_reply)  the name and the session id
 *   5. derive the same key from both
 *      (exchange_finish: DH, then HKDF-SHA256)
 *
 * These are the protocol's steps. The narration numbers only the lines it
 * prints, so its "3. combining ..." is step 5 here (step 4 prints a line of its
 * own in chapter 04 only, where "combining" becomes "4.").
 *
 * 03-client and 03-mitm call it as it is; 04-client passes hooks that add the
 * name it wants to the offer and check the server's signature (04_pki_ca/
 * signedkex_flow.c): chapter 04 is this flow plus one step.
 */
#ifndef COURSE_KEX_FLOW_H
#define COURSE_KEX_FLOW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kex/exchange.h"

typedef struct kex_flow_hooks {
    /* how step 2 is narrated, e.g. "our public value and nonce, in the clear" */
    const char *offer_says;
    /* add members to our offer before it is sent (0, or -1 after an error) */
    int (*add_to_offer)(json_t *offer, void *arg);
    /* step 4: after the server's offer is read (ex->peer is set) and before
     * anything of it is used; 0 to go on, -1 after printing why not */
    int (*check_reply)(const json_t *reply, const exchange *ex, void *arg);
    void *arg;
} kex_flow_hooks;

/* Run the exchange with base_url's POST /kex in group g; hooks may be NULL.
 * On success key holds the HKDF output for info and session (at least 64
 * bytes) the server's session id. Returns 0, or -1 after printing the error. */
int kex_flow_client(const char *base_url, kex_group g, const char *info,
                    const kex_flow_hooks *hooks, uint8_t key[EXCHANGE_KEY_LEN], char *session,
                    size_t session_len);

#endif
