// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Baseline vs current session, per operation: a regression gate a CI can trust.
 *
 * Each op is judged on its whole distribution, not one quantile:
 *   shift      Hodges-Lehmann shift (median of all current - baseline differences), interval from
 *              the Mann-Whitney distribution, p from Mann-Whitney: the bulk of the calls;
 *   p10, p90, p99  quantile differences with seeded bootstrap intervals, p from Fisher's exact
 *              test of the shares below the pooled quantile: a change confined to the fast calls
 *              (p10) or the slow ones (p90, p99), which the bulk can hide. A quantile
 *              is tested only with >= 5 samples beyond it on both sides (p10/p90: n >= 50,
 *              p99: n >= 500); fewer make its estimate one or two values.
 *   rss_delta  Hodges-Lehmann shift of the per-call RSS change (% of the baseline's median
 *              change), and the peak RSS (one value a side: threshold only). Memory moves only
 *              beyond both thresholds, % and bytes.
 * A statistic moved when its change is beyond the threshold AND its Holm-adjusted p < alpha.
 * Holm, not Benjamini-Hochberg: a gate fails on any flag, so what must stay below alpha is the
 * chance of one false flag in the whole comparison (family-wise error), which Holm bounds under
 * any dependence between the tests; BH bounds the expected share of false flags, which lets a
 * gate with 21 ops fail on noise far more often than alpha.
 * Fewer than min_samples values on a side: inconclusive, with the reason. Sampled ops are judged
 * on their per-iteration totals (one value per iteration): their spans are quantised to the
 * sampling period, a total over an iteration is not. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "session.h"
#include "util.h"
#include "stats.h"

#define C_BOLD   "\033[1m"
#define C_RED    "\033[31m"
#define C_GREEN  "\033[32m"
#define C_YELLOW "\033[33m"
#define C_RESET  "\033[0m"

#define CONF 0.95           /* intervals shown */
#define BOOT_REPS 500
#define DEFAULT_SEED 0x5eed5eedULL
#define MIB (1024.0 * 1024.0)

enum cmp_status { ST_REGRESSION, ST_IMPROVEMENT, ST_STABLE, ST_NEW, ST_REMOVED, ST_UNSEEN,
		  ST_INCONCLUSIVE, NSTATUS };
static const char *const status_name[] = {
	"regression", "improvement", "stable", "new", "removed", "not seen", "inconclusive",
};

enum stat_id { S_SHIFT, S_P10, S_P90, S_P99, S_RSS, NSTATS };
static const char *const stat_name[NSTATS] = { "shift", "p10", "p90", "p99", "rss_delta" };
static const double stat_q[NSTATS] = { 0.5, 0.10, 0.90, 0.99, 0.5 };

/* What an op is judged on: its calls, its per-iteration totals (sampled), or in an A/B run its
 * per-iteration medians (exact: calls of one iteration share that run's machine state, so they
 * are not independent samples; one slow iteration must not make a regression). */
enum unit { U_CALL, U_ITERATION, U_ITER_MEDIAN };

struct stat_res {
	bool tested;             /* in the Holm family */
	double base_v, cur_v;    /* the statistic on each side (shift: the medians) */
	struct effect e;         /* in ns (bytes for rss_delta) */
	double pct, lo_pct, hi_pct;
	double padj;
	int moved;               /* +1 up (regression), -1 down, 0 */
};

struct cmp_row {
	const char *name;
	const struct op_result *b, *c;   /* NULL when the session has no such op */
	double ch_p50, ch_p95, ch_mean;  /* percent; NAN when there is nothing to compare */
	enum cmp_status status;
	bool judged;                     /* tests ran */
	bool hist;                       /* a side was rebuilt from its histogram */
	enum unit unit;
	size_t nb, nc;                   /* values judged on, per side */
	double mean_b, mean_c;           /* their means */
	struct stat_res st[NSTATS];
	double peak_b, peak_c;           /* bytes; 0: not measured */
	int peak_moved;
	int why;                         /* deciding statistic, NSTATS: peak, -1: none */
	char reason[200];                /* inconclusive: why */
};

/* A session's closed calls grouped by op (call order kept): calls of op k are
 * idx[off[k] .. off[k + 1]). Built once, so each op's values need not scan every call. */
struct op_calls {
	size_t *off;
	size_t *idx;
};

struct cmp_ctx {
	double thr, alpha, mem_pct, mem_bytes;
	int min_n;
	bool ab;                  /* both sides from one interleaved A/B run */
	uint64_t seed;
	int ntests;
	struct op_calls ob, oc;   /* of base and cur */
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
		return cur > base ? INFINITY : -INFINITY;
	return (cur - base) / base * 100.0;
}

static bool closed_call(const struct call_rec *c, int op)
{
	return c->op == (__u32)op && !(c->flags & CALL_F_OPEN);
}

