// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer: probe specs. The first byte picks the form: --probe text (one per line) or a
 * SPEC.json; whatever parses must format and parse back to the same op. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "spec.h"

static void check_roundtrip(const struct op_spec *op)
{
	struct op_spec back;
	char buf[8192], err[512];

	spec_format(op, buf, sizeof(buf));
	if (spec_parse(buf, &back, err, sizeof(err))) {
		fprintf(stderr, "'%s' does not parse back: %s\n", buf, err);
		abort();
	}
	if (strcmp(back.name, op->name) || back.kind != op->kind || strcmp(back.path, op->path) ||
	    strcmp(back.symbol, op->symbol)) {
		fprintf(stderr, "'%s' parses back differently\n", buf);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct op_spec ops[MAX_OPS];
	char err[512], *text, *line, *save = NULL;
	int n = 0;

	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] & 1) {
		if (!spec_load_string(text, "SPEC", ops, MAX_OPS, &n, err, sizeof(err))) {
			int order[MAX_OPS];

			spec_priority(ops, n, order);
			for (int i = 0; i < n; i++)
				check_roundtrip(&ops[i]);
		} else if (strchr(err, '\n')) {
			abort();
		}
	} else {
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			struct op_spec op;

			if (!spec_parse(line, &op, err, sizeof(err))) {
				check_roundtrip(&op);
				spec_add(ops, &n, MAX_OPS, &op, err, sizeof(err));
			} else if (strchr(err, '\n')) {
				abort();
			}
		}
	}
	free(text);
	return 0;
}
