/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Small helpers shared by the user-space files. */
#ifndef RAGD_BPFPROF_UTIL_H
#define RAGD_BPFPROF_UTIL_H

#include <stddef.h>

/* printf into err (one-line error messages); no-op when err is NULL or errlen 0. */
void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
