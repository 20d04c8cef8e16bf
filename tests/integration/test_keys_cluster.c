/*
 * Data keys on a cluster: two mmhost nodes on one PostgreSQL database with
 * the same master key file. The data key is rotated on node A while both
 * nodes keep storing users' OAuth2 data through the API; once A has
 * withdrawn the old key, a write on node B is stored under the new key
 * (read from the row's header in the database), though B may not have
 * polled the new key yet; the sweep ends with the old key at 0 records as
 * either node reports it; every record reads back byte-exact on both
 * nodes, before and after the old key is retired on node B. Then 64
 * writers write through both nodes while the key is rotated on either,
 * again and again: every rotation answers 200 at once (it waits for no
 * writer), every write succeeds, and after the sweep no record is under
 * any key but the last. Real processes: two hosts and the test App; the
 * rows are read with libpq.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "apps_world.h"
#include "pg_harness.h"

#define P TS_APPS
#define APP "keys-cluster-app"
#define USERS 64
#define LOAD_WRITERS 64 /* the second test: one user each, through A and B in turn */
#define LOAD_ROTATIONS 6
#define WRITERS_A 6 /* users 0..5 written through A, 6..11 through B */
#define LAST_USER (USERS - 1)
#define SECRET "gho_cluster_key_"
#define BYTEA_OID 17

static struct ts_world world; /* node A, the test App and the admin */
static struct ts_host node_b;
static char cfg_dir[256], db_url[512], site_a[64];
static char user_id[USERS][32], acting[USERS][64];
static PGconn *pg;

static void writers_join(void);

static int setup(void **state)
{
	char cfg_path[320], text[1400];

	(void)state;
	if (ts_pg_database("keys_cluster", db_url, sizeof(db_url)) != 0 ||
	    ts_tempdir("keys-cluster", cfg_dir, sizeof(cfg_dir)) != 0)
		return -1;
	/* One config for both nodes: the database, the shared key file, and
	 * small sweep batches with pauses so that the sweep runs while the
	 * writers do. */
	snprintf(cfg_path, sizeof(cfg_path), "%s/mmhost.json", cfg_dir);
	snprintf(text, sizeof(text),
		 "{\"store\":{\"backend\":\"postgres\",\"url\":\"%s\"},"
		 "\"plugins\":{\"com.mattermost.apps\":{\"settings\":"
		 "{\"master_key_file\":\"%s/master.key\",\"key_sweep_batch\":4,"
		 "\"key_sweep_pause_ms\":150}}}}",
		 db_url, cfg_dir);
	if (ts_write_file(cfg_path, text, 0600) != 0)
		return -1;
	ts_use_config(cfg_path);
	if (ts_world_start(&world, NULL, 0, NULL) != 0 ||
	    ts_world_install(&world, APP, TS_ALL_PERMS, NULL) != 0)
		return -1;
	for (int i = 0; i < USERS; i++) {
		char name[32], tok[64];
		snprintf(name, sizeof(name), "kcuser%d", i);
		if (ts_world_user(&world, name, 0, tok, user_id[i]) != 0 ||
		    ts_app_tokens(world.host.base_url, tok, APP, NULL, acting[i], NULL) != 0)
			return -1;
	}
	/* Nodes behind a load balancer share one site URL. */
	snprintf(site_a, sizeof(site_a), "http://127.0.0.1:%d", world.host.port);
	{
		const char *b_extra[] = { "--site-url", site_a, NULL };
		if (ts_host_start(&node_b, world.plugins, b_extra) != 0)
			return -1;
	}
	pg = PQconnectdb(db_url);
	return PQstatus(pg) == CONNECTION_OK ? 0 : -1;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	writers_join();
	PQfinish(pg);
	rc = ts_host_stop(&node_b);
	rc |= ts_world_stop(&world);
	ts_rmtree(cfg_dir);
	return rc;
}

/* ---- HTTP ---- */

static const char *node_url(int node)
{
	return node == 0 ? world.host.base_url : node_b.base_url;
}

