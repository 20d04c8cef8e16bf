/*
 * How many sealed records name each data key, read from the records'
 * headers (seal_key_id) without opening any: for GET admin/keys, for the
 * check before a key is retired and for the key sweep.
 */
#ifndef PLUGIN_KEY_COUNT_H
#define PLUGIN_KEY_COUNT_H

#include <stddef.h>
#include <stdint.h>

#include "apps_store.h"
#include "keyring.h"

struct key_counts {
	uint32_t ids[KEYRING_MAX]; /* the ids asked about */
	uint64_t n[KEYRING_MAX];   /* records naming ids[i] */
	size_t len;
	uint64_t total; /* every sealed record */
	uint64_t other; /* records naming none of ids (an unknown id, or no header) */
};

/* Counts the records of every sealed table, in read transactions of
 * APPS_SCAN_MAX records each (writers are never held up by it). c->ids and
 * c->len are the input. 0 or a store error. */
int key_count_records(struct apps_store *st, struct key_counts *c)
	__attribute__((warn_unused_result));

#endif
