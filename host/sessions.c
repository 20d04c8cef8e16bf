#include "sessions.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_record.h"
#include "session_cache.h"
#include "users.h"
#include "banned.h"

#define TOKEN_HASH_LEN 32

static void token_hash(const char *token, size_t len, unsigned char out[TOKEN_HASH_LEN])
{
	crypto_generichash(out, TOKEN_HASH_LEN, (const unsigned char *)token, len, NULL, 0);
}

const char *session_prop(const struct host_session *s, const char *key)
{
	for (size_t i = 0; i < s->props_len; i++) {
		if (strcmp(s->props[i].key, key) == 0)
			return s->props[i].value;
	}
	return NULL;
}

static char *session_record(const struct host_session *s)
{
	json_t *props = json_object();
	json_t *j;
	char *out;

	if (!props)
		return NULL;
	for (size_t i = 0; i < s->props_len; i++)
		json_object_set_new(props, s->props[i].key, json_string(s->props[i].value));
	j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:s, s:o}", "id", s->id, "user_id",
		      s->user_id, "csrf", s->csrf, "create_at", (json_int_t)s->create_at,
		      "expires_at", (json_int_t)s->expires_at, "personal", s->personal,
		      "description", s->description, "props", props);
	if (!j)
		return NULL;
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return out;
}

static int session_parse(const MDB_val *v, struct host_session *s)
{
	json_t *j = json_loadb(v->mv_data, v->mv_size, 0, NULL);
	json_t *props, *pv;
	const char *key;
	int rc = SESSIONS_EIO;

	memset(s, 0, sizeof(*s));
	if (!j)
		return SESSIONS_EIO;
	if (json_record_str(s->id, sizeof(s->id), json_object_get(j, "id")) ||
	    json_record_str(s->user_id, sizeof(s->user_id), json_object_get(j, "user_id")) ||
	    json_record_str(s->csrf, sizeof(s->csrf), json_object_get(j, "csrf")) ||
	    json_record_str(s->description, sizeof(s->description),
			    json_object_get(j, "description")))
		goto out;
	s->create_at = json_integer_value(json_object_get(j, "create_at"));
	s->expires_at = json_integer_value(json_object_get(j, "expires_at"));
	s->personal = json_is_true(json_object_get(j, "personal"));
	props = json_object_get(j, "props");
	json_object_foreach(props, key, pv)
	{
		if (s->props_len == SESSION_PROPS_MAX)
			goto out;
		struct session_prop *p = &s->props[s->props_len];
		if (strlen(key) >= sizeof(p->key) ||
		    json_record_str(p->value, sizeof(p->value), pv))
			goto out;
		snprintf(p->key, sizeof(p->key), "%s", key);
		s->props_len++;
	}
	rc = SESSIONS_OK;
out:
	json_decref(j);
	return rc;
}

struct sess_arg {
	struct host_store *store;
	unsigned char hash[TOKEN_HASH_LEN];
	const char *record;
	struct host_session *out;
	const char *key;
	const char *value;
	int64_t now;
	size_t max;
	size_t count;
};

static int write_session(MDB_txn *txn, void *arg)
{
	struct sess_arg *a = arg;
	MDB_val k = { TOKEN_HASH_LEN, a->hash }, v = { strlen(a->record), (void *)a->record };

	return kv_rc(mdb_put(txn, a->store->sessions, &k, &v, MDB_NOOVERWRITE));
}

int sessions_create(struct host_store *store, const struct session_new *n,
		    char token[SESSION_TOKEN_LEN + 1], struct host_session *out)
{
	struct host_session s;
	struct sess_arg a = { .store = store };
	char *record;
	int rc;

	if (!n->user_id || !mm_id_valid(n->user_id, strlen(n->user_id)) ||
	    n->props_len > SESSION_PROPS_MAX || n->lifetime_ms < 0)
		return SESSIONS_EINVALID;
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < n->props_len; i++) {
		if (strlen(n->props[i].key) == 0)
			return SESSIONS_EINVALID;
		s.props[i] = n->props[i];
	}
	s.props_len = n->props_len;
	mm_id_new(s.id);
	mm_id_new(s.csrf);
	snprintf(s.user_id, sizeof(s.user_id), "%s", n->user_id);
	s.create_at = now_ms();
	s.expires_at = n->lifetime_ms ? s.create_at + n->lifetime_ms : 0;
	s.personal = n->personal;
	if (n->description)
		snprintf(s.description, sizeof(s.description), "%s", n->description);
	record = session_record(&s);
	if (!record)
		return SESSIONS_ENOMEM;
	mm_id_new(token);
	token_hash(token, SESSION_TOKEN_LEN, a.hash);
	a.record = record;
	rc = kv_write(&store->kv, write_session, &a);
	free(record);
	if (rc != 0) {
		sodium_memzero(token, SESSION_TOKEN_LEN + 1);
		return store_write_rc(rc);
	}
	if (out)
		*out = s;
	return SESSIONS_OK;
}

/* True when the session's user exists and is active; it goes into s->user,
 * without its password hash (nothing after authentication needs it). */
static bool user_active(MDB_txn *txn, struct host_store *store, struct host_session *s)
{
	if (users_get_txn(txn, store, s->user_id, &s->user) != USERS_OK)
		return false;
	sodium_memzero(s->user.password_hash, sizeof(s->user.password_hash));
	return s->user.delete_at == 0;
}

