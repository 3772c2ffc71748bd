// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The recording engine: resolves the spec, launches or attaches, arms probes and hardware
 * breakpoints, and turns ring buffer records into the session. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "attach.h"
#include "opnote.h"
#include "planner.h"
#include "python.h"
#include "record.h"
#include "spec.h"
#include "symbols.h"
#include "util.h"
#include "prof.skel.h"

volatile sig_atomic_t exiting;
static __u64 session_mono0;

#define MAX_PY_PROCS 16
#define POLL_MS 50                  /* ring drain period: bounds event latency (top) */
#define RESOLVE_MIN_NS 200000000ull /* pending py: ops looked up again after 0.2 s, doubling */
/* Sampled call instances: a new one starts when the op's frame address changes on a thread. */
#define MAX_INST 65536
#define INST_SLOTS 256 /* threads told apart per sampled op */

/* PENDING: code not found yet; READY: found, may hold breakpoints (run->armed); EXACT: native
 * or module op, always exact; SAMPLED: cannot be exact. */
enum op_state { OPS_PENDING, OPS_READY, OPS_EXACT, OPS_SAMPLED };

struct pyproc {
	pid_t pid;
	bool ok;
	struct py_target t;
	struct py_symcache *syms;
	/* code address -> op index (or -1), validated by tag */
	struct code_op { __u64 code; __u32 tag; int op; } *map;
	size_t nmap, capmap;
};

struct op_run {
	enum op_state state;
	__u64 code;              /* py: code object in the primary Python process */
	/* exact py: ops: what arming takes, and the breakpoints while armed (see plan_apply) */
	int need;                /* debug registers; 0 while it cannot be exact */
	bool rc;                 /* one-register scheme (refcount watch) rather than entry + returns */
	__u64 bytecode;
	__u32 nret;
	__u32 ret_units[PY_MAX_RET];
	struct bpf_link **links;
	int nlinks;
	bool armed;
	__u64 found_at;          /* when its code was found (0: not now) */
	/* coverage: when it was armed, and when its code existed, this run (see py_coverage) */
	struct span { __u64 a, b; } *armed_iv, *found_iv;
	int narmed, nfound;
	/* sampling */
	__u64 wall_ns, on_ns, off_ns, self_ns;
	__u64 last_frame[INST_SLOTS]; /* per thread (hashed on the full tid): current instance's frame */
	__u64 last_ts[INST_SLOTS];
	int last_inst[INST_SLOTS];
	__u32 last_tid[INST_SLOTS];
};

/* Appends [a, b) (b == 0: still open) to a span list; closes the open one with b. */
static void span_open(struct span **v, int *n, __u64 a)
{
	struct span *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return; /* coverage undercounted, never wrong in the other direction */
	*v = nv;
	nv[(*n)++] = (struct span){ a, 0 };
}

static void span_close(struct span *v, int n, __u64 b)
{
	if (n > 0 && !v[n - 1].b)
		v[n - 1].b = b;
}

struct inst {
	int op;
	__u64 start, end;
};

