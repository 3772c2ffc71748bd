/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Report formats and views beyond the text table (declared in session.h). */
#ifndef RAGD_BPFPROF_REPORT_H
#define RAGD_BPFPROF_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "session.h"

/* flame.c: self-contained interactive SVG flame graph of the stacks; stacks outside every op
 * ("(other);...") only with all_stacks or when there are no others. 0 or -1. */
int report_svg(const struct session *s, bool all_stacks, FILE *out);
/* trace.c: Chrome trace-event JSON (Perfetto) and speedscope JSON. 0 or -1. */
int report_perfetto(const struct session *s, FILE *out);
int report_speedscope(const struct session *s, FILE *out);

/* report.c: keeps only op NAME and its sub-ops (NAME.*) with their calls, and the stacks of
 * NAME when it is a top-level op. 0, or -1 with err when no op has that name. */
int report_filter_op(struct session *s, const char *name, char *err, size_t errlen);

/* report.c: --sort keys for report_opts.sort. */
bool report_sort_valid(const char *key);
const char *report_sort_keys(void);

#endif
