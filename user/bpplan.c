// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Breakpoint policy: which py: function ops can be exact and with how many debug registers,
 * arming and disarming them, and the glue between the recorder and the planner (planner.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include "planner.h"
#include "recorder_int.h"
#include "spec.h"
#include "util.h"
#include "prof.skel.h"

/* Appends [a, b) (b == 0: still open) to a span list; closes the open one with b. */
void span_open(struct span **v, int *n, __u64 a)
{
	struct span *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return; /* coverage undercounted, never wrong in the other direction */
	*v = nv;
	nv[(*n)++] = (struct span){ a, 0 };
}

void span_close(struct span *v, int n, __u64 b)
{
	if (n > 0 && !v[n - 1].b)
		v[n - 1].b = b;
}

static void op_sampled(struct rec *r, int i, const char *fmt, const char *why)
{
	struct op_result *or = res(r, i);

	r->run[i].state = OPS_SAMPLED;
	or->precision = PREC_SAMPLED;
	snprintf(or->note, sizeof(or->note), fmt, why);
}

/* Debug registers a function takes to be timed exactly, or 0 and why it cannot be. The one
 * rule record and probes both use. RC: the interpreter supports the one-register scheme (a
 * write watch on the code object's reference count, on_rc); else entry + each RETURN site. */
int code_need(const struct py_code_info *ci, bool rc, char *why, size_t len)
{
	if (ci->is_generator)
		snprintf(why, len, "generator");
	else if (rc)
		return 1;
	else if (ci->ret_partial)
		snprintf(why, len, "return sites not decodable");
	else if (ci->nret == 0 || ci->nret > 3)
		snprintf(why, len, "%u return sites", ci->nret);
	else
		return 1 + ci->nret;
	return 0;
}

/* The one-register scheme here? On 3.12+ by default; on 3.11 (rc_scheme 1) only with
 * RAGD_BPFPROF_RC=1: a frame object taking over a dying frame moves its code reference without
 * a write there, and attached to a ragd-lite search loop 29 of 131 calls came out split.
 * RAGD_BPFPROF_RC=0 turns it off everywhere (for comparisons). */
bool rc_ok(const struct py_target *t)
{
	const char *env = getenv("RAGD_BPFPROF_RC");

	if (env && !strcmp(env, "0"))
		return false;
	return t->off.rc_scheme >= 2 || (t->off.rc_scheme == 1 && env && !strcmp(env, "1"));
}

/* Reads a found op's code object: can it be exact, and with how many debug registers? */
static void py_classify(struct rec *r, int i)
{
	struct op_run *run = &r->run[i];
	struct py_code_info ci;
	char why[64];

	if (py_code_read(&r->py[r->primary].t, run->code, &ci)) {
		op_sampled(r, i, "%s", "code object unreadable: timed from samples");
		return;
	}
	snprintf(res(r, i)->function, DESC_MAX_LEN, "%s:%s (line %d, code 0x%llx)", ci.filename,
		 ci.qualname, ci.firstlineno, (unsigned long long)run->code);
	res(r, i)->resolved = true;
	run->found_at = now_ns();
	run->state = OPS_READY;
	run->rc = rc_ok(&r->py[r->primary].t);
	run->need = code_need(&ci, run->rc, why, sizeof(why));
	if (!run->need) {
		op_sampled(r, i, "%s: timed from samples", why);
	} else if (r->bp_why) {
		run->need = 0;
		op_sampled(r, i, "%s: timed from samples", r->bp_why);
	} else {
		run->bytecode = ci.bytecode;
		run->nret = ci.nret;
		memcpy(run->ret_units, ci.ret_units, sizeof(run->ret_units));
	}
}

static void op_code_map(struct rec *r, int i, __u64 v)
{
	__u32 k = r->op_base + i;

	attach_map_set(r->a.skel->maps.py_op_code, &k, sizeof(k), &v, sizeof(v), "py: op code object");
}

/* Moves the links attach_breakpoint appended to the attacher into the op's own list. */
static int op_take_links(struct rec *r, struct op_run *run, int first, int n)
{
	struct bpf_link **l = realloc(run->links, (run->nlinks + n) * sizeof(*l));

	if (!l)
		return -ENOMEM;
	memcpy(l + run->nlinks, &r->a.links[first], n * sizeof(*l));
	run->links = l;
	run->nlinks += n;
	r->a.nlinks = first;
	return 0;
}

static void op_disarm(struct rec *r, int i)
{
	struct op_run *run = &r->run[i];

	for (int j = 0; j < run->nlinks; j++)
		bpf_link__destroy(run->links[j]);
	run->nlinks = 0;
	if (run->armed && r->o->verbose)
		fprintf(stderr, "plan: %s gives its debug registers up\n", res(r, i)->name);
	span_close(run->armed_iv, run->narmed, now_ns());
	run->armed = false;
	run->closing = false;
	op_code_map(r, i, 0);
}

/* After attach_breakpoint*(): N links (or -errno) from FIRST become op i's; on failure the
 * op's breakpoints so far go too. 0 or -errno. */
static int op_keep_links(struct rec *r, int i, int first, int n)
{
	if (n >= 0 && op_take_links(r, &r->run[i], first, n)) {
		attach_drop_links(&r->a, first, n);
		n = -ENOMEM;
	}
	if (n < 0) {
		op_disarm(r, i);
		return n;
	}
	return 0;
}

static int op_armed(struct rec *r, int i, const char *how)
{
	struct op_run *run = &r->run[i];

	run->armed = true;
	span_open(&run->armed_iv, &run->narmed, now_ns());
	run->state = OPS_READY;
	res(r, i)->precision = PREC_EXACT;
	res(r, i)->note[0] = 0;
	if (r->o->verbose)
		fprintf(stderr, "exact: %s (%d debug register%s: %s 0x%llx)\n", res(r, i)->name, run->need,
			run->need > 1 ? "s" : "", how, (unsigned long long)(run->rc ? run->code : run->bytecode));
	return 0;
}

/* One write watch on the code object's reference count (on_rc tells the frames' creation and
 * clearing from other references). */
static int op_arm_rc(struct rec *r, int i)
{
	struct op_run *run = &r->run[i];
	struct py_target *t = &r->py[r->primary].t;
	struct py_rc_state st = { .tgid = r->py[r->primary].pid };
	__u32 k = r->op_base + i;
	int first, n;

	/* Seed the direction tracking; a stale seed costs one write classified by position only. */
	if (t->mem.read(t->mem.ctx, run->code, &st.last, sizeof(st.last)))
		st.last = 0;
	attach_map_set(r->a.skel->maps.py_rc_state, &k, sizeof(k), &st, sizeof(st), "refcount state");
	n = attach_breakpoint_w(&r->a, run->code, k, &first);
	if ((n = op_keep_links(r, i, first, n)) < 0)
		return n;
	return op_armed(r, i, "refcount of code");
}

/* Entry + return breakpoints; returns first, so an entry never opens a frame whose exit is not
 * watched yet. 0 or -errno. */
static int op_arm(struct rec *r, int i)
{
	struct op_run *run = &r->run[i];
	__u32 k = r->op_base + i;
	int first, n;

	op_code_map(r, i, run->code);
	if (run->rc)
		return op_arm_rc(r, i);
	for (int j = 0; j <= (int)run->nret; j++) {
		bool is_ret = j < (int)run->nret;
		__u64 addr = run->bytecode + (is_ret ? 2ull * run->ret_units[j] : 0);

		n = attach_breakpoint(&r->a, addr, BP_COOKIE(k, is_ret), &first);
		if ((n = op_keep_links(r, i, first, n)) < 0)
			return n;
	}
	return op_armed(r, i, "first bytecode + returns at");
}

/* Open calls of op i right now (BPF counts entries minus exits). */
static __u64 op_open(struct rec *r, int i)
{
	__u32 k = r->op_base + i;
	struct op_agg agg;

	if (bpf_map__lookup_elem(r->a.skel->maps.aggs, &k, sizeof(k), &agg, sizeof(agg), 0))
		return 0;
	return agg.open;
}

static bool op_called(struct rec *r, int i)
{
	__u32 k = r->op_base + i;
	struct op_agg agg;

	return !bpf_map__lookup_elem(r->a.skel->maps.aggs, &k, sizeof(k), &agg, sizeof(agg), 0) &&
	       (agg.count || agg.open);
}

int parent_of(const struct op_spec *ops, int n, int i)
{
	const char *dot = strchr(ops[i].name, '.');
	char top[NAME_MAX_LEN];

	if (!dot)
		return -1;
	snprintf(top, sizeof(top), "%.*s", (int)(dot - ops[i].name), ops[i].name);
	return spec_find(ops, n, top);
}

/* The planner's view of the py: function ops. */
static void plan_inputs(struct rec *r, struct plan_op *po)
{
	const struct op_spec *ops = r->o->ops;

	for (int i = 0; i < r->o->nops; i++) {
		struct op_run *run = &r->run[i];

		po[i] = (struct plan_op){ .parent = parent_of(ops, r->o->nops, i),
					  .top = !strchr(ops[i].name, '.') };
		if (ops[i].kind != OP_PY || run->state != OPS_READY)
			continue;
		po[i].need = run->need;
		po[i].armed = run->armed;
		po[i].busy = run->armed && op_open(r, i);
		po[i].running = po[i].top && op_called(r, i);
	}
}

/* Gives the debug registers to the ops the planner picks: frees the unwanted first, then arms. */
void plan_apply(struct rec *r)
{
	struct plan_op po[MAX_OPS] = {};
	bool want[MAX_OPS];
	int n = r->o->nops;

	if (r->primary < 0)
		return;
	plan_inputs(r, po);
	plan_compute(po, n, r->slot_budget, r->turn, r->stages_ok, want);
	for (int i = 0; i < n; i++) {
		if (!r->run[i].armed || want[i])
			continue;
		/* Close the door (BPF ignores new entries) and give up once no call is open; the door
		 * stays closed meanwhile, or an op called back to back would never be free. */
		if (!r->run[i].closing) {
			op_code_map(r, i, r->run[i].code | 1);
			span_close(r->run[i].armed_iv, r->run[i].narmed, now_ns()); /* new calls unseen */
		}
		r->run[i].closing = true;
		if (!op_open(r, i))
			op_disarm(r, i);
	}
	for (int i = 0; i < n; i++) {
		int e;

		if (want[i] && r->run[i].closing) {
			op_code_map(r, i, r->run[i].code); /* wanted again while closing: reopen */
			span_open(&r->run[i].armed_iv, &r->run[i].narmed, now_ns());
			r->run[i].closing = false;
		}
		if (!want[i] || r->run[i].armed)
			continue;
		e = op_arm(r, i);
		if (e == -ENOSPC) {
			/* Someone else (another tool, a debugger) holds debug registers. */
			int used = 0;

			for (int j = 0; j < n; j++)
				used += r->run[j].armed ? r->run[j].need : 0;
			r->slot_budget = used;
			session_warn(r->s, "no free debug register for '%s' (ENOSPC: another tool uses "
				     "them?): py: ops beyond %d registers are timed from samples",
				     res(r, i)->name, used);
		} else if (e < 0) {
			session_warn(r->s, "cannot set hardware breakpoint for '%s': %s", res(r, i)->name,
				     strerror(-e));
			op_sampled(r, i, "hardware breakpoint failed (%s): timed from samples", strerror(-e));
		}
	}
}

/* What one breakpoint hit costs the target: the trap, timed on a write watch of our own (the
 * median of 5 rounds of 64 writes), plus the BPF program. 0 when it cannot be measured. */
#define HIT_BPF_NS 4000 /* on_rc's mean run time (bpf_stats, ragd-lite search, this VM: 3.9 us) */
#define HIT_WRITES 64

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

__u64 bp_hit_cost_ns(void)
{
	static volatile __u64 var;
	struct perf_event_attr attr = {
		.type = PERF_TYPE_BREAKPOINT, .size = sizeof(attr), .bp_type = HW_BREAKPOINT_W,
		.bp_addr = (__u64)(unsigned long)&var, .bp_len = HW_BREAKPOINT_LEN_8,
		.sample_period = 1, .exclude_kernel = 1, .exclude_hv = 1,
	};
	__u64 t[5], hits = 0, plain;
	int fd;

	plain = mono_ns();
	for (int i = 0; i < HIT_WRITES; i++)
		var++;
	plain = mono_ns() - plain;
	fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return 0;
	for (int k = 0; k < 5; k++) {
		__u64 a = mono_ns();

		for (int i = 0; i < HIT_WRITES; i++)
			var++;
		t[k] = mono_ns() - a;
	}
	if (read(fd, &hits, sizeof(hits)) != sizeof(hits))
		hits = 0;
	close(fd);
	if (hits < 5 * HIT_WRITES)
		return 0;
	for (int i = 1; i < 5; i++) /* insertion sort for the median */
		for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
			__u64 x = t[j];

			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return (t[2] > plain ? t[2] - plain : 0) / HIT_WRITES + HIT_BPF_NS;
}

/* Stages holding registers (the budget's subject). */
static bool stages_armed(struct rec *r)
{
	for (int i = 0; i < r->o->nops; i++)
		if (r->run[i].armed && strchr(r->o->ops[i].name, '.'))
			return true;
	return false;
}

/* The overhead budget, every BUDGET_PERIOD_NS: stages are armed while the hits so far cost
 * less than --overhead % of the time since the run started (plan_stages_allowed). */
void plan_budget(struct rec *r, __u64 t)
{
	const struct bpf_stats *st = &r->a.skel->bss->stats;
	bool ok;

	if (r->o->overhead <= 0 || r->primary < 0 || t - r->last_budget < BUDGET_PERIOD_NS)
		return;
	r->last_budget = t;
	ok = plan_stages_allowed(r->o->overhead, st->bp_hits + st->rc_hits, r->hit_cost_ns,
				 t - r->start, r->stages_ok);
	if (ok == r->stages_ok && (ok || !stages_armed(r)))
		return;
	if (r->o->verbose && ok != r->stages_ok)
		fprintf(stderr, "budget: %llu hits x %.1f us = %.2f%% of %.2f s: stages %s\n",
			(unsigned long long)(st->bp_hits + st->rc_hits), r->hit_cost_ns / 1e3,
			100.0 * (st->bp_hits + st->rc_hits) * r->hit_cost_ns / (double)(t - r->start),
			(t - r->start) / 1e9, ok ? "armed again" : "paused");
	r->stages_ok = ok;
	r->budget_paused |= !ok;
	plan_apply(r);
}

/* Looks op i up in the primary process: 1 found, 0 not (yet). A module not loaded is noted with
 * sys.modules' generation GEN, so later looks skip the walk until a module is added. */
static int py_lookup(struct rec *r, int i, bool gen_ok, __u64 gen)
{
	struct op_run *run = &r->run[i];
	const struct op_spec *sp = &r->o->ops[i];
	char why[DESC_MAX_LEN] = "";
	__u64 code = 0;
	int f;

	if (gen_ok && run->absent && run->absent_gen == gen)
		return 0;
	f = py_find_function_why(&r->py[r->primary].t, sp->path, sp->symbol, &code, why, sizeof(why));
	if (f == 1 || why[0])
		snprintf(res(r, i)->note, sizeof(res(r, i)->note), "%s", why);
	/* No "did you mean": no module with that file is loaded (a walk of all of sys.modules). */
	run->absent = f != 1 && !why[0] && gen_ok;
	run->absent_gen = gen;
	if (f != 1)
		return 0;
	run->code = code;
	return 1;
}

/* Whether op i (of file SUFFIX; NULL: any) waits to be found. */
bool op_pending(const struct rec *r, int i, const char *suffix)
{
	const struct op_spec *os = &r->o->ops[i];
	const struct op_run *run = &r->run[i];

	return os->kind == OP_PY && (!suffix || !strcmp(os->path, suffix)) &&
	       (run->state == OPS_PENDING || (run->state == OPS_SAMPLED && !run->code));
}

/* Code objects of the pending ops of file SUFFIX in a module body's co_consts, one walk for all
 * (the target is held meanwhile): codes[i] for op i, 0 where not found. */
static void find_in_body(struct rec *r, const char *suffix, __u64 modcode, __u64 *codes)
{
	const char *names[MAX_OPS];
	int idx[MAX_OPS], n = 0;
	__u64 got[MAX_OPS];

	for (int i = 0; i < r->o->nops; i++) {
		codes[i] = 0;
		if (op_pending(r, i, suffix) && (!n || !strcmp(r->o->ops[idx[0]].path, r->o->ops[i].path))) {
			idx[n] = i;
			names[n++] = r->o->ops[i].symbol;
		}
	}
	if (n && py_find_in_code_n(&r->py[r->primary].t, modcode, r->o->ops[idx[0]].path, names, n,
				   got) > 0)
		for (int k = 0; k < n; k++)
			codes[idx[k]] = got[k];
}

/* Looks up pending py: ops (those of file SUFFIX only, NULL: all) in the primary process, then
 * re-plans the registers. A module-load pause looks up only that module's ops: a walk of
 * sys.modules for an op whose module is not loaded costs ~8 ms here, and the target is stopped
 * meanwhile. MODCODE: the module's body is about to run, its functions are only in its
 * co_consts (0: look in sys.modules). */
void py_resolve_mod(struct rec *r, const char *suffix, __u64 modcode)
{
	bool found[MAX_OPS] = {};
	__u64 gen = 0, codes[MAX_OPS];
	bool gen_ok;

	if (r->primary < 0)
		return;
	if (modcode)
		find_in_body(r, suffix, modcode, codes);
	gen_ok = modcode || !py_modules_gen(&r->py[r->primary].t, &gen);
	for (int i = 0; i < r->o->nops; i++) {
		const struct op_spec *os = &r->o->ops[i];
		struct op_run *run = &r->run[i];

		if (!op_pending(r, i, suffix))
			continue;
		if (modcode) {
			if (!codes[i])
				continue;
			res(r, i)->note[0] = 0;
			run->code = codes[i];
		} else {
			/* Ops of one file share the walk's outcome. */
			for (int j = 0; j < i && gen_ok && !(run->absent && run->absent_gen == gen); j++)
				if (r->run[j].absent && r->run[j].absent_gen == gen &&
				    !strcmp(r->o->ops[j].path, os->path)) {
					run->absent = true;
					run->absent_gen = gen;
				}
			if (!py_lookup(r, i, gen_ok, gen))
				continue;
		}
		py_classify(r, i);
		found[i] = true;
	}
	plan_apply(r);
	/* Armed by the plan that found them: the window starts when watching does (a launched
	 * target is held at the module load that brought them until now). */
	for (int i = 0; i < r->o->nops; i++) {
		struct op_run *run = &r->run[i];

		if (!found[i])
			continue;
		span_open(&run->found_iv, &run->nfound, run->armed ?
			  run->armed_iv[run->narmed - 1].a : run->found_at);
	}
	r->last_resolve = now_ns();
}

void py_resolve(struct rec *r)
{
	py_resolve_mod(r, NULL, 0);
}

bool py_pending(struct rec *r)
{
	for (int i = 0; i < r->o->nops; i++)
		if (r->o->ops[i].kind == OP_PY && (r->run[i].state == OPS_PENDING ||
						   (r->run[i].state == OPS_SAMPLED && !r->run[i].code)))
			return true;
	return false;
}

void py_set_primary(struct rec *r, struct pyproc *p)
{
	if (r->primary >= 0 || !p)
		return;
	r->primary = p - r->py;
	py_resolve(r);
}

/* The primary Python process exited or exec'd: its breakpoints watch freed memory now. Calls
 * recorded so far stay exact; the ops wait for the next Python process. */
void py_drop_primary(struct rec *r)
{
	__u64 t = now_ns();

	mods_unsettle(r);
	for (int i = 0; i < r->o->nops; i++) {
		struct op_run *run = &r->run[i];

		if (r->o->ops[i].kind != OP_PY)
			continue;
		op_disarm(r, i);
		run->absent = false;
		span_close(run->found_iv, run->nfound, t);
		run->found_at = 0;
		if (run->state == OPS_READY || (run->state == OPS_SAMPLED && run->code)) {
			run->state = OPS_PENDING;
			run->code = 0;
		}
	}
	r->primary = -1;
}

void ops_unarm_all(struct rec *r)
{
	__u64 t = now_ns();

	for (int i = 0; i < r->o->nops; i++) {
		struct op_run *run = &r->run[i];

		for (int j = 0; j < run->nlinks; j++)
			bpf_link__destroy(run->links[j]);
		run->nlinks = 0;
		if (run->armed)
			span_close(run->armed_iv, run->narmed, t);
		run->armed = false;
		run->closing = false;
	}
}
