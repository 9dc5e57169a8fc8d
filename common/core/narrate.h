/* SPDX-License-Identifier: MIT */
/*
 * narrate.h - what every course program says, and how it says it.
 *
 * Stdout carries the narration, one line per step:
 *
 *     [client] 1. Connecting to http://127.0.0.1:8001/
 *     [client] -> GET / HTTP/1.1
 *     [client] <- HTTP/1.1 200 OK
 *
 * Steps are numbered in the order they happen. `--quiet` silences narration
 * (results and errors still print); `--verbose` adds hex dumps. Colour is used
 * only when stdout is a terminal and NO_COLOR is not set.
 *
 * Stderr carries errors, always in one shape (docs/ARCHITECTURE.md, "Conventions"):
 *
 *     PROG: error: WHAT: WHY
 *     PROG:   openssl: <each entry of OpenSSL's error queue, in plain words>
 *     hint: what the learner can do about it
 *
 * All functions are safe to call from several threads (civetweb's workers).
 */
#ifndef COURSE_NARRATE_H
#define COURSE_NARRATE_H

#include <stddef.h>

#if defined(__GNUC__)
#define COURSE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define COURSE_PRINTF(a, b)
#endif

/* prog: the program's name for error lines ("01-client").
 * role: the narration prefix ("client", "server", "mitm"), or NULL for none. */
void narrate_init(const char *prog, const char *role);
void narrate_set_level(int quiet, int verbose);
int narrate_is_verbose(void);
const char *narrate_prog(void);

/* "[role] N. text": a numbered step; the counter only goes up. */
void step(const char *fmt, ...) COURSE_PRINTF(1, 2);
/* "[role]    text": a detail under the current step. */
void note(const char *fmt, ...) COURSE_PRINTF(1, 2);
/* "[role] -> text" / "[role] <- text": something sent / received. */
void wire_out(const char *fmt, ...) COURSE_PRINTF(1, 2);
void wire_in(const char *fmt, ...) COURSE_PRINTF(1, 2);
/* Hex dump (offset, hex, ASCII) under a label; only with --verbose. */
void hexdump(const char *label, const void *data, size_t len);
/* The program's result: printed even with --quiet, never coloured. */
void result(const char *fmt, ...) COURSE_PRINTF(1, 2);

/* "PROG: error: WHAT: WHY", then OpenSSL's error queue (which it empties). */
void errorf(const char *what, const char *why_fmt, ...) COURSE_PRINTF(2, 3);
/* "hint: ..." on stderr. */
void hint(const char *fmt, ...) COURSE_PRINTF(1, 2);
/* "PROG: warning: ..." on stderr, loud (used by --insecure style options). */
void warning(const char *fmt, ...) COURSE_PRINTF(1, 2);
/* "PROG: note: ..." on stderr: side remarks that are not narration
 * (for example "writing TLS key log to FILE"). */
void notice(const char *fmt, ...) COURSE_PRINTF(1, 2);

#endif
