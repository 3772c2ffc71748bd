// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/session.c and user/json.c: the session model, the ragd-bpfprof/1 file (round trip and
 * every kind of bad input), and the ragd ProfileSession import. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "session.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_json.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct session *new_session(void)
{
	struct session *s = malloc(sizeof(*s));

	assert_non_null(s);
	session_init(s);
	return s;
}

static void drop_session(struct session *s)
{
	session_free(s);
	free(s);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The JSON of a session as a malloc'd string. */
static char *to_json(const struct session *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(session_write_json(s, f), 0);
	fclose(f);
	return buf;
}

/* text with the first `from` replaced by `to` (which must be there). */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	if (!at)
		fail_msg("'%s' not in the JSON", from);
	out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
	assert_non_null(out);
	memcpy(out, text, at - text);
	strcpy(out + (at - text), to);
	strcat(out, at + strlen(from));
	return out;
}

/* A session that sets every field to something distinguishable. */
static struct session *rich_session(void)
{
	struct session *s = new_session();
	struct call_rec c = { 0 };
	int a, b, m, i;

	snprintf(s->name, sizeof(s->name), "bench \"quoted\" \\ name\twith tab");
	snprintf(s->started_at, sizeof(s->started_at), "2026-11-24T03:09:53.123Z");
	s->mono0_ns = 3114807415219ull;
	snprintf(s->ended_at, sizeof(s->ended_at), "2026-11-24T03:10:01.456Z");
	snprintf(s->kernel, sizeof(s->kernel), "6.1.0-26-amd64");
	s->cpus = 16;
	s->pid = 4242;
	snprintf(s->command, sizeof(s->command), "ragd search 'ünïcode query'");
	s->has_exit_code = true;
	s->exit_code = 3;
	s->events = 123456789;
	s->dropped_events = 7;
	s->dropped_calls = 4;
	s->samples = 999;
	s->sample_hz = 997;

	a = session_add_op(s, "embed", OP_NATIVE, PREC_EXACT);
	b = session_add_op(s, "search", OP_PY, PREC_SAMPLED);
	m = session_add_op(s, "startup", OP_PY_MODULE, PREC_EXACT);
	assert_true(a == 0 && b == 1 && m == 2);

	struct op_result *op = &s->ops[a];
	snprintf(op->function, sizeof(op->function), "/usr/lib/libggml.so:ggml_graph_compute");
	op->resolved = true;
	op->source = SRC_HISTOGRAM;
	op->count = 5;
	op->total_ns = (1ULL << 53) - 1;   /* largest integer a double holds exactly */
	op->min_ns = 1;
	op->max_ns = 1ULL << 52;
	op->mean_ns = 1234567.891;
	op->stdev_ns = 0.1 + 0.2;          /* 0.30000000000000004 needs 17 digits */
	op->p50_ns = 1000;
	op->p90_ns = 2000;
	op->p95_ns = 3000;
	op->p99_ns = 4000;
	op->on_cpu_ns = 777;
	op->off_cpu_ns = 888;
	op->self_ns = 999;
	op->unwound = 2;
	op->rss_delta_mean = -12345.5;
	op->rss_delta_max = -4096;
	op->rss_peak = 3ULL << 40;
	op->hist = calloc(HIST_BUCKETS, sizeof(*op->hist));
	assert_non_null(op->hist);
	op->hist[0] = 1;
	op->hist[63] = 2;
	op->hist[hist_index(123456789)] = 3;
	op->hist[HIST_BUCKETS - 1] = 4;    /* le_ns = UINT64_MAX */

	op = &s->ops[b];
	snprintf(op->note, sizeof(op->note), "sampled: no code object found\n(second line)");
	op->count = 11;
	op->self_ns = 5;
	op->off_cpu_ns = 6;

	op = &s->ops[m];
	op->resolved = true;

	for (i = 0; i < 20; i++) {
		c.op = i % 3 == 1 ? (__u32)m : (__u32)a;
		c.pid = 100 + i;
		c.tid = 200 + i;
		c.iteration = i / 5;
		c.flags = i == 3 ? CALL_F_UNWOUND : i == 4 ? CALL_F_OPEN | CALL_F_UNWOUND :
			  i == 5 ? 0x10 : 0;
		c.depth = i % 4;
		c.start_ns = 1000000ULL * i;
		c.duration_ns = 1000ULL * i + 1;
		c.on_cpu_ns = 500ULL * i;
		c.rss_start = 1ULL << 30;
		c.rss_end = (1ULL << 30) + 4096ULL * i;
		c.rss_peak = (1ULL << 31) + i;
		assert_int_equal(session_add_call(s, &c), 0);
	}
	assert_true(session_add_stack(s, "[embed];main;llama_decode;ggml_graph_compute", 10, 20) >= 0);
	assert_true(session_add_stack(s, "[search];cli.py:main;\"odd\\name\"", 30, 0) >= 0);
	session_warn(s, "1 call still open at the end");
	session_warn(s, "ring buffer full: %d records lost\n", 7);
	return s;
}

