// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer: the x86-64 length decoder and the function exit scan (user/x86len.c) on arbitrary
 * bytes: never reads past the buffer, lengths stay 1..15, a scan's exits lie inside the code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "x86len.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x86_insn in;
	struct x86_scan s;

	for (size_t off = 0; off < size;) {
		int n = x86_decode(data + off, size - off, &in);

		if (n == -1 || n == -2) {
			off++;
			continue;
		}
		if (n < 1 || n > 15 || (size_t)n > size - off || n != in.len)
			abort();
		off += n;
	}
	if (x86_scan_function(data, size, &s) == 0)
		for (uint32_t i = 0; i < s.nexits; i++)
			if (s.exits[i].off >= size)
				abort();
	return 0;
}
