#include "session_cache.h"

#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int session_cache_init(struct session_cache *c)
{
	c->slots = calloc(SESSION_CACHE_SLOTS, sizeof(*c->slots));
	if (!c->slots)
		return -1;
	pthread_rwlock_init(&c->lock, NULL);
	return 0;
}

void session_cache_destroy(struct session_cache *c)
{
	if (!c->slots)
		return;
	sodium_memzero(c->slots, SESSION_CACHE_SLOTS * sizeof(*c->slots));
	free(c->slots);
	c->slots = NULL;
	pthread_rwlock_destroy(&c->lock);
}

static struct session_cache_slot *slot_of(struct session_cache *c, const unsigned char *hash)
{
	uint32_t v;

	memcpy(&v, hash, sizeof(v)); /* the hash is uniform already */
	return &c->slots[v % SESSION_CACHE_SLOTS];
}

int session_cache_get(struct session_cache *c, const unsigned char *hash, uint64_t generation,
		      int64_t now_ms, struct host_session *out)
{
	struct session_cache_slot *s = slot_of(c, hash);
	int rc = -1;

	pthread_rwlock_rdlock(&c->lock);
	if (s->used && s->generation == generation &&
	    sodium_memcmp(s->hash, hash, SESSION_HASH_LEN) == 0 &&
	    (s->session.expires_at == 0 || s->session.expires_at > now_ms)) {
		/* Only the props in use: a whole session is 6 KiB, copied for
		 * every request. */
		memcpy(out, &s->session, offsetof(struct host_session, props));
		memcpy(out->props, s->session.props,
		       s->session.props_len * sizeof(s->session.props[0]));
		out->user = s->session.user;
		rc = 0;
	}
	pthread_rwlock_unlock(&c->lock);
	return rc;
}

uint64_t session_cache_stamp(struct session_cache *c, const unsigned char *hash)
{
	struct session_cache_slot *s = slot_of(c, hash);
	uint64_t drops;

	pthread_rwlock_rdlock(&c->lock);
	drops = s->drops;
	pthread_rwlock_unlock(&c->lock);
	return drops;
}

void session_cache_put(struct session_cache *c, const unsigned char *hash, uint64_t generation,
		       uint64_t stamp, const struct host_session *session)
{
	struct session_cache_slot *s = slot_of(c, hash);

	pthread_rwlock_wrlock(&c->lock);
	if (s->drops != stamp) {
		/* A session of this slot ended while it was being read. */
		pthread_rwlock_unlock(&c->lock);
		return;
	}
	memcpy(s->hash, hash, SESSION_HASH_LEN);
	s->generation = generation;
	s->session = *session;
	s->used = true;
	pthread_rwlock_unlock(&c->lock);
}

void session_cache_drop(struct session_cache *c, const unsigned char *hash)
{
	struct session_cache_slot *s = slot_of(c, hash);

	pthread_rwlock_wrlock(&c->lock);
	s->drops++;
	if (s->used && sodium_memcmp(s->hash, hash, SESSION_HASH_LEN) == 0) {
		sodium_memzero(&s->session, sizeof(s->session));
		s->used = false;
	}
	pthread_rwlock_unlock(&c->lock);
}
