// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Records the memory user/python.c touches in a live Python into a small image for the unit
 * tests, and checks the live answers against what Python said about itself (target.py's
 * EXPECT file) on the way. Root (or ptrace rights on PID) needed.
 *
 *   pydump PID EXPECT OUT.img
 *
 * Image: "RGPYIMG1", u32 version_hex, u32 nregions, u64 runtime, then per region u64 addr,
 * u32 len, u32 0, len bytes padded to 8. Little-endian. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "python.h"

struct region {
	__u64 addr;
	__u32 len;
	__u8 *data;
};

struct recorder {
	struct mem_reader live;
	struct region *r;
	size_t n, cap;
};

static int rec_add(struct recorder *rc, __u64 addr, size_t len)
{
	struct region *g;

	if (rc->n == rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 256;
		struct region *nr = realloc(rc->r, cap * sizeof(*nr));

		if (!nr)
			return -1;
		rc->r = nr;
		rc->cap = cap;
	}
	g = &rc->r[rc->n];
	g->data = malloc(len);
	if (!g->data || rc->live.read(rc->live.ctx, addr, g->data, len)) {
		free(g->data);
		return -1;
	}
	g->addr = addr;
	g->len = len;
	rc->n++;
	return 0;
}

/* Reads through to the process and keeps what was read, widened to 16-byte blocks when
 * those are readable too (so small changes in how the walker reads still find the bytes). */
static int rec_read(void *ctx, __u64 addr, void *buf, size_t len)
{
	struct recorder *rc = ctx;
	__u64 lo = addr & ~15ull, hi = (addr + len + 15) & ~15ull;

	if (rc->live.read(rc->live.ctx, addr, buf, len))
		return -1;
	if (rec_add(rc, lo, hi - lo))
		rec_add(rc, addr, len);
	return 0;
}

