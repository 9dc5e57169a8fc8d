/* SPDX-License-Identifier: MIT */
/*
 * client_listen.c - 06-client listen: live notifications (R5's push, done
 * inside the session).
 *
 *   06-client listen [--count N] [--for SECONDS]
 *
 * HELLO opens a session as every command does; then a WebSocket to
 * GET /v1/notify (common/net/wsclient.c: libcurl here speaks none) on a TLS
 * connection of its own, with the device certificate and the session's
 * Bearer token: the server checks both before it upgrades. Each text frame
 * is a NOTIFY envelope {type, session, seq, ct}, opened under the session's
 * third direction (the ntf key, made once by HELLO): seq must go up (from
 * 1), and the tag must check before a byte of the plaintext is read. A gap
 * in seq is said aloud: the server dropped what this client did not read in
 * time, and its next frame carries "missed".
 *
 * The notification is a doorbell, not the mail: ids, names and counters,
 * never content. `06-client inbox` (or receive) fetches the content, with a
 * signed op, in an envelope.
 */
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "client.h"
#include "core/cli.h"
#include "core/narrate.h"
#include "core/encoding.h"
#include "core/json.h"
#include "net/wsclient.h"

#define LISTEN_MAX_MESSAGE 16384 /* a NOTIFY envelope: a few hundred bytes */

/* https://HOST[:PORT]/... -> its port (443 without one) */
static int url_port(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    if (*p == '[')
        p = strchr(p, ']');
    if (p)
        p = strpbrk(p, ":/");
    if (p && *p == ':') {
        long v = strtol(p + 1, NULL, 10);
        if (v > 0 && v < 65536)
            return (int)v;
    }
    return 443;
}

/* TLS for the WebSocket: what every 06-client connection has (TLS 1.3, the
 * course CA, the name in the SAN only, the chain recorder), and the device
 * certificate with its key. */
static SSL_CTX *listen_tls(client *c, channel *ch)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    tls_chain_init(&c->chain);
    c->chain.have_client_cert = 1;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_load_verify_locations(ctx, c->cacert, NULL) != 1 ||
        SSL_CTX_use_certificate(ctx, ch->cert) != 1 || SSL_CTX_use_PrivateKey(ctx, ch->key) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1 || tls_chain_watch(ctx, &c->chain) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(ctx), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    return ctx;
}

/* "message 12 from alice (unread 2)": the event in words, then the counters */
static void say_notification(uint64_t seq, json_t *pt)
{
    const char *ev = json_get_str(pt, "event");
    json_t *counters = json_object_get(pt, "counters"), *v;
    const char *k;
    char what[512], cnt[256] = "";
    size_t o = 0;
    json_int_t missed = json_integer_value(json_object_get(pt, "missed"));
    json_int_t id = json_integer_value(json_object_get(pt, "id"));
    const char *from = json_get_str(pt, "from"), *by = json_get_str(pt, "by"),
               *device = json_get_str(pt, "device");

    if (!ev)
        ev = "?";
    if (!strcmp(ev, "login"))
        snprintf(what, sizeof what, "a new login on your account: device %s from %s", device ? device : "?",
                 from ? from : "?");
    else if (!strcmp(ev, "revoked"))
        snprintf(what, sizeof what, "device %s of your account was revoked", device ? device : "?");
    else if (!strcmp(ev, "message"))
        snprintf(what, sizeof what, "message %lld from %s", (long long)id, from ? from : "?");
    else if (!strcmp(ev, "receipt"))
        snprintf(what, sizeof what, "message %lld was read by %s", (long long)id, by ? by : "?");
    else if (!strcmp(ev, "transfer"))
        snprintf(what, sizeof what, "item %lld from %s", (long long)id, from ? from : "?");
    else {
        /* an event this client has no words for: its fields as they came */
        json_t *copy = json_copy(pt);
        json_object_del(copy, "counters");
        char *text = copy ? json_compact(copy) : NULL;
        snprintf(what, sizeof what, "%s", text ? text : ev);
        free(text);
        json_decref(copy);
    }
    json_object_foreach(counters, k, v) {
        if (json_is_integer(v) && o < sizeof cnt)
            o += (size_t)snprintf(cnt + o, sizeof cnt - o, "%s%s %lld", o ? ", " : "", k,
                                  (long long)json_integer_value(v));
    }
    result("[notify %llu] %s%s%s%s%s", (unsigned long long)seq, what, cnt[0] ? " (" : "", cnt,
           cnt[0] ? ")" : "", missed ? " - some notifications before this one were lost" : "");
}

