// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `profile`: run ragd's index/search/ask N times under record, all runs in one session. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cli.h"

static const char profile_help[] =
"Usage: ragd-bpfprof profile index --path FILE_OR_DIR [-n ITER] [OPTIONS]\n"
"       ragd-bpfprof profile search --query Q [-n ITER] [OPTIONS]\n"
"       ragd-bpfprof profile chat --query Q [-n ITER] [OPTIONS]\n"
"       ragd-bpfprof profile all [--path P] [--query Q] [OPTIONS]\n"
"       ragd-bpfprof profile --compare BASELINE.json    (= profile all --compare)\n"
"       ... [-- RAGD_ARGS]  extra arguments after the subcommand's own (e.g. -- --db PATH)\n"
"\n"
"Runs 'RAGD index PATH' (default 3 times), 'RAGD search Q' (10) or 'RAGD ask Q' (3) under\n"
"record with ragd's operations, all runs in one session; each call keeps its iteration.\n"
"\n"
"  --ragd CMD          how to run ragd (default 'ragd'; the bundled workload:\n"
"                      --ragd \"python3 -m ragd\" with PYTHONPATH=examples/ragd-lite)\n"
"  --path P            what to index (profile all: the bundled sample corpus by default)\n"
"  --query Q           the question (default \"how does hybrid search work\")\n"
"  -n, --iterations N  runs of each command\n"
"  -o, --output FILE   session JSON\n"
"  --compare BASE      then compare with BASE.json like 'compare'; exit 1 on a regression\n"
"  --threshold PCT     for --compare (default 5)\n"
"  -e/-s/-F/-q/-v/--histogram/--no-color as for record\n"
"\n"
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

/* One run of one ragd command into s: the only place profile calls record_run (a recorder that
 * stays loaded across iterations would replace this). 0 or record_run's exit code. */
static int profile_iteration(struct record_opts *ro, struct session *s, char **av, __u32 iteration,
			     const char *progress, const char *ragd, const char *sub)
{
	char err[1024];
	int rc;

	ro->cmd = av;
	ro->iteration = iteration;
	ro->progress = progress;
	rc = record_run(ro, s, err, sizeof(err));
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

int cmd_profile(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ragd", required_argument, NULL, OPT_RAGD },
		{ "path", required_argument, NULL, OPT_PATH },
		{ "query", required_argument, NULL, OPT_QUERY },
		{ "iterations", required_argument, NULL, 'N' },
		{ "compare", required_argument, NULL, OPT_COMPARE },
		{ "threshold", required_argument, NULL, OPT_THRESH },
		{ "fail-on-regression", no_argument, NULL, OPT_FAIL },
		COMMON_LONGOPTS,
		{},
	};
	const char *what = "all", *ragd = "ragd", *path = NULL, *query = "how does hybrid search work";
	const char *baseline = NULL;
	char corpus[PATH_MAX];
	struct cmp_args ca = { .threshold = 5, .fail = true };
	struct common c;
	struct session s;
	int iters = 0, opt, rc = 0;
	bool ran = false;

	common_init(&c);
	/* The subcommand comes first: profile index|search|chat|all [OPTIONS]. */
	if (argc > 1 && argv[1][0] != '-') {
		what = argv[1];
		argv++;
		argc--;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "e:s:o:F:qvhn:", lo, NULL)) != -1) {
		switch (opt) {
		case OPT_RAGD: ragd = optarg; break;
		case OPT_PATH: path = optarg; break;
		case OPT_QUERY: query = optarg; break;
		case 'n':
		case 'N':
			if ((rc = parse_int(optarg, "iteration count", 1, 100000, &iters)))
				return rc;
			break;
		case OPT_COMPARE: baseline = optarg; break;
		case OPT_THRESH:
			if ((rc = parse_double(optarg, "threshold", &ca.threshold)))
				return rc;
			break;
		case OPT_FAIL: break;
		case 'h': fputs(profile_help, stdout); return 0;
		case '?': return usage_error("profile: bad option");
		default:
			if ((rc = common_opt(&c, opt, optarg)))
				return rc < 0 ? usage_error("profile: bad option") : rc;
		}
	}
	/* profile ... -- ARGS: extra arguments for every ragd command (e.g. --db PATH). */
	char **extra = optind < argc ? &argv[optind] : NULL;
	if (extra && strcmp(argv[optind - 1], "--"))
		return usage_error("profile: unexpected argument '%s' (extra ragd arguments go after --)",
				   argv[optind]);
	bool do_index = !strcmp(what, "index") || !strcmp(what, "all");
	bool do_search = !strcmp(what, "search") || !strcmp(what, "all");
	bool do_chat = !strcmp(what, "chat") || !strcmp(what, "all");
	if (!do_index && !do_search && !do_chat)
		return usage_error("profile: unknown workflow '%s' (index, search, chat, all)", what);
	if (!strcmp(what, "index") && !path)
		return usage_error("profile index: needs --path FILE_OR_DIR");
	if (do_index && !path && !(path = default_corpus(corpus, sizeof(corpus))))
		return usage_error("profile all: no --path and no bundled sample corpus found");
	if (path && do_index && access(path, R_OK))
		return usage_error("profile: --path %s: %s", path, strerror(errno));
	if (baseline && access(baseline, R_OK)) {
		fprintf(stderr, "%s: %s: %s\n", prog, baseline, strerror(errno));
		return 2;
	}
	if (c.out) {
		char err[512];

		if (check_output_path(c.out, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", prog, err);
			return 2;
		}
	}
	if ((rc = build_spec(&c)))
		return rc;
	install_signals();
	session_init(&s);
	snprintf(s.name, sizeof(s.name), "%s", c.name ? c.name : "");
	if (!c.name)
		snprintf(s.name, sizeof(s.name), "profile %s", what);

	struct { bool on; const char *sub; const char *arg; int n; } steps[] = {
		{ do_index, "index", path, 3 },
		{ do_search, "search", query, 10 },
		{ do_chat, "ask", query, 3 },
	};
	__u32 iteration = 0;
	for (size_t k = 0; k < 3 && !exiting && rc == 0; k++) {
		char *av[64], buf[4096], prog_line[128];
		int n, total;

		if (!steps[k].on)
			continue;
		n = split_cmd(ragd, av, 60, buf, sizeof(buf));
		if (n == 0) {
			rc = usage_error("profile: empty --ragd");
			break;
		}
		av[n++] = (char *)steps[k].sub;
		av[n++] = (char *)steps[k].arg;
		for (int x = 0; extra && extra[x] && n < 62; x++)
			av[n++] = extra[x];
		av[n] = NULL;
		total = iters ? iters : steps[k].n;
		for (int i = 0; i < total && !exiting; i++) {
			snprintf(prog_line, sizeof(prog_line), "profile %s: iteration %d/%d", steps[k].sub,
				 i + 1, total);
			if (!c.ro.quiet)
				fprintf(stderr, "%s\n", prog_line);
			rc = profile_iteration(&c.ro, &s, av, iteration++, prog_line, ragd, steps[k].sub);
			if (rc)
				break;
			ran = true;
		}
	}
	if (ran) {
		snprintf(s.command, sizeof(s.command), "%s %s", ragd, what);
		int erc = emit(&s, &c, true);
		if (erc)
			rc = erc;
		if (baseline && rc == 0) {
			ca.nocolor = c.no_color;
			session_compute_stats(&s);
			rc = do_compare(baseline, &s, NULL, &ca);
		}
	}
	session_free(&s);
	return rc;
}

