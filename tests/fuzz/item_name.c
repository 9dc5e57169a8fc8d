/* fuzz: bytes as a file name a sender chose -> item_name_sanitise (06_full_protocol/items.c), and the rule's promises checked on what it returns */
/* SPDX-License-Identifier: MIT */
/*
 * What the rule promises (items.h), checked on every output: only bytes of
 * [A-Za-z0-9._ -], no '/' or '\', no leading dot (so never "." or ".."), not
 * empty, at most ITEM_NAME_MAX bytes; ext is the tail after the last dot;
 * a refusal has a reason and leaves out and ext empty. And the rule is a
 * fixed point: a clean name sanitises to itself.
 */
#include "fuzz.h"

#include "items.h"

static void check_clean(const char *out, const char *ext)
{
    size_t n = strlen(out), e = strlen(ext);
    if (n == 0 || n > ITEM_NAME_MAX || out[0] == '.' || e > ITEM_EXT_MAX)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ' ' || c == '-'))
            abort(); /* a byte outside the alphabet got through */
    }
    if (e && (e >= n || out[n - e - 1] != '.' || strcmp(out + n - e, ext) != 0 || strchr(ext, '.')))
        abort(); /* ext is not the tail after the last dot */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[ITEM_NAME_MAX + 1], ext[ITEM_EXT_MAX + 1], why[200];
    char out2[ITEM_NAME_MAX + 1], ext2[ITEM_EXT_MAX + 1];

    if (size > ITEM_NAME_INPUT_MAX + 16)
        return -1;
    why[0] = '\0';
    if (item_name_sanitise((const char *)data, size, out, ext, why, sizeof why) == 0) {
        check_clean(out, ext);
        if (item_name_sanitise(out, strlen(out), out2, ext2, why, sizeof why) != 0 ||
            strcmp(out, out2) != 0 || strcmp(ext, ext2) != 0)
            abort(); /* a clean name is not its own cleaning */
    } else if (!why[0] || out[0] || ext[0]) {
        abort(); /* a refusal without a reason, or with a half-made name */
    }
    return 0;
}
