// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/x86len.c: hand-written encodings, then instruction boundaries compared with
 * `objdump -d` over every function of libc.so.6 and libstdc++.so.6 (skipped visibly without
 * objdump or the libraries). The agreement is printed. */
#include <errno.h>
#include <limits.h>
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
#include "symbols.h"
#include "x86len.h"

struct tcase {
	const char *hex;
	int len;        /* expected x86_decode result */
	int kind;
};

static const struct tcase cases[] = {
	{ "c3", 1, X86_RET },
	{ "f3c3", 2, X86_RET },                      /* rep ret */
	{ "f2c3", 2, X86_RET },                      /* bnd ret */
	{ "c20800", 3, X86_RET },                    /* ret $8 */
	{ "cb", 1, X86_RET_FAR },
	{ "f30f1efa", 4, X86_OTHER },                /* endbr64 */
	{ "55", 1, X86_OTHER },                      /* push %rbp */
	{ "4889e5", 3, X86_OTHER },                  /* mov %rsp,%rbp */
	{ "48b88877665544332211", 10, X86_OTHER },   /* movabs $imm64,%rax */
	{ "66b83412", 4, X86_OTHER },                /* mov $0x1234,%ax */
	{ "b878563412", 5, X86_OTHER },
	{ "e900000000", 5, X86_JMP },
	{ "ebfe", 2, X86_JMP },
	{ "f2e900000000", 6, X86_JMP },              /* bnd jmp */
	{ "0f8400010000", 6, X86_JCC },
	{ "7405", 2, X86_JCC },
	{ "e3fe", 2, X86_JCC },                      /* jrcxz */
	{ "e800000000", 5, X86_CALL },
	{ "ffe0", 2, X86_JMP_IND },                  /* jmp *%rax */
	{ "3effe0", 3, X86_JMP_IND },                /* notrack jmp *%rax */
	{ "ff2500100000", 6, X86_JMP_IND },          /* jmp *0x1000(%rip) */
	{ "ffd0", 2, X86_CALL_IND },
	{ "ff2c24", 3, X86_JMP_FAR },                /* ljmp *(%rsp) */
	{ "488d0500000000", 7, X86_OTHER },          /* lea 0x0(%rip),%rax */
	{ "8b4c2408", 4, X86_OTHER },                /* mov 0x8(%rsp),%ecx: SIB + disp8 */
	{ "8b0c2500000000", 7, X86_OTHER },          /* mov 0x0,%ecx: SIB, no base, disp32 */
	{ "8b8c2400010000", 7, X86_OTHER },          /* SIB + disp32 */
	{ "f6c101", 3, X86_OTHER },                  /* test $1,%cl */
	{ "f6d1", 2, X86_OTHER },                    /* not %cl */
	{ "f7c101000000", 6, X86_OTHER },            /* test $1,%ecx */
	{ "66f7c10100", 5, X86_OTHER },              /* test $1,%cx */
	{ "48f7d8", 3, X86_OTHER },                  /* neg %rax */
	{ "660f1f840000000000", 9, X86_OTHER },      /* nopw 0x0(%rax,%rax,1) */
	{ "662e0f1f840000000000", 10, X86_OTHER },   /* cs nopw */
	{ "c5f877", 3, X86_OTHER },                  /* vzeroupper */
	{ "c5fd6f0424", 5, X86_OTHER },              /* vmovdqa (%rsp),%ymm0 */
	{ "c4e3790fc108", 6, X86_OTHER },            /* vpalignr $8 (VEX3, map 0F3A) */
	{ "c4e27d5800", 5, X86_OTHER },              /* vpbroadcastd (%rax),%ymm0 (map 0F38) */
	{ "62f17c481004 24", 7, X86_OTHER },         /* vmovups (%rsp),%zmm0 (EVEX) */
	{ "62f37d4839c101", 7, X86_OTHER },          /* EVEX map 0F3A + imm8 */
	{ "660f3a0fc108", 6, X86_OTHER },            /* palignr $8 */
	{ "660f3800c1", 5, X86_OTHER },              /* pshufb */
	{ "0f0b", 2, X86_OTHER },                    /* ud2 */
	{ "0f05", 2, X86_OTHER },                    /* syscall */
	{ "c8100000", 4, X86_OTHER },                /* enter $16,$0 */
	{ "a18877665544332211", 9, X86_OTHER },      /* movabs 0x...,%eax (moffs64) */
	{ "67a144332211", 6, X86_OTHER },            /* addr32 moffs32 */
	{ "c7f800000000", 6, X86_JCC },              /* xbegin */
	{ "8fc0", 2, X86_OTHER },                    /* pop %rax (8F /0) */
	{ "f00fb10a", 4, X86_OTHER },                /* lock cmpxchg %ecx,(%rdx) */
	{ "06", -1, 0 },                             /* push %es: invalid in 64-bit mode */
	{ "d4", -1, 0 },                             /* aam */
	{ "8fe878", -1, 0 },                         /* XOP */
	{ "4866", -1, 0 },                           /* REX before a legacy prefix */
	{ "e900", -2, 0 },                           /* truncated */
	{ "0f", -2, 0 },
	{ "6666666666666666666666666666669090", -1, 0 }, /* longer than 15 bytes */
};

