/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Loading the BPF object and attaching it: uprobes, tracepoints, hardware breakpoints, samplers. */
#ifndef RAGD_BPFPROF_ATTACH_H
#define RAGD_BPFPROF_ATTACH_H

#include <stdbool.h>
#include <sys/types.h>
#include "ragd_bpfprof.h"

struct prof_bpf;
struct bpf_link;

#define MAX_LINKS 512

struct attach_cfg {
	int nops;
	bool follow_children;
	bool want_native;      /* op_entry/op_return */
	bool want_python;      /* breakpoints, samplers, PyEval_EvalCode */
	bool want_sampling;    /* on-CPU stack samples (-F > 0) */
	bool sample_offcpu;
	int nr_mod_ops;
	int mod_code_filename; /* offset of co_filename, -1 if unknown before start */
	int mod_str_data;
	bool verbose;
};

struct attacher {
	struct prof_bpf *skel;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	int ncpus;
};

/* Checks root/CAP_BPF and BTF; 0 or -1 with a one-line reason. */
int attach_preflight(char *err, size_t errlen);
/* open -> set tunables and map sizes -> load -> attach the scheduler tracepoints. */
int attach_open_load(struct attacher *a, const struct attach_cfg *cfg, char *err, size_t errlen);
void attach_destroy(struct attacher *a);
/* Puts pid in the traced set; on failure warns on stderr and returns -errno. */
int attach_add_pid(struct attacher *a, pid_t pid);
struct bpf_map;
/* bpf_map__update_elem(BPF_ANY) that warns on stderr ("WHAT: BPF map NAME: reason") when it
 * fails, so a full or broken map never miscounts in silence. 0 or -errno. */
int attach_map_set(struct bpf_map *map, const void *key, size_t ksz, const void *val, size_t vsz,
		   const char *what);
/* Entry and return uprobes on PATH at file offset, cookie = op. pid -1: every process (BPF
 * filters to the traced tree). */
int attach_uprobe_pair(struct attacher *a, int op, pid_t pid, const char *path, __u64 off,
		       char *err, size_t errlen);
/* A native op on SYM (its spec symbol, maybe with %ret/%uret) at PATH+off: entry uprobe, and
 * the return timed by uprobes on the function's return instructions when asked (%ret) or when
 * the object can be unwound through by C++ exceptions (.gcc_except_table, libstdc++ or
 * libgcc_s needed), else by a uretprobe. NOTE gets how returns are timed (or ""), WARN why
 * return-instruction timing had to fall back to the uretprobe (or ""). 0 or -1 with err. */
int attach_native_op(struct attacher *a, int op, pid_t pid, const char *path, const char *sym,
		     __u64 off, char *note, size_t notelen, char *warn, size_t warnlen, char *err,
		     size_t errlen);
/* PyEval_EvalCode entry+return on the interpreter ELF. */
int attach_eval_code(struct attacher *a, pid_t pid, const char *path, __u64 off, char *err, size_t errlen);
/* A read/write hardware breakpoint of 1 byte at addr on every CPU, running on_bp with cookie.
 * Returns the number of links added, or -errno (-ENOSPC: no debug register free). */
int attach_breakpoint(struct attacher *a, __u64 addr, __u64 cookie, int *first_link);
/* A write watch of 8 bytes at addr (a code object's ob_refcnt) on every CPU, running on_rc with
 * cookie (the op id). Same return values as attach_breakpoint. */
int attach_breakpoint_w(struct attacher *a, __u64 addr, __u64 cookie, int *first_link);
void attach_drop_links(struct attacher *a, int first, int n);
/* 1 if hardware breakpoints fire on this machine, 0 if they are accepted but silent, -errno
 * (-ENOSPC: every debug register is taken) if they cannot be opened. */
int attach_bp_selftest(void);
/* cpu-clock sampling at hz on every CPU. */
int attach_sampler(struct attacher *a, int hz, char *err, size_t errlen);

#endif
