/*
 * Group commit for the plugin's store: concurrent writers share one LMDB
 * write transaction and so one fsync. A writer queues its change and waits;
 * whoever finds no commit in progress becomes the leader, takes every change
 * queued so far, applies them in arrival order in one transaction, commits,
 * and wakes each writer with the result. A writer's call returns only after
 * the commit holding its change is on disk.
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
	/* Filled by the leader. */
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
 * KV_EIO or KV_EFULL. */
int group_commit_write(struct group_commit *g, struct group_change *c);

#endif
