// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reading an unmodified CPython 3.11-3.14 from outside the process: find _PyRuntime, pick the
 * struct offsets for the version, walk sys.modules to a function's code object, and read names,
 * return sites and line numbers of code objects. Every read of the target is checked and every
 * walk is bounded: the memory may change under us or be garbage. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "util.h"
#include "python.h"
#include "symbols.h"

/*
 * Offsets, x86-64 release builds (default, GIL). Measured with offsetof() compiled against the
 * installed internal headers of 3.11.7, 3.12.1, 3.13.0 (pyenv) and 3.14.10 (Debian sid
 * libpython3.14-dev), then checked on live processes: interp.modules found by scanning the
 * interpreter state for id(sys.modules), code fields read back against co_firstlineno /
 * co_flags / co_qualname, func_code against id(f.__code__) (Debian 3.11.2, 3.11.7, 3.12.1,
 * 3.13.0, 3.14.10). The 3.13.0 and 3.14.10 _Py_DebugOffsets tables agree with these columns.
 *
 * field                                3.11  3.12  3.13  3.14
 * _PyRuntime.interpreters.head           40    40   632   808
 * _PyRuntime.autoTSSkey                 592  1544  2160  2336
 * interp.next                             0     0  7264  7272
 * interp.threads.head                    16    72  7344  7344
 * interp.modules (imports.modules)      888   944  7656  7688
 * tstate.next                             8     8     8     8
 * tstate.thread_id / native_thread_id 152/160 136/144 152/160 152/160
 * tstate.cframe (-> current_frame)    56(+8) 56(+0)   -     -
 * tstate.current_frame                    -     -    72    72
 * frame f_code / f_executable            32     0     0     0 (3.14: tagged, mask ~3)
 * frame previous                         48     8     8     8
 * frame prev_instr / instr_ptr           56    56    56    56
 * frame owner                            69    70    70    74
 * code ob_size (code units)              16    16    16    16
 * code co_flags                          48    48    48    48
 * code co_firstlineno                    72    68    68    68
 * code co_filename/co_name/co_qualname  112/120/128 (all)
 * code co_linetable                     136   136   136   136
 * code _co_monitoring                     -   168   176   176
 * code _co_firsttraceable               168   176   184   192
 * code co_code_adaptive                 184   192   200   208
 * code co_consts                          24 (all)
 * dict ma_keys / ma_values            32/40 (all)
 * keys log2_size/log2_index_bytes/kind/nentries/indices  8/9/10/24/32 (all)
 * dict entry: general {hash,key,value} 24, unicode {key,value} 16 (all)
 * PyDictValues.values                     0     0     8     8
 * module md_dict                         16 (all)
 * type tp_name/tp_flags/tp_dict/tp_dictoffset  24/168/264/288 (all)
 * function func_code/func_closure/func_dict    48/72/88 (all)
 * staticmethod/classmethod/property/method callable  16 (all)
 * tuple ob_size / ob_item             16/24 16/24 16/24 16/32
 * cell ob_ref                            16 (all)
 * bytes ob_size / ob_sval             16/32 (all)
 * str length / state / ascii data / compact data  16/32/48/72 (3.11), 16/32/40/56 (3.12+)
 * _PyCoMonitoringData lines / per_instruction_opcodes      - 40/56 32/48 96/112
 * C-stack shim frames: owner == 3 (3.12, 3.13), owner >= 3 (3.14: 3 interpreter, 4 C stack)
 * One-register scheme and 3.14's late frame link (gdb ptype/o on the pyenv libpythons; 3.14:
 * offsetof() against Debian sid's libpython3.14-dev 3.14.10 internal headers)
 * tstate.datastack_chunk / datastack_top  296/304 232/240 232/240 232/240
 * _PyStackChunk.data                      24    24    24    24
 * _PyStackChunk.size                       8     8     8     8
 * code co_stacksize / co_nlocalsplus    68/76 64/72 64/72 64/72
 * code co_framesize (words)               -    76    76    76 (3.11: nlocalsplus + stacksize + 9)
 */
struct py_table {
	__u32 minor;
	struct py_offsets off;
	struct py_uoffsets uoff;
};

#define UOFF_COMMON                                                                              \
	.dict_keys = 32, .dict_values = 40, .keys_log2_size = 8, .keys_log2_index_bytes = 9,    \
	.keys_kind = 10, .keys_nentries = 24, .keys_indices = 32, .module_dict = 16,            \
	.type_name = 24, .type_flags = 168, .type_dict = 264, .type_dictoffset = 288,           \
	.func_code = 48, .func_closure = 72, .func_dict = 88, .wrapper_callable = 16,           \
	.tuple_size = 16, .cell_ref = 16, .code_flags = 48, .code_linetable = 136,               \
	.code_size = 16, .code_name = 120, .bytes_size = 16, .bytes_data = 32, .str_length = 16, \
	.str_state = 32

#define OFF_COMMON                                                                               \
	.tstate_next = 8, .frame_instr = 56, .code_filename = 112, .code_qualname = 128

static const struct py_table py_tables[] = {
	{ 11,
	  { OFF_COMMON, .runtime_interp_head = 40, .interp_next = 0, .interp_threads_head = 16,
	    .tstate_native_tid = 160, .tstate_thread_id = 152, .tstate_cframe = 56,
	    .current_frame = 8, .frame_code = 32, .frame_previous = 48, .frame_owner = 69,
	    .code_adaptive = 184, .code_firstlineno = 72, .str_ascii_data = 48,
	    .owner_cstack = 0, .runtime_tss_key = 592,
	    .code_ptr_mask = ~0ull, .rc_scheme = 1, .tstate_datastack_top = 304,
	    .tstate_datastack_chunk = 296, .chunk_data = 24, .chunk_size = 8, .code_framesize = -1,
	    .code_nlocalsplus = 76, .code_stacksize = 68, .frame_specials = 9 },
	  { UOFF_COMMON, .interp_modules = 888, .dictvalues_values = 0, .tuple_item = 24,
	    .code_monitoring = -1, .mon_lines = -1, .mon_per_instr = -1, .str_compact_data = 72 } },
	{ 12,
	  { OFF_COMMON, .runtime_interp_head = 40, .interp_next = 0, .interp_threads_head = 72,
	    .tstate_native_tid = 144, .tstate_thread_id = 136, .tstate_cframe = 56,
	    .current_frame = 0, .frame_code = 0, .frame_previous = 8, .frame_owner = 70,
	    .code_adaptive = 192, .code_firstlineno = 68, .str_ascii_data = 40,
	    .owner_cstack = 3, .runtime_tss_key = 1544,
	    .code_ptr_mask = ~0ull, .rc_scheme = 2, .tstate_datastack_top = 240,
	    .tstate_datastack_chunk = 232, .chunk_data = 24, .chunk_size = 8, .code_framesize = 76,
	    .code_nlocalsplus = 72, .code_stacksize = 64, .frame_specials = 0,
	    .entry_before_link = 1 },
	  { UOFF_COMMON, .interp_modules = 944, .dictvalues_values = 0, .tuple_item = 24,
	    .code_monitoring = 168, .mon_lines = 40, .mon_per_instr = 56, .str_compact_data = 56 } },
	{ 13,
	  { OFF_COMMON, .runtime_interp_head = 632, .interp_next = 7264, .interp_threads_head = 7344,
	    .tstate_native_tid = 160, .tstate_thread_id = 152, .tstate_cframe = -1,
	    .current_frame = 72, .frame_code = 0, .frame_previous = 8, .frame_owner = 70,
	    .code_adaptive = 200, .code_firstlineno = 68, .str_ascii_data = 40,
	    .owner_cstack = 3, .runtime_tss_key = 2160,
	    .code_ptr_mask = ~0ull, .rc_scheme = 2, .tstate_datastack_top = 240,
	    .tstate_datastack_chunk = 232, .chunk_data = 24, .chunk_size = 8, .code_framesize = 76,
	    .code_nlocalsplus = 72, .code_stacksize = 64, .frame_specials = 0,
	    .entry_before_link = 1 },
	  { UOFF_COMMON, .interp_modules = 7656, .dictvalues_values = 8, .tuple_item = 24,
	    .code_monitoring = 176, .mon_lines = 32, .mon_per_instr = 48, .str_compact_data = 56 } },
	{ 14,
	  { OFF_COMMON, .runtime_interp_head = 808, .interp_next = 7272, .interp_threads_head = 7344,
	    .tstate_native_tid = 160, .tstate_thread_id = 152, .tstate_cframe = -1,
	    .current_frame = 72, .frame_code = 0, .frame_previous = 8, .frame_owner = 74,
	    .code_adaptive = 208, .code_firstlineno = 68, .str_ascii_data = 40,
	    .owner_cstack = 3, .runtime_tss_key = 2336, .code_ptr_mask = ~3ull,
	    .rc_scheme = 3, .tstate_datastack_top = 240, .tstate_datastack_chunk = 232,
	    .chunk_data = 24, .chunk_size = 8, .code_framesize = 76, .code_nlocalsplus = 72, .code_stacksize = 64,
	    .frame_specials = 0, .entry_before_link = 1 },
	  { UOFF_COMMON, .interp_modules = 7688, .dictvalues_values = 8, .tuple_item = 32,
	    .code_monitoring = 176, .mon_lines = 96, .mon_per_instr = 112, .str_compact_data = 56 } },
};

/*
 * Inline cache code units that follow each opcode, for the adaptive bytecode as it sits in
 * memory: specialized and INSTRUMENTED_* opcodes take their base opcode's count. Printed by
 * tools/pydump/optable.py under 3.11.7 (same as 3.11.2), 3.12.1, 3.13.0 and 3.14.10, and equal to
 * _PyOpcode_Caches[_PyOpcode_Deopt[op]] compiled from each version's headers.
 */
