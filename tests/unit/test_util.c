// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/util.c and user/output.c: terminal-safe text, the number and ISO-8601 parser, regular-file
 * opening (FIFOs never block), target pid checks, and the hardened -o path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include "output.h"
#include "session.h"
#include "spec.h"
#include "util.h"

static char dir[64];

static int setup_dir(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_util.XXXXXX");
	/* a FIFO opened for reading would block: fail instead of hanging the suite */
	alarm(60);
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *at(const char *name)
{
	static char buf[8][256];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------ terminal-safe text */

static void test_sanitize(void **state)
{
	char b[256];

	/* OSC title change, BEL, CSI clear screen: all visible, none live */
	assert_string_equal(str_sanitize(b, sizeof(b), "x\x1b]0;pwned\x07y\x1b[2J", false),
			    "x\\x1b]0;pwned\\x07y\\x1b[2J");
	assert_string_equal(str_sanitize(b, sizeof(b), "a\tb\nc\rd\x7f", false), "a\tb\\x0ac\\x0dd\\x7f");
	assert_string_equal(str_sanitize(b, sizeof(b), "a\nb", true), "a\nb");
	/* C1 CSI, as UTF-8 and as a raw byte; invalid UTF-8 */
	assert_string_equal(str_sanitize(b, sizeof(b), "\xc2\x9b" "2J", false), "\\xc2\\x9b2J");
	assert_string_equal(str_sanitize(b, sizeof(b), "\x9b" "2J\xff", false), "\\x9b2J\\xff");
	/* real text stays */
	assert_string_equal(str_sanitize(b, sizeof(b), "ünïcode 日本 \xf0\x9f\x98\x80", false),
			    "ünïcode 日本 \xf0\x9f\x98\x80");
	/* overlong encodings and surrogates are not text */
	assert_string_equal(str_sanitize(b, sizeof(b), "\xc0\x9b\xed\xa0\x80", false),
			    "\\xc0\\x9b\\xed\\xa0\\x80");
	/* cut on a character boundary, never mid-escape */
	assert_string_equal(str_sanitize(b, 6, "ab\x1b" "cd", false), "ab");
	assert_string_equal(str_sanitize(b, 5, "a日", false), "a日");
	assert_string_equal(str_sanitize(b, 4, "a日", false), "a");
	assert_true(str_is_clean("plain ü", false));
	assert_false(str_is_clean("\x1b[0m", false));
	assert_false(str_is_clean("a\nb", false));
	assert_true(str_is_clean("a\nb", true));
	/* term_safe: clean text as is, the rest escaped; several at once in one printf */
	const char *plain = "search.embed";
	assert_ptr_equal(term_safe(plain), plain);
	snprintf(b, sizeof(b), "%s|%s", term_safe("\x1b[2J"), term_safe("\x07"));
	assert_string_equal(b, "\\x1b[2J|\\x07");
	assert_string_equal(term_safe(NULL), "");
}

/* every one-line error goes through seterr: quoted file contents cannot break the line or
 * reach the terminal */
static void test_seterr_sanitizes(void **state)
{
	char err[64];

	seterr(err, sizeof(err), "bad probe '%s'", "x\n\x1b]0;t\x07");
	assert_string_equal(err, "bad probe 'x\\x0a\\x1b]0;t\\x07'");
	seterr(err, 8, "%s", "abcdefghij");
	assert_string_equal(err, "abcdefg");
	seterr(NULL, 0, "%s", "ignored");
}

static void test_fputs_safe(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fputs_safe("op\x1b[31mred\x9b", f, false), 0);
	fclose(f);
	assert_string_equal(buf, "op\\x1b[31mred\\x9b");
	free(buf);
}

/* ------------------------------------------------------------ numbers and times */

static void test_parse_number(void **state)
{
	double v = -1;

	assert_int_equal(parse_number("5", 0, 10, &v), 0);
	assert_true(v == 5);
	assert_int_equal(parse_number("0.25", 0, 10, &v), 0);
	assert_true(v == 0.25);
	const char *bad[] = { "", "inf", "-inf", "nan", "NaN", "1e19", "1e400", "5x", " ", "-1",
			      "0x", "11" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (!parse_number(bad[i], 0, 10, &v))
			fail_msg("'%s' accepted as %g", bad[i], v);
		assert_true(v == 42);
	}
	assert_int_equal(parse_number(NULL, 0, 10, &v), -1);
}

static void test_parse_iso8601(void **state)
{
	int64_t ns;

	assert_int_equal(parse_iso8601_ns("1970-01-01T00:00:00Z", &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(parse_iso8601_ns("2025-01-02T03:04:05.123456", &ns), 0);
	assert_int_equal(ns, 1735787045123456000LL);
	assert_int_equal(parse_iso8601_ns("2025-01-02 04:04:05.123456789+01:00", &ns), 0);
	assert_int_equal(ns, 1735787045123456789LL);
	assert_int_equal(parse_iso8601_ns("2025-01-02T01:34:05.123456-0130", &ns), 0);
	assert_int_equal(ns, 1735787045123456000LL);
	assert_int_equal(parse_iso8601_ns("2024-02-29T00:00:00.5Z", &ns), 0);
	/* the ends of int64 ns, and just past them */
	assert_int_equal(parse_iso8601_ns("2262-04-11T23:47:16.854775807Z", &ns), 0);
	assert_int_equal(ns, INT64_MAX);
	assert_int_equal(parse_iso8601_ns("1677-09-21T00:12:43.145224192Z", &ns), 0);
	assert_int_equal(ns, INT64_MIN);
	errno = 0;
	assert_int_equal(parse_iso8601_ns("2262-04-11T23:47:16.854775808Z", &ns), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(parse_iso8601_ns("9999-12-31T23:59:59.999999Z", &ns), -1);
	assert_int_equal(parse_iso8601_ns("0001-01-01T00:00:00Z", &ns), -1);
	const char *bad[] = { "", "2025", "2025-13-01T00:00:00", "2025-02-29T00:00:00",
			      "2025-01-32T00:00:00", "2025-01-01T24:00:00", "2025-01-01T00:60:00",
			      "0000-01-01T00:00:00", "2147483647-01-01T00:00:00", "-2025-01-01T00:00:00",
			      "+2025-01-01T00:00:00", " 2025-01-01T00:00:00", "2025-01-01T00:00:00.",
			      "2025-01-01T00:00:00+99:00", "2025-01-01T00:00:00junk", "2025-1-01T00:00:00" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!parse_iso8601_ns(bad[i], &ns))
			fail_msg("'%s' accepted", bad[i]);
}

/* ------------------------------------------------------------ files */

static void test_open_regular(void **state)
{
	struct session s;
	struct op_spec ops[4];
	char err[512];
	int fd, n;

	assert_int_equal(mkfifo(at("fifo"), 0600), 0);
	errno = 0;
	assert_int_equal(open_regular(at("fifo")), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(open_regular(dir), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(open_regular("/dev/null"), -1);
	write_text(at("plain"), "x");
	fd = open_regular(at("plain"));
	assert_true(fd >= 0);
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	/* the readers built on it: report FIFO, -s FIFO, a FIFO as probe target */
	session_init(&s);
	assert_int_equal(session_read_file(&s, at("fifo"), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(spec_load_file(at("fifo"), ops, 4, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	session_free(&s);
	unlink(at("fifo"));
	unlink(at("plain"));
}

static void test_check_target_pid(void **state)
{
	char err[256] = "", path[64], buf[256];
	pid_t child;
	int st, tries;

	assert_int_equal(check_target_pid(getpid(), err, sizeof(err)), 0);
	assert_int_equal(check_target_pid(999999999, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no such process"));
	/* kthreadd is pid 2 outside a PID namespace */
	FILE *f = fopen("/proc/2/comm", "r");
	if (f && fgets(buf, sizeof(buf), f) && !strncmp(buf, "kthreadd", 8)) {
		assert_int_equal(check_target_pid(2, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "kernel thread"));
	}
	if (f)
		fclose(f);
	/* a zombie: exited, not reaped yet */
	child = fork();
	assert_true(child >= 0);
	if (!child)
		_exit(0);
	snprintf(path, sizeof(path), "/proc/%d/stat", child);
	for (tries = 0; tries < 1000; tries++) {
		char *t = read_text(path);

		if (t && strstr(t, ") Z "))
			break;
		usleep(1000);
	}
	assert_int_equal(check_target_pid(child, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "zombie"));
	assert_true(pid_ended(child));
	assert_false(pid_ended(getpid()));
	waitpid(child, &st, 0);
	assert_true(pid_ended(child));
}

/* ------------------------------------------------------------ -o */

static void test_output_check(void **state)
{
	char err[512] = "";

	assert_int_equal(output_check(at("new.json"), err, sizeof(err)), 0);
	assert_int_equal(output_check("", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(output_check(dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is a directory"));
	assert_int_equal(output_check(at("sub/"), err, sizeof(err)), -1);
	assert_int_equal(output_check("/dev/null", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(mkfifo(at("fifo"), 0600), 0);
	assert_int_equal(output_check(at("fifo"), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(output_check("/proc/x.json", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pseudo filesystem"));
	assert_int_equal(output_check("/sys/kernel/x.json", err, sizeof(err)), -1);
	assert_int_equal(output_check("/nonexistent-dir/x.json", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot write there"));
	/* -o LINK: a link to /dev/null is refused, a dangling one too */
	assert_int_equal(symlink("/dev/null", at("tonull")), 0);
	assert_int_equal(output_check(at("tonull"), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(symlink(at("nowhere/x"), at("dangling")), 0);
	assert_int_equal(output_check(at("dangling"), err, sizeof(err)), -1);
	unlink(at("fifo"));
	unlink(at("tonull"));
	unlink(at("dangling"));
}

static int write_hello(FILE *f, const void *arg)
{
	return fputs(arg, f) < 0 ? -1 : 0;
}

static int write_fails(FILE *f, const void *arg)
{
	fputs("half", f);
	errno = ENOSPC;
	return -1;
}

static void test_output_write(void **state)
{
	char err[512] = "", victim[256];
	struct stat st;
	mode_t old = umask(027);

	/* a device stays a device: refused, untouched (mknod needs root) */
	if (!mknod(at("dev"), S_IFCHR | 0600, makedev(1, 3))) {
		assert_int_equal(output_write(at("dev"), write_hello, "x", err, sizeof(err)), -1);
		assert_int_equal(stat(at("dev"), &st), 0);
		assert_true(S_ISCHR(st.st_mode));
		unlink(at("dev"));
	}
	/* symlinks planted at the old fixed temporary name and at a guessable one */
	snprintf(victim, sizeof(victim), "%s", at("victim"));
	write_text(victim, "precious");
	assert_int_equal(symlink(victim, at("out.json.tmp")), 0);
	assert_int_equal(symlink(victim, at(".out.json.tmp")), 0);
	assert_int_equal(output_write(at("out.json"), write_hello, "hello\n", err, sizeof(err)), 0);
	assert_string_equal(read_text(at("out.json")), "hello\n");
	assert_string_equal(read_text(victim), "precious");
	/* mode from the umask, like any file the user creates */
	assert_int_equal(stat(at("out.json"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* victim, two links, out.json: no temporary left */
	assert_int_equal(dir_entries(dir), 4);
	/* a failed write keeps the old file and leaves nothing */
	assert_int_equal(output_write(at("out.json"), write_fails, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No space left"));
	assert_null(strchr(err, '\n'));
	assert_string_equal(read_text(at("out.json")), "hello\n");
	assert_int_equal(dir_entries(dir), 4);
	/* -o LINK replaces the file the link names; the link stays a link */
	assert_int_equal(symlink(at("out.json"), at("latest")), 0);
	assert_int_equal(output_write(at("latest"), write_hello, "again\n", err, sizeof(err)), 0);
	assert_int_equal(lstat(at("latest"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_string_equal(read_text(at("out.json")), "again\n");
	assert_int_equal(dir_entries(dir), 5);
	umask(old);
	system("rm -f /tmp/test_util.*/* /tmp/test_util.*/.out*");
}

/* The writer killed (SIGTERM: held until the file is in place; SIGKILL: the unnamed temporary
 * vanishes with the process): never a temporary file left, never half a file. */
static int write_and_die(FILE *f, const void *arg)
{
	fputs("partial", f);
	fflush(f);
	raise(*(const int *)arg);
	fputs(" rest\n", f);
	return 0;
}

static void test_output_signals(void **state)
{
	int sigs[] = { SIGTERM, SIGINT, SIGKILL };

	for (size_t i = 0; i < 3; i++) {
		char err[256];
		pid_t child;
		int st;

		write_text(at("sig.json"), "old\n");
		child = fork();
		assert_true(child >= 0);
		if (!child) {
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			output_write(at("sig.json"), write_and_die, &sigs[i], err, sizeof(err));
			_exit(0);
		}
		assert_int_equal(waitpid(child, &st, 0), child);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == sigs[i]);
		assert_int_equal(dir_entries(dir), 1);
		assert_string_equal(read_text(at("sig.json")), sigs[i] == SIGKILL ? "old\n" : "partial rest\n");
	}
	unlink(at("sig.json"));
}

/* Doubles read from files reach integer casts clamped, never undefined (compare's fuzzer found
 * 1.8e19 cast to __u64). */
static void test_u64_round(void **state)
{
	assert_int_equal(u64_round(-5.0), 0);
	assert_int_equal(u64_round(0.0 / 0.0), 0);
	assert_int_equal(u64_round(1.4), 1);
	assert_int_equal(u64_round(1.6), 2);
	assert_true(u64_round(1.9e19) == (__u64)18446744073709549568.0);
	assert_true(u64_round(1.0 / 0.0) == (__u64)18446744073709549568.0);
}

/* The one "did you mean" (native symbols and Python qualnames): nearest first, at most
 * SUGGEST_MAX, each name once, nothing far; span limits a qualname to its last part. */
static void test_suggest(void **state)
{
	static const char *const names[] = { "HybridSearcher.search", "HybridSearcher.close",
		"HybridSearcher.hydrate", "HybridSearcher.search", "HybridSearcher.sear", "zzz" };
	struct suggest sg;
	char buf[256];

	suggest_init(&sg, "HybridSearcher.serch", 20);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		suggest_add(&sg, names[i], strlen(names[i]));
	suggest_format(&sg, buf, sizeof(buf));
	/* half of the whole name: the class's other methods come along */
	assert_string_equal(buf, " (did you mean: HybridSearcher.search, HybridSearcher.sear, "
			    "HybridSearcher.close?)");

	suggest_init(&sg, "HybridSearcher.serch", 20);
	sg.span = 5;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		suggest_add(&sg, names[i], strlen(names[i]));
	suggest_format(&sg, buf, sizeof(buf));
	assert_string_equal(buf, " (did you mean: HybridSearcher.search, HybridSearcher.sear?)");

	suggest_init(&sg, "index_path", 10);
	suggest_add(&sg, "completely_else", 15);
	suggest_format(&sg, buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* too small a buffer stays terminated */
	suggest_add(&sg, "index_paths", 11);
	suggest_format(&sg, buf, 8);
	assert_int_equal(strlen(buf), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_seterr_sanitizes),
		cmocka_unit_test(test_fputs_safe),
		cmocka_unit_test(test_parse_number),
		cmocka_unit_test(test_parse_iso8601),
		cmocka_unit_test(test_open_regular),
		cmocka_unit_test(test_check_target_pid),
		cmocka_unit_test(test_output_check),
		cmocka_unit_test(test_output_write),
		cmocka_unit_test(test_output_signals),
		cmocka_unit_test(test_u64_round),
		cmocka_unit_test(test_suggest),
	};

	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
