/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* ELF symbols and file lookup for native probes and the Python layer: where a function lives in
 * a file (the offset a uprobe wants), which file a library name means, and reading bytes of a
 * file by virtual address. Nothing is cached: every call opens and closes the file. */
#ifndef RAGD_BPFPROF_SYMBOLS_H
#define RAGD_BPFPROF_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

/* FUNC symbol SYM of PATH (.symtab or .dynsym) as a file offset for
 * bpf_program__attach_uprobe_opts(). SYM may carry a version ("malloc@@GLIBC_2.2.5" or
 * "pthread_cond_wait@GLIBC_2.2.5"); without one the default version wins. *size may be NULL.
 * 0, or -1 with a one-line err such as "PATH: no symbol 'foo' (did you mean: foo_bar, fo?)",
 * "PATH: symbol table stripped and no .dynsym entry for 'foo'", "PATH: not an ELF file",
 * "PATH: No such file or directory", "PATH: 'memcpy' is an IFUNC ...". */
int elf_sym_offset(const char *path, const char *sym, __u64 *file_off, __u64 *size,
		   char *err, size_t errlen);

/* A native op's SYMBOL may end in "%ret" (time returns at the function's return instructions,
 * never touching the return address: safe for C++ exceptions) or "%uret" (always the
 * uretprobe). Without a suffix the choice is automatic (user/attach.c). elf_sym_offset and
 * elf_func_code_load take SYMBOL with its suffix. */
#define SYM_SUFFIX_RET "%ret"
#define SYM_SUFFIX_URET "%uret"
enum { SYM_RET_AUTO, SYM_RET_SITES, SYM_RET_URETPROBE };
/* The SYM_RET_* of SYM's suffix (-1: an unknown "%..."); *base_len: length without it. */
int sym_ret_suffix(const char *sym, size_t *base_len);

/* A function's code and what the return-timing choice needs to know about its object. */
struct elf_func_code {
	__u64 vaddr, size, file_off;
	unsigned char *code;   /* size bytes from the file */
	bool cxx_unwind;       /* the object has .gcc_except_table or needs libstdc++ / libgcc_s */
	__u64 *starts;         /* sorted st_value of FUNC symbols but NAME.cold fragments */
	size_t nstarts;
	__u64 plt_lo[4], plt_hi[4];  /* executable .plt* sections */
	int nplt;
};
/* 0, or -1 with a one-line err. Free with elf_func_code_free (also after an error). */
int elf_func_code_load(const char *path, const char *sym, struct elf_func_code *c, char *err,
		       size_t errlen);
/* VADDR is a function's first instruction or in a PLT: a jump there is a tail call. */
bool elf_func_code_is_entry(const struct elf_func_code *c, __u64 vaddr);
void elf_func_code_free(struct elf_func_code *c);

/* 1 if PATH defines SYM (any type, .symtab or .dynsym), 0 if not or PATH is unreadable. */
int elf_has_symbol(const char *path, const char *sym);

/* st_value (link-time virtual address) and st_size of a defined symbol of any type, e.g.
 * _PyRuntime or Py_Version. size may be NULL. 0, or -1 with errno (ENOENT: no such symbol). */
int elf_read_symbol_value(const char *path, const char *sym, __u64 *vaddr, __u64 *size);

/* Reads LEN bytes at link-time virtual address VADDR from the file (through its PT_LOAD
 * segments; .bss-like bytes past p_filesz read as 0). 0, or -1 with errno (EFAULT: not mapped
 * by any segment). */
int elf_read_vaddr(const char *path, __u64 vaddr, void *buf, size_t len);

/* Link-time virtual address to file offset through the PT_LOAD segment holding it. 0 or -1. */
int elf_vaddr_to_offset(const char *path, __u64 vaddr, __u64 *file_off);

/* A library mapped by process PID (0: ourselves) whose file name is NAME or starts with NAME
 * followed by '.' or '-' ("libc" finds libc.so.6, never libcmocka.so.0); an exact name wins.
 * Writes its path to OUT. 0, or -1 with errno (ENOENT: not mapped). */
int resolve_lib_in_pid(pid_t pid, const char *name, char *out, size_t outlen);

/* Where the dynamic loader would find library NAME for a new process: LD_LIBRARY_PATH,
 * /etc/ld.so.cache, then /lib/MULTIARCH, /usr/lib/MULTIARCH, /lib, /usr/lib (/lib64, /usr/lib64).
 * Only ELF files of our own class and machine count. A NAME with a '/' is taken as a path.
 * OUT gets the realpath. 0, or -1 with errno (ENOENT). */
int resolve_lib_search(const char *name, char *out, size_t outlen);

/* PATH lookup of a command like "python3" (a CMD with '/' is taken as is); OUT gets the
 * realpath. 0, or -1 with errno (ENOENT, EACCES). */
int resolve_binary(const char *cmd, char *out, size_t outlen);

/* The PATH_OR_LIB part of a native probe as a file: a path (has '/') as is; else a library
 * mapped by PID (if PID > 0), then the loader's search path; a name that does not look like a
 * library ("lib*" or "*.so*") is first looked up as a command in PATH. OUT gets the path.
 * 0, or -1 with errno. */
int resolve_native_path(const char *path_or_lib, pid_t pid, char *out, size_t outlen);

/* First DT_NEEDED entry of PATH starting with PREFIX (e.g. "libpython"). 0 or -1. */
int elf_needed(const char *path, const char *prefix, char *out, size_t outlen);

/* USDT probes (.note.stapsdt) of PATH as "provider:name", each once. Count, or -1. */
int elf_usdt_list(const char *path, char names[][64], int max);

#endif