static const __u8 caches311[256] = {
	[3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1, [13] = 1, [14] = 1,
	[16] = 1, [17] = 4, [18] = 4, [19] = 4, [20] = 4, [21] = 4, [22] = 4, [23] = 4,
	[24] = 4, [25] = 4, [26] = 2, [27] = 2, [28] = 2, [29] = 2, [39] = 4, [40] = 4,
	[41] = 4, [42] = 4, [43] = 4, [47] = 5, [48] = 5, [55] = 5, [56] = 10, [57] = 10,
	[58] = 10, [59] = 10, [60] = 1, [62] = 10, [63] = 10, [64] = 1, [65] = 1, [66] = 1,
	[67] = 1, [72] = 1, [73] = 1, [76] = 1, [77] = 1, [78] = 1, [79] = 1, [80] = 1,
	[81] = 1, [92] = 1, [95] = 4, [106] = 4, [107] = 2, [113] = 1, [116] = 5, [121] = 1,
	[122] = 1, [127] = 1, [141] = 1, [143] = 1, [153] = 4, [154] = 4, [158] = 4, [159] = 4,
	[160] = 10, [166] = 1, [168] = 1, [169] = 1, [170] = 1, [171] = 4, [177] = 1, [178] = 1,
	[179] = 1, [180] = 1,
};
static const __u8 caches312[256] = {
	[6] = 1, [7] = 1, [8] = 1, [10] = 1, [13] = 1, [14] = 1, [16] = 1, [18] = 1,
	[19] = 1, [20] = 1, [21] = 1, [22] = 1, [23] = 3, [24] = 3, [25] = 1, [28] = 3,
	[29] = 3, [34] = 3, [38] = 3, [39] = 3, [40] = 3, [41] = 3, [42] = 3, [43] = 3,
	[44] = 3, [45] = 3, [46] = 3, [47] = 3, [48] = 3, [56] = 3, [57] = 1, [58] = 1,
	[59] = 1, [60] = 1, [62] = 1, [63] = 1, [64] = 1, [65] = 1, [66] = 1, [67] = 1,
	[70] = 9, [72] = 9, [73] = 9, [76] = 9, [77] = 9, [78] = 9, [79] = 9, [80] = 9,
	[81] = 9, [82] = 9, [92] = 1, [93] = 1, [95] = 4, [106] = 9, [107] = 1, [111] = 4,
	[112] = 4, [113] = 4, [116] = 4, [122] = 1, [123] = 1, [141] = 1, [148] = 4, [153] = 4,
	[159] = 1, [160] = 1, [161] = 1, [166] = 1, [167] = 1, [168] = 1, [171] = 3, [237] = 1,
	[241] = 3, [248] = 1,
};
static const __u8 caches313[256] = {
	[3] = 1, [5] = 1, [39] = 1, [40] = 3, [45] = 1, [53] = 3, [58] = 1, [59] = 1,
	[72] = 1, [77] = 1, [82] = 9, [91] = 4, [93] = 1, [97] = 1, [98] = 1, [99] = 1,
	[100] = 1, [104] = 1, [108] = 4, [117] = 1, [150] = 1, [151] = 1, [152] = 1, [153] = 1,
	[154] = 1, [155] = 1, [156] = 1, [157] = 1, [158] = 1, [159] = 1, [160] = 1, [161] = 1,
	[162] = 3, [163] = 3, [164] = 3, [165] = 3, [166] = 3, [167] = 3, [168] = 3, [169] = 3,
	[170] = 3, [171] = 3, [172] = 3, [173] = 3, [174] = 3, [175] = 3, [176] = 3, [177] = 3,
	[178] = 3, [179] = 3, [180] = 3, [181] = 3, [182] = 1, [183] = 1, [184] = 1, [185] = 1,
	[186] = 1, [187] = 1, [188] = 1, [189] = 1, [190] = 1, [191] = 9, [192] = 9, [193] = 9,
	[194] = 9, [195] = 9, [196] = 9, [197] = 9, [198] = 9, [199] = 9, [200] = 9, [201] = 9,
	[202] = 9, [203] = 4, [204] = 4, [205] = 1, [206] = 1, [208] = 1, [209] = 4, [210] = 4,
	[211] = 4, [212] = 1, [213] = 1, [214] = 3, [215] = 3, [216] = 3, [217] = 3, [218] = 3,
	[219] = 3, [220] = 1, [221] = 1, [222] = 1, [242] = 1, [243] = 1, [244] = 3, [249] = 1,
	[250] = 1, [251] = 1, [252] = 1, [253] = 1,
};
static const __u8 caches314[256] = {
	[3] = 5, [38] = 1, [39] = 3, [44] = 5, [52] = 3, [55] = 3, [56] = 1, [57] = 1,
	[70] = 1, [75] = 1, [80] = 9, [92] = 4, [96] = 1, [100] = 1, [101] = 1, [102] = 1,
	[103] = 1, [106] = 1, [110] = 4, [119] = 1, [129] = 5, [130] = 5, [131] = 5, [132] = 5,
	[133] = 5, [134] = 5, [135] = 5, [136] = 5, [137] = 5, [138] = 5, [139] = 5, [140] = 5,
	[141] = 5, [142] = 5, [143] = 3, [144] = 3, [145] = 3, [146] = 3, [147] = 3, [148] = 3,
	[149] = 3, [150] = 3, [151] = 3, [152] = 3, [153] = 3, [154] = 3, [155] = 3, [156] = 3,
	[157] = 3, [158] = 3, [159] = 3, [160] = 3, [161] = 3, [162] = 3, [163] = 3, [164] = 3,
	[165] = 3, [166] = 1, [167] = 1, [168] = 1, [169] = 1, [170] = 1, [171] = 1, [172] = 1,
	[173] = 1, [174] = 1, [175] = 1, [176] = 1, [177] = 9, [178] = 9, [179] = 9, [180] = 9,
	[181] = 9, [182] = 9, [183] = 9, [184] = 9, [185] = 9, [186] = 9, [187] = 9, [188] = 9,
	[189] = 9, [192] = 4, [193] = 4, [194] = 1, [195] = 1, [197] = 1, [198] = 4, [199] = 4,
	[200] = 4, [201] = 1, [202] = 1, [203] = 3, [204] = 3, [205] = 3, [206] = 3, [207] = 3,
	[208] = 3, [209] = 1, [210] = 1, [211] = 1, [237] = 1, [241] = 1, [242] = 1, [243] = 1,
	[244] = 1, [249] = 1, [250] = 3, [251] = 3, [253] = 1,
};

/* Opcode numbers; -1: no such opcode in that version. */
struct py_ops {
	__u32 minor;
	const __u8 *caches;
	int ret_value, ret_const, iret_value, iret_const;
	int instr_line, instr_instr;  /* hide the real opcode (kept in _co_monitoring) */
	int enter_executor;           /* replaces a JUMP_BACKWARD (tier 2) */
	int jump_backward;
};

static const struct py_ops py_opss[] = {
	{ 11, caches311, 83, -1, -1, -1, -1, -1, -1, 140 },
	{ 12, caches312, 83, 121, 242, 247, 254, 253, -1, 140 },
	{ 13, caches313, 36, 103, 239, 240, 254, 247, 70, 77 },
	{ 14, caches314, 35, -1, 246, -1, 254, 238, 255, 75 },
};

#define CO_GENERATOR 0x20
#define CO_COROUTINE 0x80
#define CO_ITERABLE_COROUTINE 0x100
#define CO_ASYNC_GENERATOR 0x200
#define TPFLAGS_HEAPTYPE (1ul << 9)
#define TPFLAGS_TYPE_SUBCLASS (1ul << 31)
#define DICT_KEYS_GENERAL 0

/* Bounds on what a walk may touch, against garbage and huge programs. */
#define MAX_STR 4096
#define MAX_DICT_ENTRIES (1u << 17)
#define MAX_CODE_UNITS (1u << 20)
#define MAX_LINETABLE (1u << 20)
#define MAX_INTERPS 16
#define MAX_QUAL_PARTS 16

static __u32 minor_of(__u32 hex)
{
	return (hex >> 16) & 0xff;
}

static const struct py_table *table_for(__u32 hex)
{
	if ((hex >> 24) != 3)
		return NULL;
	for (size_t i = 0; i < sizeof(py_tables) / sizeof(py_tables[0]); i++)
		if (py_tables[i].minor == minor_of(hex))
			return &py_tables[i];
	return NULL;
}

static const struct py_ops *ops_for(__u32 hex)
{
	if ((hex >> 24) != 3)
		return NULL;
	for (size_t i = 0; i < sizeof(py_opss) / sizeof(py_opss[0]); i++)
		if (py_opss[i].minor == minor_of(hex))
			return &py_opss[i];
	return NULL;
}


/* ------------------------------------------------------------------ memory of the target */

static int pid_read(void *ctx, __u64 addr, void *buf, size_t len)
{
	pid_t pid = (pid_t)(intptr_t)ctx;
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	char path[64];
	ssize_t n;
	int fd;

	if (!len)
		return 0;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	/* EPERM under some LSMs, ENOSYS in old sandboxes: /proc/PID/mem still works as root. */
	if (n >= 0 || (errno != EPERM && errno != ENOSYS))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)addr);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* One process_vm_readv for all of R; a read that faults ends the call there (the kernel
 * copies the iovecs in order), so the rest are retried from the next one. */
static void pid_readv(void *ctx, struct mem_req *r, int n)
{
	pid_t pid = (pid_t)(intptr_t)ctx;
	struct iovec local[64], remote[64];
	int i = 0;

	while (i < n) {
		int k = n - i < 64 ? n - i : 64;
		ssize_t got;

		for (int j = 0; j < k; j++) {
			local[j] = (struct iovec){ r[i + j].buf, r[i + j].len };
			remote[j] = (struct iovec){ (void *)(uintptr_t)r[i + j].addr, r[i + j].len };
		}
		got = process_vm_readv(pid, local, k, remote, k, 0);
		if (got < 0 && errno == EFAULT) {
			r[i++].ok = 0; /* the first one faults */
			continue;
		}
		if (got < 0) {
			/* EPERM/ENOSYS: pid_read falls back to /proc/PID/mem, one read at a time. */
			for (; i < n; i++)
				r[i].ok = !pid_read(ctx, r[i].addr, r[i].buf, r[i].len);
			return;
		}
		for (int j = 0; j < k; j++, i++) {
			if ((size_t)got < r[i].len) {
				r[i++].ok = 0; /* the faulting one */
				break;
			}
			got -= r[i].len;
			r[i].ok = 1;
		}
	}
}

struct mem_reader mem_reader_pid(pid_t pid)
{
	struct mem_reader m = { pid_read, (void *)(intptr_t)pid, pid_readv };

	return m;
}

static int rd(struct py_target *t, __u64 addr, void *buf, size_t len)
{
	if (!t->mem.read || addr < 4096 || addr + len < addr)
		return -1;
	return t->mem.read(t->mem.ctx, addr, buf, len);
}

static int rd64(struct py_target *t, __u64 addr, __u64 *v)
{
	return rd(t, addr, v, sizeof(*v));
}

/* Up to 64 independent reads, in one call when the reader can batch; r[i].ok says which
 * were read. Addresses rd would refuse are not passed on. */
