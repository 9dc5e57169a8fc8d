/* SPDX-License-Identifier: MIT */
/*
 * client_session.c - 06-client's side of R3's protocol: HELLO / HELLO_ACK,
 * DATA_REQUEST / DATA_RESPONSE, CLOSE; and the outbox that makes a record
 * survive a crash of either side.
 *
 * The whole session rides one kept-alive TLS connection (http_session): the
 * HELLO is signed over that connection's tls-exporter, so it is built only
 * once the connection is up (body_fn). The server's HELLO_ACK signature is
 * checked with the key of the certificate the TLS handshake verified, and
 * the envelope keys come from the X25519 secret and the transcript hash:
 * nothing of them travels (R3 sent key and IV in its HELLO_ACK).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "core/cli.h"
#include "core/encoding.h"
#include "core/json.h"
#include "envelope/hello.h"
#include "pki/pki.h"
#include "token/token.h"

int64_t client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every new TLS context: record the chain as checked, and make OpenSSL check
 * the name itself, in the subjectAltName only. libcurl falls back to the
 * subject's CN when a certificate has no SAN; RFC 6125 section 6.4.4 lets a
 * client refuse that, and R1's SAN-less certificate is exactly the case. */
static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
    client *c = arg;
    X509_VERIFY_PARAM *p = SSL_CTX_get0_param(ssl_ctx);
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, c->host, ip) == 1 || inet_pton(AF_INET6, c->host, ip) == 1;
    (void)curl;
    X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(p, c->host) : X509_VERIFY_PARAM_set1_host(p, c->host, 0)) != 1)
        return CURLE_SSL_CONNECT_ERROR;
    return tls_chain_watch(ssl_ctx, &c->chain) == 0 ? CURLE_OK : CURLE_SSL_CONNECT_ERROR;
}

static CURLcode customise(CURL *curl, void *arg)
{
    CURLcode rc = curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    return rc == CURLE_OK ? curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, arg) : rc;
}

http_session_opts client_session_opts(client *c, int with_cert)
{
    http_session_opts o = {0};
    tls_chain_init(&c->chain);
    c->chain.have_client_cert = with_cert;
    o.base_url = c->url;
    o.cacert = c->cacert;
    o.tls_min_version = CURL_SSLVERSION_TLSv1_3;
    o.customise = customise;
    o.customise_arg = c;
    if (with_cert) {
        o.client_cert = c->device_crt;
        o.client_key = c->device_key;
    }
    return o;
}

void client_transport_error(client *c, const char *what, const http_response *res)
{
    char reason[512], hint_text[512];
    if (tls_explain_failure(res->code, &c->chain, c->url, reason, sizeof reason, hint_text,
                            sizeof hint_text)) {
        errorf(what, "%s", reason);
        if (hint_text[0])
            hint("%s", hint_text);
    } else {
        errorf(what, "%s", res->error);
    }
}

static void say_refusal(const char *what, const http_response *res)
{
    json_t *j = res->body ? json_parse(res->body, res->body_len, 4, NULL, 0) : NULL;
    const char *e = j ? (json_get_str(j, "reason") ? json_get_str(j, "reason") : json_get_str(j, "error"))
                      : NULL;
    errorf(what, "HTTP %ld: %s", res->status, e ? e : res->body ? res->body : "(no body)");
    json_decref(j);
}

/* ---- HELLO ------------------------------------------------------------- */

typedef struct hello_ctx {
    client *c;
    channel *ch;
    hello_client *hc;
} hello_ctx;

/* body_fn: the HELLO for the connection that carries it */
static int build_hello(const uint8_t exporter[32], void *arg, char **body, size_t *len)
{
    hello_ctx *x = arg;
    hello_client_free(x->hc); /* a reconnect: the HELLO of the old connection is void */
    x->hc = NULL;
    if (narrate_is_verbose())
        hexdump("tls-exporter (this connection)", exporter, 32);
    hello_status hs = hello_client_new(x->ch->key, x->ch->cert, x->c->host, exporter, client_now_ms(),
                                       &x->hc, body);
    if (hs != HELLO_OK) {
        errorf("HELLO", "%s", hello_status_str(hs));
        return -1;
    }
    *len = strlen(*body);
    return 0;
}

