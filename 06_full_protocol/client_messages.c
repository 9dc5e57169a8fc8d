/* SPDX-License-Identifier: MIT */
/*
 * client_messages.c - 06-client's messaging commands (R4's, inside the
 * session): users, send, inbox, read, delete, receipts, presence, menu.
 *
 * Each command is one session: HELLO, its signed ops, CLOSE. The server
 * decides who is acting from the session (the device certificate that
 * signed the HELLO), so no command takes a "from" or a "who am I".
 *
 * What this side checks for itself, because a message is a signed record:
 * every message the inbox hands over carries the sender's signed op and the
 * certificate of the device that signed it. Before a message is shown as
 * alice's, this file verifies that the signature is that device's over
 * exactly the payload stored, that the payload says this text to this
 * reader, that the certificate names alice and chains to the course CA
 * (--cacert) as it stood when the message was signed. A message that fails
 * any of it is shown under a loud warning, never silently and never as
 * alice's.
 */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client_messages.h"
#include "core/cli.h"
#include "core/encoding.h"
#include "core/json.h"
#include "envelope/hello.h"
#include "pki/pki.h"

int msg_op(client *c, channel *ch, const char *op, json_t *payload, json_t **answer)
{
    uint8_t id[16];
    char *text = payload ? json_compact(payload) : NULL;
    int rc = -1;
    json_decref(payload);
    *answer = NULL;
    if (!text) {
        errorf(op, "out of memory");
        return -1;
    }
    if (RAND_bytes(id, sizeof id) == 1)
        rc = channel_op(c, ch, op, id, client_now_ms(), (const uint8_t *)text, strlen(text),
                        (void **)answer);
    else
        errorf(op, "no random bytes for the message id");
    free(text);
    return rc;
}

/* status "ok"/"stored"/"duplicate": 1; otherwise say why and 0 */
static int answer_ok(const char *what, json_t *a)
{
    const char *st = json_get_str(a, "status"), *why = json_get_str(a, "reason");
    if (st && (!strcmp(st, "ok") || !strcmp(st, "stored") || !strcmp(st, "duplicate")))
        return 1;
    errorf(what, "%s: %s", st ? st : "no status", why ? why : "(no reason given)");
    return 0;
}

static void utc(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, len, "?");
}

/* The text for a terminal: what the server let through is text already, but
 * the server is not trusted to have checked, so the control codes a terminal
 * would obey (ESC, C1) are shown as '?'. Each line indented. */
static void print_text(const char *t, size_t n)
{
    fputs("    ", stdout);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (ch == '\n')
            fputs(i + 1 < n ? "\n    " : "", stdout);
        else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            fputc('?', stdout);
        else if (ch == 0xc2 && i + 1 < n && (unsigned char)t[i + 1] >= 0x80 && (unsigned char)t[i + 1] <= 0x9f)
            fputc('?', stdout), i++;
        else
            fputc(ch, stdout);
    }
    fputc('\n', stdout);
    fflush(stdout);
}

/* ---- the proof ------------------------------------------------------------ */

static int b64_field(json_t *o, const char *k, uint8_t **out, size_t *len)
{
    const char *s = json_get_str(o, k);
    return s ? b64url_decode(s, strlen(s), B64_NO_PAD, out, len) : -1;
}

static X509 *cert_from_pem(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

/* The name the certificate was issued to (CN=alice). */
static void cert_cn(X509 *x, char *out, size_t len)
{
    out[0] = '\0';
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)len) < 0)
        out[0] = '\0';
}

/* 0 when message m verifies: *device gets the signing device's serial;
 * otherwise -1 and why (the first check that failed). me: the reader. */
