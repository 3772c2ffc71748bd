// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Timelines of a session for other viewers:
 *  - `report --format perfetto`: Chrome trace-event JSON (ui.perfetto.dev, chrome://tracing):
 *    every exact call a complete slice ("ph":"X") on its process and thread, ts/dur in us;
 *    sampled spans on one track per op in a "sampled spans" process; RSS at each call's entry
 *    and return as a counter track per process.
 *  - `report --format speedscope`: speedscope's file format: the stacks as a sampled profile
 *    (weights in us, off-CPU as a leaf "[off-cpu]" frame like --format folded) and the exact
 *    calls as one evented profile per thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"
#include "session.h"

#define SAMPLED_PID 0
#define SAMPLED_TID_BASE 0x40000000u   /* per-op tracks of sampled spans, far from real tids */

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static bool call_sampled(const struct call_rec *c)
{
	return c->flags & CALL_F_SAMPLED;
}

/* Calls in (pid, tid, start, longest first) order: parents before their children. */
static int call_cmp(const void *a, const void *b, void *arg)
{
	const struct call_rec *calls = arg;
	const struct call_rec *x = &calls[*(const size_t *)a], *y = &calls[*(const size_t *)b];

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	if (x->duration_ns != y->duration_ns)
		return x->duration_ns > y->duration_ns ? -1 : 1;
	return x->depth < y->depth ? -1 : x->depth > y->depth;
}

/* Indices of the exact (or, with sampled, only the sampled) calls, sorted by call_cmp. */
static size_t *sorted_calls(const struct session *s, bool sampled, size_t *n)
{
	size_t *idx = malloc((s->ncalls + 1) * sizeof(*idx));

	*n = 0;
	if (!idx)
		return NULL;
	for (size_t i = 0; i < s->ncalls; i++)
		if (call_sampled(&s->calls[i]) == sampled && s->calls[i].op < (__u32)s->nops)
			idx[(*n)++] = i;
	qsort_r(idx, *n, sizeof(*idx), call_cmp, s->calls);
	return idx;
}

/* --- perfetto / chrome trace-event JSON --- */

static void trace_meta(FILE *out, const char *what, __u32 pid, __u32 tid, const char *name,
		       const char **sep)
{
	fprintf(out, "%s{\"ph\":\"M\",\"name\":\"%s\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":",
		*sep, what, pid, tid);
	json_str(out, name);
	fputs("}}", out);
	*sep = ",\n";
}

static void trace_slice(const struct session *s, const struct call_rec *c, __u32 pid, __u32 tid,
			FILE *out)
{
	fprintf(out, ",\n{\"ph\":\"X\",\"name\":");
	json_str(out, s->ops[c->op].name);
	fprintf(out, ",\"cat\":\"%s\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%u,\"tid\":%u,"
		"\"args\":{\"iteration\":%u,\"depth\":%u,\"on_cpu_us\":%.3f",
		call_sampled(c) ? "sampled" : "exact", c->start_ns / 1e3, c->duration_ns / 1e3,
		pid, tid, c->iteration, c->depth, c->on_cpu_ns / 1e3);
	if (c->rss_start || c->rss_end)
		fprintf(out, ",\"rss_delta_bytes\":%lld",
			(long long)c->rss_end - (long long)c->rss_start);
	if (c->flags & CALL_F_UNWOUND)
		fputs(",\"unwound\":true", out);
	if (c->flags & CALL_F_OPEN)
		fputs(",\"open\":true", out);
	fputs("}}", out);
}

static void trace_rss(const struct call_rec *c, FILE *out)
{
	if (!c->rss_start && !c->rss_end)
		return;
	fprintf(out, ",\n{\"ph\":\"C\",\"name\":\"RSS\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,"
		"\"args\":{\"MiB\":%.3f}}", c->pid, c->pid, c->start_ns / 1e3,
		c->rss_start / 1048576.0);
	fprintf(out, ",\n{\"ph\":\"C\",\"name\":\"RSS\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,"
		"\"args\":{\"MiB\":%.3f}}", c->pid, c->pid, (c->start_ns + c->duration_ns) / 1e3,
		c->rss_end / 1048576.0);
}

/* Process and thread names, once each (calls are sorted by pid, tid). */
static void trace_names(const struct session *s, const size_t *idx, size_t n, const char **sep,
			FILE *out)
{
	__u32 pid = 0, tid = 0;
	char name[NAME_MAX_LEN + 64];

	for (size_t k = 0; k < n; k++) {
		const struct call_rec *c = &s->calls[idx[k]];

		if (!k || c->pid != pid) {
			/* profile runs each iteration in its own process: say which */
			if (c->pid == (__u32)s->pid && s->name[0])
				snprintf(name, sizeof(name), "%s (pid %u)", s->name, c->pid);
			else
				snprintf(name, sizeof(name), "iteration %u (pid %u)", c->iteration,
					 c->pid);
			trace_meta(out, "process_name", c->pid, c->pid, name, sep);
		}
		if (!k || c->pid != pid || c->tid != tid) {
			snprintf(name, sizeof(name), "%s %u", c->tid == c->pid ? "main" : "thread",
				 c->tid);
			trace_meta(out, "thread_name", c->pid, c->tid, name, sep);
		}
		pid = c->pid;
		tid = c->tid;
	}
}

int report_perfetto(const struct session *s, FILE *out)
{
	const char *sep = "";
	size_t n = 0, ns = 0;
	size_t *idx = sorted_calls(s, false, &n);
	size_t *sidx = sorted_calls(s, true, &ns);
	bool *seen = calloc((size_t)s->nops + 1, sizeof(*seen));
	int err = -1;

	if (!idx || !sidx || !seen)
		goto cleanup;
	fputs("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":\"ragd-bpfprof\",\"session\":", out);
	json_str(out, s->name);
	fputs("},\n\"traceEvents\":[\n", out);
	trace_names(s, idx, n, &sep, out);
	if (ns)
		trace_meta(out, "process_name", SAMPLED_PID, SAMPLED_TID_BASE,
			   "sampled spans (estimates from stack samples)", &sep);
	for (size_t k = 0; k < ns; k++) {
		__u32 op = s->calls[sidx[k]].op;

		if (!seen[op]) {
			trace_meta(out, "thread_name", SAMPLED_PID, SAMPLED_TID_BASE + op,
				   s->ops[op].name, &sep);
			seen[op] = true;
		}
	}
	if (!*sep) /* keep the array's separators simple: a first element always exists */
		trace_meta(out, "process_name", 0, 0, "no calls in this session", &sep);
	for (size_t k = 0; k < n; k++) {
		const struct call_rec *c = &s->calls[idx[k]];

		trace_slice(s, c, c->pid, c->tid, out);
		trace_rss(c, out);
	}
	for (size_t k = 0; k < ns; k++) {
		const struct call_rec *c = &s->calls[sidx[k]];

		trace_slice(s, c, SAMPLED_PID, SAMPLED_TID_BASE + c->op, out);
	}
	fputs("\n]}\n", out);
	err = ferror(out) ? -1 : 0;
cleanup:
	free(idx);
	free(sidx);
	free(seen);
	return err;
}

/* --- speedscope --- */

struct frames {
	char **name;
	size_t n, cap;
};

/* Index of frame name in f, added if new; -1 without memory. */
static long frame_id(struct frames *f, const char *name, size_t len)
{
	for (size_t i = 0; i < f->n; i++)
		if (strlen(f->name[i]) == len && !strncmp(f->name[i], name, len))
			return (long)i;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		void *p = realloc(f->name, cap * sizeof(*f->name));

		if (!p)
			return -1;
		f->name = p;
		f->cap = cap;
	}
	f->name[f->n] = strndup(name, len);
	if (!f->name[f->n])
		return -1;
	return (long)f->n++;
}

