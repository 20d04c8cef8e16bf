/*
 * A bounded in-memory cache of live sessions, keyed by the token's hash, so
 * that authenticating a request does not read and decode two records. An
 * entry is used only while the store's session generation is the one it was
 * read under and while the session has not expired. The generation is
 * bumped after every change that can end a session is committed, in this
 * process, another one (the admin commands) or another node: each such
 * change notifies the store topic "sessions", and the store tells the
 * host_store's listener after the commit (see host_store.h). Thread-safe.
 */
#ifndef HOST_SESSION_CACHE_H
#define HOST_SESSION_CACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "sessions.h"

#define SESSION_CACHE_SLOTS 1024
#define SESSION_HASH_LEN 32

struct session_cache_slot {
	unsigned char hash[SESSION_HASH_LEN];
	uint64_t generation;
	bool used;
	struct host_session session;
};

struct session_cache {
	pthread_rwlock_t lock;
	struct session_cache_slot *slots; /* SESSION_CACHE_SLOTS */
};

/* 0 or -1 (out of memory). */
int session_cache_init(struct session_cache *c) __attribute__((warn_unused_result));
/* Wipes and frees. */
void session_cache_destroy(struct session_cache *c);

/* 0 and *out filled when a good entry exists for hash at generation. */
int session_cache_get(struct session_cache *c, const unsigned char *hash, uint64_t generation,
		      int64_t now_ms, struct host_session *out);
void session_cache_put(struct session_cache *c, const unsigned char *hash, uint64_t generation,
		       const struct host_session *s);

#endif