static int verify_message(client *c, json_t *m, const char *ca_pem, const char *me, char *device,
                          size_t device_len, char *why, size_t why_len)
{
    json_t *proof = json_object_get(m, "proof"), *created = json_object_get(proof, "created");
    const char *from = json_get_str(m, "from"), *op = json_get_str(proof, "op");
    const char *pem = json_get_str(proof, "cert_pem"), *serial = json_get_str(proof, "device");
    json_t *text = json_object_get(m, "text"), *pl = NULL;
    uint8_t *msg_id = NULL, *payload = NULL, *sig = NULL;
    size_t id_len = 0, p_len = 0, sig_len = 0;
    X509 *cert = NULL;
    STACK_OF(X509) *roots = NULL, *mid = NULL;
    char cn[128], detail[256];
    int rc = -1;

    snprintf(device, device_len, "?");
    if (!from || !op || !pem || !serial || !json_is_integer(created) || !json_is_string(text) ||
        b64_field(proof, "msg_id", &msg_id, &id_len) != 0 || id_len != 16 ||
        b64_field(proof, "payload", &payload, &p_len) != 0 || b64_field(proof, "sig", &sig, &sig_len) != 0) {
        snprintf(why, why_len, "the message carries no complete proof (signed op and certificate)");
        goto out;
    }
    snprintf(device, device_len, "%s", serial);
    if (strcmp(op, "compose") != 0) {
        snprintf(why, why_len, "the signed operation is '%s', not a compose", op);
        goto out;
    }
    /* 1. the device's signature over exactly these bytes, for this server */
    hello_status hs = signed_op_verify_stored(pem, strlen(pem), c->host, op, msg_id,
                                              (int64_t)json_integer_value(created), payload, p_len, sig,
                                              sig_len);
    if (hs != HELLO_OK) {
        snprintf(why, why_len, "%s", hello_status_str(hs)); /* "the signature does not verify: ..." */
        goto out;
    }
    /* 2. the certificate is alice's, from the course CA, valid when it signed */
    if (!(cert = cert_from_pem(pem))) {
        snprintf(why, why_len, "the device certificate cannot be read");
        goto out;
    }
    cert_cn(cert, cn, sizeof cn);
    if (strcmp(cn, from) != 0) {
        snprintf(why, why_len, "the signing certificate is issued to '%s', not to '%s'", cn, from);
        goto out;
    }
    if (!(roots = pki_certs_read(c->cacert)) || !(mid = sk_X509_new_null())) {
        snprintf(why, why_len, "cannot read the CA %s to check the certificate against", c->cacert);
        goto out;
    }
    X509 *ca = ca_pem ? cert_from_pem(ca_pem) : NULL;
    if (ca && !sk_X509_push(mid, ca))
        X509_free(ca);
    pki_verify_opts vo = {.purpose = PKI_PROFILE_CLIENT,
                          .at = (time_t)(json_integer_value(created) / 1000)};
    pki_verdict v = pki_verify(cert, roots, mid, &vo, detail, sizeof detail);
    if (v != PKI_VERIFY_OK) {
        snprintf(why, why_len, "the device certificate does not chain to %s: %s (%s)", c->cacert,
                 pki_verdict_reason(v), detail);
        goto out;
    }
    /* 3. what was signed is this text, to this reader */
    if (!(pl = json_parse((const char *)payload, p_len, 4, NULL, 0)) || !json_is_object(pl)) {
        snprintf(why, why_len, "the signed payload is not a JSON object");
        goto out;
    }
    json_t *stext = json_object_get(pl, "text");
    const char *sto = json_get_str(pl, "to");
    if (!json_is_string(stext) || json_string_length(stext) != json_string_length(text) ||
        memcmp(json_string_value(stext), json_string_value(text), json_string_length(text)) != 0) {
        snprintf(why, why_len, "the text shown is not the text alice's device signed (%zu bytes signed, "
                 "%zu shown)", json_is_string(stext) ? json_string_length(stext) : 0,
                 json_string_length(text));
        goto out;
    }
    if (!sto || strcasecmp(sto, me) != 0) {
        snprintf(why, why_len, "the signed message was written to '%s', not to you ('%s')", sto ? sto : "?",
                 me);
        goto out;
    }
    rc = 0;
out:
    json_decref(pl);
    sk_X509_pop_free(roots, X509_free);
    sk_X509_pop_free(mid, X509_free);
    X509_free(cert);
    free(msg_id);
    free(payload);
    free(sig);
    return rc;
}

/* The reader's own name: the CN of the device certificate the session used */
static void me_of(channel *ch, char *me, size_t len)
{
    cert_cn(ch->cert, me, len);
}

/* Print one message with its verdict; 0 verified, -1 not. */
static int show_message(client *c, channel *ch, json_t *m, const char *ca_pem)
{
    char me[128], device[80], why[512], sent[40];
    json_t *text = json_object_get(m, "text");
    const char *from = json_get_str(m, "from");
    json_int_t id = json_integer_value(json_object_get(m, "id"));
    int ok;
    me_of(ch, me, sizeof me);
    utc(json_integer_value(json_object_get(m, "sent_at")), sent, sizeof sent);
    ok = verify_message(c, m, ca_pem, me, device, sizeof device, why, sizeof why) == 0;
    result("message %lld from %s, sent %s%s", (long long)id, from ? from : "?", sent,
           json_is_true(json_object_get(m, "new")) ? " [new: marked read now]" : "");
    if (ok) {
        result("  signature: verified (%s's device %s)", from, device);
    } else {
        result("  signature: NOT VERIFIED: %s", why);
        result("  !!! WARNING: do not trust this message: it may not be what %s wrote, or not from %s at all",
               from ? from : "the sender", from ? from : "the sender");
        warning("message %lld: the proof does not verify: %s", (long long)id, why);
    }
    if (json_is_string(text))
        print_text(json_string_value(text), json_string_length(text));
    return ok ? 0 : -1;
}

