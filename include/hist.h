/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Log-linear latency histogram index math, shared by the BPF programs and user space (and the
 * unit tests), so both sides always agree on bucket boundaries.
 *
 * Values below 2^HIST_SUB_BITS ns get one bucket each. Above, each power of two is split into
 * 2^HIST_SUB_BITS equal buckets, so a bucket is at most 1/64 (1.6%) of its lower bound wide.
 * Values at or above the last bucket's low bound (about 2.4 hours) all land in it. */
#ifndef RAGD_BPFPROF_HIST_H
#define RAGD_BPFPROF_HIST_H

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_LOG2 42
#define HIST_BUCKETS ((HIST_MAX_LOG2 - HIST_SUB_BITS + 2) * HIST_SUB)

/* floor(log2(v)) for v > 0, branchy so the BPF verifier needs no loop. */
static inline __u32 hist_log2(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8)  { v >>= 8;  r += 8; }
	if (v >> 4)  { v >>= 4;  r += 4; }
	if (v >> 2)  { v >>= 2;  r += 2; }
	if (v >> 1)  { r += 1; }
	return r;
}

static inline __u32 hist_index(__u64 v)
{
	__u32 e;

	if (v < HIST_SUB)
		return (__u32)v;
	e = hist_log2(v);
	if (e > HIST_MAX_LOG2)
		return HIST_BUCKETS - 1;
	return (e - HIST_SUB_BITS + 1) * HIST_SUB + (__u32)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* Smallest value that maps to bucket idx. */
static inline __u64 hist_bucket_low(__u32 idx)
{
	__u32 e;

	if (idx < HIST_SUB)
		return idx;
	e = idx / HIST_SUB + HIST_SUB_BITS - 1;
	return ((__u64)HIST_SUB + (idx % HIST_SUB)) << (e - HIST_SUB_BITS);
}

/* Largest value that maps to bucket idx (the JSON's le_ns). */
static inline __u64 hist_bucket_high(__u32 idx)
{
	if (idx >= HIST_BUCKETS - 1)
		return ~0ULL;
	return hist_bucket_low(idx + 1) - 1;
}

#endif