static int read_session(MDB_txn *txn, void *arg)
{
	struct sess_arg *a = arg;
	MDB_val k = { TOKEN_HASH_LEN, a->hash }, v;
	int rc = mdb_get(txn, a->store->sessions, &k, &v);

	if (rc == MDB_NOTFOUND)
		return SESSIONS_ENOTFOUND;
	if (rc != 0 || session_parse(&v, a->out) != 0)
		return SESSIONS_EIO;
	if (a->out->expires_at && a->out->expires_at <= a->now)
		return SESSIONS_ENOTFOUND;
	if (!user_active(txn, a->store, a->out))
		return SESSIONS_ENOTFOUND;
	return SESSIONS_OK;
}

static void sessions_changed(struct host_store *store)
{
	atomic_fetch_add(&store->session_generation, 1);
}

int sessions_lookup(struct host_store *store, const char *token, size_t len,
		    struct host_session *out)
{
	struct sess_arg a = { .store = store, .out = out, .now = now_ms() };
	uint64_t gen = atomic_load(&store->session_generation);
	int rc;

	if (!mm_id_valid(token, len))
		return SESSIONS_ENOTFOUND;
	token_hash(token, len, a.hash);
	if (store->sessions_cache &&
	    session_cache_get(store->sessions_cache, a.hash, gen, a.now, out) == 0)
		return SESSIONS_OK;
	rc = kv_read(&store->kv, read_session, &a);
	if (rc == SESSIONS_OK && store->sessions_cache)
		session_cache_put(store->sessions_cache, a.hash, gen, out);
	return rc;
}

static int delete_session(MDB_txn *txn, void *arg)
{
	struct sess_arg *a = arg;
	MDB_val k = { TOKEN_HASH_LEN, a->hash };
	int rc = mdb_del(txn, a->store->sessions, &k, NULL);

	return rc == MDB_NOTFOUND ? SESSIONS_ENOTFOUND : kv_rc(rc);
}

int sessions_revoke_token(struct host_store *store, const char *token, size_t len)
{
	struct sess_arg a = { .store = store };
	int rc;

	if (!mm_id_valid(token, len))
		return SESSIONS_ENOTFOUND;
	token_hash(token, len, a.hash);
	rc = kv_write(&store->kv, delete_session, &a);
	sessions_changed(store);
	return store_write_rc(rc);
}

struct match_ctx {
	struct sess_arg *a;
	bool (*match)(const struct host_session *, const struct sess_arg *);
};

static int match_record(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct match_ctx *m = arg;
	struct host_session s;

	if (m->a->count >= m->a->max)
		return -1;
	if (k->mv_size != TOKEN_HASH_LEN || session_parse(v, &s) != 0 || !m->match(&s, m->a))
		return 0;
	m->a->count++;
	return 1;
}

/* Deletes each session for which match() is true (at most a->max). */
static int delete_matching(MDB_txn *txn, struct sess_arg *a,
			   bool (*match)(const struct host_session *, const struct sess_arg *))
{
	struct match_ctx m = { a, match };
	size_t deleted = 0;
	int rc;

	a->count = 0;
	rc = kv_delete_matching(txn, a->store->sessions, NULL, match_record, &m, &deleted);
	a->count = deleted;
	return rc;
}

static bool match_prop(const struct host_session *s, const struct sess_arg *a)
{
	const char *v = session_prop(s, a->key);

	return v && strcmp(v, a->value) == 0;
}

static bool match_user(const struct host_session *s, const struct sess_arg *a)
{
	return strcmp(s->user_id, a->value) == 0;
}

static bool match_expired(const struct host_session *s, const struct sess_arg *a)
{
	return s->expires_at && s->expires_at <= a->now;
}

static int revoke_prop(MDB_txn *txn, void *arg)
{
	return delete_matching(txn, arg, match_prop);
}

static int revoke_user(MDB_txn *txn, void *arg)
{
	return delete_matching(txn, arg, match_user);
}

static int sweep(MDB_txn *txn, void *arg)
{
	return delete_matching(txn, arg, match_expired);
}

int sessions_revoke_prop(struct host_store *store, const char *key, const char *value,
			 size_t *count)
{
	struct sess_arg a = { .store = store, .key = key, .value = value, .max = SIZE_MAX };
	int rc;

	rc = kv_write(&store->kv, revoke_prop, &a);
	/* After the commit: a lookup racing it cannot cache the old session
	 * under the new generation. */
	sessions_changed(store);

	if (count)
		*count = rc == 0 ? a.count : 0;
	return store_write_rc(rc);
}

int sessions_revoke_user(struct host_store *store, const char *user_id, size_t *count)
{
	struct sess_arg a = { .store = store, .value = user_id, .max = SIZE_MAX };
	int rc;

	rc = kv_write(&store->kv, revoke_user, &a);
	/* After the commit: a lookup racing it cannot cache the old session
	 * under the new generation. */
	sessions_changed(store);

	if (count)
		*count = rc == 0 ? a.count : 0;
	return store_write_rc(rc);
}

int sessions_sweep(struct host_store *store, size_t max, size_t *count)
{
	struct sess_arg a = { .store = store, .now = now_ms(), .max = max };
	int rc;

	rc = kv_write(&store->kv, sweep, &a);
	/* After the commit: a lookup racing it cannot cache the old session
	 * under the new generation. */
	sessions_changed(store);

	if (count)
		*count = rc == 0 ? a.count : 0;
	return store_write_rc(rc);
}