static void rd_many(struct py_target *t, struct mem_req *r, int n)
{
	struct mem_req v[64];
	int idx[64], nv = 0;

	for (int i = 0; i < n; i++) {
		r[i].ok = 0;
		if (!t->mem.readv)
			r[i].ok = !rd(t, r[i].addr, r[i].buf, r[i].len);
		else if (nv < 64 && r[i].len && r[i].addr >= 4096 && r[i].addr + r[i].len > r[i].addr) {
			idx[nv] = i;
			v[nv++] = r[i];
		}
	}
	if (!nv)
		return;
	t->mem.readv(t->mem.ctx, v, nv);
	for (int j = 0; j < nv; j++)
		r[idx[j]].ok = v[j].ok;
}

/* ------------------------------------------------------------------ offsets */

/* Word indexes in _Py_DebugOffsets (all uint64_t) of the fields we take, per minor version.
 * 3.13 from its pycore_runtime.h, 3.14 from pycore_debug_offsets.h (threads_main, the two
 * generation counters, stackpointer, tlbc_index, co_tlbc and set_object were added). */
struct dbg_layout {
	__u32 minor;
	int nwords;
	int rt_interp_head;
	int is_size, is_next, is_threads_head, is_modules;
	int ts_size, ts_prev, ts_next, ts_current_frame, ts_thread_id, ts_native_tid;
	int fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_owner;
	int co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno, co_adaptive;
	int ob_type;
	int tp_name, tp_flags;
	int tuple_item, tuple_size;
	int dict_keys, dict_values;
	int bytes_size, bytes_data;
	int str_state, str_length, str_ascii_size;
};

static const struct dbg_layout dbg_layouts[] = {
	{ 13, 71, 5, 6, 8, 9, 11, 19, 20, 21, 23, 24, 25, 28, 29, 30, 31, 33,
	  34, 35, 36, 37, 38, 39, 43, 45, 47, 49, 51, 52, 57, 58, 65, 66, 68, 69, 70 },
	{ 14, 81, 5, 6, 8, 9, 12, 22, 23, 24, 26, 27, 28, 31, 32, 33, 34, 36,
	  39, 40, 41, 42, 43, 44, 48, 51, 53, 55, 57, 58, 67, 68, 75, 76, 78, 79, 80 },
};

/* Fills off/uoff from the target's _Py_DebugOffsets. 0, or -1 with a reason in why. */
static int from_debug_offsets(struct py_target *t, struct py_offsets *o, struct py_uoffsets *u,
			      char *why, size_t whylen)
{
	const struct dbg_layout *L = NULL;
	__u64 w[96];

	for (size_t i = 0; i < sizeof(dbg_layouts) / sizeof(dbg_layouts[0]); i++)
		if (dbg_layouts[i].minor == minor_of(t->version_hex))
			L = &dbg_layouts[i];
	if (!L) {
		seterr(why, whylen, "no _Py_DebugOffsets layout for this version");
		return -1;
	}
	if (rd(t, t->runtime, w, L->nwords * sizeof(__u64))) {
		seterr(why, whylen, "_Py_DebugOffsets unreadable");
		return -1;
	}
	if (memcmp(w, "xdebugpy", 8)) {
		seterr(why, whylen, "no xdebugpy cookie at _PyRuntime");
		return -1;
	}
	if ((w[1] >> 16) != (t->version_hex >> 16)) {
		seterr(why, whylen, "_Py_DebugOffsets.version 0x%llx", (unsigned long long)w[1]);
		return -1;
	}
	if (w[2]) {
		seterr(why, whylen, "free-threaded build");
		return -1;
	}
	if (w[L->ob_type] != 8) {
		seterr(why, whylen, "PyObject.ob_type at %llu (debug build with Py_TRACE_REFS?)",
		       (unsigned long long)w[L->ob_type]);
		return -1;
	}
	/* Fields must fall inside their struct, and neighbours must be where C puts them. */
#define IN(f, sz) (w[L->f] < w[L->sz] && w[L->sz] < (1u << 20))
	if (!IN(is_next, is_size) || !IN(is_threads_head, is_size) || !IN(is_modules, is_size) ||
	    !IN(ts_next, ts_size) || !IN(ts_current_frame, ts_size) ||
	    !IN(ts_native_tid, ts_size) || !IN(fr_previous, fr_size) ||
	    !IN(fr_executable, fr_size) || !IN(fr_instr_ptr, fr_size) || !IN(fr_owner, fr_size) ||
	    w[L->ts_next] != w[L->ts_prev] + 8 || w[L->co_name] != w[L->co_filename] + 8 ||
	    w[L->co_qualname] != w[L->co_name] + 8 || w[L->co_adaptive] != w[L->co_size] - 8 ||
	    w[L->co_firstlineno] >= w[L->co_size] || w[L->co_linetable] >= w[L->co_size] ||
	    w[L->rt_interp_head] > 65536) {
		seterr(why, whylen, "_Py_DebugOffsets fails its sanity checks");
		return -1;
	}
#undef IN
	o->runtime_interp_head = w[L->rt_interp_head];
	o->interp_next = w[L->is_next];
	o->interp_threads_head = w[L->is_threads_head];
	u->interp_modules = w[L->is_modules];
	o->tstate_next = w[L->ts_next];
	o->tstate_cframe = -1;
	o->current_frame = w[L->ts_current_frame];
	o->tstate_thread_id = w[L->ts_thread_id];
	o->tstate_native_tid = w[L->ts_native_tid];
	o->frame_previous = w[L->fr_previous];
	o->frame_code = w[L->fr_executable];
	o->frame_instr = w[L->fr_instr_ptr];
	o->frame_owner = w[L->fr_owner];
	o->code_filename = w[L->co_filename];
	u->code_name = w[L->co_name];
	o->code_qualname = w[L->co_qualname];
	u->code_linetable = w[L->co_linetable];
	o->code_firstlineno = w[L->co_firstlineno];
	o->code_adaptive = w[L->co_adaptive];
	u->type_name = w[L->tp_name];
	u->type_flags = w[L->tp_flags];
	u->tuple_item = w[L->tuple_item];
	u->tuple_size = w[L->tuple_size];
	u->dict_keys = w[L->dict_keys];
	u->dict_values = w[L->dict_values];
	u->bytes_size = w[L->bytes_size];
	u->bytes_data = w[L->bytes_data];
	u->str_state = w[L->str_state];
	u->str_length = w[L->str_length];
	o->str_ascii_data = w[L->str_ascii_size];
	/* A compact str is the ASCII header plus utf8_length and utf8. */
	u->str_compact_data = w[L->str_ascii_size] + 16;
	return 0;
}

/* Appends "name a->b" for each field that differs. */
static void diff_fields(char *buf, size_t len, const char *name, long a, long b)
{
	size_t n = strlen(buf);

	if (a == b || n + 1 >= len)
		return;
	snprintf(buf + n, len - n, "%s%s %ld->%ld", n ? ", " : "", name, a, b);
}

int py_offsets_for(struct py_target *t, char *err, size_t errlen)
{
	const struct py_table *tab = table_for(t->version_hex);
	struct py_offsets o;
	struct py_uoffsets u;
	char why[128], d[200] = "";

	if (!tab) {
		seterr(err, errlen, "Python %u.%u is not supported (3.11-3.14)", t->version_hex >> 24,
		       minor_of(t->version_hex));
		return -1;
	}
	o = tab->off;
	u = tab->uoff;
	o.version_hex = t->version_hex;
	snprintf(t->offsets_note, sizeof(t->offsets_note), "built-in table 3.%u", tab->minor);
	if (tab->minor >= 13 && t->mem.read && t->runtime) {
		if (from_debug_offsets(t, &o, &u, why, sizeof(why))) {
			__u64 w[3];

			/* A debug or free-threaded interpreter has other layouts everywhere. */
			if (!rd(t, t->runtime, w, sizeof(w)) && !memcmp(w, "xdebugpy", 8) && w[2]) {
				seterr(err, errlen, "free-threaded Python %s is not supported", t->version);
				return -1;
			}
			if (strstr(why, "Py_TRACE_REFS")) {
				seterr(err, errlen, "Python %s: %s is not supported", t->version, why);
				return -1;
			}
			snprintf(t->offsets_note, sizeof(t->offsets_note),
				 "built-in table 3.%u (%s)", tab->minor, why);
		} else {
#define DO(f) diff_fields(d, sizeof(d), #f, (long)tab->off.f, (long)o.f)
#define DU(f) diff_fields(d, sizeof(d), #f, (long)tab->uoff.f, (long)u.f)
			DO(runtime_interp_head); DO(interp_next); DO(interp_threads_head);
			DU(interp_modules); DO(tstate_next); DO(current_frame);
			DO(tstate_native_tid); DO(tstate_thread_id); DO(frame_previous);
			DO(frame_code); DO(frame_instr); DO(frame_owner);
			DO(code_filename); DO(code_qualname); DO(code_firstlineno);
			DU(code_linetable); DO(code_adaptive); DO(str_ascii_data);
			DU(tuple_item); DU(dict_keys); DU(dict_values);
			DU(bytes_data); DU(str_compact_data);
#undef DO
#undef DU
			if (d[0])
				snprintf(t->offsets_note, sizeof(t->offsets_note),
					 "_Py_DebugOffsets differs from the built-in 3.%u table: %s",
					 tab->minor, d);
			else
				snprintf(t->offsets_note, sizeof(t->offsets_note),
					 "_Py_DebugOffsets (same as the built-in 3.%u table)", tab->minor);
		}
	}
	t->off = o;
	t->uoff = u;
	return 0;
}

/* ------------------------------------------------------------------ finding the interpreter */

struct mapped_file {
	char path[4096];
	__u64 ino;
	int nmaps;
	__u64 end0;                /* end of the first mapping (map_files name) */
	__u64 start[8], offset[8];
};

#define MAX_MAPPED_FILES 256

/* Distinct files mapped by PID, in /proc/PID/maps order. -1 with errno if maps is unreadable. */
static int read_maps(pid_t pid, struct mapped_file **out, int *nout)
{
	char path[64], line[4096 + 256];
	struct mapped_file *f = NULL;
	int n = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	f = calloc(MAX_MAPPED_FILES, sizeof(*f));
	if (!f) {
		fclose(fp);
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long start, end, off, ino;
		char perms[8], dev[16];
		int pos = 0, i;
		char *p;

		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %n", &start, &end, perms, &off, dev,
			   &ino, &pos) < 6 || !ino || !pos)
			continue;
		p = line + pos;
		p[strcspn(p, "\n")] = 0;
		if (p[0] != '/')
			continue;
		for (i = 0; i < n; i++)
			if (f[i].ino == ino && !strcmp(f[i].path, p))
				break;
		if (i == n) {
			if (n == MAX_MAPPED_FILES)
				continue;
			snprintf(f[n].path, sizeof(f[n].path), "%s", p);
			f[n].ino = ino;
			n++;
		}
		if (!f[i].nmaps)
			f[i].end0 = end;
		if (f[i].nmaps < 8) {
			f[i].start[f[i].nmaps] = start;
			f[i].offset[f[i].nmaps] = off;
			f[i].nmaps++;
		}
	}
	fclose(fp);
	*out = f;
	*nout = n;
	return 0;
}

