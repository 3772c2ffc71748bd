// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ragd-bpfprof command line: record, report, compare, profile, top, probes, --target. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include "output.h"
#include "record.h"
#include "report.h"
#include "session.h"
#include "spec.h"
#include "util.h"
#include "cli.h"
#include "opnote.h"
#include "top.h"

#define VERSION "0.1.0"

const char *prog = "ragd-bpfprof";

int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int usage_error(const char *fmt, ...)
{
	char *msg = NULL, *full = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	/* arguments may hold terminal escapes: print_safe_error neutralises them */
	if (msg && asprintf(&full, "%s (see '%s --help')", msg, prog) >= 0)
		print_safe_error(prog, full);
	free(msg);
	free(full);
	return 2;
}

/* "PROG: MESSAGE" on stderr, sanitized; for messages built from file names and the like. */
static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errorf(const char *fmt, ...)
{
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg)
		print_safe_error(prog, msg);
	free(msg);
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

/* Columns of the terminal f is, or 0 when it is none. */
static int tty_width(FILE *f)
{
	struct winsize ws;

	if (!isatty(fileno(f)) || ioctl(fileno(f), TIOCGWINSZ, &ws) || !ws.ws_col)
		return 0;
	return ws.ws_col;
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
"  profile   run ragd index/search/chat N times under record, optionally --compare\n"
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
"      --rotate SEC      when more py: ops want exact timing than registers allow, hand the\n"
"                        registers to the next stages every SEC seconds (default 2; 0: never)\n"
"      --overhead PCT    watch stages only while breakpoint hits cost below PCT % of the time\n"
"                        (default 1; top-level ops stay exact on every call; 0: unbounded)\n"
"      --histogram       print latency histograms in the report\n"
"      --no-color        no colours in the report\n"
"      --strict          exit 2 when an operation's function was never found (one line each)\n"
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
			print_safe_error(prog, err);
			return 2;
		}
		c->ro.nops = n;
	}
	for (int i = 0; i < c->nprobes; i++) {
		if (c->ro.nops >= MAX_OPS)
			return usage_error("too many probes (max %d)", MAX_OPS);
		if (spec_parse(c->probes[i], &c->ro.ops[c->ro.nops], err, sizeof(err))) {
			print_safe_error(prog, err);
			return 2;
		}
		for (int j = 0; j < c->ro.nops; j++)
			if (!strcmp(c->ro.ops[j].name, c->ro.ops[c->ro.nops].name)) {
				errorf("duplicate operation name '%s'", c->ro.ops[j].name);
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
	char *end, err[256];
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > INT_MAX)
		return usage_error("invalid PID '%s'", s);
	*pid = v;
	/* kernel threads and zombies: nothing to trace, say so before attaching */
	if (check_target_pid(v, err, sizeof(err))) {
		print_safe_error(prog, err);
		return 2;
	}
	return 0;
}

/* A number in (0, max]: durations and thresholds (no inf, nan, '', 0 or junk). */
int parse_positive(const char *s, const char *what, double max, double *out)
{
	double v;

	if (parse_number(s, 0, max, &v) || v <= 0)
		return usage_error("invalid %s '%s' (a number > 0 and at most %.0f)", what, s, max);
	*out = v;
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
	c->ro.rotate = ROTATE_DEFAULT_S;
	c->ro.overhead = OVERHEAD_DEFAULT_PCT;
}

