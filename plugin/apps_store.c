#include "apps_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key_current.h"
#include "key_pages.h"
#include "mm_id.h"
#include "banned.h"

#define MAP_INITIAL (64UL * 1024 * 1024)
#define MAP_MAX (256UL * 1024 * 1024 * 1024)
#define USER_KEY_MAX 96
#define SCHEMA_VERSION "1"

/* The LMDB databases' names of the first release (a store it wrote opens
 * unchanged); PostgreSQL: tables apps_<name>. */
static const char *const apps_tables[APPS_T_COUNT] = { APPS_STORE_TABLES };

static int put_meta(struct store_txn *txn, void *arg)
{
	(void)arg;
	return store_put(txn, APPS_T_META, "schema_version", 14, SCHEMA_VERSION, 1, 0);
}

/* A change of an App here (after its commit) or on another node, or news
 * lost (topic NULL): caches of App records and gates are stale. */
static void apps_heard(void *arg, const char *topic, const char *payload)
{
	struct apps_store *st = arg;

	(void)payload;
	if (!topic || strcmp(topic, APPS_TOPIC) == 0)
		atomic_fetch_add(&st->app_generation, 1);
}

static int gates_add_missing(struct store_txn *txn, void *arg);

int apps_store_open_backend(struct apps_store *st, const struct store_config *cfg, const char *dir,
			    const struct sealer *sealer, store_log_fn log, void *log_arg, char *err,
			    size_t err_cap)
{
	struct store_config lmdb;
	struct store_options opt = {
		.component = APPS_STORE_COMPONENT,
		.lmdb_dir = dir,
		.tables = apps_tables,
		.n_tables = APPS_T_COUNT,
		.lmdb_map_size = MAP_INITIAL,
		.lmdb_map_max = MAP_MAX,
		.log = log,
		.log_arg = log_arg,
	};
	int rc;

	memset(st, 0, sizeof(*st));
	st->sealer = sealer;
	if (!cfg) {
		store_config_init(&lmdb);
		cfg = &lmdb;
	}
	rc = store_open(cfg, &opt, &st->db, err, err_cap);
	if (rc != STORE_OK)
		return rc;
	rc = store_write(st->db, put_meta, NULL);
	if (rc != STORE_OK) {
		snprintf(err, err_cap, "cannot write the plugin's schema version: %s",
			 store_strerror(rc));
		goto fail;
	}
	rc = store_write(st->db, gates_add_missing, st);
	if (rc != STORE_OK) {
		snprintf(err, err_cap, "cannot give the installed Apps their gates: %s",
			 rc == STORE_ECORRUPT ? "a record does not open" : store_strerror(rc));
		goto fail;
	}
	rc = store_listen(st->db, apps_heard, st);
	if (rc != STORE_OK) {
		snprintf(err, err_cap, "cannot listen for changes of Apps: %s", store_strerror(rc));
		goto fail;
	}
	return STORE_OK;
fail:
	store_close(st->db);
	st->db = NULL;
	return rc;
}

int apps_store_open(struct apps_store *st, const char *dir, const struct sealer *sealer, char *err,
		    size_t err_cap)
{
	return apps_store_open_backend(st, NULL, dir, sealer, NULL, NULL, err, err_cap);
}

void apps_store_close(struct apps_store *st)
{
	store_close(st->db);
	st->db = NULL;
}

bool apps_store_reads_block(const struct apps_store *st)
{
	return store_reads_block(st->db);
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
	unsigned table;
	const void *key;
	size_t key_len;
	const void *value; /* put: bytes to store */
	size_t value_len;
	char *plain; /* get: opened plaintext */
	size_t plain_len;
	int sealed;
};

static int rec_put(struct store_txn *txn, void *arg)
{
	struct rec_arg *a = arg;

	return store_put(txn, a->table, a->key, a->key_len, a->value, a->value_len, 0);
}

static int rec_get(struct store_txn *txn, void *arg)
{
	struct rec_arg *a = arg;
	struct store_val v;
	int rc = store_get(txn, a->table, a->key, a->key_len, 0, &v);

	if (rc != STORE_OK)
		return rc;
	if (a->sealed) {
		rc = unseal_record(a->st->sealer, apps_tables[a->table], a->key, a->key_len, v.data,
				   v.len, &a->plain, &a->plain_len);
		return rc == SEAL_OK ? STORE_OK : rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_ECORRUPT;
	}
	a->plain = malloc(v.len + 1);
	if (!a->plain)
		return STORE_ENOMEM;
	memcpy(a->plain, v.data, v.len);
	a->plain[v.len] = '\0';
	a->plain_len = v.len;
	return STORE_OK;
}