static json_t *admin_json(int node, const char *method, const char *path, long status)
{
	struct ts_resp r = ts_api(node_url(node), method, path, world.admin_tok, NULL);
	json_t *j;

	if (r.status != status)
		fail_msg("%s %s on node %c: %ld %s, not %ld", method, path, 'A' + node, r.status,
			 r.body, status);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	ts_resp_free(&r);
	return j;
}

static long long jint(const json_t *j, const char *name)
{
	const json_t *v = json_object_get(j, name);

	assert_true(json_is_integer(v));
	return (long long)json_integer_value(v);
}

/* How many records GET admin/keys counts under key id (-1: not listed). */
static long long records_of(const json_t *keys, long long id)
{
	size_t i;
	const json_t *k;

	json_array_foreach(json_object_get(keys, "keys"), i, k)
	{
		if (jint(k, "id") == id)
			return jint(k, "records");
	}
	return -1;
}

static long put_value(int node, int user, const char *value)
{
	char body[128];
	struct ts_resp r;
	long status;

	snprintf(body, sizeof(body), "\"%s\"", value);
	r = ts_api(node_url(node), "POST", P "/api/v1/oauth2/user", acting[user], body);
	status = r.status;
	ts_resp_free(&r);
	return status;
}

static void value_is(int node, int user, const char *value)
{
	char want[128];
	struct ts_resp r =
		ts_api(node_url(node), "GET", P "/api/v1/oauth2/user", acting[user], NULL);

	snprintf(want, sizeof(want), "\"%s\"", value);
	if (r.status != 200 || !r.body || strcmp(r.body, want) != 0)
		fail_msg("user %d on node %c: %ld %s, not %s", user, 'A' + node, r.status, r.body,
			 want);
	ts_resp_free(&r);
}

/* ---- the rows, with libpq ---- */

/* The key id in the header of user's stored record: bytes 1..4 of the
 * sealed value (plugin/seal.h). */
