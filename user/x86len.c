// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* x86-64 instruction length decoder (64-bit mode), written from the Intel SDM opcode maps
 * (volume 2, appendix A) for ragd-bpfprof.
 *
 * Each map is a 256-character table, one code per opcode, 16 per row:
 *   .  no operand bytes        m  ModRM                 b  imm8             w  imm16
 *   z  imm16/32 (operand size) v  imm16/32/64 (mov r, imm)                  o  moffs (address size)
 *   B  ModRM + imm8            Z  ModRM + imm16/32      e  imm16 + imm8 (enter)
 *   r  rel8 branch             R  rel32 branch          g  F6/F7: ModRM, imm only for TEST (/0, /1)
 *   p  prefix                  E  escape or special (0F, VEX, EVEX, 8F/XOP)
 *   x  invalid in 64-bit mode
 * The 0F38 map is all ModRM and 0F3A all ModRM + imm8 (its holes are invalid encodings that
 * compilers do not emit; their length would be the same). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "x86len.h"

static const char map1[257] =
	"mmmmbzxxmmmmbzxE" /* 0x */
	"mmmmbzxxmmmmbzxx" /* 1x */
	"mmmmbzpxmmmmbzpx" /* 2x: 26/2E segment prefixes; DAA/DAS invalid */
	"mmmmbzpxmmmmbzpx" /* 3x */
	"pppppppppppppppp" /* 4x: REX */
	"................" /* 5x: push/pop */
	"xxEmppppzZbB...." /* 6x: 62 EVEX, 63 movsxd, 64-67 prefixes */
	"rrrrrrrrrrrrrrrr" /* 7x: jcc rel8 */
	"BZxBmmmmmmmmmmmE" /* 8x: 8F pop r/m or XOP */
	"..........x....." /* 9x */
	"oooo....bz......" /* Ax: A8/A9 test */
	"bbbbbbbbvvvvvvvv" /* Bx: mov r, imm */
	"BBw.EEBZe.w..bx." /* Cx: C2 ret imm16, C4/C5 VEX, C8 enter, CA lret imm16 */
	"mmmmxxx.mmmmmmmm" /* Dx: shifts, x87 */
	"rrrrbbbbRRxr...." /* Ex: loop/jrcxz, in/out, call, jmp */
	"p.pp..gg......mm" /* Fx: lock, rep prefixes, group 3, group 4/5 */
	;

static const char map0f[257] =
	"mmmmx.....x.xm.B" /* 0x: 0F 0F 3DNow! has an imm8 suffix */
	"mmmmmmmmmmmmmmmm" /* 1x: 1E FA endbr64 (F3 prefix) is a ModRM form */
	"mmmmxxxxmmmmmmmm" /* 2x */
	"......x.ExExxxxx" /* 3x: 38 and 3A escapes */
	"mmmmmmmmmmmmmmmm" /* 4x: cmov */
	"mmmmmmmmmmmmmmmm" /* 5x */
	"mmmmmmmmmmmmmmmm" /* 6x */
	"BBBBmmm.mmxxmmmm" /* 7x: 77 emms */
	"RRRRRRRRRRRRRRRR" /* 8x: jcc rel32 */
	"mmmmmmmmmmmmmmmm" /* 9x: setcc */
	"...mBmxx...mBmmm" /* Ax */
	"mmmmmmmmmmBmmmmm" /* Bx */
	"mmBmBBBm........" /* Cx: C8-CF bswap */
	"mmmmmmmmmmmmmmmm" /* Dx */
	"mmmmmmmmmmmmmmmm" /* Ex */
	"mmmmmmmmmmmmmmmm" /* Fx: FF ud0 */
	;

struct dstate {
	const uint8_t *p;
	size_t n, pos;
	bool opsize16, addr32, rexw;
	struct x86_insn *in;
};

static int need(struct dstate *d, size_t k)
{
	if (d->pos + k > d->n)
		return -2;
	if (d->pos + k > 15)
		return -1;
	return 0;
}

