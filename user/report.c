// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Human-readable session report (text table, operation tree, histograms) and collapsed stacks
 * for flame graphs. Reads a session whose stats are already computed; never changes it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "session.h"
#include "util.h"

#define C_BOLD   "\033[1m"
#define C_DIM    "\033[2m"
#define C_RED    "\033[31m"
#define C_YELLOW "\033[33m"
#define C_RESET  "\033[0m"

/* Three significant digits, switching unit only where the rounded value would overflow it
 * (so 999.7us prints as 1.00ms, never 1000us). */
const char *fmt_ns(__u64 ns, char *buf, size_t len)
{
	static const struct { double div; const char *unit; } u[] = {
		{ 1e3, "us" }, { 1e6, "ms" }, { 1e9, "s" },
	};
	double v;
	size_t i;

	if (ns < 1000) {
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
		return buf;
	}
	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		v = ns / u[i].div;
		if (v < 9.995)
			snprintf(buf, len, "%.2f%s", v, u[i].unit);
		else if (v < (i < 2 ? 99.95 : 59.95))
			snprintf(buf, len, "%.1f%s", v, u[i].unit);
		else if (v < 999.5 && i < 2)
			snprintf(buf, len, "%.0f%s", v, u[i].unit);
		else
			continue;
		return buf;
	}
	/* A minute or more: digits past the second are noise for a profile. */
	{
		unsigned long long s = (ns + 500000000ULL) / 1000000000ULL;

		if (s < 3600)
			snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
		else
			snprintf(buf, len, "%lluh%02llum", s / 3600, (s % 3600) / 60);
	}
	return buf;
}

static const char *fmt_bytes_sign(double bytes, bool plus, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	const char *sign = "";
	double v = fabs(bytes);
	int i;

	if (bytes < 0)
		sign = "-";
	else if (plus && bytes > 0)
		sign = "+";
	if (v < 1023.5) {
		/* -0.4 would otherwise print as "-0B" */
		if (v < 0.5)
			sign = "";
		snprintf(buf, len, "%s%.0fB", sign, v);
		return buf;
	}
	for (i = 0; i < 4; i++) {
		v /= 1024;
		if (v < 1023.5 || i == 3)
			break;
	}
	if (v < 9.995)
		snprintf(buf, len, "%s%.2f%s", sign, v, unit[i]);
	else if (v < 99.95)
		snprintf(buf, len, "%s%.1f%s", sign, v, unit[i]);
	else
		snprintf(buf, len, "%s%.0f%s", sign, v, unit[i]);
	return buf;
}

const char *fmt_bytes(double bytes, char *buf, size_t len)
{
	return fmt_bytes_sign(bytes, false, buf, len);
}

const char *fmt_bytes_delta(double bytes, char *buf, size_t len)
{
	return fmt_bytes_sign(bytes, true, buf, len);
}

/* --- a small column-aligned table; widths count UTF-8 characters, not bytes --- */

#define TBL_COLS 12
#define TBL_CELL 192

struct table {
	int ncols;
	size_t nrows, cap;
	char (*cell)[TBL_CELL];
	const char **style;   /* per row: ANSI prefix or NULL */
};

static size_t disp_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static int table_add_row(struct table *t, const char *style)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		void *c = realloc(t->cell, cap * t->ncols * sizeof(*t->cell));
		void *st;

		if (!c)
			return -1;
		t->cell = c;
		st = realloc(t->style, cap * sizeof(*t->style));
		if (!st)
			return -1;
		t->style = st;
		t->cap = cap;
	}
	memset(t->cell[t->nrows * t->ncols], 0, t->ncols * sizeof(*t->cell));
	t->style[t->nrows] = style;
	return (int)t->nrows++;
}

static char *table_cell(struct table *t, int row, int col)
{
	return t->cell[(size_t)row * t->ncols + col];
}

__attribute__((format(printf, 4, 5)))
static void table_set(struct table *t, int row, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(table_cell(t, row, col), TBL_CELL, fmt, ap);
	va_end(ap);
}

