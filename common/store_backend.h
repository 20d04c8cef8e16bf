/*
 * What store.c shares with the two backends (store_lmdb.c, store_postgres.c):
 * the operations table each fills, the common part of a store and of a
 * transaction, notifications queued by a transaction, and delivery to
 * listeners. Not for use outside common/store*.c.
 */
#ifndef COMMON_STORE_BACKEND_H
#define COMMON_STORE_BACKEND_H

#include <pthread.h>
#include <stdatomic.h>

#include "store.h"

struct store_note;

struct store_ops {
	void (*close)(struct store *st);
	int (*read)(struct store *st, store_txn_fn fn, void *arg);
	int (*write)(struct store *st, store_txn_fn fn, void *arg);
	int (*get)(struct store_txn *txn, unsigned table, const void *key, size_t klen,
		   unsigned flags, struct store_val *val);
	int (*put)(struct store_txn *txn, unsigned table, const void *key, size_t klen,
		   const void *val, size_t vlen, unsigned flags);
	int (*del)(struct store_txn *txn, unsigned table, const void *key, size_t klen);
	int (*take)(struct store_txn *txn, unsigned table, const void *key, size_t klen,
		    struct store_val *val);
	int (*scan)(struct store_txn *txn, unsigned table, const void *prefix, size_t plen,
		    const void *after, size_t alen, size_t limit, store_scan_fn fn, void *arg,
		    size_t *visited);
	int (*cas)(struct store *st, unsigned table, const void *key, size_t klen,
		   const void *expected, size_t elen, const void *new_val, size_t nlen);
	/* Takes ownership of n (also on error). */
	int (*notify)(struct store_txn *txn, struct store_note *n);
	/* Starts the notification thread (called once, on the first listener). */
	int (*listen_start)(struct store *st);
};

struct store_listener {
	store_listen_fn fn;
	void *arg;
};

struct store {
	const struct store_ops *ops;
	bool reads_block;
	size_t n_tables;
	char component[STORE_COMPONENT_MAX + 1];
	char tables[STORE_TABLES_MAX][STORE_TABLE_NAME_MAX + 1];
	store_log_fn log;
	void *log_arg;
	/* Listeners only ever get appended: readers load n_listeners
	 * (acquire) and use the entries below it. */
	pthread_mutex_t listen_lock;
	struct store_listener listeners[STORE_LISTENERS_MAX];
	atomic_size_t n_listeners;
	atomic_bool cache_ok;
	atomic_uint_fast64_t commits, writes;
};

struct store_txn {
	struct store *st;
	bool write;
};

/* A notification queued by a transaction, delivered after its commit. */
struct store_note {
	struct store_note *next;
	char topic[STORE_TOPIC_MAX + 1];
	char payload[STORE_PAYLOAD_MAX + 1];
};

/* Fills the common part; validates opt (component, table names). 0 or
 * STORE_EINVAL with err. */
int store_base_init(struct store *st, const struct store_options *opt, char *err, size_t cap);
void store_base_destroy(struct store *st);

/* Checks topic and payload and makes a note (malloc'd). 0, STORE_EINVAL,
 * STORE_ENOMEM. */
int store_note_new(const char *topic, const char *payload, struct store_note **out);
void store_notes_free(struct store_note *n);
/* Appends list b to the end of *a. */
void store_notes_append(struct store_note **a, struct store_note *b);

/* Calls every listener with (topic, payload); topic NULL: everything. */
void store_deliver(struct store *st, const char *topic, const char *payload);
/* Delivers each note of a committed transaction in this process. */
void store_deliver_notes(struct store *st, const struct store_note *n);

/* Logs through the store's log callback (printf-style). */
void store_logf(struct store *st, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Bytewise key order, a shorter key first when it is a prefix. */
int store_keycmp(const void *a, size_t alen, const void *b, size_t blen);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t store_now_ms(void);

/* Backends. */
int store_lmdb_open(const struct store_options *opt, struct store **out, char *err, size_t cap);
int store_postgres_open(const struct store_config *cfg, const struct store_options *opt,
			struct store **out, char *err, size_t cap);

/* Backups (store_backup), per backend. */
int store_lmdb_backup(const char *dir, int fd, char *err, size_t cap);
int store_postgres_backup(char *err, size_t cap);

#endif
