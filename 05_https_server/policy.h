/* SPDX-License-Identifier: MIT */
/* policy.h - chapter 05's TLS policy for 05-server (see policy.c). */
#ifndef COURSE_05_POLICY_H
#define COURSE_05_POLICY_H

#include "tls/tls.h"

/* Apply the course's TLS policy to a server context: the versions, the
 * suites, the groups, the order, resumption. Returns 0 or -1 (printed). */
int policy_apply(SSL_CTX *ctx, const tls_server_policy *pol);

#endif