static int sealed_get(struct apps_store *st, unsigned table, const void *key, size_t key_len,
		      char **plain, size_t *plain_len)
{
	struct rec_arg a = { st, table, key, key_len, NULL, 0, NULL, 0, 1 };
	int rc = store_read(st->db, rec_get, &a);

	*plain = rc == STORE_OK ? a.plain : NULL;
	*plain_len = rc == STORE_OK ? a.plain_len : 0;
	return rc;
}

static int sealed_get_json(struct apps_store *st, unsigned table, const char *key, json_t **out)
{
	char *plain;
	size_t len;
	int rc = sealed_get(st, table, key, strlen(key), &plain, &len);

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
	struct rec_arg a = { st,   APPS_T_LISTING,          app_id, strlen(app_id),
			     text, text ? strlen(text) : 0, NULL,   0,
			     0 };
	int rc;

	if (!text)
		return STORE_ENOMEM;
	rc = store_write(st->db, rec_put, &a);
	free(text);
	return rc;
}

int listing_get(struct apps_store *st, const char *app_id, json_t **out)
{
	struct rec_arg a = { st, APPS_T_LISTING, app_id, strlen(app_id), NULL, 0, NULL, 0, 0 };
	int rc = store_read(st->db, rec_get, &a);

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
	return sealed_get_json(st, APPS_T_APPS, app_id, out);
}

/* Opens the record stored under app_id in txn (flags as store_get's): *out
 * gets it (NULL when there is none). */
