// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `profile`: run ragd's index/search/ask N times under record, all runs in one session; or, with
 * --vs-ragd, two ragd commands interleaved A B B A ... into two sessions compared at the end. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cli.h"
#include "opnote.h"
#include "output.h"
#include "recorder.h"
#include "util.h"

static const char profile_help[] =
"Usage: ragd-bpfprof profile index [--path FILE_OR_DIR] [-n ITER] [OPTIONS]\n"
"       ragd-bpfprof profile search [--query Q] [-n ITER] [OPTIONS]\n"
"       ragd-bpfprof profile ask [--query Q] [-n ITER] [OPTIONS]     ('chat' works too)\n"
"       ragd-bpfprof profile all [--path P] [--query Q] [OPTIONS]\n"
"       ragd-bpfprof profile --compare BASELINE.json    (= profile all --compare)\n"
"       ragd-bpfprof profile CMD --vs-ragd \"OTHER RAGD\" [-n PAIRS] [OPTIONS]\n"
"       ... [-- RAGD_ARGS]  extra arguments after the subcommand's own (e.g. -- --db PATH)\n"
"\n"
"Runs 'RAGD index PATH' (default 3 times), 'RAGD search Q' (10) or 'RAGD ask Q' (3) under\n"
"record with ragd's operations, all runs in one session; each call keeps its iteration.\n"
"\n"
"  --ragd CMD          how to run ragd (default 'ragd'; the bundled workload:\n"
"                      --ragd \"python3 -m ragd\" with PYTHONPATH=examples/ragd-lite)\n"
"  --path P            what to index (default: the bundled sample corpus)\n"
"  --query Q           the question (default \"how does hybrid search work\")\n"
"  -n, --iterations N  runs of each command (with --vs-ragd: pairs)\n"
"  -o, --output FILE   session JSON (with --vs-ragd: side A; side B goes to FILE.vs.json)\n"
"  --compare BASE      then compare with BASE.json like 'compare'; exit 1 on a regression\n"
"  --vs-ragd CMD       A/B in one run: CMD is the other ragd (e.g. \"env X=1 ragd\" or another\n"
"                      checkout's \"python3 /src/new/ragd\"); runs A (--ragd) and B (CMD)\n"
"                      alternately, A B B A ..., then compares A (baseline) with B; exit 1 on a\n"
"                      regression. Drift of a shared machine hits both sides alike.\n"
"  --threshold PCT, --min-samples N, --mem-threshold PCT, --mem-threshold-bytes B, --alpha A,\n"
"  --seed N, --fail-on-inconclusive, --format text|json|markdown\n"
"                      for --compare/--vs-ragd, as for 'compare'\n"
"  -F, --frequency HZ  Python stack sampling (default 4999 here, 999 in record)\n"
"  -e/-s/-q/-v/--histogram/--no-color/--strict\n"
"                      as for record; without -e/-s only the workflow's own ops (and\n"
"                      startup) are probed, so debug registers go to them\n"
"\n"
"Progress: a bar with ETA on a terminal, plain lines otherwise.\n"
"Example: sudo ragd-bpfprof profile search --query \"vector db\" -n 20 -o base.json\n";

/* Splits CMD on blanks (quotes not supported: use a wrapper script for anything fancier). */
static int split_cmd(const char *cmd, char **out, int max, char *buf, size_t buflen)
{
	int n = 0;

	snprintf(buf, buflen, "%s", cmd);
	for (char *t = strtok(buf, " \t"); t && n < max - 1; t = strtok(NULL, " \t"))
		out[n++] = t;
	out[n] = NULL;
	return n;
}

static const char *default_corpus(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *cands[] = { "%s/examples/ragd-lite/corpus", "%s/../share/ragd-bpfprof/corpus" };
	struct stat st;

	if (n <= 0)
		return NULL;
	exe[n] = 0;
	*strrchr(exe, '/') = 0;
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(buf, len, cands[i], exe);
		if (!stat(buf, &st) && S_ISDIR(st.st_mode))
			return buf;
	}
	return NULL;
}

static bool quiet_stdout;

/* One run of one ragd command into s on the recorder loaded once for every iteration (opened by
 * the first): only the launch, this run's probes, its events and its data are per iteration.
 * 0 or record_run's exit code. */
static int iterate(struct recorder **rp, struct record_opts *ro, struct session *s, char *err,
		   size_t errlen)
{
	int e = *rp ? 0 : recorder_open(rp, ro, s, err, errlen);

	if (!e)
		e = recorder_attach(*rp, s, err, errlen);
	if (!e) {
		/* A ring buffer error ends the run like the target's end: the data is kept. */
		recorder_poll(*rp, err, errlen);
		recorder_detach(*rp);
		recorder_finish(*rp);
	} else {
		iso8601_now(s->ended_at, sizeof(s->ended_at));
	}
	return e == -EINVAL ? 2 : e ? 1 : 0;
}

