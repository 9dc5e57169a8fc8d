/* SPDX-License-Identifier: MIT */
/*
 * 06-admin - chapter 06's operator tool: the client of 06-server's
 * /v1/admin/ endpoints, over HTTPS with the admin certificate and token that
 * 06-server made in its --data folder (DATA/admin.crt, admin.key,
 * admin.token, each 0600). Nothing secret on the command line.
 *
 *   06-admin sessions                     the live sessions
 *   06-admin sweep [--idle S]             end sessions idle for S seconds (R1's cleanup)
 *   06-admin revoke-device SERIAL [--reason R]   CRL, sessions, open connections
 *   06-admin revoke-token JTI
 *   06-admin unlock USER                  after the lockout
 *   06-admin disable USER | enable USER   an account's sessions, tokens and enrolment
 *   06-admin audit                        verify every stored signature again
 *   06-admin quarantine [list] | show ID | drop ID | replay ID
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/encoding.h"
#include "core/json.h"
#include "net/httpclient.h"

static const char USAGE[] =
    "usage: 06-admin [--url URL] [--data DIR] [--cacert F] [-q|-v] COMMAND [ARG]\n"
    "Chapter 06: the operator's tool for 06-server (admin certificate + token from --data).\n"
    "Commands:\n"
    "  sessions                 list the live sessions\n"
    "  sweep [--idle S]         end the sessions idle for S seconds (default: the server's)\n"
    "  revoke-device SERIAL [--reason R]  revoke a device: CRL, sessions, open connections\n"
    "  revoke-token JTI         revoke one token\n"
    "  unlock USER              lift a lockout after failed passwords\n"
    "  disable USER | enable USER  no sessions, no certificates (its tokens end now), or back\n"
    "  audit                    verify every stored record signature again\n"
    "  quarantine [list]        the signed records that could not be stored, and why\n"
    "  quarantine show|drop ID  one of them, decrypted; or remove it\n"
    "  quarantine replay ID     its signature verified again, then the records table tried again\n"
    "Options:\n"
    "  --url URL     the server (default https://localhost:8006)\n"
    "  --data DIR    06-server's folder: admin.crt, admin.key, admin.token (default build/06)\n"
    "  --cacert F    the CA of the server's certificate (default build/pki/root.crt)\n"
    "  --idle S, --reason R   for sweep and revoke-device\n"
    "Exit status: 0 success, 1 refused or failed, 2 usage.\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},   {"data", required_argument, NULL, 'd'},
        {"cacert", required_argument, NULL, 'c'}, {"idle", required_argument, NULL, 'i'},
        {"reason", required_argument, NULL, 'r'}, CLI_COMMON_OPTIONS, {0},
    };
    const char *url = "https://localhost:8006", *data = "build/06", *cacert = "build/pki/root.crt";
    const char *reason = "unspecified";
    long idle = 0;
    int c;
    narrate_init("06-admin", "client");
    while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(c, USAGE))
            continue;
        switch (c) {
        case 'u': url = optarg; break;
        case 'd': data = optarg; break;
        case 'c': cacert = optarg; break;
        case 'i': idle = cli_long("--idle", optarg, 0, 86400); break;
        case 'r': reason = optarg; break;
        default: cli_usage_error("unknown option");
        }
    }
    if (optind >= argc)
        cli_usage_error("which command? sessions, sweep, revoke-device, revoke-token, unlock, disable, enable, audit, quarantine");
    const char *cmd = argv[optind], *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
    int extra = argc - optind - 1;
    const char *method = "POST", *path = NULL;
    json_t *body = NULL;

    if (!strcmp(cmd, "sessions") && !extra) {
        method = "GET";
        path = "/v1/admin/sessions";
    } else if (!strcmp(cmd, "audit") && !extra) {
        method = "GET";
        path = "/v1/admin/audit";
    } else if (!strcmp(cmd, "sweep") && !extra) {
        path = "/v1/admin/sweep";
        body = json_pack("{s:I}", "idle_seconds", (json_int_t)idle);
    } else if (!strcmp(cmd, "revoke-device") && extra == 1) {
        path = "/v1/admin/revoke-device";
        body = json_pack("{s:s, s:s}", "serial", arg, "reason", reason);
    } else if (!strcmp(cmd, "revoke-token") && extra == 1) {
        path = "/v1/admin/revoke-token";
        body = json_pack("{s:s}", "jti", arg);
    } else if (!strcmp(cmd, "unlock") && extra == 1) {
        path = "/v1/admin/unlock";
        body = json_pack("{s:s}", "username", arg);
    } else if ((!strcmp(cmd, "disable") || !strcmp(cmd, "enable")) && extra == 1) {
        path = "/v1/admin/disable";
        body = json_pack("{s:s, s:b}", "username", arg, "disabled", cmd[0] == 'd');
    } else if (!strcmp(cmd, "quarantine") && (extra == 0 || (extra == 1 && !strcmp(arg, "list")))) {
        method = "GET";
        path = "/v1/admin/quarantine";
    } else if (!strcmp(cmd, "quarantine") && extra == 2 &&
               (!strcmp(arg, "show") || !strcmp(arg, "drop") || !strcmp(arg, "replay"))) {
        path = !strcmp(arg, "show")   ? "/v1/admin/quarantine/show"
               : !strcmp(arg, "drop") ? "/v1/admin/quarantine/drop"
                                      : "/v1/admin/quarantine/replay";
        body = json_pack("{s:s}", "id", argv[optind + 2]);
    } else {
        cli_usage_error("'%s': not a command of 06-admin, or the wrong arguments (see --help)", cmd);
    }

    char crt[512], key[512], tokf[512], full[768], hdr[320];
    size_t toklen = 0;
    snprintf(crt, sizeof crt, "%s/admin.crt", data);
    snprintf(key, sizeof key, "%s/admin.key", data);
    snprintf(tokf, sizeof tokf, "%s/admin.token", data);
    char *tok = cli_read_file(tokf, 256, &toklen);
    if (!tok) {
        hint("06-server makes %s on its first start (its --data folder)", tokf);
        return EXIT_FAILED;
    }
    while (toklen && (tok[toklen - 1] == '\n' || tok[toklen - 1] == '\r'))
        tok[--toklen] = '\0';
    snprintf(hdr, sizeof hdr, "X-Admin-Token: %s", tok);
    encoding_free_secret(tok, toklen);
    if (http_url_join(full, sizeof full, url, path) != 0)
        cli_usage_error("--url is too long");

    char *text = body ? json_compact(body) : NULL;
    json_decref(body);
    const char *headers[] = {hdr, NULL};
    http_request req = http_request_defaults();
    http_response res;
    req.method = method;
    req.url = full;
    req.body = text;
    req.body_len = text ? strlen(text) : 0;
    req.content_type = text ? "application/json" : NULL;
    req.headers = headers;
    req.cacert = cacert;
    req.client_cert = crt;
    req.client_key = key;
    req.tls_min_version = CURL_SSLVERSION_TLSv1_3;
    http_client_init();
    int rc = http_do(&req, &res);
    OPENSSL_cleanse(hdr, sizeof hdr);
    if (rc != 0) {
        http_report_failure(cmd, &req, &res);
        rc = EXIT_FAILED;
    } else if (res.status != 200) {
        json_t *j = res.body ? json_parse(res.body, res.body_len, 4, NULL, 0) : NULL;
        const char *e = j ? json_get_str(j, "error") : NULL;
        errorf(cmd, "HTTP %ld: %s", res.status, e ? e : res.body ? res.body : "");
        json_decref(j);
        rc = EXIT_FAILED;
    } else {
        size_t n = res.body_len;
        while (n && (res.body[n - 1] == '\n' || res.body[n - 1] == '\r'))
            n--; /* the JSON, without the line end the server adds */
        result("%.*s", (int)n, res.body);
        rc = EXIT_OK;
    }
    http_response_free(&res);
    free(text);
    http_client_cleanup();
    return rc;
}