static int op_calls_build(const struct session *s, struct op_calls *g)
{
	size_t i, k;

	g->off = calloc((size_t)s->nops + 2, sizeof(*g->off));
	g->idx = malloc((s->ncalls ? s->ncalls : 1) * sizeof(*g->idx));
	if (!g->off || !g->idx)
		return -ENOMEM;
	for (i = 0; i < s->ncalls; i++)
		if (s->calls[i].op < (__u32)s->nops && closed_call(&s->calls[i], (int)s->calls[i].op))
			g->off[s->calls[i].op + 2]++;
	for (k = 2; k < (size_t)s->nops + 2; k++)
		g->off[k] += g->off[k - 1];
	/* off[k + 1] is where op k's next call goes; after the fill it is op k's end */
	for (i = 0; i < s->ncalls; i++)
		if (s->calls[i].op < (__u32)s->nops && closed_call(&s->calls[i], (int)s->calls[i].op))
			g->idx[g->off[s->calls[i].op + 1]++] = i;
	return 0;
}

static void op_calls_free(struct op_calls *g)
{
	free(g->off);
	free(g->idx);
}

/* Per-iteration totals of a sampled op: one value for every iteration the session ran (an
 * iteration where the op got no sample counts 0, a real measurement). */
static int64_t *iteration_totals(const struct session *s, int op, size_t *n)
{
	__u32 max = 0;
	bool *seen;
	int64_t *tot, *v;
	size_t i, k = 0;

	*n = 0;
	if (!s->ncalls)
		return NULL;
	for (i = 0; i < s->ncalls; i++)
		if (s->calls[i].iteration > max)
			max = s->calls[i].iteration;
	if (max > (1u << 24))
		return NULL;
	seen = calloc(max + 1, sizeof(*seen));
	tot = calloc(max + 1, sizeof(*tot));
	v = malloc((max + 1) * sizeof(*v));
	if (!seen || !tot || !v)
		goto cleanup;
	for (i = 0; i < s->ncalls; i++) {
		seen[s->calls[i].iteration] = true;
		if (closed_call(&s->calls[i], op))
			tot[s->calls[i].iteration] += (int64_t)s->calls[i].duration_ns;
	}
	for (i = 0; i <= max; i++)
		if (seen[i])
			v[k++] = tot[i];
	*n = k;
cleanup:
	free(seen);
	free(tot);
	if (!*n) {
		free(v);
		return NULL;
	}
	return v;
}

struct it_dur {
	__u32 it;
	int64_t d;
};

static int it_dur_cmp(const void *a, const void *b)
{
	const struct it_dur *x = a, *y = b;

	if (x->it != y->it)
		return x->it < y->it ? -1 : 1;
	return (x->d > y->d) - (x->d < y->d);
}

/* Per-iteration medians (nearest rank) of an exact op's calls, for the iterations that had one. */
static int64_t *iteration_medians(const struct session *s, const struct op_calls *g, int op,
				  size_t *n)
{
	size_t k = g->off[op + 1] - g->off[op], m = 0;
	struct it_dur *p;
	int64_t *v;

	*n = 0;
	if (!k || !(p = malloc(k * sizeof(*p))))
		return NULL;
	if (!(v = malloc(k * sizeof(*v)))) {
		free(p);
		return NULL;
	}
	for (size_t i = 0; i < k; i++) {
		const struct call_rec *c = &s->calls[g->idx[g->off[op] + i]];

		p[i] = (struct it_dur){ .it = c->iteration, .d = (int64_t)c->duration_ns };
	}
	qsort(p, k, sizeof(*p), it_dur_cmp);
	for (size_t i = 0, j; i < k; i = j) {
		for (j = i; j < k && p[j].it == p[i].it; j++)
			;
		v[m++] = p[i + (j - i + 1) / 2 - 1].d;
	}
	free(p);
	*n = m;
	return v;
}

/* Every call from the histogram BPF kept when records were dropped: the k-th of c calls in a
 * bucket at low + (k + 1/2) / c of its width, as percentile_hist reads it. */
static int64_t *hist_values(const struct op_result *o, size_t *n)
{
	size_t total = 0, k = 0;
	int64_t *v;

	*n = 0;
	for (__u32 i = 0; i < HIST_BUCKETS; i++)
		total += o->hist[i];
	if (!total || !(v = malloc(total * sizeof(*v))))
		return NULL;
	for (__u32 i = 0; i < HIST_BUCKETS; i++) {
		double lo = (double)hist_bucket_low(i);
		double w = i >= HIST_BUCKETS - 1 ? 0 : (double)hist_bucket_high(i) - lo;

		for (__u64 j = 0; j < o->hist[i]; j++)
			v[k++] = (int64_t)(lo + w * ((double)j + 0.5) / (double)o->hist[i]);
	}
	*n = k;
	return v;
}

/* The values an op is judged on, sorted: per-call durations (exact), per-call values rebuilt
 * from the histogram (records dropped), per-iteration totals (sampled on either side: both
 * sides then, so like is compared with like). */
static int64_t *time_values(const struct session *s, const struct op_calls *g, int op, size_t *n,
			    bool *hist, enum unit u)
{
	const struct op_result *o = &s->ops[op];
	size_t i, k = g->off[op + 1] - g->off[op];
	int64_t *v = NULL;

	*n = 0;
	if (u == U_ITERATION) {
		v = iteration_totals(s, op, n);
	} else if (u == U_ITER_MEDIAN) {
		v = iteration_medians(s, g, op, n);
	} else if (o->source == SRC_HISTOGRAM && o->hist) {
		*hist = true;
		v = hist_values(o, n);
	} else if (k && (v = malloc(k * sizeof(*v)))) {
		for (i = g->off[op]; i < g->off[op + 1]; i++)
			v[(*n)++] = (int64_t)s->calls[g->idx[i]].duration_ns;
	}
	if (v)
		sort_i64(v, *n);
	return v;
}