/* Frames are "qualname (path)": speedscope shows name and file apart. */
static void speedscope_frame(const char *frame, FILE *out)
{
	size_t len = strlen(frame);
	const char *open = strstr(frame, " (");

	if (open && len > 2 && frame[len - 1] == ')') {
		char *name = strndup(frame, open - frame);
		char *file = strndup(open + 2, frame + len - 1 - (open + 2));

		if (name && file) {
			fputs("{\"name\":", out);
			json_str(out, name);
			fputs(",\"file\":", out);
			json_str(out, file);
			fputc('}', out);
			free(name);
			free(file);
			return;
		}
		free(name);
		free(file);
	}
	fputs("{\"name\":", out);
	json_str(out, frame);
	fputc('}', out);
}

/* One stack as a list of frame ids, with the "[off-cpu]" leaf when off. */
static int speedscope_stack(struct frames *f, const char *stack, bool off, FILE *out)
{
	const char *p = stack, *semi;
	const char *sep = "";
	long id;

	fputc('[', out);
	for (; *p; p = *semi ? semi + 1 : semi) {
		semi = strchrnul(p, ';');
		if (semi == p)
			continue;
		id = frame_id(f, p, semi - p);
		if (id < 0)
			return -1;
		fprintf(out, "%s%ld", sep, id);
		sep = ",";
	}
	if (off) {
		id = frame_id(f, "[off-cpu]", 9);
		if (id < 0)
			return -1;
		fprintf(out, "%s%ld", sep, id);
	}
	fputc(']', out);
	return 0;
}


/* A stack's on- or off-CPU weight in us, 0 for a sample speedscope skips (no time, no frames):
 * the samples and the weights arrays must list the same entries. */
