/*
 * The storage seam: a key-value store of named tables, with one LMDB
 * implementation (store_lmdb.c, embedded, one machine) and one PostgreSQL
 * implementation (store_postgres.c, shared by the nodes of a cluster).
 * Everything above it (the host's users and sessions, the plugin's Apps and
 * OAuth2 records) talks to this header only and never learns which backend
 * runs. The header is the specification.
 *
 * Model. A store is opened per component ("host", "apps") with a fixed list
 * of tables. A table maps byte keys (1..STORE_KEY_MAX bytes) to byte values
 * (0..STORE_VALUE_MAX bytes). Keys are ordered bytewise, a shorter key
 * before a longer one it is a prefix of (LMDB's default order and
 * PostgreSQL's bytea order). Tables are named by their index in the list
 * given to store_open().
 *
 * Layout. LMDB: one environment in opt->lmdb_dir, one named database per
 * table. PostgreSQL: one table "<component>_<table>" (k bytea primary key,
 * v bytea not null) per table, plus "store_schema" (component, version);
 * they are created or upgraded by store_open() under an advisory lock, so
 * several nodes may start at once.
 *
 * Transactions run through callbacks. store_write(st, fn, arg) runs fn in a
 * write transaction; fn MAY RUN MORE THAN ONCE (LMDB grows its map and runs
 * it again; PostgreSQL retries after a serialization failure, a deadlock, a
 * connection lost before the commit was sent, or another writer of its
 * group failing), and on another thread than the caller's: writes are
 * grouped on both backends (a leader thread runs the queued callbacks of
 * many writers in one transaction and commits once; each callback sees the
 * changes of those before it; one that fails is undone alone). So fn must
 * depend only on its txn and arg, must not block (no network, no password
 * hashing, no locks held by the caller), and must not start another
 * transaction. When store_write returns 0 the change is durable (LMDB: on
 * disk, full sync; PostgreSQL: committed).
 *
 * Isolation. LMDB: a read transaction sees one snapshot; write transactions
 * are serialised. PostgreSQL: READ COMMITTED. A read transaction runs each
 * statement on its own snapshot (one round trip per read; do not rely on two
 * reads agreeing). In a write transaction every row read with store_get is
 * locked until the commit (FOR SHARE, or FOR UPDATE with STORE_LOCK: pass it
 * for a row you will write, so that two writers queue instead of
 * deadlocking); a key that does not exist is not locked: create a key with
 * STORE_NOOVERWRITE (or store_cas) when two writers may race to create it.
 * Rows seen by store_scan are not locked.
 *
 * Threading. Every function is thread-safe unless said otherwise. A thread
 * runs one transaction at a time per store: never call store_read or
 * store_write from inside a callback (LMDB binds a reader slot to a thread).
 *
 * Errors. Functions return 0 or a negative enum store_rc. Callbacks return
 * 0 (commit), or anything else (abort: store_write returns it). Callers'
 * own codes must be <= STORE_ECALLER so they never mean a store error.
 */
#ifndef COMMON_STORE_H
#define COMMON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_TABLES_MAX 15
#define STORE_TABLE_NAME_MAX 32 /* [a-z0-9_], for table names on every backend */
#define STORE_COMPONENT_MAX 16  /* [a-z0-9_] */
#define STORE_KEY_MAX 480       /* under LMDB's 511-byte limit */
#define STORE_VALUE_MAX (16u * 1024 * 1024)
#define STORE_SCAN_MAX 1024   /* rows one store_scan call visits at most */
#define STORE_TOPIC_MAX 32    /* bytes of a notification topic, [a-z0-9_] */
#define STORE_PAYLOAD_MAX 256 /* bytes of a notification payload (text, no NUL) */
#define STORE_TOPICS_MAX 16   /* distinct topics one store notifies or hears */
#define STORE_LISTENERS_MAX 8
#define STORE_TIMEOUT_MS 5000 /* PostgreSQL: connecting, and each statement */
#define STORE_POOL_DEFAULT 8
#define STORE_POOL_MAX 256
#define STORE_URL_MAX 1024
#define STORE_ERR_MAX 256 /* a good size for the err buffers below */