/* ModRM, then SIB and displacement. */
static int modrm(struct dstate *d, uint8_t *out)
{
	uint8_t m, mod, rm;
	int e, disp = 0;

	if ((e = need(d, 1)))
		return e;
	m = d->p[d->pos++];
	*out = m;
	mod = m >> 6;
	rm = m & 7;
	if (mod == 3)
		return 0;
	if (rm == 4) {
		uint8_t sib;

		if ((e = need(d, 1)))
			return e;
		sib = d->p[d->pos++];
		if (mod == 0 && (sib & 7) == 5)
			disp = 4;
	} else if (mod == 0 && rm == 5) {
		disp = 4;
		d->in->rip_rel = true;
	}
	if (mod == 1)
		disp = 1;
	else if (mod == 2)
		disp = 4;
	if ((e = need(d, disp)))
		return e;
	if (d->in->rip_rel) {
		int32_t v;

		memcpy(&v, d->p + d->pos, 4);
		d->in->disp = v;
	}
	d->pos += disp;
	return 0;
}

/* A relative branch of k bytes: its displacement. */
static int rel(struct dstate *d, int k, int kind)
{
	int e;

	if ((e = need(d, k)))
		return e;
	if (k == 1) {
		d->in->rel = (int8_t)d->p[d->pos];
	} else {
		int32_t v;

		memcpy(&v, d->p + d->pos, 4);
		d->in->rel = v;
	}
	d->pos += k;
	d->in->kind = kind;
	return 0;
}

static int imm(struct dstate *d, int k)
{
	int e = need(d, k);

	if (!e)
		d->pos += k;
	return e;
}

static int zsize(const struct dstate *d)
{
	return d->opsize16 && !d->rexw ? 2 : 4;
}

/* Operands of an opcode by its table code; kinds of the 1-byte map set by the caller. */
static int operands(struct dstate *d, char c, uint8_t *mrm)
{
	int e;

	switch (c) {
	case '.': return 0;
	case 'm': return modrm(d, mrm);
	case 'b': return imm(d, 1);
	case 'w': return imm(d, 2);
	case 'z': return imm(d, zsize(d));
	case 'v': return imm(d, d->rexw ? 8 : d->opsize16 ? 2 : 4);
	case 'o': return imm(d, d->addr32 ? 4 : 8);
	case 'e': return imm(d, 3);
	case 'B': return (e = modrm(d, mrm)) ? e : imm(d, 1);
	case 'Z': return (e = modrm(d, mrm)) ? e : imm(d, zsize(d));
	case 'g':
		if ((e = modrm(d, mrm)))
			return e;
		if (((*mrm >> 3) & 7) > 1)
			return 0;
		return imm(d, d->in->opcode == 0xF6 ? 1 : zsize(d));
	case 'r': return rel(d, 1, X86_JCC);
	case 'R': return rel(d, 4, X86_JCC);
	}
	return -1;
}

/* VEX (C4/C5) and EVEX (62): the prefix bytes, then opcode, ModRM and imm8 by map. */
static int vex_like(struct dstate *d, int nprefix, int map)
{
	uint8_t op, mrm;
	int e;

	d->pos += nprefix;
	if ((e = need(d, 1)))
		return e;
	op = d->p[d->pos++];
	d->in->opcode = op;
	d->in->map = map;
	if (map == 1) {
		if (op == 0x77) /* vzeroupper / vzeroall */
			return 0;
		if ((e = modrm(d, &mrm)))
			return e;
		return map0f[op] == 'B' ? imm(d, 1) : 0;
	}
	if (map == 2 || map == 5 || map == 6)
		return modrm(d, &mrm);
	if (map == 3)
		return (e = modrm(d, &mrm)) ? e : imm(d, 1);
	return -1;
}