/* A path to open the mapped file from our mount namespace: as is when it is the same inode,
 * else through /proc/PID/root (containers) or /proc/PID/map_files (deleted files). */
static void usable_path(pid_t pid, const struct mapped_file *f, char *out, size_t outlen)
{
	const char *del = " (deleted)";
	size_t l = strlen(f->path), dl = strlen(del);
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), "%s", f->path);
	if (l > dl && !strcmp(p + l - dl, del))
		p[l - dl] = 0;
	if (!stat(p, &st) && st.st_ino == f->ino) {
		snprintf(out, outlen, "%s", p);
		return;
	}
	if (snprintf(out, outlen, "/proc/%d/root%s", pid, p) < (int)outlen &&
	    !stat(out, &st) && st.st_ino == f->ino)
		return;
	snprintf(out, outlen, "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)f->start[0], (unsigned long long)f->end0);
	if (!stat(out, &st) && st.st_ino == f->ino)
		return;
	snprintf(out, outlen, "%s", p);
}

/* Load bias of a mapped ELF: mapping start minus the page-aligned p_vaddr of the PT_LOAD
 * segment mapped at that file offset (0 for ET_EXEC). -1 if the file cannot be read. */
static int load_bias(const char *path, const struct mapped_file *f, __u64 *bias)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd, rc = -1;
	size_t nph;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF || elf_getphdrnum(e, &nph))
		goto out;
	for (int m = 0; m < f->nmaps && rc; m++) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(e, i, &ph) || ph.p_type != PT_LOAD)
				continue;
			if ((ph.p_offset & ~(__u64)(page - 1)) != f->offset[m])
				continue;
			*bias = f->start[m] - (ph.p_vaddr & ~(__u64)(page - 1));
			rc = 0;
			break;
		}
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return rc;
}

static bool name_looks_python(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return !strncmp(b, "libpython3", 10) || !strncmp(b, "python3", 7) ||
	       !strncmp(b, "libpython", 9) || !strncmp(b, "python", 6);
}

static void version_string(__u32 hex, char *out, size_t len)
{
	static const char lvl[16] = { [0xa] = 'a', [0xb] = 'b', [0xc] = 'c' };
	unsigned level = (hex >> 4) & 0xf, serial = hex & 0xf;

	if (level == 0xf || !lvl[level])
		snprintf(out, len, "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff);
	else
		snprintf(out, len, "%u.%u.%u%s%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff,
			 level == 0xc ? "rc" : (level == 0xa ? "a" : "b"), serial);
}

/* 3.10 from ".../libpython3.10.so.1.0" or ".../python3.10" (pre-3.11 has no Py_Version). */
static bool version_from_name(const char *path, unsigned *maj, unsigned *min)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	if (!strncmp(b, "lib", 3))
		b += 3;
	return sscanf(b, "python%u.%u", maj, min) == 2;
}