int channel_open(client *c, channel *ch, envelope_secrets *keep)
{
    http_session_opts o = {0};
    http_response res = {0};
    hello_ctx x = {c, ch, NULL};
    hello_ack_info info = {0};
    envelope_secrets sec;
    X509 *server = NULL;
    int rc = -1;

    memset(ch, 0, sizeof *ch);
    if (!(ch->key = pki_key_read(c->device_key, NULL)) || !(ch->cert = pki_cert_read(c->device_crt))) {
        errorf("device", "no device key and certificate in %s: %s", c->home, pki_last_error());
        hint("enrol first: 06-client --user NAME enrol");
        return -1;
    }
    o = client_session_opts(c, 1);
    if (!(ch->http = http_session_new(&o)))
        return -1;
    step("HELLO: an ephemeral X25519 value, a nonce and the time, signed by the device key over "
         "this connection's tls-exporter and the server's name '%s'",
         c->host);
    http_session_request r = {.method = "POST", .path = "/v1/hello", .content_type = "application/json",
                              .body_fn = build_hello, .body_arg = &x};
    if (http_session_do(ch->http, &r, &res) != 0) {
        client_transport_error(c, "HELLO", &res);
        goto out;
    }
    if (res.status != 200) {
        say_refusal("HELLO", &res);
        goto out;
    }
    /* the server's signature, with the key of the certificate TLS verified */
    if (!(server = http_session_server_cert(ch->http))) {
        errorf("HELLO_ACK", "the TLS connection shows no server certificate");
        goto out;
    }
    hello_status hs = hello_client_finish(x.hc, X509_get0_pubkey(server), res.body, res.body_len, &info,
                                          &sec);
    if (hs != HELLO_OK) {
        errorf("HELLO_ACK", "%s", hello_status_str(hs));
        goto out;
    }
    snprintf(ch->session, sizeof ch->session, "%s", info.session);
    ch->token = info.token;
    info.token = NULL;
    ch->rotate_every = info.rotate_every;
    ch->expires_at = info.expires_at;
    ch->seq = 1; /* HELLO was seq 1 */
    wire_in("HELLO_ACK: session %s, signed by the server's certificate key; keys every %u messages, "
            "token until %lld",
            ch->session, ch->rotate_every, (long long)ch->expires_at);
    if (info.counters) { /* R4's LOGIN answered with the unread and notification counts; so does HELLO_ACK */
        char *cnt = json_compact(info.counters);
        note("HELLO_ACK counters: %s", cnt ? cnt : "?");
        free(cnt);
    }
    if (keep) {
        *keep = sec;
        rc = 0;
    } else if (envelope_dir_new(ENVELOPE_C2S, sec.c2s, ch->rotate_every, ch->session, &ch->tx) ==
                   ENVELOPE_OK &&
               envelope_dir_new(ENVELOPE_S2C, sec.s2c, ch->rotate_every, ch->session, &ch->rx) ==
                   ENVELOPE_OK &&
               envelope_dir_new(ENVELOPE_NTF, sec.ntf, ch->rotate_every, ch->session, &ch->ntf) ==
                   ENVELOPE_OK) {
        rc = 0;
    } else {
        errorf("HELLO_ACK", "cannot set up the envelope keys");
    }
    if (!keep)
        envelope_secrets_wipe(&sec);
    if (rc == 0)
        note("both sides derived the same per-direction AES-256-GCM keys; none of them travelled");
out:
    hello_ack_info_free(&info);
    hello_client_free(x.hc);
    X509_free(server);
    http_response_free(&res);
    return rc;
}

/* ---- envelopes --------------------------------------------------------- */