/* Per-call RSS change, of calls that had RSS measured (see rss_from_calls), sorted. */
static int64_t *rss_values(const struct session *s, const struct op_calls *g, int op, size_t *n)
{
	size_t k = g->off[op + 1] - g->off[op];
	int64_t *v = malloc((k ? k : 1) * sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = g->off[op]; i < g->off[op + 1]; i++) {
		const struct call_rec *c = &s->calls[g->idx[i]];

		if (!c->rss_start && !c->rss_end && !c->rss_peak)
			continue;
		v[(*n)++] = (int64_t)(c->rss_end - c->rss_start);
	}
	sort_i64(v, *n);
	return v;
}

static uint64_t name_seed(uint64_t seed, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	return h;
}

static void set_pct(struct stat_res *st, double ref)
{
	st->pct = ref > 0 ? st->e.est / ref * 100 : pct_change(0, st->e.est);
	st->lo_pct = ref > 0 ? st->e.lo / ref * 100 : NAN;
	st->hi_pct = ref > 0 ? st->e.hi / ref * 100 : NAN;
}

/* Effects of one op's time values; quantiles only with >= 5 values beyond them on each side. */
static int time_effects(struct cmp_row *r, const int64_t *a, const int64_t *b, struct rng *rng)
{
	size_t nmin = r->nb < r->nc ? r->nb : r->nc;
	int err;

	for (int k = S_SHIFT; k <= S_P99; k++) {
		struct stat_res *st = &r->st[k];
		double q = stat_q[k];

		st->base_v = (double)quantile_i64(a, r->nb, q);
		st->cur_v = (double)quantile_i64(b, r->nc, q);
		if (k == S_SHIFT)
			err = hl_shift(a, r->nb, b, r->nc, CONF, &st->e);
		else if ((double)nmin * fmin(q, 1 - q) + 1e-9 < 5)
			continue;
		else
			err = quantile_diff_boot(a, r->nb, b, r->nc, q, BOOT_REPS, rng, CONF, &st->e);
		if (err)
			return err;
		st->tested = true;
		set_pct(st, st->base_v);
	}
	return 0;
}

static int memory_effects(struct cmp_row *r, const struct session *base, int bi,
			  const struct session *cur, int ci, const struct cmp_ctx *x)
{
	size_t na, nb;
	int64_t *a = rss_values(base, &x->ob, bi, &na), *b = rss_values(cur, &x->oc, ci, &nb);
	int min_n = x->min_n;
	struct stat_res *st = &r->st[S_RSS];
	int err = 0;

	if (!a || !b) {
		err = -ENOMEM;
		goto cleanup;
	}
	if ((int)na < min_n || (int)nb < min_n)
		goto cleanup;
	r->peak_b = (double)r->b->rss_peak;
	r->peak_c = (double)r->c->rss_peak;
	st->base_v = (double)quantile_i64(a, na, 0.5);
	st->cur_v = (double)quantile_i64(b, nb, 0.5);
	if ((err = hl_shift(a, na, b, nb, CONF, &st->e)))
		goto cleanup;
	st->tested = true;
	set_pct(st, fabs(st->base_v));   /* no growth in the baseline: any growth is +inf% */
cleanup:
	free(a);
	free(b);
	return err;
}

static const char *unit_name(enum unit u, size_t n)
{
	if (u != U_CALL)
		return n == 1 ? "iteration" : "iterations";
	return n == 1 ? "call" : "calls";
}

/* Phase 1: what can be measured; the verdict waits for Holm over every row's tests. */
static int judge(const struct session *base, int bi, const struct session *cur, int ci,
		 struct cmp_ctx *x, struct cmp_row *r)
{
	int64_t *a = NULL, *b = NULL;
	struct rng rng;
	int err = 0;

	r->ch_p50 = r->ch_p95 = r->ch_mean = NAN;
	r->why = -1;
	if (!cnt(r->b) && !cnt(r->c)) {
		r->status = ST_UNSEEN;
		return 0;
	}
	if (!cnt(r->b) || !cnt(r->c)) {
		r->status = cnt(r->b) ? ST_REMOVED : ST_NEW;
		return 0;
	}
	r->ch_p50 = pct_change(r->b->p50_ns, r->c->p50_ns);
	r->ch_p95 = pct_change(r->b->p95_ns, r->c->p95_ns);
	r->ch_mean = pct_change(r->b->mean_ns, r->c->mean_ns);

