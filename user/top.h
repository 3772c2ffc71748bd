/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* `top`: a live table of a running process's operations, refreshed every second. */
#ifndef RAGD_BPFPROF_TOP_H
#define RAGD_BPFPROF_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include "record.h"

/* Index of a --sort key name, or -1. */
int top_sort_key(const char *name);
/* Records with ro (quiet, with a tick drawing the table) until q, Ctrl-C or -d; owns the
 * terminal meanwhile and restores it. all: idle ops shown from the start (key i toggles).
 * Returns what record_run returns. */
int top_run(struct record_opts *ro, int sort, bool all, char *err, size_t errlen);

#endif
