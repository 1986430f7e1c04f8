/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * JSON lines ("json"): one JSON object per message, as Zscaler NSS JSON
 * feeds and most cloud services send them.
 *
 * yajl parses the whole body (RFC 8259: UTF-8 checked, nothing after the
 * object but whitespace); the callbacks follow the path of object keys
 * from the root, dotted ("event.user"), and a string whose path is a key
 * of ctx->keys is an identity. Arrays add nothing to the path: a path
 * matches every string of an array under it, at any array depth. A value
 * that is not a string (number, boolean, null, object) is not an identity.
 * Keys are compared decoded ("\u006cogin" is "login").
 *
 * Spans: in a callback, yajl_get_bytes_consumed() is the offset just after
 * the token it reports, so a string's closing quote is the byte before it;
 * its opening quote is the first '"' after the end of the previous token
 * (only whitespace, ':' and ',' lie between), which is why every callback
 * records where its token ended. The span is the content between the
 * quotes, escaped as VDP_ESC_JSON.
 *
 * A body that starts with '{' and is not one valid JSON object, or that
 * nests containers deeper than JSON_DEPTH (its paths could not be
 * followed), is VDP_MALFORMED; a body that does not start with '{' is not
 * JSON (VDP_NOT_MINE).
 *
 * yajl 2.1 cannot reset a handle, so each message gets a new one (a few
 * small allocations from malloc's thread cache; a per-source arena for them
 * measured no faster, 179 vs 186 ns for a 78-byte line, and would hide
 * yajl's overruns from ASan). The rest of the parse lives on the stack.
 */
#include <string.h>
#include <yajl/yajl_parse.h>

#include "dp_pvt.h"

#define JSON_DEPTH 64 /* nested objects and arrays */

struct level {
	uint8_t long_path; /* the path here is longer than any key */
	int8_t kind;       /* of a value here: map: the current key's path;
			    * array: the path the array is under; -1: none */
	uint8_t len;       /* path length: map: with the current key;
			    * array: the path the array is under */
};

/* One message being parsed. */
struct json_parse {
	yajl_handle h;
	const char *text;            /* the JSON object */
	size_t text_off;             /* its offset in the message */
	size_t prev_end;             /* end of the previous token, in text */
	const struct vdp_keys *keys;
	struct vdp_fields *out;
	bool failed;                 /* too deep, too many fields, bad span */
	bool finishing;              /* in yajl_complete_parse() */
	unsigned depth;
	struct level lv[JSON_DEPTH];
	char path[VDP_KEY_MAX + 1];
};

/* ---- path tracking ---- */

/* Every callback: the token it reports ends here. */
static void tok_end(struct json_parse *st)
{
	st->prev_end = yajl_get_bytes_consumed(st->h);
}

/* The kind of a value at the current position, or -1. */
static int value_kind(const struct json_parse *st)
{
	return st->depth > 0 ? st->lv[st->depth - 1].kind : -1;
}

static int push(struct json_parse *st, bool is_map)
{
	tok_end(st);
	if (st->depth == JSON_DEPTH) {
		st->failed = true; /* deeper paths could not be followed */
		return 0;
	}
	struct level *l = &st->lv[st->depth];
	if (st->depth == 0) {
		*l = (struct level){ .kind = -1 };
	} else {
		const struct level *up = &st->lv[st->depth - 1];
		/* under the parent's current path; an array's values are
		 * values of that path, a map's wait for their keys */
		*l = (struct level){ .long_path = up->long_path, .len = up->len,
				     .kind = is_map ? -1 : up->kind };
	}
	st->depth++;
	return 1;
}

static int pop(void *ctx)
{
	struct json_parse *st = ctx;
	tok_end(st);
	if (st->depth > 0)
		st->depth--;
	return 1;
}

static int on_start_map(void *ctx)
{
	return push(ctx, true);
}

static int on_start_array(void *ctx)
{
	return push(ctx, false);
}

/* The base path length of the map at the top: its parent's path. */
static void map_base(const struct json_parse *st, size_t *len, bool *long_path)
{
	if (st->depth < 2) {
		*len = 0;
		*long_path = false;
		return;
	}
	const struct level *up = &st->lv[st->depth - 2];
	*len = up->len;
	*long_path = up->long_path;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t n)
{
	struct json_parse *st = ctx;
	tok_end(st);
	if (st->depth == 0)
		return 1;
	struct level *l = &st->lv[st->depth - 1];
	size_t base;
	bool long_path;
	map_base(st, &base, &long_path);
	size_t len = base + (base > 0) + n;
	if (long_path || len > VDP_KEY_MAX) {
		l->long_path = true;
		l->kind = -1;
		l->len = 0;
		return 1;
	}
	if (base > 0)
		st->path[base] = '.';
	memcpy(st->path + base + (base > 0), key, n);
	l->long_path = false;
	l->len = (uint8_t)len;
	l->kind = (int8_t)vdp_keys_find(st->keys, st->path, len);
	return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
	struct json_parse *st = ctx;
	(void)s;
	(void)n;
	size_t start = st->prev_end;
	tok_end(st);
	int kind = value_kind(st);
	if (kind < 0)
		return 1;
	if (st->finishing) {
		/* offsets now point into yajl's padding, not the message */
		st->failed = true;
		return 0;
	}
	size_t end = st->prev_end; /* just after the closing quote */
	const char *q = end > start ? memchr(st->text + start, '"', end - start) : NULL;
	if (q == NULL || st->text[end - 1] != '"' ||
	    (size_t)(q - st->text) + 1 > end - 1) {
		st->failed = true; /* cannot happen with yajl 2.1 */
		return 0;
	}
	size_t open = (size_t)(q - st->text);
	if (!vdp_fields_add(st->out, st->text_off + open + 1, end - 1 - (open + 1),
			    (enum veil_kind)kind, VDP_ESC_JSON)) {
		st->failed = true;
		return 0;
	}
	return 1;
}

static int on_null(void *ctx)
{
	tok_end(ctx);
	return 1;
}

static int on_boolean(void *ctx, int b)
{
	(void)b;
	tok_end(ctx);
	return 1;
}

static int on_number(void *ctx, const char *s, size_t n)
{
	(void)s;
	(void)n;
	tok_end(ctx);
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_boolean,
	.yajl_number = on_number, /* numbers stay text: no range errors */
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_map_key,
	.yajl_end_map = pop,
	.yajl_start_array = on_start_array,
	.yajl_end_array = pop,
};

/* ---- the format ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Offset of the first non-space byte of the body, or len. */
static size_t body_start(const struct vdp_msg *m)
{
	size_t i = m->body < m->len ? m->body : m->len;
	while (i < m->len && is_space(m->data[i]))
		i++;
	return i;
}

static bool json_detect(const struct vdp_msg *m)
{
	size_t i = body_start(m);
	return i < m->len && m->data[i] == '{';
}

static enum vdp_parse_rc json_parse(struct vdp_parse_ctx *ctx,
				    const struct vdp_msg *m,
				    struct vdp_fields *out)
{
	out->n = 0;
	size_t i = body_start(m);
	if (i == m->len || m->data[i] != '{')
		return VDP_NOT_MINE;

	struct json_parse st = {
		.text = m->data + i,
		.text_off = i,
		.keys = ctx->keys,
		.out = out,
	};
	st.h = yajl_alloc(&callbacks, NULL, &st);
	if (st.h == NULL)
		return VDP_MALFORMED; /* no memory: fail closed */
	yajl_status s = yajl_parse(st.h, (const unsigned char *)st.text,
				   m->len - i);
	/* An object reports all its strings before its end: completing
	 * only finds out whether it did end. */
	if (s == yajl_status_ok && !st.failed) {
		st.finishing = true;
		s = yajl_complete_parse(st.h);
	}
	yajl_free(st.h);
	if (s != yajl_status_ok || st.failed) {
		out->n = 0;
		return VDP_MALFORMED;
	}
	return VDP_PARSED;
}

static const char *const json_users[] = {
	"login", "user", "username", "deviceowner", "event.login",
	"event.user", "event.deviceowner", "Username", NULL,
};
static const char *const json_devices[] = {
	"devicehostname", "event.devicehostname", "Hostname", NULL,
};

const struct vdp_format vdp_fmt_json = {
	.name = "json",
	.detect = json_detect,
	.parse = json_parse,
	.parse_detects = true,
	.default_users = json_users,
	.default_devices = json_devices,
};
