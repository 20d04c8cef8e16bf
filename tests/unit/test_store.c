/*
 * The storage seam against one backend, named by argv[1] ("lmdb" or
 * "postgres"): every operation, NOOVERWRITE, take racing on two threads,
 * compare-and-set, prefix scans (prefixes ending in 0xff), notifications in
 * this process and from another one, group commit, backups (LMDB: a copy
 * taken by another process while this one writes; PostgreSQL: refused), and
 * (PostgreSQL) the server going away and coming back.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>

#include "pg_harness.h"
#include "store.h"
#include "testsupport.h"

enum { T_A, T_B };
static const char *const tables[] = { "a", "b" };

static bool postgres;
static struct store_config cfg;
static char dir[256];
static struct store *st;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_line(void *arg, int level, const char *msg)
{
	(void)arg;
	fprintf(stderr, "store log %d: %s\n", level, msg);
}

static struct store_options options(void)
{
	static char lmdb_dir[300];
	struct store_options o = {
		.component = "test", .tables = tables, .n_tables = 2, .log = log_line
	};

	snprintf(lmdb_dir, sizeof(lmdb_dir), "%s/env", dir);
	o.lmdb_dir = lmdb_dir;
	return o;
}

static int open_store(struct store **out)
{
	struct store_options o = options();
	char err[STORE_ERR_MAX];
	int rc = store_open(&cfg, &o, out, err, sizeof(err));

	if (rc != STORE_OK)
		fprintf(stderr, "store_open: %s\n", err);
	return rc;
}

/* A fresh store (LMDB folder or PostgreSQL database) for each test. */
static int setup(void **state)
{
	(void)state;
	store_config_init(&cfg);
	if (ts_tempdir("store", dir, sizeof(dir)) != 0)
		return -1;
	if (postgres) {
		cfg.backend = STORE_BACKEND_POSTGRES;
		if (ts_pg_database("store", cfg.url, sizeof(cfg.url)) != 0)
			return -1;
	}
	return open_store(&st) == STORE_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	store_close(st);
	st = NULL;
	ts_rmtree(dir);
	return 0;
}

/* ---- helpers: one operation per transaction ---- */

struct op {
	unsigned table;
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
	unsigned flags;
	char out[256];
	size_t out_len;
	int fail_with; /* a callback that fails after its change */
	const char *topic, *payload;
};

static int do_put(struct store_txn *txn, void *arg)
{
	struct op *o = arg;
	int rc = store_put(txn, o->table, o->key, o->klen, o->val, o->vlen, o->flags);

	if (rc == STORE_OK && o->topic)
		rc = store_notify(txn, o->topic, o->payload);
	return rc != STORE_OK ? rc : o->fail_with;
}

static int do_get(struct store_txn *txn, void *arg)
{
	struct op *o = arg;
	struct store_val v;
	int rc = store_get(txn, o->table, o->key, o->klen, o->flags, &v);

	if (rc == STORE_OK) {
		o->out_len = v.len < sizeof(o->out) ? v.len : sizeof(o->out);
		memcpy(o->out, v.data, o->out_len);
	}
	return rc;
}

static int do_del(struct store_txn *txn, void *arg)
{
	struct op *o = arg;

	return store_del(txn, o->table, o->key, o->klen);
}

static int do_take(struct store_txn *txn, void *arg)
{
	struct op *o = arg;
	struct store_val v;
	int rc = store_take(txn, o->table, o->key, o->klen, &v);

	if (rc == STORE_OK) {
		o->out_len = v.len < sizeof(o->out) ? v.len : sizeof(o->out);
		memcpy(o->out, v.data, o->out_len);
	}
	return rc;
}

static int put(unsigned table, const char *key, size_t klen, const char *val, size_t vlen,
	       unsigned flags)
{
	struct op o = {
		.table = table, .key = key, .klen = klen, .val = val, .vlen = vlen, .flags = flags
	};

	return store_write(st, do_put, &o);
}

static int get(unsigned table, const char *key, size_t klen, char *out, size_t *out_len)
{
	struct op o = { .table = table, .key = key, .klen = klen };
	int rc = store_read(st, do_get, &o);

	if (rc == STORE_OK && out) {
		memcpy(out, o.out, o.out_len);
		*out_len = o.out_len;
	}
	return rc;
}

/* ---- tests ---- */

