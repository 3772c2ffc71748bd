// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* compare_sessions on sessions built in memory: verdicts, the test each row got, the text and
 * JSON outputs, and the return value. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "session.h"

/* xorshift64*: the same draws on every run and every libc */
static __u64 rng_state;

static double rnd01(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) / (double)(1ULL << 53);
}

/* splitmix64: nearby seeds must not give related streams (xorshift's first draws from a
 * small seed are) */
static __u64 mix(__u64 z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31)) | 1;
}

/* ~1ms with a realistic right skew: 0.8ms + exponential(0.2ms), times `scale` */
static __u64 draw_ns(double scale)
{
	double u = rnd01();

	return (__u64)((800000.0 + -200000.0 * log(1.0 - u)) * scale);
}

static void add_calls(struct session *s, const char *op, size_t n, double scale, __u64 seed)
{
	int id = session_find_op(s, op);
	size_t i;

	if (id < 0)
		id = session_add_op(s, op, OP_PY, PREC_EXACT);
	assert_true(id >= 0);
	rng_state = mix(seed);
	for (i = 0; i < n; i++) {
		struct call_rec c = { .op = id, .pid = 1, .tid = 1 };

		c.start_ns = i * 2000000ULL;
		c.duration_ns = draw_ns(scale);
		c.on_cpu_ns = c.duration_ns / 2;
		assert_int_equal(session_add_call(s, &c), 0);
	}
}

/* Histogram only: what a session looks like when every call record was dropped. */
static void add_hist(struct session *s, const char *op, size_t n, double scale, __u64 seed)
{
	int id = session_add_op(s, op, OP_NATIVE, PREC_EXACT);
	size_t i;

	assert_true(id >= 0);
	s->ops[id].hist = calloc(HIST_BUCKETS, sizeof(__u64));
	assert_non_null(s->ops[id].hist);
	rng_state = mix(seed);
	for (i = 0; i < n; i++) {
		__u64 d = draw_ns(scale);

		s->ops[id].hist[hist_index(d)]++;
		s->ops[id].total_ns += d;
	}
	s->dropped_events = n;
}

/* noinline: inlined, gcc 12 takes the open_memstream buffer for a dangling local */
__attribute__((noinline)) static char *run_compare(const struct session *b, const struct session *c,
			 const struct compare_opts *o, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*ret = compare_sessions(b, c, o, f);
	fclose(f);
	return buf;
}

static const struct compare_opts text_opts = { .threshold_pct = 5, .alpha = 0.01 };
static const struct compare_opts json_opts = { .threshold_pct = 5, .alpha = 0.01, .json = true };

/* The JSON row for op `name`, from a parsed compare document. */
static cJSON *json_op(cJSON *root, const char *name)
{
	cJSON *ops = cJSON_GetObjectItem(root, "operations"), *o;

	cJSON_ArrayForEach(o, ops)
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")), name))
			return o;
	return NULL;
}

static const char *json_status(cJSON *root, const char *name)
{
	cJSON *o = json_op(root, name);

	assert_non_null(o);
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, "status"));
}

struct pair {
	struct session base, cur;
};

static int pair_setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	if (!p)
		return -1;
	session_init(&p->base);
	session_init(&p->cur);
	snprintf(p->base.name, sizeof(p->base.name), "base");
	snprintf(p->cur.name, sizeof(p->cur.name), "cur");
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	session_free(&p->base);
	session_free(&p->cur);
	free(p);
	return 0;
}

static void compute(struct pair *p)
{
	session_compute_stats(&p->base);
	session_compute_stats(&p->cur);
}

static void test_slowdown_is_regression(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root, *o;

	add_calls(&p->base, "embed", 200, 1.0, 1);
	add_calls(&p->cur, "embed", 200, 1.2, 2);
	compute(p);

	out = run_compare(&p->base, &p->cur, &text_opts, &ret);
	assert_int_equal(ret, 1);
	assert_non_null(strstr(out, "regression"));
	assert_non_null(strstr(out, "Shift [95% CI]"));
	assert_non_null(strstr(out, "regression  p10 +"));
	assert_non_null(strstr(out, "Prec"));
	assert_non_null(strstr(out, "1 regression(s), 0 improvement(s), 0 stable, 0 new, 0 removed, "
			      "0 inconclusive"));
	assert_null(strchr(out, '\033'));
	free(out);

	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 1);
	root = cJSON_Parse(out);
	assert_non_null(root);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(root, "schema")),
			    "ragd-bpfprof-compare/1");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(root, "regressions")), 1);
	o = json_op(root, "embed");
	assert_non_null(o);
	assert_string_equal(json_status(root, "embed"), "regression");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "test")), "mann-whitney");
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "p_value")) < 0.01);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(o, "change_pct"), "p50")) > 10);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(o, "base"), "count")), 200);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(o, "current"), "p50_ns")) > 0);
	cJSON_Delete(root);
	free(out);

	/* colour only when asked, red on the regression row */
	{
		struct compare_opts co = text_opts;

		co.color = true;
		out = run_compare(&p->base, &p->cur, &co, &ret);
		assert_non_null(strstr(out, "\033[31m"));
		free(out);
	}
}

