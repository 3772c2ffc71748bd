// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit formatting, the text report (rows, units, operation tree, sections) and the collapsed
 * stack output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "report.h"
#include "session.h"

static void test_fmt_ns(void **state)
{
	static const struct { __u64 ns; const char *want; } cases[] = {
		{ 0, "0ns" },
		{ 812, "812ns" },
		{ 999, "999ns" },
		{ 1000, "1.00us" },
		{ 12345, "12.3us" },
		{ 123456, "123us" },
		{ 999600, "1.00ms" },        /* rounds up into the next unit, not "1000us" */
		{ 4560000, "4.56ms" },
		{ 45600000, "45.6ms" },
		{ 456000000, "456ms" },
		{ 1230000000ULL, "1.23s" },
		{ 12300000000ULL, "12.3s" },
		{ 59960000000ULL, "1m00s" },
		{ 123000000000ULL, "2m03s" },
		{ 3723000000000ULL, "1h02m" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(fmt_ns(cases[i].ns, buf, sizeof(buf)), cases[i].want);
}

static void test_fmt_bytes(void **state)
{
	char buf[32];

	assert_string_equal(fmt_bytes(0, buf, sizeof(buf)), "0B");
	assert_string_equal(fmt_bytes(512, buf, sizeof(buf)), "512B");
	assert_string_equal(fmt_bytes(1023, buf, sizeof(buf)), "1023B");
	assert_string_equal(fmt_bytes(1024, buf, sizeof(buf)), "1.00KiB");
	assert_string_equal(fmt_bytes(12288, buf, sizeof(buf)), "12.0KiB");
	assert_string_equal(fmt_bytes(3.4 * 1048576, buf, sizeof(buf)), "3.40MiB");
	assert_string_equal(fmt_bytes(1.2 * 1073741824.0, buf, sizeof(buf)), "1.20GiB");
	assert_string_equal(fmt_bytes(300.0 * 1048576, buf, sizeof(buf)), "300MiB");
	/* negative values keep their sign; only deltas get a '+' */
	assert_string_equal(fmt_bytes(-1228.8, buf, sizeof(buf)), "-1.20KiB");
	assert_string_equal(fmt_bytes_delta(48.0 * 1048576, buf, sizeof(buf)), "+48.0MiB");
	assert_string_equal(fmt_bytes_delta(-1228.8, buf, sizeof(buf)), "-1.20KiB");
	assert_string_equal(fmt_bytes_delta(0, buf, sizeof(buf)), "0B");
	assert_string_equal(fmt_bytes_delta(-0.3, buf, sizeof(buf)), "0B");
}

static void add_calls(struct session *s, int op, size_t n, __u64 dur, __u64 rss_grow)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct call_rec c = { .op = op, .pid = 42, .tid = 42 };

		c.start_ns = i * 10 * dur;
		c.duration_ns = dur + (i % 10) * (dur / 20);
		c.on_cpu_ns = c.duration_ns * 3 / 4;
		c.rss_start = 100 << 20;
		c.rss_end = c.rss_start + rss_grow;
		c.rss_peak = c.rss_end + (1 << 20);
		assert_int_equal(session_add_call(s, &c), 0);
	}
}

/* index (exact) with children chunk and document, declared out of order; a sampled query;
 * an op never seen; an op whose parent is absent; stacks; a warning. */
