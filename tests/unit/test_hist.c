// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* include/hist.h: the bucket math BPF and user space share. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "testutil.h"
#include <linux/types.h>
#include "hist.h"

#define LAST (HIST_BUCKETS - 1)

/* Buckets tile [0, UINT64_MAX] with no gap and no overlap. */
static void test_contiguous(void **state)
{
	__u32 i;

	assert_int_equal(hist_bucket_low(0), 0);
	for (i = 0; i < LAST; i++) {
		if (hist_bucket_high(i) + 1 != hist_bucket_low(i + 1))
			fail_msg("gap/overlap after bucket %u: high %llu, next low %llu", i,
				 (unsigned long long)hist_bucket_high(i),
				 (unsigned long long)hist_bucket_low(i + 1));
	}
	assert_true(hist_bucket_high(LAST) == UINT64_MAX);
}

/* hist_index inverts the bounds: both ends of every bucket map back to it. */
static void test_index_matches_bounds(void **state)
{
	__u32 i;

	for (i = 0; i < HIST_BUCKETS; i++) {
		__u64 lo = hist_bucket_low(i), hi = hist_bucket_high(i);

		if (hist_index(lo) != i || hist_index(hi) != i)
			fail_msg("bucket %u [%llu, %llu] maps to %u / %u", i, (unsigned long long)lo,
				 (unsigned long long)hi, hist_index(lo), hist_index(hi));
		if (lo > 0 && hist_index(lo - 1) != i - 1)
			fail_msg("value below bucket %u maps to %u", i, hist_index(lo - 1));
		assert_true(lo <= hi);
	}
}

/* Larger value, same or later bucket, over every scale. */
static void test_monotonic(void **state)
{
	__u64 seed = 88172645463325252ULL, v, w;
	__u32 i, prev = 0;
	int k;

	for (i = 1; i < HIST_BUCKETS; i++)
		assert_true(hist_bucket_low(i) > hist_bucket_low(i - 1));
	for (v = 0; v < 100000; v++) {
		assert_true(hist_index(v) >= prev);
		prev = hist_index(v);
	}
	for (k = 0; k < 1000000; k++) {
		v = xorshift64(&seed) >> (xorshift64(&seed) % 64);
		w = xorshift64(&seed) >> (xorshift64(&seed) % 64);
		if (v > w) {
			__u64 t = v;

			v = w;
			w = t;
		}
		if (hist_index(v) > hist_index(w))
			fail_msg("index(%llu)=%u > index(%llu)=%u", (unsigned long long)v,
				 hist_index(v), (unsigned long long)w, hist_index(w));
	}
}

/* Below 64 every value has its own bucket; above, no bucket is wider than 1/64 (1.6%) of its
 * lower bound, comfortably inside the 3% the reports promise. */
static void test_width(void **state)
{
	__u32 i;

	for (i = 0; i < HIST_SUB; i++)
		assert_true(hist_bucket_low(i) == i && hist_bucket_high(i) == i);
	for (i = HIST_SUB; i < LAST; i++) {
		__u64 lo = hist_bucket_low(i), width = hist_bucket_high(i) - lo + 1;

		assert_true(lo >= 64);
		if ((double)width > 0.03 * (double)lo || width * 64 > lo)
			fail_msg("bucket %u: width %llu at %llu", i, (unsigned long long)width,
				 (unsigned long long)lo);
	}
}

static void test_extremes(void **state)
{
	assert_int_equal(hist_index(0), 0);
	assert_int_equal(hist_index(1), 1);
	assert_int_equal(hist_index(63), 63);
	assert_int_equal(hist_index(64), 64);
	assert_int_equal(hist_index(UINT64_MAX), LAST);
	assert_int_equal(hist_index(1ULL << 63), LAST);
	assert_int_equal(hist_index(1ULL << (HIST_MAX_LOG2 + 1)), LAST);
	assert_int_equal(hist_index((1ULL << (HIST_MAX_LOG2 + 1)) - 1), LAST);
	assert_true(hist_index((1ULL << HIST_MAX_LOG2) - 1) < LAST);
	assert_int_equal(hist_log2(1), 0);
	assert_int_equal(hist_log2(UINT64_MAX), 63);
	assert_true(hist_bucket_high(LAST) == UINT64_MAX);
	assert_true(hist_bucket_high(LAST - 1) == hist_bucket_low(LAST) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contiguous),
		cmocka_unit_test(test_index_matches_bounds),
		cmocka_unit_test(test_monotonic),
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_extremes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
