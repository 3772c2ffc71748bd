// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ELF symbol lookup (libelf) and library/binary path resolution. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"
#include "symbols.h"

#ifndef RAGD_MULTIARCH
#if defined(__x86_64__)
#define RAGD_MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define RAGD_MULTIARCH "aarch64-linux-gnu"
#elif defined(__i386__)
#define RAGD_MULTIARCH "i386-linux-gnu"
#elif defined(__arm__)
#define RAGD_MULTIARCH "arm-linux-gnueabihf"
#elif defined(__riscv) && __riscv_xlen == 64
#define RAGD_MULTIARCH "riscv64-linux-gnu"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define RAGD_MULTIARCH "powerpc64le-linux-gnu"
#elif defined(__s390x__)
#define RAGD_MULTIARCH "s390x-linux-gnu"
#else
#define RAGD_MULTIARCH ""
#endif
#endif

#define SUGGEST_SCAN_MAX 500000 /* symbols looked at for suggestions: bounds work on huge libs */


static int copy_out(const char *s, char *out, size_t outlen)
{
	size_t n = strlen(s);

	if (n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, s, n + 1);
	return 0;
}

/* ---- opening ---- */

struct elfh {
	int fd;
	Elf *e;
};

static void elfh_close(struct elfh *h)
{
	if (h->e)
		elf_end(h->e);
	if (h->fd >= 0)
		close(h->fd);
	h->e = NULL;
	h->fd = -1;
}

/* On failure errno is set (ENOEXEC for "not ELF") and err, if given, says why. */
static int elfh_open(const char *path, struct elfh *h, char *err, size_t errlen)
{
	struct stat st;
	int e;

	h->fd = -1;
	h->e = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		seterr(err, errlen, "%s: libelf: %s", path, elf_errmsg(-1));
		errno = EINVAL;
		return -1;
	}
	/* a FIFO or device as probe target would block or never end: regular files only */
	h->fd = open_regular(path);
	if (h->fd < 0 || fstat(h->fd, &st)) {
		e = errno;
		seterr(err, errlen, "%s: %s", path, e == EINVAL ? "not a regular file" : strerror(e));
		elfh_close(h);
		errno = e;
		return -1;
	}
	h->e = elf_begin(h->fd, ELF_C_READ_MMAP, NULL);
	if (!h->e || elf_kind(h->e) != ELF_K_ELF) {
		seterr(err, errlen, "%s: not an ELF file", path);
		elfh_close(h);
		errno = ENOEXEC;
		return -1;
	}
	return 0;
}

/* ---- symbol tables ---- */

/* Version names of .gnu.version_d, by version index; strings belong to the Elf. */
struct verdefs {
	Elf_Data *versym;     /* NULL: no versioning */
	const char **names;
	size_t n;
};

static void verdefs_load(Elf *e, size_t dynsym_ndx, struct verdefs *v)
{
	Elf_Scn *scn = NULL, *vd_scn = NULL;
	GElf_Shdr sh, vd_sh = {};
	size_t off, max = 0, i;

	memset(v, 0, sizeof(*v));
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_GNU_versym && sh.sh_link == dynsym_ndx)
			v->versym = elf_getdata(scn, NULL);
		else if (sh.sh_type == SHT_GNU_verdef) {
			vd_scn = scn;
			vd_sh = sh;
		}
	}
	if (!v->versym || !vd_scn)
		return;
	Elf_Data *d = elf_getdata(vd_scn, NULL);
	if (!d)
		return;
	/* two passes: highest index first, then names */
	for (int pass = 0; pass < 2; pass++) {
		off = 0;
		for (i = 0; i < 4096; i++) {
			GElf_Verdef vd;
			GElf_Verdaux aux;

			if (!gelf_getverdef(d, off, &vd))
				break;
			if (pass == 0) {
				if (vd.vd_ndx > max)
					max = vd.vd_ndx;
			} else if (vd.vd_ndx < v->n && vd.vd_cnt &&
				   gelf_getverdaux(d, off + vd.vd_aux, &aux)) {
				v->names[vd.vd_ndx] = elf_strptr(e, vd_sh.sh_link, aux.vda_name);
			}
			if (!vd.vd_next)
				break;
			off += vd.vd_next;
		}
		if (pass == 0) {
			v->names = calloc(max + 1, sizeof(*v->names));
			if (!v->names)
				return;
			v->n = max + 1;
		}
	}
}

