// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ragd-bpfprof: exact operation timing (uprobes, hardware breakpoints on Python bytecode), RSS and
 * on-CPU accounting per call, and Python stack sampling on and off CPU. One object, one skeleton;
 * user space disables the programs a session does not need. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "ragd_bpfprof.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Tunables, set by user space between open and load. */
const volatile __u32 nr_cpus = 1;
const volatile __u32 page_shift = 12;
const volatile __u64 min_offcpu_ns = 100000; /* shorter blocks are not worth a record */

struct bpf_stats stats = {};
/* Set by user space while py: ops still wait for their module: ask for module-loaded events. */
volatile bool want_mod_events = false;

#define OP_NONE 0xffffffffu /* frame pushed for bookkeeping only (a module body that is no op) */

struct frame {
	__u64 start_ns;
	__u64 oncpu_start;
	__u64 rss_start;
	__u64 rss_peak;
	__u64 key;   /* Python: _PyInterpreterFrame address; native: 0 */
	__u64 rss_last;  /* RSS at the last mm counter change seen in the call */
	__u64 rss_ret;   /* RSS when the Python frame left the chain, 0 until then (see on_rss) */
	__u32 op_id;
	__u32 pad;
	__u64 sp;    /* native: stack pointer at entry (0: not known), to see frames left by longjmp */
};

struct thread_state {
	__u64 oncpu_acc;  /* on-CPU ns accumulated at switch-outs */
	__u64 in_ts;      /* when the thread last went on CPU */
	__u32 depth;
	__u32 overflow;   /* entries beyond MAX_DEPTH, not timed */
	__u64 rss_mm;     /* mm of rss_word (0: none), see task_rss */
	__u64 rss_word;
	struct frame f[MAX_DEPTH];
};

/* Process tree being traced (tgid -> 1). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct thread_state);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct thread_state);
} zero_thread SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_OPS);
	__type(key, __u32);
	__type(value, struct op_agg);
} aggs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* Python processes (tgid -> offsets + _PyRuntime address). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct py_proc);
} py_procs SEC(".maps");

/* tid -> PyThreadState address, re-validated on every use. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} py_tstates SEC(".maps");

/* op_id -> code object address of a watched py: op (entry hits from other frames are ignored). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_OPS);
	__type(key, __u32);
	__type(value, __u64);
} py_op_code SEC(".maps");

/* Module bodies to time or to be told about, matched on co_filename suffix in PyEval_EvalCode. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_MOD_OPS);
	__type(key, __u32);
	__type(value, struct mod_op);
} mod_ops SEC(".maps");
const volatile __u32 nr_mod_ops = 0;
/* From the interpreter's ELF before it runs (so module bodies match from the first one), or set
 * when a launched wrapper execs it. */
volatile __s32 mod_code_filename = -1;
volatile __s32 mod_str_data = 40;

struct offcpu_rec {
	__u64 start_ns;
	struct sample_event ev;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct offcpu_rec);
} offcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct offcpu_rec);
} scratch SEC(".maps");

extern const void __per_cpu_offset __ksym __weak;

/* Calls and samples do not wake the recorder (it drains the ring every poll period); only a
 * ring filling up does, so no event is lost at any rate. Process and module events, which the
 * recorder must act on at once, always wake it. */
const volatile __u64 wakeup_bytes = 2 << 20;

static __always_inline __u64 rb_wakeup(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP :
									       BPF_RB_NO_WAKEUP;
}

static __always_inline bool traced(__u32 tgid)
{
	return bpf_map_lookup_elem(&pids, &tgid) != NULL;
}

/* Inode of the recorder's PID namespace when it is not the initial one (in a container), else 0.
 * Then the pids user space knows (pids map keys, event pid/tid) are numbers in that namespace. */
const volatile __u32 pidns_ino = 0;
#define PIDNS_MAX_LEVEL 8

/* pid's number in the recorder's namespace; 0 if not visible there. */
static __always_inline __u32 ns_nr(struct pid *pid)
{
	__u32 level = BPF_CORE_READ(pid, level);

	for (__u32 l = 0; l < PIDNS_MAX_LEVEL; l++) {
		struct upid *u;

		if (l > level)
			break;
		u = (void *)pid + bpf_core_field_offset(struct pid, numbers) +
		    l * bpf_core_type_size(struct upid);
		if (BPF_CORE_READ(u, ns, ns.inum) == pidns_ino)
			return BPF_CORE_READ(u, nr);
	}
	return 0;
}

static __always_inline __u32 task_vtgid(struct task_struct *t)
{
	return pidns_ino ? ns_nr(BPF_CORE_READ(t, group_leader, thread_pid)) : BPF_CORE_READ(t, tgid);
}

static __always_inline __u32 task_vpid(struct task_struct *t)
{
	return pidns_ino ? ns_nr(BPF_CORE_READ(t, thread_pid)) : BPF_CORE_READ(t, pid);
}

/* tgid of the current task as user space numbers it. */
static __always_inline __u32 cur_vtgid(void)
{
	if (!pidns_ino)
		return bpf_get_current_pid_tgid() >> 32;
	return task_vtgid(bpf_get_current_task_btf());
}

static __always_inline __u32 cur_vpid(void)
{
	if (!pidns_ino)
		return (__u32)bpf_get_current_pid_tgid();
	return task_vpid(bpf_get_current_task_btf());
}

struct pcpu_ctx {
	__s64 sum;
	__s32 *counters;
	const __u64 *pco;
};

static long pcpu_one(__u64 cpu, void *arg)
{
	struct pcpu_ctx *c = arg;
	__u64 off = 0;
	__s32 v = 0;

	bpf_probe_read_kernel(&off, sizeof(off), &c->pco[cpu]);
	bpf_probe_read_kernel(&v, sizeof(v), (void *)((__u64)c->counters + off));
	c->sum += v;
	return 0;
}

/* One mm counter in pages. Since 6.2 a percpu_counter: add every CPU's pending delta so the value
 * is exact, not off by up to batch * nr_cpus pages. */
static __always_inline __s64 mm_counter(struct mm_struct *mm, int member)
{
	if (bpf_core_type_exists(struct mm_rss_stat___old)) {
		struct mm_struct___old *old = (void *)mm;

		return BPF_CORE_READ(old, rss_stat.count[member].counter);
	}

	struct percpu_counter *pc = &mm->rss_stat[member];
	struct pcpu_ctx c = {
		.sum = BPF_CORE_READ(pc, count),
		.counters = BPF_CORE_READ(pc, counters),
		.pco = (const __u64 *)&__per_cpu_offset,
	};

	if (c.pco && c.counters)
		bpf_loop(nr_cpus < 1024 ? nr_cpus : 1024, pcpu_one, &c, 0);
	return c.sum;
}

/* The per-CPU sum is most of a probe's cost (3 counters x nr_cpus reads), and RSS rarely
 * changes between two calls, so each thread caches its last value. on_rss bumps rss_gen at
 * every counter change of an mm in rss_cache (the rss_stat tracepoint fires after each, in
 * whatever task made it); a thread's value is valid while the gen it was read under is current.
 * A thread's cache word holds pages << 32 | gen, written by that thread only. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64); /* mm_struct address */
	__type(value, __u8);
} rss_cache SEC(".maps");

