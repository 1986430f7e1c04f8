/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The dataplane link as veilctl status and stats show it: connected or
 * not, synced, who is (or was last) at the other end, when it was last
 * heard from, and the connections refused.
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
