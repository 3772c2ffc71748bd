// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Ring-buffer handlers: exact call records into the session, stack samples into folded stacks,
 * per-op sampled time and sampled call instances, process exec/exit and module loads. */
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "recorder_int.h"
#include "prof.skel.h"

/* BPF's op aggregate has py: calls and lost records only (see pop_emit): add the others here,
 * so the histogram and sums rec_finish completes cover every call. */
static void add_to_op(struct op_result *op, const struct call_event *e)
{
	__u32 idx = hist_index(e->duration_ns);

	if (!op->hist)
		op->hist = calloc(HIST_BUCKETS, sizeof(*op->hist));
	if (op->hist && idx < HIST_BUCKETS)
		op->hist[idx]++;
	op->total_ns += e->duration_ns;
	op->on_cpu_ns += e->on_cpu_ns;
}

static void on_call(struct rec *r, const struct call_event *e)
{
	struct call_rec c = {
		.op = e->op_id,
		.pid = e->pid,
		.tid = e->tid,
		.iteration = r->o->iteration,
		.flags = e->flags & ~CALL_F_IN_AGG,
		.depth = e->depth,
		.start_ns = e->start_ns - r->t0,
		.duration_ns = e->duration_ns,
		.on_cpu_ns = e->on_cpu_ns,
		.rss_start = e->rss_start,
		.rss_end = e->rss_end,
		.rss_peak = e->rss_peak,
	};

	if (e->op_id >= (unsigned)r->s->nops)
		return;
	if (!(e->flags & CALL_F_IN_AGG))
		add_to_op(&r->s->ops[e->op_id], e);
	session_add_call(r->s, &c);
}

static void short_file(const char *file, char *out, size_t len)
{
	const char *p = file + strlen(file);
	int slashes = 0;

	/* Last three path components: enough to tell ragd/search/hybrid.py from the stdlib. */
	while (p > file) {
		if (p[-1] == '/' && ++slashes == 3)
			break;
		p--;
	}
	snprintf(out, len, "%s", p);
}

/* The thread's slot (open addressing); with more threads than slots one is reused: an instance
 * may then be split in two, never merged with another thread's. */
static int inst_slot(struct op_run *run, __u32 tid)
{
	unsigned h = (tid * 2654435761u) % INST_SLOTS;

	for (unsigned k = 0; k < INST_SLOTS; k++) {
		unsigned sl = (h + k) % INST_SLOTS;

		if (run->last_inst[sl] < 0 || run->last_tid[sl] == tid)
			return sl;
	}
	return h;
}

static void inst_note(struct rec *r, int op, __u32 tid, __u64 frame, __u64 ts, __u64 w)
{
	struct op_run *run = &r->run[op];
	int slot = inst_slot(run, tid);

	if (run->last_tid[slot] == tid && run->last_frame[slot] == frame && run->last_inst[slot] >= 0 &&
	    ts <= r->inst[run->last_inst[slot]].end + 2 * r->period_ns + w) {
		r->inst[run->last_inst[slot]].end = ts + w;
		return;
	}
	if (r->ninst >= MAX_INST) {
		r->inst_dropped++;
		return;
	}
	r->inst[r->ninst] = (struct inst){ op, ts, ts + w };
	run->last_tid[slot] = tid;
	run->last_frame[slot] = frame;
	run->last_inst[slot] = r->ninst++;
}

/* The ops in a sample, outermost first in ops_in (each once: recursion does not count twice),
 * their call instances noted, the innermost op's frame in *inner (-1: none); the folded stack
 * into stack. Returns how many ops. */
static int sample_frames(struct rec *r, struct pyproc *p, const struct sample_event *e,
			 int *ops_in, int *inner, char *stack, size_t size)
{
	__u32 n = e->nframes < PY_MAX_FRAMES ? e->nframes : PY_MAX_FRAMES;
	size_t len = 0;
	int nops_in = 0;

	stack[0] = 0;
	*inner = -1;
	/* Outermost first, as folded stacks are written. */
	for (int i = (int)n - 1; i >= 0; i--) {
		const struct py_frame_rec *f = &e->frames[i];
		const struct py_sym *sym = py_symcache_get(p->syms, f->code, f->tag);
		int op = op_of_code(r, p, f->code, f->tag);
		bool seen = false;
		char file[256];
		int w;

		for (int j = 0; op >= 0 && j < nops_in; j++)
			seen |= ops_in[j] == op;
		if (op >= 0 && !seen) {
			ops_in[nops_in++] = op;
			inst_note(r, op, e->tid, f->frame, e->ts_ns, e->weight_ns);
		}
		if (op >= 0)
			*inner = op;
		if (sym)
			short_file(sym->file, file, sizeof(file));
		w = snprintf(stack + len, size - len, ";%s (%s)", sym ? sym->qualname : "?", sym ? file : "?");
		if (w < 0 || (size_t)w >= size - len)
			break;
		/* Names read from a live process may be torn: keep the JSON valid and the stack one
		 * line. */
		for (int k = 1; k < w; k++) {
			unsigned char ch = stack[len + k];

			if (ch < 0x20 || ch >= 0x7f || ch == ';')
				stack[len + k] = '?';
		}
		len += w;
	}
	return nops_in;
}