static void get_put_del_take(void **state)
{
	char out[256];
	size_t len = 0;
	struct op o = { .table = T_A, .key = "k1", .klen = 2 };

	(void)state;
	assert_int_equal(get(T_A, "k1", 2, out, &len), STORE_ENOTFOUND);
	assert_int_equal(put(T_A, "k1", 2, "v\0one", 5, 0), STORE_OK);
	assert_int_equal(get(T_A, "k1", 2, out, &len), STORE_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "v\0one", 5);
	/* Tables are separate. */
	assert_int_equal(get(T_B, "k1", 2, out, &len), STORE_ENOTFOUND);
	/* NOOVERWRITE refuses a taken key and leaves its value. */
	assert_int_equal(put(T_A, "k1", 2, "two", 3, STORE_NOOVERWRITE), STORE_EEXIST);
	assert_int_equal(get(T_A, "k1", 2, out, &len), STORE_OK);
	assert_int_equal(len, 5);
	assert_int_equal(put(T_A, "k1", 2, "two", 3, 0), STORE_OK);
	assert_int_equal(get(T_A, "k1", 2, out, &len), STORE_OK);
	assert_memory_equal(out, "two", 3);
	/* An empty value is a value. */
	assert_int_equal(put(T_A, "e", 1, NULL, 0, 0), STORE_OK);
	assert_int_equal(get(T_A, "e", 1, out, &len), STORE_OK);
	assert_int_equal(len, 0);
	/* take returns the value and removes it. */
	assert_int_equal(store_write(st, do_take, &o), STORE_OK);
	assert_int_equal(o.out_len, 3);
	assert_memory_equal(o.out, "two", 3);
	assert_int_equal(store_write(st, do_take, &o), STORE_ENOTFOUND);
	assert_int_equal(get(T_A, "k1", 2, out, &len), STORE_ENOTFOUND);
	o.key = "e";
	o.klen = 1;
	assert_int_equal(store_write(st, do_del, &o), STORE_OK);
	assert_int_equal(store_write(st, do_del, &o), STORE_ENOTFOUND);
	/* Bad arguments. */
	assert_int_equal(put(7, "k", 1, "v", 1, 0), STORE_EINVAL);
	assert_int_equal(put(T_A, "k", 0, "v", 1, 0), STORE_EINVAL);
	o = (struct op){ .table = T_A, .key = "k", .klen = 1 };
	assert_int_equal(store_read(st, do_del, &o), STORE_EINVAL); /* a write in a read */
}

static int fail_after_put(struct store_txn *txn, void *arg)
{
	struct op *o = arg;
	int rc = store_put(txn, o->table, o->key, o->klen, o->val, o->vlen, 0);

	return rc != STORE_OK ? rc : STORE_ECALLER - 1;
}

static void a_failed_write_leaves_the_old_value(void **state)
{
	struct op o = { .table = T_A, .key = "k", .klen = 1, .val = "new", .vlen = 3 };
	char out[16];
	size_t len;

	(void)state;
	assert_int_equal(put(T_A, "k", 1, "old", 3, 0), STORE_OK);
	assert_int_equal(store_write(st, fail_after_put, &o), STORE_ECALLER - 1);
	assert_int_equal(get(T_A, "k", 1, out, &len), STORE_OK);
	assert_memory_equal(out, "old", 3);
}

struct race {
	pthread_barrier_t *go;
	int rc;
	char key[16];
};

static void *taker(void *arg)
{
	struct race *r = arg;
	struct op o = { .table = T_A, .key = r->key, .klen = strlen(r->key) };

	pthread_barrier_wait(r->go);
	r->rc = store_write(st, do_take, &o);
	return NULL;
}

static void take_on_two_threads_succeeds_once(void **state)
{
	(void)state;
	for (int round = 0; round < 20; round++) {
		pthread_barrier_t go;
		struct race a = { .go = &go }, b = { .go = &go };
		pthread_t ta, tb;

		snprintf(a.key, sizeof(a.key), "state%d", round);
		snprintf(b.key, sizeof(b.key), "state%d", round);
		assert_int_equal(put(T_A, a.key, strlen(a.key), "s", 1, 0), STORE_OK);
		pthread_barrier_init(&go, NULL, 2);
		pthread_create(&ta, NULL, taker, &a);
		pthread_create(&tb, NULL, taker, &b);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		pthread_barrier_destroy(&go);
		if (!((a.rc == STORE_OK && b.rc == STORE_ENOTFOUND) ||
		      (a.rc == STORE_ENOTFOUND && b.rc == STORE_OK)))
			fail_msg("round %d: %d and %d", round, a.rc, b.rc);
	}
}

static void compare_and_set(void **state)
{
	char out[16];
	size_t len;

	(void)state;
	assert_int_equal(store_cas(st, T_A, "c", 1, NULL, 0, "v1", 2), STORE_OK);
	assert_int_equal(store_cas(st, T_A, "c", 1, NULL, 0, "v1", 2), STORE_ECONFLICT);
	assert_int_equal(store_cas(st, T_A, "c", 1, "zz", 2, "v2", 2), STORE_ECONFLICT);
	assert_int_equal(store_cas(st, T_A, "c", 1, "v", 1, "v2", 2), STORE_ECONFLICT);
	assert_int_equal(store_cas(st, T_A, "c", 1, "v1", 2, "v2", 2), STORE_OK);
	assert_int_equal(get(T_A, "c", 1, out, &len), STORE_OK);
	assert_memory_equal(out, "v2", 2);
	assert_int_equal(store_cas(st, T_A, "c", 1, "v1", 2, NULL, 0), STORE_ECONFLICT);
	assert_int_equal(store_cas(st, T_A, "c", 1, "v2", 2, NULL, 0), STORE_OK);
	assert_int_equal(get(T_A, "c", 1, out, &len), STORE_ENOTFOUND);
	assert_int_equal(store_cas(st, T_A, "c", 1, "v2", 2, "v3", 2), STORE_ECONFLICT);
	assert_int_equal(store_cas(st, T_A, "c", 1, NULL, 0, NULL, 0), STORE_EINVAL);
}

