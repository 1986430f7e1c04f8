/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The API's resolve and lookup: tokens to names and names to tokens,
 * each audited with its justification and counted against the rate limit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_pvt.h"
#include "byok.h"
#include "veil_name.h"

/* A name as JSON: a string when it is UTF-8 without NUL, else {"hex": ...}. */
static json_t *name_json(const uint8_t *name, size_t len)
{
	json_t *s = memchr(name, 0, len) ? NULL : json_stringn((const char *)name, len);
	if (s != NULL)
		return s;
	char *hex = malloc(2 * len + 1);
	if (hex == NULL)
		return json_null();
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", name[i]);
	json_t *o = json_pack("{s:s%}", "hex", hex, 2 * len);
	explicit_bzero(hex, 2 * len);
	free(hex);
	return o;
}

/* The tokens of a request as the JSON array text of its audit record.
 * Well-formed tokens need no escaping ([A-Za-z0-9_-]), so the text of a
 * large bulk request is joined directly; anything else goes through
 * jansson. */
static char *tokens_text(json_t *tokens)
{
	size_t n = json_array_size(tokens), len = 3;
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(tokens, i);
		const char *v = json_string_value(t);
		size_t l = json_string_length(t);
		if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789_-") != l)
			return json_dumps(tokens, JSON_COMPACT);
		len += l + 3;
	}
	char *out = malloc(len), *p = out;
	if (out == NULL)
		return NULL;
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(tokens, i);
		size_t l = json_string_length(t);
		if (i)
			*p++ = ',';
		*p++ = '"';
		memcpy(p, json_string_value(t), l);
		p += l;
		*p++ = '"';
	}
	*p++ = ']';
	*p = '\0';
	return out;
}

/* A record that names tokens: a list of up to CTL_TOKENS_INLINE_MAX in the
 * record itself; a longer one (a bulk resolve's 200,000) aside, in chunks
 * (struct ctl_token_list), so that listing records stays cheap. */
static int audit_tokens(struct ctld *d, const struct ctl_caller *who, const char *action,
			const char *tenant, json_t *tokens, const char *just,
			const char *outcome)
{
	size_t n = json_array_size(tokens);
	if (n <= CTL_TOKENS_INLINE_MAX) {
		char *text = tokens_text(tokens);
		int rc = text ? api_audit(d, who, action, tenant, text, just, outcome) : -1;
		free(text);
		return rc;
	}
	size_t nc = (n + CTL_TOKENS_CHUNK - 1) / CTL_TOKENS_CHUNK;
	char **chunk = calloc(nc, sizeof(*chunk)), *head = NULL;
	size_t *count = calloc(nc, sizeof(*count));
	json_t *part = json_array();
	int rc = -1;
	if (chunk == NULL || count == NULL || part == NULL)
		goto out;
	for (size_t i = 0; i < CTL_TOKENS_HEAD; i++)
		json_array_append(part, json_array_get(tokens, i));
	if ((head = tokens_text(part)) == NULL)
		goto out;
	for (size_t c = 0; c < nc; c++) {
		json_array_clear(part);
		for (size_t i = c * CTL_TOKENS_CHUNK; i < n && i < (c + 1) * CTL_TOKENS_CHUNK; i++)
			json_array_append(part, json_array_get(tokens, i));
		count[c] = json_array_size(part);
		if ((chunk[c] = tokens_text(part)) == NULL)
			goto out;
	}
	struct ctl_token_list list = { .count = n, .n_chunks = nc,
				       .chunk = (const char *const *)chunk,
				       .chunk_count = count };
	struct ctl_audit_rec r = {
		.uid = who->uid, .role = veil_role_name(who->role), .action = action,
		.tenant = tenant, .tokens = head, .justification = just,
		.outcome = outcome, .list = &list,
	};
	rc = ctl_audit_append(&d->store, &r);
out:
	for (size_t c = 0; chunk != NULL && c < nc; c++)
		free(chunk[c]);
	free(chunk);
	free(count);
	free(head);
	json_decref(part);
	return rc;
}

