/*
 * signedkex_http.c - the client half of the signed key exchange over HTTP,
 * narrated. Built from chapter 03's pieces (common/exchange.h); the one new
 * step is the check between receiving the server's offer and using it.
 */
#include "signedkex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "httpclient.h"
#include "json.h"
#include "narrate.h"

int signedkex_url_host(const char *url, char *host, size_t host_len)
{
    CURLU *u = curl_url();
    char *h = NULL;
    size_t n;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
        /* IPv6 literals come back as "[::1]": the certificate holds "::1" */
        const char *s = h[0] == '[' ? h + 1 : h;
        n = strlen(s) - (h[0] == '[' && s[0] ? 1 : 0);
        if (n > 0 && n < host_len) {
            memcpy(host, s, n);
            host[n] = '\0';
            rc = 0;
        }
    }
    curl_free(h);
    curl_url_cleanup(u);
    return rc;
}

/* POST the offer, return the parsed reply (or NULL after an error). */
static json_t *post_offer(const char *url, const exchange *ex, const char *name)
{
    http_request req = http_request_defaults();
    http_response res;
    json_t *offer = exchange_offer_json(&ex->mine), *reply = NULL;
    char *body = NULL, err[256] = "";

    if (!offer || json_object_set_new(offer, "server_name", json_string(name)) != 0 ||
        !(body = json_compact(offer))) {
        errorf("key exchange", "out of memory");
        json_decref(offer);
        return NULL;
    }
    json_decref(offer);
    req.method = "POST";
    req.url = url;
    req.body = body;
    req.body_len = strlen(body);
    req.content_type = "application/json";
    step("POST %s: our public value and nonce, and the name we want (%s), in the clear", url, name);
    if (http_do(&req, &res) != 0) {
        http_report_failure("POST /kex", &req, &res);
        free(body);
        return NULL;
    }
    free(body);
    if (res.status != 200)
        errorf("POST /kex", "the server answered %ld: %.*s", res.status,
               (int)strcspn(res.body, "\n"), res.body);
    else if (!(reply = json_parse(res.body, res.body_len, JSON_DEFAULT_MAX_DEPTH, err, sizeof err)))
        errorf("key exchange", "the server's reply is not JSON: %s", err);
    http_response_free(&res);
    return reply;
}

static int session_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < max &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

int signedkex_http_client(const char *base_url, kex_group g, const char *info,
                          STACK_OF(X509) *trusted, uint8_t key[EXCHANGE_KEY_LEN], char *session,
                          size_t session_len)
{
    exchange ex;
    exchange_offer peer;
    json_t *reply = NULL;
    char url[2048], name[SIGNEDKEX_MAX_NAME + 1], err[600];
    const char *sid;
    signedkex_status sst;
    kex_status st;
    int rc = -1;

    memset(&ex, 0, sizeof ex);
    if (http_url_join(url, sizeof url, base_url, "/kex") ||
        signedkex_url_host(base_url, name, sizeof name)) {
        errorf("key exchange", "'%s' is not a usable URL", base_url);
        return -1;
    }
    step("key exchange: making a fresh %s key pair and a random nonce", kex_group_name(g));
    if ((st = exchange_begin(&ex, g, 1)) != KEX_OK) {
        errorf("key exchange", "cannot make a key pair: %s", kex_status_str(st));
        goto end;
    }
    exchange_narrate_offer("our", &ex.mine);
    if (!(reply = post_offer(url, &ex, name)))
        goto end;
    if (exchange_offer_parse(reply, &peer, err, sizeof err) != 0) {
        errorf("key exchange", "the server's offer is unreadable: %s", err);
        goto end;
    }
    exchange_narrate_offer("the server's", &peer);
    /* the new step: nothing from the reply is used before these checks pass */
    step("checking the server's certificate chain, its name (%s) and its signature over "
         "everything both sides sent",
         name);
    ex.peer = peer;
    sid = json_get_str(reply, "session");
    if (!session_ok(sid, session_len)) {
        errorf("key exchange", "the server's reply has no usable \"session\" id");
        goto end;
    }
    sst = signedkex_check_reply(reply, &ex, name, trusted, err, sizeof err);
    if (sst != SIGNEDKEX_OK) {
        errorf("key exchange", "%s", err);
        if (sst == SIGNEDKEX_BAD_SIGNATURE)
            hint("the public value that arrived is not the one the server signed: do not use "
                 "this connection (chapter 03's client would have, through 03-mitm)");
        else if (sst == SIGNEDKEX_UNSIGNED)
            hint("a chapter 04 server signs every answer: something on the path replaced it; "
                 "do not use this connection");
        else
            hint("the server must present a certificate from the CA in --ca for %s "
                 "(make pki; check it with minica verify)", name);
        goto end;
    }
    note("chain OK up to our trusted root; certificate for %s; signature valid: the public value "
         "is the server's own", name);
    step("combining our private value with the server's public value: the shared secret, "
         "computed on both sides, never sent");
    if ((st = exchange_finish(&ex, &peer, info, key)) != KEX_OK) {
        errorf("key exchange", "%s", kex_status_str(st));
        goto end;
    }
    note("HKDF-SHA256(shared secret, salt = both nonces, info = \"%s\") -> 32-byte key", info);
    snprintf(session, session_len, "%s", sid);
    note("session id: %s (on the wire, sent back in an %s header)", session,
         EXCHANGE_SESSION_HEADER);
    rc = 0;
end:
    json_decref(reply);
    exchange_clear(&ex);
    return rc;
}