static void on_sample(struct rec *r, const struct sample_event *e)
{
	struct pyproc *p = py_get(r, e->pid);
	char stack[8192], full[8448], top[NAME_MAX_LEN];
	int ops_in[PY_MAX_FRAMES], nops_in, inner;
	bool on = e->kind == SAMPLE_ON_CPU;

	r->s->samples++;
	if (!p || !p->ok)
		return;
	nops_in = sample_frames(r, p, e, ops_in, &inner, stack, sizeof(stack));
	for (int j = 0; j < nops_in; j++) {
		struct op_run *run = &r->run[ops_in[j]];

		run->wall_ns += e->weight_ns;
		if (on)
			run->on_ns += e->weight_ns;
		else
			run->off_ns += e->weight_ns;
	}
	if (inner >= 0)
		r->run[inner].self_ns += e->weight_ns;
	/* Prefix: the top-level operation (index/search/chat/...), so one flame graph shows them
	 * side by side. */
	if (nops_in) {
		snprintf(top, sizeof(top), "%s", r->o->ops[ops_in[0]].name);
		top[strcspn(top, ".")] = 0;
	} else {
		snprintf(top, sizeof(top), "(other)");
	}
	snprintf(full, sizeof(full), "%s%s", top, stack);
	session_add_stack(r->s, full, on ? e->weight_ns : 0, on ? 0 : e->weight_ns);
}


static void on_proc(struct rec *r, const struct proc_rec *e)
{
	if (e->kind == PROC_EXEC && r->want_python) {
		struct pyproc *p = py_forget(r, e->pid);

		/* A new image: detect its interpreter afresh. */
		if (p)
			p->pid = -1;
		if ((p = py_try(r, e->pid, false)))
			py_set_primary(r, p);
		else if (r->nexec_wait < EXEC_WAIT_MAX) {
			r->exec_wait[r->nexec_wait].pid = e->pid;
			r->exec_wait[r->nexec_wait++].until = now_ns() + 2000000000ull;
		}
	} else if (e->kind == PROC_EXIT) {
		py_forget(r, e->pid);
		if ((pid_t)e->pid == r->root && !r->launched) {
			r->root_exited = true;
			r->root_status = e->exit_code;
		}
	}
}

/* Every op of module M was found at its body's start: its return need not hold the target. In
 * BPF only, for this process: the next one (a profile iteration, an exec) is held again. */
void mod_settle(struct rec *r, __u32 m)
{
	struct mod_op mo = r->mods[m];

	if (!(mo.flags & MOD_F_PAUSE) || r->mod_settled[m])
		return;
	for (int i = 0; i < r->o->nops; i++)
		if (op_pending(r, i, mo.suffix))
			return;
	mo.flags &= ~MOD_F_PAUSE;
	attach_map_set(r->a.skel->maps.mod_ops, &m, sizeof(m), &mo, sizeof(mo), "module filter");
	r->mod_settled[m] = true;
}

void mods_unsettle(struct rec *r)
{
	for (__u32 m = 0; m < (__u32)r->nmods; m++)
		if (r->mod_settled[m]) {
			attach_map_set(r->a.skel->maps.mod_ops, &m, sizeof(m), &r->mods[m],
				       sizeof(r->mods[m]), "module filter");
			r->mod_settled[m] = false;
		}
}

static void on_mod(struct rec *r, const struct py_mod_event *e)
{
	struct pyproc *p = py_try(r, e->pid, false);

	if (p)
		py_set_primary(r, p);
	if (r->primary >= 0 && r->py[r->primary].pid == (pid_t)e->pid && py_pending(r)) {
		/* at the body's start its functions are only in its co_consts */
		py_resolve_mod(r, e->mod < (__u32)r->nmods ? r->mods[e->mod].suffix : NULL,
			       e->at_entry ? e->code : 0);
		r->resolve_every = RESOLVE_MIN_NS;
		if (e->at_entry && e->mod < (__u32)r->nmods)
			mod_settle(r, e->mod);
	}
	/* BPF stopped the process that loaded the module (the launched command or any child). */
	if (e->paused)
		kill(e->pid, SIGCONT);
}

int handle_event(void *ctx, void *data, size_t len)
{
	struct rec *r = ctx;
	__u32 type = *(__u32 *)data;

	/* Another run's leftovers are dropped, but a process they stopped must go on. */
	if (r->discard) {
		if (type == EV_PY_MOD && len >= sizeof(struct py_mod_event) &&
		    ((struct py_mod_event *)data)->paused)
			kill(((struct py_mod_event *)data)->pid, SIGCONT);
		return 0;
	}
	r->s->events++;
	switch (type) {
	case EV_CALL:
		if (len >= sizeof(struct call_event))
			on_call(r, data);
		r->call_events++;
		break;
	case EV_SAMPLE:
		if (len >= sizeof(struct sample_event))
			on_sample(r, data);
		break;
	case EV_PROC:
		if (len >= sizeof(struct proc_rec))
			on_proc(r, data);
		break;
	case EV_PY_MOD:
		if (len >= sizeof(struct py_mod_event))
			on_mod(r, data);
		break;
	}
	return 0;
}

/* Sampled call instances (spans between the first and last sample that saw the op's frame) go
 * into calls[] flagged "sampled": coarse, but they give sampled rows counts and spreads. */
void inst_to_calls(struct rec *r)
{
	for (size_t j = 0; j < r->ninst; j++) {
		struct inst *in = &r->inst[j];
		struct call_rec c = {
			.op = r->op_base + in->op, .iteration = r->o->iteration, .flags = CALL_F_SAMPLED,
			.start_ns = in->start - r->t0, .duration_ns = in->end - in->start,
		};

		if (res(r, in->op)->precision == PREC_SAMPLED)
			session_add_call(r->s, &c);
	}
}
