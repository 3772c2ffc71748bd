// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The session model: operations, call records, collapsed stacks and warnings. */
#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "session.h"

void session_init(struct session *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->source_format, sizeof(s->source_format), "%s", SCHEMA_ID);
}

void session_free(struct session *s)
{
	size_t i;
	int k;

	for (k = 0; k < s->nops; k++)
		free(s->ops[k].hist);
	free(s->ops);
	free(s->calls);
	for (i = 0; i < s->nstacks; i++)
		free(s->stacks[i].stack);
	free(s->stacks);
	free(s->stack_slots);
	for (i = 0; i < s->nwarnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	free(s->warn_slots);
	/* leave it reusable (and a second free harmless) */
	session_init(s);
}

int session_add_op(struct session *s, const char *name, enum op_kind kind, enum op_precision prec)
{
	struct op_result *op;

	if (s->nops == s->ops_cap) {
		/* MAX_OPS first, so a recording never moves ops it holds pointers into */
		int cap = s->ops_cap ? s->ops_cap * 2 : MAX_OPS;
		struct op_result *n = realloc(s->ops, cap * sizeof(*n));

		if (!n)
			return -1;
		s->ops = n;
		s->ops_cap = cap;
	}
	op = &s->ops[s->nops];
	memset(op, 0, sizeof(*op));
	snprintf(op->name, sizeof(op->name), "%s", name);
	op->kind = kind;
	op->precision = prec;
	op->source = prec == PREC_SAMPLED ? SRC_SAMPLES : SRC_CALLS;
	op->coverage = -1;
	return s->nops++;
}

int session_find_op(const struct session *s, const char *name)
{
	int i;

	for (i = 0; i < s->nops; i++)
		if (strcmp(s->ops[i].name, name) == 0)
			return i;
	return -1;
}

int session_add_call(struct session *s, const struct call_rec *c)
{
	if (s->ncalls == s->calls_cap) {
		size_t cap = s->calls_cap ? s->calls_cap * 2 : 1024;
		struct call_rec *n = realloc(s->calls, cap * sizeof(*n));

		if (!n)
			return -1;
		s->calls = n;
		s->calls_cap = cap;
	}
	s->calls[s->ncalls++] = *c;
	return 0;
}

/* FNV-1a: stacks share long prefixes, so every byte must count. */
static __u64 str_hash(const char *p)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Slot of `stack` in the index: where it is, or the empty slot where it would go. */
static size_t stack_slot(const struct session *s, const char *stack)
{
	size_t mask = s->stack_slots_cap - 1;
	size_t i = (size_t)str_hash(stack) & mask;

	while (s->stack_slots[i] && strcmp(s->stacks[s->stack_slots[i] - 1].stack, stack) != 0)
		i = (i + 1) & mask;
	return i;
}

/* Builds the index anew over all of stacks[] with at least `want` slots (load <= 1/2). */
static int stack_reindex(struct session *s, size_t want)
{
	size_t cap = 64, i;
	size_t *slots;

	while (cap < want * 2)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	free(s->stack_slots);
	s->stack_slots = slots;
	s->stack_slots_cap = cap;
	for (i = 0; i < s->nstacks; i++)
		s->stack_slots[stack_slot(s, s->stacks[i].stack)] = i + 1;
	s->stacks_indexed = s->nstacks;
	return 0;
}

int session_add_stack(struct session *s, const char *stack, __u64 on_cpu_ns, __u64 off_cpu_ns)
{
	struct stack_rec *r;
	size_t slot;

	/* Someone filled stacks[] directly, or the index is about to pass half full. */
	if (s->stacks_indexed != s->nstacks || (s->nstacks + 1) * 2 > s->stack_slots_cap)
		if (stack_reindex(s, s->nstacks + 1) < 0)
			return -1;

	slot = stack_slot(s, stack);
	if (s->stack_slots[slot]) {
		r = &s->stacks[s->stack_slots[slot] - 1];
		r->on_cpu_ns += on_cpu_ns;
		r->off_cpu_ns += off_cpu_ns;
		return (int)(s->stack_slots[slot] - 1);
	}

	if (s->nstacks == s->stacks_cap) {
		size_t cap = s->stacks_cap ? s->stacks_cap * 2 : 256;
		struct stack_rec *n = realloc(s->stacks, cap * sizeof(*n));

		if (!n)
			return -1;
		s->stacks = n;
		s->stacks_cap = cap;
	}
	r = &s->stacks[s->nstacks];
	r->stack = strdup(stack);
	if (!r->stack)
		return -1;
	r->on_cpu_ns = on_cpu_ns;
	r->off_cpu_ns = off_cpu_ns;
	s->stack_slots[slot] = ++s->nstacks;
	s->stacks_indexed = s->nstacks;
	return (int)(s->nstacks - 1);
}

/* Slot of msg in the warning index (grown to load <= 1/2 first): where it is, or the empty slot
 * where it goes; SIZE_MAX when out of memory. */
static size_t warn_slot(struct session *s, const char *msg)
{
	size_t mask, i, k;

	if ((s->nwarnings + 1) * 2 > s->warn_slots_cap) {
		size_t cap = s->warn_slots_cap ? s->warn_slots_cap * 2 : 64;
		size_t *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return SIZE_MAX;
		free(s->warn_slots);
		s->warn_slots = slots;
		s->warn_slots_cap = cap;
		for (k = 0; k < s->nwarnings; k++) {
			for (i = str_hash(s->warnings[k]) & (cap - 1); slots[i]; i = (i + 1) & (cap - 1))
				;
			slots[i] = k + 1;
		}
	}
	mask = s->warn_slots_cap - 1;
	for (i = str_hash(msg) & mask; s->warn_slots[i]; i = (i + 1) & mask)
		if (!strcmp(s->warnings[s->warn_slots[i] - 1], msg))
			break;
	return i;
}

void session_warn(struct session *s, const char *fmt, ...)
{
	char *msg, **n;
	size_t slot;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	/* one line each: callers may end theirs with '\n' out of habit */
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	/* profile repeats runs: say each thing once */
	slot = warn_slot(s, msg);
	if (slot == SIZE_MAX || s->warn_slots[slot]) {
		free(msg);
		return;
	}
	/* capacity doubles at 8, 16, 32, ... */
	if (s->nwarnings == 0 || (s->nwarnings >= 8 && !(s->nwarnings & (s->nwarnings - 1)))) {
		n = realloc(s->warnings, (s->nwarnings ? s->nwarnings * 2 : 8) * sizeof(*n));
		if (!n) {
			free(msg);
			return;
		}
		s->warnings = n;
	}
	s->warnings[s->nwarnings++] = msg;
	s->warn_slots[slot] = s->nwarnings;
}

void iso8601_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char date[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ldZ", date, ts.tv_nsec / 1000000);
}
