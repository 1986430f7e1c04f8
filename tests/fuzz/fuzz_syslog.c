/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * libFuzzer target for the syslog header parser (dataplane/pipeline/syslog.c): any
 * bytes as one message. The body is within the message; a STRUCTURED-DATA
 * span only comes with RFC 5424, is within the message, starts with '['
 * and ends with ']', and the body is after it; a message of kind NONE is
 * all body (but a UTF-8 BOM). The answer does not depend on what lies
 * past the message: the same bytes followed by more bytes that are not
 * part of it (the message is given with its length only) give the same
 * answer. Reads past the message are caught by ASan (libFuzzer's buffer
 * is exactly sized).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_pvt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                \
	do {                    \
		if (!(x))       \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdp_msg m = { .data = (const char *)data, .len = size,
			     .body = SIZE_MAX, .sd_off = SIZE_MAX,
			     .sd_len = SIZE_MAX };
	enum vdp_syslog_kind k = vdp_syslog_parse(&m);
	CHECK(k == VDP_SYSLOG_NONE || k == VDP_SYSLOG_3164 ||
	      k == VDP_SYSLOG_5424);
	CHECK(m.body <= size);
	if (m.sd_len > 0) {
		CHECK(k == VDP_SYSLOG_5424);
		CHECK(m.sd_off < size && m.sd_len <= size - m.sd_off);
		CHECK(data[m.sd_off] == '[');
		CHECK(data[m.sd_off + m.sd_len - 1] == ']');
		CHECK(m.body >= m.sd_off + m.sd_len);
	}
	if (k == VDP_SYSLOG_NONE) {
		CHECK(m.sd_len == 0);
		CHECK(m.body == 0 ||
		      (m.body == 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0));
	} else {
		CHECK(size > 0);
	}

	/* the same message inside a larger buffer: the same answer */
	uint8_t *big = malloc(size + 16);
	CHECK(big != NULL);
	memcpy(big, data, size);
	memset(big + size, ' ', 16);
	struct vdp_msg m2 = { .data = (const char *)big, .len = size };
	CHECK(vdp_syslog_parse(&m2) == k);
	CHECK(m2.body == m.body && m2.sd_off == m.sd_off &&
	      m2.sd_len == m.sd_len);
	free(big);
	return 0;
}
