// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Starting a run: the command launched and held until every probe is in place, its interpreter
 * found before it starts (ELF or #! line), native ops resolved, module filters for BPF. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include "recorder_int.h"
#include "spec.h"
#include "symbols.h"
#include "util.h"
#include "prof.skel.h"

/* The interpreter ELF a launched command will run (python binary or its libpython), from the
 * command itself or its #! line; "" if it is not Python. */
void find_interp(const char *bin, char *out, size_t len)
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

void setup_mods(struct rec *r)
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

void host_info(struct session *s)
{
	struct utsname u;

	if (!uname(&u))
		snprintf(s->kernel, sizeof(s->kernel), "%s", u.release);
	s->cpus = sysconf(_SC_NPROCESSORS_ONLN);
}

void cmdline_of(pid_t pid, char *out, size_t len)
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

/* Native ops: file and offset, once for the recorder; any failure is an input error. */
int resolve_natives(struct rec *r, char *err, size_t errlen)
{
	const struct record_opts *o = r->o;

	r->npath = calloc(o->nops, PATH_MAX);
	r->noff = calloc(o->nops, sizeof(__u64));
	if (!r->npath || !r->noff) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < o->nops; i++) {
		if (o->ops[i].kind != OP_NATIVE)
			continue;
		if (resolve_native(r, i, r->npath[i], &r->noff[i], err, errlen) ||
		    same_site(r, i, r->npath, r->noff, err, errlen))
			return -EINVAL;
	}
	return 0;
}

/* The interpreter's version and offsets from its ELF, before it runs; 0 in pre->version_hex if
 * unknown or unsupported. */
static void interp_version(const char *interp, struct py_target *pre)
{
	__u64 v = 0, va;
	__u32 hex = 0;

	if (!elf_read_symbol_value(interp, "Py_Version", &va, NULL) &&
	    !elf_read_vaddr(interp, va, &hex, sizeof(hex)))
		v = hex;
	pre->version_hex = v;
	if (!v || py_offsets_for(pre, NULL, 0))
		pre->version_hex = 0;
}

/* Python: the interpreter is known now (-p) or from the command's ELF / #! line. Sets interp,
 * pre and eval_code_off for this run. -EINVAL (err says why) when -p names no Python process
 * and there is nothing else to record. */
int find_interp_pre(struct rec *r, char *err, size_t errlen)
{
	const struct record_opts *o = r->o;

	memset(&r->pre, 0, sizeof(r->pre));
	r->interp[0] = 0;
	r->eval_code_off = 0;
	if (!r->want_python)
		return 0;
	if (o->pid > 0) {
		char perr[512];

		if (py_detect(o->pid, &r->pre, perr, sizeof(perr))) {
			if (r->n_native == 0) {
				snprintf(err, errlen, "%s", perr);
				return -EINVAL;
			}
			if (r->n_py > 0)
				session_warn(r->s, "%s: py: operations not profiled", perr);
		} else {
			snprintf(r->interp, sizeof(r->interp), "%s", r->pre.elf_path);
		}
	} else {
		find_interp(r->bin, r->interp, sizeof(r->interp));
		if (r->interp[0])
			interp_version(r->interp, &r->pre);
	}
	if (r->interp[0] && r->pre.version_hex) {
		__u64 va;

		if (!elf_read_symbol_value(r->interp, "PyEval_EvalCode", &va, NULL))
			elf_vaddr_to_offset(r->interp, va, &r->eval_code_off);
	}
	return 0;
}

/* PyEval_EvalCode entry+return on interpreter file PATH, once per file for the recorder's life
 * (a second pair on the same function would push every module body twice). 0 or -1 (err). */
int eval_probe(struct rec *r, pid_t upid, const char *path, __u64 off, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st))
		st.st_dev = 0, st.st_ino = 0;
	for (int i = 0; i < r->nevals; i++)
		if (st.st_ino && r->evals[i].dev == st.st_dev && r->evals[i].ino == st.st_ino)
			return 0;
	if (attach_eval_code(&r->a, upid, path, off, err, errlen))
		return -1;
	if (st.st_ino && r->nevals < MAX_EVALS)
		r->evals[r->nevals++] = (struct eval_probe){ st.st_dev, st.st_ino };
	return 0;
}

/* Launch: the child is forked now and waits on a pipe until every probe is in place. */
int launch_held(struct rec *r, char *err, size_t errlen)
{
	char **cmd = r->o->cmd;

	if (pipe2(r->pipefd, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		r->pipefd[0] = r->pipefd[1] = -1;
		return -errno;
	}
	r->child = fork();
	if (r->child < 0) {
		int e = errno;

		snprintf(err, errlen, "fork: %s", strerror(e));
		r->child = 0;
		return -e;
	}
	if (r->child == 0) {
		char c;

		close(r->pipefd[1]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (read(r->pipefd[0], &c, 1) != 1)
			_exit(127);
		execvp(cmd[0], cmd);
		fprintf(stderr, "ragd-bpfprof: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(r->pipefd[0]);
	r->pipefd[0] = -1;
	r->root = r->child;
	return 0;
}

/* Lets the held child exec its command. */
int launch_release(struct rec *r, char *err, size_t errlen)
{
	int ok = write(r->pipefd[1], "x", 1) == 1;

	close(r->pipefd[1]);
	r->pipefd[1] = -1;
	if (!ok) {
		snprintf(err, errlen, "cannot start %s", r->o->cmd[0]);
		return -EPIPE;
	}
	return 0;
}

/* Stopped by -d or a signal: the command we started ends with the recording (like perf record),
 * SIGTERM first, SIGKILL if it lingers. Its end is still recorded. */
void launch_stop(struct rec *r)
{
	pid_t child = r->child;
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
}

/* The child's exit wakes the poll at once instead of at the next drain period (up to POLL_MS a
 * run, which profile pays every iteration). Its pidfd joins the ring buffer's epoll set with the
 * ring's own index (0): libbpf then drains that ring, which costs nothing when it is empty. */
void launch_watch(struct rec *r)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = 0 };

	r->pidfd = syscall(SYS_pidfd_open, r->child, 0);
	if (r->pidfd < 0)
		return; /* before 5.3: the drain period notices the exit */
	if (epoll_ctl(ring_buffer__epoll_fd(r->rb), EPOLL_CTL_ADD, r->pidfd, &ev)) {
		close(r->pidfd);
		r->pidfd = -1;
	}
}

void launch_unwatch(struct rec *r)
{
	if (r->pidfd < 0)
		return;
	epoll_ctl(ring_buffer__epoll_fd(r->rb), EPOLL_CTL_DEL, r->pidfd, NULL);
	close(r->pidfd);
	r->pidfd = -1;
}