static __u64 stack_us(const struct stack_rec *st, int off)
{
	__u64 us = ((off ? st->off_cpu_ns : st->on_cpu_ns) + 500) / 1000;

	return st->stack && st->stack[0] ? us : 0;
}
static int speedscope_sampled(const struct session *s, struct frames *f, FILE *out)
{
	__u64 total = 0;
	const char *sep = "";

	for (size_t i = 0; i < s->nstacks; i++)
		total += (s->stacks[i].on_cpu_ns + 500) / 1000 + (s->stacks[i].off_cpu_ns + 500) / 1000;
	fprintf(out, "{\"type\":\"sampled\",\"name\":\"stacks (on-CPU and [off-cpu])\","
		"\"unit\":\"microseconds\",\"startValue\":0,\"endValue\":%llu,\"samples\":[",
		(unsigned long long)total);
	for (size_t i = 0; i < s->nstacks; i++)
		for (int off = 0; off < 2; off++) {
			if (!stack_us(&s->stacks[i], off))
				continue;
			fputs(sep, out);
			if (speedscope_stack(f, s->stacks[i].stack, off, out))
				return -1;
			sep = ",";
		}
	fputs("],\"weights\":[", out);
	sep = "";
	for (size_t i = 0; i < s->nstacks; i++)
		for (int off = 0; off < 2; off++) {
			__u64 us = stack_us(&s->stacks[i], off);

			if (!us)
				continue;
			fprintf(out, "%s%llu", sep, (unsigned long long)us);
			sep = ",";
		}
	fputs("]}", out);
	return 0;
}

/* Open/close events of one thread's calls [a, b) of idx. Speedscope needs them strictly nested
 * and ordered, so a call overlapping its parent's end is cut there. */
static int speedscope_thread(const struct session *s, struct frames *f, const size_t *idx,
			     size_t a, size_t b, FILE *out)
{
	__u64 end[64];
	long fr[64];
	const char *sep = "";
	__u64 last = 0;
	int depth = 0;

	for (size_t k = a; k < b; k++)
		if (s->calls[idx[k]].start_ns + s->calls[idx[k]].duration_ns > last)
			last = s->calls[idx[k]].start_ns + s->calls[idx[k]].duration_ns;
	fprintf(out, "{\"type\":\"evented\",\"name\":\"pid %u tid %u (exact calls)\","
		"\"unit\":\"nanoseconds\",\"startValue\":%llu,\"endValue\":%llu,\"events\":[",
		s->calls[idx[a]].pid, s->calls[idx[a]].tid,
		(unsigned long long)s->calls[idx[a]].start_ns, (unsigned long long)last);
	for (size_t k = a; k < b; k++) {
		const struct call_rec *c = &s->calls[idx[k]];
		__u64 e = c->start_ns + c->duration_ns;
		long id;

		while (depth && end[depth - 1] <= c->start_ns) {
			depth--;
			fprintf(out, "%s{\"type\":\"C\",\"frame\":%ld,\"at\":%llu}", sep, fr[depth],
				(unsigned long long)end[depth]);
		}
		if (depth == 64)
			continue;
		if (depth && e > end[depth - 1])
			e = end[depth - 1];
		id = frame_id(f, s->ops[c->op].name, strlen(s->ops[c->op].name));
		if (id < 0)
			return -1;
		fprintf(out, "%s{\"type\":\"O\",\"frame\":%ld,\"at\":%llu}", sep, id,
			(unsigned long long)c->start_ns);
		sep = ",";
		end[depth] = e;
		fr[depth++] = id;
	}
	while (depth--)
		fprintf(out, ",{\"type\":\"C\",\"frame\":%ld,\"at\":%llu}", fr[depth],
			(unsigned long long)end[depth]);
	fputs("]}", out);
	return 0;
}

int report_speedscope(const struct session *s, FILE *out)
{
	struct frames f = {};
	size_t n = 0, *idx = sorted_calls(s, false, &n);
	int err = -1;

	if (!idx)
		goto cleanup;
	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
	      "\"exporter\":\"ragd-bpfprof\",\"name\":", out);
	json_str(out, s->name[0] ? s->name : "ragd-bpfprof session");
	fputs(",\"activeProfileIndex\":0,\"profiles\":[", out);
	if (speedscope_sampled(s, &f, out))
		goto cleanup;
	for (size_t a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && s->calls[idx[b]].pid == s->calls[idx[a]].pid &&
		     s->calls[idx[b]].tid == s->calls[idx[a]].tid; b++)
			;
		fputc(',', out);
		if (speedscope_thread(s, &f, idx, a, b, out))
			goto cleanup;
	}
	fputs("],\"shared\":{\"frames\":[", out);
	for (size_t i = 0; i < f.n; i++) {
		if (i)
			fputc(',', out);
		speedscope_frame(f.name[i], out);
	}
	fputs("]}}\n", out);
	err = ferror(out) ? -1 : 0;
cleanup:
	for (size_t i = 0; i < f.n; i++)
		free(f.name[i]);
	free(f.name);
	free(idx);
	return err;
}
