#include "kv.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "banned.h"

#define KV_GROW_TRIES 16

int kv_rc(int mdb_rc)
{
	switch (mdb_rc) {
	case MDB_SUCCESS: return KV_OK;
	case MDB_NOTFOUND: return KV_ENOTFOUND;
	case MDB_MAP_FULL: return MDB_MAP_FULL;
	case ENOSPC:
	case EDQUOT: return KV_ENOSPC;
	default: return KV_EIO;
	}
}

int kv_open(struct kv_env *kv, const char *dir, unsigned max_dbs, size_t map_size, size_t map_max,
	    char *err, size_t err_cap)
{
	MDB_envinfo info;
	int rc, dead = 0;

	memset(kv, 0, sizeof(*kv));
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, err_cap, "cannot create %s: %s", dir, strerror(errno));
		return KV_EIO;
	}
	rc = mdb_env_create(&kv->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(kv->env, max_dbs);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(kv->env, 256);
	if (rc == 0)
		rc = mdb_env_set_mapsize(kv->env, map_size);
	if (rc == 0)
		rc = mdb_env_open(kv->env, dir, 0, 0600);
	if (rc != 0) {
		snprintf(err, err_cap, "cannot open the database in %s: %s", dir, mdb_strerror(rc));
		if (kv->env)
			mdb_env_close(kv->env);
		kv->env = NULL;
		return KV_EIO;
	}
	/* Readers left by a process that died would pin old pages forever. */
	mdb_reader_check(kv->env, &dead);
	/* Another process may have grown the map already. */
	mdb_env_info(kv->env, &info);
	kv->map_size = info.me_mapsize > map_size ? info.me_mapsize : map_size;
	kv->map_max = map_max > kv->map_size ? map_max : kv->map_size;
	pthread_rwlock_init(&kv->resize, NULL);
	return KV_OK;
}

void kv_close(struct kv_env *kv)
{
	if (!kv->env)
		return;
	mdb_env_close(kv->env);
	pthread_rwlock_destroy(&kv->resize);
	kv->env = NULL;
}

int kv_dbi(struct kv_env *kv, const char *name, MDB_dbi *out)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(kv->env, NULL, 0, &txn);

	if (rc != 0)
		return KV_EIO;
	rc = mdb_dbi_open(txn, name, MDB_CREATE, out);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return KV_EIO;
	}
	return mdb_txn_commit(txn) == 0 ? KV_OK : KV_EIO;
}

int kv_read(struct kv_env *kv, kv_fn fn, void *arg)
{
	MDB_txn *txn;
	int rc;

	pthread_rwlock_rdlock(&kv->resize);
	rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size. */
		pthread_rwlock_unlock(&kv->resize);
		pthread_rwlock_wrlock(&kv->resize);
		mdb_env_set_mapsize(kv->env, 0);
		pthread_rwlock_unlock(&kv->resize);
		pthread_rwlock_rdlock(&kv->resize);
		rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
	}
	if (rc != 0) {
		pthread_rwlock_unlock(&kv->resize);
		return KV_EIO;
	}
	rc = fn(txn, arg);
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&kv->resize);
	return rc;
}

/* Doubles the map (no transaction of this process is open: we hold the
 * resize lock exclusively). */
static int grow(struct kv_env *kv)
{
	MDB_envinfo info;
	size_t next;
	int rc = KV_OK;

	pthread_rwlock_wrlock(&kv->resize);
	mdb_env_info(kv->env, &info);
	if (info.me_mapsize > kv->map_size)
		kv->map_size = info.me_mapsize;
	next = kv->map_size * 2;
	if (next > kv->map_max)
		next = kv->map_max;
	if (next <= kv->map_size || mdb_env_set_mapsize(kv->env, next) != 0)
		rc = KV_EFULL;
	else
		kv->map_size = next;
	pthread_rwlock_unlock(&kv->resize);
	return rc;
}

int kv_write(struct kv_env *kv, kv_fn fn, void *arg)
{
	for (int attempt = 0; attempt < KV_GROW_TRIES; attempt++) {
		MDB_txn *txn;
		int rc;

		pthread_rwlock_rdlock(&kv->resize);
		rc = mdb_txn_begin(kv->env, NULL, 0, &txn);
		if (rc == MDB_MAP_RESIZED) {
			pthread_rwlock_unlock(&kv->resize);
			pthread_rwlock_wrlock(&kv->resize);
			mdb_env_set_mapsize(kv->env, 0);
			pthread_rwlock_unlock(&kv->resize);
			continue;
		}
		if (rc != 0) {
			pthread_rwlock_unlock(&kv->resize);
			return KV_EIO;
		}
		rc = fn(txn, arg);
		if (rc == 0) {
			rc = mdb_txn_commit(txn);
			if (rc != 0 && rc != MDB_MAP_FULL)
				rc = kv_rc(rc);
		} else {
			mdb_txn_abort(txn);
		}
		pthread_rwlock_unlock(&kv->resize);
		if (rc != MDB_MAP_FULL)
			return rc;
		if (grow(kv) != KV_OK)
			return KV_EFULL;
	}
	return KV_EFULL;
}

#define DELETE_BATCH 256

struct key_batch {
	MDB_val keys[DELETE_BATCH];
	size_t n;
};

static void batch_free(struct key_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->keys[i].mv_data);
	b->n = 0;
}

/* One pass: collects up to DELETE_BATCH matching keys. Sets *done when the
 * scan reached its end. */
static int collect(MDB_txn *txn, MDB_dbi dbi, const MDB_val *start, kv_match_fn match, void *arg,
		   struct key_batch *b, int *done)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, dbi, &cur);

	if (rc != 0)
		return KV_EIO;
	*done = 0;
	if (start) {
		k = *start;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	while (rc == 0 && b->n < DELETE_BATCH) {
		int m = match(&k, &v, arg);
		if (m < 0)
			break;
		if (m > 0) {
			void *copy = malloc(k.mv_size ? k.mv_size : 1);
			if (!copy) {
				mdb_cursor_close(cur);
				return KV_EIO;
			}
			memcpy(copy, k.mv_data, k.mv_size);
			b->keys[b->n++] = (MDB_val){ k.mv_size, copy };
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return KV_EIO;
	*done = b->n < DELETE_BATCH;
	return 0;
}

int kv_delete_matching(MDB_txn *txn, MDB_dbi dbi, const MDB_val *start, kv_match_fn match,
		       void *arg, size_t *count)
{
	struct key_batch *b = calloc(1, sizeof(*b));
	int done = 0, rc = 0;

	*count = 0;
	if (!b)
		return KV_EIO;
	while (!done && rc == 0) {
		rc = collect(txn, dbi, start, match, arg, b, &done);
		for (size_t i = 0; rc == 0 && i < b->n; i++) {
			int d = mdb_del(txn, dbi, &b->keys[i], NULL);
			if (d == MDB_MAP_FULL)
				rc = MDB_MAP_FULL;
			else if (d != 0 && d != MDB_NOTFOUND)
				rc = KV_EIO;
			else if (d == 0)
				(*count)++;
		}
		batch_free(b);
	}
	free(b);
	return rc;
}