/* Collect the tokens of a resolve: "token", "tokens" or "text". */
static int collect_tokens(json_t *req, json_t *tokens, const char **why)
{
	json_t *one = json_object_get(req, "token"), *many = json_object_get(req, "tokens");
	json_t *text = json_object_get(req, "text");
	int given = (one != NULL) + (many != NULL) + (text != NULL);
	size_t idx;
	json_t *v;

	*why = "give one of \"token\", \"tokens\" or \"text\"";
	if (given != 1)
		return -1;
	if (one != NULL) {
		if (!json_is_string(one))
			return -1;
		json_array_append(tokens, one);
	} else if (many != NULL) {
		*why = "\"tokens\" must be an array of strings";
		if (!json_is_array(many) || json_array_size(many) == 0)
			return -1;
		json_array_foreach(many, idx, v)
			if (!json_is_string(v) || json_array_append(tokens, v) != 0)
				return -1;
	} else {
		*why = "\"text\" must be a string";
		if (!json_is_string(text))
			return -1;
		const char *p = json_string_value(text);
		size_t len = json_string_length(text), off, tl;
		while (len > 0 && veil_token_find(p, len, &off, &tl)) {
			json_array_append_new(tokens, json_stringn(p + off, tl));
			p += off + tl;
			len -= off + tl;
		}
	}
	*why = "too many tokens in one request";
	return json_array_size(tokens) <= CTLD_MAX_TOKENS ? 0 : -1;
}

static size_t name_cap(size_t token_len)
{
	size_t cap = token_len * 5 / 8 + 1; /* base32: 5 bits a character */
	return cap < VEIL_NAME_MAX ? cap : VEIL_NAME_MAX;
}

json_t *cmd_resolve(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	json_t *err = NULL;
	struct ctl_tenant *t = api_tenant_arg(d, req, &err);
	const char *just = api_get_str(req, "justification", 4096), *why;
	if (t == NULL)
		return err;
	if (!api_justification_ok(just))
		return api_refuse(d, who, "resolve", t->id, JUSTIFICATION_RULE);
	if (t->locked)
		return api_refuse(d, who, "resolve", t->id, ctl_byok_locked_why(d, t));
	json_t *tokens = json_array();
	if (collect_tokens(req, tokens, &why) != 0) {
		json_decref(tokens);
		return api_error("%s", why);
	}
	size_t n = json_array_size(tokens);
	char rwhy[192];
	if (!api_rate_ok(d, who->uid, (unsigned)n, false, rwhy, sizeof(rwhy))) {
		json_decref(tokens);
		return api_refuse(d, who, "resolve", t->id, rwhy);
	}

	/* a name is never longer than its token's ciphertext: size the
	 * (locked) name buffer by the tokens, not n times the longest name */
	size_t cap_total = 0;
	for (size_t i = 0; i < n; i++)
		cap_total += name_cap(json_string_length(json_array_get(tokens, i)));
	struct veil_item *it = calloc(n ? n : 1, sizeof(*it));
	uint8_t *names = veil_secmem_alloc(cap_total ? cap_total : 1);
	unsigned ok_count = 0;
	if (it == NULL || names == NULL) {
		free(it);
		veil_secmem_free(names);
		json_decref(tokens);
		return api_error("out of memory");
	}
	for (size_t i = 0, off = 0; i < n; i++) {
		json_t *s = json_array_get(tokens, i);
		size_t cap = name_cap(json_string_length(s));
		it[i] = (struct veil_item){ .in = (const uint8_t *)json_string_value(s),
					    .in_len = json_string_length(s),
					    .out = names + off, .out_cap = cap };
		off += cap;
	}
	ok_count = ctl_decrypt_tokens(d, t, it, n); /* unwraps what it needs */
	/* the record first, durable; names only after */
	char outcome[96];
	snprintf(outcome, sizeof(outcome), "ok: %u resolved, %zu failed", ok_count,
		 n - ok_count);
	int arc = audit_tokens(d, who, n > 1 ? "resolve.bulk" : "resolve", t->id, tokens,
			       just, outcome);
	if (arc != 0) {
		veil_secmem_free(names);
		free(it);
		json_decref(tokens);
		return api_error("the governance log cannot be written: nothing resolved");
	}
	/* the answer is by column, one entry per token in the order given:
	 * cheap to build and parse for a bulk of 100,000 */
	json_t *names_a = json_array(), *kinds = json_array(), *vers = json_array();
	json_t *errs = json_array(), *msgs = json_object();
	json_t *kind_name[2] = { json_string("user"), json_string("device") };
	for (size_t i = 0; i < n; i++) {
		if (it[i].status == VEIL_OK) {
			json_array_append_new(names_a, name_json(it[i].out, it[i].out_len));
			json_array_append(kinds, kind_name[it[i].kind != VEIL_KIND_USER]);
			json_array_append_new(vers, json_integer(it[i].version));
			json_array_append_new(errs, json_null());
		} else {
			const char *code = veil_status_name(it[i].status);
			json_array_append_new(names_a, json_null());
			json_array_append_new(kinds, json_null());
			json_array_append_new(vers, json_null());
			json_array_append_new(errs, json_string(code));
			json_object_set_new(msgs, code, json_string(veil_status_str(it[i].status)));
		}
	}
	json_decref(kind_name[0]);
	json_decref(kind_name[1]);
	explicit_bzero(names, cap_total);
	veil_secmem_free(names);
	free(it);
	json_t *a = api_ok();
	json_object_set_new(a, "resolved", json_integer(ok_count));
	json_object_set_new(a, "failed", json_integer((json_int_t)(n - ok_count)));
	if (json_object_get(req, "text") != NULL)
		json_object_set(a, "tokens", tokens); /* the ones found */
	json_decref(tokens);
	json_object_set_new(a, "names", names_a);
	json_object_set_new(a, "kinds", kinds);
	json_object_set_new(a, "versions", vers);
	json_object_set_new(a, "errors", errs);
	json_object_set_new(a, "messages", msgs);
	return a;
}

