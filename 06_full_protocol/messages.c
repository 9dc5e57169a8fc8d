/* SPDX-License-Identifier: MIT */
/* messages.c - R4's messaging inside the session envelopes (issue 12: being built). */
#include "service.h"

json_t *messages_op(const op_ctx *x)
{
    (void)x;
    return NULL;
}

void messages_counters(service *svc, int64_t account_id, json_t *counters)
{
    (void)svc, (void)account_id, (void)counters;
}
