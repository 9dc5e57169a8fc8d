/* SPDX-License-Identifier: MIT */
/*
 * 06-client - chapter 06: the device. It registers an account, enrols a
 * device key for a certificate (EST), opens a signed, channel-bound session
 * (HELLO) and sends signed records in AES-GCM envelopes inside TLS.
 *
 *   06-client --user alice register          make the account (password: prompt,
 *                                            --password-file or COURSE06_PASSWORD)
 *   06-client --user alice enrol             device key + certificate into --home
 *   06-client send-record '{"FirstName": "Pedro", ...}'   (R1's form works too:
 *                                            06-client --server URL 'JSON')
 *   06-client poll                           R3's DATA_REQUEST every 30 s, CLOSE after 30 min
 *   06-client whoami | token | close | resend | reenrol
 *
 * Every message is narrated (type, seq, epoch, sizes); --verbose adds the
 * plaintext JSON that the envelopes hide even from a TLS key log.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "core/cli.h"
#include "core/encoding.h"
#include "core/json.h"
#include "envelope/hello.h"
#include "token/token.h"

#define PKI_CA "build/pki/root.crt"
#define HOME_DEFAULT "build/06-home"

static const char USAGE[] =
    "usage: 06-client [--url URL] [--home DIR] [--user NAME] [--password-file F]\n"
    "                 [--cacert F] [--key-type ed25519|p256] [--every S] [--for S] [--count N]\n"
    "                 [-q|-v] COMMAND [ARG]\n"
    "Chapter 06: the device side of the secure service.\n"
    "Commands:\n"
    "  register         make the account --user (the server stores an Argon2id hash)\n"
    "  enrol            make a device key in --home and get its certificate (EST,\n"
    "                   bound to this TLS connection); reenrol renews it\n"
    "  send-record JSON HELLO, one signed record, CLOSE (a bare JSON argument does the same)\n"
    "  poll             HELLO, then R3's poll every --every S (30) for --for S (1800), CLOSE\n"
    "  whoami           HELLO, GET /v1/whoami with the token (plain JSON), CLOSE\n"
    "  token            HELLO and print the bearer token for the curl exercises; the session\n"
    "                   stays open (saved in --home) until `06-client close` or it idles out\n"
    "  close            end the session `token` opened (its token dies with it)\n"
    "  resend           send the records left in the outbox (--home/outbox) after a failure\n"
    "Messaging (R4's, inside the session; the sender is always the device's account):\n"
    "  users NAME...    does each exist (and, for a correspondent, online and last seen)\n"
    "  send --to USER TEXT   one signed message, at most 64 KiB, whole (TEXT '-': stdin;\n"
    "                   --count N sends it N times in one session: the rate limit's lesson)\n"
    "  inbox [--all]    the unread messages (--all: every one), marked read; each one's\n"
    "                   signature checked against its device certificate and --cacert\n"
    "  read ID [--save DIR]   one message (--save: its text, byte for byte, to DIR)\n"
    "  delete ID        out of your inbox;   receipts   who read what you sent, where, when\n"
    "  presence USER    online / last seen, for a correspondent only\n"
    "  menu             R4's interactive client: log in (HELLO), compose, read, receipts,\n"
    "                   notifications, exit (prompts on stdout, lines from stdin)\n"
    "  op NAME JSON     one signed op with any payload, the answer printed (the lab's\n"
    "                   hand-made request: what an attacker's own client can send)\n"
    "Typed transfer (R5's, without pickle):\n"
    "  send-bytes --to USER FILE|-   bytes (at most 256 KiB), signed and stored for USER\n"
    "  send-text --to USER TEXT      UTF-8 text\n"
    "  send-object --to USER JSON    a JSON object; send-list --to USER JSON: a JSON array\n"
    "                   (never a pickle: JSON is the only format the server decodes)\n"
    "  send-file --to USER FILE      a file up to 16 MiB in chunks (COURSE06_CHUNK_SIZE bytes,\n"
    "                   default 256 KiB); run it again after an interruption: only the\n"
    "                   missing chunks go (state in --home/uploads)\n"
    "  receive [--save DIR]          every item waiting, with its type; files fetched, their\n"
    "                   SHA-256 checked, saved in DIR under a cleaned name, never overwriting\n"
    "  send-op OP JSON|-             op NAME JSON, the payload from stdin with -\n"
    "Notifications (pushed over a WebSocket, no polling):\n"
    "  listen           HELLO, then the notification WebSocket: print each NOTIFY as it\n"
    "                   comes, until --count N of them or --for S seconds, then CLOSE\n"
    "Options:\n"
    "  --url URL        the server (default https://localhost:8006; --server is the same)\n"
    "  --home DIR       device key, certificate, outbox (default " HOME_DEFAULT ")\n"
    "  --user NAME      the account (register, enrol)\n"
    "  --password-file F  read the password from F (else COURSE06_PASSWORD, else a prompt)\n"
    "  --cacert F       the CA the server's certificate must chain to (default " PKI_CA ")\n"
    "  --key-type T     the device key enrol makes: ed25519 (default) or p256\n"
    "  --every S --for S --count N   poll's period, duration, and most requests\n"
    "  --to USER --all --save DIR    the messaging commands' options (above)\n"
    "  -q, --quiet      only results and errors;  -v, --verbose  also the decrypted JSON\n"
    "  -h, --help       this text\n"
    "Environment: SSLKEYLOGFILE=FILE makes libcurl write the TLS secrets there.\n"
    "             COURSE06_OP_MSG_ID=HEX (32 digits): op's msg_id, to send one op again.\n"
    "Exit status: 0 success, 1 refused or failed, 2 usage.\n";

static int random_id(uint8_t id[16])
{
    return RAND_bytes(id, 16) == 1 ? 0 : -1;
}

/* R1's record: JSON text, checked here only for being JSON (the server
 * checks it against its table, and quarantines what does not fit). */
