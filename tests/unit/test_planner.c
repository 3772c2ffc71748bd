// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/planner.c: who gets the debug registers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "planner.h"

/* index, index.embed, search, search.embed_query, search.keyword, chat */
enum { IX, IX_EMBED, SE, SE_EMBED, SE_KW, CH, N };

static void base(struct plan_op *o)
{
	for (int i = 0; i < N; i++)
		o[i] = (struct plan_op){ .need = 1, .parent = -1 };
	o[IX].top = o[SE].top = o[CH].top = true;
	o[IX_EMBED].parent = IX;
	o[SE_EMBED].parent = o[SE_KW].parent = SE;
}

static void top_level_first_whatever_the_import_order(void **state)
{
	struct plan_op o[N];
	bool want[N];

	base(o);
	/* index.embed loaded first and holds 3 registers (old scheme: entry + returns). */
	o[IX_EMBED].need = 3;
	o[IX_EMBED].armed = true;
	assert_int_equal(plan_compute(o, N, 4, 0, true, want), 4);
	assert_true(want[IX] && want[SE] && want[CH]);
	assert_false(want[IX_EMBED]);
}

static void busy_op_keeps_its_registers(void **state)
{
	struct plan_op o[N];
	bool want[N];

	base(o);
	o[IX_EMBED].need = 3;
	o[IX_EMBED].armed = o[IX_EMBED].busy = true;
	plan_compute(o, N, 4, 0, true, want);
	assert_true(want[IX_EMBED]);
	assert_true(want[IX]);
	assert_false(want[SE] || want[CH]);
}

/* A stage the plan no longer picks (the budget paused stages) while called back to back: it is
 * always busy, so being busy must not keep it wanted (it would never be given up), but it holds
 * its registers until its call ends, and a plan that picks it again counts it once. */
static void busy_op_holds_its_registers_but_is_wanted_only_if_picked(void **state)
{
	struct plan_op o[N];
	bool want[N];

	base(o);
	o[IX].need = o[CH].need = 0;
	o[SE].armed = o[SE].running = true;
	o[SE_KW].armed = o[SE_KW].busy = true;
	assert_int_equal(plan_compute(o, N, 2, 0, false, want), 2);
	assert_true(want[SE]);
	assert_false(want[SE_KW] || want[SE_EMBED]);
	/* stages allowed again, 3 registers: the busy stage is picked back, counted once */
	assert_int_equal(plan_compute(o, N, 3, 1, true, want), 3);
	assert_true(want[SE] && want[SE_KW] && want[SE_EMBED]);
}

static void stages_of_the_running_op_first_and_rotated(void **state)
{
	struct plan_op o[N];
	bool want[N], seen_embed = false, seen_kw = false;

	base(o);
	o[IX].need = o[CH].need = 0; /* not found in this process */
	o[SE].running = true;
	for (unsigned turn = 0; turn < 4; turn++) {
		assert_int_equal(plan_compute(o, N, 2, turn, true, want), 2);
		assert_true(want[SE]);
		assert_false(want[IX_EMBED]); /* index is not running: its stage waits */
		seen_embed |= want[SE_EMBED];
		seen_kw |= want[SE_KW];
	}
	assert_true(seen_embed && seen_kw);
}

static void nothing_found_nothing_planned(void **state)
{
	struct plan_op o[N];
	bool want[N];

	base(o);
	for (int i = 0; i < N; i++)
		o[i].need = 0;
	assert_int_equal(plan_compute(o, N, 4, 7, true, want), 0);
	for (int i = 0; i < N; i++)
		assert_false(want[i]);
}

static void stages_of_a_found_op_before_strangers(void **state)
{
	struct plan_op o[N];
	bool want[N];

	base(o);
	o[IX].need = o[CH].need = 0; /* a search process: index's embedder is shared, index is not */
	for (unsigned turn = 0; turn < 3; turn++) {
		plan_compute(o, N, 2, turn, true, want);
		assert_true(want[SE]);
		assert_false(want[IX_EMBED]);
	}
}

static void a_big_op_does_not_block_smaller_ones(void **state)
{
	struct plan_op o[N];
	bool want[N];

	base(o);
	o[IX].need = 0;
	o[CH].need = 0;
	o[SE].need = 3;
	o[SE].running = true;
	o[SE_EMBED].need = 2;
	plan_compute(o, N, 4, 0, true, want);
	assert_true(want[SE] && want[SE_KW]);
	assert_false(want[SE_EMBED]);
}

