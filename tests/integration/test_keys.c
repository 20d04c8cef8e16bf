/*
 * Envelope keys against the real host, plugin and test App (DESIGN.md
 * section 9): a store written by the previous release opens; rotating the
 * data key while a writer and readers run loses nothing and the sweep moves
 * every record to the new key; the old key is retired only once no record
 * names it; a restart mid-sweep resumes it; only system admins reach the
 * routes; the master key changes with previous_master_key_file and the node
 * then runs with the new one alone; verify names a record tampered on disk
 * without showing a secret.
 *
 * The plugin's LMDB environment is edited from this process while the host
 * runs (LMDB allows other processes): to make the store of an earlier
 * release, and to flip one stored byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "apps_world.h"

#define P TS_APPS
#define APP "keys-app"
#define USERS 8
#define SECRET "gho_keys_secret_"

static struct ts_world world;
static char cfg_path[320], store_dir[400], master_path[400], audit_path[400];
static char user_tok[USERS][64], user_id[USERS][32], acting[USERS][64];
static char bot_tok[64], plain_tok[64];

/* The plugin's settings for this suite: small batches with pauses, so that
 * a sweep of a few records takes several batches and can be watched. */
static void write_config(const char *extra_settings)
{
	char text[1600];

	snprintf(text, sizeof(text),
		 "{\"metrics_listen\":\"127.0.0.1:0\",\"plugins\":{\"com.mattermost.apps\":{"
		 "\"settings\":{\"key_sweep_batch\":2,\"key_sweep_pause_ms\":300%s%s}}}}",
		 extra_settings ? "," : "", extra_settings ? extra_settings : "");
	assert_int_equal(ts_write_file(cfg_path, text, 0600), 0);
}

static int setup(void **state)
{
	char dir[256];
	const char *extra[] = { "--config", cfg_path, NULL };

	(void)state;
	if (ts_tempdir("keys-cfg", dir, sizeof(dir)) != 0)
		return -1;
	snprintf(cfg_path, sizeof(cfg_path), "%s/mmhost.json", dir);
	if (ts_write_file(cfg_path,
			  "{\"plugins\":{\"com.mattermost.apps\":{\"settings\":"
			  "{\"key_sweep_batch\":2,\"key_sweep_pause_ms\":300}}}}",
			  0600) != 0)
		return -1;
	if (ts_world_start(&world, NULL, 0, extra) != 0 ||
	    ts_world_install(&world, APP, TS_ALL_PERMS, NULL) != 0)
		return -1;
	snprintf(store_dir, sizeof(store_dir), "%s/plugins/com.mattermost.apps/store",
		 world.data_dir);
	snprintf(master_path, sizeof(master_path), "%s/plugins/com.mattermost.apps/master.key",
		 world.data_dir);
	snprintf(audit_path, sizeof(audit_path), "%s/audit/audit.log", world.data_dir);
	for (int i = 0; i < USERS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "keyuser%d", i);
		if (ts_world_user(&world, name, 0, user_tok[i], user_id[i]) != 0 ||
		    ts_app_tokens(world.host.base_url, user_tok[i], APP, i == 0 ? bot_tok : NULL,
				  acting[i], NULL) != 0)
			return -1;
	}
	snprintf(plain_tok, sizeof(plain_tok), "%s", user_tok[0]);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&world);
}

/* ---- HTTP ---- */

static struct ts_resp api(const char *method, const char *path, const char *token, const char *body)
{
	return ts_api(world.host.base_url, method, path, token, body);
}

static json_t *api_json(const char *method, const char *path, const char *body, long status)
{
	struct ts_resp r = api(method, path, world.admin_tok, body);
	json_t *j;

	if (r.status != status)
		fail_msg("%s %s: %ld %s, not %ld", method, path, r.status, r.body, status);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	ts_resp_free(&r);
	return j;
}

