// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `probes`: what record would find and how precisely it would time each op, without loading BPF. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "planner.h"
#include "recorder_int.h"
#include "spec.h"
#include "symbols.h"
#include "util.h"

struct probes {
	struct record_opts *o;
	FILE *out;
	struct py_target t;
	char interp[PATH_MAX], perr[512];
	bool live, have_py;
	int budget;
	struct plan_op po[MAX_OPS];
	const char *why[MAX_OPS];
	char detail[MAX_OPS][320];
	int nexact, nsampled, nmissing;
};

/* -p: the live process's interpreter. 0 or 2 (err). */
static int probes_pid(struct probes *pr, char *err, size_t errlen)
{
	pid_t pid = pr->o->pid;

	if (kill(pid, 0) && errno == ESRCH) {
		snprintf(err, errlen, "pid %d: no such process", pid);
		return 2;
	}
	if (geteuid() != 0) {
		snprintf(err, errlen, "must run as root to read another process's memory");
		return 2;
	}
	pr->have_py = !py_detect(pid, &pr->t, pr->perr, sizeof(pr->perr));
	if (pr->have_py)
		snprintf(pr->interp, sizeof(pr->interp), "%s", pr->t.elf_path);
	fprintf(pr->out, "target:       pid %d\n", pid);
	return 0;
}

/* -- COMMAND: the interpreter it would run, from its ELF or #! line. 0 or 2 (err). */
static int probes_cmd(struct probes *pr, char *err, size_t errlen)
{
	char bin[PATH_MAX] = "";
	struct py_target *t = &pr->t;

	if (resolve_binary(pr->o->cmd[0], bin, sizeof(bin))) {
		snprintf(err, errlen, "%s: command not found", pr->o->cmd[0]);
		return 2;
	}
	find_interp(bin, pr->interp, sizeof(pr->interp));
	if (pr->interp[0]) {
		__u64 va;
		__u32 hex = 0;

		if (!elf_read_symbol_value(pr->interp, "Py_Version", &va, NULL) &&
		    !elf_read_vaddr(pr->interp, va, &hex, sizeof(hex)))
			t->version_hex = hex;
		snprintf(t->version, sizeof(t->version), "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff,
			 (hex >> 8) & 0xff);
		pr->have_py = t->version_hex && !py_offsets_for(t, pr->perr, sizeof(pr->perr));
	} else {
		snprintf(pr->perr, sizeof(pr->perr), "%s is not a Python interpreter or script", bin);
	}
	fprintf(pr->out, "target:       %s (not started: py: functions are looked up when their "
		"module is imported)\n", bin);
	return 0;
}

/* The interpreter, its USDT probes, and whether debug registers work (budget 0 if not). */
static void probes_header(struct probes *pr)
{
	FILE *out = pr->out;
	int st;

	if (pr->interp[0] || pr->have_py)
		fprintf(out, "interpreter:  %s, CPython %s: %s\n", pr->interp[0] ? pr->interp : "?",
			pr->t.version, pr->have_py ? "supported" : pr->perr);
	else
		fprintf(out, "interpreter:  none (%s)\n", pr->perr);
	if (pr->interp[0]) {
		char names[64][64];
		int n = elf_usdt_list(pr->interp, names, 64);

		fprintf(out, "usdt probes:  ");
		if (n <= 0)
			fprintf(out, "none (not built with --with-dtrace)");
		for (int i = 0; i < n; i++)
			fprintf(out, "%s%s", i ? ", " : "", names[i]);
		fprintf(out, "\n");
	}
	st = attach_bp_selftest();
	if (st <= 0) {
		pr->budget = 0;
		fprintf(out, "debug registers: self-test failed: %s: py: functions will be sampled\n\n", st == 0 ?
			"hardware breakpoints do not fire on this machine (self-test)" :
			st == -ENOSPC ? "none free (ENOSPC)" : "unavailable");
	} else {
		fprintf(out, "debug registers: self-test passed (hardware breakpoints fire here); %d per "
			"CPU for exact Python operations\n\n", pr->budget);
	}
}

static void probes_native(struct probes *pr, int i)
{
	const struct op_spec *sp = &pr->o->ops[i];
	char path[PATH_MAX], e2[512] = "";
	__u64 off = 0;

	if (resolve_native_path(sp->path, pr->o->pid, path, sizeof(path)) ||
	    elf_sym_offset(path, sp->symbol, &off, NULL, e2, sizeof(e2))) {
		pr->why[i] = "not found";
		snprintf(pr->detail[i], sizeof(pr->detail[i]), "%s", e2[0] ? e2 : sp->path);
		pr->nmissing++;
	} else {
		pr->why[i] = "exact (uprobe)";
		snprintf(pr->detail[i], sizeof(pr->detail[i]), "%s+0x%llx", path, (unsigned long long)off);
		pr->nexact++;
	}
}

