/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The recorder's insides, shared by its units (not an interface for commands: see recorder.h):
 *   recorder.c  lifecycle: open/load, attach, poll, detach, finish, close
 *   pyprocs.c   the registry of Python processes and their code-object -> op maps
 *   bpplan.c    breakpoint policy: which py: ops are exact, arming, the planner glue
 *   events.c    ring-buffer handlers: calls, samples (sampled-call rebuilding), processes, modules
 *   launch.c    launching the command, finding its interpreter, resolving native ops
 *   finish.c    a run's data into the session: BPF counters, coverage, sampled and open calls */
#ifndef RAGD_BPFPROF_RECORDER_INT_H
#define RAGD_BPFPROF_RECORDER_INT_H

#include <limits.h>
#include <time.h>
#include <sys/types.h>
#include <linux/types.h>
#include "attach.h"
#include "python.h"
#include "record.h"
#include "session.h"

#define MAX_PY_PROCS 16
#define MAX_EVALS 8                 /* interpreter files with PyEval_EvalCode probes */
#define HIT_FALLBACK_NS 18000ull /* a hit's cost when it cannot be measured: trap 14 us + BPF 4 us here */
#define BUDGET_PERIOD_NS 100000000ull /* the overhead budget is checked every 0.1 s */
#define POLL_MS 50                  /* ring drain period: bounds event latency (top) */
#define RESOLVE_MIN_NS 200000000ull /* pending py: ops looked up again after 0.2 s, doubling */
/* Sampled call instances: a new one starts when the op's frame address changes on a thread. */
#define MAX_INST 65536
#define INST_SLOTS 256 /* threads told apart per sampled op */

/* PENDING: code not found yet; READY: found, may hold breakpoints (run->armed); EXACT: native
 * or module op, always exact; SAMPLED: cannot be exact. */
enum op_state { OPS_PENDING, OPS_READY, OPS_EXACT, OPS_SAMPLED };

struct pyproc {
	pid_t pid;               /* 0: a free slot */
	bool ok;
	bool gone;               /* exited or exec'd: kept for its queued samples */
	struct py_target t;
	struct py_symcache *syms;
	/* code address -> op index (or -1), validated by tag */
	struct code_op { __u64 code; __u32 tag; int op; } *map;
	size_t nmap, capmap;
};

struct span { __u64 a, b; };

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
	bool closing;            /* armed, door closed (PY_CODE_CLOSING): given up once no call is open */
	bool absent;             /* its module was not loaded at sys.modules generation absent_gen */
	__u64 absent_gen;
	__u64 found_at;          /* when its code was found (0: not now) */
	/* coverage: when it was armed, and when its code existed, this run (see py_coverage) */
	struct span *armed_iv, *found_iv;
	int narmed, nfound;
	/* sampling */
	__u64 wall_ns, on_ns, off_ns, self_ns;
	__u64 last_frame[INST_SLOTS]; /* per thread (hashed on the full tid): current instance's frame */
	__u64 last_ts[INST_SLOTS];
	int last_inst[INST_SLOTS];
	__u32 last_tid[INST_SLOTS];
};

struct inst {
	int op;
	__u64 start, end;
};

struct eval_probe { dev_t dev; ino_t ino; };

struct rec {
	/* The whole recorder, open to close. */
	struct record_opts *o;
	struct attacher a;
	struct ring_buffer *rb;
	int n_native, n_py;
	bool want_python;
	bool launched;           /* launch mode: every run starts a command */
	const char *bp_why;      /* why no op can be exact, NULL if breakpoints work */
	__u64 hit_cost_ns;       /* one breakpoint hit, measured at open (bp_hit_cost_ns), 0: unknown */
	__u64 t0;                /* ktime at session start: call times are relative to it */
	__u64 period_ns;
	char (*npath)[PATH_MAX]; /* native ops: file and offset */
	__u64 *noff;
	int nmods;
	struct mod_op mods[MAX_MOD_OPS];
	bool mod_settled[MAX_MOD_OPS]; /* its pause is off in BPF for this process (mod_settle) */
	struct eval_probe evals[MAX_EVALS]; /* interpreters with PyEval_EvalCode probes in place */
	int nevals;
	int runs;                /* runs attached so far */
	bool discard;            /* dropping events a previous run left in the ring */

