/* cli.c - see cli.h */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_help(const char *usage)
{
    fputs(usage, stdout);
    exit(EXIT_OK);
}

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: error: usage: ", narrate_prog());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry '%s --help'\n", narrate_prog());
    exit(EXIT_USAGE);
}

int cli_common(int c, const char *usage)
{
    static int quiet, verbose;
    switch (c) {
    case 'h':
        cli_help(usage);
        return 1;
    case 'q':
        quiet = 1;
        narrate_set_level(quiet, verbose);
        return 1;
    case 'v':
        verbose = 1;
        narrate_set_level(quiet, verbose);
        return 1;
    case '?':
    case ':':
        /* getopt already said what was wrong */
        fprintf(stderr, "try '%s --help'\n", narrate_prog());
        exit(EXIT_USAGE);
    default:
        return 0;
    }
}

long cli_long(const char *opt, const char *s, long min, long max)
{
    char *end = NULL;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        cli_usage_error("%s: '%s' is not a whole number from %ld to %ld", opt, s, min, max);
    return v;
}

int cli_port(const char *opt, const char *s)
{
    return (int)cli_long(opt, s, 0, 65535);
}

size_t cli_size(const char *opt, const char *s, size_t min, size_t max)
{
    char *end = NULL;
    unsigned long long v;
    errno = 0;
    if (s[0] == '-')
        cli_usage_error("%s: '%s' is negative", opt, s);
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        cli_usage_error("%s: '%s' is not a size", opt, s);
    if (*end == 'K' || *end == 'k' || *end == 'M' || *end == 'm') {
        unsigned long long unit = (*end == 'K' || *end == 'k') ? 1024ULL : 1024ULL * 1024;
        if (v > max / unit) /* also keeps v * unit from wrapping */
            cli_usage_error("%s: '%s' must be from %zu to %zu bytes (K and M suffixes allowed)",
                            opt, s, min, max);
        v *= unit;
        end++;
    }
    if (*end != '\0' || v < min || v > max)
        cli_usage_error("%s: '%s' must be from %zu to %zu bytes (K and M suffixes allowed)", opt, s,
                        min, max);
    return (size_t)v;
}

char *cli_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f) {
        errorf(path, "%s", strerror(errno));
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb;
            if (ncap > max + 1)
                ncap = max + 1;
            if (ncap <= n) {
                errorf(path, "file is larger than %zu bytes", max);
                free(buf);
                fclose(f);
                return NULL;
            }
            nb = realloc(buf, ncap + 1);
            if (!nb) {
                errorf(path, "out of memory");
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        errorf(path, "read failed: %s", strerror(errno));
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    if (n > max) {
        errorf(path, "file is larger than %zu bytes", max);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}
