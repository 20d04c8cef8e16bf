#include "apps_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm_id.h"
#include "banned.h"

#define MAP_INITIAL (64UL * 1024 * 1024)
#define MAP_MAX (256UL * 1024 * 1024 * 1024)
#define USER_KEY_MAX 96
#define SCHEMA_VERSION "1"

static int put_meta(MDB_txn *txn, void *arg)
{
	struct apps_store *st = arg;
	MDB_val k = { 14, (void *)"schema_version" }, v = { 1, (void *)SCHEMA_VERSION };

	return kv_rc(mdb_put(txn, st->meta, &k, &v, 0));
}

static int gates_add_missing(MDB_txn *txn, void *arg);

int apps_store_open(struct apps_store *st, const char *dir, const struct sealer *sealer, char *err,
		    size_t err_cap)
{
	memset(st, 0, sizeof(*st));
	st->sealer = sealer;
	if (kv_open(&st->kv, dir, 8, MAP_INITIAL, MAP_MAX, err, err_cap) != KV_OK)
		return STORE_EIO;
	if (kv_dbi(&st->kv, "apps", &st->apps) || kv_dbi(&st->kv, "app_gate", &st->gate) ||
	    kv_dbi(&st->kv, "listing", &st->listing) ||
	    kv_dbi(&st->kv, "oauth2_user", &st->oauth2_user) ||
	    kv_dbi(&st->kv, "oauth2_state", &st->oauth2_state) ||
	    kv_dbi(&st->kv, "oauth2_state_by_user", &st->state_index) ||
	    kv_dbi(&st->kv, "meta", &st->meta) || kv_write(&st->kv, put_meta, st) != 0) {
		snprintf(err, err_cap, "cannot open the plugin's databases in %s", dir);
		kv_close(&st->kv);
		return STORE_EIO;
	}
	if (kv_write(&st->kv, gates_add_missing, st) != 0) {
		snprintf(err, err_cap, "cannot give the installed Apps their gates in %s", dir);
		kv_close(&st->kv);
		return STORE_EIO;
	}
	group_commit_init(&st->group, &st->kv);
	return STORE_OK;
}

void apps_store_close(struct apps_store *st)
{
	group_commit_destroy(&st->group);
	kv_close(&st->kv);
}

size_t oauth2_user_key(const char *app_id, const char *user_id, char *key, size_t cap)
{
	size_t a = strlen(app_id), u = strlen(user_id);

	if (a + 1 + u > cap)
		return 0;
	memcpy(key, app_id, a);
	key[a] = '\0';
	memcpy(key + a + 1, user_id, u);
	return a + 1 + u;
}

/* ---- generic sealed and plain records -------------------------------- */

struct rec_arg {
	struct apps_store *st;
	MDB_dbi dbi;
	const char *db;
	const void *key;
	size_t key_len;
	const void *value; /* put: bytes to store */
	size_t value_len;
	char *plain; /* get: opened plaintext */
	size_t plain_len;
	int sealed;
};

static int rec_put(MDB_txn *txn, void *arg)
{
	struct rec_arg *a = arg;
	MDB_val k = { a->key_len, (void *)a->key }, v = { a->value_len, (void *)a->value };

	return kv_rc(mdb_put(txn, a->dbi, &k, &v, 0));
}

static int rec_get(MDB_txn *txn, void *arg)
{
	struct rec_arg *a = arg;
	MDB_val k = { a->key_len, (void *)a->key }, v;
	int rc = mdb_get(txn, a->dbi, &k, &v);

	if (rc == MDB_NOTFOUND)
		return STORE_ENOTFOUND;
	if (rc != 0)
		return STORE_EIO;
	if (a->sealed) {
		rc = unseal_record(a->st->sealer, a->db, a->key, a->key_len, v.mv_data, v.mv_size,
				   &a->plain, &a->plain_len);
		return rc == SEAL_OK ? STORE_OK : rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_ECORRUPT;
	}
	a->plain = malloc(v.mv_size + 1);
	if (!a->plain)
		return STORE_ENOMEM;
	memcpy(a->plain, v.mv_data, v.mv_size);
	a->plain[v.mv_size] = '\0';
	a->plain_len = v.mv_size;
	return STORE_OK;
}

/* kv's codes are the store's (KV_EIO is STORE_EIO) but for the full map
 * and the full disk. */
