/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* An append-only file of fixed-size records that nobody else can see: where a recorder puts the
 * call records that do not fit its memory budget until the session is written. */
#ifndef RAGD_BPFPROF_SPILL_H
#define RAGD_BPFPROF_SPILL_H

#include <stddef.h>
#include <stdint.h>

struct spill {
	int fd;
	size_t rec_size;
	uint64_t n;          /* records in the file */
	char dir[4096];      /* where it lives (for messages) */
};

/* An unlinked file in the first of dirs[0..ndirs) that takes one: O_TMPFILE, else mkostemp and
 * unlink (the name exists for a moment, mode 0600). 0, or -errno of the last attempt. */
int spill_open(struct spill *sp, const char *const *dirs, int ndirs, size_t rec_size);
/* Appends n records. All or nothing: a short write (disk full) is cut off again. 0 or -errno. */
int spill_append(struct spill *sp, const void *recs, size_t n);
/* Reads records [first, first + n) into buf. 0 or -errno (-EIO when the file is shorter). */
int spill_read(const struct spill *sp, uint64_t first, void *buf, size_t n);
void spill_close(struct spill *sp);

#endif
