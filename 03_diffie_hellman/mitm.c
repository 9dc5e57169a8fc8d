/* SPDX-License-Identifier: MIT */
/*
 * 03-mitm - chapter 03's active attacker: a man in the middle between
 * 03-client and 03-server.
 *
 * The client is pointed at us instead of the server (a rogue Wi-Fi, a
 * poisoned DNS answer or ARP cache does that in real life). When the client
 * sends its key-exchange offer, we run one exchange with the client, as if we
 * were the server, and another with the real server, as if we were the
 * client. Each side agrees a perfectly good key... with us. Then we decrypt
 * everything, read it, change it, and encrypt it again for the other side.
 * Neither side can notice: nothing in chapter 03 says whose public value it
 * got. Chapter 04 fixes exactly that, by signing the public values.
 *
 * Routes (the server's, so the client cannot tell):
 *   POST /kex      two exchanges: with the client and with the upstream server
 *   GET  /         fetch the secret upstream, read it, re-encrypt it for the client
 *   POST /message  read the client's message, replace it with --rewrite, forward;
 *                  forge the reply so the client sees its own words echoed
 *
 * Needs: civetweb, libcurl, OpenSSL.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "kex/exchange.h"
#include "kex_flow.h"
#include "fernet/fernet.h"
#include "net/httpclient.h"
#include "kex/sessions.h"
#include "net/webserver.h"

static const char ABOUT[] =
    "Chapter 03's man in the middle. Point 03-client at it (--url) and it runs one\n"
    "key exchange with the client and another with the real server at URL, reads the\n"
    "secret in transit, and replaces any message sent to /message by TEXT, without\n"
    "either side noticing. For the lab only: run it against your own 03-server.\n";
static const char OPTIONS_HELP[] =
    "  --upstream URL   the real 03-server (e.g. http://127.0.0.1:8003); required\n"
    "  --rewrite TEXT   what the server receives instead of the client's message\n"
    "                   (default: \"send the money to mallory\")\n";

/* Not a chapter's port: it sits beside 03-server (8003) on 8013. */
#define MITM_PORT (COURSE_PORT(3) + 10)

#define TTL_SECONDS 60

/* What we keep per victim: two keys, one per side, and the server's session. */
typedef struct mitm_session {
    uint8_t client_key[EXCHANGE_KEY_LEN]; /* the client thinks it shares this with the server */
    uint8_t server_key[EXCHANGE_KEY_LEN]; /* the server thinks it shares this with the client */
    char upstream_id[64];
} mitm_session;

static const char *g_upstream;
static const char *g_rewrite = "send the money to mallory";
static sessions *g_sessions;

static void show_key(const char *label, const uint8_t *key)
{
    char *h = hex_encode(key, EXCHANGE_KEY_LEN);
    step("%s: %s", label, h ? h : "?");
    encoding_free_secret(h, h ? strlen(h) : 0);
}

/* POST /kex: both halves of the exchange, one per side. To the real server we
 * are a client (kex_flow_client() in kex_flow.c, as 03-client runs it); to the
 * client we are the server (exchange_answer(), as post_kex() in server.c runs
 * it). Neither side checks whose public value it got, so both are content. */
