// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Probe specs.
 *
 * A probe (--probe TEXT, or a string in SPEC.json) is one of:
 *
 *   NAME=native:PATH_OR_LIB:SYMBOL   a native function: a file path, a library name
 *                                    (libsqlite3.so.0) or a command (python3); SYMBOL may
 *                                    carry a version (malloc@@GLIBC_2.2.5)
 *   NAME=py:FILE_SUFFIX:QUALNAME     a Python function: co_filename ends with FILE_SUFFIX and
 *                                    co_qualname is QUALNAME (Class.method, outer.<locals>.f)
 *   NAME=py:FILE_SUFFIX:<module>     the body of a module (its import)
 *   native:PATH:SYMBOL               NAME is SYMBOL (without any @version)
 *   py:FILE_SUFFIX:QUALNAME          NAME is QUALNAME; for <module>, the dotted module path
 *                                    (py:ragd/cli.py:<module> is named ragd.cli)
 *   PATH:SYMBOL                      native, NAME is SYMBOL
 *
 * NAME is [A-Za-z0-9_.:-]+, not starting with "py:" or "native:" (it would read back as a
 * kind), and unique in a session; dots make a hierarchy (index.embed is under index). SYMBOL/QUALNAME is what follows the last ':', so a PATH may hold ':'. Text before
 * the first '=' is taken as a NAME when it could be one: write a relative PATH holding '=' as
 * ./PATH.
 *
 * SPEC.json:
 *
 *   {
 *     "comment": "optional, ignored",
 *     "probes": [
 *       "index=py:ragd/ingestion/pipeline.py:index_path",
 *       {"name": "sqlite.step", "kind": "native", "path": "libsqlite3.so.0",
 *        "symbol": "sqlite3_step"},
 *       {"kind": "py", "path": "ragd/cli.py", "symbol": "<module>", "name": "startup"}
 *     ]
 *   }
 *
 * "probes" is a non-empty array; each entry is a probe string as above or an object with
 * "kind" ("native" or "py"), "path", "symbol" (all required) and "name" (optional, defaulted as
 * for the unnamed forms) and an optional "comment". Other keys are errors, so typos show. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "util.h"
#include "spec.h"

#define SPEC_FILE_MAX (1 << 20)

static const char SYNTAX[] = "expected NAME=native:PATH:SYMBOL, NAME=py:FILE:QUALNAME or PATH:SYMBOL";


static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == ':' || c == '-';
}

/* "py:..." or "native:..." as a name would read back as an unnamed probe of that kind. */
static bool kind_named(const char *name, size_t len)
{
	return (len >= 3 && !strncmp(name, "py:", 3)) || (len >= 7 && !strncmp(name, "native:", 7));
}

bool spec_valid_name(const char *name)
{
	size_t i;

	for (i = 0; name[i]; i++)
		if (!name_char(name[i]))
			return false;
	return i > 0 && i < NAME_MAX_LEN && !kind_named(name, i);
}

static bool has_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)s[i]))
			return true;
	return false;
}

/* "ragd/cli.py" -> "ragd.cli" for an unnamed <module> probe */
static void module_name(const char *suffix, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	while (len && (*suffix == '/' || *suffix == '.')) {
		suffix++;
		len--;
	}
	if (len > 3 && !memcmp(suffix + len - 3, ".py", 3))
		len -= 3;
	for (size_t i = 0; i < len && o + 1 < outlen; i++)
		out[o++] = suffix[i] == '/' ? '.' : suffix[i];
	out[o] = '\0';
}

/* Checks and stores one probe; CTX starts error messages ("bad probe 'x'", "probes[2]").
 * name may be NULL (defaulted from the symbol). */