int py_detect(pid_t pid, struct py_target *t, char *err, size_t errlen)
{
	struct mapped_file *files = NULL;
	int nfiles = 0, found = -1, named = -1;
	char path[4096];
	__u64 rt_vaddr = 0, ver_vaddr, bias = 0, hex = 0;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->mem = mem_reader_pid(pid);
	if (read_maps(pid, &files, &nfiles)) {
		seterr(err, errlen, "pid %d: %s", pid, errno == ENOENT ? "no such process" : strerror(errno));
		return -1;
	}
	/* Files named like python first, then anything else mapped (embedders). */
	for (int pass = 0; pass < 2 && found < 0; pass++) {
		for (int i = 0; i < nfiles && found < 0; i++) {
			if (name_looks_python(files[i].path) != (pass == 0))
				continue;
			usable_path(pid, &files[i], path, sizeof(path));
			if (pass == 0 && named < 0)
				named = i;
			if (!elf_read_symbol_value(path, "_PyRuntime", &rt_vaddr, NULL)) {
				found = i;
				snprintf(t->elf_path, sizeof(t->elf_path), "%s", path);
			}
		}
	}
	if (found < 0) {
		unsigned maj, min;

		if (named >= 0 && version_from_name(files[named].path, &maj, &min) &&
		    (maj < 3 || (maj == 3 && min < 11)))
			seterr(err, errlen, "pid %d: Python %u.%u is not supported (3.11-3.14)", pid,
			       maj, min);
		else if (named >= 0)
			seterr(err, errlen, "pid %d: no _PyRuntime symbol in %s (stripped static build?)",
			       pid, files[named].path);
		else
			seterr(err, errlen, "pid %d: not a Python process (no libpython or python binary "
			       "with _PyRuntime mapped)", pid);
		free(files);
		return -1;
	}
	if (load_bias(t->elf_path, &files[found], &bias)) {
		seterr(err, errlen, "pid %d: cannot compute the load address of %s", pid, t->elf_path);
		free(files);
		return -1;
	}
	t->load_bias = bias;
	t->runtime = bias + rt_vaddr;
	/* Py_Version (3.11+) from the live process, else from the file. */
	if (!elf_read_symbol_value(t->elf_path, "Py_Version", &ver_vaddr, NULL)) {
		__u32 v32 = 0;

		if (rd(t, bias + ver_vaddr, &v32, sizeof(v32)) &&
		    elf_read_vaddr(t->elf_path, ver_vaddr, &v32, sizeof(v32)))
			v32 = 0;
		hex = v32;
	}
	if (!hex) {
		__u64 w[2];

		/* 3.13+ also has it at the head of _PyRuntime. */
		if (!rd(t, t->runtime, w, sizeof(w)) && !memcmp(w, "xdebugpy", 8))
			hex = (__u32)w[1];
	}
	if (!hex) {
		unsigned maj, min;

		if (version_from_name(files[found].path, &maj, &min))
			seterr(err, errlen, "pid %d: Python %u.%u is not supported (3.11-3.14)", pid,
			       maj, min);
		else
			seterr(err, errlen, "pid %d: cannot tell the Python version of %s (no Py_Version)",
			       pid, t->elf_path);
		free(files);
		return -1;
	}
	free(files);
	t->version_hex = hex;
	version_string(hex, t->version, sizeof(t->version));
	if ((hex >> 24) != 3 || minor_of(hex) < 11 || minor_of(hex) > 14) {
		seterr(err, errlen, "pid %d: Python %s is not supported (3.11-3.14)", pid, t->version);
		return -1;
	}
	if (py_offsets_for(t, err, errlen)) {
		char tmp[256];

		if (err && errlen) {
			snprintf(tmp, sizeof(tmp), "%s", err);
			seterr(err, errlen, "pid %d: %s", pid, tmp);
		}
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ str objects */

#define STR_COMPACT (1u << 5)
#define STR_ASCII (1u << 6)

/* Appends code point C as UTF-8 if it fits. */
static size_t put_utf8(char *out, size_t at, size_t cap, __u32 c)
{
	char b[4];
	size_t n;

	if (c < 0x80) {
		b[0] = c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = 0xc0 | (c >> 6);
		b[1] = 0x80 | (c & 0x3f);
		n = 2;
	} else if (c < 0x10000) {
		b[0] = 0xe0 | (c >> 12);
		b[1] = 0x80 | ((c >> 6) & 0x3f);
		b[2] = 0x80 | (c & 0x3f);
		n = 3;
	} else if (c < 0x110000) {
		b[0] = 0xf0 | (c >> 18);
		b[1] = 0x80 | ((c >> 12) & 0x3f);
		b[2] = 0x80 | ((c >> 6) & 0x3f);
		b[3] = 0x80 | (c & 0x3f);
		n = 4;
	} else {
		b[0] = '?';
		n = 1;
	}
	if (at + n >= cap)
		return at;
	memcpy(out + at, b, n);
	return at + n;
}

/* A compact str as UTF-8 into OUT (NUL-terminated, cut to outlen - 1 bytes on a character
 * boundary). Bytes written, or -1 if OBJ is not a readable compact str. */
static int read_str(struct py_target *t, __u64 obj, char *out, size_t outlen)
{
	const struct py_uoffsets *u = &t->uoff;
	__u8 hdr[320];
	__s64 len;
	__u32 state, kind;
	size_t n = 0;
	__u8 *raw;
	bool full;

	if (!outlen)
		return -1;
	out[0] = 0;
	if ((size_t)t->off.str_ascii_data > sizeof(hdr))
		return -1;
	/* Header and up to sizeof(hdr) - header bytes of text in one read; header alone if that
	 * crosses the end of the mapping. */
	full = !rd(t, obj, hdr, sizeof(hdr));
	if (!full && rd(t, obj, hdr, t->off.str_ascii_data))
		return -1;
	memcpy(&len, hdr + u->str_length, sizeof(len));
	memcpy(&state, hdr + u->str_state, sizeof(state));
	kind = (state >> 2) & 7;
	if (len < 0 || len > MAX_STR || !(state & STR_COMPACT))
		return -1;
	if (full && (state & STR_ASCII) && (size_t)len < outlen &&
	    (size_t)len <= sizeof(hdr) - t->off.str_ascii_data) {
		memcpy(out, hdr + t->off.str_ascii_data, len);
		out[len] = 0;
		return len;
	}
	if (state & STR_ASCII) {
		n = (size_t)len < outlen - 1 ? (size_t)len : outlen - 1;
		if (rd(t, obj + t->off.str_ascii_data, out, n))
			return -1;
		out[n] = 0;
		return n;
	}
	if (kind != 1 && kind != 2 && kind != 4)
		return -1;
	raw = malloc(len * kind + 1);
	if (!raw)
		return -1;
	if (rd(t, obj + u->str_compact_data, raw, len * kind)) {
		free(raw);
		return -1;
	}
	for (__s64 i = 0; i < len; i++) {
		__u32 c;
		size_t before = n;

		if (kind == 1)
			c = raw[i];
		else if (kind == 2)
			c = raw[2 * i] | (raw[2 * i + 1] << 8);
		else
			memcpy(&c, raw + 4 * i, 4);
		n = put_utf8(out, n, outlen, c);
		if (n == before)
			break;
	}
	out[n] = 0;
	free(raw);
	return n;
}

/* 1 if OBJ is a str equal to S (NUL-terminated), 0 if not, -1 if unreadable. */
static int str_eq(struct py_target *t, __u64 obj, const char *s)
{
	size_t n = strlen(s), hl = t->off.str_ascii_data;
	__u8 buf[128 + 256];
	__s64 len;
	__u32 state;
	bool ascii = true;

	for (size_t i = 0; i < n; i++)
		if ((__u8)s[i] >= 0x80)
			ascii = false;
	/* Header and data in one read when the string is short: one syscall per dict key. */
	if (ascii && hl <= 128 && n <= 256 && !rd(t, obj, buf, hl + n)) {
		memcpy(&len, buf + t->uoff.str_length, sizeof(len));
		memcpy(&state, buf + t->uoff.str_state, sizeof(state));
		if (!(state & STR_COMPACT))
			return -1;
		/* CPython keeps an all-ASCII str in the ASCII form, so no other kind can match. */
		return (state & STR_ASCII) && len == (__s64)n && !memcmp(buf + hl, s, n);
	}
	{
		char tmp[MAX_STR + 1];
		int l = read_str(t, obj, tmp, sizeof(tmp));

		if (l < 0)
			return -1;
		return (size_t)l == n && !memcmp(tmp, s, n);
	}
}

/* ------------------------------------------------------------------ dict objects */

/* Bytes read from each key of a dict chunk: a str header and the text of names up to ~80
 * characters, so looking up a name costs no read per key. */
#define KEY_HEAD 128

struct dict_it {
	__u64 entries;   /* first entry */
	__u64 values;    /* split table: values[] (0 for a combined table) */
	__u32 n, i, esz;
	__u32 bstart, blen;        /* entries buffered in buf / vbuf */
	__u32 nreads;
	bool keys;                 /* read each chunk's key heads with it (dict_key_ascii) */
	__u64 buf[3 * 64];
	__u64 vbuf[64];
	__u8 kok[64];
	__u8 khead[64][KEY_HEAD];
};

static int dict_open(struct py_target *t, __u64 dict, struct dict_it *it)
{
	const struct py_uoffsets *u = &t->uoff;
	__u64 keys, values = 0;
	__u8 kh[64];
	__u8 log2_size, log2_index_bytes, kind;
	__s64 nentries;

	memset(it, 0, sizeof(*it));
	if (u->dict_values == u->dict_keys + 8) {
		/* Adjacent (every supported version): one read. */
		__u64 kv[2];

		if (rd(t, dict + u->dict_keys, kv, sizeof(kv)))
			return -1;
		keys = kv[0];
		values = kv[1];
	} else if (rd64(t, dict + u->dict_keys, &keys) || rd64(t, dict + u->dict_values, &values)) {
		return -1;
	}
	if (u->keys_indices > (int)sizeof(kh) || rd(t, keys, kh, u->keys_indices))
		return -1;
	log2_size = kh[u->keys_log2_size];
	log2_index_bytes = kh[u->keys_log2_index_bytes];
	kind = kh[u->keys_kind];
	memcpy(&nentries, kh + u->keys_nentries, sizeof(nentries));
	if (log2_size == 0 && nentries == 0) {
		/* The shared empty keys object of an empty dict. */
		return 0;
	}
	if (log2_size < 3 || log2_size > 30 || log2_index_bytes < log2_size ||
	    log2_index_bytes > log2_size + 3 || kind > 2 || nentries < 0 ||
	    nentries > (1ll << log2_size) || nentries > MAX_DICT_ENTRIES)
		return -1;
	it->entries = keys + u->keys_indices + (1ull << log2_index_bytes);
	it->esz = kind == DICT_KEYS_GENERAL ? 24 : 16;
	it->n = nentries;
	if (values)
		it->values = values + u->dictvalues_values;
	return 0;
}

static __u64 dict_key_at(const struct dict_it *it, __u32 k)
{
	const __u64 *e = (const __u64 *)((const char *)it->buf + (size_t)k * it->esz);

	return it->esz == 24 ? e[1] : e[0];
}

/* The heads of the buffered chunk's keys, in one batched read. */
static void dict_read_keys(struct py_target *t, struct dict_it *it)
{
	struct mem_req r[64];

	for (__u32 k = 0; k < it->blen; k++)
		r[k] = (struct mem_req){ .addr = dict_key_at(it, k), .buf = it->khead[k], .len = KEY_HEAD };
	rd_many(t, r, it->blen);
	for (__u32 k = 0; k < it->blen; k++)
		it->kok[k] = r[k].ok;
}

/* The text of the key dict_next returned last when it is a compact ASCII str read with its
 * chunk: 1 with *s (not NUL-terminated) and *n; 0 when the key must be read on its own. */
static int dict_key_ascii(struct py_target *t, const struct dict_it *it, const char **s, size_t *n)
{
	__u32 k = it->i - 1 - it->bstart;
	size_t hl = t->off.str_ascii_data;
	const __u8 *h;
	__s64 len;
	__u32 state;

	if (!it->keys || it->i == 0 || k >= it->blen || !it->kok[k] || hl > KEY_HEAD)
		return 0;
	h = it->khead[k];
	memcpy(&len, h + t->uoff.str_length, sizeof(len));
	memcpy(&state, h + t->uoff.str_state, sizeof(state));
	if (!(state & STR_COMPACT) || !(state & STR_ASCII) || len < 0 || (size_t)len > KEY_HEAD - hl)
		return 0;
	*s = (const char *)h + hl;
	*n = len;
	return 1;
}

/* 1 with the next live entry, 0 at the end, -1 on a read error. */
static int dict_next(struct py_target *t, struct dict_it *it, __u64 *key, __u64 *val)
{
	while (it->i < it->n) {
		__u32 k = it->i - it->bstart;
		__u64 *e;

		if (it->i < it->bstart || k >= it->blen) {
			/* 8, 16, 32, then 64 at a time: lookups of early keys (__file__ in a
			 * module dict) stay one small read. */
			__u32 want = 8u << (it->nreads < 3 ? it->nreads : 3);
			__u32 cnt = it->n - it->i < want ? it->n - it->i : want;

			struct mem_req r[2] = {
				{ .addr = it->entries + (__u64)it->i * it->esz, .buf = it->buf,
				  .len = (size_t)cnt * it->esz },
				{ .addr = it->values + (__u64)it->i * 8, .buf = it->vbuf, .len = cnt * 8ul },
			};

			rd_many(t, r, it->values ? 2 : 1);
			if (!r[0].ok || (it->values && !r[1].ok))
				return -1;
			it->bstart = it->i;
			it->blen = cnt;
			it->nreads++;
			k = 0;
			if (it->keys)
				dict_read_keys(t, it);
		}
		e = (__u64 *)((char *)it->buf + (size_t)k * it->esz);
		it->i++;
		*key = it->esz == 24 ? e[1] : e[0];
		*val = it->values ? it->vbuf[k] : (it->esz == 24 ? e[2] : e[1]);
		if (*key && *val)
			return 1;
	}
	return 0;
}

/* Value of str key NAME among the first MAX entries. 1 found, 0 not there, -1 unreadable. */
static int dict_get_n(struct py_target *t, __u64 dict, const char *name, __u64 *val, __u32 max)
{
	struct dict_it it;
	__u64 k, v;
	int r;

	if (!dict || dict_open(t, dict, &it))
		return -1;
	if (it.n > max)
		it.n = max;
	it.keys = true;
	while ((r = dict_next(t, &it, &k, &v)) == 1) {
		const char *ks;
		size_t kn;

		if (dict_key_ascii(t, &it, &ks, &kn) ? kn == strlen(name) && !memcmp(ks, name, kn)
						     : str_eq(t, k, name) == 1) {
			*val = v;
			return 1;
		}
	}
	return r;
}

static int dict_get(struct py_target *t, __u64 dict, const char *name, __u64 *val)
{
	return dict_get_n(t, dict, name, val, MAX_DICT_ENTRIES);
}

/* ------------------------------------------------------------------ object kinds */

enum obj_kind {
	K_OTHER, K_DICT, K_MODULE, K_FUNCTION, K_STATICMETHOD, K_CLASSMETHOD, K_PROPERTY,
	K_METHOD, K_CODE, K_STR, K_CELL, K_TUPLE,
	K_TYPE, /* the object is a class */
};

static const char *const kind_names[] = {
	[K_DICT] = "dict", [K_MODULE] = "module", [K_FUNCTION] = "function",
	[K_STATICMETHOD] = "staticmethod", [K_CLASSMETHOD] = "classmethod",
	[K_PROPERTY] = "property", [K_METHOD] = "method", [K_CODE] = "code", [K_STR] = "str",
	[K_CELL] = "cell", [K_TUPLE] = "tuple",
};

#define TYPE_CACHE (sizeof(((struct py_target *)0)->type_cache[0]) / sizeof(__u64))

/* What instances of TYPE are; -1 if TYPE is unreadable. Cached per type address: built-in
 * types are static objects and classes outlive their instances. */
static int type_kind(struct py_target *t, __u64 type)
{
	const struct py_uoffsets *u = &t->uoff;
	__u64 flags, name;
	char buf[16];
	int kind = K_OTHER;
	size_t slot;

	for (size_t i = 0; i < TYPE_CACHE; i++)
		if (t->type_cache[0][i] == type && type)
			return (int)t->type_cache[1][i];
	if (rd64(t, type + u->type_flags, &flags))
		return -1;
	if (flags & TPFLAGS_TYPE_SUBCLASS) {
		kind = K_TYPE;
	} else if (!(flags & TPFLAGS_HEAPTYPE)) {
		/* Only static (C) types count: a class may be named "function" too. */
		if (rd64(t, type + u->type_name, &name) || rd(t, name, buf, sizeof(buf)))
			return -1;
		buf[sizeof(buf) - 1] = 0;
		for (size_t k = 1; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
			if (kind_names[k] && !strcmp(buf, kind_names[k]))
				kind = k;
	} else {
		__s64 dictoff;

		/* A module subclass keeps md_dict as its instance dict. */
		if (!rd(t, type + u->type_dictoffset, &dictoff, sizeof(dictoff)) &&
		    dictoff == u->module_dict)
			kind = K_MODULE;
	}
	slot = type % TYPE_CACHE;
	for (size_t i = 0; i < TYPE_CACHE; i++)
		if (!t->type_cache[0][i]) {
			slot = i;
			break;
		}
	t->type_cache[0][slot] = type;
	t->type_cache[1][slot] = kind;
	return kind;
}

static int obj_kind(struct py_target *t, __u64 obj, __u64 *typep)
{
	__u64 type;

	if (!obj || rd64(t, obj + 8, &type) || !type)
		return -1;
	if (typep)
		*typep = type;
	return type_kind(t, type);
}

/* The instance dict of OBJ through tp_dictoffset (modules, C wrappers such as lru_cache);
 * 0 if it has none we can reach. */
static __u64 instance_dict(struct py_target *t, __u64 obj, __u64 type)
{
	__s64 off;
	__u64 d;

	if (rd(t, type + t->uoff.type_dictoffset, &off, sizeof(off)) || off <= 0 || off > 4096 ||
	    rd64(t, obj + off, &d))
		return 0;
	return d;
}

/* The function object behind OBJ: itself, or what a staticmethod, classmethod, property
 * (getter), bound method or __wrapped__-carrying wrapper holds. 0 if none. */
static __u64 to_function(struct py_target *t, __u64 obj, int depth)
{
	__u64 type, inner, d;
	int k;

	if (depth > 4 || (k = obj_kind(t, obj, &type)) < 0)
		return 0;
	switch (k) {
	case K_FUNCTION:
		return obj;
	case K_STATICMETHOD:
	case K_CLASSMETHOD:
	case K_PROPERTY:
	case K_METHOD:
		if (rd64(t, obj + t->uoff.wrapper_callable, &inner))
			return 0;
		return to_function(t, inner, depth + 1);
	case K_OTHER:
		d = instance_dict(t, obj, type);
		if (d && dict_get(t, d, "__wrapped__", &inner) == 1)
			return to_function(t, inner, depth + 1);
		return 0;
	default:
		return 0;
	}
}

/* 1 if code object CODE has co_qualname QUAL. */
static int code_has_qualname(struct py_target *t, __u64 code, const char *qual)
{
	__u64 q;

	if (rd64(t, code + t->off.code_qualname, &q))
		return -1;
	return str_eq(t, q, qual);
}

#define MAX_CANDIDATES 32

/* The code object to time for FN found under QUAL: a decorator's wrapper has its own code
 * ("deco.<locals>.wrapper", shared by everything it wraps), so look through __wrapped__ and
 * the wrapper's closure cells for the function whose co_qualname is QUAL. FN's own code if
 * none matches (an alias, say). */
static __u64 pick_code(struct py_target *t, __u64 fn, const char *qual)
{
	__u64 q[MAX_CANDIDATES], first = 0;
	int nq = 1;

	q[0] = fn;
	for (int i = 0; i < nq; i++) {
		__u64 code, fdict, w, clo;
		__s64 ncells;

		if (rd64(t, q[i] + t->uoff.func_code, &code))
			continue;
		if (!first)
			first = code;
		if (code_has_qualname(t, code, qual) == 1)
			return code;
		if (!rd64(t, q[i] + t->uoff.func_dict, &fdict) && fdict &&
		    dict_get(t, fdict, "__wrapped__", &w) == 1 && (w = to_function(t, w, 0)) &&
		    nq < MAX_CANDIDATES)
			q[nq++] = w;
		if (rd64(t, q[i] + t->uoff.func_closure, &clo) || !clo ||
		    obj_kind(t, clo, NULL) != K_TUPLE ||
		    rd(t, clo + t->uoff.tuple_size, &ncells, sizeof(ncells)) || ncells <= 0)
			continue;
		for (__s64 c = 0; c < ncells && c < 16 && nq < MAX_CANDIDATES; c++) {
			__u64 cell, ref, f;
			bool seen = false;

			if (rd64(t, clo + t->uoff.tuple_item + 8 * c, &cell) ||
			    obj_kind(t, cell, NULL) != K_CELL ||
			    rd64(t, cell + t->uoff.cell_ref, &ref) || !(f = to_function(t, ref, 0)))
				continue;
			for (int j = 0; j < nq; j++)
				seen |= q[j] == f;
			if (!seen)
				q[nq++] = f;
		}
	}
	return first;
}

/* Resolves dotted QUAL from module dict MD. 1 with *code, 0 not there. */
static int resolve_in_module(struct py_target *t, __u64 md, const char *qual, __u64 *code)
{
	char parts[MAX_QUAL_PARTS][256];
	int np = 0;
	const char *p = qual;
	__u64 obj, fn;

	while (*p) {
		size_t l = strcspn(p, ".");

		if (!l || l >= sizeof(parts[0]) || np == MAX_QUAL_PARTS)
			return 0;
		memcpy(parts[np], p, l);
		parts[np++][l] = 0;
		p += l;
		if (*p == '.' && !*++p)
			return 0;
	}
	if (!np || dict_get(t, md, parts[0], &obj) != 1)
		return 0;
	for (int i = 1; i < np; i++) {
		__u64 tpd;

		/* Only classes have attributes we follow; a module's "a.b" is another module. */
		if (obj_kind(t, obj, NULL) != K_TYPE || rd64(t, obj + t->uoff.type_dict, &tpd) ||
		    !tpd || dict_get(t, tpd, parts[i], &obj) != 1)
			return 0;
	}
	fn = to_function(t, obj, 0);
	if (!fn || !(*code = pick_code(t, fn, qual)))
		return 0;
	return 1;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && !strcmp(s + a - b, suf);
}

/* FILE (a module's __file__) is SUFFIX or ends with "/" SUFFIX. */
static bool file_matches(const char *file, const char *suffix)
{
	size_t a = strlen(file), b = strlen(suffix);

	if (!b || a < b || strcmp(file + a - b, suffix))
		return false;
	return a == b || suffix[0] == '/' || file[a - b - 1] == '/';
}

/* "pkg/mod.py" -> "pkg.mod", "pkg/__init__.py" -> "pkg": the likely sys.modules key. */
static void dotted_name(const char *suffix, char *out, size_t len)
{
	size_t n;

	while (*suffix == '/')
		suffix++;
	snprintf(out, len, "%s", suffix);
	n = strlen(out);
	if (n > 3 && !strcmp(out + n - 3, ".py"))
		out[n -= 3] = 0;
	if (n >= 9 && !strcmp(out + n - 9, "/__init__"))
		out[n -= 9] = 0;
	for (char *c = out; *c; c++)
		if (*c == '/')
			*c = '.';
}

static bool likely_module(const char *key, const char *dotted)
{
	char tmp[600];

	if (!strcmp(key, "__main__") || !strcmp(key, dotted))
		return true;
	snprintf(tmp, sizeof(tmp), ".%s", key);
	if (ends_with(dotted, tmp))
		return true;
	snprintf(tmp, sizeof(tmp), ".%s", dotted);
	return ends_with(key, tmp);
}

/* The import system sets __file__ right after __name__, __doc__, __package__, __loader__,
 * __spec__ (and __path__), before the module body runs: built-in modules, which have none,
 * need not be searched to the end. */
#define MODULE_ATTR_ENTRIES 32

/* 1 if module MOD's __file__ matches SUFFIX, with its dict in *md. */
static int module_file_matches(struct py_target *t, __u64 mod, const char *suffix, __u64 *md)
{
	char file[MAX_STR + 1];
	__u64 fobj, head[2];

	/* ob_type and md_dict in one read where they are adjacent (every supported version). */
	if (t->uoff.module_dict == 16) {
		if (!mod || rd(t, mod + 8, head, sizeof(head)) || !head[0] ||
		    type_kind(t, head[0]) != K_MODULE)
			return 0;
		*md = head[1];
	} else if (obj_kind(t, mod, NULL) != K_MODULE || rd64(t, mod + t->uoff.module_dict, md)) {
		return 0;
	}
	if (!*md || dict_get_n(t, *md, "__file__", &fobj, MODULE_ATTR_ENTRIES) != 1 ||
	    read_str(t, fobj, file, sizeof(file)) < 0)
		return 0;
	return file_matches(file, suffix);
}

/* Calls FN(t, md, ctx) with the dict of each loaded module whose __file__ matches SUFFIX, likely
 * sys.modules keys first, until FN returns nonzero. That value, 0 when none did, -1 on error. */
static int for_each_module(struct py_target *t, const char *file_suffix,
			   int (*fn)(struct py_target *t, __u64 md, void *ctx), void *ctx)
{
	char dotted[512];
	__u64 interp;

	if (!t->runtime || rd64(t, t->runtime + t->off.runtime_interp_head, &interp))
		return -1;
	dotted_name(file_suffix, dotted, sizeof(dotted));
	for (int ni = 0; interp && ni < MAX_INTERPS; ni++) {
		__u64 modules, next;

		if (rd64(t, interp + t->uoff.interp_modules, &modules))
			return -1;
		/* Likely keys first (cheap), then every module. */
		for (int pass = 0; modules && pass < 2; pass++) {
			struct dict_it it;
			__u64 k, mod, md;
			int r;

			if (dict_open(t, modules, &it))
				return -1;
			it.keys = true;
			while ((r = dict_next(t, &it, &k, &mod)) == 1) {
				char key[512];
				const char *ks;
				size_t kn;

				if (dict_key_ascii(t, &it, &ks, &kn) && kn < sizeof(key)) {
					memcpy(key, ks, kn);
					key[kn] = 0;
				} else if (read_str(t, k, key, sizeof(key)) < 0) {
					continue;
				}
				if (likely_module(key, dotted) != (pass == 0))
					continue;
				if (module_file_matches(t, mod, file_suffix, &md) && (r = fn(t, md, ctx)))
					return r;
			}
			if (r < 0)
				return -1;
		}
		if (rd64(t, interp + t->off.interp_next, &next))
			break;
		interp = next;
	}
	return 0;
}

/* A value that changes whenever a module is added to the main interpreter's sys.modules: its
 * keys table and that table's entry count (insertions only grow it until a resize, which
 * replaces the table). 0 or -1. */
int py_modules_gen(struct py_target *t, __u64 *gen)
{
	__u64 interp, modules, keys;
	__s64 nentries;

	if (!t->runtime || rd64(t, t->runtime + t->off.runtime_interp_head, &interp) || !interp ||
	    rd64(t, interp + t->uoff.interp_modules, &modules) || !modules ||
	    rd64(t, modules + t->uoff.dict_keys, &keys) || !keys ||
	    rd(t, keys + t->uoff.keys_nentries, &nentries, sizeof(nentries)))
		return -1;
	*gen = keys ^ ((__u64)nentries << 48) ^ (__u64)nentries;
	return 0;
}

struct find_ctx {
	const char *qual;
	__u64 *code;
	__u64 first_md;   /* the first matching module's dict, for "did you mean" */
};

static int find_in(struct py_target *t, __u64 md, void *ctx)
{
	struct find_ctx *f = ctx;

	if (!f->first_md)
		f->first_md = md;
	return resolve_in_module(t, md, f->qual, f->code);
}

/* Offers the names of module dict MD a qualname could take: its functions, and "Class.attr"
 * for what its classes hold (methods, static and class methods, properties). */
static void suggest_from_module(struct py_target *t, __u64 md, struct suggest *sg)
{
	struct dict_it it, ct;
	__u64 k, v, ck, cv, tpd;
	char name[SUGGEST_NAME_MAX], attr[SUGGEST_NAME_MAX];
	int n;

	if (dict_open(t, md, &it))
		return;
	while (dict_next(t, &it, &k, &v) == 1) {
		if ((n = read_str(t, k, name, sizeof(name))) <= 0)
			continue;
		if (to_function(t, v, 0)) {
			suggest_add(sg, name, n);
			continue;
		}
		if (obj_kind(t, v, NULL) != K_TYPE || rd64(t, v + t->uoff.type_dict, &tpd) || !tpd ||
		    dict_open(t, tpd, &ct))
			continue;
		while (dict_next(t, &ct, &ck, &cv) == 1) {
			int m = read_str(t, ck, attr, sizeof(attr));
			char full[2 * SUGGEST_NAME_MAX];

			if (m <= 0 || !to_function(t, cv, 0))
				continue;
			suggest_add(sg, full, snprintf(full, sizeof(full), "%s.%s", name, attr));
		}
	}
}

int py_find_function_why(struct py_target *t, const char *file_suffix, const char *qualname,
			 __u64 *code, char *why, size_t whylen)
{
	struct find_ctx f = { .qual = qualname, .code = code };
	struct suggest sg;
	char hint[3 * SUGGEST_NAME_MAX + 32];
	const char *loc = qualname ? strstr(qualname, ".<locals>.") : NULL;
	int r;

	if (!file_suffix || !qualname || !*qualname)
		return 0;
	/* "f.<locals>.g": g's code is in the co_consts of f's, which a namespace leads to. */
	if (loc && loc > qualname && !memchr(qualname, '<', loc - qualname)) {
		char outer[256];
		__u64 oc;

		if ((size_t)(loc - qualname) >= sizeof(outer))
			return 0;
		memcpy(outer, qualname, loc - qualname);
		outer[loc - qualname] = 0;
		r = py_find_function_why(t, file_suffix, outer, &oc, why, whylen);
		if (r != 1 || (r = py_find_in_code(t, oc, file_suffix, qualname, code)) == 1)
			return r;
		if (why && whylen)
			snprintf(why, whylen, "'%s' is not (once) in the code of %s in %s", qualname,
				 outer, file_suffix);
		return r;
	}
	/* "<module>", "<lambda>": no name in any namespace leads there. */
	if (strchr(qualname, '<'))
		return 0;
	r = for_each_module(t, file_suffix, find_in, &f);
	if (r == 1 && why && whylen)
		why[0] = 0;
	if (r || !f.first_md || !why || !whylen)
		return r;
	suggest_init(&sg, qualname, strlen(qualname));
	/* "Class.serch": close means about half of the last part, not of the whole name */
	sg.span = strlen(qualname) - (strrchr(qualname, '.') ? strrchr(qualname, '.') + 1 - qualname : 0);
	suggest_from_module(t, f.first_md, &sg);
	/* The name is there now: the first look raced the module body (a running target). */
	if (sg.n && !strcmp(sg.names[0], qualname) && resolve_in_module(t, f.first_md, qualname, code)) {
		why[0] = 0;
		return 1;
	}
	suggest_format(&sg, hint, sizeof(hint));
	snprintf(why, whylen, "'%s' is not in loaded module %s%s", qualname, file_suffix, hint);
	return 0;
}

int py_find_function(struct py_target *t, const char *file_suffix, const char *qualname,
		     __u64 *code)
{
	return py_find_function_why(t, file_suffix, qualname, code, NULL, 0);
}

/* Code objects reachable from a module body through co_consts (functions, class bodies, their
 * methods, nested functions) exist before the body runs, so a function can be found, and
 * watched, before the module defines it. Bounded: a module has hundreds, not thousands. */
#define CONSTS_MAX_CODES 4096
#define CONSTS_MAX_ITEMS 8192
#define CODE_CONSTS 24 /* co_consts follows PyObject_VAR_HEAD (3.11-3.14) */

/* The code objects among the items of tuple CONSTS, pushed onto stack[*n..max): the tuple in
 * one read (two when long), the items' types 64 to a call (a module load holds the target while
 * this runs: one read per field was 200-400 process_vm_readv calls a module here). */
static void consts_codes(struct py_target *t, __u64 consts, __u64 *items, __u64 *stack, size_t *n,
			 size_t max)
{
	const struct py_uoffsets *u = &t->uoff;
	__u8 head[512];
	__u64 type, types[64];
	__s64 cnt;
	size_t inhead = 0;

	if ((size_t)u->tuple_item + 8 > sizeof(head) || (size_t)u->tuple_size + 8 > sizeof(head))
		return;
	if (!rd(t, consts, head, sizeof(head)))
		inhead = (sizeof(head) - u->tuple_item) / 8;
	else if (rd(t, consts, head, u->tuple_item))
		return; /* near the end of its mapping: the header alone */
	memcpy(&type, head + 8, sizeof(type));
	memcpy(&cnt, head + u->tuple_size, sizeof(cnt));
	if (type_kind(t, type) != K_TUPLE || cnt <= 0 || cnt > CONSTS_MAX_ITEMS)
		return;
	inhead = inhead < (size_t)cnt ? inhead : (size_t)cnt;
	memcpy(items, head + u->tuple_item, inhead * 8);
	if (inhead < (size_t)cnt &&
	    rd(t, consts + u->tuple_item + inhead * 8, items + inhead, (cnt - inhead) * 8))
		return;
	for (__s64 k = 0; k < cnt && *n < max; k += 64) {
		struct mem_req r[64];
		int m = cnt - k < 64 ? (int)(cnt - k) : 64;

		for (int j = 0; j < m; j++)
			r[j] = (struct mem_req){ .addr = items[k + j] + 8, .buf = &types[j], .len = 8 };
		rd_many(t, r, m);
		for (int j = 0; j < m && *n < max; j++)
			if (r[j].ok && items[k + j] && type_kind(t, types[j]) == K_CODE)
				stack[(*n)++] = items[k + j];
	}
}

int py_find_in_code_n(struct py_target *t, __u64 root, const char *file_suffix,
		      const char *const *qualnames, int nnames, __u64 *codes)
{
	__u64 *stack = malloc(CONSTS_MAX_CODES * sizeof(*stack)), *items = NULL, fname;
	int *hits = calloc(nnames > 0 ? nnames : 1, sizeof(*hits)), found = 0;
	size_t n = 0, seen = 0;
	char file[PATH_MAX], name[256];

	for (int i = 0; i < nnames; i++)
		codes[i] = 0;
	if (!stack || !hits || !(items = malloc(CONSTS_MAX_ITEMS * sizeof(*items)))) {
		found = -1;
		goto cleanup;
	}
	if (obj_kind(t, root, NULL) != K_CODE || rd64(t, root + t->off.code_filename, &fname) ||
	    read_str(t, fname, file, sizeof(file)) < 0 || !file_matches(file, file_suffix))
		goto cleanup;
	stack[n++] = root;
	while (n && seen++ < CONSTS_MAX_CODES) {
		__u64 c = stack[--n], qn = 0, consts = 0;
		struct mem_req r[2] = {
			{ .addr = c + t->off.code_qualname, .buf = &qn, .len = 8 },
			{ .addr = c + CODE_CONSTS, .buf = &consts, .len = 8 },
		};

		rd_many(t, r, 2);
		if (c != root && r[0].ok && read_str(t, qn, name, sizeof(name)) >= 0)
			for (int i = 0; i < nnames; i++)
				if (!strcmp(name, qualnames[i]) && hits[i]++ == 0)
					codes[i] = c;
		if (r[1].ok)
			consts_codes(t, consts, items, stack, &n, CONSTS_MAX_CODES);
	}
	/* two definitions (if/else, redefinition): which one runs is the dict's call */
	for (int i = 0; i < nnames; i++) {
		if (hits[i] != 1)
			codes[i] = 0;
		found += hits[i] == 1;
	}
cleanup:
	free(items);
	free(hits);
	free(stack);
	return found;
}

int py_find_in_code(struct py_target *t, __u64 root, const char *file_suffix, const char *qualname,
		    __u64 *code)
{
	int r = py_find_in_code_n(t, root, file_suffix, &qualname, 1, code);

	return r < 0 ? r : r == 1;
}

/* ------------------------------------------------------------------ code objects */

/* The real opcodes under INSTRUMENTED_LINE / INSTRUMENTED_INSTRUCTION live in
 * code->_co_monitoring (3.12+): lines[i].original_opcode and per_instruction_opcodes[i]. */
struct mon_arrays {
	bool loaded, ok;
	__u8 *lines;       /* original opcode of unit i at lines[i * lstride] */
	__u32 lstride;
	__u8 *per_instr;
};

static void mon_load(struct py_target *t, __u64 code, __u32 n, struct mon_arrays *m)
{
	const struct py_uoffsets *u = &t->uoff;
	__u64 mon, lines = 0, per = 0;

	m->loaded = true;
	if (u->code_monitoring < 0 || rd64(t, code + u->code_monitoring, &mon) || !mon ||
	    rd64(t, mon + u->mon_lines, &lines) || rd64(t, mon + u->mon_per_instr, &per))
		return;
	if (lines) {
		__u8 bpe = 2;
		__u64 data = lines;

		/* 3.14 packs line data: a bytes_per_entry byte, then entries of that size. */
		if (minor_of(t->version_hex) >= 14) {
			if (rd(t, lines, &bpe, 1) || !bpe || bpe > 8)
				return;
			data = lines + 1;
		}
		m->lines = malloc((size_t)n * bpe);
		if (!m->lines || rd(t, data, m->lines, (size_t)n * bpe)) {
			free(m->lines);
			m->lines = NULL;
			return;
		}
		m->lstride = bpe;
	}
	if (per) {
		m->per_instr = malloc(n);
		if (!m->per_instr || rd(t, per, m->per_instr, n)) {
			free(m->per_instr);
			m->per_instr = NULL;
			return;
		}
	}
	m->ok = true;
}

/* Opcode of unit I with instrumentation looked through; -1 if it cannot be known. */
static int real_opcode(struct py_target *t, const struct py_ops *ops, __u64 code, __u32 n,
		       const __u16 *units, __u32 i, struct mon_arrays *m)
{
	int op = units[i] & 0xff;

	if (op == ops->instr_line || op == ops->instr_instr) {
		if (!m->loaded)
			mon_load(t, code, n, m);
		if (op == ops->instr_line) {
			if (!m->lines)
				return -1;
			op = m->lines[(size_t)i * m->lstride];
		}
		if (op == ops->instr_instr) {
			if (!m->per_instr)
				return -1;
			op = m->per_instr[i];
		}
		if (op == ops->instr_line || op == ops->instr_instr)
			return -1;
	}
	return op;
}

int py_code_read(struct py_target *t, __u64 code, struct py_code_info *ci)
{
	const struct py_ops *ops = ops_for(t->version_hex);
	struct mon_arrays mon = { 0 };
	__u8 hdr[256];
	__u64 fname, qname;
	__s64 size;
	__s32 first;
	__u16 *units;

	memset(ci, 0, sizeof(*ci));
	ci->addr = code;
	if (!ops || t->off.code_adaptive <= 0 || t->off.code_adaptive > (int)sizeof(hdr) ||
	    obj_kind(t, code, NULL) != K_CODE || rd(t, code, hdr, t->off.code_adaptive))
		return -1;
	memcpy(&size, hdr + t->uoff.code_size, sizeof(size));
	memcpy(&ci->flags, hdr + t->uoff.code_flags, sizeof(ci->flags));
	memcpy(&first, hdr + t->off.code_firstlineno, sizeof(first));
	memcpy(&fname, hdr + t->off.code_filename, sizeof(fname));
	memcpy(&qname, hdr + t->off.code_qualname, sizeof(qname));
	if (size <= 0 || size > MAX_CODE_UNITS ||
	    read_str(t, qname, ci->qualname, sizeof(ci->qualname)) < 0)
		return -1;
	if (read_str(t, fname, ci->filename, sizeof(ci->filename)) < 0)
		snprintf(ci->filename, sizeof(ci->filename), "?");
	ci->firstlineno = first;
	ci->is_generator = ci->flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR |
					CO_ITERABLE_COROUTINE);
	ci->bytecode = code + t->off.code_adaptive;
	ci->ncode_units = size;
	ci->tag = py_code_tag(first, qname);
	units = malloc(size * 2);
	if (!units || rd(t, ci->bytecode, units, size * 2)) {
		free(units);
		return -1;
	}
	/* Walk instructions, stepping over inline cache units (their bits are counters and
	 * versions, not opcodes). EXTENDED_ARG is an ordinary instruction with no cache. */
	for (__u32 i = 0; i < (__u32)size;) {
		int op = real_opcode(t, ops, code, size, units, i, &mon);

		if (op < 0) {
			ci->ret_partial = true;
			i++;
			continue;
		}
		if (op == ops->ret_value || op == ops->ret_const || op == ops->iret_value ||
		    op == ops->iret_const) {
			if (ci->nret < PY_MAX_RET)
				ci->ret_units[ci->nret++] = i;
			ci->nret_total++;
		}
		i += 1 + (op == ops->enter_executor ? ops->caches[ops->jump_backward] : ops->caches[op]);
	}
	free(mon.lines);
	free(mon.per_instr);
	free(units);
	return 0;
}

static __u64 varint(const __u8 *tab, size_t len, size_t *p, bool *bad)
{
	__u64 v = 0;
	unsigned shift = 0;
	__u8 b;

	do {
		if (*p >= len || shift > 60) {
			*bad = true;
			return 0;
		}
		b = tab[(*p)++];
		v |= (__u64)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	return v;
}

static __s64 svarint(const __u8 *tab, size_t len, size_t *p, bool *bad)
{
	__u64 v = varint(tab, len, p, bad);

	return (v & 1) ? -(__s64)(v >> 1) : (__s64)(v >> 1);
}

/*
 * The 3.11+ location table: entries of a start byte 1CCCCLLL (code C, L+1 code units) and
 * varint payloads (6-bit chunks, bit 6 = more):
 *   15: no location; 14: long form (line delta svarint, end line, column, end column);
 *   13: no column (line delta svarint); 10-12: one line, delta C-10, two column bytes;
 *   0-9: short form, same line, one column byte.
 */
int py_linetable_line(const __u8 *tab, size_t len, int firstlineno, __u32 lasti)
{
	__s64 line = firstlineno;
	__u64 addr = 0;
	size_t p = 0;
	bool bad = false;

	if (lasti == (__u32)-1)
		lasti = 0;
	while (p < len) {
		__u8 b = tab[p++];
		unsigned code = (b >> 3) & 15, n = (b & 7) + 1;
		__s64 this_line = line;

		if (!(b & 0x80))
			return -1;
		switch (code) {
		case 15:
			this_line = -1;
			break;
		case 14:
			line += svarint(tab, len, &p, &bad);
			this_line = line;
			varint(tab, len, &p, &bad);
			varint(tab, len, &p, &bad);
			varint(tab, len, &p, &bad);
			break;
		case 13:
			line += svarint(tab, len, &p, &bad);
			this_line = line;
			break;
		case 10:
		case 11:
		case 12:
			line += code - 10;
			this_line = line;
			p += 2;
			break;
		default:
			p += 1;
			break;
		}
		if (bad || p > len)
			return -1;
		if (lasti < addr + n)
			return this_line < 0 || this_line > INT32_MAX ? -1 : (int)this_line;
		addr += n;
	}
	return -1;
}

/* co_linetable and co_firstlineno of CODE; *tab is malloc'd. */
static int read_linetable(struct py_target *t, __u64 code, __u8 **tab, size_t *len, int *first)
{
	__u64 lt;
	__s64 n;
	__s32 f;

	*tab = NULL;
	if (rd64(t, code + t->uoff.code_linetable, &lt) ||
	    rd(t, code + t->off.code_firstlineno, &f, sizeof(f)) ||
	    rd(t, lt + t->uoff.bytes_size, &n, sizeof(n)) || n < 0 || n > MAX_LINETABLE)
		return -1;
	*tab = malloc(n ? n : 1);
	if (!*tab || rd(t, lt + t->uoff.bytes_data, *tab, n)) {
		free(*tab);
		*tab = NULL;
		return -1;
	}
	*len = n;
	*first = f;
	return 0;
}

int py_code_line(struct py_target *t, __u64 code, __u32 lasti)
{
	__u8 *tab;
	size_t len;
	int first, line;

	if (read_linetable(t, code, &tab, &len, &first))
		return -1;
	line = py_linetable_line(tab, len, first, lasti);
	free(tab);
	return line;
}

/* ------------------------------------------------------------------ symbol cache */

struct sym_entry {
	__u64 code;
	__u32 tag;
	bool valid;
	bool has_bad;
	__u32 bad_tag;     /* last tag asked for that the code object there did not have */
	__u32 bad_count;
	struct py_sym sym;
	__u8 *lt;          /* co_linetable copy, read on first line lookup */
	size_t ltlen;
	bool lt_tried;
};

struct py_symcache {
	struct py_target *t;
	struct sym_entry **slots;
	size_t cap, n;
};

struct py_symcache *py_symcache_new(struct py_target *t)
{
	struct py_symcache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->t = t;
	c->cap = 256;
	c->slots = calloc(c->cap, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return NULL;
	}
	return c;
}

void py_symcache_free(struct py_symcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i]) {
			free(c->slots[i]->lt);
			free(c->slots[i]);
		}
	free(c->slots);
	free(c);
}

static size_t slot_of(const struct py_symcache *c, __u64 code)
{
	size_t i = (size_t)((code >> 4) * 0x9e3779b97f4a7c15ull) & (c->cap - 1);

	while (c->slots[i] && c->slots[i]->code != code)
		i = (i + 1) & (c->cap - 1);
	return i;
}

static int grow(struct py_symcache *c)
{
	struct sym_entry **old = c->slots;
	size_t oldcap = c->cap;

	c->slots = calloc(oldcap * 2, sizeof(*c->slots));
	if (!c->slots) {
		c->slots = old;
		return -1;
	}
	c->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i])
			c->slots[slot_of(c, old[i]->code)] = old[i];
	free(old);
	return 0;
}

