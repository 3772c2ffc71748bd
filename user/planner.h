/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The debug-register planner: which py: operations hold hardware breakpoints (exact timing)
 * right now. One plan for record, probes, top and profile. Pure: no BPF, no process access. */
#ifndef RAGD_BPFPROF_PLANNER_H
#define RAGD_BPFPROF_PLANNER_H

#include <stdbool.h>

struct plan_op {
	int need;      /* debug registers it takes when exact; 0: cannot be exact now */
	int parent;    /* index of its top-level op ("search" for "search.keyword"), -1 if none */
	bool top;      /* a top-level op (index, search, chat): always planned first */
	bool armed;    /* holds its registers now */
	bool busy;     /* armed with a call open: keeps its registers whatever the plan */
	bool running;  /* top-level op seen called: its stages come before other stages */
};

/* Fills want[0..n) with the ops that should hold registers, within budget:
 * 1. armed ops with an open call (taking registers away would lose that call's end);
 * 2. top-level ops, in spec order;
 * 3. stages of running top-level ops, then of found ones, then the rest, each group rotated by
 *    TURN so that successive turns (profile iterations, --rotate periods) cover every stage.
 * Returns the number of registers the plan uses. */
int plan_compute(const struct plan_op *ops, int n, int budget, unsigned turn, bool *want);

#endif
