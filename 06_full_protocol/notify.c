/* SPDX-License-Identifier: MIT */
/* notify.c - live notifications over a WebSocket (issue 12: being built). */
#include "service.h"

void notify_account(service *svc, int64_t account_id, const char *event, json_t *fields)
{
    (void)svc, (void)account_id, (void)event;
    json_decref(fields);
}

int notify_start(service *svc, struct mg_context *ctx)
{
    (void)svc, (void)ctx;
    return 0;
}

void notify_stop(service *svc)
{
    (void)svc;
}
