/*
 * The LMDB backend: one environment, one named database per table, default
 * full sync.
 *
 * Group commit: store_write queues its callback; the first writer that
 * finds no commit in progress becomes the leader, takes up to GROUP_MAX
 * queued callbacks, runs each in its own nested transaction (a callback
 * that fails aborts only its own changes) inside one write transaction, and
 * commits once (one fsync) for all of them. Each writer returns once the
 * commit holding its change is on disk.
 *
 * Map full: the whole batch is aborted, the map doubles (up to the
 * maximum) under an exclusive lock, and the batch runs again; so callbacks
 * must only depend on their transaction and argument.
 *
 * Notifications: listeners of this process are called after the commit;
 * other processes (the admin commands and `serve` share the environment)
 * see a per-topic counter in the database "store_notify" change, polled
 * every 250 ms by the notification thread.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store_backend.h"

#include "banned.h"

#define GROUP_MAX 256
#define GROW_TRIES 16
#define POLL_MS 250
#define MAP_DEFAULT (64UL * 1024 * 1024)
#define MAP_MAX_DEFAULT (64UL * 1024 * 1024 * 1024)
#define NOTIFY_DB "store_notify"

struct topic_seen {
	char name[STORE_TOPIC_MAX + 1];
	uint64_t seen; /* the counter value this process has accounted for */
};

struct lmdb_store {
	struct store base;
	MDB_env *env;
	MDB_dbi dbi[STORE_TABLES_MAX];
	MDB_dbi notify_dbi;
	pthread_rwlock_t resize; /* shared by transactions, exclusive to grow */
	size_t map_size, map_max;
	/* Group commit. */
	pthread_mutex_t lock;
	struct write_req *head, *tail;
	bool leader;
	/* Notification counters and the polling thread. */
	pthread_mutex_t topics_lock;
	struct topic_seen topics[STORE_TOPICS_MAX];
	size_t n_topics;
	pthread_t poller;
	bool poller_running;
	pthread_mutex_t poll_lock;
	pthread_cond_t poll_cond;
	bool stop;
};

struct write_req {
	store_txn_fn fn;
	void *arg;
	int rc;
	bool done;
	pthread_cond_t wake;      /* done, or first in the queue with no leader */
	struct store_note *notes; /* of a callback that succeeded */
	struct write_req *next;
};

/* Copies made by store_take, freed when the transaction ends. */
struct copy {
	struct copy *next;
	unsigned char data[];
};

struct lmdb_txn {
	struct store_txn base;
	struct lmdb_store *s;
	MDB_txn *txn;
	struct store_note *notes;
	struct copy *copies;
	bool map_full;
};

static int map_rc(struct lmdb_txn *t, int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return STORE_OK;
	case MDB_NOTFOUND: return STORE_ENOTFOUND;
	case MDB_KEYEXIST: return STORE_EEXIST;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		if (t)
			t->map_full = true;
		return STORE_EFULL;
	case ENOSPC:
	case EDQUOT: return STORE_EFULL;
	case ENOMEM: return STORE_ENOMEM;
	default: return STORE_EIO;
	}
}

static void txn_end(struct lmdb_txn *t)
{
	while (t->copies) {
		struct copy *next = t->copies->next;
		free(t->copies);
		t->copies = next;
	}
}

/* Begins a transaction, adopting a map grown by another process. Holds the
 * resize lock shared on success. */
static int begin(struct lmdb_store *s, MDB_txn *parent, unsigned flags, MDB_txn **out)
{
	int rc;

	pthread_rwlock_rdlock(&s->resize);
	rc = mdb_txn_begin(s->env, parent, flags, out);
	if (rc == MDB_MAP_RESIZED) {
		pthread_rwlock_unlock(&s->resize);
		pthread_rwlock_wrlock(&s->resize);
		mdb_env_set_mapsize(s->env, 0);
		pthread_rwlock_unlock(&s->resize);
		pthread_rwlock_rdlock(&s->resize);
		rc = mdb_txn_begin(s->env, parent, flags, out);
	}
	if (rc != 0) {
		pthread_rwlock_unlock(&s->resize);
		store_logf(&s->base, STORE_LOG_ERROR, "store %s: cannot begin a transaction: %s",
			   s->base.component, mdb_strerror(rc));
		return map_rc(NULL, rc);
	}
	return STORE_OK;
}

