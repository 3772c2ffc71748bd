/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Kernel layout differences, resolved at load time with CO-RE (same idea as libbpf-tools'). */
#ifndef RAGD_CORE_FIXES_BPF_H
#define RAGD_CORE_FIXES_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>

/* Before 5.14 task_struct.__state was task_struct.state. */
struct task_struct___o {
	volatile long int state;
} __attribute__((preserve_access_index));

static __always_inline __s64 get_task_state(void *task)
{
	struct task_struct___o *t = task;

	if (bpf_core_field_exists(t->state))
		return BPF_CORE_READ(t, state);
	return BPF_CORE_READ((struct task_struct *)task, __state);
}

/* Before 6.2 mm_struct.rss_stat was a struct of atomic_long_t counters; since 6.2 it is an array
 * of percpu_counter (commit f1a7941243c1). vmlinux.h has the new one; the old one is here. */
struct mm_rss_stat___old {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

#endif
