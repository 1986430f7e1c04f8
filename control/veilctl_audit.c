/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veilctl audit show | export | verify: the governance log, a page at a
 * time (veil-controld answers in pages with a cursor), as text, CSV or
 * JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "veilctl_pvt.h"
#include "veilctl_text.h"

/* RFC 4180: quote a field when it holds a comma, quote or line break. */
static void csv_field(const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n") != NULL) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else
		fputs(s, stdout);
	fputs(last ? "\r\n" : ",", stdout);
}

/* audit export: every page of the log from the oldest on, as CSV */
#define EXPORT_PAGE 1000 /* a page holds the daemon ~15 ms: others wait no longer */

/* Walk the pages of record seq's token list: each token to fn. 0, or -1
 * when the daemon refused (said on stderr). */
static int each_token(long long seq, void (*fn)(json_t *tok, size_t i))
{
	long long off = 0;
	size_t i = 0;
	for (;;) {
		json_t *a = call(json_pack("{s:s, s:I, s:I, s:i}", "cmd", "audit.tokens",
					   "seq", (json_int_t)seq, "offset", (json_int_t)off,
					   "limit", 50000));
		if (!json_is_true(json_object_get(a, "ok"))) {
			fprintf(stderr, "veilctl: the tokens of record %lld: %s\n", seq,
				str(a, "error"));
			json_decref(a);
			return -1;
		}
		size_t k;
		json_t *t;
		json_array_foreach(json_object_get(a, "tokens"), k, t)
			fn(t, i++);
		json_t *next = json_object_get(a, "next_offset");
		bool more = json_is_integer(next);
		off = json_integer_value(next);
		json_decref(a);
		if (!more)
			return 0;
	}
}

/* One token of a CSV field that holds a JSON array: its JSON text, the
 * field's quotes doubled. */
static void csv_token(json_t *tok, size_t i)
{
	char *j = json_dumps(tok, JSON_ENCODE_ANY);
	if (i > 0)
		putchar(',');
	for (const char *p = j ? esc(j) : ""; *p; p++) {
		if (*p == '"')
			putchar('"');
		putchar(*p);
	}
	free(j);
}

static void print_token(json_t *tok, size_t i)
{
	(void)i;
	printf("%s\n", esc(json_string_value(tok)));
}

static int csv_record(json_t *r)
{
	char n1[32], n2[32], when[32];
	snprintf(n1, sizeof(n1), "%lld", num(r, "seq"));
	snprintf(n2, sizeof(n2), "%lld", num(r, "uid"));
	fmt_time(num(r, "time_ms"), when, sizeof(when));
	csv_field(n1, false);
	csv_field(when, false);
	csv_field(n2, false);
	csv_field(str(r, "role"), false);
	csv_field(str(r, "action"), false);
	csv_field(str(r, "tenant"), false);
	json_t *shown = json_loads(raw(r, "tokens"), 0, NULL);
	if (num(r, "tokens_total") > (long long)json_array_size(shown)) {
		/* a long list: all of it, as the record holds it, streamed */
		fputs("\"[", stdout);
		if (each_token(num(r, "seq"), csv_token) != 0) {
			json_decref(shown);
			return -1;
		}
		fputs("]\",", stdout);
	} else
		csv_field(str(r, "tokens"), false);
	json_decref(shown);
	csv_field(str(r, "justification"), false);
	csv_field(str(r, "outcome"), true);
	return 0;
}

static void print_record(json_t *r)
{
	char when[32];
	fmt_time(num(r, "time_ms"), when, sizeof(when));
	if (!strcmp(str(r, "role"), "system")) /* controld's own */
		printf("#%lld %s system %s", num(r, "seq"), when, str(r, "action"));
	else
		printf("#%lld %s uid %lld (%s) %s", num(r, "seq"), when,
		       num(r, "uid"), str(r, "role"), str(r, "action"));
	if (json_object_get(r, "tenant"))
		printf(" tenant %s", str(r, "tenant"));
	printf(": %s\n", str(r, "outcome"));
	if (json_object_get(r, "justification"))
		printf("    justification: %s\n", str(r, "justification"));
	if (json_object_get(r, "tokens"))
		print_tokens(raw(r, "tokens"), num(r, "seq"),
			     (size_t)num(r, "tokens_total"));
}

/* The newest record's seq now (0: an empty log), or -1 (said on stderr). */
static long long newest_seq(void)
{
	json_t *a = call(json_pack("{s:s, s:i}", "cmd", "audit.show", "limit", 1));
	if (!common(a)) {
		fail(a);
		return -1;
	}
	json_t *recs = json_object_get(a, "records");
	long long seq = json_array_size(recs) > 0 ? num(json_array_get(recs, 0), "seq") : 0;
	json_decref(a);
	return seq;
}

/* Walk the pages of req (consumed) from after_seq on: each page written
 * as it comes, so an export of any size runs in the memory of one page.
 * Without --before it ends at the newest record when it started: the log
 * grows while it runs, and an export of a busy appliance must end. */
