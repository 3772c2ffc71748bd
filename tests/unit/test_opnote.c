// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/opnote.c: the reason an op found in the target has no call, and --strict's check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "opnote.h"

static const char SHORT[] = "no sample: not called or each call < 1.00ms (999 Hz)";

static void note(const struct unseen_facts *f, const char *before, char *out, size_t len)
{
	snprintf(out, len, "%s", before);
	op_unseen_note(f, out, len);
}

/* The old text for all of these was "no debug register left for it: timed from samples". */
static void test_never_armed(void **state)
{
	struct unseen_facts f = { .need = 2, .hz = 999, .max_breakpoints = 4, .holders = "search, index" };
	char buf[512], want[512];

	note(&f, "", buf, sizeof(buf));
	snprintf(want, sizeof(want), "never armed (registers held by search, index); %s", SHORT);
	assert_string_equal(buf, want);

	f.budget_pct = 0.5;
	note(&f, "", buf, sizeof(buf));
	snprintf(want, sizeof(want), "never armed (over the --overhead 0.5%% budget; registers held by "
		 "search, index); %s", SHORT);
	assert_string_equal(buf, want);
	f.holders = "";
	note(&f, "", buf, sizeof(buf));
	snprintf(want, sizeof(want), "never armed (over the --overhead 0.5%% budget); %s", SHORT);
	assert_string_equal(buf, want);
	f.holders = "search, index";
	f.budget_pct = 0;

	f.ever_armed = true;
	note(&f, "", buf, sizeof(buf));
	snprintf(want, sizeof(want), "armed only while its parent was not running (registers held "
		 "by search, index); %s", SHORT);
	assert_string_equal(buf, want);
	f.ever_armed = false;

	f.enospc = true;
	note(&f, "", buf, sizeof(buf));
	assert_non_null(strstr(buf, "held by search, index and another tool); no sample"));

	f.holders = "";
	note(&f, "", buf, sizeof(buf));
	assert_non_null(strstr(buf, "never armed (no debug register free: another tool holds them); "));

	f.max_breakpoints = 0;
	f.hz = 0;
	note(&f, "", buf, sizeof(buf));
	assert_string_equal(buf, "never armed (--max-breakpoints 0); not sampled (-F 0)");

	/* samples saw it: it has rows, the note says why they are sampled */
	f = (struct unseen_facts){ .need = 1, .hz = 999, .max_breakpoints = 4, .holders = "search",
				   .sampled = true };
	note(&f, "", buf, sizeof(buf));
	assert_string_equal(buf, "never armed (registers held by search): timed from samples");
}

static void test_partly_armed(void **state)
{
	struct unseen_facts f = { .need = 1, .hz = 99, .max_breakpoints = 4, .armed_share = 0.4 };
	char buf[512];

	note(&f, "exact for 40% of the time it could run (debug registers shared): counts are of "
	     "that part", buf, sizeof(buf));
	assert_string_equal(buf, "armed 40% of the time it could run, no exact call; no sample: "
			    "not called or each call < 10.1ms (99 Hz)");
	/* watched all the time: never called, nothing more to say */
	f.armed_share = 1.0;
	note(&f, "x", buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void test_cannot_be_exact(void **state)
{
	struct unseen_facts f = { .hz = 999, .max_breakpoints = 4 };
	char buf[512], want[512];

	note(&f, "generator: timed from samples", buf, sizeof(buf));
	snprintf(want, sizeof(want), "generator; %s", SHORT);
	assert_string_equal(buf, want);
	/* a profile's next iteration does not say it twice */
	op_unseen_note(&f, buf, sizeof(buf));
	assert_string_equal(buf, want);
	note(&f, "hardware breakpoints do not fire on this machine (self-test): timed from samples",
	     buf, sizeof(buf));
	assert_non_null(strstr(buf, "(self-test); no sample: not called"));
	/* sampled: the reason stays */
	f.sampled = true;
	note(&f, "generator: timed from samples", buf, sizeof(buf));
	assert_string_equal(buf, "generator: timed from samples");
}

static void test_names_append(void **state)
{
	char buf[12] = "";

	names_append(buf, sizeof(buf), "a");
	names_append(buf, sizeof(buf), "bb");
	assert_string_equal(buf, "a, bb");
	names_append(buf, sizeof(buf), "cccccccc");
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
}

/* Only py: function ops never found count; one line each on stderr. */
static void test_not_found(void **state)
{
	struct session s;
	char path[] = "/tmp/test_opnote.XXXXXX", text[2048] = "";
	int fd = mkstemp(path), saved = dup(2), i;
	FILE *f;

	assert_true(fd >= 0);
	session_init(&s);
	i = session_add_op(&s, "typo", OP_PY, PREC_SAMPLED);
	snprintf(s.ops[i].note, sizeof(s.ops[i].note), "'A.serch' is not in loaded module a.py "
		 "(did you mean: A.search?)");
	i = session_add_op(&s, "found", OP_PY, PREC_EXACT);
	s.ops[i].resolved = true;
	session_add_op(&s, "native", OP_NATIVE, PREC_EXACT);
	session_add_op(&s, "body", OP_PY_MODULE, PREC_SAMPLED);
	session_add_op(&s, "bare", OP_PY, PREC_SAMPLED);
	dup2(fd, 2);
	assert_int_equal(ops_not_found(&s, "prog"), 2);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(fread(text, 1, sizeof(text) - 1, f) > 0);
	fclose(f);
	close(fd);
	unlink(path);
	assert_string_equal(text, "prog: --strict: operation 'typo' not found: 'A.serch' is not in "
			    "loaded module a.py (did you mean: A.search?)\n"
			    "prog: --strict: operation 'bare' not found: function not found in the "
			    "target\n");
	session_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never_armed),
		cmocka_unit_test(test_partly_armed),
		cmocka_unit_test(test_cannot_be_exact),
		cmocka_unit_test(test_names_append),
		cmocka_unit_test(test_not_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
