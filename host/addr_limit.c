#include "addr_limit.h"

#include <netinet/in.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int addr_limit_init(struct addr_limit *l, size_t max_connections, unsigned per_group)
{
	size_t n = 16;

	memset(l, 0, sizeof(*l));
	/* At most half full: probes stay short. */
	while (n < 2 * (max_connections + 64))
		n *= 2;
	l->slots = calloc(n, sizeof(*l->slots));
	if (!l->slots)
		return -1;
	l->mask = n - 1;
	l->per_group = per_group;
	randombytes_buf(l->hash_key, sizeof(l->hash_key));
	pthread_mutex_init(&l->lock, NULL);
	return 0;
}

void addr_limit_destroy(struct addr_limit *l)
{
	if (!l->slots)
		return;
	free(l->slots);
	l->slots = NULL;
	pthread_mutex_destroy(&l->lock);
}

void addr_key_of(const struct sockaddr *sa, struct addr_key *out)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(out, 0, sizeof(*out));
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		out->b[0] = 4;
		memcpy(out->b + 1, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		const unsigned char *a = in6->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			out->b[0] = 4;
			memcpy(out->b + 1, a + 12, 4);
		} else {
			out->b[0] = 6;
			memcpy(out->b + 1, a, 8);
		}
	} else {
		out->b[0] = 0xff;
	}
}

static size_t home_of(const struct addr_limit *l, const struct addr_key *k)
{
	uint64_t h;
	unsigned char out[crypto_shorthash_BYTES];

	crypto_shorthash(out, k->b, sizeof(k->b), l->hash_key);
	memcpy(&h, out, sizeof(h));
	return (size_t)h & l->mask;
}

/* The slot of k, or the free slot where it would go. Caller holds the
 * lock; the table always has a free slot (used stays at most half). */
static size_t find(const struct addr_limit *l, const struct addr_key *k)
{
	size_t i = home_of(l, k);

	while (l->slots[i].count && memcmp(&l->slots[i].key, k, sizeof(*k)) != 0)
		i = (i + 1) & l->mask;
	return i;
}

bool addr_limit_take(struct addr_limit *l, const struct addr_key *k)
{
	bool ok = false;
	size_t i;

	pthread_mutex_lock(&l->lock);
	i = find(l, k);
	if (l->slots[i].count) {
		ok = l->slots[i].count < l->per_group;
		if (ok)
			l->slots[i].count++;
	} else if (l->per_group > 0 && l->used < (l->mask + 1) / 2) {
		l->slots[i].key = *k;
		l->slots[i].count = 1;
		l->used++;
		ok = true;
	}
	pthread_mutex_unlock(&l->lock);
	return ok;
}

/* Empties slot i and moves back the entries after it that cannot be found
 * past a free slot (deletion in linear probing without tombstones). */
static void remove_at(struct addr_limit *l, size_t i)
{
	size_t j = i;

	l->slots[i].count = 0;
	for (;;) {
		size_t home;
		j = (j + 1) & l->mask;
		if (!l->slots[j].count)
			return;
		home = home_of(l, &l->slots[j].key);
		/* j stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		l->slots[i] = l->slots[j];
		l->slots[j].count = 0;
		i = j;
	}
}

void addr_limit_give(struct addr_limit *l, const struct addr_key *k)
{
	size_t i;

	pthread_mutex_lock(&l->lock);
	i = find(l, k);
	if (l->slots[i].count && --l->slots[i].count == 0) {
		remove_at(l, i);
		l->used--;
	}
	pthread_mutex_unlock(&l->lock);
}
