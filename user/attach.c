// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* BPF object lifecycle and every kind of attachment ragd-bpfprof makes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <linux/hw_breakpoint.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "attach.h"
#include "symbols.h"
#include "x86len.h"
#include "prof.skel.h"

static bool verbose_log;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	/* Warnings always, the rest with -v. */
	if (level != LIBBPF_WARN && !verbose_log)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static bool have_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[cap / 32].effective & (1u << (cap % 32));
}

int attach_preflight(char *err, size_t errlen)
{
	/* CAP_BPF (39) + CAP_PERFMON (38) suffice on 5.8+; CAP_SYS_ADMIN covers older kernels. */
	if (geteuid() != 0 && !have_cap(21) && !(have_cap(39) && have_cap(38))) {
		snprintf(err, errlen, "must run as root (or with CAP_BPF and CAP_PERFMON) to load BPF programs");
		return -1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, errlen, "kernel BTF missing (/sys/kernel/btf/vmlinux): needs a kernel built with "
			 "CONFIG_DEBUG_INFO_BTF=y");
		return -1;
	}
	return 0;
}

static int add_link(struct attacher *a, struct bpf_link *l)
{
	if (!l)
		return -errno ? -errno : -EINVAL;
	if (a->nlinks >= MAX_LINKS) {
		bpf_link__destroy(l);
		return -E2BIG;
	}
	a->links[a->nlinks++] = l;
	return 0;
}

/* Inode of our PID namespace if it is not the initial one (PROC_PID_INIT_INO), else 0. */
static __u32 own_pidns(void)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st) || st.st_ino == 0xEFFFFFFCu)
		return 0;
	return (__u32)st.st_ino;
}

int attach_open_load(struct attacher *a, const struct attach_cfg *cfg, char *err, size_t errlen)
{
	struct prof_bpf *skel;
	int err_;

	memset(a, 0, sizeof(*a));
	verbose_log = cfg->verbose;
	libbpf_set_print(libbpf_print);
	a->ncpus = libbpf_num_possible_cpus();
	if (a->ncpus <= 0)
		a->ncpus = 1;

	skel = prof_bpf__open();
	if (!skel) {
		snprintf(err, errlen, "cannot open BPF object: %s", strerror(errno));
		return -1;
	}
	a->skel = skel;
	skel->rodata->nr_cpus = a->ncpus;
	skel->rodata->page_shift = __builtin_ctz(sysconf(_SC_PAGESIZE));
	skel->rodata->follow_children = cfg->follow_children;
	skel->rodata->pidns_ino = own_pidns();
	skel->rodata->nr_mod_ops = cfg->nr_mod_ops;
	skel->data->mod_code_filename = cfg->mod_code_filename;
	skel->data->mod_str_data = cfg->mod_str_data;
	bpf_map__set_max_entries(skel->maps.aggs, cfg->nops > 0 ? cfg->nops : 1);

	bpf_program__set_autoload(skel->progs.op_entry, cfg->want_native);
	bpf_program__set_autoload(skel->progs.op_return, cfg->want_native);
	bpf_program__set_autoload(skel->progs.op_ret_site, cfg->want_native);
	bpf_program__set_autoload(skel->progs.on_bp, cfg->want_python);
	bpf_program__set_autoload(skel->progs.on_rc, cfg->want_python);
	/* Only what the session uses: verification is most of start-up. */
	bpf_program__set_autoload(skel->progs.on_cpu_sample, cfg->want_sampling);
	bpf_program__set_autoload(skel->progs.on_switch_offcpu, cfg->sample_offcpu);
	bpf_program__set_autoload(skel->progs.eval_code_entry, cfg->want_python);
	bpf_program__set_autoload(skel->progs.eval_code_return, cfg->want_python);

	err_ = prof_bpf__load(skel);
	if (err_) {
		snprintf(err, errlen, "cannot load BPF programs: %s%s", strerror(-err_),
			 cfg->verbose ? "" : " (run with -v for the verifier log)");
		return -1;
	}

#define ATTACH_TP(prog)                                                                    \
	do {                                                                               \
		if (add_link(a, bpf_program__attach(skel->progs.prog))) {                  \
			snprintf(err, errlen, "cannot attach %s: %s", #prog, strerror(errno)); \
			return -1;                                                         \
		}                                                                          \
	} while (0)
	ATTACH_TP(on_switch);
	if (cfg->sample_offcpu)
		ATTACH_TP(on_switch_offcpu);
	ATTACH_TP(on_rss);
	ATTACH_TP(on_fork);
	ATTACH_TP(on_exec);
	ATTACH_TP(on_exit);
#undef ATTACH_TP
	return 0;
}

void attach_destroy(struct attacher *a)
{
	for (int i = 0; i < a->nlinks; i++)
		bpf_link__destroy(a->links[i]);
	a->nlinks = 0;
	prof_bpf__destroy(a->skel);
	a->skel = NULL;
}

int attach_map_set(struct bpf_map *map, const void *key, size_t ksz, const void *val, size_t vsz,
		   const char *what)
{
	int ret = bpf_map__update_elem(map, key, ksz, val, vsz, BPF_ANY);

	/* a full map means calls go uncounted: never in silence */
	if (ret)
		fprintf(stderr, "ragd-bpfprof: warning: %s: BPF map %s: %s\n", what, bpf_map__name(map),
			strerror(-ret));
	return ret;
}

int attach_add_pid(struct attacher *a, pid_t pid)
{
	char what[48];
	__u32 k = pid;
	__u8 one = 1;

	snprintf(what, sizeof(what), "cannot trace pid %d", pid);
	return attach_map_set(a->skel->maps.pids, &k, sizeof(k), &one, sizeof(one), what);
}

static int uprobe(struct attacher *a, struct bpf_program *prog, bool ret, __u64 cookie, pid_t pid,
		  const char *path, __u64 off)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = ret, .bpf_cookie = cookie);

	return add_link(a, bpf_program__attach_uprobe_opts(prog, pid, path, off, &o));
}