static int session_setup(void **state)
{
	struct session *s = calloc(1, sizeof(*s));
	int index, chunk, query, doc, orphan, rerank;

	if (!s)
		return -1;
	session_init(s);
	snprintf(s->name, sizeof(s->name), "nightly");
	snprintf(s->command, sizeof(s->command), "ragd index ./docs");
	snprintf(s->started_at, sizeof(s->started_at), "2024-05-01T12:00:00.000Z");
	snprintf(s->ended_at, sizeof(s->ended_at), "2024-05-01T12:00:02.500Z");
	s->pid = 4242;
	s->has_exit_code = true;
	s->events = 1234;
	s->samples = 250;
	s->sample_hz = 99;

	index = session_add_op(s, "index", OP_PY, PREC_EXACT);
	query = session_add_op(s, "query", OP_PY, PREC_SAMPLED);
	chunk = session_add_op(s, "index.chunk", OP_PY, PREC_EXACT);
	rerank = session_add_op(s, "rerank", OP_PY, PREC_EXACT);
	doc = session_add_op(s, "index.document", OP_PY, PREC_EXACT);
	orphan = session_add_op(s, "store.flush", OP_NATIVE, PREC_EXACT);
	assert_true(index >= 0 && query >= 0 && chunk >= 0 && rerank >= 0 && doc >= 0 && orphan >= 0);

	add_calls(s, index, 3, 400000000ULL, 48 << 20);
	add_calls(s, chunk, 300, 1200000ULL, 0);
	add_calls(s, doc, 30, 12000000ULL, 4096);
	add_calls(s, orphan, 5, 800ULL, 0);
	snprintf(s->ops[rerank].note, sizeof(s->ops[rerank].note), "code object not found");

	/* sampled: filled the way record does, no call records */
	s->ops[query].count = 12;
	s->ops[query].total_ns = 900000000ULL;
	s->ops[query].on_cpu_ns = 600000000ULL;
	s->ops[query].off_cpu_ns = 300000000ULL;
	s->ops[query].self_ns = 500000000ULL;
	s->ops[query].p50_ns = 70000000ULL;
	s->ops[query].p95_ns = 120000000ULL;
	s->ops[query].p99_ns = 130000000ULL;
	s->ops[query].mean_ns = 75000000.0;
	s->ops[query].max_ns = 130000000ULL;
	session_compute_stats(s);

	assert_true(session_add_stack(s, "query;cli.py:main;retrieve.py:search;faiss:search;"
				      "numpy:dot", 400000000ULL, 0) >= 0);
	assert_true(session_add_stack(s, "query;cli.py:main;net.py:fetch", 0, 300000000ULL) >= 0);
	assert_true(session_add_stack(s, "query;cli.py:main;tok.py:split", 100000000ULL, 0) >= 0);
	assert_true(session_add_stack(s, "query;cli.py:main;tiny.py:f", 1000, 0) >= 0);
	assert_true(session_add_stack(s, "index;cli.py:main;zzz.py:g", 1499, 2500000) >= 0);
	assert_true(session_add_stack(s, "index;cli.py:main;none.py:h", 400, 0) >= 0);
	session_warn(s, "3 samples had truncated stacks");
	*state = s;
	return 0;
}

static int session_teardown(void **state)
{
	struct session *s = *state;

	session_free(s);
	free(s);
	return 0;
}

/* noinline: inlined, gcc 12 takes the open_memstream buffer for a dangling local */
__attribute__((noinline)) static char *text_of(const struct session *s, const struct report_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	report_text(s, o, f);
	fclose(f);
	return buf;
}

/* The table line whose first cell is exactly `label` (with its indentation). */
static const char *row(const char *text, const char *label)
{
	size_t n = strlen(label);
	const char *p = text;

	while ((p = strstr(p, label))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ' && p[n + 1] == ' ')
			return p;
		p += n;
	}
	return NULL;
}