static void put_padded(FILE *out, const char *s, size_t w, bool left, bool last)
{
	size_t n = disp_width(s);

	if (!left)
		fprintf(out, "%*s", (int)(w > n ? w - n : 0), "");
	fputs(s, out);
	if (left && !last)
		fprintf(out, "%*s", (int)(w > n ? w - n : 0), "");
}

static void table_print(const struct table *t, const char *const *hdr, const bool *left,
			const char *indent, bool color, FILE *out)
{
	size_t w[TBL_COLS];
	size_t r;
	int c;

	for (c = 0; c < t->ncols; c++)
		w[c] = disp_width(hdr[c]);
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t n = disp_width(t->cell[r * t->ncols + c]);

			if (n > w[c])
				w[c] = n;
		}

	fputs(indent, out);
	if (color)
		fputs(C_BOLD, out);
	for (c = 0; c < t->ncols; c++) {
		put_padded(out, hdr[c], w[c], left[c], c == t->ncols - 1);
		if (c < t->ncols - 1)
			fputs("  ", out);
	}
	if (color)
		fputs(C_RESET, out);
	fputc('\n', out);

	for (r = 0; r < t->nrows; r++) {
		bool styled = color && t->style[r];

		fputs(indent, out);
		if (styled)
			fputs(t->style[r], out);
		for (c = 0; c < t->ncols; c++) {
			put_padded(out, t->cell[r * t->ncols + c], w[c], left[c], c == t->ncols - 1);
			if (c < t->ncols - 1)
				fputs("  ", out);
		}
		if (styled)
			fputs(C_RESET, out);
		fputc('\n', out);
	}
}

static void table_free(struct table *t)
{
	free(t->cell);
	free(t->style);
	t->cell = NULL;
	t->style = NULL;
	t->nrows = t->cap = 0;
}

/* --- header --- */

/* Wall time of the session: from the timestamps, or failing that from the last call's end. */
static bool session_duration(const struct session *s, __u64 *ns)
{
	int64_t a, b;
	__u64 end = 0;
	size_t i;

	/* the one ISO-8601 parser (util.c); the difference in __u64 cannot overflow */
	if (!parse_iso8601_ns(s->started_at, &a) && !parse_iso8601_ns(s->ended_at, &b) && b >= a) {
		*ns = (__u64)b - (__u64)a;
		return true;
	}
	for (i = 0; i < s->ncalls; i++)
		if (s->calls[i].start_ns + s->calls[i].duration_ns > end)
			end = s->calls[i].start_ns + s->calls[i].duration_ns;
	*ns = end;
	return end > 0;
}

static void print_header(const struct session *s, const struct report_opts *o, FILE *out)
{
	char b1[32];
	__u64 dur;

	fprintf(out, "%sragd-bpfprof session%s%s%s\n", o->color ? C_BOLD : "",
		s->name[0] ? ": " : "", s->name, o->color ? C_RESET : "");
	if (s->command[0] || s->pid) {
		fprintf(out, "  command:  %s", s->command[0] ? s->command : "(unknown)");
		if (s->pid && s->has_exit_code)
			fprintf(out, "  (pid %d, exit %d)", s->pid, s->exit_code);
		else if (s->pid)
			fprintf(out, "  (pid %d)", s->pid);
		else if (s->has_exit_code)
			fprintf(out, "  (exit %d)", s->exit_code);
		fputc('\n', out);
	}
	if (s->started_at[0])
		fprintf(out, "  started:  %s\n", s->started_at);
	if (session_duration(s, &dur))
		fprintf(out, "  duration: %s\n", fmt_ns(dur, b1, sizeof(b1)));
	fprintf(out, "  events:   %llu received, %s%llu dropped%s\n", (unsigned long long)s->events,
		o->color && s->dropped_events ? C_YELLOW : "",
		(unsigned long long)s->dropped_events,
		o->color && s->dropped_events ? C_RESET : "");
	if (s->samples > 0) {
		fprintf(out, "  samples:  %llu", (unsigned long long)s->samples);
		if (s->sample_hz > 0)
			fprintf(out, " at %llu Hz", (unsigned long long)s->sample_hz);
		fputc('\n', out);
	}
	if (s->source_format[0] && strcmp(s->source_format, SCHEMA_ID))
		fprintf(out, "  imported: %s\n", s->source_format);
}

