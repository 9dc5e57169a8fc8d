/* SPDX-License-Identifier: MIT */
/*
 * 04-client - chapter 04: chapter 03's client, plus a trusted root.
 *
 * First agrees a key with 04-server over the open wire as in chapter 03, but
 * uses the server's public value only after checking the certificate chain
 * that came with it (up to the root in --ca, which it already holds), the
 * name in it, and the server's signature over everything both sides sent
 * (common/pki/signedkex.h). Through 03-mitm, that check fails and it stops.
 * With --enrol it asks 04-server's CA for a client certificate instead
 * (enrol_client.c). Otherwise chapter 03 as before: GETs the secret as a Fernet
 * token and decrypts it; with --send it encrypts a message, POSTs the token to
 * /message and decrypts the reply. The narration shows what crosses the wire
 * (public values, nonces, tokens) and what never does (private values, the
 * shared secret, the key).
 *
 * Needs: libcurl, OpenSSL, the course root (`make pki`: build/pki/root.crt).
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "enrol.h"
#include "kex/exchange.h"
#include "fernet/fernet.h"
#include "net/httpclient.h"
#include "pki/pki.h"
#include "pki/signedkex.h"
#include "signedkex_flow.h"

static const char ABOUT[] =
    "Chapter 04: chapter 03's client that checks who it is talking to. Runs the\n"
    "Diffie-Hellman exchange with 04-server (POST /kex) and, before using the server's\n"
    "public value, verifies its certificate chain up to --ca, the host name of --url in\n"
    "it, and the signature over the whole exchange. Then fetches the secret's token and\n"
    "prints 'The secret message is: ...'. Through 03-mitm it refuses.\n"
    "With --enrol [--code-file F] [--cn NAME] [--out-dir DIR], makes a key and CSR and\n"
    "asks the server's CA for a client certificate instead.\n";
static const char OPTIONS_HELP[] =
    "  --ca FILE        the root to trust (default build/pki/root.crt): a copy you got\n"
    "                   safely, never one fetched over this connection\n"
    "  --enrol          get a client certificate: key + CSR, POST /enrol, save, verify\n"
    "  --code-file F    the one-time enrolment code (first line); else $ENROL_CODE\n"
    "  --cn NAME        the name to ask for (default course-client)\n"
    "  --out-dir DIR    where to save client.key, client.crt (default build/04-client)\n"
    "  --group G        x25519 (default), p256, ffdhe2048, modp2048, or toy (p = 23:\n"
    "                   breakable by hand, to teach)\n"
    "  --send TEXT      encrypt TEXT, POST the token to URL/message, decrypt the reply\n"
    "  --send-file F    the same with the message read from a file (at most 16M)\n";
static const char EPILOGUE[] =
    "With --verbose the agreed session key is printed too (it never crosses the wire).\n"
    "\n"
    "Exit status: 0 success, 1 the key exchange or a request failed (the server's\n"
    "certificate or signature did not check out), the server said no or a token was\n"
    "refused, 2 usage.\n";

/* The options of chapters 03 and 04; --url and the rest come from core/cli. */
typedef struct options {
    kex_group group;
    const char *ca, *code_file, *cn, *out_dir;
    int enrol;
} options;

static int option(int c, const char *arg, void *ctx)
{
    options *o = ctx;
    switch (c) {
    case 'g':
        if (kex_group_from_name(arg, &o->group) != 0)
            cli_usage_error("--group: '%s' is not one of x25519, p256, ffdhe2048, modp2048, toy",
                            arg);
        return 1;
    case 'A':
        o->ca = arg;
        return 1;
    case 'E':
        o->enrol = 1;
        return 1;
    case 'c':
        o->code_file = arg;
        return 1;
    case 'n':
        o->cn = arg;
        return 1;
    case 'o':
        o->out_dir = arg;
        return 1;
    }
    return 0;
}

/* Tokens older than this are refused: a recorded token replays only so long. */
#define TTL_SECONDS 60

/* Agreed with the server in main, before any other request. */
static fernet_key g_key;
static char g_session_header[128];

