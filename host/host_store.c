#include "host_store.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_util.h"
#include "log.h"
#include "session_cache.h"

#include "banned.h"

const char *const host_store_tables[HOST_T_COUNT] = {
	[HOST_T_USERS] = "users",
	[HOST_T_USERNAMES] = "usernames",
	[HOST_T_EMAILS] = "emails",
	[HOST_T_SESSIONS] = "sessions",
	[HOST_T_PLUGIN_STATE] = "plugin_state",
	[HOST_T_STORE_COPY] = "store_copy",
};

static void store_log(void *arg, int level, const char *msg)
{
	(void)arg;
	log_kv(level >= STORE_LOG_ERROR  ? LOG_ERROR
	       : level == STORE_LOG_WARN ? LOG_WARN
					 : LOG_INFO,
	       msg, NULL);
}

#define STORE_MAP_INITIAL (64UL * 1024 * 1024)
#define STORE_MAP_MAX (64UL * 1024 * 1024 * 1024)
#define STORE_TEST_MAP_MIN (64UL * 1024)

/* LMDB's initial and maximum map size: the defaults, or the test cap. */
static int map_sizes(size_t *initial, size_t *max, char *err, size_t err_cap)
{
	const char *cap = getenv(STORE_TEST_MAP_ENV);
	unsigned long long v;
	char *end;

	*initial = STORE_MAP_INITIAL;
	*max = STORE_MAP_MAX;
	if (!cap)
		return 0;
	errno = 0;
	v = strtoull(cap, &end, 10);
	if (errno || end == cap || *end || v < STORE_TEST_MAP_MIN || v > STORE_MAP_MAX) {
		snprintf(err, err_cap, "%s must be a number of bytes from %lu to %lu",
			 STORE_TEST_MAP_ENV, STORE_TEST_MAP_MIN, STORE_MAP_MAX);
		return -1;
	}
	*initial = *max = (size_t)v;
	return 0;
}

static int read_copy_marker(struct store_txn *txn, void *arg)
{
	struct store_val v;

	(void)arg;
	return store_get(txn, HOST_T_STORE_COPY, HOST_COPY_UNFINISHED, strlen(HOST_COPY_UNFINISHED),
			 0, &v);
}

/* A store that `mmhost store copy` began to fill and did not finish holds
 * only part of the node's data: serving from it would lose the rest. 0 when
 * no copy is unfinished, else -1 with err. */
static int copy_unfinished(struct store *st, char *err, size_t err_cap)
{
	int rc = store_read(st, read_copy_marker, NULL);

	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc == STORE_OK)
		snprintf(err, err_cap,
			 "the database holds an unfinished mmhost store copy (it was "
			 "interrupted): run the same mmhost store copy again, it starts over");
	else
		snprintf(err, err_cap, "cannot read the store: %s", store_strerror(rc));
	return -1;
}

int host_store_open(struct host_store *s, const struct store_config *cfg, const char *data_dir,
		    char *err, size_t err_cap)
{
	struct store_options opt = {
		.component = "host",
		.tables = host_store_tables,
		.n_tables = HOST_T_COUNT,
		.log = store_log,
	};
	char dir[4096];
	int n = snprintf(dir, sizeof(dir), "%s/host", data_dir);

	memset(s, 0, sizeof(*s));
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		snprintf(err, err_cap, "data folder path too long");
		return -1;
	}
	if (map_sizes(&opt.lmdb_map_size, &opt.lmdb_map_max, err, err_cap) != 0)
		return -1;
	if (fs_mkdir_p(data_dir, 0700) != 0) {
		snprintf(err, err_cap, "cannot create the data folder %s: %s", data_dir,
			 strerror(errno));
		return -1;
	}
	opt.lmdb_dir = dir;
	if (store_open(cfg, &opt, &s->st, err, err_cap) != STORE_OK)
		return -1;
	if (copy_unfinished(s->st, err, err_cap) != 0) {
		host_store_close(s);
		return -1;
	}
	return 0;
}

void host_store_close(struct host_store *s)
{
	store_close(s->st);
	s->st = NULL;
}

/* One session ended: the payload is its token's hash in hex. */
static bool one_session(const char *payload, unsigned char hash[SESSION_HASH_LEN])
{
	size_t len;

	return payload && strlen(payload) == 2 * SESSION_HASH_LEN &&
	       sodium_hex2bin(hash, SESSION_HASH_LEN, payload, 2 * SESSION_HASH_LEN, NULL, &len,
			      NULL) == 0 &&
	       len == SESSION_HASH_LEN;
}

static void sessions_heard(void *arg, const char *topic, const char *payload)
{
	struct host_store *s = arg;
	unsigned char hash[SESSION_HASH_LEN];

	if (topic && strcmp(topic, HOST_TOPIC_SESSIONS) != 0)
		return;
	if (topic && one_session(payload, hash))
		session_cache_drop(s->sessions_cache, hash);
	else
		atomic_fetch_add(&s->session_generation, 1);
}

int host_store_cache_sessions(struct host_store *s, struct session_cache *cache)
{
	/* Set first: the listener drops entries from it. Nothing reads
	 * sessions yet (the server starts afterwards). */
	s->sessions_cache = cache;
	if (store_listen(s->st, sessions_heard, s) != STORE_OK) {
		s->sessions_cache = NULL;
		return -1;
	}
	return 0;
}

struct plugin_state_arg {
	const char *id;
	int state;
};

static int read_plugin_state(struct store_txn *txn, void *arg)
{
	struct plugin_state_arg *a = arg;
	struct store_val v;
	int rc = store_get(txn, HOST_T_PLUGIN_STATE, a->id, strlen(a->id), 0, &v);

	if (rc == STORE_ENOTFOUND) {
		a->state = -1;
		return 0;
	}
	if (rc != STORE_OK)
		return rc;
	a->state = v.len == 7 && memcmp(v.data, "enabled", 7) == 0;
	return 0;
}

int host_store_plugin_state(struct host_store *s, const char *id)
{
	struct plugin_state_arg a = { id, -1 };

	if (store_read(s->st, read_plugin_state, &a) != STORE_OK)
		return -1;
	return a.state;
}

static int write_plugin_state(struct store_txn *txn, void *arg)
{
	struct plugin_state_arg *a = arg;
	const char *val = a->state ? "enabled" : "disabled";

	return store_put(txn, HOST_T_PLUGIN_STATE, a->id, strlen(a->id), val, strlen(val), 0);
}

int host_store_set_plugin_state(struct host_store *s, const char *id, int enabled)
{
	struct plugin_state_arg a = { id, enabled };

	return store_write(s->st, write_plugin_state, &a) == STORE_OK ? 0 : -1;
}

/* A read of a key nobody writes: found or not, the store answered. */
static int read_nothing(struct store_txn *txn, void *arg)
{
	static const char key[] = "health-check";
	struct store_val v;
	int rc = store_get(txn, HOST_T_PLUGIN_STATE, key, sizeof(key) - 1, 0, &v);

	(void)arg;
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

int host_store_ping(struct host_store *s)
{
	return store_read(s->st, read_nothing, NULL);
}