static void test_same_distribution_is_stable(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root, *o;

	add_calls(&p->base, "embed", 200, 1.0, 11);
	add_calls(&p->cur, "embed", 200, 1.0, 12);
	compute(p);

	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 0);
	root = cJSON_Parse(out);
	assert_non_null(root);
	assert_string_equal(json_status(root, "embed"), "stable");
	o = json_op(root, "embed");
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "p_value")) >= 0.01);
	cJSON_Delete(root);
	free(out);
}

/* Significant (200 calls each) but below the threshold: not a regression. */
static void test_small_change_is_stable(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root;

	add_calls(&p->base, "embed", 200, 1.0, 21);
	add_calls(&p->cur, "embed", 200, 1.03, 21);
	compute(p);

	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 0);
	root = cJSON_Parse(out);
	assert_non_null(root);
	assert_string_equal(json_status(root, "embed"), "stable");
	cJSON_Delete(root);
	free(out);
}

static void test_faster_is_improvement(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root;

	add_calls(&p->base, "embed", 200, 1.0, 31);
	add_calls(&p->cur, "embed", 200, 0.7, 32);
	compute(p);

	out = run_compare(&p->base, &p->cur, &text_opts, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "improvement"));
	assert_non_null(strstr(out, "0 regression(s), 1 improvement(s)"));
	free(out);

	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	root = cJSON_Parse(out);
	assert_non_null(root);
	assert_string_equal(json_status(root, "embed"), "improvement");
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(json_op(root, "embed"), "change_pct"), "p50")) < -20);
	cJSON_Delete(root);
	free(out);
}

static void test_new_and_removed(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root, *o;

	add_calls(&p->base, "embed", 50, 1.0, 41);
	add_calls(&p->cur, "embed", 50, 1.0, 41);
	add_calls(&p->base, "old_step", 10, 1.0, 42);
	add_calls(&p->cur, "rerank", 10, 1.0, 43);
	/* declared on both sides, seen on one: still new/removed */
	session_add_op(&p->base, "cache", OP_PY, PREC_EXACT);
	add_calls(&p->cur, "cache", 5, 1.0, 44);
	/* seen nowhere: neither new nor removed */
	session_add_op(&p->base, "ghost", OP_PY, PREC_EXACT);
	session_add_op(&p->cur, "ghost", OP_PY, PREC_EXACT);
	compute(p);

	out = run_compare(&p->base, &p->cur, &text_opts, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "0 regression(s), 0 improvement(s), 1 stable, 2 new, 1 removed"));
	assert_non_null(strstr(out, "not seen in either session: ghost"));
	/* baseline order first, then ops only the current session has */
	assert_true(strstr(out, "old_step") < strstr(out, "rerank"));
	free(out);

	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 0);
	root = cJSON_Parse(out);
	assert_non_null(root);
	assert_string_equal(json_status(root, "rerank"), "new");
	assert_string_equal(json_status(root, "cache"), "new");
	assert_string_equal(json_status(root, "old_step"), "removed");
	assert_string_equal(json_status(root, "embed"), "stable");
	assert_null(json_op(root, "ghost"));
	o = json_op(root, "rerank");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "p_value")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "base"), "p50_ns")));
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "base"),
								  "count")), 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "change_pct"), "p50")));
	cJSON_Delete(root);
	free(out);
}