/* ---- the commands ---------------------------------------------------------- */

int msg_compose(client *c, channel *ch, const char *to, const char *text, size_t len)
{
    json_t *a = NULL, *t = json_stringn(text, len);
    int rc = EXIT_FAILED;
    if (!t) {
        errorf("send", "the text is not UTF-8 (a message is text)");
        return EXIT_FAILED;
    }
    /* no "from": the server takes the sender from the session, never from here */
    if (msg_op(c, ch, "compose", json_pack("{s:s, s:o}", "to", to, "text", t), &a) == 0 &&
        answer_ok("compose", a)) {
        result("message %s: id %lld to %s (%zu bytes, committed before the answer)", json_get_str(a, "status"),
               (long long)json_integer_value(json_object_get(a, "message_id")), to, len);
        rc = EXIT_OK;
    }
    json_decref(a);
    return rc;
}

int msg_inbox(client *c, channel *ch, int all)
{
    json_t *a = NULL;
    int rc = EXIT_FAILED;
    if (msg_op(c, ch, "inbox", json_pack("{s:b}", "all", all), &a) == 0 && answer_ok("inbox", a)) {
        json_t *list = json_object_get(a, "messages"), *m;
        const char *ca = json_get_str(a, "device_ca_pem");
        size_t i, bad = 0;
        rc = EXIT_OK;
        if (!json_array_size(list))
            result("%s", all ? "your inbox is empty" : "no unread messages");
        json_array_foreach(list, i, m) if (show_message(c, ch, m, ca) != 0) bad++;
        if (json_is_true(json_object_get(a, "more")))
            result("(more messages wait: run inbox again)");
        if (bad) {
            errorf("inbox", "%zu message%s did not verify (shown above with a warning)", bad,
                   bad == 1 ? "" : "s");
            rc = EXIT_FAILED;
        }
    }
    json_decref(a);
    return rc;
}

/* read ID [--save DIR]: --save writes the text byte for byte to DIR/message-ID.txt */
static int msg_read(client *c, channel *ch, long long id)
{
    json_t *a = NULL;
    int rc = EXIT_FAILED;
    if (msg_op(c, ch, "read", json_pack("{s:I}", "id", (json_int_t)id), &a) == 0 && answer_ok("read", a)) {
        json_t *m = json_object_get(a, "message"), *text = json_object_get(m, "text");
        rc = show_message(c, ch, m, json_get_str(a, "device_ca_pem")) == 0 ? EXIT_OK : EXIT_FAILED;
        if (c->save_dir && json_is_string(text)) {
            char path[1024];
            snprintf(path, sizeof path, "%s/message-%lld.txt", c->save_dir, id);
            FILE *f = fopen(path, "wbx");
            if (!f || fwrite(json_string_value(text), 1, json_string_length(text), f) !=
                          json_string_length(text) || fclose(f) != 0) {
                errorf("read", "cannot write %s: %s", path, strerror(errno));
                rc = EXIT_FAILED;
            } else {
                result("saved %zu bytes to %s", json_string_length(text), path);
            }
        }
    }
    json_decref(a);
    return rc;
}

int msg_receipts(client *c, channel *ch)
{
    json_t *a = NULL, *r;
    size_t i;
    int rc = EXIT_FAILED;
    if (msg_op(c, ch, "receipts", json_object(), &a) == 0 && answer_ok("receipts", a)) {
        json_t *list = json_object_get(a, "receipts");
        rc = EXIT_OK;
        if (!json_array_size(list))
            result("no read receipts yet");
        json_array_foreach(list, i, r) {
            char t[40];
            const char *to = json_get_str(r, "to"), *dev = json_get_str(r, "read_device");
            utc(json_integer_value(json_object_get(r, "read_at")), t, sizeof t);
            /* R4's VIEW: "the message you sent to X has been read on D at T" */
            result("the message %lld you sent to %s was read at %s on %s's device %s%s",
                   (long long)json_integer_value(json_object_get(r, "id")), to ? to : "?", t, to ? to : "?",
                   dev ? dev : "?", json_is_true(json_object_get(r, "new")) ? " [new]" : "");
        }
    }
    json_decref(a);
    return rc;
}