int attach_uprobe_pair(struct attacher *a, int op, pid_t pid, const char *path, __u64 off,
		       char *err, size_t errlen)
{
	int e;

	/* Return probe first: an entry that fires before its return probe exists would leave an
	 * open frame behind. */
	if ((e = uprobe(a, a->skel->progs.op_return, true, op, pid, path, off)) ||
	    (e = uprobe(a, a->skel->progs.op_entry, false, op, pid, path, off))) {
		snprintf(err, errlen, "cannot attach uprobe to %s+0x%llx: %s", path,
			 (unsigned long long)off, strerror(-e));
		return -1;
	}
	return 0;
}

/* Exits of the function worth a probe: returns, and jumps to another function's entry (tail
 * calls). Jumps elsewhere (a NAME.cold part of the function) are not returns. */
static int ret_sites(const struct elf_func_code *c, const struct x86_scan *sc, __u64 *sites,
		     int *ntail)
{
	int n = 0;

	*ntail = 0;
	for (__u32 i = 0; i < sc->nexits; i++) {
		const struct x86_exit *x = &sc->exits[i];

		if (x->kind == X86_JMP && !elf_func_code_is_entry(c, c->vaddr + x->target))
			continue;
		if (x->kind != X86_RET)
			(*ntail)++;
		sites[n++] = c->file_off + x->off;
	}
	return n;
}

/* Uprobes on every return site, then the entry; -errno with nothing left attached on failure. */
static int attach_sites(struct attacher *a, int op, pid_t pid, const char *path, __u64 off,
			const __u64 *sites, int n)
{
	int first = a->nlinks, e = 0;

	for (int i = 0; i < n && !e; i++)
		e = uprobe(a, a->skel->progs.op_ret_site, false, op, pid, path, sites[i]);
	if (!e)
		e = uprobe(a, a->skel->progs.op_entry, false, op, pid, path, off);
	if (e)
		attach_drop_links(a, first, a->nlinks - first);
	return e;
}

int attach_native_op(struct attacher *a, int op, pid_t pid, const char *path, const char *sym,
		     __u64 off, char *note, size_t notelen, char *warn, size_t warnlen, char *err,
		     size_t errlen)
{
	struct elf_func_code c;
	struct x86_scan sc;
	__u64 sites[X86_MAX_EXITS];
	size_t blen;
	int mode = sym_ret_suffix(sym, &blen), n, ntail, e;
	char why[192] = "";

	note[0] = warn[0] = 0;
	if (mode == SYM_RET_URETPROBE)
		return attach_uprobe_pair(a, op, pid, path, off, err, errlen);
	if (elf_func_code_load(path, sym, &c, why, sizeof(why))) {
		if (mode == SYM_RET_AUTO)
			return attach_uprobe_pair(a, op, pid, path, off, err, errlen);
		goto fallback;
	}
	if (mode == SYM_RET_AUTO && !c.cxx_unwind) {
		elf_func_code_free(&c);
		return attach_uprobe_pair(a, op, pid, path, off, err, errlen);
	}
	if (x86_scan_function(c.code, c.size, &sc)) {
		snprintf(why, sizeof(why), "%s", sc.why);
		goto fallback;
	}
	n = ret_sites(&c, &sc, sites, &ntail);
	if ((e = attach_sites(a, op, pid, path, off, sites, n))) {
		snprintf(why, sizeof(why), "cannot attach a return-instruction uprobe: %s", strerror(-e));
		goto fallback;
	}
	snprintf(note, notelen, "returns timed at %d return instruction%s%s (unwind-safe)%s", n,
		 n == 1 ? "" : "s", ntail ? " and tail-call jumps" : "",
		 sc.indirect_jmps ? "; calls leaving by an indirect jump are closed as unwound" : "");
	elf_func_code_free(&c);
	return 0;
fallback:
	elf_func_code_free(&c);
	snprintf(warn, warnlen, "%.*s: return-instruction timing not possible (%s): a uretprobe "
		 "is used, a C++ exception thrown through it aborts the target", (int)blen, sym, why);
	return attach_uprobe_pair(a, op, pid, path, off, err, errlen);
}