static int profile_iteration(struct recorder **rp, struct record_opts *ro, struct session *s,
			     char **av, __u32 iteration, const char *progress, const char *ragd,
			     const char *sub)
{
	char err[1024];
	int rc, saved = -1;

	ro->cmd = av;
	ro->iteration = iteration;
	ro->progress = progress;
	/* --format json/markdown: stdout is the comparison alone; ragd's own output to stderr */
	if (quiet_stdout) {
		fflush(stdout);
		saved = dup(1);
		if (saved >= 0)
			dup2(2, 1);
	}
	rc = iterate(rp, ro, s, err, sizeof(err));
	if (saved >= 0) {
		dup2(saved, 1);
		close(saved);
	}
	if (rc) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return rc;
	}
	if (s->has_exit_code && s->exit_code != 0) {
		fprintf(stderr, "%s: '%s %s' exited with %d\n", prog, ragd, sub, s->exit_code);
		session_warn(s, "iteration %u: %s %s exited with %d", iteration, ragd, sub, s->exit_code);
	}
	return 0;
}

/* ragd's subcommand for a workflow: the user may say chat, ragd says ask. */
static const char *ragd_sub(const char *what)
{
	return !strcmp(what, "chat") ? "ask" : what;
}

/* RAGD SUB ARG [EXTRA...] into av (NULL-terminated); buf holds RAGD's words. 0 or -1. */
static int build_argv(const char *ragd, const char *sub, const char *arg, char **extra, char **av,
		      char *buf, size_t buflen)
{
	int n = split_cmd(ragd, av, 60, buf, buflen);

	if (n == 0)
		return -1;
	av[n++] = (char *)sub;
	av[n++] = (char *)arg;
	for (int x = 0; extra && extra[x] && n < 62; x++)
		av[n++] = extra[x];
	av[n] = NULL;
	return 0;
}

struct progress {
	int done, total;
	struct timespec t0;
	bool tty, quiet;
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Before run done+1 of total: a bar redrawn in place on a terminal, else one plain line. The
 * ETA is the mean run so far times the runs left. */
static void progress_show(struct progress *p, const char *label, int i, int n)
{
	char eta[32] = "";
	double el = since(&p->t0);

	if (p->quiet)
		return;
	if (p->done > 0)
		snprintf(eta, sizeof(eta), ", ETA %.0fs", el / p->done * (p->total - p->done));
	if (!p->tty) {
		fprintf(stderr, "profile %s: iteration %d/%d%s\n", label, i, n, eta);
		return;
	}
	int w = 24, fill = p->total ? p->done * w / p->total : 0;

	fprintf(stderr, "\r\033[K[%.*s%*s] %d/%d %s %d/%d, %.0fs%s", fill,
		"########################", w - fill, "", p->done, p->total, label, i, n, el, eta);
	fflush(stderr);
}

static void progress_end(struct progress *p)
{
	if (p->tty && !p->quiet && p->done)
		fprintf(stderr, "\r\033[K[########################] %d/%d runs in %.0fs\n", p->done,
			p->total, since(&p->t0));
}

static bool in_family(const char *name, const char *top)
{
	size_t n = strlen(top);

	return !strncmp(name, top, n) && (name[n] == 0 || name[n] == '.');
}

/* The default ragd spec cut to what the workflow runs (ask retrieves through search), plus
 * startup: the few debug registers then go to ops that can be seen, not to index's while
 * profiling search. */
static void spec_for_workflow(struct record_opts *ro, const char *what)
{
	bool ask = !strcmp(what, "ask") || !strcmp(what, "chat");
	int n = 0;

	if (!ro->default_spec || !strcmp(what, "all"))
		return;
	for (int i = 0; i < ro->nops; i++) {
		const char *name = ro->ops[i].name;

		if (!strcmp(name, "startup") || in_family(name, ask ? "chat" : what) ||
		    (ask && in_family(name, "search")))
			ro->ops[n++] = ro->ops[i];
	}
	ro->nops = n;
}

struct profile_args {
	const char *what, *ragd, *vs_ragd, *path, *query, *baseline;
	int iters;
	char **extra;
};

struct step {
	bool on;
	const char *sub, *arg;
	int n;
};

/* Every iteration of every step; with B (vs_ragd) each iteration is a pair, in the order
 * A B, B A, A B, ... so neither side always runs first (caches, frequency ramps). */
static int run_steps(struct profile_args *a, struct common *c, const struct step *steps,
		     struct session *sa, struct session *sb, int *pairs)
{
	struct progress pg = { .tty = isatty(2), .quiet = c->ro.quiet };
	struct recorder *rec = NULL;
	__u32 iteration = 0;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &pg.t0);
	for (int k = 0; k < 3; k++)
		if (steps[k].on)
			pg.total += (a->iters ? a->iters : steps[k].n) * (sb ? 2 : 1);
	for (int k = 0; k < 3 && !exiting && rc == 0; k++) {
		char *av[2][64], buf[2][4096];
		int total = a->iters ? a->iters : steps[k].n;

		if (!steps[k].on)
			continue;
		if (build_argv(a->ragd, steps[k].sub, steps[k].arg, a->extra, av[0], buf[0], sizeof(buf[0])) ||
		    (sb && build_argv(a->vs_ragd, steps[k].sub, steps[k].arg, a->extra, av[1], buf[1],
				      sizeof(buf[1]))))
		{
			recorder_close(rec);
			return usage_error(sb ? "profile: empty --ragd or --vs-ragd" : "profile: empty --ragd");
		}
		for (int i = 0; i < total && !exiting && rc == 0; i++, iteration++) {
			for (int side = 0; side < (sb ? 2 : 1) && !exiting; side++) {
				int who = sb ? (side ^ (int)(iteration & 1)) : 0;
				char label[64];

				snprintf(label, sizeof(label), "%s%s", steps[k].sub, !sb ? "" : who ? " B" : " A");
				progress_show(&pg, label, i + 1, total);
				rc = profile_iteration(&rec, &c->ro, who ? sb : sa, av[who], iteration,
						       pg.tty ? NULL : label, who ? a->vs_ragd : a->ragd,
						       steps[k].sub);
				if (rc)
					break;
				pg.done++;
			}
			if (!rc && !exiting)
				(*pairs)++;
		}
	}
	recorder_close(rec);
	progress_end(&pg);
	return rc;
}