volatile __u32 rss_gen = 1;

static __always_inline __u64 mm_rss_pages(struct mm_struct *mm)
{
	__s64 pages = mm_counter(mm, 0 /* MM_FILEPAGES */) + mm_counter(mm, 1 /* MM_ANONPAGES */) +
		      mm_counter(mm, 3 /* MM_SHMEMPAGES */);

	return pages > 0 ? pages : 0;
}

/* RSS as /proc/PID/status counts it: file + anon + shmem pages. */
static __noinline __u64 task_rss(struct thread_state *ts)
{
	struct task_struct *task = (void *)bpf_get_current_task_btf();
	struct mm_struct *mm = task->mm;
	__u64 key = (__u64)mm, pages;
	__u32 gen;

	if (!mm)
		return 0;
	/* Before 6.2 the counters are plain atomics: one read each, nothing to cache. */
	if (bpf_core_type_exists(struct mm_rss_stat___old))
		return mm_rss_pages(mm) << page_shift;
	/* gen before the counters: a change whose bump we missed is in the sum or bumps gen. */
	gen = *(volatile __u32 *)&rss_gen;
	if (ts->rss_mm == key && (__u32)ts->rss_word == gen)
		return (ts->rss_word >> 32) << page_shift;
	/* An mm not in rss_cache gets no bumps: add it. An insertion may evict another mm, whose
	 * threads' values would then go stale: it bumps the gen too. */
	if (!bpf_map_lookup_elem(&rss_cache, &key)) {
		bpf_map_update_elem(&rss_cache, &key, &(__u8){ 1 }, BPF_NOEXIST);
		__sync_fetch_and_add(&rss_gen, 1);
		gen = *(volatile __u32 *)&rss_gen;
	}
	pages = mm_rss_pages(mm);
	ts->rss_mm = 0;
	if (pages > 0xffffffffull) /* too big for the word (16 TiB at 4 KiB pages): no cache */
		return pages << page_shift;
	ts->rss_mm = key;
	ts->rss_word = pages << 32 | gen;
	return pages << page_shift;
}

static __always_inline struct thread_state *thread_get(__u32 tid, __u64 now)
{
	struct thread_state *ts = bpf_map_lookup_elem(&threads, &tid);
	__u32 zero = 0;

	if (ts)
		return ts;
	ts = bpf_map_lookup_elem(&zero_thread, &zero);
	if (!ts)
		return NULL;
	/* First event of a thread: it is running now (it hit a probe), so on-CPU time starts here. */
	ts->in_ts = now;
	bpf_map_update_elem(&threads, &tid, ts, BPF_NOEXIST);
	ts->in_ts = 0;
	return bpf_map_lookup_elem(&threads, &tid);
}

/* On-CPU ns of the current (running) thread so far. */
static __always_inline __u64 oncpu_now(struct thread_state *ts, __u64 now)
{
	return ts->oncpu_acc + (ts->in_ts ? now - ts->in_ts : 0);
}

static __always_inline void push(struct thread_state *ts, __u32 op_id, __u64 key)
{
	__u64 now;
	__u32 d = ts->depth;
	struct frame *f;

	if (d >= MAX_DEPTH) {
		/* Only native and module-body returns take overflow entries back; a py: return
		 * that finds no frame is an orphan, so a py: entry must not leave one. */
		if (key == 0)
			ts->overflow++;
		__sync_fetch_and_add(&stats.depth_overflow, 1);
		return;
	}
	f = &ts->f[d & (MAX_DEPTH - 1)];
	/* Open calls are counted for py: ops only: the planner gives up a register when none is. */
	if (op_id != OP_NONE && key) {
		struct op_agg *agg = bpf_map_lookup_elem(&aggs, &op_id);

		if (agg)
			__sync_fetch_and_add(&agg->open, 1);
	}
	f->op_id = op_id;
	f->key = key;
	f->pad = OP_NONE;
	f->sp = 0;
	f->rss_start = op_id == OP_NONE ? 0 : task_rss(ts);
	f->rss_peak = f->rss_start;
	f->rss_last = f->rss_start;
	f->rss_ret = 0;
	/* Last, so the probe's own work is not charged to the call (one clock read: ~35 ns). */
	now = bpf_ktime_get_ns();
	f->oncpu_start = oncpu_now(ts, now);
	f->start_ns = now;
	ts->depth = d + 1;
}

static __always_inline void agg_add(__u32 op, __u64 dur, __u64 oncpu, __u32 flags, bool py)
{
	struct op_agg *agg = bpf_map_lookup_elem(&aggs, &op);
	__u32 idx = hist_index(dur);

	if (!agg)
		return;
	if (py)
		__sync_fetch_and_add(&agg->open, -1);
	__sync_fetch_and_add(&agg->count, 1);
	__sync_fetch_and_add(&agg->total_ns, dur);
	__sync_fetch_and_add(&agg->on_cpu_ns, oncpu);
	if (flags & CALL_F_UNWOUND)
		__sync_fetch_and_add(&agg->unwound, 1);
	if (idx < HIST_BUCKETS)
		__sync_fetch_and_add(&agg->hist[idx], 1);
}

/* The last open call of a py: op user space is taking the register from has ended: wake it now,
 * or the watch costs a trap per call for nothing until the next drain. */
static __always_inline bool py_closed(__u32 op)
{
	__u64 *code = bpf_map_lookup_elem(&py_op_code, &op);
	struct op_agg *agg = bpf_map_lookup_elem(&aggs, &op);

	return code && (*code & PY_CODE_CLOSING) && agg && agg->open == 0;
}

/* Pops the top frame, accounts it and emits its record. A global function: the verifier checks
 * it once, not at each of its call sites (most of the load time otherwise). The op's aggregate
 * gets py: calls (the planner reads their count and open calls live) and calls whose record is
 * lost; user space adds the records flagged without CALL_F_IN_AGG, so it sums every call. */
__noinline int pop_emit(struct thread_state *ts, __u32 tid, __u64 now, __u32 flags)
{
	__u32 d;
	struct frame *f;
	struct call_event *e;
	__u64 dur, oncpu, rss_end;
	__u32 op;
	bool py;

	if (!ts || (d = ts->depth) == 0)
		return 0;
	d--;
	ts->depth = d;
	f = &ts->f[d & (MAX_DEPTH - 1)];
	op = f->op_id;
	if (op == OP_NONE)
		return 0;
	dur = now - f->start_ns;
	oncpu = oncpu_now(ts, now) - f->oncpu_start;
	if (oncpu > dur)
		oncpu = dur;
	rss_end = f->rss_ret ? f->rss_ret : task_rss(ts);
	if (rss_end > f->rss_peak)
		f->rss_peak = rss_end;
	/* The caller's peak covers its callees. */
	if (d > 0) {
		struct frame *pf = &ts->f[(d - 1) & (MAX_DEPTH - 1)];

		if (f->rss_peak > pf->rss_peak)
			pf->rss_peak = f->rss_peak;
	}

	/* No call counter here: a shared atomic costs each call ~20 ns; user space counts records. */
	py = f->key != 0;

	if (py)
		agg_add(op, dur, oncpu, flags, true);
	/* One null test of e: 6.1's verifier does not see a second one as settled (leaked ref). */
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (!py)
			agg_add(op, dur, oncpu, flags, false);
		__sync_fetch_and_add(&stats.calls_dropped, 1);
		return 0;
	}
	e->type = EV_CALL;
	e->op_id = op;
	e->pid = cur_vtgid();
	e->tid = pidns_ino ? cur_vpid() : tid;
	e->start_ns = f->start_ns;
	e->duration_ns = dur;
	e->on_cpu_ns = oncpu;
	e->rss_start = f->rss_start;
	e->rss_end = rss_end;
	e->rss_peak = f->rss_peak;
	e->flags = flags | (py ? CALL_F_IN_AGG : 0);
	e->depth = d;
	bpf_ringbuf_submit(e, py && py_closed(op) ? BPF_RB_FORCE_WAKEUP : rb_wakeup());
	return 0;
}