static size_t unhex(const char *h, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*h && n < max) {
		unsigned v;

		if (*h == ' ') {
			h++;
			continue;
		}
		if (sscanf(h, "%2x", &v) != 1)
			break;
		out[n++] = v;
		h += 2;
	}
	return n;
}

static void test_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[32];
		struct x86_insn in;
		size_t n = unhex(cases[i].hex, b, sizeof(b));
		int r = x86_decode(b, n, &in);

		if (r != cases[i].len || (r > 0 && in.kind != cases[i].kind))
			fail_msg("%s: length %d kind %d, want %d kind %d", cases[i].hex, r, r > 0 ? in.kind : 0,
				 cases[i].len, cases[i].kind);
	}
}

static void test_rel_targets(void **state)
{
	uint8_t b[16];
	struct x86_insn in;

	assert_int_equal(x86_decode(b, unhex("ebfe", b, 16), &in), 2);
	assert_int_equal(in.rel, -2);
	assert_int_equal(x86_decode(b, unhex("e9fbffffff", b, 16), &in), 5);
	assert_int_equal(in.rel, -5);
	assert_int_equal(x86_decode(b, unhex("488d0510000000", b, 16), &in), 7);
	assert_true(in.rip_rel);
	assert_int_equal(in.disp, 16);
}

/* A function: endbr64; test; je +1; ret; jmp out; rep ret. */
static void test_scan(void **state)
{
	uint8_t b[64];
	struct x86_scan s;
	size_t n = unhex("f30f1efa 85ff 7401 c3 e900100000 f3c3", b, sizeof(b));

	assert_int_equal(x86_scan_function(b, n, &s), 0);
	assert_int_equal(s.ninsns, 6);
	assert_int_equal(s.nexits, 3);
	assert_int_equal(s.exits[0].off, 8);
	assert_int_equal(s.exits[0].kind, X86_RET);
	assert_int_equal(s.exits[1].kind, X86_JMP);
	assert_int_equal(s.exits[1].target, 14 + 0x1000);
	assert_int_equal(s.exits[2].off, 14);

	/* a jump table / data referenced inside the function: refused */
	n = unhex("488d0501000000 c3 ffe0", b, sizeof(b));
	assert_int_equal(x86_scan_function(b, n, &s), -1);
	assert_non_null(strstr(s.why, "jump table"));
	/* a branch into the middle of an instruction */
	n = unhex("eb01 b8c3000000 c3", b, sizeof(b));
	assert_int_equal(x86_scan_function(b, n, &s), -1);
	/* the code ends inside an instruction */
	n = unhex("55 e900", b, sizeof(b));
	assert_int_equal(x86_scan_function(b, n, &s), -1);
	assert_non_null(strstr(s.why, "past"));
	/* register-indirect jumps are counted, not taken as returns */
	n = unhex("55 ffe0 5d c3", b, sizeof(b));
	assert_int_equal(x86_scan_function(b, n, &s), 0);
	assert_int_equal(s.indirect_jmps, 1);
	assert_int_equal(s.nexits, 1);
	/* a return at the entry shares the entry probe's address */
	n = unhex("c3", b, sizeof(b));
	assert_int_equal(x86_scan_function(b, n, &s), -1);
}

