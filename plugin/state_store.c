#include "state_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key_current.h"
#include "key_pages.h"
#include "banned.h"

#define USER_ID_LEN STATE_INDEX_USER_LEN
#define INDEX_KEY_LEN STATE_INDEX_KEY_LEN

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
static int drop(struct store_txn *txn, const unsigned char *ikey)
{
	int rc = store_del(txn, APPS_T_OAUTH2_STATE_BY_USER, ikey, INDEX_KEY_LEN);

	if (rc == STORE_OK || rc == STORE_ENOTFOUND)
		rc = store_del(txn, APPS_T_OAUTH2_STATE, ikey + USER_ID_LEN + 8, STATE_HASH_LEN);
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

static bool is_index_key(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)arg;
	(void)key;
	(void)val;
	(void)vlen;
	return klen == INDEX_KEY_LEN;
}

struct create_arg {
	struct apps_store *st;
	const unsigned char *hash;
	const struct app_gate_expect *expect;
	const char *app_id;
	const char *user_id;
	int64_t now, expires;
	size_t max;
	unsigned char *sealed;
	size_t sealed_len;
	size_t evicted;
};

/* The user's index entries, oldest first (a page: at most STORE_SCAN_MAX):
 * expired ones go, and the oldest live ones while there are max or more. */
static int make_room(struct store_txn *txn, struct create_arg *a)
{
	struct key_page *pg = key_page_new();
	size_t live = 0, expired = 0;
	int rc;

	if (!pg)
		return STORE_ENOMEM;
	rc = key_page_next(txn, APPS_T_OAUTH2_STATE_BY_USER, a->user_id, USER_ID_LEN, is_index_key,
			   NULL, pg);
	for (size_t i = 0; rc == STORE_OK && i < pg->n; i++) {
		if ((int64_t)get_u64(pg->key[i] + USER_ID_LEN) <= a->now)
			expired++;
		else
			live++;
	}
	/* Sorted by expiry: the first entries are the expired, then the oldest. */
	for (size_t i = 0, drop_live = live >= a->max ? live - a->max + 1 : 0;
	     rc == STORE_OK && i < expired + drop_live && i < pg->n; i++) {
		rc = drop(txn, pg->key[i]);
		if (rc == STORE_OK)
			a->evicted++;
	}
	key_page_free(pg);
	return rc;
}

