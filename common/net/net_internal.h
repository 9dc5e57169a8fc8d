/* SPDX-License-Identifier: MIT */
/*
 * net_internal.h - what webserver.c and httpclient.c share, and nobody else.
 */
#ifndef COURSE_NET_INTERNAL_H
#define COURSE_NET_INTERNAL_H

#include <stddef.h>

/* A header line as the narration shows it: as it is, except that the value of
 * a credential header (Authorization, Proxy-Authorization, X-Admin-Token,
 * Cookie) is cut to its scheme and first characters, with its length: the
 * narration is a log, and a log must never hold a password, a bearer token
 * or an admin token that anyone who reads it could use. Returns out. */
const char *net_header_shown(const char *name, size_t name_len, const char *value, size_t value_len,
                             char *out, size_t out_len);

#endif
