/* SPDX-License-Identifier: MIT */
/* Unit tests for common/net/webserver.c: what web_serve refuses before it
 * starts anything. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cli.h"
#include "net/webserver.h"

static int hello(struct mg_connection *conn, void *arg)
{
    (void)arg;
    return web_reply_text(conn, 200, "hello\n");
}

static const web_route routes[] = {{"GET", "/", hello, NULL}, {0}};

/* A server that started after all (the defect) would wait for a signal for
 * ever: stop it after 5 s with SIGTERM, so the test fails instead of hanging. */
static volatile int g_returned;
static void *stop_later(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50 && !g_returned; i++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    if (!g_returned)
        kill(getpid(), SIGTERM);
    return NULL;
}

static int serve_guarded(const web_config *cfg)
{
    pthread_t t;
    sigset_t set;
    int rc;
    /* block SIGTERM here too: web_serve's sigwait takes it if it started */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    g_returned = 0;
    assert_int_equal(pthread_create(&t, NULL, stop_later, NULL), 0);
    rc = web_serve(cfg);
    g_returned = 1;
    pthread_join(t, NULL);
    return rc;
}

static void too_many_civetweb_options_refuse_the_start(void **state)
{
    /* every civetweb option it can take at its default value (civetweb
     * refuses a name given twice): more than the table holds; a dropped one
     * could be a security setting (ciphers, client certificates) */
    static const char *own[] = {"listening_ports", "num_threads",  "request_timeout_ms",
                                "enable_keep_alive", "decode_url", "connection_queue"};
    static const char *opts[81];
    const struct mg_option *o = mg_get_valid_options();
    web_config cfg = web_config_defaults();
    int n = 0;
    (void)state;
    /* options without a default that are harmless empty on a server with
     * no document root */
    static const char *empty_ok[] = {"cgi_environment", "cgi_interpreter", "cgi_interpreter_args",
                                     "cgi2_pattern", "cgi2_environment", "cgi2_interpreter",
                                     "cgi2_interpreter_args", "protect_uri", "extra_mime_types",
                                     "hide_files_patterns", "url_rewrite_patterns"};
    for (; o->name && n < 80; o++) {
        const char *value = o->default_value;
        int taken = 0;
        for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
            taken |= strcmp(o->name, own[i]) == 0;
        for (size_t i = 0; !value && i < sizeof empty_ok / sizeof empty_ok[0]; i++)
            if (strcmp(o->name, empty_ok[i]) == 0)
                value = "";
        if (taken || !value)
            continue;
        opts[n++] = o->name;
        opts[n++] = value;
    }
    assert_true(n / 2 > 27); /* more pairs than fit beside web_serve's own */
    opts[n] = NULL;
    cfg.port = 0;
    cfg.routes = routes;
    cfg.civetweb_options = opts;
    assert_int_equal(serve_guarded(&cfg), EXIT_FAILED);
}

static void a_civetweb_option_without_value_refuses_the_start(void **state)
{
    /* a NULL value would end civetweb's list early and drop what follows */
    static const char *opts[] = {"ssl_protocol_version", NULL, NULL};
    web_config cfg = web_config_defaults();
    (void)state;
    cfg.port = 0;
    cfg.routes = routes;
    cfg.civetweb_options = opts;
    assert_int_equal(serve_guarded(&cfg), EXIT_FAILED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(too_many_civetweb_options_refuse_the_start),
        cmocka_unit_test(a_civetweb_option_without_value_refuses_the_start),
    };
    narrate_init("test_web", NULL);
    narrate_set_level(1, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
