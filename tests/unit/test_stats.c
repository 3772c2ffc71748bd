// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/stats.c: percentiles, histogram estimates, per-op stats, Mann-Whitney U. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "testutil.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "session.h"
#include "stats.h"

#define assert_near(a, b, eps)                                                            \
	do {                                                                              \
		double a_ = (a), b_ = (b);                                                \
		if (!(fabs(a_ - b_) <= (eps)))                                            \
			fail_msg("%s = %.17g, expected %.17g (+-%g)", #a, a_, b_, (double)(eps)); \
	} while (0)

static __u64 rng_state = 0x9E3779B97F4A7C15ULL;

static __u64 rnd(void)
{
	return xorshift64(&rng_state);
}

static double rnd01(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static void test_percentile_sorted(void **state)
{
	__u64 v[100], two[2] = { 1, 2 }, one[1] = { 42 };
	int i;

	for (i = 0; i < 100; i++)
		v[i] = i + 1;
	/* nearest rank on 1..100: pN is N */
	assert_int_equal(percentile_sorted(v, 100, 0.50), 50);
	assert_int_equal(percentile_sorted(v, 100, 0.90), 90);
	assert_int_equal(percentile_sorted(v, 100, 0.95), 95);
	assert_int_equal(percentile_sorted(v, 100, 0.99), 99);
	assert_int_equal(percentile_sorted(v, 100, 0.07), 7);   /* 0.07*100 is 7.000000000000001 */
	assert_int_equal(percentile_sorted(v, 100, 0.0), 1);
	assert_int_equal(percentile_sorted(v, 100, 1.0), 100);
	assert_int_equal(percentile_sorted(v, 100, 0.001), 1);
	assert_int_equal(percentile_sorted(v, 100, 0.991), 100);
	assert_int_equal(percentile_sorted(v, 100, 99), 99);    /* percent form */
	assert_int_equal(percentile_sorted(v, 100, 50), 50);
	/* 10 values: p50 = 5th, p90 = 9th, p95/p99 = 10th */
	assert_int_equal(percentile_sorted(v, 10, 0.50), 5);
	assert_int_equal(percentile_sorted(v, 10, 0.90), 9);
	assert_int_equal(percentile_sorted(v, 10, 0.95), 10);
	assert_int_equal(percentile_sorted(v, 10, 0.99), 10);
	assert_int_equal(percentile_sorted(two, 2, 0.5), 1);
	assert_int_equal(percentile_sorted(two, 2, 0.51), 2);
	assert_int_equal(percentile_sorted(one, 1, 0.5), 42);
	assert_int_equal(percentile_sorted(v, 0, 0.5), 0);
}

static void test_percentile_hist_small(void **state)
{
	__u64 *h = calloc(HIST_BUCKETS, sizeof(*h));
	int i;

	assert_non_null(h);
	assert_int_equal(percentile_hist(h, 0.5), 0);
	assert_int_equal(percentile_hist(NULL, 0.5), 0);
	/* below 64 ns every value has its own bucket: exact */
	for (i = 1; i <= 10; i++)
		h[i]++;
	assert_int_equal(percentile_hist(h, 0.50), 5);
	assert_int_equal(percentile_hist(h, 0.90), 9);
	assert_int_equal(percentile_hist(h, 0.99), 10);
	assert_int_equal(percentile_hist(h, 0), 1);
	/* one sample in a wide bucket: its midpoint */
	memset(h, 0, HIST_BUCKETS * sizeof(*h));
	h[hist_index(1000000)] = 1;
	{
		__u32 b = hist_index(1000000);
		__u64 mid = (hist_bucket_low(b) + hist_bucket_high(b) + 1) / 2;

		assert_in_range(percentile_hist(h, 0.5), mid - 1, mid + 1);
	}
	/* the open-ended last bucket answers its lower bound */
	memset(h, 0, HIST_BUCKETS * sizeof(*h));
	h[HIST_BUCKETS - 1] = 3;
	assert_true(percentile_hist(h, 0.99) == hist_bucket_low(HIST_BUCKETS - 1));
	free(h);
}

/* 10k log-uniform durations, 1 us .. 10 s: every percentile from the histogram is within
 * 1.6% (one bucket) of the exact one. */
static void test_percentile_hist_accuracy(void **state)
{
	enum { N = 10000 };
	__u64 *v = malloc(N * sizeof(*v)), *h = calloc(HIST_BUCKETS, sizeof(*h));
	double worst = 0;
	int i, q;

	assert_non_null(v);
	assert_non_null(h);
	for (i = 0; i < N; i++) {
		v[i] = (__u64)(1000.0 * pow(10.0, 7.0 * rnd01()));
		h[hist_index(v[i])]++;
	}
	qsort(v, N, sizeof(*v), cmp_u64);
	for (q = 1; q <= 999; q++) {
		double qq = q / 1000.0;
		double exact = (double)percentile_sorted(v, N, qq);
		double est = (double)percentile_hist(h, qq);
		double rel = fabs(est - exact) / exact;

		if (rel > worst)
			worst = rel;
		if (rel > 0.016)
			fail_msg("q=%.3f exact %.0f hist %.0f (%.2f%%)", qq, exact, est, rel * 100);
	}
	print_message("worst histogram percentile error over 999 quantiles: %.3f%%\n", worst * 100);
	free(v);
	free(h);
}

static struct session *new_session(void)
{
	struct session *s = malloc(sizeof(*s));

	assert_non_null(s);
	session_init(s);
	return s;
}

static void add_call(struct session *s, int op, __u64 dur, __u64 on_cpu, __u64 rss0, __u64 rss1,
		     __u64 peak, __u32 flags)
{
	struct call_rec c = { .op = op, .duration_ns = dur, .on_cpu_ns = on_cpu, .rss_start = rss0,
			      .rss_end = rss1, .rss_peak = peak, .flags = flags };

	assert_int_equal(session_add_call(s, &c), 0);
}

static void test_stats_from_calls(void **state)
{
	struct session *s = new_session();
	__u64 d[8] = { 2, 4, 4, 4, 5, 5, 7, 9 };
	int a, b, i;

	a = session_add_op(s, "a", OP_NATIVE, PREC_EXACT);
	b = session_add_op(s, "b", OP_PY, PREC_EXACT);
	assert_int_equal(a, 0);
	assert_int_equal(b, 1);
	/* interleave ops so grouping is exercised */
	for (i = 0; i < 8; i++) {
		add_call(s, a, d[i] * 1000, d[i] * 100, 1000, 1000 + (i - 3) * 4096, 5000 + i,
			 i == 2 ? CALL_F_UNWOUND : 0);
		add_call(s, b, 7, 0, 0, 0, 0, 0);
	}
	/* still running at the end: excluded */
	add_call(s, a, 999999999, 0, 0, 1 << 30, 1 << 30, CALL_F_OPEN);
	session_compute_stats(s);

	struct op_result *op = &s->ops[a];
	assert_int_equal(op->source, SRC_CALLS);
	assert_int_equal(op->count, 8);
	assert_int_equal(op->total_ns, 40000);
	assert_int_equal(op->min_ns, 2000);
	assert_int_equal(op->max_ns, 9000);
	assert_near(op->mean_ns, 5000, 1e-9);
	/* sum of squared deviations 32, n-1 = 7 */
	assert_near(op->stdev_ns, 1000 * sqrt(32.0 / 7.0), 1e-6);
	assert_int_equal(op->p50_ns, 4000);
	assert_int_equal(op->p90_ns, 9000);
	assert_int_equal(op->p99_ns, 9000);
	assert_int_equal(op->on_cpu_ns, 4000);
	assert_int_equal(op->off_cpu_ns, 36000);
	assert_int_equal(op->unwound, 1);
	/* deltas (i-3)*4096 for i = 0..7: mean 0.5*4096, max 4*4096, some negative */
	assert_near(op->rss_delta_mean, 0.5 * 4096, 1e-9);
	assert_true(op->rss_delta_max == 4 * 4096);
	assert_int_equal(op->rss_peak, 5007);

	op = &s->ops[b];
	assert_int_equal(op->count, 8);
	assert_near(op->stdev_ns, 0, 0);
	assert_int_equal(op->p50_ns, 7);
	/* no call of b measured RSS */
	assert_near(op->rss_delta_mean, 0, 0);
	assert_true(op->rss_delta_max == 0);
	assert_int_equal(op->rss_peak, 0);
	session_free(s);
	free(s);
}

/* Exact op b had no register in one profile iteration, where sampled spans stand for its calls:
 * its row, histogram and file hold its exact calls only; a sampled op keeps its spans. */
static void test_spans_of_an_exact_op_left_out(void **state)
{
	struct session *s = new_session();
	int b = session_add_op(s, "b", OP_PY, PREC_EXACT), c = session_add_op(s, "c", OP_PY, PREC_SAMPLED);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	add_call(s, b, 5000, 0, 0, 0, 0, 0);
	add_call(s, b, 777777, 0, 0, 0, 0, CALL_F_SAMPLED);
	add_call(s, c, 888888, 0, 0, 0, 0, CALL_F_SAMPLED);
	session_compute_stats(s);
	assert_int_equal(s->ops[b].count, 1);
	assert_int_equal(s->ops[b].max_ns, 5000);
	assert_int_equal(s->ops[c].count, 1);
	assert_non_null(f = open_memstream(&buf, &len));
	assert_int_equal(session_write_json(s, f), 0);
	fclose(f);
	assert_null(strstr(buf, "777777"));
	assert_non_null(strstr(buf, "\"duration_ns\": 888888"));
	free(buf);
	session_free(s);
	free(s);
}

static void test_stats_negative_rss(void **state)
{
	struct session *s = new_session();
	int a = session_add_op(s, "a", OP_NATIVE, PREC_EXACT);

	add_call(s, a, 10, 0, 1 << 20, 1 << 19, 1 << 20, 0);
	/* no RSS measured (all zero): timed, but not in the RSS columns */
	add_call(s, a, 10, 0, 0, 0, 0, 0);
	session_compute_stats(s);
	assert_int_equal(s->ops[a].count, 2);
	assert_near(s->ops[a].stdev_ns, 0, 0);
	assert_true(s->ops[a].rss_delta_max == -(1 << 19));
	assert_near(s->ops[a].rss_delta_mean, -(1 << 19), 0);
	session_free(s);
	free(s);
}

/* Records dropped: the histogram (which BPF filled for every call) wins; BPF's sums stay. */
static void test_stats_from_hist(void **state)
{
	struct session *s = new_session();
	int a = session_add_op(s, "a", OP_NATIVE, PREC_EXACT);
	int b = session_add_op(s, "b", OP_NATIVE, PREC_EXACT);
	int c = session_add_op(s, "sampled", OP_PY, PREC_SAMPLED);
	int d = session_add_op(s, "never", OP_NATIVE, PREC_EXACT);
	struct op_result *op = &s->ops[a];
	__u64 total = 0;
	int i;

	op->hist = calloc(HIST_BUCKETS, sizeof(*op->hist));
	assert_non_null(op->hist);
	for (i = 1; i <= 1000; i++) {
		op->hist[hist_index(i * 1000ULL)]++;
		total += i * 1000ULL;
	}
	op->total_ns = total;
	op->on_cpu_ns = total / 4;
	op->unwound = 3;
	/* only one record survived */
	add_call(s, a, 5000, 0, 0, 100, 200, 0);
	/* b has calls but no histogram: its calls are all we have */
	add_call(s, b, 10, 0, 0, 0, 0, 0);
	add_call(s, b, 30, 0, 0, 0, 0, 0);
	s->ops[c].count = 77;
	s->ops[c].p50_ns = 123;
	s->ops[d].note[0] = 'x';
	s->dropped_events = 5;
	s->dropped_calls = 5;
	session_compute_stats(s);

	assert_int_equal(op->source, SRC_HISTOGRAM);
	assert_int_equal(op->count, 1000);
	assert_int_equal(op->total_ns, total);
	assert_int_equal(op->on_cpu_ns, total / 4);
	assert_int_equal(op->off_cpu_ns, total - total / 4);
	assert_int_equal(op->unwound, 3);
	assert_near(op->mean_ns, 500500, 1e-6);
	assert_int_equal(op->min_ns, hist_bucket_low(hist_index(1000)));
	assert_int_equal(op->max_ns, hist_bucket_high(hist_index(1000000)));
	assert_near((double)op->p50_ns, 500000, 500000 * 0.016);
	assert_near((double)op->p90_ns, 900000, 900000 * 0.016);
	assert_near((double)op->p99_ns, 990000, 990000 * 0.016);
	/* uniform 1..1000 us: stdev ~ 288.8 us */
	assert_near(op->stdev_ns, 288819, 288819 * 0.02);
	assert_int_equal(op->rss_peak, 200);

	assert_int_equal(s->ops[b].source, SRC_CALLS);
	assert_int_equal(s->ops[b].count, 2);
	assert_int_equal(s->ops[b].p50_ns, 10);

	assert_int_equal(s->ops[c].source, SRC_SAMPLES);
	assert_int_equal(s->ops[c].count, 77);
	assert_int_equal(s->ops[c].p50_ns, 123);
	assert_int_equal(s->ops[d].count, 0);

	/* only stack samples dropped: the call records are complete, so they still win */
	s->dropped_calls = 0;
	session_compute_stats(s);
	assert_int_equal(op->source, SRC_CALLS);
	assert_int_equal(op->count, 1);

	/* nothing dropped: the calls are exact, so they win even with a histogram */
	s->dropped_events = 0;
	session_compute_stats(s);
	assert_int_equal(op->source, SRC_CALLS);
	assert_int_equal(op->count, 1);
	assert_int_equal(op->p99_ns, 5000);
	session_free(s);
	free(s);
}

static void test_mw_small_reference(void **state)
{
	/* References: scipy.stats.mannwhitneyu(a, b, alternative='two-sided',
	 * method='asymptotic', use_continuity=True).pvalue */
	__u64 a[] = { 12, 15, 11, 18, 14, 16, 13, 17, 15, 19 };
	__u64 b[] = { 20, 22, 15, 21, 25, 19, 23, 24, 18, 26 };
	__u64 c[] = { 5, 7, 7, 9, 10, 12, 12, 12, 14, 20 };
	__u64 d[] = { 6, 7, 9, 11, 12, 13, 13, 15, 16, 18, 21 };

	/* By hand for a/b: ranks of a are 1 2 3 4 6 6 8 9 10.5 12.5 (15 tied x3 at ranks 5-7,
	 * 18 x2 at 10-11, 19 x2 at 12-13), so R_a = 62, U = 62 - 55 = 7, mu = 50;
	 * sum(t^3 - t) = 24 + 6 + 6 = 36, sigma^2 = 100/12 * (21 - 36/380) = 174.2105;
	 * z = (|7 - 50| - 0.5) / 13.19888 = 3.21997, p = erfc(z / sqrt 2) = 0.001282. */
	assert_near(mann_whitney_p(a, 10, b, 10), 0.0012820431685540044, 1e-12);
	assert_near(mann_whitney_p(b, 10, a, 10), 0.0012820431685540044, 1e-12);
	assert_near(mann_whitney_p(c, 10, d, 11), 0.2725575990081912, 1e-12);
	assert_near(mann_whitney_p(d, 11, c, 10), 0.2725575990081912, 1e-12);
}

static void test_mw_edges(void **state)
{
	__u64 a[] = { 1, 2, 3 }, same[] = { 5, 5, 5, 5 };

	assert_near(mann_whitney_p(a, 1, a, 3), 1.0, 0);
	assert_near(mann_whitney_p(a, 3, a, 1), 1.0, 0);
	assert_near(mann_whitney_p(a, 0, a, 3), 1.0, 0);
	/* every value tied: no evidence of a difference */
	assert_near(mann_whitney_p(same, 4, same, 4), 1.0, 0);
	assert_near(mann_whitney_p(a, 3, a, 3), 1.0, 0);
}

/* 100k vs 100k: identical distributions give a large p, a 2% shift a tiny one, fast. */
static void test_mw_large(void **state)
{
	enum { N = 100000 };
	__u64 *a = malloc(N * sizeof(*a)), *b = malloc(N * sizeof(*b)), *c = malloc(N * sizeof(*c));
	struct timespec t0, t1;
	double p_same, p_copy, p_shift, secs;
	int i;

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	for (i = 0; i < N; i++) {
		/* lognormal-ish around 1 ms with heavy ties from 1 us rounding */
		double x = 1e6 * exp(0.3 * (rnd01() + rnd01() + rnd01() - 1.5));

		a[i] = (__u64)(x / 1000) * 1000;
		c[i] = (__u64)(x * 1.02 / 1000) * 1000;
	}
	/* b: a shuffled copy of a, the most identical a second sample can be */
	memcpy(b, a, N * sizeof(*b));
	for (i = N - 1; i > 0; i--) {
		int j = (int)(rnd() % (__u64)(i + 1));
		__u64 t = b[i];

		b[i] = b[j];
		b[j] = t;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	p_copy = mann_whitney_p(a, N, b, N);
	p_same = mann_whitney_p(a, N / 2, a + N / 2, N / 2);
	p_shift = mann_whitney_p(a, N, c, N);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("identical p=%.6f, same-distribution p=%.4f, +2%% p=%.3g, 3 tests in %.3fs\n",
		      p_copy, p_same, p_shift, secs);
	assert_near(p_copy, 1.0, 1e-3);
	assert_true(p_same > 0.001);
	assert_true(p_shift < 0.001);
	assert_true(secs < 2.0);
	free(a);
	free(b);
	free(c);
}

/* ------------------------------------------------------------ two-sample effects */

static void test_hl_shift_small(void **state)
{
	/* differences of {1,2,3} -> {4,5,6}: 1,2,2,3,3,3,4,4,5; median 3 */
	int64_t a[] = { 1, 2, 3 }, b[] = { 4, 5, 6 };
	int64_t c[] = { 10, 20 }, d[] = { 11, 25 };
	struct effect e;

	assert_int_equal(hl_shift(a, 3, b, 3, 0.95, &e), 0);
	assert_true(e.est == 3);
	assert_true(e.lo <= 3 && e.hi >= 3);
	assert_true(e.lo >= 1 && e.hi <= 5);
	/* an even count: differences 1, 15, -9, 5 sorted -9, 1, 5, 15 -> (1 + 5) / 2 */
	assert_int_equal(hl_shift(c, 2, d, 2, 0.95, &e), 0);
	assert_true(e.est == 3);
	assert_int_equal(hl_shift(a, 0, b, 3, 0.95, &e), -EINVAL);
}

static void test_hl_shift_recovers_shift(void **state)
{
	int64_t a[400], b[400];
	struct effect e;
	struct rng r;

	rng_seed(&r, 7);
	for (int i = 0; i < 400; i++) {
		a[i] = (int64_t)(1e6 * (1 + 0.1 * rng_uniform(&r)));
		b[i] = (int64_t)(1e6 * (1 + 0.1 * rng_uniform(&r))) + 50000;
	}
	sort_i64(a, 400);
	sort_i64(b, 400);
	assert_int_equal(hl_shift(a, 400, b, 400, 0.95, &e), 0);
	assert_true(fabs(e.est - 50000) < 2000);
	assert_true(e.lo < 50000 && e.hi > 50000);
	assert_true(e.hi - e.lo < 10000);
	assert_true(e.p < 1e-10);
	/* the same sample: no shift, p = 1 */
	assert_int_equal(hl_shift(a, 400, a, 400, 0.95, &e), 0);
	assert_true(e.est == 0);
	assert_true(e.p > 0.9);
	/* negative values (RSS deltas) work too */
	for (int i = 0; i < 400; i++)
		b[i] = a[i] - 2000000;
	assert_int_equal(hl_shift(a, 400, b, 400, 0.95, &e), 0);
	assert_true(e.est == -2000000);
}

static int cmp_i64_test(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

/* The k-th (1-based) of all b_j - a_i, the slow way. */
static int64_t brute_kth(const int64_t *a, size_t na, const int64_t *b, size_t nb, uint64_t k)
{
	int64_t *d = malloc(na * nb * sizeof(*d)), r;
	size_t n = 0;

	assert_non_null(d);
	for (size_t j = 0; j < nb; j++)
		for (size_t i = 0; i < na; i++)
			d[n++] = b[j] - a[i];
	qsort(d, n, sizeof(*d), cmp_i64_test);
	r = d[k - 1];
	free(d);
	return r;
}

/* Radix sort = qsort, and the interpolated k-th difference search = the order statistics
 * themselves, on smooth, tied, outlying, negative and tiny samples. */
static void test_hl_shift_exact(void **state)
{
	static const size_t sizes[][2] = { { 1, 1 }, { 2, 3 }, { 9, 40 }, { 600, 520 }, { 700, 31 } };
	int64_t *a, *b, *c;

	for (int shape = 0; shape < 5; shape++) {
		for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
			size_t na = sizes[z][0], nb = sizes[z][1], i;
			uint64_t N = (uint64_t)na * nb, k;
			struct effect e;
			double z2 = 1.959963984540054;   /* as hl_shift's z for 0.95 */

			a = malloc(na * sizeof(*a));
			b = malloc(nb * sizeof(*b));
			c = malloc((na > nb ? na : nb) * sizeof(*c));
			assert_true(a && b && c);
			for (i = 0; i < na + nb; i++) {
				int64_t v;

				switch (shape) {
				case 0: v = 1000000 + (int64_t)(rnd() % 100000); break;          /* smooth */
				case 1: v = (int64_t)(rnd() % 4) * 4096; break;                  /* tied */
				case 2: v = rnd() % 50 ? 40000 + (int64_t)(rnd() % 999) :
					    (int64_t)(rnd() % (1ULL << 40)); break;              /* outliers */
				case 3: v = (int64_t)(rnd() % 8000000) - 4000000; break;         /* negative */
				default: v = (int64_t)(rnd() % (1ULL << 61)) - (1LL << 60); break;   /* wide */
				}
				if (i < na)
					a[i] = v;
				else
					b[i - na] = v + (shape == 0 ? 3000 : 0);
			}
			memcpy(c, a, na * sizeof(*c));
			sort_i64(a, na);
			qsort(c, na, sizeof(*c), cmp_i64_test);
			assert_memory_equal(a, c, na * sizeof(*c));
			memcpy(c, b, nb * sizeof(*c));
			sort_i64(b, nb);
			qsort(c, nb, sizeof(*c), cmp_i64_test);
			assert_memory_equal(b, c, nb * sizeof(*c));

			assert_int_equal(hl_shift(a, na, b, nb, 0.95, &e), 0);
			if (N % 2)
				assert_true(e.est == (double)brute_kth(a, na, b, nb, N / 2 + 1));
			else
				assert_true(e.est == ((double)brute_kth(a, na, b, nb, N / 2) +
						      (double)brute_kth(a, na, b, nb, N / 2 + 1)) / 2);
			{
				double half = z2 * sqrt((double)na * nb * ((double)na + nb + 1) / 12);

				k = (double)N / 2 - half < 1 ? 1 : (uint64_t)floor((double)N / 2 - half);
			}
			assert_true(e.lo == (double)brute_kth(a, na, b, nb, k));
			assert_true(e.hi == (double)brute_kth(a, na, b, nb, N - k + 1));
			free(a);
			free(b);
			free(c);
		}
	}
}

static void test_quantile_boot(void **state)
{
	int64_t a[300], b[300];
	struct effect e1, e2;
	struct rng r;

	rng_seed(&r, 9);
	for (int i = 0; i < 300; i++) {
		a[i] = (int64_t)(1e6 * -log(rng_uniform(&r)));
		b[i] = (int64_t)(1e6 * -log(rng_uniform(&r)));
	}
	sort_i64(a, 300);
	sort_i64(b, 300);
	/* seeded: the same interval twice */
	rng_seed(&r, 1);
	assert_int_equal(quantile_diff_boot(a, 300, b, 300, 0.9, 500, &r, 0.95, &e1), 0);
	rng_seed(&r, 1);
	assert_int_equal(quantile_diff_boot(a, 300, b, 300, 0.9, 500, &r, 0.95, &e2), 0);
	assert_true(e1.lo == e2.lo && e1.hi == e2.hi && e1.est == e2.est);
	assert_true(e1.est == (double)(quantile_i64(b, 300, 0.9) - quantile_i64(a, 300, 0.9)));
	assert_true(e1.lo <= e1.est && e1.est <= e1.hi);
	assert_true(e1.p > 0.001);   /* same distribution */
	/* b's top tenth doubled: p90 moved, and clearly */
	for (int i = 270; i < 300; i++)
		b[i] *= 2;
	sort_i64(b, 300);
	assert_int_equal(quantile_diff_boot(a, 300, b, 300, 0.99, 500, &r, 0.95, &e1), 0);
	assert_true(e1.lo > 0);
	assert_true(quantile_i64(a, 300, 0.5) == quantile_i64(a, 300, 50));
}

static void test_holm(void **state)
{
	double p[] = { 0.01, 0.04, 0.03, 0.005 }, adj[4];

	holm_adjust(p, 4, adj);
	/* sorted 0.005 0.01 0.03 0.04 -> x4 x3 x2 x1 = 0.02 0.03 0.06 0.04 -> monotone 0.06 */
	assert_true(fabs(adj[3] - 0.02) < 1e-12);
	assert_true(fabs(adj[0] - 0.03) < 1e-12);
	assert_true(fabs(adj[2] - 0.06) < 1e-12);
	assert_true(fabs(adj[1] - 0.06) < 1e-12);
	p[0] = 0.9;
	holm_adjust(p, 1, adj);
	assert_true(adj[0] == 0.9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile_sorted),
		cmocka_unit_test(test_percentile_hist_small),
		cmocka_unit_test(test_percentile_hist_accuracy),
		cmocka_unit_test(test_stats_from_calls),
		cmocka_unit_test(test_stats_negative_rss),
		cmocka_unit_test(test_spans_of_an_exact_op_left_out),
		cmocka_unit_test(test_stats_from_hist),
		cmocka_unit_test(test_mw_small_reference),
		cmocka_unit_test(test_mw_edges),
		cmocka_unit_test(test_mw_large),
		cmocka_unit_test(test_hl_shift_small),
		cmocka_unit_test(test_hl_shift_recovers_shift),
		cmocka_unit_test(test_hl_shift_exact),
		cmocka_unit_test(test_quantile_boot),
		cmocka_unit_test(test_holm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
