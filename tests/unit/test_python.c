// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/python.c on recorded memory images of live interpreters (tests/unit/data/NAME.img, made by
 * tools/pydump/record.sh from tools/pydump/target.py) and on synthetic data. No root, no live
 * process: the image stands in for process memory and the .expect file says what Python itself
 * reported (id(f.__code__), dis return sites, co_positions lines). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "python.h"

/* ------------------------------------------------------------------ images */

struct region {
	__u64 addr;
	__u32 len;
	__u8 *data;
};

struct image {
	__u32 version_hex;
	__u64 runtime;
	size_t n;
	struct region *r;
	size_t reads;
};

static int img_read(void *ctx, __u64 addr, void *buf, size_t len)
{
	struct image *im = ctx;
	size_t lo = 0, hi = im->n;

	im->reads++;
	/* Regions are sorted and merged: one of them holds the whole range or none does. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (im->r[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	struct region *g = &im->r[lo - 1];
	if (addr + len > g->addr + g->len || addr + len < addr)
		return -1;
	memcpy(buf, g->data + (addr - g->addr), len);
	return 0;
}

static const char *data_dir(void)
{
	static char dir[4096];
	const char *env = getenv("RAGD_TEST_DATA");
	const char *slash;

	if (env)
		return env;
	if (!access("tests/unit/data", R_OK))
		return "tests/unit/data";
	slash = strrchr(__FILE__, '/');
	snprintf(dir, sizeof(dir), "%.*s/data", slash ? (int)(slash - __FILE__) : 1,
		 slash ? __FILE__ : ".");
	return dir;
}

static struct image *img_load(const char *name)
{
	char path[4200];
	struct image *im;
	char magic[8];
	__u32 hdr[2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.img", data_dir(), name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: cannot open (run from the repo root or set RAGD_TEST_DATA)", path);
	im = calloc(1, sizeof(*im));
	assert_non_null(im);
	assert_int_equal(fread(magic, 1, 8, f), 8);
	assert_memory_equal(magic, "RGPYIMG1", 8);
	assert_int_equal(fread(hdr, sizeof(hdr), 1, f), 1);
	assert_int_equal(fread(&im->runtime, 8, 1, f), 1);
	im->version_hex = hdr[0];
	im->n = hdr[1];
	im->r = calloc(im->n, sizeof(*im->r));
	assert_non_null(im->r);
	for (size_t i = 0; i < im->n; i++) {
		__u32 l[2];

		assert_int_equal(fread(&im->r[i].addr, 8, 1, f), 1);
		assert_int_equal(fread(l, sizeof(l), 1, f), 1);
		im->r[i].len = l[0];
		im->r[i].data = malloc(l[0] + 8);
		assert_non_null(im->r[i].data);
		assert_int_equal(fread(im->r[i].data, 1, (l[0] + 7) / 8 * 8, f), (l[0] + 7) / 8 * 8);
		if (i)
			assert_true(im->r[i].addr > im->r[i - 1].addr + im->r[i - 1].len);
	}
	fclose(f);
	return im;
}

static void img_free(struct image *im)
{
	for (size_t i = 0; i < im->n; i++)
		free(im->r[i].data);
	free(im->r);
	free(im);
}

/* Writes into the image (a test changing the "process"). */
static void img_poke(struct image *im, __u64 addr, const void *buf, size_t len)
{
	for (size_t i = 0; i < im->n; i++)
		if (addr >= im->r[i].addr && addr + len <= im->r[i].addr + im->r[i].len) {
			memcpy(im->r[i].data + (addr - im->r[i].addr), buf, len);
			return;
		}
	fail_msg("poke 0x%llx: not in the image", (unsigned long long)addr);
}

/* ------------------------------------------------------------------ expectations */

struct exp_fn {
	char suffix[128], name[128], qual[128], file[512];
	__u64 code;
	int first, nunits, nret, nlines;
	unsigned flags;
	int rets[32];
	int *lines;
};

struct expect {
	struct exp_fn fn[32];
	int nfn;
	char missing[16][2][128];
	int nmissing;
};

static struct expect *exp_load(const char *name)
{
	char path[4200], *line = NULL;
	size_t cap = 0;
	struct expect *e = calloc(1, sizeof(*e));
	struct exp_fn *cur = NULL;
	FILE *f;

	assert_non_null(e);
	snprintf(path, sizeof(path), "%s/%s.expect", data_dir(), name);
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s: cannot open", path);
	while (getline(&line, &cap, f) > 0) {
		unsigned long long code;

		line[strcspn(line, "\n")] = 0;
		if (e->nmissing < 16 && !strncmp(line, "missing ", 8)) {
			assert_int_equal(sscanf(line, "missing %127s %127s", e->missing[e->nmissing][0],
						e->missing[e->nmissing][1]), 2);
			e->nmissing++;
		} else if (!strncmp(line, "fn ", 3)) {
			assert_true(e->nfn < 32);
			cur = &e->fn[e->nfn++];
			assert_int_equal(sscanf(line, "fn %127s %127s %llx %d %u %d", cur->suffix,
						cur->name, &code, &cur->first, &cur->flags,
						&cur->nunits), 6);
			cur->code = code;
		} else if (cur && !strncmp(line, "file ", 5)) {
			snprintf(cur->file, sizeof(cur->file), "%s", line + 5);
		} else if (cur && !strncmp(line, "qual ", 5)) {
			snprintf(cur->qual, sizeof(cur->qual), "%s", line + 5);
		} else if (cur && !strncmp(line, "rets ", 5)) {
			char *p = line + 5, *end;

			cur->nret = strtol(p, &end, 10);
			for (int i = 0; i < cur->nret && i < 32; i++)
				cur->rets[i] = strtol(end, &end, 10);
		} else if (cur && !strncmp(line, "lines ", 6)) {
			char *p = line + 6, *end;

			cur->lines = calloc(cur->nunits + 1, sizeof(int));
			assert_non_null(cur->lines);
			while (cur->nlines < cur->nunits) {
				long l = strtol(p, &end, 10);

				if (end == p)
					break;
				cur->lines[cur->nlines++] = l;
				p = end;
			}
		}
	}
	free(line);
	fclose(f);
	assert_true(e->nfn >= 10);
	return e;
}

static void exp_free(struct expect *e)
{
	for (int i = 0; i < e->nfn; i++)
		free(e->fn[i].lines);
	free(e);
}

static const struct exp_fn *exp_find(const struct expect *e, const char *name)
{
	for (int i = 0; i < e->nfn; i++)
		if (!strcmp(e->fn[i].name, name))
			return &e->fn[i];
	fail_msg("no %s in the expectations", name);
	return NULL;
}

/* ------------------------------------------------------------------ fixture */

struct fix {
	const char *name;
	unsigned minor;
	struct image *im;
	struct expect *ex;
	struct py_target t;
};

static int setup(void **state)
{
	struct fix *fx = *state;
	char err[256];

	fx->im = img_load(fx->name);
	fx->ex = exp_load(fx->name);
	memset(&fx->t, 0, sizeof(fx->t));
	fx->t.version_hex = fx->im->version_hex;
	fx->t.runtime = fx->im->runtime;
	fx->t.mem.read = img_read;
	fx->t.mem.ctx = fx->im;
	if (py_offsets_for(&fx->t, err, sizeof(err)))
		fail_msg("%s: py_offsets_for: %s", fx->name, err);
	return 0;
}

static int teardown(void **state)
{
	struct fix *fx = *state;

	img_free(fx->im);
	exp_free(fx->ex);
	return 0;
}

/* ------------------------------------------------------------------ tests on images */

static void test_offsets(void **state)
{
	struct fix *fx = *state;
	const struct py_offsets *o = &fx->t.off;
	static const int adaptive[] = { [11] = 184, [12] = 192, [13] = 200, [14] = 208 };
	static const int owner[] = { [11] = 69, [12] = 70, [13] = 70, [14] = 74 };
	static const int modules[] = { [11] = 888, [12] = 944, [13] = 7656, [14] = 7688 };

	assert_int_equal((fx->t.version_hex >> 16) & 0xff, fx->minor);
	assert_int_equal(o->version_hex, fx->t.version_hex);
	assert_int_equal(o->code_adaptive, adaptive[fx->minor]);
	assert_int_equal(o->frame_owner, owner[fx->minor]);
	assert_int_equal(fx->t.uoff.interp_modules, modules[fx->minor]);
	assert_int_equal(o->code_filename, 112);
	assert_int_equal(o->code_qualname, 128);
	assert_int_equal(o->code_firstlineno, fx->minor == 11 ? 72 : 68);
	assert_int_equal(o->str_ascii_data, fx->minor == 11 ? 48 : 40);
	assert_int_equal(o->tstate_cframe, fx->minor >= 13 ? -1 : 56);
	assert_int_equal(o->owner_cstack, fx->minor == 11 ? 0 : 3);
	assert_true(o->code_ptr_mask == (fx->minor >= 14 ? ~3ull : ~0ull));
	if (fx->minor >= 13)
		/* The image holds _Py_DebugOffsets: it must be used and agree with the table. */
		assert_string_equal(fx->t.offsets_note,
				    fx->minor == 13 ? "_Py_DebugOffsets (same as the built-in 3.13 table)"
						    : "_Py_DebugOffsets (same as the built-in 3.14 table)");
	else
		assert_non_null(strstr(fx->t.offsets_note, "built-in table"));

	/* Without memory (version known from the ELF only) the built-in table is used. */
	struct py_target bare = { .version_hex = fx->t.version_hex };
	assert_int_equal(py_offsets_for(&bare, NULL, 0), 0);
	assert_memory_equal(&bare.off, &fx->t.off, sizeof(bare.off));
	assert_memory_equal(&bare.uoff, &fx->t.uoff, sizeof(bare.uoff));
}

static void test_find(void **state)
{
	struct fix *fx = *state;

	for (int i = 0; i < fx->ex->nfn; i++) {
		const struct exp_fn *f = &fx->ex->fn[i];
		__u64 code = 0;
		int r = py_find_function(&fx->t, f->suffix, f->name, &code);

		if (r != 1 || code != f->code)
			fail_msg("%s %s: %d 0x%llx, want 0x%llx", fx->name, f->name, r,
				 (unsigned long long)code, (unsigned long long)f->code);
	}
	for (int i = 0; i < fx->ex->nmissing; i++) {
		__u64 code = 0;
		int r = py_find_function(&fx->t, fx->ex->missing[i][0], fx->ex->missing[i][1], &code);

		if (r != 0)
			fail_msg("%s %s:%s: %d, want 0", fx->name, fx->ex->missing[i][0],
				 fx->ex->missing[i][1], r);
	}
	/* The suffix may carry more of the path, or be the whole path. */
	const struct exp_fn *p = exp_find(fx->ex, "plain");
	__u64 code = 0;
	assert_int_equal(py_find_function(&fx->t, "tools/pydump/sample_mod.py", "plain", &code), 1);
	assert_true(code == p->code);
	assert_int_equal(py_find_function(&fx->t, p->file, "plain", &code), 1);
	assert_true(code == p->code);
}

/* Many reads in one call, as process_vm_readv with many iovecs: counted as one read. */
static void img_readv(void *ctx, struct mem_req *r, int n)
{
	struct image *im = ctx;
	size_t before = im->reads;

	for (int i = 0; i < n; i++)
		r[i].ok = !img_read(ctx, r[i].addr, r[i].buf, r[i].len);
	im->reads = before + 1;
}

/* Batched reads find the same code objects (and report the same misses) with far fewer
 * calls into the target than one read at a time. */
static void test_find_batched(void **state)
{
	struct fix *fx = *state;
	size_t single, batched;
	__u64 code;

	for (int pass = 0; pass < 2; pass++) {
		fx->t.mem.readv = pass ? img_readv : NULL;
		fx->im->reads = 0;
		for (int i = 0; i < fx->ex->nfn; i++) {
			const struct exp_fn *f = &fx->ex->fn[i];

			code = 0;
			if (py_find_function(&fx->t, f->suffix, f->name, &code) != 1 || code != f->code)
				fail_msg("%s %s (readv %d): 0x%llx, want 0x%llx", fx->name, f->name, pass,
					 (unsigned long long)code, (unsigned long long)f->code);
		}
		for (int i = 0; i < fx->ex->nmissing; i++)
			assert_int_equal(py_find_function(&fx->t, fx->ex->missing[i][0],
							  fx->ex->missing[i][1], &code), 0);
		if (pass)
			batched = fx->im->reads;
		else
			single = fx->im->reads;
	}
	fx->t.mem.readv = NULL;
	if (batched * 10 > single * 7)
		fail_msg("%s: %zu reads batched vs %zu one at a time", fx->name, batched, single);
}

/* One-register scheme (and 3.14's pushed-frame lookup at entry): frame size from the code
 * objects in the image. On 3.12+ co_framesize must equal co_nlocalsplus + co_stacksize +
 * FRAME_SPECIALS_SIZE (9; 10 on 3.14), which checks all three offsets; 3.11 computes it from
 * the other two. */
static void test_rc_offsets(void **state)
{
	struct fix *fx = *state;
	const struct py_offsets *o = &fx->t.off;
	static const unsigned scheme[] = { [11] = 1, [12] = 2, [13] = 2, [14] = 3 };
	int specials = fx->minor >= 14 ? 10 : 9;

	assert_int_equal(o->rc_scheme, scheme[fx->minor]);
	assert_int_equal(o->entry_before_link, fx->minor >= 12);
	assert_int_equal(o->chunk_data, 24);
	assert_int_equal(o->tstate_datastack_top, o->tstate_datastack_chunk + 8);
	assert_int_equal(o->code_framesize, fx->minor == 11 ? -1 : 76);
	for (int i = 0; i < fx->ex->nfn; i++) {
		__s32 nl = -1, ss = -1, fs = -1;
		__u64 code = fx->ex->fn[i].code;

		assert_int_equal(img_read(fx->im, code + o->code_nlocalsplus, &nl, 4), 0);
		assert_int_equal(img_read(fx->im, code + o->code_stacksize, &ss, 4), 0);
		if (nl < 0 || nl >= 64 || ss < 0 || ss >= 64)
			fail_msg("%s %s: co_nlocalsplus %d, co_stacksize %d", fx->name,
				 fx->ex->fn[i].name, nl, ss);
		if (o->code_framesize < 0)
			continue;
		assert_int_equal(img_read(fx->im, code + o->code_framesize, &fs, 4), 0);
		if (fs != nl + ss + specials)
			fail_msg("%s %s: co_framesize %d, nlocalsplus %d, stacksize %d", fx->name,
				 fx->ex->fn[i].name, fs, nl, ss);
	}
}

static void test_code_read(void **state)
{
	struct fix *fx = *state;

	for (int i = 0; i < fx->ex->nfn; i++) {
		const struct exp_fn *f = &fx->ex->fn[i];
		struct py_code_info ci;

		assert_int_equal(py_code_read(&fx->t, f->code, &ci), 0);
		assert_true(ci.addr == f->code);
		assert_string_equal(ci.qualname, f->qual);
		assert_string_equal(ci.filename, f->file);
		assert_int_equal(ci.firstlineno, f->first);
		assert_int_equal(ci.flags, f->flags);
		assert_int_equal(ci.ncode_units, f->nunits);
		assert_true(ci.bytecode == f->code + fx->t.off.code_adaptive);
		assert_false(ci.ret_partial);
		if (ci.nret_total != (unsigned)f->nret)
			fail_msg("%s %s: %u return sites, want %d", fx->name, f->name, ci.nret_total,
				 f->nret);
		for (int r = 0; r < f->nret && r < PY_MAX_RET; r++)
			assert_int_equal(ci.ret_units[r], f->rets[r]);
		assert_int_equal(ci.is_generator, !strcmp(f->name, "gen") || !strcmp(f->name, "coro"));
		/* The tag formula BPF uses: firstlineno ^ low 32 bits of co_qualname. */
		__u64 qual;
		assert_int_equal(fx->t.mem.read(fx->t.mem.ctx, f->code + fx->t.off.code_qualname,
						&qual, 8), 0);
		assert_int_equal(ci.tag, (__u32)f->first ^ (__u32)qual);
	}
	/* Not a code object: a function object, a str, garbage. */
	struct py_code_info ci;
	assert_int_equal(py_code_read(&fx->t, fx->t.runtime, &ci), -1);
	assert_int_equal(py_code_read(&fx->t, 0, &ci), -1);
	assert_int_equal(py_code_read(&fx->t, 0xdead0000ull, &ci), -1);
}

static void test_monitored(void **state)
{
	struct fix *fx = *state;
	const struct exp_fn *f = exp_find(fx->ex, "monitored");
	struct py_code_info ci;
	__u16 unit;
	int instrumented = 0;

	/* 3.12+: sys.monitoring put INSTRUMENTED_LINE / _INSTRUCTION over the real opcodes;
	 * the return site is still found through _co_monitoring. */
	assert_int_equal(py_code_read(&fx->t, f->code, &ci), 0);
	for (unsigned u = 0; u < ci.ncode_units; u++) {
		assert_int_equal(fx->t.mem.read(fx->t.mem.ctx, ci.bytecode + 2 * u, &unit, 2), 0);
		if ((unit & 0xff) == 254)
			instrumented++;
	}
	if (fx->minor >= 12)
		assert_true(instrumented > 0);
	assert_int_equal(ci.nret, 1);
	assert_int_equal(ci.ret_units[0], f->rets[0]);
}

static void test_lines(void **state)
{
	struct fix *fx = *state;

	for (int i = 0; i < fx->ex->nfn; i++) {
		const struct exp_fn *f = &fx->ex->fn[i];

		assert_int_equal(f->nlines, f->nunits);
		for (int u = 0; u < f->nlines; u++) {
			int l = py_code_line(&fx->t, f->code, u);

			if (l != f->lines[u])
				fail_msg("%s %s: unit %d line %d, want %d", fx->name, f->name, u, l,
					 f->lines[u]);
		}
		assert_int_equal(py_code_line(&fx->t, f->code, f->nunits), -1);
	}
	/* A 3.11/3.12 frame that has not run yet has lasti -1: its first line. */
	const struct exp_fn *p = exp_find(fx->ex, "plain");
	assert_int_equal(py_code_line(&fx->t, p->code, (__u32)-1), p->lines[0]);
}

static void test_symcache(void **state)
{
	struct fix *fx = *state;
	const struct exp_fn *f = exp_find(fx->ex, "Outer.method");
	struct py_symcache *c = py_symcache_new(&fx->t);
	const struct py_sym *s;
	struct py_code_info ci;
	size_t before;
	__s32 first;

	assert_non_null(c);
	assert_int_equal(py_code_read(&fx->t, f->code, &ci), 0);
	s = py_symcache_get(c, f->code, ci.tag);
	assert_non_null(s);
	assert_string_equal(s->qualname, "Outer.method");
	assert_string_equal(s->name, "Outer.method (sample_mod.py)");
	assert_string_equal(s->file, f->file);
	assert_int_equal(s->firstlineno, f->first);
	assert_int_equal(py_symcache_line(c, f->code, ci.tag, f->nunits - 1), f->lines[f->nunits - 1]);
	/* A hit reads nothing. */
	before = fx->im->reads;
	assert_ptr_equal(py_symcache_get(c, f->code, ci.tag), s);
	assert_int_equal(py_symcache_line(c, f->code, ci.tag, 0), f->lines[0]);
	assert_int_equal(fx->im->reads, before);

	/* The code object at that address changes (freed, address reused): samples now carry
	 * the new tag, which makes the cache read the address again. */
	first = f->first + 1000;
	img_poke(fx->im, f->code + fx->t.off.code_firstlineno, &first, sizeof(first));
	assert_ptr_equal(py_symcache_get(c, f->code, ci.tag), s); /* old tag: still the old one */
	s = py_symcache_get(c, f->code, ci.tag ^ (__u32)f->first ^ (__u32)first);
	assert_non_null(s);
	assert_int_equal(s->firstlineno, first);
	assert_int_equal(py_symcache_line(c, f->code, ci.tag ^ (__u32)f->first ^ (__u32)first, 0),
			 f->lines[0] + 1000);
	/* A late sample of the old code object: not there any more, and not read again. */
	assert_null(py_symcache_get(c, f->code, ci.tag));
	before = fx->im->reads;
	assert_null(py_symcache_get(c, f->code, ci.tag));
	assert_int_equal(fx->im->reads, before);
	/* The same tag at the same address again (a reload): found within 64 lookups. */
	first = f->first;
	img_poke(fx->im, f->code + fx->t.off.code_firstlineno, &first, sizeof(first));
	s = NULL;
	for (int i = 0; i < 64 && !s; i++)
		s = py_symcache_get(c, f->code, ci.tag);
	assert_non_null(s);
	assert_int_equal(s->firstlineno, f->first);

	/* Unreadable addresses, many entries (the table grows). */
	assert_null(py_symcache_get(c, 0xdead0000ull, 1));
	for (int i = 0; i < fx->ex->nfn; i++) {
		struct py_code_info o;

		assert_int_equal(py_code_read(&fx->t, fx->ex->fn[i].code, &o), 0);
		assert_non_null(py_symcache_get(c, fx->ex->fn[i].code, o.tag));
	}
	for (__u64 a = 0x10000; a < 0x10000 + 600 * 16; a += 16)
		assert_null(py_symcache_get(c, a, 7));
	s = py_symcache_get(c, f->code, ci.tag);
	assert_non_null(s);
	assert_string_equal(s->qualname, "Outer.method");
	py_symcache_free(c);
}

/* Garbage around real structures must not crash or loop: every pointer in a copy of the image
 * is perturbed in turn. */
static int flip_read(void *ctx, __u64 addr, void *buf, size_t len)
{
	struct image *im = ctx;
	int r = img_read(im, addr, buf, len);

	if (!r && len >= 8 && (im->reads % 7) == 3)
		((__u8 *)buf)[len / 2] ^= 0x5a;
	return r;
}

static void test_garbage(void **state)
{
	struct fix *fx = *state;
	struct py_target t = fx->t;
	struct py_code_info ci;
	__u64 code;

	t.mem.read = flip_read;
	for (int i = 0; i < fx->ex->nfn; i++) {
		const struct exp_fn *f = &fx->ex->fn[i];

		memset(t.type_cache, 0, sizeof(t.type_cache));
		(void)py_find_function(&t, f->suffix, f->name, &code);
		(void)py_code_read(&t, f->code, &ci);
		(void)py_code_line(&t, f->code, 3);
	}
	/* A runtime address with nothing behind it. */
	t = fx->t;
	t.runtime = 0x1000000;
	assert_int_equal(py_find_function(&t, "x.py", "f", &code), -1);
}

/* ------------------------------------------------------------------ synthetic */

static void test_linetable(void **state)
{
	/* firstlineno 10:
	 *   2 units short form (code 0, same line)        -> 10
	 *   3 units one-line form delta +2 (code 12)      -> 12
	 *   1 unit no location (code 15)                   -> -1
	 *   2 units no column, delta -5 (code 13, svarint 11) -> 7
	 *   1 unit long form: delta +300 (svarint 600 = 24 + 9<<6: bytes 0x58 0x09), end line 0,
	 *          column 5, end column 9                 -> 307 */
	static const __u8 tab[] = {
		0x80 | (0 << 3) | 1, 0x03,
		0x80 | (12 << 3) | 2, 0x04, 0x08,
		0x80 | (15 << 3) | 0,
		0x80 | (13 << 3) | 1, 11,
		0x80 | (14 << 3) | 0, 0x58, 0x09, 0x00, 0x06, 0x0a,
	};

	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 0), 10);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 1), 10);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 2), 12);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 4), 12);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 5), -1);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 6), 7);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 7), 7);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 8), 307);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 9), -1);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, (__u32)-1), 10);
	/* Truncated or not starting with an entry byte. */
	assert_int_equal(py_linetable_line(tab, 10, 10, 8), -1);
	assert_int_equal(py_linetable_line(tab + 1, sizeof(tab) - 1, 10, 0), -1);
	assert_int_equal(py_linetable_line(tab, 0, 10, 0), -1);
}

