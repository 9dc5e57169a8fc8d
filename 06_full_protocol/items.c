/* SPDX-License-Identifier: MIT */
/* items.c - R5's typed items as strict JSON, and the file-name rule (items.h says both). */
#include "items.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/json.h"

static int refuse(char *why, size_t why_len, const char *text)
{
    if (why && why_len)
        snprintf(why, why_len, "%s", text);
    return -1;
}

int item_name_sanitise(const char *in, size_t len, char out[ITEM_NAME_MAX + 1], char ext[ITEM_EXT_MAX + 1],
                       char *why, size_t why_len)
{
    out[0] = ext[0] = '\0';
    if (!in || len == 0)
        return refuse(why, why_len, "the file name is empty");
    if (len > ITEM_NAME_INPUT_MAX)
        return refuse(why, why_len, "the file name is over 4096 bytes");
    /* refused before anything is cut: a control character anywhere, even in a folder part we drop */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == 0)
            return refuse(why, why_len, "the file name contains a NUL byte");
        if (ch < 0x20 || ch == 0x7f)
            return refuse(why, why_len, "the file name contains a control character");
    }
    /* the last component: a name never says where a file goes */
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
        if (in[i] == '/' || in[i] == '\\')
            start = i + 1;
    while (start < len && in[start] == '.') /* ".", "..", ".bashrc": no hidden file, no way up */
        start++;
    size_t n = len - start;
    if (n == 0)
        return refuse(why, why_len, "nothing is left of the file name once folders and leading dots are taken "
                                  "away");
    if (n > ITEM_NAME_MAX)
        return refuse(why, why_len, "the file name is over 128 bytes");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[start + i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                 ch == '_' || ch == ' ' || ch == '-';
        out[i] = ok ? (char)ch : '_';
    }
    out[n] = '\0';
    const char *dot = strrchr(out, '.');
    if (dot && dot[1] && strlen(dot + 1) <= ITEM_EXT_MAX)
        memcpy(ext, dot + 1, strlen(dot + 1) + 1);
    return 0;
}

const char *item_type_str(item_type t)
{
    switch (t) {
    case ITEM_BYTES: return "bytes";
    case ITEM_TEXT: return "text";
    case ITEM_OBJECT: return "object";
    case ITEM_LIST: return "list";
    case ITEM_FILE: return "file";
    }
    return "?";
}

/* exactly {"type", member}: another member is refused, naming it */
static int only_members(const json_t *o, const char *member, const char *type, char *why, size_t why_len)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        (void)v;
        if (strcmp(k, "type") != 0 && strcmp(k, member) != 0) {
            if (why && why_len)
                snprintf(why, why_len, "a %s item has only \"type\" and \"%s\", not \"%.40s\"", type, member, k);
            return -1;
        }
    }
    if (!json_object_get(o, member)) {
        if (why && why_len)
            snprintf(why, why_len, "a %s item needs \"%s\"", type, member);
        return -1;
    }
    return 0;
}

static int is_hex32(const char *s)
{
    if (!s || strlen(s) != 32)
        return 0;
    for (size_t i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static uint8_t *dup_bytes(const char *s, size_t n)
{
    uint8_t *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

int item_parse(const uint8_t *json, size_t len, item *out, char *why, size_t why_len)
{
    char err[160];
    json_t *o = NULL;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (!json)
        return refuse(why, why_len, "no item");
    if (len > ITEM_JSON_MAX)
        return refuse(why, why_len, "the item is over 512 KiB of JSON (a file goes by file_begin and chunks)");
    /* the only decoder: JSON, strict, depth-capped. Whatever else the bytes are (a pickle...), they stop here */
    if (!(o = json_parse((const char *)json, len, ITEM_JSON_DEPTH, err, sizeof err))) {
        if (why && why_len)
            snprintf(why, why_len, "the item is not JSON: %s", err);
        return -1;
    }
    if (!json_is_object(o)) {
        refuse(why, why_len, "the item must be a JSON object {\"type\": ..., ...}");
        goto out;
    }
    const char *type = json_get_str(o, "type");
    if (!type) {
        refuse(why, why_len, "the item has no \"type\" (bytes, text, object, list or file)");
        goto out;
    }
    if (!strcmp(type, "bytes")) {
        out->type = ITEM_BYTES;
        if (only_members(o, "data", type, why, why_len) != 0)
            goto out;
        json_t *d = json_object_get(o, "data");
        if (!json_is_string(d)) {
            refuse(why, why_len, "a bytes item's \"data\" is a base64url string");
            goto out;
        }
        if (json_string_length(d) > (ITEM_INLINE_MAX / 3 + 1) * 4) {
            refuse(why, why_len, "a bytes item carries at most 256 KiB (send a file for more)");
            goto out;
        }
        if (b64url_decode(json_string_value(d), json_string_length(d), B64_NO_PAD, &out->data, &out->len) != 0) {
            refuse(why, why_len, "a bytes item's \"data\" is not base64url without padding");
            goto out;
        }
        if (out->len > ITEM_INLINE_MAX) {
            refuse(why, why_len, "a bytes item carries at most 256 KiB (send a file for more)");
            goto out;
        }
    } else if (!strcmp(type, "text")) {
        out->type = ITEM_TEXT;
        if (only_members(o, "text", type, why, why_len) != 0)
            goto out;
        json_t *t = json_object_get(o, "text");
        if (!json_is_string(t)) { /* jansson took it only if it is UTF-8; json_parse refuses \u0000 */
            refuse(why, why_len, "a text item's \"text\" is a JSON string");
            goto out;
        }
        if (json_string_length(t) > ITEM_INLINE_MAX) {
            refuse(why, why_len, "a text item is at most 256 KiB");
            goto out;
        }
        out->len = json_string_length(t);
        out->data = dup_bytes(json_string_value(t), out->len);
        if (!out->data) {
            refuse(why, why_len, "out of memory");
            goto out;
        }
    } else if (!strcmp(type, "object") || !strcmp(type, "list")) {
        int is_obj = type[0] == 'o';
        out->type = is_obj ? ITEM_OBJECT : ITEM_LIST;
        if (only_members(o, "value", type, why, why_len) != 0)
            goto out;
        json_t *v = json_object_get(o, "value");
        if (is_obj ? !json_is_object(v) : !json_is_array(v)) {
            refuse(why, why_len, is_obj ? "an object item's \"value\" must be a JSON object {...}"
                                      : "a list item's \"value\" must be a JSON array [...]");
            goto out;
        }
        char *text = json_compact(v);
        if (!text) {
            refuse(why, why_len, "out of memory");
            goto out;
        }
        out->len = strlen(text);
        out->data = (uint8_t *)text;
        if (out->len > ITEM_INLINE_MAX) {
            refuse(why, why_len, "an object or list item is at most 256 KiB of JSON");
            goto out;
        }
    } else if (!strcmp(type, "file")) {
        out->type = ITEM_FILE;
        if (only_members(o, "file_id", type, why, why_len) != 0)
            goto out;
        const char *id = json_get_str(o, "file_id");
        if (!is_hex32(id)) {
            refuse(why, why_len, "a file item's \"file_id\" is the 32 lower-case hex digits file_begin gave");
            goto out;
        }
        memcpy(out->file_id, id, 33);
    } else {
        refuse(why, why_len, "unknown item type (bytes, text, object, list or file)");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    if (rc != 0)
        item_free(out);
    return rc;
}

void item_free(item *it)
{
    if (!it)
        return;
    free(it->data);
    memset(it, 0, sizeof *it);
}