/* Seal pt as TYPE under the next seq, POST it to path, open the answer. */
static int exchange(client *c, channel *ch, envelope_type t, const char *path, const char *pt,
                    json_t **answer)
{
    const char *type = t == ENVELOPE_CLOSE ? "CLOSE" : "DATA_REQUEST";
    const char *atype = t == ENVELOPE_CLOSE ? "CLOSE" : "DATA_RESPONSE";
    uint8_t *ct = NULL, *apt = NULL, *act = NULL;
    size_t ct_len = 0, apt_len = 0, act_len = 0;
    char *b64 = NULL, *body = NULL, auth[TOKEN_MAX_LEN + 32];
    http_response res = {0};
    json_t *env = NULL;
    int rc = -1;
    uint64_t seq = ch->seq + 1;

    *answer = NULL;
    envelope_status es = envelope_seal(ch->tx, t, seq, (const uint8_t *)pt, strlen(pt), &ct, &ct_len);
    if (es != ENVELOPE_OK) {
        errorf(type, "cannot seal: %s", envelope_status_str(es));
        return -1;
    }
    ch->seq = seq; /* used, whatever happens next: a seq is never sealed twice */
    wire_out("%s seq %llu epoch %u: %zu bytes of plaintext, %zu of ciphertext", type,
             (unsigned long long)seq, envelope_epoch(ENVELOPE_C2S, seq, ch->rotate_every), strlen(pt),
             ct_len);
    if (narrate_is_verbose())
        note("plaintext (sealed, never on the wire): %s", pt);
    b64 = b64url_encode(ct, ct_len, B64_NO_PAD);
    json_t *j = b64 ? json_pack("{s:s, s:s, s:I, s:s}", "type", type, "session", ch->session, "seq",
                                (json_int_t)seq, "ct", b64)
                    : NULL;
    body = j ? json_compact(j) : NULL;
    json_decref(j);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", ch->token);
    const char *headers[] = {auth, NULL};
    http_session_request r = {.method = "POST", .path = path, .content_type = "application/json",
                              .headers = headers, .body = body, .body_len = body ? strlen(body) : 0};
    if (!body)
        goto out;
    if (http_session_do(ch->http, &r, &res) != 0) {
        client_transport_error(c, type, &res);
        goto out;
    }
    if (res.status != 200) {
        say_refusal(type, &res);
        goto out;
    }
    env = json_parse(res.body, res.body_len, 4, NULL, 0);
    const char *ats = env ? json_get_str(env, "type") : NULL, *actb = env ? json_get_str(env, "ct") : NULL;
    json_t *aseq = env ? json_object_get(env, "seq") : NULL;
    if (!ats || strcmp(ats, atype) != 0 || !actb || !json_is_integer(aseq) ||
        b64url_decode(actb, strlen(actb), B64_NO_PAD, &act, &act_len) != 0) {
        errorf(atype, "the answer is not a %s envelope", atype);
        goto out;
    }
    es = envelope_open_answer(ch->rx, ch->tx, t == ENVELOPE_CLOSE ? ENVELOPE_CLOSE : ENVELOPE_DATA_RESPONSE,
                              (uint64_t)json_integer_value(aseq), act, act_len, &apt, &apt_len);
    if (es != ENVELOPE_OK) {
        errorf(atype, "refused: %s", envelope_status_str(es));
        goto out;
    }
    wire_in("%s seq %llu epoch %u: %zu bytes of ciphertext opened", atype,
            (unsigned long long)json_integer_value(aseq),
            envelope_epoch(ENVELOPE_S2C, (uint64_t)json_integer_value(aseq), ch->rotate_every), act_len);
    /* 20: an item list nests a 16-deep object or list three levels down (client_transfer.c) */
    if (!(*answer = json_parse((const char *)apt, apt_len, 20, NULL, 0))) {
        errorf(atype, "the answer's plaintext is not JSON");
        goto out;
    }
    if (narrate_is_verbose())
        note("answer (decrypted): %.*s", (int)apt_len, (const char *)apt);
    rc = 0;
out:
    OPENSSL_cleanse(auth, sizeof auth);
    if (apt)
        encoding_free_secret(apt, apt_len);
    free(act);
    free(ct);
    free(b64);
    free(body);
    json_decref(env);
    http_response_free(&res);
    return rc;
}

int channel_op(client *c, channel *ch, const char *op, const uint8_t msg_id[16], int64_t created_ms,
               const uint8_t *payload, size_t len, void **answer)
{
    char *pt = NULL;
    hello_status hs = signed_op_make(ch->key, ch->cert, c->host, op, msg_id, created_ms, payload, len, &pt);
    if (hs != HELLO_OK) {
        errorf(op, "cannot sign: %s", hello_status_str(hs));
        return -1;
    }
    int rc = exchange(c, ch, ENVELOPE_DATA_REQUEST, "/v1/data", pt, (json_t **)answer);
    encoding_free_secret(pt, strlen(pt));
    return rc;
}