enum store_rc {
	STORE_OK = 0,
	STORE_ENOTFOUND = -1,    /* no such key */
	STORE_EEXIST = -2,       /* STORE_NOOVERWRITE and the key is taken */
	STORE_ECONFLICT = -3,    /* store_cas: the stored value was not the expected one */
	STORE_EUNAVAILABLE = -4, /* the database cannot be reached (HTTP 503) */
	STORE_EFULL = -5,        /* map at its maximum, disk full (HTTP 507) */
	STORE_EIO = -6,          /* any other failure of the backend (logged) */
	STORE_ENOMEM = -7,
	STORE_EINVAL = -8,    /* a bad argument: key too long, unknown table, ... */
	STORE_ECALLER = -100, /* callers' own codes are this or below */
};

/* What rc means, for a log line ("not found", "unavailable: the database
 * cannot be reached", ...); never NULL. */
const char *store_strerror(int rc);

/* True for STORE_EFULL: the write failed for lack of room, the old value is
 * intact, and the answer is 507. */
bool store_is_full(int rc);

enum store_backend {
	STORE_BACKEND_LMDB = 0,
	STORE_BACKEND_POSTGRES = 1,
};

/* A node's storage backend, as configured by the host config's "store"
 * object: {"backend":"lmdb"} or {"backend":"postgres","url":"postgresql://
 * user@host:port/db", "pool_size":N}. The URL is a libpq URI; the password
 * comes from libpq's own sources (PGPASSFILE, PGPASSWORD, the URI). */
struct store_config {
	enum store_backend backend;
	char url[STORE_URL_MAX]; /* postgres: libpq connection URI; may hold a password */
	unsigned pool_size;      /* postgres: connections per store, 1..STORE_POOL_MAX */
};

/* Defaults: LMDB. */
void store_config_init(struct store_config *cfg);
/* Reads a "store" object (JSON text of at most 64 KiB). Unknown keys, a
 * bad backend, a missing or malformed url, a pool_size out of range are
 * errors naming the key ("store.url ...") in err. 0 or STORE_EINVAL. */
int store_config_parse(struct store_config *cfg, const char *json, size_t len, char *err,
		       size_t err_cap) __attribute__((warn_unused_result));

/* Logging from the backends (connection lost, map full, disk full, ...):
 * level is one of these, msg one line without secrets. Called from any
 * thread; must not call into the store. */
enum store_log_level { STORE_LOG_INFO = 1, STORE_LOG_WARN = 2, STORE_LOG_ERROR = 3 };
typedef void (*store_log_fn)(void *arg, int level, const char *msg);

struct store_options {
	const char *component;     /* "host", "apps": PostgreSQL table prefix */
	const char *lmdb_dir;      /* LMDB: the environment's folder (created 0700) */
	const char *const *tables; /* table names, at most STORE_TABLES_MAX */
	size_t n_tables;
	size_t lmdb_map_size; /* LMDB: initial map size; 0: 64 MiB */
	size_t lmdb_map_max;  /* LMDB: the map grows up to this; 0: 64 GiB */
	store_log_fn log;     /* may be NULL */
	void *log_arg;
};

struct store;
struct store_txn;

/* Opens (creating) the store described by cfg and opt: LMDB's environment
 * and databases, or PostgreSQL's tables (connecting once, within
 * STORE_TIMEOUT_MS, so that a wrong URL or an unreachable server is an error
 * at start). On failure returns a negative store_rc with one line in err
 * (never the password). */
int store_open(const struct store_config *cfg, const struct store_options *opt, struct store **out,
	       char *err, size_t err_cap) __attribute__((warn_unused_result));
/* Closes the store: no transaction may be running. NULL is a no-op. */
void store_close(struct store *st);

