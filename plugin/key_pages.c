#include "key_pages.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct key_page *key_page_new(void)
{
	struct key_page *pg = malloc(sizeof(*pg));

	if (pg) {
		pg->n = 0;
		pg->more = true;
		pg->after_len = 0;
	}
	return pg;
}

void key_page_free(struct key_page *pg)
{
	free(pg);
}

struct collect {
	struct key_page *pg;
	key_page_want want;
	void *arg;
};

static int collect_row(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct collect *c = arg;
	struct key_page *pg = c->pg;

	if (klen > sizeof(pg->after))
		return STORE_EINVAL;
	memcpy(pg->after, key, klen);
	pg->after_len = klen;
	if (klen <= KEY_PAGE_KEY_MAX && (!c->want || c->want(c->arg, key, klen, val, vlen))) {
		memcpy(pg->key[pg->n], key, klen);
		pg->len[pg->n++] = klen;
	}
	return 0;
}

int key_page_next(struct store_txn *txn, unsigned table, const void *prefix, size_t plen,
		  key_page_want want, void *arg, struct key_page *pg)
{
	struct collect c = { pg, want, arg };
	size_t visited = 0;
	int rc;

	pg->n = 0;
	rc = store_scan(txn, table, prefix, plen, pg->after_len ? pg->after : NULL, pg->after_len,
			STORE_SCAN_MAX, collect_row, &c, &visited);
	pg->more = rc == STORE_OK && visited == STORE_SCAN_MAX;
	return rc;
}
