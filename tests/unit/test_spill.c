// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/spill.c and the session's spilled calls: round trips, many chunks, statistics and JSON
 * identical to the all-in-memory session. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "session.h"
#include "spill.h"

static char dir[] = "/tmp/test_spill.XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	return rmdir(dir);
}

static void test_round_trip(void **state)
{
	const char *dirs[] = { "/nonexistent/dir", "", dir };
	uint64_t v[1000], back[1000];
	struct spill sp;

	for (int i = 0; i < 1000; i++)
		v[i] = (uint64_t)i * 0x9E3779B97F4A7C15ULL;
	assert_int_equal(spill_open(&sp, dirs, 3, sizeof(v[0])), 0);
	assert_string_equal(sp.dir, dir);
	/* unlinked: nothing for anyone to find or clean up */
	assert_int_equal(dir_entries(dir), 0);
	/* many appends of odd sizes */
	for (int at = 0, n = 1; at < 1000; at += n, n = n * 3 % 97 + 1)
		assert_int_equal(spill_append(&sp, v + at, at + n > 1000 ? 1000 - at : n), 0);
	assert_int_equal(sp.n, 1000);
	assert_int_equal(spill_read(&sp, 0, back, 1000), 0);
	assert_memory_equal(back, v, sizeof(v));
	assert_int_equal(spill_read(&sp, 997, back, 3), 0);
	assert_memory_equal(back, v + 997, 3 * sizeof(v[0]));
	assert_int_equal(spill_read(&sp, 999, back, 2), -ERANGE);
	assert_int_equal(spill_read(&sp, 1001, back, 0), -ERANGE);
	spill_close(&sp);
	assert_int_equal(spill_read(&sp, 0, back, 1), -EBADF);
}

static void test_open_fails(void **state)
{
	const char *dirs[] = { "/nonexistent/a", "/nonexistent/b" };
	struct spill sp;

	assert_int_equal(spill_open(&sp, dirs, 2, 8), -ENOENT);
	assert_int_equal(sp.fd, -1);
	assert_int_equal(spill_open(&sp, dirs, 0, 8), -ENOENT);
}

static __u64 rng = 88172645463325252ULL;

static __u64 rnd(void)
{
	return xorshift64(&rng);
}

/* Three ops (one sampled), calls with every flag, some without RSS. */
static void fill(struct session *s, size_t n)
{
	session_add_op(s, "a", OP_NATIVE, PREC_EXACT);
	session_add_op(s, "b.c", OP_PY, PREC_EXACT);
	session_add_op(s, "d", OP_PY, PREC_SAMPLED);
	for (size_t i = 0; i < n; i++) {
		__u64 r = rnd();
		struct call_rec c = {
			.op = (__u32)(r % 3), .pid = 7, .tid = 7 + (r >> 8) % 4, .iteration = (__u32)(i / 1000),
			.depth = (r >> 12) % 3, .start_ns = i * 1000, .duration_ns = (r >> 20) % 1000000,
			.on_cpu_ns = (r >> 24) % 1000, .rss_start = (r >> 30) % 5 ? 4096 * (r % 100) : 0,
		};

		c.rss_end = c.rss_start ? c.rss_start + 4096 * ((r >> 40) % 3) : 0;
		c.rss_peak = c.rss_end;
		if (c.op == 2)
			c.flags = CALL_F_SAMPLED;
		else if (!((r >> 44) % 50))
			c.flags = CALL_F_OPEN;
		else if (!((r >> 50) % 20))
			c.flags = CALL_F_UNWOUND;
		assert_int_equal(session_add_call(s, &c), 0);
		if (s->spill_dir)
			assert_true(s->calls_cap <= s->calls_mem_max);
	}
	s->events = n;
}

static char *json_of(const struct session *s, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(session_write_json(s, f), 0);
	fclose(f);
	return buf;
}