static int create_txn(struct store_txn *txn, void *arg)
{
	struct create_arg *a = arg;
	unsigned char ik[INDEX_KEY_LEN];
	int rc;

	a->evicted = 0;
	rc = app_gate_check_txn(txn, a->st, a->expect);
	if (rc != 0)
		return rc;
	rc = make_room(txn, a);
	if (rc != 0)
		return rc;
	rc = key_current_check_txn(txn, a->sealed, a->sealed_len);
	if (rc != 0)
		return rc;
	rc = store_put(txn, APPS_T_OAUTH2_STATE, a->hash, STATE_HASH_LEN, a->sealed, a->sealed_len,
		       0);
	if (rc != 0)
		return rc;
	index_key(ik, a->user_id, a->expires, a->hash);
	return store_put(txn, APPS_T_OAUTH2_STATE_BY_USER, ik, INDEX_KEY_LEN, a->app_id,
			 strlen(a->app_id), 0);
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
	int rc;

	if (strlen(user_id) != USER_ID_LEN || max_per_user == 0)
		return STORE_EIO;
	rec = json_pack("{s:s, s:s, s:I, s:s}", "app_id", app_id, "user_id", user_id, "expires_at",
			(json_int_t)a.expires, "code_verifier", verifier);
	text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_decref(rec);
	if (!text)
		return STORE_ENOMEM;
	rc = key_current_write(st->db, st->sealer, "oauth2_state", hash, STATE_HASH_LEN, text,
			       strlen(text), &a.sealed, &a.sealed_len, create_txn, &a);
	sodium_memzero(text, strlen(text));
	free(text);
	if (evicted)
		*evicted = rc == 0 ? a.evicted : 0;
	return rc;
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

/* The state is taken (deleted as it is read): of two transactions
 * completing it at once, one gets it. Whatever is not this caller's to
 * complete goes back. */
static int consume_txn(struct store_txn *txn, void *arg)
{
	struct consume_arg *a = arg;
	unsigned char ik[INDEX_KEY_LEN];
	const char *app, *user, *verifier;
	char *plain = NULL;
	size_t len;
	json_int_t expires;
	json_t *rec;
	struct store_val v;
	int rc = store_take(txn, APPS_T_OAUTH2_STATE, a->hash, STATE_HASH_LEN, &v);

	a->result = STATE_ENOTFOUND;
	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc != STORE_OK)
		return rc;
	if (unseal_record(a->st->sealer, "oauth2_state", a->hash, STATE_HASH_LEN, v.data, v.len,
			  &plain, &len) != SEAL_OK) {
		a->result = STORE_ECORRUPT;
		return store_put(txn, APPS_T_OAUTH2_STATE, a->hash, STATE_HASH_LEN, v.data, v.len,
				 0);
	}
	rec = json_loadb(plain, len, 0, NULL);
	unseal_free(plain);
	app = json_string_value(json_object_get(rec, "app_id"));
	user = json_string_value(json_object_get(rec, "user_id"));
	verifier = json_string_value(json_object_get(rec, "code_verifier"));
	expires = json_integer_value(json_object_get(rec, "expires_at"));
	rc = STORE_OK;
	if (!app || !user || !verifier || strlen(user) != USER_ID_LEN) {
		a->result = STORE_ECORRUPT;
	} else if (expires <= a->now) {
		index_key(ik, user, expires, a->hash);
		rc = drop(txn, ik);
		a->result = STATE_EEXPIRED;
	} else if (strcmp(app, a->app_id) != 0 || strcmp(user, a->user_id) != 0) {
		a->result = STATE_EMISMATCH;
	} else if (strlen(verifier) >= a->cap) {
		a->result = STORE_ECORRUPT;
	} else {
		index_key(ik, user, expires, a->hash);
		rc = drop(txn, ik);
		snprintf(a->verifier, a->cap, "%s", verifier);
		a->result = STATE_OK;
	}
	if (rc == STORE_OK && (a->result == STORE_ECORRUPT || a->result == STATE_EMISMATCH))
		rc = store_put(txn, APPS_T_OAUTH2_STATE, a->hash, STATE_HASH_LEN, v.data, v.len, 0);
	json_decref(rec);
	return rc;
}

int oauth2_state_consume(struct apps_store *st, const unsigned char hash[STATE_HASH_LEN],
			 const char *app_id, const char *user_id, int64_t now_ms, char *verifier,
			 size_t verifier_cap)
{
	struct consume_arg a = { st,     hash,     app_id,       user_id,
				 now_ms, verifier, verifier_cap, STATE_ENOTFOUND };
	int rc = store_write(st->db, consume_txn, &a);

	if (rc != 0) {
		sodium_memzero(verifier, verifier_cap);
		return rc;
	}
	return a.result;
}

struct sweep_arg {
	struct apps_store *st;
	int64_t now;
	size_t count;
};

static bool is_expired(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	const struct sweep_arg *a = arg;

	(void)val;
	(void)vlen;
	return klen == INDEX_KEY_LEN &&
	       (int64_t)get_u64((const unsigned char *)key + USER_ID_LEN) <= a->now;
}

/* Each expired index entry goes with its state, a page at a time. */
static int sweep_txn(struct store_txn *txn, void *arg)
{
	struct sweep_arg *a = arg;
	struct key_page *pg = key_page_new();
	int rc;

	a->count = 0;
	if (!pg)
		return STORE_ENOMEM;
	do {
		rc = key_page_next(txn, APPS_T_OAUTH2_STATE_BY_USER, NULL, 0, is_expired, a, pg);
		for (size_t i = 0; rc == STORE_OK && i < pg->n; i++) {
			rc = drop(txn, pg->key[i]);
			if (rc == STORE_OK)
				a->count++;
		}
	} while (rc == STORE_OK && pg->more);
	key_page_free(pg);
	return rc;
}

int oauth2_state_sweep(struct apps_store *st, int64_t now_ms, size_t *count)
{
	struct sweep_arg a = { st, now_ms, 0 };
	int rc = store_write(st->db, sweep_txn, &a);

	if (count)
		*count = rc == 0 ? a.count : 0;
	return rc;
}
