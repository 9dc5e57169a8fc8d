/* SPDX-License-Identifier: MIT */
/*
 * 01-client - chapter 01: a plain HTTP client (libcurl).
 *
 * GETs the secret from 01-server and prints it; with --post it sends JSON to
 * /echo and prints the reply. The narration shows every request and response
 * line and header exactly as it crossed the network: so could anyone else.
 *
 * Needs: libcurl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "net/httpclient.h"

static const char ABOUT[] =
    "Chapter 01: a plain HTTP client. Fetches the secret from 01-server and prints\n"
    "'The secret message is: ...'. With --post, sends JSON to /echo instead.\n";
static const char OPTIONS_HELP[] =
    "  --post JSON      POST this JSON text to URL/echo and print the reply\n"
    "  --post-file F    the same with the body read from a file (at most 16M)\n";

static int get_secret(const char *base)
{
    http_request req = http_request_defaults();
    http_response res;
    char url[2048];

    if (http_url_join(url, sizeof url, base, "/"))
        cli_usage_error("--url is too long");
    req.url = url;
    step("GET %s over plain HTTP: every byte below is readable on the wire", url);
    if (http_do(&req, &res) != 0) {
        http_report_failure("GET /", &req, &res);
        return EXIT_FAILED;
    }
    if (res.status != 200) {
        errorf("GET /", "the server answered %ld: %s", res.status, res.body);
        http_response_free(&res);
        return EXIT_FAILED;
    }
    step("got %zu bytes of %s", res.body_len, res.content_type);
    result("The secret message is: %s", res.body);
    http_response_free(&res);
    return EXIT_OK;
}

static int post_echo(const char *base, const char *body, size_t len)
{
    http_request req = http_request_defaults();
    http_response res;
    char url[2048];
    int rc = EXIT_OK;

    if (http_url_join(url, sizeof url, base, "/echo"))
        cli_usage_error("--url is too long");
    req.method = "POST";
    req.url = url;
    req.body = body;
    req.body_len = len;
    req.content_type = "application/json";
    step("POST %s with %zu bytes of JSON, in the clear", url, len);
    if (http_do(&req, &res) != 0) {
        http_report_failure("POST /echo", &req, &res);
        return EXIT_FAILED;
    }
    if (res.status != 200) {
        /* the server explains itself in {"error": ...}; show its words */
        errorf("POST /echo", "the server answered %ld: %.*s", res.status,
               (int)strcspn(res.body, "\n"), res.body);
        rc = EXIT_FAILED;
    } else {
        step("the server echoed it back");
        result("%.*s", (int)strcspn(res.body, "\n"), res.body);
    }
    http_response_free(&res);
    return rc;
}

int main(int argc, char **argv)
{
    /* the only option 01 adds is the body to send (--post, --post-file) */
    const cli_program prog = {.synopsis = "[--post JSON | --post-file FILE] ",
                              .about = ABOUT,
                              .options_help = OPTIONS_HELP,
                              .body_option = "post"};
    cli_client cl = cli_client_defaults("http://127.0.0.1", COURSE_PORT(1));
    char *body = NULL;
    size_t len = 0;
    int rc, have;

    narrate_init("01-client", "client");
    cli_parse_client(argc, argv, &prog, &cl);

    http_client_init();
    if ((have = cli_client_body(&cl, &body, &len)) < 0)
        rc = EXIT_FAILED;
    else
        rc = have ? post_echo(cl.url, body, len) : get_secret(cl.url);
    encoding_free_secret(body, len);
    http_client_cleanup();
    return rc;
}
