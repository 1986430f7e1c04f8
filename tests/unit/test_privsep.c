/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The typed messages between veil-controld's api process and its key
 * process (control/privsep.h): what the encoder makes of callers' JSON,
 * that the decoder gives back exactly the fields the method takes, and
 * that it refuses every malformed message: cut short at any byte, a byte
 * more, an unknown version, method, field or type, a field the method
 * does not take or twice, a string or an array past its maximum or the
 * message, a string with a NUL or not UTF-8, a refusal with fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctld_pvt.h"
#include "privsep.h"

static int field_id(const char *name)
{
	for (size_t i = 0; i < ps_n_fields; i++)
		if (strcmp(ps_fields[i].name, name) == 0)
			return (int)i + 1;
	return -1;
}

static int method_id(const char *name)
{
	for (size_t i = 0; i < ps_n_methods; i++)
		if (strcmp(ps_methods[i].name, name) == 0)
			return (int)i + 1;
	return -1;
}

static void encode(const char *json, uint8_t **m, size_t *len)
{
	assert_int_equal(ps_encode(json, strlen(json), 42, m, len), 0);
}

/* The message decodes; its request in r. */
static void decode_ok(const uint8_t *m, size_t len, struct ps_request *r)
{
	char why[128] = "";
	int rc = ps_decode(m, len, r, why, sizeof(why));
	if (rc != 0)
		fail_msg("refused: %s", why);
}

static void decode_bad(const uint8_t *m, size_t len, const char *want)
{
	struct ps_request r;
	char why[128] = "";
	assert_int_equal(ps_decode(m, len, &r, why, sizeof(why)), -1);
	if (want != NULL && strstr(why, want) == NULL)
		fail_msg("refused for \"%s\", not \"%s\"", why, want);
}

static void round_trip(void **state)
{
	(void)state;
	uint8_t *m;
	size_t len;
	struct ps_request r;
	encode("{\"cmd\":\"resolve\",\"tenant\":\"acme\",\"tokens\":[\"veil_u1_aa\",\"\\u00e9\"],"
	       "\"justification\":\"INC-1 a reason\"}", &m, &len);
	decode_ok(m, len, &r);
	assert_int_equal(r.id, 42);
	assert_string_equal(ps_methods[r.method].name, "resolve");
	assert_null(r.err);
	json_t *want = json_pack("{s:s, s:[s,s], s:s}", "tenant", "acme", "tokens",
				 "veil_u1_aa", "\xc3\xa9", "justification", "INC-1 a reason");
	/* every field the method takes, with its type (one it does not take
	 * is refused: see refusals) */
	assert_true(json_equal(r.req, want));
	json_decref(want);
	ps_request_free(&r);
	free(m);

	encode("{\"cmd\":\"config.set\",\"name\":\"rate_limit\",\"value\":null}", &m, &len);
	decode_ok(m, len, &r);
	assert_true(json_is_null(json_object_get(r.req, "value")));
	ps_request_free(&r);
	free(m);

	encode("{\"cmd\":\"tenant.delete\",\"tenant\":\"t\",\"yes\":true,\"reason\":\"r\"}",
	       &m, &len);
	decode_ok(m, len, &r);
	assert_true(json_is_true(json_object_get(r.req, "yes")));
	ps_request_free(&r);
	free(m);

	encode("{\"cmd\":\"audit.show\",\"since_ms\":-5,\"limit\":9223372036854775807}",
	       &m, &len);
	decode_ok(m, len, &r);
	assert_int_equal(json_integer_value(json_object_get(r.req, "since_ms")), -5);
	assert_int_equal(json_integer_value(json_object_get(r.req, "limit")), INT64_MAX);
	ps_request_free(&r);
	free(m);
}

/* What the api process refuses comes as a refusal, with the method (the
 * role is checked first) and the tenant when that was valid. */
