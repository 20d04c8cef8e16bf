/*
 * The data keys in the plugin's store (table "keys"), each sealed under the
 * master key: what every node of a cluster shares, and where each node's
 * keyring (keyring.h) comes from.
 *
 * Rows of "keys":
 *   "data_key/" id (4 bytes, big-endian) -> version (1) | created_at (8,
 *       big-endian ms) | nonce (24) | XChaCha20-Poly1305 of the 32-byte key,
 *       with additional data = the row's key | version | created_at, under
 *       a key-encryption key derived from the master key (crypto_kdf,
 *       context "mmappkek", subkey 1); so a key row moved under another id,
 *       or another master key, does not open; then, once the key is
 *       withdrawn, one byte KEY_ROW_WITHDRAWN (not authenticated: it only
 *       refuses sealing under the key, key_current.h)
 *   "current"   -> the id that seals new records (4 bytes, big-endian)
 *   "sweep", "sweep_lease" -> the key sweep's (key_sweep.h)
 *
 * A rotation is two transactions. The first adds the new key and makes it
 * current (key_store_rotate): it changes no row a writer locks, so it never
 * waits for writers. The second, from the key sweep's thread, withdraws
 * every older key (key_store_withdraw): it waits only for the writes still
 * sealing under an older key (nodes whose keyring has not seen the
 * rotation; they learn it within a second), and from its commit on no
 * record commits under a withdrawn key; the sweep starts after it. A
 * withdrawn key still opens records; only a withdrawn key can be retired.
 *
 * The first releases sealed every record with key id 1 derived from the
 * master key (seal_legacy_key). A store without data keys gets that key as
 * data key 1 at start (so every node sees the same keyring), once it opened
 * a record sealed with it (or there is none): a wrong master key file
 * never becomes a data key.
 *
 * Thread-safety: all functions may run on several threads and nodes at
 * once; their writes are compare-and-set.
 */
#ifndef PLUGIN_KEY_STORE_H
#define PLUGIN_KEY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apps_store.h"
#include "seal.h"

#define KEY_ROW_PREFIX "data_key/"
#define KEY_ROW_CURRENT "current"
#define KEY_ROW_KEY_LEN (sizeof(KEY_ROW_PREFIX) - 1 + 4)
/* A key row's bytes, without the withdrawn mark. */
#define KEY_ROW_LEN                                                                                \
	(1 + 8 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + DATA_KEY_LEN +                     \
	 crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define KEY_ROW_WITHDRAWN 1

enum key_store_rc {
	KEY_STORE_OK = 0,
	KEY_STORE_ENOTFOUND = -40, /* no such data key */
	KEY_STORE_ECURRENT = -41,  /* the current key cannot be retired */
	KEY_STORE_EFULL = -42,     /* KEYRING_MAX keys: retire some first */
	KEY_STORE_ENOKEY = -43,    /* the master key opens no current data key */
	KEY_STORE_EBUSY = -44,     /* other writers kept changing the keys: try again */
	KEY_STORE_EACTIVE = -45,   /* not withdrawn yet: it may still seal records */
				   /* and the store's own codes (enum store_rc) */
};

/* The store and sealer a node's keys live in. */
struct key_store {
	struct apps_store *st;
	struct sealer *sealer;
};

/* What key_store_attach found. */
struct key_load {
	bool migrated;      /* the store had no data keys: key id 1 became the first */
	unsigned opened;    /* data keys in the keyring now */
	unsigned rewrapped; /* data keys moved from the previous master key to this one */
	unsigned unopened;  /* data keys neither master key opens (left in the store) */
	uint32_t current;   /* 0: no current key opened: nothing can be sealed */
};

/* At activation: migrates a store without data keys (see above), moves data
 * keys sealed under the sealer's previous master key (sealer_open_previous)
 * under the current one in one transaction (nothing to do when done
 * before: idempotent), fills the sealer's keyring and sets its reload hook
 * (ks must outlive the sealer's use). 0 with *out, or a negative code with
 * one line in err (never a key). A master key that opens no data key is
 * not an error here: *out says so (unopened, current 0) and records then
 * fail to open, as they did before envelope keys. */
int key_store_attach(struct key_store *ks, struct key_load *out, char *err, size_t err_cap)
	__attribute__((warn_unused_result));

/* Reads the keyring from the store again (no writes: it may run while a
 * thread of this process is in a write transaction). 0 or a negative
 * code. */
int key_store_reload(struct key_store *ks) __attribute__((warn_unused_result));

/* The current key's id as the store has it now (0: none), for a node to see
 * a rotation made elsewhere. 0 or a negative code. */
int key_store_current_id(struct key_store *ks, uint32_t *id) __attribute__((warn_unused_result));

/* The row "sweep" to write with a new key id (malloc'd, *len bytes; NULL:
 * out of memory). */
typedef char *(*key_sweep_row_fn)(uint32_t id, void *arg, size_t *len);

/* Makes a new data key (32 random bytes, the next id) and makes it current,
 * and writes sweep_row(id)'s bytes as the row "sweep", in one transaction;
 * then reloads the keyring. *id gets the new id. 0, KEY_STORE_EFULL,
 * KEY_STORE_ENOKEY (the master key opens no key here: a new key would
 * hide the others), KEY_STORE_EBUSY, or a store error. */
int key_store_rotate(struct key_store *ks, key_sweep_row_fn sweep_row, void *arg, uint32_t *id)
	__attribute__((warn_unused_result));

/* The key row of id ("data_key/" id) into key. */
void key_row_key(uint32_t id, unsigned char key[KEY_ROW_KEY_LEN]);

/* A key row's value: 1 withdrawn, 0 not, -1 not a key row. */
int key_row_withdrawn(const void *val, size_t len);

/* The rotation's second transaction (see above): marks every key row but
 * keep's withdrawn, and changes the row "sweep" from sweep_was[0..was_len)
 * to sweep_next[0..next_len), in one transaction. *withdrawn gets how many
 * it marked. 0, STORE_ECHANGED (the row "sweep" or a key row changed
 * meanwhile: a rotation or another node; read them again), or a store error
 * (a statement past the store's deadline among them: try again later). */
int key_store_withdraw(struct key_store *ks, uint32_t keep, const void *sweep_was, size_t was_len,
		       const void *sweep_next, size_t next_len, unsigned *withdrawn)
	__attribute__((warn_unused_result));

/* How many key rows other than keep's are not withdrawn (*n). 0 or a store
 * error. */
int key_store_unwithdrawn(struct key_store *ks, uint32_t keep, unsigned *n)
	__attribute__((warn_unused_result));

/* Removes data key id from the store (the caller has checked that no record
 * names it), unless it is current or not withdrawn, in one transaction; then
 * reloads the keyring. 0, KEY_STORE_ENOTFOUND, KEY_STORE_ECURRENT,
 * KEY_STORE_EACTIVE, KEY_STORE_EBUSY, or a store error. */
int key_store_retire(struct key_store *ks, uint32_t id) __attribute__((warn_unused_result));

#endif
