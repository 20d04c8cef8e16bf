#include "sessions.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_record.h"
#include "session_cache.h"
#include "users.h"
#include "auth_metrics.h"
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

static int session_parse(const void *data, size_t len, struct host_session *s)
{
	json_t *j = json_loadb(data, len, 0, NULL);
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

static int sessions_rc(int rc)
{
	switch (rc) {
	case SESSIONS_OK:
	case SESSIONS_ENOTFOUND:
	case SESSIONS_EUNAVAILABLE:
	case SESSIONS_EFULL:
	case SESSIONS_ENOMEM:
	case SESSIONS_EINVALID: return rc;
	default: return SESSIONS_EIO;
	}
}

struct sess_arg {
	unsigned char hash[TOKEN_HASH_LEN];
	const char *record;
	struct host_session *out;
	const char *key;
	const char *value;
	int64_t now;
	size_t max;
	size_t count;
};

static int write_session(struct store_txn *txn, void *arg)
{
	struct sess_arg *a = arg;

	return store_put(txn, HOST_T_SESSIONS, a->hash, TOKEN_HASH_LEN, a->record,
			 strlen(a->record), STORE_NOOVERWRITE);
}

int sessions_create(struct host_store *store, const struct session_new *n,
		    char token[SESSION_TOKEN_LEN + 1], struct host_session *out)
{
	struct host_session s;
	struct sess_arg a = { 0 };
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
	rc = store_write(store->st, write_session, &a);
	free(record);
	if (rc != STORE_OK) {
		sodium_memzero(token, SESSION_TOKEN_LEN + 1);
		/* A hash collision of two fresh random tokens is not a case. */
		return rc == STORE_EEXIST ? SESSIONS_EIO : sessions_rc(rc);
	}
	if (out)
		*out = s;
	return SESSIONS_OK;
}

/* True when the session's user exists and is active; it goes into s->user,
 * without its password hash (nothing after authentication needs it). */
static int user_active(struct store_txn *txn, struct host_session *s)
{
	int rc = users_get_txn(txn, s->user_id, &s->user);

	sodium_memzero(s->user.password_hash, sizeof(s->user.password_hash));
	if (rc != USERS_OK)
		return rc == USERS_ENOTFOUND ? SESSIONS_ENOTFOUND : sessions_rc(rc);
	return s->user.delete_at == 0 ? SESSIONS_OK : SESSIONS_ENOTFOUND;
}

static int read_session(struct store_txn *txn, void *arg)
{
	struct sess_arg *a = arg;
	struct store_val v;
	int rc = store_get(txn, HOST_T_SESSIONS, a->hash, TOKEN_HASH_LEN, 0, &v);

	if (rc != STORE_OK)
		return sessions_rc(rc);
	if (session_parse(v.data, v.len, a->out) != 0)
		return SESSIONS_EIO;
	if (a->out->expires_at && a->out->expires_at <= a->now)
		return SESSIONS_ENOTFOUND;
	return user_active(txn, a->out);
}

static int lookup(struct host_store *store, const char *token, size_t len, bool may_read,
		  struct host_session *out)
{
	struct sess_arg a = { .out = out, .now = now_ms() };
	/* Read before the store: a change committed after this point bumps
	 * it, and what is read now is then never used from the cache. */
	uint64_t gen = atomic_load(&store->session_generation), stamp;
	bool cache = store->sessions_cache && store_cache_ok(store->st);
	int rc;

	if (!mm_id_valid(token, len))
		return SESSIONS_ENOTFOUND;
	token_hash(token, len, a.hash);
	if (cache && session_cache_get(store->sessions_cache, a.hash, gen, a.now, out) == 0) {
		auth_metrics_session_cache(true);
		return SESSIONS_OK;
	}
	/* A miss on an I/O thread is counted once, by the worker that reads. */
	if (!may_read)
		return SESSIONS_ENOTCACHED;
	auth_metrics_session_cache(false);
	/* Likewise for this one session: its revocation, committed after
	 * this point, drops the slot and what is read now is not cached. */
	stamp = cache ? session_cache_stamp(store->sessions_cache, a.hash) : 0;
	rc = sessions_rc(store_read(store->st, read_session, &a));
	if (rc == SESSIONS_OK && cache)
		session_cache_put(store->sessions_cache, a.hash, gen, stamp, out);
	return rc;
}

int sessions_lookup(struct host_store *store, const char *token, size_t len,
		    struct host_session *out)
{
	return lookup(store, token, len, true, out);
}

int sessions_lookup_cached(struct host_store *store, const char *token, size_t len,
			   struct host_session *out)
{
	return lookup(store, token, len, false, out);
}

/* Tells every cache that the session keyed by hash ended: the hash in hex
 * (never the token), so that caches drop that entry alone. */
static int notify_ended(struct store_txn *txn, const unsigned char hash[TOKEN_HASH_LEN])
{
	char hex[TOKEN_HASH_LEN * 2 + 1];

	sodium_bin2hex(hex, sizeof(hex), hash, TOKEN_HASH_LEN);
	return store_notify(txn, HOST_TOPIC_SESSIONS, hex);
}

static int delete_session(struct store_txn *txn, void *arg)
{
	struct sess_arg *a = arg;
	int rc = store_del(txn, HOST_T_SESSIONS, a->hash, TOKEN_HASH_LEN);

	if (rc == STORE_OK)
		rc = notify_ended(txn, a->hash);
	return rc;
}

int sessions_revoke_token(struct host_store *store, const char *token, size_t len)
{
	struct sess_arg a = { 0 };

	if (!mm_id_valid(token, len))
		return SESSIONS_ENOTFOUND;
	token_hash(token, len, a.hash);
	return sessions_rc(store_write(store->st, delete_session, &a));
}

#define SWEEP_BATCH 256

/* One page of a walk over the sessions: the keys of those to delete. */
struct match_page {
	struct sess_arg *a;
	bool (*match)(const struct host_session *, const struct sess_arg *);
	unsigned char keys[SWEEP_BATCH][TOKEN_HASH_LEN];
	size_t n;
	unsigned char last[TOKEN_HASH_LEN];
	size_t last_len;
};

static int match_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct match_page *p = arg;
	struct host_session s;

	if (klen > sizeof(p->last))
		return 0;
	memcpy(p->last, key, klen);
	p->last_len = klen;
	if (p->a->count + p->n >= p->a->max)
		return 1;
	if (klen == TOKEN_HASH_LEN && session_parse(val, vlen, &s) == 0 && p->match(&s, p->a))
		memcpy(p->keys[p->n++], key, TOKEN_HASH_LEN);
	return 0;
}

