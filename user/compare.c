// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Baseline vs current session, per operation.
 *
 * Verdict: the p50 change decides (the typical call); mean and p95 are shown, not judged, since
 * one slow outlier moves them without the typical call changing. A change counts when
 * |Δp50| > threshold_pct AND it is significant: Mann-Whitney U on the per-call durations when
 * both sides have >= 2 call records, else (histogram-only or single calls) the threshold alone,
 * and the row says which test it got. Sampled rows are judged on the mean instead: their spans
 * are quantised to the sampling period, which makes p50 jump by whole periods while the mean
 * averages the quantisation out. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "session.h"

#define C_BOLD   "\033[1m"
#define C_RED    "\033[31m"
#define C_GREEN  "\033[32m"
#define C_YELLOW "\033[33m"
#define C_RESET  "\033[0m"

enum cmp_status { ST_REGRESSION, ST_IMPROVEMENT, ST_STABLE, ST_NEW, ST_REMOVED, ST_UNSEEN };
static const char *const status_name[] = {
	"regression", "improvement", "stable", "new", "removed", "not seen",
};

enum cmp_test { T_NONE, T_MW, T_NO_CALLS, T_FEW_CALLS };

struct cmp_row {
	const char *name;
	const struct op_result *b, *c;   /* NULL when the session has no such op */
	double ch_p50, ch_p95, ch_mean;  /* percent; NAN when there is nothing to compare */
	double p;                        /* NAN unless T_MW */
	enum cmp_test test;
	enum cmp_status status;
};

static __u64 cnt(const struct op_result *op)
{
	return op ? op->count : 0;
}

static double pct_change(double base, double cur)
{
	if (base == cur)
		return 0;
	if (base <= 0)
		return INFINITY;
	return (cur - base) / base * 100.0;
}

/* Completed calls only: an open call's end is the session end, not the call's. */
static __u64 *op_durations(const struct session *s, int op, size_t *n)
{
	__u64 *d;
	size_t i, k = 0;

	*n = 0;
	for (i = 0; i < s->ncalls; i++)
		if (s->calls[i].op == (__u32)op && !(s->calls[i].flags & CALL_F_OPEN))
			k++;
	if (!k)
		return NULL;
	d = malloc(k * sizeof(*d));
	if (!d)
		return NULL;
	for (i = 0; i < s->ncalls; i++)
		if (s->calls[i].op == (__u32)op && !(s->calls[i].flags & CALL_F_OPEN))
			d[(*n)++] = s->calls[i].duration_ns;
	return d;
}

static int judge(const struct session *base, int bi, const struct session *cur, int ci,
		 double thr, double alpha, struct cmp_row *r)
{
	size_t nb = 0, nc = 0;
	__u64 *db = NULL, *dc = NULL;
	bool significant = true;

	r->ch_p50 = r->ch_p95 = r->ch_mean = r->p = NAN;
	r->test = T_NONE;
	if (!cnt(r->b) && !cnt(r->c)) {
		r->status = ST_UNSEEN;
		return 0;
	}
	if (!cnt(r->b)) {
		r->status = ST_NEW;
		return 0;
	}
	if (!cnt(r->c)) {
		r->status = ST_REMOVED;
		return 0;
	}
	r->ch_p50 = pct_change(r->b->p50_ns, r->c->p50_ns);
	r->ch_p95 = pct_change(r->b->p95_ns, r->c->p95_ns);
	r->ch_mean = pct_change(r->b->mean_ns, r->c->mean_ns);

	db = op_durations(base, bi, &nb);
	dc = op_durations(cur, ci, &nc);
	if ((nb && !db) || (nc && !dc)) {
		free(db);
		free(dc);
		return -1;
	}
	if (nb >= 2 && nc >= 2) {
		r->test = T_MW;
		r->p = mann_whitney_p(db, nb, dc, nc);
		significant = r->p < alpha;
	} else {
		r->test = nb || nc ? T_FEW_CALLS : T_NO_CALLS;
	}
	free(db);
	free(dc);

	double ch = r->b->precision == PREC_SAMPLED || r->c->precision == PREC_SAMPLED ? r->ch_mean :
		    r->ch_p50;

	if (significant && fabs(ch) > thr)
		r->status = ch > 0 ? ST_REGRESSION : ST_IMPROVEMENT;
	else
		r->status = ST_STABLE;
	return 0;
}

