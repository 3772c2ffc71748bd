// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ragd-bpfprof command line: record, report, compare, profile, top, probes, --target. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "record.h"
#include "session.h"
#include "spec.h"
#include "cli.h"

#define VERSION "0.1.0"

const char *prog = "ragd-bpfprof";

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s --help')\n", prog);
	return 2;
}

static void sig_stop(int sig)
{
	exiting = 1;
}

void install_signals(void)
{
	struct sigaction sa = { .sa_handler = sig_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

bool want_color(bool no_color, FILE *f)
{
	return !no_color && !getenv("NO_COLOR") && isatty(fileno(f));
}

static const char main_help[] =
"Usage: ragd-bpfprof COMMAND [OPTIONS]\n"
"\n"
"Profile ragd (or any program) from outside with eBPF: exact latency of chosen functions\n"
"(native uprobes, hardware breakpoints on Python bytecode), RSS and on-CPU time per call,\n"
"Python stack samples on and off CPU. Needs root (CAP_BPF + CAP_PERFMON) and kernel BTF.\n"
"\n"
"Commands:\n"
"  record    attach to -p PID or launch -- COMMAND, write a session JSON and print a report\n"
"  report    print a session JSON (text, json or folded stacks)\n"
"  compare   compare two session JSONs (or ragd profile JSONs) for regressions\n"
"  profile   run ragd index/search/ask N times under record; --compare BASE or A/B --vs-ragd\n"
"  top       live table of a running process's operations\n"
"  probes    what can be profiled in a process or command\n"
"  --target PID [OPTIONS]   same as 'record -p PID [OPTIONS]'\n"
"\n"
"Run 'ragd-bpfprof COMMAND --help' for a command's options. Exit codes: 0 ok, 1 failure or\n"
"regression (compare/profile --fail-on-regression), 2 usage or input error.\n";

static const char record_help[] =
"Usage: ragd-bpfprof record [-p PID | -- COMMAND [ARG...]] [-e PROBE]... [-s SPEC.json]\n"
"                           [-d SECONDS] [-o OUT.json] [-n NAME] [-F HZ] [-q] [-v]\n"
"\n"
"  -p, --pid PID         attach to every thread of PID (and threads it creates later)\n"
"  -- COMMAND ARG...     launch COMMAND with the probes in place before it runs; follows children\n"
"  -e, --probe PROBE     an operation to time (repeatable):\n"
"                          NAME=native:PATH_OR_LIB:SYMBOL   uprobe + uretprobe (exact)\n"
"                          NAME=py:FILE_SUFFIX:QUALNAME     Python function (exact while debug\n"
"                                                           registers last, else sampled)\n"
"                          NAME=py:FILE_SUFFIX:<module>     a module's body (import time)\n"
"                          PATH:SYMBOL                      native, NAME = SYMBOL\n"
"  -s, --spec SPEC.json  operations from a file: {\"probes\": [\"NAME=py:...\", ...]}\n"
"                        (no -e/-s: ragd's own operations, index/search/chat/startup)\n"
"  -d, --duration SEC    stop after SEC seconds (default: when the target exits or on Ctrl-C)\n"
"  -o, --output FILE     write the session JSON (schema ragd-bpfprof/1) to FILE\n"
"  -n, --name NAME       session name (default: the command or 'pid N')\n"
"  -F, --frequency HZ    Python stack sampling frequency (default 999; 0 turns sampling off)\n"
"      --no-offcpu       no off-CPU stacks\n"
"      --max-breakpoints N  debug registers to use per CPU (default 4)\n"
"      --histogram       print latency histograms in the report\n"
"      --no-color        no colours in the report\n"
"  -q, --quiet           no report on stdout\n"
"  -v, --verbose         libbpf and attach details on stderr\n"
"\n"
"Examples:\n"
"  sudo ragd-bpfprof record -p $(pgrep -f 'ragd chat') -d 30 -o chat.json\n"
"  sudo ragd-bpfprof record -o search.json -- ragd search \"vector databases\"\n"
"  sudo ragd-bpfprof record -e sqlite_step=native:libsqlite3.so.0:sqlite3_step -p 1234\n";

/* -e/-s or the default ragd spec into ro.ops. */
int build_spec(struct common *c)
{
	char err[512];
	int n = 0;

	c->ro.nops = 0;
	if (c->spec_file) {
		if (spec_load_file(c->spec_file, c->ro.ops, MAX_OPS, &n, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", prog, err);
			return 2;
		}
		c->ro.nops = n;
	}
	for (int i = 0; i < c->nprobes; i++) {
		if (c->ro.nops >= MAX_OPS)
			return usage_error("too many probes (max %d)", MAX_OPS);
		if (spec_parse(c->probes[i], &c->ro.ops[c->ro.nops], err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", prog, err);
			return 2;
		}
		for (int j = 0; j < c->ro.nops; j++)
			if (!strcmp(c->ro.ops[j].name, c->ro.ops[c->ro.nops].name)) {
				fprintf(stderr, "%s: duplicate operation name '%s'\n", prog, c->ro.ops[j].name);
				return 2;
			}
		c->ro.nops++;
	}
	if (c->ro.nops == 0) {
		c->ro.nops = spec_default_ragd(c->ro.ops, MAX_OPS);
		c->ro.default_spec = true;
	}
	return 0;
}

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > INT_MAX)
		return usage_error("invalid PID '%s'", s);
	*pid = v;
	return 0;
}

int parse_double(const char *s, const char *what, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || *end || *out < 0)
		return usage_error("invalid %s '%s'", what, s);
	return 0;
}

int parse_int(const char *s, const char *what, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return usage_error("invalid %s '%s' (%d..%d)", what, s, lo, hi);
	*out = v;
	return 0;
}

void common_init(struct common *c)
{
	memset(c, 0, sizeof(*c));
	c->ro.hz = 999;
	c->ro.offcpu = true;
	c->ro.max_breakpoints = 4;
}

/* Finishes a session: stats, JSON, report. */
int emit(struct session *s, struct common *c, bool print)
{
	char err[512];

	session_compute_stats(s);
	if (c->out && session_write_file(s, c->out, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	if (print && !c->ro.quiet) {
		struct report_opts ro = { .color = want_color(c->no_color, stdout), .histogram = c->histogram };

		report_text(s, &ro, stdout);
	}
	return 0;
}

static int run_record(struct common *c, struct session *s)
{
	char err[1024] = "";
	int rc;

	if (c->out && check_output_path(c->out, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 2;
	}
	rc = record_run(&c->ro, s, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return rc;
	}
	return 0;
}

static const struct option record_longopts[] = {
	{ "pid", required_argument, NULL, 'p' },
	COMMON_LONGOPTS,
	{ "duration", required_argument, NULL, 'd' },
	{},
};

/* Options shared by record, --target, top and probes. Returns -1 if not one of them. */
int common_opt(struct common *c, int opt, const char *arg)
{
	switch (opt) {
	case 'p':
		return parse_pid(arg, &c->ro.pid);
	case 'e':
		if (c->nprobes >= MAX_OPS)
			return usage_error("too many probes (max %d)", MAX_OPS);
		c->probes[c->nprobes++] = (char *)arg;
		return 0;
	case 's':
		c->spec_file = arg;
		return 0;
	case 'd':
		return parse_double(arg, "duration", &c->ro.duration);
	case 'o':
		c->out = arg;
		return 0;
	case 'n':
		c->name = arg;
		return 0;
	case 'F':
		return parse_int(arg, "frequency", 0, 10000, &c->ro.hz);
	case OPT_NO_OFFCPU:
		c->ro.offcpu = false;
		return 0;
	case OPT_MAXBP:
		return parse_int(arg, "breakpoint count", 0, 4, &c->ro.max_breakpoints);
	case OPT_HIST:
		c->histogram = true;
		return 0;
	case OPT_NOCOLOR:
		c->no_color = true;
		return 0;
	case 'q':
		c->ro.quiet = true;
		return 0;
	case 'v':
		c->ro.verbose = true;
		return 0;
	}
	return -1;
}

static void session_name(struct session *s, struct common *c)
{
	if (c->name)
		snprintf(s->name, sizeof(s->name), "%s", c->name);
	else if (!s->name[0] && c->ro.cmd)
		snprintf(s->name, sizeof(s->name), "%s", s->command[0] ? s->command : c->ro.cmd[0]);
	else if (!s->name[0])
		snprintf(s->name, sizeof(s->name), "pid %d", c->ro.pid);
}

static int cmd_record(int argc, char **argv)
{
	struct common c;
	struct session s;
	int opt, rc;

	common_init(&c);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+p:e:s:d:o:n:F:qvh", record_longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(record_help, stdout);
			return 0;
		}
		if (opt == '?')
			return usage_error("record: bad option");
		if ((rc = common_opt(&c, opt, optarg)))
			return rc;
	}
	if (optind < argc)
		c.ro.cmd = &argv[optind];
	if (c.ro.pid && c.ro.cmd)
		return usage_error("record: give -p PID or -- COMMAND, not both");
	if (!c.ro.pid && !c.ro.cmd)
		return usage_error("record: needs -p PID or -- COMMAND");
	if ((rc = build_spec(&c)))
		return rc;
	install_signals();
	session_init(&s);
	rc = run_record(&c, &s);
	if (rc == 0) {
		session_name(&s, &c);
		rc = emit(&s, &c, true);
	}
	session_free(&s);
	return rc;
}

/* ---------------------------------------------------------------- report / compare */

static const char report_help[] =
"Usage: ragd-bpfprof report FILE.json [--format text|json|folded] [--histogram] [--no-color]\n"
"\n"
"  --format text    table of operations as a tree, with precision, percentiles, RSS (default)\n"
"  --format json    the session JSON, normalised\n"
"  --format folded  collapsed stacks 'a;b;c N' (microseconds) for flamegraph.pl / speedscope;\n"
"                   each stack starts with its top-level operation (index/search/chat)\n"
"  --histogram      latency histogram bars per operation\n"
"  --no-color       no colours (also when NO_COLOR is set or stdout is not a terminal)\n"
"\n"
"FILE may also be ragd's own profile JSON (ProfileSession.export_json).\n"
"Example: ragd-bpfprof report search.json --histogram\n";

static int cmd_report(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "histogram", no_argument, NULL, OPT_HIST },
		{ "no-color", no_argument, NULL, OPT_NOCOLOR },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *format = "text";
	bool hist = false, nocolor = false;
	struct session s;
	char err[1024];
	int opt, rc = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case OPT_FORMAT: format = optarg; break;
		case OPT_HIST: hist = true; break;
		case OPT_NOCOLOR: nocolor = true; break;
		case 'h': fputs(report_help, stdout); return 0;
		default: return usage_error("report: bad option");
		}
	}
	if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "folded"))
		return usage_error("report: unknown format '%s' (text, json, folded)", format);
	if (optind != argc - 1)
		return usage_error("report: needs exactly one FILE.json");
	session_init(&s);
	if (session_read_file(&s, argv[optind], err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		session_free(&s);
		return 2;
	}
	if (s.nops > MAX_OPS && !strcmp(format, "text")) {
		/* report.c's text tables are sized for a recording; json/folded and compare are not */
		fprintf(stderr, "%s: %s: %d operations; the text report shows at most %d (use "
			"--format json or folded, or compare)\n", prog, argv[optind], s.nops, MAX_OPS);
		rc = 2;
	} else if (!strcmp(format, "json")) {
		rc = session_write_json(&s, stdout) ? 1 : 0;
	} else if (!strcmp(format, "folded")) {
		rc = report_folded(&s, stdout) ? 1 : 0;
	} else {
		struct report_opts ro = { .color = want_color(nocolor, stdout), .histogram = hist };

		report_text(&s, &ro, stdout);
	}
	session_free(&s);
	return rc;
}

