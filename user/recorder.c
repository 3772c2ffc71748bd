// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The recorder's lifecycle (recorder.h): open/load once, then attach, poll, detach and finish
 * per run. What a run leaves in BPF maps is cleared at its end, so runs never leak into each
 * other. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "recorder.h"
#include "recorder_int.h"
#include "spec.h"
#include "symbols.h"
#include "util.h"
#include "prof.skel.h"

volatile sig_atomic_t exiting;
/* Call times are relative to the session's first run, so profile iterations line up. */
static __u64 session_mono0;

/* -p: the process must exist; launch: the command must. */
static int run_target(struct rec *r, char *err, size_t errlen)
{
	const struct record_opts *o = r->o;

	if (o->pid > 0) {
		if (kill(o->pid, 0) && errno == ESRCH) {
			snprintf(err, errlen, "pid %d: no such process", o->pid);
			return -EINVAL;
		}
		r->root = o->pid;
	} else if (o->cmd && o->cmd[0]) {
		if (resolve_binary(o->cmd[0], r->bin, sizeof(r->bin))) {
			snprintf(err, errlen, "%s: command not found", o->cmd[0]);
			return -EINVAL;
		}
	} else {
		snprintf(err, errlen, "record needs -p PID or -- COMMAND");
		return -EINVAL;
	}
	return 0;
}

/* Ops into the session (its first run) or matched against it (later runs). */
static int session_prepare(struct rec *r, struct session *s, char *err, size_t errlen)
{
	const struct record_opts *o = r->o;

	r->s = s;
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
				return -EINVAL;
			}
			snprintf(s->ops[k].function, DESC_MAX_LEN, "%s:%s", o->ops[i].path, o->ops[i].symbol);
		}
	}
	r->op_base = session_find_op(s, o->ops[0].name);
	if (r->op_base < 0 || (r->runs && r->op_base != 0)) {
		/* BPF op ids are op_base + i, fixed at open */
		snprintf(err, errlen, "internal: spec does not match the session");
		return -EIO;
	}
	if (r->want_python && o->hz > 0)
		s->sample_hz = o->hz;
	return 0;
}

static void count_ops(struct rec *r)
{
	const struct record_opts *o = r->o;

	for (int i = 0; i < o->nops; i++) {
		if (o->ops[i].kind == OP_NATIVE)
			r->n_native++;
		else
			r->n_py++;
	}
	r->want_python = r->n_py > 0 || o->hz > 0;
}

/* What a run checks and finds before anything of it is attached: its target, its session's ops,
 * (first run: the native symbols and module filters), its interpreter. */
static int run_prelude(struct rec *r, struct session *s, char *err, size_t errlen)
{
	bool first = !r->runs;
	int e;

	if ((e = run_target(r, err, errlen)))
		return e;
	if (first)
		count_ops(r);
	if ((e = session_prepare(r, s, err, errlen)))
		return e;
	/* -p: read now, the process may be gone by the time the probes are in */
	if (!r->launched && !s->command[0])
		cmdline_of(r->o->pid, s->command, sizeof(s->command));
	if (first && (e = resolve_natives(r, err, errlen)))
		return e;
	for (int i = 0; i < r->o->nops; i++) {
		if (r->o->ops[i].kind != OP_NATIVE)
			continue;
		snprintf(res(r, i)->function, DESC_MAX_LEN, "%s:%s", r->npath[i], r->o->ops[i].symbol);
		res(r, i)->resolved = true;
	}
	if ((e = find_interp_pre(r, err, errlen)))
		return e;
	if (first)
		setup_mods(r);
	if (r->o->verbose && r->want_python)
		fprintf(stderr, "interpreter before start: %s (version 0x%x, PyEval_EvalCode at +0x%llx, "
			"co_filename at %d), %d module filter(s)\n", r->interp[0] ? r->interp : "unknown",
			r->pre.version_hex, (unsigned long long)r->eval_code_off,
			r->interp[0] && r->pre.version_hex ? r->pre.off.code_filename : -1, r->nmods);
	return 0;
}