/* The rules a lookup applies: those asked for ("normalize": an array of
 * rule names), else those of the tenant's sources (norm.c). */
static int lookup_rules(struct ctld *d, const struct ctl_tenant *t, enum veil_kind kind,
			json_t *req, unsigned *mask, char *why, size_t whylen)
{
	json_t *asked = json_object_get(req, "normalize"), *v;
	size_t i;
	if (asked == NULL) {
		*mask = ctl_norms_of(&d->norms, t->id, kind);
		return 0;
	}
	*mask = 0;
	if (!json_is_array(asked) || json_array_size(asked) == 0 ||
	    json_array_size(asked) > VEIL_NORM_RULES) {
		snprintf(why, whylen, "\"normalize\" must be an array of 1 to %d rules "
			 "(none, lower, strip_domain, lower,strip_domain)", VEIL_NORM_RULES);
		return -1;
	}
	json_array_foreach(asked, i, v) {
		unsigned r;
		if (!json_is_string(v) || veil_norm_rule_parse(json_string_value(v), &r) != 0) {
			snprintf(why, whylen, "\"normalize\": \"%.40s\" is not a rule (none, "
				 "lower, strip_domain, lower,strip_domain)",
				 json_is_string(v) ? json_string_value(v) : "?");
			return -1;
		}
		*mask |= 1u << r;
	}
	return 0;
}

/* The distinct names a lookup encrypts: the name under each rule of mask
 * (a rule that leaves no name, such as the domain stripped from "CORP\",
 * gives none), each with the rules that give it. */
struct spelling {
	char name[VEIL_NAME_MAX];
	size_t len;
	unsigned rules;
};

static unsigned spellings(const char *name, size_t len, unsigned mask,
			  struct spelling sp[VEIL_NORM_RULES])
{
	unsigned n = 0;
	for (unsigned r = 0; r < VEIL_NORM_RULES; r++) {
		if (!(mask & (1u << r)))
			continue;
		size_t l = veil_name_normalize(r, name, len, sp[n].name);
		if (l == 0)
			continue;
		unsigned g = 0;
		while (g < n && (sp[g].len != l || memcmp(sp[g].name, sp[n].name, l)))
			g++;
		if (g == n)
			sp[n++].len = l;
		sp[g].rules |= 1u << r;
	}
	return n;
}