/* The %ret / %uret suffix and what decides the automatic choice. */
static void test_suffix_and_policy(void **state)
{
	char path[PATH_MAX], err[256];
	struct elf_func_code c;
	struct x86_scan sc;
	size_t n;

	assert_int_equal(sym_ret_suffix("foo", &n), SYM_RET_AUTO);
	assert_int_equal(n, 3);
	assert_int_equal(sym_ret_suffix("foo%ret", &n), SYM_RET_SITES);
	assert_int_equal(n, 3);
	assert_int_equal(sym_ret_suffix("malloc@@GLIBC_2.2.5%uret", &n), SYM_RET_URETPROBE);
	assert_int_equal(n, 19);
	assert_int_equal(sym_ret_suffix("foo%bogus", &n), -1);
	{
		/* the default op name drops the suffix like a version; the symbol keeps it */
		struct op_spec op;

		assert_int_equal(spec_parse("native:/bin/x:_ZN1A1fEv%ret", &op, err, sizeof(err)), 0);
		assert_string_equal(op.name, "_ZN1A1fEv");
		assert_string_equal(op.symbol, "_ZN1A1fEv%ret");
		assert_int_equal(spec_parse("/bin/x:malloc@@GLIBC_2.2.5%uret", &op, err, sizeof(err)), 0);
		assert_string_equal(op.name, "malloc");
	}
	if (resolve_lib_search("libc.so.6", path, sizeof(path)))
		skip();
	/* glibc has a .gcc_except_table (-fexceptions, with the C personality) but is not C++:
	 * it keeps the cheaper uretprobe unless %ret asks */
	assert_int_equal(elf_func_code_load(path, "getppid%ret", &c, err, sizeof(err)), 0);
	assert_false(c.cxx_unwind);
	assert_int_equal(x86_scan_function(c.code, c.size, &sc), 0);
	assert_true(sc.nexits >= 1);
	elf_func_code_free(&c);
	assert_int_equal(elf_func_code_load(path, "getppid%nope", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "%ret"));
	elf_func_code_free(&c);
	if (resolve_lib_search("libstdc++.so.6", path, sizeof(path)))
		skip();
	assert_int_equal(elf_func_code_load(path, "__cxa_throw", &c, err, sizeof(err)), 0);
	assert_true(c.cxx_unwind);
	elf_func_code_free(&c);
	/* zlib: C without exception tables, the uretprobe stays */
	if (resolve_lib_search("libz.so.1", path, sizeof(path)))
		skip();
	assert_int_equal(elf_func_code_load(path, "zlibVersion", &c, err, sizeof(err)), 0);
	assert_false(c.cxx_unwind);
	elf_func_code_free(&c);
}

/* ---- against objdump ---- */

struct agree {
	unsigned long long insns, same, funcs, bad;
};

