// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The recorder's ring-buffer handlers (user/events.c) fed synthetic events: exact call records,
 * stack samples turned into per-op time, folded stacks and sampled call instances, process
 * exit. No BPF, no target process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "recorder_int.h"
#include "spec.h"

#define T0 1000000000ull
#define PERIOD 1000000ull /* 1 ms: 999 Hz rounded */

struct fixture {
	struct record_opts o;
	struct session s;
	struct rec r;
	struct py_target t;
};

/* The target's memory is never readable here: symbols stay unknown ("?"). */
static int no_read(void *ctx, __u64 addr, void *buf, size_t len)
{
	return -1;
}

static void add_op(struct fixture *f, const char *name, const char *path, const char *sym)
{
	struct op_spec *sp = &f->o.ops[f->o.nops++];

	snprintf(sp->name, sizeof(sp->name), "%s", name);
	snprintf(sp->path, sizeof(sp->path), "%s", path);
	snprintf(sp->symbol, sizeof(sp->symbol), "%s", sym);
	sp->kind = OP_PY;
	assert_true(session_add_op(&f->s, name, OP_PY, PREC_SAMPLED) >= 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rec *r = &f->r;

	session_init(&f->s);
	add_op(f, "search", "ragd/search/hybrid.py", "HybridSearcher.search");
	add_op(f, "search.keyword", "ragd/search/keyword.py", "KeywordSearcher.search");
	r->o = &f->o;
	r->s = &f->s;
	r->t0 = T0;
	r->period_ns = PERIOD;
	r->primary = -1;
	r->root = 4242;
	r->inst = calloc(MAX_INST, sizeof(*r->inst));
	for (int i = 0; i < f->o.nops; i++)
		for (int j = 0; j < INST_SLOTS; j++)
			r->run[i].last_inst[j] = -1;
	/* one Python process, pid 100, its code objects 0x1000 (search) and 0x2000 (keyword) */
	f->t.mem.read = no_read;
	r->py[0] = (struct pyproc){ .pid = 100, .ok = true, .syms = py_symcache_new(&f->t) };
	r->npy = 1;
	assert_int_equal(code_op_put(&r->py[0], 0x1000, 7, 0), 0);
	assert_int_equal(code_op_put(&r->py[0], 0x2000, 9, 1), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	py_release(&f->r.py[0]);
	free(f->r.inst);
	session_free(&f->s);
	free(f);
	return 0;
}

static void feed(struct rec *r, void *ev, size_t len)
{
	assert_int_equal(handle_event(r, ev, len), 0);
}

static void test_call_records(void **state)
{
	struct fixture *f = *state;
	struct call_event e = { .type = EV_CALL, .op_id = 1, .pid = 100, .tid = 101,
				.start_ns = T0 + 5000, .duration_ns = 3000, .on_cpu_ns = 2000,
				.rss_start = 4096, .rss_end = 8192, .rss_peak = 12288, .depth = 1 };

	f->o.iteration = 3;
	feed(&f->r, &e, sizeof(e));
	assert_int_equal(f->s.ncalls, 1);
	assert_int_equal(f->s.calls[0].op, 1);
	assert_int_equal(f->s.calls[0].start_ns, 5000); /* relative to the session clock */
	assert_int_equal(f->s.calls[0].duration_ns, 3000);
	assert_int_equal(f->s.calls[0].iteration, 3);
	assert_int_equal(f->s.calls[0].rss_peak, 12288);
	assert_int_equal(f->s.calls[0].depth, 1);
	/* an op id the session does not have, and a short record, are dropped; events counted */
	e.op_id = 2;
	feed(&f->r, &e, sizeof(e));
	feed(&f->r, &e, sizeof(e) - 1);
	assert_int_equal(f->s.ncalls, 1);
	assert_int_equal(f->s.events, 3);
	/* leftovers of a previous run are neither counted nor recorded */
	e.op_id = 0;
	f->r.discard = true;
	feed(&f->r, &e, sizeof(e));
	assert_int_equal(f->s.ncalls, 1);
	assert_int_equal(f->s.events, 3);
}

/* BPF's op aggregate has only py: calls (flagged CALL_F_IN_AGG) and lost records: the handler
 * adds the other records to the op's histogram and sums, and strips the ring-only flag. */
static void test_call_aggregates(void **state)
{
	struct fixture *f = *state;
	struct op_result *op = &f->s.ops[1];
	struct call_event e = { .type = EV_CALL, .op_id = 1, .pid = 100, .tid = 101,
				.start_ns = T0 + 5000, .duration_ns = 3000, .on_cpu_ns = 2000,
				.flags = CALL_F_UNWOUND };

	feed(&f->r, &e, sizeof(e));
	assert_non_null(op->hist);
	assert_int_equal(op->hist[hist_index(3000)], 1);
	assert_int_equal(op->total_ns, 3000);
	assert_int_equal(op->on_cpu_ns, 2000);
	assert_int_equal(f->s.calls[0].flags, CALL_F_UNWOUND);
	/* already in BPF's aggregate: recorded, not added twice */
	e.flags = CALL_F_IN_AGG;
	e.duration_ns = 7000;
	feed(&f->r, &e, sizeof(e));
	assert_int_equal(f->s.ncalls, 2);
	assert_int_equal(f->s.calls[1].flags, 0);
	assert_int_equal(op->hist[hist_index(7000)], hist_index(7000) == hist_index(3000) ? 1 : 0);
	assert_int_equal(op->total_ns, 3000);
	assert_int_equal(op->on_cpu_ns, 2000);
}

/* A sample of thread TID at TS: outermost first in (code, frame) pairs, stored innermost first. */
static void sample(struct rec *r, __u32 tid, __u64 ts, bool on, int n, const __u64 (*cf)[2])
{
	struct sample_event *e = calloc(1, sizeof(*e));

	*e = (struct sample_event){ .type = EV_SAMPLE, .pid = 100, .tid = tid, .ts_ns = ts,
				    .weight_ns = PERIOD, .nframes = n,
				    .kind = on ? SAMPLE_ON_CPU : SAMPLE_OFF_CPU };
	for (int i = 0; i < n; i++) {
		const __u64 *p = cf[n - 1 - i];

		e->frames[i] = (struct py_frame_rec){ .code = p[0], .frame = p[1],
						      .tag = p[0] == 0x1000 ? 7 : p[0] == 0x2000 ? 9 : 1 };
	}
	feed(r, e, sizeof(*e));
	free(e);
}

static void test_samples_time_and_stacks(void **state)
{
	struct fixture *f = *state;
	struct rec *r = &f->r;
	const __u64 nested[3][2] = { { 0x500, 0x50 }, { 0x1000, 0xa0 }, { 0x2000, 0xb0 } };
	const __u64 outer_only[2][2] = { { 0x1000, 0xa0 }, { 0x1000, 0xc0 } }; /* recursion */

	sample(r, 101, T0 + 10 * PERIOD, true, 3, nested);
	sample(r, 101, T0 + 11 * PERIOD, false, 3, nested);
	sample(r, 101, T0 + 12 * PERIOD, true, 2, outer_only);
	assert_int_equal(f->s.samples, 3);
	/* search is in all three (once each, recursion or not), keyword in two, innermost in two */
	assert_int_equal(r->run[0].wall_ns, 3 * PERIOD);
	assert_int_equal(r->run[0].on_ns, 2 * PERIOD);
	assert_int_equal(r->run[0].off_ns, PERIOD);
	assert_int_equal(r->run[1].wall_ns, 2 * PERIOD);
	assert_int_equal(r->run[1].self_ns, 2 * PERIOD);
	assert_int_equal(r->run[0].self_ns, PERIOD);
	/* folded stacks start with the top-level op; one on- and off-CPU stack merged */
	assert_int_equal(f->s.nstacks, 2);
	assert_string_equal(f->s.stacks[0].stack, "search;? (?);? (?);? (?)");
	/* self time goes to the innermost frame's op, also when that op is further out too */
	{
		const __u64 back[3][2] = { { 0x1000, 0xa0 }, { 0x2000, 0xb0 }, { 0x1000, 0xe0 } };

		sample(r, 101, T0 + 13 * PERIOD, true, 3, back);
		assert_int_equal(r->run[0].self_ns, 2 * PERIOD);
		assert_int_equal(r->run[1].self_ns, 2 * PERIOD);
		assert_int_equal(r->run[0].wall_ns, 4 * PERIOD);
		assert_int_equal(f->s.nstacks, 2); /* the same folded names: merged */
		f->s.samples--;
	}
	/* a sample of a process we do not know counts, and adds nothing */
	{
		struct sample_event e = { .type = EV_SAMPLE, .pid = 7, .nframes = 0 };

		feed(r, &e, sizeof(e));
		assert_int_equal(f->s.samples, 4);
		assert_int_equal(f->s.nstacks, 2);
	}
}

/* Sampled call instances: the same frame address on the same thread within two periods is one
 * call; a new frame address, another thread or a gap starts another. */
static void test_sampled_call_rebuilding(void **state)
{
	struct fixture *f = *state;
	struct rec *r = &f->r;
	const __u64 a[1][2] = { { 0x1000, 0xa0 } }, b[1][2] = { { 0x1000, 0xd0 } };

	for (int k = 0; k < 4; k++)
		sample(r, 101, T0 + (20 + k) * PERIOD, true, 1, a); /* one call of 4 periods */
	sample(r, 202, T0 + 22 * PERIOD, true, 1, a);               /* same frame, other thread */
	sample(r, 101, T0 + 24 * PERIOD, true, 1, b);               /* next call: new frame */
	sample(r, 101, T0 + 40 * PERIOD, true, 1, b);               /* same frame after a gap */
	assert_int_equal(r->ninst, 4);
	res(r, 0)->precision = PREC_SAMPLED;
	inst_to_calls(r);
	assert_int_equal(f->s.ncalls, 4);
	assert_int_equal(f->s.calls[0].duration_ns, 4 * PERIOD);
	assert_int_equal(f->s.calls[0].start_ns, 20 * PERIOD);
	assert_true(f->s.calls[0].flags & CALL_F_SAMPLED);
	assert_int_equal(f->s.calls[1].duration_ns, PERIOD);
	assert_int_equal(f->s.calls[2].start_ns, 24 * PERIOD);
	assert_int_equal(f->s.calls[3].start_ns, 40 * PERIOD);
	/* an op that had exact calls keeps them alone: no sampled spans mix into its row */
	f->s.ncalls = 0;
	res(r, 0)->precision = PREC_EXACT;
	inst_to_calls(r);
	assert_int_equal(f->s.ncalls, 0);
}

static void test_root_exit(void **state)
{
	struct fixture *f = *state;
	struct proc_rec e = { .type = EV_PROC, .kind = PROC_EXIT, .pid = 4242, .exit_code = 3 << 8 };

	f->o.pid = 4242; /* -p: the exit event ends the recording */
	feed(&f->r, &e, sizeof(e));
	assert_true(f->r.root_exited);
	assert_int_equal(f->r.root_status, 3 << 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_aggregates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_samples_time_and_stacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sampled_call_rebuilding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_exit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
