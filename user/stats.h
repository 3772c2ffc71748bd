/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Two-sample statistics compare.c judges on: Hodges-Lehmann shift with a distribution-free
 * interval, bootstrap intervals of quantile differences (seeded), Holm's step-down adjustment. */
#ifndef RAGD_BPFPROF_STATS_H
#define RAGD_BPFPROF_STATS_H

#include <stddef.h>
#include <stdint.h>

/* xorshift64*: the same draws on every run and every libc. */
struct rng {
	uint64_t s;
};
void rng_seed(struct rng *r, uint64_t seed);
double rng_uniform(struct rng *r);   /* (0, 1) */

/* An effect of b against a in the samples' unit: point estimate, interval, two-sided p. */
struct effect {
	double est, lo, hi, p;
};

/* Hodges-Lehmann shift: the median of all b_j - a_i. Interval: the order statistics of those
 * differences that Mann-Whitney's distribution puts at the conf level (normal approximation);
 * p: Mann-Whitney with tie correction. a and b sorted ascending, |values| < 2^62. */
int hl_shift(const int64_t *a, size_t na, const int64_t *b, size_t nb, double conf,
	     struct effect *out);

/* Difference of the nearest-rank q-quantiles, b minus a, with a percentile bootstrap interval
 * at conf from reps replicates. The quantile of a resample is drawn exactly: the k-th order
 * statistic of n uniform indices is ceil(n * Beta(k, n-k+1)). p: Fisher's exact test of the
 * shares at or below the pooled q-quantile (distribution-free). a and b sorted ascending. */
int quantile_diff_boot(const int64_t *a, size_t na, const int64_t *b, size_t nb, double q,
		       int reps, struct rng *r, double conf, struct effect *out);

/* The nearest-rank quantile of a sorted sample (0 if n == 0). */
int64_t quantile_i64(const int64_t *sorted, size_t n, double q);

/* Holm's step-down adjusted p-values: padj[i] = max over j ranked <= i of min(1, (m-j) p_j). */
void holm_adjust(const double *p, size_t m, double *padj);

void sort_i64(int64_t *v, size_t n);

#endif