/* --- operation tree --- */

static bool op_shown(const struct op_result *op)
{
	return op->count > 0;
}

/* Parent = the shown op named like us up to the last dot; -1 if none (then we are a root). */
static int op_parent(const struct session *s, int i)
{
	const char *name = s->ops[i].name;
	const char *dot = strrchr(name, '.');
	size_t plen;
	int j;

	if (!dot || dot == name)
		return -1;
	plen = dot - name;
	for (j = 0; j < s->nops; j++)
		if (j != i && op_shown(&s->ops[j]) && strlen(s->ops[j].name) == plen &&
		    !strncmp(s->ops[j].name, name, plen))
			return j;
	return -1;
}

/* Depth-first, session order among siblings. Names are strictly shorter going up, so no cycle. */
static void tree_visit(const struct session *s, const int *parent, int i, int depth,
		       int *order, int *depths, int *n)
{
	int j;

	order[*n] = i;
	depths[(*n)++] = depth;
	for (j = 0; j < s->nops; j++)
		if (parent[j] == i)
			tree_visit(s, parent, j, depth + 1, order, depths, n);
}

static int tree_order(const struct session *s, int *order, int *depths)
{
	int parent[MAX_OPS];
	int i, n = 0;

	for (i = 0; i < s->nops; i++)
		parent[i] = op_shown(&s->ops[i]) ? op_parent(s, i) : -2;
	for (i = 0; i < s->nops; i++)
		if (parent[i] == -1)
			tree_visit(s, parent, i, 0, order, depths, &n);
	return n;
}

static const char *or_dash(__u64 ns, char *buf, size_t len)
{
	if (!ns) {
		snprintf(buf, len, "-");
		return buf;
	}
	return fmt_ns(ns, buf, len);
}

static void print_ops_table(const struct session *s, const struct report_opts *o, FILE *out)
{
	static const char *const hdr[] = {
		"Operation", "Prec", "Count", "p50", "p95", "p99", "Mean", "Max", "Total",
		"On-CPU %", "RSS delta (mean)", "Peak RSS",
	};
	static const bool left[12] = { true, true };
	struct table t = { .ncols = 12 };
	int order[MAX_OPS], depths[MAX_OPS];
	bool any_hist = false;
	char b[32];
	int n, k;

	n = tree_order(s, order, depths);
	if (!n) {
		fprintf(out, "\nNo operation was seen.\n");
		return;
	}
	for (k = 0; k < n; k++) {
		const struct op_result *op = &s->ops[order[k]];
		bool sampled = op->precision == PREC_SAMPLED;
		const char *label = op->name;
		int r;

		r = table_add_row(&t, sampled ? C_DIM : NULL);
		if (r < 0) {
			fprintf(out, "out of memory\n");
			table_free(&t);
			return;
		}
		if (depths[k] > 0)
			label = strrchr(op->name, '.') + 1;
		table_set(&t, r, 0, "%*s%s", depths[k] * 2, "", label);
		if (sampled) {
			table_set(&t, r, 1, "sampled");
			table_set(&t, r, 2, "~%llu", (unsigned long long)op->count);
		} else {
			bool hist = op->source == SRC_HISTOGRAM;

			any_hist |= hist;
			table_set(&t, r, 1, "exact%s", hist ? "*" : "");
			table_set(&t, r, 2, "%llu", (unsigned long long)op->count);
		}
		table_set(&t, r, 3, "%s", or_dash(op->p50_ns, b, sizeof(b)));
		table_set(&t, r, 4, "%s", or_dash(op->p95_ns, b, sizeof(b)));
		table_set(&t, r, 5, "%s", or_dash(op->p99_ns, b, sizeof(b)));
		table_set(&t, r, 6, "%s", or_dash((__u64)(op->mean_ns + 0.5), b, sizeof(b)));
		table_set(&t, r, 7, "%s", or_dash(op->max_ns, b, sizeof(b)));
		table_set(&t, r, 8, "%s", or_dash(op->total_ns, b, sizeof(b)));
		if (op->total_ns)
			table_set(&t, r, 9, "%.1f%%",
				  100.0 * (op->on_cpu_ns > op->total_ns ? op->total_ns : op->on_cpu_ns) /
				  op->total_ns);
		else
			table_set(&t, r, 9, "-");
		/* No RSS reading at all (sampled ops, imported sessions): say so, not "0B". */
		if (op->rss_peak) {
			table_set(&t, r, 10, "%s", fmt_bytes_delta(op->rss_delta_mean, b, sizeof(b)));
			table_set(&t, r, 11, "%s", fmt_bytes((double)op->rss_peak, b, sizeof(b)));
		} else {
			table_set(&t, r, 10, "-");
			table_set(&t, r, 11, "-");
		}
	}
	fputc('\n', out);
	table_print(&t, hdr, left, "", o->color, out);
	table_free(&t);
	if (any_hist)
		fprintf(out, "  * percentiles from the BPF histogram (buckets <= 1.6%% wide): "
			"call records were dropped\n");
}