static int fill(struct op_spec *out, const char *ctx, const char *name, size_t name_len,
		enum op_kind kind, const char *path, size_t path_len, const char *sym,
		size_t sym_len, char *err, size_t errlen)
{
	char defname[NAME_MAX_LEN * 2];

	if (!path_len || !sym_len) {
		seterr(err, errlen, "%s: empty %s; %s", ctx,
		       !path_len ? (kind == OP_NATIVE ? "PATH" : "FILE")
				 : (kind == OP_NATIVE ? "SYMBOL" : "QUALNAME"), SYNTAX);
		return -1;
	}
	if (path_len >= sizeof(out->path)) {
		seterr(err, errlen, "%s: path longer than %zu characters", ctx, sizeof(out->path) - 1);
		return -1;
	}
	if (sym_len >= sizeof(out->symbol)) {
		seterr(err, errlen, "%s: symbol longer than %zu characters", ctx,
		       sizeof(out->symbol) - 1);
		return -1;
	}
	/* the text form splits at the last ':': a JSON symbol with one would not read back */
	if (memchr(sym, ':', sym_len)) {
		seterr(err, errlen, "%s: ':' in symbol '%.*s'", ctx, (int)sym_len, sym);
		return -1;
	}
	if (has_space(sym, sym_len)) {
		seterr(err, errlen, "%s: blank in symbol '%.*s'", ctx, (int)sym_len, sym);
		return -1;
	}
	if (kind == OP_PY && sym_len == 8 && !memcmp(sym, "<module>", 8)) {
		kind = OP_PY_MODULE;
		/* BPF matches module bodies on a fixed-size co_filename suffix */
		if (path_len >= MOD_SUFFIX_MAX) {
			seterr(err, errlen, "%s: <module> file suffix longer than %d characters", ctx,
			       MOD_SUFFIX_MAX - 1);
			return -1;
		}
	}
	if (!name) {
		if (kind == OP_PY_MODULE)
			module_name(path, path_len, defname, sizeof(defname));
		else if (kind == OP_NATIVE)
			snprintf(defname, sizeof(defname), "%.*s", (int)strcspn(sym, "@%"), sym);
		else
			snprintf(defname, sizeof(defname), "%.*s", (int)sym_len, sym);
		if (!spec_valid_name(defname)) {
			seterr(err, errlen, "%s: '%s' is no valid operation name; give one as NAME=...",
			       ctx, defname);
			return -1;
		}
		name = defname;
		name_len = strlen(defname);
	} else if (name_len >= NAME_MAX_LEN) {
		seterr(err, errlen, "%s: name longer than %d characters", ctx, NAME_MAX_LEN - 1);
		return -1;
	} else {
		size_t i;

		for (i = 0; i < name_len && name_char(name[i]); i++)
			;
		if (!name_len || i < name_len || kind_named(name, name_len)) {
			seterr(err, errlen, "%s: invalid name '%.*s' (use letters, digits, _ . : -)",
			       ctx, (int)name_len, name);
			return -1;
		}
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->name, name, name_len);
	out->kind = kind;
	memcpy(out->path, path, path_len);
	memcpy(out->symbol, sym, sym_len);
	return 0;
}

/* "native:" or "py:" at s: the kind and the length of the prefix, else 0. */
static size_t kind_prefix(const char *s, enum op_kind *kind)
{
	if (!strncmp(s, "native:", 7)) {
		*kind = OP_NATIVE;
		return 7;
	}
	if (!strncmp(s, "py:", 3)) {
		*kind = OP_PY;
		return 3;
	}
	return 0;
}

int spec_parse(const char *text, struct op_spec *out, char *err, size_t errlen)
{
	const char *s = text, *end, *eq, *name = NULL, *colon;
	size_t name_len = 0, k, n;
	enum op_kind kind = OP_NATIVE, dummy;
	char ctx[160];

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	snprintf(ctx, sizeof(ctx), "bad probe '%.*s'", (int)(end - s > 120 ? 120 : end - s), s);

	/* NAME= when everything before the first '=' could be a name (a path has a '/') */
	eq = memchr(s, '=', end - s);
	if (eq && !kind_prefix(s, &dummy)) {
		for (n = 0; s + n < eq && name_char(s[n]); n++)
			;
		if (s + n == eq) {
			name = s;
			name_len = n;
			s = eq + 1;
			if (!name_len) {
				seterr(err, errlen, "%s: empty name", ctx);
				return -1;
			}
		} else if (kind_prefix(eq + 1, &dummy)) {
			/* clearly meant as NAME=kind:..., with a bad name */
			seterr(err, errlen, "%s: invalid name '%.*s' (use letters, digits, _ . : -)",
			       ctx, (int)(eq - s), s);
			return -1;
		}
	}
	k = kind_prefix(s, &kind);
	if (name && !k) {
		size_t kl = strcspn(s, ":");

		if (s + kl < end)
			seterr(err, errlen, "%s: after '%.*s=' comes native: or py:, not '%.*s:'; %s",
			       ctx, (int)name_len, name, (int)kl, s, SYNTAX);
		else
			seterr(err, errlen, "%s: %s", ctx, SYNTAX);
		return -1;
	}
	if (!name && !k) {
		/* NAME:py:... (':' typed for '='): a name, then a kind, no '/' before it */
		for (n = 0; s + n < end && name_char(s[n]) && s[n] != ':'; n++)
			;
		if (n && s[n] == ':' && kind_prefix(s + n + 1, &dummy)) {
			seterr(err, errlen, "%s: '%.*s:' before the kind: write '%.*s=%.*s'; %s", ctx,
			       (int)n, s, (int)n, s, (int)(end - s - n - 1 > 60 ? 60 : end - s - n - 1),
			       s + n + 1, SYNTAX);
			return -1;
		}
	}
	s += k;
	/* the symbol never holds ':', the path may */
	colon = NULL;
	for (const char *p = s; p < end; p++)
		if (*p == ':')
			colon = p;
	if (!colon) {
		if (k)
			seterr(err, errlen, "%s: no ':%s' after the %s; %s", ctx,
			       kind == OP_NATIVE ? "SYMBOL" : "QUALNAME",
			       kind == OP_NATIVE ? "PATH" : "FILE", SYNTAX);
		else
			seterr(err, errlen, "%s: %s", ctx, SYNTAX);
		return -1;
	}
	return fill(out, ctx, name, name_len, kind, s, colon - s, colon + 1, end - colon - 1,
		    err, errlen);
}

