// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The session model: operations, call records, collapsed stacks and warnings. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "session.h"
#include "spill.h"
#include "util.h"

/* Calls a recorder keeps in memory by default: 58k records, a few seconds of a busy target. */
#define CALL_MEM_DEFAULT (4u << 20)
/* Spilled calls read back at a time. */
#define ITER_BUF 8192

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
	if (s->spill)
		spill_close(s->spill);
	free(s->spill);
	free(s->spill_dir);
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

/* No spill from now on: calls stay in memory (told once, on stderr: the data are complete). */
static void spill_off(struct session *s, const char *what, int e)
{
	fprintf(stderr, "ragd-bpfprof: warning: %s (%s): call records are kept in memory from now on\n",
		term_safe(what), strerror(-e));
	free(s->spill_dir);
	s->spill_dir = NULL;
}

/* calls[] into the spill file, which is created on first use. 0, or -1 when the calls stay. */
static int spill_chunk(struct session *s)
{
	const char *dirs[] = { s->spill_dir, getenv("TMPDIR"), "/tmp" };
	int e;

	if (!s->spill) {
		s->spill = malloc(sizeof(*s->spill));
		if (!s->spill) {
			spill_off(s, "no memory for the spill file", -ENOMEM);
			return -1;
		}
		e = spill_open(s->spill, dirs, 3, sizeof(struct call_rec));
		if (e) {
			free(s->spill);
			s->spill = NULL;
			spill_off(s, "cannot create a temporary file for call records", e);
			return -1;
		}
	}
	e = spill_append(s->spill, s->calls, s->ncalls);
	if (e) {
		char what[4200];

		snprintf(what, sizeof(what), "cannot write call records to a temporary file in %s",
			 s->spill->dir);
		spill_off(s, what, e);
		return -1;
	}
	s->calls_spilled += s->ncalls;
	s->ncalls = 0;
	return 0;
}

bool call_span_of_exact(const struct session *s, const struct call_rec *c)
{
	return (c->flags & CALL_F_SAMPLED) && c->op < (__u32)s->nops &&
	       s->ops[c->op].precision != PREC_SAMPLED;
}

int session_add_call(struct session *s, const struct call_rec *c)
{
	if (s->ncalls == s->calls_cap &&
	    !(s->spill_dir && s->ncalls >= s->calls_mem_max && !spill_chunk(s))) {
		size_t cap = s->calls_cap ? s->calls_cap * 2 : 1024;
		struct call_rec *n;

		/* the in-memory chunk never grows past the budget while it can be spilled */
		if (s->spill_dir && cap > s->calls_mem_max)
			cap = s->calls_mem_max > s->calls_cap ? s->calls_mem_max : s->calls_cap + 1;
		n = realloc(s->calls, cap * sizeof(*n));
		if (!n)
			return -1;
		s->calls = n;
		s->calls_cap = cap;
	}
	s->calls[s->ncalls++] = *c;
	return 0;
}

size_t session_call_mem(void)
{
	const char *v = getenv("RAGD_BPFPROF_CALL_MEM");
	unsigned long long b;
	char *end;

	if (!v || !*v)
		return CALL_MEM_DEFAULT;
	errno = 0;
	b = strtoull(v, &end, 10);
	if (errno || *end || !b || b > SIZE_MAX / 2) {
		fprintf(stderr, "ragd-bpfprof: warning: RAGD_BPFPROF_CALL_MEM '%s' is not a number of "
			"bytes > 0: using %u\n", term_safe(v), CALL_MEM_DEFAULT);
		return CALL_MEM_DEFAULT;
	}
	return (size_t)b;
}

int session_spill_calls(struct session *s, const char *out_path, size_t mem_bytes)
{
	const char *slash = out_path ? strrchr(out_path, '/') : NULL;
	char *dir;

	if (!mem_bytes)
		mem_bytes = session_call_mem();
	if (!out_path)
		dir = strdup("");
	else if (!slash)
		dir = strdup(".");
	else
		dir = strndup(out_path, slash == out_path ? 1 : (size_t)(slash - out_path));
	if (!dir)
		return -ENOMEM;
	free(s->spill_dir);
	s->spill_dir = dir;
	s->calls_mem_max = mem_bytes / sizeof(struct call_rec);
	if (!s->calls_mem_max)
		s->calls_mem_max = 1;
	return 0;
}

__u64 session_ncalls(const struct session *s)
{
	return s->calls_spilled + s->ncalls;
}

int session_calls_load(struct session *s)
{
	size_t total = (size_t)session_ncalls(s);
	struct call_rec *n;
	int e;

	free(s->spill_dir);
	s->spill_dir = NULL;
	if (!s->spill || !s->calls_spilled)
		return 0;
	n = malloc(total * sizeof(*n));
	if (!n)
		return -1;
	e = spill_read(s->spill, 0, n, s->calls_spilled);
	if (e) {
		free(n);
		errno = -e;
		return -1;
	}
	if (s->ncalls)
		memcpy(n + s->calls_spilled, s->calls, s->ncalls * sizeof(*n));
	free(s->calls);
	s->calls = n;
	s->ncalls = s->calls_cap = total;
	s->calls_spilled = 0;
	spill_close(s->spill);
	free(s->spill);
	s->spill = NULL;
	return 0;
}

const struct call_rec *call_iter_first(struct call_iter *it, const struct session *s, __u64 from)
{
	memset(it, 0, sizeof(*it));
	it->s = s;
	it->i = from;
	it->n = session_ncalls(s);
	return call_iter_next(it);
}

const struct call_rec *call_iter_next(struct call_iter *it)
{
	const struct session *s = it->s;
	size_t want;
	int e;

	if (it->i >= it->n)
		return NULL;
	if (it->i >= s->calls_spilled)
		return &s->calls[it->i++ - s->calls_spilled];
	if (it->pos == it->len) {
		want = s->calls_spilled - it->i < ITER_BUF ? (size_t)(s->calls_spilled - it->i) : ITER_BUF;
		if (!it->buf && !(it->buf = malloc(ITER_BUF * sizeof(*it->buf))))
			e = -ENOMEM;
		else
			e = spill_read(s->spill, it->i, it->buf, want);
		if (e) {
			it->err = e;
			it->i = it->n;
			return NULL;
		}
		it->pos = 0;
		it->len = want;
	}
	it->i++;
	return &it->buf[it->pos++];
}

void call_iter_done(struct call_iter *it)
{
	free(it->buf);
	it->buf = NULL;
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
