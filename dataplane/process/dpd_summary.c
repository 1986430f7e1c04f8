/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane's output of its own: progress on a terminal, and the
 * summary at the end (text, or one JSON line with --json).
 */
#include <stdlib.h>
#include <string.h>

#include "dpd_run.h"

void vdd_progress(struct vdd_run *r, bool end)
{
	double now = veil_now();
	if (!r->progress)
		return;
	if (end) {
		if (r->progress_shown)
			fputs("\r\033[K", stderr);
		return;
	}
	if (now < r->next_progress)
		return;
	r->next_progress = now + VDD_PROGRESS_S;
	if (now - r->t0 < 0.9)
		return;
	uint64_t lines = atomic_load(&vdd_sh.ctr[VEIL_LINK_CTR_LINES_IN]);
	uint64_t held = atomic_load(&vdd_sh.ctr[VEIL_LINK_CTR_LINES_HELD]);
	double bytes = (double)atomic_load(&vdd_sh.rx_bytes);
	double size = (double)atomic_load(&vdd_sh.rx_size);
	double rate = bytes / (now - r->t0);
	fprintf(stderr, "\r\033[Kveil-dataplane: %llu lines, %.1f MB, %.1f MB/s",
		(unsigned long long)lines, bytes / 1e6, rate / 1e6);
	if (held > 0)
		fprintf(stderr, ", %llu held for a key", (unsigned long long)held);
	if (!r->from_stdin && size > bytes && rate > 0)
		fprintf(stderr, ", ETA %.0f s", (size - bytes) / rate);
	r->progress_shown = true;
}

static void src_counters(const struct vdd_run *r, unsigned s, struct vdp_counters *c)
{
	memset(c, 0, sizeof(*c));
	/* the main lcore's pipeline (one worker, or the distributor's share)
	 * and each lane's */
	for (unsigned i = 0; i <= r->n_lanes; i++) {
		const struct vdp_counters *x =
			vdp_worker_counters(i < r->n_lanes ? r->lane_pipe[i] : r->pipe, s);
		c->lines_in += x->lines_in;
		c->lines_out += x->lines_out;
		c->lines_dropped += x->lines_dropped;
		c->identities += x->identities;
		c->repeats += x->repeats;
		c->no_user += x->no_user;
		c->marked += x->marked;
		c->lines_unparsed += x->lines_unparsed;
		for (unsigned k = 0; k < VDP_REASON_COUNT; k++)
			c->drops[k] += x->drops[k];
	}
}

/* ---- the summary ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void vdd_totals(struct vdd_run *r, struct vdd_totals *t)
{
	memset(t, 0, sizeof(*t));
	vdr_stats(r->drv, &t->st);
	t->tenant_nokey = calloc(vdd_keys_tenants(r->keys) + 1, sizeof(uint64_t));
	for (unsigned s = 0; s < r->cfg.n_sources; s++) {
		struct vdp_counters cc;
		const struct vdp_counters *c = &cc;
		src_counters(r, s, &cc);
		t->sum.lines_in += c->lines_in;
		t->sum.lines_out += c->lines_out;
		t->sum.lines_dropped += c->lines_dropped;
		t->sum.identities += c->identities;
		t->sum.repeats += c->repeats;
		t->sum.no_user += c->no_user;
		t->sum.marked += c->marked;
		t->sum.lines_unparsed += c->lines_unparsed;
		for (unsigned k = 0; k < VDP_REASON_COUNT; k++)
			t->sum.drops[k] += c->drops[k];
		if (t->tenant_nokey != NULL)
			t->tenant_nokey[r->cfg.sources[s].tenant_idx] += c->drops[VDP_R_NO_KEY];
	}
	t->held = t->st.tx_held; /* in an upstream's spool, for the next run */
	uint64_t abandoned = 0;
	for (unsigned i = 0; i < r->n_loops; i++) {
		t->held += vdd_worker_held(r->loop[i]);
		abandoned += vdd_worker_abandoned(r->loop[i]);
	}
	t->oversize = t->st.rx_oversize;
	/* every line once: in = out + dropped + held + not written */
	t->in = t->sum.lines_in + t->oversize + t->held + abandoned;
	t->out = t->sum.lines_out - t->st.tx_lost - t->st.tx_held;
	t->not_written = t->st.tx_lost + abandoned;
	t->dropped = t->sum.lines_dropped + t->oversize;
}