static int escape(struct dstate *d, uint8_t op)
{
	uint8_t mrm = 0, b1;
	int e;

	switch (op) {
	case 0x0F:
		if ((e = need(d, 1)))
			return e;
		op = d->p[d->pos++];
		d->in->opcode = op;
		d->in->map = 1;
		if (op == 0x38 || op == 0x3A) {
			if ((e = need(d, 1)))
				return e;
			d->in->opcode = d->p[d->pos++];
			d->in->map = op == 0x38 ? 2 : 3;
			return op == 0x38 ? operands(d, 'm', &mrm) : operands(d, 'B', &mrm);
		}
		return operands(d, map0f[op], &mrm);
	case 0xC5: /* VEX2: one byte, map 0F */
		return (e = need(d, 1)) ? e : vex_like(d, 1, 1);
	case 0xC4: /* VEX3: RXBmmmmm WvvvvLpp */
		if ((e = need(d, 2)))
			return e;
		b1 = d->p[d->pos];
		return vex_like(d, 2, b1 & 0x1F);
	case 0x62: /* EVEX: P0 (map in the low 3 bits), P1, P2 */
		if ((e = need(d, 3)))
			return e;
		b1 = d->p[d->pos];
		if (b1 & 0x08) /* reserved bit set: not EVEX as we know it (APX) */
			return -1;
		return vex_like(d, 3, b1 & 0x07);
	case 0x8F: /* pop r/m is /0; other reg values are AMD XOP */
		if ((e = need(d, 1)))
			return e;
		if ((d->p[d->pos] >> 3) & 7)
			return -1;
		return modrm(d, &mrm);
	}
	return -1;
}

static void classify(struct dstate *d, uint8_t op, uint8_t mrm)
{
	struct x86_insn *in = d->in;

	switch (op) {
	case 0xC2: case 0xC3: in->kind = X86_RET; break;
	case 0xCA: case 0xCB: case 0xCF: in->kind = X86_RET_FAR; break;
	case 0xE8: in->kind = X86_CALL; break;
	case 0xE9: case 0xEB: in->kind = X86_JMP; break;
	case 0xFF:
		switch ((mrm >> 3) & 7) {
		case 2: in->kind = X86_CALL_IND; break;
		case 3: case 5: in->kind = X86_JMP_FAR; break;
		case 4: in->kind = X86_JMP_IND; break;
		}
		break;
	}
}

static int prefixes(struct dstate *d, uint8_t *op)
{
	int e;

	for (;;) {
		uint8_t b;

		if ((e = need(d, 1)))
			return e;
		b = d->p[d->pos];
		if (map1[b] != 'p')
			break;
		if (b >= 0x40 && b <= 0x4F) {
			/* REX must come right before the opcode */
			d->pos++;
			if ((e = need(d, 1)))
				return e;
			if (map1[d->p[d->pos]] == 'p')
				return -1;
			d->rexw = b & 0x08;
			break;
		}
		if (b == 0x66)
			d->opsize16 = true;
		else if (b == 0x67)
			d->addr32 = true;
		d->pos++;
	}
	*op = d->p[d->pos++];
	return 0;
}

int x86_decode(const uint8_t *p, size_t n, struct x86_insn *in)
{
	struct dstate d = { .p = p, .n = n, .in = in };
	uint8_t op, mrm = 0;
	char c;
	int e;

	memset(in, 0, sizeof(*in));
	if ((e = prefixes(&d, &op)))
		return e;
	in->opcode = op;
	c = map1[op];
	if (c == 'x')
		return -1;
	if (c == 'E') {
		e = escape(&d, op);
		/* 0F 80-8F and friends were classified as jcc by their table code */
	} else {
		e = operands(&d, c, &mrm);
		if (!e && (op == 0xE8 || op == 0xE9 || op == 0xEB || op == 0xC2 || op == 0xC3 ||
			   op == 0xCA || op == 0xCB || op == 0xCF || op == 0xFF))
			classify(&d, op, mrm);
		/* C7 F8 is xbegin rel16/32: a branch inside the function */
		if (!e && op == 0xC7 && mrm == 0xF8) {
			int32_t v = 0;

			memcpy(&v, p + d.pos - zsize(&d), zsize(&d));
			in->rel = zsize(&d) == 2 ? (int16_t)v : v;
			in->kind = X86_JCC;
		}
	}
	if (e)
		return e;
	in->len = d.pos;
	return d.pos;
}