	r->unit = r->b->precision == PREC_SAMPLED || r->c->precision == PREC_SAMPLED ? U_ITERATION :
		  x->ab ? U_ITER_MEDIAN : U_CALL;
	a = time_values(base, &x->ob, bi, &r->nb, &r->hist, r->unit);
	b = time_values(cur, &x->oc, ci, &r->nc, &r->hist, r->unit);
	if (r->nb == 0 && r->nc == 0 && r->unit == U_CALL) {
		snprintf(r->reason, sizeof(r->reason), "no per-call data on either side");
	} else if ((int)r->nb < x->min_n || (int)r->nc < x->min_n) {
		if (r->nb == r->nc)
			snprintf(r->reason, sizeof(r->reason), "%zu %s a side, needs %d", r->nb,
				 unit_name(r->unit, r->nb), x->min_n);
		else
			snprintf(r->reason, sizeof(r->reason), "%zu %s in baseline, %zu in current, "
				 "needs %d a side", r->nb, unit_name(r->unit, r->nb), r->nc, x->min_n);
		if (r->unit != U_CALL)
			strncat(r->reason, r->unit == U_ITERATION ? " (sampled: judged on per-iteration totals)" :
				" (A/B: judged on per-iteration medians)",
				sizeof(r->reason) - strlen(r->reason) - 1);
	} else {
		for (size_t i = 0; i < r->nb; i++)
			r->mean_b += (double)a[i] / (double)r->nb;
		for (size_t i = 0; i < r->nc; i++)
			r->mean_c += (double)b[i] / (double)r->nc;
		rng_seed(&rng, name_seed(x->seed, r->name));
		err = time_effects(r, a, b, &rng);
		if (!err)
			err = memory_effects(r, base, bi, cur, ci, x);
		r->judged = !err;
	}
	r->status = r->judged ? ST_STABLE : ST_INCONCLUSIVE;
	free(a);
	free(b);
	return err;
}

static int moved_dir(double pct, double padj, double thr, double alpha)
{
	if (!(padj < alpha))
		return 0;
	return pct > thr ? 1 : pct < -thr ? -1 : 0;
}

/* Phase 2, after Holm: which statistics moved, and the row's verdict. */
static void decide(struct cmp_row *r, const struct cmp_ctx *x)
{
	double best = 0;
	bool up = false, down = false;

	if (!r->judged)
		return;
	for (int k = 0; k < NSTATS; k++) {
		struct stat_res *st = &r->st[k];

		if (!st->tested)
			continue;
		st->moved = moved_dir(st->pct, st->padj, k == S_RSS ? x->mem_pct : x->thr, x->alpha);
		if (k == S_RSS && fabs(st->e.est) <= x->mem_bytes)
			st->moved = 0;
	}
	if (r->st[S_RSS].tested) {
		double d = r->peak_c - r->peak_b, p = pct_change(r->peak_b, r->peak_c);

		if (fabs(d) > x->mem_bytes && fabs(p) > x->mem_pct)
			r->peak_moved = d > 0 ? 1 : -1;
	}
	for (int k = 0; k <= NSTATS; k++) {
		int m = k < NSTATS ? r->st[k].moved : r->peak_moved;

		up |= m > 0;
		down |= m < 0;
	}
	/* the deciding statistic: the largest move in the verdict's direction */
	for (int k = 0; k <= NSTATS && (up || down); k++) {
		int m = k < NSTATS ? r->st[k].moved : r->peak_moved;
		double mag = k < NSTATS ? fabs(r->st[k].pct) : fabs(pct_change(r->peak_b, r->peak_c));

		if (m == (up ? 1 : -1) && (r->why < 0 || mag > best)) {
			r->why = k;
			best = mag;
		}
	}
	r->status = up ? ST_REGRESSION : down ? ST_IMPROVEMENT : ST_STABLE;
}

