/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* libFuzzer target for the decoder veil-controld's key process runs on
 * what its api process sends (control/privsep.h): any bytes as one message.
 * A message that decodes must hold only fields of its method, and encode
 * back (as the api process would from the same fields) to a message that
 * decodes to the same request. */
#include <stdlib.h>
#include <string.h>

#include "privsep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ps_request r, again;
	char why[128];
	if (ps_decode(data, size, &r, why, sizeof(why)) != 0)
		return 0;
	if (r.method < -1 || r.method >= (int)ps_n_methods)
		abort();
	if (r.err == NULL && r.method >= 0) {
		json_t *req = json_deep_copy(r.req);
		json_object_set_new(req, "cmd", json_string(ps_methods[r.method].name));
		char *text = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		uint8_t *m;
		size_t len;
		if (text != NULL && ps_encode(text, strlen(text), r.id, &m, &len) == 0) {
			if (ps_decode(m, len, &again, why, sizeof(why)) != 0 ||
			    again.method != r.method || !json_equal(again.req, r.req))
				abort();
			ps_request_free(&again);
			free(m);
		}
		free(text);
	}
	ps_request_free(&r);
	return 0;
}