/* Whether a read may wait on the network or a lock held by another process
 * (false for LMDB, true for PostgreSQL). Requests whose handlers must not
 * block (the HTTP I/O thread) go to a worker when this is true. */
bool store_reads_block(const struct store *st);

typedef int (*store_txn_fn)(struct store_txn *txn, void *arg);

/* Runs fn in a read transaction and returns what fn returns, or a store
 * error when the transaction could not start (STORE_EUNAVAILABLE, ...). */
int store_read(struct store *st, store_txn_fn fn, void *arg) __attribute__((warn_unused_result));

/* Runs fn in a write transaction (see the top of this file: fn may run
 * more than once, on another thread). fn returns 0: the transaction
 * commits and store_write returns 0 once it is durable. fn returns
 * anything else: its changes are undone (only its own: with group commit,
 * other writers' changes still commit) and store_write returns that value.
 * Also STORE_EUNAVAILABLE (no database, or the connection broke while the
 * commit was in flight: then the outcome is unknown, and nothing was
 * acknowledged), STORE_EFULL, STORE_EIO, STORE_ENOMEM. */
int store_write(struct store *st, store_txn_fn fn, void *arg) __attribute__((warn_unused_result));

/* Inside a transaction. */

struct store_val {
	const void *data;
	size_t len;
};

enum store_flags {
	STORE_LOCK = 1,        /* store_get in a write txn: I will write this row */
	STORE_NOOVERWRITE = 2, /* store_put: fail with STORE_EEXIST when the key exists */
};

/* Reads key of table into *val, valid until the next change in this
 * transaction or its end. 0, STORE_ENOTFOUND, STORE_EINVAL, or a backend
 * error (STORE_EUNAVAILABLE, STORE_EIO, ...): return it from fn. */
int store_get(struct store_txn *txn, unsigned table, const void *key, size_t klen, unsigned flags,
	      struct store_val *val) __attribute__((warn_unused_result));

/* Writes key -> val (write txn). flags: 0 or STORE_NOOVERWRITE. 0,
 * STORE_EEXIST, STORE_EINVAL, or a backend error. */
int store_put(struct store_txn *txn, unsigned table, const void *key, size_t klen, const void *val,
	      size_t vlen, unsigned flags) __attribute__((warn_unused_result));

/* Deletes key (write txn). 0, STORE_ENOTFOUND, or a backend error. */
int store_del(struct store_txn *txn, unsigned table, const void *key, size_t klen)
	__attribute__((warn_unused_result));

/* Deletes key and returns the value it had (write txn), in one statement on
 * PostgreSQL: of two transactions taking the same key at once, exactly one
 * gets it. *val is valid until the transaction ends. 0, STORE_ENOTFOUND, or
 * a backend error. */
int store_take(struct store_txn *txn, unsigned table, const void *key, size_t klen,
	       struct store_val *val) __attribute__((warn_unused_result));

/* Called for each row of a scan: key and value valid during the call.
 * Return 0 to go on, > 0 to stop (store_scan returns 0), < 0 to stop with
 * that error. Must not change the store: collect keys and change them after
 * store_scan returns. */
typedef int (*store_scan_fn)(void *arg, const void *key, size_t klen, const void *val, size_t vlen);

/* Visits, in key order, at most limit (<= STORE_SCAN_MAX) rows of table
 * whose key starts with prefix[0..plen) (plen 0: every row) and is greater
 * than after[0..alen) (after NULL: from the first). *visited (may be NULL)
 * gets how many rows fn saw: fewer than limit means the scan reached the
 * end. To walk a large table, call it again with the last key seen as
 * after. 0, fn's negative result, STORE_EINVAL, or a backend error. */
int store_scan(struct store_txn *txn, unsigned table, const void *prefix, size_t plen,
	       const void *after, size_t alen, size_t limit, store_scan_fn fn, void *arg,
	       size_t *visited) __attribute__((warn_unused_result));