static int send_record(client *c, const char *json)
{
    channel ch;
    uint8_t msg_id[16];
    int64_t created = client_now_ms();
    json_t *ans = NULL;
    int rc = EXIT_FAILED;
    char err[160];
    json_t *probe = json_parse(json, strlen(json), 16, err, sizeof err);
    if (!probe) {
        errorf("send-record", "the record is not JSON: %s", err);
        hint("e.g. 06-client send-record '{\"FirstName\": \"Pedro\", \"LastName\": \"Pascal\", \"Age\": 49}'");
        return EXIT_USAGE;
    }
    json_decref(probe);
    if (strlen(json) > RECORD_PAYLOAD_MAX) {
        errorf("send-record", "the record is %zu bytes: a signed record carries at most %u (its base64, in "
               "an envelope, must fit the server's 1 MiB body)", strlen(json), (unsigned)RECORD_PAYLOAD_MAX);
        return EXIT_FAILED;
    }
    if (random_id(msg_id) != 0)
        return EXIT_FAILED;
    /* on disk first: a crash from here on loses nothing (06-client resend) */
    if (outbox_add(c, msg_id, created, json, strlen(json)) != 0) {
        errorf("outbox", "cannot write the record to %s", c->outbox);
        return EXIT_FAILED;
    }
    if (channel_open(c, &ch, NULL) != 0) {
        hint("the record waits in %s: 06-client resend", c->outbox);
        channel_free(&ch);
        return EXIT_FAILED;
    }
    step("sending one record, signed by the device key (msg_id chosen here: a resend is stored once)");
    if (channel_op(c, &ch, "record", msg_id, created, (const uint8_t *)json, strlen(json), (void **)&ans) ==
        0) {
        const char *status = json_get_str(ans, "status"), *reason = json_get_str(ans, "reason");
        json_t *rid = json_object_get(ans, "record_id");
        if (status && (!strcmp(status, "stored") || !strcmp(status, "duplicate"))) {
            outbox_remove(c, msg_id);
            result("record %s: id %lld (committed before the answer was sent)", status,
                   (long long)json_integer_value(rid));
            rc = EXIT_OK;
        } else if (status && !strcmp(status, "quarantined")) {
            outbox_remove(c, msg_id); /* the server keeps it, encrypted, for an admin */
            errorf("record quarantined", "%s", reason ? reason : "(no reason)");
        } else {
            errorf("record not stored", "%s: %s", status ? status : "?", reason ? reason : "(no reason)");
            if (status && !strcmp(status, "refused"))
                outbox_remove(c, msg_id); /* sending it again cannot help */
            else
                hint("the record waits in %s: 06-client resend", c->outbox);
        }
    } else {
        hint("the record waits in %s: 06-client resend", c->outbox);
    }
    json_decref(ans);
    channel_close(c, &ch, "done");
    channel_free(&ch);
    return rc;
}

