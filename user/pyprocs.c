// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The recorder's registry of Python processes: interpreter detection per process, its entry in
 * BPF's py_procs, and the code-object -> op map samples are attributed with. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "recorder_int.h"
#include "symbols.h"
#include "util.h"
#include "prof.skel.h"

struct pyproc *py_get(struct rec *r, pid_t pid)
{
	for (int i = 0; i < r->npy; i++)
		if (r->py[i].pid == pid)
			return &r->py[i];
	return NULL;
}

/* Suffix match of a co_filename against FILE_SUFFIX, on a path component boundary. */
bool suffix_match(const char *file, const char *suffix)
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

/* The slot of CODE in p's map (its entry, or the empty slot it would take); -1 without memory. */
static long code_find(struct pyproc *p, __u64 code)
{
	size_t j;

	if ((p->nmap + 1) * 2 > p->capmap && code_map_grow(p))
		return -1;
	for (j = code_slot(code, p->capmap); p->map[j].code; j = (j + 1) & (p->capmap - 1))
		if (p->map[j].code == code)
			break;
	return j;
}

int code_op_put(struct pyproc *p, __u64 code, __u32 tag, int op)
{
	long j = code ? code_find(p, code) : -1;

	if (j < 0)
		return -ENOMEM;
	if (!p->map[j].code)
		p->nmap++;
	p->map[j] = (struct code_op){ code, tag, op };
	return 0;
}

/* Which spec op a code object is, by name (works for code found only in samples). Hashed by
 * address: this runs for every frame of every sample. */
int op_of_code(struct rec *r, struct pyproc *p, __u64 code, __u32 tag)
{
	const struct py_sym *sym;
	long j = code ? code_find(p, code) : -1;
	int op = -1;

	if (j < 0)
		return -1;
	/* a reused address (another tag) is looked up again below */
	if (p->map[j].code == code && p->map[j].tag == tag)
		return p->map[j].op;
	sym = py_symcache_get(p->syms, code, tag);
	for (int i = 0; sym && i < r->o->nops; i++) {
		const struct op_spec *sp = &r->o->ops[i];

		if (is_py(sp) && suffix_match(sym->file, sp->path) && !strcmp(sym->qualname, sp->symbol)) {
			op = i;
			break;
		}
	}
	code_op_put(p, code, tag, op);
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

/* A slot for PID: a free one, a new one, else the one of a process gone since (the ring
 * is drained every poll period, so its queued samples have been read by now). */
static struct pyproc *py_slot(struct rec *r, pid_t pid)
{
	struct pyproc *p = NULL;

	for (int i = 0; i < r->npy && !p; i++)
		if (r->py[i].pid == 0)
			p = &r->py[i];
	if (!p && r->npy < MAX_PY_PROCS)
		p = &r->py[r->npy++];
	for (int i = 0; i < r->npy && !p; i++)
		if (r->py[i].gone && i != r->primary)
			p = &r->py[i];
	if (!p)
		return NULL;
	py_release(p);
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	return p;
}

/* Detects the interpreter of pid; quiet failures are retried later (the loader may not have
 * mapped libpython yet). */
struct pyproc *py_try(struct rec *r, pid_t pid, bool report)
{
	struct pyproc *p = py_get(r, pid);
	char err[512];

	if (p && p->ok)
		return p;
	if (!p && !(p = py_slot(r, pid)))
		return NULL;
	if (py_detect(pid, &p->t, err, sizeof(err))) {
		if (report)
			session_warn(r->s, "%s", err);
		/* Not (yet) Python: nothing to keep, the slot goes back (a shell script's many
		 * children would fill them all, and then the interpreter it execs found none). */
		py_release(p);
		p->pid = 0;
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
		    !eval_probe(r, -1, p->t.elf_path, off, err, sizeof(err))) {
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

void py_release(struct pyproc *p)
{
	py_symcache_free(p->syms);
	free(p->map);
	p->syms = NULL;
	p->map = NULL;
	p->ok = false;
}

/* Python process PID exited or exec'd: its breakpoints and BPF entry go. Its symbols stay, for
 * samples already queued. Returns it, or NULL. */
struct pyproc *py_forget(struct rec *r, pid_t pid)
{
	struct pyproc *p = py_get(r, pid);
	__u32 k = pid;

	if (p && r->primary == p - r->py)
		py_drop_primary(r);
	if (p)
		p->gone = true;
	if (p && p->ok)
		bpf_map__delete_elem(r->a.skel->maps.py_procs, &k, sizeof(k), 0);
	return p;
}