static void refusals(void **state)
{
	(void)state;
	static const struct {
		const char *json, *method, *err;
		bool tenant;
	} cases[] = {
		{ "{\"cmd\":", NULL, "not JSON: ", false },
		{ "[1]", NULL, "a request is a JSON object", false },
		{ "{\"cmd\":1}", NULL, "\"cmd\" must be a command name", false },
		{ "{\"cmd\":\"nope\"}", NULL, "unknown command \"nope\"", false },
		{ "{\"cmd\":\"key.destroy\",\"tenant\":\"acme\",\"version\":\"2\"}",
		  "key.destroy", "\"version\" must be an integer", true },
		{ "{\"cmd\":\"lookup\",\"tenant\":7}", "lookup", "\"tenant\" must be a tenant id",
		  false },
		{ "{\"cmd\":\"resolve\",\"tenant\":\"acme\",\"tokens\":[\"a\",3]}", "resolve",
		  "\"tokens\" must be an array of strings", true },
		{ "{\"cmd\":\"audit.show\",\"limit\":1.5}", "audit.show",
		  "\"limit\" must be an integer", false },
		{ "{\"cmd\":\"status\",\"cmd\":\"stats\"}", NULL, "duplicate", false },
		/* a field the table does not know, or one the method does not
		 * take, is refused: dropped, it would change the request's
		 * meaning unseen (a lookup without its normalization) */
		{ "{\"cmd\":\"lookup\",\"tenant\":\"acme\",\"kind\":\"user\",\"name\":\"bob\","
		  "\"justification\":\"INC-2\",\"normalise\":[\"lower\"]}", "lookup",
		  "\"normalise\" is not a field of lookup", true },
		{ "{\"cmd\":\"status\",\"name\":\"x\"}", "status",
		  "\"name\" is not a field of status", false },
		{ "{\"cmd\":\"key.roll\",\"tenant\":\"acme\",\"error\":\"x\"}", "key.roll",
		  "\"error\" is not a field of key.roll", true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *m;
		size_t len;
		struct ps_request r;
		encode(cases[i].json, &m, &len);
		decode_ok(m, len, &r);
		assert_non_null(r.err);
		if (strstr(r.err, cases[i].err) == NULL)
			fail_msg("%s: \"%s\", not \"%s\"", cases[i].json, r.err, cases[i].err);
		if (cases[i].method == NULL)
			assert_int_equal(r.method, -1);
		else
			assert_string_equal(ps_methods[r.method].name, cases[i].method);
		assert_int_equal(json_object_get(r.req, "tenant") != NULL, cases[i].tenant);
		ps_request_free(&r);
		free(m);
	}
	/* a tenant id past the maximum: the handler's wording */
	char json[200];
	snprintf(json, sizeof(json), "{\"cmd\":\"tenant.create\",\"tenant\":\"%070d\"}", 0);
	uint8_t *m;
	size_t len;
	struct ps_request r;
	encode(json, &m, &len);
	decode_ok(m, len, &r);
	assert_non_null(strstr(r.err, "bad tenant id"));
	ps_request_free(&r);
	free(m);
}

/* A valid message cut at any byte, or with one more, does not decode. */
static void cut_and_longer(void **state)
{
	(void)state;
	uint8_t *m;
	size_t len;
	encode("{\"cmd\":\"lookup\",\"tenant\":\"acme\",\"kind\":\"user\",\"name\":\"bob\","
	       "\"justification\":\"INC-2 checking\"}", &m, &len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *c = malloc(n ? n : 1);
		memcpy(c, m, n);
		decode_bad(c, n, NULL);
		free(c);
	}
	uint8_t *c = malloc(len + 1);
	memcpy(c, m, len);
	c[len] = 0;
	decode_bad(c, len + 1, "bytes after the last field");
	free(c);
	free(m);
}

/* A message built by hand. */
struct msg {
	uint8_t b[1024];
	size_t n;
};

static void u8(struct msg *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)v;
}

