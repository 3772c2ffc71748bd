// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `report --format svg`: a self-contained interactive flame graph of the session's stack samples
 * (no flamegraph.pl needed). The frame tree is built here and laid out as static SVG, so the
 * picture and its text are there without scripts; the inline script only adds hover details,
 * click-to-zoom and search. Root at the bottom, the top-level ops (index, search, chat) side by
 * side above it in session order; colour says on-CPU (warm) or off-CPU (blue) time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"
#include "session.h"

#define FG_WIDTH 1200
#define FG_PAD 10
#define FG_ROW 16
#define FG_TOP 52
#define FG_BOTTOM 34
#define FG_CHAR_PX 7.0     /* 12px monospace */
#define FG_MIN_PX 0.1      /* narrower frames are left out (file size) */
#define OTHER_FRAME "(other)"   /* first frame of stacks outside every op (record.c) */

struct fnode {
	const char *name;
	__u64 on, off;
	int first, next;   /* first child, next sibling (-1: none) */
	int depth;
};

struct ftree {
	struct fnode *n;
	size_t len, cap;
	char **bufs;        /* the strdup'd stacks the names point into */
	size_t nbufs;
	int maxdepth;
};

static int fnode_new(struct ftree *t, const char *name, int depth)
{
	if (t->len == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		void *p = realloc(t->n, cap * sizeof(*t->n));

		if (!p)
			return -1;
		t->n = p;
		t->cap = cap;
	}
	t->n[t->len] = (struct fnode){ .name = name, .first = -1, .next = -1, .depth = depth };
	if (depth > t->maxdepth)
		t->maxdepth = depth;
	return (int)t->len++;
}

/* Rank of a top-level frame: the session's op order, unknown names ((other)) last. */
static int top_rank(const struct session *s, const char *name)
{
	for (int i = 0; i < s->nops; i++)
		if (!strcmp(s->ops[i].name, name))
			return i;
	return s->nops;
}

static int sibling_cmp(const struct ftree *t, const struct session *s, int p, int c,
		       const char *name)
{
	if (p == 0)
		return top_rank(s, t->n[c].name) - top_rank(s, name);
	return strcmp(t->n[c].name, name);
}

/* Child of p named name, created in place: top-level frames in op order, deeper ones by name
 * (as flamegraph.pl does, so equal stacks line up). Siblings stay sorted, so a scan stops at
 * the first one past name. */
static int fnode_child(struct ftree *t, const struct session *s, int p, const char *name)
{
	int prev = -1, c;

	for (c = t->n[p].first; c >= 0; prev = c, c = t->n[c].next) {
		if (!strcmp(t->n[c].name, name))
			return c;
		if (sibling_cmp(t, s, p, c, name) > 0)
			break;
	}
	c = fnode_new(t, name, t->n[p].depth + 1);   /* may move t->n: indices only below */
	if (c < 0)
		return -1;
	if (prev < 0) {
		t->n[c].next = t->n[p].first;
		t->n[p].first = c;
	} else {
		t->n[c].next = t->n[prev].next;
		t->n[prev].next = c;
	}
	return c;
}

static int ftree_add(struct ftree *t, const struct session *s, const struct stack_rec *st)
{
	char *buf, *p, *semi;
	int cur = 0;

	buf = strdup(st->stack);
	if (!buf)
		return -1;
	t->bufs[t->nbufs++] = buf;
	t->n[0].on += st->on_cpu_ns;
	t->n[0].off += st->off_cpu_ns;
	for (p = buf; p; p = semi) {
		semi = strchr(p, ';');
		if (semi)
			*semi++ = '\0';
		if (!*p)
			continue;
		cur = fnode_child(t, s, cur, p);
		if (cur < 0)
			return -1;
		t->n[cur].on += st->on_cpu_ns;
		t->n[cur].off += st->off_cpu_ns;
	}
	return 0;
}