/* OUT.json -> OUT.vs.json: where side B of an A/B run goes. */
static void vs_path(const char *out, char *buf, size_t len)
{
	size_t n = strlen(out);

	if (n > 5 && !strcmp(out + n - 5, ".json"))
		snprintf(buf, len, "%.*s.vs.json", (int)(n - 5), out);
	else
		snprintf(buf, len, "%s.vs.json", out);
}

static void set_command(struct session *s, const char *ragd, const char *what)
{
	if (!strcmp(what, "all"))
		snprintf(s->command, sizeof(s->command), "%s index|search|ask", ragd);
	else
		snprintf(s->command, sizeof(s->command), "%s %s", ragd, ragd_sub(what));
}

/* A/B: both sessions written (-o), no per-session report, the comparison printed. */
static int finish_ab(struct profile_args *a, struct common *c, struct session *sa,
		     struct session *sb, struct cmp_args *ca, int pairs)
{
	char bpath[PATH_MAX], err[512];
	int rc;

	set_command(sa, a->ragd, a->what);
	set_command(sb, a->vs_ragd, a->what);
	session_compute_stats(sa);
	session_compute_stats(sb);
	if (c->out) {
		vs_path(c->out, bpath, sizeof(bpath));
		if (session_write_file(sa, c->out, err, sizeof(err)) ||
		    session_write_file(sb, bpath, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", prog, err);
			return 1;
		}
	}
	ca->ab_pairs = pairs;
	/* the comparison needs every call at hand */
	if (session_calls_load(sa) || session_calls_load(sb)) {
		fprintf(stderr, "%s: cannot read back the call records: %s\n", prog, strerror(errno));
		return 1;
	}
	rc = compare_loaded(sa, sb, ca);
	return rc;
}

int cmd_profile(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ragd", required_argument, NULL, OPT_RAGD },
		{ "vs-ragd", required_argument, NULL, OPT_VS_RAGD },
		{ "path", required_argument, NULL, OPT_PATH },
		{ "query", required_argument, NULL, OPT_QUERY },
		{ "iterations", required_argument, NULL, 'N' },
		{ "compare", required_argument, NULL, OPT_COMPARE },
		COMPARE_LONGOPTS,
		COMMON_LONGOPTS,
		{},
	};
	struct profile_args a = { .what = "all", .ragd = "ragd",
				  .query = "how does hybrid search work" };
	char corpus[PATH_MAX];
	struct cmp_args ca = { .threshold = 5, .fail = true };
	struct common c;
	struct session s, sb;
	int opt, rc = 0, pairs = 0;

