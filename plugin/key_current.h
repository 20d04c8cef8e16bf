/*
 * A sealed record is stored only under the store's current data key.
 *
 * A node seals with its keyring's current key (keyring.h), which lags a
 * rotation made on another node until the node reloads its keys. So every
 * write that stores a newly sealed record (App records, OAuth2 user records,
 * flow states) checks, inside its write transaction, that the key id the
 * record names is the store's current key (the row "current" of the table
 * keys, key_store.h), and is refused with STORE_EKEYSTALE when it is not;
 * the caller then reloads the keyring and seals again, a bounded number of
 * times (key_current_retry).
 *
 * Why this closes the window instead of narrowing it: on PostgreSQL the row
 * is read with a share lock (store_get in a write transaction, store.h), so
 * a rotation's update of it (key_store_rotate, FOR UPDATE) waits for every
 * write transaction that read it, and a write that reads it after the
 * rotation committed sees the new id; on LMDB write transactions are
 * serialised. Once a rotation has committed, no record commits under an
 * older key, and the key sweep, which starts after the rotation committed,
 * finds every record under an older key.
 *
 * A store with no row "current" (no data keys yet: a store of an earlier
 * release before key_store_attach, or a sealer opened without a store)
 * takes any key id.
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

/* The record names another key than the store's current one (a rotation
 * this node's keyring has not seen, or a current key this node's master key
 * cannot open). Below STORE_ECALLER, apart from the codes of apps_store.h
 * (-110 on), state_store.h (-120 on) and app_gate.h (-130 on). */
#define STORE_EKEYSTALE (-114)

/* Seals per write: the first, and one after each reload of the keyring. */
#define KEY_CURRENT_ATTEMPTS 3

/* Inside a write transaction that stores sealed[0..sealed_len): 0 when the
 * key id in its header is the store's current key (or the store has none),
 * STORE_EKEYSTALE when another key is current, or a store error. Return
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

#endif
