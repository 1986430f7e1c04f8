/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The state store's own internals, shared by its files: store.c (the
 * database, opening and the checks against the mark, transactions,
 * appends), store_mark.c (the mark beside the master key and its writer
 * thread), store_chain.c (the chain: MACs, token lists kept aside, the
 * walk, verify, pruning). */
#ifndef VEIL_STORE_PVT_H
#define VEIL_STORE_PVT_H

#include <openssl/evp.h>

#include "ctl_pvt.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define AUDIT_SELECT "SELECT seq,time,uid,role,action,tenant,tokens," \
	"justification,outcome,mac FROM audit "

/* store.c: meta rows, counts, big-endian numbers, the audit key's HMAC */
int st_meta_get(sqlite3 *db, const char *k, void *v, int *len, int cap);
int st_meta_put(sqlite3 *db, const char *k, const void *v, int len);
int64_t st_count_of(sqlite3 *db, const char *sql);
/* finalizes the kept statements (ctl_store_stmt), before a close */
void st_forget_kept(struct ctl_store *s);
void st_put_be64(uint8_t *p, uint64_t v);
uint64_t st_get_be64(const uint8_t *p);
EVP_MAC_CTX *st_audit_mac(struct ctl_store *s);
void st_mac_release(struct ctl_store *s);
int st_key_tag(struct ctl_store *s, const char *label, const uint8_t *data,
	       size_t len, uint8_t tag[32]);
/* head/anchor: 8-byte seq (big-endian) || 32-byte record mac || a 32-byte
 * HMAC of both under the audit key, labelled, so neither can be rewound to
 * a record of the table (hiding removed records) without the key. */
#define POS_LEN 72
int st_get_pos(struct ctl_store *s, const char *label, int64_t *seq, uint8_t mac[32]);
int st_put_pos(struct ctl_store *s, const char *label, int64_t seq,
	       const uint8_t mac[32]);
#define RECOVERY_HINT "; if what happened is known, record it and go on with: " \
	"veil-controld -c %s --recover-audit \"REASON\" (see veil-controld(8), " \
	"RECOVERY)"

/* store_keeper.c: a checkpoint now, on the thread if there is one */
void st_checkpoint_soon(struct ctl_store *s);
void st_keeper_stop(struct ctl_store *s);
/* store_mark.c: the head the mark on disk names (what the writer wrote) */
int64_t st_mark_written_seq(struct ctl_store *s);

/* store_mark.c */
/* Two slots of MARK_SLOT bytes, MARK_STRIDE apart (separate sectors):
 * "VEILMRK1" | generation | chain id (16) | head seq | anchor seq |
 * head mac (32) | HMAC-SHA256 of all that under a master key subkey. The
 * slot with the highest generation that verifies is the mark. */
#define MARK_BODY 80
#define MARK_SLOT (MARK_BODY + 32)
#define MARK_STRIDE 512
#define MARK_LABEL "veil-controld audit mark v1"

struct mark {
	uint64_t gen;
	uint8_t id[16];
	int64_t seq, anchor;
	uint8_t mac[32];
};

enum { MARK_NONE, MARK_OK, MARK_BAD };

int st_mark_read(struct ctl_store *s, struct mark *m);
/* Write the chain's head and anchor as they are, now. */
int st_mark_write(struct ctl_store *s);
/* The one hook after a commit of records (or of the anchor). */
int st_chain_committed(struct ctl_store *s);
/* Stop the writer thread, after it wrote what it was handed. */
void st_mark_writer_stop(struct ctl_store *s);

/* store_chain.c */
/* Each: where the break starts (first), the recovery record (rec), a
 * SHA-256 of the rows first..rec-1 as they were found, and the MAC the
 * chain goes on from at rec. The list carries an HMAC under the audit key. */
#define ACC_LEN 80
#define ACC_MAX 64

struct accepted {
	int64_t first, rec;
	uint8_t digest[32], prev[32];
};

int st_acc_add(struct ctl_store *s, const struct accepted *e);
int st_record_mac(struct ctl_store *s, const uint8_t prev[32],
		  const struct ctl_audit_rec *r, uint8_t out[32]);
/* A long list's digest form with its first tokens (head), malloc'd. */
char *st_list_form(const struct ctl_token_list *list, const char *head);
/* Walk the chain (see store_chain.c); st_walk from the anchor, the MAC
 * context released after it. */
int64_t st_walk_chain(struct ctl_store *s, int64_t from, const uint8_t *from_mac,
		      int64_t *count, char *why, size_t whylen,
		      struct accepted *first);
int64_t st_walk(struct ctl_store *s, int64_t *count, char *why, size_t whylen,
		struct accepted *first);
/* "record 5 is missing", "records 5-9 are missing", ... */
const char *st_missing(char *buf, size_t cap, int64_t first, int64_t last);

#endif
