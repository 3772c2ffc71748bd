// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/symbols.c against real files: this test binary (built with -g, so it has .symtab) and the
 * libc it runs with. Offsets are checked against /proc/self/maps and against the bytes in
 * memory, which do not go through symbols.c. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "symbols.h"

/* Things to look up in our own .symtab; used + noinline keep them real. */
#ifdef __clang__
#define SYMTEST_FN __attribute__((noinline, used))
#else
#define SYMTEST_FN __attribute__((noinline, noclone, used))
#endif

SYMTEST_FN int ragd_symtest_target(int x)
{
	volatile int acc = x;

	for (int i = 0; i < x; i++)
		acc = acc * 31 + i;
	return acc;
}

SYMTEST_FN static int ragd_symtest_local(int x)
{
	volatile int y = x;

	return y * 7 + 3;
}

__attribute__((used)) const unsigned int ragd_symtest_version = 0x030c01f0;
__attribute__((used)) const char ragd_symtest_str[] = "ragd-symtest-1.2.3";
__attribute__((used)) int ragd_symtest_data = 42;
__attribute__((used)) long ragd_symtest_bss;

static char self_exe[PATH_MAX];
static char libc_path[PATH_MAX];

/* file offset of a code/data address, straight from /proc/self/maps */
static int maps_offset(const void *addr, __u64 *off, char *path, size_t pathlen)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[PATH_MAX + 256];
	uintptr_t a = (uintptr_t)addr;
	int ret = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, pgoff;
		int pos = 0;

		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %n", &start, &end, &pgoff, &pos) < 3)
			continue;
		if (a < start || a >= end)
			continue;
		*off = pgoff + (a - start);
		if (path) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(path, pathlen, "%s", line + pos);
		}
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* lowest address a file is mapped at (its load base when the first PT_LOAD has vaddr 0) */
static uintptr_t maps_base(const char *path)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[PATH_MAX + 256];
	uintptr_t base = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, pgoff;
		int pos = 0;

		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %n", &start, &end, &pgoff, &pos) < 3)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line + pos, path) && pgoff == 0 && (!base || start < base))
			base = start;
	}
	fclose(f);
	return base;
}

static bool has_symtab(const char *path)
{
	int fd = open(path, O_RDONLY);
	Elf *e;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	bool found = false;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	while ((scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			found = true;
	elf_end(e);
	close(fd);
	return found;
}

static void check_file_bytes(const char *path, __u64 off, const void *mem, size_t len)
{
	unsigned char buf[64];
	int fd = open(path, O_RDONLY);

	assert_true(len <= sizeof(buf));
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, off), len);
	close(fd);
	assert_memory_equal(buf, mem, len);
}

static int setup(void **state)
{
	char maps_path[PATH_MAX];
	__u64 off;

	assert_non_null(realpath("/proc/self/exe", self_exe));
	/* the libc we run with, found without symbols.c */
	assert_int_equal(maps_offset((void *)getppid, &off, maps_path, sizeof(maps_path)), 0);
	assert_non_null(realpath(maps_path, libc_path));
	return 0;
}

static void test_self_function_offset(void **state)
{
	char err[512] = "", mpath[PATH_MAX], real[PATH_MAX];
	__u64 off = 0, size = 0, moff = 0;

	assert_int_equal(ragd_symtest_target(3) != 0, 1);
	assert_int_equal(elf_sym_offset("/proc/self/exe", "ragd_symtest_target", &off, &size,
					err, sizeof(err)), 0);
	assert_true(size > 0);
	assert_int_equal(maps_offset((void *)ragd_symtest_target, &moff, mpath, sizeof(mpath)), 0);
	assert_non_null(realpath(mpath, real));
	assert_string_equal(real, self_exe);
	assert_int_equal(off, moff);
	check_file_bytes(self_exe, off, (void *)ragd_symtest_target, size < 32 ? size : 32);

	/* a file-local function is in .symtab only */
	assert_int_equal(ragd_symtest_local(1), 10);
	assert_int_equal(elf_sym_offset(self_exe, "ragd_symtest_local", &off, NULL, err, sizeof(err)), 0);
	assert_int_equal(maps_offset((void *)ragd_symtest_local, &moff, NULL, 0), 0);
	assert_int_equal(off, moff);
}

