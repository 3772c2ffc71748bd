// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `probes`: what record would find and how precisely it would time each op, without loading BPF. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "planner.h"
#include "recorder_int.h"
#include "spec.h"
#include "symbols.h"
#include "util.h"

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
	char detail[MAX_OPS][160];

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

		if (py_find_function(&t, sp->path, sp->symbol, &code) != 1 || py_code_read(&t, code, &ci)) {
			why[i] = "not found";
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
	fprintf(out, "\n%d exact, %d sampled, %d not found%s\n", nexact, nsampled, nmissing,
		live ? "" : " (function ops are resolved at run time)");
	return 0;
}
