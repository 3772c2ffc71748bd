// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Human-readable session report (text table, operation tree, histograms) and collapsed stacks
 * for flame graphs. Reads a session whose stats are already computed; never changes it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "report.h"
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

static size_t disp_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

int table_add_row(struct table *t, const char *style)
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

void table_set(struct table *t, int row, int col, const char *fmt, ...)
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

/* Columns whose drop rank is highest go first until the row fits width (0: no limit; rank 0
 * never goes). The kept columns print in their order. */
void table_print_fit(const struct table *t, const char *const *hdr, const bool *left,
		     const int *drop, int width, const char *indent, bool color, FILE *out)
{
	size_t w[TBL_COLS];
	bool keep[TBL_COLS];
	size_t r, total;
	int c, last = 0;

	for (c = 0; c < t->ncols; c++) {
		w[c] = disp_width(hdr[c]);
		keep[c] = true;
	}
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t n = disp_width(t->cell[r * t->ncols + c]);

			if (n > w[c])
				w[c] = n;
		}
	for (;;) {
		int worst = -1;

		total = disp_width(indent);
		for (c = 0; c < t->ncols; c++)
			if (keep[c])
				total += w[c] + (total > disp_width(indent) ? 2 : 0);
		if (!width || !drop || total <= (size_t)width)
			break;
		for (c = 0; c < t->ncols; c++)
			if (keep[c] && drop[c] > 0 && (worst < 0 || drop[c] > drop[worst]))
				worst = c;
		if (worst < 0)
			break;
		keep[worst] = false;
	}
	for (c = 0; c < t->ncols; c++)
		if (keep[c])
			last = c;

	fputs(indent, out);
	if (color)
		fputs(C_BOLD, out);
	for (c = 0; c < t->ncols; c++) {
		if (!keep[c])
			continue;
		put_padded(out, hdr[c], w[c], left[c], c == last);
		if (c < last)
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
			if (!keep[c])
				continue;
			put_padded(out, t->cell[r * t->ncols + c], w[c], left[c], c == last);
			if (c < last)
				fputs("  ", out);
		}
		if (styled)
			fputs(C_RESET, out);
		fputc('\n', out);
	}
}

void table_free(struct table *t)
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
	const struct call_rec *c;
	struct call_iter it;
	int64_t a, b;
	__u64 end = 0;

	/* the one ISO-8601 parser (util.c); the difference in __u64 cannot overflow */
	if (!parse_iso8601_ns(s->started_at, &a) && !parse_iso8601_ns(s->ended_at, &b) && b >= a) {
		*ns = (__u64)b - (__u64)a;
		return true;
	}
	for (c = call_iter_first(&it, s, 0); c; c = call_iter_next(&it))
		if (c->start_ns + c->duration_ns > end)
			end = c->start_ns + c->duration_ns;
	call_iter_done(&it);
	*ns = end;
	return end > 0;
}

