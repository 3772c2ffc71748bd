// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Why an operation has no call, in words (see opnote.h). */
#include <stdio.h>
#include <string.h>
#include "opnote.h"
#include "util.h"

#define FULL_SHARE 0.995   /* watched this much of the time: no call means none happened */

void names_append(char *buf, size_t len, const char *name)
{
	size_t n = strlen(buf);

	if (n + 1 < len)
		snprintf(buf + n, len - n, "%s%s", n ? ", " : "", name);
}

/* What sampling says about an op it never caught. */
static void unsampled(const struct unseen_facts *f, char *buf, size_t len)
{
	char period[32];

	if (f->hz > 0)
		snprintf(buf, len, "no sample: not called or each call < %s (%d Hz)",
			 fmt_ns(1000000000ull / f->hz, period, sizeof(period)), f->hz);
	else
		snprintf(buf, len, "not sampled (-F 0)");
}

/* "1%", "0.5%" (a static buffer: one use per statement) */
static const char *fmt_pct(double pct)
{
	static char b[32];

	snprintf(b, sizeof(b), "%g%%", pct);
	return b;
}

void op_unseen_note(const struct unseen_facts *f, char *note, size_t len)
{
	char tail[160], why[DESC_MAX_LEN], held[DESC_MAX_LEN];
	const char *suffix = ": timed from samples";
	size_t n;

	unsampled(f, tail, sizeof(tail));
	if (f->max_breakpoints <= 0)
		snprintf(held, sizeof(held), "--max-breakpoints 0");
	else if (f->holders && f->holders[0])
		snprintf(held, sizeof(held), "%s%s%sregisters held by %s%s", f->budget_pct > 0 ?
			 "over the --overhead " : "", f->budget_pct > 0 ? fmt_pct(f->budget_pct) : "",
			 f->budget_pct > 0 ? " budget; " : "", f->holders, f->enospc ? " and another tool" : "");
	else if (f->budget_pct > 0)
		snprintf(held, sizeof(held), "over the --overhead %s budget", fmt_pct(f->budget_pct));
	else
		snprintf(held, sizeof(held), "no debug register free%s",
			 f->enospc ? ": another tool holds them" : "");
	if (f->armed_share >= FULL_SHARE) {
		note[0] = 0;
	} else if (f->armed_share > 0) {
		if (!f->sampled)
			snprintf(note, len, "armed %.0f%% of the time it could run, no exact call; %s",
				 100.0 * f->armed_share, tail);
	} else if (f->need > 0) {
		/* the planner armed it after its parent's call, for the next one that never came */
		snprintf(note, len, "%s (%s)%s%s", f->ever_armed ? "armed only while its parent was "
			 "not running" : "never armed", held, f->sampled ? suffix : "; ",
			 f->sampled ? "" : tail);
	} else if (!f->sampled && !strstr(note, tail)) {
		/* cannot be exact ("generator: timed from samples"): say what sampling saw */
		snprintf(why, sizeof(why), "%s", note);
		n = strlen(why);
		if (n >= strlen(suffix) && !strcmp(why + n - strlen(suffix), suffix))
			why[n - strlen(suffix)] = 0;
		snprintf(note, len, "%s%s%s", why, why[0] ? "; " : "", tail);
	}
}

int ops_not_found(const struct session *s, const char *prog)
{
	char msg[NAME_MAX_LEN + DESC_MAX_LEN + 64];
	int n = 0;

	for (int i = 0; i < s->nops; i++) {
		const struct op_result *op = &s->ops[i];

		if (op->kind != OP_PY || op->resolved)
			continue;
		snprintf(msg, sizeof(msg), "--strict: operation '%s' not found: %s", op->name,
			 op->note[0] ? op->note : "function not found in the target");
		print_safe_error(prog, msg);
		n++;
	}
	return n;
}
