/*
 * A sealed record is stored only under a data key that is not withdrawn.
 *
 * A node seals with its keyring's current key (keyring.h), which lags a
 * rotation made on another node until the node reloads its keys. So every
 * write that stores a newly sealed record (App records, OAuth2 user records,
 * flow states) reads, inside its write transaction, the row of the key the
 * record names (table keys, key_store.h), and is refused with
 * STORE_EKEYSTALE when that key is withdrawn or gone; the caller then
 * reloads the keyring and seals again, a bounded number of times
 * (key_current_retry).
 *
 * Why this closes the window: on PostgreSQL the key row is read with a
 * share lock (store_get in a write transaction, store.h), so the withdrawal
 * of a key (key_store_withdraw, which updates the row) waits for every
 * write transaction that sealed under it, and a write that reads it after
 * the withdrawal committed sees the mark; on LMDB write transactions are
 * serialised. Once a withdrawal has committed, no record commits under the
 * withdrawn key, and the key sweep, which starts after the withdrawal
 * committed, finds every record under it. The rotation itself (making a new
 * key current) changes no row a writer locks, so it never waits for them;
 * only the withdrawal waits, for the writes still sealing under an old key,
 * which stop once every node has reloaded (within the sweep thread's
 * one-second poll).
 *
 * A store with no data keys (a store of an earlier release before
 * key_store_attach, or a sealer opened without a store) takes any key id.
 *
 * Thread-safety: both functions may run on many threads at once.
 */
#ifndef PLUGIN_KEY_CURRENT_H
#define PLUGIN_KEY_CURRENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seal.h"
#include "store.h"

/* The record names a withdrawn or retired key (a rotation this node's
 * keyring has not seen). Below STORE_ECALLER, apart from the codes of apps_store.h
 * (-110 on), state_store.h (-120 on) and app_gate.h (-130 on). */
#define STORE_EKEYSTALE (-114)

/* Seals per write: the first, and one after each reload of the keyring. */
#define KEY_CURRENT_ATTEMPTS 3

/* Inside a write transaction that stores sealed[0..sealed_len): 0 when the
 * key id in its header is a key of the store that is not withdrawn (or the
 * store has no keys), STORE_EKEYSTALE when it is withdrawn or gone, or a
 * store error. Return
 * what it returns from the callback. */
int key_current_check_txn(struct store_txn *txn, const unsigned char *sealed, size_t sealed_len)
	__attribute__((warn_unused_result));

/* After a write that returned rc, at its attempt (0 for the first): true
 * when it should seal and write again, having reloaded the keyring from the
 * store (unless it changed since generation seen, read with
 * sealer_generation before sealing: another thread reloaded it). That is
 * when rc is STORE_EKEYSTALE and attempts are left. Call it outside any
 * store transaction. */
bool key_current_retry(const struct sealer *s, int rc, unsigned attempt, uint_fast64_t seen);

/* The loop every writer of one sealed record runs: seals plain[0..plen)
 * for (table, key) into *sealed and *sealed_len (fields of arg, which fn
 * writes; plain NULL: nothing to seal, they stay NULL and 0), runs
 * store_write(db, fn, arg), frees the sealed bytes, and when fn answered
 * STORE_EKEYSTALE reloads the keyring and starts again (key_current_retry).
 * Returns what store_write returned, STORE_ENOMEM or STORE_EIO (sealing
 * failed). Call it outside any store transaction. */
int key_current_write(struct store *db, const struct sealer *s, const char *table, const void *key,
		      size_t klen, const void *plain, size_t plen, unsigned char **sealed,
		      size_t *sealed_len, store_txn_fn fn, void *arg)
	__attribute__((warn_unused_result));

#endif
