// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The floor of exact Python timing on this host: the cost of one hardware-breakpoint hit that
 * runs an empty BPF program, opened as ragd-bpfprof opens its breakpoints (one perf event per
 * CPU, pid -1, sample_period 1, a BPF program that returns 0 so no perf record is written).
 *
 *     bpfloor [W|X|RW] [HITS] [none]
 *
 * W: a write watch (len 8) on a variable written HITS times; X: an execute breakpoint on a
 * function called HITS times; RW: a read/write watch (len 1) read HITS times. "none": no BPF
 * program (the perf event only counts). Prints "TYPE NS_PER_HIT HITS": (time with the
 * breakpoint - time without) / hits, best of 5 alternating rounds. Needs root. Exit 1 when the
 * breakpoint does not fire (0 hits), 2 when it cannot be opened. */
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

int main(int argc, char **argv)
{
	const char *t = argc > 1 ? argv[1] : "W";
	long n = argc > 2 ? atol(argv[2]) : 20000;
	int use_bpf = !(argc > 3 && !strcmp(argv[3], "none"));
	char type = !strcmp(t, "X") ? 'X' : !strcmp(t, "RW") ? 'R' : 'W';
	int ncpus = sysconf(_SC_NPROCESSORS_CONF), fds[MAX_CPUS], prog = -1;
	struct perf_event_attr a;
	uint64_t best_on = UINT64_MAX, best_off = UINT64_MAX, hits = 0;

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
	for (int c = 0; c < ncpus; c++) {
		fds[c] = syscall(SYS_perf_event_open, &a, -1, c, -1, PERF_FLAG_FD_CLOEXEC);
		if (fds[c] < 0) {
			fprintf(stderr, "bpfloor: perf_event_open(cpu %d): %s\n", c, strerror(errno));
			return 2;
		}
		if (prog >= 0 && ioctl(fds[c], PERF_EVENT_IOC_SET_BPF, prog)) {
			fprintf(stderr, "bpfloor: PERF_EVENT_IOC_SET_BPF: %s\n", strerror(errno));
			return 2;
		}
	}
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