/* Every call record dropped: the calls are rebuilt from the histogram and judged like any. */
static void test_histogram_only_rebuilt(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root, *o;

	add_hist(&p->base, "search", 200, 1.0, 51);
	add_hist(&p->cur, "search", 200, 1.2, 52);
	add_hist(&p->base, "parse", 200, 1.0, 53);
	add_hist(&p->cur, "parse", 200, 1.02, 53);
	compute(p);
	assert_int_equal(p->cur.ops[0].source, SRC_HISTOGRAM);
	assert_int_equal(p->cur.ops[0].count, 200);

	out = run_compare(&p->base, &p->cur, &text_opts, &ret);
	assert_int_equal(ret, 1);
	assert_non_null(strstr(out, "exact/hist"));
	free(out);

	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 1);
	root = cJSON_Parse(out);
	assert_non_null(root);
	o = json_op(root, "search");
	assert_string_equal(json_status(root, "search"), "regression");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "test")), "mann-whitney");
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "p_value")) < 0.01);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "precision")), "exact/hist");
	assert_string_equal(json_status(root, "parse"), "stable");
	cJSON_Delete(root);
	free(out);
}

/* One call per side (a module body run once), +50%: inconclusive, not a regression, and the
 * row says why. */
static void test_single_call_inconclusive(void **state)
{
	struct pair *p = *state;
	struct compare_counts cc;
	struct compare_opts co = json_opts;
	char *out;
	int ret;
	cJSON *root, *o;

	add_calls(&p->base, "startup", 1, 1.0, 61);
	add_calls(&p->cur, "startup", 1, 1.5, 61);
	compute(p);

	out = run_compare(&p->base, &p->cur, &text_opts, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "inconclusive"));
	assert_non_null(strstr(out, "1 call a side, needs 8"));
	free(out);

	co.counts = &cc;
	out = run_compare(&p->base, &p->cur, &co, &ret);
	assert_int_equal(ret, 0);
	assert_int_equal(cc.inconclusive, 1);
	assert_int_equal(cc.regressions, 0);
	root = cJSON_Parse(out);
	assert_non_null(root);
	o = json_op(root, "startup");
	assert_string_equal(json_status(root, "startup"), "inconclusive");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "test")), "insufficient-data");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "reason")),
			    "1 call a side, needs 8");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(root, "inconclusive")), 1);
	cJSON_Delete(root);
	free(out);
}

/* Open calls (still running at the end) are no evidence: excluded from the test. */
static void test_open_calls_excluded(void **state)
{
	struct pair *p = *state;
	struct call_rec c = { .op = 0, .flags = CALL_F_OPEN, .duration_ns = 1000000000ULL };
	char *out;
	int ret;

	add_calls(&p->base, "serve", 1, 1.0, 71);
	add_calls(&p->cur, "serve", 1, 1.0, 71);
	assert_int_equal(session_add_call(&p->base, &c), 0);
	assert_int_equal(session_add_call(&p->cur, &c), 0);
	compute(p);

	out = run_compare(&p->base, &p->cur, &text_opts, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "1 call a side, needs 8"));
	free(out);
}

/* Several ops: the return value counts regressions only; a zeroed opts gets the defaults. */
static void test_return_counts_regressions(void **state)
{
	struct pair *p = *state;
	struct compare_opts zero = { 0 };
	char *out;
	int ret;

	add_calls(&p->base, "a", 200, 1.0, 81);
	add_calls(&p->cur, "a", 200, 1.25, 82);
	add_calls(&p->base, "b", 200, 1.0, 83);
	add_calls(&p->cur, "b", 200, 1.4, 84);
	add_calls(&p->base, "c", 200, 1.0, 85);
	add_calls(&p->cur, "c", 200, 0.6, 86);
	add_calls(&p->base, "d", 200, 1.0, 87);
	add_calls(&p->cur, "d", 200, 1.0, 88);
	compute(p);

	out = run_compare(&p->base, &p->cur, &zero, &ret);
	assert_int_equal(ret, 2);
	assert_non_null(strstr(out, "2 regression(s), 1 improvement(s), 1 stable, 0 new, 0 removed"));
	assert_non_null(strstr(out, "beyond 5% and its Holm-adjusted p < 0.01"));
	free(out);

	out = run_compare(&p->base, &p->cur, NULL, &ret);
	assert_int_equal(ret, 2);
	free(out);

	/* with a 50% threshold nothing moved far enough */
	{
		struct compare_opts wide = { .threshold_pct = 50, .alpha = 0.01 };

		out = run_compare(&p->base, &p->cur, &wide, &ret);
		assert_int_equal(ret, 0);
		free(out);
	}
}