static int map_kv(int rc)
{
	return rc == KV_EFULL ? STORE_EFULL : rc == KV_ENOSPC ? STORE_ENOSPC : rc;
}

static int sealed_get(struct apps_store *st, MDB_dbi dbi, const char *db, const void *key,
		      size_t key_len, char **plain, size_t *plain_len)
{
	struct rec_arg a = { st, dbi, db, key, key_len, NULL, 0, NULL, 0, 1 };
	int rc = map_kv(kv_read(&st->kv, rec_get, &a));

	*plain = rc == STORE_OK ? a.plain : NULL;
	*plain_len = rc == STORE_OK ? a.plain_len : 0;
	return rc;
}

static int sealed_get_json(struct apps_store *st, MDB_dbi dbi, const char *db, const char *key,
			   json_t **out)
{
	char *plain;
	size_t len;
	int rc = sealed_get(st, dbi, db, key, strlen(key), &plain, &len);

	*out = NULL;
	if (rc != STORE_OK)
		return rc;
	*out = json_loadb(plain, len, 0, NULL);
	unseal_free(plain);
	return *out ? STORE_OK : STORE_ECORRUPT;
}

/* ---- listing ---------------------------------------------------------- */

int listing_put(struct apps_store *st, const char *app_id, const json_t *manifest)
{
	char *text = json_dumps(manifest, JSON_COMPACT);
	struct rec_arg a = {
		st,   st->listing, "listing", app_id, strlen(app_id), text, text ? strlen(text) : 0,
		NULL, 0,           0
	};
	int rc;

	if (!text)
		return STORE_ENOMEM;
	rc = map_kv(kv_write(&st->kv, rec_put, &a));
	free(text);
	return rc;
}

int listing_get(struct apps_store *st, const char *app_id, json_t **out)
{
	struct rec_arg a = {
		st, st->listing, "listing", app_id, strlen(app_id), NULL, 0, NULL, 0, 0
	};
	int rc = map_kv(kv_read(&st->kv, rec_get, &a));

	*out = NULL;
	if (rc != STORE_OK)
		return rc;
	*out = json_loadb(a.plain, a.plain_len, 0, NULL);
	free(a.plain);
	return *out ? STORE_OK : STORE_ECORRUPT;
}

/* ---- App records ------------------------------------------------------ */

int app_record_get(struct apps_store *st, const char *app_id, json_t **out)
{
	return sealed_get_json(st, st->apps, "apps", app_id, out);
}

/* Opens the record stored under app_id in txn: *out gets it (NULL when
 * there is none). */
static int record_read_txn(MDB_txn *txn, struct apps_store *st, const char *app_id, json_t **out)
{
	MDB_val k = { strlen(app_id), (void *)app_id }, v;
	char *plain;
	size_t len;
	int rc = mdb_get(txn, st->apps, &k, &v);

	*out = NULL;
	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return STORE_EIO;
	if (unseal_record(st->sealer, "apps", app_id, k.mv_size, v.mv_data, v.mv_size, &plain,
			  &len) != SEAL_OK)
		return STORE_ECORRUPT;
	*out = json_loadb(plain, len, 0, NULL);
	unseal_free(plain);
	return *out ? STORE_OK : STORE_ECORRUPT;
}

/* Seals record and writes it under app_id in txn. */
static int record_write_txn(MDB_txn *txn, struct apps_store *st, const char *app_id,
			    const json_t *record)
{
	char *text = json_dumps(record, JSON_COMPACT);
	unsigned char *sealed;
	size_t len, sealed_len;
	MDB_val k = { strlen(app_id), (void *)app_id }, v;
	int rc;

	if (!text)
		return STORE_ENOMEM;
	len = strlen(text);
	rc = seal_record(st->sealer, "apps", app_id, k.mv_size, text, len, &sealed, &sealed_len);
	sodium_memzero(text, len);
	free(text);
	if (rc != SEAL_OK)
		return rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_EIO;
	v = (MDB_val){ sealed_len, sealed };
	rc = kv_rc(mdb_put(txn, st->apps, &k, &v, 0));
	free(sealed);
	return rc;
}

/* The gate of record, with the generation that follows old (NULL: none):
 * the same when nothing in the gate changed, one more otherwise. */
