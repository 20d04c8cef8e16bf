/*
 * Group commit for the plugin's store: concurrent writers share one LMDB
 * write transaction and so one fsync. A writer queues its change and waits;
 * whoever finds no commit in progress becomes the leader, takes every change
 * queued so far, applies them in arrival order in one transaction, commits,
 * and wakes each writer with the result. A writer's call returns only after
 * the commit holding its change is on disk.
 *
 * A change may carry a check, run inside the transaction right before the
 * change is applied ("refuse unless what the writer saw still holds"): when
 * it says no, that change alone is refused with the check's code and the
 * rest of the batch goes on.
 *
 * Thread-safe. Changes are copied; nothing is kept after the call returns.
 */
#ifndef PLUGIN_GROUP_COMMIT_H
#define PLUGIN_GROUP_COMMIT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "kv.h"

#define GROUP_MAX 256 /* changes in one transaction at most */

struct group_change {
	MDB_dbi dbi;
	bool del;
	const void *key;
	size_t key_len;
	const void *value; /* put only */
	size_t value_len;
	/* May be NULL. Runs in the write transaction before the change, so it
	 * sees every change committed before it, and the ones ahead of it in
	 * its batch. 0 lets the change go; a negative code above -100 refuses
	 * it (that code becomes the change's result); MDB_MAP_FULL asks for a
	 * bigger map. It may run more than once: it depends only on txn and
	 * check_arg. */
	int (*check)(MDB_txn *txn, void *check_arg);
	void *check_arg;
	/* Filled by the leader. */
	int refused;
	int rc;
	bool done;
	struct group_change *next;
};

struct group_commit {
	struct kv_env *kv;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct group_change *head, *tail;
	bool leader;
	unsigned long commits, changes; /* counters, for the log and tests */
};

void group_commit_init(struct group_commit *g, struct kv_env *kv);
void group_commit_destroy(struct group_commit *g);

/* Applies one put or delete durably. 0 (a delete of a missing key is 0),
 * the check's refusal, KV_EIO, KV_ENOSPC or KV_EFULL. */
int group_commit_write(struct group_commit *g, struct group_change *c);

#endif