static void expect(struct ts_resp r, long status, const char *needle, const char *what)
{
	if (r.status != status || (needle && (!r.body || !strstr(r.body, needle))))
		fail_msg("%s: %ld %s, not %ld with %s", what, r.status, r.body, status,
			 needle ? needle : "-");
	ts_resp_free(&r);
}

static void put_value(int user, const char *value)
{
	char body[128];

	snprintf(body, sizeof(body), "\"%s\"", value);
	expect(api("POST", P "/api/v1/oauth2/user", acting[user], body), 200, NULL, "store");
}

static void value_is(int user, const char *value)
{
	char want[128];

	snprintf(want, sizeof(want), "\"%s\"", value);
	{
		struct ts_resp r = api("GET", P "/api/v1/oauth2/user", acting[user], NULL);
		if (r.status != 200 || !r.body || strcmp(r.body, want) != 0)
			fail_msg("user %d: %ld %s, not %s", user, r.status, r.body, want);
		ts_resp_free(&r);
	}
}

static json_t *keys_now(void)
{
	return api_json("GET", P "/api/v1/admin/keys", NULL, 200);
}

static long long jint(const json_t *j, const char *path1, const char *path2)
{
	const json_t *v = json_object_get(j, path1);

	if (path2)
		v = json_object_get(v, path2);
	assert_true(json_is_integer(v));
	return (long long)json_integer_value(v);
}

/* Records GET admin/keys counts under key id (-1 when not listed). */
static long long records_of(const json_t *keys, long long id)
{
	size_t i;
	const json_t *k;

	json_array_foreach(json_object_get(keys, "keys"), i, k)
	{
		if (jint(k, "id", NULL) == id)
			return jint(k, "records", NULL);
	}
	return -1;
}

static int sweep_running(const json_t *keys)
{
	const char *s = json_string_value(json_object_get(json_object_get(keys, "sweep"), "state"));

	assert_non_null(s);
	return strcmp(s, "running") == 0;
}

/* Polls GET admin/keys until the sweep is idle (at most 60 s). */
static json_t *sweep_finished(void)
{
	for (int i = 0; i < 600; i++) {
		json_t *k = keys_now();
		if (!sweep_running(k))
			return k;
		json_decref(k);
		usleep(100 * 1000);
	}
	fail_msg("the key sweep did not end");
	return NULL;
}

static int audit_has(const char *event)
{
	char needle[64], *text = ts_read_file(audit_path);
	int found;

	snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
	found = text && strstr(text, needle) != NULL;
	free(text);
	return found;
}

/* ---- the plugin's LMDB, from this process ---- */

typedef void (*lmdb_fn)(MDB_txn *txn, MDB_dbi users, MDB_dbi keys, void *arg);

static void lmdb_edit(lmdb_fn fn, void *arg)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi users, keys;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, store_dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "oauth2_user", 0, &users), 0);
	assert_int_equal(mdb_dbi_open(txn, "keys", 0, &keys), 0);
	fn(txn, users, keys, arg);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static size_t user_key(int user, char *key)
{
	size_t a = strlen(APP), u = strlen(user_id[user]);

	memcpy(key, APP, a + 1);
	memcpy(key + a + 1, user_id[user], u);
	return a + 1 + u;
}

/* The key id in the header of user's stored record. */
struct header_arg {
	int user;
	uint32_t id;
};

static void read_header(MDB_txn *txn, MDB_dbi users, MDB_dbi keys, void *arg)
{
	struct header_arg *a = arg;
	char key[128];
	MDB_val k = { user_key(a->user, key), key }, v;
	const unsigned char *p;

	(void)keys;
	assert_int_equal(mdb_get(txn, users, &k, &v), 0);
	assert_true(v.mv_size > 5);
	p = v.mv_data;
	a->id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
}

static uint32_t stored_key_id(int user)
{
	struct header_arg a = { user, 0 };

	lmdb_edit(read_header, &a);
	return a.id;
}