static void assert_same_stats(const struct session *a, const struct session *b)
{
	assert_int_equal(a->nops, b->nops);
	for (int k = 0; k < a->nops; k++) {
		const struct op_result *x = &a->ops[k], *y = &b->ops[k];

		assert_true(x->count > 0);
		assert_op_stats_equal(x, y);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Percentiles by hand: every counted call of op k, sorted. */
static void assert_exact_percentiles(const struct session *s, int k)
{
	__u64 *d = malloc(s->ncalls * sizeof(*d));
	size_t n = 0;

	assert_non_null(d);
	for (size_t i = 0; i < s->ncalls; i++)
		if (s->calls[i].op == (__u32)k && !(s->calls[i].flags & CALL_F_OPEN))
			d[n++] = s->calls[i].duration_ns;
	qsort(d, n, sizeof(*d), cmp_u64);
	assert_int_equal(s->ops[k].count, n);
	assert_int_equal(s->ops[k].min_ns, d[0]);
	assert_int_equal(s->ops[k].max_ns, d[n - 1]);
	assert_int_equal(s->ops[k].p50_ns, d[(n + 1) / 2 - 1]);
	assert_int_equal(s->ops[k].p99_ns, percentile_sorted(d, n, 0.99));
	free(d);
}

/* 10,007 calls with room for 100 in memory: 100 chunks in the file, stats and JSON the same. */
static void test_session_many_chunks(void **state)
{
	struct session mem, sp;
	const struct call_rec *c;
	struct call_iter it;
	char *ja, *jb;
	size_t la, lb;
	__u64 i = 0;

	session_init(&mem);
	session_init(&sp);
	assert_int_equal(session_spill_calls(&sp, "/nonexistent/out.json", 100 * sizeof(struct call_rec)), 0);
	setenv("TMPDIR", dir, 1);
	rng = 88172645463325252ULL;
	fill(&mem, 10007);
	rng = 88172645463325252ULL;
	fill(&sp, 10007);
	unsetenv("TMPDIR");
	/* the output's directory does not exist: $TMPDIR took the file, unlinked */
	assert_non_null(sp.spill);
	assert_string_equal(sp.spill->dir, dir);
	assert_int_equal(dir_entries(dir), 0);
	assert_int_equal(sp.calls_spilled, 10000);
	assert_int_equal(sp.ncalls, 7);
	assert_int_equal(session_ncalls(&sp), 10007);
	assert_int_equal(session_ncalls(&mem), 10007);

	for (c = call_iter_first(&it, &sp, 0); c; c = call_iter_next(&it), i++)
		assert_memory_equal(c, &mem.calls[i], sizeof(*c));
	call_iter_done(&it);
	assert_int_equal(it.err, 0);
	assert_int_equal(i, 10007);
	/* from the middle of a chunk */
	c = call_iter_first(&it, &sp, 4321);
	assert_memory_equal(c, &mem.calls[4321], sizeof(*c));
	call_iter_done(&it);

	session_compute_stats(&mem);
	session_compute_stats(&sp);
	assert_same_stats(&mem, &sp);
	for (int k = 0; k < mem.nops; k++)
		assert_exact_percentiles(&mem, k);
	ja = json_of(&mem, &la);
	jb = json_of(&sp, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(ja, jb, la);
	free(jb);

	/* back in memory (what compare needs), still the same session */
	assert_int_equal(session_calls_load(&sp), 0);
	assert_null(sp.spill);
	assert_int_equal(sp.ncalls, 10007);
	assert_memory_equal(sp.calls, mem.calls, 10007 * sizeof(*sp.calls));
	jb = json_of(&sp, &lb);
	assert_memory_equal(ja, jb, la);
	free(ja);
	free(jb);
	session_free(&mem);
	session_free(&sp);
}

/* A spill file that lost records is a write error, never a file with calls missing. */
static void test_unreadable_spill_fails_write(void **state)
{
	struct session s;
	char *buf = NULL;
	size_t len;
	FILE *f;

	session_init(&s);
	assert_int_equal(session_spill_calls(&s, NULL, 10 * sizeof(struct call_rec)), 0);
	setenv("TMPDIR", dir, 1);
	fill(&s, 50);
	unsetenv("TMPDIR");
	assert_int_equal(s.calls_spilled, 40);
	assert_int_equal(ftruncate(s.spill->fd, 0), 0);
	f = open_memstream(&buf, &len);
	assert_int_equal(session_write_json(&s, f), -1);
	assert_int_equal(errno, EIO);
	fclose(f);
	free(buf);
	session_free(&s);
}

/* The in-place sort agrees with qsort: empty, equal values, few distinct, full 64-bit range. */
static void test_sort_u64(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 63, 64, 65, 1000, 100003 };
	__u64 *a = malloc(100003 * sizeof(*a)), *b = malloc(100003 * sizeof(*b));

	assert_non_null(a);
	assert_non_null(b);
	for (int kind = 0; kind < 4; kind++)
		for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
			size_t n = sizes[z];

			for (size_t i = 0; i < n; i++) {
				__u64 r = rnd();

				a[i] = kind == 0 ? 42 : kind == 1 ? r % 7 : kind == 2 ? r >> 20 : r;
			}
			memcpy(b, a, n * sizeof(*a));
			sort_u64(a, n);
			qsort(b, n, sizeof(*b), cmp_u64);
			if (n)
				assert_memory_equal(a, b, n * sizeof(*a));
		}
	free(a);
	free(b);
}

static void test_budget_from_env(void **state)
{
	setenv("RAGD_BPFPROF_CALL_MEM", "7200", 1);
	assert_int_equal(session_call_mem(), 7200);
	setenv("RAGD_BPFPROF_CALL_MEM", "12k", 1);
	assert_int_equal(session_call_mem(), 4u << 20);
	setenv("RAGD_BPFPROF_CALL_MEM", "0", 1);
	assert_int_equal(session_call_mem(), 4u << 20);
	unsetenv("RAGD_BPFPROF_CALL_MEM");
	assert_int_equal(session_call_mem(), 4u << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_open_fails),
		cmocka_unit_test(test_session_many_chunks),
		cmocka_unit_test(test_unreadable_spill_fails_write),
		cmocka_unit_test(test_sort_u64),
		cmocka_unit_test(test_budget_from_env),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