static void be(struct msg *m, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		m->b[m->n++] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void str(struct msg *m, const char *s, size_t n)
{
	be(m, n, 4);
	memcpy(m->b + m->n, s, n);
	m->n += n;
}

static void head(struct msg *m, const char *method, unsigned n_fields)
{
	m->n = 0;
	u8(m, PS_VERSION);
	be(m, 7, 8);
	u8(m, method ? (unsigned)method_id(method) : 0);
	u8(m, n_fields);
}

static void hand_made(void **state)
{
	(void)state;
	struct msg m;
	struct ps_request r;
	unsigned tenant = (unsigned)field_id("tenant");

	/* the good one the others spoil */
	head(&m, "tenant.show", 1);
	u8(&m, tenant);
	u8(&m, PS_STR);
	str(&m, "acme", 4);
	decode_ok(m.b, m.n, &r);
	assert_string_equal(json_string_value(json_object_get(r.req, "tenant")), "acme");
	ps_request_free(&r);

	m.b[0] = PS_VERSION + 1;
	decode_bad(m.b, m.n, "unknown version");

	head(&m, NULL, 0);
	m.b[9] = (uint8_t)(ps_n_methods + 1);
	decode_bad(m.b, m.n, "unknown method");

	head(&m, NULL, 0); /* no method: only a refusal */
	decode_bad(m.b, m.n, "bad field count");

	head(&m, "tenant.show", PS_FIELDS_MAX + 1);
	decode_bad(m.b, m.n, "bad field count");

	head(&m, "tenant.show", 1);
	u8(&m, (unsigned)ps_n_fields + 1);
	u8(&m, PS_STR);
	str(&m, "x", 1);
	decode_bad(m.b, m.n, "does not take");

	head(&m, "tenant.show", 1); /* a field of another method */
	u8(&m, (unsigned)field_id("tokens"));
	u8(&m, PS_STRS);
	be(&m, 0, 4);
	decode_bad(m.b, m.n, "does not take");

	head(&m, "tenant.show", 2);
	for (int i = 0; i < 2; i++) {
		u8(&m, tenant);
		u8(&m, PS_STR);
		str(&m, "acme", 4);
	}
	decode_bad(m.b, m.n, "twice");

	head(&m, "tenant.show", 1);
	u8(&m, tenant);
	u8(&m, PS_INT);
	be(&m, 1, 8);
	decode_bad(m.b, m.n, "type");

	head(&m, "tenant.show", 1);
	u8(&m, tenant);
	u8(&m, 99);
	decode_bad(m.b, m.n, "type");

	char long_id[VEIL_TENANT_MAX + 1];
	memset(long_id, 'a', sizeof(long_id));
	head(&m, "tenant.show", 1);
	u8(&m, tenant);
	u8(&m, PS_STR);
	str(&m, long_id, sizeof(long_id));
	decode_bad(m.b, m.n, "length");

	head(&m, "tenant.show", 1); /* a length past the message */
	u8(&m, tenant);
	u8(&m, PS_STR);
	be(&m, 0xffffffffu, 4);
	decode_bad(m.b, m.n, "length");

	head(&m, "tenant.show", 1);
	u8(&m, tenant);
	u8(&m, PS_STR);
	str(&m, "ac\0e", 4);
	decode_bad(m.b, m.n, "NUL");

	head(&m, "tenant.show", 1);
	u8(&m, tenant);
	u8(&m, PS_STR);
	str(&m, "ac\xff", 3);
	decode_bad(m.b, m.n, "UTF-8");

	head(&m, "resolve", 1); /* an array's count past the message */
	u8(&m, (unsigned)field_id("tokens"));
	u8(&m, PS_STRS);
	be(&m, 1000, 4);
	str(&m, "a", 1);
	decode_bad(m.b, m.n, "count");

	head(&m, "resolve", 1); /* past the field's maximum */
	u8(&m, (unsigned)field_id("tokens"));
	u8(&m, PS_STRS);
	be(&m, CTLD_MAX_TOKENS + 1, 4);
	decode_bad(m.b, m.n, "count");

	head(&m, "key.destroy", 2); /* a refusal says nothing but why */
	u8(&m, (unsigned)field_id("error"));
	u8(&m, PS_STR);
	str(&m, "no", 2);
	u8(&m, (unsigned)field_id("version"));
	u8(&m, PS_INT);
	be(&m, 2, 8);
	decode_bad(m.b, m.n, "a refusal with fields");

	head(&m, "stats", 1); /* an integer cut short */
	u8(&m, tenant);
	u8(&m, PS_STR);
	str(&m, "a", 1);
	head(&m, "key.destroy", 1);
	u8(&m, (unsigned)field_id("version"));
	u8(&m, PS_INT);
	be(&m, 2, 4);
	decode_bad(m.b, m.n, "cut short");
}

/* Past the maximum size: refused before a byte is read. */
static void too_large(void **state)
{
	(void)state;
	uint8_t one = PS_VERSION;
	decode_bad(&one, (size_t)PS_MSG_MAX + 1, "maximum size");
}

/* Every method of the table is one the key process has (and answers
 * something else than "unknown command"). */
static void methods_known(void **state)
{
	(void)state;
	for (size_t i = 0; i < ps_n_methods; i++) {
		char json[96];
		uint8_t *m;
		size_t len;
		struct ps_request r;
		snprintf(json, sizeof(json), "{\"cmd\":\"%s\"}", ps_methods[i].name);
		encode(json, &m, &len);
		decode_ok(m, len, &r);
		assert_int_equal(r.method, (int)i);
		assert_null(r.err);
		ps_request_free(&r);
		free(m);
	}
}

/* The api process's Landlock domain, in a child of the test: no file
 * opens (not even one the uid could read), and where the kernel scopes
 * signals (ABI 6), no signal to its parent. */
static void landlock_child(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			_exit(10);
		if (ps_landlock_nothing() != 0)
			_exit(errno == ENOSYS || errno == EOPNOTSUPP ? 77 : 11);
		if (open("/proc/self/status", O_RDONLY) >= 0 || errno != EACCES)
			_exit(12);
		if (open("/", O_RDONLY | O_DIRECTORY) >= 0)
			_exit(13);
		long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1u);
		if (abi >= 6 && kill(getppid(), 0) == 0)
			_exit(14);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip(); /* no Landlock in this kernel */
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(refusals),
		cmocka_unit_test(cut_and_longer),
		cmocka_unit_test(hand_made),
		cmocka_unit_test(too_large),
		cmocka_unit_test(methods_known),
		cmocka_unit_test(landlock_child),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