static void test_tag(void **state)
{
	assert_int_equal(py_code_tag(12, 0x7f0012345678ull), 12u ^ 0x12345678u);
	assert_int_equal(py_code_tag(-1, 0), 0xffffffffu);
}

static void test_versions(void **state)
{
	struct py_target t = { 0 };
	char err[128];

	t.version_hex = 0x030a0df0;
	assert_int_equal(py_offsets_for(&t, err, sizeof(err)), -1);
	assert_string_equal(err, "Python 3.10 is not supported (3.11-3.14)");
	t.version_hex = 0x030f00a1;
	assert_int_equal(py_offsets_for(&t, err, sizeof(err)), -1);
	t.version_hex = 0x020712f0;
	assert_int_equal(py_offsets_for(&t, NULL, 0), -1);
	for (unsigned m = 11; m <= 14; m++) {
		t.version_hex = 0x03000000 | (m << 16) | 0xf0;
		assert_int_equal(py_offsets_for(&t, err, sizeof(err)), 0);
		assert_int_equal(t.off.version_hex, t.version_hex);
		assert_int_equal(t.off.tstate_next, 8);
	}
}

static void test_detect_errors(void **state)
{
	struct py_target t;
	char err[256];

	/* Ourselves: a C program, no _PyRuntime anywhere. */
	assert_int_equal(py_detect(getpid(), &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a Python process"));
	assert_int_equal(py_detect(999999999, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pid 999999999: "));
}

#define IMG_TESTS(fx)                                                                      \
	cmocka_unit_test_prestate_setup_teardown(test_offsets, setup, teardown, &fx),       \
	cmocka_unit_test_prestate_setup_teardown(test_find, setup, teardown, &fx),          \
	cmocka_unit_test_prestate_setup_teardown(test_find_batched, setup, teardown, &fx),  \
	cmocka_unit_test_prestate_setup_teardown(test_code_read, setup, teardown, &fx),     \
	cmocka_unit_test_prestate_setup_teardown(test_rc_offsets, setup, teardown, &fx),    \
	cmocka_unit_test_prestate_setup_teardown(test_monitored, setup, teardown, &fx),     \
	cmocka_unit_test_prestate_setup_teardown(test_lines, setup, teardown, &fx),         \
	cmocka_unit_test_prestate_setup_teardown(test_symcache, setup, teardown, &fx),      \
	cmocka_unit_test_prestate_setup_teardown(test_garbage, setup, teardown, &fx)

int main(void)
{
	static struct fix f311d = { .name = "py311d", .minor = 11 },
			  f311 = { .name = "py311", .minor = 11 },
			  f312 = { .name = "py312", .minor = 12 },
			  f313 = { .name = "py313", .minor = 13 },
			  f314 = { .name = "py314", .minor = 14 };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linetable),
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_detect_errors),
		IMG_TESTS(f311d),
		IMG_TESTS(f311),
		IMG_TESTS(f312),
		IMG_TESTS(f313),
		IMG_TESTS(f314),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
