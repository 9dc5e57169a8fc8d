/* SPDX-License-Identifier: MIT */
/* dh.h - what the dh tool's files share. */
#ifndef DH_TOOL_H
#define DH_TOOL_H

/* `dh toy ...` (dh_toy.c): argv[0] is "toy". Returns the exit status. */
int dh_toy(int argc, char **argv);
/* The tool's usage text (dh.c). */
const char *dh_usage(void);

#endif
