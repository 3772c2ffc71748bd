// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer: the ELF readers of user/symbols.c on arbitrary files (through a memfd, so no disk
 * writes): symbol lookup, values, vaddr reads and mapping, DT_NEEDED, USDT notes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *syms[] = { "main", "op_busy", "malloc@@GLIBC_2.2.5", "_PyRuntime",
				      "Py_Version", "f" };
	static char usdt[64][64];
	char path[64], err[512], out[4096];
	__u64 off, sz, va;
	unsigned char buf[64];
	int fd;

	fd = memfd_create("elf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		if (!elf_sym_offset(path, syms[i], &off, &sz, err, sizeof(err)))
			elf_vaddr_to_offset(path, off, &off);
		else if (strchr(err, '\n'))
			abort();
		elf_has_symbol(path, syms[i]);
		if (!elf_read_symbol_value(path, syms[i], &va, &sz)) {
			elf_read_vaddr(path, va, buf, sz < sizeof(buf) ? sz : sizeof(buf));
			elf_vaddr_to_offset(path, va, &off);
		}
	}
	elf_read_vaddr(path, 0x400000, buf, sizeof(buf));
	elf_needed(path, "lib", out, sizeof(out));
	elf_usdt_list(path, usdt, 64);
	close(fd);
	return 0;
}
