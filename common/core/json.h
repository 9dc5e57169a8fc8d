/* SPDX-License-Identifier: MIT */
/*
 * json.h - strict JSON parsing with limits, on top of jansson.
 *
 * Every program that reads JSON from the network goes through json_parse():
 * duplicate keys are refused (two parsers could otherwise disagree on which
 * value counts), nesting depth is capped before jansson sees the text, and a
 * failure names the line and column, as a learner would want.
 */
#ifndef COURSE_JSON_H
#define COURSE_JSON_H

#include <jansson.h>
#include <stddef.h>

#define JSON_DEFAULT_MAX_DEPTH 32

/* Parse exactly one JSON value from buf[0..len). On failure returns NULL and
 * writes "line L, column C: reason" into err. */
json_t *json_parse(const char *buf, size_t len, size_t max_depth, char *err, size_t err_len);

/* Compact one-line serialisation (malloc'ed, free with free()). */
char *json_compact(const json_t *v);

/* Fetch a string member; NULL if absent or not a string. */
const char *json_get_str(const json_t *obj, const char *key);

#endif
