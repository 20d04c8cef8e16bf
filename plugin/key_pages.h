/*
 * Walking a table of the plugin's store a page at a time to change the rows
 * it finds: store_scan must not change the store, so the keys worth
 * changing are collected first (at most STORE_SCAN_MAX per page), changed
 * by the caller, and the walk goes on after the last key seen.
 *
 *	struct key_page *pg = key_page_new();
 *	do {
 *		rc = key_page_next(txn, table, prefix, plen, want, arg, pg);
 *		for (size_t i = 0; rc == 0 && i < pg->n; i++)
 *			rc = change(pg->key[i], pg->len[i]);
 *	} while (rc == 0 && pg->more);
 *	key_page_free(pg);
 *
 * Not thread-safe: one page per walk.
 */
#ifndef PLUGIN_KEY_PAGES_H
#define PLUGIN_KEY_PAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

#define KEY_PAGE_KEY_MAX 96 /* longer keys are never collected (the plugin writes none) */

/* Whether a row is worth collecting: key and value valid during the call. */
typedef bool (*key_page_want)(void *arg, const void *key, size_t klen, const void *val,
			      size_t vlen);

struct key_page {
	size_t n; /* keys collected by the last key_page_next */
	size_t len[STORE_SCAN_MAX];
	unsigned char key[STORE_SCAN_MAX][KEY_PAGE_KEY_MAX];
	bool more; /* the walk has not reached the end */
	/* Where the next page starts (after this key); after_len 0: the first. */
	unsigned char after[STORE_KEY_MAX];
	size_t after_len;
};

/* A page at the start of a walk, or NULL (out of memory). */
struct key_page *key_page_new(void);
void key_page_free(struct key_page *pg);

/* Collects, into pg, the keys of the next page of table's rows whose key
 * starts with prefix[0..plen) (plen 0: every row) and for which want (NULL:
 * every row) says true. 0 or the seam's error. */
int key_page_next(struct store_txn *txn, unsigned table, const void *prefix, size_t plen,
		  key_page_want want, void *arg, struct key_page *pg)
	__attribute__((warn_unused_result));

#endif
