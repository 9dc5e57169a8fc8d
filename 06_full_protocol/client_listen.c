/* SPDX-License-Identifier: MIT */
/* client_listen.c - 06-client listen: notifications over a WebSocket (issue 12: being built). */
#include "client.h"

int client_listen_main(client *c, const char *cmd, int argc, char **argv)
{
    (void)c, (void)cmd, (void)argc, (void)argv;
    return CLIENT_NOT_MINE;
}