static int lmdb_read(struct store *st, store_txn_fn fn, void *arg)
{
	struct lmdb_store *s = (struct lmdb_store *)st;
	struct lmdb_txn t = { .base = { st, false }, .s = s };
	int rc = begin(s, NULL, MDB_RDONLY, &t.txn);

	if (rc != STORE_OK)
		return rc;
	rc = fn(&t.base, arg);
	mdb_txn_abort(t.txn);
	pthread_rwlock_unlock(&s->resize);
	txn_end(&t);
	return rc;
}

/* Doubles the map; no transaction of this process is open (we hold the
 * resize lock exclusively). */
static int grow(struct lmdb_store *s)
{
	MDB_envinfo info;
	size_t next;
	int rc = STORE_OK;

	pthread_rwlock_wrlock(&s->resize);
	mdb_env_info(s->env, &info);
	if (info.me_mapsize > s->map_size)
		s->map_size = info.me_mapsize;
	next = s->map_size * 2;
	if (next > s->map_max)
		next = s->map_max;
	if (next <= s->map_size || mdb_env_set_mapsize(s->env, next) != 0)
		rc = STORE_EFULL;
	else
		s->map_size = next;
	pthread_rwlock_unlock(&s->resize);
	if (rc == STORE_EFULL)
		store_logf(&s->base, STORE_LOG_ERROR,
			   "store %s: the database is full (MDB_MAP_FULL: the map is at its "
			   "maximum of %zu bytes)",
			   s->base.component, s->map_size);
	return rc;
}

static struct topic_seen *topic_find(struct lmdb_store *s, const char *name, bool add)
{
	for (size_t i = 0; i < s->n_topics; i++) {
		if (strcmp(s->topics[i].name, name) == 0)
			return &s->topics[i];
	}
	if (!add || s->n_topics == STORE_TOPICS_MAX)
		return NULL;
	snprintf(s->topics[s->n_topics].name, sizeof(s->topics[0].name), "%.*s", STORE_TOPIC_MAX,
		 name); /* names are checked to be at most that long */
	s->topics[s->n_topics].seen = 0;
	return &s->topics[s->n_topics++];
}

static uint64_t counter_value(const MDB_val *v)
{
	uint64_t n = 0;

	if (v->mv_size == sizeof(n))
		memcpy(&n, v->mv_data, sizeof(n));
	return n;
}

struct bump {
	char topic[STORE_TOPIC_MAX + 1];
	uint64_t before;
};

/* Bumps the counter of each distinct topic of the batch's notes, in the
 * batch's transaction. */
static int bump_counters(struct lmdb_store *s, MDB_txn *txn, struct write_req *batch,
			 struct bump *bumps, size_t *n_bumps)
{
	*n_bumps = 0;
	for (struct write_req *r = batch; r; r = r->next) {
		for (struct store_note *n = r->notes; n; n = n->next) {
			MDB_val k = { strlen(n->topic), n->topic }, v;
			uint64_t before = 0, after;
			size_t i;
			int rc;

			for (i = 0; i < *n_bumps; i++) {
				if (strcmp(bumps[i].topic, n->topic) == 0)
					break;
			}
			if (i < *n_bumps)
				continue;
			if (*n_bumps == STORE_TOPICS_MAX)
				return STORE_EINVAL;
			rc = mdb_get(txn, s->notify_dbi, &k, &v);
			if (rc == 0)
				before = counter_value(&v);
			else if (rc != MDB_NOTFOUND)
				return map_rc(NULL, rc);
			after = before + 1;
			v = (MDB_val){ sizeof(after), &after };
			rc = mdb_put(txn, s->notify_dbi, &k, &v, 0);
			if (rc != 0)
				return rc == MDB_MAP_FULL ? MDB_MAP_FULL : map_rc(NULL, rc);
			snprintf(bumps[*n_bumps].topic, sizeof(bumps[0].topic), "%s", n->topic);
			bumps[(*n_bumps)++].before = before;
		}
	}
	return STORE_OK;
}

/* After the commit: this process has seen its own bumps, unless another
 * process bumped the same topic in between (then the poller reports it). */
