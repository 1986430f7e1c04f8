/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane --explain FILE: the onboarding preview. Reads a sample of
 * a source's lines and shows what veil would do with each, with no key
 * and nothing forwarded: the format that takes the line, each identity
 * field (kind, the value marked in the line), and the lines that would be
 * dropped and why; then the counts per format and per reason. The sample
 * is the admin's own file and the output goes to the admin's terminal:
 * names are shown in clear here, and nowhere else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "dpd_run.h"

#define MARK_OPEN  "\xc2\xab" /* « */
#define MARK_CLOSE "\xc2\xbb" /* » */

struct ex_totals {
	unsigned long long lines, parsed, dropped, unparsed;
	unsigned long long users, devices, no_user, bad;
	unsigned long long by_format[VDP_MAX_FORMATS];
	unsigned long long drops[VDP_REASON_COUNT];
};

static const char *what_name(uint8_t what)
{
	return what == VDP_EX_TOKEN ? "token" : what == VDP_EX_NO_USER ? "no-user"
									: "bad";
}

static const char *kind_name(uint8_t kind)
{
	return kind == VEIL_KIND_USER ? "user" : "device";
}

/* ---- text ---- */

static void text_line(FILE *o, const char *path, unsigned long long no,
		      const char *d, size_t len, const struct vdp_explain *x)
{
	const char *const *names = vdp_format_names();
	fprintf(o, "%s:%llu: %s", path, no, x->format >= 0 ? names[x->format] : "-");
	if (x->dropped)
		fprintf(o, ": DROPPED (%s)", vdp_reason_name(x->reason));
	else if (x->unparsed)
		fprintf(o, ": forwarded unchanged (%s, on_unknown = forward)",
			vdp_reason_name(x->reason));
	else
		fprintf(o, ": %u identit%s", x->n, x->n == 1 ? "y" : "ies");
	fputs("\n  ", o);
	size_t at = 0;
	for (unsigned i = 0; i < x->n; i++) {
		fwrite(d + at, 1, x->f[i].off - at, o);
		fputs(MARK_OPEN, o);
		fwrite(d + x->f[i].off, 1, x->f[i].len, o);
		fputs(MARK_CLOSE, o);
		at = (size_t)x->f[i].off + x->f[i].len;
	}
	fwrite(d + at, 1, len - at, o);
	fputc('\n', o);
	for (unsigned i = 0; i < x->n; i++) {
		const struct vdp_explain_field *f = &x->f[i];
		fprintf(o, "    %-6s at %u+%u: %s", kind_name(f->kind), f->off,
			f->len, what_name(f->what));
		if (f->what == VDP_EX_BAD)
			fprintf(o, " (%s)", vdp_reason_name(f->reason));
		fputc('\n', o);
	}
}

static void text_summary(FILE *o, const struct ex_totals *t)
{
	const char *const *names = vdp_format_names();
	fprintf(o, "explain: %llu lines: %llu parsed, %llu would be dropped, "
		"%llu forwarded unchanged\n", t->lines, t->parsed, t->dropped,
		t->unparsed);
	fputs("  by format:", o);
	for (unsigned f = 0; names[f] != NULL && f < VDP_MAX_FORMATS; f++)
		if (t->by_format[f] > 0)
			fprintf(o, " %s %llu", names[f], t->by_format[f]);
	fputs("\n  dropped:", o);
	for (unsigned r = 0; r < VDP_REASON_COUNT; r++)
		if (t->drops[r] > 0)
			fprintf(o, " %s %llu", vdp_reason_name(r), t->drops[r]);
	fprintf(o, "\n  identities: %llu users, %llu devices; %llu \"no user\" "
		"values, %llu that cannot be tokenized\n", t->users, t->devices,
		t->no_user, t->bad);
}

/* ---- JSON (one object per line, then the summary) ---- */