/* One NOTIFY envelope: exactly {type, session, seq, ct}, this session's, seq
 * above the last, the tag under the ntf key. The plaintext (a JSON object)
 * in *pt, or -1 after saying why. */
static int open_notify(channel *ch, const char *text, size_t len, uint64_t *seq, json_t **pt)
{
    char err[160];
    json_t *e = json_parse(text, len, 4, err, sizeof err), *s;
    const char *type, *session, *ct;
    uint8_t *raw = NULL, *plain = NULL;
    size_t raw_len = 0, plain_len = 0;
    envelope_status es;
    int rc = -1;

    *pt = NULL;
    if (!e) {
        errorf("notify", "a frame that is not JSON: %s", err);
        return -1;
    }
    type = json_get_str(e, "type");
    session = json_get_str(e, "session");
    s = json_object_get(e, "seq");
    ct = json_get_str(e, "ct");
    if (json_object_size(e) != 4 || !type || strcmp(type, "NOTIFY") != 0 || !session || !json_is_integer(s) ||
        json_integer_value(s) < 1 || !ct) {
        errorf("notify", "a frame that is not a NOTIFY envelope {type, session, seq, ct}");
        goto out;
    }
    if (strcmp(session, ch->session) != 0) {
        errorf("notify", "a NOTIFY of another session (%s)", session);
        goto out;
    }
    *seq = (uint64_t)json_integer_value(s);
    if (b64url_decode(ct, strlen(ct), B64_NO_PAD, &raw, &raw_len) != 0) {
        errorf("notify", "ct is not base64url");
        goto out;
    }
    uint64_t last = envelope_dir_last(ch->ntf);
    es = envelope_open(ch->ntf, ENVELOPE_NOTIFY, *seq, raw, raw_len, &plain, &plain_len);
    if (es != ENVELOPE_OK) {
        errorf("notify", "NOTIFY seq %llu: %s", (unsigned long long)*seq, envelope_status_str(es));
        goto out;
    }
    if (*seq != last + 1)
        warning("NOTIFY seq %llu after %llu: the server dropped %llu this client did not read in time",
                (unsigned long long)*seq, (unsigned long long)last, (unsigned long long)(*seq - last - 1));
    wire_in("NOTIFY seq %llu epoch %u: %zu bytes of ciphertext opened under the ntf key",
            (unsigned long long)*seq, envelope_epoch(ENVELOPE_NTF, *seq, ch->rotate_every), raw_len);
    *pt = json_parse((const char *)plain, plain_len, 8, err, sizeof err);
    if (!*pt || !json_is_object(*pt)) {
        json_decref(*pt);
        *pt = NULL;
        errorf("notify", "the NOTIFY's plaintext is not a JSON object");
        goto out;
    }
    if (narrate_is_verbose())
        note("NOTIFY plaintext: %.*s", (int)plain_len, (const char *)plain);
    rc = 0;
out:
    if (plain)
        encoding_free_secret(plain, plain_len);
    free(raw);
    json_decref(e);
    return rc;
}

