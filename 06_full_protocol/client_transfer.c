/* SPDX-License-Identifier: MIT */
/* client_transfer.c - 06-client's typed transfer commands (issue 12: being built). */
#include "client.h"

int client_transfer_main(client *c, const char *cmd, int argc, char **argv)
{
    (void)c, (void)cmd, (void)argc, (void)argv;
    return CLIENT_NOT_MINE;
}