static void verdefs_free(struct verdefs *v)
{
	free(v->names);
	memset(v, 0, sizeof(*v));
}

/* One symbol as the callback sees it: base name (without "@VER"), version (NULL if none). */
struct symv {
	const char *name;    /* full name as stored */
	size_t base_len;
	const char *ver;
	size_t ver_len;
	bool hidden;         /* a non-default version ("@VER" or versym hidden bit) */
	GElf_Sym sym;
};

/* cb returns nonzero to stop. Returns 1 if stopped, 0 if done. */
typedef int (*sym_cb)(const struct symv *s, void *ctx);

static int for_each_sym(Elf *e, Elf32_Word type, sym_cb cb, void *ctx)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	int stop = 0;

	while (!stop && (scn = elf_nextscn(e, scn))) {
		struct verdefs v = {};
		Elf_Data *d;
		size_t n, i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		if (type == SHT_DYNSYM)
			verdefs_load(e, elf_ndxscn(scn), &v);
		n = sh.sh_size / sh.sh_entsize;
		for (i = 1; i < n && !stop; i++) {
			struct symv s = {};
			const char *at;

			if (!gelf_getsym(d, i, &s.sym))
				continue;
			s.name = elf_strptr(e, sh.sh_link, s.sym.st_name);
			if (!s.name || !*s.name)
				continue;
			at = strchr(s.name, '@');
			s.base_len = at ? (size_t)(at - s.name) : strlen(s.name);
			if (at) {
				s.hidden = at[1] != '@';
				s.ver = at + (s.hidden ? 1 : 2);
				s.ver_len = strlen(s.ver);
			} else if (v.versym) {
				GElf_Versym vs;
				size_t idx;

				if (gelf_getversym(v.versym, i, &vs)) {
					idx = vs & 0x7fff;
					s.hidden = vs & 0x8000;
					/* 0 local, 1 global: unversioned */
					if (idx > 1 && idx < v.n && v.names[idx]) {
						s.ver = v.names[idx];
						s.ver_len = strlen(s.ver);
					}
				}
			}
			stop = cb(&s, ctx);
		}
		verdefs_free(&v);
	}
	return stop;
}

static bool sym_defined(const GElf_Sym *s)
{
	int t = GELF_ST_TYPE(s->st_info);

	return s->st_shndx != SHN_UNDEF && t != STT_SECTION && t != STT_FILE;
}

static bool sym_is_func(const GElf_Sym *s)
{
	return GELF_ST_TYPE(s->st_info) == STT_FUNC && s->st_value;
}

/* What the caller asked for, split like a stored name. */
struct want {
	const char *base;
	size_t base_len;
	const char *ver;     /* NULL: any, default preferred */
};

static void want_init(struct want *w, const char *sym)
{
	const char *at = strchr(sym, '@');

	w->base = sym;
	w->base_len = at ? (size_t)(at - sym) : strlen(sym);
	w->ver = NULL;
	if (at) {
		w->ver = at + 1;
		if (*w->ver == '@')
			w->ver++;
	}
}

/* -1: no match; else lower is better (0 stops the search). */
static int match_rank(const struct want *w, const struct symv *s)
{
	int r;

	if (s->base_len != w->base_len || memcmp(s->name, w->base, w->base_len))
		return -1;
	if (w->ver) {
		if (s->ver && (s->ver_len != strlen(w->ver) || memcmp(s->ver, w->ver, s->ver_len)))
			return -1;
		r = s->ver ? 0 : 4;
	} else {
		r = s->hidden ? 4 : 0;
	}
	/* a global beats a file-local one of the same name; a function beats anything else */
	if (GELF_ST_BIND(s->sym.st_info) == STB_LOCAL)
		r += 2;
	if (!sym_is_func(&s->sym))
		r += 1;
	return r;
}

struct find_ctx {
	struct want w;
	bool func_only;      /* only FUNC/IFUNC candidates (others are noted in other_type) */
	int best_rank;
	GElf_Sym best;
	bool other_type;
};