static void print_header(const struct session *s, const struct report_opts *o, FILE *out)
{
	char b1[32];
	__u64 dur;

	if (o->brief) {
		fprintf(out, "%ssession%s%s%s", o->color ? C_BOLD : "", s->name[0] ? " " : "", s->name,
			o->color ? C_RESET : "");
		if (session_duration(s, &dur))
			fprintf(out, ": %s", fmt_ns(dur, b1, sizeof(b1)));
		if (s->samples)
			fprintf(out, ", %llu samples", (unsigned long long)s->samples);
		fprintf(out, ", %llu events, %llu dropped\n", (unsigned long long)s->events,
			(unsigned long long)s->dropped_events);
		return;
	}
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

/* order and depths hold s->nops each; 0 ops shown when out of memory. */
static int tree_order(const struct session *s, int *order, int *depths)
{
	int *parent = malloc(((size_t)s->nops + 1) * sizeof(*parent));
	int i, n = 0;

	if (!parent)
		return 0;
	for (i = 0; i < s->nops; i++)
		parent[i] = op_shown(&s->ops[i]) ? op_parent(s, i) : -2;
	for (i = 0; i < s->nops; i++)
		if (parent[i] == -1)
			tree_visit(s, parent, i, 0, order, depths, &n);
	free(parent);
	return n;
}

/* n ints per op of s, zeroed (any number of ops: files are not bound by record's MAX_OPS). */
static int *op_ints(const struct session *s, int n)
{
	return calloc(((size_t)s->nops + 1) * n, sizeof(int));
}

/* --sort keys: larger first, name ascending. "tree" (the default) keeps the op tree. */
static const char *const sort_keys[] = {
	"tree", "total", "count", "p50", "p95", "p99", "mean", "max", "cpu", "rss", "name",
};

static int sort_index(const char *key)
{
	if (!key)
		return 0;
	for (size_t i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++)
		if (!strcmp(key, sort_keys[i]))
			return (int)i;
	return -1;
}

bool report_sort_valid(const char *key)
{
	return sort_index(key) >= 0;
}

const char *report_sort_keys(void)
{
	return "tree, total, count, p50, p95, p99, mean, max, cpu, rss, name";
}

/* The value a key sorts by; total and cpu mean the same for exact and sampled ops. */
static double sort_value(const struct op_result *op, int key)
{
	switch (key) {
	case 1: return (double)op->total_ns;
	case 2: return (double)op->count;
	case 3: return (double)op->p50_ns;
	case 4: return (double)op->p95_ns;
	case 5: return (double)op->p99_ns;
	case 6: return op->mean_ns;
	case 7: return (double)op->max_ns;
	case 8: return (double)op->on_cpu_ns;
	case 9: return (double)op->rss_peak;
	}
	return 0;
}

struct op_sort {
	const struct session *s;
	int key;
};

static int op_order_cmp(const void *a, const void *b, void *arg)
{
	const struct op_sort *o = arg;
	const struct op_result *x = &o->s->ops[*(const int *)a];
	const struct op_result *y = &o->s->ops[*(const int *)b];
	double vx = sort_value(x, o->key), vy = sort_value(y, o->key);

	if (o->key != 10 && vx != vy)
		return vx < vy ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* The op tree, or with a sort key the shown ops flat (depth 0) in that order. */
static int ops_order(const struct session *s, const char *sort, int *order, int *depths)
{
	int key = sort_index(sort), n = tree_order(s, order, depths);

	if (key <= 0)
		return n;
	qsort_r(order, n, sizeof(*order), op_order_cmp, &(struct op_sort){ s, key });
	memset(depths, 0, n * sizeof(*depths));
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
	/* what goes first when the terminal is narrow: p99, Max, Prec, Mean, p95, RSS delta, ... */
	static const int drop[12] = { 0, 7, 0, 0, 5, 9, 6, 8, 0, 3, 4, 2 };
	struct table t = { .ncols = 12 };
	int *order = op_ints(s, 2), *depths = order + s->nops + 1;
	bool any_hist = false;
	char b[32];
	int n, k;

	if (!order) {
		fprintf(out, "out of memory\n");
		return;
	}
	n = ops_order(s, o->sort, order, depths);
	if (!n) {
		fprintf(out, "\nNo operation was seen.\n");
		free(order);
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
			free(order);
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
			/* Partly watched (registers shared): the share its counts cover. */
			if (op->coverage >= 0 && op->coverage < 0.995)
				table_set(&t, r, 1, "exact%s %.0f%%", hist ? "*" : "", 100.0 * op->coverage);
			else
				table_set(&t, r, 1, "exact%s", hist ? "*" : "");
			table_set(&t, r, 2, "%llu", (unsigned long long)op->count);
		}
		table_set(&t, r, 3, "%s", or_dash(op->p50_ns, b, sizeof(b)));
		table_set(&t, r, 4, "%s", or_dash(op->p95_ns, b, sizeof(b)));
		table_set(&t, r, 5, "%s", or_dash(op->p99_ns, b, sizeof(b)));
		table_set(&t, r, 6, "%s", or_dash(u64_round(op->mean_ns), b, sizeof(b)));
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
	table_print_fit(&t, hdr, left, drop, o->width, "", o->color, out);
	table_free(&t);
	free(order);
	if (any_hist)
		fprintf(out, "  * percentiles from the BPF histogram (buckets <= 1.6%% wide): "
			"call records were dropped\n");
}

static void print_call_notes(const struct session *s, const struct report_opts *o, FILE *out)
{
	__u64 *open = calloc((size_t)s->nops + 1, sizeof(*open));
	const struct call_rec *c;
	struct call_iter it;
	int j;

	if (!open)
		return;
	for (c = call_iter_first(&it, s, 0); c; c = call_iter_next(&it))
		if ((c->flags & CALL_F_OPEN) && c->op < (__u32)s->nops)
			open[c->op]++;
	call_iter_done(&it);
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
	free(open);
}

/* "  REASON:" wrapped on blanks at 80 columns (continuations indented 4); the column after. */
static size_t print_reason(const char *why, FILE *out)
{
	size_t col = 2, n;

	fputs("  ", out);
	for (bool first = true; *why; first = false) {
		while (*why == ' ')
			why++;
		n = strcspn(why, " ");
		if (!n)
			break;
		if (!first && col + n + 2 > 80) {
			fputs("\n   ", out);
			col = 3;
		}
		fprintf(out, "%s%.*s", first ? "" : " ", (int)n, why);
		col += n + !first;
		why += n;
	}
	fputc(':', out);
	return col + 1;
}

/* One line per reason, the ops that share it after it (wrapped at 80 columns): a reason
 * repeated for fifteen ops reads once. */
static void print_not_seen(const struct session *s, FILE *out)
{
	bool *done;
	int j, k, total = 0;

	for (j = 0; j < s->nops; j++)
		total += !op_shown(&s->ops[j]);
	if (!total || !(done = calloc((size_t)s->nops, sizeof(*done))))
		return;
	fprintf(out, "\nnot seen (%d of %d operations), by reason:\n", total, s->nops);
	for (j = 0; j < s->nops; j++) {
		const char *why = s->ops[j].note[0] ? s->ops[j].note : "never called";
		size_t col;

		if (op_shown(&s->ops[j]) || done[j])
			continue;
		col = print_reason(why, out);
		for (k = j; k < s->nops; k++) {
			const char *kw = s->ops[k].note[0] ? s->ops[k].note : "never called";
			size_t len = strlen(s->ops[k].name);

			if (op_shown(&s->ops[k]) || done[k] || strcmp(kw, why))
				continue;
			if (col > 4 && col + len + 1 > 80) {
				fputs("\n   ", out);
				col = 3;
			}
			fprintf(out, " %s", s->ops[k].name);
			col += len + 1;
			done[k] = true;
		}
		fputc('\n', out);
	}
	free(done);
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

/* The innermost three frames say the most; the op prefix is dropped, elision is marked.
 * brief: names only (no " (file)"), cut to width columns (0: no limit). */
static void print_tail_frames(const char *stack, const char *op, bool brief, int width, FILE *out)
{
	const char *frames = stack + strlen(op);
	const char *p;
	char line[1024];
	size_t n = 0;
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
	if (!brief) {
		if (p > frames)
			fputs("...;", out);
		fputs(p, out);
		return;
	}
	if (p > frames)
		n = snprintf(line, sizeof(line), "...;");
	while (*p && n < sizeof(line) - 1) {
		size_t len = strcspn(p, ";");
		const char *paren = memmem(p, len, " (", 2);
		size_t keep = paren && p[len - 1] == ')' ? (size_t)(paren - p) : len;

		n += snprintf(line + n, sizeof(line) - n, "%.*s%s", (int)keep, p, p[len] ? ";" : "");
		p += len + (p[len] == ';');
	}
	if (width > 3 && disp_width(line) > (size_t)width) {
		/* cut by characters, not bytes */
		size_t w = 0, i;

		for (i = 0; line[i] && w < (size_t)width - 3; i++)
			w += ((unsigned char)line[i] & 0xc0) != 0x80;
		while (((unsigned char)line[i] & 0xc0) == 0x80)
			i++;
		snprintf(line + i, sizeof(line) - i, "...");
	}
	fputs(line, out);
}

/* brief: top-level ops only (exact ones too), names without files, lines within o->width. */
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

		if (!op_shown(op))
			continue;
		if (o->brief ? strchr(op->name, '.') != NULL : op->precision != PREC_SAMPLED)
			continue;
		if (!title) {
			fprintf(out, "\n%sWhere the time goes%s (", o->color ? C_BOLD : "",
				o->color ? C_RESET : "");
			fprintf(out, o->brief ? "stack samples" : "sampled");
			if (s->sample_hz)
				fprintf(out, " at %llu Hz", (unsigned long long)s->sample_hz);
			fprintf(out, o->brief ? ")\n" : "; times are estimates)\n");
			title = true;
		}
		if (o->brief)
			fprintf(out, "  %s: %s%s, on-CPU %.0f%%, off-CPU %.0f%%\n", op->name,
				op->precision == PREC_SAMPLED ? "wall ~" : "wall ",
				fmt_ns(wall, b1, sizeof(b1)),
				wall ? 100.0 * op->on_cpu_ns / wall : 0.0,
				wall ? 100.0 * op->off_cpu_ns / wall : 0.0);
		else
			fprintf(out, "  %s: wall %s, self %s, on-CPU %s (%.0f%%), off-CPU %s (%.0f%%)\n",
				op->name, fmt_ns(wall, b1, sizeof(b1)),
				fmt_ns(op->self_ns, b2, sizeof(b2)),
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
		for (i = 0; i < nh && i < (o->brief ? 2 : 3); i++) {
			bool off = hot[i].st->off_cpu_ns > 0;

			/* brief: a stack under 2% of the op says little */
			if (o->brief && hot[i].w * 50 < den)
				break;
			int room = o->width ? o->width - 12 - (off ? 17 : 0) : 0;

			fprintf(out, "    %5.1f%%  ", 100.0 * hot[i].w / den);
			print_tail_frames(hot[i].st->stack, op->name, o->brief, room, out);
			if (off)
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
	int *order = op_ints(s, 2), *depths = order + s->nops + 1;
	int n, k;

	if (!order)
		return;
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
	free(order);
}

/* --- calls by thread, process or iteration --- */

static __u32 by_key(const struct call_rec *c, char by)
{
	if (by == 'i')
		return c->iteration;
	if (c->flags & CALL_F_SAMPLED)
		return 0;   /* sampled spans belong to no thread */
	return by == 'p' ? c->pid : c->tid;
}

struct by_sort {
	const struct call_rec *calls;
	const int *rank;   /* per op: place in the table, nops if not shown */
	char by;
};

/* Op (tree order), then key, then duration: each run is one row with sorted durations. */
static int by_cmp(const void *a, const void *b, void *arg)
{
	const struct by_sort *o = arg;
	const struct call_rec *x = &o->calls[*(const size_t *)a], *y = &o->calls[*(const size_t *)b];
	__u32 kx = by_key(x, o->by), ky = by_key(y, o->by);

	if (o->rank[x->op] != o->rank[y->op])
		return o->rank[x->op] - o->rank[y->op];
	if (kx != ky)
		return kx < ky ? -1 : 1;
	return (x->duration_ns > y->duration_ns) - (x->duration_ns < y->duration_ns);
}

static void by_row(struct table *t, const struct session *s, const size_t *idx, size_t n,
		   __u64 *d, char by)
{
	const struct call_rec *c0 = &s->calls[idx[0]];
	__u64 tot = 0, on = 0, peak = 0;
	char b[32];
	int r = table_add_row(t, c0->flags & CALL_F_SAMPLED ? C_DIM : NULL);

	if (r < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct call_rec *c = &s->calls[idx[i]];

		d[i] = c->duration_ns;
		tot += c->duration_ns;
		on += c->on_cpu_ns;
		if (c->rss_peak > peak)
			peak = c->rss_peak;
	}
	table_set(t, r, 0, "%s", s->ops[c0->op].name);
	if (by != 'i' && (c0->flags & CALL_F_SAMPLED))
		table_set(t, r, 1, "(sampled)");
	else
		table_set(t, r, 1, "%u", by_key(c0, by));
	table_set(t, r, 2, "%s%zu", c0->flags & CALL_F_SAMPLED ? "~" : "", n);
	table_set(t, r, 3, "%s", fmt_ns(percentile_sorted(d, n, 50), b, sizeof(b)));
	table_set(t, r, 4, "%s", fmt_ns(percentile_sorted(d, n, 95), b, sizeof(b)));
	table_set(t, r, 5, "%s", fmt_ns((tot + n / 2) / n, b, sizeof(b)));
	table_set(t, r, 6, "%s", fmt_ns(tot, b, sizeof(b)));
	if (c0->flags & CALL_F_SAMPLED)
		table_set(t, r, 7, "-");
	else
		table_set(t, r, 7, "%.1f%%", tot ? 100.0 * (on > tot ? tot : on) / tot : 0.0);
	table_set(t, r, 8, "%s", peak ? fmt_bytes((double)peak, b, sizeof(b)) : "-");
}

static void print_by_table(const struct session *s, const struct report_opts *o, FILE *out)
{
	static const bool left[9] = { true };
	static const int drop[9] = { 0, 0, 0, 0, 4, 3, 0, 2, 1 };
	const char *hdr[9] = { "Operation", "Thread", "Count", "p50", "p95", "Mean", "Total",
			       "On-CPU %", "Peak RSS" };
	int *order = op_ints(s, 3), *depths, *by_rank, n, k;
	struct table t = { .ncols = 9 };
	char by = o->by[0];
	size_t *idx = NULL, *d = NULL, m = 0;

	if (!order)
		return;
	depths = order + s->nops + 1;
	by_rank = depths + s->nops + 1;
	hdr[1] = by == 'p' ? "Process" : by == 'i' ? "Iteration" : "Thread";
	for (k = 0; k < s->nops; k++)
		by_rank[k] = s->nops;
	n = ops_order(s, o->sort, order, depths);
	for (k = 0; k < n; k++)
		by_rank[order[k]] = k;
	idx = malloc((s->ncalls + 1) * sizeof(*idx));
	d = malloc((s->ncalls + 1) * sizeof(__u64));
	if (!idx || !d)
		goto cleanup;
	for (size_t i = 0; i < s->ncalls; i++)
		if (!(s->calls[i].flags & CALL_F_OPEN) && s->calls[i].op < (__u32)s->nops &&
		    by_rank[s->calls[i].op] < s->nops && !call_span_of_exact(s, &s->calls[i]))
			idx[m++] = i;
	qsort_r(idx, m, sizeof(*idx), by_cmp, &(struct by_sort){ s->calls, by_rank, by });
	for (size_t a = 0, b; a < m; a = b) {
		const struct call_rec *c = &s->calls[idx[a]];

		for (b = a + 1; b < m && s->calls[idx[b]].op == c->op &&
		     by_key(&s->calls[idx[b]], by) == by_key(c, by); b++)
			;
		by_row(&t, s, idx + a, b - a, (__u64 *)d, by);
	}
	fprintf(out, "\nCalls by %s\n", hdr[1][0] == 'T' ? "thread" : hdr[1][0] == 'P' ?
		"process" : "iteration");
	if (!t.nrows)
		fprintf(out, "  (no calls recorded)\n");
	else
		table_print_fit(&t, hdr, left, drop, o->width, "", o->color, out);
cleanup:
	table_free(&t);
	free(idx);
	free(d);
	free(order);
}

/* --- --op NAME: that op and its subtree --- */

static bool in_subtree(const char *name, const char *root)
{
	size_t n = strlen(root);

	return !strncmp(name, root, n) && (name[n] == '\0' || name[n] == '.');
}

int report_filter_op(struct session *s, const char *name, char *err, size_t errlen)
{
	int *map, j, n = 0, nops = s->nops;
	size_t i, m = 0;

	for (j = 0; j < s->nops; j++)
		if (in_subtree(s->ops[j].name, name))
			break;
	if (j == s->nops) {
		size_t len = snprintf(err, errlen, "no operation '%s' in the session (has:", name);

		for (j = 0; j < s->nops && len < errlen; j++)
			if (!strchr(s->ops[j].name, '.'))
				len += snprintf(err + len, errlen - len, " %s", s->ops[j].name);
		if (len < errlen)
			snprintf(err + len, errlen - len, ")");
		return -1;
	}
	map = op_ints(s, 1);
	if (!map) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (j = 0; j < s->nops; j++) {
		if (!in_subtree(s->ops[j].name, name)) {
			free(s->ops[j].hist);
			map[j] = -1;
			continue;
		}
		map[j] = n;
		if (n != j)
			s->ops[n] = s->ops[j];
		n++;
	}
	for (j = n; j < s->nops; j++)
		s->ops[j].hist = NULL;   /* moved or freed above */
	s->nops = n;
	for (i = 0; i < s->ncalls; i++)
		if (s->calls[i].op < (__u32)nops && map[s->calls[i].op] >= 0) {
			s->calls[m] = s->calls[i];
			s->calls[m++].op = map[s->calls[i].op];
		}
	s->ncalls = m;
	free(map);
	/* Stacks start with their top-level op only: kept for a top-level NAME. */
	for (i = 0, m = 0; i < s->nstacks; i++) {
		if (s->stacks[i].stack && stack_of_op(s->stacks[i].stack, name))
			s->stacks[m++] = s->stacks[i];
		else
			free(s->stacks[i].stack);
	}
	s->nstacks = m;
	/* session.c rebuilds its stack index from scratch when it is gone. */
	free(s->stack_slots);
	s->stack_slots = NULL;
	s->stack_slots_cap = 0;
	s->stacks_indexed = 0;
	return 0;
}

void report_text(const struct session *s, const struct report_opts *o, FILE *out)
{
	static const struct report_opts defaults;
	size_t i;

	if (!o)
		o = &defaults;
	print_header(s, o, out);
	if (o->by)
		print_by_table(s, o, out);
	else
		print_ops_table(s, o, out);
	print_call_notes(s, o, out);
	print_not_seen(s, out);
	print_where_time_goes(s, o, out);
	if (o->histogram)
		print_histograms(s, o, out);
	if (s->nwarnings)
		fputc('\n', out);
	if (o->brief && s->nwarnings) {
		int room = o->width > 80 ? o->width - 36 : 44;

		fprintf(out, "%s%zu warning%s (full report): %.*s%s%s\n", o->color ? C_YELLOW : "",
			s->nwarnings, s->nwarnings > 1 ? "s" : "", room, s->warnings[0],
			strlen(s->warnings[0]) > (size_t)room ? "..." : "", o->color ? C_RESET : "");
		return;
	}
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
