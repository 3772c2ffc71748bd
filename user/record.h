/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* `record`: attach to a process (or launch one), collect exact calls and samples into a session. */
#ifndef RAGD_BPFPROF_RECORD_H
#define RAGD_BPFPROF_RECORD_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include "session.h"

extern volatile sig_atomic_t exiting;

/* A stage competing for debug registers gets them for this long, then the next one does: a
 * 10 s recording covers five turns, and a hand-over (a few perf_event_open calls) costs far
 * below 0.1% of it. profile turns once per iteration instead. */
#define ROTATE_DEFAULT_S 2.0

/* Stages get debug registers while breakpoint hits cost below this share of the time (%); the
 * top-level ops are exact on every call regardless. 0: unbounded. */
#define OVERHEAD_DEFAULT_PCT 1.0

struct record_opts {
	pid_t pid;               /* -p PID, or 0 */
	char **cmd;              /* -- COMMAND ARG... (NULL-terminated), or NULL */
	struct op_spec ops[MAX_OPS];
	int nops;
	bool default_spec;       /* ops are the built-in ragd spec */
	double duration;         /* -d SECONDS, 0: until the target exits or a signal */
	int hz;                  /* Python stack sampling frequency, 0: off */
	bool offcpu;             /* off-CPU stacks too */
	int max_breakpoints;     /* debug registers we may use per CPU */
	double rotate;           /* s between hand-overs of debug registers among stages, 0: never */
	double overhead;         /* --overhead PCT: stages' share of the time paid by breakpoints, 0: unbounded */
	bool verbose;
	bool quiet;
	bool strict;             /* --strict: an op never found is exit 2 (the caller checks) */
	int not_found;           /* probes: ops it could not find */
	__u32 iteration;         /* profile: which run this is */
	const char *progress;    /* profile: "iteration 2/10" shown on stderr, or NULL */
	/* top: called about once a second with the session so far; returning true stops. */
	bool (*tick)(struct session *s, void *arg);
	void *tick_arg;
};

/* Runs one recording into s (ops are added on the first run; later runs must use the same
 * spec). Returns 0, 2 for a usage/input error (err says why), 1 for a runtime failure. */
int record_run(struct record_opts *o, struct session *s, char *err, size_t errlen);

/* What `probes` prints: interpreter, version, support, each op found or not and its precision. */
int record_probes(struct record_opts *o, FILE *out, char *err, size_t errlen);

#endif
