#include "state_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define USER_ID_LEN 26
#define INDEX_KEY_LEN (USER_ID_LEN + 8 + STATE_HASH_LEN)
#define USER_SCAN_MAX 1024

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void index_key(unsigned char *k, const char *user_id, int64_t expires,
		      const unsigned char *hash)
{
	memcpy(k, user_id, USER_ID_LEN);
	put_u64(k + USER_ID_LEN, (uint64_t)expires);
	memcpy(k + USER_ID_LEN + 8, hash, STATE_HASH_LEN);
}

/* Deletes a state and its index entry. */
static int drop(MDB_txn *txn, struct apps_store *st, const unsigned char *ikey)
{
	MDB_val k = { INDEX_KEY_LEN, (void *)ikey },
		h = { STATE_HASH_LEN, (void *)(ikey + USER_ID_LEN + 8) };
	int rc = mdb_del(txn, st->state_index, &k, NULL);

	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_del(txn, st->oauth2_state, &h, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : kv_rc(rc);
}

struct create_arg {
	struct apps_store *st;
	const unsigned char *hash;
	const struct app_gate_expect *expect;
	const char *app_id;
	const char *user_id;
	int64_t now, expires;
	size_t max;
	const unsigned char *sealed;
	size_t sealed_len;
	size_t evicted;
};

/* The user's index entries, oldest first: expired ones go, and the oldest
 * live ones while there are max or more. */
static int make_room(MDB_txn *txn, struct create_arg *a)
{
	unsigned char(*keys)[INDEX_KEY_LEN] = malloc(USER_SCAN_MAX * INDEX_KEY_LEN);
	size_t n = 0, live = 0, expired = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (!keys)
		return STORE_ENOMEM;
	rc = mdb_cursor_open(txn, a->st->state_index, &cur);
	if (rc != 0) {
		free(keys);
		return STORE_EIO;
	}
	k = (MDB_val){ USER_ID_LEN, (void *)a->user_id };
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && n < USER_SCAN_MAX && k.mv_size == INDEX_KEY_LEN &&
	       memcmp(k.mv_data, a->user_id, USER_ID_LEN) == 0) {
		memcpy(keys[n++], k.mv_data, INDEX_KEY_LEN);
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	for (size_t i = 0; i < n; i++) {
		if ((int64_t)get_u64(keys[i] + USER_ID_LEN) <= a->now)
			expired++;
		else
			live++;
	}
	/* Sorted by expiry: the first entries are the expired, then the oldest. */
	for (size_t i = 0, drop_live = live >= a->max ? live - a->max + 1 : 0;
	     i < expired + drop_live && i < n; i++) {
		rc = drop(txn, a->st, keys[i]);
		if (rc != 0)
			break;
		a->evicted++;
	}
	free(keys);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int create_txn(MDB_txn *txn, void *arg)
{
	struct create_arg *a = arg;
	unsigned char ik[INDEX_KEY_LEN];
	MDB_val k, v;
	int rc;

	a->evicted = 0;
	rc = app_gate_check_txn(txn, a->st, a->expect);
	if (rc != 0)
		return rc;
	rc = make_room(txn, a);
	if (rc != 0)
		return rc;
	k = (MDB_val){ STATE_HASH_LEN, (void *)a->hash };
	v = (MDB_val){ a->sealed_len, (void *)a->sealed };
	rc = mdb_put(txn, a->st->oauth2_state, &k, &v, 0);
	if (rc != 0)
		return kv_rc(rc);
	index_key(ik, a->user_id, a->expires, a->hash);
	k = (MDB_val){ INDEX_KEY_LEN, ik };
	v = (MDB_val){ strlen(a->app_id), (void *)a->app_id };
	return kv_rc(mdb_put(txn, a->st->state_index, &k, &v, 0));
}

int oauth2_state_create(struct apps_store *st, const unsigned char hash[STATE_HASH_LEN],
			const char *app_id, const char *install_id, const char *user_id,
			const char *verifier, int64_t now_ms, int64_t ttl_ms, size_t max_per_user,
			size_t *evicted)
{
	const struct app_gate_expect expect = { app_id, install_id,
						APP_NEED_ENABLED | APP_NEED_OAUTH2 };
	struct create_arg a = { .st = st,
				.hash = hash,
				.expect = &expect,
				.app_id = app_id,
				.user_id = user_id,
				.now = now_ms,
				.expires = now_ms + ttl_ms,
				.max = max_per_user };
	json_t *rec;
	char *text;
	unsigned char *sealed;
	size_t sealed_len;
	int rc;

	if (strlen(user_id) != USER_ID_LEN || max_per_user == 0)
		return STORE_EIO;
	rec = json_pack("{s:s, s:s, s:I, s:s}", "app_id", app_id, "user_id", user_id, "expires_at",
			(json_int_t)a.expires, "code_verifier", verifier);
	text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_decref(rec);
	if (!text)
		return STORE_ENOMEM;
	rc = seal_record(st->sealer, "oauth2_state", hash, STATE_HASH_LEN, text, strlen(text),
			 &sealed, &sealed_len);
	sodium_memzero(text, strlen(text));
	free(text);
	if (rc != SEAL_OK)
		return STORE_ENOMEM;
	a.sealed = sealed;
	a.sealed_len = sealed_len;
	rc = kv_write(&st->kv, create_txn, &a);
	free(sealed);
	if (evicted)
		*evicted = rc == 0 ? a.evicted : 0;
	return rc == KV_EFULL ? STORE_EFULL : rc == KV_ENOSPC ? STORE_ENOSPC : rc;
}

struct consume_arg {
	struct apps_store *st;
	const unsigned char *hash;
	const char *app_id;
	const char *user_id;
	int64_t now;
	char *verifier;
	size_t cap;
	int result;
};

static int consume_txn(MDB_txn *txn, void *arg)
{
	struct consume_arg *a = arg;
	MDB_val k = { STATE_HASH_LEN, (void *)a->hash }, v;
	unsigned char ik[INDEX_KEY_LEN];
	const char *app, *user, *verifier;
	char *plain = NULL;
	size_t len;
	json_int_t expires;
	json_t *rec;
	int rc = mdb_get(txn, a->st->oauth2_state, &k, &v);

	if (rc == MDB_NOTFOUND)
		return a->result = STATE_ENOTFOUND, 0;
	if (rc != 0)
		return STORE_EIO;
	if (unseal_record(a->st->sealer, "oauth2_state", a->hash, STATE_HASH_LEN, v.mv_data,
			  v.mv_size, &plain, &len) != SEAL_OK)
		return a->result = STORE_ECORRUPT, 0;
	rec = json_loadb(plain, len, 0, NULL);
	unseal_free(plain);
	app = json_string_value(json_object_get(rec, "app_id"));
	user = json_string_value(json_object_get(rec, "user_id"));
	verifier = json_string_value(json_object_get(rec, "code_verifier"));
	expires = json_integer_value(json_object_get(rec, "expires_at"));
	if (!app || !user || !verifier || strlen(user) != USER_ID_LEN) {
		a->result = STORE_ECORRUPT;
	} else if (expires <= a->now) {
		index_key(ik, user, expires, a->hash);
		rc = drop(txn, a->st, ik);
		a->result = STATE_EEXPIRED;
	} else if (strcmp(app, a->app_id) != 0 || strcmp(user, a->user_id) != 0) {
		a->result = STATE_EMISMATCH;
	} else if (strlen(verifier) >= a->cap) {
		a->result = STORE_ECORRUPT;
	} else {
		index_key(ik, user, expires, a->hash);
		rc = drop(txn, a->st, ik);
		snprintf(a->verifier, a->cap, "%s", verifier);
		a->result = STATE_OK;
	}
	json_decref(rec);
	return rc;
}

int oauth2_state_consume(struct apps_store *st, const unsigned char hash[STATE_HASH_LEN],
			 const char *app_id, const char *user_id, int64_t now_ms, char *verifier,
			 size_t verifier_cap)
{
	struct consume_arg a = { st,     hash,     app_id,       user_id,
				 now_ms, verifier, verifier_cap, STATE_ENOTFOUND };
	int rc = kv_write(&st->kv, consume_txn, &a);

	if (rc != 0)
		return rc == KV_EFULL ? STORE_EFULL : rc == KV_ENOSPC ? STORE_ENOSPC : STORE_EIO;
	return a.result;
}

struct sweep_arg {
	struct apps_store *st;
	int64_t now;
	size_t count;
};

static int match_expired(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct sweep_arg *a = arg;

	(void)v;
	return k->mv_size == INDEX_KEY_LEN &&
	       (int64_t)get_u64((const unsigned char *)k->mv_data + USER_ID_LEN) <= a->now;
}

static int sweep_txn(MDB_txn *txn, void *arg)
{
	struct sweep_arg *a = arg;
	size_t n = 0;
	int rc;

	/* The index entries go first; then each state whose entry went. Both
	 * passes see the same expired set: nothing else writes meanwhile. */
	a->count = 0;
	{
		MDB_cursor *cur;
		MDB_val k, v;
		unsigned char(*hashes)[STATE_HASH_LEN] = NULL;
		size_t cap = 0;

		rc = mdb_cursor_open(txn, a->st->state_index, &cur);
		if (rc != 0)
			return STORE_EIO;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (!match_expired(&k, &v, a))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				void *nh = realloc(hashes, nc * STATE_HASH_LEN);
				if (!nh)
					break;
				hashes = nh;
				cap = nc;
			}
			memcpy(hashes[n++], (const unsigned char *)k.mv_data + USER_ID_LEN + 8,
			       STATE_HASH_LEN);
		}
		mdb_cursor_close(cur);
		for (size_t i = 0; i < n; i++) {
			MDB_val h = { STATE_HASH_LEN, hashes[i] };
			int d = mdb_del(txn, a->st->oauth2_state, &h, NULL);
			if (d != 0 && d != MDB_NOTFOUND) {
				free(hashes);
				return kv_rc(d);
			}
		}
		free(hashes);
	}
	rc = kv_delete_matching(txn, a->st->state_index, NULL, match_expired, a, &a->count);
	return rc;
}

int oauth2_state_sweep(struct apps_store *st, int64_t now_ms, size_t *count)
{
	struct sweep_arg a = { st, now_ms, 0 };
	int rc = kv_write(&st->kv, sweep_txn, &a);

	if (count)
		*count = rc == 0 ? a.count : 0;
	return rc == 0           ? STORE_OK
	       : rc == KV_EFULL  ? STORE_EFULL
	       : rc == KV_ENOSPC ? STORE_ENOSPC
				 : STORE_EIO;
}