/* Union of both sessions' ops: baseline order, then ops only the current one has. */
static int build_rows(const struct session *base, const struct session *cur, double thr,
		      double alpha, struct cmp_row *rows)
{
	int n = 0, i, j;

	for (i = 0; i < base->nops; i++) {
		j = session_find_op(cur, base->ops[i].name);
		rows[n] = (struct cmp_row){ .name = base->ops[i].name, .b = &base->ops[i],
					    .c = j >= 0 ? &cur->ops[j] : NULL };
		if (judge(base, i, cur, j, thr, alpha, &rows[n]))
			return -1;
		n++;
	}
	for (j = 0; j < cur->nops; j++) {
		if (session_find_op(base, cur->ops[j].name) >= 0)
			continue;
		rows[n] = (struct cmp_row){ .name = cur->ops[j].name, .c = &cur->ops[j] };
		if (judge(base, -1, cur, j, thr, alpha, &rows[n]))
			return -1;
		n++;
	}
	return n;
}

/* --- text --- */

static size_t disp_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

#define NCOLS 12
#define CELL 160

static void put_cell(FILE *out, const char *s, size_t w, bool left, bool last)
{
	size_t n = disp_width(s);
	int pad = (int)(w > n ? w - n : 0);

	if (!left)
		fprintf(out, "%*s", pad, "");
	fputs(s, out);
	if (left && !last)
		fprintf(out, "%*s", pad, "");
	if (!last)
		fputs("  ", out);
}

static const char *fmt_pct(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (isinf(v))
		snprintf(buf, len, "+inf%%");
	else
		snprintf(buf, len, "%+.1f%%", v);
	return buf;
}

static const char *fmt_op_ns(const struct op_result *op, __u64 v, char *buf, size_t len)
{
	if (!cnt(op)) {
		snprintf(buf, len, "-");
		return buf;
	}
	return fmt_ns(v, buf, len);
}

static const char *test_desc(const struct cmp_row *r)
{
	switch (r->test) {
	case T_MW:
		return "mann-whitney";
	case T_NO_CALLS:
		return "threshold only (no per-call data)";
	case T_FEW_CALLS:
		return "threshold only (< 2 calls on a side)";
	default:
		return "-";
	}
}