/* Exact on one side, sampled on the other: compared, but flagged. */
static void test_precision_mismatch_warns(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret, id;

	add_calls(&p->base, "query", 20, 1.0, 91);
	id = session_add_op(&p->cur, "query", OP_PY, PREC_SAMPLED);
	session_compute_stats(&p->base);
	p->cur.ops[id].count = 18;
	p->cur.ops[id].p50_ns = p->base.ops[0].p50_ns;
	p->cur.ops[id].p95_ns = p->base.ops[0].p95_ns;
	p->cur.ops[id].mean_ns = p->base.ops[0].mean_ns;

	out = run_compare(&p->base, &p->cur, &text_opts, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "warning: query: baseline is exact, current is sampled"));
	assert_non_null(strstr(out, "inconclusive"));
	assert_non_null(strstr(out, "per-iteration totals"));
	free(out);
}

/* ------------------------------------------------------------ acceptance (issue 12) */

static double rnd_normal(void)
{
	return sqrt(-2 * log(1 - rnd01())) * cos(2 * M_PI * rnd01());
}

/* base_ns times lognormal noise of about cv: a CPU-bound call on a quiet machine */
static __u64 noisy(double base_ns, double cv)
{
	return (__u64)(base_ns * exp(cv * rnd_normal()));
}

static int op_id(struct session *s, const char *op, enum op_precision prec)
{
	int id = session_find_op(s, op);

	if (id < 0)
		id = session_add_op(s, op, OP_PY, prec);
	assert_true(id >= 0);
	return id;
}

static void add_call_ns(struct session *s, int id, __u64 d, __u32 iteration)
{
	struct call_rec c = { .op = id, .pid = 1, .tid = 1, .iteration = iteration, .duration_ns = d };

	c.start_ns = s->ncalls * 20000000ULL;
	assert_int_equal(session_add_call(s, &c), 0);
}

/* 40% cached calls at 1 ms, 60% uncached at 3 ms; the cached ones `fast_scale` slower. */
static void add_bimodal(struct session *s, const char *op, size_t n, double fast_scale, __u64 seed)
{
	int id = op_id(s, op, PREC_EXACT);

	rng_state = mix(seed);
	for (size_t i = 0; i < n; i++) {
		bool fast = rnd01() < 0.4;

		add_call_ns(s, id, fast ? noisy(1e6 * fast_scale, 0.03) : noisy(3e6, 0.03), 0);
	}
}

static cJSON *json_stat(cJSON *o, const char *name)
{
	cJSON *st;

	cJSON_ArrayForEach(st, cJSON_GetObjectItem(o, "statistics"))
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(st, "name")), name))
			return st;
	return NULL;
}

static bool json_moved(cJSON *o, const char *name)
{
	cJSON *m;

	cJSON_ArrayForEach(m, cJSON_GetObjectItem(o, "moved"))
		if (!strcmp(cJSON_GetStringValue(m), name))
			return true;
	return false;
}

/* Fast calls 50% slower, slow calls unchanged: p50 does not move, p10 does. */
static void test_bimodal_fast_mode_regression(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root, *o, *st;

	add_bimodal(&p->base, "search", 200, 1.0, 101);
	add_bimodal(&p->cur, "search", 200, 1.5, 102);
	compute(p);
	/* the old rule's blind spot: the typical call is the same */
	assert_true(fabs((double)p->cur.ops[0].p50_ns / p->base.ops[0].p50_ns - 1) < 0.05);

	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 1);
	root = cJSON_Parse(out);
	assert_non_null(root);
	o = json_op(root, "search");
	assert_string_equal(json_status(root, "search"), "regression");
	assert_true(json_moved(o, "p10"));
	st = json_stat(o, "p10");
	assert_non_null(st);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "change_pct")) > 40);
	assert_true(cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(st, "interval_pct"), 0)) > 20);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "p_adjusted")) < 0.01);
	assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(o, "reason")), "p10 +"));
	cJSON_Delete(root);
	free(out);

	/* the text names the statistic and its interval */
	out = run_compare(&p->base, &p->cur, &text_opts, &ret);
	assert_int_equal(ret, 1);
	assert_non_null(strstr(out, "regression  p10 +"));
	assert_non_null(strstr(out, "%, +"));
	free(out);
}

/* 21 ops drawn from one distribution on both sides, 1000 times: Holm keeps the chance of any
 * flag in a comparison under alpha (here well under 1% of the trials). */