/* Check and decrypt a token from the server. On failure: one error line that
 * names the check that failed, and a hint. */
static uint8_t *open_token(const char *what, const char *token, size_t *msg_len)
{
    uint8_t *msg = NULL;
    fernet_status st;

    step("checking the token's HMAC with our key, then decrypting it (AES-128-CBC)");
    st = fernet_decrypt(&g_key, token, strcspn(token, "\r\n"), TTL_SECONDS, (uint64_t)time(NULL),
                        &msg, msg_len);
    if (st == FERNET_BAD_MAC) {
        errorf(what, "%s: the token was not made with our key, or was changed on the way",
               fernet_status_str(st));
        hint("the key agreed in the exchange did not make this token: someone on the path may "
             "hold a different key (see 03-mitm)");
    } else if (st != FERNET_OK) {
        errorf(what, "the token was refused: %s", fernet_status_str(st));
        if (st == FERNET_EXPIRED || st == FERNET_FROM_FUTURE)
            hint("tokens live %d s: check that both machines' clocks are right", TTL_SECONDS);
    }
    return msg;
}

static int get_secret(const char *base)
{
    http_request req = http_request_defaults();
    http_response res;
    char url[2048];
    uint8_t *msg;
    size_t msg_len = 0;

    const char *headers[] = {g_session_header, NULL};

    if (http_url_join(url, sizeof url, base, "/"))
        cli_usage_error("--url is too long");
    req.url = url;
    req.headers = headers;
    step("GET %s over plain HTTP: the body will be a Fernet token", url);
    if (http_do(&req, &res) != 0) {
        http_report_failure("GET /", &req, &res);
        return EXIT_FAILED;
    }
    if (res.status != 200) {
        errorf("GET /", "the server answered %ld: %s", res.status, res.body);
        http_response_free(&res);
        return EXIT_FAILED;
    }
    step("got a %zu-byte Fernet token: without the key it is noise", res.body_len);
    msg = open_token("decrypt the secret", res.body, &msg_len);
    http_response_free(&res);
    if (!msg)
        return EXIT_FAILED;
    result("The secret message is: %s", (const char *)msg);
    encoding_free_secret(msg, msg_len);
    return EXIT_OK;
}

static int post_message(const char *base, const char *body, size_t len)
{
    http_request req = http_request_defaults();
    http_response res;
    char url[2048], *token;
    uint8_t *msg;
    size_t msg_len = 0;
    int rc = EXIT_OK;
    const char *headers[] = {g_session_header, NULL};

    if (http_url_join(url, sizeof url, base, "/message"))
        cli_usage_error("--url is too long");
    step("encrypting %zu bytes with the agreed key (fresh random IV, time stamped)", len);
    if ((token = fernet_encrypt(&g_key, (const uint8_t *)body, len, (uint64_t)time(NULL),
                                NULL)) == NULL) {
        errorf("encrypt", "out of memory");
        return EXIT_FAILED;
    }
    req.method = "POST";
    req.url = url;
    req.body = token;
    req.body_len = strlen(token);
    req.content_type = "text/plain";
    req.headers = headers;
    step("POST %s with a %zu-byte Fernet token", url, req.body_len);
    if (http_do(&req, &res) != 0) {
        http_report_failure("POST /message", &req, &res);
        free(token);
        return EXIT_FAILED;
    }
    free(token);
    if (res.status != 200) {
        /* the server explains itself in {"error": ...}; show its words */
        errorf("POST /message", "the server answered %ld: %.*s", res.status,
               (int)strcspn(res.body, "\n"), res.body);
        if (res.status == 400)
            hint("the server refuses tokens made with another key; its log says which check "
                 "failed");
        rc = EXIT_FAILED;
    } else if ((msg = open_token("decrypt the reply", res.body, &msg_len)) == NULL) {
        rc = EXIT_FAILED;
    } else {
        step("the server answered with a token of its own");
        result("%s", (const char *)msg);
        encoding_free_secret(msg, msg_len);
    }
    http_response_free(&res);
    return rc;
}

