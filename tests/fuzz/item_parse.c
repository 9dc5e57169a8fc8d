/* fuzz: bytes as a typed item's JSON (what `06-client send` carries) -> item_parse (06_full_protocol/items.c) */
/* SPDX-License-Identifier: MIT */
/*
 * R5 unpickled what arrived. Here an item is JSON read by json_parse only;
 * the checks: a parsed item has a known type, its data is NUL-terminated and
 * within ITEM_INLINE_MAX, a file item has 32 lower-case hex digits, an
 * object's data parses back as an object and a list's as an array, and a
 * refusal has a reason.
 */
#include "fuzz.h"

#include "core/json.h"
#include "items.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    item it;
    char why[200];

    if (size > 1 << 16)
        return -1;
    why[0] = '\0';
    if (item_parse(data, size, &it, why, sizeof why) == 0) {
        switch (it.type) {
        case ITEM_BYTES:
        case ITEM_TEXT:
            if (!it.data || it.data[it.len] != '\0' || it.len > ITEM_INLINE_MAX)
                abort();
            break;
        case ITEM_OBJECT:
        case ITEM_LIST: {
            json_t *v = json_parse((const char *)it.data, it.len, ITEM_JSON_DEPTH + 1, NULL, 0);
            if (!v || (it.type == ITEM_OBJECT ? !json_is_object(v) : !json_is_array(v)))
                abort(); /* the value is not what its type says */
            json_decref(v);
            break;
        }
        case ITEM_FILE:
            if (strlen(it.file_id) != 32 || strspn(it.file_id, "0123456789abcdef") != 32)
                abort();
            break;
        default:
            abort();
        }
        item_free(&it);
    } else if (!why[0]) {
        abort();
    }
    return 0;
}
