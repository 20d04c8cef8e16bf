#include "key_count.h"

#include <stdlib.h>
#include <string.h>

#include "seal.h"
#include "banned.h"

struct count_arg {
	struct key_counts *c;
	unsigned char last[512];
	size_t last_len;
};

static int count_one(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct count_arg *a = arg;
	uint32_t id;
	size_t i = a->c->len;

	if (seal_key_id(val, vlen, &id) == SEAL_OK)
		for (i = 0; i < a->c->len && a->c->ids[i] != id; i++)
			;
	if (i < a->c->len)
		a->c->n[i]++;
	else
		a->c->other++;
	a->c->total++;
	a->last_len = klen < sizeof(a->last) ? klen : 0;
	memcpy(a->last, key, a->last_len);
	return 0;
}

int key_count_records(struct apps_store *st, struct key_counts *c)
{
	struct count_arg *a = malloc(sizeof(*a));
	int rc = STORE_OK;

	if (!a)
		return STORE_ENOMEM;
	memset(c->n, 0, sizeof(c->n));
	c->total = c->other = 0;
	a->c = c;
	for (int t = 0; t < APPS_SEALED_TABLES && rc == STORE_OK; t++) {
		size_t visited = APPS_SCAN_MAX;
		a->last_len = 0;
		for (bool first = true; rc == STORE_OK && visited == APPS_SCAN_MAX; first = false) {
			rc = apps_store_scan(st, (enum key_table)t, NULL, 0, first ? NULL : a->last,
					     a->last_len, APPS_SCAN_MAX, count_one, a, &visited);
			if (rc == STORE_OK && visited == APPS_SCAN_MAX && a->last_len == 0)
				rc = STORE_EIO; /* a key too long to resume after */
		}
	}
	free(a);
	return rc;
}
