/* SPDX-License-Identifier: MIT */
/* narrate.c - see narrate.h */
#include "core/narrate.h"

#include <ctype.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_prog = "course";
static const char *g_role = NULL;
static int g_quiet, g_verbose, g_color;
static unsigned g_step;
/* One lock for stdout and stderr so lines from server threads never interleave. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

#define C_RESET "\033[0m"
#define C_STEP "\033[1m"
#define C_OUT "\033[36m"
#define C_IN "\033[33m"
#define C_ERR "\033[1;31m"

void narrate_init(const char *prog, const char *role)
{
    const char *nc = getenv("NO_COLOR");
    g_prog = prog;
    g_role = role;
    g_color = isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0');
}

void narrate_set_level(int quiet, int verbose)
{
    g_quiet = quiet;
    g_verbose = verbose && !quiet;
}

int narrate_is_verbose(void) { return g_verbose; }
const char *narrate_prog(void) { return g_prog; }

/* Text from the network ends up in these lines (URIs, headers, bodies, a
 * peer's error). Control bytes would let a peer forge narration lines
 * ("\n[server] -> ...") or send escape sequences to the learner's terminal,
 * so each one is shown as \xNN instead. Tabs stay. */
static void make_printable(char *out, size_t cap, const char *in)
{
    size_t o = 0;
    for (; *in && o + 5 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* vsnprintf, then make_printable */
static void format_printable(char *out, size_t cap, const char *fmt, va_list ap)
{
    char raw[4096];
    vsnprintf(raw, sizeof raw, fmt, ap);
    make_printable(out, cap, raw);
}

/* Print "[role] <mark>text" with an optional colour; caller holds no lock. */
static void emit(const char *color, const char *mark, const char *fmt, va_list ap)
{
    char text[4096 * 4];
    format_printable(text, sizeof text, fmt, ap);
    pthread_mutex_lock(&g_lock);
    if (g_color && color)
        fputs(color, stdout);
    if (g_role)
        printf("[%s] ", g_role);
    fputs(mark, stdout);
    fputs(text, stdout);
    if (g_color && color)
        fputs(C_RESET, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&g_lock);
}

void step(const char *fmt, ...)
{
    char mark[16];
    va_list ap;
    if (g_quiet)
        return;
    pthread_mutex_lock(&g_lock);
    snprintf(mark, sizeof mark, "%u. ", ++g_step);
    pthread_mutex_unlock(&g_lock);
    va_start(ap, fmt);
    emit(C_STEP, mark, fmt, ap);
    va_end(ap);
}

void note(const char *fmt, ...)
{
    va_list ap;
    if (g_quiet)
        return;
    va_start(ap, fmt);
    emit(NULL, "   ", fmt, ap);
    va_end(ap);
}

void wire_out(const char *fmt, ...)
{
    va_list ap;
    if (g_quiet)
        return;
    va_start(ap, fmt);
    emit(C_OUT, "-> ", fmt, ap);
    va_end(ap);
}

void wire_in(const char *fmt, ...)
{
    va_list ap;
    if (g_quiet)
        return;
    va_start(ap, fmt);
    emit(C_IN, "<- ", fmt, ap);
    va_end(ap);
}

void hexdump(const char *label, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (!g_verbose)
        return;
    pthread_mutex_lock(&g_lock);
    if (g_role)
        printf("[%s] ", g_role);
    printf("   %s (%zu bytes)\n", label, len);
    for (size_t off = 0; off < len; off += 16) {
        size_t n = len - off < 16 ? len - off : 16;
        printf("      %06zx  ", off);
        for (size_t i = 0; i < 16; i++) {
            if (i < n)
                printf("%02x ", p[off + i]);
            else
                fputs("   ", stdout);
        }
        fputs(" |", stdout);
        for (size_t i = 0; i < n; i++)
            fputc(isprint(p[off + i]) ? p[off + i] : '.', stdout);
        fputs("|\n", stdout);
    }
    fflush(stdout);
    pthread_mutex_unlock(&g_lock);
}

void result(const char *fmt, ...)
{
    char text[4096 * 4];
    va_list ap;
    va_start(ap, fmt);
    format_printable(text, sizeof text, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_lock);
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&g_lock);
}

/* ERR_print_errors_cb callback: OpenSSL's lines carry pid, file and line
 * noise; keep the library, reason and any extra data, which a learner can read. */
static int print_ssl_error(const char *str, size_t len, void *u)
{
    (void)len;
    (void)u;
    /* format: <pid>:error:<code>:<lib>:<func>:<reason>:<file>:<line>:<data> */
    char buf[1024];
    char *field[9] = {0};
    int n = 0;
    char line[1024];
    /* one line per entry: OpenSSL ends each with a newline */
    snprintf(line, sizeof line, "%.*s", (int)strcspn(str, "\n"), str);
    make_printable(buf, sizeof buf, line); /* the data field may quote a peer */
    for (char *s = buf, *c; n < 9 && s; s = c) {
        field[n++] = s;
        c = n < 9 ? strchr(s, ':') : NULL;
        if (c)
            *c++ = '\0';
    }
    if (n >= 6)
        fprintf(stderr, "%s:   openssl: %s (%s)%s%s\n", g_prog, field[5], field[3],
                n == 9 && field[8][0] ? ": " : "", n == 9 ? field[8] : "");
    else
        fprintf(stderr, "%s:   openssl: %s\n", g_prog, buf);
    return 1;
}

void errorf(const char *what, const char *why_fmt, ...)
{
    char why[4096 * 4], what_p[1024];
    va_list ap;
    va_start(ap, why_fmt);
    format_printable(why, sizeof why, why_fmt, ap);
    va_end(ap);
    make_printable(what_p, sizeof what_p, what);
    pthread_mutex_lock(&g_lock);
    fflush(stdout);
    fprintf(stderr, "%s: error: %s: %s\n", g_prog, what_p, why);
    ERR_print_errors_cb(print_ssl_error, NULL);
    fflush(stderr);
    pthread_mutex_unlock(&g_lock);
}

static void to_stderr(const char *prefix, const char *fmt, va_list ap)
{
    char text[4096 * 4];
    format_printable(text, sizeof text, fmt, ap);
    pthread_mutex_lock(&g_lock);
    fflush(stdout);
    fputs(prefix, stderr);
    fputs(text, stderr);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&g_lock);
}

void hint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    to_stderr("hint: ", fmt, ap);
    va_end(ap);
}

void warning(const char *fmt, ...)
{
    char prefix[128];
    va_list ap;
    snprintf(prefix, sizeof prefix, "%s: warning: ", g_prog);
    va_start(ap, fmt);
    to_stderr(prefix, fmt, ap);
    va_end(ap);
}

void notice(const char *fmt, ...)
{
    char prefix[128];
    va_list ap;
    snprintf(prefix, sizeof prefix, "%s: note: ", g_prog);
    va_start(ap, fmt);
    to_stderr(prefix, fmt, ap);
    va_end(ap);
}
