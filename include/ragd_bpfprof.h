/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Plain structs shared by the BPF programs (bpf/) and user space (user/). Only __u64/__u32
 * fields, so both compilers lay them out the same way. */
#ifndef RAGD_BPFPROF_H
#define RAGD_BPFPROF_H

#include "hist.h"

#define MAX_OPS 64           /* operations per session */
#define MAX_DEPTH 32         /* per-thread stack of open exact calls (power of two) */
#define PY_MAX_FRAMES 64     /* Python frames kept per stack sample */
#define PY_MAX_THREADS 64    /* threads walked when looking up a PyThreadState */
#define MOD_SUFFIX_MAX 64    /* file suffix for module-body (`<module>`) operations */

/* Ring buffer record types; every record starts with __u32 type. */
enum ev_type {
	EV_CALL = 1,   /* one completed exact call */
	EV_SAMPLE = 2, /* one Python stack sample (on-CPU tick or off-CPU span) */
	EV_PROC = 3,   /* fork / exec / exit in the traced process tree */
	EV_PY_MOD = 4, /* a module body finished executing: re-resolve pending py: ops */
};

/* call_event.flags */
#define CALL_F_UNWOUND   0x1 /* left without a return we saw (exception, longjmp): end is an upper bound */
#define CALL_F_OPEN      0x2 /* still running when the session ended: end is the session end */
#define CALL_F_SAMPLED   0x4 /* not timed: a span of stack samples (sampled-precision op) */
#define CALL_F_IN_AGG    0x80000000u /* ring record only: BPF's op aggregate has this call too */

struct call_event {
	__u32 type;
	__u32 op_id;
	__u32 pid;
	__u32 tid;
	__u64 start_ns;    /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 duration_ns;
	__u64 on_cpu_ns;
	__u64 rss_start;   /* bytes: file + anon + shmem pages */
	__u64 rss_end;
	__u64 rss_peak;
	__u32 flags;
	__u32 depth;       /* open exact calls below this one on the thread */
};

/* sample_event.kind */
#define SAMPLE_ON_CPU  0
#define SAMPLE_OFF_CPU 1

struct py_frame_rec {
	__u64 code;   /* PyCodeObject address */
	__u64 frame;  /* _PyInterpreterFrame address (tells calls apart) */
	__u32 lasti;  /* bytecode offset in code units */
	__u32 tag;    /* detects a reused code address, see below */
};
/* tag = (__u32)co_firstlineno ^ (__u32)(__u64)co_qualname, i.e. the s32 at
 * code + off.code_firstlineno xor the low 32 bits of the pointer at code + off.code_qualname.
 * user/python.c computes the same (py_code_tag()); both must stay in step. */

struct sample_event {
	__u32 type;
	__u32 pid;
	__u32 tid;
	__u32 kind;
	__u64 ts_ns;
	__u64 weight_ns;   /* on-CPU: the sampling period; off-CPU: time blocked */
	__u32 nframes;     /* innermost first */
	__u32 truncated;   /* 1 if the stack had more than PY_MAX_FRAMES frames */
	struct py_frame_rec frames[PY_MAX_FRAMES];
};

#define PROC_FORK 1
#define PROC_EXEC 2
#define PROC_EXIT 3

struct proc_rec {
	__u32 type;
	__u32 kind;
	__u32 pid;
	__u32 ppid;
	__u64 ts_ns;
	__s32 exit_code;   /* wait status style: (code << 8) | signal */
	__u32 pad;
};

struct py_mod_event {
	__u32 type;
	__u32 pid;
	__u32 paused;  /* the target was stopped (SIGSTOP): user space sends SIGCONT when armed */
	__u32 mod;     /* index into mod_ops */
	__u32 at_entry; /* 1: the body is about to run (code: its code object); 0: it returned */
	__u32 pad;
	__u64 code;
};

/* Per-operation aggregate kept in BPF; user space reads it at the end. */
struct op_agg {
	__u64 count;
	__u64 total_ns;
	__u64 on_cpu_ns;
	__u64 unwound;
	__u64 hist[HIST_BUCKETS];
	__u64 open;     /* calls entered and not yet closed (the planner keeps their registers) */
};

/* Counters kept by BPF (global .bss); "dropped" ones are reported, never silent. */
struct bpf_stats {
	__u64 calls_dropped;    /* ring buffer full: call kept in the histogram, record lost */
	__u64 depth_overflow;   /* nesting deeper than MAX_DEPTH: call not timed */
	__u64 orphan_returns;   /* a return with no matching entry */
	__u64 samples;
	__u64 samples_dropped;
	__u64 proc_dropped;
	__u64 bp_hits;          /* hardware breakpoint hits in the target */
	__u64 py_no_tstate;     /* Python event on a thread whose PyThreadState was not found */
	__u64 rss_events;
	__u64 bp_not_return;    /* a RETURN site read that was no return (3.11 quickening) */
	/* One-register scheme (W watch on a code object's ob_refcnt, see on_rc) */
	__u64 rc_hits;          /* refcount writes seen in a traced Python process */
	__u64 rc_births;        /* writes classified as a frame of the op being created */
	__u64 rc_deaths;        /* ... and as that frame being cleared */
	__u64 rc_rejected;      /* other references (logging's f_code, tracebacks, frame objects) */
	__u64 rc_resync;        /* the value did not move by exactly 1 since the last write seen */
	__u64 rc_unmatched;     /* a frame cleared that we never saw created (armed mid-call) */
	__u64 pids_full;        /* a forked child not traced: the pids map was full */
};