void vdd_summary_text(struct vdd_run *r, const struct vdd_totals *t, double secs,
		      const char *error)
{
	bool att, syn;
	unsigned vers, attaches;
	char why[400];

	vdd_keys_describe(r->keys, &att, &syn, &vers, &attaches);
	fprintf(stderr, "veil-dataplane: %llu lines in %.2f s: %llu written, "
		"%llu dropped, %llu held", (unsigned long long)t->in, secs,
		(unsigned long long)t->out,
		(unsigned long long)t->dropped, (unsigned long long)t->held);
	if (t->not_written > 0)
		fprintf(stderr, ", %llu NOT WRITTEN (%s)",
			(unsigned long long)t->not_written,
			r->network ? "dropped at an upstream, or not delivered before "
				     "the end" : "output error");
	fputc('\n', stderr);
	fprintf(stderr, "  identities replaced: %llu (and %llu repeats); \"no "
		"user\" values left: %llu; fields marked: %llu\n",
		(unsigned long long)t->sum.identities,
		(unsigned long long)t->sum.repeats,
		(unsigned long long)t->sum.no_user, (unsigned long long)t->sum.marked);
	if (t->dropped > 0) {
		fputs("  dropped:", stderr);
		const char *sep = " ";
		for (unsigned k = 0; k < VDP_REASON_COUNT; k++)
			if (t->sum.drops[k] > 0) {
				fprintf(stderr, "%s%s %llu", sep, vdp_reason_name(k),
					(unsigned long long)t->sum.drops[k]);
				sep = ", ";
			}
		if (t->oversize > 0)
			fprintf(stderr, "%soversize (over %zu bytes) %llu", sep,
				r->cfg.max_message, (unsigned long long)t->oversize);
		fputc('\n', stderr);
	}
	fprintf(stderr, "  bytes: %llu read, %llu written, %.1f MB/s\n",
		(unsigned long long)t->st.rx_bytes, (unsigned long long)t->st.tx_bytes,
		secs > 0 ? (double)t->st.rx_bytes / secs / 1e6 : 0.0);
	if (r->network) {
		fprintf(stderr, "  %s driver:", vdr_name(r->drv));
		for (unsigned i = 0; i < vdd_sh.n_x; i++) {
			uint64_t v = atomic_load(&vdd_sh.xval[i]);
			if (v > 0)
				fprintf(stderr, " %s %llu", vdd_sh.xname[i],
					(unsigned long long)v);
		}
		fputc('\n', stderr);
	} else {
		fprintf(stderr, "  inputs: %u (%llu read to the end", r->cfg.n_inputs,
			(unsigned long long)t->st.rx_inputs_done);
		if (t->st.rx_unterminated > 0)
			fprintf(stderr, "; %llu ended without a line end, their last "
				"line was taken",
				(unsigned long long)t->st.rx_unterminated);
		if (t->st.rx_errors > 0)
			fprintf(stderr, "; %llu READ ERRORS",
				(unsigned long long)t->st.rx_errors);
		fputs(")\n", stderr);
	}
	if (vdd_sh.n_workers > 1 || r->pool != NULL) {
		fprintf(stderr, "  workers: %u, %s; lines in:", vdd_sh.n_workers,
			r->per_queue ? "a queue pair each"
				     : "fed in order by the main lcore");
		for (unsigned i = 0; i < vdd_sh.n_workers; i++)
			fprintf(stderr, "%s %llu", i ? "," : "", (unsigned long long)
				atomic_load(&vdd_sh.wctr[i][VEIL_LINK_CTR_LINES_IN]));
		if (r->pool != NULL)
			fprintf(stderr, " (%llu bursts rewritten by the main lcore, "
				"counted with worker 0)",
				(unsigned long long)vdd_pool_local(r->pool));
		fputc('\n', stderr);
	}
	struct vdd_link_info li;
	vdd_keys_link(r->keys, &li);
	fprintf(stderr, "  keys: link %s %s; %u key versions held for %u tenants; "
		"crypto %s\n", r->cfg.link_socket,
		!att ? "never reached" : syn ? "attached, keys synced"
					     : "attached, keys not synced",
		vers, vdd_keys_tenants(r->keys), veil_engine_name(r->engine));
	if (li.refused_peers > 0)
		fprintf(stderr, "veil-dataplane: the link was REFUSED %llu times: "
			"served by uid %u, not veil-controld's user; no key was "
			"taken from it\n", (unsigned long long)li.refused_peers,
			li.refused_uid);
	if (li.refused_regions > 0)
		fprintf(stderr, "veil-dataplane: %llu regions veil-controld handed "
			"over were REFUSED (a failed check)\n",
			(unsigned long long)li.refused_regions);
	for (unsigned i = 0; t->tenant_nokey && i < vdd_keys_tenants(r->keys); i++)
		if (t->tenant_nokey[i] > 0)
			fprintf(stderr, "veil-dataplane: %llu lines of tenant %s were "
				"dropped, never written: no key: %s\n",
				(unsigned long long)t->tenant_nokey[i],
				vdd_keys_tenant_id(r->keys, i),
				vdd_keys_why(r->keys, i, why, sizeof(why)));
	if (t->held > t->st.tx_held)
		fprintf(stderr, "veil-dataplane: stopped with %llu lines held (waiting "
			"for a key, or behind one); they were not written\n",
			(unsigned long long)(t->held - t->st.tx_held));
	if (t->st.tx_held > 0)
		fprintf(stderr, "veil-dataplane: %llu lines wait in the upstreams' "
			"spools; the next start sends them\n",
			(unsigned long long)t->st.tx_held);
	if (error != NULL)
		fprintf(stderr, "veil-dataplane: %s\n", error);
}