int spec_find(const struct op_spec *ops, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(ops[i].name, name))
			return i;
	return -1;
}

int spec_add(struct op_spec *ops, int *n, int max, const struct op_spec *op, char *err, size_t errlen)
{
	if (spec_find(ops, *n, op->name) >= 0) {
		seterr(err, errlen, "duplicate operation name '%s'", op->name);
		return -1;
	}
	if (*n >= max) {
		seterr(err, errlen, "more than %d operations", max);
		return -1;
	}
	ops[(*n)++] = *op;
	return 0;
}

static const char *json_str(const cJSON *o, const char *key, bool *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return NULL;
	if (!cJSON_IsString(v) || !v->valuestring) {
		*bad = true;
		return NULL;
	}
	return v->valuestring;
}

static int parse_object(const cJSON *o, const char *ctx, struct op_spec *out, char *err,
			size_t errlen)
{
	static const char *const keys[] = { "name", "kind", "path", "symbol", "comment" };
	const char *name, *kind, *path, *sym;
	enum op_kind k;
	const cJSON *it;
	bool bad = false;

	cJSON_ArrayForEach(it, o) {
		size_t i;

		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (it->string && !strcmp(it->string, keys[i]))
				break;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			seterr(err, errlen, "%s: unknown key '%s'", ctx, it->string ?: "");
			return -1;
		}
		if (!cJSON_IsString(it)) {
			seterr(err, errlen, "%s: \"%s\" must be a string", ctx, it->string);
			return -1;
		}
	}
	name = json_str(o, "name", &bad);
	kind = json_str(o, "kind", &bad);
	path = json_str(o, "path", &bad);
	sym = json_str(o, "symbol", &bad);
	if (!kind || !path || !sym) {
		seterr(err, errlen, "%s: missing \"%s\"", ctx, !kind ? "kind" : !path ? "path" : "symbol");
		return -1;
	}
	if (!strcmp(kind, "native")) {
		k = OP_NATIVE;
	} else if (!strcmp(kind, "py")) {
		k = OP_PY;
	} else {
		seterr(err, errlen, "%s: kind must be \"native\" or \"py\", not \"%s\"", ctx, kind);
		return -1;
	}
	return fill(out, ctx, name, name ? strlen(name) : 0, k, path, strlen(path), sym,
		    strlen(sym), err, errlen);
}

int spec_load_string(const char *text, const char *what, struct op_spec *out, int max, int *n,
		     char *err, size_t errlen)
{
	const cJSON *probes, *it;
	cJSON *root;
	char ctx[32], sub[512];
	int i = 0, ret = -1;

	*n = 0;
	root = cJSON_Parse(text);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;

		for (const char *p = text; at && p < at && *p; p++)
			line += *p == '\n';
		seterr(err, errlen, "%s: not valid JSON (line %d)", what, line);
		return -1;
	}
	if (!cJSON_IsObject(root)) {
		seterr(err, errlen, "%s: expected an object {\"probes\": [...]}", what);
		goto out;
	}
	cJSON_ArrayForEach(it, root) {
		if (strcmp(it->string, "probes") && strcmp(it->string, "comment")) {
			seterr(err, errlen, "%s: unknown key '%s'", what, it->string);
			goto out;
		}
	}
	probes = cJSON_GetObjectItemCaseSensitive(root, "probes");
	if (!cJSON_IsArray(probes)) {
		seterr(err, errlen, "%s: \"probes\" must be an array", what);
		goto out;
	}
	if (!cJSON_GetArraySize(probes)) {
		seterr(err, errlen, "%s: no probes", what);
		goto out;
	}
	cJSON_ArrayForEach(it, probes) {
		struct op_spec op;

		snprintf(ctx, sizeof(ctx), "probes[%d]", i++);
		if (cJSON_IsString(it)) {
			if (spec_parse(it->valuestring, &op, sub, sizeof(sub))) {
				seterr(err, errlen, "%s: %s: %s", what, ctx, sub);
				goto out;
			}
		} else if (cJSON_IsObject(it)) {
			if (parse_object(it, ctx, &op, sub, sizeof(sub))) {
				seterr(err, errlen, "%s: %s", what, sub);
				goto out;
			}
		} else {
			seterr(err, errlen, "%s: %s: expected a string or an object", what, ctx);
			goto out;
		}
		if (spec_add(out, n, max, &op, sub, sizeof(sub))) {
			seterr(err, errlen, "%s: %s: %s", what, ctx, sub);
			goto out;
		}
	}
	ret = 0;
