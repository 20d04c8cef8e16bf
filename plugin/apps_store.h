/*
 * The plugin's store, on the storage seam (common/store.h): LMDB in the data
 * folder the host gives it (<data dir>/store), or PostgreSQL tables apps_*
 * in the database the host's "store" config names (host API store_json).
 *
 * Tables (key -> value; LMDB: named databases, the same names and bytes as
 * the releases before the seam, so their stores open unchanged):
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
 * When a function returns STORE_OK the write is durable (LMDB: on disk;
 * PostgreSQL: committed). Writes from many threads share commits (the
 * seam's group commit). A failed write leaves the old value. A sealed
 * record that fails to open is STORE_ECORRUPT and is never returned. The
 * database unreachable is STORE_EUNAVAILABLE (within STORE_TIMEOUT_MS).
 *
 * A write that stores a sealed record commits only under the store's
 * current data key: when this node's keyring lags a rotation, the write
 * reloads it and seals again (key_current.h), so no record commits under an
 * older key after a rotation did.
 *
 * Writes that depend on an App take what the caller checked (struct
 * app_gate_expect) and re-check it against the App's gate inside the
 * transaction that writes: a change checked before an uninstall, a disable
 * or a reinstall is refused (APP_GATE_*), never written after it.
 *
 * Every change of an App record or gate notifies the topic "apps" (payload:
 * the app_id) in its transaction; app_generation moves when this process or
 * another node changed an App, and whenever notifications may have been
 * missed (see app_cache.h). Thread-safe.
 */
#ifndef PLUGIN_APPS_STORE_H
#define PLUGIN_APPS_STORE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app_gate.h"
#include "apps_store_layout.h"
#include "seal.h"
#include "store.h"

#define STATE_HASH_LEN 32
/* oauth2_state_by_user keys: user_id | expires_at (8, big-endian) | hash. */
#define STATE_INDEX_USER_LEN 26
#define STATE_INDEX_KEY_LEN (STATE_INDEX_USER_LEN + 8 + STATE_HASH_LEN)

/* Results: 0, the seam's codes (store.h: STORE_ENOTFOUND, STORE_EIO,
 * STORE_EUNAVAILABLE, STORE_EFULL, STORE_ENOMEM, ...), and the plugin's own,
 * kept at or below STORE_ECALLER so they never mean a store error. */
enum apps_store_rc {
	STORE_ECORRUPT = -110, /* a sealed record did not open: tampered, moved or wrong key */
	STORE_ECHANGED = -111, /* apps_store_cas: the record was not the one expected */
	STORE_ESTALE = -112,   /* oauth2_user_cas: the stored bytes were not the expected ones */
	STORE_EBUSY = -113,    /* refresh_lease_take: another holder's lease is live */
	/* -120..-121: STATE_* (state_store.h); -130..-133: APP_GATE_* (app_gate.h) */
};
/* The seam reports a full disk (ENOSPC, EDQUOT) and a full LMDB map alike:
 * nothing was written, the answer is 507; its log line says which. */
#define STORE_ENOSPC STORE_EFULL
/* STORE_ECONFLICT (store.h) here means: another App's id differs from this
 * one only in case. */

/* Tables: enum key_table in apps_store_layout.h, shared with mmhost store copy. */
#define APPS_TOPIC "apps" /* an App record or gate changed; payload: its app_id */

struct apps_store {
	struct store *db;
	const struct sealer *sealer;
	/* Bumped after every change to an App record committed here or heard
	 * of from another process or node, and whenever such news may have
	 * been missed, for caches of them. */
	atomic_uint_fast64_t app_generation;
};

/* Opens the plugin's store in the backend cfg names (NULL: LMDB); LMDB's
 * environment is the folder dir (created 0700), PostgreSQL's tables are
 * apps_*. Problems of the backend are logged through log (may be NULL).
 * Gives installed Apps of older releases their gates. STORE_OK, or a
 * negative code with one line in err (never the URL's password). */
int apps_store_open_backend(struct apps_store *st, const struct store_config *cfg, const char *dir,
			    const struct sealer *sealer, store_log_fn log, void *log_arg, char *err,
			    size_t err_cap) __attribute__((warn_unused_result));
/* apps_store_open_backend with LMDB in dir and no log. */
int apps_store_open(struct apps_store *st, const char *dir, const struct sealer *sealer, char *err,
		    size_t err_cap) __attribute__((warn_unused_result));