static int find_cb(const struct symv *s, void *ctx)
{
	struct find_ctx *c = ctx;
	int r;

	if (!sym_defined(&s->sym))
		return 0;
	r = match_rank(&c->w, s);
	if (r < 0)
		return 0;
	if (c->func_only && !sym_is_func(&s->sym) &&
	    GELF_ST_TYPE(s->sym.st_info) != STT_GNU_IFUNC) {
		c->other_type = true;
		return 0;
	}
	if (c->best_rank < 0 || r < c->best_rank) {
		c->best_rank = r;
		c->best = s->sym;
	}
	return r == 0;
}

static int find_sym(Elf *e, const char *sym, bool func_only, struct find_ctx *c)
{
	memset(c, 0, sizeof(*c));
	want_init(&c->w, sym);
	c->func_only = func_only;
	c->best_rank = -1;
	if (!for_each_sym(e, SHT_SYMTAB, find_cb, c))
		for_each_sym(e, SHT_DYNSYM, find_cb, c);
	return c->best_rank < 0 ? -1 : 0;
}

static bool has_section(Elf *e, Elf32_Word type)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == type)
			return true;
	return false;
}

/* ---- "did you mean" ---- */

/* Function symbols offered to the shared suggester (util.h), at most SUGGEST_SCAN_MAX looked at. */
struct sym_suggest {
	struct suggest sg;
	size_t scanned;
};

static int suggest_cb(const struct symv *s, void *ctx)
{
	struct sym_suggest *ss = ctx;

	if (!sym_is_func(&s->sym) || s->sym.st_shndx == SHN_UNDEF)
		return 0;
	if (++ss->scanned > SUGGEST_SCAN_MAX)
		return 1;
	/* compiler-split cold paths (foo.cold, foo.part.0.cold) are no entry points */
	if (memmem(s->name, s->base_len, ".cold", 5))
		return 0;
	suggest_add(&ss->sg, s->name, s->base_len);
	return 0;
}

/* " (did you mean: a, b, c?)" or "" */
static void suggest_names(Elf *e, const char *sym, char *buf, size_t len)
{
	struct sym_suggest ss = {};

	suggest_init(&ss.sg, sym, strcspn(sym, "@"));
	if (!for_each_sym(e, SHT_SYMTAB, suggest_cb, &ss))
		for_each_sym(e, SHT_DYNSYM, suggest_cb, &ss);
	suggest_format(&ss.sg, buf, len);
}

/* ---- addresses ---- */

/* File offset of vaddr and how many bytes of file back it from there (0: in .bss). */
static int vaddr_off(Elf *e, __u64 vaddr, __u64 *off, __u64 *file_avail, __u64 *mem_avail)
{
	size_t n, i;
	GElf_Phdr ph;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	if (elf_getphdrnum(e, &n) == 0 && n) {
		for (i = 0; i < n; i++) {
			__u64 rel;

			if (!gelf_getphdr(e, i, &ph) || ph.p_type != PT_LOAD)
				continue;
			if (vaddr < ph.p_vaddr || vaddr - ph.p_vaddr >= ph.p_memsz)
				continue;
			rel = vaddr - ph.p_vaddr;
			*off = ph.p_offset + rel;
			*file_avail = ph.p_filesz > rel ? ph.p_filesz - rel : 0;
			*mem_avail = ph.p_memsz - rel;
			return 0;
		}
		return -1;
	}
	/* no program headers (relocatable object): go by allocated sections */
	while ((scn = elf_nextscn(e, scn))) {
		__u64 rel;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC))
			continue;
		if (vaddr < sh.sh_addr || vaddr - sh.sh_addr >= sh.sh_size)
			continue;
		rel = vaddr - sh.sh_addr;
		*off = sh.sh_offset + rel;
		*file_avail = sh.sh_type == SHT_NOBITS ? 0 : sh.sh_size - rel;
		*mem_avail = sh.sh_size - rel;
		return 0;
	}
	return -1;
}

/* ---- public: symbols ---- */

int sym_ret_suffix(const char *sym, size_t *base_len)
{
	const char *pct = strchr(sym, '%');

	*base_len = pct ? (size_t)(pct - sym) : strlen(sym);
	if (!pct)
		return SYM_RET_AUTO;
	if (!strcmp(pct, SYM_SUFFIX_RET))
		return SYM_RET_SITES;
	if (!strcmp(pct, SYM_SUFFIX_URET))
		return SYM_RET_URETPROBE;
	return -1;
}