static void ftree_free(struct ftree *t)
{
	for (size_t i = 0; i < t->nbufs; i++)
		free(t->bufs[i]);
	free(t->bufs);
	free(t->n);
}

static void xml_put(FILE *out, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		switch (s[i]) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			if ((unsigned char)s[i] >= 0x20 || s[i] == '\t')
				fputc(s[i], out);
		}
	}
}

/* Warm for on-CPU, blue for off-CPU, mixed by the off-CPU share; the name varies the shade so
 * neighbours stay apart. */
static void frame_color(const struct fnode *n, char *buf, size_t len)
{
	double off = n->on + n->off ? (double)n->off / (n->on + n->off) : 0;
	unsigned h = 5381;
	double v;

	for (const char *p = n->name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	v = (h % 1000) / 1000.0;
	snprintf(buf, len, "rgb(%d,%d,%d)",
		 (int)((1 - off) * (205 + 50 * v) + off * (70 + 40 * v)),
		 (int)((1 - off) * (90 + 110 * v) + off * (130 + 50 * v)),
		 (int)((1 - off) * (40 + 20 * v) + off * (200 + 55 * v)));
}

/* Label: the frame's name without its " (file)" part, cut to the width with "..". */
static void put_label(FILE *out, const char *name, double w)
{
	int fit = (int)((w - 6) / FG_CHAR_PX);
	const char *paren = strstr(name, " (");
	size_t len = paren && name[strlen(name) - 1] == ')' ? (size_t)(paren - name) : strlen(name);

	if (fit < 3)
		return;
	if (len <= (size_t)fit) {
		xml_put(out, name, len);
		return;
	}
	xml_put(out, name, fit - 2);
	fputs("..", out);
}

static void emit_frames(const struct ftree *t, int i, double x, double scale, FILE *out)
{
	const struct fnode *n = &t->n[i];
	double w = (n->on + n->off) * scale;
	double y = FG_TOP + (t->maxdepth - n->depth) * FG_ROW;
	char color[32];

	if (w < FG_MIN_PX)
		return;
	frame_color(n, color, sizeof(color));
	fprintf(out, "<g class=\"f\" data-n=\"");
	xml_put(out, n->name, ~(size_t)0);
	fprintf(out, "\" data-on=\"%llu\" data-off=\"%llu\" data-d=\"%d\"><title>",
		(unsigned long long)n->on, (unsigned long long)n->off, n->depth);
	xml_put(out, n->name, ~(size_t)0);
	fprintf(out, "</title><rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" "
		"rx=\"2\"/><text x=\"%.2f\" y=\"%.0f\">", x, y, w, FG_ROW - 1, color, x + 3,
		y + FG_ROW - 4.5);
	put_label(out, n->name, w);
	fputs("</text></g>\n", out);
	for (int c = n->first; c >= 0; c = t->n[c].next) {
		emit_frames(t, c, x, scale, out);
		x += (t->n[c].on + t->n[c].off) * scale;
	}
}

static const char flame_js[] =
"var W=%d,P=%d,HZ=%llu,TOTAL=%llu;\n"
"var F=[].slice.call(document.querySelectorAll('g.f')),det=document.getElementById('details');\n"
"var mt=document.getElementById('matched'),zoomed=null,term=null;\n"
"F.forEach(function(g){var r=g.querySelector('rect');g._x=+r.getAttribute('x');"
"g._w=+r.getAttribute('width');g._d=+g.getAttribute('data-d');g._fill=r.getAttribute('fill');"
"g.addEventListener('mouseover',function(){det.textContent=info(g);});"
"g.addEventListener('mouseout',function(){det.textContent=' ';});"
"g.addEventListener('click',function(){zoom(g);});});\n"
"function ms(ns){return ns>=1e9?(ns/1e9).toFixed(2)+' s':(ns/1e6).toFixed(ns<1e7?2:1)+' ms';}\n"
"function split(n){var m=/^(.*) \\((.*)\\)$/.exec(n);return m?[m[1],m[2]]:[n,''];}\n"
"function info(g){var n=split(g.getAttribute('data-n')),on=+g.getAttribute('data-on'),"
"off=+g.getAttribute('data-off'),t=on+off,s=n[0];if(n[1])s+='  '+n[1];"
"if(HZ)s+='  '+Math.round(on*HZ/1e9)+' samples';"
"s+='  '+ms(t)+' ('+(100*t/TOTAL).toFixed(1)+'%% of all)';"
"if(t)s+=', off-CPU '+(100*off/t).toFixed(0)+'%%';return s;}\n"
"function fit(g){var r=g.querySelector('rect'),t=g.querySelector('text'),"
"w=+r.getAttribute('width'),n=split(g.getAttribute('data-n'))[0],k=Math.floor((w-6)/%.1f);"
"t.setAttribute('x',+r.getAttribute('x')+3);"
"t.textContent=k<3?'':(n.length>k?n.slice(0,k-2)+'..':n);}\n"
"function place(g,x,w,show){var r=g.querySelector('rect');g.style.display=show?'':'none';"
"if(!show)return;r.setAttribute('x',x.toFixed(2));r.setAttribute('width',w.toFixed(2));fit(g);}\n"
"function zoom(z){zoomed=z;var x0=z._x,w0=z._w,s=(W-2*P)/w0,e=1e-6;"
"F.forEach(function(g){var inside=g._x>=x0-e&&g._x+g._w<=x0+w0+e,"
"anc=g._d<z._d&&g._x<=x0+e&&g._x+g._w>=x0+w0-e;"
"if(g._d>=z._d&&inside)place(g,P+(g._x-x0)*s,g._w*s,g._w*s>=0.1);"
"else if(anc)place(g,P,W-2*P,true);else place(g,0,0,false);"
"g.querySelector('rect').style.opacity=anc?0.6:1;});}\n"
"function unzoom(){zoomed=null;F.forEach(function(g){place(g,g._x,g._w,true);"
"g.querySelector('rect').style.opacity=1;});}\n"
"function search(re){term=re;var hit=[],sum=0,end=-1;"
"F.forEach(function(g){var r=g.querySelector('rect'),m=re&&re.test(g.getAttribute('data-n'));"
"r.setAttribute('fill',m?'rgb(230,0,230)':g._fill);if(m)hit.push(g);});"
"hit.sort(function(a,b){return a._x-b._x||b._w-a._w;});"
"hit.forEach(function(g){if(g._x>=end-1e-6){sum+=g._w;end=g._x+g._w;}});"
"mt.textContent=re?'Matched: '+(100*sum/(W-2*P)).toFixed(1)+'%%':' ';}\n"
"function ask(){var t=prompt('Search frames (regular expression)',term?term.source:'');"
"if(t===null)return;if(!t){search(null);return;}try{search(new RegExp(t));}"
"catch(err){mt.textContent='bad expression';}}\n"
"document.getElementById('search').addEventListener('click',ask);\n"
"document.getElementById('unzoom').addEventListener('click',unzoom);\n"
"window.addEventListener('keydown',function(e){if(e.key=='/'||((e.ctrlKey||e.metaKey)&&e.key=='f'))"
"{e.preventDefault();ask();}else if(e.key=='Escape'){unzoom();search(null);}});\n"
"document.documentElement.setAttribute('data-ready',F.length);\n";

static void emit_header(const struct session *s, const struct ftree *t, __u64 left_out,
			int height, FILE *out)
{
	char b1[32], b2[32];

	fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n", FG_WIDTH, height, FG_WIDTH, height);
	fputs("<style>text{font-family:monospace;font-size:12px;fill:#000}"
	      "g.f text{pointer-events:none}g.f:hover rect{stroke:#000;stroke-width:0.5}"
	      ".ui{cursor:pointer;fill:#225}#details,#matched{fill:#333}</style>\n", out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f4\"/>\n",
		FG_WIDTH, height);
	fprintf(out, "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" style=\"font-size:16px\">"
		"Flame graph: ", FG_WIDTH / 2);
	xml_put(out, s->name[0] ? s->name : "ragd-bpfprof session", 100);
	fputs("</text>\n", out);
	fprintf(out, "<text x=\"%d\" y=\"38\" text-anchor=\"middle\">", FG_WIDTH / 2);
	if (s->sample_hz)
		fprintf(out, "%llu samples at %llu Hz, ", (unsigned long long)s->samples,
			(unsigned long long)s->sample_hz);
	fprintf(out, "%s of stacks; warm = on-CPU, blue = off-CPU (blocked); width = time",
		fmt_ns(t->n[0].on + t->n[0].off, b1, sizeof(b1)));
	if (left_out)
		fprintf(out, "; %s outside any operation left out (--all-stacks)",
			fmt_ns(left_out, b2, sizeof(b2)));
	fputs("</text>\n", out);
	fprintf(out, "<text id=\"unzoom\" class=\"ui\" x=\"%d\" y=\"20\">[reset zoom]</text>\n",
		FG_PAD);
	fprintf(out, "<text id=\"search\" class=\"ui\" x=\"%d\" y=\"20\" text-anchor=\"end\">"
		"[search]</text>\n", FG_WIDTH - FG_PAD);
	fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n",
		FG_WIDTH - FG_PAD, height - 12);
	fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", FG_PAD, height - 12);
}

