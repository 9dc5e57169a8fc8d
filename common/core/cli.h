/* SPDX-License-Identifier: MIT */
/*
 * cli.h - command-line handling in one style for every course program.
 *
 * Servers and clients share their options: cli_parse_server() and
 * cli_parse_client() parse them, build the usage text from the defaults
 * (ports and limits below are defined here once) and hand a chapter only the
 * options it adds, through its own callback:
 *
 *     static int option(int c, const char *arg, void *ctx)
 *     {
 *         switch (c) {
 *         case 'k': ((state *)ctx)->key_file = arg; return 1;
 *         }
 *         return 0;
 *     }
 *     static const struct option own[] = {{"key-file", required_argument, NULL, 'k'}, {0}};
 *     cli_program prog = {.synopsis = "[--key-file F]", .about = ABOUT,
 *                         .options_help = OWN_HELP, .options = own, .short_options = "k:",
 *                         .option = option, .ctx = &st};
 *     cli_server srv = cli_server_defaults(COURSE_PORT(2));
 *     cli_parse_server(argc, argv, &prog, &srv);
 *
 * Tools with subcommands keep their own getopt_long table and add
 * CLI_COMMON_OPTIONS to it; cli_common() handles --help, --quiet and
 * --verbose the same way everywhere. Usage errors exit with status 2
 * (docs/ARCHITECTURE.md, "Conventions").
 */
#ifndef COURSE_CLI_H
#define COURSE_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/narrate.h"

/* Exit statuses every program uses. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* Each chapter's default port, so chapters run side by side: 8001..8006. */
#define COURSE_PORT(chapter) (8000 + (chapter))
/* Request bodies: the default limit, and the most --max-body may set. */
#define COURSE_MAX_BODY_DEFAULT (1024 * 1024)
#define COURSE_MAX_BODY_LIMIT (64 * 1024 * 1024)
/* Worker threads: the default (one per connection served at once), the most. */
#define COURSE_THREADS_DEFAULT 8
#define COURSE_THREADS_LIMIT 1024

/* A chapter program's own part of the command line. */
typedef struct cli_program {
    const char *synopsis;       /* its options for the usage line, e.g. "[--key-file F]" */
    const char *about;          /* what it does, shown after the usage line */
    const char *options_help;   /* one line per own option, aligned like the shared ones */
    const char *epilogue;       /* the last paragraph, or NULL for the usual one */
    const struct option *options; /* own long options, {0}-terminated, or NULL */
    const char *short_options;  /* own short options for getopt, or NULL */
    /* clients: "post" or "send" adds --NAME TEXT and --NAME-file FILE (-P and
     * -F), the body to send, which exclude each other; NULL for none */
    const char *body_option;
    /* called for each own option; returns 1 if it took it. It may call
     * cli_usage_error() for a bad value. */
    int (*option)(int c, const char *arg, void *ctx);
    void *ctx;
} cli_program;

/* What every server takes: --port, --host, --threads, --max-body. */
typedef struct cli_server {
    const char *host;
    int port;
    int threads;
    size_t max_body;
} cli_server;

/* What every client takes: --url (alias --server), and the body to send
 * when the program names a body_option. */
typedef struct cli_client {
    const char *url;
    const char *body;      /* --post TEXT / --send TEXT, or NULL */
    const char *body_file; /* --post-file F / --send-file F, or NULL */
} cli_client;

/* The largest body a client reads from a file. */
#define COURSE_CLIENT_BODY_LIMIT (16 * 1024 * 1024)

/* The default URL of a chapter's server, e.g. ("http://127.0.0.1", 8001);
 * the text lives in a static buffer (a program has one command line). */
cli_client cli_client_defaults(const char *scheme_host, int port);
/* 127.0.0.1:port, COURSE_THREADS_DEFAULT threads, the default body limit. */
cli_server cli_server_defaults(int port);
/* Parse a server's command line: the shared options into srv (whose values
 * going in are the defaults the usage text shows), the chapter's own through
 * prog->option. --help prints the usage and exits 0; a usage error exits 2;
 * extra arguments are a usage error. */
void cli_parse_server(int argc, char **argv, const cli_program *prog, cli_server *srv);
/* The same for a client; cl->url going in is the default. */
void cli_parse_client(int argc, char **argv, const cli_program *prog, cli_client *cl);
/* The body the command line named: 1 with a malloc'ed copy of --NAME TEXT,
 * or of FILE for --NAME-file (at most COURSE_CLIENT_BODY_LIMIT bytes); free
 * it with encoding_free_secret (it may be a secret). 0 if none was named; -1
 * after printing why the file cannot be read. */
int cli_client_body(const cli_client *cl, char **body, size_t *len);

#define CLI_COMMON_OPTIONS                                                                     \
    {"help", no_argument, NULL, 'h'}, {"quiet", no_argument, NULL, 'q'},                       \
    {                                                                                          \
        "verbose", no_argument, NULL, 'v'                                                      \
    }
#define CLI_COMMON_SHORT "hqv"

/* Handle -h/-q/-v and getopt's '?' (unknown option: exit 2).
 * Returns 1 if c was one of them, 0 if the caller should handle it. */
int cli_common(int c, const char *usage);
/* Print usage to stdout and exit 0. */
_Noreturn void cli_help(const char *usage);
/* "PROG: error: usage: ..." plus "try 'PROG --help'", exit 2. */
_Noreturn void cli_usage_error(const char *fmt, ...) COURSE_PRINTF(1, 2);

/* Parsers that accept only the whole string; on a bad value they report a
 * usage error (exit 2) naming the option. */
int cli_port(const char *opt, const char *s);
long cli_long(const char *opt, const char *s, long min, long max);
/* Sizes: plain bytes or with a K/M suffix (KiB/MiB). */
size_t cli_size(const char *opt, const char *s, size_t min, size_t max);

/* Read a whole file (at most max bytes) into a NUL-terminated buffer.
 * Returns NULL and prints an error on failure. */
char *cli_read_file(const char *path, size_t max, size_t *len);

/* Files for their owner alone. One rule for every secret file and private
 * folder (key files, token keys, enrolment codes, data folders): a mode
 * that gives the group or others any permission (mode & 077) is open.
 * cli_mode_open(mode) is 1 for such a mode, 0 for 0600, 0700 and the like;
 * the callers decide whether an open mode is refused or only warned about. */
int cli_mode_open(mode_t mode);
/* Like ssh: "PROG: warning: WHAT PATH can be read by other users; run:
 * chmod 600 PATH" on stderr when PATH's mode is open. Returns 1 if it
 * warned, 0 if not (also when PATH cannot be stat'ed: reading it reports
 * that). */
int cli_warn_if_open(const char *path, const char *what);

#endif
