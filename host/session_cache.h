/*
 * A bounded in-memory cache of live sessions, keyed by the token's hash, so
 * that authenticating a request does not read and decode two records. An
 * entry is used only while the store's session generation is the one it was
 * read under and while the session has not expired.
 *
 * Ending sessions, in this process, another one (the admin commands) or
 * another node, notifies the store topic "sessions" after the commit (see
 * host_store.h): one session's revocation with the hex of its token's hash
 * as payload, and this cache drops that entry alone (session_cache_drop);
 * anything wider (a user's sessions, an App's, a sweep, a lost
 * notification) bumps the generation, which empties the whole cache.
 *
 * A read that started before a drop must not put the revoked session back:
 * each slot counts its drops, the reader takes the count before reading the
 * store (session_cache_stamp) and session_cache_put fills the slot only if
 * it has not moved since. Thread-safe.
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
	uint64_t drops; /* session_cache_drop calls that hit this slot */
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
/* The drop count of hash's slot: take it before reading the store, give it
 * to session_cache_put. */
uint64_t session_cache_stamp(struct session_cache *c, const unsigned char *hash);
/* Caches s for hash unless hash's slot was dropped since stamp was taken. */
void session_cache_put(struct session_cache *c, const unsigned char *hash, uint64_t generation,
		       uint64_t stamp, const struct host_session *s);
/* Forgets hash's entry (its session ended): quick, never blocks for long. */
void session_cache_drop(struct session_cache *c, const unsigned char *hash);

#endif
