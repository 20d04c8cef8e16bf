/*
 * What the OAuth2 user routes need to know of an App on every request
 * (installed, disabled, remote_oauth2 granted, its bot), cached in memory so
 * that a request does not open and parse the whole sealed App record. Only
 * these non-secret facts are cached. An entry is good while the store's App
 * generation has not moved (every App write in this process moves it).
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

struct app_summary {
	char app_id[APP_ID_MAX + 1];
	bool disabled;
	bool remote_oauth2;
	char bot_user_id[MMPLUGIN_ID_LEN + 1];
};

struct app_cache_slot {
	struct app_summary s;
	uint64_t generation;
	bool used;
};

struct app_cache {
	pthread_rwlock_t lock;
	struct app_cache_slot slots[APP_CACHE_SLOTS];
};

void app_cache_init(struct app_cache *c);
void app_cache_destroy(struct app_cache *c);

/* The summary of app_id: STORE_OK, STORE_ENOTFOUND, or the store's error
 * (STORE_ECORRUPT when the record does not open). */
int app_cache_get(struct app_cache *c, struct apps_store *st, const char *app_id,
		  struct app_summary *out);

#endif
