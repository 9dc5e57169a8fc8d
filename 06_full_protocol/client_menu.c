/* SPDX-License-Identifier: MIT */
/*
 * client_menu.c - 06-client menu: R4's interactive client (log in, compose,
 * read unread, read all, receipts, notifications, exit), over one session.
 *
 * R4's LOGIN sent a user name and a password hash the client computed (so
 * the stored value was the password). Here "log in" is a HELLO signed by
 * the enrolled device key, bound to this TLS connection: no password
 * travels, and every choice after it is a signed op in that session, so
 * the server knows who is asking without being told.
 *
 * Prompts go to stdout and answers come from stdin, one line each: it works
 * in a terminal and scripted alike (no tty needed; tests drive it through
 * tmux). End of input at any prompt is "exit": the session is CLOSEd, its
 * keys wiped and its token revoked, exactly as choosing 6.
 */
#include <jansson.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_messages.h"
#include "core/cli.h"
#include "pki/pki.h"

static char line[CLIENT_TEXT_MAX + 2]; /* one message's text, its newline, the NUL */

/* Prompt, then read one line without its newline; NULL at end of input.
 * A line over 64 KiB is refused whole (R4 cut it) and read to its end. */
static const char *ask(const char *prompt)
{
    for (;;) {
        fputs(prompt, stdout);
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin))
            return NULL;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') {
            line[--n] = '\0';
            if (n && line[n - 1] == '\r')
                line[--n] = '\0';
            return line;
        }
        if (feof(stdin))
            return line; /* the last line, without a newline */
        int ch;
        while ((ch = getchar()) != EOF && ch != '\n')
            ;
        errorf("menu", "that line is over %u bytes: a message is at most 64 KiB, sent whole or not at all "
               "(nothing was sent)", CLIENT_TEXT_MAX);
    }
}

/* After a choice failed: was it refused (the session is fine), or is the
 * session gone (idled out, ended by an administrator, a server restart)?
 * A poll tells; when it fails too, log in again with a new HELLO, as R4's
 * user would have had to. 0 when there is a session to go on with. */
static int still_logged_in(client *c, channel *ch)
{
    json_t *a = NULL;
    int ok = msg_op(c, ch, "poll", json_object(), &a) == 0;
    json_decref(a);
    if (ok)
        return 0;
    printf("the session has ended (idle, or ended by the server): logging in again\n");
    channel_free(ch);
    if (channel_open(c, ch, NULL) != 0)
        return -1;
    printf("logged in again; choose again\n");
    return msg_counters(c, ch) == EXIT_OK ? 0 : -1;
}

static const char MENU[] = "\n"
                           "  1) compose          2) read unread      3) read all\n"
                           "  4) receipts         5) notifications    6) exit\n";

int client_menu(client *c)
{
    channel ch;
    char me[128] = "?", serial[80] = "?";
    const char *a;
    int eof = 0;

    printf("06-client menu: R4's client, inside a signed, encrypted session (server %s)\n", c->url);
    printf("logging in: HELLO signed by the device key in %s\n", c->home);
    fflush(stdout);
    if (channel_open(c, &ch, NULL) != 0) {
        channel_free(&ch);
        return EXIT_FAILED;
    }
    X509_NAME_get_text_by_NID(X509_get_subject_name(ch.cert), NID_commonName, me, sizeof me);
    pki_serial_hex(X509_get0_serialNumber(ch.cert), serial, sizeof serial);
    printf("logged in as %s (device %s)\n", me, serial);
    msg_counters(c, &ch); /* R4's LOGIN answered with the unread and notification counts */
    for (int failed = 0;; failed = 0) {
        fputs(MENU, stdout);
        if (!(a = ask("choice> "))) {
            eof = 1;
            break;
        }
        if (!strcmp(a, "1") || !strcmp(a, "compose")) {
            char to[128];
            if (!(a = ask("to> "))) {
                eof = 1;
                break;
            }
            snprintf(to, sizeof to, "%s", a);
            if (!(a = ask("text> "))) {
                eof = 1;
                break;
            }
            if (!*a)
                printf("(empty: nothing sent)\n");
            else
                failed = msg_compose(c, &ch, to, a, strlen(a)) != EXIT_OK;
        } else if (!strcmp(a, "2") || !strcmp(a, "read unread")) {
            failed = msg_inbox(c, &ch, 0) != EXIT_OK;
        } else if (!strcmp(a, "3") || !strcmp(a, "read all")) {
            failed = msg_inbox(c, &ch, 1) != EXIT_OK;
        } else if (!strcmp(a, "4") || !strcmp(a, "receipts")) {
            failed = msg_receipts(c, &ch) != EXIT_OK;
        } else if (!strcmp(a, "5") || !strcmp(a, "notifications")) {
            failed = msg_counters(c, &ch) != EXIT_OK;
        } else if (!strcmp(a, "6") || !strcmp(a, "exit") || !strcmp(a, "q")) {
            break;
        } else if (*a) {
            printf("'%.40s'? choose 1 to 6\n", a);
        }
        fflush(stdout);
        if (failed && still_logged_in(c, &ch) != 0) {
            channel_free(&ch);
            return EXIT_FAILED;
        }
    }
    if (eof)
        printf("\n(end of input: exit)\n");
    int rc = channel_close(c, &ch, eof ? "menu: end of input" : "menu: exit") == 0 ? EXIT_OK : EXIT_FAILED;
    channel_free(&ch);
    printf("bye\n");
    fflush(stdout);
    return rc;
}