/* Queues a change notification (write txn): after the commit, every
 * listener of every process or node using this store's component gets
 * (topic, payload). Dropped when the transaction (or this writer's part of
 * a group commit) aborts. topic: 1..STORE_TOPIC_MAX bytes of [a-z0-9_];
 * payload: at most STORE_PAYLOAD_MAX printable ASCII bytes (may be "").
 * Listeners in other processes may get a topic with a NULL payload instead
 * (LMDB: "something under topic changed") and must then drop everything
 * they cached under that topic. 0, STORE_EINVAL, STORE_ENOMEM. */
int store_notify(struct store_txn *txn, const char *topic, const char *payload)
	__attribute__((warn_unused_result));

/* One store operation outside any transaction. */

/* Compare-and-set of one row, in one statement on PostgreSQL: replaces
 * key's value when it is byte-equal to expected. expected NULL: the key
 * must not exist; new_val NULL: the row is deleted; not both NULL. 0,
 * STORE_ECONFLICT (the row was not as expected: nothing changed),
 * STORE_EINVAL, or a backend error. */
int store_cas(struct store *st, unsigned table, const void *key, size_t klen, const void *expected,
	      size_t elen, const void *new_val, size_t nlen) __attribute__((warn_unused_result));

/* Change notifications, for caches. */

/* A listener: topic and payload as given to store_notify (payload may be
 * NULL: the whole topic changed). topic NULL: EVERYTHING MAY HAVE CHANGED
 * (the notification channel was lost or came back): drop every cache.
 * Called from the committing thread (changes made in this process, right
 * after their commit) or from the store's notification thread; must be
 * quick, must not block and must not call into the store. */
typedef void (*store_listen_fn)(void *arg, const char *topic, const char *payload);

/* Adds a listener (at most STORE_LISTENERS_MAX), for the store's lifetime.
 * Starts the store's notification thread on first use (LMDB: polls the
 * environment for other processes' changes every 250 ms; PostgreSQL:
 * LISTEN on a connection of its own, reconnecting when it breaks). 0,
 * STORE_EINVAL (too many), STORE_ENOMEM. */
int store_listen(struct store *st, store_listen_fn fn, void *arg)
	__attribute__((warn_unused_result));

/* False while changes made elsewhere may go unheard (PostgreSQL: the
 * notification connection is down): caches must not be trusted then.
 * Always true for LMDB and before store_listen. */
bool store_cache_ok(const struct store *st);

/* Backups (mmhost backup). */

/* Writes a consistent copy of the LMDB environment in lmdb_dir to fd, from
 * fd's current offset on: one read transaction's snapshot, taken while other
 * processes go on writing, so every write committed before the call is in
 * it. The copy is the environment's data file as it is (data.mdb: sealed
 * records stay sealed); laid back as <dir>/data.mdb it opens as the same
 * store. The environment must exist (nothing is created) and must not be
 * open in this process (LMDB allows one handle per process and file).
 * fd: a regular file or a pipe, blocking. PostgreSQL (cfg's backend) has no
 * such copy: STORE_EINVAL, with err saying to use the engine's own tools
 * (pg_dump, base backups). Returns 0; STORE_ENOTFOUND when lmdb_dir holds no
 * environment; STORE_EIO (the environment could not be read or fd written);
 * each with one line in err. */
int store_backup(const struct store_config *cfg, const char *lmdb_dir, int fd, char *err,
		 size_t err_cap) __attribute__((warn_unused_result));

/* Whether cfg's backend is backed up with store_backup: 0 (LMDB), or
 * STORE_EINVAL with err naming the engine's own tools (PostgreSQL). For a
 * command that must decide before it copies anything. */
int store_backup_supported(const struct store_config *cfg, char *err, size_t err_cap)
	__attribute__((warn_unused_result));

/* Counters, for logs and tests. commits counts durable write commits
 * (with LMDB's group commit, fewer than writes), writes the store_write
 * calls that committed. */
struct store_stats {
	uint64_t commits;
	uint64_t writes;
};
void store_get_stats(const struct store *st, struct store_stats *out);

#endif
