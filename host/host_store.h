/*
 * The host's store, on the storage seam (common/store.h): users, sessions
 * and plugin states, in the backend the config's "store" names (LMDB in
 * <data_dir>/host, or PostgreSQL tables host_*). Opened by `mmhost serve`
 * and by the admin commands, which may run at the same time.
 *
 * Tables (keys and values):
 *   users        user id -> user record (JSON)
 *   usernames    lower-case username -> user id
 *   emails       lower-case email -> user id
 *   sessions     BLAKE2b-256 of the token -> session record (JSON)
 *   plugin_state plugin id -> "enabled" | "disabled" (overrides the config)
 *   store_copy   HOST_COPY_UNFINISHED -> "" while `mmhost store copy` fills
 *                this store (and the plugin's): host_store_open refuses a
 *                store that holds it, so no node starts on half a copy
 *
 * Every change that can end a session (a revocation, a user deactivated)
 * notifies the topic "sessions" in its transaction; the session cache of
 * every process and node hears it after the commit (see session_cache.h).
 * Its payload is the hex of the ended session's key (the token's hash, never
 * the token) when one session ended, "" when more may have.
 */
#ifndef HOST_HOST_STORE_H
#define HOST_HOST_STORE_H

#include <stdatomic.h>
#include <stdint.h>

#include "store.h"

enum host_table {
	HOST_T_USERS,
	HOST_T_USERNAMES,
	HOST_T_EMAILS,
	HOST_T_SESSIONS,
	HOST_T_PLUGIN_STATE,
	HOST_T_STORE_COPY,
	HOST_T_COUNT
};

/* The table names, indexed by enum host_table (for `mmhost store copy`,
 * which opens the host's store in two backends at once). */
extern const char *const host_store_tables[HOST_T_COUNT];

#define HOST_COPY_UNFINISHED "unfinished"

#define HOST_TOPIC_SESSIONS "sessions"

/* For tests that need a full store without filling a disk: when set, caps
 * the host's LMDB map (its initial and its maximum size) at this many bytes
 * (at least 65536). Never set it in production. */
#define STORE_TEST_MAP_ENV "MMHOST_TEST_STORE_MAP_BYTES"

struct host_store {
	struct store *st;
	/* Bumped after every change that can end more than one session is
	 * committed (here or elsewhere) and whenever notifications may have
	 * been missed, for the session cache (which drops the entry alone
	 * when one session ended). */
	atomic_uint_fast64_t session_generation;
	struct session_cache *sessions_cache; /* NULL: no cache */
};

/* Opens the host's store in the backend cfg names; LMDB's environment is
 * <data_dir>/host (data_dir is created 0700; STORE_TEST_MAP_ENV is read).
 * Backend problems are logged through the host's log. 0, or -1 with a
 * message in err; also -1 when the store holds an unfinished `mmhost store
 * copy` (err says to run the copy again). */
int host_store_open(struct host_store *s, const struct store_config *cfg, const char *data_dir,
		    char *err, size_t err_cap) __attribute__((warn_unused_result));
void host_store_close(struct host_store *s);

/* Caches sessions in cache (already initialised; it must outlive the store)
 * and keeps it exact: a "sessions" notification naming one session's hash
 * drops that entry, any other drops the whole cache, and the cache is
 * bypassed while notifications may go unheard. Call it before the server
 * reads sessions. 0 or -1. */
int host_store_cache_sessions(struct host_store *s, struct session_cache *cache)
	__attribute__((warn_unused_result));

/* Plugin state written by `mmhost plugin enable|disable` and the plugins API:
 * 1 enabled, 0 disabled, -1 never set (or unreadable). */
int host_store_plugin_state(struct host_store *s, const char *id);
int host_store_set_plugin_state(struct host_store *s, const char *id, int enabled)
	__attribute__((warn_unused_result));

/* One trivial read, for the health check: STORE_OK when the store answers
 * (within STORE_TIMEOUT_MS for PostgreSQL), else its error
 * (STORE_EUNAVAILABLE when the database cannot be reached). */
int host_store_ping(struct host_store *s) __attribute__((warn_unused_result));

#endif
