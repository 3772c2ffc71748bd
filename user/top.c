// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `top`: every second, the calls of the last second per operation (exact ops) or the time
 * sampled into it (sampled ops), drawn as a table; keys on a terminal, plain lines otherwise.
 * On a terminal the table fits its size (TIOCGWINSZ): narrow columns go first, rows that do
 * not fit are counted, so the header never scrolls away and no row wraps. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "report.h"
#include "session.h"
#include "top.h"
#include "opnote.h"

#define NAME_COLS 28   /* longest op name shown whole */

struct top_state {
	size_t seen_calls;
	__u64 prev_total[MAX_OPS], prev_on[MAX_OPS];
	int sort;             /* index into sort_names */
	bool all;             /* idle ops too */
	bool tty;
	struct termios saved;
	bool raw;
	time_t start;
};

/* busy (time inside the op per second) ranks exact and sampled ops alike: the default. */
static const char *const sort_names[] = { "busy", "calls", "p50", "p95", "rss", "cpu", "name" };
#define NSORT (int)(sizeof(sort_names) / sizeof(sort_names[0]))

struct top_row {
	const char *name;
	bool sampled;
	double rate;
	__u64 p50, p95, rss;
	double cpu;
	__u64 total;
};

static int top_cmp(const void *a, const void *b, void *arg)
{
	const struct top_row *x = a, *y = b;

	switch (*(const int *)arg) {
	case 1:
		if (x->rate != y->rate)
			return (y->rate > x->rate) - (y->rate < x->rate);
		break;
	case 2: return (y->p50 > x->p50) - (y->p50 < x->p50);
	case 3: return (y->p95 > x->p95) - (y->p95 < x->p95);
	case 4: return (y->rss > x->rss) - (y->rss < x->rss);
	case 5: return (y->cpu > x->cpu) - (y->cpu < x->cpu);
	case 6: return strcmp(x->name, y->name);
	}
	/* busy, and the tie-break for calls (sampled rows have no call rate) */
	return (y->total > x->total) - (y->total < x->total);
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return (x > y) - (x < y);
}

static void read_keys(struct top_state *t, bool *quit)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	char ch;

	while (t->raw && poll(&p, 1, 0) > 0 && read(0, &ch, 1) == 1) {
		if (ch == 'q' || ch == 'Q')
			*quit = true;
		else if (ch == 's')
			t->sort = (t->sort + 1) % NSORT;
		else if (ch == 'i')
			t->all = !t->all;
	}
}

/* The last second of op i: exact ops from their calls, sampled ops from the time attributed. */
static void fill_row(struct top_state *t, struct session *s, int i, __u64 *d, struct top_row *row)
{
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
	*row = (struct top_row){
		.name = s->ops[i].name,
		.sampled = s->ops[i].precision == PREC_SAMPLED,
		.rate = n,
		.p50 = n && d ? percentile_sorted(d, n, 50) : 0,
		.p95 = n && d ? percentile_sorted(d, n, 95) : 0,
		.rss = rss,
	};
	if (row->sampled) {
		/* no per-call latency: time attributed in the last second */
		tot = s->ops[i].total_ns - t->prev_total[i];
		on = s->ops[i].on_cpu_ns - t->prev_on[i];
		t->prev_total[i] = s->ops[i].total_ns;
		t->prev_on[i] = s->ops[i].on_cpu_ns;
		row->rate = 0;
		row->p50 = row->p95 = 0;
	}
	row->total = tot;
	row->cpu = tot ? 100.0 * on / tot : 0;
}

static void term_size(int *cols, int *lines)
{
	struct winsize ws;

	*cols = 0;
	*lines = 0;
	if (!ioctl(1, TIOCGWINSZ, &ws)) {
		*cols = ws.ws_col;
		*lines = ws.ws_row;
	}
}

static void add_row(struct table *tb, const struct top_row *r)
{
	char b[32];
	int k = table_add_row(tb, NULL);

	if (k < 0)
		return;
	if (strlen(r->name) > NAME_COLS)
		table_set(tb, k, 0, "%.*s..", NAME_COLS - 2, r->name);
	else
		table_set(tb, k, 0, "%s", r->name);
	table_set(tb, k, 1, "%s", r->sampled ? "sampled" : "exact");
	if (r->sampled)
		table_set(tb, k, 2, "-");
	else
		table_set(tb, k, 2, "%.0f", r->rate);
	table_set(tb, k, 3, "%.1f%%", r->total / 1e7);
	table_set(tb, k, 4, "%s", r->rate ? fmt_ns(r->p50, b, sizeof(b)) : "-");
	table_set(tb, k, 5, "%s", r->rate ? fmt_ns(r->p95, b, sizeof(b)) : "-");
	table_set(tb, k, 6, "%s", r->rss ? fmt_bytes(r->rss, b, sizeof(b)) : "-");
	table_set(tb, k, 7, "%.1f%%", r->cpu);
}

