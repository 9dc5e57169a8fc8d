/* SPDX-License-Identifier: MIT */
/*
 * kex_flow.c - see kex_flow.h. Read it beside post_kex() in server.c: the
 * numbered steps below are the client's half, and each names what the server
 * does at that point. The server's half is shorter: it reads our offer
 * first, so exchange_answer() makes its key pair in our group and derives the
 * key in one call, before it answers.
 */
#include "kex_flow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "net/httpclient.h"
#include "core/json.h"
#include "core/narrate.h"

/* Before the exchange: our private value; after it (shared != 0): the shared
 * secret. Both stay hidden, except in the toy group, which has nothing to
 * hide: there the numbers are shown so they can be checked by hand. */
static void narrate_private(const exchange *ex, int shared)
{
    uint8_t *priv = NULL, *secret = NULL;
    size_t n = 0, sn = 0;
    if (ex->mine.group != KEX_TOY) {
        if (!shared)
            note("our private value: stays in this process, never sent");
        return;
    }
    if (kex_private(ex->key, &priv, &n) == KEX_OK && !shared)
        note("our private value: %u (toy group, printed to teach; never sent)", priv[0]);
    if (shared && ex->peer.public_len &&
        kex_derive(ex->key, ex->peer.public_value, ex->peer.public_len, &secret, &sn) == KEX_OK)
        note("shared secret: %u = %u^%u mod %u (never sent; an eavesdropper finds it by trying "
             "all %u exponents)",
             secret[0], ex->peer.public_value[0], priv ? priv[0] : 0, KEX_TOY_P, KEX_TOY_P - 3);
    encoding_free_secret(priv, n);
    encoding_free_secret(secret, sn);
}

int kex_flow_client(const char *base_url, kex_group g, const char *info,
                    const kex_flow_hooks *hooks, uint8_t key[EXCHANGE_KEY_LEN], char *session,
                    size_t session_len)
{
    exchange ex;
    exchange_offer peer;
    http_request req = http_request_defaults();
    http_response res;
    json_t *offer = NULL, *reply = NULL;
    char url[2048], err[256], *body = NULL;
    const char *sid;
    int rc = -1, have_res = 0;
    kex_status st;

    if (http_url_join(url, sizeof url, base_url, "/kex")) {
        errorf("key exchange", "the URL is too long");
        return -1;
    }
    /* 1. a fresh key pair and nonce: a new one for every session, so a key
     *    stolen later opens no recorded session (the server makes its own in
     *    exchange_answer, in the group we name here) */
    step("key exchange: making a fresh %s key pair and a random nonce", kex_group_name(g));
    if ((st = exchange_begin(&ex, g, 1)) != KEX_OK || !(offer = exchange_offer_json(&ex.mine)) ||
        (hooks && hooks->add_to_offer && hooks->add_to_offer(offer, hooks->arg) != 0) ||
        !(body = json_compact(offer))) {
        if (st != KEX_OK)
            errorf("key exchange", "cannot make a key pair: %s", kex_status_str(st));
        else /* the key pair is made: only the JSON around it failed */
            errorf("key exchange", "cannot build our offer: out of memory");
        goto end;
    }
    narrate_private(&ex, 0);
    exchange_narrate_offer("our", &ex.mine);
    /* 2. our offer goes out in the clear: group, public value, nonce; only
     *    the private value stays (post_kex reads it with web_read_json) */
    req.method = "POST";
    req.url = url;
    req.body = body;
    req.body_len = strlen(body);
    req.content_type = "application/json";
    step("POST %s: %s", url,
         hooks && hooks->offer_says ? hooks->offer_says : "our public value and nonce, in the clear");
    if (http_do(&req, &res) != 0) {
        http_report_failure("POST /kex", &req, &res);
        goto end;
    }
    have_res = 1;
    /* 3. the server's offer comes back, made the same way as ours, with the
     *    session id that names the key it stored (sessions_put in post_kex) */
    if (res.status != 200) {
        errorf("POST /kex", "the server answered %ld: %.*s", res.status,
               (int)strcspn(res.body, "\n"), res.body);
        goto end;
    }
    if (!(reply = json_parse(res.body, res.body_len, JSON_DEFAULT_MAX_DEPTH, err, sizeof err)) ||
        exchange_offer_parse(reply, &peer, err, sizeof err) != 0) {
        errorf("key exchange", "the server's offer is unreadable: %s", err);
        goto end;
    }
    sid = json_get_str(reply, "session");
    if (!exchange_session_id_ok(sid, session_len)) {
        errorf("key exchange", "the server's reply has no usable \"session\" id");
        goto end;
    }
    exchange_narrate_offer("the server's", &peer);
    ex.peer = peer;
    /* 4. chapter 03 has nothing to check here: any public value is taken,
     *    whoever sent it. That is the hole 03-mitm uses; chapter 04's hook
     *    checks the server's signature over both offers at this point */
    if (hooks && hooks->check_reply && hooks->check_reply(reply, &ex, hooks->arg) != 0)
        goto end;
    /* 5. derive: the server computed the same key from its private value
     *    and our public one, before it answered (exchange_answer) */
    step("combining our private value with the server's public value: the shared secret, "
         "computed on both sides, never sent");
    if ((st = exchange_finish(&ex, &peer, info, key)) != KEX_OK) {
        errorf("key exchange", "%s", kex_status_str(st));
        hint("the server's public value was refused before use; a correct server never sends it");
        goto end;
    }
    narrate_private(&ex, 1);
    note("HKDF-SHA256(shared secret, salt = our nonce || the server's nonce, info = \"%s\") "
         "-> 32-byte session key (never sent)",
         info);
    if (narrate_is_verbose()) {
        char *h = hex_encode(key, EXCHANGE_KEY_LEN);
        note("session key (--verbose only; never on the wire): %s", h ? h : "?");
        encoding_free_secret(h, h ? strlen(h) : 0);
    }
    snprintf(session, session_len, "%s", sid);
    note("session id: %s (on the wire, sent back in an %s header)", session,
         EXCHANGE_SESSION_HEADER);
    rc = 0;
end:
    json_decref(offer);
    json_decref(reply);
    free(body);
    if (have_res)
        http_response_free(&res);
    exchange_clear(&ex);
    return rc;
}