static const char compare_help[] =
"Usage: ragd-bpfprof compare BASELINE.json CURRENT.json [--threshold PCT] [--fail-on-regression]\n"
"                            [--format text|json|markdown] [--no-color] [OPTIONS]\n"
"\n"
"Per operation, on the whole distribution: the Hodges-Lehmann shift (the bulk of the calls) and\n"
"the p10, p90 and p99 changes (fast calls, slow calls) with 95% intervals, plus memory (RSS per\n"
"call and peak). A statistic moved when its change is beyond the threshold and its p-value,\n"
"Holm-adjusted over every test of the comparison, is below alpha. Status per operation:\n"
"regression/improvement/stable/inconclusive (fewer than --min-samples values a side)/new/removed.\n"
"Sampled operations are judged on per-iteration totals (profile -n N gives N values).\n"
"\n"
"  --threshold PCT          time change that matters, in percent (default 5)\n"
"  --mem-threshold PCT      memory change that matters, % of the baseline's peak RSS (default 10)\n"
"  --mem-threshold-bytes B  ... and in bytes (default 1MiB; suffixes K, M, G); both must be exceeded\n"
"  --min-samples N          fewer values a side: inconclusive (default 8)\n"
"  --alpha A                family-wise false-alarm rate, Holm-adjusted (default 0.01)\n"
"  --seed N                 bootstrap seed (default fixed: the same input gives the same output)\n"
"  --fail-on-regression     exit 1 when any operation regressed\n"
"  --fail-on-inconclusive   exit 1 when any operation is inconclusive too\n"
"  --format json|markdown   machine-readable result / a table for a CI step summary\n"
"Either file may be ragd's own profile JSON. Exit: 0, 1 (with --fail-on-*), 2 input error.\n"
"Example: ragd-bpfprof compare base.json new.json --fail-on-regression\n";