/* Fills E from the code object now at E->code. */
static void sym_fill(struct py_symcache *c, struct sym_entry *e)
{
	struct py_code_info ci;
	const char *base;

	free(e->lt);
	e->lt = NULL;
	e->lt_tried = false;
	e->valid = false;
	if (py_code_read(c->t, e->code, &ci))
		return;
	e->valid = true;
	e->tag = ci.tag;
	base = strrchr(ci.filename, '/');
	base = base ? base + 1 : ci.filename;
	snprintf(e->sym.file, sizeof(e->sym.file), "%s", ci.filename);
	snprintf(e->sym.qualname, sizeof(e->sym.qualname), "%s", ci.qualname);
	snprintf(e->sym.name, sizeof(e->sym.name), "%.250s (%.250s)", ci.qualname, base);
	e->sym.firstlineno = ci.firstlineno;
}

static struct sym_entry *sym_lookup(struct py_symcache *c, __u64 code, __u32 tag)
{
	struct sym_entry *e;
	size_t i;

	if (!c || !code)
		return NULL;
	i = slot_of(c, code);
	e = c->slots[i];
	if (!e) {
		if ((c->n + 1) * 4 > c->cap * 3) {
			if (grow(c))
				return NULL;
			i = slot_of(c, code);
		}
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		e->code = code;
		e->tag = tag;
		c->slots[i] = e;
		c->n++;
		sym_fill(c, e);
	} else if (e->tag != tag &&
		   !(e->has_bad && e->bad_tag == tag && (++e->bad_count & 63))) {
		/* Another code object may live at that address now: read it again. */
		sym_fill(c, e);
		if (!e->valid)
			e->tag = tag;
	}
	if (e->valid && e->tag == tag)
		return e;
	/* The sampled code object is gone: read again for the same stale tag only every 64th
	 * time (it may come back: a reload can put the same tag at the same address). */
	if (!e->has_bad || e->bad_tag != tag)
		e->bad_count = 0;
	e->has_bad = true;
	e->bad_tag = tag;
	return NULL;
}

const struct py_sym *py_symcache_get(struct py_symcache *c, __u64 code, __u32 tag)
{
	struct sym_entry *e = sym_lookup(c, code, tag);

	return e ? &e->sym : NULL;
}

int py_symcache_line(struct py_symcache *c, __u64 code, __u32 tag, __u32 lasti)
{
	struct sym_entry *e = sym_lookup(c, code, tag);
	int first;

	if (!e)
		return -1;
	if (!e->lt_tried) {
		e->lt_tried = true;
		if (read_linetable(c->t, code, &e->lt, &e->ltlen, &first))
			e->lt = NULL;
	}
	if (!e->lt)
		return -1;
	return py_linetable_line(e->lt, e->ltlen, e->sym.firstlineno, lasti);
}
