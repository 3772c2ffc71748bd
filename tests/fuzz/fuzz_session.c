// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer: a session file (ragd-bpfprof/1 or a ragd profile) through the reader, then every
 * consumer: stats, text/folded report, JSON writer (which must read back), compare both ways.
 * The streaming reader is checked against the one-tree reader on every input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "session.h"

static FILE *null_out(void)
{
	static FILE *f;

	if (!f)
		f = fopen("/dev/null", "w");
	return f;
}

static char *to_json(const struct session *s, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f || session_write_json(s, f))
		abort();
	fclose(f);
	return buf;
}

/* The streaming reader must say what the one-tree reader says: the same error, or a session
 * that writes the same bytes. */
static void same_as_tree(const char *text, const struct session *got, const char *got_err)
{
	struct session t;
	char err[512];
	char *x, *y;
	size_t nx, ny;

	if (session_read_string_tree(&t, text, err, sizeof(err))) {
		if (got || strcmp(err, got_err)) {
			fprintf(stderr, "stream: %s\ntree:   %s\n", got ? "(read)" : got_err, err);
			abort();
		}
		return;
	}
	if (!got) {
		fprintf(stderr, "stream: %s\ntree:   (read)\n", got_err);
		abort();
	}
	x = to_json(got, &nx);
	y = to_json(&t, &ny);
	if (nx != ny || memcmp(x, y, nx)) {
		fprintf(stderr, "stream and tree readers differ\n");
		abort();
	}
	free(x);
	free(y);
	session_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct session a, b;
	struct report_opts ro = { .color = true, .histogram = true };
	struct compare_opts co = { .threshold_pct = 5, .alpha = 0.01, .color = true };
	char err[512], *text, *buf = NULL;
	size_t len = 0;
	FILE *f;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (session_read_string(&a, text, err, sizeof(err))) {
		if (strchr(err, '\n'))
			abort();   /* errors are one line */
		same_as_tree(text, NULL, err);
		free(text);
		return 0;
	}
	same_as_tree(text, &a, NULL);
	free(text);
	report_text(&a, &ro, null_out());
	report_folded(&a, null_out());
	f = open_memstream(&buf, &len);
	if (!f || session_write_json(&a, f))
		abort();
	fclose(f);
	/* what we write we must read */
	if (session_read_string(&b, buf, err, sizeof(err))) {
		fprintf(stderr, "round trip failed: %s\n", err);
		abort();
	}
	free(buf);
	compare_sessions(&a, &b, &co, null_out());
	co.json = true;
	compare_sessions(&b, &a, &co, null_out());
	session_compute_stats(&b);
	report_text(&b, &ro, null_out());
	session_free(&a);
	session_free(&b);
	return 0;
}