static int post_kex(struct mg_connection *conn, void *arg)
{
    json_t *in = NULL, *out = NULL;
    exchange_offer offer;
    exchange ex;
    mitm_session s;
    char err[256], id[SESSIONS_ID_SIZE];
    int st;
    (void)arg;
    memset(&s, 0, sizeof s);
    if ((st = web_read_json(conn, &in)) != 0)
        return st;
    if (exchange_offer_parse(in, &offer, err, sizeof err) != 0) {
        json_decref(in);
        return web_reply_error(conn, 400, "key exchange refused: %s", err);
    }
    step("the client offers a key exchange in group %s, meant for the server; we answer it",
         kex_group_name(offer.group));
    step("first, our own exchange with the real server, posing as the client");
    if (kex_flow_client(g_upstream, offer.group, EXCHANGE_INFO_03, NULL, s.server_key, s.upstream_id,
                             sizeof s.upstream_id) != 0) {
        json_decref(in);
        return web_reply_error(conn, 502, "upstream key exchange failed");
    }
    step("now the exchange with the client, posing as the server: our public value, not the "
         "server's");
    st = exchange_answer(&ex, in, EXCHANGE_INFO_03, s.client_key, err, sizeof err);
    json_decref(in);
    if (st != 0) {
        exchange_clear(&ex);
        OPENSSL_cleanse(&s, sizeof s);
        return web_reply_error(conn, 400, "key exchange refused: %s", err);
    }
    exchange_narrate_offer("our fake", &ex.mine);
    show_key("key shared with the client (it believes: with the server)", s.client_key);
    show_key("key shared with the server (it believes: with the client)", s.server_key);
    if (sessions_put(g_sessions, &s, id) != 0 || !(out = exchange_offer_json(&ex.mine)) ||
        json_object_set_new(out, "session", json_string(id)) != 0) {
        json_decref(out);
        out = NULL;
    }
    OPENSSL_cleanse(&s, sizeof s);
    exchange_clear(&ex);
    if (!out)
        return web_reply_error(conn, 500, "could not store the session");
    return web_reply_json(conn, 200, out);
}

/* The victim's session from its header, with both keys ready; or a 401. */
static int victim(struct mg_connection *conn, mitm_session *s, fernet_key *ck, fernet_key *sk)
{
    if (sessions_get(g_sessions, web_header(conn, EXCHANGE_SESSION_HEADER), s) != 0)
        return web_reply_error(conn, 401, "no such session: POST /kex first");
    fernet_key_from_raw(ck, s->client_key);
    fernet_key_from_raw(sk, s->server_key);
    return 0;
}

/* One request to the real server under its session; 0 when it answered 200. */
static int upstream(const char *method, const char *path, const mitm_session *s, const char *body,
                    http_response *res)
{
    http_request req = http_request_defaults();
    char url[2048], header[128];
    const char *headers[] = {header, NULL};
    if (http_url_join(url, sizeof url, g_upstream, path))
        return -1;
    snprintf(header, sizeof header, "%s: %s", EXCHANGE_SESSION_HEADER, s->upstream_id);
    req.method = method;
    req.url = url;
    req.headers = headers;
    if (body) {
        req.body = body;
        req.body_len = strlen(body);
        req.content_type = "text/plain";
    }
    if (http_do(&req, res) != 0) {
        http_report_failure(path, &req, res);
        return -1;
    }
    if (res->status != 200) {
        errorf(path, "the server answered %ld", res->status);
        http_response_free(res);
        return -1;
    }
    return 0;
}

static uint8_t *open_token(const fernet_key *k, const char *token, size_t *len)
{
    uint8_t *msg = NULL;
    fernet_status fs = fernet_decrypt(k, token, strcspn(token, "\r\n"), TTL_SECONDS,
                                      (uint64_t)time(NULL), &msg, len);
    if (fs != FERNET_OK)
        errorf("decrypt", "%s", fernet_status_str(fs));
    return msg;
}

/* Encrypt text for one side and send it as the reply. */
static int reply_sealed(struct mg_connection *conn, const fernet_key *k, const char *text)
{
    char *token = fernet_encrypt(k, (const uint8_t *)text, strlen(text), (uint64_t)time(NULL), NULL);
    int st;
    if (!token)
        return web_reply_error(conn, 500, "could not encrypt");
    st = web_reply_text(conn, 200, token);
    free(token);
    return st;
}

static int get_secret(struct mg_connection *conn, void *arg)
{
    mitm_session s;
    fernet_key ck, sk;
    http_response res;
    uint8_t *msg = NULL;
    size_t len = 0;
    int st;
    (void)arg;
    if ((st = victim(conn, &s, &ck, &sk)) != 0)
        return st;
    step("the client asks for the secret; we fetch it from the server with our server-side key");
    if (upstream("GET", "/", &s, NULL, &res) != 0) {
        st = web_reply_error(conn, 502, "upstream failed");
        goto end;
    }
    msg = open_token(&sk, res.body, &len);
    http_response_free(&res);
    if (!msg) {
        st = web_reply_error(conn, 502, "upstream token refused");
        goto end;
    }
    step("STOLEN: the secret in transit is \"%s\"", (const char *)msg);
    step("re-encrypting it with the client's key, so the client sees nothing wrong");
    st = reply_sealed(conn, &ck, (const char *)msg);
end:
    if (msg)
        encoding_free_secret(msg, len);
    fernet_key_clear(&ck);
    fernet_key_clear(&sk);
    OPENSSL_cleanse(&s, sizeof s);
    return st;
}