/* A py: function op in the live process: found? how many registers would it take? */
static void probes_function(struct probes *pr, int i)
{
	const struct op_spec *sp = &pr->o->ops[i];
	struct plan_op *po = &pr->po[i];
	char *detail = pr->detail[i], cwhy[64];
	size_t dlen = sizeof(pr->detail[i]);
	struct py_code_info ci;
	__u64 code = 0;

	if (py_find_function_why(&pr->t, sp->path, sp->symbol, &code, detail, dlen) != 1 ||
	    py_code_read(&pr->t, code, &ci)) {
		pr->why[i] = "not found";
		if (!detail[0])
			snprintf(detail, dlen, "no %s in a loaded module ending %s (yet)", sp->symbol, sp->path);
		pr->nmissing++;
		return;
	}
	po->need = pr->budget ? code_need(&ci, rc_ok(&pr->t), cwhy, sizeof(cwhy)) : 0;
	pr->why[i] = "sampled";
	if (!pr->budget)
		snprintf(cwhy, sizeof(cwhy), "no usable debug registers");
	snprintf(detail, dlen, "code 0x%llx: %s", (unsigned long long)code,
		 po->need ? "no debug register left" : cwhy);
	if (po->need)
		snprintf(detail, dlen, "code 0x%llx, %u return site(s), line %d", (unsigned long long)code,
			 ci.nret, ci.firstlineno);
}

static void probes_op(struct probes *pr, int i)
{
	const struct op_spec *sp = &pr->o->ops[i];
	bool live = pr->live;

	pr->detail[i][0] = 0;
	pr->po[i].parent = parent_of(pr->o->ops, pr->o->nops, i);
	pr->po[i].top = !strchr(sp->name, '.');
	if (sp->kind == OP_NATIVE) {
		probes_native(pr, i);
	} else if (!pr->have_py) {
		pr->why[i] = "not profiled";
		snprintf(pr->detail[i], sizeof(pr->detail[i]), "no supported interpreter");
		pr->nmissing++;
	} else if (sp->kind == OP_PY_MODULE) {
		pr->why[i] = live ? "sampled" : "exact (PyEval_EvalCode uprobe)";
		snprintf(pr->detail[i], sizeof(pr->detail[i]), live ? "module body ran before attach" :
			 "module body of %s", sp->path);
		live ? pr->nsampled++ : pr->nexact++;
	} else if (!live) {
		pr->why[i] = "pending";
		snprintf(pr->detail[i], sizeof(pr->detail[i]), "looked up when %s is imported", sp->path);
	} else {
		probes_function(pr, i);
	}
}

/* The plan record would start with (it re-plans as ops run and every --rotate period). */
static void probes_plan(struct probes *pr)
{
	bool want[MAX_OPS];

	plan_compute(pr->po, pr->o->nops, pr->budget, 0, true, want);
	for (int i = 0; i < pr->o->nops; i++) {
		char *d = pr->detail[i];

		if (!pr->why[i] || strcmp(pr->why[i], "sampled"))
			continue;
		if (want[i]) {
			pr->why[i] = "exact (breakpoints)";
			pr->nexact++;
		} else {
			if (pr->po[i].need)
				snprintf(d + strlen(d), sizeof(pr->detail[i]) - strlen(d),
					 ": registers go to higher-priority ops");
			pr->nsampled++;
		}
	}
}

int record_probes(struct record_opts *o, FILE *out, char *err, size_t errlen)
{
	struct probes *pr = calloc(1, sizeof(*pr));
	int order[MAX_OPS], rc;

	if (!pr) {
		snprintf(err, errlen, "out of memory");
		return 1;
	}
	pr->o = o;
	pr->out = out;
	pr->live = o->pid > 0;
	pr->budget = o->max_breakpoints;
	rc = pr->live ? probes_pid(pr, err, errlen) : probes_cmd(pr, err, errlen);
	if (rc)
		goto cleanup;
	probes_header(pr);
	spec_priority(o->ops, o->nops, order);
	for (int k = 0; k < o->nops; k++)
		probes_op(pr, order[k]);
	probes_plan(pr);
	fprintf(out, "%-22s %-24s %s\n", "OPERATION", "PRECISION", "WHERE / WHY");
	for (int i = 0; i < o->nops; i++)
		fprintf(out, "%-22s %-24s %s\n", o->ops[i].name, pr->why[i] ? pr->why[i] : "?", pr->detail[i]);
	o->not_found = pr->nmissing;
	fprintf(out, "\n%d exact, %d sampled, %d not found%s\n", pr->nexact, pr->nsampled, pr->nmissing,
		pr->live ? "" : " (function ops are resolved at run time)");

cleanup:
	free(pr);
	return rc;
}