static void test_self_values(void **state)
{
	__u64 vaddr, size, fvaddr, off, off2;
	unsigned int version = 0;
	char str[sizeof(ragd_symtest_str)];
	int data = 0;
	long bss = -1;
	unsigned char code[16];
	uintptr_t bias;

	assert_int_equal(elf_read_symbol_value(self_exe, "ragd_symtest_target", &fvaddr, NULL), 0);
	bias = (uintptr_t)ragd_symtest_target - fvaddr;

	assert_int_equal(elf_read_symbol_value(self_exe, "ragd_symtest_version", &vaddr, &size), 0);
	assert_int_equal(size, sizeof(ragd_symtest_version));
	assert_int_equal((uintptr_t)&ragd_symtest_version - vaddr, bias);
	assert_int_equal(elf_read_vaddr(self_exe, vaddr, &version, sizeof(version)), 0);
	assert_int_equal(version, 0x030c01f0);

	assert_int_equal(elf_read_symbol_value(self_exe, "ragd_symtest_str", &vaddr, &size), 0);
	assert_int_equal(size, sizeof(ragd_symtest_str));
	assert_int_equal(elf_read_vaddr(self_exe, vaddr, str, sizeof(str)), 0);
	assert_string_equal(str, "ragd-symtest-1.2.3");

	ragd_symtest_data = 7; /* the file keeps the initial value */
	assert_int_equal(elf_read_symbol_value(self_exe, "ragd_symtest_data", &vaddr, NULL), 0);
	assert_int_equal(elf_read_vaddr(self_exe, vaddr, &data, sizeof(data)), 0);
	assert_int_equal(data, 42);

	ragd_symtest_bss = 5;
	assert_int_equal(elf_read_symbol_value(self_exe, "ragd_symtest_bss", &vaddr, NULL), 0);
	assert_int_equal(elf_read_vaddr(self_exe, vaddr, &bss, sizeof(bss)), 0);
	assert_int_equal(bss, 0);

	/* code bytes by vaddr, and vaddr -> offset agrees with the symbol lookup */
	assert_int_equal(elf_read_vaddr(self_exe, fvaddr, code, sizeof(code)), 0);
	assert_memory_equal(code, (void *)ragd_symtest_target, sizeof(code));
	assert_int_equal(elf_vaddr_to_offset(self_exe, fvaddr, &off), 0);
	assert_int_equal(elf_sym_offset(self_exe, "ragd_symtest_target", &off2, NULL, NULL, 0), 0);
	assert_int_equal(off, off2);

	errno = 0;
	assert_int_equal(elf_read_vaddr(self_exe, 0xffffffffff000000ull, &data, 4), -1);
	assert_int_equal(errno, EFAULT);
	errno = 0;
	assert_int_equal(elf_read_symbol_value(self_exe, "ragd_symtest_nope", &vaddr, NULL), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_has_symbol(void **state)
{
	assert_true(elf_has_symbol(self_exe, "ragd_symtest_target"));
	assert_true(elf_has_symbol(self_exe, "ragd_symtest_version"));
	assert_false(elf_has_symbol(self_exe, "ragd_symtest_nope"));
	assert_true(elf_has_symbol(libc_path, "malloc"));
	assert_false(elf_has_symbol("/nonexistent/file", "malloc"));
}

static void test_libc_in_maps(void **state)
{
	char out[PATH_MAX], out2[PATH_MAX], real[PATH_MAX];
	const char *slash;

	assert_int_equal(resolve_lib_in_pid(0, "libc.so.6", out, sizeof(out)), 0);
	slash = strrchr(out, '/');
	assert_non_null(slash);
	assert_string_equal(slash + 1, "libc.so.6");
	assert_non_null(realpath(out, real));
	assert_string_equal(real, libc_path);

	/* a prefix up to '.', never libcmocka.so.0 */
	assert_int_equal(resolve_lib_in_pid(getpid(), "libc", out2, sizeof(out2)), 0);
	assert_string_equal(out2, out);
	assert_int_equal(resolve_lib_in_pid(getpid(), "libcmocka", out2, sizeof(out2)), 0);
	assert_non_null(strstr(out2, "libcmocka"));

	errno = 0;
	assert_int_equal(resolve_lib_in_pid(0, "libragd_not_mapped.so.1", out, sizeof(out)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(resolve_lib_in_pid(0, "libc.so.6", out, 4), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

static void test_libc_search(void **state)
{
	char out[PATH_MAX];
	const char *old = getenv("LD_LIBRARY_PATH");
	char *saved = old ? strdup(old) : NULL;

	unsetenv("LD_LIBRARY_PATH");
	assert_int_equal(resolve_lib_search("libc.so.6", out, sizeof(out)), 0);
	assert_string_equal(out, libc_path);
	/* not in the cache under that name: the ld.so.cache prefix pass */
	errno = 0;
	assert_int_equal(resolve_lib_search("libragd_nowhere.so.7", out, sizeof(out)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(resolve_lib_search(libc_path, out, sizeof(out)), 0);
	assert_string_equal(out, libc_path);
	if (saved) {
		setenv("LD_LIBRARY_PATH", saved, 1);
		free(saved);
	}
}

static void test_ld_library_path(void **state)
{
	char dir[] = "/tmp/ragd-symtest-XXXXXX", lib[PATH_MAX], txt[PATH_MAX], env[PATH_MAX];
	char out[PATH_MAX], real[PATH_MAX], buf[4096];
	const char *old = getenv("LD_LIBRARY_PATH");
	char *saved = old ? strdup(old) : NULL;
	int in, outfd;
	ssize_t n;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	/* an ELF file of our ABI posing as a library */
	snprintf(lib, sizeof(lib), "%s/libragdfake.so.1", dir);
	in = open(self_exe, O_RDONLY);
	outfd = open(lib, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(in >= 0 && outfd >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(outfd, buf, n), n);
	close(in);
	close(outfd);
	/* not ELF: skipped like the loader does */
	snprintf(txt, sizeof(txt), "%s/libragdtext.so.1", dir);
	f = fopen(txt, "w");
	assert_non_null(f);
	fputs("not a library\n", f);
	fclose(f);

	snprintf(env, sizeof(env), "/nonexistent-dir:%s", dir);
	setenv("LD_LIBRARY_PATH", env, 1);
	assert_int_equal(resolve_lib_search("libragdfake.so.1", out, sizeof(out)), 0);
	assert_non_null(realpath(lib, real));
	assert_string_equal(out, real);
	errno = 0;
	assert_int_equal(resolve_lib_search("libragdtext.so.1", out, sizeof(out)), -1);
	assert_int_equal(errno, ENOENT);
	/* the library is usable through symbols.c too */
	assert_true(elf_has_symbol(out, "ragd_symtest_target"));

	if (saved) {
		setenv("LD_LIBRARY_PATH", saved, 1);
		free(saved);
	} else {
		unsetenv("LD_LIBRARY_PATH");
	}
	unlink(lib);
	unlink(txt);
	rmdir(dir);
}

static void test_libc_function_offsets(void **state)
{
	char err[512] = "";
	__u64 off, off2, moff, vaddr;
	uintptr_t base;

	/* getppid: &getppid is libc's own address (no interposer, even under valgrind) */
	assert_int_equal(elf_sym_offset(libc_path, "getppid", &off, NULL, err, sizeof(err)), 0);
	assert_int_equal(maps_offset((void *)getppid, &moff, NULL, 0), 0);
	assert_int_equal(off, moff);

	/* malloc: .dynsym, versioned malloc@@GLIBC_*; matched by base name or with the version */
	assert_int_equal(elf_sym_offset(libc_path, "malloc", &off, NULL, err, sizeof(err)), 0);
	assert_int_equal(elf_read_symbol_value(libc_path, "malloc", &vaddr, NULL), 0);
	base = maps_base(libc_path);
	assert_true(base != 0);
	assert_int_equal(maps_offset((void *)(base + vaddr), &moff, NULL, 0), 0);
	assert_int_equal(off, moff);
#if defined(__x86_64__)
	assert_int_equal(elf_sym_offset(libc_path, "malloc@@GLIBC_2.2.5", &off2, NULL, err,
					sizeof(err)), 0);
	assert_int_equal(off2, off);
	assert_int_equal(elf_sym_offset(libc_path, "malloc@GLIBC_2.2.5", &off2, NULL, err,
					sizeof(err)), 0);
	assert_int_equal(off2, off);
	assert_int_equal(elf_sym_offset(libc_path, "malloc@GLIBC_9.9", &off2, NULL, err,
					sizeof(err)), -1);
	assert_non_null(strstr(err, "did you mean: malloc"));
#endif
}

static void test_libc_default_version(void **state)
{
	char err[512] = "";
	__u64 def, def2, old, moff;

	if (!elf_has_symbol(libc_path, "pthread_cond_wait@GLIBC_2.2.5") ||
	    !elf_has_symbol(libc_path, "pthread_cond_wait@GLIBC_2.3.2"))
		skip();
	/* two versions at two addresses: no version means the default one (what we link to) */
	assert_int_equal(elf_sym_offset(libc_path, "pthread_cond_wait", &def, NULL, err, sizeof(err)), 0);
	assert_int_equal(elf_sym_offset(libc_path, "pthread_cond_wait@@GLIBC_2.3.2", &def2, NULL,
					err, sizeof(err)), 0);
	assert_int_equal(elf_sym_offset(libc_path, "pthread_cond_wait@GLIBC_2.2.5", &old, NULL,
					err, sizeof(err)), 0);
	assert_int_equal(def, def2);
	assert_true(old != def);
	assert_int_equal(maps_offset((void *)pthread_cond_wait, &moff, NULL, 0), 0);
	assert_int_equal(def, moff);
}

static void test_ifunc(void **state)
{
	char err[512] = "";
	__u64 off;

#if defined(__x86_64__)
	/* glibc's memcpy@@GLIBC_2.14 is an IFUNC; the old memcpy@GLIBC_2.2.5 FUNC must not win */
	assert_int_equal(elf_sym_offset(libc_path, "memcpy", &off, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'memcpy' is an IFUNC"));
#else
	skip();
#endif
}

static void test_unknown_symbol(void **state)
{
	char err[512] = "", want[PATH_MAX + 256];
	__u64 off;

	assert_int_equal(elf_sym_offset(self_exe, "ragd_symtest_targte", &off, NULL, err,
					sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: no symbol 'ragd_symtest_targte' (did you mean: "
		 "ragd_symtest_target", self_exe);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "?)"));
	assert_null(strchr(err, '\n'));

	/* nothing close: no suggestion list */
	assert_int_equal(elf_sym_offset(self_exe, "zzqqxxjjkkww_vvyy", &off, NULL, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: no symbol 'zzqqxxjjkkww_vvyy'", self_exe);
	assert_string_equal(err, want);

	/* data is not a function */
	assert_int_equal(elf_sym_offset(self_exe, "ragd_symtest_data", &off, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "symbol 'ragd_symtest_data' is not a function"));
}

static void test_stripped(void **state)
{
	char err[512] = "", want[PATH_MAX + 128];
	__u64 off;

	if (has_symtab(libc_path))
		skip();
	assert_int_equal(elf_sym_offset(libc_path, "ragd_no_such_fn", &off, NULL, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: symbol table stripped and no .dynsym entry for "
		 "'ragd_no_such_fn'", libc_path);
	assert_true(!strncmp(err, want, strlen(want)));
	/* suggestions come from .dynsym */
	assert_int_equal(elf_sym_offset(libc_path, "mallocc", &off, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "(did you mean: malloc"));
}

static void test_bad_files(void **state)
{
	char err[512] = "", path[] = "/tmp/ragd-symtest-txt-XXXXXX", want[PATH_MAX];
	__u64 off;
	int fd;

	assert_int_equal(elf_sym_offset("/nonexistent/libx.so", "f", &off, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/libx.so: No such file or directory");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\necho hi\n", 18), 18);
	close(fd);
	assert_int_equal(elf_sym_offset(path, "f", &off, NULL, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: not an ELF file", path);
	assert_string_equal(err, want);
	unlink(path);

	assert_int_equal(elf_sym_offset("/tmp", "f", &off, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "/tmp: Is a directory");
	/* a device (or FIFO) is never opened as an ELF file: it could block */
	assert_int_equal(elf_sym_offset("/dev/null", "f", &off, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "/dev/null: not a regular file");
}

static void test_resolve_binary(void **state)
{
	char out[PATH_MAX], real[PATH_MAX];
	const char *old = getenv("PATH");
	char *saved = old ? strdup(old) : NULL;

	assert_int_equal(resolve_binary("sh", out, sizeof(out)), 0);
	assert_int_equal(out[0], '/');
	assert_int_equal(access(out, X_OK), 0);
	assert_non_null(realpath("/bin/sh", real));
	assert_int_equal(resolve_binary("/bin/sh", out, sizeof(out)), 0);
	assert_string_equal(out, real);

	errno = 0;
	assert_int_equal(resolve_binary("ragd-no-such-command", out, sizeof(out)), -1);
	assert_int_equal(errno, ENOENT);

	/* only what PATH says */
	setenv("PATH", "/nonexistent", 1);
	assert_int_equal(resolve_binary("sh", out, sizeof(out)), -1);
	if (saved) {
		setenv("PATH", saved, 1);
		free(saved);
	}
}

static void test_resolve_native_path(void **state)
{
	char out[PATH_MAX], real[PATH_MAX];

	assert_int_equal(resolve_native_path("libc.so.6", getpid(), out, sizeof(out)), 0);
	assert_non_null(realpath(out, real));
	assert_string_equal(real, libc_path);
	assert_int_equal(resolve_native_path("libc.so.6", 0, out, sizeof(out)), 0);
	assert_string_equal(out, libc_path);
	assert_int_equal(resolve_native_path("sh", 0, out, sizeof(out)), 0);
	assert_int_equal(access(out, X_OK), 0);
	assert_int_equal(resolve_native_path(self_exe, 0, out, sizeof(out)), 0);
	assert_string_equal(out, self_exe);
	assert_int_equal(resolve_native_path("libragd_nowhere.so", 0, out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_function_offset),
		cmocka_unit_test(test_self_values),
		cmocka_unit_test(test_has_symbol),
		cmocka_unit_test(test_libc_in_maps),
		cmocka_unit_test(test_libc_search),
		cmocka_unit_test(test_ld_library_path),
		cmocka_unit_test(test_libc_function_offsets),
		cmocka_unit_test(test_libc_default_version),
		cmocka_unit_test(test_ifunc),
		cmocka_unit_test(test_unknown_symbol),
		cmocka_unit_test(test_stripped),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_resolve_binary),
		cmocka_unit_test(test_resolve_native_path),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
