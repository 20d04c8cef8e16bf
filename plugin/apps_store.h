/*
 * The plugin's LMDB environment, in the data folder the host gives it.
 *
 * Databases (key -> value):
 *   apps          app_id -> App record, sealed JSON
 *   app_gate      lower-cased app_id -> the App's gate, plaintext (app_gate.h)
 *   listing       app_id -> listed manifest, JSON (nothing secret)
 *   oauth2_user   app_id 0x00 user_id -> the user's OAuth2 data, sealed, byte-exact
 *   oauth2_state  BLAKE2b-256(state) -> flow state, sealed JSON
 *   oauth2_state_by_user  user_id | expires_at (8 bytes, big-endian) | hash
 *                 -> app_id: finds a user's states oldest first, and expired
 *                 ones, without opening any sealed record
 *   meta          "schema_version" -> "1"
 *
 * Every write commits with full sync: when a function returns STORE_OK the
 * data is on disk. OAuth2 user writes from many threads share commits (see
 * group_commit.h). A failed write leaves the old value. A sealed record that
 * fails to open is STORE_ECORRUPT and is never returned.
 *
 * Writes that depend on an App take what the caller checked (struct
 * app_gate_expect) and re-check it against the App's gate inside the
 * transaction that writes: a change checked before an uninstall, a disable
 * or a reinstall is refused (APP_GATE_*), never written after it.
 * Thread-safe.
 */
#ifndef PLUGIN_APPS_STORE_H
#define PLUGIN_APPS_STORE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "app_gate.h"
#include "group_commit.h"
#include "kv.h"
#include "seal.h"

#define STATE_HASH_LEN 32

enum store_rc {
	STORE_OK = 0,
	STORE_ENOTFOUND = -1,
	STORE_EIO = -2,
	STORE_ENOSPC = -3,    /* the disk is full (ENOSPC, EDQUOT): nothing was written */
	STORE_ECORRUPT = -10, /* a sealed record did not open: tampered, moved or wrong key */
	STORE_ENOMEM = -11,
	STORE_ECONFLICT = -12, /* another App's id differs from this one only in case */
	STORE_ESTALE = -13,    /* oauth2_user_cas: the stored bytes were not the expected ones */
	STORE_EBUSY = -14,     /* refresh_lease_take: another holder's lease is live */
	/* -30..-33: APP_GATE_* refusals (app_gate.h) */
	STORE_EFULL = -100, /* the map reached its maximum size: nothing was written */
};

struct apps_store {
	struct kv_env kv;
	MDB_dbi apps, gate, listing, oauth2_user, oauth2_state, state_index, meta;
	const struct sealer *sealer;
	struct group_commit group; /* OAuth2 user writes share commits */
	/* Bumped by every change to an App record, for caches of them. */
	atomic_uint_fast64_t app_generation;
};

int apps_store_open(struct apps_store *st, const char *dir, const struct sealer *sealer, char *err,
		    size_t err_cap) __attribute__((warn_unused_result));
void apps_store_close(struct apps_store *st);

/* Listed manifests (plain JSON objects). get returns a new reference. */
int listing_put(struct apps_store *st, const char *app_id, const json_t *manifest)
	__attribute__((warn_unused_result));
int listing_get(struct apps_store *st, const char *app_id, json_t **out)
	__attribute__((warn_unused_result));

/* App records (sealed). get returns a new reference; the caller should
 * json_decref it promptly (it holds secrets). */
int app_record_get(struct apps_store *st, const char *app_id, json_t **out)
	__attribute__((warn_unused_result));

/* Decides an App record's next value inside the write transaction: cur is
 * the record stored now (NULL: none; borrowed). Returns 0 with *next a new
 * reference to store, or a negative code (above -100) that refuses the
 * change and is returned as is. It may run more than once (the map grew), so
 * it depends only on cur and arg. */
typedef int (*app_record_fn)(const json_t *cur, void *arg, json_t **next);

/* The one way App records change: in one write transaction, checks that no
 * other App has app_id in another case (STORE_ECONFLICT), checks the gate
 * against expect (may be NULL; APP_GATE_* refusals), reads the record, runs
 * fn, and writes the record fn made with its gate. *out (may be NULL) gets
 * the stored record, a new reference. */
int app_record_update(struct apps_store *st, const char *app_id,
		      const struct app_gate_expect *expect, app_record_fn fn, void *arg,
		      json_t **out) __attribute__((warn_unused_result));