static void assert_sessions_equal(const struct session *x, const struct session *y)
{
	size_t i;
	int k;

	assert_string_equal(x->name, y->name);
	assert_string_equal(x->started_at, y->started_at);
	assert_int_equal(x->mono0_ns, y->mono0_ns);
	assert_string_equal(x->ended_at, y->ended_at);
	assert_string_equal(x->kernel, y->kernel);
	assert_int_equal(x->cpus, y->cpus);
	assert_int_equal(x->pid, y->pid);
	assert_string_equal(x->command, y->command);
	assert_int_equal(x->has_exit_code, y->has_exit_code);
	assert_int_equal(x->exit_code, y->exit_code);
	assert_string_equal(x->source_format, y->source_format);
	assert_int_equal(x->events, y->events);
	assert_int_equal(x->dropped_events, y->dropped_events);
	assert_int_equal(x->dropped_calls, y->dropped_calls);
	assert_int_equal(x->samples, y->samples);
	assert_int_equal(x->sample_hz, y->sample_hz);

	assert_int_equal(x->nops, y->nops);
	for (k = 0; k < x->nops; k++) {
		const struct op_result *p = &x->ops[k], *q = &y->ops[k];

		assert_string_equal(p->name, q->name);
		assert_int_equal(p->kind, q->kind);
		assert_int_equal(p->precision, q->precision);
		assert_int_equal(p->source, q->source);
		assert_string_equal(p->function, q->function);
		assert_int_equal(p->resolved, q->resolved);
		assert_string_equal(p->note, q->note);
		assert_op_stats_equal(p, q);
		if (p->hist) {
			assert_non_null(q->hist);
			assert_memory_equal(p->hist, q->hist, HIST_BUCKETS * sizeof(*p->hist));
		} else if (q->hist) {
			/* the writer gave it the histogram of its closed calls */
			__u64 *h = calloc(HIST_BUCKETS, sizeof(*h));

			assert_non_null(h);
			for (i = 0; i < x->ncalls; i++)
				if (x->calls[i].op == (__u32)k && !(x->calls[i].flags & CALL_F_OPEN))
					h[hist_index(x->calls[i].duration_ns)]++;
			assert_memory_equal(h, q->hist, HIST_BUCKETS * sizeof(*h));
			free(h);
		}
	}

	assert_int_equal(x->ncalls, y->ncalls);
	for (i = 0; i < x->ncalls; i++) {
		const struct call_rec *p = &x->calls[i], *q = &y->calls[i];

		assert_int_equal(p->op, q->op);
		assert_int_equal(p->pid, q->pid);
		assert_int_equal(p->tid, q->tid);
		assert_int_equal(p->iteration, q->iteration);
		assert_int_equal(p->flags, q->flags);
		assert_int_equal(p->depth, q->depth);
		assert_int_equal(p->start_ns, q->start_ns);
		assert_int_equal(p->duration_ns, q->duration_ns);
		assert_int_equal(p->on_cpu_ns, q->on_cpu_ns);
		assert_int_equal(p->rss_start, q->rss_start);
		assert_int_equal(p->rss_end, q->rss_end);
		assert_int_equal(p->rss_peak, q->rss_peak);
	}

	assert_int_equal(x->nstacks, y->nstacks);
	for (i = 0; i < x->nstacks; i++) {
		assert_string_equal(x->stacks[i].stack, y->stacks[i].stack);
		assert_int_equal(x->stacks[i].on_cpu_ns, y->stacks[i].on_cpu_ns);
		assert_int_equal(x->stacks[i].off_cpu_ns, y->stacks[i].off_cpu_ns);
	}

	assert_int_equal(x->nwarnings, y->nwarnings);
	for (i = 0; i < x->nwarnings; i++)
		assert_string_equal(x->warnings[i], y->warnings[i]);
}

/* ------------------------------------------------------------ session model */

static void test_session_ops(void **state)
{
	struct session *s = new_session();
	char name[32];
	int i;

	assert_string_equal(s->source_format, SCHEMA_ID);
	/* no limit in the model (record's MAX_OPS is its own): a ragd profile has 75 */
	for (i = 0; i < MAX_OPS + 11; i++) {
		snprintf(name, sizeof(name), "op%d", i);
		assert_int_equal(session_add_op(s, name, OP_NATIVE, i % 2 ? PREC_SAMPLED : PREC_EXACT), i);
	}
	assert_int_equal(s->nops, MAX_OPS + 11);
	assert_int_equal(session_find_op(s, "op0"), 0);
	assert_int_equal(session_find_op(s, "op63"), 63);
	assert_int_equal(session_find_op(s, "op74"), 74);
	assert_int_equal(session_find_op(s, "op75"), -1);
	assert_int_equal(s->ops[1].source, SRC_SAMPLES);
	assert_int_equal(s->ops[2].source, SRC_CALLS);
	session_free(s);
	/* freed sessions are empty and may be freed again */
	assert_int_equal(s->nops, 0);
	drop_session(s);
}

static void test_session_calls_warnings(void **state)
{
	struct session *s = new_session();
	struct call_rec c = { 0 };
	int i;

	for (i = 0; i < 5000; i++) {
		c.duration_ns = i;
		assert_int_equal(session_add_call(s, &c), 0);
	}
	assert_int_equal(s->ncalls, 5000);
	assert_true(s->calls_cap >= 5000);
	assert_int_equal(s->calls[4321].duration_ns, 4321);

	session_warn(s, "plain");
	session_warn(s, "%d dropped\n\n", 5);
	assert_int_equal(s->nwarnings, 2);
	assert_string_equal(s->warnings[0], "plain");
	assert_string_equal(s->warnings[1], "5 dropped");
	drop_session(s);
}

static void test_iso8601(void **state)
{
	char buf[40];
	int y, mo, d, h, mi, sec, ms;
	char z;
	time_t now = time(NULL);
	struct tm tm = { 0 };

	iso8601_now(buf, sizeof(buf));
	assert_int_equal(strlen(buf), 24);
	assert_int_equal(sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec,
				&ms, &z), 8);
	assert_int_equal(z, 'Z');
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	/* UTC, and now */
	assert_true(llabs((long long)(timegm(&tm) - now)) <= 2);
	/* short buffers are cut, not overrun */
	iso8601_now(buf, 5);
	assert_int_equal(strlen(buf), 4);
}

/* 100k samples over 1000 distinct stacks merge into 1000 entries, quickly. */
static void test_stacks_merge(void **state)
{
	struct session *s = new_session();
	struct timespec t0, t1;
	char stack[256];
	double secs;
	size_t i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 100000; i++) {
		snprintf(stack, sizeof(stack),
			 "[op];ragd/cli.py:main;ragd/search/engine.py:search;frame_%zu", i % 1000);
		assert_int_equal(session_add_stack(s, stack, 10, i % 2), (int)(i % 1000));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("100k stack samples merged in %.3fs\n", secs);
	assert_true(secs < 1.0);
	assert_int_equal(s->nstacks, 1000);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(s->stacks[i].on_cpu_ns, 1000);
		assert_int_equal(s->stacks[i].off_cpu_ns, i % 2 ? 100 : 0);
	}
	drop_session(s);
}

