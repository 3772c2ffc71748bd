/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Why an operation has no call: the wording of its "not seen" reason from what the recorder
 * knew, and --strict's check for operations never found. */
#ifndef RAGD_BPFPROF_OPNOTE_H
#define RAGD_BPFPROF_OPNOTE_H

#include <stdbool.h>
#include <stddef.h>
#include "session.h"

/* What the recorder knew about a py: function op whose code object it found. */
struct unseen_facts {
	int need;             /* debug registers it takes to be exact; 0: it cannot be (see why) */
	double armed_share;   /* share of the time it could run that it was watched, 0..1 */
	bool ever_armed;      /* it held debug registers at some point (maybe while it could not run) */
	bool sampled;         /* a stack sample saw it */
	int hz;               /* stack sampling frequency, 0: off */
	int max_breakpoints;  /* debug registers it was allowed (--max-breakpoints) */
	bool enospc;          /* fewer were free: another tool holds some */
	const char *holders;  /* other ops that held debug registers, ", "-joined, or "" */
	double budget_pct;    /* > 0: a stage while the overhead budget (--overhead PCT) paused stages */
};

/* Rewrites NOTE (which holds why the op is sampled, or "") with the true reason it has no call:
 * "armed 40% of the time it could run, no exact call; no sample: not called or each call < 1.00ms (999 Hz)",
 * "never armed (registers held by a, b); no sample: ...", "armed only while its
 * parent was not running (registers held by a, b); ...", or, when samples did
 * see it, "never armed (registers held by a, b): timed from samples". Watched the whole
 * time: "" (it was never called). */
void op_unseen_note(const struct unseen_facts *f, char *note, size_t len);

/* Appends NAME to the ", "-joined list in BUF (cut when full). */
void names_append(char *buf, size_t len, const char *name);

/* --strict: each py: function op of S whose code was never found gets a line on stderr,
 * "PROG: --strict: operation 'NAME' not found: NOTE". How many. */
int ops_not_found(const struct session *s, const char *prog);

#endif
