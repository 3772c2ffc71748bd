/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Probe specs: what the user asks to time (--probe text, SPEC.json, or the built-in ragd spec).
 * Syntax and the SPEC.json format are documented at the top of spec.c. */
#ifndef RAGD_BPFPROF_SPEC_H
#define RAGD_BPFPROF_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include "session.h"

#define SPEC_RAGD_NOPS 21  /* operations in spec_default_ragd() */

/* One probe: NAME=native:PATH_OR_LIB:SYMBOL, NAME=py:FILE_SUFFIX:QUALNAME,
 * NAME=py:FILE_SUFFIX:<module>, native:PATH:SYMBOL, py:FILE_SUFFIX:QUALNAME or PATH:SYMBOL.
 * 0, or -1 with a one-line err ("bad probe 'x': expected ..."). */
int spec_parse(const char *text, struct op_spec *out, char *err, size_t errlen);

/* Reads a SPEC.json into out[0..max). 0 and *n, or -1 with a one-line err naming the file
 * ("SPEC: not valid JSON (line 3)", "SPEC: probes[3]: duplicate operation name 'x'"). */
int spec_load_file(const char *path, struct op_spec *out, int max, int *n, char *err, size_t errlen);
/* Same from a string; WHAT stands for the file name in errors. */
int spec_load_string(const char *text, const char *what, struct op_spec *out, int max, int *n,
		     char *err, size_t errlen);

/* The built-in ragd 1.0 spec. Returns the number of ops (SPEC_RAGD_NOPS), or -1 (errno ENOSPC,
 * nothing written) if max is smaller. */
int spec_default_ragd(struct op_spec *out, int max);

/* Order in which ops get exact (scarce hardware breakpoint) boundaries: top-level names (no '.')
 * first, then the rest, each in spec order. Fills order[0..n) with indexes; returns n. */
int spec_priority(const struct op_spec *ops, int n, int *order);

/* Index of the op called NAME, or -1. */
int spec_find(const struct op_spec *ops, int n, const char *name);

/* Appends OP unless full or its name is taken. 0, or -1 with err ("duplicate operation name
 * 'x'", "more than 64 operations"). */
int spec_add(struct op_spec *ops, int *n, int max, const struct op_spec *op, char *err, size_t errlen);

/* True for a non-empty [A-Za-z0-9_.:-]+ shorter than NAME_MAX_LEN. */
bool spec_valid_name(const char *name);

/* "NAME=native:PATH:SYMBOL" / "NAME=py:FILE:QUALNAME", the form spec_parse reads back. */
const char *spec_format(const struct op_spec *op, char *buf, size_t len);

#endif