static int record_read_txn(struct store_txn *txn, struct apps_store *st, const char *app_id,
			   unsigned flags, json_t **out)
{
	size_t klen = strlen(app_id);
	struct store_val v;
	char *plain;
	size_t len;
	int rc = store_get(txn, APPS_T_APPS, app_id, klen, flags, &v);

	*out = NULL;
	if (rc == STORE_ENOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	if (unseal_record(st->sealer, "apps", app_id, klen, v.data, v.len, &plain, &len) != SEAL_OK)
		return STORE_ECORRUPT;
	*out = json_loadb(plain, len, 0, NULL);
	unseal_free(plain);
	return *out ? STORE_OK : STORE_ECORRUPT;
}

/* Seals record and writes it under app_id in txn, under the store's
 * current key (else STORE_EKEYSTALE). */
static int record_write_txn(struct store_txn *txn, struct apps_store *st, const char *app_id,
			    const json_t *record)
{
	char *text = json_dumps(record, JSON_COMPACT);
	unsigned char *sealed;
	size_t len, sealed_len, klen = strlen(app_id);
	int rc;

	if (!text)
		return STORE_ENOMEM;
	len = strlen(text);
	rc = seal_record(st->sealer, "apps", app_id, klen, text, len, &sealed, &sealed_len);
	sodium_memzero(text, len);
	free(text);
	if (rc != SEAL_OK)
		return rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_EIO;
	rc = key_current_check_txn(txn, sealed, sealed_len);
	if (rc == STORE_OK)
		rc = store_put(txn, APPS_T_APPS, app_id, klen, sealed, sealed_len, 0);
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

static int update_txn(struct store_txn *txn, void *arg)
{
	struct update_arg *a = arg;
	struct app_gate old, gate;
	json_t *cur = NULL, *next = NULL;
	int rc, has_gate;

	json_decref(a->result); /* from a run that did not commit */
	a->result = NULL;
	/* Locked: this transaction writes the gate (PostgreSQL: two writers
	 * of one App queue instead of deadlocking). */
	rc = app_gate_read_txn(txn, a->st, a->app_id, STORE_LOCK, &old);
	if (rc != STORE_OK && rc != STORE_ENOTFOUND)
		return rc;
	has_gate = rc == STORE_OK;
	if (a->expect && (rc = app_gate_judge(has_gate ? &old : NULL, a->expect)) != 0)
		return rc;
	rc = record_read_txn(txn, a->st, a->app_id, STORE_LOCK, &cur);
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
	if (rc == STORE_OK)
		rc = store_notify(txn, APPS_TOPIC, a->app_id);
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
	for (unsigned attempt = 0;; attempt++) {
		uint_fast64_t seen = sealer_generation(st->sealer);
		rc = store_write(st->db, update_txn, &a);
		if (!key_current_retry(st->sealer, rc, attempt, seen))
			break;
	}
	/* After the commit: a cache filled meanwhile is stamped old (the
	 * notification does the same, for this process and the others). */
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
 * a page at a time first, so that no scan walks over a write. */
static int gate_for_record(struct store_txn *txn, struct apps_store *st, const char *app_id)
{
	struct app_gate g;
	json_t *rec = NULL;
	int rc = app_gate_read_txn(txn, st, app_id, 0, &g);

	if (rc != STORE_ENOTFOUND)
		return rc == STORE_ECONFLICT ? STORE_OK : rc; /* has one, or APPA beside appa */
	/* Locked: of two nodes starting at once, the second reads the record
	 * the first wrote, with the same install_id. */
	rc = record_read_txn(txn, st, app_id, STORE_LOCK, &rec);
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

static bool app_id_key(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)arg;
	(void)key;
	(void)val;
	(void)vlen;
	return klen > 0 && klen <= APP_ID_MAX;
}

static int gates_add_missing(struct store_txn *txn, void *arg)
{
	struct apps_store *st = arg;
	struct key_page *pg = key_page_new();
	int rc;

	if (!pg)
		return STORE_ENOMEM;
	do {
		rc = key_page_next(txn, APPS_T_APPS, NULL, 0, app_id_key, NULL, pg);
		for (size_t i = 0; rc == STORE_OK && i < pg->n; i++) {
			char id[APP_ID_MAX + 1];
			memcpy(id, pg->key[i], pg->len[i]);
			id[pg->len[i]] = '\0';
			if (strlen(id) == pg->len[i])
				rc = gate_for_record(txn, st, id);
		}
	} while (rc == STORE_OK && pg->more);
	key_page_free(pg);
	return rc;
}

struct list_arg {
	struct apps_store *st;
	json_t *array;
	size_t corrupt;
	unsigned char after[APP_ID_MAX];
	size_t after_len;
};

static int list_one(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct list_arg *a = arg;
	char *plain;
	size_t len;
	json_t *j = NULL;

	if (klen > sizeof(a->after))
		return STORE_EIO; /* no App id is this long */
	memcpy(a->after, key, klen);
	a->after_len = klen;
	if (unseal_record(a->st->sealer, "apps", key, klen, val, vlen, &plain, &len) == SEAL_OK) {
		j = json_loadb(plain, len, 0, NULL);
		unseal_free(plain);
	}
	if (j)
		json_array_append_new(a->array, j);
	else
		a->corrupt++;
	return 0;
}

static int list_apps(struct store_txn *txn, void *arg)
{
	struct list_arg *a = arg;
	size_t visited;
	int rc;

	json_array_clear(a->array);
	a->corrupt = 0;
	a->after_len = 0;
	do {
		rc = store_scan(txn, APPS_T_APPS, NULL, 0, a->after_len ? a->after : NULL,
				a->after_len, STORE_SCAN_MAX, list_one, a, &visited);
	} while (rc == STORE_OK && visited == STORE_SCAN_MAX);
	return rc;
}

int app_records_list(struct apps_store *st, json_t **out, size_t *corrupt)
{
	struct list_arg a = { .st = st, .array = json_array() };
	int rc;

	if (!a.array)
		return STORE_ENOMEM;
	rc = store_read(st->db, list_apps, &a);
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

struct user_write_arg {
	const struct apps_store *st;
	const struct app_gate_expect *expect;
	const char *key;
	size_t klen;
	unsigned char *sealed; /* NULL: delete */
	size_t sealed_len;
};

static int user_write_txn(struct store_txn *txn, void *arg)
{
	const struct user_write_arg *a = arg;
	int rc = app_gate_check_txn(txn, a->st, a->expect);

	if (rc != 0)
		return rc;
	if (a->sealed) {
		rc = key_current_check_txn(txn, a->sealed, a->sealed_len);
		return rc != STORE_OK ? rc
				      : store_put(txn, APPS_T_OAUTH2_USER, a->key, a->klen,
						  a->sealed, a->sealed_len, 0);
	}
	rc = store_del(txn, APPS_T_OAUTH2_USER, a->key, a->klen);
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

static int user_write(struct apps_store *st, const struct app_gate_expect *expect,
		      const char *user_id, const char *data, size_t len, bool del)
{
	char key[USER_KEY_MAX];
	size_t klen = oauth2_user_key(expect->app_id, user_id, key, sizeof(key));
	struct user_write_arg a = { st, expect, key, klen, NULL, 0 };
	if (!klen)
		return STORE_EIO;
	return key_current_write(st->db, st->sealer, "oauth2_user", key, klen, del ? NULL : data,
				 len, &a.sealed, &a.sealed_len, user_write_txn, &a);
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
	return sealed_get(st, APPS_T_OAUTH2_USER, key, klen, data, len);
}

struct user_read_arg {
	struct rec_arg rec;
	const struct app_gate_expect *expect;
};

static int user_read(struct store_txn *txn, void *arg)
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
	struct user_read_arg a = { { st, APPS_T_OAUTH2_USER, key, klen, NULL, 0, NULL, 0, 1 },
				   expect };
	int rc;

	*data = NULL;
	*len = 0;
	if (!klen)
		return STORE_EIO;
	rc = store_read(st->db, user_read, &a);
	if (rc == STORE_OK) {
		*data = a.rec.plain;
		*len = a.rec.plain_len;
	} else if (a.rec.plain) {
		unseal_free(a.rec.plain);
	}
	return rc;
}

/* ---- token refresh: compare-and-set and lease ------------------------- */

struct raw_arg {
	unsigned table;
	const void *key;
	size_t key_len;
	unsigned char *bytes; /* malloc'd copy of the stored value */
	size_t len;
};

static int raw_get(struct store_txn *txn, void *arg)
{
	struct raw_arg *a = arg;
	struct store_val v;
	int rc = store_get(txn, a->table, a->key, a->key_len, 0, &v);

	if (rc != STORE_OK)
		return rc;
	a->bytes = malloc(v.len ? v.len : 1);
	if (!a->bytes)
		return STORE_ENOMEM;
	memcpy(a->bytes, v.data, v.len);
	a->len = v.len;
	return STORE_OK;
}

int oauth2_user_get_sealed(struct apps_store *st, const char *app_id, const char *user_id,
			   unsigned char **sealed, size_t *sealed_len, char **data, size_t *len)
{
	char key[USER_KEY_MAX];
	size_t klen = oauth2_user_key(app_id, user_id, key, sizeof(key));
	struct raw_arg a = { APPS_T_OAUTH2_USER, key, klen, NULL, 0 };
	int rc;

	*sealed = NULL;
	*sealed_len = 0;
	*data = NULL;
	*len = 0;
	if (!klen)
		return STORE_EIO;
	rc = store_read(st->db, raw_get, &a);
	if (rc != STORE_OK) {
		free(a.bytes);
		return rc;
	}
	rc = unseal_record(st->sealer, "oauth2_user", key, klen, a.bytes, a.len, data, len);
	if (rc != SEAL_OK) {
		free(a.bytes);
		return rc == SEAL_ENOMEM ? STORE_ENOMEM : STORE_ECORRUPT;
	}
	*sealed = a.bytes;
	*sealed_len = a.len;
	return STORE_OK;
}

struct cas_arg {
	const struct apps_store *st;
	const struct app_gate_expect *expect;
	const char *key;
	size_t klen;
	const unsigned char *expected; /* NULL: no row may exist */
	size_t expected_len;
	unsigned char *sealed; /* NULL: delete */
	size_t sealed_len;
};

/* Whether the stored row v holds the value a expects: the same bytes, or
 * the same plaintext sealed again (the key sweep re-seals a record under a
 * new data key without changing it). */
static bool same_value(const struct cas_arg *a, const struct store_val *v)
{
	char *want = NULL, *have = NULL;
	size_t want_len = 0, have_len = 0;
	bool same;

	if (v->len == a->expected_len && memcmp(v->data, a->expected, a->expected_len) == 0)
		return true;
	if (unseal_record(a->st->sealer, "oauth2_user", a->key, a->klen, a->expected,
			  a->expected_len, &want, &want_len) != SEAL_OK)
		return false;
	same = unseal_record(a->st->sealer, "oauth2_user", a->key, a->klen, v->data, v->len, &have,
			     &have_len) == SEAL_OK &&
	       have_len == want_len && sodium_memcmp(have, want, want_len) == 0;
	unseal_free(want);
	unseal_free(have);
	return same;
}

/* The gate, the current key (a new value is sealed with it), then the row
 * as expected (locked: two writers queue), then the change. A missing row
 * is not locked: it is created with STORE_NOOVERWRITE, so of two creators
 * one finds it taken. */
static int cas_txn(struct store_txn *txn, void *arg)
{
	const struct cas_arg *a = arg;
	struct store_val v;
	int rc = app_gate_check_txn(txn, a->st, a->expect);

	if (rc == 0 && a->sealed)
		rc = key_current_check_txn(txn, a->sealed, a->sealed_len);
	if (rc != 0)
		return rc;
	rc = store_get(txn, APPS_T_OAUTH2_USER, a->key, a->klen, STORE_LOCK, &v);
	if (rc == STORE_ENOTFOUND) {
		if (a->expected)
			return STORE_ESTALE;
		rc = store_put(txn, APPS_T_OAUTH2_USER, a->key, a->klen, a->sealed, a->sealed_len,
			       STORE_NOOVERWRITE);
		return rc == STORE_EEXIST ? STORE_ESTALE : rc;
	}
	if (rc != STORE_OK)
		return rc;
	if (!a->expected || !same_value(a, &v))
		return STORE_ESTALE;
	if (!a->sealed)
		return store_del(txn, APPS_T_OAUTH2_USER, a->key, a->klen);
	return store_put(txn, APPS_T_OAUTH2_USER, a->key, a->klen, a->sealed, a->sealed_len, 0);
}

int oauth2_user_cas(struct apps_store *st, const struct app_gate_expect *expect,
		    const char *user_id, const unsigned char *expected, size_t expected_len,
		    const char *data, size_t len)
{
	char key[USER_KEY_MAX];
	size_t klen = oauth2_user_key(expect->app_id, user_id, key, sizeof(key));
	struct cas_arg a = { st, expect, key, klen, expected, expected_len, NULL, 0 };
	if (!klen || (!expected && !data))
		return STORE_EIO;
	return key_current_write(st->db, st->sealer, "oauth2_user", key, klen, data, len, &a.sealed,
				 &a.sealed_len, cas_txn, &a);
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

enum lease_op { LEASE_TAKE, LEASE_RELEASE, LEASE_PROBE };
/* LEASE_PROBE: another holder's lease expired unreleased (a positive code:
 * no store error). */
#define LEASE_ORPHANED 2

struct lease_arg {
	const char *key;
	size_t klen;
	const unsigned char *holder;
	int64_t now_ms, ttl_ms;
	enum lease_op op;
};

/* Whose the stored lease v is and until when; false when v is no lease. */
static bool lease_decode(const struct store_val *v, const unsigned char *holder, bool *mine,
			 int64_t *expires)
{
	const unsigned char *b = v->data;
	uint64_t e = 0;

	if (v->len != LEASE_VALUE_LEN)
		return false;
	*mine = memcmp(b, holder, REFRESH_LEASE_HOLDER_LEN) == 0;
	for (size_t i = 0; i < 8; i++)
		e = e << 8 | b[REFRESH_LEASE_HOLDER_LEN + i];
	*expires = (int64_t)e;
	return true;
}

static int lease_txn(struct store_txn *txn, void *arg)
{
	const struct lease_arg *a = arg;
	unsigned char value[LEASE_VALUE_LEN];
	uint64_t until = (uint64_t)(a->now_ms + a->ttl_ms);
	struct store_val v;
	int64_t expires = 0;
	bool mine = false, lease;
	int rc = store_get(txn, APPS_T_META, a->key, a->klen, a->op == LEASE_PROBE ? 0 : STORE_LOCK,
			   &v);

	if (rc != STORE_OK && rc != STORE_ENOTFOUND)
		return rc;
	lease = rc == STORE_OK && lease_decode(&v, a->holder, &mine, &expires);
	switch (a->op) {
	case LEASE_PROBE:
		if (!lease || mine)
			return STORE_OK;
		return expires >= a->now_ms ? STORE_EBUSY : LEASE_ORPHANED;
	case LEASE_RELEASE:
		if (!lease || !mine)
			return STORE_ESTALE; /* gone, or another holder's since */
		return store_del(txn, APPS_T_META, a->key, a->klen);
	case LEASE_TAKE:
		if (lease && !mine && expires >= a->now_ms)
			return STORE_EBUSY;
		memcpy(value, a->holder, REFRESH_LEASE_HOLDER_LEN);
		for (size_t i = 0; i < 8; i++)
			value[REFRESH_LEASE_HOLDER_LEN + i] =
				(unsigned char)(until >> (56 - 8 * i));
		/* No row: created, so that of two takers one finds it taken. */
		rc = store_put(txn, APPS_T_META, a->key, a->klen, value, sizeof(value),
			       rc == STORE_ENOTFOUND ? STORE_NOOVERWRITE : 0);
		return rc == STORE_EEXIST ? STORE_EBUSY : rc;
	}
	return STORE_EINVAL;
}

static int lease_run(struct apps_store *st, const char *app_id, const char *user_id,
		     const unsigned char *holder, int64_t now_ms, int64_t ttl_ms, enum lease_op op)
{
	char key[LEASE_KEY_MAX];
	size_t klen = lease_key(app_id, user_id, key, sizeof(key));
	struct lease_arg a = { key, klen, holder, now_ms, ttl_ms, op };

	if (!klen)
		return STORE_EIO;
	return op == LEASE_PROBE ? store_read(st->db, lease_txn, &a)
				 : store_write(st->db, lease_txn, &a);
}

int refresh_lease_take(struct apps_store *st, const char *app_id, const char *user_id,
		       const unsigned char holder[REFRESH_LEASE_HOLDER_LEN], int64_t now_ms,
		       int64_t ttl_ms)
{
	return lease_run(st, app_id, user_id, holder, now_ms, ttl_ms, LEASE_TAKE);
}

int refresh_lease_release(struct apps_store *st, const char *app_id, const char *user_id,
			  const unsigned char holder[REFRESH_LEASE_HOLDER_LEN])
{
	int rc = lease_run(st, app_id, user_id, holder, 0, 0, LEASE_RELEASE);

	return rc == STORE_ESTALE ? STORE_OK : rc;
}

int refresh_lease_busy(struct apps_store *st, const char *app_id, const char *user_id,
		       const unsigned char holder[REFRESH_LEASE_HOLDER_LEN], int64_t now_ms)
{
	int rc = lease_run(st, app_id, user_id, holder, now_ms, 0, LEASE_PROBE);

	return rc == STORE_EBUSY ? 1 : rc == LEASE_ORPHANED ? 2 : rc;
}

/* ---- uninstall ---------------------------------------------------------- */

struct delete_arg {
	struct apps_store *st;
	const char *app_id;
	size_t users;
	size_t states;
};

/* The App's gate goes with its record (not another App's of another case). */
static int delete_gate(struct store_txn *txn, struct delete_arg *a)
{
	struct app_gate g;
	char key[APP_ID_MAX];
	size_t klen = app_gate_key(a->app_id, key);
	int rc = app_gate_read_txn(txn, a->st, a->app_id, STORE_LOCK, &g);

	if (rc == STORE_ENOTFOUND || rc == STORE_ECONFLICT)
		return 0;
	if (rc != STORE_OK && rc != STORE_ECORRUPT)
		return rc;
	rc = store_del(txn, APPS_T_APP_GATE, key, klen);
	return rc == STORE_ENOTFOUND ? 0 : rc;
}

/* oauth2_user keys of an App start with app_id\0 and sort together. */
static int delete_users(struct store_txn *txn, struct delete_arg *a, struct key_page *pg)
{
	char prefix[APP_ID_MAX + 1];
	size_t plen = strlen(a->app_id) + 1;
	int rc;

	memcpy(prefix, a->app_id, plen); /* with its NUL */
	pg->after_len = 0;
	do {
		rc = key_page_next(txn, APPS_T_OAUTH2_USER, prefix, plen, NULL, NULL, pg);
		for (size_t i = 0; rc == STORE_OK && i < pg->n; i++) {
			rc = store_del(txn, APPS_T_OAUTH2_USER, pg->key[i], pg->len[i]);
			if (rc == STORE_OK)
				a->users++;
			else if (rc == STORE_ENOTFOUND)
				rc = STORE_OK;
		}
	} while (rc == STORE_OK && pg->more);
	return rc;
}

/* Index entries name their App in plaintext: the App's states are found
 * without opening any. */
static bool index_of_app(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	const char *app_id = arg;

	(void)key;
	(void)klen;
	return vlen == strlen(app_id) && memcmp(val, app_id, vlen) == 0;
}

static int delete_states(struct store_txn *txn, struct delete_arg *a, struct key_page *pg)
{
	int rc;

	pg->after_len = 0;
	do {
		rc = key_page_next(txn, APPS_T_OAUTH2_STATE_BY_USER, NULL, 0, index_of_app,
				   (void *)a->app_id, pg);
		for (size_t i = 0; rc == STORE_OK && i < pg->n; i++) {
			rc = store_del(txn, APPS_T_OAUTH2_STATE_BY_USER, pg->key[i], pg->len[i]);
			if (rc == STORE_OK && pg->len[i] == STATE_INDEX_KEY_LEN) {
				rc = store_del(txn, APPS_T_OAUTH2_STATE,
					       pg->key[i] + STATE_INDEX_USER_LEN + 8,
					       STATE_HASH_LEN);
				if (rc == STORE_OK)
					a->states++;
			}
			if (rc == STORE_ENOTFOUND)
				rc = STORE_OK;
		}
	} while (rc == STORE_OK && pg->more);
	return rc;
}

static int delete_app(struct store_txn *txn, void *arg)
{
	struct delete_arg *a = arg;
	struct key_page *pg;
	int rc = store_del(txn, APPS_T_APPS, a->app_id, strlen(a->app_id));

	a->users = a->states = 0;
	if (rc != STORE_OK)
		return rc; /* STORE_ENOTFOUND: not installed */
	rc = delete_gate(txn, a);
	if (rc != 0)
		return rc;
	pg = key_page_new();
	if (!pg)
		return STORE_ENOMEM;
	rc = delete_users(txn, a, pg);
	if (rc == STORE_OK)
		rc = delete_states(txn, a, pg);
	key_page_free(pg);
	if (rc == STORE_OK)
		rc = store_notify(txn, APPS_TOPIC, a->app_id);
	return rc;
}

int apps_store_delete_app(struct apps_store *st, const char *app_id, size_t *users, size_t *states)
{
	struct delete_arg a = { st, app_id, 0, 0 };
	int rc;

	if (strlen(app_id) == 0 || strlen(app_id) > APP_ID_MAX)
		return STORE_ENOTFOUND;
	rc = store_write(st->db, delete_app, &a);
	atomic_fetch_add(&st->app_generation, 1);
	if (users)
		*users = rc == STORE_OK ? a.users : 0;
	if (states)
		*states = rc == STORE_OK ? a.states : 0;
	return rc;
}

/* ---- tables by name, for the keys' code ---------------------------------- */

static const unsigned key_tables[KEY_TABLES] = {
	[KEY_TABLE_APPS] = APPS_T_APPS,
	[KEY_TABLE_OAUTH2_USER] = APPS_T_OAUTH2_USER,
	[KEY_TABLE_OAUTH2_STATE] = APPS_T_OAUTH2_STATE,
	[KEY_TABLE_KEYS] = APPS_T_KEYS,
};
static const char *const key_table_names[KEY_TABLES] = { "apps", "oauth2_user", "oauth2_state",
							 "keys" };

const char *apps_table_name(enum key_table t)
{
	return (unsigned)t < KEY_TABLES ? key_table_names[t] : "?";
}

struct scan_arg {
	unsigned table;
	const void *prefix, *after;
	size_t plen, alen, limit, visited;
	apps_scan_fn fn;
	void *arg;
};

static int scan_txn(struct store_txn *txn, void *arg)
{
	struct scan_arg *a = arg;

	a->visited = 0;
	return store_scan(txn, a->table, a->prefix, a->plen, a->after, a->after ? a->alen : 0,
			  a->limit, a->fn, a->arg, &a->visited);
}

int apps_store_scan(struct apps_store *st, enum key_table t, const void *prefix, size_t plen,
		    const void *after, size_t alen, size_t limit, apps_scan_fn fn, void *arg,
		    size_t *visited)
{
	struct scan_arg a = { 0, prefix, after, plen, alen, limit, 0, fn, arg };
	int rc;

	if (visited)
		*visited = 0;
	if ((unsigned)t >= KEY_TABLES || limit == 0 || limit > APPS_SCAN_MAX)
		return STORE_EINVAL;
	a.table = key_tables[t];
	rc = store_read(st->db, scan_txn, &a);
	if (visited)
		*visited = a.visited;
	return rc;
}

int apps_store_get(struct apps_store *st, enum key_table t, const void *key, size_t klen,
		   unsigned char **val, size_t *vlen)
{
	struct raw_arg a = { 0, key, klen, NULL, 0 };
	int rc;

	*val = NULL;
	*vlen = 0;
	if ((unsigned)t >= KEY_TABLES)
		return STORE_EINVAL;
	a.table = key_tables[t];
	rc = store_read(st->db, raw_get, &a);
	if (rc != STORE_OK) {
		free(a.bytes);
		return rc;
	}
	*val = a.bytes;
	*vlen = a.len;
	return STORE_OK;
}

struct batch_cas_arg {
	const struct apps_cas *c;
	size_t n, skipped;
	bool apps_changed;
};

/* 1: the row is as c expects; 0: it is not; < 0: a store error. The row
 * is locked until the commit (a row that does not exist is not: creating
 * one uses STORE_NOOVERWRITE). */
static int cas_matches(struct store_txn *txn, const struct apps_cas *c)
{
	struct store_val v;
	int rc = store_get(txn, key_tables[c->table], c->key, c->klen, STORE_LOCK, &v);

	if (rc == STORE_ENOTFOUND)
		return c->expected == NULL;
	if (rc != STORE_OK)
		return rc;
	return c->expected && v.len == c->elen &&
	       (c->elen == 0 || memcmp(v.data, c->expected, c->elen) == 0);
}

static int batch_cas_txn(struct store_txn *txn, void *arg)
{
	struct batch_cas_arg *a = arg;

	a->skipped = 0; /* the callback may run again */
	a->apps_changed = false;
	for (size_t i = 0; i < a->n; i++) {
		const struct apps_cas *c = &a->c[i];
		unsigned table = key_tables[c->table];
		int rc = cas_matches(txn, c);

		if (rc < 0)
			return rc;
		if (rc == 1) {
			rc = c->val ? store_put(txn, table, c->key, c->klen, c->val, c->vlen,
						c->expected ? 0 : STORE_NOOVERWRITE)
				    : store_del(txn, table, c->key, c->klen);
			if (rc == STORE_ENOTFOUND && !c->val)
				rc = STORE_OK;
			if (rc == STORE_EEXIST)
				rc = 0; /* created meanwhile by another writer: not as expected */
			else if (rc != STORE_OK)
				return rc;
			else
				rc = 1;
		}
		if (rc == 0) {
			if (c->required)
				return STORE_ECHANGED;
			a->skipped++;
			continue;
		}
		a->apps_changed |= table == APPS_T_APPS;
	}
	if (a->apps_changed)
		return store_notify(txn, APPS_TOPIC, "");
	return STORE_OK;
}

int apps_store_cas(struct apps_store *st, const struct apps_cas *c, size_t n, size_t *skipped)
{
	struct batch_cas_arg a = { c, n, 0, false };
	int rc;

	if (skipped)
		*skipped = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned)c[i].table >= KEY_TABLES || c[i].klen == 0 ||
		    (!c[i].expected && !c[i].val))
			return STORE_EINVAL;
	rc = store_write(st->db, batch_cas_txn, &a);
	if (skipped && rc == STORE_OK)
		*skipped = a.skipped;
	return rc;
}

/* ---- counts ------------------------------------------------------------- */

/* Every key the plugin writes fits a page's slots: each row is counted. */
static int count_table(struct store_txn *txn, unsigned table, size_t *out, struct key_page *pg)
{
	int rc;

	*out = 0;
	pg->after_len = 0;
	do {
		rc = key_page_next(txn, table, NULL, 0, NULL, NULL, pg);
		*out += pg->n;
	} while (rc == STORE_OK && pg->more && *out < APPS_COUNT_MAX);
	if (*out > APPS_COUNT_MAX)
		*out = APPS_COUNT_MAX;
	return rc;
}

static int count_tables(struct store_txn *txn, void *arg)
{
	struct apps_store_counts *c = arg;
	struct key_page *pg = key_page_new();
	int rc;

	if (!pg)
		return STORE_ENOMEM;
	rc = count_table(txn, APPS_T_APPS, &c->apps, pg);
	if (rc == STORE_OK)
		rc = count_table(txn, APPS_T_LISTING, &c->listed, pg);
	if (rc == STORE_OK)
		rc = count_table(txn, APPS_T_OAUTH2_USER, &c->users, pg);
	if (rc == STORE_OK)
		rc = count_table(txn, APPS_T_OAUTH2_STATE, &c->states, pg);
	key_page_free(pg);
	return rc;
}

int apps_store_count(struct apps_store *st, struct apps_store_counts *out)
{
	memset(out, 0, sizeof(*out));
	return store_read(st->db, count_tables, out);
}
