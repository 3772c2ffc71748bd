// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The end of a run: BPF's counters and histograms, each py: op's precision and coverage,
 * sampled call instances and calls still open, into the session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "opnote.h"
#include "recorder_int.h"
#include "prof.skel.h"

/* How much of [a, b) the spans cover (ours never overlap each other). */
static __u64 span_overlap(const struct span *v, int n, __u64 a, __u64 b, __u64 now)
{
	__u64 sum = 0;

	for (int j = 0; j < n; j++) {
		__u64 lo = v[j].a > a ? v[j].a : a, hi = v[j].b ? v[j].b : now;

		hi = hi < b ? hi : b;
		sum += hi > lo ? hi - lo : 0;
	}
	return sum;
}

/* Coverage of op i in this run: of the time its parent op ran (its exact calls), or with no
 * timed parent of the time its code existed, the share during which op i was armed. A stage
 * armed only while nothing could call it has no coverage. Returns its exact calls. */
static __u64 py_coverage(struct rec *r, int i, __u64 *watched, __u64 *window)
{
	struct op_run *run = &r->run[i];
	int par = parent_of(r->o->ops, r->o->nops, i);
	__u32 k = r->op_base + i, pk = par >= 0 ? (__u32)(r->op_base + par) : ~0u;
	__u64 t = now_ns(), mine = 0, pw = 0, pwatched = 0;
	const struct call_rec *c;
	struct call_iter it;

	/* the calls may be spilled (session_spill_calls): walked, never indexed */
	for (c = call_iter_first(&it, r->s, 0); c; c = call_iter_next(&it)) {
		__u64 a = c->start_ns + r->t0;

		if (c->iteration != r->o->iteration || (c->flags & (CALL_F_SAMPLED | CALL_F_OPEN)))
			continue;
		mine += c->op == k;
		if (c->op == pk) {
			pw += c->duration_ns;
			pwatched += span_overlap(run->armed_iv, run->narmed, a, a + c->duration_ns, t);
		}
	}
	call_iter_done(&it);
	*window = pw;
	*watched = pwatched;
	if (par >= 0 && !pw && !mine)
		return 0; /* its parent never ran: nothing could call it */
	if (!pw)
		for (int j = 0; j < run->nfound; j++) {
			__u64 b = run->found_iv[j].b ? run->found_iv[j].b : t;

			*window += b - run->found_iv[j].a;
			*watched += span_overlap(run->armed_iv, run->narmed, run->found_iv[j].a, b, t);
		}
	return mine;
}

/* A found py: op without a call this run: why, from what the recorder knew (opnote.c). */
static void py_unseen(struct rec *r, int i)
{
	char held[DESC_MAX_LEN] = "";
	struct unseen_facts f = { .need = r->run[i].need, .armed_share = res(r, i)->coverage,
		.ever_armed = r->run[i].narmed > 0, .sampled = r->run[i].wall_ns > 0, .hz = r->o->hz,
		.holders = held, .max_breakpoints = r->o->max_breakpoints,
		.enospc = r->slot_budget < r->o->max_breakpoints,
		.budget_pct = r->budget_paused && strchr(r->o->ops[i].name, '.') ? r->o->overhead : 0 };

	for (int j = 0; j < r->o->nops; j++)
		if (j != i && r->run[j].narmed)
			names_append(held, sizeof(held), res(r, j)->name);
	op_unseen_note(&f, res(r, i)->note, sizeof(res(r, i)->note));
}

/* Precision and coverage of a py: function op: exact once it was watched while it could run. */
static void py_finish_op(struct rec *r, int i)
{
	struct op_result *or = res(r, i);
	struct op_run *run = &r->run[i];
	__u64 watched, window, mine = py_coverage(r, i, &watched, &window);

	or->cov_watched_ns += watched;
	or->cov_window_ns += window;
	if (mine || or->cov_watched_ns) {
		or->precision = PREC_EXACT;
		or->coverage = or->cov_window_ns ? (double)or->cov_watched_ns / or->cov_window_ns : 1.0;
		if (or->coverage > 1.0)
			or->coverage = 1.0;
		if (or->coverage < 0.995)
			snprintf(or->note, sizeof(or->note), "exact for %.0f%% of the time it could run "
				 "(debug registers shared): counts are of that part", 100.0 * or->coverage);
		else
			or->note[0] = 0;
		if (!mine)
			py_unseen(r, i);
		return;
	}
	or->precision = PREC_SAMPLED;
	or->coverage = 0;
	if (run->nfound)
		py_unseen(r, i); /* found (maybe in a process gone since) */
	else if (run->state == OPS_PENDING && !or->note[0] && !run->wall_ns && r->gone_in_attach)
		snprintf(or->note, sizeof(or->note), "the target exited before its functions were found");
	else if (run->state == OPS_PENDING && !or->note[0] && !run->wall_ns)
		snprintf(or->note, sizeof(or->note), r->npy ? "function not found in the target "
			 "(module never imported?)" : "no Python interpreter seen");
}

