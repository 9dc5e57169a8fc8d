/* SPDX-License-Identifier: MIT */
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

#include "core/cli.h"
#include "net/webserver.h"

static const char ABOUT[] =
    "Chapter 01: a plain HTTP server. Serves the secret on GET /, an HTML page on\n"
    "GET /page, a login form target on POST /login and a JSON echo on POST /echo.\n"
    "Nothing is encrypted: capture it with `make 01-capture` and read everything.\n";

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
    static const web_route routes[] = {
        {"GET", "/", get_secret, NULL},
        {"GET", "/page", get_page, NULL},
        {"POST", "/login", post_login, NULL},
        {"POST", "/echo", post_echo, NULL},
        {0},
    };
    const cli_program prog = {.about = ABOUT};
    cli_server srv = cli_server_defaults(COURSE_PORT(1));
    web_config cfg;

    narrate_init("01-server", "server");
    cli_parse_server(argc, argv, &prog, &srv);
    cfg = web_config_for(&srv);
    cfg.routes = routes;
    return web_serve(&cfg);
}