/* SYM without its %ret/%uret suffix into buf; -1 with err for an unknown suffix. */
static int sym_base(const char *path, const char *sym, char *buf, size_t len, char *err,
		    size_t errlen)
{
	size_t n;

	if (sym_ret_suffix(sym, &n) < 0 || n >= len) {
		seterr(err, errlen, "%s: '%s': unknown suffix '%s' (use %s or %s)", path, sym,
		       sym + n, SYM_SUFFIX_RET, SYM_SUFFIX_URET);
		errno = EINVAL;
		return -1;
	}
	memcpy(buf, sym, n);
	buf[n] = 0;
	return 0;
}

int elf_sym_offset(const char *path, const char *sym_in, __u64 *file_off, __u64 *size,
		   char *err, size_t errlen)
{
	struct elfh h;
	struct find_ctx c;
	__u64 off, favail, mavail;
	char hint[3 * SUGGEST_NAME_MAX + 32];
	char sym[512];
	int ret = -1;

	if (sym_base(path, sym_in, sym, sizeof(sym), err, errlen))
		return -1;
	if (elfh_open(path, &h, err, errlen))
		return -1;
	if (find_sym(h.e, sym, true, &c)) {
		suggest_names(h.e, sym, hint, sizeof(hint));
		if (c.other_type)
			seterr(err, errlen, "%s: symbol '%s' is not a function", path, sym);
		else if (!has_section(h.e, SHT_SYMTAB))
			seterr(err, errlen, "%s: symbol table stripped and no .dynsym entry for '%s'%s",
			       path, sym, hint);
		else
			seterr(err, errlen, "%s: no symbol '%s'%s", path, sym, hint);
		errno = ENOENT;
		goto out;
	}
	if (GELF_ST_TYPE(c.best.st_info) == STT_GNU_IFUNC) {
		/* the resolver, not the function: the implementation is picked at load time */
		seterr(err, errlen, "%s: '%s' is an IFUNC (implementation chosen at load time); "
		       "probe the implementation symbol instead", path, sym);
		errno = EINVAL;
		goto out;
	}
	if (vaddr_off(h.e, c.best.st_value, &off, &favail, &mavail) || !favail) {
		seterr(err, errlen, "%s: symbol '%s' (0x%llx) is not in a loadable segment", path,
		       sym, (unsigned long long)c.best.st_value);
		errno = EFAULT;
		goto out;
	}
	*file_off = off;
	if (size)
		*size = c.best.st_size;
	ret = 0;
out:
	elfh_close(&h);
	return ret;
}

int elf_has_symbol(const char *path, const char *sym)
{
	struct elfh h;
	struct find_ctx c;
	int ret;

	if (elfh_open(path, &h, NULL, 0))
		return 0;
	ret = find_sym(h.e, sym, false, &c) == 0;
	elfh_close(&h);
	return ret;
}

int elf_read_symbol_value(const char *path, const char *sym, __u64 *vaddr, __u64 *size)
{
	struct elfh h;
	struct find_ctx c;
	int ret = -1;

	if (elfh_open(path, &h, NULL, 0))
		return -1;
	if (find_sym(h.e, sym, false, &c)) {
		errno = ENOENT;
	} else {
		*vaddr = c.best.st_value;
		if (size)
			*size = c.best.st_size;
		ret = 0;
	}
	elfh_close(&h);
	return ret;
}

int elf_vaddr_to_offset(const char *path, __u64 vaddr, __u64 *file_off)
{
	struct elfh h;
	__u64 favail, mavail;
	int ret = 0;

	if (elfh_open(path, &h, NULL, 0))
		return -1;
	if (vaddr_off(h.e, vaddr, file_off, &favail, &mavail) || !favail) {
		errno = EFAULT;
		ret = -1;
	}
	elfh_close(&h);
	return ret;
}

