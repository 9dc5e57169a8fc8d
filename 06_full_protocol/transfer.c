/* SPDX-License-Identifier: MIT */
/* transfer.c - R5's typed transfer inside the session envelopes (issue 12: being built). */
#include "service.h"

json_t *transfer_op(const op_ctx *x)
{
    (void)x;
    return NULL;
}

void transfer_counters(service *svc, int64_t account_id, json_t *counters)
{
    (void)svc, (void)account_id, (void)counters;
}