	common_init(&c);
	/* Short commands run many times: a 1 ms period quantises a 9 ms call by +-11%, and a
	 * sampled op is compared on its per-iteration totals, so sample 5x finer than record. */
	c.ro.hz = 4999;
	c.ro.rotate = 0; /* the exact set turns once per iteration (record_opts.iteration) */
	/* The subcommand comes first: profile index|search|ask|chat|all [OPTIONS]. */
	if (argc > 1 && argv[1][0] != '-') {
		a.what = argv[1];
		argv++;
		argc--;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "e:s:o:F:qvhn:", lo, NULL)) != -1) {
		switch (opt) {
		case OPT_RAGD: a.ragd = optarg; break;
		case OPT_VS_RAGD: a.vs_ragd = optarg; break;
		case OPT_PATH: a.path = optarg; break;
		case OPT_QUERY: a.query = optarg; break;
		case 'n':
		case 'N':
			if ((rc = parse_int(optarg, "iteration count", 1, 100000, &a.iters)))
				return rc;
			break;
		case OPT_COMPARE: a.baseline = optarg; break;
		case 'h': fputs(profile_help, stdout); return 0;
		case '?': return usage_error("profile: bad option");
		default:
			if ((rc = compare_opt(&ca, opt, optarg)) >= 0) {
				if (rc)
					return rc;
				break;
			}
			if ((rc = common_opt(&c, opt, optarg)))
				return rc < 0 ? usage_error("profile: bad option") : rc;
		}
	}
	/* profile ... -- ARGS: extra arguments for every ragd command (e.g. --db PATH). */
	a.extra = optind < argc ? &argv[optind] : NULL;
	if (a.extra && strcmp(argv[optind - 1], "--"))
		return usage_error("profile: unexpected argument '%s' (extra ragd arguments go after --)",
				   argv[optind]);
	bool all = !strcmp(a.what, "all");
	struct step steps[] = {
		{ all || !strcmp(a.what, "index"), "index", NULL, 3 },
		{ all || !strcmp(a.what, "search"), "search", a.query, 10 },
		{ all || !strcmp(a.what, "ask") || !strcmp(a.what, "chat"), "ask", a.query, 3 },
	};
	if (!steps[0].on && !steps[1].on && !steps[2].on)
		return usage_error("profile: unknown workflow '%s' (index, search, ask, all)", a.what);
	if (a.baseline && a.vs_ragd)
		return usage_error("profile: --compare and --vs-ragd are two ways to compare; give one");
	if (steps[0].on && !a.path && !(a.path = default_corpus(corpus, sizeof(corpus))))
		return usage_error("profile %s: no --path and no bundled sample corpus found", a.what);
	steps[0].arg = a.path;
	if (a.path && steps[0].on && access(a.path, R_OK))
		return usage_error("profile: --path %s: %s", a.path, strerror(errno));
	if (a.baseline && access(a.baseline, R_OK)) {
		fprintf(stderr, "%s: %s: %s\n", prog, a.baseline, strerror(errno));
		return 2;
	}
	if (c.out) {
		char err[512], bpath[PATH_MAX];

		vs_path(c.out, bpath, sizeof(bpath));
		if (output_check(c.out, err, sizeof(err)) ||
		    (a.vs_ragd && output_check(bpath, err, sizeof(err)))) {
			fprintf(stderr, "%s: %s\n", prog, err);
			return 2;
		}
	}
	if ((rc = build_spec(&c)))
		return rc;
	spec_for_workflow(&c.ro, a.what);
	install_signals();
	session_init(&s);
	session_init(&sb);
	/* bounded memory over many iterations: calls beyond the budget go to a file next to -o */
	session_spill_calls(&s, c.out, 0);
	session_spill_calls(&sb, c.out, 0);
	if (c.name)
		snprintf(s.name, sizeof(s.name), "%s", c.name);
	else
		snprintf(s.name, sizeof(s.name), "profile %s", a.what);
	snprintf(sb.name, sizeof(sb.name), "%.*s B", (int)sizeof(sb.name) - 3, s.name);
	if (a.vs_ragd)
		strncat(s.name, " A", sizeof(s.name) - strlen(s.name) - 1);

	quiet_stdout = ca.json || ca.markdown;
	rc = run_steps(&a, &c, steps, &s, a.vs_ragd ? &sb : NULL, &pairs);
	ca.nocolor = c.no_color;
	if (pairs && a.vs_ragd) {
		int erc = finish_ab(&a, &c, &s, &sb, &ca, pairs);

		rc = rc ? rc : erc;
	} else if (session_ncalls(&s) || s.nops) {
		set_command(&s, a.ragd, a.what);
		/* --format json/markdown: stdout is the comparison only */
		int erc = emit(&s, &c, !ca.json && !ca.markdown);
		if (erc)
			rc = erc;
		if (!rc && c.ro.strict && ops_not_found(&s, prog))
			rc = 2;
		if (a.baseline && rc == 0 && session_calls_load(&s)) {
			fprintf(stderr, "%s: cannot read back the call records: %s\n", prog, strerror(errno));
			rc = 1;
		} else if (a.baseline && rc == 0) {
			session_compute_stats(&s);
			rc = do_compare(a.baseline, &s, NULL, &ca);
		}
	}
	session_free(&s);
	session_free(&sb);
	return rc;
}