static int parse_bytes(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return usage_error("invalid byte count '%s'", s);
	static const char units[] = "kKmMgG";
	const char *u = *end ? strchr(units, *end) : NULL;

	if (u) {
		for (long k = (u - units) / 2 + 1; k > 0; k--)
			v *= 1024;
		end++;
		end += *end == 'i';
	}
	end += *end == 'B';
	if (*end)
		return usage_error("invalid byte count '%s' (e.g. 1048576, 512K, 1MiB)", s);
	*out = v > 0 ? v : 1e-9;   /* 0 means "any growth": a tiny positive threshold */
	return 0;
}

int compare_opt(struct cmp_args *a, int opt, const char *arg)
{
	switch (opt) {
	case OPT_THRESH:
		return parse_double(arg, "threshold", &a->threshold);
	case OPT_FAIL:
		a->fail = true;
		return 0;
	case OPT_FAIL_INC:
		a->fail_inconclusive = true;
		return 0;
	case OPT_FORMAT:
		if (strcmp(arg, "text") && strcmp(arg, "json") && strcmp(arg, "markdown"))
			return usage_error("unknown compare format '%s' (text, json, markdown)", arg);
		a->json = !strcmp(arg, "json");
		a->markdown = !strcmp(arg, "markdown");
		return 0;
	case OPT_MIN_N:
		return parse_int(arg, "sample minimum", 2, 1000000, &a->min_samples);
	case OPT_MEM_PCT:
		return parse_double(arg, "memory threshold", &a->mem_pct);
	case OPT_MEM_BYTES:
		return parse_bytes(arg, &a->mem_bytes);
	case OPT_ALPHA:
		if (parse_double(arg, "alpha", &a->alpha))
			return 2;
		if (!(a->alpha > 0 && a->alpha < 1))
			return usage_error("invalid alpha '%s' (between 0 and 1)", arg);
		return 0;
	case OPT_SEED: {
		char *end;

		errno = 0;
		a->seed = strtoull(arg, &end, 0);
		if (errno || *end || !*arg)
			return usage_error("invalid seed '%s'", arg);
		return 0;
	}
	}
	return -1;
}