/* ---- native operations: uprobe + uretprobe, op id in the bpf_cookie ---- */

/* Native frames entered at a stack pointer at or below sp (stack grows down) are no longer on
 * the stack: a longjmp (or an unwinder) left them, and the kernel dropped their returns. Close
 * them as unwound. At an entry sp is the new frame's; at a return, the caller's after ret. */
static __always_inline void close_left(struct thread_state *ts, __u32 tid, __u64 sp)
{
	__u64 now = 0;

	for (int i = 0; i < MAX_DEPTH; i++) {
		__u32 d = ts->depth;
		struct frame *f;

		if (d == 0)
			break;
		f = &ts->f[(d - 1) & (MAX_DEPTH - 1)];
		if (f->key != 0 || f->sp == 0 || f->sp > sp)
			break;
		if (!now)
			now = bpf_ktime_get_ns();
		pop_emit(ts, tid, now, CALL_F_UNWOUND);
	}
}

SEC("uprobe")
int BPF_KPROBE(op_entry)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct thread_state *ts;
	__u32 d;

	/* A thread has state only once it was seen in a traced process (pids and threads are
	 * cleared together), so the pids lookup is needed only for its first event. */
	ts = bpf_map_lookup_elem(&threads, &(__u32){ (__u32)id });
	if (!ts) {
		if (!traced(cur_vtgid()))
			return 0;
		ts = thread_get((__u32)id, bpf_ktime_get_ns());
		if (!ts)
			return 0;
	}
	close_left(ts, (__u32)id, PT_REGS_SP(ctx));
	d = ts->depth;
	push(ts, (__u32)bpf_get_attach_cookie(ctx), 0);
	if (ts->depth == d + 1)
		ts->f[d & (MAX_DEPTH - 1)].sp = PT_REGS_SP(ctx);
	return 0;
}

/* A native op's return, from the uretprobe (entry_sp: the sp after ret - 8) or from a probe on
 * one of its return instructions (entry_sp: the sp at the ret, pointing at the return address
 * like at the entry). ret_site: the frame must also have been entered at entry_sp, since the
 * instruction is hit by every call, also ones we never saw enter. */
static __always_inline int native_return(void *ctx, __u64 entry_sp, bool ret_site)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 op = (__u32)bpf_get_attach_cookie(ctx);
	struct thread_state *ts;
	struct frame *top;

	/* No state: no open call (and then no traced process) here. */
	ts = bpf_map_lookup_elem(&threads, &(__u32){ (__u32)id });
	if (!ts)
		return 0;
	if (ts->overflow) {
		ts->overflow--;
		return 0;
	}
	/* Python frames above a native one were left by an exception we did not see. */
	for (int i = 0; i < 4; i++) {
		__u32 d = ts->depth;
		struct frame *f;

		if (d == 0)
			break;
		f = &ts->f[(d - 1) & (MAX_DEPTH - 1)];
		if (f->key == 0)
			break;
		pop_emit(ts, (__u32)id, now, CALL_F_UNWOUND);
	}
	/* Frames entered below our frame are gone (longjmp, a C++ exception caught below us). */
	close_left(ts, (__u32)id, entry_sp - 1);
	top = &ts->f[(ts->depth - 1) & (MAX_DEPTH - 1)];
	if (ts->depth == 0 || top->op_id != op || (ret_site && top->sp != entry_sp)) {
		__sync_fetch_and_add(&stats.orphan_returns, 1);
		return 0;
	}
	pop_emit(ts, (__u32)id, now, 0);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(op_return)
{
	/* our frame was entered 8 bytes below the sp after ret */
	return native_return(ctx, PT_REGS_SP(ctx) - 8, false);
}

/* Return-instruction timing: a uprobe on each ret (and tail-call jmp) of the function, so the
 * return address is never replaced and C++ unwinding through the function works. */
SEC("uprobe")
int BPF_KPROBE(op_ret_site)
{
	return native_return(ctx, PT_REGS_SP(ctx), true);
}

/* ---- scheduler: on-CPU accounting, off-CPU stacks, process tree ---- */

__noinline int py_walk(struct py_proc *pp, __u64 tstate, struct sample_event *e);
static __always_inline __u64 py_tstate_of(struct py_proc *pp, __u32 tid);

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 ptid = prev->pid, ntid = next->pid;
	struct thread_state *ts;

	ts = bpf_map_lookup_elem(&threads, &ptid);
	if (ts && ts->in_ts) {
		ts->oncpu_acc += now - ts->in_ts;
		ts->in_ts = 0;
	}
	ts = bpf_map_lookup_elem(&threads, &ntid);
	if (ts)
		ts->in_ts = now;
	return 0;
}

/* Off-CPU Python stacks: a separate program, loaded only when off-CPU sampling is on (its stack
 * walk is most of the verifier's work at start-up). */
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch_offcpu, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 ptid = prev->pid, ntid = next->pid;
	struct offcpu_rec *r;

	/* prev is still current here: its user memory is readable. Only blocking switches count. */
	if (get_task_state(prev) != 0) {
		__u32 tgid = prev->tgid;
		struct py_proc *pp = bpf_map_lookup_elem(&py_procs, &tgid);
		__u32 zero = 0;
		__u64 tstate;

		if (pp && (r = bpf_map_lookup_elem(&scratch, &zero))) {
			tstate = py_tstate_of(pp, ptid);
			if (tstate && py_walk(pp, tstate, &r->ev) > 0) {
				r->start_ns = now;
				r->ev.pid = tgid;
				r->ev.tid = ptid;
				r->ev.kind = SAMPLE_OFF_CPU;
				bpf_map_update_elem(&offcpu, &ptid, r, BPF_ANY);
			}
		}
	}
	r = bpf_map_lookup_elem(&offcpu, &ntid);
	if (!r)
		return 0;
	if (now - r->start_ns >= min_offcpu_ns) {
		r->ev.type = EV_SAMPLE;
		r->ev.ts_ns = r->start_ns;
		r->ev.weight_ns = now - r->start_ns;
		if (bpf_ringbuf_output(&events, &r->ev, sizeof(r->ev), rb_wakeup()) == 0)
			__sync_fetch_and_add(&stats.samples, 1);
		else
			__sync_fetch_and_add(&stats.samples_dropped, 1);
	}
	bpf_map_delete_elem(&offcpu, &ntid);
	return 0;
}