static int next_gate(const json_t *record, const struct app_gate *old, struct app_gate *g)
{
	if (app_gate_from_record(record, g) != 0)
		return STORE_EIO;
	if (!old || strcmp(old->install_id, g->install_id) != 0) {
		g->gen = 1;
		return STORE_OK;
	}
	g->gen = old->gen;
	if (old->disabled != g->disabled || old->remote_oauth2 != g->remote_oauth2 ||
	    strcmp(old->bot_user_id, g->bot_user_id) != 0)
		g->gen++;
	return STORE_OK;
}

struct update_arg {
	struct apps_store *st;
	const char *app_id;
	const struct app_gate_expect *expect;
	app_record_fn fn;
	void *fn_arg;
	json_t *result;
};

static int update_txn(MDB_txn *txn, void *arg)
{
	struct update_arg *a = arg;
	struct app_gate old, gate;
	json_t *cur = NULL, *next = NULL;
	int rc, has_gate;

	json_decref(a->result); /* from a run before the map grew */
	a->result = NULL;
	rc = app_gate_read_txn(txn, a->st, a->app_id, &old);
	if (rc != STORE_OK && rc != STORE_ENOTFOUND)
		return rc;
	has_gate = rc == STORE_OK;
	if (a->expect && (rc = app_gate_judge(has_gate ? &old : NULL, a->expect)) != 0)
		return rc;
	rc = record_read_txn(txn, a->st, a->app_id, &cur);
	if (rc != STORE_OK)
		return rc;
	rc = a->fn(cur, a->fn_arg, &next);
	json_decref(cur);
	if (rc != 0)
		return rc;
	rc = next_gate(next, has_gate ? &old : NULL, &gate);
	if (rc == STORE_OK && strcmp(gate.app_id, a->app_id) != 0)
		rc = STORE_EIO;
	if (rc == STORE_OK)
		rc = record_write_txn(txn, a->st, a->app_id, next);
	if (rc == STORE_OK)
		rc = app_gate_put_txn(txn, a->st, &gate);
	if (rc != STORE_OK) {
		json_decref(next);
		return rc;
	}
	a->result = next;
	return 0;
}

int app_record_update(struct apps_store *st, const char *app_id,
		      const struct app_gate_expect *expect, app_record_fn fn, void *arg,
		      json_t **out)
{
	struct update_arg a = { st, app_id, expect, fn, arg, NULL };
	int rc;
	char key[APP_ID_MAX];

	if (out)
		*out = NULL;
	if (!app_gate_key(app_id, key))
		return STORE_ENOTFOUND;
	rc = map_kv(kv_write(&st->kv, update_txn, &a));
	/* After the commit: a cache filled meanwhile is stamped old. */
	atomic_fetch_add(&st->app_generation, 1);
	if (rc != STORE_OK) {
		json_decref(a.result);
		return rc;
	}
	if (out)
		*out = a.result;
	else
		json_decref(a.result);
	return STORE_OK;
}

/* Gates arrived after the first release: at open, every App record without
 * one gets it (and an install_id when it has none). Records are collected
 * first so that no cursor walks over a write. */
static int gate_for_record(MDB_txn *txn, struct apps_store *st, const char *app_id)
{
	struct app_gate g;
	json_t *rec = NULL;
	int rc = app_gate_read_txn(txn, st, app_id, &g);

	if (rc != STORE_ENOTFOUND)
		return rc == STORE_ECONFLICT ? STORE_OK : rc; /* has one, or APPA beside appa */
	rc = record_read_txn(txn, st, app_id, &rec);
	if (rc != STORE_OK || !rec)
		return rc == STORE_ECORRUPT ? STORE_OK : rc; /* reported when it is used */
	if (!json_is_string(json_object_get(rec, "install_id"))) {
		char id[MM_ID_LEN + 1];
		mm_id_new(id);
		json_object_set_new(rec, "install_id", json_string(id));
		rc = record_write_txn(txn, st, app_id, rec);
	}
	if (rc == STORE_OK)
		rc = next_gate(rec, NULL, &g);
	if (rc == STORE_OK)
		rc = app_gate_put_txn(txn, st, &g);
	json_decref(rec);
	return rc;
}

