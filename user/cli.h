/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the command files (cli.c, profile.c) share: option parsing, spec building, emitting a
 * session, comparing. */
#ifndef RAGD_BPFPROF_CLI_H
#define RAGD_BPFPROF_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include "record.h"
#include "session.h"

extern const char *prog;

enum { OPT_NO_OFFCPU = 1000, OPT_MAXBP, OPT_ROTATE, OPT_HIST, OPT_NOCOLOR, OPT_FORMAT, OPT_THRESH, OPT_FAIL,
       OPT_RAGD, OPT_PATH, OPT_QUERY, OPT_COMPARE, OPT_SORT, OPT_NAME, OPT_OP, OPT_BY,
       OPT_ALLSTACKS, OPT_WIDTH, OPT_BRIEF,
       OPT_FAIL_INC, OPT_MIN_N, OPT_MEM_PCT, OPT_MEM_BYTES, OPT_SEED, OPT_ALPHA, OPT_VS_RAGD,
       OPT_STRICT, OPT_OVERHEAD };

struct common {
	struct record_opts ro;
	const char *out;
	const char *name;
	const char *spec_file;
	char *probes[MAX_OPS];
	int nprobes;
	bool histogram, no_color;
};

/* Options record, profile, top and probes share (see common_opt). */
#define COMMON_LONGOPTS                                                    \
	{ "probe", required_argument, NULL, 'e' },                         \
	{ "spec", required_argument, NULL, 's' },                          \
	{ "output", required_argument, NULL, 'o' },                        \
	{ "name", required_argument, NULL, OPT_NAME },                     \
	{ "frequency", required_argument, NULL, 'F' },                     \
	{ "no-offcpu", no_argument, NULL, OPT_NO_OFFCPU },                 \
	{ "max-breakpoints", required_argument, NULL, OPT_MAXBP },         \
	{ "rotate", required_argument, NULL, OPT_ROTATE },                 \
	{ "overhead", required_argument, NULL, OPT_OVERHEAD },             \
	{ "histogram", no_argument, NULL, OPT_HIST },                      \
	{ "no-color", no_argument, NULL, OPT_NOCOLOR },                    \
	{ "quiet", no_argument, NULL, 'q' },                               \
	{ "verbose", no_argument, NULL, 'v' },                             \
	{ "strict", no_argument, NULL, OPT_STRICT },                       \
	{ "help", no_argument, NULL, 'h' }

struct cmp_args {
	double threshold;
	bool fail, json, nocolor;
	bool markdown, fail_inconclusive;
	double alpha, mem_pct, mem_bytes;
	int min_samples;
	unsigned long long seed;
	int ab_pairs;
};

/* compare's judging options, shared by compare and profile --compare/--vs-ragd. */
#define COMPARE_LONGOPTS                                                   \
	{ "threshold", required_argument, NULL, OPT_THRESH },              \
	{ "fail-on-regression", no_argument, NULL, OPT_FAIL },             \
	{ "fail-on-inconclusive", no_argument, NULL, OPT_FAIL_INC },       \
	{ "min-samples", required_argument, NULL, OPT_MIN_N },             \
	{ "mem-threshold", required_argument, NULL, OPT_MEM_PCT },         \
	{ "mem-threshold-bytes", required_argument, NULL, OPT_MEM_BYTES }, \
	{ "alpha", required_argument, NULL, OPT_ALPHA },                   \
	{ "seed", required_argument, NULL, OPT_SEED },                     \
	{ "format", required_argument, NULL, OPT_FORMAT }
/* 0, an exit code, or -1 when opt is not one of COMPARE_LONGOPTS. */
int compare_opt(struct cmp_args *a, int opt, const char *arg);

int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void install_signals(void);
bool want_color(bool no_color, FILE *f);
int build_spec(struct common *c);
/* A number in (0, max]: durations and thresholds (no inf, nan, '', 0 or junk). */
int parse_positive(const char *s, const char *what, double max, double *out);
#define MAX_DURATION_S 1e7     /* 115 days: far below where ns overflow */
#define MAX_THRESHOLD_PCT 1e6
int parse_int(const char *s, const char *what, int lo, int hi, int *out);
void common_init(struct common *c);
/* Finishes a session: stats, JSON (-o), report. */
int emit(struct session *s, struct common *c, bool print);
/* Options shared by record, --target, top, probes and profile. Returns -1 if not one of them. */
int common_opt(struct common *c, int opt, const char *arg);
/* compare BASE with cur_s (already in memory) or the file cur; the exit code. */
int do_compare(const char *base, const struct session *cur_s, const char *cur,
	       const struct cmp_args *a);

/* Both sessions in memory (stats computed); the exit code. */
int compare_loaded(const struct session *b, const struct session *c, const struct cmp_args *a);

/* profile.c */
int cmd_profile(int argc, char **argv);

#endif