struct seen {
	char keys[64][16];
	size_t klen[64];
	size_t n;
};

static int collect_key(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct seen *s = arg;

	(void)val;
	(void)vlen;
	if (s->n == 64 || klen > 16)
		return -1000;
	memcpy(s->keys[s->n], key, klen);
	s->klen[s->n++] = klen;
	return 0;
}

struct scan_arg {
	const char *prefix;
	size_t plen;
	const char *after;
	size_t alen;
	size_t limit;
	struct seen seen;
	size_t visited;
};

static int do_scan(struct store_txn *txn, void *arg)
{
	struct scan_arg *a = arg;

	return store_scan(txn, T_B, a->prefix, a->plen, a->after, a->alen, a->limit, collect_key,
			  &a->seen, &a->visited);
}

static void scan(const char *prefix, size_t plen, const char *after_in, size_t alen, size_t limit,
		 struct scan_arg *a)
{
	char after[16];

	memcpy(after, after_in ? after_in : "", after_in ? alen : 0); /* may point into *a */
	memset(a, 0, sizeof(*a));
	*a = (struct scan_arg){ .prefix = prefix,
				.plen = plen,
				.after = after_in ? after : NULL,
				.alen = alen,
				.limit = limit };
	assert_int_equal(store_read(st, do_scan, a), STORE_OK);
}

static void scans_by_prefix_in_key_order(void **state)
{
	static const struct {
		const char *k;
		size_t len;
	} keys[] = {
		{ "a", 1 },         { "a\xfe\xff", 3 },     { "a\xff", 2 },
		{ "a\xff\x00", 3 }, { "a\xff\xff\x01", 4 }, { "b", 1 },
		{ "\xff", 1 },      { "\xff\xff", 2 },      { "\xff\xff\x00", 3 },
	};
	struct scan_arg a;

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(put(T_B, keys[i].k, keys[i].len, "v", 1, 0), STORE_OK);
	/* Everything, bytewise, shorter first. */
	scan(NULL, 0, NULL, 0, 100, &a);
	assert_int_equal(a.seen.n, 9);
	for (size_t i = 0; i < 9; i++) {
		assert_int_equal(a.seen.klen[i], keys[i].len);
		assert_memory_equal(a.seen.keys[i], keys[i].k, keys[i].len);
	}
	/* A prefix ending in 0xff. */
	scan("a\xff", 2, NULL, 0, 100, &a);
	assert_int_equal(a.seen.n, 3);
	assert_memory_equal(a.seen.keys[0], "a\xff", 2);
	assert_memory_equal(a.seen.keys[2], "a\xff\xff\x01", 4);
	/* A prefix of 0xff only. */
	scan("\xff\xff", 2, NULL, 0, 100, &a);
	assert_int_equal(a.seen.n, 2);
	/* Pages: limit, then after the last key seen. */
	scan("a", 1, NULL, 0, 2, &a);
	assert_int_equal(a.seen.n, 2);
	assert_int_equal(a.visited, 2);
	scan("a", 1, a.seen.keys[1], a.seen.klen[1], 2, &a);
	assert_int_equal(a.seen.n, 2);
	assert_memory_equal(a.seen.keys[0], "a\xff", 2);
	assert_memory_equal(a.seen.keys[1], "a\xff\x00", 3);
	scan("a", 1, a.seen.keys[1], a.seen.klen[1], 2, &a);
	assert_int_equal(a.seen.n, 1);
	assert_int_equal(a.visited, 1); /* fewer than the limit: the end */
	/* after before the prefix starts at the prefix. */
	scan("b", 1, "a", 1, 10, &a);
	assert_int_equal(a.seen.n, 1);
	scan("c", 1, NULL, 0, 10, &a);
	assert_int_equal(a.seen.n, 0);
}

/* ---- notifications ---- */

struct heard {
	pthread_mutex_t lock;
	int count, lost;
	char topic[STORE_TOPIC_MAX + 1];
	char payload[STORE_PAYLOAD_MAX + 1];
	bool payload_null;
};

static struct heard heard = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void listener(void *arg, const char *topic, const char *payload)
{
	struct heard *h = arg;

	pthread_mutex_lock(&h->lock);
	if (!topic) {
		h->lost++;
	} else {
		h->count++;
		snprintf(h->topic, sizeof(h->topic), "%s", topic);
		h->payload_null = payload == NULL;
		snprintf(h->payload, sizeof(h->payload), "%s", payload ? payload : "");
	}
	pthread_mutex_unlock(&h->lock);
}

