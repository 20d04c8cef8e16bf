#include "login_limiter.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "banned.h"

void login_limiter_init(struct login_limiter *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	randombytes_buf(l->key, sizeof(l->key));
}

void login_limiter_destroy(struct login_limiter *l)
{
	sodium_memzero(l->key, sizeof(l->key));
	pthread_mutex_destroy(&l->lock);
}

/* Where a key lives: its bucket and its tag (never 0), from one keyed hash
 * of the kind and the key's bytes (lower-cased when lower). */
struct slot {
	uint32_t bucket;
	uint64_t tag;
};

static struct slot slot_of(const struct login_limiter *l, unsigned char kind,
			   const unsigned char *key, size_t len, bool lower)
{
	crypto_generichash_state st;
	unsigned char out[16];
	struct slot s;
	uint64_t b;

	crypto_generichash_init(&st, l->key, sizeof(l->key), sizeof(out));
	crypto_generichash_update(&st, &kind, 1);
	for (size_t i = 0; lower && i < len; i++) {
		unsigned char c = (unsigned char)tolower(key[i]);
		crypto_generichash_update(&st, &c, 1);
	}
	if (!lower)
		crypto_generichash_update(&st, key, len);
	crypto_generichash_final(&st, out, sizeof(out));
	memcpy(&s.tag, out, sizeof(s.tag));
	memcpy(&b, out + 8, sizeof(b));
	s.tag = s.tag ? s.tag : 1;
	s.bucket = (uint32_t)(b % LOGIN_LIMITER_BUCKETS);
	return s;
}

/* An IPv6 address counts for its /64; anything that does not parse counts
 * as its text. */
static struct slot addr_slot(const struct login_limiter *l, const char *addr)
{
	static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned char a6[16];
	struct in_addr a4;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return slot_of(l, '4', (const unsigned char *)&a4, sizeof(a4), false);
	if (inet_pton(AF_INET6, addr, a6) == 1) {
		if (memcmp(a6, v4_mapped, sizeof(v4_mapped)) == 0)
			return slot_of(l, '4', a6 + 12, 4, false);
		return slot_of(l, '6', a6, 8, false);
	}
	return slot_of(l, 't', (const unsigned char *)addr, strlen(addr), false);
}

static bool live(const struct login_count *c, int64_t now)
{
	return c->tag != 0 && now - c->window_start_ms < LOGIN_WINDOW_MS;
}

static unsigned seconds_until(int64_t end, int64_t now)
{
	int64_t s = (end - now + 999) / 1000;

	return s < 1 ? 1 : (unsigned)s;
}

/*
 * Finds where s is counted in table t: its live entry, or the entry a new
 * window for it would take (its own expired entry, a free one, or the one
 * whose window ended longest ago). Returns LOGIN_LIMIT_OK with *out set,
 * `limited` when s has used up its attempts, LOGIN_LIMIT_FULL when every
 * other entry of the bucket is live; then *retry_s is set.
 */
static int find(struct login_table *t, struct slot s, int64_t now, int limited,
		struct login_count **out, unsigned *retry_s)
{
	struct login_count *bucket = t->entries[s.bucket], *spare = NULL;
	int64_t first_end = INT64_MAX;

	for (int i = 0; i < LOGIN_LIMITER_WAYS; i++) {
		struct login_count *c = &bucket[i];
		if (c->tag == s.tag) {
			if (live(c, now) && c->failures >= LOGIN_FAILURES_MAX) {
				*retry_s = seconds_until(c->window_start_ms + LOGIN_WINDOW_MS, now);
				return limited;
			}
			*out = c;
			return LOGIN_LIMIT_OK;
		}
		if (live(c, now)) {
			if (c->window_start_ms + LOGIN_WINDOW_MS < first_end)
				first_end = c->window_start_ms + LOGIN_WINDOW_MS;
		} else if (c->tag == 0) {
			if (!spare || spare->tag != 0)
				spare = c; /* free beats expired */
		} else if (!spare ||
			   (spare->tag != 0 && c->window_start_ms < spare->window_start_ms)) {
			spare = c;
		}
	}
	if (!spare) {
		*retry_s = seconds_until(first_end, now);
		return LOGIN_LIMIT_FULL;
	}
	*out = spare;
	return LOGIN_LIMIT_OK;
}

static void count(struct login_count *c, uint64_t tag, int64_t now)
{
	if (c->tag != tag || !live(c, now)) {
		c->tag = tag;
		c->window_start_ms = now;
		c->failures = 0;
	}
	c->failures++;
}

int login_limiter_take(struct login_limiter *l, enum login_account_kind kind, const char *account,
		       const char *addr, int64_t now_ms, unsigned *retry_after_s,
		       struct login_ticket *t)
{
	/* The kind is hashed in: a login_id that spells a user id is not that
	 * account. */
	struct slot sn = slot_of(l, (unsigned char)kind, (const unsigned char *)account,
				 strlen(account), kind == LOGIN_ACCOUNT_NAME);
	struct slot sa = addr_slot(l, addr);
	struct login_count *cn = NULL, *ca = NULL;
	int rc;

	memset(t, 0, sizeof(*t));
	*retry_after_s = 0;
	pthread_mutex_lock(&l->lock);
	rc = find(&l->addrs, sa, now_ms, LOGIN_LIMIT_ADDR, &ca, retry_after_s);
	if (rc == LOGIN_LIMIT_OK)
		rc = find(&l->accounts, sn, now_ms, LOGIN_LIMIT_ACCOUNT, &cn, retry_after_s);
	if (rc == LOGIN_LIMIT_OK) {
		count(ca, sa.tag, now_ms);
		count(cn, sn.tag, now_ms);
		*t = (struct login_ticket){
			.counted = true,
			.acct_tag = sn.tag,
			.addr_tag = sa.tag,
			.acct_bucket = sn.bucket,
			.addr_bucket = sa.bucket,
			.acct_window = cn->window_start_ms,
			.addr_window = ca->window_start_ms,
		};
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static void give_back(struct login_table *t, uint32_t bucket, uint64_t tag, int64_t window)
{
	for (int i = 0; i < LOGIN_LIMITER_WAYS; i++) {
		struct login_count *c = &t->entries[bucket][i];
		if (c->tag == tag && c->window_start_ms == window && c->failures > 0) {
			c->failures--;
			return;
		}
	}
}

void login_limiter_refund(struct login_limiter *l, const struct login_ticket *t)
{
	if (!t->counted)
		return;
	pthread_mutex_lock(&l->lock);
	give_back(&l->accounts, t->acct_bucket, t->acct_tag, t->acct_window);
	give_back(&l->addrs, t->addr_bucket, t->addr_tag, t->addr_window);
	pthread_mutex_unlock(&l->lock);
}
