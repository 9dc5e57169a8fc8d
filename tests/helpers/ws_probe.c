/* SPDX-License-Identifier: MIT */
/*
 * ws_probe.c - common/net/wsclient against any server, for
 * tests/interop/06_websocket.sh: it connects (TLS 1.3, the CA given, no
 * client certificate), prints each text message, and ends with one line
 * saying how the socket ended ("ws: closed: ..." or "ws: <status>: <why>").
 * A Python server that breaks RFC 6455 on purpose (06_ws_peer.py
 * fake-server) shows each of wsclient's checks refusing.
 *
 *     ws-probe HOST PORT CACERT [PATH]
 *
 * Exit 0 when the server closed with a close frame, 1 otherwise.
 */
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wsclient.h"

int main(int argc, char **argv)
{
    SSL_CTX *ctx;
    ws_client *w = NULL;
    ws_info info;
    ws_status st;
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: ws-probe HOST PORT CACERT [PATH]\n");
        return 2;
    }
    if (!(ctx = SSL_CTX_new(TLS_client_method())) || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1) {
        fprintf(stderr, "ws-probe: cannot set up TLS with %s\n", argv[3]);
        return 2;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(ctx), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    ws_client_opts o = {argv[1], atoi(argv[2]), argc == 5 ? argv[4] : "/", ctx, NULL, 0, 5000};
    st = ws_connect(&o, &w, &info);
    if (st != WS_OK) {
        printf("ws: %s: %s%s%s\n", ws_status_str(st), info.detail, info.body[0] ? ": " : "", info.body);
        SSL_CTX_free(ctx);
        return 1;
    }
    printf("ws: upgraded (Sec-WebSocket-Accept checked)\n");
    for (;;) {
        char *text;
        size_t len;
        st = ws_recv(w, 5000, &text, &len, &info);
        if (st != WS_OK)
            break;
        printf("message: %s\n", text);
        free(text);
    }
    fflush(stdout);
    int code = ws_close_code(w, NULL);
    printf("ws: %s: %s\n", st == WS_CLOSED && code ? "closed" : ws_status_str(st), info.detail);
    ws_close(w, 1000, "bye");
    SSL_CTX_free(ctx);
    return st == WS_CLOSED && code ? 0 : 1;
}
