#include "app_cache.h"

#include <stdio.h>
#include <string.h>

#include "app_call.h"
#include "banned.h"

void app_cache_init(struct app_cache *c)
{
	memset(c->slots, 0, sizeof(c->slots));
	pthread_rwlock_init(&c->lock, NULL);
}

void app_cache_destroy(struct app_cache *c)
{
	pthread_rwlock_destroy(&c->lock);
}

/* FNV-1a: app ids are few and chosen by admins, and a collision only costs
 * a record read; no cryptographic hash per request. */
static size_t slot_of(const char *app_id)
{
	uint64_t v = 14695981039346656037ull;

	for (const unsigned char *p = (const unsigned char *)app_id; *p; p++)
		v = (v ^ *p) * 1099511628211ull;
	return (size_t)(v % APP_CACHE_SLOTS);
}

int app_cache_get(struct app_cache *c, struct apps_store *st, const char *app_id,
		  struct app_summary *out)
{
	struct app_cache_slot *slot = &c->slots[slot_of(app_id)];
	uint64_t gen = atomic_load(&st->app_generation);
	json_t *app = NULL;
	int rc;

	pthread_rwlock_rdlock(&c->lock);
	if (slot->used && slot->generation == gen && strcmp(slot->s.app_id, app_id) == 0) {
		*out = slot->s;
		pthread_rwlock_unlock(&c->lock);
		return STORE_OK;
	}
	pthread_rwlock_unlock(&c->lock);

	/* gen was read before the record: a write in between leaves the entry
	 * stamped old, so it is never used. */
	rc = app_record_get(st, app_id, &app);
	if (rc != STORE_OK)
		return rc;
	memset(out, 0, sizeof(*out));
	snprintf(out->app_id, sizeof(out->app_id), "%s", app_id);
	out->disabled = json_is_true(json_object_get(app, "disabled"));
	out->remote_oauth2 = app_has_remote_oauth2(app);
	snprintf(out->bot_user_id, sizeof(out->bot_user_id), "%s",
		 json_string_value(json_object_get(app, "bot_user_id"))
			 ? json_string_value(json_object_get(app, "bot_user_id"))
			 : "");
	json_decref(app);
	pthread_rwlock_wrlock(&c->lock);
	slot->s = *out;
	slot->generation = gen;
	slot->used = true;
	pthread_rwlock_unlock(&c->lock);
	return STORE_OK;
}
