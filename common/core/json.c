/* SPDX-License-Identifier: MIT */
/* json.c - see json.h */
#include "core/json.h"

#include <stdio.h>

/* Walk the text once, outside strings, counting how deep [ and { nest.
 * Returns the line/column of the first bracket past the limit, or 0 if fine. */
static int too_deep(const char *buf, size_t len, size_t max_depth, int *line, int *col)
{
    size_t depth = 0;
    int in_str = 0, esc = 0, l = 1, c = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = buf[i];
        c++;
        if (ch == '\n') {
            l++;
            c = 0;
        }
        if (in_str) {
            if (esc)
                esc = 0;
            else if (ch == '\\')
                esc = 1;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max_depth) {
                *line = l;
                *col = c;
                return 1;
            }
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

json_t *json_parse(const char *buf, size_t len, size_t max_depth, char *err, size_t err_len)
{
    json_error_t je;
    json_t *v;
    int line, col;
    if (too_deep(buf, len, max_depth, &line, &col)) {
        snprintf(err, err_len, "line %d, column %d: nesting deeper than %zu levels", line, col,
                 max_depth);
        return NULL;
    }
    v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v)
        snprintf(err, err_len, "line %d, column %d: %s", je.line, je.column, je.text);
    return v;
}

char *json_compact(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

const char *json_get_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}