void apps_store_close(struct apps_store *st);

/* Whether the store's reads may wait on the network (store_reads_block):
 * then handlers that read it do not run on the host's I/O thread. */
bool apps_store_reads_block(const struct apps_store *st);

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
 * change and is returned as is (at or below STORE_ECALLER). It may run more
 * than once, on another thread (see store_write), so it depends only on cur
 * and arg. */
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

/* For the framework's token refresh (token_refresh.h). */

/* oauth2_user_get, also giving the record's sealed bytes as stored (for
 * oauth2_user_cas; malloc'd, free with free()). */
int oauth2_user_get_sealed(struct apps_store *st, const char *app_id, const char *user_id,
			   unsigned char **sealed, size_t *sealed_len, char **data, size_t *len)
	__attribute__((warn_unused_result));
/* Compare-and-set of a user's OAuth2 data: in one write transaction where
 * the App's gate satisfies expect, replaces the record of (expect->app_id,
 * user_id) when it still holds the value of expected (expected_len sealed
 * bytes as read: the same bytes, or the same plaintext sealed again by the
 * key sweep; NULL: no record may exist) with data sealed anew (NULL: the
 * record is deleted); not both NULL. STORE_OK, STORE_ESTALE (the record was not as
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
 * writing: 1 when another holder's lease is live at now_ms, 2 when another
 * holder's lease expired without being released (its process died
 * mid-refresh), 0 when there is none (or it is holder's), or a store
 * error. */
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

/* How many rows the counted tables hold, each counted up to
 * APPS_COUNT_MAX (a bound on the walk: the count stops there). Reads a page
 * of keys at a time, so it takes a while on a large store: call it where a
 * wait is harmless (never on the host's I/O thread when
 * apps_store_reads_block). */
#define APPS_COUNT_MAX (1u << 20)
struct apps_store_counts {
	size_t apps, listed, users, states;
};
int apps_store_count(struct apps_store *st, struct apps_store_counts *out)
	__attribute__((warn_unused_result));

/* ---- Tables by name, for the keys' code (key_store.c, key_sweep.c) ----
 * The same operations as common/store.h's scan, get and cas on a few of the
 * plugin's tables: a scan in a read transaction, and compare-and-set of
 * records, several in one write transaction (one commit). */

enum key_table {                         /* the tables the keys' code reads and changes */
		 KEY_TABLE_APPS = 0,     /* sealed */
		 KEY_TABLE_OAUTH2_USER,  /* sealed */
		 KEY_TABLE_OAUTH2_STATE, /* sealed */
		 KEY_TABLE_KEYS,
		 KEY_TABLES
};
#define APPS_SEALED_TABLES 3 /* the first three: every sealed record */
#define APPS_SCAN_MAX 1024   /* rows one apps_store_scan visits at most */

/* The table's name ("apps", "oauth2_user", "oauth2_state", "keys"): the
 * database name sealed records bind. */
const char *apps_table_name(enum key_table t);

/* As store_scan_fn: 0 goes on, > 0 stops (apps_store_scan returns 0), < 0
 * stops with that result. key and val live during the call only. */
typedef int (*apps_scan_fn)(void *arg, const void *key, size_t klen, const void *val, size_t vlen);

/* Visits in key order at most limit (<= APPS_SCAN_MAX) rows of t whose key
 * starts with prefix[0..plen) and is greater than after[0..alen) (after
 * NULL: from the first), in one read transaction. *visited (may be NULL):
 * how many fn saw; fewer than limit means the end. 0, fn's negative
 * result, STORE_EINVAL or a store error. */
int apps_store_scan(struct apps_store *st, enum key_table t, const void *prefix, size_t plen,
		    const void *after, size_t alen, size_t limit, apps_scan_fn fn, void *arg,
		    size_t *visited) __attribute__((warn_unused_result));

/* Reads key of t into *val (malloc'd, free()), *vlen. 0, STORE_ENOTFOUND,
 * STORE_EIO, STORE_ENOMEM. */
int apps_store_get(struct apps_store *st, enum key_table t, const void *key, size_t klen,
		   unsigned char **val, size_t *vlen) __attribute__((warn_unused_result));

/* One compare-and-set: the record under key must be byte-equal to expected
 * (expected NULL: there must be none); then it becomes val (val NULL: it
 * is deleted). A required change that finds another value aborts the whole
 * batch; one that is not required is skipped (counted). */
struct apps_cas {
	enum key_table table;
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