int compare_loaded(const struct session *b, const struct session *c, const struct cmp_args *a)
{
	struct compare_counts cc = { 0 };
	struct compare_opts co = {
		.threshold_pct = a->threshold, .alpha = a->alpha ? a->alpha : 0.01, .json = a->json,
		.markdown = a->markdown, .min_samples = a->min_samples, .mem_threshold_pct = a->mem_pct,
		.mem_threshold_bytes = a->mem_bytes, .seed = a->seed, .ab_pairs = a->ab_pairs,
		.counts = &cc,
	};
	int regs;

	co.color = !a->json && !a->markdown && want_color(a->nocolor, stdout);
	regs = compare_sessions(b, c, &co, stdout);
	if (regs < 0) {
		fprintf(stderr, "%s: compare: out of memory\n", prog);
		return 1;
	}
	return (regs > 0 && a->fail) || (cc.inconclusive > 0 && a->fail_inconclusive) ? 1 : 0;
}

int do_compare(const char *base, const struct session *cur_s, const char *cur,
	       const struct cmp_args *a)
{
	struct session b, c;
	char err[1024];
	int rc;

	session_init(&b);
	session_init(&c);
	if (session_read_file(&b, base, err, sizeof(err)) ||
	    (!cur_s && session_read_file(&c, cur, err, sizeof(err)))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		session_free(&b);
		session_free(&c);
		return 2;
	}
	rc = compare_loaded(&b, cur_s ? cur_s : &c, a);
	session_free(&b);
	session_free(&c);
	return rc;
}

