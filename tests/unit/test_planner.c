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
	assert_int_equal(plan_compute(o, N, 4, 0, want), 4);
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
	plan_compute(o, N, 4, 0, want);
	assert_true(want[IX_EMBED]);
	assert_true(want[IX]);
	assert_false(want[SE] || want[CH]);
}

static void stages_of_the_running_op_first_and_rotated(void **state)
{
	struct plan_op o[N];
	bool want[N], seen_embed = false, seen_kw = false;

	base(o);
	o[IX].need = o[CH].need = 0; /* not found in this process */
	o[SE].running = true;
	for (unsigned turn = 0; turn < 4; turn++) {
		assert_int_equal(plan_compute(o, N, 2, turn, want), 2);
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
	assert_int_equal(plan_compute(o, N, 4, 7, want), 0);
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
		plan_compute(o, N, 2, turn, want);
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
	plan_compute(o, N, 4, 0, want);
	assert_true(want[SE] && want[SE_KW]);
	assert_false(want[SE_EMBED]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(top_level_first_whatever_the_import_order),
		cmocka_unit_test(busy_op_keeps_its_registers),
		cmocka_unit_test(stages_of_the_running_op_first_and_rotated),
		cmocka_unit_test(nothing_found_nothing_planned),
		cmocka_unit_test(stages_of_a_found_op_before_strangers),
		cmocka_unit_test(a_big_op_does_not_block_smaller_ones),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