int msg_counters(client *c, channel *ch)
{
    json_t *a = NULL, *cnt;
    int rc = EXIT_FAILED;
    if (msg_op(c, ch, "poll", json_object(), &a) == 0 && answer_ok("poll", a)) {
        cnt = json_object_get(a, "counters");
        json_t *items = json_object_get(cnt, "items");
        result("notifications: %lld unread message%s, %lld new read receipt%s",
               (long long)json_integer_value(json_object_get(cnt, "unread")),
               json_integer_value(json_object_get(cnt, "unread")) == 1 ? "" : "s",
               (long long)json_integer_value(json_object_get(cnt, "receipts")),
               json_integer_value(json_object_get(cnt, "receipts")) == 1 ? "" : "s");
        if (json_is_integer(items))
            result("               %lld item%s waiting (06-client receive)", (long long)json_integer_value(items),
                   json_integer_value(items) == 1 ? "" : "s");
        rc = EXIT_OK;
    }
    json_decref(a);
    return rc;
}

static int msg_users(client *c, channel *ch, int presence_op, int argc, char **argv)
{
    int rc = EXIT_OK;
    for (int i = 0; i < argc; i++) {
        json_t *a = NULL;
        if (msg_op(c, ch, presence_op ? "presence" : "users", json_pack("{s:s}", "name", argv[i]), &a) != 0 ||
            !answer_ok(presence_op ? "presence" : "users", a)) {
            rc = EXIT_FAILED;
            json_decref(a);
            continue;
        }
        json_t *p = presence_op ? a : json_object_get(a, "presence");
        char seen[40] = "never";
        if (p && json_is_integer(json_object_get(p, "last_seen")))
            utc(json_integer_value(json_object_get(p, "last_seen")), seen, sizeof seen);
        if (!presence_op && !json_is_true(json_object_get(a, "exists")))
            result("%s: no such user", argv[i]);
        else if (!p)
            result("%s: exists (presence: only for correspondents)", argv[i]);
        else
            result("%s: %s%s, last seen %s", argv[i], presence_op ? "" : "exists, ",
                   json_is_true(json_object_get(p, "online")) ? "online" : "offline", seen);
        json_decref(a);
    }
    return rc;
}