	/* This run, recorder_attach to recorder_finish. */
	struct session *s;
	int op_base;             /* session op index of o->ops[0] */
	char bin[PATH_MAX];      /* launch: the command's file */
	struct py_target pre;    /* the interpreter known before start (version, offsets) */
	char interp[PATH_MAX];   /* interpreter ELF known before launch, "" if none */
	__u64 eval_code_off;
	struct op_run run[MAX_OPS];
	struct pyproc py[MAX_PY_PROCS];
	int npy;
	int primary;             /* index in py[] of the process the breakpoints watch, -1 */
	/* Processes that exec'd a new image not (yet) seen to be Python: the loader maps libpython
	 * within ms, so they are looked at again every poll until a deadline. */
#define EXEC_WAIT_MAX 8
	struct { pid_t pid; __u64 until; } exec_wait[EXEC_WAIT_MAX];
	int nexec_wait;
	__u64 call_events;      /* call records received (BPF counts only the dropped ones) */
	int slot_budget;         /* debug registers we may use (lowered on ENOSPC) */
	unsigned turn;           /* planner rotation: profile iteration + --rotate periods */
	bool stages_ok;          /* the overhead budget lets stages hold registers (plan_budget) */
	bool budget_paused;      /* it paused them at some point this run */
	__u64 last_budget;
	__u64 last_rotate;
	pid_t root;
	pid_t child;             /* launch: the command, 0 once reaped or none */
	int pipefd[2];           /* launch: the child waits on it until everything is attached */
	int pidfd;               /* launch: the child's pidfd in the ring's epoll set, -1 if none */
	bool root_exited;
	bool gone_in_attach;   /* -p: the target exited while we attached */
	int root_status;
	struct inst *inst;
	size_t ninst;
	__u64 inst_dropped;      /* sampled call instances past MAX_INST, not counted */
	bool eval_attached;      /* PyEval_EvalCode probes in place for this run's interpreter */
	__u64 last_resolve, resolve_every;
	__u64 start, deadline, last_tick;
};

static inline __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline bool is_py(const struct op_spec *sp)
{
	return sp->kind == OP_PY || sp->kind == OP_PY_MODULE;
}

static inline struct op_result *res(struct rec *r, int i)
{
	return &r->s->ops[r->op_base + i];
}

/* pyprocs.c */
struct pyproc *py_get(struct rec *r, pid_t pid);
bool suffix_match(const char *file, const char *suffix);
int op_of_code(struct rec *r, struct pyproc *p, __u64 code, __u32 tag);
/* Code object CODE (with TAG) is op OP (-1: none) in p; 0 or -ENOMEM. */
int code_op_put(struct pyproc *p, __u64 code, __u32 tag, int op);
struct pyproc *py_try(struct rec *r, pid_t pid, bool report);
struct pyproc *py_forget(struct rec *r, pid_t pid);
void py_release(struct pyproc *p);

/* bpplan.c */
void span_open(struct span **v, int *n, __u64 a);
void span_close(struct span *v, int n, __u64 b);
int parent_of(const struct op_spec *ops, int n, int i);
int code_need(const struct py_code_info *ci, bool rc, char *why, size_t len);
bool rc_ok(const struct py_target *t);
void plan_apply(struct rec *r);
bool op_pending(const struct rec *r, int i, const char *suffix);
void mod_settle(struct rec *r, __u32 m);
void mods_unsettle(struct rec *r);
__u64 bp_hit_cost_ns(void);
void plan_budget(struct rec *r, __u64 t);
void py_resolve(struct rec *r);
/* Only the ops of file SUFFIX (a module just loaded; NULL: all); MODCODE: that module's body,
 * about to run (its functions are in its co_consts), 0: look in sys.modules. */
void py_resolve_mod(struct rec *r, const char *suffix, __u64 modcode);
bool py_pending(struct rec *r);
void py_set_primary(struct rec *r, struct pyproc *p);
void py_drop_primary(struct rec *r);
/* Every op's breakpoints go, quietly (end of a run). */
void ops_unarm_all(struct rec *r);

/* events.c */
int handle_event(void *ctx, void *data, size_t len);
/* Sampled call instances into s->calls, flagged "sampled", for ops that stayed sampled. */
void inst_to_calls(struct rec *r);

/* launch.c */
void find_interp(const char *bin, char *out, size_t len);
int find_interp_pre(struct rec *r, char *err, size_t errlen);
void setup_mods(struct rec *r);
int resolve_natives(struct rec *r, char *err, size_t errlen);
int eval_probe(struct rec *r, pid_t upid, const char *path, __u64 off, char *err, size_t errlen);
void host_info(struct session *s);
void cmdline_of(pid_t pid, char *out, size_t len);
int launch_held(struct rec *r, char *err, size_t errlen);
int launch_release(struct rec *r, char *err, size_t errlen);
void launch_stop(struct rec *r);
void launch_watch(struct rec *r);
void launch_unwatch(struct rec *r);

/* finish.c */
void rec_finish(struct rec *r);

#endif