/* Finishes a session: stats, JSON, report. */
int emit(struct session *s, struct common *c, bool print)
{
	struct timespec t0, t1;
	char err[512];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	session_compute_stats(s);
	if (c->out && session_write_file(s, c->out, err, sizeof(err))) {
		print_safe_error(prog, err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (c->ro.verbose)
		fprintf(stderr, "calls: %llu, %llu of them through the spill file (memory for %zu); "
			"statistics and JSON in %.0f ms\n", (unsigned long long)session_ncalls(s),
			(unsigned long long)s->calls_spilled, s->calls_mem_max,
			(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
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

	if (c->out && output_check(c->out, err, sizeof(err))) {
		print_safe_error(prog, err);
		return 2;
	}
	rc = record_run(&c->ro, s, err, sizeof(err));
	if (rc) {
		print_safe_error(prog, err);
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
		return parse_positive(arg, "duration", MAX_DURATION_S, &c->ro.duration);
	case 'o':
		c->out = arg;
		return 0;
	case 'n':
	case OPT_NAME:   /* profile takes -n as the iteration count, --name stays the name */
		c->name = arg;
		return 0;
	case 'F':
		return parse_int(arg, "frequency", 0, 10000, &c->ro.hz);
	case OPT_NO_OFFCPU:
		c->ro.offcpu = false;
		return 0;
	case OPT_MAXBP:
		return parse_int(arg, "breakpoint count", 0, 4, &c->ro.max_breakpoints);
	case OPT_ROTATE:
		if (parse_number(arg, 0, 86400, &c->ro.rotate))
			return usage_error("invalid rotation period '%s' (0 to 86400 seconds)", arg);
		return 0;
	case OPT_OVERHEAD:
		if (parse_number(arg, 0, 100, &c->ro.overhead))
			return usage_error("invalid overhead budget '%s' (0 to 100 percent; 0: unbounded)", arg);
		return 0;
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
	case OPT_STRICT:
		c->ro.strict = true;
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
	/* bounded memory however long it runs: calls beyond the budget go to a file next to -o */
	session_spill_calls(&s, c.out, 0);
	rc = run_record(&c, &s);
	if (rc == 0) {
		session_name(&s, &c);
		rc = emit(&s, &c, true);
		if (!rc && c.ro.strict && ops_not_found(&s, prog))
			rc = 2;
	}
	session_free(&s);
	return rc;
}

/* ---------------------------------------------------------------- report / compare */

static const char report_help[] =
"Usage: ragd-bpfprof report FILE.json|- [--format FMT] [-o OUT] [--op NAME] [--sort KEY]\n"
"                           [--by thread|process|iteration] [--histogram] [--no-color]\n"
"\n"
"  --format text        table of operations as a tree, with precision, percentiles, RSS (default)\n"
"  --format json        the session JSON, normalised\n"
"  --format folded      collapsed stacks 'a;b;c N' (microseconds) for flamegraph.pl / speedscope;\n"
"                       each stack starts with its top-level operation (index/search/chat)\n"
"  --format svg         interactive flame graph of the stacks (open in a browser: hover, click\n"
"                       to zoom, / to search); top-level ops side by side, off-CPU in blue\n"
"  --all-stacks         svg: keep the time outside every operation ('(other)': imports,\n"
"                       interpreter start and exit), left out by default\n"
"  --format perfetto    timeline for ui.perfetto.dev or chrome://tracing: exact calls as nested\n"
"                       slices per process and thread, RSS as a counter track\n"
"  --format speedscope  speedscope.app file: stacks (sampled) and exact calls (evented)\n"
"  -o, --output OUT     write to OUT instead of stdout\n"
"  --op NAME            only operation NAME and its sub-operations (NAME.*)\n"
"  --sort KEY           flat table by tree (default), total, count, p50, p95, p99, mean,\n"
"                       max, cpu, rss or name; total and cpu rank sampled ops too\n"
"  --by WHAT            calls grouped by thread, process or iteration (profile runs)\n"
"  --brief              text: the table, and the hottest stacks of the top-level ops only\n"
"  --width N            text: fit tables in N columns, dropping the least needed ones\n"
"                       (default: the terminal's width on a terminal, else no limit)\n"
"  --histogram          latency histogram bars per operation\n"
"  --no-color           no colours (also when NO_COLOR is set or stdout is not a terminal)\n"
"\n"
"FILE may also be ragd's own profile JSON (ProfileSession.export_json); '-' reads stdin.\n"
"Example: ragd-bpfprof report search.json --format svg -o search.svg\n";

/* FILE or '-' (stdin) into s; 0 or 2 with the message printed. */
static int read_session(struct session *s, const char *path)
{
	char err[1024];
	char *text = NULL;
	size_t len = 0;
	int rc = 0;

	if (strcmp(path, "-")) {
		rc = session_read_file(s, path, err, sizeof(err));
	} else {
		FILE *m = open_memstream(&text, &len);
		char buf[65536];
		size_t n;

		if (!m)
			return 1;
		while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
			fwrite(buf, 1, n, m);
		fclose(m);
		rc = session_read_string(s, text, err, sizeof(err));
		free(text);
	}
	if (rc)
		fprintf(stderr, "%s: %s%s\n", prog, strcmp(path, "-") ? "" : "stdin: ", term_safe(err));
	return rc ? 2 : 0;
}

static int report_write(struct session *s, const char *format, const struct report_opts *ro,
			bool all_stacks, FILE *out)
{
	if (!strcmp(format, "json"))
		return session_write_json(s, out) ? 1 : 0;
	if (!strcmp(format, "folded"))
		return report_folded(s, out) ? 1 : 0;
	if (!strcmp(format, "svg"))
		return report_svg(s, all_stacks, out) ? 1 : 0;
	if (!strcmp(format, "perfetto"))
		return report_perfetto(s, out) ? 1 : 0;
	if (!strcmp(format, "speedscope"))
		return report_speedscope(s, out) ? 1 : 0;
	report_text(s, ro, out);
	return ferror(out) ? 1 : 0;
}

static int cmd_report(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "output", required_argument, NULL, 'o' },
		{ "op", required_argument, NULL, OPT_OP },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "by", required_argument, NULL, OPT_BY },
		{ "all-stacks", no_argument, NULL, OPT_ALLSTACKS },
		{ "width", required_argument, NULL, OPT_WIDTH },
		{ "brief", no_argument, NULL, OPT_BRIEF },
		{ "histogram", no_argument, NULL, OPT_HIST },
		{ "no-color", no_argument, NULL, OPT_NOCOLOR },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static const char *const formats[] = { "text", "json", "folded", "svg", "perfetto",
					       "speedscope" };
	const char *format = "text", *outp = NULL, *opname = NULL;
	struct report_opts ro = {};
	bool nocolor = false, known = false, all_stacks = false, width_set = false;
	struct session s;
	FILE *out = stdout;
	char err[1024];
	int opt, rc = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (opt) {
		case OPT_FORMAT: format = optarg; break;
		case 'o': outp = optarg; break;
		case OPT_OP: opname = optarg; break;
		case OPT_SORT: ro.sort = optarg; break;
		case OPT_BY: ro.by = optarg; break;
		case OPT_ALLSTACKS: all_stacks = true; break;
		case OPT_BRIEF: ro.brief = true; break;
		case OPT_WIDTH:
			if ((rc = parse_int(optarg, "width", 0, 100000, &ro.width)))
				return rc;
			width_set = true;
			break;
		case OPT_HIST: ro.histogram = true; break;
		case OPT_NOCOLOR: nocolor = true; break;
		case 'h': fputs(report_help, stdout); return 0;
		default: return usage_error("report: bad option");
		}
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		known |= !strcmp(format, formats[i]);
	if (!known)
		return usage_error("report: unknown format '%s' (text, json, folded, svg, perfetto, "
				   "speedscope)", format);
	if (ro.sort && !report_sort_valid(ro.sort))
		return usage_error("report: unknown sort key '%s' (%s)", ro.sort, report_sort_keys());
	if (ro.by && strcmp(ro.by, "thread") && strcmp(ro.by, "process") && strcmp(ro.by, "iteration"))
		return usage_error("report: --by takes thread, process or iteration, not '%s'", ro.by);
	if (optind != argc - 1)
		return usage_error("report: needs exactly one FILE.json (or - for stdin)");
	session_init(&s);
	rc = read_session(&s, argv[optind]);
	if (!rc && opname && report_filter_op(&s, opname, err, sizeof(err))) {
		fprintf(stderr, "%s: report: --op: %s\n", prog, term_safe(err));
		rc = 2;
	}
	if (!rc && outp && !(out = fopen(outp, "w"))) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", prog, outp, strerror(errno));
		rc = 2;
	}
	if (!rc) {
		ro.color = !outp && want_color(nocolor, stdout);
		if (!width_set && !outp)
			ro.width = tty_width(stdout);
		rc = report_write(&s, format, &ro, all_stacks, out);
		if (outp && fclose(out) && !rc) {
			fprintf(stderr, "%s: cannot write '%s': %s\n", prog, outp, strerror(errno));
			rc = 1;
		}
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
		return parse_positive(arg, "threshold", MAX_THRESHOLD_PCT, &a->threshold);
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
		return parse_positive(arg, "memory threshold", MAX_THRESHOLD_PCT, &a->mem_pct);
	case OPT_MEM_BYTES:
		return parse_bytes(arg, &a->mem_bytes);
	case OPT_ALPHA:
		if (parse_number(arg, 0, 1, &a->alpha) || !(a->alpha > 0 && a->alpha < 1))
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
		/* a gate must not pass when the comparison itself failed */
		errorf("compare: failed: %s", strerror(errno ? errno : EIO));
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
"Usage: ragd-bpfprof top -p PID [--sort busy|calls|p50|p95|rss|cpu|name] [-a] [-e PROBE]...\n"
"                        [-s SPEC] [-F HZ] [-d SEC]\n"
"\n"
"A live table of PID's operations refreshed every second, over the last second: calls/s,\n"
"busy % (time inside the op per second, exact and sampled ops alike), p50, p95, RSS, on-CPU %.\n"
"On a terminal the table fits its size (narrow columns go first) and idle ops are hidden.\n"
"\n"
"  -p, --pid PID         the process to watch\n"
"      --sort KEY        busy (default), calls, p50, p95, rss, cpu or name\n"
"  -a, --all             show idle operations too (key i toggles)\n"
"  -e, --probe PROBE     operations to time (as for record; default: ragd's own)\n"
"  -s, --spec SPEC.json  operations from a file\n"
"  -F, --frequency HZ    stack sampling frequency for sampled ops (default 99)\n"
"  -d, --duration SEC    stop after SEC seconds\n"
"      --max-breakpoints N  debug registers to use per CPU (default 4)\n"
"      --strict          exit 2 at the end when an operation's function was never found\n"
"  -v, --verbose         libbpf and attach details on stderr\n"
"\n"
"Keys: s cycles the sort key, i shows/hides idle ops, q quits (Ctrl-C too; the terminal is\n"
"restored either way). Plain lines, idle ops left out, when stdout is not a terminal.\n"
"Example: sudo ragd-bpfprof top -p $(pgrep -f 'ragd chat')\n";

static int cmd_top(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "probe", required_argument, NULL, 'e' },
		{ "spec", required_argument, NULL, 's' },
		{ "frequency", required_argument, NULL, 'F' },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "all", no_argument, NULL, 'a' },
		{ "max-breakpoints", required_argument, NULL, OPT_MAXBP },
		{ "rotate", required_argument, NULL, OPT_ROTATE },
		{ "overhead", required_argument, NULL, OPT_OVERHEAD },
		{ "duration", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct common c;
	char err[1024] = "";
	int opt, rc, sort = 0;
	bool all = false;

	common_init(&c);
	c.ro.hz = 99; /* light sampling: py: ops fall back to it when breakpoints are unavailable */
	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:e:s:F:d:avh", lo, NULL)) != -1) {
		if (opt == 'h') {
			fputs(top_help, stdout);
			return 0;
		}
		if (opt == 'a') {
			all = true;
			continue;
		}
		if (opt == OPT_SORT) {
			sort = top_sort_key(optarg);
			if (sort < 0)
				return usage_error("top: unknown sort key '%s' (busy, calls, p50, p95, rss, "
						   "cpu, name)", optarg);
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
	rc = top_run(&c.ro, sort, all, err, sizeof(err));
	if (rc && err[0])   /* --strict printed its own lines */
		print_safe_error(prog, err);
	return rc;
}

/* ---------------------------------------------------------------- probes */

static const char probes_help[] =
"Usage: ragd-bpfprof probes (-p PID | -- COMMAND [ARG...]) [-e PROBE]... [-s SPEC.json]\n"
"\n"
"What can be profiled there: the interpreter, its version and whether it is supported, each\n"
"operation of the spec found or not (code address or symbol), the USDT probes of the\n"
"interpreter, the hardware breakpoint self-test's result, how many operations get exact\n"
"boundaries and which fall back to sampling, and why.\n"
"\n"
"  -p, --pid PID         a running process\n"
"  -- COMMAND ARG...     a command (not started: py: functions are looked up at run time)\n"
"  -e, --probe PROBE     operations (as for record; default: ragd's own)\n"
"  -s, --spec SPEC.json  operations from a file\n"
"      --strict          exit 2 when an operation is not found\n"
"  -v, --verbose         libbpf and attach details on stderr\n"
"\n"
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
		print_safe_error(prog, err);
	if (!rc && c.ro.strict && c.ro.not_found) {
		fflush(stdout);
		errorf("probes: --strict: %d operation(s) not found (listed above)", c.ro.not_found);
		rc = 2;
	}
	return rc;
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv)
{
	int rc;

	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	rc = dispatch(argc, argv);
	/* a report or comparison that did not reach stdout (disk full, closed pipe) is a failure:
	 * CI gates read it */
	if (fflush(stdout) || ferror(stdout)) {
		errorf("writing standard output: %s", strerror(errno ? errno : EIO));
		if (!rc)
			rc = 1;
	}
	return rc;
}

static int dispatch(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

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