static int post_message(struct mg_connection *conn, void *arg)
{
    mitm_session s;
    fernet_key ck, sk;
    http_response res;
    char *body = NULL, *token = NULL, forged[512];
    uint8_t *msg = NULL, *answer = NULL;
    size_t len = 0, msg_len = 0, answer_len = 0;
    int st;
    (void)arg;
    if ((st = victim(conn, &s, &ck, &sk)) != 0)
        return st;
    if ((st = web_read_body(conn, &body, &len)) != 0)
        goto end;
    if (!(msg = open_token(&ck, body, &msg_len))) {
        st = web_reply_error(conn, 400, "invalid token");
        goto end;
    }
    step("READ: the client's message in transit is \"%.*s\"", (int)(msg_len > 200 ? 200 : msg_len),
         (const char *)msg);
    step("CHANGED: the server will receive \"%s\" instead, under the server's key", g_rewrite);
    token = fernet_encrypt(&sk, (const uint8_t *)g_rewrite, strlen(g_rewrite), (uint64_t)time(NULL),
                           NULL);
    if (!token || upstream("POST", "/message", &s, token, &res) != 0) {
        st = web_reply_error(conn, 502, "upstream failed");
        goto end;
    }
    answer = open_token(&sk, res.body, &answer_len);
    http_response_free(&res);
    if (answer)
        step("the server answered \"%s\": the client must not see that", (const char *)answer);
    /* We know the server's reply format (its source is public, and we have
     * seen enough replies): forge the one it would give to the original. */
    snprintf(forged, sizeof forged, "the server read %zu bytes: %.*s", msg_len,
             (int)(msg_len > 200 ? 200 : msg_len), (const char *)msg);
    step("FORGED: the client gets \"%s\", sealed with the client's key", forged);
    st = reply_sealed(conn, &ck, forged);
    OPENSSL_cleanse(forged, sizeof forged);
end:
    free(body);
    free(token);
    if (msg)
        encoding_free_secret(msg, msg_len);
    if (answer)
        encoding_free_secret(answer, answer_len);
    fernet_key_clear(&ck);
    fernet_key_clear(&sk);
    OPENSSL_cleanse(&s, sizeof s);
    return st;
}

/* The attacker's own options; --port and the rest come from core/cli. */
static int option(int c, const char *arg, void *ctx)
{
    (void)ctx;
    switch (c) {
    case 'u':
        g_upstream = arg;
        return 1;
    case 'r':
        if (strlen(arg) == 0 || strlen(arg) > 200)
            cli_usage_error("--rewrite: 1 to 200 characters");
        g_rewrite = arg;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option own[] = {
        {"upstream", required_argument, NULL, 'u'},
        {"rewrite", required_argument, NULL, 'r'},
        {0},
    };
    static const web_route routes[] = {
        {"POST", "/kex", post_kex, NULL},
        {"GET", "/", get_secret, NULL},
        {"POST", "/message", post_message, NULL},
        {0},
    };
    const cli_program prog = {.synopsis = "--upstream URL [--rewrite TEXT] ",
                              .about = ABOUT,
                              .options_help = OPTIONS_HELP,
                              .options = own,
                              .short_options = "u:r:",
                              .option = option};
    cli_server srv = cli_server_defaults(MITM_PORT);
    web_config cfg;
    int rc;

    narrate_init("03-mitm", "mitm");
    cli_parse_server(argc, argv, &prog, &srv);
    if (!g_upstream)
        cli_usage_error("--upstream URL is required: the real server to sit in front of");
    cfg = web_config_for(&srv);
    cfg.routes = routes;
    if (!(g_sessions = sessions_new(256, 600, sizeof(mitm_session)))) {
        errorf("start", "out of memory");
        return EXIT_FAILED;
    }
    http_client_init();
    rc = web_serve(&cfg);
    http_client_cleanup();
    sessions_free(g_sessions);
    return rc;
}
