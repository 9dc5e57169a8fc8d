/* SPDX-License-Identifier: MIT */
/* redact.c - credentials out of the narration: see net_internal.h. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net_internal.h"

static int is_credential(const char *name, size_t len)
{
    static const char *const names[] = {"Authorization", "Proxy-Authorization", "X-Admin-Token",
                                        "Cookie"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == len && strncasecmp(name, names[i], len) == 0)
            return 1;
    return 0;
}

const char *net_header_shown(const char *name, size_t name_len, const char *value, size_t value_len,
                             char *out, size_t out_len)
{
    if (!is_credential(name, name_len)) {
        snprintf(out, out_len, "%.*s: %.*s", (int)name_len, name, (int)value_len, value);
        return out;
    }
    /* the scheme ("Basic", "Bearer") and 6 characters: enough to tell two
     * apart in a log, far too few to use */
    const char *sp = memchr(value, ' ', value_len);
    size_t scheme = sp ? (size_t)(sp - value) + 1 : 0;
    size_t rest = value_len - scheme, shown = rest < 12 ? 0 : 6;
    snprintf(out, out_len, "%.*s: %.*s%.*s... (%zu characters, a credential: not shown)", (int)name_len,
             name, (int)scheme, value, (int)shown, value + scheme, rest);
    return out;
}
