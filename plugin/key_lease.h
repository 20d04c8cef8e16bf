/*
 * The key sweep's lease: on a cluster one node sweeps at a time. The row
 * "sweep_lease" of the table "keys" holds {"node": id, "until": ms}; a node
 * takes it when there is none, when it is its own (renewing it) or when it
 * expired, by compare-and-set against the bytes it read, so that of two
 * nodes taking an expired lease at once one wins.
 */
#ifndef PLUGIN_KEY_LEASE_H
#define PLUGIN_KEY_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "apps_store.h"

#define KEY_LEASE_NODE_MAX 64

/* Takes or renews the lease for node until now + ttl_ms (renewing costs a
 * commit, so a lease with more than half of ttl_ms left is kept as it is):
 * true when node holds it now; false when another node holds an unexpired one, or the
 * store failed. */
bool key_lease_take(struct apps_store *st, const char *node, int64_t now, int64_t ttl_ms);

/* Gives the lease up when node holds it (deactivate), so that a restarted
 * node or another one goes on at once. 0, or a store error. */
int key_lease_release(struct apps_store *st, const char *node);

#endif
