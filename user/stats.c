// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Per-operation statistics, from every call record when we have them all, else from the BPF
 * histogram; plus the Mann-Whitney U test compare.c uses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "session.h"

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static double norm_q(double q)
{
	if (!(q >= 0))   /* also NaN */
		return 0;
	if (q > 1)
		q /= 100;
	return q > 1 ? 1 : q;
}

/* 1-based nearest rank ceil(q*n) in [1, n]. The tiny relative nudge keeps 0.07*100 =
 * 7.000000000000001 at rank 7, not 8. */
static __u64 nearest_rank(double q, __u64 n)
{
	double x = norm_q(q) * (double)n;
	__u64 r = (__u64)ceil(x * (1 - 1e-12));

	if (r < 1)
		r = 1;
	return r > n ? n : r;
}

/* Nearest-rank percentile: the smallest sample with at least q*n samples <= it. Always an
 * observed value, so p50 of {1, 2} is 1 (no interpolation between samples). */
__u64 percentile_sorted(const __u64 *sorted, size_t n, double q)
{
	if (!n)
		return 0;
	return sorted[nearest_rank(q, n) - 1];
}

/* Same nearest rank over the histogram. Inside the bucket holding that rank the count is taken
 * as spread evenly, so the k-th of c samples in [low, high] is at low + (k - 1/2) / c of the
 * width: within half a bucket (<= 0.8%) of the true value. Buckets below HIST_SUB are exact.
 * The last bucket is open-ended, so its lower bound is returned. */
__u64 percentile_hist(const __u64 *hist, double q)
{
	__u64 total = 0, rank, cum = 0, lo, hi;
	double v;
	__u32 i;

	if (!hist)
		return 0;
	for (i = 0; i < HIST_BUCKETS; i++)
		total += hist[i];
	if (!total)
		return 0;
	rank = nearest_rank(q, total);
	for (i = 0; i < HIST_BUCKETS; i++) {
		if (cum + hist[i] >= rank)
			break;
		cum += hist[i];
	}
	lo = hist_bucket_low(i);
	if (i >= HIST_BUCKETS - 1)
		return lo;
	hi = hist_bucket_high(i);
	v = (double)lo + (double)(hi - lo) * ((double)(rank - cum) - 0.5) / (double)hist[i];
	v = round(v);
	if (v < (double)lo)
		return lo;
	if (v > (double)hi)
		return hi;
	return (__u64)v;
}

/* What one bucket stands for when a single value is needed (stdev estimate). */
static double bucket_mid(__u32 i)
{
	if (i >= HIST_BUCKETS - 1)
		return (double)hist_bucket_low(i);
	return ((double)hist_bucket_low(i) + (double)hist_bucket_high(i)) / 2;
}

/* RSS columns from the call records we have (all of them or, after drops, the survivors).
 * A record with rss_start, rss_end and rss_peak all 0 had no RSS measured (a ragd profile
 * result without memory tracking; a live process never has RSS 0) and is left out. */
static void rss_from_calls(struct op_result *op, const struct call_rec *const *recs, size_t n)
{
	double sum = 0;
	__s64 dmax = INT64_MIN;
	__u64 peak = 0;
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		__s64 d = (__s64)(recs[i]->rss_end - recs[i]->rss_start);

		if (!recs[i]->rss_start && !recs[i]->rss_end && !recs[i]->rss_peak)
			continue;
		m++;
		sum += (double)d;
		if (d > dmax)
			dmax = d;
		if (recs[i]->rss_peak > peak)
			peak = recs[i]->rss_peak;
	}
	if (!m)
		return;
	op->rss_delta_mean = sum / (double)m;
	op->rss_delta_max = dmax;
	op->rss_peak = peak;
}