/* Do breakpoints fire here? Asked once for the recorder's life. */
static void bp_check(struct rec *r)
{
	int st;

	if (r->n_py == 0)
		return;
	st = attach_bp_selftest();
	if (st == 0)
		r->bp_why = "hardware breakpoints do not fire on this machine (self-test)";
	else if (st == -ENOSPC)
		r->bp_why = "no free debug register (ENOSPC)";
	else if (st < 0)
		r->bp_why = "hardware breakpoints unavailable";
	/* Not measurable (every register taken meanwhile): the cost measured on this VM. */
	if (!r->bp_why && r->o->overhead > 0 && !(r->hit_cost_ns = bp_hit_cost_ns()))
		r->hit_cost_ns = HIT_FALLBACK_NS;
	if (r->o->verbose && r->hit_cost_ns)
		fprintf(stderr, "budget: a breakpoint hit costs ~%.1f us; stages within %g%% of the time\n",
			r->hit_cost_ns / 1e3, r->o->overhead);
	/* Nothing to arm: holding the target at each module load would only cost time; the loads
	 * still say which functions exist (the reasons of ops not seen). */
	for (int m = 0; r->bp_why && m < r->nmods; m++)
		r->mods[m].flags &= ~MOD_F_PAUSE;
}

/* Open, tunables and map sizes, load; then the module filters. */
static int load(struct rec *r, char *err, size_t errlen)
{
	struct attach_cfg cfg = { .mod_code_filename = -1, .mod_str_data = 40 };

	if (r->interp[0] && r->pre.version_hex) {
		cfg.mod_code_filename = r->pre.off.code_filename;
		cfg.mod_str_data = r->pre.off.str_ascii_data;
	}
	cfg.nops = r->s->nops;
	cfg.follow_children = r->launched;
	cfg.want_native = r->n_native > 0;
	cfg.want_python = r->want_python;
	cfg.want_sampling = r->want_python && r->o->hz > 0;
	cfg.sample_offcpu = cfg.want_sampling && r->o->offcpu;
	cfg.nr_mod_ops = r->nmods;
	cfg.verbose = r->o->verbose;
	if (attach_open_load(&r->a, &cfg, err, errlen))
		return -EIO;
	for (int m = 0; m < r->nmods; m++) {
		__u32 k = m;

		attach_map_set(r->a.skel->maps.mod_ops, &k, sizeof(k), &r->mods[m], sizeof(r->mods[m]),
			       "module filter");
	}
	return 0;
}

/* What stays for the recorder's life: native uprobes (-p: the target's own mm, all its threads;
 * launch: every process, BPF keeps the tree), the sampler and the ring buffer. */
/* -p: the target ending while we attach is its exit, not our error: the session is written. */
static bool exited_during_attach(struct rec *r)
{
	if (r->launched || !pid_ended(r->root))
		return false;
	if (!r->root_exited) {
		r->root_exited = r->gone_in_attach = true;
		r->root_status = -1;
		session_warn(r->s, "pid %d exited while the probes were being attached: the session "
			     "holds what was recorded before that", r->root);
	}
	return true;
}

static int attach_lasting(struct rec *r, char *err, size_t errlen)
{
	pid_t upid = r->launched ? -1 : r->o->pid;

	for (int i = 0; i < r->o->nops; i++) {
		char w[1024];

		if (r->o->ops[i].kind != OP_NATIVE)
			continue;
		if (attach_native_op(&r->a, r->op_base + i, upid, r->npath[i], r->o->ops[i].symbol,
				     r->noff[i], res(r, i)->note, DESC_MAX_LEN, w, sizeof(w), err, errlen)) {
			if (exited_during_attach(r))
				break;
			return -EIO;
		}
		if (w[0])
			session_warn(r->s, "%s", w);
	}
	if (r->want_python && r->o->hz > 0 && attach_sampler(&r->a, r->o->hz, err, errlen))
		return -EIO;
	r->rb = ring_buffer__new(bpf_map__fd(r->a.skel->maps.events), handle_event, r, NULL);
	if (!r->rb) {
		int e = -errno;

		snprintf(err, errlen, "cannot create ring buffer: %s", strerror(-e));
		return e ? e : -EIO;
	}
	return 0;
}

