// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `top`: every second, the calls of the last second per operation (exact ops) or the time
 * sampled into it (sampled ops), drawn as a table; keys on a terminal, plain lines otherwise. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "session.h"
#include "top.h"

struct top_state {
	size_t seen_calls;
	__u64 prev_total[MAX_OPS], prev_on[MAX_OPS];
	int sort;             /* 0 calls,1 p50,2 p95,3 rss,4 cpu,5 name */
	bool tty;
	struct termios saved;
	bool raw;
	time_t start;
};

static const char *sort_names[] = { "calls", "p50", "p95", "rss", "cpu", "name" };

struct top_row {
	const char *name;
	const char *prec;
	double rate;
	__u64 p50, p95, rss;
	double cpu;
	__u64 total;
};

static int sort_key;
static int top_cmp(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	switch (sort_key) {
	case 1: return (y->p50 > x->p50) - (y->p50 < x->p50);
	case 2: return (y->p95 > x->p95) - (y->p95 < x->p95);
	case 3: return (y->rss > x->rss) - (y->rss < x->rss);
	case 4: return (y->cpu > x->cpu) - (y->cpu < x->cpu);
	case 5: return strcmp(x->name, y->name);
	}
	return (y->rate > x->rate) - (y->rate < x->rate);
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return (x > y) - (x < y);
}

static bool top_tick(struct session *s, void *arg)
{
	struct top_state *t = arg;
	struct top_row rows[MAX_OPS];
	__u64 *d = malloc((s->ncalls - t->seen_calls + 1) * sizeof(__u64));
	char a[32], b[32], cc[32];
	bool quit = false;

	if (t->raw) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		char ch;

		while (poll(&p, 1, 0) > 0 && read(0, &ch, 1) == 1) {
			if (ch == 'q' || ch == 'Q')
				quit = true;
			else if (ch == 's')
				t->sort = (t->sort + 1) % 6;
		}
	}
	for (int i = 0; i < s->nops; i++) {
		size_t n = 0;
		__u64 on = 0, tot = 0, rss = 0;

		for (size_t j = t->seen_calls; j < s->ncalls; j++) {
			const struct call_rec *cr = &s->calls[j];

			if (cr->op != (unsigned)i || (cr->flags & CALL_F_OPEN))
				continue;
			if (d)
				d[n] = cr->duration_ns;
			n++;
			on += cr->on_cpu_ns;
			tot += cr->duration_ns;
			rss = cr->rss_end;
		}
		if (d)
			qsort(d, n, sizeof(*d), cmp_u64);
		if (s->ops[i].precision == PREC_SAMPLED) {
			/* Sampled ops: time attributed in the last second, no per-call latency. */
			tot = s->ops[i].total_ns - t->prev_total[i];
			on = s->ops[i].on_cpu_ns - t->prev_on[i];
			t->prev_total[i] = s->ops[i].total_ns;
			t->prev_on[i] = s->ops[i].on_cpu_ns;
		}
		rows[i] = (struct top_row){
			.name = s->ops[i].name,
			.prec = s->ops[i].precision == PREC_EXACT ? "exact" : "sampled",
			.rate = n,
			.p50 = n && d ? percentile_sorted(d, n, 50) : 0,
			.p95 = n && d ? percentile_sorted(d, n, 95) : 0,
			.rss = rss,
			.cpu = tot ? 100.0 * on / tot : 0,
			.total = tot,
		};
		if (s->ops[i].precision == PREC_SAMPLED)
			rows[i].rate = 0;
	}
	free(d);
	t->seen_calls = s->ncalls;
	sort_key = t->sort;
	qsort(rows, s->nops, sizeof(rows[0]), top_cmp);
	if (t->tty)
		printf("\033[H\033[2J");
	printf("ragd-bpfprof top - pid %d - %lds - sort: %s%s\n", s->pid, (long)(time(NULL) - t->start),
	       sort_names[t->sort], t->tty ? " (s: sort, q: quit)" : "");
	printf("%-28s %-8s %9s %7s %10s %10s %10s %7s\n", "OPERATION", "PREC", "CALLS/s", "BUSY%", "P50",
	       "P95", "RSS", "ONCPU%");
	for (int i = 0; i < s->nops; i++) {
		if (!t->tty && rows[i].rate == 0 && rows[i].total == 0)
			continue;
		printf("%-28s %-8s %9.0f %6.1f%% %10s %10s %10s %6.1f%%\n", rows[i].name, rows[i].prec,
		       rows[i].rate, rows[i].total / 1e7,
		       rows[i].rate ? fmt_ns(rows[i].p50, a, sizeof(a)) : "-",
		       rows[i].rate ? fmt_ns(rows[i].p95, b, sizeof(b)) : "-",
		       rows[i].rss ? fmt_bytes(rows[i].rss, cc, sizeof(cc)) : "-", rows[i].cpu);
	}
	if (!t->tty)
		printf("\n");
	fflush(stdout);
	/* Keep memory flat over long sessions: top needs only the last second. */
	s->ncalls = 0;
	t->seen_calls = 0;
	return quit;
}

int top_sort_key(const char *name)
{
	for (int i = 0; i < 6; i++)
		if (!strcmp(name, sort_names[i]))
			return i;
	return -1;
}

int top_run(struct record_opts *ro, int sort, char *err, size_t errlen)
{
	struct top_state t = { .start = time(NULL), .sort = sort };
	struct session s;
	int rc;

	t.tty = isatty(1);
	if (t.tty && isatty(0) && !tcgetattr(0, &t.saved)) {
		struct termios raw = t.saved;

		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		t.raw = !tcsetattr(0, TCSANOW, &raw);
	}
	if (t.tty)
		printf("\033[?1049h\033[?25l"); /* alternate screen, hide cursor */
	ro->tick = top_tick;
	ro->tick_arg = &t;
	ro->quiet = true;
	session_init(&s);
	rc = record_run(ro, &s, err, errlen);
	if (t.tty)
		printf("\033[?25h\033[?1049l");
	fflush(stdout);
	if (t.raw)
		tcsetattr(0, TCSANOW, &t.saved);
	session_free(&s);
	return rc;
}
