#include "apps_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int apps_store_open(struct apps_store *st, const char *dir, const struct sealer *sealer, char *err,
		    size_t err_cap)
{
	memset(st, 0, sizeof(*st));
	st->sealer = sealer;
	if (kv_open(&st->kv, dir, 8, MAP_INITIAL, MAP_MAX, err, err_cap) != KV_OK)
		return STORE_EIO;
	if (kv_dbi(&st->kv, "apps", &st->apps) || kv_dbi(&st->kv, "listing", &st->listing) ||
	    kv_dbi(&st->kv, "oauth2_user", &st->oauth2_user) ||
	    kv_dbi(&st->kv, "oauth2_state", &st->oauth2_state) ||
	    kv_dbi(&st->kv, "oauth2_state_by_user", &st->state_index) ||
	    kv_dbi(&st->kv, "meta", &st->meta) || kv_write(&st->kv, put_meta, st) != 0) {
		snprintf(err, err_cap, "cannot open the plugin's databases in %s", dir);
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

static int map_kv(int rc)
{
	return rc == KV_EFULL ? STORE_EFULL : rc;
}

static int sealed_put(struct apps_store *st, MDB_dbi dbi, const char *db, const void *key,
		      size_t key_len, const void *plain, size_t plain_len)
{
	struct rec_arg a = { st, dbi, db, key, key_len, NULL, 0, NULL, 0, 1 };
	unsigned char *sealed;
	size_t sealed_len;
	int rc = seal_record(st->sealer, db, key, key_len, plain, plain_len, &sealed, &sealed_len);

	if (rc != SEAL_OK)
		return rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_EIO;
	a.value = sealed;
	a.value_len = sealed_len;
	rc = map_kv(kv_write(&st->kv, rec_put, &a));
	free(sealed);
	return rc;
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

/* Encodes a JSON value, seals it and wipes the plaintext. */
static int sealed_put_json(struct apps_store *st, MDB_dbi dbi, const char *db, const char *key,
			   const json_t *value)
{
	char *text = json_dumps(value, JSON_COMPACT);
	size_t len;
	int rc;

	if (!text)
		return STORE_ENOMEM;
	len = strlen(text);
	rc = sealed_put(st, dbi, db, key, strlen(key), text, len);
	sodium_memzero(text, len);
	free(text);
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

int app_record_put(struct apps_store *st, const char *app_id, const json_t *record)
{
	int rc = sealed_put_json(st, st->apps, "apps", app_id, record);

	atomic_fetch_add(&st->app_generation, 1);
	return rc;
}

int app_record_get(struct apps_store *st, const char *app_id, json_t **out)
{
	return sealed_get_json(st, st->apps, "apps", app_id, out);
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

int oauth2_user_put(struct apps_store *st, const char *app_id, const char *user_id,
		    const char *data, size_t len)
{
	char key[USER_KEY_MAX];
	size_t klen = oauth2_user_key(app_id, user_id, key, sizeof(key));
	struct group_change c = { 0 };
	unsigned char *sealed;
	size_t sealed_len;
	int rc;

	if (!klen)
		return STORE_EIO;
	rc = seal_record(st->sealer, "oauth2_user", key, klen, data, len, &sealed, &sealed_len);
	if (rc != SEAL_OK)
		return rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_EIO;
	c = (struct group_change){ .dbi = st->oauth2_user,
				   .key = key,
				   .key_len = klen,
				   .value = sealed,
				   .value_len = sealed_len };
	rc = map_kv(group_commit_write(&st->group, &c));
	free(sealed);
	return rc;
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

int oauth2_user_del(struct apps_store *st, const char *app_id, const char *user_id)
{
	char key[USER_KEY_MAX];
	size_t klen = oauth2_user_key(app_id, user_id, key, sizeof(key));
	struct group_change c = { 0 };

	if (!klen)
		return STORE_EIO;
	c = (struct group_change){
		.dbi = st->oauth2_user, .del = true, .key = key, .key_len = klen
	};
	return map_kv(group_commit_write(&st->group, &c));
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
