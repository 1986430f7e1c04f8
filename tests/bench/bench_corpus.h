/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The benchmarks' corpus (tests/bench/gen_corpus.py): "FORMAT<TAB>MESSAGE\n"
 * lines. bench_corpus_read() reads the file and calls back for each message
 * with the index of its format (in order of first appearance, names in
 * bench_formats[]); the message includes its LF. bench_corpus_bytes, the
 * file's size, is set before the first call: it bounds any copy.
 */
#ifndef VEIL_BENCH_CORPUS_H
#define VEIL_BENCH_CORPUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_MAX_FORMATS 32

static char bench_formats[BENCH_MAX_FORMATS][32];
static unsigned bench_n_formats;
static size_t bench_corpus_bytes;

/* @return the file's size (a bound for any copy of its messages), or -1. */
static long bench_corpus_read(const char *path,
			      int (*fn)(void *arg, unsigned fmt, const char *msg,
					size_t len),
			      void *arg)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *raw = malloc((size_t)sz + 1);
	if (raw == NULL || fread(raw, 1, (size_t)sz, f) != (size_t)sz) {
		fclose(f);
		free(raw);
		return -1;
	}
	fclose(f);
	bench_corpus_bytes = (size_t)sz;
	char *p = raw, *end = raw + sz;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *tab = memchr(p, '\t', (size_t)((nl ? nl : end) - p));
		if (nl == NULL || tab == NULL)
			break;
		size_t nl_len = (size_t)(tab - p);
		unsigned s = 0;
		while (s < bench_n_formats && (strlen(bench_formats[s]) != nl_len ||
					       strncmp(bench_formats[s], p, nl_len)))
			s++;
		if (s == bench_n_formats) {
			if (bench_n_formats == BENCH_MAX_FORMATS || nl_len >= 32) {
				free(raw);
				return -1;
			}
			snprintf(bench_formats[bench_n_formats++], 32, "%.*s", (int)nl_len, p);
		}
		if (fn(arg, s, tab + 1, (size_t)(nl - tab)) != 0) {
			free(raw);
			return -1;
		}
		p = nl + 1;
	}
	free(raw);
	return sz;
}

#endif