static void account_bumps(struct lmdb_store *s, const struct bump *bumps, size_t n)
{
	pthread_mutex_lock(&s->topics_lock);
	for (size_t i = 0; i < n; i++) {
		bool known = topic_find(s, bumps[i].topic, false) != NULL;
		struct topic_seen *t = topic_find(s, bumps[i].topic, true);
		if (!t)
			continue;
		if (!known)
			t->seen = bumps[i].before;
		if (t->seen == bumps[i].before)
			t->seen = bumps[i].before + 1;
	}
	pthread_mutex_unlock(&s->topics_lock);
}

/* Runs one callback in a nested transaction of parent. Returns MDB_MAP_FULL
 * when the batch must grow and run again. */
static int run_one(struct lmdb_store *s, MDB_txn *parent, struct write_req *r)
{
	struct lmdb_txn t = { .base = { &s->base, true }, .s = s };
	int rc = mdb_txn_begin(s->env, parent, 0, &t.txn);

	r->notes = NULL;
	if (rc != 0) {
		r->rc = map_rc(&t, rc);
		return t.map_full ? MDB_MAP_FULL : 0;
	}
	r->rc = r->fn(&t.base, r->arg);
	if (t.map_full) {
		mdb_txn_abort(t.txn);
		txn_end(&t);
		store_notes_free(t.notes);
		return MDB_MAP_FULL;
	}
	if (r->rc == 0) {
		rc = mdb_txn_commit(t.txn);
		if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL) {
			txn_end(&t);
			store_notes_free(t.notes);
			return MDB_MAP_FULL;
		}
		r->rc = map_rc(NULL, rc);
	} else {
		mdb_txn_abort(t.txn);
	}
	txn_end(&t);
	if (r->rc == 0)
		r->notes = t.notes;
	else
		store_notes_free(t.notes);
	return 0;
}

static void batch_fail(struct write_req *batch, int rc)
{
	for (struct write_req *r = batch; r; r = r->next) {
		store_notes_free(r->notes);
		r->notes = NULL;
		r->rc = rc;
	}
}

/* The leader's work: every callback of batch in one durable commit. */
static void run_batch(struct lmdb_store *s, struct write_req *batch)
{
	struct bump bumps[STORE_TOPICS_MAX];
	size_t n_bumps = 0;

	for (int attempt = 0; attempt < GROW_TRIES; attempt++) {
		MDB_txn *txn;
		bool full = false;
		int rc = begin(s, NULL, 0, &txn);

		if (rc != STORE_OK) {
			batch_fail(batch, rc);
			return;
		}
		for (struct write_req *r = batch; r && !full; r = r->next)
			full = run_one(s, txn, r) == MDB_MAP_FULL;
		if (!full) {
			rc = bump_counters(s, txn, batch, bumps, &n_bumps);
			full = rc == MDB_MAP_FULL;
		}
		if (full) {
			mdb_txn_abort(txn);
			pthread_rwlock_unlock(&s->resize);
			batch_fail(batch, STORE_EFULL);
			if (grow(s) != STORE_OK)
				return;
			continue;
		}
		if (rc != STORE_OK) {
			mdb_txn_abort(txn);
			pthread_rwlock_unlock(&s->resize);
			batch_fail(batch, rc);
			return;
		}
		rc = mdb_txn_commit(txn);
		pthread_rwlock_unlock(&s->resize);
		if (rc == MDB_MAP_FULL) {
			batch_fail(batch, STORE_EFULL);
			if (grow(s) != STORE_OK)
				return;
			continue;
		}
		if (rc != 0) {
			store_logf(&s->base, STORE_LOG_ERROR, "store %s: commit failed: %s%s",
				   s->base.component,
				   rc == ENOSPC || rc == EDQUOT ? "ENOSPC: " : "",
				   mdb_strerror(rc));
			batch_fail(batch, map_rc(NULL, rc));
			return;
		}
		atomic_fetch_add(&s->base.commits, 1);
		account_bumps(s, bumps, n_bumps);
		for (struct write_req *r = batch; r; r = r->next) {
			if (r->rc == 0) {
				atomic_fetch_add(&s->base.writes, 1);
				store_deliver_notes(&s->base, r->notes);
			}
			store_notes_free(r->notes);
			r->notes = NULL;
		}
		return;
	}
	batch_fail(batch, STORE_EFULL);
}