int channel_send_signed(client *c, channel *ch, const char *pt, void **answer)
{
    return exchange(c, ch, ENVELOPE_DATA_REQUEST, "/v1/data", pt, (json_t **)answer);
}

int channel_close(client *c, channel *ch, const char *reason)
{
    json_t *a = NULL;
    json_t *why = json_pack("{s:s}", "reason", reason);
    char *pt = why ? json_compact(why) : NULL;
    json_decref(why);
    if (!pt)
        return -1;
    int rc = exchange(c, ch, ENVELOPE_CLOSE, "/v1/close", pt, &a);
    free(pt);
    if (rc == 0)
        result("CLOSE: session %s ended, its keys wiped on both sides, its token revoked", ch->session);
    json_decref(a);
    return rc;
}

void channel_free(channel *ch)
{
    envelope_dir_free(ch->tx);
    envelope_dir_free(ch->rx);
    envelope_dir_free(ch->ntf);
    token_free(ch->token);
    EVP_PKEY_free(ch->key);
    X509_free(ch->cert);
    http_session_free(ch->http);
    memset(ch, 0, sizeof *ch);
}

/* ---- a session kept for curl -------------------------------------------- */

int channel_save(client *c, channel *ch, const envelope_secrets *sec)
{
    char *c2s = b64url_encode(sec->c2s, sizeof sec->c2s, B64_NO_PAD);
    char *s2c = b64url_encode(sec->s2c, sizeof sec->s2c, B64_NO_PAD);
    json_t *j = c2s && s2c ? json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "session", ch->session, "token",
                                       ch->token, "c2s", c2s, "s2c", s2c, "rotate_every",
                                       (json_int_t)ch->rotate_every, "expires_at",
                                       (json_int_t)ch->expires_at)
                           : NULL;
    char *text = j ? json_compact(j) : NULL;
    int rc = text ? pki_write_file(c->session_file, text, strlen(text), 0600) : -1;
    if (c2s)
        encoding_free_secret(c2s, strlen(c2s));
    if (s2c)
        encoding_free_secret(s2c, strlen(s2c));
    if (text)
        encoding_free_secret(text, strlen(text));
    json_decref(j);
    if (rc)
        errorf("session", "cannot write %s", c->session_file);
    return rc;
}

int channel_load(client *c, channel *ch)
{
    size_t len = 0;
    char *text = cli_read_file(c->session_file, 4096, &len);
    json_t *j;
    uint8_t *c2s = NULL, *s2c = NULL;
    size_t n1 = 0, n2 = 0;
    int rc = -1;
    if (!text) {
        hint("`06-client token` opens a session and keeps it in %s", c->session_file);
        return -1;
    }
    /* used once: gone before anything is sent with it */
    unlink(c->session_file);
    j = json_parse(text, len, 4, NULL, 0);
    encoding_free_secret(text, len);
    const char *sid = j ? json_get_str(j, "session") : NULL, *tok = j ? json_get_str(j, "token") : NULL;
    const char *a = j ? json_get_str(j, "c2s") : NULL, *b = j ? json_get_str(j, "s2c") : NULL;
    json_t *rot = j ? json_object_get(j, "rotate_every") : NULL;
    if (!sid || !tok || !a || !b || !json_is_integer(rot) ||
        b64url_decode(a, strlen(a), B64_NO_PAD, &c2s, &n1) != 0 || n1 != 32 ||
        b64url_decode(b, strlen(b), B64_NO_PAD, &s2c, &n2) != 0 || n2 != 32) {
        errorf("session", "%s is not a saved session", c->session_file);
        goto out;
    }
    http_session_opts o = client_session_opts(c, 1);
    snprintf(ch->session, sizeof ch->session, "%s", sid);
    ch->token = strdup(tok);
    ch->rotate_every = (unsigned)json_integer_value(rot);
    ch->seq = 1;
    if (!ch->token || !(ch->key = pki_key_read(c->device_key, NULL)) ||
        !(ch->cert = pki_cert_read(c->device_crt)) || !(ch->http = http_session_new(&o)) ||
        envelope_dir_new(ENVELOPE_C2S, c2s, ch->rotate_every, ch->session, &ch->tx) != ENVELOPE_OK ||
        envelope_dir_new(ENVELOPE_S2C, s2c, ch->rotate_every, ch->session, &ch->rx) != ENVELOPE_OK) {
        errorf("session", "cannot resume the saved session");
        goto out;
    }
    rc = 0;
out:
    if (c2s)
        encoding_free_secret(c2s, n1);
    if (s2c)
        encoding_free_secret(s2c, n2);
    json_decref(j);
    return rc;
}

