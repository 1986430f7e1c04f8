/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The typed messages from veil-controld's api process to its key process
 * (privsep.h): the table of methods and their fields, the encoder the api
 * process runs on callers' JSON, and the decoder the key process runs on
 * what the api process sends, with every length checked against the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctld_pvt.h"
#include "privsep.h"
#include "veil_name.h"

#define STR_T PS_T(PS_STR)
#define INT_T PS_T(PS_INT)

/* The fields any method may carry. A string's max is the largest any
 * handler takes (the handler still checks its own, smaller, rules). */
enum {
	F_ERROR, F_TENANT, F_STATE, F_ROLL_DAYS, F_ACTION, F_KEY_LABEL, F_KEY_ID,
	F_REASON, F_PUBLIC_KEY, F_JUSTIFICATION, F_YES, F_VERSION, F_TOKEN,
	F_TOKENS, F_TEXT, F_KIND, F_NAME, F_SINCE_MS, F_UNTIL_MS, F_UID, F_LIMIT,
	F_AFTER_SEQ, F_BEFORE_SEQ, F_CURSOR, F_SEQ, F_OFFSET, F_GID, F_ROLE,
	F_VALUE, F_NORMALIZE, F_PASSPHRASE, F_RECOVERY_KEY, F__COUNT
};

#define PS_TOKEN_MAX (64u << 10) /* one token as a caller may send it */

const struct ps_field ps_fields[] = {
	[F_ERROR] = { "error", STR_T, PS_ERR_MAX, 0, "a string" },
	[F_TENANT] = { "tenant", STR_T, VEIL_TENANT_MAX, 0, "a tenant id" },
	[F_STATE] = { "state", STR_T, 16, 0, "a string" },
	[F_ROLL_DAYS] = { "roll_days", INT_T, 0, 0, "an integer" },
	[F_ACTION] = { "action", STR_T, 32, 0, "a string" },
	[F_KEY_LABEL] = { "key_label", STR_T, 200, 0, "a string" },
	[F_KEY_ID] = { "key_id", STR_T, 128, 0, "a string" },
	[F_REASON] = { "reason", STR_T, 4096, 0, "a string" },
	[F_PUBLIC_KEY] = { "public_key", STR_T, 16384, 0, "a string" },
	[F_JUSTIFICATION] = { "justification", STR_T, 4096, 0, "a string" },
	[F_YES] = { "yes", PS_T(PS_TRUE) | PS_T(PS_FALSE), 0, 0, "true or false" },
	[F_VERSION] = { "version", INT_T, 0, 0, "an integer" },
	[F_TOKEN] = { "token", STR_T, PS_TOKEN_MAX, 0, "a string" },
	[F_TOKENS] = { "tokens", PS_T(PS_STRS), CTLD_MAX_TOKENS, PS_TOKEN_MAX,
		       "an array of strings" },
	[F_TEXT] = { "text", STR_T, VEIL_API_MSG_MAX, 0, "a string" },
	[F_KIND] = { "kind", STR_T, 16, 0, "a string" },
	[F_NAME] = { "name", STR_T, VEIL_NAME_MAX, 0, "a string" },
	[F_SINCE_MS] = { "since_ms", INT_T, 0, 0, "an integer" },
	[F_UNTIL_MS] = { "until_ms", INT_T, 0, 0, "an integer" },
	[F_UID] = { "uid", INT_T, 0, 0, "an integer" },
	[F_LIMIT] = { "limit", INT_T, 0, 0, "an integer" },
	[F_AFTER_SEQ] = { "after_seq", INT_T, 0, 0, "an integer" },
	[F_BEFORE_SEQ] = { "before_seq", INT_T, 0, 0, "an integer" },
	[F_CURSOR] = { "cursor", STR_T, 64, 0, "a string" },
	[F_SEQ] = { "seq", INT_T, 0, 0, "an integer" },
	[F_OFFSET] = { "offset", INT_T, 0, 0, "an integer" },
	[F_GID] = { "gid", INT_T, 0, 0, "an integer" },
	[F_ROLE] = { "role", STR_T, 32, 0, "a string" },
	[F_VALUE] = { "value", INT_T | PS_T(PS_NULL), 0, 0, "a number or null" },
	[F_NORMALIZE] = { "normalize", PS_T(PS_STRS), VEIL_NORM_RULES, 32,
			  "an array of rule names" },
	/* backup.create: the lengths are checked by the key process */
	[F_PASSPHRASE] = { "passphrase", STR_T, 4096, 0, "a string" },
	[F_RECOVERY_KEY] = { "recovery_key", STR_T, 16384, 0, "a string" },
};
const size_t ps_n_fields = F__COUNT;