int recorder_open(struct recorder **rp, struct record_opts *o, struct session *s, char *err,
		  size_t errlen)
{
	struct rec *r = calloc(1, sizeof(*r));
	int e = -ENOMEM;

	*rp = (struct recorder *)r;
	if (!r || !(r->inst = calloc(MAX_INST, sizeof(*r->inst)))) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	r->o = o;
	r->launched = o->pid <= 0 && o->cmd && o->cmd[0];
	r->period_ns = 1000000000ull / (o->hz > 0 ? o->hz : 999);
	r->pipefd[0] = r->pipefd[1] = -1;
	r->pidfd = -1;
	r->primary = -1;
	/* Input errors first: nothing is loaded, attached or launched before the spec holds. */
	if (attach_preflight(err, errlen)) {
		e = -EINVAL;
		goto cleanup;
	}
	if ((e = run_prelude(r, s, err, errlen)))
		goto cleanup;
	bp_check(r);
	/* Taken before anything is armed, so no call starts before it. */
	if (!session_mono0)
		session_mono0 = now_ns();
	r->t0 = session_mono0;
	s->mono0_ns = r->t0;
	if ((e = load(r, err, errlen)) || (e = attach_lasting(r, err, errlen)))
		goto cleanup;
	return 0;

cleanup:
	recorder_close((struct recorder *)r);
	*rp = NULL;
	return e;
}

/* Frees what a run allocated per op and forgets its Python processes. */
static void run_free(struct rec *r)
{
	for (int i = 0; i < r->npy; i++)
		py_release(&r->py[i]);
	r->npy = 0;
	r->nexec_wait = 0;
	for (int i = 0; i < MAX_OPS; i++) {
		free(r->run[i].links);
		free(r->run[i].armed_iv);
		free(r->run[i].found_iv);
	}
}

/* A run starts from nothing but what the recorder keeps (native uprobes, evals). */
static void run_reset(struct rec *r)
{
	const struct record_opts *o = r->o;

	run_free(r);
	memset(r->run, 0, sizeof(r->run));
	for (int i = 0; i < o->nops; i++) {
		if (o->ops[i].kind == OP_NATIVE)
			r->run[i].state = OPS_EXACT;
		for (int j = 0; j < INST_SLOTS; j++)
			r->run[i].last_inst[j] = -1;
	}
	r->primary = -1;
	mods_unsettle(r);
	r->slot_budget = o->max_breakpoints;
	r->turn = o->iteration;
	r->stages_ok = true;
	r->budget_paused = false;
	r->last_budget = 0;
	r->root_exited = false;
	r->root_status = 0;
	r->ninst = 0;
	r->inst_dropped = 0;
	r->eval_attached = false;
	r->last_resolve = 0;
	r->resolve_every = RESOLVE_MIN_NS;
	r->deadline = 0;
}

/* Module bodies are timed when PyEval_EvalCode of this run's interpreter is probed. */
static int attach_modules(struct rec *r, char *err, size_t errlen)
{
	const struct record_opts *o = r->o;
	bool known = r->interp[0] && r->pre.version_hex;

	r->a.skel->data->mod_code_filename = known ? r->pre.off.code_filename : -1;
	r->a.skel->data->mod_str_data = known ? r->pre.off.str_ascii_data : 40;
	if (r->want_python && r->interp[0] && r->eval_code_off && r->nmods) {
		if (eval_probe(r, r->launched ? -1 : o->pid, r->interp, r->eval_code_off, err, errlen))
			return exited_during_attach(r) ? 0 : -EIO;
		r->eval_attached = true;
		for (int i = 0; i < o->nops; i++)
			if (o->ops[i].kind == OP_PY_MODULE)
				r->run[i].state = OPS_EXACT;
	}
	for (int i = 0; i < o->nops; i++)
		if (o->ops[i].kind == OP_PY_MODULE && r->run[i].state != OPS_EXACT && !r->launched) {
			r->run[i].state = OPS_SAMPLED;
			res(r, i)->precision = PREC_SAMPLED;
			snprintf(res(r, i)->note, DESC_MAX_LEN, "%s",
				 "module body already ran before attach: timed from samples");
		}
	return 0;
}

static void session_target(struct rec *r, struct session *s)
{
	const struct record_opts *o = r->o;
	size_t len = 0;

	s->pid = r->root;
	if (s->command[0])
		return;
	if (!r->launched) {
		cmdline_of(o->pid, s->command, sizeof(s->command));
		return;
	}
	for (int i = 0; o->cmd[i] && len < sizeof(s->command) - 1; i++)
		len += snprintf(s->command + len, sizeof(s->command) - len, "%s%s", i ? " " : "", o->cmd[i]);
}