static void test_report_text(void **state)
{
	const struct session *s = *state;
	struct report_opts o = { .color = false };
	const char *r_index, *r_chunk, *r_doc, *r_query, *r_orphan;
	char *out = text_of(s, &o);

	/* header */
	assert_non_null(strstr(out, "nightly"));
	assert_non_null(strstr(out, "ragd index ./docs  (pid 4242, exit 0)"));
	assert_non_null(strstr(out, "duration: 2.50s"));
	assert_non_null(strstr(out, "2024-05-01T12:00:00.000Z"));
	assert_non_null(strstr(out, "1234 received, 0 dropped"));
	assert_non_null(strstr(out, "250 at 99 Hz"));
	assert_non_null(strstr(out, "Operation"));
	assert_non_null(strstr(out, "RSS delta (mean)"));
	assert_non_null(strstr(out, "Peak RSS"));

	/* tree: children right after their parent, indented, short names */
	r_index = row(out, "index");
	r_chunk = row(out, "  chunk");
	r_doc = row(out, "  document");
	r_query = row(out, "query");
	r_orphan = row(out, "store.flush");
	assert_non_null(r_index);
	assert_non_null(r_chunk);
	assert_non_null(r_doc);
	assert_non_null(r_query);
	assert_non_null(r_orphan);
	assert_true(r_index < r_chunk && r_chunk < r_doc && r_doc < r_query && r_query < r_orphan);

	/* rows: precision, counts, units */
	assert_non_null(strstr(r_index, "exact"));
	assert_true(strstr(r_index, "420ms") < strchr(r_index, '\n'));
	assert_true(strstr(r_index, "+48.0MiB") < strchr(r_index, '\n'));
	assert_true(strstr(r_index, "149MiB") < strchr(r_index, '\n'));
	assert_true(strstr(r_index, "75.0%") < strchr(r_index, '\n'));
	assert_true(strstr(r_chunk, " 300 ") < strchr(r_chunk, '\n'));
	assert_true(strstr(r_chunk, "ms") < strchr(r_chunk, '\n'));
	assert_true(strstr(r_doc, "+4.00KiB") < strchr(r_doc, '\n'));
	assert_true(strstr(r_orphan, "880ns") < strchr(r_orphan, '\n'));
	assert_true(strstr(r_query, "sampled") < strchr(r_query, '\n'));
	assert_true(strstr(r_query, "~12") < strchr(r_query, '\n'));
	assert_true(strstr(r_query, "70.0ms") < strchr(r_query, '\n'));

	/* unseen op with its reason; not a table row */
	assert_non_null(strstr(out, "not seen (1 of 6 operations), by reason:\n"
				    "  code object not found: rerank\n"));
	assert_null(row(out, "rerank"));

	/* sampled breakdown: the op's line and its hottest stacks, innermost 3 frames */
	assert_non_null(strstr(out, "Where the time goes"));
	assert_non_null(strstr(out, "query: wall 900ms, self 500ms, on-CPU 600ms (67%), "
				    "off-CPU 300ms (33%)"));
	assert_non_null(strstr(out, " 44.4%  ...;retrieve.py:search;faiss:search;numpy:dot\n"));
	assert_non_null(strstr(out, " 33.3%  cli.py:main;net.py:fetch  (off-CPU 100%)\n"));
	assert_non_null(strstr(out, " 11.1%  cli.py:main;tok.py:split\n"));
	assert_null(strstr(out, "tiny.py"));   /* 4th: only the top 3 */
	/* index is exact: no breakdown for it */
	assert_null(strstr(out, "index: wall"));

	assert_non_null(strstr(out, "warning: 3 samples had truncated stacks\n"));
	assert_null(strchr(out, '\033'));
	assert_null(strstr(out, "|#"));   /* histograms only when asked */
	free(out);
}

/* Ops without calls: one entry per reason (the same long reason of two stages reads once),
 * wrapped so that no line passes 80 columns. */
static void test_not_seen_grouped_and_wrapped(void **state)
{
	static const char why[] = "never armed (registers held by search, search.semantic, "
		"search.keyword); no sample: not called or each call < 1.00ms (999 Hz)";
	struct session s;
	struct report_opts o = {};
	char *out, *line;
	int n = 0;

	session_init(&s);
	session_add_op(&s, "search.keyword", OP_PY, PREC_SAMPLED);
	session_add_op(&s, "typo", OP_PY, PREC_SAMPLED);
	session_add_op(&s, "search.fusion", OP_PY, PREC_SAMPLED);
	snprintf(s.ops[0].note, sizeof(s.ops[0].note), "%s", why);
	snprintf(s.ops[2].note, sizeof(s.ops[2].note), "%s", why);
	snprintf(s.ops[1].note, sizeof(s.ops[1].note), "short reason");
	session_compute_stats(&s);
	out = text_of(&s, &o);
	assert_non_null(strstr(out, "not seen (3 of 3 operations), by reason:\n"
				    "  never armed (registers held by search, search.semantic, search.keyword); no\n"
				    "    sample: not called or each call < 1.00ms (999 Hz): search.keyword\n"
				    "    search.fusion\n"
				    "  short reason: typo\n"));
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), n++)
		assert_true(strlen(line) <= 80);
	assert_true(n > 4);
	free(out);
	session_free(&s);
}

static void test_report_color(void **state)
{
	struct report_opts o = { .color = true };
	char *out = text_of(*state, &o);

	assert_non_null(strstr(out, "\033[1m"));                 /* bold header */
	assert_non_null(strstr(out, "\033[2m"));                 /* dim sampled row */
	assert_non_null(strstr(out, "\033[33mwarning: "));       /* yellow warning */
	free(out);
}