/* Decodes one function's bytes (from objdump's lines) and counts boundaries that agree. */
static void compare_func(const uint8_t *code, size_t n, const uint8_t *is_start, struct agree *a,
			 const char *name, unsigned long long base)
{
	size_t off = 0;

	a->funcs++;
	while (off < n) {
		struct x86_insn in;
		int r = x86_decode(code + off, n - off, &in);

		a->insns++;
		if (r > 0 && off + r <= n && (off + r == n || is_start[off + r])) {
			a->same++;
			off += r;
			continue;
		}
		if (a->bad++ < 10) {
			char hex[64] = "";

			for (size_t i = 0; i < 12 && off + i < n; i++)
				snprintf(hex + 2 * i, sizeof(hex) - 2 * i, "%02x", code[off + i]);
			print_message("  differs: %s+0x%zx (0x%llx) %s: ours %d\n", name, off, base + off, hex, r);
		}
		/* resynchronise at objdump's next boundary */
		for (off++; off < n && !is_start[off]; off++)
			;
	}
}

/* Parses `objdump -d -w -z` of PATH. Lines: "<hex addr> <name>:" opens a function,
 * "  addr:\tbytes\tmnemonic" is one instruction. */
static int objdump_compare(const char *path, struct agree *a)
{
	char cmd[PATH_MAX + 64], line[4096], name[256] = "";
	size_t cap = 1 << 20, n = 0;
	uint8_t *code = malloc(cap), *start = malloc(cap);
	unsigned long long base = 0, expect = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "objdump -d -w -z '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p || !code || !start)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		unsigned long long addr;
		char *tab, *bytes, label[256];

		if (sscanf(line, "%llx <%255[^>]>:", &addr, label) == 2 && line[0] != ' ') {
			if (n)
				compare_func(code, n, start, a, name, base);
			snprintf(name, sizeof(name), "%s", label);
			n = 0;
			base = expect = addr;
			continue;
		}
		if (line[0] != ' ' || sscanf(line, " %llx:", &addr) != 1 || !(tab = strchr(line, '\t')))
			continue;
		if (addr != expect) { /* a gap ("...") or a new section: start over */
			if (n)
				compare_func(code, n, start, a, name, base);
			n = 0;
			base = addr;
		}
		bytes = tab + 1;
		start[n] = 1;
		for (;;) {
			unsigned v;
			int used;

			while (*bytes == ' ')
				bytes++;
			if (sscanf(bytes, "%2x%n", &v, &used) != 1 || used != 2 ||
			    (bytes[2] != ' ' && bytes[2] != '\t' && bytes[2] != '\n'))
				break;
			if (n + 1 >= cap) {
				cap *= 2;
				code = realloc(code, cap);
				start = realloc(start, cap);
				if (!code || !start)
					return -1;
			}
			code[n] = v;
			start[++n] = 0;
			bytes += 2;
			if (*bytes == '\t')
				break;
		}
		expect = base + n;
	}
	if (n)
		compare_func(code, n, start, a, name, base);
	free(code);
	free(start);
	return pclose(p) == 0 ? 0 : -1;
}

static void against_objdump(const char *lib)
{
	char path[PATH_MAX];
	struct agree a = {};

	if (system("objdump --version >/dev/null 2>&1")) {
		print_message("SKIP: no objdump\n");
		skip();
	}
	if (resolve_lib_search(lib, path, sizeof(path))) {
		print_message("SKIP: %s not found\n", lib);
		skip();
	}
	assert_int_equal(objdump_compare(path, &a), 0);
	print_message("x86len vs objdump, %s: %llu of %llu instructions agree (%.4f%%) in %llu functions\n",
		      path, a.same, a.insns, a.insns ? 100.0 * a.same / a.insns : 0, a.funcs);
	assert_true(a.insns > 10000);
	/* objdump's own oddities (a prefix it prints apart) may differ; nothing else */
	assert_true(a.bad * 100000 <= a.insns);
}

static void test_objdump_libc(void **state)
{
	against_objdump("libc.so.6");
}

static void test_objdump_libstdcxx(void **state)
{
	against_objdump("libstdc++.so.6");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_rel_targets),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_suffix_and_policy),
		cmocka_unit_test(test_objdump_libc),
		cmocka_unit_test(test_objdump_libstdcxx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