static __noinline bool py_frame_gone(__u32 tgid, __u32 tid, __u64 frame);

/* Peak RSS: every change of an mm counter by a thread inside a timed call. */
SEC("tp_btf/rss_stat")
int BPF_PROG(on_rss, struct mm_struct *mm, int member)
{
	struct task_struct *task = (void *)bpf_get_current_task_btf();
	__u32 tid = task->pid;
	struct thread_state *ts;
	struct frame *f;
	__u64 rss;
	__u32 d;

	/* Any task can change a traced mm's RSS (reclaim, exit): invalidate cached RSS first. */
	if (bpf_map_lookup_elem(&rss_cache, &(__u64){ (__u64)mm }))
		__sync_fetch_and_add(&rss_gen, 1);
	if (task->mm != mm)
		return 0;
	ts = bpf_map_lookup_elem(&threads, &tid);
	if (!ts || (d = ts->depth) == 0)
		return 0;
	__sync_fetch_and_add(&stats.rss_events, 1);
	rss = task_rss(ts);
	f = &ts->f[(d - 1) & (MAX_DEPTH - 1)];
	if (rss > f->rss_peak)
		f->rss_peak = rss;
	/* The refcount watch sees a Python call end only once its frame is cleared, after its
	 * locals were freed: the call's RSS at return is the value before the first drop after
	 * the frame left the chain. */
	if (f->key && !f->rss_ret && rss < f->rss_last && py_frame_gone(task->tgid, tid, f->key))
		f->rss_ret = f->rss_last;
	f->rss_last = rss;
	return 0;
}

static __always_inline void proc_event(__u32 kind, __u32 pid, __u32 ppid, __s32 code)
{
	struct proc_rec *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&stats.proc_dropped, 1);
		return;
	}
	e->type = EV_PROC;
	e->kind = kind;
	e->pid = pid;
	e->ppid = ppid;
	e->ts_ns = bpf_ktime_get_ns();
	e->exit_code = code;
	e->pad = 0;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