static bool is_other(const char *stack)
{
	return !strncmp(stack, OTHER_FRAME, strlen(OTHER_FRAME)) &&
	       (stack[strlen(OTHER_FRAME)] == ';' || !stack[strlen(OTHER_FRAME)]);
}

int report_svg(const struct session *s, bool all_stacks, FILE *out)
{
	struct ftree t = { .maxdepth = 0 };
	bool ops = false;
	__u64 total, left_out = 0;
	int height, err = -1;

	t.bufs = calloc(s->nstacks + 1, sizeof(*t.bufs));
	if (!t.bufs || fnode_new(&t, "all", 0) < 0)
		goto cleanup;
	/* Time outside every op (imports, interpreter start and exit) can dwarf the ops: left
	 * out unless asked, or unless there is nothing else. */
	for (size_t i = 0; i < s->nstacks; i++)
		ops |= s->stacks[i].stack && s->stacks[i].stack[0] && !is_other(s->stacks[i].stack);
	for (size_t i = 0; i < s->nstacks; i++) {
		const struct stack_rec *st = &s->stacks[i];

		if (!st->stack || !st->stack[0] || !(st->on_cpu_ns + st->off_cpu_ns))
			continue;
		if (ops && !all_stacks && is_other(st->stack)) {
			left_out += st->on_cpu_ns + st->off_cpu_ns;
			continue;
		}
		if (ftree_add(&t, s, st))
			goto cleanup;
	}
	total = t.n[0].on + t.n[0].off;
	height = FG_TOP + (t.maxdepth + 1) * FG_ROW + FG_BOTTOM;
	emit_header(s, &t, left_out, height, out);
	if (total)
		emit_frames(&t, 0, FG_PAD, (double)(FG_WIDTH - 2 * FG_PAD) / total, out);
	else
		fprintf(out, "<text x=\"%d\" y=\"%d\">no stack samples in this session "
			"(recorded with -F 0?)</text>\n", FG_PAD, FG_TOP + 12);
	fputs("<script type=\"text/ecmascript\"><![CDATA[\n", out);
	fprintf(out, flame_js, FG_WIDTH, FG_PAD, (unsigned long long)s->sample_hz,
		(unsigned long long)(total ? total : 1), FG_CHAR_PX);
	fputs("]]></script>\n</svg>\n", out);
	err = ferror(out) ? -1 : 0;
cleanup:
	ftree_free(&t);
	return err;
}
