/*
 * A thin layer over one LMDB environment, shared by the host's store and the
 * plugin's: opening (with stale-reader cleanup), read and write transactions
 * run through callbacks, and map growth on MDB_MAP_FULL.
 *
 * Durability: the environment uses LMDB's default full sync, so when
 * kv_write() returns 0 the transaction is on disk.
 *
 * Threading: every function is thread-safe. A callback runs inside the
 * transaction and must not start another one on the same environment (LMDB
 * binds a reader slot to each thread: that is what makes read transactions
 * cheap for long-lived worker threads). A write callback may run more
 * than once (after the map grew), so it must only depend on its txn and arg.
 */
#ifndef COMMON_KV_H
#define COMMON_KV_H

#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>

/* Callbacks return 0, their own negative codes (kept above -100 so that they
 * never mean one of these), or MDB_MAP_FULL to ask for a bigger map. */
enum kv_rc {
	KV_OK = 0,
	KV_ENOTFOUND = -1, /* nothing under that key */
	KV_EIO = -2,       /* LMDB failed */
	KV_EFULL = -100,   /* the map reached its maximum size (MDB_MAP_FULL) */
	KV_ENOSPC = -101,  /* the disk is full: a write failed with ENOSPC or EDQUOT */
};

struct kv_env {
	MDB_env *env;
	pthread_rwlock_t resize; /* shared by transactions, exclusive to grow */
	size_t map_size;
	size_t map_max;
};

/* Opens (creating) the environment in folder dir (created 0700), with up to
 * max_dbs named databases. 0, or KV_EIO with a message in err. */
int kv_open(struct kv_env *kv, const char *dir, unsigned max_dbs, size_t map_size, size_t map_max,
	    char *err, size_t err_cap) __attribute__((warn_unused_result));
void kv_close(struct kv_env *kv);

/* Opens or creates named database name. 0 or KV_EIO. Call after kv_open,
 * before any other use. */
int kv_dbi(struct kv_env *kv, const char *name, MDB_dbi *out) __attribute__((warn_unused_result));

typedef int (*kv_fn)(MDB_txn *txn, void *arg);

/* Runs fn in a read-only transaction; returns what fn returns, or KV_EIO. */
int kv_read(struct kv_env *kv, kv_fn fn, void *arg) __attribute__((warn_unused_result));

/* Runs fn in a write transaction and commits when fn returns 0; aborts and
 * returns fn's result otherwise. When fn returns MDB_MAP_FULL, or the commit
 * fails with it, the map is doubled (up to map_max) and fn runs again;
 * KV_EFULL when it cannot grow. A commit that fails for lack of disk space
 * is KV_ENOSPC. Whatever fails, the transaction is aborted: nothing of it
 * is stored. */
int kv_write(struct kv_env *kv, kv_fn fn, void *arg) __attribute__((warn_unused_result));

/* Decides for one record of kv_delete_matching: 1 delete it, 0 keep it,
 * -1 stop (e.g. past a key prefix). */
typedef int (*kv_match_fn)(const MDB_val *key, const MDB_val *value, void *arg);

/* Inside a write transaction: deletes every record of dbi, from the first key
 * >= start (NULL: the first key), for which match says 1. Keys are collected a
 * batch at a time and then deleted, so no cursor walks over a deletion.
 * *count gets how many were deleted. 0, KV_EIO, or MDB_MAP_FULL. */
int kv_delete_matching(MDB_txn *txn, MDB_dbi dbi, const MDB_val *start, kv_match_fn match,
		       void *arg, size_t *count);

/* For callbacks: maps an LMDB return code (MDB_NOTFOUND -> KV_ENOTFOUND,
 * MDB_MAP_FULL stays MDB_MAP_FULL, ENOSPC and EDQUOT -> KV_ENOSPC, other
 * errors -> KV_EIO). */
int kv_rc(int mdb_rc);

#endif
