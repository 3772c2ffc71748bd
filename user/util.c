// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Small helpers shared by the user-space files: errors, terminal-safe text, the one number and
 * time parser, opening files that must be regular, checking a target pid. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "util.h"

void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line, and nothing a terminal would act on: messages quote file contents */
	str_sanitize(err, errlen, msg, false);
}

/* ---------------------------------------------------------------- terminal-safe text */

/* Length of the valid UTF-8 sequence at p that is printable, or 0 when p[0] must be escaped. */
static size_t safe_char(const unsigned char *p, bool keep_nl)
{
	unsigned char b = p[0];
	size_t n, i;

	if (b < 0x80) {
		if (b == 0x7f || (b < 0x20 && b != '\t' && !(keep_nl && b == '\n')))
			return 0;
		return 1;
	}
	if (b >= 0xc2 && b <= 0xdf)
		n = 2;
	else if (b >= 0xe0 && b <= 0xef)
		n = 3;
	else if (b >= 0xf0 && b <= 0xf4)
		n = 4;
	else
		return 0;   /* continuation byte alone, overlong lead, > U+10FFFF */
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (b == 0xc2 && p[1] <= 0x9f)
		return 0;   /* C1 control as UTF-8 (U+0080..U+009F, CSI among them) */
	if ((b == 0xe0 && p[1] < 0xa0) || (b == 0xed && p[1] >= 0xa0) ||
	    (b == 0xf0 && p[1] < 0x90) || (b == 0xf4 && p[1] >= 0x90))
		return 0;   /* overlong, surrogate, out of range */
	return n;
}

char *str_sanitize(char *dst, size_t dstlen, const char *src, bool keep_nl)
{
	const unsigned char *p = (const unsigned char *)(src ? src : "");
	size_t o = 0, n;

	if (!dstlen)
		return dst;
	while (*p) {
		n = safe_char(p, keep_nl);
		if (n) {
			if (o + n >= dstlen)
				break;
			memcpy(dst + o, p, n);
			o += n;
			p += n;
		} else {
			if (o + 4 >= dstlen)
				break;
			snprintf(dst + o, 5, "\\x%02x", *p);
			o += 4;
			p++;
		}
	}
	dst[o] = '\0';
	return dst;
}

const char *term_safe(const char *s)
{
	static char buf[8][16384];
	static unsigned k;

	if (s && str_is_clean(s, false))
		return s;
	k = (k + 1) % 8;
	return str_sanitize(buf[k], sizeof(buf[k]), s, false);
}

bool str_is_clean(const char *s, bool keep_nl)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n;

	for (; *p; p += n)
		if (!(n = safe_char(p, keep_nl)))
			return false;
	return true;
}

int fputs_safe(const char *s, FILE *f, bool keep_nl)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n;

	while (*p) {
		n = safe_char(p, keep_nl);
		if (n) {
			if (fwrite(p, 1, n, f) != n)
				return -1;
			p += n;
		} else {
			if (fprintf(f, "\\x%02x", *p) < 0)
				return -1;
			p++;
		}
	}
	return 0;
}

void print_safe_error(const char *prog, const char *msg)
{
	fputs_safe(prog, stderr, false);
	fputs(": ", stderr);
	fputs_safe(msg, stderr, false);
	fputc('\n', stderr);
}

/* ---------------------------------------------------------------- numbers and times */