#define B(f) (UINT64_C(1) << (f))
/* every method: the refusal, and the tenant its scope is checked on */
#define ANY (B(F_ERROR) | B(F_TENANT))

/* The methods of the admin API (api.c's table names the same). */
const struct ps_method ps_methods[] = {
	{ "status", ANY },
	{ "stats", ANY },
	{ "tenant.create", ANY },
	{ "tenant.list", ANY },
	{ "tenant.show", ANY },
	{ "tenant.set", ANY | B(F_STATE) | B(F_ROLL_DAYS) },
	{ "tenant.byok", ANY | B(F_ACTION) | B(F_KEY_LABEL) | B(F_KEY_ID) | B(F_REASON) },
	{ "tenant.export", ANY | B(F_PUBLIC_KEY) | B(F_JUSTIFICATION) },
	{ "tenant.delete", ANY | B(F_REASON) | B(F_YES) },
	{ "key.list", ANY },
	{ "key.roll", ANY },
	{ "key.destroy", ANY | B(F_VERSION) | B(F_REASON) },
	{ "resolve", ANY | B(F_TOKEN) | B(F_TOKENS) | B(F_TEXT) | B(F_JUSTIFICATION) },
	{ "lookup", ANY | B(F_KIND) | B(F_NAME) | B(F_JUSTIFICATION) | B(F_NORMALIZE) },
	{ "audit.show", ANY | B(F_SINCE_MS) | B(F_UNTIL_MS) | B(F_UID) | B(F_LIMIT) |
		B(F_ACTION) | B(F_AFTER_SEQ) | B(F_BEFORE_SEQ) | B(F_CURSOR) },
	{ "audit.tokens", ANY | B(F_SEQ) | B(F_OFFSET) | B(F_LIMIT) },
	{ "audit.verify", ANY },
	{ "role.list", ANY },
	{ "role.grant", ANY | B(F_UID) | B(F_GID) | B(F_ROLE) },
	{ "role.revoke", ANY | B(F_UID) | B(F_GID) },
	{ "config.show", ANY },
	{ "config.set", ANY | B(F_NAME) | B(F_VALUE) },
	{ "backup.create", ANY | B(F_JUSTIFICATION) | B(F_PASSPHRASE) | B(F_RECOVERY_KEY) },
};
const size_t ps_n_methods = sizeof(ps_methods) / sizeof(ps_methods[0]);

/* ---- the encoder (api process) ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};

static void put(struct buf *b, const void *src, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (np == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void put_u8(struct buf *b, unsigned v)
{
	uint8_t x = (uint8_t)v;
	put(b, &x, 1);
}

static void put_be(struct buf *b, uint64_t v, unsigned n)
{
	uint8_t x[8];
	for (unsigned i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	put(b, x, n);
}

static void put_str(struct buf *b, const char *s, size_t n)
{
	put_be(b, n, 4);
	put(b, s, n);
}

static int method_index(const char *name)
{
	for (size_t i = 0; i < ps_n_methods; i++)
		if (strcmp(ps_methods[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Why field f's value v does not fit its table entry, or NULL. */
static const char *field_check(unsigned f, json_t *v, char *why, size_t whylen)
{
	const struct ps_field *pf = &ps_fields[f];
	unsigned t = json_is_string(v) ? PS_STR : json_is_integer(v) ? PS_INT :
		json_is_true(v) ? PS_TRUE : json_is_false(v) ? PS_FALSE :
		json_is_null(v) ? PS_NULL : json_is_array(v) ? PS_STRS : 0;
	if (t == 0 || !(pf->types & PS_T(t))) {
		snprintf(why, whylen, "\"%s\" must be %s", pf->name, pf->what);
		return why;
	}
	if (t == PS_STR && json_string_length(v) > pf->max) {
		if (f == F_TENANT)
			snprintf(why, whylen, "bad tenant id \"%.80s\": 1 to %d of a-z 0-9 "
				 ". _ -", json_string_value(v), VEIL_TENANT_MAX);
		else
			snprintf(why, whylen, "\"%s\" must be a string of at most %zu bytes",
				 pf->name, pf->max);
		return why;
	}
	if (t == PS_STRS) {
		if (json_array_size(v) > pf->max) {
			snprintf(why, whylen, "too many %s in one request (at most %zu)",
				 pf->name, pf->max);
			return why;
		}
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			if (!json_is_string(e) || json_string_length(e) > pf->item_max) {
				snprintf(why, whylen, "\"%s\" must be an array of strings "
					 "of at most %zu bytes", pf->name, pf->item_max);
				return why;
			}
	}
	return NULL;
}

