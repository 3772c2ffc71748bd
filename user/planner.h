/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The debug-register planner: which py: operations hold hardware breakpoints (exact timing)
 * right now. One plan for record, probes, top and profile. Pure: no BPF, no process access. */
#ifndef RAGD_BPFPROF_PLANNER_H
#define RAGD_BPFPROF_PLANNER_H

#include <stdbool.h>
#include <stdint.h>

struct plan_op {
	int need;      /* debug registers it takes when exact; 0: cannot be exact now */
	int parent;    /* index of its top-level op ("search" for "search.keyword"), -1 if none */
	bool top;      /* a top-level op (index, search, chat): always planned first */
	bool armed;    /* holds its registers now */
	bool busy;     /* armed with a call open: holds its registers until that call ends */
	bool running;  /* top-level op seen called: its stages come before other stages */
};

/* Fills want[0..n) with the ops that should hold registers, within budget:
 * 1. armed ops with an open call hold their registers (taking them away would lose that
 *    call's end), but are wanted only if picked below: one that is not stops taking new calls
 *    and gives them up when its open calls end (an op called back to back is always busy);
 * 2. top-level ops, in spec order;
 * 3. if STAGES (the overhead budget allows them, plan_stages_allowed): stages of running
 *    top-level ops, then of found ones, then the rest, each group rotated by TURN so that
 *    successive turns (profile iterations, --rotate periods) cover every stage.
 * Returns the number of registers the plan uses. */
int plan_compute(const struct plan_op *ops, int n, int budget, unsigned turn, bool stages,
		 bool *want);

/* The overhead budget (--overhead PCT): may stages hold debug registers now? Yes while the
 * estimated cost of the breakpoint hits so far (HITS x COST_NS each) is within PCT % of the
 * ELAPSED_NS of the recording; top-level ops stay exact on every call whatever they cost, so
 * stages are watched in the share of the time the rest of the budget pays for. WAS: the last
 * answer (once over, stages come back below 90 % of the allowance, so the plan does not flip
 * at every check). PCT <= 0: unbounded. */
bool plan_stages_allowed(double pct, uint64_t hits, uint64_t cost_ns, uint64_t elapsed_ns, bool was);

#endif