static struct write_req *take_batch(struct lmdb_store *s)
{
	struct write_req *first = s->head, *last = s->head;
	size_t n = 1;

	while (last->next && n < GROUP_MAX) {
		last = last->next;
		n++;
	}
	s->head = last->next;
	if (!s->head)
		s->tail = NULL;
	last->next = NULL;
	return first;
}

static int lmdb_write(struct store *st, store_txn_fn fn, void *arg)
{
	struct lmdb_store *s = (struct lmdb_store *)st;
	struct write_req req = { .fn = fn, .arg = arg };

	/* Each writer sleeps on its own condition: a commit wakes only the
	 * writers it holds and the next leader, not all 64 of them. */
	pthread_cond_init(&req.wake, NULL);
	pthread_mutex_lock(&s->lock);
	if (s->tail)
		s->tail->next = &req;
	else
		s->head = &req;
	s->tail = &req;
	while (!req.done) {
		struct write_req *batch, *next;

		if (s->leader) {
			pthread_cond_wait(&req.wake, &s->lock);
			continue;
		}
		s->leader = true;
		batch = take_batch(s);
		pthread_mutex_unlock(&s->lock);
		run_batch(s, batch);
		pthread_mutex_lock(&s->lock);
		for (struct write_req *r = batch; r; r = next) {
			next = r->next; /* r may be gone once done is seen */
			r->done = true;
			if (r != &req)
				pthread_cond_signal(&r->wake);
		}
		s->leader = false;
		if (s->head)
			pthread_cond_signal(&s->head->wake);
	}
	pthread_mutex_unlock(&s->lock);
	pthread_cond_destroy(&req.wake);
	return req.rc;
}

static int lmdb_get(struct store_txn *txn, unsigned table, const void *key, size_t klen,
		    unsigned flags, struct store_val *val)
{
	struct lmdb_txn *t = (struct lmdb_txn *)txn;
	MDB_val k = { klen, (void *)key }, v;
	int rc = mdb_get(t->txn, t->s->dbi[table], &k, &v);

	(void)flags; /* writers are serialised: every row read is as good as locked */
	if (rc != 0)
		return map_rc(t, rc);
	val->data = v.mv_data;
	val->len = v.mv_size;
	return STORE_OK;
}

static int lmdb_put(struct store_txn *txn, unsigned table, const void *key, size_t klen,
		    const void *val, size_t vlen, unsigned flags)
{
	struct lmdb_txn *t = (struct lmdb_txn *)txn;
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };

	return map_rc(t, mdb_put(t->txn, t->s->dbi[table], &k, &v,
				 (flags & STORE_NOOVERWRITE) ? MDB_NOOVERWRITE : 0));
}

static int lmdb_del(struct store_txn *txn, unsigned table, const void *key, size_t klen)
{
	struct lmdb_txn *t = (struct lmdb_txn *)txn;
	MDB_val k = { klen, (void *)key };

	return map_rc(t, mdb_del(t->txn, t->s->dbi[table], &k, NULL));
}

static int lmdb_take(struct store_txn *txn, unsigned table, const void *key, size_t klen,
		     struct store_val *val)
{
	struct lmdb_txn *t = (struct lmdb_txn *)txn;
	MDB_val k = { klen, (void *)key }, v;
	struct copy *c;
	int rc = mdb_get(t->txn, t->s->dbi[table], &k, &v);

	if (rc != 0)
		return map_rc(t, rc);
	/* The value's pages may be reused once it is deleted: copy it. */
	c = malloc(sizeof(*c) + v.mv_size + 1);
	if (!c)
		return STORE_ENOMEM;
	if (v.mv_size)
		memcpy(c->data, v.mv_data, v.mv_size);
	c->next = t->copies;
	t->copies = c;
	rc = mdb_del(t->txn, t->s->dbi[table], &k, NULL);
	if (rc != 0)
		return map_rc(t, rc);
	val->data = c->data;
	val->len = v.mv_size;
	return STORE_OK;
}