static void print_call_notes(const struct session *s, const struct report_opts *o, FILE *out)
{
	__u64 open[MAX_OPS] = {};
	size_t i;
	int j;

	for (i = 0; i < s->ncalls; i++)
		if ((s->calls[i].flags & CALL_F_OPEN) && s->calls[i].op < (__u32)s->nops)
			open[s->calls[i].op]++;
	for (j = 0; j < s->nops; j++) {
		const struct op_result *op = &s->ops[j];

		if (op->unwound)
			fprintf(out, "  %s: %llu call(s) left by an exception or longjmp "
				"(their end is an upper bound)\n",
				op->name, (unsigned long long)op->unwound);
		if (open[j])
			fprintf(out, "  %s: %llu call(s) still running when the session ended "
				"(timed up to the end)\n", op->name, (unsigned long long)open[j]);
	}
}

static void print_not_seen(const struct session *s, FILE *out)
{
	const char *sep = "\nnot seen: ";
	bool any = false;
	int j;

	for (j = 0; j < s->nops; j++) {
		const struct op_result *op = &s->ops[j];

		if (op_shown(op))
			continue;
		fprintf(out, "%s%s", sep, op->name);
		if (op->note[0])
			fprintf(out, " (%s)", op->note);
		sep = ", ";
		any = true;
	}
	if (any)
		fputc('\n', out);
}

/* --- where the time goes (sampled operations) --- */

struct hot {
	const struct stack_rec *st;
	__u64 w;
};

static int hot_cmp(const void *a, const void *b)
{
	const struct hot *x = a, *y = b;

	if (x->w != y->w)
		return x->w < y->w ? 1 : -1;
	return strcmp(x->st->stack, y->st->stack);
}

static bool stack_of_op(const char *stack, const char *op)
{
	size_t n = strlen(op);

	return !strncmp(stack, op, n) && (stack[n] == ';' || stack[n] == '\0');
}

/* The innermost three frames say the most; the op prefix is dropped, elision is marked. */
static void print_tail_frames(const char *stack, const char *op, FILE *out)
{
	const char *frames = stack + strlen(op);
	const char *p;
	int seps = 0;

	if (*frames == ';')
		frames++;
	if (!*frames) {
		fputs("(no Python frames)", out);
		return;
	}
	for (p = frames + strlen(frames); p > frames; p--)
		if (p[-1] == ';' && ++seps == 3)
			break;
	if (p > frames)
		fputs("...;", out);
	fputs(p, out);
}

