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

/* report.c: the one column-aligned table (widths count UTF-8 characters, not bytes), used by
 * the report views and by top. */
#define TBL_COLS 12
#define TBL_CELL 192

struct table {
	int ncols;
	size_t nrows, cap;
	char (*cell)[TBL_CELL];
	const char **style;   /* per row: ANSI prefix or NULL */
};

/* New empty row; its index or -1 without memory. */
int table_add_row(struct table *t, const char *style);
void table_set(struct table *t, int row, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prints header and rows; with width > 0 and drop ranks, the columns of highest rank are left
 * out until a line fits width (rank 0: never). */
void table_print_fit(const struct table *t, const char *const *hdr, const bool *left,
		     const int *drop, int width, const char *indent, bool color, FILE *out);
void table_free(struct table *t);

/* report.c: --sort keys for report_opts.sort. */
bool report_sort_valid(const char *key);
const char *report_sort_keys(void);

#endif