/* BPF's counters: verbose lines, and a warning for everything that was lost. */
static void finish_counters(struct rec *r)
{
	struct bpf_stats st = r->a.skel->bss->stats;

	r->s->dropped_events += st.calls_dropped + st.samples_dropped + st.proc_dropped;
	r->s->dropped_calls += st.calls_dropped;
	if (r->o->verbose)
		fprintf(stderr, "bpf: calls %llu (dropped %llu), samples %llu (dropped %llu), breakpoint hits "
			"%llu, no tstate %llu, orphan returns %llu, depth overflow %llu, rss events %llu, return "
			"reads that were no return %llu\n",
			(unsigned long long)(r->call_events + st.calls_dropped),
			(unsigned long long)st.calls_dropped,
			(unsigned long long)st.samples, (unsigned long long)st.samples_dropped,
			(unsigned long long)st.bp_hits, (unsigned long long)st.py_no_tstate,
			(unsigned long long)st.orphan_returns, (unsigned long long)st.depth_overflow,
			(unsigned long long)st.rss_events, (unsigned long long)st.bp_not_return);
	if (r->o->verbose && st.rc_hits)
		fprintf(stderr, "bpf: refcount watch: writes %llu, births %llu, deaths %llu, rejected %llu, "
			"resync %llu, unmatched %llu\n", (unsigned long long)st.rc_hits,
			(unsigned long long)st.rc_births, (unsigned long long)st.rc_deaths,
			(unsigned long long)st.rc_rejected, (unsigned long long)st.rc_resync,
			(unsigned long long)st.rc_unmatched);
	if (st.calls_dropped)
		session_warn(r->s, "%llu call records dropped (ring buffer full): statistics come from "
			     "the BPF histograms", (unsigned long long)st.calls_dropped);
	if (st.samples_dropped)
		session_warn(r->s, "%llu stack samples dropped (ring buffer full)",
			     (unsigned long long)st.samples_dropped);
	if (st.depth_overflow)
		session_warn(r->s, "%llu calls nested deeper than %d were not timed",
			     (unsigned long long)st.depth_overflow, MAX_DEPTH);
	if (r->inst_dropped)
		session_warn(r->s, "%llu sampled call instances past %d not counted",
			     (unsigned long long)r->inst_dropped, MAX_INST);
	if (st.pids_full)
		session_warn(r->s, "%llu child processes not traced (more than 1024 alive at once)",
			     (unsigned long long)st.pids_full);
}

/* Op i's histogram and totals from BPF, its sampled time, and for py: ops precision and coverage. */
static void finish_op(struct rec *r, int i)
{
	struct op_result *or = res(r, i);
	struct op_run *run = &r->run[i];
	__u32 k = r->op_base + i;
	struct op_agg agg;

	if (!bpf_map__lookup_elem(r->a.skel->maps.aggs, &k, sizeof(k), &agg, sizeof(agg), 0) && agg.count) {
		if (!or->hist)
			or->hist = calloc(HIST_BUCKETS, sizeof(__u64));
		if (or->hist)
			for (unsigned b = 0; b < HIST_BUCKETS; b++)
				or->hist[b] += agg.hist[b];
		or->total_ns += agg.total_ns;
		or->on_cpu_ns += agg.on_cpu_ns;
	}
	or->self_ns += run->self_ns;
	if (r->o->ops[i].kind == OP_PY)
		py_finish_op(r, i);
	if (or->precision == PREC_SAMPLED) {
		or->on_cpu_ns += run->on_ns;
		or->off_cpu_ns += run->off_ns;
		or->total_ns += run->wall_ns;
	} else {
		or->off_cpu_ns += run->off_ns;
	}
}