static void stats_from_calls(struct op_result *op, const struct call_rec *const *recs, size_t n,
			     __u64 *dur)
{
	__u64 total = 0, on_cpu = 0, unwound = 0;
	double mean, ss = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		dur[i] = recs[i]->duration_ns;
		total += recs[i]->duration_ns;
		on_cpu += recs[i]->on_cpu_ns;
		if (recs[i]->flags & CALL_F_UNWOUND)
			unwound++;
	}
	qsort(dur, n, sizeof(*dur), cmp_u64);

	/* two passes: sum of squared deviations stays accurate for ns-sized values */
	mean = (double)total / (double)n;
	for (i = 0; i < n; i++) {
		double d = (double)dur[i] - mean;

		ss += d * d;
	}

	op->source = SRC_CALLS;
	op->count = n;
	op->total_ns = total;
	op->min_ns = dur[0];
	op->max_ns = dur[n - 1];
	op->mean_ns = mean;
	op->stdev_ns = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
	op->p50_ns = percentile_sorted(dur, n, 0.50);
	op->p90_ns = percentile_sorted(dur, n, 0.90);
	op->p95_ns = percentile_sorted(dur, n, 0.95);
	op->p99_ns = percentile_sorted(dur, n, 0.99);
	op->on_cpu_ns = on_cpu;
	op->off_cpu_ns = total > on_cpu ? total - on_cpu : 0;
	op->unwound = unwound;
	op->rss_delta_mean = 0;
	op->rss_delta_max = 0;
	op->rss_peak = 0;
	rss_from_calls(op, recs, n);
}

/* Records were lost: count and shape come from the histogram BPF kept for every call, while
 * total_ns, on_cpu_ns and unwound stay what BPF summed. */
static void stats_from_hist(struct op_result *op, const struct call_rec *const *recs, size_t n)
{
	__u64 count = 0;
	double mean, ss = 0;
	__u32 i, first = HIST_BUCKETS, last = 0;

	for (i = 0; i < HIST_BUCKETS; i++) {
		if (!op->hist[i])
			continue;
		count += op->hist[i];
		if (first == HIST_BUCKETS)
			first = i;
		last = i;
	}

	op->source = SRC_HISTOGRAM;
	op->count = count;
	if (!count) {
		op->min_ns = op->max_ns = 0;
		op->mean_ns = op->stdev_ns = 0;
		op->p50_ns = op->p90_ns = op->p95_ns = op->p99_ns = 0;
		return;
	}
	op->min_ns = hist_bucket_low(first);
	/* the open-ended last bucket has no useful upper bound */
	op->max_ns = last >= HIST_BUCKETS - 1 ? hist_bucket_low(last) : hist_bucket_high(last);

	/* BPF's exact sum when we have it; else the bucket midpoints */
	if (op->total_ns) {
		mean = (double)op->total_ns / (double)count;
	} else {
		double sum = 0;

		for (i = first; i <= last; i++)
			sum += (double)op->hist[i] * bucket_mid(i);
		mean = sum / (double)count;
	}
	for (i = first; i <= last; i++) {
		double d = bucket_mid(i) - mean;

		ss += (double)op->hist[i] * d * d;
	}
	op->mean_ns = mean;
	op->stdev_ns = count > 1 ? sqrt(ss / (double)(count - 1)) : 0;
	op->p50_ns = percentile_hist(op->hist, 0.50);
	op->p90_ns = percentile_hist(op->hist, 0.90);
	op->p95_ns = percentile_hist(op->hist, 0.95);
	op->p99_ns = percentile_hist(op->hist, 0.99);
	op->off_cpu_ns = op->total_ns > op->on_cpu_ns ? op->total_ns - op->on_cpu_ns : 0;
	rss_from_calls(op, recs, n);
}

/* Open calls have no real end; sample spans never mix into an exact row. */
static bool counted(const struct session *s, const struct call_rec *c, int nops)
{
	if (c->op >= (__u32)nops || (c->flags & CALL_F_OPEN))
		return false;
	return !(c->flags & CALL_F_SAMPLED) || s->ops[c->op].precision == PREC_SAMPLED;
}

