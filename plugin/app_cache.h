/*
 * What the OAuth2 routes need to know of an App on every request: its gate
 * (installed, which install, disabled, remote_oauth2 granted, its bot; see
 * app_gate.h), cached in memory so that a request reads nothing. Only these
 * non-secret facts are cached. An entry is good while the store's App
 * generation has not moved (every App write here moves it, and so does
 * every notification of a change made by another process or node, within
 * a second). While the store says notifications may go unheard
 * (store_cache_ok false) the cache is bypassed.
 *
 * The cache only answers early: every write that depends on the App checks
 * the gate again in its own transaction (apps_store.h), so a stale entry can
 * never let a write through.
 * Thread-safe.
 */
#ifndef PLUGIN_APP_CACHE_H
#define PLUGIN_APP_CACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <mmplugin/plugin.h>

#include "apps_store.h"

#define APP_CACHE_SLOTS 256

struct app_cache_slot {
	struct app_gate gate;
	uint64_t generation;
	bool used;
};

struct app_cache {
	pthread_rwlock_t lock;
	struct app_cache_slot slots[APP_CACHE_SLOTS];
};

void app_cache_init(struct app_cache *c);
void app_cache_destroy(struct app_cache *c);

/* The gate of app_id: STORE_OK, STORE_ENOTFOUND (not installed, or only
 * under another case), or the store's error. */
int app_cache_get(struct app_cache *c, struct apps_store *st, const char *app_id,
		  struct app_gate *out);

#endif
