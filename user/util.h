/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Small helpers shared by the user-space files. */
#ifndef RAGD_BPFPROF_UTIL_H
#define RAGD_BPFPROF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <stdio.h>

/* printf into err (one-line error messages, control characters escaped as by str_sanitize);
 * no-op when err is NULL or errlen 0. */
void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Untrusted text (op names, commands, notes, stack frames, file names, errors) for a terminal:
 * C0 controls (but '\t', and '\n' when keep_nl), DEL, C1 (raw bytes or UTF-8 U+0080..U+009F) and
 * invalid UTF-8 become "\xNN"; valid UTF-8 stays. Always NUL-terminates dst (dstlen > 0);
 * truncates on a character boundary. Returns dst. */
char *str_sanitize(char *dst, size_t dstlen, const char *src, bool keep_nl);
/* str_sanitize(s, keep_nl false) into one of 8 rotating static buffers (16 KiB each), for
 * printf arguments: fprintf(out, "warning: %s\n", term_safe(w)). Single-threaded callers. */
const char *term_safe(const char *s);
/* True when s has nothing str_sanitize would change. */
bool str_is_clean(const char *s, bool keep_nl);
/* fputs(str_sanitize(s)) without a length limit. */
int fputs_safe(const char *s, FILE *f, bool keep_nl);
/* "PROG: MSG\n" on stderr with MSG sanitized: the one way errors reach the terminal. */
void print_safe_error(const char *prog, const char *msg);

/* The one duration / number parser for the command line: a finite decimal number in
 * [lo, hi] (rejects "", "inf", "nan", trailing junk). 0 or -1. */
int parse_number(const char *s, double lo, double hi, double *out);
/* Nearest __u64 to d, clamped to [0, 2^64 - 2048]: values read from files never make the cast
 * undefined. */
__u64 u64_round(double d);
/* ISO 8601 ("2025-01-02T03:04:05.123456", maybe Z, +HH:MM, +HHMM; 'T' or ' ') to ns since
 * the epoch, years 1..9999 (fits int64 ns only up to 2262: later times return -1 with
 * errno ERANGE). Naive times are UTC. 0 or -1. */
int parse_iso8601_ns(const char *s, int64_t *ns);

/* Opens PATH read-only if it is a regular file; never blocks on a FIFO or a device.
 * -1 with errno (EINVAL for "not a regular file", EISDIR for a directory). */
int open_regular(const char *path);
/* The same as a stdio stream ("rb"). */
FILE *fopen_regular(const char *path);

/* pid is a live user-space process we may trace: not a kernel thread, not a zombie.
 * 0, or -1 with a one-line err. */
int check_target_pid(int pid, char *err, size_t errlen);
/* pid has ended: gone, or a zombie its parent has not reaped yet. */
bool pid_ended(int pid);

/* "Did you mean": the few names closest to WANT (Levenshtein distance, at most about half the
 * longer name), nearest first, ties in the order offered. Names of SUGGEST_NAME_MAX bytes or
 * more are passed over. Native symbols and Python qualnames share it. */
#define SUGGEST_MAX 3
#define SUGGEST_NAME_MAX 96
struct suggest {
	const char *want;
	size_t wlen;
	size_t span;   /* length "about half" is taken of; 0: the longer of the two names */
	int n;
	int dist[SUGGEST_MAX];
	char names[SUGGEST_MAX][SUGGEST_NAME_MAX];
};
void suggest_init(struct suggest *sg, const char *want, size_t wlen);
/* Offers NAME (LEN bytes, not NUL-terminated); the same name twice counts once. */
void suggest_add(struct suggest *sg, const char *name, size_t len);
/* " (did you mean: a, b, c?)", or "" when nothing was close. */
void suggest_format(const struct suggest *sg, char *buf, size_t len);

#endif