static void test_identical_trials_rarely_flag(void **state)
{
	static const struct compare_opts co = { .threshold_pct = 5, .alpha = 0.01 };
	int flagged = 0;
	FILE *null = fopen("/dev/null", "w");

	assert_non_null(null);
	for (int t = 0; t < 1000; t++) {
		struct session b, c;
		struct compare_counts cc;
		struct compare_opts o = co;

		session_init(&b);
		session_init(&c);
		for (int k = 0; k < 21; k++) {
			char name[16];

			snprintf(name, sizeof(name), "op%d", k);
			add_calls(&b, name, 60, 1.0, 1 + t * 100 + k * 2);
			add_calls(&c, name, 60, 1.0, 2 + t * 100 + k * 2);
		}
		session_compute_stats(&b);
		session_compute_stats(&c);
		o.counts = &cc;
		assert_true(compare_sessions(&b, &c, &o, null) >= 0);
		flagged += cc.regressions + cc.improvements > 0;
		session_free(&b);
		session_free(&c);
	}
	fclose(null);
	print_message("identical distributions: %d of 1000 trials flagged an op\n", flagged);
	assert_true(flagged < 10);
}

/* A real but small change: significant at n=1000, below the 5% threshold, so stable. */
static void test_three_percent_is_stable(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root, *o;
	int ib = op_id(&p->base, "embed", PREC_EXACT), ic = op_id(&p->cur, "embed", PREC_EXACT);

	rng_state = mix(111);
	for (int i = 0; i < 1000; i++)
		add_call_ns(&p->base, ib, noisy(1e6, 0.05), 0);
	rng_state = mix(112);
	for (int i = 0; i < 1000; i++)
		add_call_ns(&p->cur, ic, noisy(1.03e6, 0.05), 0);
	compute(p);

	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 0);
	root = cJSON_Parse(out);
	assert_non_null(root);
	o = json_op(root, "embed");
	assert_string_equal(json_status(root, "embed"), "stable");
	/* the shift itself is measured: about +3%, and significant */
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(json_stat(o, "shift"), "change_pct")) - 3) < 1);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(json_stat(o, "shift"), "p_adjusted")) < 0.01);
	cJSON_Delete(root);
	free(out);
}

/* 10% slower at n=30 a side: a regression on the shift. */
static void test_ten_percent_n30_regression(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root, *o;
	int ib = op_id(&p->base, "rerank", PREC_EXACT), ic = op_id(&p->cur, "rerank", PREC_EXACT);

	rng_state = mix(121);
	for (int i = 0; i < 30; i++)
		add_call_ns(&p->base, ib, noisy(2e6, 0.05), 0);
	rng_state = mix(122);
	for (int i = 0; i < 30; i++)
		add_call_ns(&p->cur, ic, noisy(2.2e6, 0.05), 0);
	compute(p);

	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 1);
	root = cJSON_Parse(out);
	assert_non_null(root);
	o = json_op(root, "rerank");
	assert_string_equal(json_status(root, "rerank"), "regression");
	assert_true(json_moved(o, "shift"));
	/* p10/p90 need 50 values a side: not tested at n=30 */
	assert_null(json_stat(o, "p10"));
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "samples"),
								  "base")), 30);
	cJSON_Delete(root);
	free(out);
}

/* Same time, but every call now keeps 10 MiB more: a memory regression. */
static void test_rss_growth_is_memory_regression(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root, *o;
	int ib = op_id(&p->base, "index", PREC_EXACT), ic = op_id(&p->cur, "index", PREC_EXACT);
	__u64 rss = 200ULL << 20;

	for (int side = 0; side < 2; side++) {
		struct session *s = side ? &p->cur : &p->base;

		rng_state = mix(131 + side);
		for (int i = 0; i < 30; i++) {
			struct call_rec c = { .op = side ? ic : ib, .pid = 1, .tid = 1 };

			c.duration_ns = noisy(5e6, 0.05);
			c.rss_start = rss;
			c.rss_end = rss + (side ? 10ULL << 20 : 0) + (rnd01() < 0.5 ? 4096 : 0);
			c.rss_peak = c.rss_end;   /* freed after the call: the peak moves 5% only */
			assert_int_equal(session_add_call(s, &c), 0);
		}
	}
	compute(p);

	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 1);
	root = cJSON_Parse(out);
	assert_non_null(root);
	o = json_op(root, "index");
	assert_string_equal(json_status(root, "index"), "regression");
	assert_true(json_moved(o, "rss_delta"));
	assert_false(json_moved(o, "shift"));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "memory"), "regression")));
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(json_stat(o, "rss_delta"), "change")) -
			 10.0 * (1 << 20)) < 8192);
	cJSON_Delete(root);
	free(out);

	out = run_compare(&p->base, &p->cur, &text_opts, &ret);
	assert_non_null(strstr(out, "rss_delta +10.0MiB/call"));
	free(out);

	/* a byte threshold above the growth: not a memory regression */
	{
		struct compare_opts co = json_opts;

		co.mem_threshold_bytes = 64.0 * (1 << 20);
		out = run_compare(&p->base, &p->cur, &co, &ret);
		assert_int_equal(ret, 0);
		free(out);
	}
}