static int gates_add_missing(MDB_txn *txn, void *arg)
{
	struct apps_store *st = arg;
	json_t *ids = json_array();
	MDB_cursor *cur;
	MDB_val k, v;
	size_t i;
	json_t *id;
	int rc;

	if (!ids || mdb_cursor_open(txn, st->apps, &cur) != 0) {
		json_decref(ids);
		return STORE_EIO;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size > 0 && k.mv_size <= APP_ID_MAX)
			json_array_append_new(ids, json_stringn(k.mv_data, k.mv_size));
	}
	mdb_cursor_close(cur);
	rc = rc == MDB_NOTFOUND ? STORE_OK : STORE_EIO;
	json_array_foreach(ids, i, id)
	{
		if (rc == STORE_OK && json_is_string(id))
			rc = gate_for_record(txn, st, json_string_value(id));
	}
	json_decref(ids);
	return rc;
}

struct list_arg {
	struct apps_store *st;
	json_t *array;
	size_t corrupt;
};

static int list_apps(MDB_txn *txn, void *arg)
{
	struct list_arg *a = arg;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, a->st->apps, &cur);

	if (rc != 0)
		return STORE_EIO;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char *plain;
		size_t len;
		json_t *j = NULL;
		if (unseal_record(a->st->sealer, "apps", k.mv_data, k.mv_size, v.mv_data, v.mv_size,
				  &plain, &len) == SEAL_OK) {
			j = json_loadb(plain, len, 0, NULL);
			unseal_free(plain);
		}
		if (j)
			json_array_append_new(a->array, j);
		else
			a->corrupt++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? STORE_OK : STORE_EIO;
}

int app_records_list(struct apps_store *st, json_t **out, size_t *corrupt)
{
	struct list_arg a = { st, json_array(), 0 };
	int rc;

	if (!a.array)
		return STORE_ENOMEM;
	rc = map_kv(kv_read(&st->kv, list_apps, &a));
	if (rc != STORE_OK) {
		json_decref(a.array);
		return rc;
	}
	*out = a.array;
	if (corrupt)
		*corrupt = a.corrupt;
	return STORE_OK;
}

/* ---- OAuth2 user data ------------------------------------------------- */

struct user_check {
	const struct apps_store *st;
	const struct app_gate_expect *expect;
};

static int gate_check(MDB_txn *txn, void *arg)
{
	const struct user_check *u = arg;

	return app_gate_check_txn(txn, u->st, u->expect);
}

static int user_write(struct apps_store *st, const struct app_gate_expect *expect,
		      const char *user_id, const char *data, size_t len, bool del)
{
	char key[USER_KEY_MAX];
	size_t klen = oauth2_user_key(expect->app_id, user_id, key, sizeof(key));
	struct user_check check = { st, expect };
	struct group_change c = { 0 };
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	int rc;

	if (!klen)
		return STORE_EIO;
	if (!del) {
		rc = seal_record(st->sealer, "oauth2_user", key, klen, data, len, &sealed,
				 &sealed_len);
		if (rc != SEAL_OK)
			return rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_EIO;
	}
	c = (struct group_change){ .dbi = st->oauth2_user,
				   .del = del,
				   .key = key,
				   .key_len = klen,
				   .value = sealed,
				   .value_len = sealed_len,
				   .check = gate_check,
				   .check_arg = &check };
	rc = map_kv(group_commit_write(&st->group, &c));
	free(sealed);
	return rc;
}

int oauth2_user_put(struct apps_store *st, const struct app_gate_expect *expect,
		    const char *user_id, const char *data, size_t len)
{
	return user_write(st, expect, user_id, data, len, false);
}

int oauth2_user_del(struct apps_store *st, const struct app_gate_expect *expect,
		    const char *user_id)
{
	return user_write(st, expect, user_id, NULL, 0, true);
}

int oauth2_user_get(struct apps_store *st, const char *app_id, const char *user_id, char **data,
		    size_t *len)
{
	char key[USER_KEY_MAX];
	size_t klen = oauth2_user_key(app_id, user_id, key, sizeof(key));

	if (!klen)
		return STORE_EIO;
	return sealed_get(st, st->oauth2_user, "oauth2_user", key, klen, data, len);
}

struct user_read_arg {
	struct rec_arg rec;
	const struct app_gate_expect *expect;
};

static int user_read(MDB_txn *txn, void *arg)
{
	struct user_read_arg *a = arg;
	int rc = app_gate_check_txn(txn, a->rec.st, a->expect);

	return rc != 0 ? rc : rec_get(txn, &a->rec);
}