int attach_eval_code(struct attacher *a, pid_t pid, const char *path, __u64 off, char *err, size_t errlen)
{
	int e;

	if ((e = uprobe(a, a->skel->progs.eval_code_return, true, 0, pid, path, off)) ||
	    (e = uprobe(a, a->skel->progs.eval_code_entry, false, 0, pid, path, off))) {
		snprintf(err, errlen, "cannot attach uprobe to %s PyEval_EvalCode: %s", path, strerror(-e));
		return -1;
	}
	return 0;
}

static int perf_open(struct perf_event_attr *attr, int cpu)
{
	return syscall(SYS_perf_event_open, attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* One breakpoint perf event per CPU (pid -1: the BPF program filters by tgid), each linked to
 * prog with cookie. Returns the number of links added or -errno. */
static int attach_bp(struct attacher *a, struct bpf_program *prog, int type, int len, __u64 addr,
		     __u64 cookie, int *first_link)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_BREAKPOINT,
		.size = sizeof(attr),
		.bp_type = type,
		.bp_addr = addr,
		.bp_len = len,
		.sample_period = 1,
	};
	int n = 0;

	*first_link = a->nlinks;
	for (int cpu = 0; cpu < a->ncpus; cpu++) {
		LIBBPF_OPTS(bpf_perf_event_opts, o, .bpf_cookie = cookie);
		struct bpf_link *l;
		int fd = perf_open(&attr, cpu);

		if (fd < 0) {
			int e = errno;

			if (e == ENODEV || e == ENOENT) /* offline CPU */
				continue;
			attach_drop_links(a, *first_link, n);
			return -e;
		}
		l = bpf_program__attach_perf_event_opts(prog, fd, &o);
		if (!l) {
			int e = errno;

			close(fd);
			attach_drop_links(a, *first_link, n);
			return -e;
		}
		if (add_link(a, l)) {
			attach_drop_links(a, *first_link, n);
			return -E2BIG;
		}
		n++;
	}
	return n;
}

int attach_breakpoint(struct attacher *a, __u64 addr, __u64 cookie, int *first_link)
{
	return attach_bp(a, a->skel->progs.on_bp, HW_BREAKPOINT_RW, HW_BREAKPOINT_LEN_1, addr, cookie,
			 first_link);
}

int attach_breakpoint_w(struct attacher *a, __u64 addr, __u64 cookie, int *first_link)
{
	return attach_bp(a, a->skel->progs.on_rc, HW_BREAKPOINT_W, HW_BREAKPOINT_LEN_8, addr, cookie,
			 first_link);
}

void attach_drop_links(struct attacher *a, int first, int n)
{
	/* Links own their perf fds (libbpf closes them on destroy). */
	for (int i = first; i < first + n && i < a->nlinks; i++)
		bpf_link__destroy(a->links[i]);
	if (first + n >= a->nlinks) {
		a->nlinks = first;
		return;
	}
	memmove(&a->links[first], &a->links[first + n], (a->nlinks - first - n) * sizeof(a->links[0]));
	a->nlinks -= n;
}

/* Do hardware breakpoints fire here? Some hypervisors accept the perf event but never deliver
 * a hit. Watch a variable of our own and write it: 1 works, 0 silent, -errno cannot open. */
int attach_bp_selftest(void)
{
	static volatile int probe_var;
	struct perf_event_attr attr = {
		.type = PERF_TYPE_BREAKPOINT,
		.size = sizeof(attr),
		.bp_type = HW_BREAKPOINT_W,
		.bp_addr = (__u64)(unsigned long)&probe_var,
		.bp_len = HW_BREAKPOINT_LEN_4,
		.exclude_kernel = 1,
	};
	__u64 hits = 0;
	int fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (int i = 0; i < 4; i++)
		probe_var++;
	if (read(fd, &hits, sizeof(hits)) != sizeof(hits))
		hits = 0;
	close(fd);
	return hits > 0;
}

int attach_sampler(struct attacher *a, int hz, char *err, size_t errlen)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.freq = 0,
		/* A fixed period (not freq) so each sample weighs exactly 1/hz of CPU time. */
		.sample_period = 1000000000ull / (hz > 0 ? hz : 999),
	};

	for (int cpu = 0; cpu < a->ncpus; cpu++) {
		int fd = perf_open(&attr, cpu);

		if (fd < 0) {
			if (errno == ENODEV || errno == ENOENT)
				continue;
			snprintf(err, errlen, "cannot open cpu-clock sampler on CPU %d: %s", cpu, strerror(errno));
			return -1;
		}
		if (add_link(a, bpf_program__attach_perf_event(a->skel->progs.on_cpu_sample, fd))) {
			snprintf(err, errlen, "cannot attach sampler on CPU %d: %s", cpu, strerror(errno));
			close(fd);
			return -1;
		}
	}
	return 0;
}