/* Sampled ops: one value per iteration (the op's total in it), not the quantised spans. */
static void test_sampled_per_iteration_totals(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root, *o;
	int ib = op_id(&p->base, "query", PREC_SAMPLED), ic = op_id(&p->cur, "query", PREC_SAMPLED);

	for (int side = 0; side < 2; side++) {
		struct session *s = side ? &p->cur : &p->base;

		rng_state = mix(141 + side);
		for (__u32 it = 0; it < 12; it++)
			for (int k = 0; k < 5; k++)   /* spans quantised to 1 ms */
				add_call_ns(s, side ? ic : ib,
					    (__u64)llround(noisy(side ? 13e6 : 10e6, 0.05) / 1e6) * 1000000, it);
	}
	compute(p);
	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 1);
	root = cJSON_Parse(out);
	assert_non_null(root);
	o = json_op(root, "query");
	assert_string_equal(json_status(root, "query"), "regression");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "samples"),
								     "unit")), "iteration");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "samples"),
								  "current")), 12);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "precision")), "sampled");
	cJSON_Delete(root);
	free(out);
}

/* An A/B run: the calls of one iteration share its machine state. Three slow iterations (all 5
 * of their calls 1.6x) are a regression judged per call, not on per-iteration medians. */
static void test_ab_slow_iteration_not_a_regression(void **state)
{
	struct pair *p = *state;
	struct compare_opts co = json_opts;
	int ib = op_id(&p->base, "search", PREC_EXACT), ic = op_id(&p->cur, "search", PREC_EXACT);
	int ret;
	char *out;
	cJSON *root;

	for (int side = 0; side < 2; side++) {
		struct session *s = side ? &p->cur : &p->base;

		rng_state = mix(171 + side);
		for (__u32 it = 0; it < 12; it++)
			for (int k = 0; k < 5; k++)
				add_call_ns(s, side ? ic : ib, (__u64)noisy(side && it % 4 == 3 ? 16e6 : 10e6, 0.03), it);
	}
	compute(p);
	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 1);   /* per call: the slow iteration's five calls move p90 */
	free(out);
	co.ab_pairs = 12;
	out = run_compare(&p->base, &p->cur, &co, &ret);
	assert_int_equal(ret, 0);
	root = cJSON_Parse(out);
	assert_non_null(root);
	assert_string_equal(json_status(root, "search"), "stable");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(
		json_op(root, "search"), "samples"), "unit")), "iteration_median");
	cJSON_Delete(root);
	free(out);
}

/* --format markdown: one table a CI step summary renders, the verdict line first. */
static void test_markdown(void **state)
{
	struct pair *p = *state;
	struct compare_opts co = text_opts;
	char *out;
	int ret;

	add_calls(&p->base, "a|b", 200, 1.0, 151);
	add_calls(&p->cur, "a|b", 200, 1.3, 152);
	/* an A/B run: exact ops are judged on per-iteration medians, so spread them over 20 */
	for (size_t i = 0; i < p->base.ncalls; i++)
		p->base.calls[i].iteration = p->cur.calls[i].iteration = (__u32)(i % 20);
	add_calls(&p->base, "startup", 1, 1.0, 153);
	add_calls(&p->cur, "startup", 1, 1.0, 154);
	compute(p);
	co.markdown = true;
	co.ab_pairs = 20;
	out = run_compare(&p->base, &p->cur, &co, &ret);
	assert_int_equal(ret, 1);
	assert_non_null(strstr(out, "**FAIL**: 1 regression(s)"));
	assert_non_null(strstr(out, "| Operation | Precision | Base | Current | Change [95% CI] | Verdict |"));
	assert_non_null(strstr(out, "| a\\|b | exact | p50 "));
	assert_non_null(strstr(out, "| **regression** |"));
	assert_non_null(strstr(out, "| inconclusive: 1 iteration a side, needs 8 (A/B: judged on per-iteration medians) |"));
	assert_non_null(strstr(out, "A/B: 20 pairs"));
	assert_null(strchr(out, '\033'));
	free(out);
}