static void draw(struct top_state *t, struct session *s, struct top_row *rows)
{
	static const char *const hdr[8] = { "OPERATION", "PREC", "CALLS/s", "BUSY%", "P50", "P95",
					    "RSS", "ONCPU%" };
	static const bool left[8] = { true, true };
	/* narrow terminals lose PREC first, then P95, RSS, ONCPU%, P50 */
	static const int drop[8] = { 0, 5, 0, 0, 1, 4, 3, 2 };
	struct table tb = { .ncols = 8 };
	int cols = 0, lines = 0, room, shown = 0, idle = 0;
	char title[160];

	if (t->tty)
		term_size(&cols, &lines);
	for (int i = 0; i < s->nops; i++)
		idle += rows[i].rate == 0 && rows[i].total == 0;
	/* title, column header, key help: the rest is for rows */
	room = lines > 4 ? lines - 4 : (lines ? 1 : s->nops);
	for (int i = 0; i < s->nops; i++) {
		if (rows[i].rate == 0 && rows[i].total == 0 && !(t->tty && t->all))
			continue;
		if (shown < room)
			add_row(&tb, &rows[i]);
		shown++;
	}
	if (t->tty)
		printf("\033[H\033[2J");
	snprintf(title, sizeof(title), "ragd-bpfprof top - pid %d - %lds - sort: %s", s->pid,
		 (long)(time(NULL) - t->start), sort_names[t->sort]);
	printf("%.*s\n", cols > 0 ? cols : (int)sizeof(title), title);
	table_print_fit(&tb, hdr, left, drop, cols, "", false, stdout);
	if (t->tty) {
		char help[160];
		int n = 0;

		if (shown > room)
			n = snprintf(help, sizeof(help), "+%d rows below  ", shown - room);
		snprintf(help + n, sizeof(help) - n, "%d idle %s  keys: s sort  i %s idle  q quit",
			 idle, t->all ? "shown" : "hidden", t->all ? "hide" : "show");
		/* no newline: the last line must not scroll the screen */
		printf("%.*s", cols > 0 ? cols : (int)sizeof(help), help);
	} else {
		printf("\n");
	}
	table_free(&tb);
}

static bool top_tick(struct session *s, void *arg)
{
	struct top_state *t = arg;
	struct top_row rows[MAX_OPS];
	__u64 *d = malloc((s->ncalls - t->seen_calls + 1) * sizeof(__u64));
	bool quit = false;

	read_keys(t, &quit);
	for (int i = 0; i < s->nops; i++)
		fill_row(t, s, i, d, &rows[i]);
	free(d);
	t->seen_calls = s->ncalls;
	qsort_r(rows, s->nops, sizeof(rows[0]), top_cmp, &t->sort);
	draw(t, s, rows);
	fflush(stdout);
	/* Keep memory flat over long sessions: top needs only the last second. */
	s->ncalls = 0;
	t->seen_calls = 0;
	return quit;
}

int top_sort_key(const char *name)
{
	for (int i = 0; i < NSORT; i++)
		if (!strcmp(name, sort_names[i]))
			return i;
	return -1;
}

int top_run(struct record_opts *ro, int sort, bool all, char *err, size_t errlen)
{
	struct top_state t = { .start = time(NULL), .sort = sort, .all = all };
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
		printf("\033[?1049h\033[?25l\033[?7l"); /* alternate screen, no cursor, no wrap */
	ro->tick = top_tick;
	ro->tick_arg = &t;
	ro->quiet = true;
	session_init(&s);
	rc = record_run(ro, &s, err, errlen);
	if (t.tty)
		printf("\033[?7h\033[?25h\033[?1049l");
	fflush(stdout);
	if (t.raw)
		tcsetattr(0, TCSANOW, &t.saved);
	if (!rc && ro->strict && ops_not_found(&s, "ragd-bpfprof"))
		rc = 2;
	session_free(&s);
	return rc;
}
