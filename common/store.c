/* The storage seam: argument checks, notifications and listeners, then
 * the backend's operation. */
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_backend.h"

#include "banned.h"

const char *store_strerror(int rc)
{
	switch (rc) {
	case STORE_OK: return "no error";
	case STORE_ENOTFOUND: return "not found";
	case STORE_EEXIST: return "the key exists";
	case STORE_ECONFLICT: return "conflict: the value changed";
	case STORE_EUNAVAILABLE: return "unavailable: the database cannot be reached";
	case STORE_EFULL: return "full: the database reached its maximum size or the disk is full";
	case STORE_EIO: return "the database failed (I/O error)";
	case STORE_ENOMEM: return "out of memory";
	case STORE_EINVAL: return "invalid argument";
	default: return "the database failed";
	}
}

bool store_is_full(int rc)
{
	return rc == STORE_EFULL;
}

int store_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

int64_t store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void store_logf(struct store *st, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!st->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->log(st->log_arg, level, msg);
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

int store_base_init(struct store *st, const struct store_options *opt, char *err, size_t cap)
{
	if (!name_ok(opt->component, STORE_COMPONENT_MAX)) {
		snprintf(err, cap, "store: component must be 1 to %d of [a-z0-9_]",
			 STORE_COMPONENT_MAX);
		return STORE_EINVAL;
	}
	if (opt->n_tables == 0 || opt->n_tables > STORE_TABLES_MAX) {
		snprintf(err, cap, "store: 1 to %d tables", STORE_TABLES_MAX);
		return STORE_EINVAL;
	}
	snprintf(st->component, sizeof(st->component), "%s", opt->component);
	for (size_t i = 0; i < opt->n_tables; i++) {
		if (!name_ok(opt->tables[i], STORE_TABLE_NAME_MAX)) {
			snprintf(err, cap, "store: table names are 1 to %d of [a-z0-9_]",
				 STORE_TABLE_NAME_MAX);
			return STORE_EINVAL;
		}
		snprintf(st->tables[i], sizeof(st->tables[i]), "%s", opt->tables[i]);
	}
	st->n_tables = opt->n_tables;
	st->log = opt->log;
	st->log_arg = opt->log_arg;
	pthread_mutex_init(&st->listen_lock, NULL);
	atomic_init(&st->n_listeners, 0);
	atomic_init(&st->cache_ok, true);
	atomic_init(&st->commits, 0);
	atomic_init(&st->writes, 0);
	return STORE_OK;
}

void store_base_destroy(struct store *st)
{
	pthread_mutex_destroy(&st->listen_lock);
}

int store_note_new(const char *topic, const char *payload, struct store_note **out)
{
	struct store_note *n;

	size_t len = payload ? strnlen(payload, STORE_PAYLOAD_MAX + 1) : 0;

	if (!name_ok(topic, STORE_TOPIC_MAX) || !payload || len > STORE_PAYLOAD_MAX)
		return STORE_EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (payload[i] < 0x20 || payload[i] > 0x7e)
			return STORE_EINVAL;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return STORE_ENOMEM;
	snprintf(n->topic, sizeof(n->topic), "%s", topic);
	snprintf(n->payload, sizeof(n->payload), "%s", payload);
	*out = n;
	return STORE_OK;
}

void store_notes_free(struct store_note *n)
{
	while (n) {
		struct store_note *next = n->next;
		free(n);
		n = next;
	}
}

void store_notes_append(struct store_note **a, struct store_note *b)
{
	while (*a)
		a = &(*a)->next;
	*a = b;
}

void store_deliver(struct store *st, const char *topic, const char *payload)
{
	size_t n = atomic_load_explicit(&st->n_listeners, memory_order_acquire);

	for (size_t i = 0; i < n; i++)
		st->listeners[i].fn(st->listeners[i].arg, topic, payload);
}

void store_deliver_notes(struct store *st, const struct store_note *n)
{
	for (; n; n = n->next)
		store_deliver(st, n->topic, n->payload);
}

void store_config_init(struct store_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->backend = STORE_BACKEND_LMDB;
	cfg->pool_size = STORE_POOL_DEFAULT;
}

int store_open(const struct store_config *cfg, const struct store_options *opt, struct store **out,
	       char *err, size_t err_cap)
{
	*out = NULL;
	if (cfg->backend == STORE_BACKEND_POSTGRES)
		return store_postgres_open(cfg, opt, out, err, err_cap);
	return store_lmdb_open(opt, out, err, err_cap);
}

int store_backup(const struct store_config *cfg, const char *lmdb_dir, int fd, char *err,
		 size_t err_cap)
{
	if (cfg->backend == STORE_BACKEND_POSTGRES)
		return store_postgres_backup(err, err_cap);
	if (!lmdb_dir || fd < 0) {
		snprintf(err, err_cap, "store: backup needs a folder and a file");
		return STORE_EINVAL;
	}
	return store_lmdb_backup(lmdb_dir, fd, err, err_cap);
}

int store_backup_supported(const struct store_config *cfg, char *err, size_t err_cap)
{
	if (cfg->backend == STORE_BACKEND_POSTGRES)
		return store_postgres_backup(err, err_cap);
	return STORE_OK;
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

bool store_reads_block(const struct store *st)
{
	return st->reads_block;
}

int store_read(struct store *st, store_txn_fn fn, void *arg)
{
	return st->ops->read(st, fn, arg);
}

int store_write(struct store *st, store_txn_fn fn, void *arg)
{
	return st->ops->write(st, fn, arg);
}

static bool key_ok(const struct store *st, unsigned table, size_t klen)
{
	return table < st->n_tables && klen > 0 && klen <= STORE_KEY_MAX;
}

int store_get(struct store_txn *txn, unsigned table, const void *key, size_t klen, unsigned flags,
	      struct store_val *val)
{
	if (!key_ok(txn->st, table, klen))
		return STORE_EINVAL;
	return txn->st->ops->get(txn, table, key, klen, flags, val);
}

int store_put(struct store_txn *txn, unsigned table, const void *key, size_t klen, const void *val,
	      size_t vlen, unsigned flags)
{
	if (!txn->write || !key_ok(txn->st, table, klen) || vlen > STORE_VALUE_MAX ||
	    (!val && vlen))
		return STORE_EINVAL;
	return txn->st->ops->put(txn, table, key, klen, val ? val : "", vlen, flags);
}

int store_del(struct store_txn *txn, unsigned table, const void *key, size_t klen)
{
	if (!txn->write || !key_ok(txn->st, table, klen))
		return STORE_EINVAL;
	return txn->st->ops->del(txn, table, key, klen);
}

int store_take(struct store_txn *txn, unsigned table, const void *key, size_t klen,
	       struct store_val *val)
{
	if (!txn->write || !key_ok(txn->st, table, klen))
		return STORE_EINVAL;
	return txn->st->ops->take(txn, table, key, klen, val);
}

int store_scan(struct store_txn *txn, unsigned table, const void *prefix, size_t plen,
	       const void *after, size_t alen, size_t limit, store_scan_fn fn, void *arg,
	       size_t *visited)
{
	size_t dummy;

	if (!visited)
		visited = &dummy;
	*visited = 0;
	if (table >= txn->st->n_tables || plen > STORE_KEY_MAX || (plen && !prefix) ||
	    (after && (alen == 0 || alen > STORE_KEY_MAX)) || limit == 0 ||
	    limit > STORE_SCAN_MAX || !fn)
		return STORE_EINVAL;
	return txn->st->ops->scan(txn, table, prefix, plen, after, after ? alen : 0, limit, fn, arg,
				  visited);
}

int store_cas(struct store *st, unsigned table, const void *key, size_t klen, const void *expected,
	      size_t elen, const void *new_val, size_t nlen)
{
	if (!key_ok(st, table, klen) || (!expected && !new_val) || elen > STORE_VALUE_MAX ||
	    nlen > STORE_VALUE_MAX)
		return STORE_EINVAL;
	return st->ops->cas(st, table, key, klen, expected, elen, new_val, nlen);
}

int store_notify(struct store_txn *txn, const char *topic, const char *payload)
{
	struct store_note *n;
	int rc;

	if (!txn->write)
		return STORE_EINVAL;
	rc = store_note_new(topic, payload, &n);
	if (rc != STORE_OK)
		return rc;
	return txn->st->ops->notify(txn, n);
}

int store_listen(struct store *st, store_listen_fn fn, void *arg)
{
	size_t n;
	int rc = STORE_OK;

	if (!fn)
		return STORE_EINVAL;
	pthread_mutex_lock(&st->listen_lock);
	n = atomic_load(&st->n_listeners);
	if (n == STORE_LISTENERS_MAX) {
		rc = STORE_EINVAL;
		goto out;
	}
	st->listeners[n] = (struct store_listener){ fn, arg };
	atomic_store_explicit(&st->n_listeners, n + 1, memory_order_release);
	if (n == 0)
		rc = st->ops->listen_start(st);
out:
	pthread_mutex_unlock(&st->listen_lock);
	return rc;
}

bool store_cache_ok(const struct store *st)
{
	return atomic_load(&((struct store *)st)->cache_ok);
}

void store_get_stats(const struct store *st, struct store_stats *out)
{
	struct store *s = (struct store *)st;

	out->commits = atomic_load(&s->commits);
	out->writes = atomic_load(&s->writes);
}