void session_compute_stats(struct session *s)
{
	size_t cnt[MAX_OPS] = { 0 }, off[MAX_OPS], fill[MAX_OPS], total = 0, i;
	const struct call_rec **recs = NULL;
	__u64 *dur = NULL;
	int k, nops = s->nops < MAX_OPS ? s->nops : MAX_OPS;

	/* Group the counted calls by op in one pass. */
	for (i = 0; i < s->ncalls; i++) {
		const struct call_rec *c = &s->calls[i];

		if (counted(s, c, nops))
			cnt[c->op]++;
	}
	for (k = 0; k < nops; k++) {
		off[k] = fill[k] = total;
		total += cnt[k];
	}
	if (total) {
		recs = malloc(total * sizeof(*recs));
		dur = malloc(total * sizeof(*dur));
		if (!recs || !dur) {
			/* without memory only histograms can be used */
			free(recs);
			free(dur);
			recs = NULL;
			dur = NULL;
			memset(cnt, 0, sizeof(cnt));
		} else {
			for (i = 0; i < s->ncalls; i++) {
				const struct call_rec *c = &s->calls[i];

				if (counted(s, c, nops))
					recs[fill[c->op]++] = c;
			}
		}
	}

	for (k = 0; k < nops; k++) {
		struct op_result *op = &s->ops[k];
		const struct call_rec *const *r = recs ? recs + off[k] : NULL;

		if (op->precision == PREC_SAMPLED) {
			/* Spans of samples give counts and spread; time and its on/off-CPU split stay
			 * what the samples attributed. */
			__u64 total = op->total_ns, on = op->on_cpu_ns, offc = op->off_cpu_ns;

			if (cnt[k]) {
				stats_from_calls(op, r, cnt[k], dur + off[k]);
				op->total_ns = total;
				op->on_cpu_ns = on;
				op->off_cpu_ns = offc;
			}
			op->source = SRC_SAMPLES;
			continue;
		}
		if (cnt[k] && (s->dropped_calls == 0 || !op->hist))
			stats_from_calls(op, r, cnt[k], dur + off[k]);
		else if (op->hist)
			stats_from_hist(op, r, cnt[k]);
		/* neither: nothing to compute from, keep what is there */
	}
	free(recs);
	free(dur);
}

/* Two-sided Mann-Whitney U, normal approximation with tie and continuity correction:
 *   U = R_a - na(na+1)/2,  mu = na*nb/2,
 *   sigma^2 = na*nb/12 * ((N+1) - sum(t^3 - t) / (N(N-1))),
 *   z = (|U - mu| - 1/2) / sigma,  p = erfc(z / sqrt 2).
 * Ranks come from sorting both samples and merging them: O(N log N). */
double mann_whitney_p(const __u64 *a, size_t na, const __u64 *b, size_t nb)
{
	__u64 *sa, *sb;
	size_t i = 0, j = 0;
	double n, pos = 0, ra = 0, ties = 0, u, mu, var, z, p;

	if (na < 2 || nb < 2)
		return 1.0;
	sa = malloc(na * sizeof(*sa));
	sb = malloc(nb * sizeof(*sb));
	if (!sa || !sb) {
		free(sa);
		free(sb);
		return 1.0;   /* "no evidence" is the safe answer for a regression gate */
	}
	memcpy(sa, a, na * sizeof(*sa));
	memcpy(sb, b, nb * sizeof(*sb));
	qsort(sa, na, sizeof(*sa), cmp_u64);
	qsort(sb, nb, sizeof(*sb), cmp_u64);

	while (i < na || j < nb) {
		__u64 v;
		size_t ta = 0, tb = 0;
		double t;

		if (j >= nb || (i < na && sa[i] <= sb[j]))
			v = sa[i];
		else
			v = sb[j];
		while (i < na && sa[i] == v) {
			i++;
			ta++;
		}
		while (j < nb && sb[j] == v) {
			j++;
			tb++;
		}
		t = (double)(ta + tb);
		/* the tied group holds ranks pos+1 .. pos+t; each gets their mean */
		ra += (double)ta * (pos + (t + 1) / 2);
		ties += t * t * t - t;
		pos += t;
	}
	free(sa);
	free(sb);

	n = (double)(na + nb);
	u = ra - (double)na * ((double)na + 1) / 2;
	mu = (double)na * (double)nb / 2;
	var = (double)na * (double)nb / 12 * ((n + 1) - ties / (n * (n - 1)));
	if (!(var > 0))
		return 1.0;   /* every value equal */
	z = (fabs(u - mu) - 0.5) / sqrt(var);
	if (z <= 0)
		return 1.0;
	p = erfc(z / M_SQRT2);
	return p > 1 ? 1 : p;
}
