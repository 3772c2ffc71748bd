// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The floors of ragd-bpfprof's costs on this host, without ragd-bpfprof: what the host charges
 * for a hardware-breakpoint hit, for a debug register merely armed, and for a sampling clock,
 * with the perf events opened as ragd-bpfprof opens them (one per CPU, pid -1).
 *
 *     bpfloor [W|X|RW] [HITS] [none]
 *     bpfloor armed CMD [ARG...]
 *     bpfloor clock HZ CMD [ARG...]
 *
 * W: a write watch (len 8) on a variable written HITS times; X: an execute breakpoint on a
 * function called HITS times; RW: a read/write watch (len 1) read HITS times, each running an
 * empty BPF program (sample_period 1; it returns 0 so no perf record is written; "none": no
 * program, the event only counts). Prints "TYPE NS_PER_HIT HITS": (time with the breakpoint -
 * time without) / hits, best of 5 alternating rounds. Exit 1 when the breakpoint does not fire
 * (0 hits), 2 when it cannot be opened.
 * armed: runs CMD with a write watch armed on every CPU on a variable of ours nothing else
 * writes (the host's price of an armed debug register: on this VM kind every page fault that
 * exits to the hypervisor costs more while one is). clock: runs CMD under a cpu-clock event at
 * HZ on every CPU with an empty BPF program (the price of the sampling interrupts alone).
 * Both exit with CMD's status (127: it did not run). Needs root. */
#include <linux/bpf.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 256

static volatile unsigned long var;

__attribute__((noinline)) static void target(void)
{
	__asm__ volatile("" ::: "memory");
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

/* BPF_PROG_TYPE_PERF_EVENT: r0 = 0; exit. */
static int empty_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_PERF_EVENT;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uintptr_t)"GPL";
	return syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
}

static uint64_t loop(char type, long n)
{
	uint64_t t0 = now_ns();
	unsigned long s = 0;

	for (long i = 0; i < n; i++) {
		if (type == 'W')
			var = i;
		else if (type == 'X')
			target();
		else
			s += *(volatile unsigned char *)&var;
	}
	(void)s;
	return now_ns() - t0;
}

/* Opens attr on every CPU into fds (with prog unless < 0). 0 or 2 (the exit status). */
static int open_all(struct perf_event_attr *a, int prog, int ncpus, int *fds)
{
	for (int c = 0; c < ncpus; c++) {
		fds[c] = syscall(SYS_perf_event_open, a, -1, c, -1, PERF_FLAG_FD_CLOEXEC);
		if (fds[c] < 0) {
			fprintf(stderr, "bpfloor: perf_event_open(cpu %d): %s\n", c, strerror(errno));
			return 2;
		}
		if (prog >= 0 && ioctl(fds[c], PERF_EVENT_IOC_SET_BPF, prog)) {
			fprintf(stderr, "bpfloor: PERF_EVENT_IOC_SET_BPF: %s\n", strerror(errno));
			return 2;
		}
	}
	return 0;
}

/* armed / clock: CMD runs while the events are on. */
static int run_under(int argc, char **argv)
{
	int clock = !strcmp(argv[1], "clock"), ncpus = sysconf(_SC_NPROCESSORS_CONF), prog = -1;
	int fds[MAX_CPUS], st = 0, e;
	char **cmd = argv + (clock ? 3 : 2);
	struct perf_event_attr a;
	pid_t pid;

	if (argc < (clock ? 4 : 3) || ncpus <= 0 || ncpus > MAX_CPUS || (clock && atoi(argv[2]) <= 0)) {
		fprintf(stderr, "usage: bpfloor armed CMD [ARG...] | bpfloor clock HZ CMD [ARG...]\n");
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	if (clock) {
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_CPU_CLOCK;
		a.freq = 1;
		a.sample_freq = atoi(argv[2]);
		if ((prog = empty_prog()) < 0) {
			fprintf(stderr, "bpfloor: BPF_PROG_LOAD: %s\n", strerror(errno));
			return 2;
		}
	} else {
		a.type = PERF_TYPE_BREAKPOINT;
		a.bp_type = HW_BREAKPOINT_W;
		a.bp_addr = (uintptr_t)&var;
		a.bp_len = HW_BREAKPOINT_LEN_8;
		a.sample_period = 1;
	}
	if ((e = open_all(&a, prog, ncpus, fds)))
		return e;
	pid = fork();
	if (pid == 0) {
		execvp(cmd[0], cmd);
		fprintf(stderr, "bpfloor: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 127;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	const char *t = argc > 1 ? argv[1] : "W";
	long n = argc > 2 ? atol(argv[2]) : 20000;
	int use_bpf = !(argc > 3 && !strcmp(argv[3], "none"));
	char type = !strcmp(t, "X") ? 'X' : !strcmp(t, "RW") ? 'R' : 'W';
	int ncpus = sysconf(_SC_NPROCESSORS_CONF), fds[MAX_CPUS], prog = -1;
	struct perf_event_attr a;
	uint64_t best_on = UINT64_MAX, best_off = UINT64_MAX, hits = 0;
	int e;

	if (argc > 1 && (!strcmp(t, "armed") || !strcmp(t, "clock")))
		return run_under(argc, argv);
	if (n <= 0 || ncpus <= 0 || ncpus > MAX_CPUS) {
		fprintf(stderr, "bpfloor: bad arguments\n");
		return 2;
	}
	if (use_bpf && (prog = empty_prog()) < 0) {
		fprintf(stderr, "bpfloor: BPF_PROG_LOAD: %s\n", strerror(errno));
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_BREAKPOINT;
	a.size = sizeof(a);
	a.bp_type = type == 'X' ? HW_BREAKPOINT_X : type == 'W' ? HW_BREAKPOINT_W : HW_BREAKPOINT_RW;
	a.bp_addr = type == 'X' ? (uintptr_t)target : (uintptr_t)&var;
	a.bp_len = type == 'X' ? sizeof(long) : type == 'W' ? HW_BREAKPOINT_LEN_8 : HW_BREAKPOINT_LEN_1;
	a.sample_period = 1;
	a.disabled = 1;
	if ((e = open_all(&a, prog, ncpus, fds)))
		return e;
	loop(type, n); /* warm-up */
	for (int r = 0; r < 5; r++) {
		uint64_t t;

		t = loop(type, n);
		best_off = t < best_off ? t : best_off;
		for (int c = 0; c < ncpus; c++)
			ioctl(fds[c], PERF_EVENT_IOC_ENABLE, 0);
		t = loop(type, n);
		for (int c = 0; c < ncpus; c++)
			ioctl(fds[c], PERF_EVENT_IOC_DISABLE, 0);
		best_on = t < best_on ? t : best_on;
	}
	for (int c = 0; c < ncpus; c++) {
		uint64_t v = 0;

		if (read(fds[c], &v, sizeof(v)) == sizeof(v))
			hits += v;
	}
	hits /= 5;
	if (hits == 0) {
		printf("%s - 0\n", t);
		return 1;
	}
	printf("%s %.0f %llu\n", t, (double)(best_on - best_off) / hits, (unsigned long long)hits);
	return 0;
}
