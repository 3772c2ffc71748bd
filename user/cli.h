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

enum { OPT_NO_OFFCPU = 1000, OPT_MAXBP, OPT_HIST, OPT_NOCOLOR, OPT_FORMAT, OPT_THRESH, OPT_FAIL,
       OPT_RAGD, OPT_PATH, OPT_QUERY, OPT_COMPARE, OPT_SORT };

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
	{ "name", required_argument, NULL, 'n' },                          \
	{ "frequency", required_argument, NULL, 'F' },                     \
	{ "no-offcpu", no_argument, NULL, OPT_NO_OFFCPU },                 \
	{ "max-breakpoints", required_argument, NULL, OPT_MAXBP },         \
	{ "histogram", no_argument, NULL, OPT_HIST },                      \
	{ "no-color", no_argument, NULL, OPT_NOCOLOR },                    \
	{ "quiet", no_argument, NULL, 'q' },                               \
	{ "verbose", no_argument, NULL, 'v' },                             \
	{ "help", no_argument, NULL, 'h' }

struct cmp_args {
	double threshold;
	bool fail, json, nocolor;
};

int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void install_signals(void);
bool want_color(bool no_color, FILE *f);
int build_spec(struct common *c);
int parse_double(const char *s, const char *what, double *out);
int parse_int(const char *s, const char *what, int lo, int hi, int *out);
void common_init(struct common *c);
/* Finishes a session: stats, JSON (-o), report. */
int emit(struct session *s, struct common *c, bool print);
/* Options shared by record, --target, top, probes and profile. Returns -1 if not one of them. */
int common_opt(struct common *c, int opt, const char *arg);
/* compare BASE with cur_s (already in memory) or the file cur; the exit code. */
int do_compare(const char *base, const struct session *cur_s, const char *cur,
	       const struct cmp_args *a);

/* profile.c */
int cmd_profile(int argc, char **argv);

#endif