static int listen_loop(client *c, channel *ch)
{
    SSL_CTX *ctx = listen_tls(c, ch);
    char auth[2048];
    const char *hdr[] = {auth, NULL};
    ws_client *w = NULL;
    ws_info info;
    ws_status st;
    long got = 0;
    time_t end = time(NULL) + c->poll_for;
    int rc = EXIT_FAILED;

    if (!ctx) {
        errorf("listen", "cannot set up TLS with the device certificate");
        return EXIT_FAILED;
    }
    if ((size_t)snprintf(auth, sizeof auth, "Authorization: Bearer %s", ch->token) >= sizeof auth) {
        errorf("listen", "the token is too long for a header line");
        SSL_CTX_free(ctx);
        return EXIT_FAILED;
    }
    ws_client_opts o = {c->host, url_port(c->url), "/v1/notify", ctx, hdr, LISTEN_MAX_MESSAGE, 10000};
    step("WebSocket GET /v1/notify: the device certificate in TLS, the session's token in "
         "Authorization (both checked before the upgrade)");
    st = ws_connect(&o, &w, &info);
    OPENSSL_cleanse(auth, sizeof auth);
    if (st != WS_OK) {
        if (st == WS_ERR_REFUSED) {
            json_t *j = json_parse(info.body, strlen(info.body), 4, NULL, 0);
            const char *why = j ? json_get_str(j, "error") : NULL;
            errorf("listen", "HTTP %d: %s", info.status, why ? why : info.body[0] ? info.body : "(no reason)");
            json_decref(j);
        } else {
            char reason[512], hint_text[512];
            if (st == WS_ERR_TLS && tls_explain_failure(CURLE_SSL_CONNECT_ERROR, &c->chain, c->url, reason,
                                                        sizeof reason, hint_text, sizeof hint_text)) {
                errorf("listen", "%s", reason);
                if (hint_text[0])
                    hint("%s", hint_text);
            } else {
                errorf("listen", "%s: %s", ws_status_str(st), info.detail);
            }
        }
        SSL_CTX_free(ctx);
        return EXIT_FAILED;
    }
    result("listening for notifications on session %s (%s%ld s)", ch->session,
           c->max_polls ? "" : "for ", (long)c->poll_for);
    if (c->max_polls)
        note("until %ld notification%s, or %ld s", c->max_polls, c->max_polls == 1 ? "" : "s",
             (long)c->poll_for);

    for (;;) {
        time_t now = time(NULL);
        char *text = NULL;
        size_t len = 0;
        if (now >= end) {
            result("%ld notification%s in %ld s", got, got == 1 ? "" : "s", (long)c->poll_for);
            rc = c->max_polls ? EXIT_FAILED : EXIT_OK;
            break;
        }
        st = ws_recv(w, (int)(end - now) * 1000, &text, &len, &info);
        if (st == WS_TIMEOUT)
            continue;
        if (st == WS_CLOSED) {
            const char *why = "";
            int code = ws_close_code(w, &why);
            if (code)
                errorf("listen", "the server closed the socket: %d %s", code, why);
            else
                errorf("listen", "%s", info.detail[0] ? info.detail : "the connection ended");
            break;
        }
        if (st != WS_OK) {
            errorf("listen", "%s: %s", ws_status_str(st), info.detail);
            break;
        }
        uint64_t seq = 0;
        json_t *pt = NULL;
        int ok = open_notify(ch, text, len, &seq, &pt) == 0;
        free(text);
        if (!ok)
            break; /* a frame that does not open is an attack or a bug: stop listening */
        say_notification(seq, pt);
        json_decref(pt);
        if (c->max_polls && ++got >= c->max_polls) {
            rc = EXIT_OK;
            break;
        }
        if (!c->max_polls)
            got++;
    }
    ws_close(w, 1000, "done listening");
    SSL_CTX_free(ctx);
    return rc;
}

int client_listen_main(client *c, const char *cmd, int argc, char **argv)
{
    channel ch;
    int rc;
    (void)argv;
    if (strcmp(cmd, "listen") != 0 || argc != 0)
        return CLIENT_NOT_MINE;
    if (channel_open(c, &ch, NULL) != 0) {
        channel_free(&ch);
        return EXIT_FAILED;
    }
    rc = listen_loop(c, &ch);
    /* the session ends with the listening (the server closes nothing else) */
    if (channel_close(c, &ch, "listen done") != 0 && rc == EXIT_OK)
        rc = EXIT_FAILED;
    channel_free(&ch);
    return rc;
}
