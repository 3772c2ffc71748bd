// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Debug-register planner (see planner.h). */
#include <string.h>
#include "planner.h"

/* An armed op with an open call holds its registers: counted already. */
static bool held(const struct plan_op *op)
{
	return op->armed && op->busy;
}

static bool take(const struct plan_op *op, int budget, int *used, bool *want)
{
	if (*want || op->need <= 0 || (!held(op) && *used + op->need > budget))
		return false;
	*want = true;
	if (!held(op))
		*used += op->need;
	return true;
}

/* How much a stage's parent tells about its chance to be called now: 2 running, 1 found. */
static int parent_rank(const struct plan_op *ops, int n, int i)
{
	const struct plan_op *p = ops[i].parent >= 0 && ops[i].parent < n ? &ops[ops[i].parent] : NULL;

	if (!p)
		return 0;
	return p->running ? 2 : p->need > 0 || p->armed ? 1 : 0;
}

/* Stages of parent rank RANK, from a rotating start. */
static void take_stages(const struct plan_op *ops, int n, int budget, unsigned turn, int rank,
			int *used, bool *want)
{
	int idx[n > 0 ? n : 1], k = 0;

	for (int i = 0; i < n; i++)
		if (!ops[i].top && ops[i].need > 0 && parent_rank(ops, n, i) == rank)
			idx[k++] = i;
	for (int j = 0; j < k; j++)
		take(&ops[idx[(j + turn) % k]], budget, used, &want[idx[(j + turn) % k]]);
}

int plan_compute(const struct plan_op *ops, int n, int budget, unsigned turn, bool stages,
		 bool *want)
{
	int used = 0;

	memset(want, 0, n * sizeof(*want));
	for (int i = 0; i < n; i++)
		if (held(&ops[i]))
			used += ops[i].need;
	for (int i = 0; i < n; i++)
		if (ops[i].top)
			take(&ops[i], budget, &used, &want[i]);
	for (int rank = 2; stages && rank >= 0; rank--)
		take_stages(ops, n, budget, turn, rank, &used, want);
	return used;
}

bool plan_stages_allowed(double pct, uint64_t hits, uint64_t cost_ns, uint64_t elapsed_ns, bool was)
{
	double spent = (double)hits * (double)cost_ns, allow = pct / 100.0 * (double)elapsed_ns;

	if (!(pct > 0))
		return true;
	return spent <= (was ? allow : 0.9 * allow);
}
