/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Writing the user's output file safely (-o): checked before anything is attached, written to
 * an unnamed or exclusively created temporary next to it, fsync'ed and renamed into place. */
#ifndef RAGD_BPFPROF_OUTPUT_H
#define RAGD_BPFPROF_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

/* PATH can be replaced by a regular file: not empty, not a directory, device, FIFO or socket,
 * not on procfs/sysfs, in a writable directory. A symlink is followed to what it names (the
 * file it points to is replaced, the link stays). 0, or -1 with a one-line err. */
int output_check(const char *path, char *err, size_t errlen);

/* Runs fn(f, arg) into a temporary file in PATH's directory (O_TMPFILE, else O_CREAT|O_EXCL|
 * O_NOFOLLOW under a random name; mode 0666 & ~umask), then fsync and rename over PATH.
 * INT/TERM/HUP/QUIT are held off meanwhile, so no temporary file outlives an error or a signal
 * (with O_TMPFILE not even SIGKILL leaves one). fn returns 0 or -1 (errno). 0, or -1 with err. */
int output_write(const char *path, int (*fn)(FILE *f, const void *arg), const void *arg,
		 char *err, size_t errlen);

#endif
