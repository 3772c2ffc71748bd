/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* x86-64 instruction lengths (64-bit mode), table-driven: legacy prefixes, REX, the 1-byte, 0F,
 * 0F38 and 0F3A maps, VEX2/VEX3 and EVEX, ModRM/SIB/displacement/immediate sizes. Enough to walk
 * a function's code and find its return instructions (user/attach.c: return-instruction timing).
 * Anything it does not know is an error, never a guess. */
#ifndef RAGD_BPFPROF_X86LEN_H
#define RAGD_BPFPROF_X86LEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum x86_kind {
	X86_OTHER = 0,
	X86_RET,       /* ret / ret imm16, any prefixes (rep ret, bnd ret) */
	X86_RET_FAR,   /* lret / iret: not seen in user code */
	X86_JMP,       /* jmp rel8/rel32: target valid */
	X86_JCC,       /* jcc / loop / jrcxz / xbegin rel: target valid */
	X86_CALL,      /* call rel32: target valid */
	X86_JMP_IND,   /* jmp r/m64 */
	X86_CALL_IND,  /* call r/m64 */
	X86_JMP_FAR,   /* ljmp / lcall through memory */
};

struct x86_insn {
	uint8_t len;
	uint8_t kind;     /* enum x86_kind */
	uint8_t opcode;   /* last opcode byte */
	uint8_t map;      /* 0: 1-byte, 1: 0F, 2: 0F38, 3: 0F3A; VEX/EVEX: their map number */
	bool rip_rel;     /* a RIP-relative memory operand: disp is relative to the next insn */
	int32_t disp;     /* that displacement */
	int64_t rel;      /* X86_JMP/JCC/CALL: target - (address of the next instruction) */
};

/* Decodes one instruction from p[0..n). Returns its length (1..15) and fills *in, or -1 when the
 * bytes are no instruction this decoder knows (invalid in 64-bit mode, XOP, longer than 15
 * bytes) and -2 when n is too short for it. */
int x86_decode(const uint8_t *p, size_t n, struct x86_insn *in);

/* The exits of one function's code: its return instructions, and direct jumps that leave it
 * (tail calls, or jumps to a split-off NAME.cold part: the caller tells them apart). */
#define X86_MAX_EXITS 64
struct x86_exit {
	uint32_t off;     /* of the instruction, from the function start */
	uint8_t kind;     /* X86_RET or X86_JMP; X86_JMP_IND for jmp *disp(%rip) (through the GOT) */
	int64_t target;   /* X86_JMP: target offset from the function start (outside 0..size) */
};
struct x86_scan {
	uint32_t ninsns;
	uint32_t nexits;
	struct x86_exit exits[X86_MAX_EXITS];
	uint32_t indirect_jmps;  /* jmp through a register or an indexed table: not taken as returns */
	char why[128];           /* when refused */
};

/* Decodes code[0..size) from its start. 0, or -1 with s->why when the code cannot be walked
 * safely: an unknown instruction, the last one running past the end, a branch into the middle
 * of an instruction or a RIP-relative operand inside the function (data or a jump table in
 * it), a far return/jump, a return at offset 0 (the entry probe's place), more than
 * X86_MAX_EXITS exits. */
int x86_scan_function(const uint8_t *code, size_t size, struct x86_scan *s);

#endif
