/* SPDX-License-Identifier: MIT */
/*
 * client_messages.h - what 06-client's messaging commands (client_messages.c)
 * share with the interactive menu (client_menu.c): one session, many ops.
 */
#ifndef COURSE_06_CLIENT_MESSAGES_H
#define COURSE_06_CLIENT_MESSAGES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

#define CLIENT_TEXT_MAX 65536u /* what the server takes whole (64 KiB); never cut here */

/* One signed op over ch with a JSON payload (stolen), a fresh msg_id.
 * 0 with *answer (the opened answer), -1 after saying why. */
int msg_op(client *c, channel *ch, const char *op, json_t *payload, json_t **answer);
/* Each prints what happened and returns EXIT_OK or EXIT_FAILED. */
int msg_compose(client *c, channel *ch, const char *to, const char *text, size_t len);
int msg_inbox(client *c, channel *ch, int all); /* R4's READ_UNREAD (marks read) / READ_ALL */
int msg_receipts(client *c, channel *ch);       /* R4's VIEW */
int msg_counters(client *c, channel *ch);       /* a poll: unread, receipts, items */

/* client_menu.c: R4's interactive client over one session */
int client_menu(client *c);

#endif