static int poll_loop(client *c)
{
    channel ch;
    int rc = EXIT_OK;
    if (channel_open(c, &ch, NULL) != 0) {
        channel_free(&ch);
        return EXIT_FAILED;
    }
    time_t start = time(NULL);
    for (long n = 1;; n++) {
        uint8_t id[16];
        json_t *ans = NULL;
        if (random_id(id) != 0 ||
            channel_op(c, &ch, "poll", id, client_now_ms(), (const uint8_t *)"{}", 2, (void **)&ans) != 0) {
            rc = EXIT_FAILED;
            break;
        }
        char *counters = json_compact(json_object_get(ans, "counters"));
        result("poll %ld: %s, random '%s', counters %s", n, json_get_str(ans, "status"),
               json_get_str(ans, "random") ? json_get_str(ans, "random") : "?", counters ? counters : "{}");
        free(counters);
        json_decref(ans);
        if ((c->max_polls && n >= c->max_polls) || time(NULL) - start + c->poll_every > c->poll_for)
            break;
        sleep((unsigned)c->poll_every);
    }
    if (channel_close(c, &ch, rc == EXIT_OK ? "poll finished" : "poll failed") != 0)
        rc = EXIT_FAILED;
    channel_free(&ch);
    return rc;
}

/* GET /v1/whoami with the token and the certificate: what curl can do too */
static int whoami(client *c, channel *ch)
{
    char auth[TOKEN_MAX_LEN + 32];
    http_response res = {0};
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", ch->token);
    const char *headers[] = {auth, NULL};
    http_session_request r = {.method = "GET", .path = "/v1/whoami", .headers = headers};
    int rc = http_session_do(ch->http, &r, &res);
    OPENSSL_cleanse(auth, sizeof auth);
    if (rc != 0)
        client_transport_error(c, "whoami", &res);
    else if (res.status != 200)
        errorf("whoami", "HTTP %ld: %s", res.status, res.body ? res.body : "");
    else
        result("%.*s", (int)(res.body_len && res.body[res.body_len - 1] == '\n' ? res.body_len - 1 : res.body_len),
               res.body);
    rc = rc == 0 && res.status == 200 ? EXIT_OK : EXIT_FAILED;
    http_response_free(&res);
    return rc;
}

static int cmd_session(client *c, const char *cmd)
{
    channel ch;
    envelope_secrets sec;
    int rc;
    if (!strcmp(cmd, "close")) {
        memset(&ch, 0, sizeof ch);
        rc = channel_load(c, &ch) == 0 && channel_close(c, &ch, "closed by 06-client close") == 0
                 ? EXIT_OK : EXIT_FAILED;
        channel_free(&ch);
        return rc;
    }
    if (!strcmp(cmd, "token")) {
        if (channel_open(c, &ch, &sec) != 0) {
            channel_free(&ch);
            return EXIT_FAILED;
        }
        rc = channel_save(c, &ch, &sec) == 0 ? EXIT_OK : EXIT_FAILED;
        envelope_secrets_wipe(&sec);
        if (rc == EXIT_OK) {
            note("the session stays open for curl; `06-client close` ends it (and the token)");
            printf("%s\n", ch.token);
        }
        channel_free(&ch);
        return rc;
    }
    if (channel_open(c, &ch, NULL) != 0) {
        channel_free(&ch);
        return EXIT_FAILED;
    }
    if (!strcmp(cmd, "whoami")) {
        rc = whoami(c, &ch);
    } else { /* resend */
        size_t sent = 0, left = 0;
        rc = outbox_flush(c, &ch, &sent, &left) == 0 && left == 0 ? EXIT_OK : EXIT_FAILED;
        result("resend: %zu record%s acknowledged, %zu left in %s", sent, sent == 1 ? "" : "s", left,
               c->outbox);
    }
    if (channel_close(c, &ch, "done") != 0)
        rc = EXIT_FAILED;
    channel_free(&ch);
    return rc;
}