const volatile bool follow_children = false;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid, ctgid;
	__u8 one = 1;

	if (!follow_children || parent->tgid == child->tgid)
		return 0;
	ptgid = task_vtgid(parent);
	if (!traced(ptgid))
		return 0;
	ctgid = task_vtgid(child);
	/* Full (exits free their slots): the child runs untraced, counted and warned about. */
	if (bpf_map_update_elem(&pids, &ctgid, &one, BPF_ANY)) {
		__sync_fetch_and_add(&stats.pids_full, 1);
		return 0;
	}
	proc_event(PROC_FORK, ctgid, ptgid, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task_vtgid(p);

	if (traced(tgid))
		proc_event(PROC_EXEC, tgid, 0, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tgid = task_vtgid(p), tid = p->pid;
	struct thread_state *ts;

	if (!traced(tgid))
		return 0;
	ts = bpf_map_lookup_elem(&threads, &tid);
	if (ts) {
		/* Calls still open when their thread dies ended then, without a return. */
		for (int i = 0; i < MAX_DEPTH && ts->depth > 0; i++)
			pop_emit(ts, tid, now, CALL_F_UNWOUND);
		bpf_map_delete_elem(&threads, &tid);
	}
	bpf_map_delete_elem(&py_tstates, &tid);
	bpf_map_delete_elem(&offcpu, &tid);
	if (p->pid == p->tgid)
		proc_event(PROC_EXIT, tgid, 0, BPF_CORE_READ(p, exit_code));
	/* Last thread of the process gone (live was decremented before this tracepoint): free its
	 * slot, so the map never fills with dead processes and a recycled PID is not traced. */
	if (BPF_CORE_READ(p, signal, live.counter) == 0)
		bpf_map_delete_elem(&pids, &tgid);
	return 0;
}

/* ---- Python ---- */

static __always_inline __u64 rd64(__u64 addr)
{
	__u64 v = 0;

	bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

/* PyThreadState of tid: cached, else found by walking the main interpreter's thread list. */
static __always_inline __u64 py_tstate_of(struct py_proc *pp, __u32 tid)
{
	__u64 *cached = bpf_map_lookup_elem(&py_tstates, &tid);
	__u64 ts, interp;

	if (cached && *cached && rd64(*cached + pp->off.tstate_native_tid) == tid)
		return *cached;
	interp = rd64(pp->runtime + pp->off.runtime_interp_head);
	if (!interp)
		return 0;
	ts = rd64(interp + pp->off.interp_threads_head);
	for (int i = 0; i < PY_MAX_THREADS && ts; i++) {
		if (rd64(ts + pp->off.tstate_native_tid) == tid) {
			bpf_map_update_elem(&py_tstates, &tid, &ts, BPF_ANY);
			return ts;
		}
		ts = rd64(ts + pp->off.tstate_next);
	}
	__sync_fetch_and_add(&stats.py_no_tstate, 1);
	return 0;
}

static __always_inline __u64 py_current_frame(struct py_proc *pp, __u64 tstate)
{
	if (pp->off.tstate_cframe >= 0) {
		__u64 cframe = rd64(tstate + pp->off.tstate_cframe);

		return cframe ? rd64(cframe + pp->off.current_frame) : 0;
	}
	return rd64(tstate + pp->off.current_frame);
}

static __always_inline bool py_shim(struct py_proc *pp, __u64 frame)
{
	__u8 owner = 0;

	if (!pp->off.owner_cstack)
		return false;
	bpf_probe_read_user(&owner, 1, (void *)(frame + pp->off.frame_owner));
	return owner >= pp->off.owner_cstack;
}

struct walk_ctx {
	struct py_proc *pp;
	struct sample_event *e;
	__u64 frame;
	__u32 n;
};

static long walk_one(__u64 i, void *arg)
{
	struct walk_ctx *w = arg;
	struct py_proc *pp = w->pp;
	struct py_frame_rec *fr;
	__u64 frame = w->frame, code, instr;
	__u32 line = 0, qual = 0;

	if (!frame)
		return 1;
	if (w->n >= PY_MAX_FRAMES) {
		w->e->truncated = 1;
		return 1;
	}
	w->frame = rd64(frame + pp->off.frame_previous);
	if (py_shim(pp, frame))
		return 0;
	code = rd64(frame + pp->off.frame_code) & pp->off.code_ptr_mask;
	instr = rd64(frame + pp->off.frame_instr);
	bpf_probe_read_user(&line, 4, (void *)(code + pp->off.code_firstlineno));
	bpf_probe_read_user(&qual, 4, (void *)(code + pp->off.code_qualname));
	fr = &w->e->frames[w->n & (PY_MAX_FRAMES - 1)];
	fr->code = code;
	fr->frame = frame;
	fr->lasti = instr > code + pp->off.code_adaptive ?
		    (__u32)((instr - code - pp->off.code_adaptive) / 2) : 0;
	fr->tag = line ^ qual;
	w->n++;
	return 0;
}

/* Innermost-first Python stack of the current thread into e->frames. Returns frames written.
 * bpf_loop keeps the verifier's work independent of the frame count. */
__noinline int py_walk(struct py_proc *pp, __u64 tstate, struct sample_event *e)
{
	struct walk_ctx w = { .pp = pp, .e = e };

	if (!pp || !e)
		return 0;
	w.frame = py_current_frame(pp, tstate);
	e->truncated = 0;
	bpf_loop(PY_MAX_FRAMES + 32, walk_one, &w, 0);
	e->nframes = w.n;
	return w.n;
}

/* On-CPU stack samples (per-CPU cpu-clock events, filtered to the target here). */
SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, zero = 0;
	struct py_proc *pp = bpf_map_lookup_elem(&py_procs, &tgid);
	struct offcpu_rec *r;
	struct sample_event *e;
	__u64 tstate;

	if (!pp || !(r = bpf_map_lookup_elem(&scratch, &zero)))
		return 0;
	tstate = py_tstate_of(pp, (__u32)id);
	if (!tstate || py_walk(pp, tstate, &r->ev) <= 0)
		return 0;
	e = &r->ev;
	e->type = EV_SAMPLE;
	e->pid = tgid;
	e->tid = (__u32)id;
	e->kind = SAMPLE_ON_CPU;
	e->ts_ns = bpf_ktime_get_ns();
	e->weight_ns = ctx->sample_period;
	if (bpf_ringbuf_output(&events, e, sizeof(*e), rb_wakeup()))
		__sync_fetch_and_add(&stats.samples_dropped, 1);
	else
		__sync_fetch_and_add(&stats.samples, 1);
	return 0;
}

static __always_inline __s32 rd32(__u64 addr)
{
	__s32 v = 0;

	bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

/* ---- batched reads of the target's memory ----
 * A bpf_probe_read_user costs about 120 ns here whatever its size up to a few hundred bytes
 * (hardened usercopy checks and return thunks around a small copy; measured 2026-12-02: 10 reads
 * of 8 bytes 1.3 us, of 256 bytes 2.2 us), and it was most of a breakpoint program's run time.
 * So each object is read once, as the span of the fields used (PyThreadState, a frame, a code
 * object), into a per-CPU buffer; a field outside a span, or of a span that could not be read
 * whole, falls back to its own read. */
#define PY_BLK 256
enum { BLK_TSTATE, BLK_FRAME, BLK_CODE, BLK_AUX, BLK_N };

struct py_blkbuf {
	__u8 b[BLK_N][PY_BLK];
	__u8 slack[PY_BLK]; /* lengths and offsets are masked for the verifier: keep them inside */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_blkbuf);
} py_blks SEC(".maps");

struct py_blk {
	__u8 *b;     /* PY_BLK bytes of py_blks, or NULL: every field read on its own */
	__u64 base;  /* object address */
	__s32 lo;    /* b[0] is base + lo */
	__s32 len;   /* bytes in b (0: not read) */
};

static __always_inline __s32 smin(__s32 a, __s32 b) { return a < b ? a : b; }
static __always_inline __s32 smax(__s32 a, __s32 b) { return a > b ? a : b; }

/* One read of [base + lo, base + hi) into buffer which of py_blks. */
static __always_inline void blk_read(struct py_blk *k, int which, __u64 base, __s32 lo, __s32 hi)
{
	__u32 zero = 0, n = hi - lo;
	__u64 len;
	struct py_blkbuf *bb = bpf_map_lookup_elem(&py_blks, &zero);

	k->b = bb ? bb->b[which & (BLK_N - 1)] : NULL;
	k->base = base;
	k->lo = lo;
	k->len = 0;
	if (!k->b || lo < 0 || hi <= lo || n > PY_BLK)
		return;
	len = n;
	barrier_var(len); /* keep the mask: the verifier needs it on the register passed */
	len &= 2 * PY_BLK - 1;
	if (bpf_probe_read_user(k->b, len, (void *)(base + lo)) == 0)
		k->len = n;
}

static __always_inline __u64 blk64(struct py_blk *k, __s32 off)
{
	__u32 at = off - k->lo;

	if (k->b && off >= k->lo && at + 8 <= (__u32)k->len) {
		barrier_var(at);
		return *(__u64 *)(k->b + (at & (PY_BLK - 1)));
	}
	return rd64(k->base + off);
}

static __always_inline __s32 blk32(struct py_blk *k, __s32 off)
{
	__u32 at = off - k->lo;

	if (k->b && off >= k->lo && at + 4 <= (__u32)k->len) {
		barrier_var(at);
		return *(__s32 *)(k->b + (at & (PY_BLK - 1)));
	}
	return rd32(k->base + off);
}

static __always_inline __u8 blk8(struct py_blk *k, __s32 off)
{
	__u32 at = off - k->lo;
	__u8 v = 0xff;

	if (k->b && off >= k->lo && at < (__u32)k->len) {
		barrier_var(at);
		return k->b[at & (PY_BLK - 1)];
	}
	bpf_probe_read_user(&v, 1, (void *)(k->base + off));
	return v;
}

/* A frame's code, previous, instruction pointer and owner in one read. */
static __always_inline void blk_frame(struct py_blk *k, int which, struct py_proc *pp, __u64 frame)
{
	struct py_offsets *o = &pp->off;
	__s32 lo = smin(smin(o->frame_code, o->frame_previous), smin(o->frame_instr, o->frame_owner));
	__s32 hi = smax(smax(o->frame_code + 8, o->frame_previous + 8),
			smax(o->frame_instr + 8, o->frame_owner + 1));

	blk_read(k, which, frame, lo, hi);
}

/* A code object's refcount and frame-size fields in one read. */
static __always_inline void blk_code(struct py_blk *k, int which, struct py_proc *pp, __u64 code)
{
	struct py_offsets *o = &pp->off;
	__s32 hi = o->code_framesize >= 0 ? o->code_framesize + 4 :
		   smax(o->code_nlocalsplus, o->code_stacksize) + 4;

	blk_read(k, which, code, 0, hi);
}

/* The PyThreadState fields the breakpoint programs use (native id, cframe or current frame,
 * datastack). */
static __always_inline void blk_tstate(struct py_blk *k, struct py_proc *pp, __u64 tstate)
{
	struct py_offsets *o = &pp->off;
	__s32 cf = o->tstate_cframe >= 0 ? o->tstate_cframe : o->current_frame;
	__s32 lo = smin(smin(o->tstate_native_tid, cf),
			smin(o->tstate_datastack_top, o->tstate_datastack_chunk));
	__s32 hi = smax(smax(o->tstate_native_tid, cf),
			smax(o->tstate_datastack_top, o->tstate_datastack_chunk)) + 8;

	blk_read(k, BLK_TSTATE, tstate, lo, hi);
}

/* tid's PyThreadState with its fields in k (one read when the cached one is still tid's). */
static __always_inline __u64 py_tstate_blk(struct py_proc *pp, __u32 tid, struct py_blk *k)
{
	__u64 *cached = bpf_map_lookup_elem(&py_tstates, &tid);
	__u64 ts;

	if (cached && *cached) {
		ts = *cached;
		blk_tstate(k, pp, ts);
		if (blk64(k, pp->off.tstate_native_tid) == tid)
			return ts;
	}
	ts = py_tstate_of(pp, tid);
	if (ts)
		blk_tstate(k, pp, ts);
	return ts;
}

static __always_inline __u64 py_current_frame_blk(struct py_proc *pp, struct py_blk *k)
{
	if (pp->off.tstate_cframe >= 0) {
		__u64 cframe = blk64(k, pp->off.tstate_cframe);

		return cframe ? rd64(cframe + pp->off.current_frame) : 0;
	}
	return blk64(k, pp->off.current_frame);
}

struct anc_ctx {
	struct py_proc *pp;
	__u64 cur, key;
	bool found;
};

static long anc_one(__u64 i, void *arg)
{
	struct anc_ctx *a = arg;

	a->cur = rd64(a->cur + a->pp->off.frame_previous);
	if (!a->cur)
		return 1;
	if (a->cur == a->key) {
		a->found = true;
		return 1;
	}
	return 0;
}

struct find_ctx {
	struct thread_state *ts;
	__u64 key;
	__u32 op, pos;
};

/* Innermost open frame of (key, op): the loop keeps the last match. */
static long find_one(__u64 j, void *arg)
{
	struct find_ctx *c = arg;
	struct frame *f = &c->ts->f[j & (MAX_DEPTH - 1)];

	if (f->key == c->key && f->op_id == c->op)
		c->pos = j;
	return 0;
}

int py_reap(struct py_proc *pp, struct thread_state *ts, __u32 tid, __u64 cur, __u64 now);
int py_close(struct thread_state *ts, __u32 tid, __u32 op, __u64 F, __u64 now);

/* Has frame left the current thread's chain (returned, being cleared)? False when unknown. */
static __noinline bool py_frame_gone(__u32 tgid, __u32 tid, __u64 frame)
{
	struct py_proc *pp = bpf_map_lookup_elem(&py_procs, &tgid);
	struct anc_ctx a = { .key = frame };
	__u64 tstate;

	if (!pp)
		return false;
	tstate = py_tstate_of(pp, tid);
	if (!tstate)
		return false;
	a.pp = pp;
	a.cur = py_current_frame(pp, tstate);
	if (!a.cur || a.cur == frame)
		return false;
	bpf_loop(MAX_DEPTH, anc_one, &a, 0);
	return !a.found;
}

/* 3.12+ (entry_before_link): an inlined call may load the callee's first instruction before it
 * stores tstate->current_frame (measured: Debian's 3.13.5 and 3.14.10 read the code unit, then
 * write current_frame), so at the entry trap the current frame can still be the caller. The
 * callee's frame is then the one just pushed: datastack_top - co_framesize, naming the code and
 * linked to cur (or to a shim frame above cur). Checked first, so a recursive call (caller runs
 * the same code) is not taken for its caller. 0: no such frame. */
static __always_inline __u64 py_pushed_frame(struct py_proc *pp, struct py_blk *ts, __u64 cur,
					     __u64 code)
{
	struct py_blk k;
	__u64 F, prev;
	__s32 w;

	if (!pp->off.entry_before_link || pp->off.code_framesize < 0)
		return 0;
	w = rd32(code + pp->off.code_framesize);
	if (w <= 0 || w >= (1 << 20))
		return 0;
	F = blk64(ts, pp->off.tstate_datastack_top) - (__u64)w * 8;
	if (F == cur)
		return 0;
	blk_frame(&k, BLK_AUX, pp, F);
	if ((blk64(&k, pp->off.frame_code) & pp->off.code_ptr_mask) != code)
		return 0;
	prev = blk64(&k, pp->off.frame_previous);
	if (prev != cur && (!prev || rd64(prev + pp->off.frame_previous) != cur))
		return 0;
	return F;
}

/* Hardware breakpoint on a watched function's bytecode. Cookie: op id, and whether the watched
 * instruction is the first one (entry) or a RETURN (exit). */
SEC("perf_event")
int on_bp(struct bpf_perf_event_data *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 tgid = id >> 32, tid = (__u32)id, op = (__u32)cookie;
	bool is_ret = cookie >> 32;
	struct py_proc *pp = bpf_map_lookup_elem(&py_procs, &tgid);
	struct thread_state *ts;
	struct py_blk tb, fk;
	__u64 tstate, frame, code, *want;

	if (!pp)
		return 0;
	__sync_fetch_and_add(&stats.bp_hits, 1);
	tstate = py_tstate_blk(pp, tid, &tb);
	if (!tstate)
		return 0;
	frame = py_current_frame_blk(pp, &tb);
	if (!frame)
		return 0;
	blk_frame(&fk, BLK_FRAME, pp, frame);
	code = blk64(&fk, pp->off.frame_code) & pp->off.code_ptr_mask;
	want = bpf_map_lookup_elem(&py_op_code, &op);
	if (!is_ret && want && pp->off.entry_before_link) {
		__u64 F = py_pushed_frame(pp, &tb, frame, *want & ~PY_CODE_CLOSING);

		if (F) {
			frame = F;
			code = *want & ~PY_CODE_CLOSING;
		}
	}
	/* Bytecode read by something other than this function's own frame (dis, quickening of
	 * another frame): not a call boundary. */
	if (!want || (*want & ~PY_CODE_CLOSING) != code)
		return 0;
	if (!is_ret && (*want & PY_CODE_CLOSING))
		return 0;
	ts = thread_get(tid, now);
	if (!ts)
		return 0;

	if (!is_ret) {
		/* Entries above us whose frames are no longer our ancestors were left by an exception;
		 * the same frame on top: a second read of the first instruction. */
		if (py_reap(pp, ts, tid, frame, now) == 1)
			return 0;
		push(ts, op, frame);
		return 0;
	}

	if (pp->ret_guard) {
		__u64 prev = blk64(&fk, pp->off.frame_instr);
		__u8 opc = 0;

		bpf_probe_read_user(&opc, 1, (void *)prev);
		if (opc == pp->ret_guard_op[0] || opc == pp->ret_guard_op[1] ||
		    opc == pp->ret_guard_op[2] || opc == pp->ret_guard_op[3]) {
			__sync_fetch_and_add(&stats.bp_not_return, 1);
			return 0;
		}
	}
	/* Return: close our frame; anything opened above it was left without its return. */
	if (py_close(ts, tid, op, frame, now))
		__sync_fetch_and_add(&stats.orphan_returns, 1);
	return 0;
}

/* ---- one register per op: a W watch on the code object's ob_refcnt ----
 * CPython takes a reference to the code object when it creates a frame of the function
 * (_PyFrame_Initialize / _PyFrame_InitializeSpecials, datastack_top already advanced past the
 * new frame, which is not current yet) and drops it when it clears the frame (3.11+: the frame
 * is unlinked first, current_frame is the caller, datastack_top still ends the frame). The watch
 * traps after each write. A write is a birth or a death of frame F = datastack_top - framesize
 * when F sits right after the innermost datastack frame of the chain (or at the start of the
 * chunk) and is not current; the refcount's direction tells which. Anything else (logging's
 * f.f_code, tracebacks dying, a frame object taking ownership) is another reference: rejected. */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_OPS);
	__type(key, __u32);
	__type(value, struct py_rc_state);
} py_rc_state SEC(".maps");

