/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Reading an unmodified CPython (3.11-3.14) from outside: which interpreter a process runs,
 * where its structures are, and where a given function's code object lives. */
#ifndef RAGD_BPFPROF_PYTHON_H
#define RAGD_BPFPROF_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "ragd_bpfprof.h"

/* Memory of the target: process_vm_readv on a live pid, or a recorded image in unit tests. */
struct mem_req {
	__u64 addr;
	void *buf;
	size_t len;
	int ok;    /* set by readv: 1 read, 0 not */
};
struct mem_reader {
	int (*read)(void *ctx, __u64 addr, void *buf, size_t len); /* 0 or -1 */
	void *ctx;
	/* Optional: independent reads in one call (one process_vm_readv, many iovecs). */
	void (*readv)(void *ctx, struct mem_req *r, int n);
};
struct mem_reader mem_reader_pid(pid_t pid); /* ctx is the pid */

/* User-space-only offsets (dict/module/type/function walking and names/lines). */
struct py_uoffsets {
	__s32 interp_modules;      /* PyInterpreterState.modules (sys.modules dict) */
	__s32 dict_keys;           /* PyDictObject.ma_keys */
	__s32 dict_values;         /* PyDictObject.ma_values */
	__s32 dictvalues_values;   /* PyDictValues.values[] (split tables) */
	__s32 keys_log2_size;      /* PyDictKeysObject fields (u8, u8, u8, ssize_t) */
	__s32 keys_log2_index_bytes;
	__s32 keys_kind;
	__s32 keys_nentries;
	__s32 keys_indices;        /* entries follow the index table: + (1 << dk_log2_index_bytes) */
	__s32 module_dict;         /* PyModuleObject.md_dict */
	__s32 type_name;           /* PyTypeObject.tp_name (char *) */
	__s32 type_flags;
	__s32 type_dict;           /* PyTypeObject.tp_dict */
	__s32 type_dictoffset;
	__s32 func_code;           /* PyFunctionObject.func_code */
	__s32 func_closure;
	__s32 func_dict;
	__s32 wrapper_callable;    /* staticmethod/classmethod callable, property fget, method im_func */
	__s32 tuple_size;
	__s32 tuple_item;
	__s32 cell_ref;
	__s32 code_flags;
	__s32 code_linetable;
	__s32 code_size;           /* Py_SIZE(code): number of code units */
	__s32 code_name;
	__s32 code_monitoring;     /* _co_monitoring (3.12+; -1 before) */
	__s32 mon_lines;           /* _PyCoMonitoringData.lines */
	__s32 mon_per_instr;       /* _PyCoMonitoringData.per_instruction_opcodes */
	__s32 bytes_size;          /* PyBytesObject ob_size */
	__s32 bytes_data;          /* PyBytesObject.ob_sval */
	__s32 str_length;
	__s32 str_state;           /* u32: kind bits 2-4, compact bit 5, ascii bit 6 */
	__s32 str_compact_data;    /* data of a compact non-ASCII str (latin-1, UCS-2, UCS-4) */
};

struct py_target {
	pid_t pid;
	__u32 version_hex;
	char version[16];          /* "3.12.1" */
	char elf_path[4096];       /* the file that defines _PyRuntime (python or libpython) */
	__u64 load_bias;
	__u64 runtime;             /* address of _PyRuntime in the target */
	struct py_offsets off;     /* handed to BPF */
	struct py_uoffsets uoff;
	struct mem_reader mem;
	/* How py_offsets_for chose the offsets: "built-in table 3.12", "_Py_DebugOffsets", or a
	 * mismatch note ("_Py_DebugOffsets differs from the built-in 3.13 table: ...") that is worth
	 * a verbose line. */
	char offsets_note[256];
	__u64 type_cache[2][16];   /* type address -> kind, filled by the lookups (internal) */
};

/* Finds the interpreter in /proc/PID/maps, sets mem to mem_reader_pid(pid) and fills the
 * offsets (calls py_offsets_for). 0 on success; -1 with a one-line reason in err ("pid N: not a
 * Python process (...)", "pid N: Python 3.10.13 is not supported (3.11-3.14)", "pid N: no
 * _PyRuntime symbol in PATH (stripped static build?)"). */
int py_detect(pid_t pid, struct py_target *t, char *err, size_t errlen);
/* Fills off/uoff for t->version_hex; -1 if unsupported. For 3.13+ reads _Py_DebugOffsets at
 * t->runtime through t->mem when mem.read is set, else uses the built-in table. err may be NULL. */
