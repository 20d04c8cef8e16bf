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
#include <stdint.h>

#include "kv.h"

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

/* 0, or -1 with a message in err. */
int store_open(struct host_store *s, const char *data_dir, char *err, size_t err_cap)
	__attribute__((warn_unused_result));
void store_close(struct host_store *s);

/* Plugin state written by `mmhost plugin enable|disable` and the plugins API:
 * 1 enabled, 0 disabled, -1 never set. */
int store_plugin_state(struct host_store *s, const char *id);
int store_set_plugin_state(struct host_store *s, const char *id, int enabled)
	__attribute__((warn_unused_result));

#endif
