/*
 * Sealing records at rest.
 *
 * A sealed record is
 *   version (1 byte, = 1) | key_id (4 bytes, big-endian) | nonce (24 bytes) |
 *   XChaCha20-Poly1305 ciphertext + 16-byte tag
 * with additional data = version | key_id | database name | 0x00 | record key,
 * so a record copied under another key (another App, another user) or into
 * another database fails to open.
 *
 * The key for key_id is a data key of the keyring (keyring.h): 32 random
 * bytes kept in the plugin's store sealed under the master key (key_store.h),
 * except key id 1, which the first releases derived with crypto_kdf from the
 * master key and which stays that value. The master key is 32 bytes in a
 * file (created 0600 when missing, refused when group or others may read or
 * write it); it wraps the data keys and seals no record itself. It is held
 * in sodium_malloc memory, read-only, and wiped by sealer_close, with the
 * keyring.
 *
 * A sealer opened without a store knows key id 1 only (tests, fuzzing);
 * key_store_attach fills its keyring from the store and sets the reload
 * hook: a record naming a key id the keyring does not hold (rotated on
 * another node) reloads the keyring once before it fails to open.
 *
 * Thread-safety: seal and unseal may run on many threads at once, also
 * while the keyring is replaced.
 */
#ifndef PLUGIN_SEAL_H
#define PLUGIN_SEAL_H

#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "keyring.h"

#define SEAL_VERSION 1
#define SEAL_HEADER_LEN (1 + 4 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define SEAL_OVERHEAD (SEAL_HEADER_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define SEAL_MASTER_KEY_LEN crypto_kdf_KEYBYTES
#define SEAL_KEY_ID_LEGACY 1  /* the key the first releases derived from the master key */
#define SEAL_KEY_ID_CURRENT 1 /* the current key of a sealer opened without a store */

enum seal_rc {
	SEAL_OK = 0,
	SEAL_EOPEN = -1, /* tampered, truncated, moved, wrong key or unknown version */
	SEAL_ENOMEM = -2,
	SEAL_EKEYFILE = -3, /* the master key file is missing, unreadable or unsafe */
	SEAL_ENOKEY = -4,   /* no current data key: nothing can be sealed */
};

/* The keyring and its reload hook, shared by every user of the sealer. */
struct sealer_keys {
	struct keyring ring;
	pthread_mutex_t reload_lock; /* one reload at a time */
	/* Reloads ring from the store (key_store.c); NULL without a store. It
	 * runs on a thread of its own, as the caller may be inside a store
	 * transaction. 0 or -1. */
	int (*reload)(void *arg);
	void *reload_arg;
};

struct sealer {
	unsigned char *master;   /* sodium_malloc'd, read-only: wraps the data keys */
	unsigned char *previous; /* previous_master_key_file's key, or NULL */
	struct sealer_keys *keys;
};

/* Loads the master key from path, creating it (0600, 32 random bytes) when it
 * does not exist. SEAL_EKEYFILE with a message naming the file otherwise. */
int sealer_open(struct sealer *s, const char *path, char *err, size_t err_cap)
	__attribute__((warn_unused_result));

/* Reads the previous master key (setting previous_master_key_file) into
 * s->previous: the file must exist, with the same checks as sealer_open's.
 * SEAL_EKEYFILE with a message naming the file otherwise. */
int sealer_open_previous(struct sealer *s, const char *path, char *err, size_t err_cap)
	__attribute__((warn_unused_result));

/* Uses master[0..32) (copied) instead of a file: for tests and fuzzing. */
int sealer_open_key(struct sealer *s, const unsigned char *master)
	__attribute__((warn_unused_result));

/* Wipes and frees the keys. */
void sealer_close(struct sealer *s);

/* The key the first releases sealed every record with (key id 1), derived
 * from master; key_store.c keeps it as the first data key. */
int seal_legacy_key(const unsigned char *master, unsigned char key[DATA_KEY_LEN])
	__attribute__((warn_unused_result));

/* The keyring's generation (struct keyring): read it before sealing, and
 * pass it to sealer_reload. */
uint_fast64_t sealer_generation(const struct sealer *s);

/* Reloads the keyring from the store (the reload hook), unless it changed
 * since generation seen (another thread reloaded it meanwhile), one reload
 * at a time. For a write whose transaction found that the store's current
 * key is not the one it sealed with (key_current.h). A no-op without a
 * store. */
void sealer_reload(const struct sealer *s, uint_fast64_t seen);

/* The key id a sealed record names, read from its header without opening
 * it. 0, or SEAL_EOPEN when it is too short or of another version. */
int seal_key_id(const unsigned char *sealed, size_t sealed_len, uint32_t *key_id)
	__attribute__((warn_unused_result));

/* Seals plain[0..plain_len) for (db, key) with the current data key.
 * *out is malloc'd (free()), *out_len = plain_len + SEAL_OVERHEAD.
 * SEAL_ENOKEY when no data key is current (the master key opened none). */
int seal_record(const struct sealer *s, const char *db, const void *key, size_t key_len,
		const void *plain, size_t plain_len, unsigned char **out, size_t *out_len)
	__attribute__((warn_unused_result));

/* Opens a sealed record for (db, key). *plain is allocated with one extra
 * NUL byte after the plaintext; release it with unseal_free(), which wipes
 * it. */
int unseal_record(const struct sealer *s, const char *db, const void *key, size_t key_len,
		  const unsigned char *sealed, size_t sealed_len, char **plain, size_t *plain_len)
	__attribute__((warn_unused_result));

void unseal_free(char *plain);

#endif