/* stacks[] filled behind session_add_stack's back still merges. */
static void test_stacks_direct_fill(void **state)
{
	struct session *s = new_session();

	s->stacks = calloc(4, sizeof(*s->stacks));
	assert_non_null(s->stacks);
	s->stacks_cap = 4;
	s->stacks[0].stack = strdup("a;b");
	s->stacks[1].stack = strdup("a;c");
	s->nstacks = 2;
	assert_int_equal(session_add_stack(s, "a;c", 5, 6), 1);
	assert_int_equal(session_add_stack(s, "a;d", 1, 1), 2);
	assert_int_equal(session_add_stack(s, "a;b", 1, 0), 0);
	assert_int_equal(s->nstacks, 3);
	assert_int_equal(s->stacks[1].on_cpu_ns, 5);
	assert_int_equal(s->stacks[1].off_cpu_ns, 6);
	assert_int_equal(s->stacks[0].on_cpu_ns, 1);
	drop_session(s);
}

/* ------------------------------------------------------------ round trip */

static void test_roundtrip_file(void **state)
{
	struct session *s = rich_session(), *r = new_session();
	char path[128], tmp[140], err[512] = "";
	char *j1, *j2;
	struct stat st;

	snprintf(path, sizeof(path), "%s/rich.json", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (session_write_file(s, path, err, sizeof(err)) != 0)
		fail_msg("write: %s", err);
	assert_int_not_equal(stat(tmp, &st), 0);   /* renamed away */
	if (session_read_file(r, path, err, sizeof(err)) != 0)
		fail_msg("read: %s", err);

	/* the 0x10 flag bit has no name but survives */
	assert_int_equal(r->calls[5].flags, 0x10);
	assert_int_equal(r->calls[4].flags, CALL_F_OPEN | CALL_F_UNWOUND);
	assert_true(r->ops[0].hist[HIST_BUCKETS - 1] == 4);
	assert_true(r->ops[0].total_ns == (1ULL << 53) - 1);
	assert_sessions_equal(s, r);

	/* written again, byte for byte the same */
	j1 = to_json(s);
	j2 = to_json(r);
	assert_string_equal(j1, j2);
	free(j1);
	free(j2);
	drop_session(s);
	drop_session(r);
}

static void test_roundtrip_string(void **state)
{
	struct session *s = rich_session(), *r = new_session();
	char err[512] = "", *j = to_json(s);

	/* contract keys, spelled exactly */
	const char *keys[] = { "\"schema\": \"ragd-bpfprof/1\"", "\"name\"", "\"started_at\"",
		"\"ended_at\"", "\"host\": {\"kernel\"", "\"cpus\"", "\"target\": {\"pid\"",
		"\"command\"", "\"exit_code\": 3", "\"operations\"", "\"kind\": \"native\"",
		"\"kind\": \"py\"", "\"kind\": \"py_module\"", "\"precision\": \"exact\"",
		"\"precision\": \"sampled\"", "\"count\"", "\"total_ns\": 9007199254740991",
		"\"min_ns\"", "\"max_ns\"", "\"mean_ns\"", "\"p50_ns\"", "\"p90_ns\"", "\"p95_ns\"",
		"\"p99_ns\"", "\"on_cpu_ns\"", "\"histogram\": {\"buckets\"",
		"{\"le_ns\": 18446744073709551615, \"count\": 4}", "{\"le_ns\": 0, \"count\": 1}",
		"\"rss\": {\"delta_bytes_mean\"", "\"delta_bytes_max\": -4096", "\"peak_bytes\"",
		"\"calls\"", "\"op\": \"embed\"", "\"tid\"", "\"start_ns\"", "\"duration_ns\"",
		"\"rss_start_bytes\"", "\"rss_end_bytes\"", "\"rss_peak_bytes\"",
		"\"stats\": {\"events\": 123456789, \"dropped_events\": 7",
		"\"warnings\"", "\"stdev_ns\": 0.30000000000000004", "\"off_cpu_ns\"", "\"self_ns\"",
		"\"unwound\"", "\"stats_source\": \"histogram\"", "\"function\"", "\"resolved\"",
		"\"note\"", "\"iteration\"", "\"flags\": [\"unwound\", \"open\"]", "\"depth\"",
		"\"samples\": 999", "\"sample_hz\": 997", "\"dropped_calls\": 4", "\"stacks\"" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strstr(j, keys[i]))
			fail_msg("%s not in the JSON", keys[i]);
	if (session_read_string(r, j, err, sizeof(err)) != 0)
		fail_msg("read: %s", err);
	assert_sessions_equal(s, r);
	free(j);
	drop_session(s);
	drop_session(r);
}

/* An empty session, and an op whose histogram is built from its calls on the way out. */
static void test_roundtrip_minimal(void **state)
{
	struct session *s = new_session(), *r = new_session();
	struct call_rec c = { 0 };
	char err[256] = "", *j;
	int a;

	j = to_json(s);
	if (session_read_string(r, j, err, sizeof(err)) != 0)
		fail_msg("empty session: %s", err);
	assert_sessions_equal(s, r);
	assert_false(r->has_exit_code);
	free(j);
	session_free(r);

	a = session_add_op(s, "x", OP_PY, PREC_EXACT);
	c.op = a;
	c.duration_ns = 1000;
	session_add_call(s, &c);
	session_add_call(s, &c);
	c.duration_ns = 5;
	session_add_call(s, &c);
	c.flags = CALL_F_OPEN;
	c.duration_ns = 77777;
	session_add_call(s, &c);
	session_compute_stats(s);
	j = to_json(s);
	if (session_read_string(r, j, err, sizeof(err)) != 0)
		fail_msg("read: %s", err);
	assert_non_null(r->ops[0].hist);
	assert_int_equal(r->ops[0].hist[hist_index(1000)], 2);
	assert_int_equal(r->ops[0].hist[5], 1);
	assert_int_equal(r->ops[0].hist[hist_index(77777)], 0);   /* open calls are not in it */
	assert_int_equal(r->ops[0].count, 3);
	assert_int_equal(r->ncalls, 4);
	free(j);
	drop_session(s);
	drop_session(r);
}

static void test_write_file_error(void **state)
{
	struct session *s = new_session();
	char err[512] = "";

	assert_int_equal(session_write_file(s, "/nonexistent-dir/x.json", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/x.json: cannot write there"));
	assert_null(strchr(err, '\n'));
	drop_session(s);
}

/* ------------------------------------------------------------ bad input */

/* Reads text (through a file) and expects -1 with `want` in a one-line error naming it. */
static void expect_bad(const char *text, const char *want)
{
	struct session *s = new_session();
	char path[128], err[512] = "";

	snprintf(path, sizeof(path), "%s/bad.json", tmpdir);
	write_text(path, text);
	if (session_read_file(s, path, err, sizeof(err)) != -1)
		fail_msg("accepted, expected error '%s'", want);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
	assert_true(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':');
	assert_null(strchr(err, '\n'));
	/* nothing kept after a failure */
	assert_int_equal(s->nops, 0);
	assert_null(s->calls);
	assert_null(s->warnings);
	drop_session(s);
}

static void test_bad_files(void **state)
{
	struct session *s = new_session();
	char path[128], err[512] = "";

	snprintf(path, sizeof(path), "%s/does-not-exist.json", tmpdir);
	assert_int_equal(session_read_file(s, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does-not-exist.json: no such file"));

	/* a directory */
	assert_int_equal(session_read_file(s, tmpdir, err, sizeof(err)), -1);
	assert_true(strncmp(err, tmpdir, strlen(tmpdir)) == 0);
	assert_null(strchr(err, '\n'));

	/* no err buffer: still fails cleanly */
	assert_int_equal(session_read_file(s, path, NULL, 0), -1);
	drop_session(s);

	expect_bad("", "empty file");
	expect_bad("   \n", "not valid JSON (truncated or garbage near byte");
	expect_bad("hello world", "not valid JSON (truncated or garbage near byte 0)");
	expect_bad("\x89PNG\r\n\x1a\n", "not valid JSON");
	expect_bad("[1, 2]", "not a JSON object");
	expect_bad("{}", "no 'schema' key");
	expect_bad("{\"schema\": \"other/2\"}", "schema is 'other/2', expected ragd-bpfprof/1");
	expect_bad("{\"schema\": 1}", "schema is not a string");
}

static void test_bad_content(void **state)
{
	struct session *s = rich_session();
	char *good = to_json(s), *bad, *half;
	size_t n = strlen(good);
	struct {
		const char *from, *to, *want;
	} cases[] = {
		{ "\"count\": 11,", "\"count\": \"11\",", "operations[1].count missing or not a number" },
		{ "\"count\": 5,", "\"count\": -5,", "operations[0].count is not a non-negative integer" },
		{ "\"count\": 5,", "\"count\": 5.5,", "operations[0].count is not a non-negative integer" },
		{ "\"count\": 5,", "", "operations[0].count missing or not a number" },
		{ "\"started_at\": \"2026-11-24T03:09:53.123Z\",", "", "started_at missing or not a string" },
		{ "\"name\": \"embed\"", "\"name\": 7", "operations[0].name missing or not a string" },
		{ "\"kind\": \"native\"", "\"kind\": \"java\"", "operations[0].kind is 'java', expected" },
		{ "\"precision\": \"exact\"", "\"precision\": \"fuzzy\"", "operations[0].precision is 'fuzzy'" },
		{ "\"name\": \"search\"", "\"name\": \"embed\"", "operations[1].name 'embed' appears twice" },
		{ "\"cpus\": 16", "\"cpus\": \"16\"", "host.cpus missing or not a number" },
		{ "\"host\": {", "\"hostx\": {", "host missing or not an object" },
		{ ", \"exit_code\": 3", "", "target.exit_code missing" },
		{ "\"exit_code\": 3", "\"exit_code\": \"3\"", "target.exit_code missing or not a number" },
		{ "\"events\": 123456789", "\"events\": null", "stats.events missing or not a number" },
		{ "\"operations\": [", "\"operations\": 5, \"ops\": [", "operations missing or not an array" },
		{ "{\"le_ns\": 0, \"count\": 1}", "{\"le_ns\": 1001, \"count\": 1}",
		  "operations[0].histogram.buckets[0].le_ns is 1001, not a bucket bound" },
		{ "{\"le_ns\": 0, \"count\": 1}", "{\"le_ns\": 63, \"count\": 1}", "listed twice" },
		{ "\"buckets\": [", "\"buckets\": 3, \"x\": [", "operations[0].histogram.buckets missing or not an array" },
		{ "\"delta_bytes_max\": -4096", "\"delta_bytes_max\": -4096.5", "operations[0].rss.delta_bytes_max is not an integer" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"nope\", \"pid\": 100", "calls[0].op 'nope' is not in operations" },
		{ "\"tid\": 200,", "\"tid\": 4294967296,", "calls[0].tid is out of range" },
		{ "\"duration_ns\": 1,", "\"duration_ns\": -1,", "calls[0].duration_ns is not a non-negative integer" },
		{ "\"rss_peak_bytes\": 2147483648,", "", "calls[0].rss_peak_bytes missing or not a number" },
		{ "\"flags\": [\"unwound\"]", "\"flags\": [1]", "calls[3].flags has a non-string entry" },
		{ "\"resolved\": true", "\"resolved\": 1", "operations[0].resolved is not true or false" },
		{ "\"stats_source\": \"histogram\"", "\"stats_source\": \"magic\"", "operations[0].stats_source is 'magic'" },
		{ "{\"stack\": ", "{\"stackz\": ", "stacks[0].stack missing or not a string" },
		{ "\"warnings\": [", "\"warnings\": [1, ", "warnings[0] is not a string" },
		{ "\"warnings\": [", "\"warningz\": [", "warnings missing or not an array" },
		/* report/compare round means to __u64: negative or >= 2^64 never get that far */
		{ "\"mean_ns\": 1234567.891", "\"mean_ns\": -1", "operations[0].mean_ns is out of range" },
		{ "\"mean_ns\": 1234567.891", "\"mean_ns\": 1e30", "operations[0].mean_ns is out of range" },
		{ "\"mean_ns\": 1234567.891", "\"mean_ns\": 1e999", "operations[0].mean_ns missing or not a number" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bad = replace(good, cases[i].from, cases[i].to);
		expect_bad(bad, cases[i].want);
		free(bad);
	}

	/* truncated anywhere: cut at many points */
	half = strdup(good);
	assert_non_null(half);
	for (i = 1; i < n - 2; i += n / 37) {
		half[i] = '\0';
		expect_bad(half, "not valid JSON (truncated or garbage near byte");
		half[i] = good[i];
	}
	free(half);

	/* garbage after a complete document */
	bad = malloc(n + 8);
	assert_non_null(bad);
	snprintf(bad, n + 8, "%sxyz", good);
	expect_bad(bad, "not valid JSON (truncated or garbage near byte");
	free(bad);

	/* and the untouched text is fine */
	{
		struct session *r = new_session();
		char err[256];

		assert_int_equal(session_read_string(r, good, err, sizeof(err)), 0);
		drop_session(r);
	}
	/* read_string names "<string>" */
	{
		struct session *r = new_session();
		char err[256] = "";

		assert_int_equal(session_read_string(r, "{\"schema\": \"x\"}", err, sizeof(err)), -1);
		assert_string_equal(err, "<string>: schema is 'x', expected ragd-bpfprof/1");
		drop_session(r);
	}
	free(good);
	drop_session(s);
}

/* ------------------------------------------------------------ streaming reader = tree reader */

/* text read by the streaming reader (from a string and from a mapped file) and by the one
 * cJSON tree: the same error after the label, or sessions that write the same bytes. Returns
 * whether it was read. */
static bool same_as_tree(const char *text)
{
	struct session *a = new_session(), *b = new_session(), *c = new_session();
	char ea[1024] = "", eb[1024] = "", ec[1024] = "", path[128];
	int ra, rb, rc;
	bool ok;

	snprintf(path, sizeof(path), "%s/same.json", tmpdir);
	write_text(path, text);
	ra = session_read_string(a, text, ea, sizeof(ea));
	rb = session_read_string_tree(b, text, eb, sizeof(eb));
	rc = *text ? session_read_file(c, path, ec, sizeof(ec)) : rb;
	if (ra != rb || rc != rb)
		fail_msg("stream %d '%s', file %d '%s', tree %d '%s' for:\n%.300s", ra, ea, rc, ec,
			 rb, eb, text);
	if (rb) {
		assert_string_equal(ea, eb);
		if (*text) {
			assert_true(strncmp(ec, path, strlen(path)) == 0);
			assert_string_equal(ec + strlen(path), eb + strlen("<string>"));
		}
	} else {
		char *ja = to_json(a), *jb = to_json(b), *jc = to_json(c);

		assert_string_equal(ja, jb);
		assert_string_equal(jc, jb);
		free(ja);
		free(jb);
		free(jc);
	}
	ok = rb == 0;
	drop_session(a);
	drop_session(b);
	drop_session(c);
	return ok;
}

static void test_stream_equals_tree(void **state)
{
	struct session *s = rich_session();
	char *good = to_json(s), *t, *u, *v;
	const char *ops = strstr(good, "  \"operations\": ["), *calls = strstr(good, "  \"calls\": [");
	const char *stacks = strstr(good, "  \"stacks\": [");
	size_t i, n = strlen(good);
	struct {
		const char *from, *to;
	} cases[] = {
		/* what the scanner leaves to cJSON, each in a call */
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"emb\\u0065d\", \"pid\": 100" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"pid\": 100, \"op\": \"embed\", \"x\": {\"y\": [1, null]}" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"embed\", \"op\": \"search\", \"pid\": 100" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"embed\", \"pid\": 0100" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"embed\", \"pid\": 1e2" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"embed\", \"pid\": 100.0" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"embed\", \"pid\": null" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"embed\", \"pid\": 4294967296" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"embed\", \"pid\": \"100\"" },
		{ "\"start_ns\": 0,", "\"start_ns\": 1234567890123456789," },
		{ "\"start_ns\": 0,", "\"start_ns\": 999999999999999," },
		{ "\"start_ns\": 0,", "\"start_ns\": 1000000000000000," },
		{ "\"start_ns\": 0,", "\"start_ns\": 18446744073709551616," },
		{ "\"start_ns\": 0,", "\"start_ns\": 9007199254740993," },
		{ "\"start_ns\": 0,", "\"start_ns\": 0009007199254740993," },
		{ "\"flags\": [\"unwound\"]", "\"flags\": [\"unwound\", \"0x10\", \"later\", \"0xffffffffff\"]" },
		{ "\"flags\": [\"unwound\"]", "\"flags\": null" },
		{ "\"flags\": [\"unwound\"]", "\"flags\": [\"unw\\u006fund\"]" },
		{ "\"flags\": [\"unwound\"]", "\"flags\": \"unwound\"" },
		{ "\"flags\": [\"unwound\"]", "\"flags\" :\t[ \"unwound\" ,\r\n\"open\" ] " },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"nope\", \"pid\": 100" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"\", \"pid\": 100" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\": \"e\tmbed\", \"pid\": 100" },
		{ "\"rss_peak_bytes\": 2147483648,", "" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{}, {\"op\": \"embed\", \"pid\": 100" },
		{ "{\"op\": \"embed\", \"pid\": 100", "7, {\"op\": \"embed\", \"pid\": 100" },
		{ "{\"op\": \"embed\", \"pid\": 100", "\xef\xbb\xbf{\"op\": \"embed\", \"pid\": 100" },
		/* errors in file order vs the tree reader's order; syntax errors win */
		{ "\"tid\": 200,", "\"tid\": -1," },
		{ "\"cpus\": 16", "\"cpus\": \"16\"" },
		{ "{\"stack\": ", "{\"stackz\": " },
		{ "{\"stack\": ", "7, {\"stack\": " },
		{ "\"warnings\": [", "\"warnings\": [1, " },
		{ "\"schema\": \"ragd-bpfprof/1\"", "\"schema\": \"ragd-bpfprof/2\"" },
		{ "\"schema\": \"ragd-bpfprof/1\",", "" },
		{ "\"schema\": \"ragd-bpfprof/1\",", "\"results\": []," },
		{ "\"schema\": \"ragd-bpfprof/1\"", "\"schema\": \"ragd-bpfprof/1\", \"schema\": \"x\"" },
		{ "\"schema\": \"ragd-bpfprof/1\"", "\"schema\": \"x\", \"schema\": \"ragd-bpfprof/1\"" },
		{ "  \"calls\": [", "  \"calls\": 5, \"calls\": [" },
		{ "  \"calls\": [", "  \"calls\": [], \"calls\": [" },
		{ "  \"calls\": [", "  \"calls\": null, \"calls\": [" },
		{ "  \"stacks\": [", "  \"stacks\": null, \"stacks\": [" },
		{ "  \"stacks\": [", "  \"stacks\": [], \"stacks\": [" },
		{ "  \"operations\": [", "  \"operations\": [], \"operations\": [" },
		{ "  \"operations\": [", "  \"operations\": {}, \"operations\": [" },
		{ "\"name\": \"search\"", "\"name\": \"embed\"" },
		{ "\"name\": \"search\"", "\"name\": 5" },
		{ "{\n  \"schema\"", "\xef\xbb\xbf{\n  \"schema\"" },
		{ "{\n  \"schema\"", " \t\r\n{\n  \"schema\"" },
		{ "\"calls\": [", "\"calls\" : [ " },
		/* syntax errors: the streaming walk must name the byte the tree reader names */
		{ "\"flags\": [\"unwound\"]},", "\"flags\": [\"unwound\"]} " },
		{ "\"flags\": [\"unwound\"]},", "\"flags\": [\"unwound\"]},," },
		{ "\"flags\": [\"unwound\"]},", "\"flags\": [\"unwound\"]}]," },
		{ "\"flags\": [\"unwound\"]", "\"flags\": [\"unwound\"" },
		{ "\"flags\": [\"unwound\"]", "\"flags\": [\"unw\\qound\"]" },
		{ "\"flags\": [\"unwound\"]", "\"flags\": [\"unwound\"]]" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{\"op\" \"embed\", \"pid\": 100" },
		{ "{\"op\": \"embed\", \"pid\": 100", "{op: \"embed\", \"pid\": 100" },
		{ "{\"op\": \"embed\", \"pid\": 100", "\xef\xbb\xbf{\"op\": \"embed\", \"pid\": 100" },
		{ "  \"calls\": [", "  calls: [" },
		{ "  \"calls\": [", "  \"calls\" [" },
		{ "  \"calls\": [", "  \"calls\": [," },
		{ "  \"stacks\": [", "  \"stacks\" [" },
		{ "  \"stacks\": [", "  \"stacks\": [{]," },
		{ "  \"warnings\": [", "  \"warnings\": [\"a\\x\"" },
		{ "  \"warnings\": [", "  , \"warnings\": [" },
		{ "\"cpus\": 16", "\"cpus\": 16,}" },
		{ "\"cpus\": 16", "\"cpus\": -" },
		{ "\"calls\": [", "\"c\\u0061lls\": [" },
	};

	assert_true(ops && calls && stacks && ops < calls && calls < stacks);
	assert_true(same_as_tree(good));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = replace(good, cases[i].from, cases[i].to);
		same_as_tree(t);
		/* the same with a syntax error after it: that wins */
		u = malloc(strlen(t) + 4);
		assert_non_null(u);
		sprintf(u, "%s}", t);
		assert_false(same_as_tree(u));
		free(u);
		free(t);
	}

	/* operations (and schema) after calls: calls are read in a second pass */
	t = malloc(n + 1);
	assert_non_null(t);
	i = (size_t)(ops - good);
	memcpy(t, good, i);                                     /* up to operations */
	memcpy(t + i, calls, (size_t)(stacks - calls));          /* calls */
	memcpy(t + i + (stacks - calls), ops, (size_t)(calls - ops));   /* operations */
	strcpy(t + i + (stacks - ops), stacks);                  /* the rest */
	assert_int_equal(strlen(t), n);
	assert_true(same_as_tree(t));
	u = replace(t, "\"tid\": 200,", "\"tid\": \"x\",");
	assert_false(same_as_tree(u));
	free(u);
	u = replace(t, "\"name\": \"search\"", "\"name\": \"embed\"");
	assert_false(same_as_tree(u));
	free(u);
	u = replace(t, "{\n  \"schema\": \"ragd-bpfprof/1\",", "{");
	v = replace(u, "]\n}\n", "], \"schema\": \"ragd-bpfprof/1\"}\n");
	assert_true(same_as_tree(v));
	free(v);
	free(u);
	free(t);

	/* cut anywhere, nested deep, odd documents */
	t = strdup(good);
	assert_non_null(t);
	for (i = 1; i < n; i += 7) {
		t[i] = '\0';
		same_as_tree(t);
		t[i] = good[i];
	}
	free(t);
	for (i = 985; i <= 1001; i += 2) {
		size_t d;

		t = malloc(n + 2 * i + 32);
		assert_non_null(t);
		strcpy(t, good);
		u = strstr(t, "{\"op\": \"embed\", \"pid\": 100");
		memmove(u + i + 1 + strlen("\"x\": ,") + i, u + 1, strlen(u + 1) + 1);
		memcpy(u + 1, "\"x\": ", 5);
		for (d = 0; d < i; d++) {
			u[6 + d] = '[';
			u[6 + i + d] = ']';
		}
		u[6 + 2 * i] = ',';
		same_as_tree(t);
		free(t);
	}
	same_as_tree("{}");
	same_as_tree(" { } ");
	same_as_tree("[]");
	same_as_tree("{\"schema\": \"ragd-bpfprof/1\", \"calls\": [], \"calls\": [{]}");
	same_as_tree("{\"schema\": \"ragd-bpfprof/1\", \"calls\": [{\"op\": \"a\"}]}");
	same_as_tree("{\"schema\": \"ragd-bpfprof/1\", \"operations\": [], \"calls\": [{\"op\": \"a\"}]}");
	same_as_tree("{\"name\": \"n\", \"calls\": [1], \"stacks\": [2], \"results\": []}");
	free(good);
	drop_session(s);
}

/* A file that ends exactly on a page boundary is mapped with a zero byte after it. */
static void test_stream_page_boundary(void **state)
{
	struct session *s = rich_session(), *r;
	char *good = to_json(s), *t, path[128], err[256];
	size_t n = strlen(good), pg = (size_t)sysconf(_SC_PAGESIZE), size = (n / pg + 1) * pg;
	FILE *f;

	t = malloc(size + 1);
	assert_non_null(t);
	memcpy(t, good, n);
	memset(t + n, ' ', size - n);
	t[size] = '\0';
	snprintf(path, sizeof(path), "%s/page.json", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(t, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	r = new_session();
	assert_int_equal(session_read_file(r, path, err, sizeof(err)), 0);
	assert_int_equal(r->ncalls, s->ncalls);
	drop_session(r);
	/* and cut inside a string at the boundary */
	f = fopen(path, "w");
	assert_non_null(f);
	t[n - 30] = '"';
	memset(t + n - 29, 'x', size - n + 29);
	assert_int_equal(fwrite(t, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	r = new_session();
	assert_int_equal(session_read_file(r, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not valid JSON"));
	drop_session(r);
	free(t);
	free(good);
	drop_session(s);
}

/* ------------------------------------------------------------ ragd profile import */

/* What ragd 1.0's ProfileSession.export_json writes (json.dumps(to_dict(), indent=2)). */
static const char ragd_profile[] =
	"{\n"
	"  \"name\": \"indexing_benchmark\",\n"
	"  \"description\": \"index 3 docs\",\n"
	"  \"start_time\": \"2025-01-02T03:04:05.000000\",\n"
	"  \"end_time\": \"2025-01-02T03:04:07.500000\",\n"
	"  \"duration_ms\": 2500.0,\n"
	"  \"metadata\": {\"environment\": {\"python_version\": \"3.12.1\", "
	"\"platform\": \"Linux-6.1.0-26-amd64-x86_64-with-glibc2.36\", \"processor\": \"\", "
	"\"cpu_count\": 8, \"memory_total_gb\": 31.2}},\n"
	"  \"results\": [\n"
	"    {\"operation\": \"parse\", \"duration_ms\": 10.0, "
	"\"start_time\": \"2025-01-02T03:04:05.250000\", \"end_time\": \"2025-01-02T03:04:05.260000\", "
	"\"memory_start_mb\": 100.0, \"memory_end_mb\": 101.5, \"memory_delta_mb\": 1.5, \"metadata\": {}},\n"
	"    {\"operation\": \"embed\", \"duration_ms\": 250.125, "
	"\"start_time\": \"2025-01-02T03:04:05.300000\", \"end_time\": \"2025-01-02T03:04:05.550125\", "
	"\"memory_start_mb\": null, \"memory_end_mb\": null, \"memory_delta_mb\": null, \"metadata\": {\"batch\": 32}},\n"
	"    {\"operation\": \"parse\", \"duration_ms\": 12.5, "
	"\"start_time\": \"2025-01-02T03:04:06.000000\", \"end_time\": \"2025-01-02T03:04:06.012500\", "
	"\"memory_start_mb\": 101.5, \"memory_end_mb\": 101.0, \"memory_delta_mb\": -0.5, \"metadata\": {}},\n"
	"    {\"operation\": \"embed\", \"duration_ms\": 249.875, "
	"\"start_time\": \"2025-01-02T03:04:06.100000\", \"end_time\": \"2025-01-02T03:04:06.349875\", "
	"\"memory_delta_mb\": -2.0, \"memory_peak_mb\": 300.0, \"metadata\": {}},\n"
	"    {\"operation\": \"parse\", \"duration_ms\": 11.25, "
	"\"start_time\": \"2025-01-02T03:04:07.000000\", \"end_time\": \"2025-01-02T03:04:07.011250\", "
	"\"memory_start_mb\": 101.0, \"memory_end_mb\": 103.0, \"memory_delta_mb\": 2.0, \"metadata\": {}}\n"
	"  ],\n"
	"  \"summary\": {\"parse\": {\"count\": 3, \"total_ms\": 33.75, \"mean_ms\": 11.25}, "
	"\"embed\": {\"count\": 2, \"total_ms\": 500.0, \"mean_ms\": 250.0}}\n"
	"}\n";

static void test_ragd_import(void **state)
{
	struct session *s = new_session(), *r = new_session();
	char path[128], err[512] = "", *j;
	const struct op_result *parse, *embed;
	const double mib = 1024.0 * 1024.0;

	snprintf(path, sizeof(path), "%s/ragd-profile.json", tmpdir);
	write_text(path, ragd_profile);
	if (session_read_file(s, path, err, sizeof(err)) != 0)
		fail_msg("import: %s", err);

	assert_string_equal(s->source_format, "ragd-profile");
	assert_string_equal(s->name, "indexing_benchmark");
	assert_string_equal(s->started_at, "2025-01-02T03:04:05.000000");
	assert_string_equal(s->ended_at, "2025-01-02T03:04:07.500000");
	assert_int_equal(s->cpus, 8);
	assert_string_equal(s->kernel, "Linux-6.1.0-26-amd64-x86_64-with-glibc2.36");
	assert_false(s->has_exit_code);
	assert_int_equal(s->nops, 2);
	assert_int_equal(s->ncalls, 5);
	assert_int_equal(s->events, 5);

	assert_int_equal(session_find_op(s, "parse"), 0);
	assert_int_equal(session_find_op(s, "embed"), 1);
	parse = &s->ops[0];
	embed = &s->ops[1];
	assert_int_equal(parse->kind, OP_PY);
	assert_int_equal(parse->precision, PREC_EXACT);
	assert_int_equal(parse->source, SRC_CALLS);
	assert_true(parse->resolved);
	assert_int_equal(parse->count, 3);
	assert_int_equal(parse->total_ns, 33750000);
	assert_int_equal(parse->min_ns, 10000000);
	assert_int_equal(parse->max_ns, 12500000);
	assert_int_equal(parse->p50_ns, 11250000);
	assert_true(parse->mean_ns == 11250000.0);
	assert_true(fabs(parse->stdev_ns - 1250000.0) < 1e-6);
	/* deltas +1.5, -0.5, +2.0 MiB */
	assert_true(fabs(parse->rss_delta_mean - 1.0 * mib) < 1);
	assert_true(parse->rss_delta_max == (__s64)(2 * mib));
	assert_int_equal(parse->rss_peak, (__u64)(103 * mib));

	assert_int_equal(embed->count, 2);
	assert_int_equal(embed->total_ns, 500000000);
	assert_int_equal(embed->min_ns, 249875000);
	assert_int_equal(embed->max_ns, 250125000);
	/* only the second embed call knew its memory (delta -2 MiB, peak 300 MiB); the first,
	 * with memory_* null, is left out of the RSS columns */
	assert_true(fabs(embed->rss_delta_mean - (-2.0 * mib)) < 1);
	assert_true(embed->rss_delta_max == -(__s64)(2 * mib));
	assert_int_equal(embed->rss_peak, (__u64)(300 * mib));

	/* calls keep file order, durations and start offsets from the session start */
	assert_int_equal(s->calls[0].op, 0);
	assert_int_equal(s->calls[0].duration_ns, 10000000);
	assert_int_equal(s->calls[0].start_ns, 250000000);
	assert_int_equal(s->calls[0].rss_start, (__u64)(100 * mib));
	assert_int_equal(s->calls[0].rss_end, (__u64)(101.5 * mib));
	assert_int_equal(s->calls[1].op, 1);
	assert_int_equal(s->calls[1].duration_ns, 250125000);
	assert_int_equal(s->calls[1].rss_start, 0);
	assert_int_equal(s->calls[1].rss_end, 0);
	assert_int_equal(s->calls[3].rss_start, (__u64)(2 * mib));
	assert_int_equal(s->calls[3].rss_end, 0);
	assert_int_equal(s->calls[4].start_ns, 2000000000);

	/* and it saves as a ragd-bpfprof/1 file that reads back the same */
	j = to_json(s);
	assert_non_null(strstr(j, "\"schema\": \"ragd-bpfprof/1\""));
	if (session_read_string(r, j, err, sizeof(err)) != 0)
		fail_msg("re-read: %s", err);
	assert_string_equal(r->source_format, "ragd-profile");
	assert_int_equal(r->ops[0].count, 3);
	assert_int_equal(r->ops[0].p50_ns, 11250000);
	assert_int_equal(r->ops[1].total_ns, 500000000);
	free(j);
	drop_session(s);
	drop_session(r);
}

static void test_ragd_import_bad(void **state)
{
	char *bad;

	bad = replace(ragd_profile, "\"duration_ms\": 12.5", "\"duration_ms\": \"12.5\"");
	expect_bad(bad, "results[2].duration_ms missing or not a number");
	free(bad);
	bad = replace(ragd_profile, "\"duration_ms\": 12.5", "\"duration_ms\": -12.5");
	expect_bad(bad, "results[2].duration_ms is negative");
	free(bad);
	bad = replace(ragd_profile, "{\"operation\": \"embed\", ", "{");
	expect_bad(bad, "results[1].operation missing or not a string");
	free(bad);
	bad = replace(ragd_profile, "\"memory_delta_mb\": -2.0", "\"memory_delta_mb\": \"-2\"");
	expect_bad(bad, "results[3].memory_delta_mb missing or not a number");
	free(bad);
	bad = replace(ragd_profile, "\"results\": [", "\"results\": \"none\", \"res\": [");
	expect_bad(bad, "results missing or not an array");
	free(bad);
	bad = replace(ragd_profile, "\"name\": \"indexing_benchmark\"", "\"name\": null");
	expect_bad(bad, "name missing or not a string");
	free(bad);
	/* ns of 1e300 ms do not fit: an error, not a wrapped duration */
	bad = replace(ragd_profile, "\"duration_ms\": 12.5", "\"duration_ms\": 1e300");
	expect_bad(bad, "results[2].duration_ms is out of range");
	free(bad);
}

/* Times past 2262 (int64 ns overflow) or before the epoch: no overflow, start times 0 or exact. */
static void test_ragd_import_far_times(void **state)
{
	struct session *s = new_session();
	char err[256] = "";
	char *t;

	t = replace(ragd_profile, "\"start_time\": \"2025-01-02T03:04:05.000000\"",
		    "\"start_time\": \"9999-12-31T23:59:59.999999\"");
	assert_int_equal(session_read_string(s, t, err, sizeof(err)), 0);
	for (size_t i = 0; i < s->ncalls; i++)
		assert_int_equal(s->calls[i].start_ns, 0);
	session_free(s);
	free(t);
	/* session start far before the epoch, calls in 2025: the difference fits in __u64 */
	t = replace(ragd_profile, "\"start_time\": \"2025-01-02T03:04:05.000000\"",
		    "\"start_time\": \"1700-01-01T00:00:00\"");
	assert_int_equal(session_read_string(s, t, err, sizeof(err)), 0);
	assert_true(s->calls[0].start_ns > 9000000000000000000ULL);
	session_free(s);
	free(t);
	drop_session(s);
}

/* 100k warnings, half repeated: each kept once, in order, in well under a second. */
static void test_warnings_dedup_fast(void **state)
{
	struct session *s = new_session();
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 100000; i++)
		session_warn(s, "warning %d", i % 50000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(s->nwarnings, 50000);
	assert_string_equal(s->warnings[0], "warning 0");
	assert_string_equal(s->warnings[49999], "warning 49999");
	assert_true((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < 1.0);
	drop_session(s);
}

/* Minimal ragd profile: empty results, no times, no metadata. */
static void test_ragd_import_minimal(void **state)
{
	struct session *s = new_session();
	char err[256] = "";

	assert_int_equal(session_read_string(s, "{\"name\": \"n\", \"results\": []}", err,
					     sizeof(err)), 0);
	assert_int_equal(s->nops, 0);
	assert_string_equal(s->source_format, "ragd-profile");
	session_free(s);
	assert_int_equal(session_read_string(s, "{\"name\": \"n\", \"results\": "
					     "[{\"operation\": \"a\", \"duration_ms\": 0.000001}]}",
					     err, sizeof(err)), 0);
	assert_int_equal(s->ops[0].count, 1);
	assert_int_equal(s->calls[0].duration_ns, 1);
	assert_int_equal(s->calls[0].start_ns, 0);
	drop_session(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_ops),
		cmocka_unit_test(test_session_calls_warnings),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_stacks_merge),
		cmocka_unit_test(test_stacks_direct_fill),
		cmocka_unit_test(test_roundtrip_file),
		cmocka_unit_test(test_roundtrip_string),
		cmocka_unit_test(test_roundtrip_minimal),
		cmocka_unit_test(test_write_file_error),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_bad_content),
		cmocka_unit_test(test_stream_equals_tree),
		cmocka_unit_test(test_stream_page_boundary),
		cmocka_unit_test(test_ragd_import),
		cmocka_unit_test(test_ragd_import_bad),
		cmocka_unit_test(test_ragd_import_minimal),
		cmocka_unit_test(test_ragd_import_far_times),
		cmocka_unit_test(test_warnings_dedup_fast),
	};

	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
