// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The -o file: never write into something that is not a regular file, never through a
 * symlink planted at a temporary name, never leave a temporary file behind. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "output.h"
#include "util.h"

/* Filesystems whose "files" are kernel interfaces: never a place for a session. */
static bool pseudo_fs(const char *dir)
{
	static const long magic[] = { PROC_SUPER_MAGIC, SYSFS_MAGIC, DEVPTS_SUPER_MAGIC,
		CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, DEBUGFS_MAGIC, TRACEFS_MAGIC,
		SECURITYFS_MAGIC, BPF_FS_MAGIC, EFIVARFS_MAGIC };
	struct statfs sf;

	if (statfs(dir, &sf))
		return false;
	for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if ((long)sf.f_type == magic[i])
			return true;
	return false;
}

/* Checks PATH; real gets the file to replace (PATH, or where its symlink points) and dir its
 * directory. */
static int resolve(const char *path, char *real, char *dir, size_t len, char *err, size_t errlen)
{
	struct stat st, dst;
	char tmp[PATH_MAX];
	const char *base;

	if (!path || !*path) {
		seterr(err, errlen, "output file name is empty");
		return -1;
	}
	if (strlen(path) >= len) {
		seterr(err, errlen, "%.64s...: output path too long", path);
		return -1;
	}
	snprintf(real, len, "%s", path);
	if (!lstat(path, &st) && S_ISLNK(st.st_mode)) {
		/* replace what the link names, as an editor would; a dangling link is refused */
		if (!realpath(path, tmp)) {
			seterr(err, errlen, "%s: symlink to nowhere: %s", path, strerror(errno));
			return -1;
		}
		snprintf(real, len, "%s", tmp);
	}
	base = strrchr(real, '/');
	base = base ? base + 1 : real;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		seterr(err, errlen, "%s: is a directory", path);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s", real);
	snprintf(dir, len, "%s", dirname(tmp));
	if (stat(dir, &dst)) {
		seterr(err, errlen, "%s: cannot write there: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(dst.st_mode)) {
		seterr(err, errlen, "%s: cannot write there: %s is not a directory", path, dir);
		return -1;
	}
	if (pseudo_fs(dir)) {
		seterr(err, errlen, "%s: %s is a kernel pseudo filesystem, not a place for a file",
		       path, dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK)) {
		seterr(err, errlen, "%s: cannot write there: %s", path, strerror(errno));
		return -1;
	}
	if (!stat(real, &st)) {
		if (S_ISDIR(st.st_mode)) {
			seterr(err, errlen, "%s: is a directory", path);
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			seterr(err, errlen, "%s: not a regular file (device, FIFO or socket): "
			       "refusing to replace it", path);
			return -1;
		}
		if (access(real, W_OK)) {
			seterr(err, errlen, "%s: not writable: %s", path, strerror(errno));
			return -1;
		}
	} else if (errno != ENOENT) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int output_check(const char *path, char *err, size_t errlen)
{
	char real[PATH_MAX], dir[PATH_MAX];

	return resolve(path, real, dir, sizeof(real), err, errlen);
}

/* "DIR/.BASE.tmp-XXXXXXXXXXXX" with a fresh random suffix. */
static void tmp_name(char *buf, size_t len, const char *dir, const char *real)
{
	const char *base = strrchr(real, '/');
	unsigned long long r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r ^= ((unsigned long long)getpid() << 32) ^ (unsigned long long)(size_t)buf ^ (unsigned long long)rand();
	snprintf(buf, len, "%s/.%s.tmp-%012llx", dir, base ? base + 1 : real, r & 0xffffffffffffULL);
}

/* Gives the unnamed file fd (O_TMPFILE) a name that did not exist: linkat never follows or
 * replaces whatever is at the name. */
static int link_tmp(int fd, const char *dir, const char *real, char *name, size_t len)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int i = 0; i < 64; i++) {
		tmp_name(name, len, dir, real);
		/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, /proc/self/fd needs /proc: either will do */
		if (!linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH) ||
		    (errno != EEXIST && !linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW)))
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

static int create_tmp(const char *dir, const char *real, char *name, size_t len)
{
	int fd;

	for (int i = 0; i < 64; i++) {
		tmp_name(name, len, dir, real);
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0666);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

int output_write(const char *path, int (*fn)(FILE *f, const void *arg), const void *arg,
		 char *err, size_t errlen)
{
	char real[PATH_MAX], dir[PATH_MAX], name[PATH_MAX + 64] = "";
	sigset_t hold, old;
	bool named = false;
	FILE *f = NULL;
	int fd, e = 0, ret = -1;
	const char *what = "write failed";

	if (resolve(path, real, dir, sizeof(real), err, errlen))
		return -1;
	sigemptyset(&hold);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGQUIT);
	sigprocmask(SIG_BLOCK, &hold, &old);

	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	if (fd < 0) {
		/* filesystem without O_TMPFILE: an exclusive, never-followed name instead */
		fd = create_tmp(dir, real, name, sizeof(name));
		if (fd < 0) {
			e = errno;
			what = "cannot create a temporary file";
			goto cleanup;
		}
		named = true;
	}
	f = fdopen(fd, "w");
	if (!f) {
		e = errno;
		close(fd);
		goto cleanup;
	}
	errno = 0;
	if (fn(f, arg) < 0 || fflush(f) || fsync(fileno(f))) {
		e = errno ? errno : EIO;
		goto cleanup;
	}
	if (!named) {
		if (link_tmp(fileno(f), dir, real, name, sizeof(name))) {
			e = errno;
			what = "cannot name the temporary file";
			goto cleanup;
		}
		named = true;
	}
	if (fclose(f)) {
		f = NULL;
		e = errno;
		goto cleanup;
	}
	f = NULL;
	if (rename(name, real)) {
		e = errno;
		what = "cannot rename the temporary file into place";
		goto cleanup;
	}
	named = false;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);   /* the rename itself on disk; best effort */
		close(fd);
	}
	ret = 0;
cleanup:
	if (f)
		fclose(f);
	if (named)
		unlink(name);
	if (ret)
		seterr(err, errlen, "%s: %s: %s", path, what, strerror(e));
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