static void print_text(const struct session *base, const struct session *cur,
		       const struct cmp_row *rows, int n, double thr, double alpha, bool color,
		       FILE *out)
{
	static const char *const hdr[NCOLS] = {
		"Operation", "Base p50", "Cur p50", "Δp50", "Base p95", "Cur p95", "Base mean",
		"Cur mean", "Δmean", "p-value", "Status", "Test",
	};
	static const bool left[NCOLS] = { [0] = true, [10] = true, [11] = true };
	char (*cell)[NCOLS][CELL];
	size_t w[NCOLS];
	int tally[6] = {};
	int i, c;

	fprintf(out, "%sbase:%s    %s%s%s\n", color ? C_BOLD : "", color ? C_RESET : "",
		base->name[0] ? base->name : "(unnamed)", base->started_at[0] ? ", " : "",
		base->started_at);
	fprintf(out, "%scurrent:%s %s%s%s\n", color ? C_BOLD : "", color ? C_RESET : "",
		cur->name[0] ? cur->name : "(unnamed)", cur->started_at[0] ? ", " : "",
		cur->started_at);
	fprintf(out, "a change counts when |Δp50| > %g%% and, with per-call data on both sides, "
		"Mann-Whitney p < %g\n\n", thr, alpha);

	cell = calloc(n ? n : 1, sizeof(*cell));
	if (!cell)
		return;
	for (c = 0; c < NCOLS; c++)
		w[c] = disp_width(hdr[c]);
	for (i = 0; i < n; i++) {
		const struct cmp_row *r = &rows[i];
		const struct op_result *b = r->b, *k = r->c;

		snprintf(cell[i][0], CELL, "%s", r->name);
		fmt_op_ns(b, cnt(b) ? b->p50_ns : 0, cell[i][1], CELL);
		fmt_op_ns(k, cnt(k) ? k->p50_ns : 0, cell[i][2], CELL);
		fmt_pct(r->ch_p50, cell[i][3], CELL);
		fmt_op_ns(b, cnt(b) ? b->p95_ns : 0, cell[i][4], CELL);
		fmt_op_ns(k, cnt(k) ? k->p95_ns : 0, cell[i][5], CELL);
		fmt_op_ns(b, cnt(b) ? (__u64)(b->mean_ns + 0.5) : 0, cell[i][6], CELL);
		fmt_op_ns(k, cnt(k) ? (__u64)(k->mean_ns + 0.5) : 0, cell[i][7], CELL);
		fmt_pct(r->ch_mean, cell[i][8], CELL);
		if (r->test != T_MW)
			snprintf(cell[i][9], CELL, "-");
		else if (r->p < 0.0001)
			snprintf(cell[i][9], CELL, "<0.0001");
		else
			snprintf(cell[i][9], CELL, "%.4f", r->p);
		snprintf(cell[i][10], CELL, "%s", status_name[r->status]);
		snprintf(cell[i][11], CELL, "%s", test_desc(r));
		for (c = 0; c < NCOLS; c++)
			if (disp_width(cell[i][c]) > w[c])
				w[c] = disp_width(cell[i][c]);
	}

	if (color)
		fputs(C_BOLD, out);
	for (c = 0; c < NCOLS; c++)
		put_cell(out, hdr[c], w[c], left[c], c == NCOLS - 1);
	if (color)
		fputs(C_RESET, out);
	fputc('\n', out);
	for (i = 0; i < n; i++) {
		const char *col = NULL;

		tally[rows[i].status]++;
		if (rows[i].status == ST_UNSEEN)
			continue;
		if (color && rows[i].status == ST_REGRESSION)
			col = C_RED;
		else if (color && rows[i].status == ST_IMPROVEMENT)
			col = C_GREEN;
		if (col)
			fputs(col, out);
		for (c = 0; c < NCOLS; c++)
			put_cell(out, cell[i][c], w[c], left[c], c == NCOLS - 1);
		if (col)
			fputs(C_RESET, out);
		fputc('\n', out);
	}
	free(cell);

	if (tally[ST_UNSEEN]) {
		const char *sep = "\nnot seen in either session: ";

		for (i = 0; i < n; i++)
			if (rows[i].status == ST_UNSEEN) {
				fprintf(out, "%s%s", sep, rows[i].name);
				sep = ", ";
			}
		fputc('\n', out);
	}
	/* An estimate against an exact timing says little; flag it rather than hide the row. */
	for (i = 0; i < n; i++)
		if (cnt(rows[i].b) && cnt(rows[i].c) &&
		    rows[i].b->precision != rows[i].c->precision)
			fprintf(out, "%swarning: %s: baseline is %s, current is %s; "
				"the numbers are not measured the same way%s\n",
				color ? C_YELLOW : "", rows[i].name,
				rows[i].b->precision == PREC_SAMPLED ? "sampled" : "exact",
				rows[i].c->precision == PREC_SAMPLED ? "sampled" : "exact",
				color ? C_RESET : "");
	fprintf(out, "\n%d regression(s), %d improvement(s), %d stable, %d new, %d removed\n",
		tally[ST_REGRESSION], tally[ST_IMPROVEMENT], tally[ST_STABLE], tally[ST_NEW],
		tally[ST_REMOVED]);
}

/* --- JSON --- */

static cJSON *num_or_null(double v)
{
	return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *side_json(const struct op_result *op)
{
	cJSON *o = cJSON_CreateObject();
	bool have = cnt(op) > 0;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "count", (double)cnt(op));
	cJSON_AddItemToObject(o, "p50_ns", have ? cJSON_CreateNumber(op->p50_ns) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "p95_ns", have ? cJSON_CreateNumber(op->p95_ns) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "mean_ns", have ? cJSON_CreateNumber(op->mean_ns) : cJSON_CreateNull());
	if (op)
		cJSON_AddStringToObject(o, "precision",
					op->precision == PREC_SAMPLED ? "sampled" : "exact");
	return o;
}