int recorder_attach(struct recorder *rr, struct session *s, char *err, size_t errlen)
{
	struct rec *r = (struct rec *)rr;
	const struct record_opts *o = r->o;
	int e;

	if (r->runs && (e = run_prelude(r, s, err, errlen)))
		return e;
	r->runs++;
	run_reset(r);
	/* Whatever the last run's processes still sent after its end is not this run's. */
	r->discard = true;
	ring_buffer__consume(r->rb);
	r->discard = false;
	if (r->bp_why)
		session_warn(s, "%s: py: function operations are timed from stack samples (precision "
			     "\"sampled\"); native ops and module bodies stay exact", r->bp_why);
	if (r->launched && (e = launch_held(r, err, errlen)))
		return e;
	if (r->launched)
		launch_watch(r);
	if (attach_add_pid(&r->a, r->root)) {
		snprintf(err, errlen, "cannot trace pid %d (BPF map update failed)", r->root);
		return -EIO;
	}
	session_target(r, s);
	if ((e = attach_modules(r, err, errlen)))
		return e;
	if (o->pid > 0 && !r->root_exited && r->want_python && r->pre.version_hex && r->pre.runtime)
		py_set_primary(r, py_try(r, o->pid, true));
	r->a.skel->bss->want_mod_events = py_pending(r);
	r->start = now_ns();
	if (o->duration > 0)
		r->deadline = r->start + (__u64)(o->duration * 1e9);
	if (r->launched && (e = launch_release(r, err, errlen)))
		return e;
	if (!o->quiet && o->verbose)
		fprintf(stderr, "recording %d operation(s) in pid %d%s\n", o->nops, r->root,
			o->duration > 0 ? "" : "; Ctrl-C to stop");
	r->last_tick = r->last_rotate = r->start;
	return 0;
}

static void progress(struct rec *r)
{
	if (!r->o->progress || r->o->quiet || !isatty(2))
		return;
	fprintf(stderr, "\r%s, %.1fs elapsed ", r->o->progress, (now_ns() - r->start) / 1e9);
}

/* Has the target ended? Launch: our child reaped; -p: the process gone. */
static bool target_gone(struct rec *r)
{
	if (r->launched && !r->root_exited) {
		int status;

		if (waitpid(r->child, &status, WNOHANG) == r->child) {
			r->root_exited = true;
			r->root_status = status;
			r->child = 0;
		}
	}
	if (r->root_exited)
		return true;
	if (!r->launched && pid_ended(r->root)) {
		r->root_exited = true;
		r->root_status = -1;
		return true;
	}
	return false;
}

static bool py_closing(const struct rec *r)
{
	for (int i = 0; i < r->o->nops; i++)
		if (r->run[i].closing)
			return true;
	return false;
}

/* Python upkeep between polls: late interpreters, --rotate turns, pending ops. */
static void poll_python(struct rec *r, __u64 t)
{
	/* The loader may map libpython after exec; modules may load without our notice. */
	if (r->want_python && r->primary < 0 && t - r->last_resolve > 5000000ull) {
		py_set_primary(r, py_try(r, r->root, false));
		r->last_resolve = t;
	}
	for (int i = 0; i < r->nexec_wait; i++) {
		struct pyproc *p = py_try(r, r->exec_wait[i].pid, false);

		if (p)
			py_set_primary(r, p);
		if (p || t > r->exec_wait[i].until || pid_ended(r->exec_wait[i].pid))
			r->exec_wait[i--] = r->exec_wait[--r->nexec_wait];
	}
	if (r->o->rotate > 0 && r->primary >= 0 && t - r->last_rotate >= r->o->rotate * 1e9) {
		r->turn++;
		r->last_rotate = t;
		plan_apply(r);
	} else if (py_closing(r)) {
		plan_apply(r); /* an op given up waits for its open calls to end */
	}
	plan_budget(r, t);
	/* Modules announce themselves (EV_PY_MOD); this catches the rest, backing off. */
	if (r->primary >= 0 && py_pending(r) && t - r->last_resolve > r->resolve_every) {
		py_resolve(r);
		if (r->resolve_every < 5000000000ull)
			r->resolve_every *= 2;
	}
	r->a.skel->bss->want_mod_events = py_pending(r);
}

/* About once a second: progress, and the live view's tick (true: stop). */
static bool poll_tick(struct rec *r, __u64 t)
{
	const struct record_opts *o = r->o;

	if (t - r->last_tick < 1000000000ull)
		return false;
	progress(r);
	r->last_tick = t;
	if (!o->tick)
		return false;
	/* Live views see sampled ops' attributed time as it grows. */
	for (int i = 0; i < o->nops; i++)
		if (res(r, i)->precision == PREC_SAMPLED) {
			res(r, i)->total_ns = r->run[i].wall_ns;
			res(r, i)->on_cpu_ns = r->run[i].on_ns;
		}
	return o->tick(r->s, o->tick_arg);
}

