/*
 * cli.h - command-line handling in one style for every course program.
 *
 * Each program keeps its own getopt_long table and adds CLI_COMMON_OPTIONS to
 * it; cli_common() handles --help, --quiet and --verbose the same way
 * everywhere. Usage errors exit with status 2 (DESIGN.md section 4):
 *
 *     static const struct option opts[] = {
 *         {"url", required_argument, NULL, 'u'},
 *         CLI_COMMON_OPTIONS,
 *         {0},
 *     };
 *     while ((c = getopt_long(argc, argv, "u:" CLI_COMMON_SHORT, opts, NULL)) != -1)
 *         if (!cli_common(c, USAGE)) switch (c) { ... }
 */
#ifndef COURSE_CLI_H
#define COURSE_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "narrate.h"

/* Exit statuses every program uses. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

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
void cli_help(const char *usage);
/* "PROG: error: usage: ..." plus "try 'PROG --help'", exit 2. */
void cli_usage_error(const char *fmt, ...) COURSE_PRINTF(1, 2);

/* Parsers that accept only the whole string; on a bad value they report a
 * usage error (exit 2) naming the option. */
int cli_port(const char *opt, const char *s);
long cli_long(const char *opt, const char *s, long min, long max);
/* Sizes: plain bytes or with a K/M suffix (KiB/MiB). */
size_t cli_size(const char *opt, const char *s, size_t min, size_t max);

/* Read a whole file (at most max bytes) into a NUL-terminated buffer.
 * Returns NULL and prints an error on failure. */
char *cli_read_file(const char *path, size_t max, size_t *len);

#endif
