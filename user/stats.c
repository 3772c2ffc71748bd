// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Per-operation statistics, from every call record when we have them all, else from the BPF
 * histogram; plus the Mann-Whitney U test compare.c uses. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "session.h"

static void radix_sort(__u64 *v, size_t n, __u64 flip, int (*cmp)(const void *, const void *));

static void insertion_sort_u64(__u64 *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		__u64 x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* American flag sort (MSD radix, in place) of the byte at shift and below. */
static void flag_sort(__u64 *v, size_t n, int shift)
{
	size_t cnt[256] = { 0 }, next[256], end[256], pos = 0;
	unsigned b;

	if (n < 64) {
		insertion_sort_u64(v, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		cnt[(v[i] >> shift) & 0xff]++;
	for (b = 0; b < 256; b++) {
		next[b] = pos;
		pos += cnt[b];
		end[b] = pos;
	}
	/* each swap puts one value into its bucket for good */
	for (b = 0; b < 256; b++)
		while (next[b] < end[b]) {
			__u64 x = v[next[b]];
			unsigned d = (x >> shift) & 0xff;

			if (d == b) {
				next[b]++;
				continue;
			}
			v[next[b]] = v[next[d]];
			v[next[d]++] = x;
		}
	if (!shift)
		return;
	for (b = 0, pos = 0; b < 256; pos += cnt[b++])
		if (cnt[b] > 1)
			flag_sort(v + pos, cnt[b], shift - 8);
}

/* Sorts in place, without a second buffer (glibc's qsort merges through a copy): a session's
 * durations cost 8 bytes a call while its percentiles are taken. */
void sort_u64(__u64 *v, size_t n)
{
	__u64 diff = 0;

	for (size_t i = 1; i < n; i++)
		diff |= v[i] ^ v[0];
	if (diff)
		flag_sort(v, n, (63 - __builtin_clzll(diff)) / 8 * 8);
}

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

/* What one op's counted calls sum to, gathered in one walk over the calls (they may be in a
 * spill file, so no pointers into them are kept). */
struct op_acc {
	__u64 n, total, on_cpu, unwound;
	size_t rss_m;          /* calls with RSS measured */
	double rss_sum;
	__s64 rss_dmax;
	__u64 rss_peak;
};

/* A record with rss_start, rss_end and rss_peak all 0 had no RSS measured (a ragd profile
 * result without memory tracking; a live process never has RSS 0) and is left out of RSS. */
static void acc_add(struct op_acc *a, const struct call_rec *c)
{
	__s64 d = (__s64)(c->rss_end - c->rss_start);

	a->n++;
	a->total += c->duration_ns;
	a->on_cpu += c->on_cpu_ns;
	if (c->flags & CALL_F_UNWOUND)
		a->unwound++;
	if (!c->rss_start && !c->rss_end && !c->rss_peak)
		return;
	if (!a->rss_m++)
		a->rss_dmax = INT64_MIN;
	a->rss_sum += (double)d;
	if (d > a->rss_dmax)
		a->rss_dmax = d;
	if (c->rss_peak > a->rss_peak)
		a->rss_peak = c->rss_peak;
}

/* RSS columns from the call records we have (all of them or, after drops, the survivors). */
static void rss_from_calls(struct op_result *op, const struct op_acc *a)
{
	if (!a->rss_m)
		return;
	op->rss_delta_mean = a->rss_sum / (double)a->rss_m;
	op->rss_delta_max = a->rss_dmax;
	op->rss_peak = a->rss_peak;
}

/* dur: the op's n durations, in call order; sorted here. */
static void stats_from_calls(struct op_result *op, const struct op_acc *a, __u64 *dur)
{
	size_t i, n = (size_t)a->n;
	double mean, ss = 0;

	sort_u64(dur, n);

	/* two passes: sum of squared deviations stays accurate for ns-sized values */
	mean = (double)a->total / (double)n;
	for (i = 0; i < n; i++) {
		double d = (double)dur[i] - mean;

		ss += d * d;
	}

	op->source = SRC_CALLS;
	op->count = n;
	op->total_ns = a->total;
	op->min_ns = dur[0];
	op->max_ns = dur[n - 1];
	op->mean_ns = mean;
	op->stdev_ns = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
	op->p50_ns = percentile_sorted(dur, n, 0.50);
	op->p90_ns = percentile_sorted(dur, n, 0.90);
	op->p95_ns = percentile_sorted(dur, n, 0.95);
	op->p99_ns = percentile_sorted(dur, n, 0.99);
	op->on_cpu_ns = a->on_cpu;
	op->off_cpu_ns = a->total > a->on_cpu ? a->total - a->on_cpu : 0;
	op->unwound = a->unwound;
	op->rss_delta_mean = 0;
	op->rss_delta_max = 0;
	op->rss_peak = 0;
	rss_from_calls(op, a);
}

/* Records were lost: count and shape come from the histogram BPF kept for every call, while
 * total_ns, on_cpu_ns and unwound stay what BPF summed. */
static void stats_from_hist(struct op_result *op, const struct op_acc *a)
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
	rss_from_calls(op, a);
}

/* Open calls have no real end; sample spans never mix into an exact row. */
static bool counted(const struct session *s, const struct call_rec *c, int nops)
{
	return c->op < (__u32)nops && !(c->flags & CALL_F_OPEN) && !call_span_of_exact(s, c);
}

/* Two walks over the calls (in memory or spilled): count per op, then each op's durations into
 * its slice of dur and its sums into acc. The durations are the only memory per call: 8 bytes,
 * needed for exact nearest-rank percentiles. 0, or -1 (no memory, unreadable spill file). */
static int gather(const struct session *s, struct op_acc *acc, __u64 **durp, size_t *off)
{
	size_t *fill = NULL, *lim, total = 0;
	const struct call_rec *c;
	struct call_iter it;
	int k, nops = s->nops, ret = -1;
	__u64 *dur = NULL;

	for (c = call_iter_first(&it, s, 0); c; c = call_iter_next(&it))
		if (counted(s, c, nops))
			acc[c->op].n++;
	call_iter_done(&it);
	if (it.err)
		goto cleanup;
	fill = calloc(2 * (size_t)nops + 1, sizeof(*fill));
	if (!fill)
		goto cleanup;
	lim = fill + nops;
	for (k = 0; k < nops; k++) {
		off[k] = fill[k] = total;
		total += (size_t)acc[k].n;
		lim[k] = total;
		acc[k].n = 0;
	}
	dur = malloc((total ? total : 1) * sizeof(*dur));
	if (!dur)
		goto cleanup;
	for (c = call_iter_first(&it, s, 0); c; c = call_iter_next(&it)) {
		if (!counted(s, c, nops) || fill[c->op] >= lim[c->op])
			continue;
		dur[fill[c->op]++] = c->duration_ns;
		acc_add(&acc[c->op], c);
	}
	call_iter_done(&it);
	if (it.err)
		goto cleanup;
	*durp = dur;
	dur = NULL;
	ret = 0;
cleanup:
	free(dur);
	free(fill);
	return ret;
}

void session_compute_stats(struct session *s)
{
	struct op_acc *acc;
	size_t *off;
	__u64 *dur = NULL;
	int k, nops = s->nops;

	acc = calloc((size_t)(nops ? nops : 1), sizeof(*acc));
	off = calloc((size_t)(nops ? nops : 1), sizeof(*off));
	if (!acc || !off)
		goto cleanup;   /* nothing computed: the numbers read or recorded stay */
	if (gather(s, acc, &dur, off) < 0)
		/* without memory (or the spilled calls) only histograms can be used */
		memset(acc, 0, (size_t)nops * sizeof(*acc));

	for (k = 0; k < nops; k++) {
		struct op_result *op = &s->ops[k];

		if (op->precision == PREC_SAMPLED) {
			/* Spans of samples give counts and spread; time and its on/off-CPU split stay
			 * what the samples attributed. */
			__u64 total = op->total_ns, on = op->on_cpu_ns, offc = op->off_cpu_ns;

			if (acc[k].n) {
				stats_from_calls(op, &acc[k], dur + off[k]);
				op->total_ns = total;
				op->on_cpu_ns = on;
				op->off_cpu_ns = offc;
			}
			op->source = SRC_SAMPLES;
			continue;
		}
		if (acc[k].n && (s->dropped_calls == 0 || !op->hist))
			stats_from_calls(op, &acc[k], dur + off[k]);
		else if (op->hist)
			stats_from_hist(op, &acc[k]);
		/* neither: nothing to compute from, keep what is there */
	}
cleanup:
	free(dur);
	free(off);
	free(acc);
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
	radix_sort(sa, na, 0, cmp_u64);
	radix_sort(sb, nb, 0, cmp_u64);

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

/* ---------------------------------------------------------------- two-sample effects */

#include "stats.h"

void rng_seed(struct rng *r, uint64_t seed)
{
	/* splitmix64 once, so nearby seeds give unrelated streams; never 0 */
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	r->s = (z ^ (z >> 31)) | 1;
}

double rng_uniform(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return ((double)((r->s * 0x2545F4914F6CDD1DULL) >> 11) + 0.5) / (double)(1ULL << 53);
}

static double rng_normal(struct rng *r)
{
	return sqrt(-2 * log(rng_uniform(r))) * cos(2 * M_PI * rng_uniform(r));
}

/* Marsaglia-Tsang; a >= 1 here (order statistics). */
static double rng_gamma(struct rng *r, double a)
{
	double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);

	for (;;) {
		double x = rng_normal(r), v = 1 + c * x, u;

		if (v <= 0)
			continue;
		v = v * v * v;
		u = rng_uniform(r);
		if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
			return d * v;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* LSD radix sort of 64-bit keys (key = v ^ flip: flip the sign bit to sort int64 as __u64),
 * 8 bits a pass, passes where all keys share the byte skipped: compare sorts 1M-call sessions
 * (qsort took a third of its time). Small arrays, or no memory: qsort. */
static void radix_sort(__u64 *v, size_t n, __u64 flip, int (*cmp)(const void *, const void *))
{
	size_t (*cnt)[256], i, pos;
	__u64 *tmp, *src = v, *dst, *t;
	int b;

	for (i = 1; i < n && (v[i - 1] ^ flip) <= (v[i] ^ flip); i++)
		;
	if (i >= n)   /* already sorted: mann_whitney_p gets hl_shift's sorted samples */
		return;
	if (n < 512 || !(tmp = malloc(n * sizeof(*tmp)))) {
		qsort(v, n, sizeof(*v), cmp);
		return;
	}
	cnt = calloc(8, sizeof(*cnt));
	if (!cnt) {
		free(tmp);
		qsort(v, n, sizeof(*v), cmp);
		return;
	}
	for (i = 0; i < n; i++)
		for (b = 0; b < 8; b++)
			cnt[b][((v[i] ^ flip) >> (8 * b)) & 0xff]++;
	dst = tmp;
	for (b = 0; b < 8; b++) {
		if (cnt[b][((src[0] ^ flip) >> (8 * b)) & 0xff] == n)
			continue;
		for (i = 0, pos = 0; i < 256; i++) {
			size_t c = cnt[b][i];

			cnt[b][i] = pos;
			pos += c;
		}
		for (i = 0; i < n; i++)
			dst[cnt[b][((src[i] ^ flip) >> (8 * b)) & 0xff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(cnt);
	free(tmp);
}

void sort_i64(int64_t *v, size_t n)
{
	radix_sort((__u64 *)v, n, 1ULL << 63, cmp_i64);
}

int64_t quantile_i64(const int64_t *sorted, size_t n, double q)
{
	return n ? sorted[nearest_rank(q, n) - 1] : 0;
}

/* A sorted sample as its distinct values with their counts (w NULL: each value once). RSS
 * deltas are page multiples: 400k calls hold ~60k distinct values, so counting pairs over runs
 * is several times cheaper. */
struct runs {
	const int64_t *v;
	uint64_t *w;
	size_t n;
	uint64_t total;
};

/* Runs of sorted[0..n): compressed when at most half the values are distinct (else, or out of
 * memory, the values themselves). *buf is what to free. */
static void runs_of(const int64_t *sorted, size_t n, struct runs *r, int64_t **buf)
{
	size_t i, d = n ? 1 : 0;
	int64_t *v;

	*r = (struct runs){ .v = sorted, .n = n, .total = n };
	*buf = NULL;
	for (i = 1; i < n; i++)
		d += sorted[i] != sorted[i - 1];
	if (d * 2 > n || !(v = malloc(d * (sizeof(*v) + sizeof(*r->w)))))
		return;
	r->w = (uint64_t *)(v + d);
	for (i = 0, d = 0; i < n; i++) {
		if (!i || sorted[i] != sorted[i - 1]) {
			v[d] = sorted[i];
			r->w[d++] = 0;
		}
		r->w[d - 1]++;
	}
	r->v = v;
	r->n = d;
	*buf = v;
}

/* Pairs with b_j - a_i <= d; two pointers since a_i >= b_j - d moves right with j. */
static uint64_t pairs_at_most(const struct runs *a, const struct runs *b, int64_t d)
{
	uint64_t n = 0, rest = a->total;
	size_t i = 0, j;

	if (!a->w && !b->w) {
		for (j = 0; j < b->n; j++) {
			while (i < a->n && a->v[i] < b->v[j] - d)
				i++;
			n += a->n - i;
		}
		return n;
	}
	for (j = 0; j < b->n; j++) {
		for (; i < a->n && a->v[i] < b->v[j] - d; i++)
			rest -= a->w ? a->w[i] : 1;
		n += rest * (b->w ? b->w[j] : 1);
	}
	return n;
}

/* The k-th smallest (1-based) of the na*nb differences: the smallest d with at least k pairs
 * <= d, searched on the value. A step interpolates the pair count (smooth for big samples: 8
 * steps instead of 22 on 80k calls a side), or halves when the last step did not halve the
 * range (so never worse than twice bisection); either keeps the answer in [lo, hi], so the
 * result is plain bisection's. */
static int64_t kth_diff(const struct runs *a, const struct runs *b, uint64_t k)
{
	int64_t lo = b->v[0] - a->v[a->n - 1], hi = b->v[b->n - 1] - a->v[0];
	uint64_t clo = 0, chi = a->total * b->total, c;   /* pairs < lo, pairs <= hi */
	bool halve = false;

	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2, w0 = hi - lo;   /* hi - lo > 0: floor */

		if (!halve && chi > clo) {
			double w = (double)(hi - lo), off = (double)(k - clo) / (double)(chi - clo) * w;

			mid = off >= w ? hi - 1 : lo + (int64_t)off;
		}
		c = pairs_at_most(a, b, mid);
		if (c >= k) {
			hi = mid;
			chi = c;
		} else {
			lo = mid + 1;
			clo = c;
		}
		halve = hi - lo > w0 / 2;
	}
	return lo;
}

/* Order-preserving map to unsigned, for mann_whitney_p. */
static __u64 *to_u64(const int64_t *v, size_t n)
{
	__u64 *u = malloc((n ? n : 1) * sizeof(*u));

	for (size_t i = 0; u && i < n; i++)
		u[i] = (__u64)v[i] ^ (1ULL << 63);
	return u;
}

/* Two-sided standard normal quantile for conf (0.95 -> 1.96), by bisection on erfc. */
static double z_two_sided(double conf)
{
	double lo = 0, hi = 40, p = 1 - conf;

	for (int i = 0; i < 100; i++) {
		double mid = (lo + hi) / 2;

		if (erfc(mid / M_SQRT2) > p)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

int hl_shift(const int64_t *a, size_t na, const int64_t *b, size_t nb, double conf,
	     struct effect *out)
{
	uint64_t N = (uint64_t)na * nb, k;
	int64_t *bufa, *bufb;
	struct runs ra, rb;
	double z, half;
	__u64 *ua, *ub;

	if (!na || !nb)
		return -EINVAL;
	runs_of(a, na, &ra, &bufa);
	runs_of(b, nb, &rb, &bufb);
	if (N % 2) {
		out->est = (double)kth_diff(&ra, &rb, N / 2 + 1);
	} else {
		int64_t m = kth_diff(&ra, &rb, N / 2);

		/* the next order statistic is mostly the same value: one count says so */
		out->est = ((double)m + (double)(pairs_at_most(&ra, &rb, m) >= N / 2 + 1 ? m :
			    kth_diff(&ra, &rb, N / 2 + 1))) / 2;
	}
	z = z_two_sided(conf);
	half = z * sqrt((double)na * nb * ((double)na + nb + 1) / 12);
	k = (double)N / 2 - half < 1 ? 1 : (uint64_t)floor((double)N / 2 - half);
	out->lo = (double)kth_diff(&ra, &rb, k);
	out->hi = (double)kth_diff(&ra, &rb, N - k + 1);
	free(bufa);
	free(bufb);

	ua = to_u64(a, na);
	ub = to_u64(b, nb);
	if (!ua || !ub) {
		free(ua);
		free(ub);
		return -ENOMEM;
	}
	out->p = mann_whitney_p(ua, na, ub, nb);
	free(ua);
	free(ub);
	return 0;
}

/* One bootstrap draw of the nearest-rank q-quantile of a resample of sorted[0..n). */
static int64_t boot_quantile(const int64_t *sorted, size_t n, __u64 k, struct rng *r)
{
	double x = rng_gamma(r, (double)k), y = rng_gamma(r, (double)(n - k + 1));
	double u = x / (x + y);
	size_t idx = (size_t)ceil(u * (double)n);

	idx = idx < 1 ? 1 : idx > n ? n : idx;
	return sorted[idx - 1];
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Two-sided Fisher exact test on a 2x2 table: xa of na vs xb of nb. Tables as likely as the
 * observed one or less are summed (relative tolerance for float noise). */
static double fisher_p(__u64 xa, __u64 na, __u64 xb, __u64 nb)
{
	__u64 k = xa + xb, n = na + nb, lo = k > nb ? k - nb : 0, hi = k < na ? k : na;
	double base = lgamma(na + 1.0) + lgamma(nb + 1.0) + lgamma(k + 1.0) + lgamma(n - k + 1.0) -
		      lgamma(n + 1.0);
	double obs = 0, p = 0;

	for (int pass = 0; pass < 2; pass++)
		for (__u64 x = pass ? lo : xa; x <= (pass ? hi : xa); x++) {
			double lp = base - lgamma(x + 1.0) - lgamma(na - x + 1.0) - lgamma(k - x + 1.0) -
				    lgamma(nb - k + x + 1.0);

			if (!pass)
				obs = lp;
			else if (lp <= obs + 1e-7)
				p += exp(lp);
		}
	return p > 1 ? 1 : p;
}

/* Do a and b put the same share of values at or below the pooled q-quantile (Mood's median test
 * generalised to q)? Distribution-free, Fisher exact: conservative where a bootstrap standard
 * error of a tail quantile is not (it swings with the few spacings near the quantile). */
static double quantile_test_p(const int64_t *a, size_t na, const int64_t *b, size_t nb, double q)
{
	__u64 rank = nearest_rank(q, (__u64)(na + nb)), xa = 0, xb = 0;
	size_t i = 0, j = 0, seen = 0;
	int64_t c = 0;

	/* the pooled rank-th value, by merging */
	while (seen < rank) {
		c = j >= nb || (i < na && a[i] <= b[j]) ? a[i++] : b[j++];
		seen++;
	}
	for (i = 0; i < na && a[i] <= c; i++)
		xa++;
	for (j = 0; j < nb && b[j] <= c; j++)
		xb++;
	return fisher_p(xa, na, xb, nb);
}

int quantile_diff_boot(const int64_t *a, size_t na, const int64_t *b, size_t nb, double q,
		       int reps, struct rng *r, double conf, struct effect *out)
{
	__u64 ka, kb;
	double *d;
	int i;

	if (!na || !nb || reps < 2)
		return -EINVAL;
	d = malloc(reps * sizeof(*d));
	if (!d)
		return -ENOMEM;
	ka = nearest_rank(q, na);
	kb = nearest_rank(q, nb);
	out->est = (double)(quantile_i64(b, nb, q) - quantile_i64(a, na, q));
	for (i = 0; i < reps; i++)
		d[i] = (double)(boot_quantile(b, nb, kb, r) - boot_quantile(a, na, ka, r));
	qsort(d, reps, sizeof(*d), cmp_dbl);
	out->lo = d[(int)floor((1 - conf) / 2 * (reps - 1))];
	out->hi = d[(int)ceil((1 + conf) / 2 * (reps - 1))];
	free(d);
	out->p = quantile_test_p(a, na, b, nb, q);
	return 0;
}

void holm_adjust(const double *p, size_t m, double *padj)
{
	size_t *ord = malloc((m ? m : 1) * sizeof(*ord)), i, j;
	double run = 0;

	if (!ord) {   /* Bonferroni is Holm's upper bound: still valid */
		for (i = 0; i < m; i++)
			padj[i] = fmin(1, p[i] * m);
		return;
	}
	for (i = 0; i < m; i++)
		ord[i] = i;
	/* insertion sort by p: m is a few hundred at most */
	for (i = 1; i < m; i++)
		for (j = i; j > 0 && p[ord[j]] < p[ord[j - 1]]; j--) {
			size_t t = ord[j];

			ord[j] = ord[j - 1];
			ord[j - 1] = t;
		}
	for (i = 0; i < m; i++) {
		double v = fmin(1, (double)(m - i) * p[ord[i]]);

		run = fmax(run, v);
		padj[ord[i]] = run;
	}
	free(ord);
}