void vdd_summary_json(struct vdd_run *r, const struct vdd_totals *t, double secs,
		      const char *error, int status)
{
	bool att, syn;
	unsigned vers, attaches;
	char why[400];
	FILE *f = stderr;

	vdd_keys_describe(r->keys, &att, &syn, &vers, &attaches);
	fprintf(f, "{\"lines_in\":%llu,\"lines_out\":%llu,\"lines_dropped\":%llu,"
		"\"lines_held\":%llu,\"lines_not_written\":%llu,\"dropped\":{",
		(unsigned long long)t->in, (unsigned long long)t->out,
		(unsigned long long)t->dropped, (unsigned long long)t->held,
		(unsigned long long)t->not_written);
	for (unsigned k = 0; k < VDP_REASON_COUNT; k++)
		fprintf(f, "\"%s\":%llu,", vdp_reason_name(k),
			(unsigned long long)t->sum.drops[k]);
	fprintf(f, "\"oversize\":%llu},\"identities\":%llu,\"repeats\":%llu,"
		"\"no_user\":%llu,\"marked\":%llu,\"unparsed_forwarded\":%llu,"
		"\"bytes_in\":%llu,\"bytes_out\":%llu,\"seconds\":%.3f,"
		"\"mb_per_s\":%.1f,\"inputs\":%u,\"inputs_done\":%llu,"
		"\"unterminated\":%llu,\"read_errors\":%llu,",
		(unsigned long long)t->oversize, (unsigned long long)t->sum.identities,
		(unsigned long long)t->sum.repeats, (unsigned long long)t->sum.no_user,
		(unsigned long long)t->sum.marked,
		(unsigned long long)t->sum.lines_unparsed,
		(unsigned long long)t->st.rx_bytes, (unsigned long long)t->st.tx_bytes,
		secs, secs > 0 ? (double)t->st.rx_bytes / secs / 1e6 : 0.0,
		r->cfg.n_inputs, (unsigned long long)t->st.rx_inputs_done,
		(unsigned long long)t->st.rx_unterminated,
		(unsigned long long)t->st.rx_errors);
	fputs("\"driver\":{\"name\":", f);
	json_str(f, vdr_name(r->drv));
	for (unsigned i = 0; i < vdd_sh.n_x; i++)
		fprintf(f, ",\"%s\":%llu", vdd_sh.xname[i],
			(unsigned long long)atomic_load(&vdd_sh.xval[i]));
	/* per worker, as sent up the link */
	unsigned nw = vdd_sh.n_workers > 1 ? vdd_sh.n_workers : 1;
	fprintf(f, "},\"worker_mode\":\"%s\",\"workers\":[",
		r->pool != NULL ? "distributor" : nw == 1 ? "single" : "queue");
	for (unsigned i = 0; i < nw; i++) {
		_Atomic uint64_t *c = nw > 1 ? vdd_sh.wctr[i] : vdd_sh.ctr;
		fprintf(f, "%s{\"lines_in\":%llu,\"lines_out\":%llu,"
			"\"lines_dropped\":%llu,\"bytes_in\":%llu}", i ? "," : "",
			(unsigned long long)atomic_load(&c[VEIL_LINK_CTR_LINES_IN]),
			(unsigned long long)atomic_load(&c[VEIL_LINK_CTR_LINES_OUT]),
			(unsigned long long)atomic_load(&c[VEIL_LINK_CTR_LINES_DROPPED]),
			(unsigned long long)atomic_load(&c[VEIL_LINK_CTR_BYTES_IN]));
	}
	struct vdd_link_info li;
	vdd_keys_link(r->keys, &li);
	fputs("],\"link\":{\"socket\":", f);
	json_str(f, r->cfg.link_socket);
	fprintf(f, ",\"attached\":%s,\"synced\":%s,\"attaches\":%u,"
		"\"key_versions\":%u,\"connected\":%s,\"refused_peers\":%llu,"
		"\"refused_uid\":", att ? "true" : "false",
		syn ? "true" : "false", attaches, vers,
		li.connected ? "true" : "false",
		(unsigned long long)li.refused_peers);
	if (li.refused_peers > 0)
		fprintf(f, "%u", li.refused_uid);
	else
		fputs("null", f);
	fprintf(f, ",\"refused_regions\":%llu},\"crypto\":",
		(unsigned long long)li.refused_regions);
	json_str(f, veil_engine_name(r->engine));
	fputs(",\"sources\":[", f);
	for (unsigned s = 0; s < r->cfg.n_sources; s++) {
		struct vdp_counters cc;
		const struct vdp_counters *c = &cc;
		src_counters(r, s, &cc);
		fputs(s ? ",{\"name\":" : "{\"name\":", f);
		json_str(f, r->cfg.sources[s].name);
		fputs(",\"tenant\":", f);
		json_str(f, r->cfg.sources[s].tenant);
		fputs(",\"format\":", f);
		json_str(f, r->cfg.sources[s].format);
		fprintf(f, ",\"lines_in\":%llu,\"lines_out\":%llu,\"lines_dropped\":"
			"%llu,\"identities\":%llu}", (unsigned long long)c->lines_in,
			(unsigned long long)c->lines_out,
			(unsigned long long)c->lines_dropped,
			(unsigned long long)c->identities);
	}
	fputs("],\"no_key\":[", f);
	bool first = true;
	for (unsigned i = 0; t->tenant_nokey && i < vdd_keys_tenants(r->keys); i++) {
		if (t->tenant_nokey[i] == 0)
			continue;
		fputs(first ? "{\"tenant\":" : ",{\"tenant\":", f);
		first = false;
		json_str(f, vdd_keys_tenant_id(r->keys, i));
		fprintf(f, ",\"lines\":%llu,\"why\":", (unsigned long long)t->tenant_nokey[i]);
		json_str(f, vdd_keys_why(r->keys, i, why, sizeof(why)));
		fputc('}', f);
	}
	fputs("],\"error\":", f);
	if (error != NULL)
		json_str(f, error);
	else
		fputs("null", f);
	fprintf(f, ",\"exit\":%d}\n", status);
}
