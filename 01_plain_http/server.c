/*
 * 01-server - chapter 01: a plain HTTP server. Everything it sends and
 * receives crosses the network as readable text.
 *
 * Routes:
 *   GET  /       the secret, "fluffy tail" (text/plain)
 *   GET  /page   a small HTML page with a login form, for a browser
 *   POST /login  the form's target (user=..&password=..): the password
 *                travels in the clear, which is the point of the lesson
 *   POST /echo   JSON in, JSON out: what was received plus the server time
 *
 * Needs: civetweb (built by `make` from Debian's source), jansson.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "webserver.h"

static const char USAGE[] =
    "usage: 01-server [--port N] [--host ADDR] [--max-body SIZE] [--quiet] [--verbose]\n"
    "\n"
    "Chapter 01: a plain HTTP server. Serves the secret on GET /, an HTML page on\n"
    "GET /page, a login form target on POST /login and a JSON echo on POST /echo.\n"
    "Nothing is encrypted: capture it with `make 01-capture` and read everything.\n"
    "\n"
    "  --port N         port to listen on (default 8001; 0 = any free port)\n"
    "  --host ADDR      address to listen on (default 127.0.0.1; ::1 for IPv6)\n"
    "  --max-body SIZE  largest request body accepted (default 1M; K/M suffixes)\n"
    "  -q, --quiet      print only the 'listening on URL' line and errors\n"
    "  -v, --verbose    also dump request and response bodies in hex\n"
    "  -h, --help       this text\n"
    "\n"
    "The first line on stdout is 'listening on URL'. Stop with Ctrl-C (exit 0).\n";

static const char SECRET[] = "fluffy tail";

static const char PAGE[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>Chapter 01: plain HTTP</title></head>\n"
    "<body><h1>Chapter 01: plain HTTP</h1>\n"
    "<p>This page travelled as plain text. Anyone on the path could read it, and change it.</p>\n"
    "<form method=\"post\" action=\"/login\">\n"
    "<label>User <input name=\"user\"></label>\n"
    "<label>Password <input name=\"password\" type=\"password\"></label>\n"
    "<button type=\"submit\">Log in (in the clear)</button>\n"
    "</form></body></html>\n";

static int get_secret(struct mg_connection *conn, void *arg)
{
    (void)arg;
    note("sending the secret in the clear");
    return web_reply_text(conn, 200, SECRET);
}

static int get_page(struct mg_connection *conn, void *arg)
{
    (void)arg;
    return web_reply(conn, 200, "text/html; charset=utf-8", PAGE, strlen(PAGE));
}

static int post_login(struct mg_connection *conn, void *arg)
{
    char *body, user[64], password[128];
    size_t len;
    int st;
    (void)arg;
    if ((st = web_read_body(conn, &body, &len)) != 0)
        return st;
    if (mg_get_var(body, len, "user", user, sizeof user) < 0 ||
        mg_get_var(body, len, "password", password, sizeof password) < 0) {
        free(body);
        return web_reply_error(conn, 400, "the form needs user and password fields");
    }
    free(body);
    /* The server saw the password; so did everybody on the path. */
    note("login form for '%s' arrived with its password in the clear", user);
    char reply[128];
    snprintf(reply, sizeof reply, "welcome, %s (your password crossed the network in the clear)\n",
             user);
    return web_reply_text(conn, 200, reply);
}

static int post_echo(struct mg_connection *conn, void *arg)
{
    json_t *in = NULL;
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    int st;
    (void)arg;
    if ((st = web_read_json(conn, &in)) != 0)
        return st;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return web_reply_json(conn, 200, json_pack("{s:o, s:s}", "received", in, "server_time", now));
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"max-body", required_argument, NULL, 'm'},
        CLI_COMMON_OPTIONS,
        {0},
    };
    static const web_route routes[] = {
        {"GET", "/", get_secret, NULL},
        {"GET", "/page", get_page, NULL},
        {"POST", "/login", post_login, NULL},
        {"POST", "/echo", post_echo, NULL},
        {0},
    };
    web_config cfg = web_config_defaults();
    int c;

    narrate_init("01-server", "server");
    cfg.port = 8001;
    cfg.routes = routes;
    while ((c = getopt_long(argc, argv, "p:H:m:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(c, USAGE))
            continue;
        switch (c) {
        case 'p':
            cfg.port = cli_port("--port", optarg);
            break;
        case 'H':
            cfg.host = optarg;
            break;
        case 'm':
            cfg.max_body = cli_size("--max-body", optarg, 1, 64 * 1024 * 1024);
            break;
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    return web_serve(&cfg);
}
