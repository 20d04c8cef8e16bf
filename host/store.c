#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs_util.h"

#include "banned.h"

#define STORE_MAP_INITIAL (64UL * 1024 * 1024)
#define STORE_MAP_MAX (64UL * 1024 * 1024 * 1024)

int store_open(struct host_store *s, const char *data_dir, char *err, size_t err_cap)
{
	char dir[4096];
	int n = snprintf(dir, sizeof(dir), "%s/host", data_dir);

	memset(s, 0, sizeof(*s));
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		snprintf(err, err_cap, "data folder path too long");
		return -1;
	}
	if (fs_mkdir_p(data_dir, 0700) != 0) {
		snprintf(err, err_cap, "cannot create the data folder %s: %s", data_dir,
			 strerror(errno));
		return -1;
	}
	if (kv_open(&s->kv, dir, 8, STORE_MAP_INITIAL, STORE_MAP_MAX, err, err_cap) != KV_OK)
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