int oauth2_user_read(struct apps_store *st, const struct app_gate_expect *expect,
		     const char *user_id, char **data, size_t *len)
{
	char key[USER_KEY_MAX];
	size_t klen = oauth2_user_key(expect->app_id, user_id, key, sizeof(key));
	struct user_read_arg a = {
		{ st, st->oauth2_user, "oauth2_user", key, klen, NULL, 0, NULL, 0, 1 }, expect
	};
	int rc;

	*data = NULL;
	*len = 0;
	if (!klen)
		return STORE_EIO;
	rc = map_kv(kv_read(&st->kv, user_read, &a));
	if (rc == STORE_OK) {
		*data = a.rec.plain;
		*len = a.rec.plain_len;
	}
	return rc;
}

/* ---- token refresh: compare-and-set and lease ------------------------- */

struct raw_arg {
	MDB_dbi dbi;
	const void *key;
	size_t key_len;
	unsigned char *bytes; /* malloc'd copy of the stored value */
	size_t len;
};

static int raw_get(MDB_txn *txn, void *arg)
{
	struct raw_arg *a = arg;
	MDB_val k = { a->key_len, (void *)a->key }, v;
	int rc = mdb_get(txn, a->dbi, &k, &v);

	if (rc == MDB_NOTFOUND)
		return STORE_ENOTFOUND;
	if (rc != 0)
		return STORE_EIO;
	a->bytes = malloc(v.mv_size ? v.mv_size : 1);
	if (!a->bytes)
		return STORE_ENOMEM;
	memcpy(a->bytes, v.mv_data, v.mv_size);
	a->len = v.mv_size;
	return STORE_OK;
}

int oauth2_user_get_sealed(struct apps_store *st, const char *app_id, const char *user_id,
			   unsigned char **sealed, size_t *sealed_len, char **data, size_t *len)
{
	char key[USER_KEY_MAX];
	size_t klen = oauth2_user_key(app_id, user_id, key, sizeof(key));
	struct raw_arg a = { st->oauth2_user, key, klen, NULL, 0 };
	int rc;

	*sealed = NULL;
	*sealed_len = 0;
	*data = NULL;
	*len = 0;
	if (!klen)
		return STORE_EIO;
	rc = map_kv(kv_read(&st->kv, raw_get, &a));
	if (rc != STORE_OK)
		return rc;
	rc = unseal_record(st->sealer, "oauth2_user", key, klen, a.bytes, a.len, data, len);
	if (rc != SEAL_OK) {
		free(a.bytes);
		return rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_ECORRUPT;
	}
	*sealed = a.bytes;
	*sealed_len = a.len;
	return STORE_OK;
}

struct cas_check {
	const struct apps_store *st;
	const struct app_gate_expect *expect;
	MDB_val key;
	const unsigned char *expected;
	size_t expected_len;
};

/* In the write transaction: the gate, then the stored bytes as expected. */
static int cas_check(MDB_txn *txn, void *arg)
{
	const struct cas_check *c = arg;
	MDB_val k = c->key, v;
	int rc = app_gate_check_txn(txn, c->st, c->expect);

	if (rc != 0)
		return rc;
	rc = mdb_get(txn, c->st->oauth2_user, &k, &v);
	if (rc == MDB_NOTFOUND)
		return c->expected ? STORE_ESTALE : 0;
	if (rc != 0)
		return STORE_EIO;
	if (!c->expected || v.mv_size != c->expected_len ||
	    memcmp(v.mv_data, c->expected, c->expected_len) != 0)
		return STORE_ESTALE;
	return 0;
}

int oauth2_user_cas(struct apps_store *st, const struct app_gate_expect *expect,
		    const char *user_id, const unsigned char *expected, size_t expected_len,
		    const char *data, size_t len)
{
	char key[USER_KEY_MAX];
	size_t klen = oauth2_user_key(expect->app_id, user_id, key, sizeof(key));
	struct cas_check check = { st, expect, { klen, key }, expected, expected_len };
	struct group_change c;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	int rc;

	if (!klen || (!expected && !data))
		return STORE_EIO;
	if (data) {
		rc = seal_record(st->sealer, "oauth2_user", key, klen, data, len, &sealed,
				 &sealed_len);
		if (rc != SEAL_OK)
			return rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_EIO;
	}
	c = (struct group_change){ .dbi = st->oauth2_user,
				   .del = data == NULL,
				   .key = key,
				   .key_len = klen,
				   .value = sealed,
				   .value_len = sealed_len,
				   .check = cas_check,
				   .check_arg = &check };
	rc = map_kv(group_commit_write(&st->group, &c));
	free(sealed);
	return rc;
}

