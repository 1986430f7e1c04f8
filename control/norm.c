/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The normalizations of each tenant's sources, for lookups. veil-dataplane
 * encrypts a user name after its source's normalize_user, strip_domain
 * and keep_domain (veil.conf [source NAME], crypto/name.c); a lookup finds
 * the token it wrote only under the same rule. controld reads those keys
 * (and tenant) of the same file at start and on reload, and keeps, per
 * tenant, the set of rules its sources use. The dataplane checks the rest
 * of its sections; the values of these keys are checked here too, with
 * the same parser, so that both daemons read them alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctld_pvt.h"
#include "veil_name.h"

/* One [source NAME] section as the file has it (a name may come back in
 * a later section: its keys then add to the earlier ones'). */
struct occ {
	char name[128];
	char tenant[VEIL_TENANT_MAX + 1];
	unsigned seq;
	unsigned set;              /* SET_ bits: the keys this section has */
	struct veil_name_opts o;
};
enum { SET_TENANT = 1, SET_KEEP = 2, SET_STRIP = 4, SET_LOWER = 8 };

struct parse {
	struct occ *occ;
	size_t n, cap;
	char msg[240];
};

static struct occ *occ_for(struct parse *p, const char *name)
{
	if (p->n > 0 && !strcmp(p->occ[p->n - 1].name, name))
		return &p->occ[p->n - 1];
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct occ *o = realloc(p->occ, cap * sizeof(*o));
		if (o == NULL) {
			snprintf(p->msg, sizeof(p->msg), "out of memory");
			return NULL;
		}
		p->occ = o;
		p->cap = cap;
	}
	struct occ *o = &p->occ[p->n];
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->seq = (unsigned)p->n++;
	return o;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse *p = user;
	if (strncmp(section, "source ", 7) != 0)
		return 1; /* config.c and veil-dataplane check the others */
	const char *sname = section + 7;
	while (*sname == ' ')
		sname++;
	unsigned bit = !strcmp(name, "tenant") ? SET_TENANT :
		       !strcmp(name, "keep_domain") ? SET_KEEP :
		       !strcmp(name, "strip_domain") ? SET_STRIP :
		       !strcmp(name, "normalize_user") ? SET_LOWER : 0;
	if (bit == 0)
		return 1; /* the dataplane's */
	struct occ *o = occ_for(p, sname);
	if (o == NULL)
		return 0;
	o->set |= bit;
	if (bit == SET_TENANT) {
		if (!veil_tenant_valid(value)) {
			snprintf(p->msg, sizeof(p->msg), "[source %.40s] tenant: \"%.64s\" "
				 "is not a tenant id ([a-z0-9_.-], 1 to %d)", sname, value,
				 VEIL_TENANT_MAX);
			return 0;
		}
		snprintf(o->tenant, sizeof(o->tenant), "%s", value);
		return 1;
	}
	char err[160];
	if (veil_name_option(&o->o, name, value, err, sizeof(err)) < 0) {
		snprintf(p->msg, sizeof(p->msg), "[source %.40s] %s", sname, err);
		return 0;
	}
	return 1;
}

static int by_name(const void *a, const void *b)
{
	const struct occ *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_tenant(const void *a, const void *b)
{
	return strcmp(((const struct occ *)a)->tenant, ((const struct occ *)b)->tenant);
}

/* Fold the sections of each source into one, the later keys over the
 * earlier (as veil-dataplane applies them); @return the sources. */
static size_t fold_sources(struct occ *occ, size_t n)
{
	size_t out = 0;
	if (n == 0)
		return 0; /* no [source]: occ may be NULL, which qsort must not get */
	qsort(occ, n, sizeof(*occ), by_name);
	for (size_t i = 0; i < n; i++) {
		struct occ *s = &occ[i];
		if (out > 0 && !strcmp(occ[out - 1].name, s->name)) {
			struct occ *d = &occ[out - 1];
			if (s->set & SET_TENANT)
				memcpy(d->tenant, s->tenant, sizeof(d->tenant));
			if (s->set & SET_KEEP)
				d->o.keep_domain = s->o.keep_domain;
			if (s->set & SET_STRIP)
				d->o.strip_domain = s->o.strip_domain;
			if (s->set & SET_LOWER)
				d->o.lower = s->o.lower;
			d->set |= s->set;
		} else
			occ[out++] = *s;
	}
	return out;
}

int ctl_norms_load(struct ctl_norms *out, const char *path, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (path == NULL || path[0] == '\0')
		return 0;
	struct parse p = { 0 };
	if (veil_ini_parse(path, handler, &p, p.msg, err, errlen) != 0) {
		free(p.occ);
		return -1;
	}
	size_t n = fold_sources(p.occ, p.n), k = 0;
	/* a source without a tenant: veil-dataplane refuses the file */
	for (size_t i = 0; i < n; i++)
		if (p.occ[i].set & SET_TENANT)
			p.occ[k++] = p.occ[i];
	if (k > 0)
		qsort(p.occ, k, sizeof(*p.occ), by_tenant);
	out->t = calloc(k ? k : 1, sizeof(*out->t));
	if (out->t == NULL) {
		free(p.occ);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	for (size_t i = 0; i < k; i++) {
		const struct occ *s = &p.occ[i];
		if (out->n == 0 || strcmp(out->t[out->n - 1].id, s->tenant) != 0)
			memcpy(out->t[out->n++].id, s->tenant, sizeof(out->t->id));
		struct ctl_norm_tenant *t = &out->t[out->n - 1];
		t->rules[VEIL_KIND_USER] |= 1u << veil_name_rule(&s->o, VEIL_KIND_USER);
		t->rules[VEIL_KIND_DEVICE] |= 1u << veil_name_rule(&s->o, VEIL_KIND_DEVICE);
	}
	free(p.occ);
	return 0;
}

void ctl_norms_free(struct ctl_norms *n)
{
	free(n->t);
	memset(n, 0, sizeof(*n));
}

static int cmp_id(const void *key, const void *e)
{
	return strcmp(key, ((const struct ctl_norm_tenant *)e)->id);
}

unsigned ctl_norms_of(const struct ctl_norms *n, const char *tenant, enum veil_kind kind)
{
	const struct ctl_norm_tenant *t = n->n == 0 ? NULL :
		bsearch(tenant, n->t, n->n, sizeof(*n->t), cmp_id);
	if (t == NULL || kind > VEIL_KIND_DEVICE)
		return 1u << 0; /* no source in the file: the name as typed */
	return t->rules[kind];
}

unsigned ctl_norms_count(const struct ctl_norms *n)
{
	unsigned c = 0;
	for (size_t i = 0; i < n->n; i++)
		c += (n->t[i].rules[VEIL_KIND_USER] | n->t[i].rules[VEIL_KIND_DEVICE]) != 1;
	return c;
}

bool ctl_norms_equal(const struct ctl_norms *a, const struct ctl_norms *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->t[i].id, b->t[i].id) ||
		    a->t[i].rules[0] != b->t[i].rules[0] ||
		    a->t[i].rules[1] != b->t[i].rules[1])
			return false;
	return true;
}