static void heard_reset(void)
{
	pthread_mutex_lock(&heard.lock);
	heard.count = heard.lost = 0;
	heard.topic[0] = heard.payload[0] = '\0';
	pthread_mutex_unlock(&heard.lock);
}

static bool heard_topic(const char *topic, int ms)
{
	int64_t until = now_ms() + ms;

	for (;;) {
		bool ok;
		pthread_mutex_lock(&heard.lock);
		ok = heard.count > 0 && strcmp(heard.topic, topic) == 0;
		pthread_mutex_unlock(&heard.lock);
		if (ok)
			return true;
		if (now_ms() > until)
			return false;
		usleep(10 * 1000);
	}
}

static void notifications_in_this_process_come_after_the_commit(void **state)
{
	struct op o = { .table = T_A,
			.key = "n",
			.klen = 1,
			.val = "v",
			.vlen = 1,
			.flags = 0,
			.topic = "sessions",
			.payload = "abc" };

	(void)state;
	heard_reset();
	assert_int_equal(store_listen(st, listener, &heard), STORE_OK);
	assert_true(store_cache_ok(st));
	heard_reset(); /* (PostgreSQL says "everything" once it listens) */
	assert_int_equal(store_write(st, do_put, &o), STORE_OK);
	/* At once: delivered before store_write returned. */
	pthread_mutex_lock(&heard.lock);
	assert_int_equal(heard.count >= 1, 1);
	assert_string_equal(heard.topic, "sessions");
	assert_string_equal(heard.payload, "abc");
	pthread_mutex_unlock(&heard.lock);
	/* An aborted write notifies nobody. */
	usleep(300 * 1000);
	heard_reset();
	o.fail_with = STORE_ECALLER - 5;
	o.topic = "users";
	assert_int_equal(store_write(st, do_put, &o), STORE_ECALLER - 5);
	assert_false(heard_topic("users", 600));
	/* Bad topics and payloads. */
	o = (struct op){ .table = T_A,
			 .key = "n",
			 .klen = 1,
			 .val = "v",
			 .vlen = 1,
			 .flags = 0,
			 .topic = "Bad Topic",
			 .payload = "" };
	assert_int_equal(store_write(st, do_put, &o), STORE_EINVAL);
	o = (struct op){ .table = T_A,
			 .key = "n",
			 .klen = 1,
			 .val = "v",
			 .vlen = 1,
			 .flags = 0,
			 .topic = "t",
			 .payload = "tab\there" };
	assert_int_equal(store_write(st, do_put, &o), STORE_EINVAL);
}

/* Another process (as the admin commands are, or another node) writes. */
static void notifications_reach_another_store(void **state)
{
	int status = 0;

	(void)state;
	heard_reset();
	assert_int_equal(store_listen(st, listener, &heard), STORE_OK);
	usleep(300 * 1000);
	heard_reset();
	{
		/* A process of its own (LMDB forbids opening one environment
		 * twice in a process, also in a fork). */
		const char *args[] = {
			"/proc/self/exe", "write-one", postgres ? "postgres" : "lmdb", dir,
			cfg.url,          NULL
		};
		char *out = NULL;
		assert_int_equal(ts_run(args, &status, &out), 0);
		if (status != 0)
			fail_msg("writer: %s", out);
		free(out);
	}
	assert_true(heard_topic("plugins", 1000));
	/* The other process's payload may not travel (LMDB); the topic does. */
	pthread_mutex_lock(&heard.lock);
	if (!heard.payload_null)
		assert_string_equal(heard.payload, "p1");
	pthread_mutex_unlock(&heard.lock);
}

/* ---- group commit ---- */

#define WRITERS 32
#define WRITES 20

static void *writer(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < WRITES; i++) {
		char key[32], value[32];
		struct op o = { .table = T_A };
		snprintf(key, sizeof(key), "w%02d-%02d", id, i);
		snprintf(value, sizeof(value), "v%d", i);
		o.key = key;
		o.klen = strlen(key);
		o.val = value;
		o.vlen = strlen(value);
		/* Every fifth write of odd writers fails after its put. */
		o.fail_with = (id % 2 && i % 5 == 0) ? STORE_ECALLER - 2 : 0;
		if (store_write(st, do_put, &o) != o.fail_with)
			return (void *)1;
	}
	return NULL;
}

static void concurrent_writers_share_commits_and_fail_alone(void **state)
{
	pthread_t t[WRITERS];
	struct store_stats before, after;
	char out[32];
	size_t len;

	(void)state;
	store_get_stats(st, &before);
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < WRITERS; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_null(r);
	}
	store_get_stats(st, &after);
	for (int id = 0; id < WRITERS; id++) {
		for (int i = 0; i < WRITES; i++) {
			char key[32];
			bool failed = id % 2 && i % 5 == 0;
			snprintf(key, sizeof(key), "w%02d-%02d", id, i);
			assert_int_equal(get(T_A, key, strlen(key), out, &len),
					 failed ? STORE_ENOTFOUND : STORE_OK);
		}
	}
	assert_int_equal(after.writes - before.writes, WRITERS * WRITES - (WRITERS / 2) * 4);
	assert_true(after.commits - before.commits <= after.writes - before.writes);
	if (!postgres) /* LMDB: group commit */
		assert_true(after.commits - before.commits < after.writes - before.writes);
}

