/* SPDX-License-Identifier: MIT */
/* client_messages.c - 06-client's messaging commands (issue 12: being built). */
#include "client.h"

int client_messages_main(client *c, const char *cmd, int argc, char **argv)
{
    (void)c, (void)cmd, (void)argc, (void)argv;
    return CLIENT_NOT_MINE;
}
