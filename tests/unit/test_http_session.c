/* SPDX-License-Identifier: MIT */
/* Unit tests for the parts of chapter 06's channel binding in common/net that
 * need no TLS peer: what an http_session says before and without a
 * connection, and web_serve refusing a TLS server with no certificate (the
 * handshake watcher's init_ssl hook would otherwise hide civetweb's own
 * refusal). The TLS behaviour itself is tested against openssl s_client in
 * tests/interop/06_exporter.sh. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cli.h"
#include "core/narrate.h"
#include "net/httpclient.h"
#include "net/webserver.h"

/* A loopback port nobody listens on: bound, then closed. */
static int closed_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    assert_true(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int g_body_calls;
static int count_body(const uint8_t exporter[32], void *arg, char **body, size_t *len)
{
    (void)exporter;
    (void)arg;
    g_body_calls++;
    *body = NULL;
    *len = 0;
    return -1;
}

static void a_new_session_knows_no_connection(void **state)
{
    http_session_opts o = {.base_url = "https://localhost:1"};
    http_session *s = http_session_new(&o);
    uint8_t cb[32];
    (void)state;
    assert_non_null(s);
    memset(cb, 0xAA, sizeof cb);
    assert_int_equal(http_session_exporter(s, cb), -1);
    for (size_t i = 0; i < sizeof cb; i++)
        assert_int_equal(cb[i], 0); /* zeroed, not left as it was */
    assert_null(http_session_server_cert(s));
    http_session_free(s);
    http_session_free(NULL); /* as free(NULL) */
}

static void a_refused_connection_is_a_transport_failure_and_builds_no_body(void **state)
{
    char url[64];
    http_session_opts o = {.base_url = url, .connect_timeout_ms = 2000, .timeout_ms = 3000};
    http_session_request r = {.method = "POST", .path = "/bound", .body_fn = count_body};
    http_response res;
    http_session *s;
    uint8_t cb[32];
    (void)state;
    snprintf(url, sizeof url, "https://127.0.0.1:%d", closed_port());
    s = http_session_new(&o);
    assert_non_null(s);
    g_body_calls = 0;
    assert_int_equal(http_session_do(s, &r, &res), -1);
    assert_int_equal(res.code, CURLE_COULDNT_CONNECT);
    assert_true(res.error[0] != '\0');
    assert_null(res.body);
    assert_int_equal(g_body_calls, 0);
    assert_int_equal(http_session_exporter(s, cb), -1);
    http_session_free(s);
}

static void a_path_too_long_for_the_url_is_refused(void **state)
{
    static char path[5000];
    http_session_opts o = {.base_url = "https://localhost:1"};
    http_session_request r = {.method = "GET", .path = path};
    http_response res;
    http_session *s = http_session_new(&o);
    (void)state;
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    assert_int_equal(http_session_do(s, &r, &res), -1);
    assert_int_equal(res.code, CURLE_URL_MALFORMAT);
    assert_non_null(strstr(res.error, "too long"));
    http_session_free(s);
}

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

static int hello(struct mg_connection *conn, void *arg)
{
    (void)arg;
    return web_reply_text(conn, 200, "hello\n");
}

static void a_tls_server_without_a_certificate_refuses_to_start(void **state)
{
    static const web_route routes[] = {{"GET", "/", hello, NULL}, {0}};
    web_config cfg = web_config_defaults();
    pthread_t t;
    sigset_t set;
    int rc;
    (void)state;
    cfg.routes = routes;
    cfg.tls = 1; /* and neither ssl_certificate nor init_ssl */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    g_returned = 0;
    assert_int_equal(pthread_create(&t, NULL, stop_later, NULL), 0);
    rc = web_serve(&cfg);
    g_returned = 1;
    pthread_join(t, NULL);
    assert_int_equal(rc, EXIT_FAILED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_new_session_knows_no_connection),
        cmocka_unit_test(a_refused_connection_is_a_transport_failure_and_builds_no_body),
        cmocka_unit_test(a_path_too_long_for_the_url_is_refused),
        cmocka_unit_test(a_tls_server_without_a_certificate_refuses_to_start),
    };
    narrate_init("test_http_session", NULL);
    narrate_set_level(1, 0);
    http_client_init();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    http_client_cleanup();
    return rc;
}