static int lmdb_scan(struct store_txn *txn, unsigned table, const void *prefix, size_t plen,
		     const void *after, size_t alen, size_t limit, store_scan_fn fn, void *arg,
		     size_t *visited)
{
	struct lmdb_txn *t = (struct lmdb_txn *)txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[table], &cur);

	if (rc != 0)
		return map_rc(t, rc);
	/* Start at the larger of prefix and after (after itself is skipped). */
	if (after && (plen == 0 || store_keycmp(after, alen, prefix, plen) > 0))
		k = (MDB_val){ alen, (void *)after };
	else if (plen)
		k = (MDB_val){ plen, (void *)prefix };
	else
		k = (MDB_val){ 0, NULL };
	if (k.mv_size)
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	else
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	if (rc == 0 && after && k.mv_size == alen && memcmp(k.mv_data, after, alen) == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	while (rc == 0 && *visited < limit) {
		int r;

		if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			break;
		(*visited)++;
		r = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		if (r != 0) {
			mdb_cursor_close(cur);
			return r > 0 ? STORE_OK : r;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return map_rc(t, rc);
	return STORE_OK;
}

struct cas_arg {
	unsigned table;
	const void *key, *expected, *new_val;
	size_t klen, elen, nlen;
};

static int cas_fn(struct store_txn *txn, void *arg)
{
	struct cas_arg *a = arg;
	struct store_val cur;
	int rc = store_get(txn, a->table, a->key, a->klen, STORE_LOCK, &cur);

	if (rc != STORE_OK && rc != STORE_ENOTFOUND)
		return rc;
	if (!a->expected ? rc == STORE_OK
			 : rc != STORE_OK || cur.len != a->elen ||
				   (a->elen && memcmp(cur.data, a->expected, a->elen) != 0))
		return STORE_ECONFLICT;
	if (!a->new_val)
		return store_del(txn, a->table, a->key, a->klen);
	return store_put(txn, a->table, a->key, a->klen, a->new_val, a->nlen, 0);
}

static int lmdb_cas(struct store *st, unsigned table, const void *key, size_t klen,
		    const void *expected, size_t elen, const void *new_val, size_t nlen)
{
	struct cas_arg a = { table, key, expected, new_val, klen, elen, nlen };

	return store_write(st, cas_fn, &a);
}

static int txn_note(struct store_txn *txn, struct store_note *n)
{
	struct lmdb_txn *t = (struct lmdb_txn *)txn;

	store_notes_append(&t->notes, n);
	return STORE_OK;
}

/* One pass of the poller: reports every topic whose counter moved. */
struct poll_arg {
	struct lmdb_store *s;
	struct topic_seen now[STORE_TOPICS_MAX];
	size_t n;
};

static int read_counters(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct poll_arg *p = arg;
	MDB_val v = { vlen, (void *)val };

	if (p->n == STORE_TOPICS_MAX || klen > STORE_TOPIC_MAX)
		return 1;
	snprintf(p->now[p->n].name, sizeof(p->now[0].name), "%.*s", (int)klen, (const char *)key);
	p->now[p->n++].seen = counter_value(&v);
	return 0;
}

static int poll_txn(struct store_txn *txn, void *arg)
{
	struct poll_arg *p = arg;
	struct lmdb_txn *t = (struct lmdb_txn *)txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, p->s->notify_dbi, &cur);

	if (rc != 0)
		return map_rc(NULL, rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (read_counters(p, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
			break;
	}
	mdb_cursor_close(cur);
	return STORE_OK;
}

static void poll_once(struct lmdb_store *s, bool report)
{
	struct poll_arg p = { .s = s };
	char changed[STORE_TOPICS_MAX][STORE_TOPIC_MAX + 1];
	size_t n_changed = 0;

	if (lmdb_read(&s->base, poll_txn, &p) != STORE_OK)
		return;
	pthread_mutex_lock(&s->topics_lock);
	for (size_t i = 0; i < p.n; i++) {
		struct topic_seen *t = topic_find(s, p.now[i].name, true);
		if (!t || t->seen == p.now[i].seen)
			continue;
		t->seen = p.now[i].seen;
		snprintf(changed[n_changed++], sizeof(changed[0]), "%s", t->name);
	}
	pthread_mutex_unlock(&s->topics_lock);
	for (size_t i = 0; report && i < n_changed; i++)
		store_deliver(&s->base, changed[i], NULL);
}

static void *poller_run(void *arg)
{
	struct lmdb_store *s = arg;

	pthread_mutex_lock(&s->poll_lock);
	while (!s->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += POLL_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->poll_cond, &s->poll_lock, &until);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->poll_lock);
		poll_once(s, true);
		pthread_mutex_lock(&s->poll_lock);
	}
	pthread_mutex_unlock(&s->poll_lock);
	return NULL;
}

static int lmdb_listen_start(struct store *st)
{
	struct lmdb_store *s = (struct lmdb_store *)st;

	poll_once(s, false); /* what exists now is not news */
	if (pthread_create(&s->poller, NULL, poller_run, s) != 0)
		return STORE_ENOMEM;
	s->poller_running = true;
	return STORE_OK;
}

static void lmdb_close(struct store *st)
{
	struct lmdb_store *s = (struct lmdb_store *)st;

	if (s->poller_running) {
		pthread_mutex_lock(&s->poll_lock);
		s->stop = true;
		pthread_cond_signal(&s->poll_cond);
		pthread_mutex_unlock(&s->poll_lock);
		pthread_join(s->poller, NULL);
	}
	mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->resize);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->topics_lock);
	pthread_mutex_destroy(&s->poll_lock);
	pthread_cond_destroy(&s->poll_cond);
	store_base_destroy(&s->base);
	free(s);
}