static void reads_block_is_the_backends_capability(void **state)
{
	(void)state;
	assert_int_equal(store_reads_block(st), postgres);
}

/* ---- backups ---- */

#define BACKUP_WRITERS 4

struct backup_writer {
	pthread_t t;
	int id;
	atomic_int done; /* writes acknowledged */
	atomic_bool *stop;
	int failed;
};

static void backup_value(int id, int n, char *out, size_t cap)
{
	snprintf(out, cap, "value %d of writer %d, sealed or not", n, id);
}

static void *backup_writer_run(void *arg)
{
	struct backup_writer *w = arg;

	for (int n = 0; !atomic_load(w->stop) && n < 100000; n++) {
		char key[32], value[64];
		struct op o = { .table = T_B };
		snprintf(key, sizeof(key), "bk-%d-%06d", w->id, n);
		backup_value(w->id, n, value, sizeof(value));
		o.key = key;
		o.klen = strlen(key);
		o.val = value;
		o.vlen = strlen(value);
		if (store_write(st, do_put, &o) != STORE_OK) {
			w->failed = 1;
			break;
		}
		atomic_store(&w->done, n + 1);
	}
	return NULL;
}

/* LMDB: another process copies the environment while writers of this one
 * go on; the copy, laid out as a data file, opens as a store holding every
 * write acknowledged before the copy began, byte for byte. */
static void a_backup_taken_while_writing_holds_every_acknowledged_write(void **state)
{
	struct backup_writer w[BACKUP_WRITERS];
	atomic_bool stop = false;
	int before[BACKUP_WRITERS], status = 0;
	char copy[300], restored[300], data[340];
	struct store *back;
	struct store_options o;
	char err[STORE_ERR_MAX];
	char *out = NULL;

	(void)state;
	for (int i = 0; i < BACKUP_WRITERS; i++) {
		w[i] = (struct backup_writer){ .id = i, .stop = &stop };
		assert_int_equal(pthread_create(&w[i].t, NULL, backup_writer_run, &w[i]), 0);
	}
	/* Let them get going, so that the copy overlaps their commits. */
	for (int i = 0; i < BACKUP_WRITERS; i++)
		while (atomic_load(&w[i].done) < 20 && !w[i].failed)
			usleep(1000);
	for (int i = 0; i < BACKUP_WRITERS; i++)
		before[i] = atomic_load(&w[i].done);
	snprintf(copy, sizeof(copy), "%s/copy.mdb", dir);
	o = options();
	{
		const char *args[] = { "/proc/self/exe", "backup-one", o.lmdb_dir, copy, NULL };
		assert_int_equal(ts_run(args, &status, &out), 0);
		if (status != 0)
			fail_msg("backup: %s", out);
		free(out);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < BACKUP_WRITERS; i++) {
		pthread_join(w[i].t, NULL);
		assert_false(w[i].failed);
	}
	/* The copy is a data file: it opens as the same store. */
	snprintf(restored, sizeof(restored), "%s/restored", dir);
	assert_int_equal(mkdir(restored, 0700), 0);
	snprintf(data, sizeof(data), "%s/data.mdb", restored);
	assert_int_equal(rename(copy, data), 0);
	o = options();
	o.lmdb_dir = restored;
	assert_int_equal(store_open(&cfg, &o, &back, err, sizeof(err)), STORE_OK);
	for (int i = 0; i < BACKUP_WRITERS; i++) {
		for (int n = 0; n < before[i]; n++) {
			char key[32], want[64];
			struct op g = { .table = T_B };
			snprintf(key, sizeof(key), "bk-%d-%06d", i, n);
			backup_value(i, n, want, sizeof(want));
			g.key = key;
			g.klen = strlen(key);
			assert_int_equal(store_read(back, do_get, &g), STORE_OK);
			assert_int_equal(g.out_len, strlen(want));
			assert_memory_equal(g.out, want, g.out_len);
		}
	}
	store_close(back);
}

