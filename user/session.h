/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The one session model: what record fills in, what json.c writes and reads, what report.c and
 * compare.c print. Exact (BPF-timed) and sampled operations share it. */
#ifndef RAGD_BPFPROF_SESSION_H
#define RAGD_BPFPROF_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>
#include "ragd_bpfprof.h"

#define SCHEMA_ID "ragd-bpfprof/1"
#define NAME_MAX_LEN 128
#define DESC_MAX_LEN 512

enum op_kind { OP_NATIVE, OP_PY, OP_PY_MODULE };
enum op_precision { PREC_EXACT, PREC_SAMPLED };
/* Where count/percentiles came from: every call record, or the BPF histogram (records dropped),
 * or stack samples (sampled precision). */
enum stats_source { SRC_CALLS, SRC_HISTOGRAM, SRC_SAMPLES };

/* What the user asked for: NAME=native:PATH:SYMBOL or NAME=py:FILE_SUFFIX:QUALNAME. */
struct op_spec {
	char name[NAME_MAX_LEN];
	enum op_kind kind;
	char path[4096];    /* native: binary path or library name; py: co_filename suffix */
	char symbol[256];   /* native: ELF symbol; py: co_qualname ("<module>" for OP_PY_MODULE) */
};

struct spill;

struct call_rec {
	__u32 op;          /* index into session.ops */
	__u32 pid;
	__u32 tid;
	__u32 iteration;   /* profile: which run of the command (0 for record) */
	__u32 flags;       /* CALL_F_* */
	__u32 depth;
	__u64 start_ns;    /* since session start */
	__u64 duration_ns;
	__u64 on_cpu_ns;
	__u64 rss_start;
	__u64 rss_end;
	__u64 rss_peak;
};

struct op_result {
	char name[NAME_MAX_LEN];
	enum op_kind kind;
	enum op_precision precision;
	enum stats_source source;
	char function[DESC_MAX_LEN];  /* "PATH:SYMBOL" as resolved */
	bool resolved;                /* probe attached / code object found */
	char note[DESC_MAX_LEN];      /* why sampled, why not found, ... ("" if nothing to say) */

	__u64 count;
	__u64 total_ns;
	__u64 min_ns, max_ns;
	double mean_ns, stdev_ns;
	__u64 p50_ns, p90_ns, p95_ns, p99_ns;
	__u64 on_cpu_ns;
	__u64 off_cpu_ns;    /* sampled: off-CPU time attributed; exact: total - on_cpu */
	__u64 self_ns;       /* sampled: time with this op innermost among ops */
	__u64 unwound;       /* calls left by exception/longjmp */
	double rss_delta_mean;
	__s64 rss_delta_max;
	__u64 rss_peak;
	__u64 *hist;         /* HIST_BUCKETS counters, or NULL */
	/* Share of the op observed exactly: time its calls were watched / time its code existed
	 * in a traced process (1 for native and module ops, 0 for sampled; -1: not known). */
	double coverage;
	__u64 cov_watched_ns, cov_window_ns;  /* record: accumulated over profile iterations */
};

/* One collapsed stack (innermost last, ';'-joined), prefixed by the innermost active op. */
struct stack_rec {
	char *stack;
	__u64 on_cpu_ns;
	__u64 off_cpu_ns;
};

struct session {
	char name[NAME_MAX_LEN];
	char started_at[40], ended_at[40];   /* ISO 8601 UTC */
	__u64 mono0_ns;        /* CLOCK_MONOTONIC at start: calls' start_ns count from it (0: unknown) */
	char kernel[128];
	int cpus;
	int pid;
	char command[4096];
	bool has_exit_code;
	int exit_code;
	char source_format[32];   /* "ragd-bpfprof/1" or "ragd-profile" when imported */

	/* Grown as ops are added: record keeps MAX_OPS (its BPF maps), files may hold any number. */
	int nops, ops_cap;
	struct op_result *ops;

	/* The calls in memory. With a spill (session_spill_calls: recorders) these are the newest
	 * ones, after the calls_spilled in the spill file: read all of them with struct call_iter,
	 * count them with session_ncalls(). Without one (files read back) they are all here. */
	size_t ncalls, calls_cap;
	struct call_rec *calls;
	struct spill *spill;      /* NULL: no spill file (yet) */
	char *spill_dir;          /* session_spill_calls: where the file goes; NULL: never spill */
	size_t calls_mem_max;     /* calls kept in memory before they go to the spill file */
	__u64 calls_spilled;      /* calls in the spill file, older than calls[0] */

	size_t nstacks, stacks_cap;
	struct stack_rec *stacks;

	__u64 events;          /* records received */
	__u64 dropped_events;  /* records lost (ring buffer full), all kinds */
	__u64 dropped_calls;   /* of which call records: exact ops then use their BPF histograms */
	__u64 samples;
	__u64 sample_hz;

	size_t nwarnings;
	char **warnings;

	/* session.c: open-addressing index over stacks[] so session_add_stack merges in O(1).
	 * Slot = stack index + 1 (0 = empty); rebuilt if stacks[] was filled some other way. */
	size_t *stack_slots;
	size_t stack_slots_cap;   /* 0 or a power of two */
	size_t stacks_indexed;    /* stacks[0..stacks_indexed) are in stack_slots */
	/* the same over warnings[], so session_warn says each thing once in O(1) */
	size_t *warn_slots;
	size_t warn_slots_cap;
};