static long long stored_key_id(int user)
{
	const char *sql = "SELECT (get_byte(v, 1) << 24) | (get_byte(v, 2) << 16) | "
			  "(get_byte(v, 3) << 8) | get_byte(v, 4) FROM apps_oauth2_user "
			  "WHERE k = $1";
	char key[96];
	size_t a = strlen(APP), u = strlen(user_id[user]);
	const Oid types[1] = { BYTEA_OID };
	const char *vals[1] = { key };
	int lens[1] = { (int)(a + 1 + u) }, formats[1] = { 1 };
	PGresult *r;
	long long id;

	memcpy(key, APP, a + 1); /* app_id \0 user_id */
	memcpy(key + a + 1, user_id[user], u);
	r = PQexecParams(pg, sql, 1, types, vals, lens, formats, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("the row of user %d: %s", user, PQresultErrorMessage(r));
	id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return id;
}

/* How many rows of table name a key other than id (and how many rows it
 * holds, into *rows). */
static long long rows_not_under(const char *table, long long id, long long *rows)
{
	char sql[256];
	PGresult *r;
	long long n;

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FILTER (WHERE ((get_byte(v, 1) << 24) | (get_byte(v, 2) << 16) "
		 "| (get_byte(v, 3) << 8) | get_byte(v, 4)) <> %lld), count(*) FROM %s",
		 id, table);
	r = PQexec(pg, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", table, PQresultErrorMessage(r));
	n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*rows = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return n;
}

/* ---- the load ---- */

struct writer {
	pthread_t t;
	int node, first, last; /* users first..last through node */
	atomic_int *stop;
	int errors;
	int acked[USERS]; /* the last value acknowledged per user (-1: none) */
	bool running;
};

/* In static storage, so that a failed assertion leaves them to teardown. */
static atomic_int writers_stop;
static struct writer writers[2] = {
	{ .node = 0, .first = 0, .last = WRITERS_A - 1, .stop = &writers_stop },
	{ .node = 1, .first = WRITERS_A, .last = 2 * WRITERS_A - 1, .stop = &writers_stop },
};

/* The second test's writers: user u through node u % 2. */
struct load_writer {
	pthread_t t;
	int user;
	int errors;
	int acked; /* the last value acknowledged (-1: none) */
	bool running;
};

static atomic_int load_stop;
static struct load_writer load[LOAD_WRITERS];

static void writers_join(void)
{
	atomic_store(&writers_stop, 1);
	atomic_store(&load_stop, 1);
	for (int i = 0; i < 2; i++)
		if (writers[i].running) {
			pthread_join(writers[i].t, NULL);
			writers[i].running = false;
		}
	for (int i = 0; i < LOAD_WRITERS; i++)
		if (load[i].running) {
			pthread_join(load[i].t, NULL);
			load[i].running = false;
		}
}

static void *write_loop(void *arg)
{
	struct writer *w = arg;

	for (int n = 0; !atomic_load(w->stop); n++) {
		for (int u = w->first; u <= w->last; u++) {
			char v[64];
			snprintf(v, sizeof(v), SECRET "%d-%d", u, n);
			if (put_value(w->node, u, v) == 200)
				w->acked[u] = n;
			else
				w->errors++;
		}
		usleep(10 * 1000);
	}
	return NULL;
}

/* What user's record must hold now: the writer's last acknowledged value,
 * or the seeded one. */
static void expected_value(const struct writer *w, int user, char *out, size_t cap)
{
	const struct writer *mine = NULL;

	for (int i = 0; i < 2; i++)
		if (user >= w[i].first && user <= w[i].last)
			mine = &w[i];
	if (user == LAST_USER)
		snprintf(out, cap, SECRET "after-rotation");
	else if (mine && mine->acked[user] >= 0)
		snprintf(out, cap, SECRET "%d-%d", user, mine->acked[user]);
	else
		snprintf(out, cap, SECRET "seed-%d", user);
}

static void every_record_reads_on_both_nodes(const struct writer *w)
{
	char want[64];

	for (int node = 0; node < 2; node++)
		for (int u = 0; u < USERS; u++) {
			expected_value(w, u, want, sizeof(want));
			value_is(node, u, want);
		}
}

/* GET admin/keys on node until the sweep is idle (at most 60 s). */
static json_t *sweep_finished(int node)
{
	for (int i = 0; i < 600; i++) {
		json_t *k = admin_json(node, "GET", P "/api/v1/admin/keys", 200);
		const char *s =
			json_string_value(json_object_get(json_object_get(k, "sweep"), "state"));
		assert_non_null(s);
		if (strcmp(s, "idle") == 0)
			return k;
		json_decref(k);
		usleep(100 * 1000);
	}
	fail_msg("the key sweep did not end");
	return NULL;
}

/* GET admin/keys on node until the older keys are withdrawn (at most
 * 30 s). */
static void withdrawn_on(int node)
{
	for (int i = 0; i < 300; i++) {
		json_t *k = admin_json(node, "GET", P "/api/v1/admin/keys", 200);
		const char *s =
			json_string_value(json_object_get(json_object_get(k, "sweep"), "phase"));
		bool done = s && strcmp(s, "withdrawing") != 0;
		json_decref(k);
		if (done)
			return;
		usleep(100 * 1000);
	}
	fail_msg("the old data key was not withdrawn");
}

static void sweep_is_done(const json_t *k, long long old_key, long long new_key, long long records)
{
	const json_t *sweep = json_object_get(k, "sweep");

	assert_int_equal(jint(k, "current"), new_key);
	assert_int_equal(jint(sweep, "done"), jint(sweep, "total"));
	assert_int_equal(records_of(k, old_key), 0);
	assert_int_equal(records_of(k, new_key), records);
}

static void a_rotation_on_a_while_both_nodes_write_loses_nothing(void **state)
{
	struct writer *w = writers;
	json_t *k;
	long long old_key, new_key, rows, records;
	char path[96];

	(void)state;
	for (int i = 0; i < 2; i++)
		for (int u = 0; u < USERS; u++)
			w[i].acked[u] = -1;
	for (int u = 0; u < USERS; u++) {
		char v[64];
		snprintf(v, sizeof(v), SECRET "seed-%d", u);
		assert_int_equal(put_value(u % 2, u, v), 200);
	}
	k = admin_json(1, "GET", P "/api/v1/admin/keys", 200); /* B has loaded the keys */
	old_key = jint(k, "current");
	json_decref(k);
	assert_int_equal(stored_key_id(LAST_USER), old_key);

	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_create(&w[i].t, NULL, write_loop, &w[i]), 0);
		w[i].running = true;
	}
	usleep(300 * 1000);
	k = admin_json(0, "POST", P "/api/v1/admin/keys/rotate", 200);
	new_key = jint(k, "current");
	json_decref(k);
	assert_true(new_key != old_key);
	/* B learns of the rotation by polling once a second; once A has
	 * withdrawn the old key, a write through B lands under the new key,
	 * polled or not. */
	withdrawn_on(0);
	assert_int_equal(put_value(1, LAST_USER, SECRET "after-rotation"), 200);
	assert_int_equal(stored_key_id(LAST_USER), new_key);
	usleep(1500 * 1000);
	writers_join();
	for (int i = 0; i < 2; i++) {
		assert_int_equal(w[i].errors, 0);
		assert_true(w[i].acked[w[i].first] >= 0);
	}

	/* The App record and every user's. */
	records = USERS + 1;
	k = sweep_finished(1);
	sweep_is_done(k, old_key, new_key, records);
	json_decref(k);
	k = sweep_finished(0);
	sweep_is_done(k, old_key, new_key, records);
	json_decref(k);
	assert_int_equal(rows_not_under("apps_oauth2_user", new_key, &rows), 0);
	assert_int_equal(rows, USERS);
	assert_int_equal(rows_not_under("apps_apps", new_key, &rows), 0);
	assert_int_equal(rows, 1);
	every_record_reads_on_both_nodes(w);

	snprintf(path, sizeof(path), P "/api/v1/admin/keys/%lld", old_key);
	json_decref(admin_json(1, "DELETE", path, 200));
	k = admin_json(0, "GET", P "/api/v1/admin/keys", 200);
	assert_int_equal(records_of(k, old_key), -1);
	json_decref(k);
	every_record_reads_on_both_nodes(w);
}

static void *load_loop(void *arg)
{
	struct load_writer *w = arg;

	for (int n = 0; !atomic_load(&load_stop); n++) {
		char v[64];
		snprintf(v, sizeof(v), SECRET "load-%d-%d", w->user, n);
		if (put_value(w->user % 2, w->user, v) == 200)
			w->acked = n;
		else
			w->errors++;
	}
	return NULL;
}

static void rotations_under_64_writers_never_wait_for_them(void **state)
{
	long long key = 0, rows;
	char want[64];
	json_t *k;

	(void)state;
	atomic_store(&load_stop, 0); /* the first test's writers_join set it */
	for (int i = 0; i < LOAD_WRITERS; i++) {
		load[i] = (struct load_writer){ .user = i, .acked = -1 };
		assert_int_equal(pthread_create(&load[i].t, NULL, load_loop, &load[i]), 0);
		load[i].running = true;
	}
	usleep(500 * 1000);
	/* Each rotation, on either node, answers 200 (admin_json fails the test
	 * on any other status: a 503 is a rotation that waited past the
	 * store's deadline). */
	for (int r = 0; r < LOAD_ROTATIONS; r++) {
		k = admin_json(r % 2, "POST", P "/api/v1/admin/keys/rotate", 200);
		assert_true(jint(k, "current") > key);
		key = jint(k, "current");
		json_decref(k);
		usleep(400 * 1000);
	}
	usleep(500 * 1000);
	writers_join();
	for (int i = 0; i < LOAD_WRITERS; i++) {
		assert_int_equal(load[i].errors, 0);
		assert_true(load[i].acked >= 0);
	}
	k = sweep_finished(0);
	json_decref(k);
	k = sweep_finished(1);
	assert_int_equal(jint(k, "current"), key);
	json_decref(k);
	/* No record under any older key, and every write reads back. */
	assert_int_equal(rows_not_under("apps_oauth2_user", key, &rows), 0);
	assert_int_equal(rows, USERS);
	assert_int_equal(rows_not_under("apps_apps", key, &rows), 0);
	for (int i = 0; i < LOAD_WRITERS; i++) {
		snprintf(want, sizeof(want), SECRET "load-%d-%d", i, load[i].acked);
		value_is(0, i, want);
		value_is(1, i, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_rotation_on_a_while_both_nodes_write_loses_nothing),
		cmocka_unit_test(rotations_under_64_writers_never_wait_for_them),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
