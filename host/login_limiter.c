#include "login_limiter.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

#include "banned.h"

void login_limiter_init(struct login_limiter *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
}

void login_limiter_destroy(struct login_limiter *l)
{
	pthread_mutex_destroy(&l->lock);
}

/* Usernames are compared lower-case, as logins are. */
static uint64_t tag_of(char kind, const char *key)
{
	crypto_generichash_state st;
	unsigned char out[8], k = (unsigned char)kind;
	uint64_t tag;

	crypto_generichash_init(&st, NULL, 0, sizeof(out));
	crypto_generichash_update(&st, &k, 1);
	for (const char *p = key; *p; p++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*p);
		crypto_generichash_update(&st, &c, 1);
	}
	crypto_generichash_final(&st, out, sizeof(out));
	memcpy(&tag, out, sizeof(tag));
	return tag ? tag : 1;
}

static struct login_slot *slot_for(struct login_limiter *l, uint64_t tag)
{
	return &l->slots[tag % LOGIN_SLOTS];
}

static bool slot_blocked(const struct login_slot *s, uint64_t tag, int64_t now, unsigned *retry)
{
	int64_t end;

	if (s->tag != tag || s->failures < LOGIN_FAILURES_MAX)
		return false;
	end = s->window_start_ms + LOGIN_WINDOW_MS;
	if (now >= end)
		return false;
	*retry = (unsigned)((end - now + 999) / 1000);
	return true;
}

bool login_limiter_blocked(struct login_limiter *l, const char *username, const char *ip,
			   int64_t now_ms, unsigned *retry_after_s)
{
	uint64_t tu = tag_of('u', username), ti = tag_of('i', ip);
	bool blocked;

	*retry_after_s = 0;
	pthread_mutex_lock(&l->lock);
	blocked = slot_blocked(slot_for(l, tu), tu, now_ms, retry_after_s) ||
		  slot_blocked(slot_for(l, ti), ti, now_ms, retry_after_s);
	pthread_mutex_unlock(&l->lock);
	return blocked;
}

static void count(struct login_limiter *l, uint64_t tag, int64_t now)
{
	struct login_slot *s = slot_for(l, tag);

	/* A colliding key takes the slot over: memory stays bounded and the
	 * worst case is a counter that starts again. */
	if (s->tag != tag || now - s->window_start_ms >= LOGIN_WINDOW_MS) {
		s->tag = tag;
		s->window_start_ms = now;
		s->failures = 0;
	}
	if (s->failures < UINT32_MAX)
		s->failures++;
}

void login_limiter_fail(struct login_limiter *l, const char *username, const char *ip,
			int64_t now_ms)
{
	uint64_t tu = tag_of('u', username), ti = tag_of('i', ip);

	pthread_mutex_lock(&l->lock);
	count(l, tu, now_ms);
	count(l, ti, now_ms);
	pthread_mutex_unlock(&l->lock);
}
