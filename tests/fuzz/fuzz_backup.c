/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* libFuzzer target for the backup file's header (control/backup_file.c):
 * any bytes as the start of a backup. */
#include <stdint.h>
#include <stdlib.h>

#include "backup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_header h;
	char err[200];
	if (bk_header_parse(data, size, &h, err, sizeof(err)) == 0) {
		/* what it takes is within what a restore may spend */
		if (h.len > size || h.len > BK_HEADER_MAX)
			abort();
		if (h.protection == BK_PROT_PASSPHRASE &&
		    (h.r < 1 || h.p < 1 ||
		     128ull * h.r * (1ull << h.log2_n) > BK_SCRYPT_MAXMEM))
			abort();
		if (h.protection == BK_PROT_RSA && h.wrapped_len != 256 &&
		    h.wrapped_len != 384 && h.wrapped_len != 512)
			abort();
		uint8_t again[BK_HEADER_MAX];
		if (bk_header_pack(&h, again) != h.len)
			abort();
		for (size_t i = 0; i < h.len; i++)
			if (again[i] != data[i])
				abort(); /* parse and pack agree on every byte */
	} else if (err[0] == '\0') {
		abort(); /* every refusal says why */
	}
	return 0;
}
