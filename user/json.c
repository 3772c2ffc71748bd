// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The ragd-bpfprof/1 JSON file: writing, strict reading, and importing ragd's own
 * ProfileSession.export_json output.
 *
 * 64-bit integers are written as exact decimal text (we print them ourselves; cJSON would go
 * through a double). Reading goes through cJSON, which keeps numbers as doubles: integers below
 * 2^53 (104 days in ns, 8 PiB in bytes) come back exactly, larger ones to the nearest double, and
 * anything >= 2^64 (the open-ended last histogram bucket's le_ns) as UINT64_MAX. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include "output.h"
#include "util.h"
#include "session.h"

#define ULL(x) ((unsigned long long)(x))
#define MIB (1024.0 * 1024.0)

/* ---------------------------------------------------------------- writing */

static const char *kind_str(enum op_kind k)
{
	switch (k) {
	case OP_NATIVE: return "native";
	case OP_PY: return "py";
	case OP_PY_MODULE: return "py_module";
	}
	return "native";
}

static const char *source_str(enum stats_source src)
{
	switch (src) {
	case SRC_CALLS: return "calls";
	case SRC_HISTOGRAM: return "histogram";
	case SRC_SAMPLES: return "samples";
	}
	return "calls";
}

/* JSON string with cJSON's escaping, so writer and reader agree on it. */
static int put_str(FILE *f, const char *s)
{
	cJSON *item = cJSON_CreateString(s ? s : "");
	char *txt = item ? cJSON_PrintUnformatted(item) : NULL;
	int ret = -1;

	if (txt) {
		ret = fputs(txt, f) < 0 ? -1 : 0;
		cJSON_free(txt);
	} else {
		errno = ENOMEM;
	}
	cJSON_Delete(item);
	return ret;
}

/* Shortest of %.15g / %.17g that reads back as the same double. */
static const char *fmt_double(char *buf, size_t len, double d)
{
	if (!isfinite(d))
		d = 0;
	snprintf(buf, len, "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, len, "%.17g", d);
	return buf;
}

/* An op's histogram; built from its closed calls when BPF gave none (imports, tests), so every
 * file carries one. *tmp is set when the caller must free it. */
static const __u64 *op_hist(const struct session *s, int k, __u64 **tmp)
{
	const struct call_rec *c;
	struct call_iter it;

	*tmp = NULL;
	if (s->ops[k].hist)
		return s->ops[k].hist;
	for (c = call_iter_first(&it, s, 0); c; c = call_iter_next(&it)) {
		if (c->op != (__u32)k || (c->flags & CALL_F_OPEN) || call_span_of_exact(s, c))
			continue;
		if (!*tmp) {
			*tmp = calloc(HIST_BUCKETS, sizeof(**tmp));
			if (!*tmp)
				break;
		}
		(*tmp)[hist_index(c->duration_ns)]++;
	}
	call_iter_done(&it);
	return *tmp;
}

static void write_op(const struct session *s, int k, FILE *f)
{
	const struct op_result *op = &s->ops[k];
	char d1[40], d2[40], d3[40];
	__u64 *tmp;
	const __u64 *h = op_hist(s, k, &tmp);
	int first = 1;
	__u32 b;

	fputs("    {\n      \"name\": ", f);
	put_str(f, op->name);
	fprintf(f, ",\n      \"kind\": \"%s\",\n      \"precision\": \"%s\",\n",
		kind_str(op->kind), op->precision == PREC_SAMPLED ? "sampled" : "exact");
	fprintf(f, "      \"count\": %llu,\n      \"total_ns\": %llu,\n"
		"      \"min_ns\": %llu,\n      \"max_ns\": %llu,\n"
		"      \"mean_ns\": %s,\n      \"stdev_ns\": %s,\n"
		"      \"p50_ns\": %llu,\n      \"p90_ns\": %llu,\n"
		"      \"p95_ns\": %llu,\n      \"p99_ns\": %llu,\n"
		"      \"on_cpu_ns\": %llu,\n      \"off_cpu_ns\": %llu,\n"
		"      \"self_ns\": %llu,\n      \"unwound\": %llu,\n"
		"      \"stats_source\": \"%s\",\n      \"function\": ",
		ULL(op->count), ULL(op->total_ns), ULL(op->min_ns), ULL(op->max_ns),
		fmt_double(d1, sizeof(d1), op->mean_ns), fmt_double(d2, sizeof(d2), op->stdev_ns),
		ULL(op->p50_ns), ULL(op->p90_ns), ULL(op->p95_ns), ULL(op->p99_ns),
		ULL(op->on_cpu_ns), ULL(op->off_cpu_ns), ULL(op->self_ns), ULL(op->unwound),
		source_str(op->source));
	put_str(f, op->function);
	fprintf(f, ",\n      \"resolved\": %s,\n      \"coverage\": %s,\n      \"note\": ",
		op->resolved ? "true" : "false",
		op->coverage >= 0 ? fmt_double(d3, sizeof(d3), op->coverage) : "null");
	put_str(f, op->note);
	fputs(",\n      \"histogram\": {\"buckets\": [", f);
	for (b = 0; h && b < HIST_BUCKETS; b++) {
		if (!h[b])
			continue;
		fprintf(f, "%s\n        {\"le_ns\": %llu, \"count\": %llu}", first ? "" : ",",
			ULL(hist_bucket_high(b)), ULL(h[b]));
		first = 0;
	}
	free(tmp);
	fprintf(f, "%s]},\n", first ? "" : "\n      ");
	fprintf(f, "      \"rss\": {\"delta_bytes_mean\": %s, \"delta_bytes_max\": %lld, "
		"\"peak_bytes\": %llu}\n    }",
		fmt_double(d3, sizeof(d3), op->rss_delta_mean), (long long)op->rss_delta_max,
		ULL(op->rss_peak));
}

static void write_flags(FILE *f, __u32 flags)
{
	const char *sep = "";

	fputc('[', f);
	if (flags & CALL_F_UNWOUND) {
		fputs("\"unwound\"", f);
		sep = ", ";
	}
	if (flags & CALL_F_OPEN) {
		fprintf(f, "%s\"open\"", sep);
		sep = ", ";
	}
	if (flags & CALL_F_SAMPLED) {
		fprintf(f, "%s\"sampled\"", sep);
		sep = ", ";
	}
	/* bits this version has no name for survive as hex */
	flags &= ~(__u32)(CALL_F_UNWOUND | CALL_F_OPEN | CALL_F_SAMPLED);
	if (flags)
		fprintf(f, "%s\"0x%x\"", sep, flags);
	fputc(']', f);
}

/* The calls array, one call a line, spilled calls streamed back from their file. 0, or -1 with
 * errno when the spill file cannot be read (the file would miss calls: an error, not a gap). */
static int write_calls(const struct session *s, char *const *names, FILE *f)
{
	const struct call_rec *c;
	struct call_iter it;
	int first = 1;

	fputs("  \"calls\": [", f);
	for (c = call_iter_first(&it, s, 0); c; c = call_iter_next(&it)) {
		if (c->op >= (__u32)s->nops || call_span_of_exact(s, c))
			continue;
		fprintf(f, "%s\n    {\"op\": %s, \"pid\": %u, \"tid\": %u, \"iteration\": %u, "
			"\"start_ns\": %llu, \"duration_ns\": %llu, \"on_cpu_ns\": %llu, "
			"\"rss_start_bytes\": %llu, \"rss_end_bytes\": %llu, \"rss_peak_bytes\": %llu, "
			"\"depth\": %u, \"flags\": ",
			first ? "" : ",", names[c->op], c->pid, c->tid, c->iteration,
			ULL(c->start_ns), ULL(c->duration_ns), ULL(c->on_cpu_ns), ULL(c->rss_start),
			ULL(c->rss_end), ULL(c->rss_peak), c->depth);
		write_flags(f, c->flags);
		fputc('}', f);
		first = 0;
	}
	call_iter_done(&it);
	if (it.err) {
		errno = -it.err;
		return -1;
	}
	fputs(first ? "],\n" : "\n  ],\n", f);
	return 0;
}

int session_write_json(const struct session *s, FILE *f)
{
	/* op names escaped once, not once per call */
	char **names = calloc(s->nops ? s->nops : 1, sizeof(*names));
	int nops = s->nops, k, ret = -1;
	size_t i;

	if (!names) {
		errno = ENOMEM;
		return -1;
	}

	for (k = 0; k < nops; k++) {
		cJSON *item = cJSON_CreateString(s->ops[k].name);

		names[k] = item ? cJSON_PrintUnformatted(item) : NULL;
		cJSON_Delete(item);
		if (!names[k]) {
			errno = ENOMEM;
			goto out;
		}
	}

	fprintf(f, "{\n  \"schema\": \"%s\",\n  \"source_format\": ", SCHEMA_ID);
	put_str(f, s->source_format);
	fputs(",\n  \"name\": ", f);
	put_str(f, s->name);
	fputs(",\n  \"started_at\": ", f);
	put_str(f, s->started_at);
	fputs(",\n  \"ended_at\": ", f);
	put_str(f, s->ended_at);
	if (s->mono0_ns)
		fprintf(f, ",\n  \"monotonic_start_ns\": %llu", ULL(s->mono0_ns));
	fputs(",\n  \"host\": {\"kernel\": ", f);
	put_str(f, s->kernel);
	fprintf(f, ", \"cpus\": %d},\n  \"target\": {\"pid\": %d, \"command\": ", s->cpus, s->pid);
	put_str(f, s->command);
	if (s->has_exit_code)
		fprintf(f, ", \"exit_code\": %d},\n", s->exit_code);
	else
		fputs(", \"exit_code\": null},\n", f);
	fprintf(f, "  \"stats\": {\"events\": %llu, \"dropped_events\": %llu, \"samples\": %llu, "
		"\"sample_hz\": %llu, \"dropped_calls\": %llu},\n", ULL(s->events), ULL(s->dropped_events),
		ULL(s->samples), ULL(s->sample_hz), ULL(s->dropped_calls));

	fputs("  \"operations\": [", f);
	for (k = 0; k < nops; k++) {
		fputs(k ? ",\n" : "\n", f);
		write_op(s, k, f);
	}
	fputs(nops ? "\n  ],\n" : "],\n", f);

	/* one call per line: files with 100k calls stay greppable */
	if (write_calls(s, names, f) < 0)
		goto out;

	fputs("  \"stacks\": [", f);
	for (i = 0; i < s->nstacks; i++) {
		fputs(i ? ",\n    {\"stack\": " : "\n    {\"stack\": ", f);
		put_str(f, s->stacks[i].stack);
		fprintf(f, ", \"on_cpu_ns\": %llu, \"off_cpu_ns\": %llu}",
			ULL(s->stacks[i].on_cpu_ns), ULL(s->stacks[i].off_cpu_ns));
	}
	fputs(s->nstacks ? "\n  ],\n" : "],\n", f);

	fputs("  \"warnings\": [", f);
	for (i = 0; i < s->nwarnings; i++) {
		fputs(i ? ",\n    " : "\n    ", f);
		put_str(f, s->warnings[i]);
	}
	fputs(s->nwarnings ? "\n  ]\n}\n" : "]\n}\n", f);

	ret = fflush(f) == 0 && !ferror(f) ? 0 : -1;
out:
	for (k = 0; k < nops; k++)
		cJSON_free(names[k]);
	free(names);
	return ret;
}


static int write_json_cb(FILE *f, const void *arg)
{
	return session_write_json(arg, f);
}

/* Atomic: readers of PATH see the old file or the whole new one, never half (output.c). */
int session_write_file(const struct session *s, const char *path, char *err, size_t errlen)
{
	return output_write(path, write_json_cb, s, err, errlen);
}

/* ---------------------------------------------------------------- reading */

/* Reader state: the first error wins and is kept as "LABEL: what is wrong". */
struct rd {
	const char *label;
	char *err;
	size_t errlen;
	int failed;
};

static int fail(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct rd *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (r->failed)
		return -1;
	r->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	seterr(r->err, r->errlen, "%s: %s", r->label, msg);
	return -1;
}

/* "operations[2]" + "count" -> "operations[2].count"; top level has an empty path. */
static const char *key_name(char *buf, size_t len, const char *path, const char *key)
{
	snprintf(buf, len, "%s%s%s", path, *path ? "." : "", key);
	return buf;
}

static cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Optional getters return 0 and leave *out alone when the key is absent or null; present but
 * of the wrong type is an error either way. */

static int to_u64(struct rd *r, const cJSON *it, const char *name, __u64 *out)
{
	double d;

	if (!cJSON_IsNumber(it))
		return fail(r, "%s missing or not a number", name);
	d = it->valuedouble;
	if (!(d >= 0) || d != floor(d))
		return fail(r, "%s is not a non-negative integer", name);
	*out = d >= 18446744073709551616.0 ? UINT64_MAX : (__u64)d;
	return 0;
}

static int req_u64(struct rd *r, const cJSON *obj, const char *path, const char *key, __u64 *out)
{
	char name[160];

	return to_u64(r, get(obj, key), key_name(name, sizeof(name), path, key), out);
}

static int opt_u64(struct rd *r, const cJSON *obj, const char *path, const char *key, __u64 *out)
{
	const cJSON *it = get(obj, key);

	if (!it || cJSON_IsNull(it))
		return 0;
	return req_u64(r, obj, path, key, out);
}

static int opt_u32(struct rd *r, const cJSON *obj, const char *path, const char *key, __u32 *out)
{
	char name[160];
	__u64 v;

	if (!get(obj, key) || cJSON_IsNull(get(obj, key)))
		return 0;
	if (req_u64(r, obj, path, key, &v) < 0)
		return -1;
	if (v > UINT32_MAX)
		return fail(r, "%s is out of range", key_name(name, sizeof(name), path, key));
	*out = (__u32)v;
	return 0;
}

static int req_u32(struct rd *r, const cJSON *obj, const char *path, const char *key, __u32 *out)
{
	char name[160];

	if (!cJSON_IsNumber(get(obj, key)))
		return fail(r, "%s missing or not a number", key_name(name, sizeof(name), path, key));
	return opt_u32(r, obj, path, key, out);
}

static int req_int(struct rd *r, const cJSON *obj, const char *path, const char *key, int *out)
{
	const cJSON *it = get(obj, key);
	char name[160];
	double d;

	key_name(name, sizeof(name), path, key);
	if (!cJSON_IsNumber(it))
		return fail(r, "%s missing or not a number", name);
	d = it->valuedouble;
	if (d != floor(d) || d < INT_MIN || d > INT_MAX)
		return fail(r, "%s is not an integer", name);
	*out = (int)d;
	return 0;
}

static int req_s64(struct rd *r, const cJSON *obj, const char *path, const char *key, __s64 *out)
{
	const cJSON *it = get(obj, key);
	char name[160];
	double d;

	key_name(name, sizeof(name), path, key);
	if (!cJSON_IsNumber(it))
		return fail(r, "%s missing or not a number", name);
	d = it->valuedouble;
	if (d != floor(d) || d < -9223372036854775808.0)
		return fail(r, "%s is not an integer", name);
	*out = d >= 9223372036854775808.0 ? INT64_MAX : (__s64)d;
	return 0;
}

static int req_double(struct rd *r, const cJSON *obj, const char *path, const char *key,
		      double *out)
{
	const cJSON *it = get(obj, key);
	char name[160];

	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
		return fail(r, "%s missing or not a number", key_name(name, sizeof(name), path, key));
	*out = it->valuedouble;
	return 0;
}

/* A mean or deviation in ns: finite, >= 0 and below 2^64, so readers may round it to __u64. */
static int req_ns_double(struct rd *r, const cJSON *obj, const char *path, const char *key,
			 double *out)
{
	char name[160];
	double d;

	if (req_double(r, obj, path, key, &d) < 0)
		return -1;
	if (d < 0 || d > 18446744073709549568.0)
		return fail(r, "%s is out of range (0 .. 2^64 ns)", key_name(name, sizeof(name), path, key));
	*out = d;
	return 0;
}

static int opt_ns_double(struct rd *r, const cJSON *obj, const char *path, const char *key,
			 double *out)
{
	const cJSON *it = get(obj, key);

	if (!it || cJSON_IsNull(it))
		return 0;
	return req_ns_double(r, obj, path, key, out);
}

static int opt_double(struct rd *r, const cJSON *obj, const char *path, const char *key,
		      double *out)
{
	const cJSON *it = get(obj, key);

	if (!it || cJSON_IsNull(it))
		return 0;
	return req_double(r, obj, path, key, out);
}

static int req_str(struct rd *r, const cJSON *obj, const char *path, const char *key,
		   char *buf, size_t len)
{
	const cJSON *it = get(obj, key);
	char name[160];
	size_t n;

	key_name(name, sizeof(name), path, key);
	if (!cJSON_IsString(it) || !it->valuestring)
		return fail(r, "%s missing or not a string", name);
	n = strlen(it->valuestring);
	if (n >= len)
		return fail(r, "%s is too long (%zu bytes, at most %zu)", name, n, len - 1);
	memcpy(buf, it->valuestring, n + 1);
	return 0;
}

static int opt_str(struct rd *r, const cJSON *obj, const char *path, const char *key,
		   char *buf, size_t len)
{
	const cJSON *it = get(obj, key);

	if (!it || cJSON_IsNull(it))
		return 0;
	return req_str(r, obj, path, key, buf, len);
}

static int opt_bool(struct rd *r, const cJSON *obj, const char *path, const char *key, bool *out)
{
	const cJSON *it = get(obj, key);
	char name[160];

	if (!it || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsBool(it))
		return fail(r, "%s is not true or false", key_name(name, sizeof(name), path, key));
	*out = cJSON_IsTrue(it);
	return 0;
}

static const cJSON *req_obj(struct rd *r, const cJSON *obj, const char *path, const char *key)
{
	const cJSON *it = get(obj, key);
	char name[160];

	if (!cJSON_IsObject(it)) {
		fail(r, "%s missing or not an object", key_name(name, sizeof(name), path, key));
		return NULL;
	}
	return it;
}

static const cJSON *req_arr(struct rd *r, const cJSON *obj, const char *path, const char *key)
{
	const cJSON *it = get(obj, key);
	char name[160];

	if (!cJSON_IsArray(it)) {
		fail(r, "%s missing or not an array", key_name(name, sizeof(name), path, key));
		return NULL;
	}
	return it;
}

static int read_hist(struct rd *r, struct op_result *op, const cJSON *jop, const char *path)
{
	const cJSON *h, *buckets, *b;
	char bpath[96], name[160];
	int i = 0;

	if (!(h = req_obj(r, jop, path, "histogram")))
		return -1;
	snprintf(bpath, sizeof(bpath), "%s.histogram", path);
	if (!(buckets = req_arr(r, h, bpath, "buckets")))
		return -1;
	cJSON_ArrayForEach(b, buckets) {
		__u64 le, cnt;
		__u32 idx;

		snprintf(bpath, sizeof(bpath), "%s.histogram.buckets[%d]", path, i++);
		if (!cJSON_IsObject(b))
			return fail(r, "%s is not an object", bpath);
		if (req_u64(r, b, bpath, "le_ns", &le) < 0 || req_u64(r, b, bpath, "count", &cnt) < 0)
			return -1;
		idx = hist_index(le);
		if (hist_bucket_high(idx) != le)
			return fail(r, "%s is %llu, not a bucket bound",
				    key_name(name, sizeof(name), bpath, "le_ns"), ULL(le));
		if (!cnt)
			continue;
		if (!op->hist && !(op->hist = calloc(HIST_BUCKETS, sizeof(*op->hist))))
			return fail(r, "out of memory");
		if (op->hist[idx])
			return fail(r, "%s: bucket le_ns %llu listed twice", bpath, ULL(le));
		op->hist[idx] = cnt;
	}
	return 0;
}

static int read_op(struct rd *r, struct session *s, const cJSON *jop, int i)
{
	char path[48], kind[16], prec[16], src[16] = "", name[NAME_MAX_LEN], kname[160];
	const cJSON *rss;
	struct op_result *op;
	enum op_kind k;
	int idx;

	snprintf(path, sizeof(path), "operations[%d]", i);
	if (!cJSON_IsObject(jop))
		return fail(r, "%s is not an object", path);
	if (req_str(r, jop, path, "name", name, sizeof(name)) < 0 ||
	    req_str(r, jop, path, "kind", kind, sizeof(kind)) < 0 ||
	    req_str(r, jop, path, "precision", prec, sizeof(prec)) < 0)
		return -1;
	if (!*name)
		return fail(r, "%s.name is empty", path);
	if (session_find_op(s, name) >= 0)
		return fail(r, "%s.name '%s' appears twice", path, name);
	if (!strcmp(kind, "native"))
		k = OP_NATIVE;
	else if (!strcmp(kind, "py"))
		k = OP_PY;
	else if (!strcmp(kind, "py_module"))
		k = OP_PY_MODULE;
	else
		return fail(r, "%s.kind is '%s', expected native, py or py_module", path, kind);
	if (strcmp(prec, "exact") && strcmp(prec, "sampled"))
		return fail(r, "%s.precision is '%s', expected exact or sampled", path, prec);

	idx = session_add_op(s, name, k, !strcmp(prec, "sampled") ? PREC_SAMPLED : PREC_EXACT);
	if (idx < 0)
		return fail(r, "out of memory");
	op = &s->ops[idx];

	if (req_u64(r, jop, path, "count", &op->count) < 0 ||
	    req_u64(r, jop, path, "total_ns", &op->total_ns) < 0 ||
	    req_u64(r, jop, path, "min_ns", &op->min_ns) < 0 ||
	    req_u64(r, jop, path, "max_ns", &op->max_ns) < 0 ||
	    req_ns_double(r, jop, path, "mean_ns", &op->mean_ns) < 0 ||
	    req_u64(r, jop, path, "p50_ns", &op->p50_ns) < 0 ||
	    req_u64(r, jop, path, "p90_ns", &op->p90_ns) < 0 ||
	    req_u64(r, jop, path, "p95_ns", &op->p95_ns) < 0 ||
	    req_u64(r, jop, path, "p99_ns", &op->p99_ns) < 0 ||
	    req_u64(r, jop, path, "on_cpu_ns", &op->on_cpu_ns) < 0 ||
	    opt_ns_double(r, jop, path, "stdev_ns", &op->stdev_ns) < 0 ||
	    opt_u64(r, jop, path, "off_cpu_ns", &op->off_cpu_ns) < 0 ||
	    opt_u64(r, jop, path, "self_ns", &op->self_ns) < 0 ||
	    opt_u64(r, jop, path, "unwound", &op->unwound) < 0 ||
	    opt_str(r, jop, path, "stats_source", src, sizeof(src)) < 0 ||
	    opt_str(r, jop, path, "function", op->function, sizeof(op->function)) < 0 ||
	    opt_bool(r, jop, path, "resolved", &op->resolved) < 0 ||
	    opt_str(r, jop, path, "note", op->note, sizeof(op->note)) < 0)
		return -1;
	op->coverage = -1;
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(jop, "coverage"))) {
		double cv = cJSON_GetObjectItemCaseSensitive(jop, "coverage")->valuedouble;

		if (!(cv >= 0 && cv <= 1))
			return fail(r, "%s.coverage is %g, expected 0 to 1", path, cv);
		op->coverage = cv;
	}
	if (!strcmp(src, "calls"))
		op->source = SRC_CALLS;
	else if (!strcmp(src, "histogram"))
		op->source = SRC_HISTOGRAM;
	else if (!strcmp(src, "samples"))
		op->source = SRC_SAMPLES;
	else if (*src)
		return fail(r, "%s is '%s', expected calls, histogram or samples",
			    key_name(kname, sizeof(kname), path, "stats_source"), src);

	if (read_hist(r, op, jop, path) < 0)
		return -1;

	if (!(rss = req_obj(r, jop, path, "rss")))
		return -1;
	snprintf(path, sizeof(path), "operations[%d].rss", i);
	if (req_double(r, rss, path, "delta_bytes_mean", &op->rss_delta_mean) < 0 ||
	    req_s64(r, rss, path, "delta_bytes_max", &op->rss_delta_max) < 0 ||
	    req_u64(r, rss, path, "peak_bytes", &op->rss_peak) < 0)
		return -1;
	return 0;
}