int elf_read_vaddr(const char *path, __u64 vaddr, void *buf, size_t len)
{
	struct elfh h;
	char *p = buf;
	int ret = -1;

	if (elfh_open(path, &h, NULL, 0))
		return -1;
	while (len) {
		__u64 off, favail, mavail, n, from_file;

		if (vaddr_off(h.e, vaddr, &off, &favail, &mavail)) {
			errno = EFAULT;
			goto out;
		}
		n = len < mavail ? len : mavail;
		from_file = n < favail ? n : favail;
		if (from_file) {
			ssize_t r = pread(h.fd, p, from_file, off);

			if (r < 0)
				goto out;
			if ((__u64)r != from_file) {
				errno = EIO;
				goto out;
			}
		}
		memset(p + from_file, 0, n - from_file); /* past p_filesz: zero-initialised */
		p += n;
		vaddr += n;
		len -= n;
	}
	ret = 0;
out:
	elfh_close(&h);
	return ret;
}

/* ---- public: paths ---- */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* NAME itself, or NAME then '.' or '-' (libc.so.6 for "libc", libfoo-2.3.so for "libfoo") */
static int lib_name_match(const char *file, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(file, name, n))
		return 0;
	if (!file[n])
		return 2;
	return file[n] == '.' || file[n] == '-';
}

int resolve_lib_in_pid(pid_t pid, const char *name, char *out, size_t outlen)
{
	char maps[64], best[PATH_MAX] = "";
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int ret = -1;

	if (pid > 0)
		snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	else
		snprintf(maps, sizeof(maps), "/proc/self/maps");
	f = fopen(maps, "re");
	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		char *path;
		size_t len;
		int pos = 0, m;

		sscanf(line, "%*s %*s %*s %*s %*s %n", &pos);
		if (pos <= 0 || line[pos] != '/')
			continue;
		path = line + pos;
		len = strcspn(path, "\n");
		path[len] = '\0';
		if (len > 10 && !strcmp(path + len - 10, " (deleted)"))
			path[len - 10] = '\0';
		m = lib_name_match(base_name(path), name);
		if (m == 2) {
			snprintf(best, sizeof(best), "%s", path);
			break;
		}
		if (m && !best[0])
			snprintf(best, sizeof(best), "%s", path);
	}
	free(line);
	fclose(f);
	if (!best[0])
		errno = ENOENT;
	else
		ret = copy_out(best, out, outlen);
	return ret;
}

/* EI_CLASS, EI_DATA and e_machine: libraries of another ABI are skipped, as the loader does. */
static int elf_abi(const char *path, unsigned char abi[4])
{
	unsigned char h[20];
	int fd = open_regular(path);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (n != (ssize_t)sizeof(h) || memcmp(h, ELFMAG, SELFMAG))
		return -1;
	abi[0] = h[EI_CLASS];
	abi[1] = h[EI_DATA];
	abi[2] = h[18];
	abi[3] = h[19];
	return 0;
}

static bool abi_ok(const char *path)
{
	static unsigned char self[4];
	static int have = -1;
	unsigned char abi[4];
	struct stat st;

	if (stat(path, &st) || !S_ISREG(st.st_mode) || elf_abi(path, abi))
		return false;
	if (have < 0)
		have = elf_abi("/proc/self/exe", self) == 0;
	return !have || !memcmp(abi, self, sizeof(abi));
}

static int found(const char *path, char *out, size_t outlen)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return -1;
	return copy_out(real, out, outlen);
}

/* Each entry of a ':' or ';' separated list (empty = current directory, as ld.so does). */
static int search_dirs(const char *list, const char *name, char *out, size_t outlen)
{
	char path[PATH_MAX];
	const char *p = list;

	while (p) {
		size_t n = strcspn(p, ":;");
		int len = n ? snprintf(path, sizeof(path), "%.*s/%s", (int)n, p, name)
			    : snprintf(path, sizeof(path), "./%s", name);

		if (len > 0 && (size_t)len < sizeof(path) && abi_ok(path) &&
		    !found(path, out, outlen))
			return 0;
		p = p[n] ? p + n + 1 : NULL;
	}
	return -1;
}

/* glibc's ld.so.cache ("glibc-ld.so.cache1.1", possibly after an old "ld.so-1.7.0" part). */
#define LDCACHE_MAGIC "glibc-ld.so.cache1.1"

struct ldcache_hdr {
	char magic[20];
	uint32_t nlibs;
	uint32_t len_strings;
	uint8_t flags;
	uint8_t pad[3];
	uint32_t extension_offset;
	uint32_t unused[3];
};