/* The enrolment code: first line of a file, else $ENROL_CODE (never argv,
 * where other users of the machine could read it in the process list). */
static int read_code(const char *file, char *code, size_t len)
{
    const char *env = getenv("ENROL_CODE");
    if (file) {
        size_t n = 0;
        char *text = cli_read_file(file, 4096, &n);
        if (!text)
            return -1;
        text[strcspn(text, "\r\n")] = '\0';
        snprintf(code, len, "%s", text);
        encoding_free_secret(text, n);
    } else if (env) {
        snprintf(code, len, "%s", env);
    }
    if (!*code) {
        errorf("enrol", "no enrolment code");
        hint("give --code-file FILE or set ENROL_CODE (the server's operator hands it out)");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option own[] = {
        {"group", required_argument, NULL, 'g'},
        {"ca", required_argument, NULL, 'A'},
        {"enrol", no_argument, NULL, 'E'},
        {"code-file", required_argument, NULL, 'c'},
        {"cn", required_argument, NULL, 'n'},
        {"out-dir", required_argument, NULL, 'o'},
        {0},
    };
    options o = {.group = KEX_X25519,
                 .ca = "build/pki/root.crt",
                 .cn = "course-client",
                 .out_dir = "build/04-client"};
    const cli_program prog = {
        .synopsis = "[--ca FILE] [--group G] [--send TEXT | --send-file FILE] [--enrol]\n"
                    "                 ",
        .about = ABOUT,
        .options_help = OPTIONS_HELP,
        .epilogue = EPILOGUE,
        .options = own,
        .short_options = "g:A:Ec:n:o:",
        .body_option = "send",
        .option = option,
        .ctx = &o};
    cli_client cl = cli_client_defaults("http://127.0.0.1", COURSE_PORT(4));
    STACK_OF(X509) *trusted = NULL;
    uint8_t raw[EXCHANGE_KEY_LEN];
    char session[64];
    char *body = NULL;
    size_t len = 0;
    int rc, have;

    narrate_init("04-client", "client");
    cli_parse_client(argc, argv, &prog, &cl);
    if (o.enrol && (cl.body || cl.body_file))
        cli_usage_error("--enrol does not go with --send");

    http_client_init();
    if (o.enrol) {
        char code[256] = "";
        rc = read_code(o.code_file, code, sizeof code)
                 ? EXIT_FAILED
                 : enrol_client(cl.url, code, o.cn, o.out_dir, o.ca);
        OPENSSL_cleanse(code, sizeof code);
        http_client_cleanup();
        return rc;
    }
    /* the root we trust comes from a file we already hold, not from the wire */
    if (!(trusted = pki_certs_read(o.ca))) {
        errorf("--ca", "%s", pki_last_error());
        hint("run 'make pki' (it makes build/pki/root.crt), or give --ca FILE");
        http_client_cleanup();
        return EXIT_FAILED;
    }
    /* the one new idea: use the server's public value only once its certificate
     * and signature check out (signedkex_flow.c: chapter 03's kex_flow.c plus
     * that check; the server signs in post_kex in server.c) */
    rc = signedkex_flow_client(cl.url, o.group, SIGNEDKEX_INFO_04, trusted, raw, session,
                               sizeof session);
    sk_X509_pop_free(trusted, X509_free);
    if (rc != 0) {
        http_client_cleanup();
        return EXIT_FAILED;
    }
    fernet_key_from_raw(&g_key, raw);
    OPENSSL_cleanse(raw, sizeof raw);
    snprintf(g_session_header, sizeof g_session_header, "%s: %s", EXCHANGE_SESSION_HEADER, session);
    if ((have = cli_client_body(&cl, &body, &len)) < 0)
        rc = EXIT_FAILED;
    else
        rc = have ? post_message(cl.url, body, len) : get_secret(cl.url);
    encoding_free_secret(body, len);
    http_client_cleanup();
    fernet_key_clear(&g_key);
    return rc;
}