int py_offsets_for(struct py_target *t, char *err, size_t errlen);

#define PY_MAX_RET 16

struct py_code_info {
	__u64 addr;
	char filename[512];
	char qualname[256];
	int firstlineno;
	__u32 flags;               /* co_flags */
	bool is_generator;         /* generator, coroutine or async generator */
	bool ret_partial;          /* some opcode could not be decoded: ret_units may miss sites */
	__u64 bytecode;            /* address of co_code_adaptive */
	__u32 ncode_units;
	__u32 nret;                /* RETURN_VALUE / RETURN_CONST sites kept, code unit indexes */
	__u32 nret_total;          /* all sites found (> nret when more than PY_MAX_RET) */
	__u32 ret_units[PY_MAX_RET];
	__u32 tag;                 /* same formula as struct py_frame_rec.tag */
};

/* Looks up FILE_SUFFIX:QUALNAME in sys.modules (module-level functions, class methods, static
 * and class methods, property getters, nested classes; follows __wrapped__ and closures of
 * decorators to the function whose co_qualname is QUALNAME; "f.<locals>.g" in the co_consts of
 * f's code). 1 and *code on success, 0 if not there (yet; also for "<module>" and "<lambda>"),
 * -1 on error. */
int py_find_function(struct py_target *t, const char *file_suffix, const char *qualname, __u64 *code);
/* The same; when it returns 0 and a module matching FILE_SUFFIX is loaded, WHY (if not NULL)
 * gets "'QUALNAME' is not in loaded module FILE_SUFFIX (did you mean: A.b, c?)" from that
 * module's functions and its classes' methods; "" when found; untouched when no such module is
 * loaded. */
int py_find_function_why(struct py_target *t, const char *file_suffix, const char *qualname,
			 __u64 *code, char *why, size_t whylen);
/* Looks up QUALNAME ("<locals>" names too) among the code objects in the co_consts tree of ROOT,
 * a module body's code object whose co_filename matches FILE_SUFFIX: before the body has run.
 * 1 and *code when exactly one matches, 0 otherwise (none, two definitions, another file), -1 on
 * error. */
int py_find_in_code(struct py_target *t, __u64 root, const char *file_suffix, const char *qualname,
		    __u64 *code);
/* The same for NNAMES names in one walk: codes[i] the one match of qualnames[i], else 0.
 * Returns how many were found once, -1 on error. */
int py_find_in_code_n(struct py_target *t, __u64 root, const char *file_suffix,
		      const char *const *qualnames, int nnames, __u64 *codes);
/* Changes whenever a module is added to sys.modules (cheap: four reads). 0 or -1. */
int py_modules_gen(struct py_target *t, __u64 *gen);
/* 0, or -1 if CODE is not a readable code object. */
int py_code_read(struct py_target *t, __u64 code, struct py_code_info *ci);
/* Line number of bytecode offset lasti (code units) from co_linetable; -1 if unknown.
 * lasti (u32)-1 (a 3.11/3.12 frame that has not started) counts as 0. */
int py_code_line(struct py_target *t, __u64 code, __u32 lasti);
/* The same on a copy of co_linetable (3.11+ location table). */
int py_linetable_line(const __u8 *tab, size_t len, int firstlineno, __u32 lasti);
/* (u32)co_firstlineno ^ (u32)co_qualname: what BPF computes for py_frame_rec.tag. */
static inline __u32 py_code_tag(int firstlineno, __u64 qualname_ptr)
{
	return (__u32)firstlineno ^ (__u32)qualname_ptr;
}

/* Cache of code-object names by address, validated by tag (a reused address gets re-read). */
struct py_sym {
	char name[512];   /* "qualname (file.py)": file is the base name */
	char file[512];   /* co_filename as is */
	char qualname[256];
	int firstlineno;
};
struct py_symcache;
struct py_symcache *py_symcache_new(struct py_target *t);
void py_symcache_free(struct py_symcache *c);
/* NULL if the code object cannot be read, or if the code object now at CODE has another tag
 * (the sampled one was freed and its address reused). */
const struct py_sym *py_symcache_get(struct py_symcache *c, __u64 code, __u32 tag);
/* Line of lasti in that code object, from a cached copy of its line table; -1 if unknown. */
int py_symcache_line(struct py_symcache *c, __u64 code, __u32 tag, __u32 lasti);

#endif