static int print_json(const struct cmp_row *rows, int n, double thr, double alpha, FILE *out)
{
	cJSON *root = cJSON_CreateObject(), *ops;
	int tally[6] = {};
	char *text;
	int i, err = 0;

	if (!root)
		return -1;
	cJSON_AddStringToObject(root, "schema", "ragd-bpfprof-compare/1");
	cJSON_AddNumberToObject(root, "threshold_pct", thr);
	cJSON_AddNumberToObject(root, "alpha", alpha);
	ops = cJSON_AddArrayToObject(root, "operations");
	for (i = 0; i < n && ops; i++) {
		const struct cmp_row *r = &rows[i];
		cJSON *o, *ch;

		tally[r->status]++;
		if (r->status == ST_UNSEEN)
			continue;
		o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddItemToArray(ops, o);
		cJSON_AddStringToObject(o, "name", r->name);
		cJSON_AddStringToObject(o, "status", status_name[r->status]);
		cJSON_AddItemToObject(o, "base", side_json(r->b));
		cJSON_AddItemToObject(o, "current", side_json(r->c));
		ch = cJSON_AddObjectToObject(o, "change_pct");
		if (ch) {
			cJSON_AddItemToObject(ch, "p50", num_or_null(r->ch_p50));
			cJSON_AddItemToObject(ch, "p95", num_or_null(r->ch_p95));
			cJSON_AddItemToObject(ch, "mean", num_or_null(r->ch_mean));
		}
		cJSON_AddItemToObject(o, "p_value", num_or_null(r->p));
		/* new/removed rows had nothing to test */
		if (r->test == T_NONE)
			cJSON_AddNullToObject(o, "test");
		else
			cJSON_AddStringToObject(o, "test", r->test == T_MW ? "mann-whitney" : "threshold");
	}
	cJSON_AddNumberToObject(root, "regressions", tally[ST_REGRESSION]);
	cJSON_AddNumberToObject(root, "improvements", tally[ST_IMPROVEMENT]);
	cJSON_AddNumberToObject(root, "stable", tally[ST_STABLE]);
	cJSON_AddNumberToObject(root, "new", tally[ST_NEW]);
	cJSON_AddNumberToObject(root, "removed", tally[ST_REMOVED]);
	if (tally[ST_UNSEEN]) {
		cJSON *ns = cJSON_AddArrayToObject(root, "not_seen");

		for (i = 0; i < n && ns; i++)
			if (rows[i].status == ST_UNSEEN)
				cJSON_AddItemToArray(ns, cJSON_CreateString(rows[i].name));
	}
	text = cJSON_Print(root);
	if (!text || fprintf(out, "%s\n", text) < 0)
		err = -1;
	free(text);
	cJSON_Delete(root);
	return err;
}

int compare_sessions(const struct session *base, const struct session *cur,
		     const struct compare_opts *o, FILE *out)
{
	static const struct compare_opts defaults = { .threshold_pct = 5, .alpha = 0.01 };
	struct cmp_row *rows;
	double thr, alpha;
	int n, i, regressions = 0;

	if (!o)
		o = &defaults;
	/* A zeroed opts struct gets the defaults; a tiny positive threshold still works. */
	thr = o->threshold_pct > 0 ? o->threshold_pct : defaults.threshold_pct;
	alpha = o->alpha > 0 && o->alpha < 1 ? o->alpha : defaults.alpha;

	rows = calloc(base->nops + cur->nops + 1, sizeof(*rows));
	if (!rows)
		return -1;
	n = build_rows(base, cur, thr, alpha, rows);
	if (n < 0) {
		free(rows);
		return -1;
	}
	for (i = 0; i < n; i++)
		regressions += rows[i].status == ST_REGRESSION;
	if (o->json) {
		if (print_json(rows, n, thr, alpha, out))
			regressions = -1;
	} else {
		print_text(base, cur, rows, n, thr, alpha, o->color, out);
	}
	free(rows);
	return regressions;
}