static int refuse(struct x86_scan *s, const char *fmt, unsigned long long a)
{
	snprintf(s->why, sizeof(s->why), fmt, a);
	return -1;
}

static int add_exit(struct x86_scan *s, uint32_t off, uint8_t kind, int64_t target)
{
	if (s->nexits == X86_MAX_EXITS)
		return refuse(s, "more than %llu returns", X86_MAX_EXITS);
	s->exits[s->nexits++] = (struct x86_exit){ .off = off, .kind = kind, .target = target };
	return 0;
}

/* Branch targets and RIP-relative references inside the function, checked against the
 * instruction starts once they are all known. */
static int check_refs(const uint8_t *code, size_t size, const uint8_t *start, struct x86_scan *s)
{
	struct x86_insn in;

	for (size_t off = 0; off < size; off += in.len) {
		int64_t next;

		if (x86_decode(code + off, size - off, &in) <= 0)
			return refuse(s, "undecodable at +0x%llx", off);
		next = (int64_t)(off + in.len);
		if (in.rip_rel && next + in.disp >= 0 && next + in.disp < (int64_t)size)
			return refuse(s, "data or a jump table inside the function (referenced at +0x%llx)", off);
		if ((in.kind == X86_JMP || in.kind == X86_JCC || in.kind == X86_CALL) &&
		    next + in.rel >= 0 && next + in.rel < (int64_t)size && !start[next + in.rel])
			return refuse(s, "a branch into the middle of an instruction at +0x%llx", off);
	}
	return 0;
}

static int scan_insn(struct x86_scan *s, const struct x86_insn *in, size_t off, size_t size)
{
	int64_t next = (int64_t)(off + in->len), t = next + in->rel;

	switch (in->kind) {
	case X86_RET:
		if (off == 0)
			return refuse(s, "a return at the entry (+0x%llx)", off);
		return add_exit(s, off, X86_RET, 0);
	case X86_RET_FAR:
	case X86_JMP_FAR:
		return refuse(s, "a far return or jump at +0x%llx", off);
	case X86_JMP:
		if (t < 0 || t >= (int64_t)size)
			return add_exit(s, off, X86_JMP, t);
		return 0;
	case X86_JMP_IND:
		/* jmp *sym@GOTPCREL(%rip): a tail call through a pointer at a fixed place */
		if (in->rip_rel)
			return add_exit(s, off, X86_JMP_IND, 0);
		s->indirect_jmps++;
		return 0;
	}
	return 0;
}

int x86_scan_function(const uint8_t *code, size_t size, struct x86_scan *s)
{
	uint8_t *start;
	struct x86_insn in;
	size_t off = 0;
	int ret = -1;

	memset(s, 0, sizeof(*s));
	if (!size)
		return refuse(s, "empty function%.0llu", 0);
	start = calloc(size, 1);
	if (!start)
		return refuse(s, "out of memory%.0llu", 0);
	while (off < size) {
		int n = x86_decode(code + off, size - off, &in);

		if (n == -2) {
			refuse(s, "the last instruction (+0x%llx) runs past the function's end", off);
			goto cleanup;
		}
		if (n < 0) {
			refuse(s, "an instruction the decoder does not know at +0x%llx", off);
			goto cleanup;
		}
		start[off] = 1;
		s->ninsns++;
		if (scan_insn(s, &in, off, size))
			goto cleanup;
		off += n;
	}
	ret = check_refs(code, size, start, s);
cleanup:
	free(start);
	return ret;
}