struct ldcache_entry {
	int32_t flags;
	uint32_t key, value;  /* string offsets from the header */
	uint32_t osversion;
	uint64_t hwcap;
};

/* prefix: also accept a key of NAME followed by '.' (libsqlite3.so finds libsqlite3.so.0) */
static int search_ldcache(const char *name, bool prefix, char *out, size_t outlen)
{
	int fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
	struct ldcache_hdr hdr;
	struct stat st;
	char *buf = NULL, *hdrp;
	size_t size, left, i;
	int ret = -1;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(struct ldcache_hdr) ||
	    st.st_size > (64 << 20))
		goto out;
	size = st.st_size;
	buf = malloc(size + 1);
	if (!buf || pread(fd, buf, size, 0) != (ssize_t)size)
		goto out;
	buf[size] = '\0';
	hdrp = memmem(buf, size, LDCACHE_MAGIC, strlen(LDCACHE_MAGIC));
	if (!hdrp)
		goto out;
	left = size - (hdrp - buf);
	if (left < sizeof(struct ldcache_hdr))
		goto out;
	memcpy(&hdr, hdrp, sizeof(hdr));
	if (hdr.nlibs > (left - sizeof(hdr)) / sizeof(struct ldcache_entry))
		goto out;
	for (i = 0; i < hdr.nlibs; i++) {
		struct ldcache_entry ent;
		const char *key, *val;

		memcpy(&ent, hdrp + sizeof(hdr) + i * sizeof(ent), sizeof(ent));
		if (ent.key >= left || ent.value >= left)
			continue;
		key = hdrp + ent.key;  /* NUL-terminated: buf[size] is 0 */
		val = hdrp + ent.value;
		if (strcmp(key, name) && !(prefix && lib_name_match(key, name) == 1 &&
					   key[strlen(name)] == '.'))
			continue;
		if (abi_ok(val) && !found(val, out, outlen)) {
			ret = 0;
			break;
		}
	}
out:
	free(buf);
	close(fd);
	return ret;
}

int resolve_lib_search(const char *name, char *out, size_t outlen)
{
	static const char *const dirs =
		"/lib/" RAGD_MULTIARCH ":/usr/lib/" RAGD_MULTIARCH ":/lib:/usr/lib:/lib64:/usr/lib64";
	const char *llp = getenv("LD_LIBRARY_PATH");

	if (!name || !*name) {
		errno = EINVAL;
		return -1;
	}
	if (strchr(name, '/')) {
		if (access(name, R_OK))
			return -1;
		return found(name, out, outlen);
	}
	if (llp && *llp && !search_dirs(llp, name, out, outlen))
		return 0;
	if (!search_ldcache(name, false, out, outlen))
		return 0;
	if (!search_dirs(dirs, name, out, outlen))
		return 0;
	if (!search_ldcache(name, true, out, outlen))
		return 0;
	errno = ENOENT;
	return -1;
}

int resolve_binary(const char *cmd, char *out, size_t outlen)
{
	char path[PATH_MAX], defpath[256];
	const char *p;
	struct stat st;
	bool denied = false;

	if (!cmd || !*cmd) {
		errno = ENOENT;
		return -1;
	}
	if (strchr(cmd, '/')) {
		if (stat(cmd, &st))
			return -1;
		if (!S_ISREG(st.st_mode) || access(cmd, X_OK)) {
			errno = EACCES;
			return -1;
		}
		return found(cmd, out, outlen);
	}
	p = getenv("PATH");
	if (!p) {
		/* what execvp uses when PATH is unset */
		if (!confstr(_CS_PATH, defpath, sizeof(defpath)))
			snprintf(defpath, sizeof(defpath), "/bin:/usr/bin");
		p = defpath;
	}
	while (p) {
		size_t n = strcspn(p, ":");
		int len = n ? snprintf(path, sizeof(path), "%.*s/%s", (int)n, p, cmd)
			    : snprintf(path, sizeof(path), "%s", cmd);

		if (len > 0 && (size_t)len < sizeof(path) && !stat(path, &st) &&
		    S_ISREG(st.st_mode)) {
			if (!access(path, X_OK))
				return found(path, out, outlen);
			denied = true;
		}
		p = p[n] ? p + n + 1 : NULL;
	}
	errno = denied ? EACCES : ENOENT;
	return -1;
}

