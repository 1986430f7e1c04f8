/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The dataplane link as veilctl status and stats show it: connected or
 * not, synced, who is (or was last) at the other end, when it was last
 * heard from, and the connections refused; its upstreams and listeners.
 */
#include "ctld_pvt.h"

static json_t *int_or_null(bool have, json_int_t v)
{
	return have ? json_integer(v) : json_null();
}

void ctl_link_status_json(struct ctld *d, json_t *a)
{
	struct veil_link_server_status st = { 0 };
	if (d->link != NULL)
		veil_link_server_status(d->link, &st);
	json_t *o = json_object();
	json_object_set_new(o, "socket", json_string(d->cfg.link_socket));
	json_object_set_new(o, "connected", json_boolean(st.connected));
	json_object_set_new(o, "synced", json_boolean(st.synced));
	/* of the dataplane connected now, or of the last one */
	json_object_set_new(o, "pid", int_or_null(st.seen, st.peer.pid));
	json_object_set_new(o, "uid", int_or_null(st.seen, st.peer.uid));
	json_object_set_new(o, "last_contact_ms_ago",
			    int_or_null(st.last_contact_ms >= 0, st.last_contact_ms));
	json_object_set_new(o, "connections", json_integer((json_int_t)st.connections));
	json_object_set_new(o, "refused_peers",
			    json_integer((json_int_t)st.refused_peers));
	json_object_set_new(o, "last_refused_uid",
			    int_or_null(st.refused_peers > 0, st.last_refused_uid));
	json_object_set_new(o, "refused_busy", json_integer((json_int_t)st.refused_busy));
	/* the watchdog: the last dataplane went silent and was dropped */
	json_object_set_new(o, "silent", json_boolean(st.silent));
	json_object_set_new(o, "silent_drops", json_integer((json_int_t)st.silent_drops));
	json_object_set_new(o, "watchdog_s",
			    json_real((double)st.watchdog_ms / 1000.0));
	json_object_set_new(o, "dataplane_user",
			    d->cfg.dataplane_uid >= 0
			    ? json_integer((json_int_t)d->cfg.dataplane_uid)
			    : json_null());
	json_object_set_new(a, "dataplane_synced", json_boolean(st.synced));
	json_object_set_new(a, "dataplane", o);
}

/* A row of the dataplane's upstreams or listeners, as the API shows it. */
static json_t *row_json(const struct veil_link_row *r, bool live)
{
	static const char *const state[] = {
		[VEIL_LINK_UP_DOWN] = "down", [VEIL_LINK_UP_CONNECTING] = "connecting",
		[VEIL_LINK_UP_CONNECTED] = "connected",
		[VEIL_LINK_UP_LISTENING] = "listening",
	};
	json_t *o = json_pack("{s:s, s:s, s:s}", "name", r->name, "protocol", r->proto,
			      "address", r->addr);
	if (r->kind == VEIL_LINK_ROW_LISTENER) {
		json_object_set_new(o, "kernel_drops", json_integer(
			(json_int_t)r->value[VEIL_LINK_ROW_KERNEL_DROPS]));
		return o;
	}
	/* a dataplane that left: its last counts stay, its state is not known */
	json_object_set_new(o, "state", json_string(live && r->state <= VEIL_LINK_UP_LISTENING
						    ? state[r->state] : "unknown"));
	json_object_set_new(o, "since_ms", int_or_null(live && r->since_ms > 0,
							r->since_ms));
	json_t *drops = json_object();
	uint64_t dropped = 0;
	for (unsigned i = 0; i < VEIL_LINK_ROW_NVALUES; i++) {
		json_t *v = json_integer((json_int_t)r->value[i]);
		if (i == VEIL_LINK_ROW_KERNEL_DROPS) {
			json_decref(v);
		} else if (i >= VEIL_LINK_ROW_DROP_QUEUE_FULL) {
			json_object_set_new(drops, veil_link_row_value_name(i), v);
			dropped += r->value[i];
		} else {
			json_object_set_new(o, veil_link_row_value_name(i), v);
		}
	}
	json_object_set_new(o, "dropped_lines", json_integer((json_int_t)dropped));
	json_object_set_new(o, "dropped", drops);
	return o;
}

void ctl_link_rows_json(struct ctld *d, json_t *a)
{
	static const char *const key[2] = { "upstreams", "listeners" };
	struct veil_link_server_status st = { 0 };
	if (d->link != NULL)
		veil_link_server_status(d->link, &st);
	for (unsigned k = 0; k < 2; k++) {
		json_t *list = json_array();
		for (unsigned i = 0; d->link != NULL && i < VEIL_LINK_ROWS_MAX; i++) {
			const struct veil_link_row *r = veil_link_server_row(d->link, k, i);
			if (r != NULL)
				json_array_append_new(list, row_json(r, st.connected));
		}
		json_object_set_new(a, key[k], list);
	}
}