/* Over budget: top-level ops keep their registers, stages give theirs up unless busy. */
/* Over the budget only top-level ops are wanted; a busy stage still holds its register. */
static void over_budget_only_top_level_ops(void **state)
{
	struct plan_op o[N];
	bool want[N];

	base(o);
	o[IX].need = o[CH].need = 0;
	o[SE].running = true;
	o[SE_KW].armed = o[SE_KW].busy = true;
	assert_int_equal(plan_compute(o, N, 4, 0, false, want), 2);
	assert_true(want[SE]);
	assert_false(want[SE_KW] || want[SE_EMBED] || want[IX_EMBED]);
	o[SE_KW].busy = false;
	assert_int_equal(plan_compute(o, N, 4, 0, false, want), 1);
	assert_true(want[SE]);
	assert_false(want[SE_KW]);
}

#define MS 1000000ull

/* 1 %: 1 s of recording pays for 10 ms of hits (1,000 hits of 10 us). */
static void budget_is_a_share_of_the_elapsed_time(void **state)
{
	assert_true(plan_stages_allowed(1.0, 1000, 10000, 1000 * MS, true));
	assert_false(plan_stages_allowed(1.0, 1001, 10000, 1000 * MS, true));
	assert_true(plan_stages_allowed(2.0, 2000, 10000, 1000 * MS, true));
	/* nothing measured (cost unknown) or unbounded: stages always */
	assert_true(plan_stages_allowed(1.0, 1u << 30, 0, 1000 * MS, false));
	assert_true(plan_stages_allowed(0, 1u << 30, 10000, 1 * MS, false));
	assert_true(plan_stages_allowed(0, 1u << 30, 10000, 0, true));
	/* no time yet and no hit: allowed; a hit at time 0: not */
	assert_true(plan_stages_allowed(1.0, 0, 10000, 0, true));
	assert_false(plan_stages_allowed(1.0, 1, 10000, 0, true));
}

/* Once paused, stages come back below 90 % of the allowance, not at the first ns under it. */
static void budget_has_hysteresis(void **state)
{
	assert_false(plan_stages_allowed(1.0, 950, 10000, 1000 * MS, false));
	assert_true(plan_stages_allowed(1.0, 950, 10000, 1000 * MS, true));
	assert_true(plan_stages_allowed(1.0, 900, 10000, 1000 * MS, false));
}

/* Simulated: top-level calls cost 0.3 % of the time, stages 1.2 % more while armed; checked every
 * 100 ms, stages are armed in about (1 - 0.3) / 1.2 = 58 % of the periods and the spend stays
 * within the budget (one period's worth above it at most). */
static void budget_duty_cycle_converges(void **state)
{
	const uint64_t cost = 10000, period = 100 * MS;
	uint64_t hits = 0, armed = 0, n = 600;
	double spent_max = 0;
	bool ok = true;

	for (uint64_t k = 1; k <= n; k++) {
		hits += period * 3 / 1000 / cost + (ok ? period * 12 / 1000 / cost : 0);
		armed += ok;
		ok = plan_stages_allowed(1.0, hits, cost, k * period, ok);
		if ((double)hits * cost / (k * period) > spent_max && k > 10)
			spent_max = (double)hits * cost / (k * period);
	}
	assert_true(armed > n * 50 / 100 && armed < n * 65 / 100);
	assert_true(spent_max < 0.0105);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(top_level_first_whatever_the_import_order),
		cmocka_unit_test(busy_op_keeps_its_registers),
		cmocka_unit_test(busy_op_holds_its_registers_but_is_wanted_only_if_picked),
		cmocka_unit_test(stages_of_the_running_op_first_and_rotated),
		cmocka_unit_test(nothing_found_nothing_planned),
		cmocka_unit_test(stages_of_a_found_op_before_strangers),
		cmocka_unit_test(a_big_op_does_not_block_smaller_ones),
		cmocka_unit_test(over_budget_only_top_level_ops),
		cmocka_unit_test(budget_is_a_share_of_the_elapsed_time),
		cmocka_unit_test(budget_has_hysteresis),
		cmocka_unit_test(budget_duty_cycle_converges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