struct rec {
	struct record_opts *o;
	struct session *s;
	struct attacher a;
	int op_base;             /* session op index of o->ops[0] */
	struct op_run run[MAX_OPS];
	struct pyproc py[MAX_PY_PROCS];
	int npy;
	int primary;             /* index in py[] of the process the breakpoints watch, -1 */
	int slot_budget;         /* debug registers we may use (lowered on ENOSPC) */
	unsigned turn;           /* planner rotation: profile iteration + --rotate periods */
	__u64 last_rotate;
	const char *bp_why;      /* why no op can be exact, NULL if breakpoints work */
	bool want_python;
	bool launched;
	pid_t root;
	bool root_exited;
	int root_status;
	__u64 t0;                /* ktime at session start: call times are relative to it */
	__u64 period_ns;
	struct inst *inst;
	size_t ninst;
	__u64 inst_dropped;      /* sampled call instances past MAX_INST, not counted */
	char interp[PATH_MAX];   /* interpreter ELF known before launch, "" if none */
	__u64 eval_code_off;
	bool paused_pending;     /* target stopped by BPF, waiting for SIGCONT */
	bool eval_attached;      /* PyEval_EvalCode probes in place */
	__u64 last_resolve, resolve_every;
	int nmods;
	struct mod_op mods[MAX_MOD_OPS];
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static bool is_py(const struct op_spec *sp)
{
	return sp->kind == OP_PY || sp->kind == OP_PY_MODULE;
}

static struct op_result *res(struct rec *r, int i)
{
	return &r->s->ops[r->op_base + i];
}

/* ---------------------------------------------------------------- Python processes */

static struct pyproc *py_get(struct rec *r, pid_t pid)
{
	for (int i = 0; i < r->npy; i++)
		if (r->py[i].pid == pid)
			return &r->py[i];
	return NULL;
}

/* Suffix match of a co_filename against FILE_SUFFIX, on a path component boundary. */
static bool suffix_match(const char *file, const char *suffix)
{
	size_t lf = strlen(file), ls = strlen(suffix);

	if (ls > lf)
		return false;
	if (strcmp(file + lf - ls, suffix))
		return false;
	return lf == ls || file[lf - ls - 1] == '/' || suffix[0] == '/';
}

static size_t code_slot(__u64 code, size_t cap)
{
	return (size_t)((code >> 4) * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

static int code_map_grow(struct pyproc *p)
{
	size_t nc = p->capmap ? p->capmap * 2 : 1024;
	struct code_op *m = calloc(nc, sizeof(*m));

	if (!m)
		return -1;
	for (size_t i = 0; i < p->capmap; i++) {
		size_t j;

		if (!p->map[i].code)
			continue;
		for (j = code_slot(p->map[i].code, nc); m[j].code; j = (j + 1) & (nc - 1))
			;
		m[j] = p->map[i];
	}
	free(p->map);
	p->map = m;
	p->capmap = nc;
	return 0;
}

/* Which spec op a code object is, by name (works for code found only in samples). Hashed by
 * address: this runs for every frame of every sample. */
static int op_of_code(struct rec *r, struct pyproc *p, __u64 code, __u32 tag)
{
	const struct py_sym *sym;
	size_t j;
	int op = -1;

	if (!code)
		return -1;
	if ((p->nmap + 1) * 2 > p->capmap && code_map_grow(p))
		return -1;
	for (j = code_slot(code, p->capmap); p->map[j].code; j = (j + 1) & (p->capmap - 1))
		if (p->map[j].code == code) {
			if (p->map[j].tag == tag)
				return p->map[j].op;
			break; /* reused address: look it up again below */
		}
	sym = py_symcache_get(p->syms, code, tag);
	for (int i = 0; sym && i < r->o->nops; i++) {
		const struct op_spec *sp = &r->o->ops[i];

		if (is_py(sp) && suffix_match(sym->file, sp->path) && !strcmp(sym->qualname, sp->symbol)) {
			op = i;
			break;
		}
	}
	if (!p->map[j].code)
		p->nmap++;
	p->map[j] = (struct code_op){ code, tag, op };
	return op;
}

static void py_register(struct rec *r, struct pyproc *p)
{
	struct py_proc v = { .off = p->t.off, .runtime = p->t.runtime };
	__u32 k = p->pid;

	if ((p->t.version_hex >> 16) == 0x030b) {
		/* 3.11 opcode numbers: RESUME, RESUME_QUICK, JUMP_BACKWARD, JUMP_BACKWARD_QUICK */
		static const __u32 ops311[4] = { 151, 150, 140, 38 };

		v.ret_guard = 1;
		memcpy(v.ret_guard_op, ops311, sizeof(ops311));
	}

	attach_map_set(r->a.skel->maps.py_procs, &k, sizeof(k), &v, sizeof(v), "Python process");
}

/* Detects the interpreter of pid; quiet failures are retried later (the loader may not have
 * mapped libpython yet). */
static struct pyproc *py_try(struct rec *r, pid_t pid, bool report)
{
	struct pyproc *p = py_get(r, pid);
	char err[512];

	if (p && p->ok)
		return p;
	if (!p) {
		if (r->npy >= MAX_PY_PROCS)
			return NULL;
		p = &r->py[r->npy++];
		memset(p, 0, sizeof(*p));
		p->pid = pid;
	}
	if (py_detect(pid, &p->t, err, sizeof(err))) {
		if (report)
			session_warn(r->s, "%s", err);
		return NULL;
	}
	p->syms = py_symcache_new(&p->t);
	p->ok = true;
	py_register(r, p);
	/* A launched wrapper (shell script, pyenv shim) exec'd the interpreter: module bodies can be
	 * matched from now on. */
	if (!r->eval_attached && r->nmods && r->launched) {
		__u64 va, off;

		if (!elf_read_symbol_value(p->t.elf_path, "PyEval_EvalCode", &va, NULL) &&
		    !elf_vaddr_to_offset(p->t.elf_path, va, &off) &&
		    !attach_eval_code(&r->a, -1, p->t.elf_path, off, err, sizeof(err))) {
			r->a.skel->data->mod_code_filename = p->t.off.code_filename;
			r->a.skel->data->mod_str_data = p->t.off.str_ascii_data;
			r->eval_attached = true;
		}
	}
	if (r->o->verbose)
		fprintf(stderr, "python %s in pid %d (%s), _PyRuntime at 0x%llx\n", term_safe(p->t.version),
			pid, p->t.elf_path, (unsigned long long)p->t.runtime);
	return p;
}

static void py_release(struct pyproc *p)
{
	py_symcache_free(p->syms);
	free(p->map);
	p->syms = NULL;
	p->map = NULL;
	p->ok = false;
}

/* ---------------------------------------------------------------- exact Python ops */

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
static int code_need(const struct py_code_info *ci, bool rc, char *why, size_t len)
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
static bool rc_ok(const struct py_target *t)
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

static int parent_of(const struct op_spec *ops, int n, int i)
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
static void plan_apply(struct rec *r)
{
	struct plan_op po[MAX_OPS] = {};
	bool want[MAX_OPS];
	int n = r->o->nops;

	if (r->primary < 0)
		return;
	plan_inputs(r, po);
	plan_compute(po, n, r->slot_budget, r->turn, want);
	for (int i = 0; i < n; i++) {
		if (!r->run[i].armed || want[i])
			continue;
		/* Close the door first (BPF ignores new entries), then give up only if no call is
		 * open: one started since plan_inputs keeps the op armed until a later plan. */
		op_code_map(r, i, r->run[i].code | 1);
		if (op_open(r, i))
			op_code_map(r, i, r->run[i].code);
		else
			op_disarm(r, i);
	}
	for (int i = 0; i < n; i++) {
		int e;

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

/* Looks up pending py: ops in the primary process, then re-plans the registers. */
static void py_resolve(struct rec *r)
{
	bool found[MAX_OPS] = {};
	struct pyproc *p;

	if (r->primary < 0)
		return;
	p = &r->py[r->primary];
	for (int i = 0; i < r->o->nops; i++) {
		struct op_run *run = &r->run[i];
		__u64 code = 0;

		if (r->o->ops[i].kind != OP_PY)
			continue;
		if (run->state != OPS_PENDING && !(run->state == OPS_SAMPLED && !run->code))
			continue;
		if (py_find_function_why(&p->t, r->o->ops[i].path, r->o->ops[i].symbol, &code,
					 res(r, i)->note, sizeof(res(r, i)->note)) != 1)
			continue;
		run->code = code;
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

static bool py_pending(struct rec *r)
{
	for (int i = 0; i < r->o->nops; i++)
		if (r->o->ops[i].kind == OP_PY && (r->run[i].state == OPS_PENDING ||
						   (r->run[i].state == OPS_SAMPLED && !r->run[i].code)))
			return true;
	return false;
}

static void py_set_primary(struct rec *r, struct pyproc *p)
{
	if (r->primary >= 0 || !p)
		return;
	r->primary = p - r->py;
	py_resolve(r);
}

/* The primary Python process exited or exec'd: its breakpoints watch freed memory now. Calls
 * recorded so far stay exact; the ops wait for the next Python process. */
static void py_drop_primary(struct rec *r)
{
	__u64 t = now_ns();

	for (int i = 0; i < r->o->nops; i++) {
		struct op_run *run = &r->run[i];

		if (r->o->ops[i].kind != OP_PY)
			continue;
		op_disarm(r, i);
		span_close(run->found_iv, run->nfound, t);
		run->found_at = 0;
		if (run->state == OPS_READY || (run->state == OPS_SAMPLED && run->code)) {
			run->state = OPS_PENDING;
			run->code = 0;
		}
	}
	r->primary = -1;
}

/* ---------------------------------------------------------------- events */

static void on_call(struct rec *r, const struct call_event *e)
{
	struct call_rec c = {
		.op = e->op_id,
		.pid = e->pid,
		.tid = e->tid,
		.iteration = r->o->iteration,
		.flags = e->flags,
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

static void on_sample(struct rec *r, const struct sample_event *e)
{
	struct pyproc *p = py_get(r, e->pid);
	char stack[8192];
	size_t len = 0;
	int ops_in[PY_MAX_FRAMES], nops_in = 0, outer = -1, inner = -1;
	bool on = e->kind == SAMPLE_ON_CPU;
	__u32 n = e->nframes < PY_MAX_FRAMES ? e->nframes : PY_MAX_FRAMES;

	r->s->samples++;
	if (!p || !p->ok)
		return;
	stack[0] = 0;
	/* Outermost first, as folded stacks are written. */
	for (int i = (int)n - 1; i >= 0; i--) {
		const struct py_frame_rec *f = &e->frames[i];
		const struct py_sym *sym = py_symcache_get(p->syms, f->code, f->tag);
		int op = op_of_code(r, p, f->code, f->tag);
		char file[256];
		int w;

		if (op >= 0) {
			bool seen = false;

			for (int j = 0; j < nops_in; j++)
				seen |= ops_in[j] == op;
			if (!seen) {
				ops_in[nops_in++] = op;
				inst_note(r, op, e->tid, f->frame, e->ts_ns, e->weight_ns);
			}
			if (outer < 0)
				outer = op;
			inner = op;
		}
		if (sym)
			short_file(sym->file, file, sizeof(file));
		w = snprintf(stack + len, sizeof(stack) - len, ";%s (%s)", sym ? sym->qualname : "?",
			     sym ? file : "?");
		if (w < 0 || (size_t)w >= sizeof(stack) - len)
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
	{
		char full[8448], top[NAME_MAX_LEN];

		if (outer >= 0) {
			snprintf(top, sizeof(top), "%s", r->o->ops[outer].name);
			char *dot = strchr(top, '.');
			if (dot)
				*dot = 0;
		} else {
			snprintf(top, sizeof(top), "(other)");
		}
		snprintf(full, sizeof(full), "%s%s", top, stack);
		session_add_stack(r->s, full, on ? e->weight_ns : 0, on ? 0 : e->weight_ns);
	}
}

static void resume_target(struct rec *r)
{
	if (r->paused_pending) {
		kill(r->root, SIGCONT);
		r->paused_pending = false;
	}
}

/* Python process PID exited or exec'd: its breakpoints and BPF entry go. Its symbols stay, for
 * samples already queued. Returns it, or NULL. */
static struct pyproc *py_forget(struct rec *r, pid_t pid)
{
	struct pyproc *p = py_get(r, pid);
	__u32 k = pid;

	if (p && r->primary == p - r->py)
		py_drop_primary(r);
	if (p && p->ok)
		bpf_map__delete_elem(r->a.skel->maps.py_procs, &k, sizeof(k), 0);
	return p;
}

static void on_proc(struct rec *r, const struct proc_rec *e)
{
	if (e->kind == PROC_EXEC && r->want_python) {
		struct pyproc *p = py_forget(r, e->pid);

		/* A new image: detect its interpreter afresh. */
		if (p)
			p->pid = -1;
		py_try(r, e->pid, false);
	} else if (e->kind == PROC_EXIT) {
		py_forget(r, e->pid);
		if ((pid_t)e->pid == r->root && !r->launched) {
			r->root_exited = true;
			r->root_status = e->exit_code;
		}
	}
}

static void on_mod(struct rec *r, const struct py_mod_event *e)
{
	struct pyproc *p = py_try(r, e->pid, false);

	if (p)
		py_set_primary(r, p);
	if (r->primary >= 0 && r->py[r->primary].pid == (pid_t)e->pid && py_pending(r)) {
		py_resolve(r);
		r->resolve_every = RESOLVE_MIN_NS;
	}
	if (e->paused) {
		r->paused_pending = true;
		resume_target(r);
	}
}

static int handle_event(void *ctx, void *data, size_t len)
{
	struct rec *r = ctx;
	__u32 type = *(__u32 *)data;

	r->s->events++;
	switch (type) {
	case EV_CALL:
		if (len >= sizeof(struct call_event))
			on_call(r, data);
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

/* ---------------------------------------------------------------- setup */

/* The interpreter ELF a launched command will run (python binary or its libpython), from the
 * command itself or its #! line; "" if it is not Python. */
static void find_interp(const char *bin, char *out, size_t len)
{
	char line[PATH_MAX], path[PATH_MAX], lib[PATH_MAX];
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "%s", bin);
	f = fopen(bin, "r");
	if (f) {
		if (fgets(line, sizeof(line), f) && !strncmp(line, "#!", 2)) {
			char *a = line + 2, *b;

			a += strspn(a, " \t");
			a[strcspn(a, "\r\n")] = 0;
			b = strpbrk(a, " \t");
			if (b && strstr(a, "env")) {
				b += strspn(b, " \t");
				b[strcspn(b, " \t")] = 0;
				if (resolve_binary(b, path, sizeof(path)))
					path[0] = 0;
			} else {
				if (b)
					*b = 0;
				if (resolve_binary(a, path, sizeof(path)))
					path[0] = 0;
			}
		}
		fclose(f);
	}
	if (!path[0])
		return;
	if (elf_has_symbol(path, "_PyRuntime")) {
		snprintf(out, len, "%s", path);
		return;
	}
	/* A shared build: the libpython it links, next to it (pyenv: ../lib) or on the search path. */
	{
		char name[128], d[PATH_MAX];

		if (elf_needed(path, "libpython", name, sizeof(name)))
			return;
		snprintf(d, sizeof(d), "%s", path);
		snprintf(lib, sizeof(lib), "%s/../lib/%s", dirname(d), name);
		if ((!access(lib, R_OK) || !resolve_lib_search(name, lib, sizeof(lib))) &&
		    realpath(lib, out) && elf_has_symbol(out, "_PyRuntime"))
			return;
		out[0] = 0;
	}
}

static int setup_mods(struct rec *r)
{
	/* Module-body ops are timed; files of function ops announce themselves when loaded. */
	for (int i = 0; i < r->o->nops && r->nmods < MAX_MOD_OPS; i++) {
		const struct op_spec *sp = &r->o->ops[i];
		struct mod_op *m = NULL;

		if (!is_py(sp))
			continue;
		for (int j = 0; j < r->nmods; j++)
			if (!strcmp(r->mods[j].suffix, sp->path))
				m = &r->mods[j];
		if (!m) {
			if (strlen(sp->path) >= MOD_SUFFIX_MAX)
				continue;
			m = &r->mods[r->nmods++];
			memset(m, 0, sizeof(*m));
			m->op_id = ~0u;
			m->len = strlen(sp->path);
			memcpy(m->suffix, sp->path, m->len);
		}
		if (sp->kind == OP_PY_MODULE) {
			m->flags |= MOD_F_TIME;
			m->op_id = r->op_base + i;
		} else {
			m->flags |= MOD_F_NOTIFY | (r->launched ? MOD_F_PAUSE : 0);
		}
	}
	return 0;
}

/* Native ops: file and offset; any failure is an input error. */
static int resolve_native(struct rec *r, int i, char *path, __u64 *off, char *err, size_t errlen)
{
	const struct op_spec *sp = &r->o->ops[i];

	if (resolve_native_path(sp->path, r->o->pid, path, PATH_MAX)) {
		snprintf(err, errlen, "probe '%s': cannot find '%s'%s", sp->name, sp->path,
			 r->o->pid ? " in the target's mappings or the library path" : "");
		return -1;
	}
	if (elf_sym_offset(path, sp->symbol, off, NULL, err, errlen))
		return -1;
	return 0;
}

/* Two ops on one probe site (one function, or aliases such as malloc/__libc_malloc) would
 * pop each other's frames (returns come in entry order): refuse rather than count wrong. */
static int same_site(struct rec *r, int i, char (*npath)[PATH_MAX], const __u64 *noff, char *err,
		     size_t errlen)
{
	struct stat a, b;

	if (stat(npath[i], &a))
		return 0;
	for (int j = 0; j < i; j++) {
		if (r->o->ops[j].kind != OP_NATIVE || noff[j] != noff[i] || stat(npath[j], &b) ||
		    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
			continue;
		snprintf(err, errlen, "probes '%s' and '%s' are on the same function (%s+0x%llx): "
			 "use one op per function", r->o->ops[j].name, r->o->ops[i].name, npath[i],
			 (unsigned long long)noff[i]);
		return -1;
	}
	return 0;
}

static void host_info(struct session *s)
{
	struct utsname u;

	if (!uname(&u))
		snprintf(s->kernel, sizeof(s->kernel), "%s", u.release);
	s->cpus = sysconf(_SC_NPROCESSORS_ONLN);
}

static void cmdline_of(pid_t pid, char *out, size_t len)
{
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	out[0] = 0;
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(out, 1, len - 1, f);
	fclose(f);
	out[n] = 0;
	for (size_t i = 0; i + 1 < n; i++)
		if (!out[i])
			out[i] = ' ';
}

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

	for (size_t j = 0; j < r->s->ncalls; j++) {
		const struct call_rec *c = &r->s->calls[j];
		__u64 a = c->start_ns + r->t0;

		if (c->iteration != r->o->iteration || (c->flags & (CALL_F_SAMPLED | CALL_F_OPEN)))
			continue;
		mine += c->op == k;
		if (c->op == pk) {
			pw += c->duration_ns;
			pwatched += span_overlap(run->armed_iv, run->narmed, a, a + c->duration_ns, t);
		}
	}
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
		.enospc = r->slot_budget < r->o->max_breakpoints };

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
	else if (run->state == OPS_PENDING && !or->note[0] && !run->wall_ns)
		snprintf(or->note, sizeof(or->note), r->npy ? "function not found in the target "
			 "(module never imported?)" : "no Python interpreter seen");
}

/* Finishes sampled ops and open calls after the loop. */
static void finish(struct rec *r)
{
	struct prof_bpf *skel = r->a.skel;
	struct bpf_stats st = skel->bss->stats;

	r->s->dropped_events += st.calls_dropped + st.samples_dropped + st.proc_dropped;
	r->s->dropped_calls += st.calls_dropped;
	if (r->o->verbose)
		fprintf(stderr, "bpf: calls %llu (dropped %llu), samples %llu (dropped %llu), breakpoint hits "
			"%llu, no tstate %llu, orphan returns %llu, depth overflow %llu, rss events %llu, return "
			"reads that were no return %llu\n",
			(unsigned long long)st.calls, (unsigned long long)st.calls_dropped,
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

	for (int i = 0; i < r->o->nops; i++) {
		struct op_result *or = res(r, i);
		struct op_run *run = &r->run[i];
		__u32 k = r->op_base + i;
		struct op_agg agg;

		if (!bpf_map__lookup_elem(skel->maps.aggs, &k, sizeof(k), &agg, sizeof(agg), 0) && agg.count) {
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
	/* Sampled call instances (spans between the first and last sample that saw the op's frame)
	 * go into calls[] flagged "sampled": coarse, but they give sampled rows counts and spreads. */
	for (size_t j = 0; j < r->ninst; j++) {
		struct inst *in = &r->inst[j];
		struct call_rec c = {
			.op = r->op_base + in->op, .iteration = r->o->iteration, .flags = CALL_F_SAMPLED,
			.start_ns = in->start - r->t0, .duration_ns = in->end - in->start,
		};

		if (res(r, in->op)->precision == PREC_SAMPLED)
			session_add_call(r->s, &c);
	}
	/* Calls still open at the end: recorded, flagged, not in the statistics. */
	{
		__u32 key, next, *prev = NULL;
		struct thread_state_u {
			__u64 oncpu_acc, in_ts;
			__u32 depth, overflow;
			struct { __u64 start_ns, oncpu_start, rss_start, rss_peak, key; __u32 op_id, pad; } f[MAX_DEPTH];
		} ts;
		__u64 kt = now_ns();

		while (!bpf_map__get_next_key(skel->maps.threads, prev, &next, sizeof(next))) {
			key = next;
			prev = &key;
			if (bpf_map__lookup_elem(skel->maps.threads, &key, sizeof(key), &ts, sizeof(ts), 0))
				continue;
			for (__u32 d = 0; d < ts.depth && d < MAX_DEPTH; d++) {
				struct call_rec c = {
					.op = ts.f[d].op_id, .tid = key, .iteration = r->o->iteration,
					.flags = CALL_F_OPEN, .depth = d,
					.start_ns = ts.f[d].start_ns - r->t0,
					.duration_ns = kt - ts.f[d].start_ns,
					.rss_start = ts.f[d].rss_start, .rss_end = ts.f[d].rss_peak,
					.rss_peak = ts.f[d].rss_peak,
				};
				if (c.op < (unsigned)r->s->nops)
					session_add_call(r->s, &c);
			}
		}
	}
}

static void progress(struct rec *r, __u64 start)
{
	if (!r->o->progress || r->o->quiet || !isatty(2))
		return;
	fprintf(stderr, "\r%s, %.1fs elapsed ", r->o->progress, (now_ns() - start) / 1e9);
}

int record_run(struct record_opts *o, struct session *s, char *err, size_t errlen)
{
	struct attach_cfg cfg = { .mod_code_filename = -1, .mod_str_data = 40 };
	struct ring_buffer *rb = NULL;
	struct rec *r;
	char bin[PATH_MAX] = "";
	int pipefd[2] = { -1, -1 };
	pid_t child = 0;
	int rc = 1, n_native = 0, n_py = 0;
	__u64 start, deadline = 0, last_tick;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return 1;
	}
	r->inst = calloc(MAX_INST, sizeof(*r->inst));
	if (!r->inst) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return 1;
	}
	r->o = o;
	r->s = s;
	r->primary = -1;
	r->resolve_every = RESOLVE_MIN_NS;
	r->turn = o->iteration;
	r->slot_budget = o->max_breakpoints;
	r->period_ns = 1000000000ull / (o->hz > 0 ? o->hz : 999);
	for (int i = 0; i < o->nops; i++)
		for (int j = 0; j < INST_SLOTS; j++)
			r->run[i].last_inst[j] = -1;

	/* Input errors first: nothing is attached or launched before the spec holds. */
	if (attach_preflight(err, errlen)) {
		rc = 2;
		goto cleanup;
	}
	if (o->pid > 0) {
		if (kill(o->pid, 0) && errno == ESRCH) {
			snprintf(err, errlen, "pid %d: no such process", o->pid);
			rc = 2;
			goto cleanup;
		}
		r->root = o->pid;
	} else if (o->cmd && o->cmd[0]) {
		if (resolve_binary(o->cmd[0], bin, sizeof(bin))) {
			snprintf(err, errlen, "%s: command not found", o->cmd[0]);
			rc = 2;
			goto cleanup;
		}
		r->launched = true;
	} else {
		snprintf(err, errlen, "record needs -p PID or -- COMMAND");
		rc = 2;
		goto cleanup;
	}

	/* Ops into the session (first run) or matched against it (later runs). */
	if (s->nops == 0) {
		host_info(s);
		iso8601_now(s->started_at, sizeof(s->started_at));
		snprintf(s->source_format, sizeof(s->source_format), SCHEMA_ID);
		for (int i = 0; i < o->nops; i++) {
			int k = session_add_op(s, o->ops[i].name, o->ops[i].kind,
					       o->ops[i].kind == OP_NATIVE || o->ops[i].kind == OP_PY_MODULE ?
					       PREC_EXACT : PREC_SAMPLED);
			if (k < 0) {
				snprintf(err, errlen, "too many operations (max %d)", MAX_OPS);
				rc = 2;
				goto cleanup;
			}
			snprintf(s->ops[k].function, DESC_MAX_LEN, "%s:%s", o->ops[i].path, o->ops[i].symbol);
		}
	}
	r->op_base = session_find_op(s, o->ops[0].name);
	if (r->op_base < 0) {
		snprintf(err, errlen, "internal: spec does not match the session");
		goto cleanup;
	}
	for (int i = 0; i < o->nops; i++) {
		if (o->ops[i].kind == OP_NATIVE)
			n_native++;
		else
			n_py++;
	}
	r->want_python = n_py > 0 || o->hz > 0;
	if (r->want_python && o->hz > 0)
		s->sample_hz = o->hz;

	/* Native ops resolve now: a wrong name is a usage error, not an empty report. */
	char (*npath)[PATH_MAX] = calloc(o->nops, PATH_MAX);
	__u64 *noff = calloc(o->nops, sizeof(__u64));
	if (!npath || !noff) {
		free(npath);
		free(noff);
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	for (int i = 0; i < o->nops; i++) {
		if (o->ops[i].kind != OP_NATIVE)
			continue;
		if (resolve_native(r, i, npath[i], &noff[i], err, errlen) ||
		    same_site(r, i, npath, noff, err, errlen)) {
			free(npath);
			free(noff);
			rc = 2;
			goto cleanup;
		}
		snprintf(res(r, i)->function, DESC_MAX_LEN, "%s:%s", npath[i], o->ops[i].symbol);
		res(r, i)->resolved = true;
	}

	/* Python: the interpreter is known now (-p) or from the command's ELF / #! line. */
	struct py_target pre = {};
	if (r->want_python) {
		if (o->pid > 0) {
			char perr[512];

			if (py_detect(o->pid, &pre, perr, sizeof(perr))) {
				if (n_native == 0) {
					snprintf(err, errlen, "%s", perr);
					free(npath);
					free(noff);
					rc = 2;
					goto cleanup;
				}
				if (n_py > 0)
					session_warn(s, "%s: py: operations not profiled", perr);
			} else {
				snprintf(r->interp, sizeof(r->interp), "%s", pre.elf_path);
			}
		} else {
			find_interp(bin, r->interp, sizeof(r->interp));
			if (r->interp[0]) {
				__u64 v = 0, va;
				__u32 hex = 0;

				if (!elf_read_symbol_value(r->interp, "Py_Version", &va, NULL) &&
				    !elf_read_vaddr(r->interp, va, &hex, sizeof(hex)))
					v = hex;
				pre.version_hex = v;
				if (!v || py_offsets_for(&pre, NULL, 0))
					pre.version_hex = 0;
			}

		}
		if (r->interp[0] && pre.version_hex) {
			__u64 va;

			cfg.mod_code_filename = pre.off.code_filename;
			cfg.mod_str_data = pre.off.str_ascii_data;
			if (!elf_read_symbol_value(r->interp, "PyEval_EvalCode", &va, NULL))
				elf_vaddr_to_offset(r->interp, va, &r->eval_code_off);
		}
	}
	setup_mods(r);
	if (o->verbose && r->want_python)
		fprintf(stderr, "interpreter before start: %s (version 0x%x, PyEval_EvalCode at +0x%llx, "
			"co_filename at %d), %d module filter(s)\n", r->interp[0] ? r->interp : "unknown",
			pre.version_hex, (unsigned long long)r->eval_code_off, cfg.mod_code_filename, r->nmods);
	if (n_py > 0) {
		int st = attach_bp_selftest();

		if (st == 0)
			r->bp_why = "hardware breakpoints do not fire on this machine (self-test)";
		else if (st == -ENOSPC)
			r->bp_why = "no free debug register (ENOSPC)";
		else if (st < 0)
			r->bp_why = "hardware breakpoints unavailable";
		if (r->bp_why) {
			session_warn(s, "%s: py: function operations are timed from stack samples (precision "
				     "\"sampled\"); native ops and module bodies stay exact", r->bp_why);
			/* Nothing to arm: holding the target at each module load would only cost time;
			 * the loads still say which functions exist (the reasons of ops not seen). */
			for (int m = 0; m < r->nmods; m++)
				r->mods[m].flags &= ~MOD_F_PAUSE;
		}
	}


	/* Call times are relative to the session's first run, so profile iterations line up; taken
	 * before anything is armed, so no call starts before it. */
	if (!session_mono0)
		session_mono0 = now_ns();
	r->t0 = session_mono0;
	cfg.nops = s->nops;
	cfg.follow_children = r->launched;
	cfg.want_native = n_native > 0;
	cfg.want_python = r->want_python;
	cfg.want_sampling = r->want_python && o->hz > 0;
	cfg.sample_offcpu = cfg.want_sampling && o->offcpu;
	cfg.nr_mod_ops = r->nmods;
	cfg.verbose = o->verbose;
	if (attach_open_load(&r->a, &cfg, err, errlen)) {
		free(npath);
		free(noff);
		goto cleanup;
	}
	for (int m = 0; m < r->nmods; m++) {
		__u32 k = m;

		attach_map_set(r->a.skel->maps.mod_ops, &k, sizeof(k), &r->mods[m], sizeof(r->mods[m]),
			       "module filter");
	}
	r->a.skel->bss->want_mod_events = py_pending(r);

	/* Launch: the child waits on a pipe until every probe is in place. */
	if (r->launched) {
		if (pipe2(pipefd, O_CLOEXEC)) {
			snprintf(err, errlen, "pipe: %s", strerror(errno));
			goto cleanup_paths;
		}
		child = fork();
		if (child < 0) {
			snprintf(err, errlen, "fork: %s", strerror(errno));
			goto cleanup_paths;
		}
		if (child == 0) {
			char c;

			close(pipefd[1]);
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			if (read(pipefd[0], &c, 1) != 1)
				_exit(127);
			execvp(o->cmd[0], o->cmd);
			fprintf(stderr, "ragd-bpfprof: %s: %s\n", o->cmd[0], strerror(errno));
			_exit(127);
		}
		close(pipefd[0]);
		pipefd[0] = -1;
		r->root = child;
	}
	if (attach_add_pid(&r->a, r->root)) {
		snprintf(err, errlen, "cannot trace pid %d (BPF map update failed)", r->root);
		goto cleanup_paths;
	}
	s->pid = r->root;
	if (!s->command[0]) {
		if (r->launched) {
			size_t len = 0;

			for (int i = 0; o->cmd[i] && len < sizeof(s->command) - 1; i++)
				len += snprintf(s->command + len, sizeof(s->command) - len, "%s%s", i ? " " : "",
						o->cmd[i]);
		} else {
			cmdline_of(o->pid, s->command, sizeof(s->command));
		}
	}

	{
		/* -p: the target's own mm (all its threads); launch: every process, BPF keeps the tree. */
		pid_t upid = r->launched ? -1 : o->pid;

		for (int i = 0; i < o->nops; i++) {
			if (o->ops[i].kind != OP_NATIVE)
				continue;
			if (attach_uprobe_pair(&r->a, r->op_base + i, upid, npath[i], noff[i], err, errlen))
				goto cleanup_paths;
			r->run[i].state = OPS_EXACT;
		}
		if (r->want_python && r->interp[0] && r->eval_code_off && r->nmods) {
			if (attach_eval_code(&r->a, upid, r->interp, r->eval_code_off, err, errlen))
				goto cleanup_paths;
			r->eval_attached = true;
			for (int i = 0; i < o->nops; i++)
				if (o->ops[i].kind == OP_PY_MODULE)
					r->run[i].state = OPS_EXACT;
		}
		for (int i = 0; i < o->nops; i++)
			if (o->ops[i].kind == OP_PY_MODULE && r->run[i].state != OPS_EXACT && !r->launched) {
				r->run[i].state = OPS_SAMPLED;
				res(r, i)->precision = PREC_SAMPLED;
				snprintf(res(r, i)->note, DESC_MAX_LEN, "%s", r->launched ?
					 "module body: timed from samples (interpreter not known before start)" :
					 "module body already ran before attach: timed from samples");
			}
	}
	if (r->want_python && o->hz > 0 && attach_sampler(&r->a, o->hz, err, errlen))
		goto cleanup_paths;
	if (o->pid > 0 && r->want_python && pre.version_hex && pre.runtime) {
		struct pyproc *p = py_try(r, o->pid, true);

		py_set_primary(r, p);
		r->a.skel->bss->want_mod_events = py_pending(r);
	}

	rb = ring_buffer__new(bpf_map__fd(r->a.skel->maps.events), handle_event, r, NULL);
	if (!rb) {
		snprintf(err, errlen, "cannot create ring buffer: %s", strerror(errno));
		goto cleanup_paths;
	}
	start = now_ns();
	if (o->duration > 0)
		deadline = start + (__u64)(o->duration * 1e9);
	if (r->launched) {
		if (write(pipefd[1], "x", 1) != 1) {
			snprintf(err, errlen, "cannot start %s", o->cmd[0]);
			goto cleanup_paths;
		}
		close(pipefd[1]);
		pipefd[1] = -1;
	}
	if (!o->quiet && o->verbose)
		fprintf(stderr, "recording %d operation(s) in pid %d%s\n", o->nops, r->root,
			o->duration > 0 ? "" : "; Ctrl-C to stop");

	last_tick = r->last_rotate = start;
	while (!exiting) {
		/* Poll fast until a launched interpreter is found: its imports start within ms. */
		/* BPF wakes us only when the ring fills (see rb_wakeup): drain it every period. */
		int e = ring_buffer__poll(rb, r->want_python && r->primary < 0 ? 5 : POLL_MS);
		__u64 t;

		if (e >= 0)
			e = ring_buffer__consume(rb);
		t = now_ns();

		if (e < 0 && e != -EINTR) {
			snprintf(err, errlen, "ring buffer: %s", strerror(-e));
			break;
		}
		if (r->launched && !r->root_exited) {
			int status;

			if (waitpid(child, &status, WNOHANG) == child) {
				r->root_exited = true;
				r->root_status = status;
			}
		}
		if (r->root_exited)
			break;
		if (!r->launched && kill(r->root, 0) && errno == ESRCH) {
			r->root_exited = true;
			r->root_status = -1;
			break;
		}
		if (deadline && t >= deadline)
			break;
		/* The loader may map libpython after exec; modules may load without our notice. */
		if (r->want_python && r->primary < 0 && t - r->last_resolve > 5000000ull) {
			struct pyproc *p = py_try(r, r->root, false);

			py_set_primary(r, p);
			r->last_resolve = t;
		}
		if (o->rotate > 0 && r->primary >= 0 && t - r->last_rotate >= o->rotate * 1e9) {
			r->turn++;
			r->last_rotate = t;
			plan_apply(r);
		}
		/* Modules announce themselves (EV_PY_MOD); this catches the rest, backing off. */
		if (r->primary >= 0 && py_pending(r) && t - r->last_resolve > r->resolve_every) {
			py_resolve(r);
			if (r->resolve_every < 5000000000ull)
				r->resolve_every *= 2;
		}
		r->a.skel->bss->want_mod_events = py_pending(r);
		if (t - last_tick >= 1000000000ull) {
			progress(r, start);
			last_tick = t;
			if (o->tick) {
				/* Live views see sampled ops' attributed time as it grows. */
				for (int i = 0; i < o->nops; i++)
					if (res(r, i)->precision == PREC_SAMPLED) {
						res(r, i)->total_ns = r->run[i].wall_ns;
						res(r, i)->on_cpu_ns = r->run[i].on_ns;
					}
				if (o->tick(s, o->tick_arg))
					break;
			}
		}
	}
	ring_buffer__consume(rb);
	resume_target(r);
	if (r->launched && !r->root_exited) {
		/* Stopped by -d or a signal: the command we started ends with the recording (like perf
		 * record), SIGTERM first, SIGKILL if it lingers. Its end is still recorded. */
		int status;

		kill(child, SIGTERM);
		kill(child, SIGCONT);
		for (int i = 0; i < 40 && waitpid(child, &status, WNOHANG) == 0; i++)
			usleep(50000);
		if (waitpid(child, &status, WNOHANG) == 0) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
		}
		r->root_exited = true;
		r->root_status = status;
		ring_buffer__consume(rb);
	}
	if (r->root_exited) {
		int st = r->root_status;

		s->has_exit_code = st >= 0;
		if (st >= 0)
			s->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	if (r->want_python && r->npy == 0 && n_py > 0)
		session_warn(s, "no Python interpreter found in pid %d: py: operations not profiled", r->root);
	finish(r);
	if (o->progress && !o->quiet && isatty(2))
		fputc('\n', stderr);
	rc = 0;

cleanup_paths:
	free(npath);
	free(noff);
cleanup:
	ring_buffer__free(rb);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	for (int i = 0; i < o->nops; i++)
		for (int j = 0; j < r->run[i].nlinks; j++)
			bpf_link__destroy(r->run[i].links[j]);
	if (r->a.skel)
		attach_destroy(&r->a);
	/* A launched command we could not start must not be left waiting. */
	if (child > 0 && rc != 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	for (int i = 0; i < r->npy; i++)
		py_release(&r->py[i]);
	for (int i = 0; i < o->nops; i++) {
		free(r->run[i].links);
		free(r->run[i].armed_iv);
		free(r->run[i].found_iv);
	}
	iso8601_now(s->ended_at, sizeof(s->ended_at));
	free(r->inst);
	free(r);
	return rc;
}

/* ---------------------------------------------------------------- probes */

int record_probes(struct record_opts *o, FILE *out, char *err, size_t errlen)
{
	struct py_target t = {};
	char bin[PATH_MAX] = "", interp[PATH_MAX] = "", perr[512] = "";
	bool live = o->pid > 0, have_py = false;
	int order[MAX_OPS], budget = o->max_breakpoints;
	struct plan_op po[MAX_OPS] = {};
	bool want[MAX_OPS];
	int nexact = 0, nsampled = 0, nmissing = 0;
	const char *why[MAX_OPS] = {};
	char detail[MAX_OPS][320];

	if (live) {
		if (kill(o->pid, 0) && errno == ESRCH) {
			snprintf(err, errlen, "pid %d: no such process", o->pid);
			return 2;
		}
		if (geteuid() != 0) {
			snprintf(err, errlen, "must run as root to read another process's memory");
			return 2;
		}
		have_py = !py_detect(o->pid, &t, perr, sizeof(perr));
		if (have_py)
			snprintf(interp, sizeof(interp), "%s", t.elf_path);
		fprintf(out, "target:       pid %d\n", o->pid);
	} else {
		if (resolve_binary(o->cmd[0], bin, sizeof(bin))) {
			snprintf(err, errlen, "%s: command not found", o->cmd[0]);
			return 2;
		}
		find_interp(bin, interp, sizeof(interp));
		if (interp[0]) {
			__u64 va;
			__u32 hex = 0;

			if (!elf_read_symbol_value(interp, "Py_Version", &va, NULL) &&
			    !elf_read_vaddr(interp, va, &hex, sizeof(hex)))
				t.version_hex = hex;
			snprintf(t.version, sizeof(t.version), "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff,
				 (hex >> 8) & 0xff);
			have_py = t.version_hex && !py_offsets_for(&t, perr, sizeof(perr));
		} else {
			snprintf(perr, sizeof(perr), "%s is not a Python interpreter or script", bin);
		}
		fprintf(out, "target:       %s (not started: py: functions are looked up when their "
			"module is imported)\n", bin);
	}
	if (interp[0] || have_py)
		fprintf(out, "interpreter:  %s, CPython %s: %s\n", interp[0] ? interp : "?", t.version,
			have_py ? "supported" : perr);
	else
		fprintf(out, "interpreter:  none (%s)\n", perr);
	if (interp[0]) {
		char names[64][64];
		int n = elf_usdt_list(interp, names, 64);

		fprintf(out, "usdt probes:  ");
		if (n <= 0)
			fprintf(out, "none (not built with --with-dtrace)");
		for (int i = 0; i < n; i++)
			fprintf(out, "%s%s", i ? ", " : "", names[i]);
		fprintf(out, "\n");
	}
	{
		int st = attach_bp_selftest();

		if (st <= 0) {
			budget = 0;
			fprintf(out, "debug registers: self-test failed: %s: py: functions will be sampled\n\n", st == 0 ?
				"hardware breakpoints do not fire on this machine (self-test)" :
				st == -ENOSPC ? "none free (ENOSPC)" : "unavailable");
		} else {
			fprintf(out, "debug registers: self-test passed (hardware breakpoints fire here); %d per "
				"CPU for exact Python operations\n\n", budget);
		}
	}

	spec_priority(o->ops, o->nops, order);
	for (int k = 0; k < o->nops; k++) {
		int i = order[k];
		const struct op_spec *sp = &o->ops[i];
		char path[PATH_MAX], e2[512];
		__u64 off = 0, code = 0;

		detail[i][0] = 0;
		po[i].parent = parent_of(o->ops, o->nops, i);
		po[i].top = !strchr(sp->name, '.');
		if (sp->kind == OP_NATIVE) {
			if (resolve_native_path(sp->path, o->pid, path, sizeof(path)) ||
			    elf_sym_offset(path, sp->symbol, &off, NULL, e2, sizeof(e2))) {
				why[i] = "not found";
				snprintf(detail[i], sizeof(detail[i]), "%s", e2[0] ? e2 : sp->path);
				nmissing++;
			} else {
				why[i] = "exact (uprobe)";
				snprintf(detail[i], sizeof(detail[i]), "%s+0x%llx", path, (unsigned long long)off);
				nexact++;
			}
			continue;
		}
		if (!have_py) {
			why[i] = "not profiled";
			snprintf(detail[i], sizeof(detail[i]), "no supported interpreter");
			nmissing++;
			continue;
		}
		if (sp->kind == OP_PY_MODULE) {
			why[i] = live ? "sampled" : "exact (PyEval_EvalCode uprobe)";
			snprintf(detail[i], sizeof(detail[i]), live ? "module body ran before attach" :
				 "module body of %s", sp->path);
			live ? nsampled++ : nexact++;
			continue;
		}
		if (!live) {
			why[i] = "pending";
			snprintf(detail[i], sizeof(detail[i]), "looked up when %s is imported", sp->path);
			continue;
		}
		struct py_code_info ci;
		char cwhy[64];

		if (py_find_function_why(&t, sp->path, sp->symbol, &code, detail[i], sizeof(detail[i])) != 1 ||
		    py_code_read(&t, code, &ci)) {
			why[i] = "not found";
			if (!detail[i][0])
				snprintf(detail[i], sizeof(detail[i]), "no %s in a loaded module ending %s (yet)",
					 sp->symbol, sp->path);
			nmissing++;
			continue;
		}
		po[i].need = budget ? code_need(&ci, rc_ok(&t), cwhy, sizeof(cwhy)) : 0;
		why[i] = "sampled";
		if (!budget)
			snprintf(cwhy, sizeof(cwhy), "no usable debug registers");
		snprintf(detail[i], sizeof(detail[i]), "code 0x%llx: %s", (unsigned long long)code,
			 po[i].need ? "no debug register left" : cwhy);
		if (po[i].need)
			snprintf(detail[i], sizeof(detail[i]), "code 0x%llx, %u return site(s), line %d",
				 (unsigned long long)code, ci.nret, ci.firstlineno);
	}
	/* The plan record would start with (it re-plans as ops run and every --rotate period). */
	plan_compute(po, o->nops, budget, 0, want);
	for (int i = 0; i < o->nops; i++) {
		if (!why[i] || strcmp(why[i], "sampled"))
			continue;
		if (want[i]) {
			why[i] = "exact (breakpoints)";
			nexact++;
		} else {
			if (po[i].need)
				snprintf(detail[i] + strlen(detail[i]), sizeof(detail[i]) - strlen(detail[i]),
					 ": registers go to higher-priority ops");
			nsampled++;
		}
	}
	fprintf(out, "%-22s %-24s %s\n", "OPERATION", "PRECISION", "WHERE / WHY");
	for (int i = 0; i < o->nops; i++)
		fprintf(out, "%-22s %-24s %s\n", o->ops[i].name, why[i] ? why[i] : "?", detail[i]);
	o->not_found = nmissing;
	fprintf(out, "\n%d exact, %d sampled, %d not found%s\n", nexact, nsampled, nmissing,
		live ? "" : " (function ops are resolved at run time)");
	return 0;
}
