/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The governance log at size, for bench_audit.py: records made in bulk
 * through the store's own append (ctl_audit_append, as controld writes
 * them: real MACs, the chain, the head, the mark), and the store-side
 * figures a running daemon cannot give (verify in process, pruning step by
 * step, the WAL after it).
 *
 *   gen_audit make CONF N DAYS [BULK]   N records spread over the last DAYS
 *                                       days, BULK of them bulk resolves of
 *                                       200,000 tokens
 *   gen_audit verify CONF               walk the chain: records/s
 *   gen_audit prune CONF DAYS           prune past DAYS, one step a call
 *
 * Each prints one JSON line of figures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ctl_pvt.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void open_store(struct ctl_store *s, struct ctl_config *c, const char *conf)
{
	char err[1024];
	if (ctl_config_load(c, conf, err, sizeof(err)) != 0 ||
	    ctl_store_open(s, c, err, sizeof(err)) != 0) {
		fprintf(stderr, "gen_audit: %s\n", err);
		exit(1);
	}
}

static long long file_size(const struct ctl_config *c, const char *name)
{
	char path[300];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", c->state_dir, name);
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* A bulk resolve's record: n tokens, aside as controld keeps them. */
static int append_bulk(struct ctl_store *s, int64_t t, size_t n)
{
	size_t nc = (n + CTL_TOKENS_CHUNK - 1) / CTL_TOKENS_CHUNK;
	char **chunk = calloc(nc, sizeof(*chunk)), head[4096] = "[";
	size_t *count = calloc(nc, sizeof(*count));
	int rc = -1;
	if (chunk == NULL || count == NULL)
		goto out;
	for (size_t c = 0; c < nc; c++) {
		size_t from = c * CTL_TOKENS_CHUNK;
		count[c] = n - from < CTL_TOKENS_CHUNK ? n - from : CTL_TOKENS_CHUNK;
		char *p = chunk[c] = malloc(count[c] * 96 + 3);
		if (p == NULL)
			goto out;
		*p++ = '[';
		for (size_t i = 0; i < count[c]; i++)
			p += sprintf(p, "%s\"veil_u1_%072zu\"", i ? "," : "", from + i);
		strcpy(p, "]");
	}
	for (size_t i = 0; i < CTL_TOKENS_HEAD; i++)
		sprintf(head + strlen(head), "%s\"veil_u1_%072zu\"", i ? "," : "", i);
	strcat(head, "]");
	struct ctl_token_list l = { .count = n, .n_chunks = nc,
				    .chunk = (const char *const *)chunk, .chunk_count = count };
	struct ctl_audit_rec r = { .time = t, .uid = 1001, .role = "investigator",
				   .action = "resolve.bulk", .tenant = "t7", .tokens = head,
				   .justification = "INC-77: bulk triage of a campaign",
				   .outcome = "ok: 0 resolved, 200000 failed", .list = &l };
	rc = ctl_audit_append(s, &r);
out:
	for (size_t c = 0; chunk != NULL && c < nc; c++)
		free(chunk[c]);
	free(chunk);
	free(count);
	return rc;
}

static int make(const char *conf, long long n, int days, int bulk)
{
	struct ctl_store s;
	struct ctl_config c;
	static const char *const actions[] = { "resolve", "lookup", "resolve", "lookup",
		"resolve", "lookup", "resolve", "resolve.bulk", "resolve", "lookup" };
	open_store(&s, &c, conf);
	int64_t t0 = ctl_now() - (int64_t)days * 86400000, step = (int64_t)days * 86400000 / n;
	double start = now_s();
	char tenant[16], tok[128], just[96];
	ctl_store_batch(&s, true);
	for (long long i = 0; i < n; i++) {
		int64_t t = t0 + i * step;
		if (bulk > 0 && n >= bulk && i % (n / bulk) == n / bulk / 2) {
			if (append_bulk(&s, t, 200000) != 0)
				goto fail;
			continue;
		}
		/* a key roll in 10,000 records: a rare action */
		const char *a = i % 10000 == 5000 ? "key.roll" : actions[i % 10];
		snprintf(tenant, sizeof(tenant), "t%lld", i % 100);
		snprintf(tok, sizeof(tok), "[\"veil_u1_%072lld\"]", i);
		snprintf(just, sizeof(just), "INC-%lld: phishing triage", i / 50);
		struct ctl_audit_rec r = { .time = t, .uid = 1000 + (unsigned)(i % 20),
					   .role = "investigator", .action = a, .tenant = tenant,
					   .tokens = a[0] == 'r' || a[0] == 'l' ? tok : NULL,
					   .justification = just, .outcome = "ok" };
		if (ctl_audit_append(&s, &r) != 0)
			goto fail;
		if (i % 10000 == 9999 && ctl_store_sync(&s) != 0)
			goto fail;
	}
	if (ctl_store_sync(&s) != 0)
		goto fail;
	ctl_store_batch(&s, false);
	double secs = now_s() - start;
	printf("{\"records\": %lld, \"seconds\": %.2f, \"db_bytes\": %lld}\n", n, secs,
	       file_size(&c, "veil.db") + file_size(&c, "veil.db-wal"));
	ctl_store_close(&s);
	return 0;
fail:
	fprintf(stderr, "gen_audit: append failed: %s\n", sqlite3_errmsg(s.db));
	return 1;
}

static int verify(const char *conf)
{
	struct ctl_store s;
	struct ctl_config c;
	char why[512];
	int64_t count;
	open_store(&s, &c, conf);
	double start = now_s();
	int64_t bad = ctl_audit_verify(&s, &count, why, sizeof(why));
	double secs = now_s() - start;
	printf("{\"records\": %lld, \"bad\": %lld, \"seconds\": %.3f, "
	       "\"records_per_s\": %.0f}\n", (long long)count, (long long)bad, secs,
	       count / secs);
	ctl_store_close(&s);
	return bad != 0;
}

static int prune(const char *conf, int days)
{
	struct ctl_store s;
	struct ctl_config c;
	char why[512];
	open_store(&s, &c, conf);
	long long before_db = file_size(&c, "veil.db"), total = 0;
	double start = now_s(), worst = 0;
	int steps = 0;
	int64_t cut = ctl_now() - (int64_t)days * 86400000, n;
	/* one step a call, as the daemon's housekeeping would spread them */
	do {
		double t = now_s();
		n = ctl_audit_prune(&s, cut, CTL_PRUNE_STEP, why, sizeof(why));
		t = now_s() - t;
		if (n > 0) {
			total += n;
			steps++;
			if (t > worst)
				worst = t;
		}
	} while (n == CTL_PRUNE_STEP);
	double secs = now_s() - start;
	printf("{\"pruned\": %lld, \"steps\": %d, \"seconds\": %.2f, "
	       "\"longest_step_ms\": %.1f, \"db_bytes_before\": %lld, "
	       "\"db_bytes_after\": %lld, \"wal_bytes_after\": %lld}\n", total, steps,
	       secs, worst * 1000, before_db, file_size(&c, "veil.db"),
	       file_size(&c, "veil.db-wal"));
	ctl_store_close(&s);
	return n < 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "make"))
		return make(argv[2], atoll(argv[3]), atoi(argv[4]),
			    argc > 5 ? atoi(argv[5]) : 0);
	if (argc == 3 && !strcmp(argv[1], "verify"))
		return verify(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "prune"))
		return prune(argv[2], atoi(argv[3]));
	fputs("usage: gen_audit make CONF N DAYS [BULK] | verify CONF | prune CONF DAYS\n",
	      stderr);
	return 2;
}
