/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Helpers the unit tests share. Include after <cmocka.h>. */
#ifndef RAGD_BPFPROF_TESTUTIL_H
#define RAGD_BPFPROF_TESTUTIL_H

#include <dirent.h>
#include <string.h>
#include <linux/types.h>
#include "session.h"

/* Marsaglia's xorshift64: reproducible pseudo-random data, one state a test file. */
static inline __u64 xorshift64(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Entries of directory DIR other than . and .. */
static inline int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* The statistics of two ops are the same, to the bit. */
static inline void assert_op_stats_equal(const struct op_result *p, const struct op_result *q)
{
	assert_int_equal(p->count, q->count);
	assert_int_equal(p->total_ns, q->total_ns);
	assert_int_equal(p->min_ns, q->min_ns);
	assert_int_equal(p->max_ns, q->max_ns);
	assert_true(p->mean_ns == q->mean_ns);
	assert_true(p->stdev_ns == q->stdev_ns);
	assert_int_equal(p->p50_ns, q->p50_ns);
	assert_int_equal(p->p90_ns, q->p90_ns);
	assert_int_equal(p->p95_ns, q->p95_ns);
	assert_int_equal(p->p99_ns, q->p99_ns);
	assert_int_equal(p->on_cpu_ns, q->on_cpu_ns);
	assert_int_equal(p->off_cpu_ns, q->off_cpu_ns);
	assert_int_equal(p->self_ns, q->self_ns);
	assert_int_equal(p->unwound, q->unwound);
	assert_true(p->rss_delta_mean == q->rss_delta_mean);
	assert_true(p->rss_delta_max == q->rss_delta_max);
	assert_int_equal(p->rss_peak, q->rss_peak);
}

#endif