static int cmp_region(const void *a, const void *b)
{
	const struct region *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int write_image(struct recorder *rc, const struct py_target *t, const char *path)
{
	struct region *m = calloc(rc->n ? rc->n : 1, sizeof(*m));
	size_t nm = 0, total = 0;
	FILE *f;

	if (!m)
		return -1;
	qsort(rc->r, rc->n, sizeof(*rc->r), cmp_region);
	/* Merge overlapping and touching regions. */
	for (size_t i = 0; i < rc->n; i++) {
		struct region *g = &rc->r[i];

		if (nm && g->addr <= m[nm - 1].addr + m[nm - 1].len) {
			struct region *p = &m[nm - 1];
			__u64 end = g->addr + g->len;

			if (end > p->addr + p->len) {
				size_t nl = end - p->addr;
				__u8 *nd = realloc(p->data, nl);

				if (!nd)
					return -1;
				memcpy(nd + (g->addr - p->addr), g->data, g->len);
				p->data = nd;
				p->len = nl;
			}
			continue;
		}
		m[nm].addr = g->addr;
		m[nm].len = g->len;
		m[nm].data = malloc(g->len);
		if (!m[nm].data)
			return -1;
		memcpy(m[nm].data, g->data, g->len);
		nm++;
	}
	f = fopen(path, "wb");
	if (!f)
		return -1;
	{
		__u32 hdr[2] = { t->version_hex, (__u32)nm };
		__u64 rt = t->runtime;

		fwrite("RGPYIMG1", 1, 8, f);
		fwrite(hdr, sizeof(hdr), 1, f);
		fwrite(&rt, sizeof(rt), 1, f);
	}
	for (size_t i = 0; i < nm; i++) {
		__u32 l[2] = { m[i].len, 0 };
		static const __u8 zero[8];

		fwrite(&m[i].addr, 8, 1, f);
		fwrite(l, sizeof(l), 1, f);
		fwrite(m[i].data, 1, m[i].len, f);
		fwrite(zero, 1, (8 - m[i].len % 8) % 8, f);
		total += m[i].len;
		free(m[i].data);
	}
	free(m);
	for (size_t i = 0; i < rc->n; i++)
		free(rc->r[i].data);
	free(rc->r);
	fclose(f);
	fprintf(stderr, "%s: %zu regions, %zu bytes\n", path, nm, total);
	return 0;
}

static int failures;

#define CHECK(cond, ...)                                  \
	do {                                              \
		if (!(cond)) {                            \
			failures++;                       \
			fprintf(stderr, "MISMATCH: " __VA_ARGS__); \
			fputc('\n', stderr);              \
		}                                         \
	} while (0)

int main(int argc, char **argv)
{
	struct recorder rc = { 0 };
	struct py_target t;
	struct py_symcache *sc;
	char err[512], line[1 << 16];
	FILE *ex;
	int nfn = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PID EXPECT OUT.img\n", argv[0]);
		return 2;
	}
	if (py_detect(atoi(argv[1]), &t, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	fprintf(stderr, "Python %s (0x%08x) in %s, bias 0x%llx, _PyRuntime 0x%llx\n", t.version,
		t.version_hex, t.elf_path, (unsigned long long)t.load_bias,
		(unsigned long long)t.runtime);
	fprintf(stderr, "offsets: %s\n", t.offsets_note);
	rc.live = t.mem;
	t.mem.read = rec_read;
	t.mem.ctx = &rc;
	if (py_offsets_for(&t, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	sc = py_symcache_new(&t);
	ex = fopen(argv[2], "r");
	if (!ex) {
		perror(argv[2]);
		return 1;
	}
	while (fgets(line, sizeof(line), ex)) {
		char suffix[512], qual[256];
		unsigned long long want;
		int first, nunits;
		unsigned flags;
		__u64 code = 0;
		struct py_code_info ci;

		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "missing %511s %255s", suffix, qual) == 2) {
			int r = py_find_function(&t, suffix, qual, &code);

			CHECK(r == 0, "%s:%s found (%d, 0x%llx)", suffix, qual, r, (unsigned long long)code);
			continue;
		}
		if (sscanf(line, "fn %511s %255s %llx %d %u %d", suffix, qual, &want, &first, &flags,
			   &nunits) != 6)
			continue;
		nfn++;
		int r = py_find_function(&t, suffix, qual, &code);

		CHECK(r == 1 && code == want, "%s:%s -> %d 0x%llx, want 0x%llx", suffix, qual, r,
		      (unsigned long long)code, want);
		if (py_code_read(&t, want, &ci)) {
			CHECK(0, "%s: py_code_read failed", qual);
			continue;
		}
		CHECK(ci.firstlineno == first && ci.flags == flags && (int)ci.ncode_units == nunits,
		      "%s: firstlineno %d/%d flags %u/%u units %u/%d", qual, ci.firstlineno, first,
		      ci.flags, flags, ci.ncode_units, nunits);
		CHECK(!ci.ret_partial, "%s: return sites partial", qual);
		/* The next lines of the file: file, qual, rets, lines. */
		while (fgets(line, sizeof(line), ex)) {
			line[strcspn(line, "\n")] = 0;
			if (!strncmp(line, "file ", 5)) {
				CHECK(!strcmp(ci.filename, line + 5), "%s: file %s", qual, ci.filename);
			} else if (!strncmp(line, "qual ", 5)) {
				CHECK(!strcmp(ci.qualname, line + 5), "%s: qualname %s", qual, ci.qualname);
			} else if (!strncmp(line, "rets ", 5)) {
				char *p = line + 5, *e;
				unsigned n = strtoul(p, &e, 10);

				CHECK(n == ci.nret_total, "%s: %u return sites, want %u", qual,
				      ci.nret_total, n);
				for (unsigned i = 0; i < n && i < ci.nret; i++) {
					unsigned u = strtoul(e, &e, 10);

					CHECK(ci.ret_units[i] == u, "%s: return site %u at %u, want %u",
					      qual, i, ci.ret_units[i], u);
				}
			} else if (!strncmp(line, "lines ", 6)) {
				char *p = line + 6, *e;
				int bad = 0;

				for (unsigned u = 0; *p; u++, p = e) {
					long l = strtol(p, &e, 10);

					if (e == p)
						break;
					if (py_code_line(&t, want, u) != l && bad++ < 3)
						CHECK(0, "%s: unit %u line %d, want %ld", qual, u,
						      py_code_line(&t, want, u), l);
				}
				const struct py_sym *s = py_symcache_get(sc, want, ci.tag);

				CHECK(s && !strcmp(s->qualname, ci.qualname), "%s: symcache", qual);
				break;
			}
		}
	}
	fclose(ex);
	py_symcache_free(sc);
	fprintf(stderr, "%d functions checked, %d mismatches\n", nfn, failures);
	if (write_image(&rc, &t, argv[3]))
		fprintf(stderr, "%s: %s\n", argv[3], strerror(errno));
	return failures ? 1 : 0;
}