/* Deletes each session for which match() is true (at most a->max), a page
 * at a time: a scan never walks over its own deletions. */
static int delete_matching(struct store_txn *txn, struct sess_arg *a,
			   bool (*match)(const struct host_session *, const struct sess_arg *))
{
	struct match_page *p = calloc(1, sizeof(*p));
	size_t visited;
	int rc;

	if (!p)
		return STORE_ENOMEM;
	p->a = a;
	p->match = match;
	a->count = 0;
	do {
		p->n = 0;
		rc = store_scan(txn, HOST_T_SESSIONS, NULL, 0, p->last_len ? p->last : NULL,
				p->last_len, SWEEP_BATCH, match_record, p, &visited);
		for (size_t i = 0; rc == STORE_OK && i < p->n; i++) {
			rc = store_del(txn, HOST_T_SESSIONS, p->keys[i], TOKEN_HASH_LEN);
			if (rc == STORE_ENOTFOUND)
				rc = STORE_OK;
			else if (rc == STORE_OK && a->count++ == 0)
				memcpy(a->hash, p->keys[i], TOKEN_HASH_LEN);
		}
	} while (rc == STORE_OK && visited == SWEEP_BATCH && a->count < a->max);
	free(p);
	/* One session ended: its entry alone; more: every cached session. */
	if (rc == STORE_OK && a->count == 1)
		rc = notify_ended(txn, a->hash);
	else if (rc == STORE_OK && a->count > 1)
		rc = store_notify(txn, HOST_TOPIC_SESSIONS, "");
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

static int revoke_prop(struct store_txn *txn, void *arg)
{
	return delete_matching(txn, arg, match_prop);
}

static int revoke_user(struct store_txn *txn, void *arg)
{
	return delete_matching(txn, arg, match_user);
}

static int sweep(struct store_txn *txn, void *arg)
{
	return delete_matching(txn, arg, match_expired);
}

int sessions_revoke_prop(struct host_store *store, const char *key, const char *value,
			 size_t *count)
{
	struct sess_arg a = { .key = key, .value = value, .max = SIZE_MAX };
	int rc = sessions_rc(store_write(store->st, revoke_prop, &a));

	if (count)
		*count = rc == 0 ? a.count : 0;
	return rc;
}

int sessions_revoke_user(struct host_store *store, const char *user_id, size_t *count)
{
	struct sess_arg a = { .value = user_id, .max = SIZE_MAX };
	int rc = sessions_rc(store_write(store->st, revoke_user, &a));

	if (count)
		*count = rc == 0 ? a.count : 0;
	return rc;
}

int sessions_sweep(struct host_store *store, size_t max, size_t *count)
{
	struct sess_arg a = { .now = now_ms(), .max = max };
	int rc = sessions_rc(store_write(store->st, sweep, &a));

	if (count)
		*count = rc == 0 ? a.count : 0;
	return rc;
}

static bool match_id(const struct host_session *s, const struct sess_arg *a)
{
	return strcmp(s->id, a->value) == 0 && (!a->key || strcmp(s->user_id, a->key) == 0);
}

static int revoke_id(struct store_txn *txn, void *arg)
{
	return delete_matching(txn, arg, match_id);
}

int sessions_revoke_id(struct host_store *store, const char *session_id, const char *user_id)
{
	struct sess_arg a = { .value = session_id, .key = user_id, .max = 1 };
	int rc;

	if (!mm_id_valid(session_id, strlen(session_id)))
		return SESSIONS_ENOTFOUND;
	rc = sessions_rc(store_write(store->st, revoke_id, &a));
	return rc == SESSIONS_OK && a.count == 0 ? SESSIONS_ENOTFOUND : rc;
}

/* One page of sessions_list: the sessions of the user, parsed. */
struct list_page {
	const char *user_id;
	struct host_session s;
	sessions_each_fn fn;
	void *arg;
	unsigned char last[TOKEN_HASH_LEN];
	size_t last_len;
	size_t seen;
	size_t max;
};

static int list_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct list_page *p = arg;

	if (klen > sizeof(p->last))
		return 0;
	memcpy(p->last, key, klen);
	p->last_len = klen;
	if (session_parse(val, vlen, &p->s) != 0 || strcmp(p->s.user_id, p->user_id) != 0)
		return 0;
	if (p->seen == p->max)
		return 1;
	p->seen++;
	p->fn(&p->s, p->arg);
	return 0;
}

static int list_user(struct store_txn *txn, void *arg)
{
	struct list_page *p = arg;
	size_t visited;
	int rc;

	do {
		rc = store_scan(txn, HOST_T_SESSIONS, NULL, 0, p->last_len ? p->last : NULL,
				p->last_len, SWEEP_BATCH, list_record, p, &visited);
	} while (rc == STORE_OK && visited == SWEEP_BATCH && p->seen < p->max);
	return rc;
}

int sessions_list_user(struct host_store *store, const char *user_id, size_t max,
		       sessions_each_fn fn, void *arg)
{
	struct list_page *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return SESSIONS_ENOMEM;
	*p = (struct list_page){ .user_id = user_id, .fn = fn, .arg = arg, .max = max };
	rc = sessions_rc(store_read(store->st, list_user, p));
	free(p);
	return rc;
}
