/* SPDX-License-Identifier: MIT */
/* cli.c - see cli.h */
#include "core/cli.h"

#include "core/encoding.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* ---- the options servers and clients share ---------------------------------- */

enum { OPT_THREADS = 0x100, OPT_URL = 'u' };

static const struct option SERVER_OPTIONS[] = {
    {"port", required_argument, NULL, 'p'},
    {"host", required_argument, NULL, 'H'},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-body", required_argument, NULL, 'm'},
    {0},
};
static struct option CLIENT_OPTIONS[] = {
    {"url", required_argument, NULL, OPT_URL},
    {"server", required_argument, NULL, OPT_URL},
    {NULL, required_argument, NULL, 'P'}, /* --post or --send, named by the program */
    {NULL, required_argument, NULL, 'F'}, /* and its -file twin */
    {0},
};
static const struct option COMMON_OPTIONS[] = {CLI_COMMON_OPTIONS, {0}};

cli_server cli_server_defaults(int port)
{
    cli_server s = {"127.0.0.1", port, COURSE_THREADS_DEFAULT, COURSE_MAX_BODY_DEFAULT};
    return s;
}

cli_client cli_client_defaults(const char *scheme_host, int port)
{
    static char url[128];
    cli_client c = {url, NULL, NULL};
    snprintf(url, sizeof url, "%s:%d", scheme_host, port);
    return c;
}

static size_t count_options(const struct option *o)
{
    size_t n = 0;
    while (o && o[n].name)
        n++;
    return n;
}

/* the chapter's options, then the shared ones, then --help/--quiet/--verbose */
static struct option *merge_options(const struct option *own, const struct option *shared)
{
    size_t a = count_options(own), b = count_options(shared), c = count_options(COMMON_OPTIONS);
    struct option *all = calloc(a + b + c + 1, sizeof *all);
    if (!all) {
        errorf("command line", "out of memory");
        exit(EXIT_FAILED);
    }
    if (a)
        memcpy(all, own, a * sizeof *all);
    memcpy(all + a, shared, b * sizeof *all);
    memcpy(all + a + b, COMMON_OPTIONS, c * sizeof *all);
    return all;
}

static const char *size_text(size_t n, char *buf, size_t len)
{
    if (n % (1024 * 1024) == 0)
        snprintf(buf, len, "%zuM", n / (1024 * 1024));
    else if (n % 1024 == 0)
        snprintf(buf, len, "%zuK", n / 1024);
    else
        snprintf(buf, len, "%zu", n);
    return buf;
}

/* The usage text: built from the defaults, so it cannot drift from them. */
static char *usage_text(const cli_program *p, const cli_server *srv, const cli_client *cl)
{
    char *text = NULL, size[32];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        errorf("command line", "out of memory");
        exit(EXIT_FAILED);
    }
    if (srv)
        fprintf(f, "usage: %s [--port N] [--host ADDR] [--threads N] [--max-body SIZE]\n",
                narrate_prog());
    else
        fprintf(f, "usage: %s [--url URL]\n", narrate_prog());
    fprintf(f, "       %*s %s[--quiet] [--verbose]\n\n", (int)strlen(narrate_prog()), "",
            p->synopsis ? p->synopsis : "");
    fprintf(f, "%s\n", p->about ? p->about : "");
    if (p->options_help)
        fputs(p->options_help, f);
    if (srv) {
        fprintf(f, "  --port N         port to listen on (default %d; 0 = any free port)\n",
                srv->port);
        fprintf(f, "  --host ADDR      address to listen on (default %s; ::1 for IPv6)\n",
                srv->host);
        fprintf(f, "  --threads N      worker threads = connections served at once (default %d)\n",
                srv->threads);
        fprintf(f, "  --max-body SIZE  largest request body accepted (default %s; K/M suffixes)\n",
                size_text(srv->max_body, size, sizeof size));
        fputs("  -q, --quiet      print only the 'listening on URL' line and errors\n"
              "  -v, --verbose    also dump request and response bodies in hex\n",
              f);
    } else {
        fprintf(f, "  --url URL        the server (default %s); --server is an alias\n", cl->url);
        fputs("  -q, --quiet      print only the result and errors\n"
              "  -v, --verbose    also dump bodies in hex and libcurl's connection steps\n",
              f);
    }
    fputs("  -h, --help       this text\n\n", f);
    if (p->epilogue)
        fputs(p->epilogue, f);
    else if (srv)
        fputs("The first line on stdout is 'listening on URL'. Stop with Ctrl-C (exit 0).\n", f);
    else
        fputs("Exit status: 0 success, 1 the request failed or the server said no, 2 usage.\n", f);
    fclose(f);
    return text;
}

