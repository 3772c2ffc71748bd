/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Marsaglia's xorshift64 for the unit tests: reproducible pseudo-random data, one state a test file. */
#ifndef RAGD_BPFPROF_TEST_XORSHIFT_H
#define RAGD_BPFPROF_TEST_XORSHIFT_H

#include <linux/types.h>

static inline __u64 xorshift64(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#endif