static void test_report_histogram(void **state)
{
	struct session *s = *state;
	struct report_opts o = { .histogram = true };
	int chunk = session_find_op(s, "index.chunk");
	__u64 total = 0, v;
	const char *p;
	char *out;
	int rows = 0;

	/* 1us .. 100ms, log-spread: many buckets to merge */
	s->ops[chunk].hist = calloc(HIST_BUCKETS, sizeof(__u64));
	assert_non_null(s->ops[chunk].hist);
	for (v = 1000; v < 100000000ULL; v += v / 7) {
		s->ops[chunk].hist[hist_index(v)] += 3;
		total += 3;
	}
	out = text_of(s, &o);
	p = strstr(out, "\nindex.chunk (exact, 300 calls)\n");
	assert_non_null(p);
	p = strchr(p + 1, '\n') + 1;
	for (;;) {
		const char *nl = strchr(p, '\n');
		char line[256], *bar;

		if (!nl || nl - p >= (ptrdiff_t)sizeof(line))
			break;
		memcpy(line, p, nl - p);
		line[nl - p] = '\0';
		bar = strrchr(line, '|');
		if (line[0] != ' ' || !strstr(line, " - ") || !bar)
			break;
		total -= strtoull(bar + 1, NULL, 10);
		rows++;
		p = nl + 1;
	}
	assert_true(rows >= 12 && rows <= 24);
	assert_int_equal(total, 0);          /* merged rows keep every count */
	assert_non_null(strstr(out, "1.00us - "));
	assert_non_null(strstr(out, "########################################|"));
	free(out);
}

__attribute__((noinline)) static char *folded_of(const struct session *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(report_folded(s, f), 0);
	fclose(f);
	return buf;
}

static void test_report_folded(void **state)
{
	char *out = folded_of(*state);

	/* sorted by stack; microseconds; off-CPU as its own frame; zero-weight lines dropped
	 * (none.py: 0.4us rounds to 0) */
	assert_string_equal(out,
		"index;cli.py:main;zzz.py:g 1\n"
		"index;cli.py:main;zzz.py:g;[off-cpu] 2500\n"
		"query;cli.py:main;net.py:fetch;[off-cpu] 300000\n"
		"query;cli.py:main;retrieve.py:search;faiss:search;numpy:dot 400000\n"
		"query;cli.py:main;tiny.py:f 1\n"
		"query;cli.py:main;tok.py:split 100000\n");
	free(out);
}

static void test_report_empty(void **state)
{
	struct session s;
	struct report_opts o = { 0 };
	char *out, *folded;

	session_init(&s);
	out = text_of(&s, &o);
	assert_non_null(strstr(out, "No operation was seen."));
	free(out);
	folded = folded_of(&s);
	assert_true(!folded || !*folded);
	free(folded);
	session_free(&s);
}

/* Records dropped: percentiles come from the histogram, and the row says so. */
static void test_report_hist_source(void **state)
{
	struct session s;
	struct report_opts o = { 0 };
	char *out;
	int op;

	session_init(&s);
	op = session_add_op(&s, "embed", OP_NATIVE, PREC_EXACT);
	s.ops[op].hist = calloc(HIST_BUCKETS, sizeof(__u64));
	assert_non_null(s.ops[op].hist);
	s.ops[op].hist[hist_index(2000000)] = 10;
	s.ops[op].total_ns = 20000000;
	s.dropped_events = 10;
	session_compute_stats(&s);
	out = text_of(&s, &o);
	assert_non_null(strstr(out, "10 dropped"));
	assert_non_null(strstr(row(out, "embed"), "exact*"));
	assert_non_null(strstr(out, "* percentiles from the BPF histogram"));
	free(out);
	session_free(&s);
}

typedef int (*writer_fn)(const struct session *s, FILE *f);

static int svg_writer(const struct session *s, FILE *f)
{
	return report_svg(s, false, f);
}

__attribute__((noinline)) static char *written(const struct session *s, writer_fn fn)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(s, f), 0);
	fclose(f);
	return buf;
}