/* Frame size in bytes of a code object's frames on the datastack, from its fields in k. */
static __always_inline __u64 py_framesize_blk(struct py_proc *pp, struct py_blk *k)
{
	__s32 w;

	if (pp->off.code_framesize >= 0)
		w = blk32(k, pp->off.code_framesize);
	else
		w = blk32(k, pp->off.code_nlocalsplus) + blk32(k, pp->off.code_stacksize) +
		    pp->off.frame_specials;
	return w > 0 && w < (1 << 20) ? (__u64)w * 8 : 0;
}

static __always_inline __u64 py_framesize(struct py_proc *pp, __u64 code)
{
	struct py_blk k;

	blk_code(&k, BLK_AUX, pp, code);
	return py_framesize_blk(pp, &k);
}

/* Innermost frame of cur's chain that lives on the datastack (owner 0: not a generator's,
 * not a frame object's, not a C-stack shim); its fields are left in k. */
static __always_inline __u64 py_stack_frame(struct py_proc *pp, __u64 cur, struct py_blk *k)
{
	for (int i = 0; i < 8 && cur; i++) {
		blk_frame(k, BLK_FRAME, pp, cur);
		if (blk8(k, pp->off.frame_owner) == 0)
			return cur;
		cur = blk64(k, pp->off.frame_previous);
	}
	return 0;
}