/* The same input gives the same output, byte for byte (seeded bootstrap). */
static void test_reproducible(void **state)
{
	struct pair *p = *state;
	char *a, *b;
	int ret;

	add_bimodal(&p->base, "search", 300, 1.0, 161);
	add_bimodal(&p->cur, "search", 300, 1.1, 162);
	compute(p);
	a = run_compare(&p->base, &p->cur, &json_opts, &ret);
	b = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

/* ragd's own ProfileSession JSON with 75 distinct operations (as real ragd 1.0.10 exports),
 * 2,511 results: read and compared on both sides, no 64-op limit. */
static char *ragd_profile_json(double scale, __u64 seed)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	rng_state = mix(seed);
	fputs("{\"name\": \"ragd\", \"start_time\": \"2026-01-01T00:00:00\", \"results\": [", f);
	for (int i = 0; i < 2511; i++)
		fprintf(f, "%s{\"operation\": \"op%d\", \"duration_ms\": %.4f, \"memory_delta_mb\": 0.0}",
			i ? "," : "", i % 75, draw_ns(i % 75 == 7 ? scale : 1.0) / 1e6);
	fputs("]}", f);
	fclose(f);
	return buf;
}

static void test_ragd_profile_many_ops(void **state)
{
	struct pair *p = *state;
	char err[256], *jb = ragd_profile_json(1.0, 171), *jc = ragd_profile_json(1.5, 172), *out;
	int ret;
	cJSON *root;

	assert_int_equal(session_read_string(&p->base, jb, err, sizeof(err)), 0);
	assert_int_equal(session_read_string(&p->cur, jc, err, sizeof(err)), 0);
	assert_int_equal(p->base.nops, 75);
	assert_string_equal(p->base.source_format, "ragd-profile");
	compute(p);
	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	root = cJSON_Parse(out);
	assert_non_null(root);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "operations")), 75);
	/* op7 got 50% slower (33 calls a side); the other 74 did not move */
	assert_string_equal(json_status(root, "op7"), "regression");
	assert_int_equal(ret, 1);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(root, "stable")), 74);
	cJSON_Delete(root);
	free(out);
	free(jb);
	free(jc);
}

/* Exact on one side, sampled on the other: both judged per iteration, like with like. */
static void test_mixed_precision_per_iteration(void **state)
{
	struct pair *p = *state;
	char *out;
	int ret;
	cJSON *root, *o;
	int ib = op_id(&p->base, "query", PREC_EXACT), ic = op_id(&p->cur, "query", PREC_SAMPLED);

	for (int side = 0; side < 2; side++) {
		rng_state = mix(181 + side);
		for (__u32 it = 0; it < 12; it++)
			for (int k = 0; k < 5; k++)
				add_call_ns(side ? &p->cur : &p->base, side ? ic : ib, noisy(2e6, 0.03), it);
	}
	compute(p);
	out = run_compare(&p->base, &p->cur, &json_opts, &ret);
	assert_int_equal(ret, 0);
	root = cJSON_Parse(out);
	assert_non_null(root);
	o = json_op(root, "query");
	assert_string_equal(json_status(root, "query"), "stable");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "precision")), "mixed");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "samples"),
								  "base")), 12);
	cJSON_Delete(root);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slowdown_is_regression, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_same_distribution_is_stable, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_small_change_is_stable, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_faster_is_improvement, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_new_and_removed, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_histogram_only_rebuilt, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_single_call_inconclusive, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_open_calls_excluded, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_return_counts_regressions, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_precision_mismatch_warns, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_bimodal_fast_mode_regression, pair_setup, pair_teardown),
		cmocka_unit_test(test_identical_trials_rarely_flag),
		cmocka_unit_test_setup_teardown(test_three_percent_is_stable, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_ten_percent_n30_regression, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_rss_growth_is_memory_regression, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_sampled_per_iteration_totals, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_ab_slow_iteration_not_a_regression, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_markdown, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_reproducible, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_ragd_profile_many_ops, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_mixed_precision_per_iteration, pair_setup, pair_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