int parse_number(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Exactly n decimal digits at *p (no sign, no blanks), advancing *p. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

int parse_iso8601_ns(const char *s, int64_t *ns)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, nd = 0;
	int64_t frac = 0, secs, v;
	const char *p = s;

	errno = EINVAL;
	if (!p || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ') || !*p++ ||
	    digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	if (*p == '.' || *p == ',') {
		for (p++; *p >= '0' && *p <= '9'; p++, nd++)
			if (nd < 9)
				frac = frac * 10 + (*p - '0');
		if (!nd)
			return -1;
		for (; nd < 9; nd++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
	}
	if (*p)
		return -1;
	/* all small: |secs| < 2^39 for years 1..9999 */
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	secs -= sign * (oh * 3600 + om * 60);
	if (secs < 0 && frac > 0) {   /* so INT64_MIN itself is reachable */
		secs++;
		frac -= 1000000000;
	}
	if (__builtin_mul_overflow(secs, (int64_t)1000000000, &v) ||
	    __builtin_add_overflow(v, frac, &v)) {
		errno = ERANGE;
		return -1;
	}
	*ns = v;
	return 0;
}

/* ---------------------------------------------------------------- files and pids */

int open_regular(const char *path)
{
	struct stat st;
	int fd;

	/* stat first: opening a device can have effects (tapes, watchdogs), a FIFO blocks */
	if (stat(path, &st))
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	/* replaced between stat and open? */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

FILE *fopen_regular(const char *path)
{
	int fd = open_regular(path), e;
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "rb");
	if (!f) {
		e = errno;
		close(fd);
		errno = e;
	}
	return f;
}

#define PF_KTHREAD 0x00200000

/* State letter, flags and comm from /proc/PID/stat; -errno (-ESRCH when gone, -EINVAL unparsable). */
static int proc_stat(int pid, char *state, unsigned long *flags, char *comm, size_t commlen)
{
	char path[64], buf[1024], *l, *r;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* "PID (COMM) S PPID PGRP SID TTY TPGID FLAGS ...": COMM may hold ')' and blanks */
	l = strchr(buf, '(');
	r = strrchr(buf, ')');
	if (!l || !r || r < l || sscanf(r + 1, " %c %*d %*d %*d %*d %*d %lu", state, flags) != 2)
		return -EINVAL;
	snprintf(comm, commlen, "%.*s", (int)(r - l - 1), l + 1);
	return 0;
}

int check_target_pid(int pid, char *err, size_t errlen)
{
	char comm[64] = "", state = 0;
	unsigned long flags = 0;
	int e = proc_stat(pid, &state, &flags, comm, sizeof(comm));

	if (e == -EINVAL) {
		seterr(err, errlen, "pid %d: cannot parse /proc/%d/stat", pid, pid);
		return -1;
	}
	if (e) {
		seterr(err, errlen, "pid %d: %s", pid, e == -ESRCH ? "no such process" : strerror(-e));
		return -1;
	}
	if (state == 'Z' || state == 'X') {
		seterr(err, errlen, "pid %d (%s) has exited (zombie): nothing to record", pid, comm);
		return -1;
	}
	if (flags & PF_KTHREAD) {
		seterr(err, errlen, "pid %d (%s) is a kernel thread: no user space to profile", pid, comm);
		return -1;
	}
	return 0;
}

bool pid_ended(int pid)
{
	char comm[64], state = 0;
	unsigned long flags;
	int e = proc_stat(pid, &state, &flags, comm, sizeof(comm));

	return e == -ESRCH || (!e && (state == 'Z' || state == 'X'));
}

__u64 u64_round(double d)
{
	const double max = 18446744073709549568.0; /* largest double below 2^64 */

	if (!(d > 0))
		return 0;
	d += 0.5;
	return d >= max ? (__u64)max : (__u64)d;
}

/* ---- "did you mean" ---- */

/* Levenshtein distance, or limit + 1 as soon as it must exceed limit. */
static int edit_distance(const char *a, size_t la, const char *b, size_t lb, int limit)
{
	int row[SUGGEST_NAME_MAX + 1], prev, tmp, rmin;
	size_t i, j;

	if ((int)(la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		rmin = row[0];
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			int sub = prev + (a[i - 1] != b[j - 1]);
			int del = row[j] + 1, ins = row[j - 1] + 1;
			row[j] = sub < del ? sub : del;
			if (ins < row[j])
				row[j] = ins;
			if (row[j] < rmin)
				rmin = row[j];
			prev = tmp;
		}
		if (rmin > limit)
			return limit + 1;
	}
	return row[lb];
}

void suggest_init(struct suggest *sg, const char *want, size_t wlen)
{
	memset(sg, 0, sizeof(*sg));
	sg->want = want;
	sg->wlen = wlen;
}

void suggest_add(struct suggest *sg, const char *name, size_t len)
{
	size_t longer;
	int limit, d, i;

	if (len >= SUGGEST_NAME_MAX || sg->wlen >= SUGGEST_NAME_MAX)
		return;
	for (i = 0; i < sg->n; i++)
		if (strlen(sg->names[i]) == len && !memcmp(sg->names[i], name, len))
			return;
	/* close means at most about half the longer name changes */
	longer = sg->span ? sg->span : len > sg->wlen ? len : sg->wlen;
	limit = (longer + 1) / 2;
	if (sg->n == SUGGEST_MAX && sg->dist[SUGGEST_MAX - 1] - 1 < limit)
		limit = sg->dist[SUGGEST_MAX - 1] - 1; /* ties keep the earlier name */
	if (limit < 0)
		return;
	/* 0 is possible: right name, but another version or type than asked for */
	d = edit_distance(sg->want, sg->wlen, name, len, limit);
	if (d > limit)
		return;
	/* insert sorted by distance */
	i = sg->n < SUGGEST_MAX ? sg->n++ : SUGGEST_MAX - 1;
	while (i > 0 && sg->dist[i - 1] > d) {
		sg->dist[i] = sg->dist[i - 1];
		memcpy(sg->names[i], sg->names[i - 1], SUGGEST_NAME_MAX);
		i--;
	}
	sg->dist[i] = d;
	memcpy(sg->names[i], name, len);
	sg->names[i][len] = '\0';
}

void suggest_format(const struct suggest *sg, char *buf, size_t len)
{
	size_t off;

	if (!len)
		return;
	buf[0] = '\0';
	if (!sg->n)
		return;
	off = snprintf(buf, len, " (did you mean: ");
	for (int i = 0; i < sg->n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? ", " : "", sg->names[i]);
	if (off < len)
		snprintf(buf + off, len - off, "?)");
}