/* Holm across every test of every row: one family, so alpha bounds a false flag anywhere. */
static int holm_rows(struct cmp_row *rows, int n, struct cmp_ctx *x)
{
	double *p, *padj;
	int m = 0, i, k, j = 0;

	for (i = 0; i < n; i++)
		for (k = 0; k < NSTATS; k++)
			m += rows[i].st[k].tested;
	x->ntests = m;
	if (!m)
		return 0;
	p = malloc(m * sizeof(*p));
	padj = malloc(m * sizeof(*padj));
	if (!p || !padj) {
		free(p);
		free(padj);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		for (k = 0; k < NSTATS; k++)
			if (rows[i].st[k].tested)
				p[j++] = rows[i].st[k].e.p;
	holm_adjust(p, m, padj);
	for (i = 0, j = 0; i < n; i++)
		for (k = 0; k < NSTATS; k++)
			if (rows[i].st[k].tested)
				rows[i].st[k].padj = padj[j++];
	free(p);
	free(padj);
	return 0;
}

/* Union of both sessions' ops: baseline order, then ops only the current one has. */
static int build_rows(const struct session *base, const struct session *cur, struct cmp_ctx *x,
		      struct cmp_row *rows)
{
	int n = 0, i, j;

	for (i = 0; i < base->nops; i++) {
		j = session_find_op(cur, base->ops[i].name);
		rows[n] = (struct cmp_row){ .name = base->ops[i].name, .b = &base->ops[i],
					    .c = j >= 0 ? &cur->ops[j] : NULL };
		if (judge(base, i, cur, j, x, &rows[n]))
			return -1;
		n++;
	}
	for (j = 0; j < cur->nops; j++) {
		if (session_find_op(base, cur->ops[j].name) >= 0)
			continue;
		rows[n] = (struct cmp_row){ .name = cur->ops[j].name, .c = &cur->ops[j] };
		if (judge(base, -1, cur, j, x, &rows[n]))
			return -1;
		n++;
	}
	if (holm_rows(rows, n, x))
		return -1;
	for (i = 0; i < n; i++)
		decide(&rows[i], x);
	return n;
}

/* --- shared cell text --- */

static const char *fmt_pct(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (isinf(v))
		snprintf(buf, len, "%cinf%%", v > 0 ? '+' : '-');
	else
		snprintf(buf, len, "%+.1f%%", v);
	return buf;
}

static const char *fmt_op_ns(const struct op_result *op, double v, char *buf, size_t len)
{
	if (!cnt(op)) {
		snprintf(buf, len, "-");
		return buf;
	}
	return fmt_ns(u64_round(v), buf, len); /* v comes from a file */
}

static const char *prec_name(const struct cmp_row *r)
{
	const struct op_result *o = r->c ? r->c : r->b;

	if (r->b && r->c && r->b->precision != r->c->precision)
		return "mixed";
	if (o->precision == PREC_SAMPLED)
		return "sampled";
	return r->hist ? "exact/hist" : "exact";
}

/* "p10 +50.2% [+44.1%, +56.0%]"; memory in bytes: "rss_delta +10.0MiB [+10.0MiB, +10.0MiB]". */
static const char *fmt_stat(const struct cmp_row *r, int k, char *buf, size_t len)
{
	char a[32], b[32], c[32];

	if (k == NSTATS) {
		snprintf(buf, len, "rss_peak %s (%s, one value a side)",
			 fmt_bytes_delta(r->peak_c - r->peak_b, a, sizeof(a)),
			 fmt_pct(pct_change(r->peak_b, r->peak_c), b, sizeof(b)));
	} else if (k == S_RSS) {
		snprintf(buf, len, "rss_delta %s/call [%s, %s]", fmt_bytes_delta(r->st[k].e.est, a, sizeof(a)),
			 fmt_bytes_delta(r->st[k].e.lo, b, sizeof(b)),
			 fmt_bytes_delta(r->st[k].e.hi, c, sizeof(c)));
	} else if (r->st[k].tested) {
		snprintf(buf, len, "%s %s [%s, %s]", stat_name[k], fmt_pct(r->st[k].pct, a, sizeof(a)),
			 fmt_pct(r->st[k].lo_pct, b, sizeof(b)), fmt_pct(r->st[k].hi_pct, c, sizeof(c)));
	} else {
		snprintf(buf, len, "-");
	}
	return buf;
}

static const char *fmt_n(const struct cmp_row *r, char *buf, size_t len)
{
	if (!r->b || !r->c || (!r->nb && !r->nc && r->unit == U_CALL))
		snprintf(buf, len, "%llu/%llu", (unsigned long long)cnt(r->b),
			 (unsigned long long)cnt(r->c));
	else
		snprintf(buf, len, "%zu/%zu%s", r->nb, r->nc, r->unit != U_CALL ? " it" : "");
	return buf;
}

static double row_padj(const struct cmp_row *r)
{
	double p = NAN;

	if (r->why >= 0 && r->why < NSTATS)
		return r->st[r->why].padj;
	for (int k = 0; k < NSTATS; k++)
		if (r->st[k].tested && !(r->st[k].padj >= p))
			p = r->st[k].padj;
	return p;
}

static const char *fmt_p(double p, char *buf, size_t len)
{
	if (isnan(p))
		snprintf(buf, len, "-");
	else if (p < 0.0001)
		snprintf(buf, len, "<0.0001");
	else
		snprintf(buf, len, "%.4f", p);
	return buf;
}

/* Why the row got its verdict, in a few words. */
static const char *fmt_why(const struct cmp_row *r, char *buf, size_t len)
{
	if (r->status == ST_INCONCLUSIVE)
		snprintf(buf, len, "%s", r->reason);
	else if (r->why >= 0)
		fmt_stat(r, r->why, buf, len);
	else if (r->judged)
		snprintf(buf, len, "nothing moved beyond the thresholds");
	else
		snprintf(buf, len, "-");
	return buf;
}

static void tally_rows(const struct cmp_row *rows, int n, int *tally)
{
	memset(tally, 0, NSTATUS * sizeof(*tally));
	for (int i = 0; i < n; i++)
		tally[rows[i].status]++;
}

static void print_summary(const int *tally, FILE *out)
{
	fprintf(out, "%d regression(s), %d improvement(s), %d stable, %d new, %d removed, "
		"%d inconclusive\n", tally[ST_REGRESSION], tally[ST_IMPROVEMENT], tally[ST_STABLE],
		tally[ST_NEW], tally[ST_REMOVED], tally[ST_INCONCLUSIVE]);
}

static void print_rule(const struct cmp_ctx *x, const struct compare_opts *o, const char *pfx,
		       FILE *out)
{
	char b[32];

	if (o->ab_pairs > 0)
		fprintf(out, "%sA/B: %d pairs run interleaved (A B B A ...), so drift hits both sides "
			"alike\n", pfx, o->ab_pairs);
	fprintf(out, "%sa statistic moved when its change is beyond %g%% and its Holm-adjusted "
		"p < %g (%d tests); statistics: shift (Hodges-Lehmann), p10, p90, p99, with %g%% "
		"intervals\n", pfx, x->thr, x->alpha, x->ntests, CONF * 100);
	fprintf(out, "%smemory: RSS change per call and peak RSS, beyond %g%% and %s; fewer than "
		"%d values a side: inconclusive\n", pfx, x->mem_pct,
		fmt_bytes(x->mem_bytes, b, sizeof(b)), x->min_n);
}

/* --- text --- */

static size_t disp_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

#define NCOLS 11
#define CELL 200

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

static void text_cells(const struct cmp_row *r, char (*cell)[CELL])
{
	const struct op_result *b = r->b, *k = r->c;

	snprintf(cell[0], CELL, "%s", r->name);
	snprintf(cell[1], CELL, "%s", prec_name(r));
	fmt_n(r, cell[2], CELL);
	/* the median of what was judged: per call, or per iteration for sampled ops */
	fmt_op_ns(b, r->judged ? r->st[S_SHIFT].base_v : cnt(b) ? b->p50_ns : 0, cell[3], CELL);
	fmt_op_ns(k, r->judged ? r->st[S_SHIFT].cur_v : cnt(k) ? k->p50_ns : 0, cell[4], CELL);
	fmt_pct(r->judged ? pct_change(r->st[S_SHIFT].base_v, r->st[S_SHIFT].cur_v) : r->ch_p50,
		cell[5], CELL);
	fmt_pct(r->judged ? pct_change(r->mean_b, r->mean_c) : r->ch_mean, cell[6], CELL);
	fmt_stat(r, S_SHIFT, cell[7], CELL);
	if (!strncmp(cell[7], "shift ", 6))
		memmove(cell[7], cell[7] + 6, strlen(cell[7] + 6) + 1);
	fmt_p(row_padj(r), cell[8], CELL);
	snprintf(cell[9], CELL, "%s", status_name[r->status]);
	fmt_why(r, cell[10], CELL);
}

static void print_text(const struct session *base, const struct session *cur,
		       const struct cmp_row *rows, int n, const struct cmp_ctx *x,
		       const struct compare_opts *o, FILE *out)
{
	static const char *const hdr[NCOLS] = {
		"Operation", "Prec", "N", "Base p50", "Cur p50", "Δp50", "Δmean", "Shift [95% CI]",
		"p(adj)", "Status", "Why",
	};
	static const bool left[NCOLS] = { [0] = true, [1] = true, [9] = true, [10] = true };
	bool color = o->color;
	char (*cell)[NCOLS][CELL];
	size_t w[NCOLS];
	int tally[NSTATUS];
	int i, c;

	fprintf(out, "%sbase:%s    %s%s%s\n", color ? C_BOLD : "", color ? C_RESET : "",
		base->name[0] ? base->name : "(unnamed)", base->started_at[0] ? ", " : "",
		base->started_at);
	fprintf(out, "%scurrent:%s %s%s%s\n", color ? C_BOLD : "", color ? C_RESET : "",
		cur->name[0] ? cur->name : "(unnamed)", cur->started_at[0] ? ", " : "",
		cur->started_at);
	print_rule(x, o, "", out);
	fputc('\n', out);

	cell = calloc(n ? n : 1, sizeof(*cell));
	if (!cell)
		return;
	for (c = 0; c < NCOLS; c++)
		w[c] = disp_width(hdr[c]);
	for (i = 0; i < n; i++) {
		text_cells(&rows[i], cell[i]);
		for (c = 0; c < NCOLS; c++)
			if (rows[i].status != ST_UNSEEN && disp_width(cell[i][c]) > w[c])
				w[c] = disp_width(cell[i][c]);
	}

	if (color)
		fputs(C_BOLD, out);
	for (c = 0; c < NCOLS; c++)
		put_cell(out, hdr[c], w[c], left[c], c == NCOLS - 1);
	if (color)
		fputs(C_RESET, out);
	fputc('\n', out);
	tally_rows(rows, n, tally);
	for (i = 0; i < n; i++) {
		const char *col = NULL;

		if (rows[i].status == ST_UNSEEN)
			continue;
		if (color && rows[i].status == ST_REGRESSION)
			col = C_RED;
		else if (color && rows[i].status == ST_IMPROVEMENT)
			col = C_GREEN;
		else if (color && rows[i].status == ST_INCONCLUSIVE)
			col = C_YELLOW;
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
	fputc('\n', out);
	print_summary(tally, out);
}

/* --- markdown (a CI step summary) --- */

static void md_escape(const char *s, FILE *out)
{
	for (; *s; s++) {
		/* GitHub leaves intraword _ alone: op names stay readable */
		if (*s == '|' || *s == '\\' || *s == '*' || *s == '`')
			fputc('\\', out);
		fputc(*s, out);
	}
}

static void md_side(const struct op_result *op, size_t n, double median, const struct cmp_row *r,
		    FILE *out)
{
	char b[32];

	if (!cnt(op)) {
		fputs("-", out);
		return;
	}
	fprintf(out, "p50 %s", fmt_ns(r->judged ? u64_round(median) : op->p50_ns, b, sizeof(b)));
	if (r->judged || r->status == ST_INCONCLUSIVE)
		fprintf(out, " (n=%zu%s)", n, r->unit != U_CALL ? " it" : "");
	else
		fprintf(out, " (n=%llu)", (unsigned long long)op->count);
}

static void print_markdown(const struct session *base, const struct session *cur,
			   const struct cmp_row *rows, int n, const struct cmp_ctx *x,
			   const struct compare_opts *o, FILE *out)
{
	int tally[NSTATUS];
	char buf[CELL];

	tally_rows(rows, n, tally);
	fputs("### ragd-bpfprof compare: ", out);
	md_escape(base->name[0] ? base->name : "base", out);
	fputs(" → ", out);
	md_escape(cur->name[0] ? cur->name : "current", out);
	fputs("\n\n", out);
	fprintf(out, "**%s**: ", tally[ST_REGRESSION] ? "FAIL" : "pass");
	print_summary(tally, out);
	fputc('\n', out);
	fputs("| Operation | Precision | Base | Current | Change [95% CI] | Verdict |\n", out);
	fputs("|---|---|---:|---:|---|---|\n", out);
	for (int i = 0; i < n; i++) {
		const struct cmp_row *r = &rows[i];
		int k = r->why >= 0 ? r->why : S_SHIFT;

		if (r->status == ST_UNSEEN)
			continue;
		fputs("| ", out);
		md_escape(r->name, out);
		fprintf(out, " | %s | ", prec_name(r));
		md_side(r->b, r->nb, r->st[S_SHIFT].base_v, r, out);
		fputs(" | ", out);
		md_side(r->c, r->nc, r->st[S_SHIFT].cur_v, r, out);
		fputs(" | ", out);
		md_escape(r->judged ? fmt_stat(r, k, buf, sizeof(buf)) : "-", out);
		fprintf(out, " | %s%s%s", r->status == ST_REGRESSION ? "**" : "",
			status_name[r->status], r->status == ST_REGRESSION ? "**" : "");
		if (r->status == ST_INCONCLUSIVE) {
			fputs(": ", out);
			md_escape(r->reason, out);
		}
		fputs(" |\n", out);
	}
	fputc('\n', out);
	print_rule(x, o, "> ", out);
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

static void stat_json(cJSON *arr, const struct cmp_row *r, int k)
{
	const struct stat_res *st = &r->st[k];
	cJSON *o = cJSON_CreateObject(), *ci;
	bool bytes = k == S_RSS;

	if (!o)
		return;
	cJSON_AddItemToArray(arr, o);
	cJSON_AddStringToObject(o, "name", stat_name[k]);
	cJSON_AddStringToObject(o, "unit", bytes ? "bytes" : "ns");
	cJSON_AddItemToObject(o, "base", num_or_null(st->base_v));
	cJSON_AddItemToObject(o, "current", num_or_null(st->cur_v));
	cJSON_AddItemToObject(o, "change", num_or_null(st->e.est));
	if ((ci = cJSON_AddArrayToObject(o, "interval"))) {
		cJSON_AddItemToArray(ci, num_or_null(st->e.lo));
		cJSON_AddItemToArray(ci, num_or_null(st->e.hi));
	}
	cJSON_AddItemToObject(o, "change_pct", num_or_null(st->pct));
	if ((ci = cJSON_AddArrayToObject(o, "interval_pct"))) {
		cJSON_AddItemToArray(ci, num_or_null(st->lo_pct));
		cJSON_AddItemToArray(ci, num_or_null(st->hi_pct));
	}
	cJSON_AddStringToObject(o, "method", k == S_SHIFT || k == S_RSS ? "hodges-lehmann" :
				"bootstrap");
	cJSON_AddItemToObject(o, "p_value", num_or_null(st->e.p));
	cJSON_AddItemToObject(o, "p_adjusted", num_or_null(st->padj));
	cJSON_AddStringToObject(o, "moved", st->moved > 0 ? "up" : st->moved < 0 ? "down" : "no");
}

static void row_json_extra(cJSON *o, const struct cmp_row *r)
{
	char buf[CELL];
	cJSON *arr, *sm;

	cJSON_AddStringToObject(o, "precision", prec_name(r));
	if ((sm = cJSON_AddObjectToObject(o, "samples"))) {
		cJSON_AddNumberToObject(sm, "base", (double)r->nb);
		cJSON_AddNumberToObject(sm, "current", (double)r->nc);
		cJSON_AddStringToObject(sm, "unit", r->unit == U_ITERATION ? "iteration" :
					r->unit == U_ITER_MEDIAN ? "iteration_median" : "call");
	}
	cJSON_AddItemToObject(o, "p_adjusted", num_or_null(row_padj(r)));
	if (r->status == ST_INCONCLUSIVE || (r->judged && r->why >= 0))
		cJSON_AddStringToObject(o, "reason", fmt_why(r, buf, sizeof(buf)));
	else
		cJSON_AddNullToObject(o, "reason");
	arr = cJSON_AddArrayToObject(o, "moved");
	for (int k = 0; arr && k < NSTATS; k++)
		if (r->st[k].moved > 0 || (r->status == ST_IMPROVEMENT && r->st[k].moved < 0))
			cJSON_AddItemToArray(arr, cJSON_CreateString(stat_name[k]));
	if (arr && r->peak_moved && (r->peak_moved > 0 || r->status == ST_IMPROVEMENT))
		cJSON_AddItemToArray(arr, cJSON_CreateString("rss_peak"));
	arr = cJSON_AddArrayToObject(o, "statistics");
	for (int k = 0; arr && k < NSTATS; k++)
		if (r->st[k].tested)
			stat_json(arr, r, k);
	if (r->st[S_RSS].tested && (sm = cJSON_AddObjectToObject(o, "memory"))) {
		cJSON_AddNumberToObject(sm, "base_rss_peak", r->peak_b);
		cJSON_AddNumberToObject(sm, "current_rss_peak", r->peak_c);
		cJSON_AddNumberToObject(sm, "base_rss_delta_median", r->st[S_RSS].base_v);
		cJSON_AddNumberToObject(sm, "current_rss_delta_median", r->st[S_RSS].cur_v);
		cJSON_AddBoolToObject(sm, "regression", r->st[S_RSS].moved > 0 || r->peak_moved > 0);
	}
}

static int print_json(const struct cmp_row *rows, int n, const struct cmp_ctx *x,
		      const struct compare_opts *co, FILE *out)
{
	cJSON *root = cJSON_CreateObject(), *ops, *bs;
	int tally[NSTATUS];
	char *text;
	int i, err = 0;

	if (!root)
		return -1;
	tally_rows(rows, n, tally);
	cJSON_AddStringToObject(root, "schema", "ragd-bpfprof-compare/1");
	cJSON_AddNumberToObject(root, "threshold_pct", x->thr);
	cJSON_AddNumberToObject(root, "alpha", x->alpha);
	cJSON_AddStringToObject(root, "correction", "holm");
	cJSON_AddNumberToObject(root, "tests", x->ntests);
	cJSON_AddNumberToObject(root, "confidence", CONF);
	cJSON_AddNumberToObject(root, "min_samples", x->min_n);
	cJSON_AddNumberToObject(root, "memory_threshold_pct", x->mem_pct);
	cJSON_AddNumberToObject(root, "memory_threshold_bytes", x->mem_bytes);
	if ((bs = cJSON_AddObjectToObject(root, "bootstrap"))) {
		cJSON_AddNumberToObject(bs, "replicates", BOOT_REPS);
		cJSON_AddNumberToObject(bs, "seed", (double)x->seed);
	}
	if (co->ab_pairs > 0)
		cJSON_AddNumberToObject(root, "ab_pairs", co->ab_pairs);
	else
		cJSON_AddNullToObject(root, "ab_pairs");
	ops = cJSON_AddArrayToObject(root, "operations");
	for (i = 0; i < n && ops; i++) {
		const struct cmp_row *r = &rows[i];
		cJSON *o, *ch;

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
		/* p_value: the Mann-Whitney p of the shift, as before; p_adjusted: after Holm */
		cJSON_AddItemToObject(o, "p_value", num_or_null(r->st[S_SHIFT].tested ?
								 r->st[S_SHIFT].e.p : NAN));
		if (r->status == ST_NEW || r->status == ST_REMOVED)
			cJSON_AddNullToObject(o, "test");
		else
			cJSON_AddStringToObject(o, "test", r->judged ? "mann-whitney" : "insufficient-data");
		row_json_extra(o, r);
	}
	cJSON_AddNumberToObject(root, "regressions", tally[ST_REGRESSION]);
	cJSON_AddNumberToObject(root, "improvements", tally[ST_IMPROVEMENT]);
	cJSON_AddNumberToObject(root, "stable", tally[ST_STABLE]);
	cJSON_AddNumberToObject(root, "new", tally[ST_NEW]);
	cJSON_AddNumberToObject(root, "removed", tally[ST_REMOVED]);
	cJSON_AddNumberToObject(root, "inconclusive", tally[ST_INCONCLUSIVE]);
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

static void ctx_init(struct cmp_ctx *x, const struct compare_opts *o)
{
	/* A zeroed opts struct gets the defaults; a tiny positive value still works. */
	x->thr = o->threshold_pct > 0 ? o->threshold_pct : 5;
	x->alpha = o->alpha > 0 && o->alpha < 1 ? o->alpha : 0.01;
	x->min_n = o->min_samples > 0 ? o->min_samples : 8;
	x->mem_pct = o->mem_threshold_pct > 0 ? o->mem_threshold_pct : 10;
	x->mem_bytes = o->mem_threshold_bytes > 0 ? o->mem_threshold_bytes : MIB;
	x->seed = o->seed ? o->seed : DEFAULT_SEED;
	x->ab = o->ab_pairs > 0;
	x->ntests = 0;
}

int compare_sessions(const struct session *base, const struct session *cur,
		     const struct compare_opts *o, FILE *out)
{
	static const struct compare_opts defaults = { 0 };
	struct cmp_row *rows;
	struct cmp_ctx x = { 0 };
	int tally[NSTATUS];
	int n, regressions;

	if (!o)
		o = &defaults;
	ctx_init(&x, o);
	rows = calloc(base->nops + cur->nops + 1, sizeof(*rows));
	if (!rows || op_calls_build(base, &x.ob) || op_calls_build(cur, &x.oc))
		n = -1;
	else
		n = build_rows(base, cur, &x, rows);
	op_calls_free(&x.ob);
	op_calls_free(&x.oc);
	if (n < 0) {
		free(rows);
		return -1;
	}
	tally_rows(rows, n, tally);
	regressions = tally[ST_REGRESSION];
	if (o->counts)
		*o->counts = (struct compare_counts){
			.regressions = tally[ST_REGRESSION], .improvements = tally[ST_IMPROVEMENT],
			.stable = tally[ST_STABLE], .inconclusive = tally[ST_INCONCLUSIVE],
			.added = tally[ST_NEW], .removed = tally[ST_REMOVED],
		};
	if (o->json) {
		if (print_json(rows, n, &x, o, out))
			regressions = -1;
	} else if (o->markdown) {
		print_markdown(base, cur, rows, n, &x, o, out);
	} else {
		print_text(base, cur, rows, n, &x, o, out);
	}
	free(rows);
	return regressions;
}
