/*
 * The data keys in memory: a small table of (id, created_at, 32-byte key)
 * in sodium_malloc'd memory that is read-only while nobody changes it, and
 * which key seals new records (the current one).
 *
 * The table is filled from the store (key_store.h) and replaced whole when
 * the store's keyring changed (a rotation here or on another node); it is
 * never written in place while a reader copies a key out. Keys are copied
 * out into the caller's buffer, which the caller wipes.
 *
 * Thread-safety: every function but keyring_init and keyring_destroy may run
 * on many threads at once.
 */
#ifndef PLUGIN_KEYRING_H
#define PLUGIN_KEYRING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define KEYRING_MAX 64  /* data keys at once: rotate, then retire the old ones */
#define DATA_KEY_LEN 32 /* crypto_aead_xchacha20poly1305_ietf_KEYBYTES */

struct keyring_entry {
	uint32_t id;
	int64_t created_at; /* ms since the epoch */
	unsigned char key[DATA_KEY_LEN];
};

struct keyring {
	pthread_rwlock_t lock;      /* readers copy keys out; keyring_replace is the writer */
	struct keyring_entry *keys; /* sodium_malloc'd, KEYRING_MAX entries, read-only when idle */
	size_t n;
	uint32_t current; /* 0: no key seals (none opened): new records are refused */
	/* Bumped by every keyring_replace, so that a reader that missed a key
	 * knows whether the table changed since it looked. */
	atomic_uint_fast64_t generation;
};

/* 0, or -1 when memory cannot be had. */
int keyring_init(struct keyring *r) __attribute__((warn_unused_result));
/* Wipes and frees the keys. No other call may run. */
void keyring_destroy(struct keyring *r);

/* Replaces the whole table with e[0..n) (n <= KEYRING_MAX, ids distinct and
 * non-zero) and current (0, or one of the ids). The caller wipes e. 0 or -1
 * (bad arguments: nothing changed). */
int keyring_replace(struct keyring *r, const struct keyring_entry *e, size_t n, uint32_t current)
	__attribute__((warn_unused_result));

/* Copies the key of id into key. 0, or -1 when the table has no such id. */
int keyring_get(struct keyring *r, uint32_t id, unsigned char key[DATA_KEY_LEN])
	__attribute__((warn_unused_result));

/* The current key's id and bytes. 0, or -1 when there is none. */
int keyring_current(struct keyring *r, uint32_t *id, unsigned char key[DATA_KEY_LEN])
	__attribute__((warn_unused_result));

/* The current id (0: none). */
uint32_t keyring_current_id(struct keyring *r);

/* Copies the ids and creation times (never the keys) into ids[] and
 * created[] (KEYRING_MAX each), in the table's order; returns how many. */
size_t keyring_list(struct keyring *r, uint32_t *ids, int64_t *created);

#endif
