// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Spill file: fixed-size records appended to an unlinked temporary file and read back by
 * index. The kernel frees it when the fd closes, also on a crash or SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "spill.h"

static int open_in(const char *dir)
{
	char name[4200];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd < 0 ? -errno : fd;
	/* filesystem without O_TMPFILE: a random name, removed at once */
	if (snprintf(name, sizeof(name), "%s/.ragd-bpfprof-calls-XXXXXX", dir) >= (int)sizeof(name))
		return -ENAMETOOLONG;
	fd = mkostemp(name, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (unlink(name)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int spill_open(struct spill *sp, const char *const *dirs, int ndirs, size_t rec_size)
{
	int fd = -ENOENT;

	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
	if (!rec_size)
		return -EINVAL;
	for (int i = 0; i < ndirs; i++) {
		if (!dirs[i] || !dirs[i][0])
			continue;
		fd = open_in(dirs[i]);
		if (fd >= 0) {
			sp->fd = fd;
			sp->rec_size = rec_size;
			snprintf(sp->dir, sizeof(sp->dir), "%s", dirs[i]);
			return 0;
		}
	}
	return fd;
}

int spill_append(struct spill *sp, const void *recs, size_t n)
{
	off_t at = (off_t)(sp->n * sp->rec_size);
	size_t len = n * sp->rec_size, done = 0;

	if (sp->fd < 0)
		return -EBADF;
	while (done < len) {
		ssize_t w = pwrite(sp->fd, (const char *)recs + done, len - done, at + (off_t)done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? -errno : -ENOSPC;

			/* keep the file a whole number of the records we count */
			(void)!ftruncate(sp->fd, at);
			return e;
		}
		done += (size_t)w;
	}
	sp->n += n;
	return 0;
}

int spill_read(const struct spill *sp, uint64_t first, void *buf, size_t n)
{
	off_t at = (off_t)(first * sp->rec_size);
	size_t len = n * sp->rec_size, done = 0;

	if (sp->fd < 0)
		return -EBADF;
	if (first > sp->n || n > sp->n - first)
		return -ERANGE;
	while (done < len) {
		ssize_t r = pread(sp->fd, (char *)buf + done, len - done, at + (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += (size_t)r;
	}
	return 0;
}

void spill_close(struct spill *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	sp->n = 0;
}
