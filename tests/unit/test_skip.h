/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * A part of a cmocka test that cannot run here (not root, a sanitizer that
 * changes what is measured): say so, and end the run as skipped (exit 77,
 * meson's SKIP) rather than as passed, unless something failed.
 */
#ifndef VEIL_TEST_SKIP_H
#define VEIL_TEST_SKIP_H

#include <stdbool.h>
#include <stdio.h>

static bool test_part_skipped;

static inline void skip_part(const char *what, const char *why)
{
	printf("# SKIP %s: %s\n", what, why);
	test_part_skipped = true;
}

/* main's exit status from cmocka_run_group_tests()'s count of failures */
static inline int test_exit(int failed)
{
	return failed != 0 ? failed : test_part_skipped ? 77 : 0;
}

#endif