/* What the first releases wrote: every record sealed with key id 1, derived
 * from the master key with crypto_kdf (context "mmapps01"), and no table of
 * data keys. Written here by its own code, not the plugin's. */
struct legacy_arg {
	int user;
	const char *value;
	unsigned char master[32];
};

static void write_legacy(MDB_txn *txn, MDB_dbi users, MDB_dbi keys, void *arg)
{
	struct legacy_arg *a = arg;
	unsigned char subkey[32], ad[256], rec[256];
	char key[128], plain[128];
	size_t klen = user_key(a->user, key), plen, adlen;
	unsigned long long clen = 0;
	MDB_val k, v;

	assert_int_equal(crypto_kdf_derive_from_key(subkey, 32, 1, "mmapps01", a->master), 0);
	plen = (size_t)snprintf(plain, sizeof(plain), "\"%s\"", a->value);
	ad[0] = 1;
	ad[1] = ad[2] = ad[3] = 0;
	ad[4] = 1;
	memcpy(ad + 5, "oauth2_user", 12); /* with its NUL */
	memcpy(ad + 17, key, klen);
	adlen = 17 + klen;
	memcpy(rec, ad, 5);
	randombytes_buf(rec + 5, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(rec + 29, &clen, (unsigned char *)plain, plen,
						   ad, adlen, NULL, rec + 5, subkey);
	k = (MDB_val){ klen, key };
	v = (MDB_val){ 29 + (size_t)clen, rec };
	assert_int_equal(mdb_put(txn, users, &k, &v, 0), 0);
	assert_int_equal(mdb_drop(txn, keys, 0), 0); /* no data keys yet */
}

/* Flips one byte of user's stored ciphertext. */
static void flip_byte(MDB_txn *txn, MDB_dbi users, MDB_dbi keys, void *arg)
{
	int user = *(int *)arg;
	unsigned char copy[512];
	char key[128];
	MDB_val k = { user_key(user, key), key }, v;

	(void)keys;
	assert_int_equal(mdb_get(txn, users, &k, &v), 0);
	assert_true(v.mv_size <= sizeof(copy) && v.mv_size > 40);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[35] ^= 0x01;
	v.mv_data = copy;
	assert_int_equal(mdb_put(txn, users, &k, &v, 0), 0);
}

static void restart(const char *extra_settings)
{
	const char *extra[] = { "--config", cfg_path, NULL };

	write_config(extra_settings);
	assert_int_equal(ts_host_restart(&world.host, world.plugins, extra), 0);
}

/* ---- tests ---- */

static void a_store_of_the_previous_release_opens(void **state)
{
	struct legacy_arg a = { 0, SECRET "legacy", { 0 } };
	char *master;
	size_t len = 0;
	json_t *k;

	(void)state;
	for (int i = 0; i < USERS; i++) {
		char v[64];
		snprintf(v, sizeof(v), SECRET "%d", i);
		put_value(i, v);
	}
	master = ts_read_file_n(master_path, &len);
	assert_non_null(master);
	assert_int_equal(len, 32);
	memcpy(a.master, master, 32);
	free(master);
	lmdb_edit(write_legacy, &a);
	sodium_memzero(a.master, sizeof(a.master));
	restart(NULL);
	value_is(0, SECRET "legacy");
	value_is(1, SECRET "1");
	k = keys_now();
	assert_int_equal(jint(k, "current", NULL), 1);
	assert_int_equal(json_array_size(json_object_get(k, "keys")), 1);
	assert_int_equal(records_of(k, 1), USERS + 1); /* the users and the App */
	assert_false(sweep_running(k));
	json_decref(k);
	assert_true(ts_host_log_has(&world.host, "data key 1 (derived from the master key"));
}

/* A writer and readers run through the rotation and its sweep. */
struct load {
	atomic_int stop;
	atomic_int errors;
	int last[3]; /* the writer's last acknowledged value per user 1..3 */
};

static void *writer(void *arg)
{
	struct load *l = arg;
	int n = 0;

	while (!atomic_load(&l->stop)) {
		for (int u = 1; u <= 3; u++) {
			char body[64];
			struct ts_resp r;
			snprintf(body, sizeof(body), "\"" SECRET "w%d\"", n);
			r = api("POST", P "/api/v1/oauth2/user", acting[u], body);
			if (r.status == 200)
				l->last[u - 1] = n;
			else
				atomic_fetch_add(&l->errors, 1);
			ts_resp_free(&r);
		}
		n++;
		usleep(20 * 1000);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct load *l = arg;

	while (!atomic_load(&l->stop)) {
		for (int u = 4; u < USERS; u++) {
			char want[64];
			struct ts_resp r = api("GET", P "/api/v1/oauth2/user", acting[u], NULL);
			snprintf(want, sizeof(want), "\"" SECRET "%d\"", u);
			if (r.status != 200 || !r.body || strcmp(r.body, want) != 0)
				atomic_fetch_add(&l->errors, 1);
			ts_resp_free(&r);
		}
		usleep(10 * 1000);
	}
	return NULL;
}

static void rotation_under_load_reseals_every_record_and_retires_the_old_key(void **state)
{
	struct load l = { 0 };
	pthread_t w, rd;
	json_t *k;
	long long total;

	(void)state;
	assert_int_equal(pthread_create(&w, NULL, writer, &l), 0);
	assert_int_equal(pthread_create(&rd, NULL, reader, &l), 0);
	usleep(200 * 1000);
	k = api_json("POST", P "/api/v1/admin/keys/rotate", NULL, 200);
	assert_int_equal(jint(k, "current", NULL), 2);
	json_decref(k);
	assert_true(audit_has("key_rotated"));
	/* New writes carry the new key at once. */
	put_value(0, SECRET "after-rotation");
	assert_int_equal(stored_key_id(0), 2);
	/* The sweep is still at work: the old key names records. */
	expect(api("DELETE", P "/api/v1/admin/keys/1", world.admin_tok, NULL), 409,
	       "apps.keys.in_use.app_error", "retire before the sweep ends");
	expect(api("DELETE", P "/api/v1/admin/keys/2", world.admin_tok, NULL), 409,
	       "apps.keys.current.app_error", "retire the current key");
	k = sweep_finished();
	total = jint(k, "sweep", "total");
	assert_int_equal(jint(k, "sweep", "done"), total);
	assert_true(total >= USERS + 1);
	assert_int_equal(records_of(k, 1), 0);
	assert_int_equal(records_of(k, 2), USERS + 1);
	json_decref(k);
	/* The metric counts what the sweep re-sealed (records a writer sealed
	 * anew first are not its work), and keeps it once the sweep is over. */
	assert_true(ts_host_metric(&world.host, "mmapps_key_sweep_done") >= 1);
	atomic_store(&l.stop, 1);
	pthread_join(w, NULL);
	pthread_join(rd, NULL);
	assert_int_equal(atomic_load(&l.errors), 0);
	for (int u = 1; u <= 3; u++) {
		char v[64];
		snprintf(v, sizeof(v), SECRET "w%d", l.last[u - 1]);
		value_is(u, v); /* no write lost to the sweep */
	}
	expect(api("DELETE", P "/api/v1/admin/keys/1", world.admin_tok, NULL), 200, "OK",
	       "retire after the sweep");
	assert_true(audit_has("key_retired"));
	expect(api("DELETE", P "/api/v1/admin/keys/1", world.admin_tok, NULL), 404,
	       "apps.keys.not_found.app_error", "retire twice");
	k = keys_now();
	assert_int_equal(json_array_size(json_object_get(k, "keys")), 1);
	assert_int_equal(records_of(k, 1), -1);
	json_decref(k);
	for (int u = 4; u < USERS; u++) {
		char v[64];
		snprintf(v, sizeof(v), SECRET "%d", u);
		value_is(u, v);
	}
	value_is(0, SECRET "after-rotation");
}

static void a_restart_mid_sweep_resumes_it(void **state)
{
	long long done_before = 0;
	json_t *k;

	(void)state;
	k = api_json("POST", P "/api/v1/admin/keys/rotate", NULL, 200);
	assert_int_equal(jint(k, "current", NULL), 3);
	json_decref(k);
	/* Wait for a batch or two (the sweep starts a few seconds after the
	 * rotation), then stop the node mid-sweep. */
	for (int i = 0; i < 500 && done_before == 0; i++) {
		k = keys_now();
		assert_true(sweep_running(k));
		done_before = jint(k, "sweep", "done");
		json_decref(k);
		usleep(20 * 1000);
	}
	assert_true(done_before > 0);
	restart(NULL);
	k = keys_now();
	assert_true(jint(k, "sweep", "done") >= done_before); /* the progress was kept */
	json_decref(k);
	k = sweep_finished();
	assert_int_equal(jint(k, "sweep", "done"), jint(k, "sweep", "total"));
	assert_int_equal(records_of(k, 2), 0);
	assert_int_equal(records_of(k, 3), USERS + 1);
	json_decref(k);
	value_is(0, SECRET "after-rotation");
}

static void only_system_admins_reach_the_key_routes(void **state)
{
	static const char *const routes[][2] = {
		{ "GET", P "/api/v1/admin/keys" },
		{ "POST", P "/api/v1/admin/keys/rotate" },
		{ "DELETE", P "/api/v1/admin/keys/2" },
		{ "POST", P "/api/v1/admin/verify" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		expect(api(routes[i][0], routes[i][1], NULL, NULL), 401, NULL, "no session");
		expect(api(routes[i][0], routes[i][1], plain_tok, NULL), 403,
		       "api.context.permissions.app_error", "a user");
		expect(api(routes[i][0], routes[i][1], bot_tok, NULL), 403,
		       "api.context.app_session_scope.app_error", "the App's bot");
		expect(api(routes[i][0], routes[i][1], acting[1], NULL), 403,
		       "api.context.app_session_scope.app_error", "an acting user");
	}
	expect(api("DELETE", P "/api/v1/admin/keys/x1", world.admin_tok, NULL), 400,
	       "api.context.invalid_url_param.app_error", "a bad id");
}

static void a_master_key_change_moves_the_data_keys(void **state)
{
	char new_key[400], other_key[400], settings[1000], *out = NULL;
	unsigned char bytes[32];
	const char *verify[] = { "audit", "verify", audit_path, "--config", cfg_path, NULL };

	(void)state;
	snprintf(new_key, sizeof(new_key), "%s/new-master.key", world.host.dir);
	snprintf(other_key, sizeof(other_key), "%s/other-master.key", world.host.dir);
	randombytes_buf(bytes, sizeof(bytes));
	assert_int_equal(ts_write_file(new_key, "", 0600), 0);
	{
		FILE *f = fopen(new_key, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(bytes, 1, 32, f), 32);
		fclose(f);
		randombytes_buf(bytes, sizeof(bytes));
		f = fopen(other_key, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(bytes, 1, 32, f), 32);
		fclose(f);
		assert_int_equal(chmod(other_key, 0600), 0);
	}
	/* The change: the new key, and the old one as previous. */
	snprintf(settings, sizeof(settings),
		 "\"master_key_file\":\"%s\",\"previous_master_key_file\":\"%s\"", new_key,
		 master_path);
	restart(settings);
	value_is(0, SECRET "after-rotation");
	assert_true(ts_host_log_has(&world.host, "master key changed: 2 data keys"));
	assert_true(audit_has("master_key_changed"));
	/* Lines before the change verify with the previous key, and only with
	 * it. */
	assert_int_equal(ts_cli(world.data_dir, verify, &out), 0);
	free(out);
	{
		char only_new[400], text[800];
		const char *verify_new[] = { "audit",    "verify", audit_path,
					     "--config", only_new, NULL };
		snprintf(only_new, sizeof(only_new), "%s/only-new.json", world.host.dir);
		snprintf(text, sizeof(text),
			 "{\"plugins\":{\"com.mattermost.apps\":{\"settings\":"
			 "{\"master_key_file\":\"%s\"}}}}",
			 new_key);
		assert_int_equal(ts_write_file(only_new, text, 0600), 0);
		assert_int_equal(ts_cli(world.data_dir, verify_new, &out), 1);
		free(out);
	}
	/* Again: nothing left to move (idempotent). */
	restart(settings);
	assert_false(ts_host_log_has(&world.host, "master key changed"));
	/* The new key alone. */
	snprintf(settings, sizeof(settings), "\"master_key_file\":\"%s\"", new_key);
	restart(settings);
	value_is(0, SECRET "after-rotation");
	for (int u = 4; u < USERS; u++) {
		char v[64];
		snprintf(v, sizeof(v), SECRET "%d", u);
		value_is(u, v);
	}
	/* A wrong master key opens nothing and seals nothing. */
	snprintf(settings, sizeof(settings), "\"master_key_file\":\"%s\"", other_key);
	restart(settings);
	expect(api("GET", P "/api/v1/oauth2/user", acting[4], NULL), 500,
	       "apps.store.record_unreadable.app_error", "wrong master key");
	expect(api("POST", P "/api/v1/oauth2/user", acting[4], "\"x\""), 500, NULL,
	       "wrong master key, write");
	assert_true(ts_host_log_has(&world.host, "opens 0 of the store's data keys"));
	snprintf(settings, sizeof(settings), "\"master_key_file\":\"%s\"", new_key);
	restart(settings);
	value_is(4, SECRET "4");
}

static void verify_names_a_tampered_record_and_no_secret(void **state)
{
	struct ts_resp r;
	json_t *v, *bad;
	char want_key[128];
	int user = 5;

	(void)state;
	v = api_json("POST", P "/api/v1/admin/verify", "{}", 200);
	assert_int_equal(jint(v, "records", NULL), USERS + 1);
	assert_int_equal(jint(v, "ok", NULL), USERS + 1);
	assert_int_equal(json_array_size(json_object_get(v, "unreadable")), 0);
	json_decref(v);
	lmdb_edit(flip_byte, &user);
	r = api("POST", P "/api/v1/admin/verify", world.admin_tok, "{}");
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, SECRET));
	v = json_loadb(r.body, r.body_len, 0, NULL);
	ts_resp_free(&r);
	assert_int_equal(jint(v, "records", NULL), USERS + 1);
	assert_int_equal(jint(v, "ok", NULL), USERS);
	assert_int_equal(json_array_size(json_object_get(v, "unreadable")), 1);
	bad = json_array_get(json_object_get(v, "unreadable"), 0);
	assert_string_equal(json_string_value(json_object_get(bad, "kind")), "oauth2_user");
	snprintf(want_key, sizeof(want_key), "%s/%s", APP, user_id[user]);
	assert_string_equal(json_string_value(json_object_get(bad, "key")), want_key);
	assert_int_equal(jint(bad, "key_id", NULL), 3);
	json_decref(v);
	expect(api("GET", P "/api/v1/oauth2/user", acting[user], NULL), 500,
	       "apps.store.record_unreadable.app_error", "the tampered record");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_store_of_the_previous_release_opens),
		cmocka_unit_test(rotation_under_load_reseals_every_record_and_retires_the_old_key),
		cmocka_unit_test(a_restart_mid_sweep_resumes_it),
		cmocka_unit_test(only_system_admins_reach_the_key_routes),
		cmocka_unit_test(a_master_key_change_moves_the_data_keys),
		cmocka_unit_test(verify_names_a_tampered_record_and_no_secret),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