void session_init(struct session *s);
void session_free(struct session *s);
int session_add_op(struct session *s, const char *name, enum op_kind kind, enum op_precision prec);
int session_find_op(const struct session *s, const char *name);
int session_add_call(struct session *s, const struct call_rec *c);
/* A sampled span of an op that is exact (it had registers in another iteration or period): not
 * in its statistics, histogram or file; exact rows hold exact calls only. */
bool call_span_of_exact(const struct session *s, const struct call_rec *c);

/* Bounded memory for recorders: from now on calls beyond mem_bytes of records are moved to an
 * unlinked temporary file (created when first needed in dir, else $TMPDIR, else /tmp; none
 * writable: a warning and they stay in memory). mem_bytes 0: session_call_mem() (the
 * RAGD_BPFPROF_CALL_MEM environment variable, bytes, default 4 MiB). dir may be NULL. */
int session_spill_calls(struct session *s, const char *dir, size_t mem_bytes);
size_t session_call_mem(void);
/* Every call: spilled plus in memory. */
__u64 session_ncalls(const struct session *s);
/* Moves the spilled calls back into calls[] (for code that needs them all at once: compare);
 * calls stay in memory from then on. 0 or -1 (errno). */
int session_calls_load(struct session *s);

/* Calls in arrival order, spilled ones first: for (c = call_iter_first(&it, s, 0); c; c =
 * call_iter_next(&it)) ...; call_iter_done(&it). it.err is -errno when reading the spill file
 * failed (the walk then ends early). */
struct call_iter {
	const struct session *s;
	__u64 i, n;                /* next call, calls to walk */
	struct call_rec *buf;      /* spilled calls read ahead */
	size_t pos, len;
	int err;
};
const struct call_rec *call_iter_first(struct call_iter *it, const struct session *s, __u64 from);
const struct call_rec *call_iter_next(struct call_iter *it);
void call_iter_done(struct call_iter *it);
int session_add_stack(struct session *s, const char *stack, __u64 on_cpu_ns, __u64 off_cpu_ns);
void session_warn(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void iso8601_now(char *buf, size_t len);

/* stats.c: fill count/min/max/mean/stdev/percentiles/rss of every op from its calls when there
 * are any and none were dropped, else from op->hist (source = SRC_HISTOGRAM). */
void session_compute_stats(struct session *s);
/* q is a fraction in [0, 1] (0.99 = p99); q > 1 is taken as percent (99 = p99). Nearest-rank:
 * the smallest value with at least q*n values <= it. percentile_hist interpolates inside the
 * bucket holding that rank. Both return 0 when there is no data. */
__u64 percentile_sorted(const __u64 *sorted, size_t n, double q);
__u64 percentile_hist(const __u64 *hist, double q);
/* Ascending, in place (no second buffer). */
void sort_u64(__u64 *v, size_t n);
/* Two-sided Mann-Whitney U test with normal approximation and tie correction; returns p. */
double mann_whitney_p(const __u64 *a, size_t na, const __u64 *b, size_t nb);

/* json.c */
int session_write_json(const struct session *s, FILE *f);
int session_write_file(const struct session *s, const char *path, char *err, size_t errlen);
/* Reads ragd-bpfprof/1 or ragd's own ProfileSession JSON; 0 or -1 with a one-line err. */
int session_read_file(struct session *s, const char *path, char *err, size_t errlen);
int session_read_string(struct session *s, const char *text, char *err, size_t errlen);
/* The same from one cJSON tree of the whole text, without the streaming walk: what the
 * streaming reader must equal (tests and the fuzzer compare them). */
int session_read_string_tree(struct session *s, const char *text, char *err, size_t errlen);

/* report.c */
struct report_opts {
	bool color;
	bool histogram;
	const char *sort;   /* NULL or "tree": op tree; else a flat table by that key (report.h) */
	const char *by;     /* NULL, "thread", "process" or "iteration": calls grouped so */
	int width;          /* fit tables in this many columns (0: no limit) */
	bool brief;         /* top-level ops' stacks only, file names left out */
};
void report_text(const struct session *s, const struct report_opts *o, FILE *out);
int report_folded(const struct session *s, FILE *out);
const char *fmt_ns(__u64 ns, char *buf, size_t len);
const char *fmt_bytes(double bytes, char *buf, size_t len);
/* Same units, always signed unless zero ("+48.0MiB", "-1.20KiB"): for deltas. */
const char *fmt_bytes_delta(double bytes, char *buf, size_t len);

/* compare.c */
struct compare_counts {
	int regressions, improvements, stable, inconclusive, added, removed;
};
struct compare_opts {
	double threshold_pct;        /* default 5 */
	double alpha;                /* family-wise, Holm across every test (default 0.01) */
	bool color;
	bool json;
	bool markdown;
	int min_samples;             /* per side, below: inconclusive (default 8) */
	double mem_threshold_pct;    /* default 10 */
	double mem_threshold_bytes;  /* default 1 MiB; memory moves only beyond both */
	uint64_t seed;               /* bootstrap seed (0: the fixed default) */
	int ab_pairs;                /* > 0: both sides come from one interleaved A/B run */
	struct compare_counts *counts;  /* filled in when not NULL */
};
/* Prints the comparison; returns the number of regressions (-1 out of memory). */
int compare_sessions(const struct session *base, const struct session *cur,
		     const struct compare_opts *o, FILE *out);

#endif