static int cmd_compare(int argc, char **argv)
{
	static const struct option lo[] = {
		COMPARE_LONGOPTS,
		{ "no-color", no_argument, NULL, OPT_NOCOLOR },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct cmp_args a = { .threshold = 5 };
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case OPT_NOCOLOR: a.nocolor = true; break;
		case 'h': fputs(compare_help, stdout); return 0;
		default:
			rc = compare_opt(&a, opt, optarg);
			if (rc)
				return rc < 0 ? usage_error("compare: bad option") : rc;
		}
	}
	if (optind != argc - 2)
		return usage_error("compare: needs BASELINE.json and CURRENT.json");
	return do_compare(argv[optind], NULL, argv[optind + 1], &a);
}

/* ---------------------------------------------------------------- top */

static const char top_help[] =
"Usage: ragd-bpfprof top -p PID [--sort calls|p50|p95|rss|cpu|name] [-e PROBE]... [-s SPEC] [-F HZ]\n"
"\n"
"A live table of PID's operations refreshed every second: calls/s, p50, p95 (over the last\n"
"second), busy % (time inside the op per second: sampled ops), RSS, on-CPU %. Keys: q quits,\n"
"s cycles the sort key. Plain lines when stdout is\n"
"not a terminal. Ctrl-C quits too; the terminal is restored either way.\n"
"Example: sudo ragd-bpfprof top -p $(pgrep -f 'ragd chat')\n";

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

