#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_util.h"

#include "banned.h"

#define STORE_MAP_INITIAL (64UL * 1024 * 1024)
#define STORE_MAP_MAX (64UL * 1024 * 1024 * 1024)

#define STORE_TEST_MAP_MIN (64UL * 1024)

/* The map's initial and maximum size: the defaults, or the test cap. */
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

int store_open(struct host_store *s, const char *data_dir, char *err, size_t err_cap)
{
	char dir[4096];
	size_t map_initial, map_max;
	int n = snprintf(dir, sizeof(dir), "%s/host", data_dir);

	memset(s, 0, sizeof(*s));
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		snprintf(err, err_cap, "data folder path too long");
		return -1;
	}
	if (map_sizes(&map_initial, &map_max, err, err_cap) != 0)
		return -1;
	if (fs_mkdir_p(data_dir, 0700) != 0) {
		snprintf(err, err_cap, "cannot create the data folder %s: %s", data_dir,
			 strerror(errno));
		return -1;
	}
	if (kv_open(&s->kv, dir, 8, map_initial, map_max, err, err_cap) != KV_OK)
		return -1;
	if (kv_dbi(&s->kv, "users", &s->users) || kv_dbi(&s->kv, "usernames", &s->usernames) ||
	    kv_dbi(&s->kv, "emails", &s->emails) || kv_dbi(&s->kv, "sessions", &s->sessions) ||
	    kv_dbi(&s->kv, "plugin_state", &s->plugin_state)) {
		snprintf(err, err_cap, "cannot open the host's databases in %s", dir);
		kv_close(&s->kv);
		return -1;
	}
	return 0;
}

void store_close(struct host_store *s)
{
	kv_close(&s->kv);
}

int store_write_rc(int kv_rc)
{
	switch (kv_rc) {
	case KV_EFULL: return STORE_EMAPFULL;
	case KV_ENOSPC: return STORE_ENOSPC;
	case KV_EIO: return STORE_EIO;
	default: return kv_rc;
	}
}

const char *store_strerror(int rc)
{
	switch (rc) {
	case STORE_OK: return "no error";
	case STORE_EMAPFULL: return "MDB_MAP_FULL: the database reached its maximum size";
	case STORE_ENOSPC: return "ENOSPC: no space left on the disk";
	case STORE_EIO: return "the database failed (I/O error)";
	default: return "the database failed";
	}
}

bool store_is_full(int rc)
{
	return rc == STORE_EMAPFULL || rc == STORE_ENOSPC;
}

struct plugin_state_arg {
	struct host_store *s;
	const char *id;
	int state;
};

static int read_plugin_state(MDB_txn *txn, void *arg)
{
	struct plugin_state_arg *a = arg;
	MDB_val k = { strlen(a->id), (void *)a->id }, v;
	int rc = mdb_get(txn, a->s->plugin_state, &k, &v);

	if (rc == MDB_NOTFOUND) {
		a->state = -1;
		return 0;
	}
	if (rc != 0)
		return KV_EIO;
	a->state = v.mv_size == 7 && memcmp(v.mv_data, "enabled", 7) == 0;
	return 0;
}

int store_plugin_state(struct host_store *s, const char *id)
{
	struct plugin_state_arg a = { s, id, -1 };

	if (kv_read(&s->kv, read_plugin_state, &a) != 0)
		return -1;
	return a.state;
}

static int write_plugin_state(MDB_txn *txn, void *arg)
{
	struct plugin_state_arg *a = arg;
	const char *val = a->state ? "enabled" : "disabled";
	MDB_val k = { strlen(a->id), (void *)a->id }, v = { strlen(val), (void *)val };

	return kv_rc(mdb_put(txn, a->s->plugin_state, &k, &v, 0));
}

int store_set_plugin_state(struct host_store *s, const char *id, int enabled)
{
	struct plugin_state_arg a = { s, id, enabled };

	return kv_write(&s->kv, write_plugin_state, &a) == 0 ? 0 : -1;
}
