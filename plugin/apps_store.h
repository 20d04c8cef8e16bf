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
 *   keys          the data keys, sealed under the master key, the current
 *                 key's id and the key sweep's progress and lease
 *                 (key_store.h, key_sweep.h)
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
#include <stdbool.h>
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
	STORE_ECHANGED = -13,  /* apps_store_cas: the record was not the one expected */
	/* -30..-33: APP_GATE_* refusals (app_gate.h) */
	STORE_EFULL = -100, /* the map reached its maximum size: nothing was written */
};

struct apps_store {
	struct kv_env kv;
	MDB_dbi apps, gate, listing, oauth2_user, oauth2_state, state_index, meta, keys;
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

/* Deletes the App record, its gate and every OAuth2 user record and state of
 * app_id, in one transaction. Counts in *users and *states (may be NULL). */
int apps_store_delete_app(struct apps_store *st, const char *app_id, size_t *users, size_t *states)
	__attribute__((warn_unused_result));

/* ---- Tables by name, for the keys' code (key_store.c, key_sweep.c) ----
 * The same operations as common/store.h's scan and cas, on the plugin's own
 * LMDB environment: a scan in a read transaction, and compare-and-set of
 * records, several in one write transaction (one commit). */

enum apps_table {
	APPS_TABLE_APPS = 0,     /* sealed */
	APPS_TABLE_OAUTH2_USER,  /* sealed */
	APPS_TABLE_OAUTH2_STATE, /* sealed */
	APPS_TABLE_KEYS,
	APPS_TABLES
};
#define APPS_SEALED_TABLES 3 /* the first three: every sealed record */
#define APPS_SCAN_MAX 1024   /* rows one apps_store_scan visits at most */

/* The table's name ("apps", "oauth2_user", "oauth2_state", "keys"): the
 * database name sealed records bind. */
const char *apps_table_name(enum apps_table t);

/* As store_scan_fn: 0 goes on, > 0 stops (apps_store_scan returns 0), < 0
 * stops with that result. key and val live during the call only. */
typedef int (*apps_scan_fn)(void *arg, const void *key, size_t klen, const void *val, size_t vlen);

/* Visits in key order at most limit (<= APPS_SCAN_MAX) rows of t whose key
 * starts with prefix[0..plen) and is greater than after[0..alen) (after
 * NULL: from the first), in one read transaction. *visited (may be NULL):
 * how many fn saw; fewer than limit means the end. 0, fn's negative
 * result, STORE_EIO. */
int apps_store_scan(struct apps_store *st, enum apps_table t, const void *prefix, size_t plen,
		    const void *after, size_t alen, size_t limit, apps_scan_fn fn, void *arg,
		    size_t *visited) __attribute__((warn_unused_result));

/* Reads key of t into *val (malloc'd, free()), *vlen. 0, STORE_ENOTFOUND,
 * STORE_EIO, STORE_ENOMEM. */
int apps_store_get(struct apps_store *st, enum apps_table t, const void *key, size_t klen,
		   unsigned char **val, size_t *vlen) __attribute__((warn_unused_result));

/* One compare-and-set: the record under key must be byte-equal to expected
 * (expected NULL: there must be none); then it becomes val (val NULL: it
 * is deleted). A required change that finds another value aborts the whole
 * batch; one that is not required is skipped (counted). */
struct apps_cas {
	enum apps_table table;
	const void *key;
	size_t klen;
	const void *expected;
	size_t elen;
	const void *val;
	size_t vlen;
	bool required;
};

/* Applies changes c[0..n) in one write transaction (one commit, full
 * sync). 0 (*skipped, may be NULL: the changes not required that found
 * another value), STORE_ECHANGED (a required one did: nothing changed),
 * STORE_EIO, STORE_EFULL, STORE_ENOSPC. */
int apps_store_cas(struct apps_store *st, const struct apps_cas *c, size_t n, size_t *skipped)
	__attribute__((warn_unused_result));

/* Builds the oauth2_user key "app_id\0user_id" into key; returns its length,
 * or 0 when it does not fit. */
size_t oauth2_user_key(const char *app_id, const char *user_id, char *key, size_t cap);

#endif