static void print_where_time_goes(const struct session *s, const struct report_opts *o, FILE *out)
{
	struct hot *hot = NULL;
	bool title = false;
	char b1[32], b2[32], b3[32], b4[32];
	int j;

	if (s->nstacks) {
		hot = calloc(s->nstacks, sizeof(*hot));
		if (!hot)
			return;
	}
	for (j = 0; j < s->nops; j++) {
		const struct op_result *op = &s->ops[j];
		__u64 wall = op->total_ns ? op->total_ns : op->on_cpu_ns + op->off_cpu_ns;
		__u64 sum = 0, den;
		size_t i, nh = 0;

		if (op->precision != PREC_SAMPLED || !op_shown(op))
			continue;
		if (!title) {
			fprintf(out, "\n%sWhere the time goes%s (sampled", o->color ? C_BOLD : "",
				o->color ? C_RESET : "");
			if (s->sample_hz)
				fprintf(out, " at %llu Hz", (unsigned long long)s->sample_hz);
			fprintf(out, "; times are estimates)\n");
			title = true;
		}
		fprintf(out, "  %s: wall %s, self %s, on-CPU %s (%.0f%%), off-CPU %s (%.0f%%)\n",
			op->name, fmt_ns(wall, b1, sizeof(b1)), fmt_ns(op->self_ns, b2, sizeof(b2)),
			fmt_ns(op->on_cpu_ns, b3, sizeof(b3)),
			wall ? 100.0 * op->on_cpu_ns / wall : 0.0,
			fmt_ns(op->off_cpu_ns, b4, sizeof(b4)),
			wall ? 100.0 * op->off_cpu_ns / wall : 0.0);

		for (i = 0; i < s->nstacks; i++) {
			const struct stack_rec *st = &s->stacks[i];

			if (!st->stack || !stack_of_op(st->stack, op->name))
				continue;
			hot[nh].st = st;
			hot[nh].w = st->on_cpu_ns + st->off_cpu_ns;
			sum += hot[nh].w;
			if (hot[nh].w)
				nh++;
		}
		if (!nh)
			continue;
		qsort(hot, nh, sizeof(*hot), hot_cmp);
		/* Share of the op's wall time, so the lines read against the numbers above. */
		den = wall > sum ? wall : sum;
		for (i = 0; i < nh && i < 3; i++) {
			fprintf(out, "    %5.1f%%  ", 100.0 * hot[i].w / den);
			print_tail_frames(hot[i].st->stack, op->name, out);
			if (hot[i].st->off_cpu_ns)
				fprintf(out, "  (off-CPU %.0f%%)",
					100.0 * hot[i].st->off_cpu_ns / hot[i].w);
			fputc('\n', out);
		}
	}
	free(hot);
}

/* --- histograms --- */

#define HIST_ROWS 20
#define HIST_BAR 40

struct hist_row {
	__u32 first, last;
	__u64 count;
};

static void print_hist_range(__u32 first, __u32 last, FILE *out)
{
	char lo[32], hi[32];
	__u64 h = hist_bucket_high(last);

	fmt_ns(hist_bucket_low(first), lo, sizeof(lo));
	if (h == ~0ULL)
		snprintf(hi, sizeof(hi), "inf");
	else
		fmt_ns(h + 1, hi, sizeof(hi));
	fprintf(out, "    %8s - %-8s", lo, hi);
}

/* Non-empty range merged into at most HIST_ROWS log-spaced rows; rows follow bucket edges so
 * every count stays inside the range it is printed against. */
static void print_histogram(const struct op_result *op, FILE *out)
{
	struct hist_row rows[24];
	__u32 first = HIST_BUCKETS, last = 0, i;
	__u64 max = 0;
	int nrows = 0, r;

	for (i = 0; i < HIST_BUCKETS; i++)
		if (op->hist[i]) {
			if (first == HIST_BUCKETS)
				first = i;
			last = i;
		}
	if (first == HIST_BUCKETS)
		return;

	if (last - first + 1 <= sizeof(rows) / sizeof(rows[0])) {
		for (i = first; i <= last; i++)
			rows[nrows++] = (struct hist_row){ i, i, op->hist[i] };
	} else {
		double lo = hist_bucket_low(first) ? (double)hist_bucket_low(first) : 1.0;
		double hi = (double)hist_bucket_low(last) * (1.0 + 1.0 / HIST_SUB) + 1;
		double span = log(hi / lo);
		int cur = -1;

		for (i = first; i <= last; i++) {
			double v = hist_bucket_low(i) ? (double)hist_bucket_low(i) : 1.0;
			int k = (int)(log(v / lo) / span * HIST_ROWS);

			if (k < 0)
				k = 0;
			if (k >= HIST_ROWS)
				k = HIST_ROWS - 1;
			if (k != cur) {
				rows[nrows++] = (struct hist_row){ i, i, 0 };
				cur = k;
			}
			rows[nrows - 1].last = i;
			rows[nrows - 1].count += op->hist[i];
		}
	}
	for (r = 0; r < nrows; r++)
		if (rows[r].count > max)
			max = rows[r].count;
	for (r = 0; r < nrows; r++) {
		char bar[HIST_BAR + 1];
		int n = (int)((rows[r].count * HIST_BAR + max - 1) / max);

		memset(bar, '#', n);
		bar[n] = '\0';
		print_hist_range(rows[r].first, rows[r].last, out);
		fprintf(out, "  |%-*s| %llu\n", HIST_BAR, bar, (unsigned long long)rows[r].count);
	}
}