/* --sort: a flat table with full names in the key's order; total ranks the sampled op too. */
static void test_report_sort(void **state)
{
	struct report_opts o = { .sort = "total" };
	char *out = text_of(*state, &o);
	const char *idx = row(out, "index"), *q = row(out, "query"), *doc = row(out, "index.document");
	const char *chunk = row(out, "index.chunk");

	assert_non_null(idx);
	assert_non_null(q);
	assert_non_null(doc);
	assert_non_null(chunk);
	/* totals: index 1.2s+, query 900ms, chunk 387ms, document 387ms */
	assert_true(idx < q && q < chunk && q < doc);
	assert_null(row(out, "  chunk"));
	free(out);
	o.sort = "name";
	out = text_of(*state, &o);
	assert_true(row(out, "index") < row(out, "index.chunk") &&
		    row(out, "index.document") < row(out, "query"));
	free(out);
	assert_true(report_sort_valid("p95") && report_sort_valid("tree"));
	assert_false(report_sort_valid("calls/s"));
}

/* --width: the least needed columns go until every line fits; brief keeps to the top level. */
static void test_report_width_brief(void **state)
{
	struct report_opts o = { .width = 80, .brief = true };
	char *out = text_of(*state, &o), *line, *save = NULL;

	assert_non_null(strstr(out, "Operation"));
	assert_null(strstr(out, "p99"));
	assert_null(strstr(out, "Prec"));
	assert_non_null(strstr(out, "Peak RSS"));
	assert_non_null(strstr(out, "session nightly: 2.50s, 250 samples"));
	assert_non_null(strstr(out, "  query: wall ~900ms, on-CPU 67%, off-CPU 33%\n"));
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		assert_true(strlen(line) <= 80);
	free(out);
	o.width = 40;
	o.brief = false;
	out = text_of(*state, &o);
	assert_null(strstr(out, "RSS delta"));
	assert_non_null(strstr(out, "Total"));   /* never dropped */
	free(out);
}

/* --by thread: one row per op and thread, from the call records. */
static void test_report_by(void **state)
{
	struct session *s = *state;
	struct report_opts o = { .by = "thread" };
	struct call_rec c = { .op = session_find_op(s, "index.chunk"), .pid = 42, .tid = 43,
			      .duration_ns = 5000000, .on_cpu_ns = 5000000 };
	const char *r;
	char *out;

	assert_int_equal(session_add_call(s, &c), 0);
	out = text_of(s, &o);
	assert_non_null(strstr(out, "Calls by thread\nOperation "));
	assert_non_null(strstr(out, "Thread"));
	r = row(out, "index.chunk");
	assert_non_null(r);
	assert_non_null(strstr(r, "42"));
	assert_true(strstr(r, "300") < strchr(r, '\n'));
	r = strchr(r, '\n') + 1;
	assert_true(!strncmp(r, "index.chunk ", 12) && strstr(r, "43") < strchr(r, '\n'));
	free(out);
	o.by = "iteration";
	out = text_of(s, &o);
	assert_non_null(strstr(out, "Iteration"));
	free(out);
}