int recorder_poll(struct recorder *rr, char *err, size_t errlen)
{
	struct rec *r = (struct rec *)rr;

	while (!exiting) {
		/* Poll fast until a launched interpreter is found: its imports start within ms. */
		/* BPF wakes us only when the ring fills (see rb_wakeup): drain it every period. */
		int e = ring_buffer__poll(r->rb, r->want_python && (r->primary < 0 || r->nexec_wait) ?
					  5 : POLL_MS);
		__u64 t;

		if (e >= 0)
			e = ring_buffer__consume(r->rb);
		t = now_ns();
		if (e < 0 && e != -EINTR) {
			snprintf(err, errlen, "ring buffer: %s", strerror(-e));
			return e;
		}
		if (target_gone(r) || (r->deadline && t >= r->deadline))
			break;
		poll_python(r, t);
		if (poll_tick(r, t))
			break;
	}
	return 0;
}

void recorder_detach(struct recorder *rr)
{
	struct rec *r = (struct rec *)rr;
	struct session *s = r->s;

	launch_unwatch(r);
	ring_buffer__consume(r->rb); /* stopped at a module load: let go by on_mod */
	if (r->launched && !r->root_exited) {
		launch_stop(r);
		r->child = 0;
		ring_buffer__consume(r->rb);
	}
	if (r->root_exited) {
		int st = r->root_status;

		s->has_exit_code = st >= 0;
		if (st >= 0)
			s->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
}

/* Deletes every entry of a hash map (keys are u32 here). */
static void map_clear(struct bpf_map *m)
{
	__u32 k;

	while (!bpf_map__get_next_key(m, NULL, &k, sizeof(k)))
		if (bpf_map__delete_elem(m, &k, sizeof(k), 0))
			break;
}

/* Zeroes every element of an array map. */
static void map_zero(struct bpf_map *m)
{
	void *zero = calloc(1, bpf_map__value_size(m));

	for (__u32 k = 0; zero && k < bpf_map__max_entries(m); k++)
		bpf_map__update_elem(m, &k, sizeof(k), zero, bpf_map__value_size(m), BPF_ANY);
	free(zero);
}

/* What BPF keeps per process, thread, call and op goes at the end of a run: the next run's
 * histograms, counters and open calls are its own. */
static void maps_reset(struct rec *r)
{
	struct prof_bpf *skel = r->a.skel;

	map_clear(skel->maps.pids);
	map_clear(skel->maps.threads);
	map_clear(skel->maps.py_procs);
	map_clear(skel->maps.py_tstates);
	map_clear(skel->maps.offcpu);
	map_zero(skel->maps.aggs);
	map_zero(skel->maps.py_op_code);
	map_zero(skel->maps.py_rc_state);
	memset(&skel->bss->stats, 0, sizeof(skel->bss->stats));
	skel->bss->want_mod_events = false;
}

void recorder_finish(struct recorder *rr)
{
	struct rec *r = (struct rec *)rr;
	const struct record_opts *o = r->o;

	if (r->want_python && r->npy == 0 && r->n_py > 0)
		session_warn(r->s, "no Python interpreter found in pid %d: py: operations not profiled", r->root);
	rec_finish(r);
	if (o->progress && !o->quiet && isatty(2))
		fputc('\n', stderr);
	iso8601_now(r->s->ended_at, sizeof(r->s->ended_at));
	ops_unarm_all(r);
	maps_reset(r);
	/* Late events of this run's processes (a straggling child) are dropped at the next attach. */
	run_free(r);
	memset(r->run, 0, sizeof(r->run));
}

void recorder_close(struct recorder *rr)
{
	struct rec *r = (struct rec *)rr;

	if (!r)
		return;
	if (r->rb)
		launch_unwatch(r);
	ring_buffer__free(r->rb);
	if (r->pipefd[1] >= 0)
		close(r->pipefd[1]);
	if (r->o)
		ops_unarm_all(r);
	if (r->a.skel)
		attach_destroy(&r->a);
	/* A launched command we could not start must not be left waiting. */
	if (r->child > 0) {
		kill(r->child, SIGKILL);
		waitpid(r->child, NULL, 0);
	}
	run_free(r);
	free(r->npath);
	free(r->noff);
	free(r->inst);
	free(r);
}