static void print_histograms(const struct session *s, const struct report_opts *o, FILE *out)
{
	int order[MAX_OPS], depths[MAX_OPS];
	int n, k;

	n = tree_order(s, order, depths);
	for (k = 0; k < n; k++) {
		const struct op_result *op = &s->ops[order[k]];

		if (!op->hist)
			continue;
		fprintf(out, "\n%s%s%s (%s, %llu calls)\n", o->color ? C_BOLD : "", op->name,
			o->color ? C_RESET : "",
			op->precision == PREC_SAMPLED ? "sampled" : "exact",
			(unsigned long long)op->count);
		print_histogram(op, out);
	}
}

void report_text(const struct session *s, const struct report_opts *o, FILE *out)
{
	static const struct report_opts defaults;
	size_t i;

	if (!o)
		o = &defaults;
	print_header(s, o, out);
	print_ops_table(s, o, out);
	print_call_notes(s, o, out);
	print_not_seen(s, out);
	print_where_time_goes(s, o, out);
	if (o->histogram)
		print_histograms(s, o, out);
	if (s->nwarnings)
		fputc('\n', out);
	for (i = 0; i < s->nwarnings; i++)
		fprintf(out, "%swarning: %s%s\n", o->color ? C_YELLOW : "", s->warnings[i],
			o->color ? C_RESET : "");
}

/* --- collapsed stacks --- */

struct folded {
	char *line;   /* stack, or stack + ";[off-cpu]" (owned only when off) */
	bool owned;
	__u64 us;
};

static int folded_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folded *)a)->line, ((const struct folded *)b)->line);
}

/* One "frame;frame;... N" line per stack and CPU state, N in microseconds, sorted by stack with
 * duplicates merged: what flamegraph.pl and speedscope read. */
int report_folded(const struct session *s, FILE *out)
{
	struct folded *f;
	size_t i, n = 0;
	int err = 0;

	if (!s->nstacks)
		return 0;
	f = calloc(s->nstacks * 2, sizeof(*f));
	if (!f)
		return -1;
	for (i = 0; i < s->nstacks; i++) {
		const struct stack_rec *st = &s->stacks[i];
		__u64 on = (st->on_cpu_ns + 500) / 1000, off = (st->off_cpu_ns + 500) / 1000;

		if (!st->stack || !st->stack[0])
			continue;
		if (on)
			f[n++] = (struct folded){ st->stack, false, on };
		if (off) {
			char *l;

			if (asprintf(&l, "%s;[off-cpu]", st->stack) < 0) {
				err = -1;
				goto out;
			}
			f[n++] = (struct folded){ l, true, off };
		}
	}
	qsort(f, n, sizeof(*f), folded_cmp);
	for (i = 0; i < n; i++) {
		__u64 w = f[i].us;

		while (i + 1 < n && !strcmp(f[i].line, f[i + 1].line))
			w += f[++i].us;
		if (fprintf(out, "%s %llu\n", f[i].line, (unsigned long long)w) < 0)
			err = -1;
	}
out:
	for (i = 0; i < n; i++)
		if (f[i].owned)
			free(f[i].line);
	free(f);
	return err;
}