static void put_field(struct buf *b, unsigned f, json_t *v)
{
	put_u8(b, f + 1);
	if (json_is_string(v)) {
		put_u8(b, PS_STR);
		put_str(b, json_string_value(v), json_string_length(v));
	} else if (json_is_integer(v)) {
		put_u8(b, PS_INT);
		put_be(b, (uint64_t)json_integer_value(v), 8);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		put_u8(b, PS_STRS);
		put_be(b, json_array_size(v), 4);
		json_array_foreach(v, i, e)
			put_str(b, json_string_value(e), json_string_length(e));
	} else
		put_u8(b, json_is_true(v) ? PS_TRUE : json_is_false(v) ? PS_FALSE : PS_NULL);
}

/* A refused request: what to say, and the tenant if it was valid. */
static void put_refusal(struct buf *b, int method, json_t *req, const char *why)
{
	json_t *t = req ? json_object_get(req, "tenant") : NULL;
	char tmp[8];
	bool with_tenant = method >= 0 && t != NULL &&
			   field_check(F_TENANT, t, tmp, sizeof(tmp)) == NULL;
	put_u8(b, method + 1);
	put_u8(b, with_tenant ? 2 : 1);
	put_u8(b, F_ERROR + 1);
	put_u8(b, PS_STR);
	size_t n = strlen(why);
	put_str(b, why, n < PS_ERR_MAX ? n : PS_ERR_MAX);
	if (with_tenant)
		put_field(b, F_TENANT, t);
}

/* Cut s to at most max bytes without splitting a UTF-8 character. */
static void utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	s[max] = '\0';
}