/* "https://host:port/..." -> host (without brackets for IPv6) */
static int url_host(const char *url, char *host, size_t len)
{
    const char *p = strstr(url, "://"), *end;
    if (!p || strncasecmp(url, "https://", 8) != 0)
        return -1;
    p += 3;
    if (*p == '[') {
        end = strchr(++p, ']');
    } else {
        end = p + strcspn(p, ":/");
    }
    if (!end || end == p || (size_t)(end - p) >= len)
        return -1;
    memcpy(host, p, (size_t)(end - p));
    host[end - p] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},     {"server", required_argument, NULL, 'u'},
        {"home", required_argument, NULL, 'H'},    {"user", required_argument, NULL, 'U'},
        {"password-file", required_argument, NULL, 'p'}, {"cacert", required_argument, NULL, 'c'},
        {"key-type", required_argument, NULL, 'k'}, {"every", required_argument, NULL, 'e'},
        {"for", required_argument, NULL, 'f'},     {"count", required_argument, NULL, 'n'},
        {"to", required_argument, NULL, 't'},      {"all", no_argument, NULL, 'a'},
        {"save", required_argument, NULL, 's'},
        CLI_COMMON_OPTIONS,                        {0},
    };
    client c = {.url = "https://localhost:8006", .home = HOME_DEFAULT, .cacert = PKI_CA,
                .key_type = "ed25519", .poll_every = 30, .poll_for = 1800};
    int ch;

    narrate_init("06-client", "client");
    while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(ch, USAGE))
            continue;
        switch (ch) {
        case 'u': c.url = optarg; break;
        case 'H': c.home = optarg; break;
        case 'U': c.user = optarg; break;
        case 'p': c.password_file = optarg; break;
        case 'c': c.cacert = optarg; break;
        case 'k':
            if (strcmp(optarg, "ed25519") && strcmp(optarg, "p256"))
                cli_usage_error("--key-type must be ed25519 or p256, not '%s'", optarg);
            c.key_type = optarg;
            break;
        case 'e': c.poll_every = cli_long("--every", optarg, 1, 3600); break;
        case 'f': c.poll_for = cli_long("--for", optarg, 1, 86400); break;
        case 'n': c.max_polls = cli_long("--count", optarg, 1, 1000000); break;
        case 't': c.to = optarg; break;
        case 'a': c.all = 1; break;
        case 's': c.save_dir = optarg; break;
        default: cli_usage_error("unknown option");
        }
    }
    if (optind >= argc)
        cli_usage_error("which command? register, enrol, send-record JSON, poll, whoami, token, close, resend");
    if (url_host(c.url, c.host, sizeof c.host) != 0)
        cli_usage_error("--url must be https://HOST[:PORT], not '%s'", c.url);
    snprintf(c.device_key, sizeof c.device_key, "%s/device.key", c.home);
    snprintf(c.device_crt, sizeof c.device_crt, "%s/device.crt", c.home);
    snprintf(c.outbox, sizeof c.outbox, "%s/outbox", c.home);
    snprintf(c.session_file, sizeof c.session_file, "%s/session", c.home);

    const char *cmd = argv[optind];
    int extra = argc - optind - 1, rc;
    http_client_init();
    if (!strcmp(cmd, "register") && !extra)
        rc = client_register(&c) == 0 ? EXIT_OK : EXIT_FAILED;
    else if ((!strcmp(cmd, "enrol") || !strcmp(cmd, "reenrol")) && !extra)
        rc = client_enrol(&c, cmd[0] == 'r') == 0 ? EXIT_OK : EXIT_FAILED;
    else if (!strcmp(cmd, "send-record") && extra == 1)
        rc = send_record(&c, argv[optind + 1]);
    else if (cmd[0] == '{' && !extra) /* R1's form: the record is the argument */
        rc = send_record(&c, cmd);
    else if (!strcmp(cmd, "poll") && !extra)
        rc = poll_loop(&c);
    else if ((!strcmp(cmd, "whoami") || !strcmp(cmd, "token") || !strcmp(cmd, "close") ||
              !strcmp(cmd, "resend")) && !extra)
        rc = cmd_session(&c, cmd);
    else if ((rc = client_messages_main(&c, cmd, extra, argv + optind + 1)) == CLIENT_NOT_MINE &&
             (rc = client_transfer_main(&c, cmd, extra, argv + optind + 1)) == CLIENT_NOT_MINE &&
             (rc = client_listen_main(&c, cmd, extra, argv + optind + 1)) == CLIENT_NOT_MINE)
        cli_usage_error("'%s'%s: not a command of 06-client (see --help)", cmd,
                        extra ? " with these arguments" : "");
    http_client_cleanup();
    return rc;
}
