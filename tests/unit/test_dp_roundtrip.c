/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The round-trip property over every test line of every format
 * (tests/data/lines/FORMAT.txt), through the whole pipeline with the real
 * token engine:
 *  - every identity the line's expectation names is tokenized, and no other
 *    name: the tokens decrypt to exactly the expected names and kinds;
 *  - no expected name is left in clear in the output's text;
 *  - the rest of the line is unchanged: the output's text runs and the
 *    input spans its tokens replaced tile the input byte for byte;
 *  - lines expected to be dropped are dropped; context lines (W3C
 *    directives) pass unchanged;
 *  - the same lines in one burst give the same outputs as one by one;
 *  - with format auto, every line comes out the same as with its format
 *    (unless the file says "@@ noauto").
 *
 * File syntax: "@<TAB>user:NAME<TAB>device:NAME..." or "@drop" is the
 * expectation of the next line; other lines are context lines.
 *
 * usage: test_dp_roundtrip DIR   (prints one line per file; exit 1 on any
 * failure)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_pvt.h"
#include "veil_dp.h"

#define MAX_LINES 2048
#define MAX_NAMES 32

struct tcase {
	char *line;
	size_t len;
	bool expect, drop;
	unsigned n;
	char *name[MAX_NAMES];
	int kind[MAX_NAMES];
};

static struct veil_engine *engine;
static struct veil_keyring *ring;
static const struct veil_key *key;
static unsigned failures, checked;

static void fail(const char *file, unsigned lineno, const char *what)
{
	printf("  FAIL %s line %u: %s\n", file, lineno, what);
	failures++;
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static unsigned load(const char *path, struct tcase *tc, bool *noauto)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned n = 0;
	struct tcase pend = { 0 };
	if (f == NULL)
		return 0;
	while ((got = getline(&buf, &cap, f)) > 0 && n < MAX_LINES) {
		size_t len = (size_t)got;
		if (buf[len - 1] == '\n')
			len--;
		if (len >= 2 && !strncmp(buf, "@@", 2)) {
			if (strstr(buf, "noauto") != NULL)
				*noauto = true;
			continue;
		}
		if (len >= 1 && buf[0] == '@' && (len == 1 || buf[1] == '\t' || buf[1] == ' ' ||
						  !strncmp(buf, "@drop", 5))) {
			memset(&pend, 0, sizeof(pend));
			pend.expect = true;
			pend.drop = !strncmp(buf, "@drop", 5);
			char *save = NULL, *copy = dupn(buf + 1, len - 1);
			for (char *t = strtok_r(copy, "\t", &save); t && !pend.drop;
			     t = strtok_r(NULL, "\t", &save)) {
				if (pend.n == MAX_NAMES)
					break;
				if (!strncmp(t, "user:", 5)) {
					pend.name[pend.n] = strdup(t + 5);
					pend.kind[pend.n++] = VEIL_KIND_USER;
				} else if (!strncmp(t, "device:", 7)) {
					pend.name[pend.n] = strdup(t + 7);
					pend.kind[pend.n++] = VEIL_KIND_DEVICE;
				}
			}
			free(copy);
			continue;
		}
		tc[n] = pend;
		tc[n].line = dupn(buf, len);
		tc[n].len = len;
		n++;
		memset(&pend, 0, sizeof(pend));
	}
	free(buf);
	fclose(f);
	return n;
}

static struct vdp_worker *worker(struct vdp_source *s)
{
	struct vdp_source *list[] = { s };
	struct vdp_worker *w = vdp_worker_new(engine, list, 1);
	if (w != NULL)
		vdp_worker_set_key(w, 0, key);
	return w;
}

/* Output line i of b as text (malloc'd); NULL if dropped. */
static char *text_of(const struct vdp_burst *b, unsigned i, size_t *len)
{
	if (b->line[i].verdict != VDP_FORWARD)
		return NULL;
	char *t = malloc(b->line[i].len + 1);
	*len = vdp_burst_copy(b, i, t, b->line[i].len + 1);
	t[*len] = '\0';
	return t;
}