/* TEXT "-": stdin, whole, at most 64 KiB; more is refused, never cut (R4 cut) */
static char *read_stdin_text(size_t *len)
{
    size_t cap = CLIENT_TEXT_MAX + 1, n = 0, r;
    char *buf = malloc(cap + 1);
    if (!buf)
        return NULL;
    while (n < cap && (r = fread(buf + n, 1, cap - n, stdin)) > 0)
        n += r;
    if (n > CLIENT_TEXT_MAX) {
        errorf("send", "stdin holds more than %u bytes: a message is at most 64 KiB, and it is sent whole "
               "or not at all (nothing was sent)", CLIENT_TEXT_MAX);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int parse_id(const char *s, long long *id)
{
    char *end;
    errno = 0;
    *id = strtoll(s, &end, 10);
    if (errno || end == s || *end || *id < 1)
        cli_usage_error("a message id is a positive number, not '%s'", s);
    return 0;
}

/* The lab's hand-made request: any op, any payload, signed by this device,
 * as an attacker's own client could send it. What the server believes of it
 * is what the lesson is about. The answer is printed whole. */
static int raw_op(client *c, channel *ch, const char *op, const uint8_t *payload, size_t len)
{
    json_t *a = NULL;
    uint8_t mid[16];
    int rc = EXIT_FAILED;
    /* COURSE06_OP_MSG_ID=32 hex digits: the lab's resend (the same msg_id
     * again is answered "duplicate", with another payload refused) */
    const char *fixed = getenv("COURSE06_OP_MSG_ID");
    uint8_t *fx = NULL;
    size_t fx_len = 0;
    if (fixed && (hex_decode(fixed, &fx, &fx_len) != 0 || fx_len != sizeof mid)) {
        free(fx);
        cli_usage_error("COURSE06_OP_MSG_ID must be 32 hex digits (16 bytes)");
    }
    if (fx)
        memcpy(mid, fx, sizeof mid);
    free(fx);
    if ((fixed || RAND_bytes(mid, sizeof mid) == 1) &&
        channel_op(c, ch, op, mid, client_now_ms(), payload, len, (void **)&a) == 0) {
        char *txt = json_compact(a);
        result("%s", txt ? txt : "?");
        free(txt);
        rc = answer_ok(op, a) ? EXIT_OK : EXIT_FAILED;
    }
    json_decref(a);
    return rc;
}

int client_raw_op(client *c, const char *op, const uint8_t *payload, size_t len)
{
    channel ch;
    int rc = EXIT_FAILED;
    if (channel_open(c, &ch, NULL) == 0) {
        rc = raw_op(c, &ch, op, payload, len);
        channel_close(c, &ch, "done");
    }
    channel_free(&ch);
    return rc;
}

int client_messages_main(client *c, const char *cmd, int argc, char **argv)
{
    static const char *const CMDS[] = {"users", "send", "inbox", "read", "delete", "receipts", "presence",
                                       "menu", "op"};
    size_t k;
    channel ch;
    int rc = EXIT_FAILED;
    char *stdin_text = NULL;
    size_t text_len = 0;
    long long id = 0;

    for (k = 0; k < sizeof CMDS / sizeof CMDS[0] && strcmp(cmd, CMDS[k]) != 0; k++)
        ;
    if (k == sizeof CMDS / sizeof CMDS[0])
        return CLIENT_NOT_MINE;
    /* the arguments first: a usage error opens no session */
    if ((!strcmp(cmd, "users") || !strcmp(cmd, "presence")) && argc < 1)
        cli_usage_error("%s NAME...: which user?", cmd);
    if (!strcmp(cmd, "send")) {
        if (!c->to || argc != 1)
            cli_usage_error("send --to USER TEXT (TEXT '-': read it from stdin)");
        if (!strcmp(argv[0], "-")) {
            if (!(stdin_text = read_stdin_text(&text_len)))
                return EXIT_FAILED;
        } else {
            text_len = strlen(argv[0]); /* the server's 64 KiB rule is the one that counts: sent as is */
        }
    }
    if ((!strcmp(cmd, "read") || !strcmp(cmd, "delete")) && (argc != 1 || parse_id(argv[0], &id) != 0))
        cli_usage_error("%s ID: one message id", cmd);
    if (!strcmp(cmd, "op") && argc != 2)
        cli_usage_error("op NAME JSON: one signed op with this payload, its answer printed");
    if ((!strcmp(cmd, "inbox") || !strcmp(cmd, "receipts") || !strcmp(cmd, "menu")) && argc != 0)
        cli_usage_error("%s takes no argument", cmd);
    if (!strcmp(cmd, "menu"))
        return client_menu(c);

    if (channel_open(c, &ch, NULL) != 0) {
        free(stdin_text);
        channel_free(&ch);
        return EXIT_FAILED;
    }
    if (!strcmp(cmd, "op")) {
        rc = raw_op(c, &ch, argv[0], (const uint8_t *)argv[1], strlen(argv[1]));
    } else if (!strcmp(cmd, "users") || !strcmp(cmd, "presence")) {
        rc = msg_users(c, &ch, cmd[0] == 'p', argc, argv);
    } else if (!strcmp(cmd, "send")) {
        /* --count N: N messages in this one session (the rate limit's lesson) */
        long n = c->max_polls ? c->max_polls : 1, stored = 0;
        for (long i = 0; i < n; i++)
            stored += msg_compose(c, &ch, c->to, stdin_text ? stdin_text : argv[0], text_len) == EXIT_OK;
        if (n > 1)
            result("%ld of %ld messages stored", stored, n);
        rc = stored == n ? EXIT_OK : EXIT_FAILED;
    } else if (!strcmp(cmd, "inbox")) {
        rc = msg_inbox(c, &ch, c->all);
    } else if (!strcmp(cmd, "read")) {
        rc = msg_read(c, &ch, id);
    } else if (!strcmp(cmd, "delete")) {
        json_t *a = NULL;
        if (msg_op(c, &ch, "delete", json_pack("{s:I}", "id", (json_int_t)id), &a) == 0 && answer_ok("delete", a)) {
            result("message %lld deleted from your inbox", id);
            rc = EXIT_OK;
        }
        json_decref(a);
    } else {
        rc = msg_receipts(c, &ch);
    }
    free(stdin_text);
    if (channel_close(c, &ch, "done") != 0)
        rc = EXIT_FAILED;
    channel_free(&ch);
    return rc;
}