int resolve_native_path(const char *path_or_lib, pid_t pid, char *out, size_t outlen)
{
	bool libish;

	if (!path_or_lib || !*path_or_lib) {
		errno = EINVAL;
		return -1;
	}
	if (strchr(path_or_lib, '/')) {
		if (access(path_or_lib, R_OK))
			return -1;
		return copy_out(path_or_lib, out, outlen);
	}
	if (pid > 0 && !resolve_lib_in_pid(pid, path_or_lib, out, outlen))
		return 0;
	libish = !strncmp(path_or_lib, "lib", 3) || strstr(path_or_lib, ".so");
	if (!libish && !resolve_binary(path_or_lib, out, outlen))
		return 0;
	if (!resolve_lib_search(path_or_lib, out, outlen))
		return 0;
	errno = ENOENT;
	return -1;
}

/* ---- USDT ---- */

int elf_usdt_list(const char *path, char names[][64], int max)
{
	struct elfh h;
	Elf_Scn *scn = NULL;
	int n = 0;

	if (elfh_open(path, &h, NULL, 0))
		return -1;
	while ((scn = elf_nextscn(h.e, scn))) {
		GElf_Shdr sh;
		GElf_Nhdr nh;
		size_t off = 0, noff, doff;
		Elf_Data *d;
		size_t shstrndx;
		const char *sname;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		if (elf_getshdrstrndx(h.e, &shstrndx) ||
		    !(sname = elf_strptr(h.e, shstrndx, sh.sh_name)) || strcmp(sname, ".note.stapsdt"))
			continue;
		d = elf_getdata(scn, NULL);
		/* Each note: pc, base, semaphore (3 addresses), then provider\0name\0args\0. */
		while (d && (off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0 && n < max) {
			const char *desc = (const char *)d->d_buf + doff, *prov, *name;
			size_t skip = 3 * (gelf_getclass(h.e) == ELFCLASS64 ? 8 : 4);
			bool dup = false;

			if (nh.n_type != 3 || nh.n_descsz <= skip)
				continue;
			prov = desc + skip;
			name = prov + strnlen(prov, nh.n_descsz - skip) + 1;
			if (name >= desc + nh.n_descsz)
				continue;
			char full[64];
			snprintf(full, sizeof(full), "%s:%s", prov, name);
			for (int i = 0; i < n; i++)
				dup |= !strcmp(names[i], full);
			if (!dup)
				snprintf(names[n++], 64, "%s", full);
		}
	}
	elfh_close(&h);
	return n;
}

int elf_needed(const char *path, const char *prefix, char *out, size_t outlen)
{
	struct elfh h;
	Elf_Scn *scn = NULL;
	int rc = -1;

	if (elfh_open(path, &h, NULL, 0))
		return -1;
	while (rc && (scn = elf_nextscn(h.e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;
			const char *name;

			if (!gelf_getdyn(d, i, &dyn) || dyn.d_tag != DT_NEEDED)
				continue;
			name = elf_strptr(h.e, sh.sh_link, dyn.d_un.d_val);
			if (name && !strncmp(name, prefix, strlen(prefix))) {
				snprintf(out, outlen, "%s", name);
				rc = 0;
				break;
			}
		}
	}
	elfh_close(&h);
	if (rc)
		errno = ENOENT;
	return rc;
}

/* ---- a function's code, for return-instruction timing (user/attach.c) ---- */

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

struct starts_ctx {
	struct elf_func_code *c;
	size_t cap;
};

/* Starts of real functions (tail-call targets); gcc's NAME.cold fragments are parts of their
 * function, a jump there is no return. */
static int starts_cb(const struct symv *s, void *ctx)
{
	struct starts_ctx *sc = ctx;
	struct elf_func_code *c = sc->c;

	if (!sym_defined(&s->sym) || !sym_is_func(&s->sym) || strstr(s->name, ".cold"))
		return 0;
	if (c->nstarts == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 1024;
		__u64 *n = realloc(c->starts, cap * sizeof(*n));

		if (!n)
			return 1;
		c->starts = n;
		sc->cap = cap;
	}
	c->starts[c->nstarts++] = s->sym.st_value;
	return 0;
}

/* Is the object C++ code that exceptions unwind through? Its FDEs name the C++ personality
 * routine (defined in libstdc++, imported by C++ objects, also when libstdc++ is linked in
 * statically), or it needs a C++ runtime. C objects built with -fexceptions (glibc, for
 * cancellation and qsort callbacks) use __gcc_personality_v0 and keep the cheaper uretprobe:
 * SYMBOL%ret asks for return instructions there. */
static bool cxx_object(Elf *e, const char *path)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	char needed[256];

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
		    !sh.sh_entsize || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (gelf_getsym(d, (int)i, &sym) && (n = elf_strptr(e, sh.sh_link, sym.st_name)) &&
			    !strcmp(n, "__gxx_personality_v0"))
				return true;
		}
	}
	return !elf_needed(path, "libstdc++", needed, sizeof(needed)) ||
	       !elf_needed(path, "libc++", needed, sizeof(needed));
}