/* Is F where the next frame goes (or the last one pushed ends), given current frame cur?
 * ts: the thread state's fields. */
__noinline int py_frame_slot(struct py_proc *pp, __u64 chunk, __u64 cur, __u64 F)
{
	struct py_blk k;
	__u64 t, first;

	if (!pp)
		return 0;
	t = py_stack_frame(pp, cur, &k);

	if (t) {
		__u64 code = blk64(&k, pp->off.frame_code) & pp->off.code_ptr_mask;
		__u64 fs = py_framesize(pp, code), s;

		if (!fs)
			return false;
		s = t + fs;
		if (s == F)
			return true;
		/* 3.13 Class() pushes an init-cleanup shim frame (owner 0, not linked yet) and then
		 * __init__'s frame on top of it: one frame between the caller and F. */
		if (s < F) {
			blk_frame(&k, BLK_FRAME, pp, s);
			code = blk64(&k, pp->off.frame_code) & pp->off.code_ptr_mask;
			fs = blk8(&k, pp->off.frame_owner) == 0 ? py_framesize(pp, code) : 0;
			if (fs && s + fs == F)
				return true;
		}
	}
	/* First frame of a new chunk (data[0]; data[1] in the root chunk): the frame below, if
	 * any, is in another chunk (not merely above F in this one: a module body at data[1]
	 * loading a code object one word bigger than its own frame looked like that). */
	first = chunk + pp->off.chunk_data;
	return chunk && (F == first || F == first + 8) &&
	       (!t || t < chunk || t >= chunk + rd64(chunk + pp->off.chunk_size));
}

/* Pops open Python calls of the thread that are neither cur nor one of its callers: their frames
 * were cleared without a write or return we saw (an exception left them; 3.11: with a frame
 * object holding the code reference). Ends are upper bounds. 1: cur itself is on top. Global
 * functions (this one, py_close, py_frame_slot) are verified once, not in each caller's every
 * state: on_rc's load took 169 ms with them inlined, 39 ms without. */
__noinline int py_reap(struct py_proc *pp, struct thread_state *ts, __u32 tid, __u64 cur, __u64 now)
{
	if (!pp || !ts)
		return 0;
	for (int k = 0; k < 4; k++) {
		__u32 d = ts->depth;
		struct anc_ctx a = { .pp = pp, .cur = cur };

		if (d == 0)
			break;
		a.key = ts->f[(d - 1) & (MAX_DEPTH - 1)].key;
		if (a.key == 0)
			break;
		if (a.key == cur)
			return 1;
		bpf_loop(MAX_DEPTH, anc_one, &a, 0);
		if (a.found)
			break;
		pop_emit(ts, tid, now, CALL_F_UNWOUND);
	}
	return 0;
}

/* Closes the call of frame F (op) and, as unwound, anything opened above it. -1: no such open
 * call (or too deep below the top). */
__noinline int py_close(struct thread_state *ts, __u32 tid, __u32 op, __u64 F, __u64 now)
{
	struct find_ctx fc = { .ts = ts, .key = F, .op = op, .pos = MAX_DEPTH };
	__u32 d, pos;

	if (!ts)
		return -1;
	d = ts->depth;
	bpf_loop(d < MAX_DEPTH ? d : MAX_DEPTH, find_one, &fc, 0);
	pos = fc.pos;
	if (pos >= MAX_DEPTH || d - pos > 8)
		return -1;
	for (int k = 0; k < 8; k++) {
		if (ts->depth <= pos + 1)
			break;
		pop_emit(ts, tid, now, CALL_F_UNWOUND);
	}
	pop_emit(ts, tid, now, 0);
	return 0;
}