/* --op index: index and its sub-ops, their calls remapped, only index's stacks. */
static void test_report_filter_op(void **state)
{
	struct session *s = *state;
	char err[256] = "";
	size_t i;

	assert_int_equal(report_filter_op(s, "nope", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no operation 'nope'"));
	assert_non_null(strstr(err, "index query rerank"));
	assert_int_equal(report_filter_op(s, "index", err, sizeof(err)), 0);
	assert_int_equal(s->nops, 3);
	assert_string_equal(s->ops[0].name, "index");
	assert_string_equal(s->ops[1].name, "index.chunk");
	assert_string_equal(s->ops[2].name, "index.document");
	assert_int_equal(s->ncalls, 3 + 300 + 30);
	for (i = 0; i < s->ncalls; i++)
		assert_true(s->calls[i].op < 3);
	assert_int_equal(s->nstacks, 2);
	for (i = 0; i < s->nstacks; i++)
		assert_int_equal(strncmp(s->stacks[i].stack, "index;", 6), 0);
	/* the stack index is rebuilt: adding an existing stack merges */
	assert_true(session_add_stack(s, s->stacks[0].stack, 1, 0) >= 0);
	assert_int_equal(s->nstacks, 2);
}

/* The flame graph: one frame per tree node with its label, top-level ops in session order,
 * off-CPU frames blue, the script inline. */
static void test_report_svg(void **state)
{
	char *out = written(*state, svg_writer);
	const char *a, *b;

	assert_non_null(strstr(out, "<svg "));
	assert_non_null(strstr(out, "</svg>\n"));
	a = strstr(out, "data-n=\"index\"");
	b = strstr(out, "data-n=\"query\"");
	assert_true(a && b && a < b);   /* index is declared first */
	assert_non_null(strstr(out, ">numpy:dot</text>"));
	assert_non_null(strstr(out, "data-n=\"net.py:fetch\" data-on=\"0\" data-off=\"300000000\""));
	assert_non_null(strstr(out, "<script type=\"text/ecmascript\"><![CDATA["));
	assert_null(strstr(out, "href="));   /* self-contained */
	free(out);
}

/* Exact calls nested on one thread come out as X slices in ts order with a counter track. */
static void test_report_perfetto(void **state)
{
	struct session s;
	struct call_rec outer = { .pid = 7, .tid = 8, .start_ns = 1000, .duration_ns = 9000,
				  .rss_start = 1 << 20, .rss_end = 2 << 20 };
	struct call_rec inner = { .pid = 7, .tid = 8, .start_ns = 2000, .duration_ns = 3000,
				  .depth = 1 };
	char *out, *sp;
	const char *x1, *x2;

	session_init(&s);
	outer.op = session_add_op(&s, "search", OP_PY, PREC_EXACT);
	inner.op = session_add_op(&s, "search.embed", OP_PY, PREC_EXACT);
	assert_int_equal(session_add_call(&s, &inner), 0);
	assert_int_equal(session_add_call(&s, &outer), 0);
	out = written(&s, report_perfetto);
	x1 = strstr(out, "{\"ph\":\"X\",\"name\":\"search\",\"cat\":\"exact\",\"ts\":1.000,"
		     "\"dur\":9.000,\"pid\":7,\"tid\":8");
	x2 = strstr(out, "{\"ph\":\"X\",\"name\":\"search.embed\",\"cat\":\"exact\",\"ts\":2.000,"
		     "\"dur\":3.000,\"pid\":7,\"tid\":8");
	assert_true(x1 && x2 && x1 < x2);
	assert_non_null(strstr(out, "{\"ph\":\"C\",\"name\":\"RSS\",\"pid\":7,\"tid\":7,\"ts\":10.000,"
				    "\"args\":{\"MiB\":2.000}}"));
	assert_non_null(strstr(out, "\"name\":\"thread_name\",\"pid\":7,\"tid\":8"));
	sp = written(&s, report_speedscope);
	assert_non_null(strstr(sp, "\"events\":[{\"type\":\"O\",\"frame\":0,\"at\":1000},"
				   "{\"type\":\"O\",\"frame\":1,\"at\":2000},"
				   "{\"type\":\"C\",\"frame\":1,\"at\":5000},"
				   "{\"type\":\"C\",\"frame\":0,\"at\":10000}]"));
	assert_non_null(strstr(sp, "\"frames\":[{\"name\":\"search\"},{\"name\":\"search.embed\"}]"));
	free(out);
	free(sp);
	session_free(&s);
}

/* 200 ops (record's BPF maps stop at MAX_OPS = 64; files, imports and merges do not): every
 * view handles them, ops past 64 included. Under SANITIZE=1 the old fixed 64-op arrays
 * overflowed here. */
static void test_report_many_ops(void **state)
{
	struct report_opts ro = { .histogram = true };
	struct session s;
	char name[NAME_MAX_LEN], *out;
	int k;

	session_init(&s);
	for (k = 0; k < 200; k++) {
		/* op050 .. op199 in groups of ten: "g07" with children "g07.op073", ... */
		if (k >= 50 && k % 10 == 0) {
			snprintf(name, sizeof(name), "g%02d", k / 10);
			assert_true(session_add_op(&s, name, OP_PY, PREC_EXACT) >= 0);
		}
		if (k >= 50)
			snprintf(name, sizeof(name), "g%02d.op%03d", k / 10, k);
		else
			snprintf(name, sizeof(name), "op%03d", k);
		assert_true(session_add_op(&s, name, k % 7 == 3 ? OP_NATIVE : OP_PY,
					   k % 9 == 4 ? PREC_SAMPLED : PREC_EXACT) >= 0);
	}
	assert_true(s.nops > 200);
	for (k = 0; k < s.nops; k++) {
		struct call_rec c = { .op = k, .pid = 40 + k % 3, .tid = 100 + k % 5, .start_ns = 1000 * k,
				      .duration_ns = 500 + k, .rss_start = 1 << 20, .rss_end = 2 << 20,
				      .rss_peak = 3 << 20, .iteration = k % 4 };

		if (k % 11 == 5) {   /* never seen */
			snprintf(s.ops[k].note, sizeof(s.ops[k].note), "reason %d", k % 2);
			continue;
		}
		if (s.ops[k].precision == PREC_SAMPLED)
			c.flags = CALL_F_SAMPLED;
		assert_int_equal(session_add_call(&s, &c), 0);
		if (k % 13 == 0) {
			c.flags |= CALL_F_OPEN;
			assert_int_equal(session_add_call(&s, &c), 0);
		}
	}
	session_compute_stats(&s);
	k = session_find_op(&s, "g19.op198");
	assert_true(k > 64);
	s.ops[k].hist = calloc(HIST_BUCKETS, sizeof(*s.ops[k].hist));
	assert_non_null(s.ops[k].hist);
	s.ops[k].hist[hist_index(s.ops[k].max_ns)] = 1;
	assert_true(session_add_stack(&s, "g19;main (x.py);f (y.py)", 1000000, 0) >= 0);
	assert_true(session_add_stack(&s, "op001;main (x.py)", 2000000, 5000) >= 0);

	out = text_of(&s, &ro);
	assert_non_null(row(out, "op000"));
	assert_non_null(row(out, "g19"));
	assert_non_null(row(out, "  op198"));
	assert_non_null(strstr(out, "\n  g19.op193: 1 call(s) still running"));
	assert_non_null(strstr(out, "not seen (20 of 215 operations)"));
	assert_non_null(strstr(out, "g17.op179 g19.op199\n"));   /* not seen, past 64 */
	assert_non_null(strstr(out, "\ng19.op198 (exact, 1 calls)"));
	free(out);
	ro = (struct report_opts){ .sort = "total" };
	out = text_of(&s, &ro);
	assert_non_null(row(out, "g19.op198"));
	free(out);
	ro = (struct report_opts){ .by = "thread" };
	out = text_of(&s, &ro);
	assert_non_null(strstr(out, "\ng19.op198 "));
	free(out);
	out = written(&s, svg_writer);
	assert_non_null(strstr(out, "data-n=\"g19\""));
	free(out);
	out = written(&s, report_perfetto);
	assert_non_null(strstr(out, "\"name\":\"g19.op193\""));   /* a sampled op's track */
	free(out);
	out = written(&s, report_speedscope);
	assert_non_null(strstr(out, "{\"name\":\"g19.op198\"}"));
	free(out);
	out = written(&s, report_folded);
	assert_non_null(strstr(out, "g19;main (x.py);f (y.py) 1000\n"));
	free(out);

	/* --op on an op past 64 keeps it and its subtree, calls renumbered */
	{
		char err[256];

		assert_int_equal(report_filter_op(&s, "g19", err, sizeof(err)), 0);
		assert_int_equal(s.nops, 11);
		for (size_t i = 0; i < s.ncalls; i++)
			assert_true(s.calls[i].op < 11);
		out = text_of(&s, &(struct report_opts){ 0 });
		assert_non_null(row(out, "g19"));
		assert_non_null(row(out, "  op198"));
		assert_null(row(out, "op000"));
		free(out);
	}
	session_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_ns),
		cmocka_unit_test(test_fmt_bytes),
		cmocka_unit_test(test_not_seen_grouped_and_wrapped),
		cmocka_unit_test_setup_teardown(test_report_text, session_setup, session_teardown),
		cmocka_unit_test_setup_teardown(test_report_color, session_setup, session_teardown),
		cmocka_unit_test_setup_teardown(test_report_histogram, session_setup, session_teardown),
		cmocka_unit_test_setup_teardown(test_report_folded, session_setup, session_teardown),
		cmocka_unit_test_setup_teardown(test_report_sort, session_setup, session_teardown),
		cmocka_unit_test_setup_teardown(test_report_by, session_setup, session_teardown),
		cmocka_unit_test_setup_teardown(test_report_width_brief, session_setup, session_teardown),
		cmocka_unit_test_setup_teardown(test_report_filter_op, session_setup, session_teardown),
		cmocka_unit_test_setup_teardown(test_report_svg, session_setup, session_teardown),
		cmocka_unit_test(test_report_perfetto),
		cmocka_unit_test(test_report_empty),
		cmocka_unit_test(test_report_hist_source),
		cmocka_unit_test(test_report_many_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