static void check_line(const char *file, unsigned no, const struct tcase *tc,
		       const struct vdp_burst *b, unsigned i)
{
	const struct vdp_out *o = &b->line[i];
	char msg[512];
	checked++;
	if (tc->drop) {
		if (o->verdict != VDP_DROP)
			fail(file, no, "expected a drop, was forwarded");
		return;
	}
	if (o->verdict != VDP_FORWARD) {
		snprintf(msg, sizeof(msg), "dropped (%s), expected forwarded",
			 vdp_reason_name(o->reason));
		fail(file, no, msg);
		return;
	}
	const struct vdp_seg *s = b->segs + o->first_seg;
	/* tiling: text runs + replaced spans == input */
	size_t pos = 0;
	bool tiles = true;
	for (unsigned k = 0; k < o->n_segs && tiles; k++) {
		const char *p = s[k].token ? tc->line + s[k].src_off : s[k].p;
		size_t l = s[k].token ? s[k].src_len : s[k].len;
		if (s[k].token && (size_t)s[k].src_off != pos)
			tiles = false;
		if (pos + l > tc->len || memcmp(tc->line + pos, p, l) != 0)
			tiles = false;
		pos += l;
	}
	if (!tiles || pos != tc->len) {
		fail(file, no, "the output is not the input with tokens in place");
		return;
	}
	/* the tokens decrypt to the expected names, all of them */
	bool seen[MAX_NAMES] = { false };
	for (unsigned k = 0; k < o->n_segs; k++) {
		if (!s[k].token)
			continue;
		char name[VEIL_NAME_MAX + 1];
		struct veil_item it = { .in = (const uint8_t *)s[k].p, .in_len = s[k].len,
					.out = (uint8_t *)name, .out_cap = VEIL_NAME_MAX };
		if (veil_token_decrypt_batch(engine, ring, VEIL_KIND_ANY, &it, 1) != 1) {
			fail(file, no, "a token does not decrypt");
			return;
		}
		name[it.out_len] = '\0';
		/* the first matching entry not yet seen (a name may be listed
		 * twice), else any matching one */
		unsigned j = tc->n;
		for (unsigned q = 0; q < tc->n; q++)
			if (!strcmp(tc->name[q], name) && tc->kind[q] == it.kind &&
			    (j == tc->n || (seen[j] && !seen[q])))
				j = q;
		if (j == tc->n) {
			snprintf(msg, sizeof(msg), "tokenized \"%.80s\" (%s), not expected",
				 name, it.kind == VEIL_KIND_USER ? "user" : "device");
			fail(file, no, msg);
			return;
		}
		seen[j] = true;
	}
	for (unsigned j = 0; j < tc->n; j++) {
		if (!seen[j]) {
			snprintf(msg, sizeof(msg), "\"%.80s\" (%s) not tokenized", tc->name[j],
				 tc->kind[j] == VEIL_KIND_USER ? "user" : "device");
			fail(file, no, msg);
		}
		/* and nowhere in clear in the text runs */
		for (unsigned k = 0; k < o->n_segs; k++)
			if (!s[k].token && memmem(s[k].p, s[k].len, tc->name[j],
						  strlen(tc->name[j])) != NULL) {
				snprintf(msg, sizeof(msg), "\"%.80s\" left in clear", tc->name[j]);
				fail(file, no, msg);
				break;
			}
	}
}

