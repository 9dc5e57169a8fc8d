/* SPDX-License-Identifier: MIT */
/*
 * signedkex_flow.c - see signedkex_flow.h. The whole of chapter 04's new step
 * is check_signed_reply(); the rest is chapter 03's flow (kex_flow_client() in
 * 03_diffie_hellman/kex_flow.c, steps 1 to 5). Read it beside post_kex() in
 * server.c, which reads the name add_server_name() sends and makes the
 * signature check_signed_reply() checks.
 */
#include "signedkex_flow.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "../03_diffie_hellman/kex_flow.h"
#include "core/narrate.h"
#include "pki/signedkex.h"

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

typedef struct signed_check {
    const char *name;        /* the host we want to talk to */
    STACK_OF(X509) *trusted; /* the root(s) we already hold, never from the wire */
} signed_check;

/* step 2, added to our offer: the server is asked to sign for the name we
 * want (post_kex reads "server_name"; signedkex_sign_reply() refuses a name
 * the server's certificate does not carry) */
static int add_server_name(json_t *offer, void *arg)
{
    const signed_check *c = arg;
    return json_object_set_new(offer, "server_name", json_string(c->name));
}

/* Step 4, the new one: nothing from the reply is used before these checks
 * pass. They undo what signedkex_sign_reply() did in post_kex: the chain up
 * to our own root, the name, then the signature over what WE saw, so a public
 * value or session id swapped on the way (03-mitm) shows as a bad signature. */
static int check_signed_reply(const json_t *reply, const exchange *ex, void *arg)
{
    const signed_check *c = arg;
    char err[600];
    signedkex_status sst;

    step("checking the server's certificate chain, its name (%s) and its signature over "
         "everything both sides sent",
         c->name);
    sst = signedkex_check_reply(reply, ex, c->name, c->trusted, err, sizeof err);
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
                 "(make pki; check it with minica verify)", c->name);
        return -1;
    }
    note("chain OK up to our trusted root; certificate for %s; signature valid: the public value "
         "is the server's own", c->name);
    return 0;
}

int signedkex_flow_client(const char *base_url, kex_group g, const char *info,
                          STACK_OF(X509) *trusted, uint8_t key[EXCHANGE_KEY_LEN], char *session,
                          size_t session_len)
{
    char name[SIGNEDKEX_MAX_NAME + 1], says[SIGNEDKEX_MAX_NAME + 96];
    signed_check check = {name, trusted};
    kex_flow_hooks hooks = {says, add_server_name, check_signed_reply, &check};

    if (signedkex_url_host(base_url, name, sizeof name)) {
        errorf("key exchange", "'%s' is not a usable URL", base_url);
        return -1;
    }
    snprintf(says, sizeof says, "our public value and nonce, and the name we want (%s), in the clear",
             name);
    return kex_flow_client(base_url, g, info, &hooks, key, session, session_len);
}