static void parse(int argc, char **argv, const cli_program *p, cli_server *srv, cli_client *cl)
{
    static char body_name[32], body_file_name[40];
    struct option *all;
    char shorts[128];
    int c;

    /* a client's body option takes the name its program gives it (--post in
     * 01 and 05, --send in 02-04); without one, the table ends before it */
    if (cl && p->body_option) {
        snprintf(body_name, sizeof body_name, "%s", p->body_option);
        snprintf(body_file_name, sizeof body_file_name, "%s-file", p->body_option);
        CLIENT_OPTIONS[2].name = body_name;
        CLIENT_OPTIONS[3].name = body_file_name;
    }
    all = merge_options(p->options, srv ? SERVER_OPTIONS : CLIENT_OPTIONS);
    snprintf(shorts, sizeof shorts, "%s%s" CLI_COMMON_SHORT, p->short_options ? p->short_options : "",
             srv ? "p:H:m:" : cl && p->body_option ? "u:P:F:" : "u:");
    while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
        if (c == 'h') {
            static char *usage; /* static: still reachable when exit() runs */
            usage = usage_text(p, srv, cl);
            free(all);
            cli_help(usage);
        }
        if (cli_common(c, ""))
            continue;
        if (srv && c == 'p')
            srv->port = cli_port("--port", optarg);
        else if (srv && c == 'H')
            srv->host = optarg;
        else if (srv && c == OPT_THREADS)
            srv->threads = (int)cli_long("--threads", optarg, 1, COURSE_THREADS_LIMIT);
        else if (srv && c == 'm')
            srv->max_body = cli_size("--max-body", optarg, 1, COURSE_MAX_BODY_LIMIT);
        else if (cl && c == OPT_URL)
            cl->url = optarg;
        else if (cl && p->body_option && c == 'P')
            cl->body = optarg;
        else if (cl && p->body_option && c == 'F')
            cl->body_file = optarg;
        else if (!p->option || !p->option(c, optarg, p->ctx))
            cli_usage_error("option '%s' is not handled (a bug in this program)", argv[optind - 1]);
    }
    free(all);
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (cl && cl->body && cl->body_file)
        cli_usage_error("--%s and --%s exclude each other", body_name, body_file_name);
}

int cli_client_body(const cli_client *cl, char **body, size_t *len)
{
    *body = NULL;
    *len = 0;
    if (cl->body) {
        *len = strlen(cl->body);
        if (!(*body = malloc(*len + 1))) {
            errorf("command line", "out of memory");
            return -1;
        }
        memcpy(*body, cl->body, *len + 1);
        return 1;
    }
    if (cl->body_file)
        return (*body = cli_read_file(cl->body_file, COURSE_CLIENT_BODY_LIMIT, len)) ? 1 : -1;
    return 0;
}

void cli_parse_server(int argc, char **argv, const cli_program *prog, cli_server *srv)
{
    parse(argc, argv, prog, srv, NULL);
}

void cli_parse_client(int argc, char **argv, const cli_program *prog, cli_client *cl)
{
    parse(argc, argv, prog, NULL, cl);
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
                encoding_free_secret(buf, n);
                fclose(f);
                return NULL;
            }
            /* grow by hand, not realloc: key and passphrase files come through
             * here, and the old copy is wiped, not just freed */
            nb = malloc(ncap + 1);
            if (!nb) {
                errorf(path, "out of memory");
                encoding_free_secret(buf, n);
                fclose(f);
                return NULL;
            }
            if (n)
                memcpy(nb, buf, n);
            encoding_free_secret(buf, n);
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
        encoding_free_secret(buf, n);
        fclose(f);
        return NULL;
    }
    fclose(f);
    if (n > max) {
        errorf(path, "file is larger than %zu bytes", max);
        encoding_free_secret(buf, n);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int cli_mode_open(mode_t mode)
{
    return (mode & 077) != 0;
}

int cli_warn_if_open(const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) != 0 || !cli_mode_open(st.st_mode))
        return 0;
    warning("%s %s can be read by other users; run: chmod 600 %s", what, path, path);
    return 1;
}
