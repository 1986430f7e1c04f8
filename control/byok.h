/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Bring your own key (byok.c): a tenant's data keys wrapped by the
 * customer's RSA key-encryption key (KEK) on a PKCS#11 token (p11.c)
 * instead of the appliance master key; the KEK versions of each tenant
 * in the database (byok_keks), the checks on a schedule and the lockdown
 * when a KEK stays unreachable past the grace period.
 *
 * A BYOK-wrapped key is "VKB1", the KEK row's id (4 bytes, big-endian),
 * then the RSA-OAEP-SHA256 ciphertext: longer than any master-key wrap,
 * which is how ctl_unwrap_key tells them apart.
 */
#ifndef VEIL_BYOK_H
#define VEIL_BYOK_H

#include "ctld_pvt.h"

/* Tables, the KEKs in use, the hook in the unwrap path; the token is
 * opened here when [byok] is configured (a token that does not open is
 * logged, and only BYOK tenants wait for it). 0, or -1 with why in err. */
int ctl_byok_init(struct ctld *d, char *err, size_t errlen);
void ctl_byok_free(struct ctld *d);
/* Wrap a data key for tenant: under its newest KEK if it has one, else
 * the master key. Returns the wrapped length or -1. */
int ctl_byok_wrap(struct ctld *d, const char *tenant, const uint8_t key[32],
		  uint8_t *out, size_t cap);
/* The checks: every BYOK tenant's KEK at byok_check_interval; the lock
 * past byok_grace and the unlock when the key is back. */
void ctl_byok_tick(struct ctld *d);
/* What a refusal of a locked tenant says: why and since when when BYOK
 * locked it (a static buffer), else "tenant is locked". */
const char *ctl_byok_locked_why(struct ctld *d, const struct ctl_tenant *t);
/* tenant show's "byok" object, or NULL for a tenant on the master key. */
json_t *ctl_byok_json(struct ctld *d, const struct ctl_tenant *t);
/* tenant.export: the live data keys wrapped to a customer's RSA key. */
json_t *ctl_cmd_tenant_export(struct ctld *d, const struct ctl_caller *who, json_t *req);
/* scope.c: roles scoped to tenants (role grant --tenant). */
int ctl_scope_init(struct ctld *d, char *err, size_t errlen);
/* May the caller act on tenant? Fails closed on a database error. */
bool ctl_scope_allows(struct ctld *d, const struct ctl_caller *who, const char *tenant);
/* In the open transaction: scope a binding to tenant (grant), or make it
 * unscoped (a grant without tenant, a revoke). */
int ctl_scope_set(struct ctld *d, bool is_gid, int64_t id, const char *tenant, bool grant);
/* The tenants a binding is scoped to (an empty array: every tenant). */
json_t *ctl_scope_json(struct ctld *d, bool is_gid, int64_t id);
/* tenant_delete.c: tenant.delete (crypto-shred, remove, withdraw). */
json_t *ctl_cmd_tenant_delete(struct ctld *d, const struct ctl_caller *who, json_t *req);
/* A deleted tenant is no longer checked. */
void ctl_byok_forget(struct ctld *d, const char *tenant);
/* The API command tenant.byok (enable, rotate, disable). */
json_t *ctl_cmd_tenant_byok(struct ctld *d, const struct ctl_caller *who, json_t *req);

#endif