/* Op name -> op index, open addressing (slot = entry + 1, 0 = empty), for the calls of big
 * files. Names point into the cJSON tree or the session's ops, whichever it was built from. */
struct opmap {
	struct { const char *name; int idx; } *ent;
	int n;
	size_t cap;    /* 0 or a power of two, >= 2n */
	int *slots;
};

static __u64 name_hash(const char *p, size_t len)
{
	__u64 h = 0xcbf29ce484222325ULL;

	while (len--) {
		h ^= (unsigned char)*p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void opmap_free(struct opmap *m)
{
	free(m->ent);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static size_t opmap_slot(const struct opmap *m, const char *name, size_t len)
{
	size_t mask = m->cap - 1, i;

	for (i = name_hash(name, len) & mask; m->slots[i]; i = (i + 1) & mask) {
		const char *k = m->ent[m->slots[i] - 1].name;

		if (!strncmp(k, name, len) && !k[len])
			break;
	}
	return i;
}

/* The first index given a name wins (as cJSON's lookup would); -ENOMEM. */
static int opmap_add(struct opmap *m, const char *name, int idx)
{
	size_t i;

	if ((size_t)(m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		int *slots = calloc(cap, sizeof(*slots));
		void *ent = realloc(m->ent, cap / 2 * sizeof(*m->ent));
		int k;

		if (ent)
			m->ent = ent;
		if (!slots || !ent) {
			free(slots);
			return -ENOMEM;
		}
		free(m->slots);
		m->slots = slots;
		m->cap = cap;
		for (k = 0; k < m->n; k++)
			m->slots[opmap_slot(m, m->ent[k].name, strlen(m->ent[k].name))] = k + 1;
	}
	i = opmap_slot(m, name, strlen(name));
	if (m->slots[i])
		return 0;
	m->ent[m->n].name = name;
	m->ent[m->n].idx = idx;
	m->slots[i] = ++m->n;
	return 0;
}

/* The op index of NAME (LEN bytes, not NUL-terminated), or -1. */
static int opmap_find(const struct opmap *m, const char *name, size_t len)
{
	size_t i;

	if (!m->cap)
		return -1;
	i = opmap_slot(m, name, len);
	return m->slots[i] ? m->ent[m->slots[i] - 1].idx : -1;
}

static int read_call(struct rd *r, struct session *s, const struct opmap *m, const cJSON *jc,
		     size_t i)
{
	struct call_rec c = { 0 };
	const cJSON *flags, *fl;
	char path[48], opname[NAME_MAX_LEN];
	int op;

	snprintf(path, sizeof(path), "calls[%zu]", i);
	if (!cJSON_IsObject(jc))
		return fail(r, "%s is not an object", path);
	if (req_str(r, jc, path, "op", opname, sizeof(opname)) < 0)
		return -1;
	op = m ? opmap_find(m, opname, strlen(opname)) : session_find_op(s, opname);
	if (op < 0)
		return fail(r, "%s.op '%s' is not in operations", path, opname);
	c.op = (__u32)op;
	if (req_u32(r, jc, path, "tid", &c.tid) < 0 ||
	    req_u64(r, jc, path, "start_ns", &c.start_ns) < 0 ||
	    req_u64(r, jc, path, "duration_ns", &c.duration_ns) < 0 ||
	    req_u64(r, jc, path, "on_cpu_ns", &c.on_cpu_ns) < 0 ||
	    req_u64(r, jc, path, "rss_start_bytes", &c.rss_start) < 0 ||
	    req_u64(r, jc, path, "rss_end_bytes", &c.rss_end) < 0 ||
	    req_u64(r, jc, path, "rss_peak_bytes", &c.rss_peak) < 0 ||
	    opt_u32(r, jc, path, "pid", &c.pid) < 0 ||
	    opt_u32(r, jc, path, "iteration", &c.iteration) < 0 ||
	    opt_u32(r, jc, path, "depth", &c.depth) < 0)
		return -1;

	flags = get(jc, "flags");
	if (flags && !cJSON_IsNull(flags)) {
		if (!cJSON_IsArray(flags))
			return fail(r, "%s.flags is not an array", path);
		cJSON_ArrayForEach(fl, flags) {
			if (!cJSON_IsString(fl))
				return fail(r, "%s.flags has a non-string entry", path);
			if (!strcmp(fl->valuestring, "unwound"))
				c.flags |= CALL_F_UNWOUND;
			else if (!strcmp(fl->valuestring, "open"))
				c.flags |= CALL_F_OPEN;
			else if (!strcmp(fl->valuestring, "sampled"))
				c.flags |= CALL_F_SAMPLED;
			else if (!strncmp(fl->valuestring, "0x", 2))
				c.flags |= (__u32)strtoul(fl->valuestring, NULL, 16);
			/* other names: a newer writer's flag we cannot act on */
		}
	}
	if (session_add_call(s, &c) < 0)
		return fail(r, "out of memory");
	return 0;
}

static int read_stack(struct rd *r, struct session *s, const cJSON *it, size_t i)
{
	const cJSON *st = get(it, "stack");
	__u64 on = 0, off = 0;
	char path[48];

	snprintf(path, sizeof(path), "stacks[%zu]", i);
	if (!cJSON_IsObject(it))
		return fail(r, "%s is not an object", path);
	if (!cJSON_IsString(st))
		return fail(r, "%s.stack missing or not a string", path);
	if (req_u64(r, it, path, "on_cpu_ns", &on) < 0 ||
	    req_u64(r, it, path, "off_cpu_ns", &off) < 0)
		return -1;
	if (session_add_stack(s, st->valuestring, on, off) < 0)
		return fail(r, "out of memory");
	return 0;
}

/* ------------------------------------------------ streaming the big arrays of a large file */

/* A 1M-call file is 230 MB; as one cJSON tree it took 1.7 GB and 9 s. So the top-level object
 * is walked member by member here: calls[] and stacks[] element by element (calls mostly by a
 * scanner for the writer's own line format, everything else one cJSON value at a time, freed
 * right after), every other member into a small cJSON root for the checks above. The result
 * is the tree reader's, error for error: each element goes through the same read_call() /
 * read_stack(), their errors are replayed in the tree reader's order, text that is not valid
 * JSON is reported at the byte cJSON's whole-document parse names, and whatever this walker
 * cannot be sure of (nesting near cJSON's limit, a leading BOM, a root that is no object)
 * goes to the tree reader, which says what it always said. tests/unit/test_json.c and the
 * session fuzzer hold the two readers to the same answers. */

#define RELEASE_CHUNK (16u << 20)   /* mapped pages read are given back this often */

/* A top-level array read element by element: calls[] or stacks[]. */
struct big {
	const char *start;   /* '[' of the key's first occurrence; NULL: not streamed */
	bool seen;           /* the key occurred (its first value decides, as in cJSON) */
	bool calls;          /* calls[], else stacks[] */
	bool done;           /* converted during the walk (else: later, in file order) */
	struct rd rd;        /* the conversion's first error, replayed where the tree reader
			      * would have met it */
	char err[8192];
};

struct stream {
	const char *base, *end;   /* the text; *end == '\0' */
	bool mapped;              /* base is a private file mapping: pages read may be dropped */
	const char *released;     /* mapped: pages below this were given back */
	bool bail;                /* the tree reader must decide */
	const char *bad;          /* not valid JSON: where the whole-document parse fails, when
				   * that is certain (else the tree reader says where) */
	bool ops_built;
	struct opmap ops;         /* calls' op names -> index */
	cJSON *root;              /* every other top-level member */
	struct big calls, stacks;
};

static const char *ws(const struct stream *st, const char *p)
{
	while (p < st->end && (unsigned char)*p <= 32)   /* cJSON's idea of white space */
		p++;
	return p;
}

static int json_depth(const cJSON *it)
{
	const cJSON *c;
	int d = 0, k;

	for (c = it->child; c; c = c->next)
		if ((k = json_depth(c)) > d)
			d = k;
	return d + 1;
}

/* Containers open at most in [p, e), outside strings. */
static int prefix_depth(const char *p, const char *e)
{
	bool str = false;
	int d = 0, max = 0;

	for (; p < e; p++) {
		if (str) {
			if (*p == '\\' && p + 1 < e)
				p++;
			else if (*p == '"')
				str = false;
		} else if (*p == '"') {
			str = true;
		} else if (*p == '[' || *p == '{') {
			max = ++d > max ? d : max;
		} else if (*p == ']' || *p == '}') {
			d--;
		}
	}
	return max;
}

/* The value at p, parsed as the whole-document parse would have; NULL when not valid (or
 * when only the whole document can tell: a BOM, which cJSON skips at the start of what it is
 * given, or nesting near its limit of 1000, which counts from the document's root). Given the
 * same bytes up to the text's NUL, cJSON fails where the whole-document parse would: st->bad,
 * unless nesting was deep enough for the limit to differ. */
static cJSON *value_at(struct stream *st, const char *p, const char **endp)
{
	cJSON *it;

	if ((unsigned char)*p == 0xEF) {
		st->bad = p;   /* mid-document, cJSON fails right there */
		return NULL;
	}
	it = cJSON_ParseWithLengthOpts(p, (size_t)(st->end - p) + 1, endp, 0);
	if (!it && *endp >= p && *endp <= st->end && prefix_depth(p, *endp) < 990)
		st->bad = *endp;
	if (it && json_depth(it) > 990) {
		cJSON_Delete(it);
		return NULL;
	}
	return it;
}

/* Read pages of a mapped file go back every 16 MiB: RSS stays at what the session holds. */
static void stream_release(struct stream *st, const char *p)
{
	uintptr_t lo = (uintptr_t)st->released, hi;

	if (!st->mapped || (size_t)(p - st->released) < RELEASE_CHUNK)
		return;
	hi = (uintptr_t)p & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
	if (hi > lo && !madvise((void *)lo, hi - lo, MADV_DONTNEED))
		st->released = (const char *)hi;
}

/* At p's '"': the closing '"' of a string without escapes, or NULL. */
static const char *plain_str(const struct stream *st, const char *p)
{
	const char *q = p + 1;

	while (q < st->end && *q != '"' && *q != '\\')
		q++;
	return *q == '"' ? q : NULL;
}

/* An integer of 1-15 digits (exact as a double, so cJSON's value), or NULL. */
static const char *plain_u64(const char *p, __u64 *v)
{
	__u64 x = 0;
	int n = 0;

	for (; *p >= '0' && *p <= '9'; p++, n++) {
		if (n == 15)
			return NULL;
		x = x * 10 + (__u64)(*p - '0');
	}
	if (!n || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-')
		return NULL;
	*v = x;
	return p;
}

/* flags: an array of plain strings, as read_call() reads them. */
static const char *plain_flags(const struct stream *st, const char *p, __u32 *flags)
{
	const char *q, *v;
	char hex[40];
	size_t n;

	if (*p != '[')
		return NULL;
	p = ws(st, p + 1);
	if (*p == ']')
		return p + 1;
	for (;;) {
		if (*p != '"' || !(q = plain_str(st, p)))
			return NULL;
		v = p + 1;
		n = (size_t)(q - v);
		if (n == 7 && !memcmp(v, "unwound", 7)) {
			*flags |= CALL_F_UNWOUND;
		} else if (n == 4 && !memcmp(v, "open", 4)) {
			*flags |= CALL_F_OPEN;
		} else if (n == 7 && !memcmp(v, "sampled", 7)) {
			*flags |= CALL_F_SAMPLED;
		} else if (n >= 2 && !memcmp(v, "0x", 2)) {
			if (n >= sizeof(hex))
				return NULL;
			memcpy(hex, v, n);
			hex[n] = '\0';
			*flags |= (__u32)strtoul(hex, NULL, 16);
		}
		p = ws(st, q + 1);
		if (*p == ']')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = ws(st, p + 1);
	}
}

enum { K_OP, K_PID, K_TID, K_ITER, K_START, K_DUR, K_ONCPU, K_RSS0, K_RSS1, K_PEAK, K_DEPTH,
       K_FLAGS, K_N };
#define KEY(s) { s, sizeof(s) - 1 }
static const struct { const char *name; size_t len; } call_keys[K_N] = {
	KEY("op"), KEY("pid"), KEY("tid"), KEY("iteration"), KEY("start_ns"), KEY("duration_ns"),
	KEY("on_cpu_ns"), KEY("rss_start_bytes"), KEY("rss_end_bytes"), KEY("rss_peak_bytes"),
	KEY("depth"), KEY("flags"),
};
#undef KEY
#define K_REQUIRED (1u << K_OP | 1u << K_TID | 1u << K_START | 1u << K_DUR | 1u << K_ONCPU | \
		    1u << K_RSS0 | 1u << K_RSS1 | 1u << K_PEAK)

/* Which call key the n bytes at k are; the writer's order is tried first. */
static int call_key(const char *k, size_t n, int prev)
{
	int i, j;

	for (j = 0; j < K_N; j++) {
		i = (prev + 1 + j) % K_N;
		if (call_keys[i].len == n && !memcmp(call_keys[i].name, k, n))
			return i;
	}
	return -1;
}

/* A call as the writer prints it, without cJSON: known keys once each, plain strings, small
 * integers, a known op. NULL for anything else: cJSON and read_call() judge that element. */
static const char *plain_call(const struct stream *st, const char *p, struct call_rec *c)
{
	unsigned seen = 0;
	const char *q;
	int k = -1, op;
	__u64 v;

	memset(c, 0, sizeof(*c));
	if (*p != '{')
		return NULL;
	p = ws(st, p + 1);
	for (;;) {
		if (*p != '"' || !(q = plain_str(st, p)) ||
		    (k = call_key(p + 1, (size_t)(q - p - 1), k)) < 0 || (seen & 1u << k))
			return NULL;
		seen |= 1u << k;
		p = ws(st, q + 1);
		if (*p != ':')
			return NULL;
		p = ws(st, p + 1);
		if (k == K_OP) {
			if (*p != '"' || !(q = plain_str(st, p)) || q - p - 1 >= NAME_MAX_LEN ||
			    (op = opmap_find(&st->ops, p + 1, (size_t)(q - p - 1))) < 0)
				return NULL;
			c->op = (__u32)op;
			p = q + 1;
		} else if (k == K_FLAGS) {
			if (!(p = plain_flags(st, p, &c->flags)))
				return NULL;
		} else {
			if (!(p = plain_u64(p, &v)))
				return NULL;
			switch (k) {
			case K_START: c->start_ns = v; break;
			case K_DUR: c->duration_ns = v; break;
			case K_ONCPU: c->on_cpu_ns = v; break;
			case K_RSS0: c->rss_start = v; break;
			case K_RSS1: c->rss_end = v; break;
			case K_PEAK: c->rss_peak = v; break;
			default:
				if (v > UINT32_MAX)
					return NULL;
				if (k == K_PID)
					c->pid = (__u32)v;
				else if (k == K_TID)
					c->tid = (__u32)v;
				else if (k == K_ITER)
					c->iteration = (__u32)v;
				else
					c->depth = (__u32)v;
			}
		}
		p = ws(st, p);
		if (*p == '}')
			break;
		if (*p != ',')
			return NULL;
		p = ws(st, p + 1);
	}
	return (seen & K_REQUIRED) == K_REQUIRED ? p + 1 : NULL;
}

/* The bytes of literal L at p (and p moved past them)? Bounded by the text's end. */
#define AT(st, p, L) ((size_t)((st)->end - (p)) >= sizeof(L) - 1 && \
		      !memcmp((p), (L), sizeof(L) - 1) && ((p) += sizeof(L) - 1, true))

/* The writer's own call line, key for key (session_write_json): constant separators compare
 * as a few words. NULL for anything else, which plain_call() then reads. */
static const char *writer_call(const struct stream *st, const char *p, struct call_rec *c)
{
#define SEP(k) { ", \"" k "\": ", sizeof(", \"" k "\": ") - 1 }
	static const struct { const char *s; size_t n; } sep[10] = {
		SEP("pid"), SEP("tid"), SEP("iteration"), SEP("start_ns"), SEP("duration_ns"),
		SEP("on_cpu_ns"), SEP("rss_start_bytes"), SEP("rss_end_bytes"), SEP("rss_peak_bytes"),
		SEP("depth"),
	};
#undef SEP
	__u64 v[10];
	const char *q;
	int op, k;

	if (!AT(st, p, "{\"op\": \"") || !(q = plain_str(st, p - 1)) || q - p >= NAME_MAX_LEN ||
	    (op = opmap_find(&st->ops, p, (size_t)(q - p))) < 0)
		return NULL;
	p = q + 1;
	for (k = 0; k < 10; k++) {
		if ((size_t)(st->end - p) < sep[k].n || memcmp(p, sep[k].s, sep[k].n) ||
		    !(p = plain_u64(p + sep[k].n, &v[k])))
			return NULL;
	}
	if (v[0] > UINT32_MAX || v[1] > UINT32_MAX || v[2] > UINT32_MAX || v[9] > UINT32_MAX)
		return NULL;
	memset(c, 0, sizeof(*c));
	if (!AT(st, p, ", \"flags\": ") || !(p = plain_flags(st, p, &c->flags)) || *p != '}')
		return NULL;
	c->op = (__u32)op;
	c->pid = (__u32)v[0];
	c->tid = (__u32)v[1];
	c->iteration = (__u32)v[2];
	c->start_ns = v[3];
	c->duration_ns = v[4];
	c->on_cpu_ns = v[5];
	c->rss_start = v[6];
	c->rss_end = v[7];
	c->rss_peak = v[8];
	c->depth = (__u32)v[9];
	return p + 1;
}

/* The array at p ('['), element by element, each converted while `convert` and no error yet;
 * returns what follows its ']', NULL when the tree reader must decide. */
static const char *walk_array(struct stream *st, struct big *b, const char *p, struct session *s,
			      bool convert)
{
	struct call_rec c;
	const char *e;
	cJSON *it;
	size_t i;

	p = ws(st, p + 1);
	if (*p == ']')
		return p + 1;
	for (i = 0;; i++) {
		bool conv = convert && !b->rd.failed;

		if (b->calls && ((e = writer_call(st, p, &c)) || (e = plain_call(st, p, &c)))) {
			if (conv && session_add_call(s, &c) < 0)
				fail(&b->rd, "out of memory");
		} else {
			if (!(it = value_at(st, p, &e)))
				return NULL;
			if (conv && b->calls)
				read_call(&b->rd, s, &st->ops, it, i);
			else if (conv)
				read_stack(&b->rd, s, it, i);
			cJSON_Delete(it);
		}
		stream_release(st, e);
		p = ws(st, e);
		if (*p == ']')
			return p + 1;
		if (*p != ',') {
			st->bad = p;   /* cJSON wants ']' there */
			return NULL;
		}
		p = ws(st, p + 1);
	}
}

/* Op names of the first "operations" member, by position: if read_op() takes them all, that
 * is exactly the index session_find_op() gives (names unique); if not, calls are never read. */
static bool ops_from_tree(struct stream *st)
{
	const cJSON *ops = get(st->root, "operations"), *it, *name;
	int i = 0;

	if (st->ops_built)
		return st->ops.cap > 0;
	if (!ops)
		return false;
	st->ops_built = true;
	if (!cJSON_IsArray(ops))
		return false;
	cJSON_ArrayForEach(it, ops) {
		name = get(it, "name");
		if (cJSON_IsString(name) && opmap_add(&st->ops, name->valuestring, i) < 0) {
			opmap_free(&st->ops);
			return false;
		}
		i++;
	}
	if (!st->ops.cap && opmap_add(&st->ops, "", -1) < 0)   /* built, if empty */
		return false;
	return true;
}

/* After the root object only white space: else cJSON fails at what follows. */
static int stream_tail(struct stream *st, const char *p)
{
	p = ws(st, p);
	if (p == st->end)
		return 0;
	st->bad = p;
	return -1;
}

/* The top-level object: calls[] and stacks[] walked (and converted when the keys they need
 * came first: schema, and operations for calls), every other member into st->root.
 * 0, or -1: the tree reader must decide. */
static int stream_walk(struct stream *st, struct session *s)
{
	bool schema_seen = false, ours = false, conv;
	const char *p = st->base, *e;
	struct big skip, *b;
	cJSON *key, *val;

	if ((unsigned char)*p == 0xEF)   /* a BOM: cJSON skips it there */
		return -1;
	p = ws(st, p);
	if (*p != '{' || !(st->root = cJSON_CreateObject()))
		return -1;
	p = ws(st, p + 1);
	if (*p == '}')
		return stream_tail(st, p + 1);
	for (;;) {
		if (*p != '"') {   /* cJSON's string parser fails one past it */
			st->bad = p < st->end ? p + 1 : p;
			return -1;
		}
		if (!(key = value_at(st, p, &e)))
			return -1;
		p = ws(st, e);
		if (*p != ':') {
			st->bad = p;
			cJSON_Delete(key);
			return -1;
		}
		p = ws(st, p + 1);
		b = !strcmp(key->valuestring, "calls") ? &st->calls :
		    !strcmp(key->valuestring, "stacks") ? &st->stacks : NULL;
		if (b && *p == '[') {
			if (!b->seen) {
				conv = ours && (b == &st->stacks || ops_from_tree(st));
				b->start = p;
				b->done = conv;
			} else {   /* a later duplicate: only its syntax matters */
				memset(&skip, 0, offsetof(struct big, err));
				skip.calls = b->calls;
				b = &skip;
				conv = false;
			}
			e = walk_array(st, b, p, s, conv);
			if (!e) {
				cJSON_Delete(key);
				return -1;
			}
		} else {
			val = value_at(st, p, &e);
			if (!val) {
				cJSON_Delete(key);
				return -1;
			}
			if (!schema_seen && !strcmp(key->valuestring, "schema")) {
				schema_seen = true;
				ours = cJSON_IsString(val) && !strcmp(val->valuestring, SCHEMA_ID);
			}
			if (!cJSON_AddItemToObject(st->root, key->valuestring, val)) {
				cJSON_Delete(val);
				cJSON_Delete(key);
				return -1;
			}
		}
		if (b == &st->calls || b == &st->stacks)
			b->seen = true;
		cJSON_Delete(key);
		p = ws(st, e);
		if (*p == '}')
			break;
		if (*p != ',') {
			st->bad = p;   /* cJSON wants '}' there */
			return -1;
		}
		p = ws(st, p + 1);
	}
	return stream_tail(st, p + 1);
}

/* Where the tree reader reads calls[] or stacks[]: converts them now if the walk could not
 * (operations came after calls), then gives their first error, as it would have. */
static int stream_finish(struct rd *r, struct stream *st, struct big *b, struct session *s)
{
	int k;

	if (!b->done) {
		if (b->calls) {
			opmap_free(&st->ops);
			for (k = 0; k < s->nops; k++)
				if (opmap_add(&st->ops, s->ops[k].name, k) < 0)
					return fail(r, "out of memory");
		}
		b->done = true;
		if (!walk_array(st, b, b->start, s, true)) {
			st->bail = true;
			return -1;
		}
	}
	if (b->rd.failed) {
		r->failed = 1;
		seterr(r->err, r->errlen, "%s", b->err);
		return -1;
	}
	return 0;
}

static int read_bpfprof(struct rd *r, struct session *s, const cJSON *root, struct stream *st)
{
	const cJSON *host, *target, *ops, *calls, *stats, *warns, *stacks, *it, *ec;
	size_t i;
	int n;

	if (req_str(r, root, "", "name", s->name, sizeof(s->name)) < 0 ||
	    req_str(r, root, "", "started_at", s->started_at, sizeof(s->started_at)) < 0 ||
	    req_str(r, root, "", "ended_at", s->ended_at, sizeof(s->ended_at)) < 0 ||
	    opt_str(r, root, "", "source_format", s->source_format, sizeof(s->source_format)) < 0 ||
	    opt_u64(r, root, "", "monotonic_start_ns", &s->mono0_ns) < 0)
		return -1;

	if (!(host = req_obj(r, root, "", "host")) ||
	    req_str(r, host, "host", "kernel", s->kernel, sizeof(s->kernel)) < 0 ||
	    req_int(r, host, "host", "cpus", &s->cpus) < 0)
		return -1;

	if (!(target = req_obj(r, root, "", "target")) ||
	    req_int(r, target, "target", "pid", &s->pid) < 0 ||
	    req_str(r, target, "target", "command", s->command, sizeof(s->command)) < 0)
		return -1;
	ec = get(target, "exit_code");
	if (!ec)
		return fail(r, "target.exit_code missing (null when unknown)");
	if (!cJSON_IsNull(ec)) {
		if (req_int(r, target, "target", "exit_code", &s->exit_code) < 0)
			return -1;
		s->has_exit_code = true;
	}

	if (!(stats = req_obj(r, root, "", "stats")) ||
	    req_u64(r, stats, "stats", "events", &s->events) < 0 ||
	    req_u64(r, stats, "stats", "dropped_events", &s->dropped_events) < 0 ||
	    /* older files: any drop may have been a call */
	    (s->dropped_calls = s->dropped_events, 0) ||
	    opt_u64(r, stats, "stats", "dropped_calls", &s->dropped_calls) < 0 ||
	    opt_u64(r, stats, "stats", "samples", &s->samples) < 0 ||
	    opt_u64(r, stats, "stats", "sample_hz", &s->sample_hz) < 0)
		return -1;

	if (!(ops = req_arr(r, root, "", "operations")))
		return -1;
	n = 0;
	cJSON_ArrayForEach(it, ops)
		if (read_op(r, s, it, n++) < 0)
			return -1;

	if (st && st->calls.start) {
		if (stream_finish(r, st, &st->calls, s) < 0)
			return -1;
	} else {
		if (!(calls = req_arr(r, root, "", "calls")))
			return -1;
		i = 0;
		cJSON_ArrayForEach(it, calls)
			if (read_call(r, s, NULL, it, i++) < 0)
				return -1;
	}

	stacks = get(root, "stacks");
	if (st && st->stacks.start) {
		if (stream_finish(r, st, &st->stacks, s) < 0)
			return -1;
	} else if (stacks && !cJSON_IsNull(stacks)) {
		if (!cJSON_IsArray(stacks))
			return fail(r, "stacks is not an array");
		i = 0;
		cJSON_ArrayForEach(it, stacks)
			if (read_stack(r, s, it, i++) < 0)
				return -1;
	}

	if (!(warns = req_arr(r, root, "", "warnings")))
		return -1;
	i = 0;
	cJSON_ArrayForEach(it, warns) {
		if (!cJSON_IsString(it))
			return fail(r, "warnings[%zu] is not a string", i);
		i++;
		session_warn(s, "%s", it->valuestring);
	}
	return 0;
}

static __u64 mb_to_bytes(double mb)
{
	double b = mb * MIB + 0.5;

	if (!(b >= 1))
		return 0;
	return b >= 18446744073709551616.0 ? UINT64_MAX : (__u64)b;
}

/* ragd 1.0 ProfileSession.export_json: {name, start_time, end_time, metadata, results[],
 * summary}. Every result becomes one exact call of the py op named by `operation`.
 * RSS: memory_start_mb/memory_end_mb when both are there (absolute RSS); with only
 * memory_delta_mb the call is given rss_start 0 and rss_end = delta (or rss_start = -delta,
 * rss_end 0 when it shrank), so the delta is right and the absolute values say "unknown";
 * rss_peak is memory_peak_mb, else the larger absolute end, else 0. */
static int read_ragd_profile(struct rd *r, struct session *s, const cJSON *root)
{
	const cJSON *results, *it, *meta, *env, *plat, *st;
	int64_t t0 = 0, t;
	bool have_t0 = false;
	char path[48];
	size_t i = 0;

	snprintf(s->source_format, sizeof(s->source_format), "ragd-profile");
	if (req_str(r, root, "", "name", s->name, sizeof(s->name)) < 0 ||
	    opt_str(r, root, "", "start_time", s->started_at, sizeof(s->started_at)) < 0 ||
	    opt_str(r, root, "", "end_time", s->ended_at, sizeof(s->ended_at)) < 0)
		return -1;
	if (*s->started_at && parse_iso8601_ns(s->started_at, &t0) == 0)
		have_t0 = true;

	/* environment is informational: take what fits, never fail on it */
	meta = get(root, "metadata");
	env = cJSON_IsObject(meta) ? get(meta, "environment") : NULL;
	if (cJSON_IsObject(env)) {
		const cJSON *cpus = get(env, "cpu_count");

		if (cJSON_IsNumber(cpus) && cpus->valuedouble >= 0 && cpus->valuedouble < INT_MAX)
			s->cpus = (int)cpus->valuedouble;
		plat = get(env, "platform");
		if (cJSON_IsString(plat))
			snprintf(s->kernel, sizeof(s->kernel), "%s", plat->valuestring);
	}

	if (!(results = req_arr(r, root, "", "results")))
		return -1;
	cJSON_ArrayForEach(it, results) {
		char opname[NAME_MAX_LEN];
		double ms, d_mb = NAN, s_mb = NAN, e_mb = NAN, p_mb = NAN;
		struct call_rec c = { 0 };
		int op;

		snprintf(path, sizeof(path), "results[%zu]", i++);
		if (!cJSON_IsObject(it))
			return fail(r, "%s is not an object", path);
		if (req_str(r, it, path, "operation", opname, sizeof(opname)) < 0 ||
		    req_double(r, it, path, "duration_ms", &ms) < 0 ||
		    opt_double(r, it, path, "memory_delta_mb", &d_mb) < 0 ||
		    opt_double(r, it, path, "memory_start_mb", &s_mb) < 0 ||
		    opt_double(r, it, path, "memory_end_mb", &e_mb) < 0 ||
		    opt_double(r, it, path, "memory_peak_mb", &p_mb) < 0)
			return -1;
		if (ms < 0)
			return fail(r, "%s.duration_ms is negative", path);
		if (ms >= 9.2e12)   /* 292 years: past that ns no longer fit */
			return fail(r, "%s.duration_ms is out of range", path);
		if (!*opname)
			return fail(r, "%s.operation is empty", path);

		op = session_find_op(s, opname);
		if (op < 0) {
			op = session_add_op(s, opname, OP_PY, PREC_EXACT);
			if (op < 0)
				return fail(r, "out of memory");
			s->ops[op].resolved = true;
			snprintf(s->ops[op].note, sizeof(s->ops[op].note),
				 "imported from a ragd profile (wall-clock only)");
		}
		c.op = (__u32)op;
		c.duration_ns = (__u64)(ms * 1e6 + 0.5);

		if (!isnan(s_mb) && !isnan(e_mb)) {
			c.rss_start = mb_to_bytes(s_mb);
			c.rss_end = mb_to_bytes(e_mb);
		} else if (!isnan(d_mb)) {
			__u64 d = mb_to_bytes(fabs(d_mb));

			if (d_mb >= 0)
				c.rss_end = d;
			else
				c.rss_start = d;
		}
		if (!isnan(p_mb))
			c.rss_peak = mb_to_bytes(p_mb);
		else if (!isnan(s_mb) && !isnan(e_mb))
			c.rss_peak = c.rss_start > c.rss_end ? c.rss_start : c.rss_end;

		st = get(it, "start_time");
		/* unsigned difference: t0 may be far before the epoch */
		if (have_t0 && cJSON_IsString(st) && parse_iso8601_ns(st->valuestring, &t) == 0 && t > t0)
			c.start_ns = (__u64)t - (__u64)t0;

		if (session_add_call(s, &c) < 0)
			return fail(r, "out of memory");
	}
	s->events = s->ncalls;
	session_compute_stats(s);
	return 0;
}

/* A parsed root: ours, ragd's, or neither. st: the streamed arrays (NULL: all in root). */
static int read_root(struct rd *r, struct session *s, const cJSON *root, struct stream *st)
{
	const cJSON *schema;

	if (!cJSON_IsObject(root))
		return fail(r, "not a JSON object");
	schema = get(root, "schema");
	if (schema) {
		if (!cJSON_IsString(schema))
			return fail(r, "schema is not a string, expected %s", SCHEMA_ID);
		if (strcmp(schema->valuestring, SCHEMA_ID) != 0)
			return fail(r, "schema is '%.64s', expected %s", schema->valuestring, SCHEMA_ID);
		return read_bpfprof(r, s, root, st);
	}
	if (get(root, "results"))
		return read_ragd_profile(r, s, root);
	return fail(r, "no 'schema' key: neither a %s file nor a ragd profile", SCHEMA_ID);
}

/* The whole text as one cJSON tree: small files' way, and the judge of whatever the streaming
 * walk leaves to it. text[len] is '\0'. */
static int read_tree(struct session *s, const char *text, struct rd *r)
{
	const char *end = NULL;
	cJSON *root;
	int ret;

	session_init(s);
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		size_t at = end && end >= text ? (size_t)(end - text) : 0;

		return fail(r, "not valid JSON (truncated or garbage near byte %zu)", at);
	}
	ret = read_root(r, s, root, NULL);
	cJSON_Delete(root);
	if (ret < 0)
		session_free(s);
	return ret;
}

/* The first NUL in text[0, len); a mapped file's pages are given back as it goes. */
static const char *find_nul(const char *text, size_t len, bool mapped)
{
	size_t off, n;
	const char *nul;

	if (!mapped)
		return memchr(text, '\0', len);
	for (off = 0; off < len; off += n) {
		n = len - off < RELEASE_CHUNK ? len - off : RELEASE_CHUNK;
		nul = memchr(text + off, '\0', n);
		if (nul)
			return nul;
		if (n == RELEASE_CHUNK)   /* text is page-aligned, the chunk a multiple of pages */
			madvise((void *)(text + off), n, MADV_DONTNEED);
	}
	return NULL;
}

/* text[len] is '\0'; mapped: text is a private file mapping whose pages may be dropped. */
static int read_text(struct session *s, const char *text, size_t len, struct rd *r, bool mapped)
{
	struct stream *st;
	const void *nul;
	int ret;

	session_init(s);
	/* cJSON would stop at an embedded NUL and call the rest fine */
	nul = find_nul(text, len, mapped);
	if (nul)
		return fail(r, "not valid JSON (truncated or garbage near byte %zu)",
			    (size_t)((const char *)nul - text));
	st = calloc(1, sizeof(*st));
	if (!st)
		return fail(r, "out of memory");
	st->base = st->released = text;
	st->end = text + len;
	st->mapped = mapped;
	st->calls.calls = true;
	st->calls.rd = (struct rd){ .label = r->label, .err = st->calls.err,
				    .errlen = sizeof(st->calls.err) };
	st->stacks.rd = (struct rd){ .label = r->label, .err = st->stacks.err,
				     .errlen = sizeof(st->stacks.err) };
	ret = -1;
	if (stream_walk(st, s) == 0)
		ret = read_root(r, s, st->root, st);
	else if (st->bad)   /* a big file cut short need not become one cJSON tree to say so */
		ret = fail(r, "not valid JSON (truncated or garbage near byte %zu)",
			   (size_t)(st->bad - text));
	if (ret < 0) {
		session_free(s);
		if (!r->failed)   /* not an error of the file's content: the tree reader decides */
			ret = read_tree(s, text, r);
	}
	cJSON_Delete(st->root);
	opmap_free(&st->ops);
	free(st);
	return ret;
}

int session_read_string(struct session *s, const char *text, char *err, size_t errlen)
{
	struct rd r = { .label = "<string>", .err = err, .errlen = errlen };

	return read_text(s, text, strlen(text), &r, false);
}

int session_read_string_tree(struct session *s, const char *text, char *err, size_t errlen)
{
	struct rd r = { .label = "<string>", .err = err, .errlen = errlen };

	return read_tree(s, text, &r);
}

/* The file mapped read-only and private, with a zero byte after it (an anonymous page where
 * the file ends on a page boundary): cJSON and the scanners need text[len] == '\0'. NULL when
 * it cannot be mapped (then it is read). */
static char *map_file(int fd, size_t len, size_t *maplen)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len / pg + 1) * pg;
	char *a;

	a = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return NULL;
	if (mmap(a, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
		munmap(a, n);
		return NULL;
	}
	madvise(a, len, MADV_SEQUENTIAL);
	*maplen = n;
	return a;
}

int session_read_file(struct session *s, const char *path, char *err, size_t errlen)
{
	struct rd r = { .label = path, .err = err, .errlen = errlen };
	size_t len = 0, cap = 1 << 16, n, maplen;
	struct stat sb;
	char *buf, *nb;
	FILE *f;
	int ret;

	session_init(s);
	f = fopen_regular(path);   /* a FIFO or device would block or never end */
	if (!f) {
		if (errno == ENOENT)
			return fail(&r, "no such file");
		if (errno == EINVAL)
			return fail(&r, "not a regular file");
		return fail(&r, "cannot open: %s", strerror(errno));
	}
	/* big files mapped, not copied: their pages are given back as they are read. (Files that
	 * say size 0, as in /proc, are read.) */
	if (!fstat(fileno(f), &sb) && sb.st_size > 0 && (buf = map_file(fileno(f), sb.st_size, &maplen))) {
		fclose(f);
		ret = read_text(s, buf, (size_t)sb.st_size, &r, true);
		munmap(buf, maplen);
		return ret;
	}
	buf = malloc(cap);
	while (buf) {
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (len + 1 < cap)
			break;
		nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	if (!buf) {
		fclose(f);
		return fail(&r, "out of memory");
	}
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		free(buf);
		return fail(&r, "cannot read: %s", strerror(e));
	}
	fclose(f);
	buf[len] = '\0';
	if (len == 0) {
		free(buf);
		return fail(&r, "empty file");
	}
	ret = read_text(s, buf, len, &r, false);
	free(buf);
	return ret;
}