#define LEASE_PREFIX "refresh_lease"
#define LEASE_KEY_MAX (sizeof(LEASE_PREFIX) + USER_KEY_MAX)
#define LEASE_VALUE_LEN (REFRESH_LEASE_HOLDER_LEN + 8)

static size_t lease_key(const char *app_id, const char *user_id, char *key, size_t cap)
{
	size_t n = oauth2_user_key(app_id, user_id, key + sizeof(LEASE_PREFIX),
				   cap - sizeof(LEASE_PREFIX));

	memcpy(key, LEASE_PREFIX, sizeof(LEASE_PREFIX)); /* with its NUL */
	return n ? sizeof(LEASE_PREFIX) + n : 0;
}

struct lease_check {
	const struct apps_store *st;
	MDB_val key;
	const unsigned char *holder;
	int64_t now_ms; /* take: a live lease of another holder refuses; release: unused */
	bool take;
};

static int lease_check(MDB_txn *txn, void *arg)
{
	const struct lease_check *l = arg;
	MDB_val k = l->key, v;
	int64_t expires = 0;
	int rc = mdb_get(txn, l->st->meta, &k, &v);
	bool mine;

	if (rc == MDB_NOTFOUND)
		return l->take ? 0 : STORE_ESTALE;
	if (rc != 0)
		return STORE_EIO;
	if (v.mv_size != LEASE_VALUE_LEN)
		return 0; /* not a lease: replaced (take) or removed (release) */
	mine = memcmp(v.mv_data, l->holder, REFRESH_LEASE_HOLDER_LEN) == 0;
	for (size_t i = 0; i < 8; i++)
		expires =
			(int64_t)((uint64_t)expires << 8 |
				  ((const unsigned char *)v.mv_data)[REFRESH_LEASE_HOLDER_LEN + i]);
	if (l->take)
		return mine || expires < l->now_ms ? 0 : STORE_EBUSY;
	return mine ? 0 : STORE_ESTALE;
}

int refresh_lease_take(struct apps_store *st, const char *app_id, const char *user_id,
		       const unsigned char holder[REFRESH_LEASE_HOLDER_LEN], int64_t now_ms,
		       int64_t ttl_ms)
{
	char key[LEASE_KEY_MAX];
	size_t klen = lease_key(app_id, user_id, key, sizeof(key));
	unsigned char value[LEASE_VALUE_LEN];
	uint64_t expires = (uint64_t)(now_ms + ttl_ms);
	struct lease_check check = { st, { klen, key }, holder, now_ms, true };
	struct group_change c;

	if (!klen)
		return STORE_EIO;
	memcpy(value, holder, REFRESH_LEASE_HOLDER_LEN);
	for (size_t i = 0; i < 8; i++)
		value[REFRESH_LEASE_HOLDER_LEN + i] = (unsigned char)(expires >> (56 - 8 * i));
	c = (struct group_change){ .dbi = st->meta,
				   .key = key,
				   .key_len = klen,
				   .value = value,
				   .value_len = sizeof(value),
				   .check = lease_check,
				   .check_arg = &check };
	return map_kv(group_commit_write(&st->group, &c));
}

int refresh_lease_release(struct apps_store *st, const char *app_id, const char *user_id,
			  const unsigned char holder[REFRESH_LEASE_HOLDER_LEN])
{
	char key[LEASE_KEY_MAX];
	size_t klen = lease_key(app_id, user_id, key, sizeof(key));
	struct lease_check check = { st, { klen, key }, holder, 0, false };
	struct group_change c;
	int rc;

	if (!klen)
		return STORE_EIO;
	c = (struct group_change){ .dbi = st->meta,
				   .del = true,
				   .key = key,
				   .key_len = klen,
				   .check = lease_check,
				   .check_arg = &check };
	rc = map_kv(group_commit_write(&st->group, &c));
	return rc == STORE_ESTALE ? STORE_OK : rc;
}

