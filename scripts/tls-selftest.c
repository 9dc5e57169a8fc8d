/* SPDX-License-Identifier: MIT */
/*
 * tls-selftest - does this civetweb build really serve TLS? (used by `make doctor`)
 *
 * Starts a civetweb TLS listener on a free loopback port with the given PEM
 * (key + certificate), fetches / over HTTPS with libcurl trusting that
 * certificate, and prints the protocol and cipher agreed. This is the check
 * that catches Debian's OpenSSL 1.1 build of civetweb, whose TLS start-up
 * fails (or crashes on the first handshake) under OpenSSL 3.
 *
 * usage: tls-selftest KEY_AND_CERT.pem CERT.pem
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "net/httpclient.h"
#include "net/webserver.h"

static int hello(struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    return 200;
}

int main(int argc, char **argv)
{
    struct mg_context *ctx = NULL;
    struct mg_server_port port;
    char url[64];
    const char *opts[] = {"listening_ports", "127.0.0.1:0s", "ssl_certificate", NULL,
                          "num_threads", "2", NULL};
    http_request req = http_request_defaults();
    http_response res;
    int rc = EXIT_FAILED, curl_up = 0;

    narrate_init("tls-selftest", NULL);
    narrate_set_level(1, 0);
    if (argc != 3)
        cli_usage_error("tls-selftest KEY_AND_CERT.pem CERT.pem");
    opts[3] = argv[1];
    if ((mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS) == 0 ||
        !mg_check_feature(MG_FEATURES_TLS)) {
        errorf("civetweb", "mg_init_library(MG_FEATURES_TLS) did not enable TLS");
        mg_exit_library(); /* what mg_init_library set up, even in part */
        return EXIT_FAILED;
    }
    ctx = mg_start(NULL, NULL, opts);
    if (!ctx) {
        errorf("civetweb", "could not start a TLS listener");
        goto end;
    }
    mg_set_request_handler(ctx, "/", hello, NULL);
    if (mg_get_server_ports(ctx, 1, &port) < 1) {
        errorf("civetweb", "no listening port");
        goto end;
    }
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", port.port);
    http_client_init();
    curl_up = 1;
    req.url = url;
    req.cacert = argv[2];
    if (http_do(&req, &res) != 0) {
        errorf("TLS handshake with civetweb", "%s", res.error);
        goto end;
    }
    if (res.status == 200 && strcmp(res.body, "ok") == 0) {
        result("%s %s", res.tls_version, res.tls_cipher);
        rc = EXIT_OK;
    } else {
        errorf("HTTPS GET", "unexpected answer %ld", res.status);
    }
    http_response_free(&res);
end:
    if (curl_up)
        http_client_cleanup();
    if (ctx)
        mg_stop(ctx);
    mg_exit_library();
    return rc;
}