/* Every App record, as a new array; records that fail to open are left out
 * and counted in *corrupt. */
int app_records_list(struct apps_store *st, json_t **out, size_t *corrupt)
	__attribute__((warn_unused_result));

/* A user's OAuth2 data for the App expect->app_id, stored byte-exact
 * (sealed), in a transaction where the App's gate satisfies expect (else an
 * APP_GATE_* refusal and nothing changes). read gives a buffer to release
 * with unseal_free(). */
int oauth2_user_put(struct apps_store *st, const struct app_gate_expect *expect,
		    const char *user_id, const char *data, size_t len)
	__attribute__((warn_unused_result));
int oauth2_user_read(struct apps_store *st, const struct app_gate_expect *expect,
		     const char *user_id, char **data, size_t *len)
	__attribute__((warn_unused_result));
int oauth2_user_del(struct apps_store *st, const struct app_gate_expect *expect,
		    const char *user_id) __attribute__((warn_unused_result));
/* The same read without a gate check, for a caller that holds the App's
 * record (a call's expansion). */
int oauth2_user_get(struct apps_store *st, const char *app_id, const char *user_id, char **data,
		    size_t *len) __attribute__((warn_unused_result));

/* The framework's token refresh (token_refresh.h). These three have the
 * semantics of store_cas in common/store.h, so that they move onto it as
 * they are. */

/* oauth2_user_get, also giving the record's sealed bytes as stored (for
 * oauth2_user_cas; malloc'd, free with free()). */
int oauth2_user_get_sealed(struct apps_store *st, const char *app_id, const char *user_id,
			   unsigned char **sealed, size_t *sealed_len, char **data, size_t *len)
	__attribute__((warn_unused_result));
/* Compare-and-set of a user's OAuth2 data: in one write transaction where
 * the App's gate satisfies expect, replaces the record of (expect->app_id,
 * user_id) when its stored (sealed) bytes equal expected (expected_len
 * bytes; NULL: no record may exist) with data sealed anew (NULL: the record
 * is deleted); not both NULL. STORE_OK, STORE_ESTALE (the record was not as
 * expected: nothing changed), an APP_GATE_* refusal, or a store error. */
int oauth2_user_cas(struct apps_store *st, const struct app_gate_expect *expect,
		    const char *user_id, const unsigned char *expected, size_t expected_len,
		    const char *data, size_t len) __attribute__((warn_unused_result));

#define REFRESH_LEASE_HOLDER_LEN 16
/* A short lease on refreshing the token of (app_id, user_id), seen by every
 * process on the store: one row, key "refresh_lease\0app_id\0user_id" in
 * meta, value holder (16 bytes) | expiry (ms since the epoch, 8 bytes
 * big-endian). take succeeds when there is no row, its expiry is before
 * now_ms (a process that died holding it), or it is holder's own; the row
 * then expires at now_ms + ttl_ms. STORE_OK, STORE_EBUSY (another holder's
 * live lease), or a store error. release deletes the row when it is still
 * holder's (STORE_OK either way, or a store error). busy reads without
 * writing: 1 when another holder's lease is live at now_ms, 0 when not, or
 * a store error. */
int refresh_lease_take(struct apps_store *st, const char *app_id, const char *user_id,
		       const unsigned char holder[REFRESH_LEASE_HOLDER_LEN], int64_t now_ms,
		       int64_t ttl_ms) __attribute__((warn_unused_result));
int refresh_lease_release(struct apps_store *st, const char *app_id, const char *user_id,
			  const unsigned char holder[REFRESH_LEASE_HOLDER_LEN])
	__attribute__((warn_unused_result));
int refresh_lease_busy(struct apps_store *st, const char *app_id, const char *user_id,
		       const unsigned char holder[REFRESH_LEASE_HOLDER_LEN], int64_t now_ms)
	__attribute__((warn_unused_result));

/* Deletes the App record, its gate and every OAuth2 user record and state of
 * app_id, in one transaction. Counts in *users and *states (may be NULL). */
int apps_store_delete_app(struct apps_store *st, const char *app_id, size_t *users, size_t *states)
	__attribute__((warn_unused_result));

/* Builds the oauth2_user key "app_id\0user_id" into key; returns its length,
 * or 0 when it does not fit. */
size_t oauth2_user_key(const char *app_id, const char *user_id, char *key, size_t cap);

#endif