/* Module-body ops whose probe came only when the interpreter was exec'd, or never. */
static void finish_modules(struct rec *r)
{
	for (int i = 0; i < r->o->nops; i++) {
		struct op_result *or = res(r, i);

		if (r->o->ops[i].kind == OP_PY_MODULE && r->eval_attached) {
			or->resolved = true;
			if (or->precision == PREC_EXACT)
				or->note[0] = 0;
		}

		if (r->o->ops[i].kind == OP_PY_MODULE && r->run[i].state != OPS_EXACT &&
		    !r->eval_attached && or->precision == PREC_EXACT) {
			or->precision = PREC_SAMPLED;
			snprintf(or->note, sizeof(or->note), "no interpreter to probe: timed from samples");
		}
	}
	for (int i = 0; i < r->o->nops; i++)
		if (r->o->ops[i].kind != OP_PY)
			res(r, i)->coverage = res(r, i)->precision == PREC_EXACT ? 1.0 : 0.0;
}

/* Where BPF's struct thread_state and struct frame keep what an open call needs, read from the
 * object's BTF: the layout is the BPF program's and grows (a copy of it here went stale once,
 * and every open call was lost). */
struct frame_layout {
	__u32 depth, f, fsize;                          /* thread_state.depth, .f[], sizeof(frame) */
	__u32 start_ns, rss_start, rss_peak, op_id;     /* in struct frame */
};

static long member_off(const struct btf *btf, __s32 id, const char *name)
{
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	const struct btf_member *m = t ? btf_members(t) : NULL;

	for (int i = 0; m && i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), name))
			return btf_member_bit_offset(t, i) / 8;
	return -1;
}

static int frame_layout(struct rec *r, struct frame_layout *l)
{
	const struct btf *btf = bpf_object__btf(r->a.skel->obj);
	__s32 ts = btf ? btf__find_by_name_kind(btf, "thread_state", BTF_KIND_STRUCT) : -1;
	__s32 fr = btf ? btf__find_by_name_kind(btf, "frame", BTF_KIND_STRUCT) : -1;
	long v[6];

	if (ts <= 0 || fr <= 0 || btf__resolve_size(btf, fr) <= 0)
		return -ENOENT;
	v[0] = member_off(btf, ts, "depth");
	v[1] = member_off(btf, ts, "f");
	v[2] = member_off(btf, fr, "start_ns");
	v[3] = member_off(btf, fr, "rss_start");
	v[4] = member_off(btf, fr, "rss_peak");
	v[5] = member_off(btf, fr, "op_id");
	for (int i = 0; i < 6; i++)
		if (v[i] < 0)
			return -ENOENT;
	*l = (struct frame_layout){ v[0], v[1], btf__resolve_size(btf, fr), v[2], v[3], v[4], v[5] };
	return 0;
}

static __u64 u64_at(const char *p, __u32 off)
{
	__u64 v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* Calls still open at the end: recorded, flagged, not in the statistics. */
static void finish_open_calls(struct rec *r)
{
	struct bpf_map *threads = r->a.skel->maps.threads;
	size_t vsz = bpf_map__value_size(threads);
	__u32 key, next, *prev = NULL, depth;
	char *ts = malloc(vsz);
	struct frame_layout l;
	__u64 kt = now_ns();

	if (!ts || frame_layout(r, &l) || l.f + (size_t)MAX_DEPTH * l.fsize > vsz)
		goto cleanup;
	while (!bpf_map__get_next_key(threads, prev, &next, sizeof(next))) {
		key = next;
		prev = &key;
		if (bpf_map__lookup_elem(threads, &key, sizeof(key), ts, vsz, 0))
			continue;
		memcpy(&depth, ts + l.depth, sizeof(depth));
		for (__u32 d = 0; d < depth && d < MAX_DEPTH; d++) {
			const char *f = ts + l.f + d * l.fsize;
			__u32 op;
			struct call_rec c = {
				.tid = key, .iteration = r->o->iteration, .flags = CALL_F_OPEN, .depth = d,
				.start_ns = u64_at(f, l.start_ns) - r->t0,
				.duration_ns = kt - u64_at(f, l.start_ns),
				.rss_start = u64_at(f, l.rss_start), .rss_end = u64_at(f, l.rss_peak),
				.rss_peak = u64_at(f, l.rss_peak),
			};

			memcpy(&op, f + l.op_id, sizeof(op));
			c.op = op;
			if (c.op < (unsigned)r->s->nops)
				session_add_call(r->s, &c);
		}
	}
cleanup:
	free(ts);
}

/* Finishes sampled ops and open calls after the loop. */
void rec_finish(struct rec *r)
{
	finish_counters(r);
	for (int i = 0; i < r->o->nops; i++)
		finish_op(r, i);
	finish_modules(r);
	inst_to_calls(r);
	finish_open_calls(r);
}
