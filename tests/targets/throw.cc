// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A C++ program for the integration tests: exceptions thrown through two probed functions.
 *
 * throw COUNT [EVERY]
 *   COUNT times main calls throw_outer(i), which calls throw_inner(i); throw_inner throws when
 *   i % EVERY == 0 (EVERY 1, the default: every time) and main catches. Prints "caught N" (and
 *   "returned M" when EVERY > 1) and exits 0. A uretprobe on either function makes the C++
 *   unwinder find no unwind information for the trampoline and call std::terminate.
 * Env THROW_START_DELAY_MS waits before the first call (attach by PID); THROW_VIA_QSORT=1 throws
 * from a qsort(3) comparator instead, so the exception also unwinds through libc's qsort. */
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unistd.h>

static volatile long sink;
static bool via_qsort;

static int cmp_throw(const void *a, const void *b)
{
	throw std::runtime_error("thrown from a qsort comparator");
}

extern "C" __attribute__((noinline)) long throw_inner(int i, int every)
{
	sink += i;
	if (i % every == 0) {
		int v[4] = { 3, 1, 2, 0 };

		if (via_qsort)
			qsort(v, 4, sizeof(v[0]), cmp_throw);
		throw std::runtime_error("thrown " + std::to_string(i));
	}
	return sink;
}

/* A local with a destructor: the exception passes a landing pad here on its way up. */
extern "C" __attribute__((noinline)) long throw_outer(int i, int every)
{
	std::string s(32, 'x');
	long r = throw_inner(i, every);

	return r + (long)s.size();
}

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 1000, every = argc > 2 ? atoi(argv[2]) : 1;
	const char *delay = getenv("THROW_START_DELAY_MS");
	int caught = 0, returned = 0;

	via_qsort = getenv("THROW_VIA_QSORT") && atoi(getenv("THROW_VIA_QSORT"));
	if (every < 1)
		every = 1;
	if (delay)
		usleep(atoi(delay) * 1000);
	for (int i = 0; i < count; i++) {
		try {
			throw_outer(i, every);
			returned++;
		} catch (const std::runtime_error &) {
			caught++;
		}
	}
	printf("caught %d\n", caught);
	if (every > 1)
		printf("returned %d\n", returned);
	return 0;
}