static void plt_ranges(Elf *e, struct elf_func_code *c)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstrndx;

	if (elf_getshdrstrndx(e, &shstrndx))
		return;
	while ((scn = elf_nextscn(e, scn)) && c->nplt < 4) {
		const char *n;

		if (gelf_getshdr(scn, &sh) && (n = elf_strptr(e, shstrndx, sh.sh_name)) &&
		    !strncmp(n, ".plt", 4) && (sh.sh_flags & SHF_EXECINSTR)) {
			c->plt_lo[c->nplt] = sh.sh_addr;
			c->plt_hi[c->nplt++] = sh.sh_addr + sh.sh_size;
		}
	}
}

int elf_func_code_load(const char *path, const char *sym_in, struct elf_func_code *c, char *err,
		       size_t errlen)
{
	struct elfh h;
	struct find_ctx f;
	struct starts_ctx sc = { .c = c };
	__u64 favail, mavail;
	char sym[512];
	int ret = -1;

	memset(c, 0, sizeof(*c));
	if (sym_base(path, sym_in, sym, sizeof(sym), err, errlen) || elfh_open(path, &h, err, errlen))
		return -1;
	GElf_Ehdr eh;

	if (!gelf_getehdr(h.e, &eh) || eh.e_machine != EM_X86_64) {
		seterr(err, errlen, "%s: not x86-64 code", path);
		goto out;
	}
	if (find_sym(h.e, sym, true, &f) || !f.best.st_size) {
		seterr(err, errlen, "%s: no sized function '%s'", path, sym);
		goto out;
	}
	c->vaddr = f.best.st_value;
	c->size = f.best.st_size;
	if (vaddr_off(h.e, c->vaddr, &c->file_off, &favail, &mavail) || favail < c->size) {
		seterr(err, errlen, "%s: '%s' is not in the file", path, sym);
		goto out;
	}
	c->code = malloc(c->size);
	if (!c->code || pread(h.fd, c->code, c->size, c->file_off) != (ssize_t)c->size) {
		seterr(err, errlen, "%s: cannot read the code of '%s'", path, sym);
		goto out;
	}
	if (for_each_sym(h.e, SHT_SYMTAB, starts_cb, &sc) || for_each_sym(h.e, SHT_DYNSYM, starts_cb, &sc)) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	if (c->nstarts)
		qsort(c->starts, c->nstarts, sizeof(*c->starts), cmp_u64);
	plt_ranges(h.e, c);
	c->cxx_unwind = cxx_object(h.e, path);
	ret = 0;
out:
	elfh_close(&h);
	if (ret)
		elf_func_code_free(c);
	return ret;
}

bool elf_func_code_is_entry(const struct elf_func_code *c, __u64 vaddr)
{
	for (int i = 0; i < c->nplt; i++)
		if (vaddr >= c->plt_lo[i] && vaddr < c->plt_hi[i])
			return true;
	return c->nstarts && bsearch(&vaddr, c->starts, c->nstarts, sizeof(*c->starts), cmp_u64);
}

void elf_func_code_free(struct elf_func_code *c)
{
	free(c->code);
	free(c->starts);
	c->code = NULL;
	c->starts = NULL;
	c->nstarts = 0;
}