static void a_backup_of_what_is_not_there_is_refused(void **state)
{
	char err[STORE_ERR_MAX], missing[300];
	int fd;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/nothing", dir);
	fd = open("/dev/null", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(store_backup_supported(&cfg, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_backup(&cfg, missing, fd, err, sizeof(err)), STORE_ENOTFOUND);
	assert_non_null(strstr(err, "no database"));
	/* Nothing was created where there was nothing. */
	assert_int_not_equal(access(missing, F_OK), 0);
	close(fd);
}

/* PostgreSQL: its own tools are the way, and the answer says so. */
static void a_backup_of_postgres_points_to_its_own_tools(void **state)
{
	char err[STORE_ERR_MAX];
	int fd = open("/dev/null", O_WRONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(store_backup(&cfg, dir, fd, err, sizeof(err)), STORE_EINVAL);
	assert_non_null(strstr(err, "pg_dump"));
	err[0] = '\0';
	assert_int_equal(store_backup_supported(&cfg, err, sizeof(err)), STORE_EINVAL);
	assert_non_null(strstr(err, "pg_dump"));
	close(fd);
}

/* ---- LMDB: the map grows, up to its maximum ---- */

#define BIG (256 * 1024)

struct big_put {
	int key;
	char fill;
};

static int put_big(struct store_txn *txn, void *arg)
{
	struct big_put *b = arg;
	char *value = malloc(BIG);
	int rc;

	if (!value)
		return STORE_ENOMEM;
	memset(value, b->fill, BIG);
	rc = store_put(txn, T_A, &b->key, sizeof(b->key), value, BIG, 0);
	free(value);
	return rc;
}

static struct store *open_small(const char *sub, size_t max)
{
	struct store_options o = options();
	char path[320], err[STORE_ERR_MAX];
	struct store *s = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	o.lmdb_dir = path;
	o.lmdb_map_size = 1024 * 1024;
	o.lmdb_map_max = max;
	assert_int_equal(store_open(&cfg, &o, &s, err, sizeof(err)), STORE_OK);
	return s;
}

static void a_full_map_grows_and_at_its_maximum_writes_fail_cleanly(void **state)
{
	struct store *s = open_small("grow", 64 * 1024 * 1024);
	struct big_put b;
	struct op g = { .table = T_A, .klen = sizeof(int) };
	int rc = STORE_OK, key;

	(void)state;
	for (int i = 0; i < 16; i++) {
		b = (struct big_put){ i, (char)('a' + i) };
		assert_int_equal(store_write(s, put_big, &b), STORE_OK);
	}
	for (key = 0; key < 16; key++) {
		g.key = (const char *)&key;
		assert_int_equal(store_read(s, do_get, &g), STORE_OK);
		assert_int_equal(g.out[0], 'a' + key);
	}
	store_close(s);

	s = open_small("full", 2 * 1024 * 1024);
	b = (struct big_put){ 1, 'x' };
	assert_int_equal(store_write(s, put_big, &b), STORE_OK);
	for (int i = 2; i < 40 && rc == STORE_OK; i++) {
		b = (struct big_put){ i, 'z' };
		rc = store_write(s, put_big, &b);
	}
	assert_int_equal(rc, STORE_EFULL);
	key = 1;
	g.key = (const char *)&key;
	assert_int_equal(store_read(s, do_get, &g), STORE_OK);
	assert_int_equal(g.out[0], 'x');
	store_close(s);
}

/* ---- PostgreSQL: a URL libpq cannot parse ---- */

/* libpq's message quotes the token it could not parse: here the password,
 * with a '%' that starts no percent-encoded byte. The error names the URL,
 * never its password. */
static void a_malformed_url_is_refused_without_its_password(void **state)
{
	struct store_config bad = cfg;
	struct store_options o = options();
	struct store *s = NULL;
	char err[STORE_ERR_MAX] = "";

	(void)state;
	snprintf(bad.url, sizeof(bad.url), "postgresql://mm:Pass%%zzWord@127.0.0.1:1/db");
	assert_int_not_equal(store_open(&bad, &o, &s, err, sizeof(err)), STORE_OK);
	assert_null(s);
	if (!err[0] || strstr(err, "Pass") || strstr(err, "zzWord"))
		fail_msg("store_open said: %s", err);
}

/* ---- PostgreSQL: the server goes away and comes back ---- */

static void unavailable_within_5_s_then_reconnects(void **state)
{
	struct store_config pcfg = cfg;
	struct store_options o = options();
	struct store *ps;
	char pstate[300], err[STORE_ERR_MAX], out[16];
	struct op g = { .table = T_A, .key = "k", .klen = 1 };
	struct op p = { .table = T_A,
			.key = "k",
			.klen = 1,
			.val = "v",
			.vlen = 1,
			.flags = 0,
			.topic = "t",
			.payload = "" };
	int64_t t0;
	size_t len;
	int rc;

	(void)state;
	(void)out;
	(void)len;
	snprintf(pstate, sizeof(pstate), "%s/pg.state", dir);
	assert_int_equal(ts_pg_private_start(pstate), 0);
	assert_int_equal(ts_pg_private_url(pstate, "outage", pcfg.url, sizeof(pcfg.url)), 0);
	assert_int_equal(store_open(&pcfg, &o, &ps, err, sizeof(err)), STORE_OK);
	heard_reset();
	assert_int_equal(store_listen(ps, listener, &heard), STORE_OK);
	assert_true(store_cache_ok(ps));
	assert_int_equal(store_write(ps, do_put, &p), STORE_OK);

	assert_int_equal(ts_pg_private_pause(pstate), 0);
	t0 = now_ms();
	rc = store_read(ps, do_get, &g);
	assert_int_equal(rc, STORE_EUNAVAILABLE);
	assert_int_equal(store_write(ps, do_put, &p), STORE_EUNAVAILABLE);
	assert_true(now_ms() - t0 < 5500);
	/* The notification connection is seen lost: caches are off. */
	t0 = now_ms();
	while (store_cache_ok(ps) && now_ms() - t0 < 5000)
		usleep(20 * 1000);
	assert_false(store_cache_ok(ps));
	pthread_mutex_lock(&heard.lock);
	assert_true(heard.lost >= 1);
	pthread_mutex_unlock(&heard.lock);

	assert_int_equal(ts_pg_private_resume(pstate), 0);
	t0 = now_ms();
	do {
		rc = store_read(ps, do_get, &g);
		if (rc != STORE_OK)
			usleep(100 * 1000);
	} while (rc != STORE_OK && now_ms() - t0 < 20000);
	assert_int_equal(rc, STORE_OK);
	assert_memory_equal(g.out, "v", 1);
	t0 = now_ms();
	while (!store_cache_ok(ps) && now_ms() - t0 < 20000)
		usleep(20 * 1000);
	assert_true(store_cache_ok(ps));
	assert_int_equal(store_write(ps, do_put, &p), STORE_OK);
	store_close(ps);
	assert_int_equal(ts_pg_private_stop(pstate), 0);
}

/* A write transaction that reads a row after another connection committed
 * a change to it (the row "b" of table a, set to "new" by a statement of
 * its own) while the transaction was already under way (it had read "a"). */
struct late_change {
	char got[16];
	size_t got_len;
};

static int read_after_a_late_change(struct store_txn *txn, void *arg)
{
	struct late_change *l = arg;
	struct store_val v;
	int rc = store_get(txn, T_A, "a", 1, 0, &v);

	if (rc != STORE_OK)
		return rc;
	/* Every attempt: a retry must meet the same situation. */
	if (ts_pg_exec(cfg.url, "UPDATE test_a SET v = 'new'::bytea WHERE k = 'b'::bytea") != 0)
		return STORE_ECALLER - 1;
	rc = store_get(txn, T_A, "b", 1, 0, &v);
	if (rc == STORE_OK) {
		l->got_len = v.len < sizeof(l->got) ? v.len : sizeof(l->got);
		memcpy(l->got, v.data, l->got_len);
	}
	return rc;
}

struct cas_behind {
	int rc;
};

static void *cas_old_to_cas(void *arg)
{
	struct cas_behind *c = arg;

	c->rc = store_cas(st, T_A, "b", 1, "old", 3, "cas", 3);
	return NULL;
}

static PGresult *sql_on(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(pg));
	return r;
}

/* store_cas (one statement outside a transaction block) waiting behind
 * another connection's uncommitted rewrite of its row (the same bytes, a
 * new row version): once that commits, READ COMMITTED checks the row as it
 * is now, still the expected bytes, and swaps it, as the header says.
 * REPEATABLE READ and SERIALIZABLE fail the statement instead (a
 * serialization failure: STORE_ECONFLICT although the bytes were as
 * expected). */
static void cas_waiting_behind_a_change_sees_it(void)
{
	PGconn *holder = PQconnectdb(cfg.url), *watch = PQconnectdb(cfg.url);
	struct cas_behind c = { .rc = 1 };
	pthread_t t;
	int waiting = 0;

	assert_int_equal(PQstatus(holder), CONNECTION_OK);
	assert_int_equal(PQstatus(watch), CONNECTION_OK);
	assert_int_equal(put(T_A, "b", 1, "old", 3, 0), STORE_OK);
	PQclear(sql_on(holder, "BEGIN; UPDATE test_a SET v = 'old'::bytea WHERE k = 'b'::bytea"));
	assert_int_equal(pthread_create(&t, NULL, cas_old_to_cas, &c), 0);
	for (int i = 0; i < 100 && !waiting; i++) {
		PGresult *r = sql_on(watch, "SELECT count(*) FROM pg_stat_activity WHERE "
					    "wait_event_type = 'Lock' AND datname = "
					    "current_database()");
		waiting = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
		if (!waiting)
			usleep(50 * 1000);
	}
	PQclear(sql_on(holder, "COMMIT"));
	pthread_join(t, NULL);
	PQfinish(holder);
	PQfinish(watch);
	assert_int_equal(waiting, 1); /* the premise: it waited */
	if (c.rc != STORE_OK)
		fail_msg("store_cas behind a committed rewrite of the expected bytes: %d", c.rc);
}

/* The header promises READ COMMITTED, whatever the database's default: a
 * statement in a write transaction sees what was committed before it, and
 * a row changed since the transaction began is read and locked, not a
 * serialization failure (which REPEATABLE READ and SERIALIZABLE give, and
 * which retries meet again). Reads and store_cas likewise. */
static void read_committed_whatever_the_databases_default(void **state)
{
	static const char *const levels[] = { "repeatable read", "serializable" };

	(void)state;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		char sql[256], out[16];
		struct late_change l = { 0 };
		size_t len;
		int rc;

		snprintf(sql, sizeof(sql),
			 "DO $$BEGIN EXECUTE format('ALTER DATABASE %%I SET "
			 "default_transaction_isolation = %%L', current_database(), '%s'); END$$",
			 levels[i]);
		assert_int_equal(ts_pg_exec(cfg.url, sql), 0);
		store_close(st); /* new connections get the new default */
		assert_int_equal(open_store(&st), STORE_OK);
		assert_int_equal(put(T_A, "a", 1, "a", 1, 0), STORE_OK);
		assert_int_equal(put(T_A, "b", 1, "old", 3, 0), STORE_OK);
		rc = store_write(st, read_after_a_late_change, &l);
		if (rc != STORE_OK || l.got_len != 3 || memcmp(l.got, "new", 3) != 0)
			fail_msg("default %s: the write transaction got %d, read \"%.*s\"",
				 levels[i], rc, (int)l.got_len, l.got);
		cas_waiting_behind_a_change_sees_it();
		assert_int_equal(get(T_A, "b", 1, out, &len), STORE_OK);
		assert_memory_equal(out, "cas", 3);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest common[] = {
		cmocka_unit_test_setup_teardown(get_put_del_take, setup, teardown),
		cmocka_unit_test_setup_teardown(a_failed_write_leaves_the_old_value, setup,
						teardown),
		cmocka_unit_test_setup_teardown(take_on_two_threads_succeeds_once, setup, teardown),
		cmocka_unit_test_setup_teardown(compare_and_set, setup, teardown),
		cmocka_unit_test_setup_teardown(scans_by_prefix_in_key_order, setup, teardown),
		cmocka_unit_test_setup_teardown(notifications_in_this_process_come_after_the_commit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(notifications_reach_another_store, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_writers_share_commits_and_fail_alone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(reads_block_is_the_backends_capability, setup,
						teardown),
	};
	const struct CMUnitTest lmdb_only[] = {
		cmocka_unit_test_setup_teardown(
			a_full_map_grows_and_at_its_maximum_writes_fail_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_backup_taken_while_writing_holds_every_acknowledged_write, setup,
			teardown),
		cmocka_unit_test_setup_teardown(a_backup_of_what_is_not_there_is_refused, setup,
						teardown),
	};
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test_setup_teardown(unavailable_within_5_s_then_reconnects, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_backup_of_postgres_points_to_its_own_tools, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_malformed_url_is_refused_without_its_password,
						setup, teardown),
		cmocka_unit_test_setup_teardown(read_committed_whatever_the_databases_default,
						setup, teardown),
	};
	int failed;

	if (argc == 4 && strcmp(argv[1], "backup-one") == 0) {
		char err[STORE_ERR_MAX];
		int fd = open(argv[3], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc;

		store_config_init(&cfg);
		rc = fd < 0 ? STORE_EIO : store_backup(&cfg, argv[2], fd, err, sizeof(err));
		if (rc != STORE_OK)
			fprintf(stderr, "store_backup: %s\n",
				fd < 0 ? "cannot create the copy" : err);
		if (fd >= 0 && fsync(fd) != 0)
			rc = STORE_EIO;
		if (fd >= 0)
			close(fd);
		return rc == STORE_OK ? 0 : 1;
	}
	if (argc == 5 && strcmp(argv[1], "write-one") == 0) {
		struct store *other;
		struct op o = { .table = T_A,
				.key = "x",
				.klen = 1,
				.val = "v",
				.vlen = 1,
				.flags = 0,
				.topic = "plugins",
				.payload = "p1" };
		int rc;

		store_config_init(&cfg);
		postgres = strcmp(argv[2], "postgres") == 0;
		cfg.backend = postgres ? STORE_BACKEND_POSTGRES : STORE_BACKEND_LMDB;
		snprintf(dir, sizeof(dir), "%s", argv[3]);
		snprintf(cfg.url, sizeof(cfg.url), "%s", argv[4]);
		rc = open_store(&other);
		if (rc == STORE_OK)
			rc = store_write(other, do_put, &o);
		store_close(other);
		return rc == STORE_OK ? 0 : 1;
	}
	postgres = argc > 1 && strcmp(argv[1], "postgres") == 0;
	failed = cmocka_run_group_tests_name(postgres ? "store_postgres" : "store_lmdb", common,
					     NULL, NULL);
	if (postgres)
		failed += cmocka_run_group_tests_name("store_postgres_outage", pg_only, NULL, NULL);
	else
		failed += cmocka_run_group_tests_name("store_lmdb_map", lmdb_only, NULL, NULL);
	return failed;
}