/* Where CPython keeps what we read, per interpreter version (user/python.c fills it). */
struct py_offsets {
	__u32 version_hex;
	__s32 runtime_interp_head;  /* _PyRuntime.interpreters.head */
	__s32 interp_next;
	__s32 interp_threads_head;
	__s32 tstate_next;
	__s32 tstate_native_tid;
	__s32 tstate_cframe;        /* -1: current_frame is directly in tstate (3.13+) */
	__s32 current_frame;        /* in cframe (3.11/3.12) or in tstate (3.13+) */
	__s32 frame_code;
	__s32 frame_previous;
	__s32 frame_instr;          /* prev_instr (<= 3.12) / instr_ptr (3.13+) */
	__s32 frame_owner;
	__s32 code_adaptive;        /* co_code_adaptive */
	__s32 code_filename;
	__s32 code_qualname;
	__s32 code_firstlineno;
	__s32 str_ascii_data;       /* data of a compact ASCII str */
	__u32 owner_cstack;         /* frames with owner >= this are C-stack shims, skipped; 0: none */
	__u64 code_ptr_mask;        /* 3.14 tags f_executable: mask the low bits off; ~0 before */
	__s32 runtime_tss_key;      /* _PyRuntime.autoTSSkey (Py_tss_t): the pthread key is the int at +4 */
	__s32 tstate_thread_id;     /* PyThreadState.thread_id (pthread_self() of the thread) */
	/* One-register scheme (on_rc): where the next frame goes and how big a frame is. */
	__u32 rc_scheme;            /* 0: not supported; 1: 3.11 (a raising frame's clearing does not
				     * touch the code's refcount); 2: 3.12+ (every clearing does);
				     * 3: 3.14 (as 2; f_executable is NULL, 1, at the clearing) */
	__s32 tstate_datastack_top;
	__s32 tstate_datastack_chunk;
	__s32 chunk_data;           /* _PyStackChunk.data */
	__s32 chunk_size;           /* _PyStackChunk.size (bytes, the whole chunk) */
	__s32 code_framesize;       /* co_framesize in words (3.12+); -1: 3.11, see below */
	__s32 code_nlocalsplus;     /* 3.11 frame size = co_nlocalsplus + co_stacksize + frame_specials */
	__s32 code_stacksize;
	__s32 frame_specials;       /* FRAME_SPECIALS_SIZE (3.11) */
	/* 3.12+: an inlined call may read the callee's first instruction before it stores
	 * tstate->current_frame (Debian's gcc builds of 3.13.5 and 3.14.10 do); the callee's frame
	 * is then the one just pushed on the datastack (needs tstate_datastack_top, code_framesize). */
	__u32 entry_before_link;
};

/* One Python process: offsets plus where its _PyRuntime is. Keyed by tgid. */
struct py_proc {
	struct py_offsets off;
	__u64 runtime;
	/* 3.11 quickens a code object lazily (the 8th call or loop turn): that pass reads every
	 * instruction, RETURN sites too. Such a read comes while the frame's last instruction is
	 * a RESUME or a JUMP_BACKWARD: a return hit then is no return. */
	__u32 ret_guard;        /* 1: apply the test */
	__u32 ret_guard_op[4];  /* RESUME, RESUME_QUICK, JUMP_BACKWARD, JUMP_BACKWARD_QUICK */
	__u32 pad[3];
};

/* A module body (PyEval_EvalCode) whose co_filename ends with suffix: time it as an op (startup =
 * `<module>` of ragd/cli.py) and/or tell user space it loaded (functions of pending py: ops now
 * exist), pausing the target until their breakpoints are armed when we launched it. */
#define MOD_F_TIME   0x1
#define MOD_F_NOTIFY 0x2
#define MOD_F_PAUSE  0x4
#define MAX_MOD_OPS 24

struct mod_op {
	__u32 op_id;
	__u32 len;
	__u32 flags;
	__u32 pad;
	char suffix[MOD_SUFFIX_MAX];
};

/* py_op_code value: the code object address, | PY_CODE_CLOSING while user space takes the op's
 * breakpoints away (new entries ignored, open calls still close). */
#define PY_CODE_CLOSING 1ull

/* bpf_cookie of a hardware breakpoint link */
#define BP_COOKIE(op, is_ret) (((__u64)(is_ret) << 32) | (op))

/* Per op watched through its code object's refcount (on_rc): the last value seen (writes are
 * serialised by the GIL) and the process it was seen in. User space seeds it when arming. */
struct py_rc_state {
	__u64 last;
	__u32 tgid;
	__u32 pad;
};

#endif