int refresh_lease_busy(struct apps_store *st, const char *app_id, const char *user_id,
		       const unsigned char holder[REFRESH_LEASE_HOLDER_LEN], int64_t now_ms)
{
	char key[LEASE_KEY_MAX];
	size_t klen = lease_key(app_id, user_id, key, sizeof(key));
	struct lease_check check = { st, { klen, key }, holder, now_ms, true };
	int rc;

	if (!klen)
		return STORE_EIO;
	/* The take's check, in a read transaction. */
	rc = map_kv(kv_read(&st->kv, lease_check, &check));
	return rc == STORE_EBUSY ? 1 : rc;
}

/* ---- uninstall ---------------------------------------------------------- */

struct delete_arg {
	struct apps_store *st;
	const char *app_id;
	size_t users;
	size_t states;
};

/* oauth2_user keys of an App start with app_id\0 and sort together. */
static int match_user_prefix(const MDB_val *k, const MDB_val *v, void *arg)
{
	const MDB_val *prefix = arg;

	(void)v;
	if (k->mv_size < prefix->mv_size || memcmp(k->mv_data, prefix->mv_data, prefix->mv_size))
		return -1;
	return 1;
}

/* States name their App inside the sealed record: open each to decide. */
static int match_state_app(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct delete_arg *a = arg;
	char *plain = NULL;
	size_t len;
	json_t *j = NULL;
	int mine;

	if (unseal_record(a->st->sealer, "oauth2_state", k->mv_data, k->mv_size, v->mv_data,
			  v->mv_size, &plain, &len) == SEAL_OK) {
		j = json_loadb(plain, len, 0, NULL);
		unseal_free(plain);
	}
	mine = j && json_is_string(json_object_get(j, "app_id")) &&
	       strcmp(json_string_value(json_object_get(j, "app_id")), a->app_id) == 0;
	json_decref(j);
	return mine;
}

static int match_index_app(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct delete_arg *a = arg;

	(void)k;
	return v->mv_size == strlen(a->app_id) && memcmp(v->mv_data, a->app_id, v->mv_size) == 0;
}

/* The App's gate goes with its record (not another App's of another case). */
static int delete_gate(MDB_txn *txn, struct delete_arg *a)
{
	struct app_gate g;
	char key[APP_ID_MAX];
	MDB_val k = { app_gate_key(a->app_id, key), key };
	int rc = app_gate_read_txn(txn, a->st, a->app_id, &g);

	if (rc == STORE_ENOTFOUND || rc == STORE_ECONFLICT)
		return 0;
	if (rc != STORE_OK && rc != STORE_ECORRUPT)
		return rc;
	rc = mdb_del(txn, a->st->gate, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : kv_rc(rc);
}

static int delete_app(MDB_txn *txn, void *arg)
{
	struct delete_arg *a = arg;
	MDB_val k = { strlen(a->app_id), (void *)a->app_id };
	int rc = mdb_del(txn, a->st->apps, &k, NULL);

	a->users = a->states = 0;
	if (rc == MDB_NOTFOUND)
		return STORE_ENOTFOUND;
	if (rc != 0)
		return kv_rc(rc);
	rc = delete_gate(txn, a);
	if (rc != 0)
		return rc;
	{
		char prefix[APP_ID_MAX + 2];
		size_t plen = strlen(a->app_id) + 1;
		MDB_val start = { plen, prefix };

		memcpy(prefix, a->app_id, plen); /* with its NUL */
		rc = kv_delete_matching(txn, a->st->oauth2_user, &start, match_user_prefix, &start,
					&a->users);
	}
	if (rc == 0)
		rc = kv_delete_matching(txn, a->st->oauth2_state, NULL, match_state_app, a,
					&a->states);
	if (rc == 0) {
		size_t n = 0;
		rc = kv_delete_matching(txn, a->st->state_index, NULL, match_index_app, a, &n);
	}
	return rc == KV_EIO ? STORE_EIO : rc;
}

int apps_store_delete_app(struct apps_store *st, const char *app_id, size_t *users, size_t *states)
{
	struct delete_arg a = { st, app_id, 0, 0 };
	int rc;

	if (strlen(app_id) > APP_ID_MAX)
		return STORE_ENOTFOUND;
	rc = map_kv(kv_write(&st->kv, delete_app, &a));
	atomic_fetch_add(&st->app_generation, 1);
	if (users)
		*users = rc == STORE_OK ? a.users : 0;
	if (states)
		*states = rc == STORE_OK ? a.states : 0;
	return rc;
}
