// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/spec.c: probe syntax, SPEC.json, the built-in ragd spec and breakpoint priority. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "spec.h"

static const char SYNTAX_MSG[] =
	"expected NAME=native:PATH:SYMBOL, NAME=py:FILE:QUALNAME or PATH:SYMBOL";

static void parse_ok(const char *text, const char *name, enum op_kind kind, const char *path,
		     const char *sym)
{
	struct op_spec op;
	char err[512] = "";

	if (spec_parse(text, &op, err, sizeof(err)))
		fail_msg("'%s': %s", text, err);
	assert_string_equal(op.name, name);
	assert_int_equal(op.kind, kind);
	assert_string_equal(op.path, path);
	assert_string_equal(op.symbol, sym);
}

/* err must equal "bad probe 'TEXT': WHAT" */
static void parse_bad(const char *text, const char *what)
{
	struct op_spec op;
	char err[512] = "", want[1024];

	assert_int_equal(spec_parse(text, &op, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "bad probe '%s': %s", text, what);
	assert_string_equal(err, want);
}

static void test_parse_named(void **state)
{
	parse_ok("sqlite.step=native:libsqlite3.so.0:sqlite3_step", "sqlite.step", OP_NATIVE,
		 "libsqlite3.so.0", "sqlite3_step");
	parse_ok("index=py:ragd/ingestion/pipeline.py:index_path", "index", OP_PY,
		 "ragd/ingestion/pipeline.py", "index_path");
	parse_ok("index.embed=py:ragd/embedding/embedder.py:SentenceTransformerEmbedder.embed",
		 "index.embed", OP_PY, "ragd/embedding/embedder.py",
		 "SentenceTransformerEmbedder.embed");
	parse_ok("startup=py:ragd/cli.py:<module>", "startup", OP_PY_MODULE, "ragd/cli.py",
		 "<module>");
	parse_ok("inner=py:a/b.py:outer.<locals>.inner", "inner", OP_PY, "a/b.py",
		 "outer.<locals>.inner");
	/* names may hold letters, digits, _ . : - */
	parse_ok("db:query-1_x.Y=native:/usr/lib/libx.so:f", "db:query-1_x.Y", OP_NATIVE,
		 "/usr/lib/libx.so", "f");
	/* the path may hold ':' and '=' */
	parse_ok("x=native:/opt/a:b/c=d/lib.so:f", "x", OP_NATIVE, "/opt/a:b/c=d/lib.so", "f");
	/* surrounding blanks go */
	parse_ok("  a=py:x.py:f \n", "a", OP_PY, "x.py", "f");
}

static void test_parse_unnamed(void **state)
{
	parse_ok("/usr/bin/python3.11:PyEval_EvalCode", "PyEval_EvalCode", OP_NATIVE,
		 "/usr/bin/python3.11", "PyEval_EvalCode");
	parse_ok("libc.so.6:malloc", "malloc", OP_NATIVE, "libc.so.6", "malloc");
	parse_ok("native:libc.so.6:malloc@@GLIBC_2.2.5", "malloc", OP_NATIVE, "libc.so.6",
		 "malloc@@GLIBC_2.2.5");
	parse_ok("native:/opt/a:b/lib.so:f", "f", OP_NATIVE, "/opt/a:b/lib.so", "f");
	parse_ok("/opt/a:b/x.so:g", "g", OP_NATIVE, "/opt/a:b/x.so", "g");
	parse_ok("/opt/x=y/lib.so:h", "h", OP_NATIVE, "/opt/x=y/lib.so", "h");
	parse_ok("py:ragd/search/hybrid.py:HybridSearcher.search", "HybridSearcher.search", OP_PY,
		 "ragd/search/hybrid.py", "HybridSearcher.search");
	/* a module body is named after its module */
	parse_ok("py:ragd/cli.py:<module>", "ragd.cli", OP_PY_MODULE, "ragd/cli.py", "<module>");
	parse_ok("py:/srv/app/main.py:<module>", "srv.app.main", OP_PY_MODULE, "/srv/app/main.py",
		 "<module>");
}

static void test_parse_errors(void **state)
{
	char long_name[200], text[400], long_suffix[100];
	struct op_spec op;
	char err[512];

	parse_bad("", SYNTAX_MSG);
	parse_bad("foo", SYNTAX_MSG);
	parse_bad("x=", SYNTAX_MSG);
	parse_bad("x=libc.so.6:malloc", SYNTAX_MSG);      /* NAME= needs a kind */
	parse_bad("x=pyy:a.py:f", SYNTAX_MSG);
	parse_bad("x=py:a.py:", SYNTAX_MSG);
	parse_bad("x=py::f", SYNTAX_MSG);
	parse_bad("x=native:f", SYNTAX_MSG);
	parse_bad("native:", SYNTAX_MSG);
	parse_bad(":f", SYNTAX_MSG);
	parse_bad("lib.so:", SYNTAX_MSG);
	parse_bad("=py:a.py:f", "empty name");
	parse_bad("my op=py:a.py:f", "invalid name 'my op' (use letters, digits, _ . : -)");
	parse_bad("a/b=native:lib.so:f", "invalid name 'a/b' (use letters, digits, _ . : -)");
	parse_bad("x=native:lib.so:f g", "blank in symbol 'f g'");
	parse_bad("py:a.py:outer.<locals>.f",
		  "'outer.<locals>.f' is no valid operation name; give one as NAME=...");

	memset(long_name, 'n', 150);
	long_name[150] = '\0';
	snprintf(text, sizeof(text), "%s=py:a.py:f", long_name);
	assert_int_equal(spec_parse(text, &op, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ": name longer than 127 characters"));

	/* BPF matches <module> bodies on at most MOD_SUFFIX_MAX - 1 characters */
	memset(long_suffix, 'd', 70);
	strcpy(long_suffix + 70, ".py");
	snprintf(text, sizeof(text), "m=py:%s:<module>", long_suffix);
	assert_int_equal(spec_parse(text, &op, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ": <module> file suffix longer than 63 characters"));
	/* ...but a function in such a file is fine */
	snprintf(text, sizeof(text), "m=py:%s:f", long_suffix);
	assert_int_equal(spec_parse(text, &op, err, sizeof(err)), 0);

	/* one line, and a NULL err is allowed */
	assert_int_equal(spec_parse("foo", &op, NULL, 0), -1);
}

static void test_load_string_forms(void **state)
{
	const char *json =
		"{\n"
		"  \"comment\": \"test\",\n"
		"  \"probes\": [\n"
		"    \"index=py:ragd/ingestion/pipeline.py:index_path\",\n"
		"    {\"name\": \"sqlite.step\", \"kind\": \"native\", \"path\": \"libsqlite3.so.0\",\n"
		"     \"symbol\": \"sqlite3_step\"},\n"
		"    {\"kind\": \"py\", \"path\": \"ragd/cli.py\", \"symbol\": \"<module>\", \"name\": \"startup\"},\n"
		"    {\"kind\": \"native\", \"path\": \"/usr/bin/python3\", \"symbol\": \"Py_RunMain\", \"comment\": \"x\"},\n"
		"    \"libc.so.6:malloc\"\n"
		"  ]\n"
		"}\n";
	struct op_spec ops[MAX_OPS];
	char err[512] = "";
	int n = -1;

	if (spec_load_string(json, "spec.json", ops, MAX_OPS, &n, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(n, 5);
	assert_string_equal(ops[0].name, "index");
	assert_int_equal(ops[0].kind, OP_PY);
	assert_string_equal(ops[0].path, "ragd/ingestion/pipeline.py");
	assert_string_equal(ops[0].symbol, "index_path");
	assert_string_equal(ops[1].name, "sqlite.step");
	assert_int_equal(ops[1].kind, OP_NATIVE);
	assert_string_equal(ops[1].path, "libsqlite3.so.0");
	assert_string_equal(ops[1].symbol, "sqlite3_step");
	assert_string_equal(ops[2].name, "startup");
	assert_int_equal(ops[2].kind, OP_PY_MODULE);
	assert_string_equal(ops[3].name, "Py_RunMain");   /* defaulted */
	assert_int_equal(ops[3].kind, OP_NATIVE);
	assert_string_equal(ops[4].name, "malloc");
	assert_string_equal(ops[4].path, "libc.so.6");
}

static void load_bad(const char *json, int max, const char *want)
{
	struct op_spec ops[MAX_OPS];
	char err[512] = "";
	int n = -1;

	assert_int_equal(spec_load_string(json, "S.json", ops, max, &n, err, sizeof(err)), -1);
	assert_int_equal(n, 0);
	assert_string_equal(err, want);
}

static void test_load_string_errors(void **state)
{
	load_bad("{\"probes\": [\n\"a=py:x.py:f\",\n]}", MAX_OPS, "S.json: not valid JSON (line 3)");
	load_bad("", MAX_OPS, "S.json: not valid JSON (line 1)");
	load_bad("[\"a=py:x.py:f\"]", MAX_OPS, "S.json: expected an object {\"probes\": [...]}");
	load_bad("{\"probes\": \"a=py:x.py:f\"}", MAX_OPS, "S.json: \"probes\" must be an array");
	load_bad("{}", MAX_OPS, "S.json: \"probes\" must be an array");
	load_bad("{\"probes\": []}", MAX_OPS, "S.json: no probes");
	load_bad("{\"probes\": [\"a=py:x.py:f\"], \"probe\": 1}", MAX_OPS,
		 "S.json: unknown key 'probe'");
	load_bad("{\"probes\": [\"a=py:x.py:f\", \"b=py:x.py:g\", \"c=py:x.py:h\", \"bogus\"]}",
		 MAX_OPS, "S.json: probes[3]: bad probe 'bogus': expected NAME=native:PATH:SYMBOL, "
		 "NAME=py:FILE:QUALNAME or PATH:SYMBOL");
	load_bad("{\"probes\": [\"a=py:x.py:f\", \"b=py:x.py:g\", \"a=native:libc.so.6:malloc\"]}",
		 MAX_OPS, "S.json: probes[2]: duplicate operation name 'a'");
	/* a defaulted name collides too */
	load_bad("{\"probes\": [\"malloc=py:x.py:f\", \"libc.so.6:malloc\"]}", MAX_OPS,
		 "S.json: probes[1]: duplicate operation name 'malloc'");
	load_bad("{\"probes\": [\"a=py:x.py:f\", \"b=py:x.py:g\", \"c=py:x.py:h\"]}", 2,
		 "S.json: probes[2]: more than 2 operations");
	load_bad("{\"probes\": [42]}", MAX_OPS, "S.json: probes[0]: expected a string or an object");
	load_bad("{\"probes\": [{\"kind\": \"py\", \"path\": \"x.py\"}]}", MAX_OPS,
		 "S.json: probes[0]: missing \"symbol\"");
	load_bad("{\"probes\": [{\"kind\": \"c\", \"path\": \"x\", \"symbol\": \"f\"}]}", MAX_OPS,
		 "S.json: probes[0]: kind must be \"native\" or \"py\", not \"c\"");
	load_bad("{\"probes\": [{\"kind\": \"py\", \"path\": \"x.py\", \"sym\": \"f\"}]}", MAX_OPS,
		 "S.json: probes[0]: unknown key 'sym'");
	load_bad("{\"probes\": [{\"kind\": \"py\", \"path\": \"x.py\", \"symbol\": 3}]}", MAX_OPS,
		 "S.json: probes[0]: \"symbol\" must be a string");
	load_bad("{\"probes\": [{\"name\": \"a b\", \"kind\": \"py\", \"path\": \"x.py\", "
		 "\"symbol\": \"f\"}]}", MAX_OPS,
		 "S.json: probes[0]: invalid name 'a b' (use letters, digits, _ . : -)");
	load_bad("{\"probes\": [{\"name\": \"a\", \"kind\": \"py\", \"path\": \"\", "
		 "\"symbol\": \"f\"}]}", MAX_OPS, "S.json: probes[0]: expected NAME=native:PATH:SYMBOL, "
		 "NAME=py:FILE:QUALNAME or PATH:SYMBOL");
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/ragd-spectest-XXXXXX", err[512] = "", want[512];
	const char *json = "{\"probes\": [\"index=py:ragd/ingestion/pipeline.py:index_path\","
			   " {\"name\": \"chat\", \"kind\": \"py\", \"path\": \"ragd/chat/session.py\","
			   " \"symbol\": \"ChatSession.ask\"}]}";
	struct op_spec ops[MAX_OPS];
	int fd, n = -1;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), strlen(json));
	close(fd);
	if (spec_load_file(path, ops, MAX_OPS, &n, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(n, 2);
	assert_string_equal(ops[1].name, "chat");
	assert_string_equal(ops[1].symbol, "ChatSession.ask");

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{probes", 7), 7);
	close(fd);
	assert_int_equal(spec_load_file(path, ops, MAX_OPS, &n, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: not valid JSON (line 1)", path);
	assert_string_equal(err, want);
	unlink(path);

	assert_int_equal(spec_load_file("/nonexistent/spec.json", ops, MAX_OPS, &n, err,
					sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/spec.json: No such file or directory");
}

static const char *const ragd_names[] = {
	"index", "index.document", "index.extract", "index.normalise", "index.chunk",
	"index.embed", "index.store", "index.bm25", "search", "search.init",
	"search.embed_query", "search.semantic", "search.keyword", "search.fusion", "chat",
	"chat.retrieve", "chat.context", "chat.generate", "chat.llm_request", "chat.stream",
	"startup",
};

static void test_default_ragd(void **state)
{
	struct op_spec ops[MAX_OPS], back;
	char buf[8192], err[512];
	int n, i;

	n = spec_default_ragd(ops, MAX_OPS);
	assert_int_equal(n, 21);
	assert_int_equal(SPEC_RAGD_NOPS, 21);
	for (i = 0; i < n; i++) {
		assert_string_equal(ops[i].name, ragd_names[i]);
		assert_int_equal(ops[i].kind, i == 20 ? OP_PY_MODULE : OP_PY);
		/* every op survives a round trip through the text form */
		assert_int_equal(spec_parse(spec_format(&ops[i], buf, sizeof(buf)), &back, err,
					    sizeof(err)), 0);
		assert_memory_equal(&back, &ops[i], sizeof(back));
	}
	assert_string_equal(ops[5].path, "ragd/embedding/embedder.py");
	assert_string_equal(ops[5].symbol, "SentenceTransformerEmbedder.embed");
	assert_string_equal(ops[9].symbol, "HybridSearcher.__init__");
	assert_string_equal(ops[11].path, "ragd/storage/adapters/chromadb.py");
	assert_string_equal(ops[11].symbol, "ChromaDBAdapter.search");
	assert_string_equal(ops[15].symbol, "ChatSession._retrieve_with_fallback");
	assert_string_equal(ops[20].path, "ragd/cli.py");
	assert_string_equal(ops[20].symbol, "<module>");
	assert_string_equal(spec_format(&ops[0], buf, sizeof(buf)),
			    "index=py:ragd/ingestion/pipeline.py:index_path");

	errno = 0;
	assert_int_equal(spec_default_ragd(ops, 20), -1);
	assert_int_equal(errno, ENOSPC);
}

static void test_priority(void **state)
{
	static const int want[21] = { 0, 8, 14, 20, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13,
				      15, 16, 17, 18, 19 };
	struct op_spec ops[MAX_OPS];
	int order[MAX_OPS], n;
	char err[256];

	n = spec_default_ragd(ops, MAX_OPS);
	assert_int_equal(spec_priority(ops, n, order), n);
	assert_memory_equal(order, want, sizeof(want));

	/* no top-level names at all, and an empty list */
	assert_int_equal(spec_parse("a.x=py:a.py:f", &ops[0], err, sizeof(err)), 0);
	assert_int_equal(spec_parse("b=py:a.py:g", &ops[1], err, sizeof(err)), 0);
	assert_int_equal(spec_parse("a.y=py:a.py:h", &ops[2], err, sizeof(err)), 0);
	assert_int_equal(spec_priority(ops, 3, order), 3);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 0);
	assert_int_equal(order[2], 2);
	assert_int_equal(spec_priority(ops, 0, order), 0);
}

static void test_find_add(void **state)
{
	struct op_spec ops[2], op;
	char err[256];
	int n = 0;

	assert_int_equal(spec_parse("a=py:a.py:f", &op, err, sizeof(err)), 0);
	assert_int_equal(spec_add(ops, &n, 2, &op, err, sizeof(err)), 0);
	assert_int_equal(spec_add(ops, &n, 2, &op, err, sizeof(err)), -1);
	assert_string_equal(err, "duplicate operation name 'a'");
	assert_int_equal(spec_parse("b=py:a.py:g", &op, err, sizeof(err)), 0);
	assert_int_equal(spec_add(ops, &n, 2, &op, err, sizeof(err)), 0);
	assert_int_equal(spec_parse("c=py:a.py:h", &op, err, sizeof(err)), 0);
	assert_int_equal(spec_add(ops, &n, 2, &op, err, sizeof(err)), -1);
	assert_string_equal(err, "more than 2 operations");
	assert_int_equal(n, 2);
	assert_int_equal(spec_find(ops, n, "b"), 1);
	assert_int_equal(spec_find(ops, n, "c"), -1);

	assert_true(spec_valid_name("index.embed"));
	assert_true(spec_valid_name("db:q-1_X"));
	assert_false(spec_valid_name(""));
	assert_false(spec_valid_name("a b"));
	assert_false(spec_valid_name("<module>"));
	/* a name like a kind would read back as an unnamed probe (found by fuzz_spec) */
	assert_false(spec_valid_name("py:x"));
	assert_false(spec_valid_name("native:x"));
	assert_true(spec_valid_name("pyx:x"));
	assert_int_equal(spec_parse("py:py:d/cli.py:<module>", &op, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'py:d.cli' is no valid operation name"));
	assert_int_equal(spec_load_string("{\"probes\": [{\"name\": \"native:f\", \"kind\": \"py\", "
					  "\"path\": \"a.py\", \"symbol\": \"f\"}]}", "S", ops, 2, &n,
					  err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid name 'native:f'"));
	/* nor a symbol with ':' from SPEC.json (the text form splits at the last ':') */
	assert_int_equal(spec_load_string("{\"probes\": [{\"kind\": \"py\", \"path\": \"py\", "
					  "\"symbol\": \"a:f\"}]}", "S", ops, 2, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "':' in symbol 'a:f'"));
	/* errors quoting the input stay one line and inert */
	assert_int_equal(spec_parse("x=py:\x1b]0;t\x07:\n", &op, err, sizeof(err)), -1);
	assert_null(strchr(err, '\x1b'));
	assert_null(strchr(err, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_named),
		cmocka_unit_test(test_parse_unnamed),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_load_string_forms),
		cmocka_unit_test(test_load_string_errors),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_default_ragd),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_find_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