static void gs(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gsn(yajl_gen g, const char *s, size_t n)
{
	yajl_gen_string(g, (const unsigned char *)s, n);
}

static void gint(yajl_gen g, const char *k, unsigned long long v)
{
	gs(g, k);
	yajl_gen_integer(g, (long long)v);
}

static void flush(yajl_gen g, FILE *o)
{
	const unsigned char *buf;
	size_t n;
	yajl_gen_get_buf(g, &buf, &n);
	fwrite(buf, 1, n, o);
	fputc('\n', o);
	yajl_gen_clear(g);
	yajl_gen_reset(g, NULL);
}

static void json_line(yajl_gen g, FILE *o, const char *path, unsigned long long no,
		      const char *d, size_t len, const struct vdp_explain *x)
{
	const char *const *names = vdp_format_names();
	yajl_gen_map_open(g);
	gs(g, "file");
	gs(g, path);
	gint(g, "line", no);
	gs(g, "format");
	if (x->format >= 0)
		gs(g, names[x->format]);
	else
		yajl_gen_null(g);
	gs(g, "verdict");
	gs(g, x->dropped ? "drop" : x->unparsed ? "unchanged" : "forward");
	if (x->dropped || x->unparsed) {
		gs(g, "reason");
		gs(g, vdp_reason_name(x->reason));
	}
	gs(g, "fields");
	yajl_gen_array_open(g);
	for (unsigned i = 0; i < x->n; i++) {
		const struct vdp_explain_field *f = &x->f[i];
		yajl_gen_map_open(g);
		gs(g, "kind");
		gs(g, kind_name(f->kind));
		gint(g, "offset", f->off);
		gint(g, "length", f->len);
		gs(g, "value");
		gsn(g, d + f->off, f->len);
		gs(g, "action");
		gs(g, what_name(f->what));
		if (f->what == VDP_EX_BAD) {
			gs(g, "reason");
			gs(g, vdp_reason_name(f->reason));
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	(void)len;
	yajl_gen_map_close(g);
	flush(g, o);
}

static void json_summary(yajl_gen g, FILE *o, const struct ex_totals *t)
{
	const char *const *names = vdp_format_names();
	yajl_gen_map_open(g);
	gs(g, "summary");
	yajl_gen_map_open(g);
	gint(g, "lines", t->lines);
	gint(g, "parsed", t->parsed);
	gint(g, "dropped", t->dropped);
	gint(g, "unchanged", t->unparsed);
	gint(g, "users", t->users);
	gint(g, "devices", t->devices);
	gint(g, "no_user", t->no_user);
	gint(g, "bad", t->bad);
	gs(g, "by_format");
	yajl_gen_map_open(g);
	for (unsigned f = 0; names[f] != NULL && f < VDP_MAX_FORMATS; f++)
		if (t->by_format[f] > 0)
			gint(g, names[f], t->by_format[f]);
	yajl_gen_map_close(g);
	gs(g, "drops");
	yajl_gen_map_open(g);
	for (unsigned r = 0; r < VDP_REASON_COUNT; r++)
		if (t->drops[r] > 0)
			gint(g, vdp_reason_name(r), t->drops[r]);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	flush(g, o);
}

/* ---- the run ---- */

static void count(struct ex_totals *t, const struct vdp_explain *x)
{
	t->lines++;
	if (x->dropped) {
		t->dropped++;
		t->drops[x->reason]++;
	} else if (x->unparsed) {
		t->unparsed++;
	} else {
		t->parsed++;
	}
	if (x->format >= 0 && x->format < VDP_MAX_FORMATS && !x->unparsed)
		t->by_format[x->format]++;
	for (unsigned i = 0; i < x->n; i++) {
		const struct vdp_explain_field *f = &x->f[i];
		if (f->what == VDP_EX_NO_USER)
			t->no_user++;
		else if (f->what == VDP_EX_BAD)
			t->bad++;
		else if (f->kind == VEIL_KIND_USER)
			t->users++;
		else
			t->devices++;
	}
}

int vdd_explain(struct vdd_run *r)
{
	FILE *o = stdout;
	struct ex_totals t;
	memset(&t, 0, sizeof(t));
	struct vdp_source **srcs = calloc(r->cfg.n_sources, sizeof(*srcs));
	if (srcs == NULL) {
		fprintf(stderr, "veil-dataplane: out of memory\n");
		return EXIT_FAILED;
	}
	for (unsigned s = 0; s < r->cfg.n_sources; s++)
		srcs[s] = r->cfg.sources[s].src;
	/* no engine: the preview needs no key and forwards nothing */
	struct vdp_worker *w = vdp_worker_new(NULL, srcs, r->cfg.n_sources);
	yajl_gen g = r->json ? yajl_gen_alloc(NULL) : NULL;
	if (w == NULL || (r->json && g == NULL)) {
		fprintf(stderr, "veil-dataplane: out of memory\n");
		vdp_worker_free(w);
		free(srcs);
		return EXIT_FAILED;
	}
	int status = EXIT_OK;
	char *buf = NULL;
	size_t cap = 0;
	for (unsigned i = 0; i < r->cfg.n_inputs; i++) {
		const struct vdd_input_cfg *in = &r->cfg.inputs[i];
		bool std = !strcmp(in->path, "-");
		FILE *f = std ? stdin : fopen(in->path, "r");
		if (f == NULL) {
			fprintf(stderr, "veil-dataplane: --explain %s: %s\n", in->path,
				strerror(errno));
			status = EXIT_FAILED;
			continue;
		}
		unsigned long long no = 0;
		ssize_t n;
		while ((n = getline(&buf, &cap, f)) >= 0) {
			size_t len = (size_t)n;
			no++;
			while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
				len--;
			struct vdp_explain x;
			if (vdp_worker_explain(w, in->source, buf, len, &x) != 0)
				continue;
			count(&t, &x);
			if (g != NULL)
				json_line(g, o, in->path, no, buf, len, &x);
			else
				text_line(o, in->path, no, buf, len, &x);
		}
		if (ferror(f)) {
			fprintf(stderr, "veil-dataplane: --explain %s: read error\n",
				in->path);
			status = EXIT_FAILED;
		}
		if (!std)
			fclose(f);
	}
	if (g != NULL)
		json_summary(g, o, &t);
	else
		text_summary(o, &t);
	free(buf);
	if (g != NULL)
		yajl_gen_free(g);
	vdp_worker_free(w);
	free(srcs);
	if (fflush(o) != 0)
		status = EXIT_FAILED;
	return status;
}