/* ---- the outbox --------------------------------------------------------- */

static int outbox_path(client *c, const uint8_t msg_id[16], char *out, size_t len)
{
    char *hex = hex_encode(msg_id, 16);
    int n = hex ? snprintf(out, len, "%s/%s.json", c->outbox, hex) : -1;
    free(hex);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int outbox_add(client *c, const uint8_t msg_id[16], int64_t created_ms, const char *json, size_t len)
{
    char path[640];
    if ((mkdir(c->outbox, 0700) != 0 && errno != EEXIST) || outbox_path(c, msg_id, path, sizeof path))
        return -1;
    char *id = b64url_encode(msg_id, 16, B64_NO_PAD), *pl = b64url_encode((const uint8_t *)json, len, B64_NO_PAD);
    json_t *j = id && pl ? json_pack("{s:s, s:I, s:s}", "msg_id", id, "created", (json_int_t)created_ms,
                                     "payload", pl)
                         : NULL;
    char *text = j ? json_compact(j) : NULL;
    /* pki_write_file fsyncs before the rename: the record is on disk before
     * the first byte of it is sent */
    int rc = text ? pki_write_file(path, text, strlen(text), 0600) : -1;
    free(id);
    free(pl);
    free(text);
    json_decref(j);
    return rc;
}

int outbox_remove(client *c, const uint8_t msg_id[16])
{
    char path[640];
    if (outbox_path(c, msg_id, path, sizeof path))
        return -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int outbox_flush(client *c, channel *ch, size_t *sent, size_t *left)
{
    DIR *d = opendir(c->outbox);
    struct dirent *e;
    *sent = *left = 0;
    if (!d)
        return errno == ENOENT ? 0 : -1;
    while ((e = readdir(d)) != NULL) {
        char path[640];
        size_t len = 0, n1 = 0, n2 = 0;
        uint8_t *id = NULL, *payload = NULL;
        if (strlen(e->d_name) != 37 || strcmp(e->d_name + 32, ".json") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", c->outbox, e->d_name);
        char *text = cli_read_file(path, 2 * 1024 * 1024, &len);
        json_t *j = text ? json_parse(text, len, 4, NULL, 0) : NULL;
        const char *ids = j ? json_get_str(j, "msg_id") : NULL, *pls = j ? json_get_str(j, "payload") : NULL;
        json_t *cr = j ? json_object_get(j, "created") : NULL;
        json_t *ans = NULL;
        if (ids && pls && json_is_integer(cr) &&
            b64url_decode(ids, strlen(ids), B64_NO_PAD, &id, &n1) == 0 && n1 == 16 &&
            b64url_decode(pls, strlen(pls), B64_NO_PAD, &payload, &n2) == 0 &&
            channel_op(c, ch, "record", id, json_integer_value(cr), payload, n2, (void **)&ans) == 0) {
            const char *status = json_get_str(ans, "status");
            /* the server has it (stored, duplicate or quarantined): done */
            if (status && (strcmp(status, "stored") == 0 || strcmp(status, "duplicate") == 0 ||
                           strcmp(status, "quarantined") == 0)) {
                outbox_remove(c, id);
                (*sent)++;
            } else {
                (*left)++;
            }
        } else {
            (*left)++;
        }
        json_decref(ans);
        json_decref(j);
        free(text);
        free(id);
        free(payload);
    }
    closedir(d);
    return 0;
}
