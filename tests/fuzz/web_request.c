/* fuzz: bytes as a request's Content-Length and JSON body -> webserver.c's parse_content_length (the framing check's number) and json_parse at the web layer's depth */
/* SPDX-License-Identifier: MIT */
/*
 * The framing checks (check_framing, read_chunked) take civetweb's
 * connection; with civetweb in the loop a run would be a socket round trip.
 * So this target includes webserver.c and drives the course's own pieces
 * on the bytes: the input is "LENGTH\nCONTENT-TYPE\nBODY" (the content type
 * is kept in the format for the corpus, but web_read_json tests it inline
 * on the connection's header, so nothing here reads it).
 *  - parse_content_length: digits only, capped at limit + 1 whatever the
 *    count of digits (no overflow: compared with an exact big-number reading);
 *  - json_parse with JSON_DEFAULT_MAX_DEPTH: what parses is never deeper.
 */
#include "fuzz.h"

#include "../../common/net/webserver.c"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

/* how deep [ and { nest in a parsed value, as json_parse counts them (a
 * scalar is 0, [] is 1, [[0]] is 2) */
static size_t depth_of(json_t *v)
{
    size_t d = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            size_t e = depth_of(x);
            d = e > d ? e : d;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            size_t e = depth_of(x);
            d = e > d ? e : d;
        }
        return d + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *nl1, *nl2;
    char *cl;
    size_t v, limit = 1 << 20;
    json_t *j;

    if (size > 1 << 16 || !(nl1 = memchr(s, '\n', size)) ||
        !(nl2 = memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - s))))
        return -1;
    cl = fuzz_str(data, (size_t)(nl1 - s));
    if (parse_content_length(cl, limit, &v) == 0) {
        /* the exact value, digit by digit with saturation, must agree */
        size_t exact = 0;
        int over = 0;
        for (const char *c = cl; *c; c++) {
            if (*c < '0' || *c > '9')
                abort(); /* took a non-digit */
            if (!over && exact > (limit - (size_t)(*c - '0')) / 10)
                over = 1;
            else if (!over)
                exact = exact * 10 + (size_t)(*c - '0');
        }
        if (over ? v != limit + 1 : v != exact)
            abort();
    }
    j = json_parse(nl2 + 1, size - (size_t)(nl2 + 1 - s), JSON_DEFAULT_MAX_DEPTH, NULL, 0);
    if (j && depth_of(j) > JSON_DEFAULT_MAX_DEPTH)
        abort(); /* deeper than the limit got through */
    json_decref(j);
    free(cl);
    return 0;
}
