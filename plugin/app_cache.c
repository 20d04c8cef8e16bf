#include "app_cache.h"

#include <stdint.h>
#include <string.h>

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
		  struct app_gate *out)
{
	struct app_cache_slot *slot = &c->slots[slot_of(app_id)];
	uint64_t gen = atomic_load(&st->app_generation);
	/* Read before the lookup: news lost while it was false moved the
	 * generation when it came back. */
	bool trusted = store_cache_ok(st->db);
	int rc;

	if (!trusted) {
		rc = app_gate_get(st, app_id, out);
		return rc == STORE_ECONFLICT ? STORE_ENOTFOUND : rc;
	}
	pthread_rwlock_rdlock(&c->lock);
	if (slot->used && slot->generation == gen && strcmp(slot->gate.app_id, app_id) == 0) {
		*out = slot->gate;
		pthread_rwlock_unlock(&c->lock);
		return STORE_OK;
	}
	pthread_rwlock_unlock(&c->lock);

	/* gen was read before the gate: a write in between leaves the entry
	 * stamped old, so it is never used. */
	rc = app_gate_get(st, app_id, out);
	if (rc == STORE_ECONFLICT)
		rc = STORE_ENOTFOUND;
	if (rc != STORE_OK)
		return rc;
	pthread_rwlock_wrlock(&c->lock);
	slot->gate = *out;
	slot->generation = gen;
	slot->used = true;
	pthread_rwlock_unlock(&c->lock);
	return STORE_OK;
}