static int top_sort_key;
static int top_cmp(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	switch (top_sort_key) {
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
	top_sort_key = t->sort;
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

static int cmd_top(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "probe", required_argument, NULL, 'e' },
		{ "spec", required_argument, NULL, 's' },
		{ "frequency", required_argument, NULL, 'F' },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "max-breakpoints", required_argument, NULL, OPT_MAXBP },
		{ "duration", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct top_state t = { .start = time(NULL) };
	struct common c;
	struct session s;
	char err[1024];
	int opt, rc;

	common_init(&c);
	c.ro.hz = 99; /* light sampling: py: ops fall back to it when breakpoints are unavailable */
	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:e:s:F:d:vh", lo, NULL)) != -1) {
		if (opt == 'h') {
			fputs(top_help, stdout);
			return 0;
		}
		if (opt == OPT_SORT) {
			int k = -1;

			for (int i = 0; i < 6; i++)
				if (!strcmp(optarg, sort_names[i]))
					k = i;
			if (k < 0)
				return usage_error("top: unknown sort key '%s' (calls, p50, p95, rss, cpu, name)", optarg);
			t.sort = k;
			continue;
		}
		if (opt == '?' || (rc = common_opt(&c, opt, optarg)) < 0)
			return usage_error("top: bad option");
		if (rc)
			return rc;
	}
	if (!c.ro.pid)
		return usage_error("top: needs -p PID");
	if ((rc = build_spec(&c)))
		return rc;
	install_signals();
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
	c.ro.tick = top_tick;
	c.ro.tick_arg = &t;
	c.ro.quiet = true;
	session_init(&s);
	rc = record_run(&c.ro, &s, err, sizeof(err));
	if (t.tty)
		printf("\033[?25h\033[?1049l");
	fflush(stdout);
	if (t.raw)
		tcsetattr(0, TCSANOW, &t.saved);
	if (rc)
		fprintf(stderr, "%s: %s\n", prog, err);
	session_free(&s);
	return rc;
}

/* ---------------------------------------------------------------- probes */

static const char probes_help[] =
"Usage: ragd-bpfprof probes (-p PID | -- COMMAND [ARG...]) [-e PROBE]... [-s SPEC.json]\n"
"\n"
"What can be profiled there: the interpreter, its version and whether it is supported, each\n"
"operation of the spec found or not (code address or symbol), the USDT probes of the\n"
"interpreter, how many operations get exact boundaries and which fall back to sampling, and why.\n"
"Example: sudo ragd-bpfprof probes -p $(pgrep -f 'ragd serve')\n";

static int cmd_probes(int argc, char **argv)
{
	struct common c;
	char err[1024];
	int opt, rc;

	common_init(&c);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+p:e:s:vh", record_longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(probes_help, stdout);
			return 0;
		}
		if (opt == '?' || (rc = common_opt(&c, opt, optarg)) < 0)
			return usage_error("probes: bad option");
		if (rc)
			return rc;
	}
	if (optind < argc)
		c.ro.cmd = &argv[optind];
	if (!c.ro.pid == !c.ro.cmd)
		return usage_error("probes: needs -p PID or -- COMMAND");
	if ((rc = build_spec(&c)))
		return rc;
	install_signals();
	rc = record_probes(&c.ro, stdout, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s: %s\n", prog, err);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (!cmd)
		return usage_error("missing command");
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(main_help, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("ragd-bpfprof %s\n", VERSION);
		return 0;
	}
	if (!strcmp(cmd, "record"))
		return cmd_record(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "compare"))
		return cmd_compare(argc - 1, argv + 1);
	if (!strcmp(cmd, "profile"))
		return cmd_profile(argc - 1, argv + 1);
	if (!strcmp(cmd, "top"))
		return cmd_top(argc - 1, argv + 1);
	if (!strcmp(cmd, "probes"))
		return cmd_probes(argc - 1, argv + 1);
	if (!strcmp(cmd, "--target") || !strncmp(cmd, "--target=", 9)) {
		/* ragd's promised form: --target PID [OPTIONS] is record -p PID [OPTIONS]. */
		char **av = calloc(argc + 3, sizeof(char *));
		int n = 0;

		if (!av)
			return 1;
		av[n++] = "record";
		av[n++] = "-p";
		if (cmd[8] == '=') {
			av[n++] = (char *)cmd + 9;
		} else {
			if (argc < 3)
				return usage_error("--target needs a PID");
			av[n++] = argv[2];
			argv++;
			argc--;
		}
		for (int i = 2; i < argc; i++)
			av[n++] = argv[i];
		av[n] = NULL;
		int rc = cmd_record(n, av);
		free(av);
		return rc;
	}
	return usage_error("unknown command '%s'", cmd);
}
