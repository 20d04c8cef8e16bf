#include "keyring.h"

#include <sodium.h>
#include <string.h>

#include "banned.h"

int keyring_init(struct keyring *r)
{
	memset(r, 0, sizeof(*r));
	r->keys = sodium_allocarray(KEYRING_MAX, sizeof(struct keyring_entry));
	if (!r->keys)
		return -1;
	sodium_memzero(r->keys, KEYRING_MAX * sizeof(struct keyring_entry));
	sodium_mprotect_readonly(r->keys);
	pthread_rwlock_init(&r->lock, NULL);
	atomic_init(&r->generation, 0);
	return 0;
}

void keyring_destroy(struct keyring *r)
{
	if (!r->keys)
		return;
	sodium_free(r->keys); /* wipes */
	r->keys = NULL;
	r->n = 0;
	r->current = 0;
	pthread_rwlock_destroy(&r->lock);
}

static int entries_valid(const struct keyring_entry *e, size_t n, uint32_t current)
{
	int current_found = current == 0;

	if (n > KEYRING_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].id == 0)
			return 0;
		for (size_t j = 0; j < i; j++)
			if (e[j].id == e[i].id)
				return 0;
		if (e[i].id == current)
			current_found = 1;
	}
	return current_found;
}

int keyring_replace(struct keyring *r, const struct keyring_entry *e, size_t n, uint32_t current)
{
	if (!entries_valid(e, n, current))
		return -1;
	pthread_rwlock_wrlock(&r->lock);
	sodium_mprotect_readwrite(r->keys);
	sodium_memzero(r->keys, KEYRING_MAX * sizeof(struct keyring_entry));
	if (n)
		memcpy(r->keys, e, n * sizeof(*e));
	sodium_mprotect_readonly(r->keys);
	r->n = n;
	r->current = current;
	atomic_fetch_add(&r->generation, 1);
	pthread_rwlock_unlock(&r->lock);
	return 0;
}

/* With the lock held. */
static const struct keyring_entry *find(const struct keyring *r, uint32_t id)
{
	for (size_t i = 0; id && i < r->n; i++)
		if (r->keys[i].id == id)
			return &r->keys[i];
	return NULL;
}

int keyring_get(struct keyring *r, uint32_t id, unsigned char key[DATA_KEY_LEN])
{
	const struct keyring_entry *e;
	int rc = -1;

	pthread_rwlock_rdlock(&r->lock);
	if ((e = find(r, id)) != NULL) {
		memcpy(key, e->key, DATA_KEY_LEN);
		rc = 0;
	}
	pthread_rwlock_unlock(&r->lock);
	return rc;
}

int keyring_current(struct keyring *r, uint32_t *id, unsigned char key[DATA_KEY_LEN])
{
	const struct keyring_entry *e;
	int rc = -1;

	pthread_rwlock_rdlock(&r->lock);
	if ((e = find(r, r->current)) != NULL) {
		memcpy(key, e->key, DATA_KEY_LEN);
		*id = e->id;
		rc = 0;
	}
	pthread_rwlock_unlock(&r->lock);
	return rc;
}

uint32_t keyring_current_id(struct keyring *r)
{
	uint32_t id;

	pthread_rwlock_rdlock(&r->lock);
	id = r->current;
	pthread_rwlock_unlock(&r->lock);
	return id;
}

size_t keyring_list(struct keyring *r, uint32_t *ids, int64_t *created)
{
	size_t n;

	pthread_rwlock_rdlock(&r->lock);
	n = r->n;
	for (size_t i = 0; i < n; i++) {
		ids[i] = r->keys[i].id;
		created[i] = r->keys[i].created_at;
	}
	pthread_rwlock_unlock(&r->lock);
	return n;
}
