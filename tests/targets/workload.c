// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A native program whose behaviour is known, for the integration tests: each probed function
 * does one thing, and the program times every call itself (CLOCK_MONOTONIC) so the profiler's
 * numbers can be checked against it.
 *
 * workload MODE COUNT ARG [THREADS]
 *   sleep   COUNT calls of op_sleep(ARG ms)
 *   busy    COUNT calls of op_busy(ARG ms) (spins)
 *   recurse COUNT calls of op_recurse(ARG levels)
 *   touch   COUNT calls of op_touch(ARG MiB): allocates and writes ARG MiB, kept until the next call
 *   threads COUNT calls of op_busy(ARG ms) in each of THREADS threads
 *   bimodal COUNT calls of op_busy: 2 of 5 fast (ARG ms), 3 slow (3*ARG ms), so p50 is slow
 *   forever op_sleep(ARG ms) until killed (for attach by PID)
 *   longjmp COUNT calls of op_jump (spins ARG ms, then longjmps out of itself), each followed by
 *           a call of op_busy(0)
 *   fork    COUNT children one after the other, each calls op_busy(ARG ms) once and exits
 *   grow    COUNT calls of op_busy(0), each after touching ARG MiB more outside any probed call
 * Env WORKLOAD_SLOW=PCT makes op_busy/op_sleep PCT percent longer; WORKLOAD_SLOW_FAST=PCT only
 * the fast calls of bimodal. WORKLOAD_TIMINGS=FILE gets one
 * line per call: "op ns" (busy mode adds "op_busy.cpu ns", the call's thread CPU time). WORKLOAD_START_DELAY_MS waits before the first call. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static double slow = 1.0, slow_fast = 1.0;
static FILE *timings;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *held;
static volatile sig_atomic_t stop;

static unsigned long long now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* the thread's own CPU time: what on_cpu_ns must match whatever else the machine runs */
static unsigned long long cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

__attribute__((noinline)) void op_sleep(int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)(ms * slow * 1e6) };

	while (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	nanosleep(&ts, NULL);
}

__attribute__((noinline)) void op_busy(int ms)
{
	unsigned long long end = now() + (unsigned long long)(ms * slow * 1e6);

	while (now() < end)
		;
}

__attribute__((noinline)) int op_recurse(int n)
{
	op_busy(0);
	if (n <= 1)
		return 1;
	return 1 + op_recurse(n - 1);
}

__attribute__((noinline)) void op_touch(int mib)
{
	size_t len = (size_t)mib << 20;

	free(held);
	held = malloc(len);
	if (held)
		memset(held, 1, len);
}

static jmp_buf jump_back;

__attribute__((noinline)) void op_jump(int ms)
{
	op_busy(ms);
	longjmp(jump_back, 1);
}

static void record(const char *op, unsigned long long ns)
{
	if (!timings)
		return;
	pthread_mutex_lock(&lock);
	fprintf(timings, "%s %llu\n", op, ns);
	pthread_mutex_unlock(&lock);
}

struct targ {
	int count, arg;
};

static void *thread_main(void *p)
{
	struct targ *a = p;

	for (int i = 0; i < a->count; i++) {
		unsigned long long t = now();

		op_busy(a->arg);
		record("op_busy", now() - t);
	}
	return NULL;
}

static void on_term(int sig)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	const char *mode, *e;
	int count, arg, nthreads = 1;

	if (argc < 4) {
		fprintf(stderr, "usage: workload MODE COUNT ARG [THREADS]\n");
		return 2;
	}
	mode = argv[1];
	count = atoi(argv[2]);
	arg = atoi(argv[3]);
	if (argc > 4)
		nthreads = atoi(argv[4]);
	if ((e = getenv("WORKLOAD_SLOW")))
		slow = 1.0 + atof(e) / 100.0;
	if ((e = getenv("WORKLOAD_SLOW_FAST")))
		slow_fast = 1.0 + atof(e) / 100.0;
	if ((e = getenv("WORKLOAD_TIMINGS")))
		timings = fopen(e, "w");
	if ((e = getenv("WORKLOAD_START_DELAY_MS")))
		usleep(atoi(e) * 1000);
	signal(SIGTERM, on_term);

	for (int i = 0; i < count || !strcmp(mode, "forever"); i++) {
		unsigned long long t = now();

		if (stop)
			break;
		if (!strcmp(mode, "sleep") || !strcmp(mode, "forever")) {
			op_sleep(arg);
			record("op_sleep", now() - t);
		} else if (!strcmp(mode, "busy")) {
			unsigned long long c = cpu_now();

			op_busy(arg);
			record("op_busy", now() - t);
			record("op_busy.cpu", cpu_now() - c);
		} else if (!strcmp(mode, "bimodal")) {
			double keep = slow;

			if (i % 5 < 2)
				slow *= slow_fast;
			op_busy(i % 5 < 2 ? arg : 3 * arg);
			slow = keep;
			record("op_busy", now() - t);
		} else if (!strcmp(mode, "recurse")) {
			op_recurse(arg);
			record("op_recurse", now() - t);
		} else if (!strcmp(mode, "touch")) {
			op_touch(arg);
			record("op_touch", now() - t);
		} else if (!strcmp(mode, "longjmp")) {
			if (!setjmp(jump_back))
				op_jump(arg);
			record("op_jump", now() - t);
			op_busy(0);
		} else if (!strcmp(mode, "grow")) {
			char *p = malloc((size_t)arg << 20);

			if (p)
				memset(p, 1, (size_t)arg << 20); /* kept: RSS grows between the calls */
			op_busy(0);
			record("op_busy", now() - t);
		} else if (!strcmp(mode, "fork")) {
			pid_t c = fork();

			if (c == 0) {
				op_busy(arg);
				_exit(0);
			}
			if (c < 0 || waitpid(c, NULL, 0) != c) {
				perror("workload: fork");
				return 1;
			}
		} else if (!strcmp(mode, "threads")) {
			pthread_t th[64];
			struct targ a = { count, arg };

			for (int k = 0; k < nthreads && k < 64; k++)
				pthread_create(&th[k], NULL, thread_main, &a);
			for (int k = 0; k < nthreads && k < 64; k++)
				pthread_join(th[k], NULL);
			break;
		} else {
			fprintf(stderr, "workload: unknown mode %s\n", mode);
			return 2;
		}
	}
	if (timings)
		fclose(timings);
	return argc > 5 ? atoi(argv[5]) : 0;
}