int ps_encode(const char *json, size_t len, uint64_t id, uint8_t **out,
	      size_t *outlen)
{
	struct buf b = { 0 };
	char why[PS_ERR_MAX + 64];
	json_error_t jerr;
	put_u8(&b, PS_VERSION);
	put_be(&b, id, 8);
	json_t *req = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	int m = -1;
	const char *cmd;
	if (req == NULL) {
		snprintf(why, sizeof(why), "not JSON: %s at byte %d", jerr.text,
			 jerr.position);
		goto refuse;
	}
	if (!json_is_object(req)) {
		snprintf(why, sizeof(why), "a request is a JSON object");
		goto refuse;
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (cmd == NULL || cmd[0] == '\0' ||
	    json_string_length(json_object_get(req, "cmd")) > 32) {
		snprintf(why, sizeof(why), "\"cmd\" must be a command name");
		goto refuse;
	}
	m = method_index(cmd);
	if (m < 0) {
		snprintf(why, sizeof(why), "unknown command \"%.32s\"", cmd);
		goto refuse;
	}
	/* a field the method does not take is refused, not dropped: a
	 * request without it could mean something else (a lookup without its
	 * normalization), and a field added to the API but not to ps_fields
	 * and ps_methods fails loudly instead of going unseen */
	const char *key;
	json_t *val;
	json_object_foreach(req, key, val) {
		if (strcmp(key, "cmd") == 0)
			continue;
		unsigned f = 0;
		while (f < ps_n_fields && strcmp(ps_fields[f].name, key) != 0)
			f++;
		if (f == ps_n_fields || f == F_ERROR || !(ps_methods[m].fields & B(f))) {
			snprintf(why, sizeof(why), "\"%.32s\" is not a field of %s",
				 key, ps_methods[m].name);
			goto refuse;
		}
	}
	/* the fields the method takes, each checked */
	unsigned n = 0;
	for (unsigned f = 0; f < ps_n_fields; f++) {
		json_t *v = json_object_get(req, ps_fields[f].name);
		if (v == NULL || f == F_ERROR || !(ps_methods[m].fields & B(f)))
			continue;
		if (field_check(f, v, why, sizeof(why)) != NULL)
			goto refuse;
		n++;
	}
	put_u8(&b, (unsigned)m + 1);
	put_u8(&b, n);
	for (unsigned f = 0; f < ps_n_fields; f++) {
		json_t *v = json_object_get(req, ps_fields[f].name);
		if (v != NULL && f != F_ERROR && (ps_methods[m].fields & B(f)))
			put_field(&b, f, v);
	}
	goto done;
refuse:
	utf8_cut(why, PS_ERR_MAX);
	b.len = 9; /* version and id stay */
	put_refusal(&b, m, req, why);
done:
	json_decref(req);
	if (b.failed || b.len > PS_MSG_MAX) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*outlen = b.len;
	return 0;
}

/* ---- the decoder (key process): nothing in the message is trusted ---- */

struct rd {
	const uint8_t *p;
	size_t left;
};

static bool get_be(struct rd *r, unsigned n, uint64_t *v)
{
	if (r->left < n)
		return false;
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v = *v << 8 | r->p[i];
	r->p += n;
	r->left -= n;
	return true;
}

/* A string of at most max bytes: valid UTF-8 without NUL (json_stringn
 * checks the UTF-8). */
static json_t *get_str(struct rd *r, size_t max, const char **why)
{
	uint64_t n;
	if (!get_be(r, 4, &n) || n > max || n > r->left) {
		*why = "a string's length is past its field's maximum or the message";
		return NULL;
	}
	if (memchr(r->p, '\0', n) != NULL) {
		*why = "a string holds a NUL";
		return NULL;
	}
	json_t *s = json_stringn((const char *)r->p, n);
	if (s == NULL) {
		*why = "a string is not UTF-8";
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return s;
}

static json_t *get_value(struct rd *r, const struct ps_field *pf, unsigned type,
			 const char **why)
{
	uint64_t v;
	switch (type) {
	case PS_STR:
		return get_str(r, pf->max, why);
	case PS_INT:
		if (!get_be(r, 8, &v)) {
			*why = "an integer is cut short";
			return NULL;
		}
		return json_integer((json_int_t)(int64_t)v);
	case PS_TRUE:
		return json_true();
	case PS_FALSE:
		return json_false();
	case PS_NULL:
		return json_null();
	case PS_STRS:
		if (!get_be(r, 4, &v) || v > pf->max || v > r->left / 4) {
			*why = "an array's count is past its field's maximum or the message";
			return NULL;
		}
		json_t *a = json_array();
		for (uint64_t i = 0; a != NULL && i < v; i++) {
			json_t *s = get_str(r, pf->item_max, why);
			if (s == NULL || json_array_append_new(a, s) != 0) {
				json_decref(a);
				return NULL;
			}
		}
		if (a == NULL)
			*why = "out of memory";
		return a;
	}
	*why = "unknown type";
	return NULL;
}

void ps_request_free(struct ps_request *r)
{
	json_decref(r->req);
	r->req = NULL;
	r->err = NULL;
}

int ps_decode(const uint8_t *m, size_t len, struct ps_request *out, char *why,
	      size_t whylen)
{
	struct rd r = { m, len };
	uint64_t version, id, method, n;
	const char *bad = NULL;
	json_t *req = NULL;
	if (len > PS_MSG_MAX) {
		bad = "the message is over the maximum size";
		goto fail;
	}
	if (!get_be(&r, 1, &version) || !get_be(&r, 8, &id) || !get_be(&r, 1, &method) ||
	    !get_be(&r, 1, &n)) {
		bad = "the header is cut short";
		goto fail;
	}
	if (version != PS_VERSION) {
		bad = "unknown version";
		goto fail;
	}
	if (method > ps_n_methods) {
		bad = "unknown method";
		goto fail;
	}
	if (n > PS_FIELDS_MAX || (method == 0 && n != 1)) {
		bad = "bad field count";
		goto fail;
	}
	uint64_t allowed = method == 0 ? B(F_ERROR) : ps_methods[method - 1].fields;
	uint64_t seen = 0;
	req = json_object();
	if (req == NULL) {
		bad = "out of memory";
		goto fail;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t f, type;
		if (!get_be(&r, 1, &f) || !get_be(&r, 1, &type)) {
			bad = "a field is cut short";
			goto fail;
		}
		if (f == 0 || f > ps_n_fields || !(allowed & B(f - 1))) {
			bad = "a field the method does not take";
			goto fail;
		}
		if (seen & B(f - 1)) {
			bad = "a field twice";
			goto fail;
		}
		seen |= B(f - 1);
		const struct ps_field *pf = &ps_fields[f - 1];
		if (type == 0 || type > PS_STRS || !(pf->types & PS_T(type))) {
			bad = "a type the field does not take";
			goto fail;
		}
		json_t *v = get_value(&r, pf, (unsigned)type, &bad);
		if (v == NULL || json_object_set_new(req, pf->name, v) != 0) {
			bad = bad ? bad : "out of memory";
			goto fail;
		}
	}
	if (r.left != 0) {
		bad = "bytes after the last field";
		goto fail;
	}
	/* a refusal says only what it refused, and of which tenant */
	if ((seen & B(F_ERROR)) && (seen & ~(B(F_ERROR) | B(F_TENANT)))) {
		bad = "a refusal with fields";
		goto fail;
	}
	*out = (struct ps_request){ .id = id, .method = (int)method - 1, .req = req,
				    .err = json_string_value(json_object_get(req, "error")) };
	return 0;
fail:
	json_decref(req);
	snprintf(why, whylen, "%s", bad);
	return -1;
}