static int export_csv(json_t *req)
{
	if (json_object_get(req, "after_seq") == NULL)
		json_object_set_new(req, "after_seq", json_integer(0));
	if (json_object_get(req, "before_seq") == NULL) {
		long long last = newest_seq();
		if (last < 0) {
			json_decref(req);
			return EXIT_FAILED;
		}
		json_object_set_new(req, "before_seq", json_integer(last + 1));
	}
	json_object_set_new(req, "limit", json_integer(EXPORT_PAGE));
	fputs("seq,time,uid,role,action,tenant,tokens,justification,outcome\r\n", stdout);
	for (;;) {
		json_t *a = call(json_deep_copy(req));
		if (!common(a)) {
			json_decref(req);
			return fail(a);
		}
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(a, "records"), i, r)
			if (csv_record(r) != 0) {
				json_decref(a);
				json_decref(req);
				return EXIT_FAILED;
			}
		json_t *next = json_object_get(a, "next_cursor");
		if (!json_is_string(next)) {
			json_decref(a);
			break;
		}
		json_object_del(req, "after_seq"); /* before_seq, if given, stays */
		json_object_set(req, "cursor", next);
		json_decref(a);
	}
	json_decref(req);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
}

int cmd_audit(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "tenant", required_argument, NULL, 't' },
		{ "uid", required_argument, NULL, 'i' },
		{ "action", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "after", required_argument, NULL, 'A' },
		{ "before", required_argument, NULL, 'B' },
		{ "csv", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc < 2) {
		fputs("usage: veilctl audit show|export|verify [filters]\n", stderr);
		return EXIT_USAGE;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "verify") && argc == 2) {
		json_t *a = call(json_pack("{s:s}", "cmd", "audit.verify"));
		if (!common(a))
			return fail(a);
		bool intact = json_is_true(json_object_get(a, "intact"));
		if (!json_out && intact)
			printf("governance log intact: %lld records verified\n", num(a, "records"));
		else if (!json_out && json_is_true(json_object_get(a, "accepted")))
			printf("governance log recovered: %lld records verified; %s\n",
			       num(a, "records"), str(a, "problem"));
		else if (!json_out)
			printf("governance log BROKEN at record %lld: %s\n",
			       num(a, "first_bad_seq"), str(a, "problem"));
		json_decref(a);
		return intact ? EXIT_OK : EXIT_FAILED;
	}
	if (!strcmp(sub, "tokens")) {
		char *end;
		long long seq = argc == 3 ? strtoll(argv[2], &end, 10) : 0;
		if (argc != 3 || *argv[2] == '\0' || *end != '\0' || seq < 1) {
			fputs("usage: veilctl audit tokens SEQ\n", stderr);
			return EXIT_USAGE;
		}
		if (json_out) {
			json_t *a = call(json_pack("{s:s, s:I}", "cmd", "audit.tokens",
						   "seq", (json_int_t)seq));
			bool okk = common(a);
			json_decref(a);
			return okk ? EXIT_OK : EXIT_FAILED;
		}
		return each_token(seq, print_token) == 0 ? EXIT_OK : EXIT_FAILED;
	}
	if (strcmp(sub, "show") && strcmp(sub, "export")) {
		fprintf(stderr, "veilctl: unknown audit command \"%s\"\n%s", esc(sub), help_audit);
		return EXIT_USAGE;
	}
	json_t *req = json_pack("{s:s}", "cmd", "audit.show");
	bool csv = false, limited = false;
	int c;
	long long v;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'u':
			if (parse_time(optarg, &v) != 0) {
				fprintf(stderr, "veilctl: bad time \"%s\": give "
					"YYYY-MM-DDTHH:MM:SSZ (UTC, as audit show prints "
					"times), YYYY-MM-DD or milliseconds since 1970\n",
					esc(optarg));
				return EXIT_USAGE;
			}
			json_object_set_new(req, c == 's' ? "since_ms" : "until_ms", json_integer(v));
			break;
		case 't': json_object_set_new(req, "tenant", json_string(optarg)); break;
		case 'a': json_object_set_new(req, "action", json_string(optarg)); break;
		case 'i':
		case 'l':
		case 'A':
		case 'B': {
			static const char *const key[] = { "uid", "limit", "after_seq",
							   "before_seq" };
			static const char *const opt[] = { "uid", "limit", "after",
							   "before" };
			int k = c == 'i' ? 0 : c == 'l' ? 1 : c == 'A' ? 2 : 3;
			errno = 0;
			v = strtoll(optarg, NULL, 10);
			if (*optarg == '\0' || errno != 0 ||
			    strspn(optarg, "0123456789") != strlen(optarg)) {
				fprintf(stderr, "veilctl: --%s: \"%s\" is not a number\n",
					opt[k], esc(optarg));
				return EXIT_USAGE;
			}
			json_object_set_new(req, key[k], json_integer(v));
			limited |= c == 'l';
			break;
		}
		case 'c': csv = true; break;
		default: return EXIT_USAGE;
		}
	}
	if (!strcmp(sub, "export") && (!csv || limited)) {
		fputs("usage: veilctl audit export --csv [filters] (every record that "
		      "matches, from the oldest)\n", stderr);
		return EXIT_USAGE;
	}
	if (csv && strcmp(sub, "export")) {
		fputs("veilctl: --csv goes with audit export\n", stderr);
		return EXIT_USAGE;
	}
	if (csv) {
		bool saved = json_out;
		json_out = false;
		int rc = export_csv(req);
		json_out = saved;
		return rc;
	}
	json_t *a = call(req);
	if (!common(a))
		return fail(a);
	size_t i;
	json_t *r;
	if (!json_out) {
		json_array_foreach(json_object_get(a, "records"), i, r)
			print_record(r);
		/* one page: how to get the next (filters as given) */
		const char *next = json_string_value(json_object_get(a, "next_cursor"));
		if (next != NULL)
			fprintf(stderr, "veilctl: more records: add --%s %s for the next "
				"page\n", strncmp(next, "after:", 6) ? "before" : "after",
				strchr(next, ':') + 1);
	}
	json_decref(a);
	return EXIT_OK;
}