static void run_file(const char *dir, const char *fname)
{
	static struct tcase tc[MAX_LINES];
	static struct vdp_line in[VDP_BURST_MAX];
	static struct vdp_burst b1, bn;
	char path[512], fmt[64], err[200];
	bool noauto = false;
	snprintf(path, sizeof(path), "%s/%s", dir, fname);
	snprintf(fmt, sizeof(fmt), "%.*s", (int)(strlen(fname) - 4), fname);
	unsigned n = load(path, tc, &noauto), f0 = failures, c0 = checked;
	struct vdp_source *src = vdp_source_new("explicit");
	struct vdp_source *as = vdp_source_new("auto");
	if (vdp_source_set(src, "format", fmt, err, sizeof(err)) != 0) {
		printf("  FAIL %s: %s\n", fname, err);
		failures++;
		vdp_source_free(src);
		vdp_source_free(as);
		return;
	}
	struct vdp_worker *w1 = worker(src), *wn = worker(src), *wa = worker(as);
	/* one by one, and in bursts, and auto-detected */
	unsigned done = 0;
	while (done < n) {
		unsigned m = n - done < VDP_BURST_MAX ? n - done : VDP_BURST_MAX;
		for (unsigned i = 0; i < m; i++)
			in[i] = (struct vdp_line){ tc[done + i].line,
						   (uint32_t)tc[done + i].len, 0 };
		vdp_process_burst(wn, in, m, &bn);
		for (unsigned i = 0; i < m; i++) {
			struct tcase *t = &tc[done + i];
			unsigned no = done + i + 1;
			vdp_process_burst(w1, &in[i], 1, &b1);
			size_t l1 = 0, ln = 0, la = 0;
			char *o1 = text_of(&b1, 0, &l1), *on = text_of(&bn, i, &ln);
			if (t->expect)
				check_line(fname, no, t, &b1, 0);
			else if (o1 == NULL || l1 != t->len || memcmp(o1, t->line, l1))
				fail(fname, no, "a context line did not pass unchanged");
			if ((o1 == NULL) != (on == NULL) || (o1 && (l1 != ln || memcmp(o1, on, l1))))
				fail(fname, no, "a burst gave another output than one by one");
			if (!noauto) {
				static struct vdp_burst ba;
				vdp_process_burst(wa, &in[i], 1, &ba);
				char *oa = text_of(&ba, 0, &la);
				if ((o1 == NULL) != (oa == NULL) ||
				    (o1 && (l1 != la || memcmp(o1, oa, l1))))
					fail(fname, no, "format auto gives another output");
				free(oa);
			}
			free(o1);
			free(on);
		}
		done += m;
	}
	printf("%s: %u lines, %u checked, %u failures\n", fname, n, checked - c0,
	       failures - f0);
	vdp_worker_free(w1);
	vdp_worker_free(wn);
	vdp_worker_free(wa);
	vdp_source_free(src);
	vdp_source_free(as);
	for (unsigned i = 0; i < n; i++) {
		free(tc[i].line);
		for (unsigned j = 0; j < tc[i].n; j++)
			free(tc[i].name[j]);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_dp_roundtrip DIR\n");
		return 2;
	}
	static const uint8_t raw[32] = { 0x42 };
	engine = veil_engine_new(NULL);
	ring = veil_keyring_new("roundtrip");
	struct veil_key *k = veil_key_new(raw, "roundtrip", 1);
	if (engine == NULL || ring == NULL || k == NULL || veil_keyring_add(ring, k) != 0) {
		fprintf(stderr, "no token engine\n");
		return 1;
	}
	key = veil_keyring_get(ring, 1);
	DIR *d = opendir(argv[1]);
	if (d == NULL) {
		perror(argv[1]);
		return 1;
	}
	struct dirent *e;
	char *names[64];
	unsigned nf = 0;
	while ((e = readdir(d)) != NULL && nf < 64)
		if (strlen(e->d_name) > 4 && !strcmp(e->d_name + strlen(e->d_name) - 4, ".txt"))
			names[nf++] = strdup(e->d_name);
	closedir(d);
	for (unsigned i = 0; i < nf; i++)
		for (unsigned j = i + 1; j < nf; j++)
			if (strcmp(names[i], names[j]) > 0) {
				char *t = names[i];
				names[i] = names[j];
				names[j] = t;
			}
	for (unsigned i = 0; i < nf; i++) {
		run_file(argv[1], names[i]);
		free(names[i]);
	}
	printf("roundtrip: %u files, %u lines checked, %u failures\n", nf, checked, failures);
	veil_keyring_free(ring);
	veil_engine_free(engine);
	return failures == 0 && checked > 0 ? 0 : 1;
}