static json_t *rules_json(unsigned mask)
{
	json_t *a = json_array();
	for (unsigned r = 0; r < VEIL_NORM_RULES; r++)
		if (mask & (1u << r))
			json_array_append_new(a, json_string(veil_norm_rule_name(r)));
	return a;
}

json_t *cmd_lookup(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	json_t *err = NULL;
	struct ctl_tenant *t = api_tenant_arg(d, req, &err);
	const char *just = api_get_str(req, "justification", 4096);
	const char *kind_s = api_get_str(req, "kind", 16);
	json_t *name = json_object_get(req, "name");
	enum veil_kind kind;
	unsigned mask;
	char why[200];
	if (t == NULL)
		return err;
	if (kind_s == NULL || (strcmp(kind_s, "user") && strcmp(kind_s, "device")))
		return api_error("\"kind\" must be \"user\" or \"device\"");
	kind = kind_s[0] == 'u' ? VEIL_KIND_USER : VEIL_KIND_DEVICE;
	if (!json_is_string(name) || json_string_length(name) > VEIL_NAME_MAX)
		return api_error("\"name\" must be a string of at most %d bytes", VEIL_NAME_MAX);
	if (lookup_rules(d, t, kind, req, &mask, why, sizeof(why)) != 0)
		return api_error("%s", why);
	if (!api_justification_ok(just))
		return api_refuse(d, who, "lookup", t->id, JUSTIFICATION_RULE);
	if (t->locked)
		return api_refuse(d, who, "lookup", t->id, ctl_byok_locked_why(d, t));
	char rwhy[192];
	if (!api_rate_ok(d, who->uid, 1, true, rwhy, sizeof(rwhy)))
		return api_refuse(d, who, "lookup", t->id, rwhy);

	/* the name as each rule of the tenant's sources spells it, so that
	 * the token found is the one the dataplane wrote */
	struct spelling sp[VEIL_NORM_RULES] = { 0 };
	unsigned n_sp = spellings(json_string_value(name), json_string_length(name),
				  mask, sp);
	json_t *list = json_array();
	json_t *toks = json_array();
	uint8_t out[VEIL_NORM_RULES][VEIL_TOKEN_MAX];
	uint32_t *live = NULL;
	unsigned n_live = ctl_live_versions(d, t, &live);
	for (unsigned i = 0; i < n_live && n_sp > 0; i++) {
		uint32_t v = live[i];
		const struct veil_key *k = ctl_key_get(d, t, v); /* unwrapped if not kept */
		if (k == NULL)
			continue;
		struct veil_item it[VEIL_NORM_RULES];
		for (unsigned s = 0; s < n_sp; s++)
			it[s] = (struct veil_item){ .in = (const uint8_t *)sp[s].name,
						    .in_len = sp[s].len,
						    .out = out[s], .out_cap = sizeof(out[s]) };
		veil_token_encrypt_batch(d->engine, k, kind, it, n_sp);
		for (unsigned s = 0; s < n_sp; s++) {
			if (it[s].status != VEIL_OK)
				continue;
			json_t *tok = json_stringn((const char *)out[s], it[s].out_len);
			json_array_append(toks, tok);
			json_array_append_new(list, json_pack("{s:i, s:o, s:o, s:o}",
				"version", (int)v, "token", tok, "rules", rules_json(sp[s].rules),
				"name", name_json((const uint8_t *)sp[s].name, sp[s].len)));
		}
	}
	free(live);
	explicit_bzero(sp, sizeof(sp));
	/* the record names the tokens handed out, never the name */
	int arc = audit_tokens(d, who, "lookup", t->id, toks, just, "ok");
	json_decref(toks);
	if (arc != 0) {
		json_decref(list);
		return api_error("the governance log cannot be written: nothing looked up");
	}
	json_t *a = api_ok();
	json_object_set_new(a, "kind", json_string(kind_s));
	json_object_set_new(a, "rules", rules_json(mask));
	json_object_set_new(a, "tokens", list);
	return a;
}