static const struct store_ops lmdb_ops = {
	.close = lmdb_close,
	.read = lmdb_read,
	.write = lmdb_write,
	.get = lmdb_get,
	.put = lmdb_put,
	.del = lmdb_del,
	.take = lmdb_take,
	.scan = lmdb_scan,
	.cas = lmdb_cas,
	.notify = txn_note,
	.listen_start = lmdb_listen_start,
};

static int open_dbis(struct lmdb_store *s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

	for (size_t i = 0; rc == 0 && i < s->base.n_tables; i++)
		rc = mdb_dbi_open(txn, s->base.tables[i], MDB_CREATE, &s->dbi[i]);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NOTIFY_DB, MDB_CREATE, &s->notify_dbi);
	if (rc != 0) {
		if (txn)
			mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int store_lmdb_open(const struct store_options *opt, struct store **out, char *err, size_t cap)
{
	struct lmdb_store *s;
	size_t map_size = opt->lmdb_map_size ? opt->lmdb_map_size : MAP_DEFAULT;
	size_t map_max = opt->lmdb_map_max ? opt->lmdb_map_max : MAP_MAX_DEFAULT;
	MDB_envinfo info;
	int rc, dead = 0;

	if (!opt->lmdb_dir) {
		snprintf(err, cap, "store: no folder for LMDB");
		return STORE_EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return STORE_ENOMEM;
	rc = store_base_init(&s->base, opt, err, cap);
	if (rc != STORE_OK) {
		free(s);
		return rc;
	}
	s->base.ops = &lmdb_ops;
	s->base.reads_block = false;
	if (mkdir(opt->lmdb_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, cap, "cannot create %s: %s", opt->lmdb_dir, strerror(errno));
		goto fail_base;
	}
	rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, (MDB_dbi)s->base.n_tables + 1);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(s->env, 256);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, map_size);
	if (rc == 0)
		rc = mdb_env_open(s->env, opt->lmdb_dir, 0, 0600);
	if (rc == 0)
		rc = open_dbis(s);
	if (rc != 0) {
		snprintf(err, cap, "cannot open the database in %s: %s", opt->lmdb_dir,
			 mdb_strerror(rc));
		goto fail_env;
	}
	/* Readers left by a process that died would pin old pages forever. */
	mdb_reader_check(s->env, &dead);
	/* Another process may have grown the map already. */
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize > map_size ? info.me_mapsize : map_size;
	s->map_max = map_max > s->map_size ? map_max : s->map_size;
	pthread_rwlock_init(&s->resize, NULL);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->topics_lock, NULL);
	pthread_mutex_init(&s->poll_lock, NULL);
	pthread_cond_init(&s->poll_cond, NULL);
	*out = &s->base;
	return STORE_OK;
fail_env:
	if (s->env)
		mdb_env_close(s->env);
fail_base:
	store_base_destroy(&s->base);
	free(s);
	return STORE_EIO;
}