/* W watch (len 8) on ob_refcnt of a watched function's code object. Cookie: op id. */
SEC("perf_event")
int on_rc(struct bpf_perf_event_data *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id, op = (__u32)bpf_get_attach_cookie(ctx);
	struct py_proc *pp = bpf_map_lookup_elem(&py_procs, &tgid);
	struct py_rc_state *st;
	struct thread_state *ts;
	struct py_blk cb, tb, fb;
	__u64 *want, code, v, tstate, cur, top, fs, F, fc = 0;
	bool top_is_f, linked = false;
	int dir = 0;

	if (!pp || pp->off.rc_scheme == 0)
		return 0;
	want = bpf_map_lookup_elem(&py_op_code, &op);
	st = bpf_map_lookup_elem(&py_rc_state, &op);
	if (!want || !st || !*want)
		return 0;
	__sync_fetch_and_add(&stats.rc_hits, 1);
	code = *want & ~PY_CODE_CLOSING;
	blk_code(&cb, BLK_CODE, pp, code);
	/* Direction: every write of the target traps and the GIL orders them. */
	v = blk64(&cb, 0);
	if (st->tgid == tgid && st->last) {
		if (v == st->last + 1)
			dir = 1;
		else if (v + 1 == st->last)
			dir = -1;
	}
	if (!dir)
		__sync_fetch_and_add(&stats.rc_resync, 1);
	st->last = v;
	st->tgid = tgid;

	tstate = py_tstate_blk(pp, tid, &tb);
	if (!tstate)
		return 0;
	cur = py_current_frame_blk(pp, &tb);
	top = blk64(&tb, pp->off.tstate_datastack_top);
	fs = py_framesize_blk(pp, &cb);
	F = top - fs;
	ts = thread_get(tid, now);
	if (!ts)
		return 0;
	/* A death: F still links to its caller, which is current (the frame was unlinked first), so
	 * a frame at the top of the datastack naming the code and linked to cur is the one being
	 * cleared, wherever cur's own frame lies. One read of F then classifies it; births (F not
	 * initialised yet) and anything else take the position test. */
	if (dir < 0 && fs && F != cur) {
		blk_frame(&fb, BLK_CODE, pp, F);
		fc = blk64(&fb, pp->off.frame_code);
		linked = blk64(&fb, pp->off.frame_previous) == cur;
	}
	if (!fs || F == cur || (!linked && !py_frame_slot(pp, blk64(&tb, pp->off.tstate_datastack_chunk), cur, F))) {
		/* 3.11: a traceback dying releases the code of a frame an exception cleared. */
		if (pp->off.rc_scheme == 1 && dir < 0)
			py_reap(pp, ts, tid, cur, now);
		__sync_fetch_and_add(&stats.rc_rejected, 1);
		return 0;
	}
	top_is_f = ts->depth > 0 && ts->f[(ts->depth - 1) & (MAX_DEPTH - 1)].key == F &&
		   ts->f[(ts->depth - 1) & (MAX_DEPTH - 1)].op_id == op;
	if (!dir) /* first write seen: an open frame there can only be dying */
		dir = top_is_f ? -1 : 1;

	if (dir < 0) {
		/* At a clearing the frame still names its code (at a creation it may not yet);
		 * 3.14 stores PyStackRef_NULL (1) in f_executable just before the decref. */
		if (!fc) /* not read above (the direction came from the position) */
			fc = rd64(F + pp->off.frame_code);
		if ((fc & pp->off.code_ptr_mask) != code && !(pp->off.rc_scheme == 3 && fc == 1)) {
			__sync_fetch_and_add(&stats.rc_rejected, 1);
			return 0;
		}
		if (py_close(ts, tid, op, F, now))
			__sync_fetch_and_add(&stats.rc_unmatched, 1);
		else
			__sync_fetch_and_add(&stats.rc_deaths, 1);
		return 0;
	}
	if (top_is_f) {
		/* 3.12+: a frame object taking over the dying frame takes its own reference first;
		 * 3.11: the frame there was cleared by an exception, without a write. */
		if (pp->off.rc_scheme >= 2) {
			__sync_fetch_and_add(&stats.rc_rejected, 1);
			return 0;
		}
		pop_emit(ts, tid, now, CALL_F_UNWOUND);
	}
	py_reap(pp, ts, tid, cur, now);
	if (*want & PY_CODE_CLOSING) /* user space is taking the register away: no new calls */
		return 0;
	push(ts, op, F);
	__sync_fetch_and_add(&stats.rc_births, 1);
	return 0;
}

struct mod_ctx {
	char name[MOD_SUFFIX_MAX * 2];
	long len;
	__u32 op, hit;
};

/* Does mod_ops[m] match the file name (a suffix of it)? */
static long mod_one(__u64 m, void *arg)
{
	struct mod_ctx *mc = arg;
	__u32 k = m, l;
	struct mod_op *mo = bpf_map_lookup_elem(&mod_ops, &k);

	if (!mo || mo->len == 0 || mo->len > MOD_SUFFIX_MAX || mo->len > mc->len - 1)
		return 0;
	l = mo->len;
	for (__u32 c = 0; c < MOD_SUFFIX_MAX && c < l; c++) {
		__u32 at = (__u32)(mc->len - 1 - l + c);

		if (mc->name[at & (sizeof(mc->name) - 1)] != mo->suffix[c])
			return 0;
	}
	if ((mo->flags & MOD_F_TIME) && mc->op == OP_NONE)
		mc->op = mo->op_id;
	if ((mo->flags & MOD_F_NOTIFY) && mc->hit == OP_NONE)
		mc->hit = k;
	return 0;
}

/* Tells user space a module with pending py: ops is about to run (CODE: its body, whose
 * co_consts hold the functions' code objects already) or has run. */
static __always_inline void mod_event(__u32 pid, __u32 hit, const struct mod_op *mo, __u64 code)
{
	struct py_mod_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return;
	e->type = EV_PY_MOD;
	e->pid = pid; /* in the recorder's pid namespace: user space sends it SIGCONT */
	e->mod = hit;
	e->at_entry = code != 0;
	e->pad = 0;
	e->code = code;
	/* We launched the target: hold it until the new functions' breakpoints are armed, so their
	 * first call is timed too. User space sends SIGCONT. */
	e->paused = (mo->flags & MOD_F_PAUSE) && bpf_send_signal_thread(19 /* SIGSTOP */) == 0;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

/* PyEval_EvalCode(code, globals, locals) runs a module body (import, exec, runpy). Times the
 * module-body ops (startup) and tells user space when a module with pending py: ops starts and
 * when it has run. */
SEC("uprobe")
int BPF_KPROBE(eval_code_entry, void *co)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	struct mod_ctx mc = { .op = OP_NONE, .hit = OP_NONE };
	struct thread_state *ts;
	__u32 op, hit;

	if (!traced(cur_vtgid()))
		return 0;
	ts = thread_get((__u32)id, now);
	if (!ts)
		return 0;
	if (nr_mod_ops && mod_code_filename >= 0) {
		__u64 fn = rd64((__u64)co + mod_code_filename);

		mc.len = bpf_probe_read_user_str(mc.name, sizeof(mc.name), (void *)(fn + mod_str_data));
		if (mc.len > 1)
			bpf_loop(nr_mod_ops < MAX_MOD_OPS ? nr_mod_ops : MAX_MOD_OPS, mod_one, &mc, 0);
	}
	op = mc.op;
	hit = mc.hit;
	{
		__u32 d = ts->depth;

		push(ts, op, 0);
		/* Remember which module to report at return in the frame's spare pad field (not when
		 * the push overflowed: the top frame is then someone else's). */
		if (ts->depth == d + 1)
			ts->f[d & (MAX_DEPTH - 1)].pad = hit;
	}
	if (hit != OP_NONE && want_mod_events) {
		struct mod_op *mo = bpf_map_lookup_elem(&mod_ops, &hit);

		if (mo)
			mod_event(cur_vtgid(), hit, mo, (__u64)co);
	}
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(eval_code_return)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	struct thread_state *ts = bpf_map_lookup_elem(&threads, &(__u32){ (__u32)id });
	struct mod_op *mo;
	__u32 hit;

	if (!ts || ts->depth == 0)
		return 0;
	if (ts->overflow) {
		ts->overflow--;
		return 0;
	}
	/* Python ops opened inside the module body and not closed were unwound by an exception. */
	for (int i = 0; i < 8; i++) {
		__u32 d = ts->depth;

		if (d == 0 || ts->f[(d - 1) & (MAX_DEPTH - 1)].key == 0)
			break;
		pop_emit(ts, (__u32)id, now, CALL_F_UNWOUND);
	}
	if (ts->depth == 0)
		return 0;
	hit = ts->f[(ts->depth - 1) & (MAX_DEPTH - 1)].pad;
	pop_emit(ts, (__u32)id, now, 0);
	if (hit == OP_NONE || !want_mod_events)
		return 0;
	mo = bpf_map_lookup_elem(&mod_ops, &hit);
	if (!mo)
		return 0;
	mod_event(cur_vtgid(), hit, mo, 0);
	return 0;
}