out:
	if (ret)
		*n = 0;
	cJSON_Delete(root);
	return ret;
}

int spec_load_file(const char *path, struct op_spec *out, int max, int *n, char *err, size_t errlen)
{
	FILE *f = fopen_regular(path);   /* a FIFO would block */
	char *buf;
	size_t len;
	int ret;

	*n = 0;
	if (!f) {
		seterr(err, errlen, "%s: %s", path, errno == EINVAL ? "not a regular file" : strerror(errno));
		return -1;
	}
	buf = malloc(SPEC_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		seterr(err, errlen, "%s: %s", path, strerror(ENOMEM));
		return -1;
	}
	len = fread(buf, 1, SPEC_FILE_MAX + 1, f);
	if (ferror(f) || len > SPEC_FILE_MAX) {
		seterr(err, errlen, "%s: %s", path, ferror(f) ? strerror(errno) : "file too large");
		ret = -1;
	} else {
		buf[len] = '\0';
		ret = spec_load_string(buf, path, out, max, n, err, errlen);
	}
	free(buf);
	fclose(f);
	return ret;
}

/* ragd 1.0: name, co_filename suffix, co_qualname */
static const char *const ragd_ops[SPEC_RAGD_NOPS][3] = {
	{ "index", "ragd/ingestion/pipeline.py", "index_path" },
	{ "index.document", "ragd/ingestion/pipeline.py", "index_document" },
	{ "index.extract", "ragd/ingestion/extractor.py", "extract_text" },
	{ "index.normalise", "ragd/text/normalise.py", "normalise_text" },
	{ "index.chunk", "ragd/ingestion/chunker.py", "chunk_text" },
	{ "index.embed", "ragd/embedding/embedder.py", "SentenceTransformerEmbedder.embed" },
	{ "index.store", "ragd/storage/chromadb.py", "ChromaStore.add_document" },
	{ "index.bm25", "ragd/search/bm25.py", "BM25Index.add_chunks" },
	{ "search", "ragd/search/hybrid.py", "HybridSearcher.search" },
	{ "search.init", "ragd/search/hybrid.py", "HybridSearcher.__init__" },
	{ "search.embed_query", "ragd/embedding/embedder.py", "SentenceTransformerEmbedder.embed_single" },
	{ "search.semantic", "ragd/storage/adapters/chromadb.py", "ChromaDBAdapter.search" },
	{ "search.keyword", "ragd/search/bm25.py", "BM25Index.search" },
	{ "search.fusion", "ragd/search/hybrid.py", "reciprocal_rank_fusion" },
	{ "chat", "ragd/chat/session.py", "ChatSession.ask" },
	{ "chat.retrieve", "ragd/chat/session.py", "ChatSession._retrieve_with_fallback" },
	{ "chat.context", "ragd/chat/context.py", "build_context_from_results" },
	{ "chat.generate", "ragd/chat/session.py", "ChatSession._generate_response" },
	{ "chat.llm_request", "ragd/llm/ollama.py", "OllamaClient.generate" },
	{ "chat.stream", "ragd/llm/ollama.py", "OllamaClient.generate_stream" },
	{ "startup", "ragd/cli.py", "<module>" },
};

int spec_default_ragd(struct op_spec *out, int max)
{
	if (max < SPEC_RAGD_NOPS) {
		errno = ENOSPC;
		return -1;
	}
	for (int i = 0; i < SPEC_RAGD_NOPS; i++) {
		struct op_spec *o = &out[i];

		memset(o, 0, sizeof(*o));
		snprintf(o->name, sizeof(o->name), "%s", ragd_ops[i][0]);
		snprintf(o->path, sizeof(o->path), "%s", ragd_ops[i][1]);
		snprintf(o->symbol, sizeof(o->symbol), "%s", ragd_ops[i][2]);
		o->kind = strcmp(o->symbol, "<module>") ? OP_PY : OP_PY_MODULE;
	}
	return SPEC_RAGD_NOPS;
}

int spec_priority(const struct op_spec *ops, int n, int *order)
{
	int k = 0;

	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++)
			if (!strchr(ops[i].name, '.') == !pass)
				order[k++] = i;
	return k;
}

const char *spec_format(const struct op_spec *op, char *buf, size_t len)
{
	snprintf(buf, len, "%s=%s:%s:%s", op->name, op->kind == OP_NATIVE ? "native" : "py",
		 op->path, op->symbol);
	return buf;
}
