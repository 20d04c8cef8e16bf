/*
 * The host's own LMDB environment, in <data_dir>/host: users, sessions and
 * plugin states. Opened by `mmhost serve` and by the admin commands, which
 * may run at the same time (LMDB allows several processes).
 *
 * Databases (keys and values):
 *   users        user id -> user record (JSON)
 *   usernames    lower-case username -> user id
 *   emails       lower-case email -> user id
 *   sessions     BLAKE2b-256 of the token -> session record (JSON)
 *   plugin_state plugin id -> "enabled" | "disabled" (overrides the config)
 */
#ifndef HOST_STORE_H
#define HOST_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kv.h"

/* Why a write failed, shared by the users_ and sessions_ codes (which use
 * the same values), so that callers can tell a full store from a failing
 * one. */
enum store_rc {
	STORE_OK = 0,
	STORE_EIO = -2,      /* LMDB failed */
	STORE_EMAPFULL = -7, /* the map reached its maximum size (MDB_MAP_FULL) */
	STORE_ENOSPC = -8,   /* the disk is full (ENOSPC, EDQUOT) */
};

/* For tests that need a full store without filling a disk: when set, caps
 * the host's LMDB map (its initial and its maximum size) at this many bytes
 * (at least 65536). Never set it in production. */
#define STORE_TEST_MAP_ENV "MMHOST_TEST_STORE_MAP_BYTES"

struct host_store {
	struct kv_env kv;
	MDB_dbi users;
	MDB_dbi usernames;
	MDB_dbi emails;
	MDB_dbi sessions;
	MDB_dbi plugin_state;
	/* Bumped by every change that can end a session (revocation, a user
	 * deactivated, a sweep), for the session cache. */
	atomic_uint_fast64_t session_generation;
	struct session_cache *sessions_cache; /* NULL: no cache */
};

/* 0, or -1 with a message in err. Reads STORE_TEST_MAP_ENV. */
int store_open(struct host_store *s, const char *data_dir, char *err, size_t err_cap)
	__attribute__((warn_unused_result));
void store_close(struct host_store *s);

/* Maps what kv_write returned to the store's codes: KV_EFULL is
 * STORE_EMAPFULL, KV_ENOSPC STORE_ENOSPC, KV_EIO STORE_EIO; 0 and the
 * callbacks' own codes are returned as they are. */
int store_write_rc(int kv_rc);

/* What a failed write means, for a log line ("MDB_MAP_FULL: ..."); never
 * NULL. */
const char *store_strerror(int rc);

/* True for STORE_EMAPFULL and STORE_ENOSPC: the write failed for lack of
 * room, the old value is intact, and the answer is 507. */
bool store_is_full(int rc);

/* Plugin state written by `mmhost plugin enable|disable` and the plugins API:
 * 1 enabled, 0 disabled, -1 never set. */
int store_plugin_state(struct host_store *s, const char *id);
int store_set_plugin_state(struct host_store *s, const char *id, int enabled)
	__attribute__((warn_unused_result));

#endif
