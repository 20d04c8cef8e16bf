/*
 * mmhost store copy, from a real node's LMDB folder into a fresh PostgreSQL
 * database: a node with a user, a personal token, an installed App with its
 * OAuth2 client secret and a user's OAuth2 data is stopped and copied. The
 * copy refuses the node while it serves; prints its counts; every row of
 * every table is in the database byte for byte (read with libpq against the
 * LMDB values); no secret is in the database in clear; a second copy is
 * refused as not empty; and a node started on the database serves the
 * copied data.
 *
 *   test_store_copy host    the copy and the host's data read back through a
 *                           node (users, sessions, tokens)
 *   test_store_copy plugin  the same copy, then the plugin's data read back
 *                           through the plugin (its App, its client, the
 *                           user's OAuth2 data): passes once the plugin keeps
 *                           its data on the storage seam (PostgreSQL)
 */
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "apps_store_layout.h"
#include "apps_world.h"
#include "fs_util.h"
#include "host_store.h"
#include "pg_harness.h"
#include "store.h"

#define P TS_APPS
#define APP "copy-app"
#define CLIENT_SECRET "copy-client-secret-in-clear"
#define USER "carol"
#define USER_PW "carol-password"

static struct ts_world world;
static char url[512];
static char data_dir[400];
static char tag[33]; /* random, in the stored user data */
static char user_value[256];
static char app_secret[128], user_tok[64], user_id[32], pat[64], acting[64];
static char *copy_out;
static struct ts_host node; /* a node on the database, stopped by teardown too */

static bool holds(const char *data, size_t len, const void *needle, size_t nlen)
{
	return nlen > 0 && len >= nlen && memmem(data, len, needle, nlen) != NULL;
}

static int run_copy_to(const char *to, char **out)
{
	const char *argv[] = {
		MMHOST_BIN, "store", "copy", "--data-dir", data_dir, "--to", to, NULL
	};
	int code = -1;

	if (ts_run(argv, &code, out) != 0)
		return -1;
	return code;
}

static int run_copy(char **out)
{
	return run_copy_to(url, out);
}

static PGconn *db(void)
{
	PGconn *pg = PQconnectdb(url);

	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "pg: %s\n", PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

static long tables_in_db(void)
{
	PGconn *pg = db();
	PGresult *r;
	long n = -1;

	if (!pg)
		return -1;
	r = PQexec(pg, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(pg);
	return n;
}

/* A node with what an admin would move: the world's admin, USER with a
 * personal token and a session, an App with its client secret, USER's
 * OAuth2 data stored through the App. */
static int populate(void)
{
	char bot[64], path[128];
	struct ts_resp r;
	json_t *j;

	if (ts_world_user(&world, USER, 0, user_tok, user_id) != 0)
		return -1;
	snprintf(path, sizeof(path), "/api/v4/users/%s/tokens", user_id);
	r = ts_api(world.host.base_url, "POST", path, user_tok, "{\"description\":\"moved\"}");
	j = json_loadb(r.body, r.body_len, 0, NULL);
	snprintf(pat, sizeof(pat), "%s",
		 json_is_string(json_object_get(j, "token"))
			 ? json_string_value(json_object_get(j, "token"))
			 : "");
	json_decref(j);
	ts_resp_free(&r);
	if (ts_world_install_secret(&world, APP, TS_ALL_PERMS, NULL, app_secret,
				    sizeof(app_secret)) != 0)
		return -1;
	if (strlen(pat) < 20 || strlen(app_secret) < 20 ||
	    ts_app_tokens(world.host.base_url, user_tok, APP, bot, acting, NULL) != 0)
		return -1;
	r = ts_api(world.host.base_url, "POST", P "/api/v1/oauth2/app", bot,
		   "{\"client_id\":\"copy-client\",\"client_secret\":\"" CLIENT_SECRET "\"}");
	if (r.status != 200)
		return -1;
	ts_resp_free(&r);
	snprintf(user_value, sizeof(user_value),
		 "{\"access_token\":\"gho_%s\",\"token_type\":\"bearer\"}", tag);
	r = ts_api(world.host.base_url, "POST", P "/api/v1/oauth2/user", acting, user_value);
	if (r.status != 200)
		return -1;
	ts_resp_free(&r);
	return 0;
}

/* SIGTERM, and the node's folder stays (ts_host_stop removes it). */
static int stop_node(struct ts_host *h)
{
	int status;

	kill(h->pid, SIGTERM);
	if (waitpid(h->pid, &status, 0) != h->pid)
		return -1;
	h->pid = 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Everything up to a finished copy; what a failure means is on stderr. */
static int setup(void **state)
{
	unsigned char raw[16];
	char *out = NULL;
	int code;

	(void)state;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(tag, sizeof(tag), raw, sizeof(raw));
	if (ts_pg_database("copy", url, sizeof(url)) != 0 ||
	    ts_world_start(&world, NULL, 0, NULL) != 0 || populate() != 0)
		return -1;
	snprintf(data_dir, sizeof(data_dir), "%s", world.data_dir);

	/* A node serving on the folder: refused, nothing written. */
	code = run_copy(&out);
	if (code != 1 || !strstr(out, "another mmhost serve (pid") ||
	    !strstr(out, "stop it first") || tables_in_db() != 0) {
		fprintf(stderr, "copy while serving: exit %d: %s\n", code, out ? out : "");
		free(out);
		return -1;
	}
	free(out);

	if (stop_node(&world.host) != 0) {
		fprintf(stderr, "the node did not stop cleanly\n");
		return -1;
	}
	code = run_copy(&copy_out);
	if (code != 0) {
		fprintf(stderr, "copy: exit %d: %s\n", code, copy_out ? copy_out : "");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(copy_out);
	if (node.pid > 0)
		ts_host_stop(&node);
	/* The world's node is already stopped (stop_node). */
	ts_proc_stop(&world.app);
	ts_rmtree(world.host.dir);
	ts_rmtree(world.plugins);
	return 0;
}

/* The number copy printed for table "component_table". */
static long printed(const char *name)
{
	char needle[96];
	const char *at;

	snprintf(needle, sizeof(needle), "%s ", name);
	for (at = copy_out; (at = strstr(at, needle)) != NULL; at++)
		if (at == copy_out || at[-1] == '\n')
			return strtol(at + strlen(needle), NULL, 10);
	return -1;
}

/* ---- LMDB against PostgreSQL, row by row ---- */

struct lmdb_rows {
	PGresult *pg; /* the table's rows, ordered by k, binary */
	long n;       /* LMDB rows seen */
	long mismatched;
	unsigned char after[STORE_KEY_MAX];
	size_t after_len;
};

static int compare_row(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct lmdb_rows *a = arg;
	int i = (int)a->n++;

	memcpy(a->after, key, klen);
	a->after_len = klen;
	if (i >= PQntuples(a->pg) || (size_t)PQgetlength(a->pg, i, 0) != klen ||
	    (size_t)PQgetlength(a->pg, i, 1) != vlen ||
	    memcmp(PQgetvalue(a->pg, i, 0), key, klen) != 0 ||
	    (vlen && memcmp(PQgetvalue(a->pg, i, 1), val, vlen) != 0))
		a->mismatched++;
	return 0;
}

struct scan_arg {
	unsigned table;
	struct lmdb_rows *rows;
	size_t seen;
};

static int scan_some(struct store_txn *txn, void *arg)
{
	struct scan_arg *s = arg;

	return store_scan(txn, s->table, NULL, 0, s->rows->n ? s->rows->after : NULL,
			  s->rows->after_len, STORE_SCAN_MAX, compare_row, s->rows, &s->seen);
}

/* Compares every table of one component; returns the rows compared. */
static long compare_component(PGconn *pg, const char *component, const char *lmdb_dir,
			      const char *const *tables, size_t n_tables, size_t skip)
{
	struct store_config cfg;
	struct store_options opt = {
		.component = component, .lmdb_dir = lmdb_dir, .tables = tables, .n_tables = n_tables
	};
	struct store *st = NULL;
	char err[STORE_ERR_MAX], sql[160], name[64];
	long total = 0;

	store_config_init(&cfg);
	if (store_open(&cfg, &opt, &st, err, sizeof(err)) != STORE_OK)
		fail_msg("open %s: %s", lmdb_dir, err);
	for (size_t t = 0; t < n_tables; t++) {
		struct lmdb_rows rows = { 0 };
		struct scan_arg s = { .table = (unsigned)t, .rows = &rows };

		if (t == skip)
			continue;
		snprintf(name, sizeof(name), "%s_%s", component, tables[t]);
		snprintf(sql, sizeof(sql), "SELECT k, v FROM %s ORDER BY k", name);
		rows.pg = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 1);
		if (PQresultStatus(rows.pg) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", name, PQerrorMessage(pg));
		do {
			s.seen = 0;
			assert_int_equal(store_read(st, scan_some, &s), STORE_OK);
		} while (s.seen == STORE_SCAN_MAX);
		if (rows.mismatched || rows.n != PQntuples(rows.pg))
			fail_msg("%s: %ld rows in LMDB, %d in PostgreSQL, %ld differ", name, rows.n,
				 PQntuples(rows.pg), rows.mismatched);
		if (printed(name) != rows.n)
			fail_msg("%s: copy printed %ld, LMDB holds %ld", name, printed(name),
				 rows.n);
		total += rows.n;
		PQclear(rows.pg);
	}
	store_close(st);
	return total;
}

static void every_row_is_in_the_database_byte_for_byte(void **state)
{
	static const char *const apps_tables[APPS_T_COUNT] = { APPS_STORE_TABLES };
	char dir[600];
	PGconn *pg = db();
	long host_rows, apps_rows;

	(void)state;
	assert_non_null(pg);
	snprintf(dir, sizeof(dir), "%s/host", data_dir);
	host_rows = compare_component(pg, "host", dir, host_store_tables, HOST_T_COUNT,
				      HOST_T_STORE_COPY);
	snprintf(dir, sizeof(dir), "%s/plugins/%s/%s", data_dir, APPS_PLUGIN_ID, APPS_STORE_DIR);
	apps_rows = compare_component(pg, APPS_STORE_COMPONENT, dir, apps_tables, APPS_T_COUNT,
				      APPS_T_COUNT);
	PQfinish(pg);
	/* The node's data is there, not only empty tables: admin, USER and
	 * the App's bot; their sessions and the token; the App; the data. */
	assert_int_equal(printed("host_users"), 3);
	assert_true(printed("host_sessions") >= 3);
	assert_int_equal(printed("apps_apps"), 1);
	assert_int_equal(printed("apps_oauth2_user"), 1);
	assert_true(strstr(copy_out, "copied ") != NULL);
	fprintf(stderr, "compared %ld host rows and %ld plugin rows\n", host_rows, apps_rows);
}

/* Every key and value of every table, as bytes, searched for secrets. */
static void no_secret_is_in_the_database_in_clear(void **state)
{
	PGconn *pg = db();
	PGresult *tables;
	char *all = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(pg);
	tables = PQexec(pg, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND "
			    "tablename <> 'store_schema'");
	assert_int_equal(PQresultStatus(tables), PGRES_TUPLES_OK);
	assert_true(PQntuples(tables) >= HOST_T_COUNT + APPS_T_COUNT);
	for (int t = 0; t < PQntuples(tables); t++) {
		char sql[160];
		PGresult *r;
		snprintf(sql, sizeof(sql), "SELECT k, v FROM %s", PQgetvalue(tables, t, 0));
		r = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 1);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		for (int i = 0; i < PQntuples(r); i++)
			for (int c = 0; c < 2; c++) {
				size_t n = (size_t)PQgetlength(r, i, c);
				all = realloc(all, len + n + 1);
				assert_non_null(all);
				memcpy(all + len, PQgetvalue(r, i, c), n);
				len += n;
				all[len++] = '\n';
			}
		PQclear(r);
	}
	PQclear(tables);
	PQfinish(pg);
	assert_false(holds(all, len, tag, strlen(tag)));
	assert_false(holds(all, len, CLIENT_SECRET, strlen(CLIENT_SECRET)));
	assert_false(holds(all, len, app_secret, strlen(app_secret)));
	assert_false(holds(all, len, USER_PW, strlen(USER_PW)));
	assert_false(holds(all, len, "admin-password", 14));
	assert_false(holds(all, len, world.admin_tok, strlen(world.admin_tok)));
	assert_false(holds(all, len, user_tok, strlen(user_tok)));
	assert_false(holds(all, len, pat, strlen(pat)));
	assert_false(holds(all, len, acting, strlen(acting)));
	/* ...while the data is there: users by name. */
	assert_true(holds(all, len, USER, strlen(USER)));
	free(all);
}

#define URL_PASSWORD "pw-in-the-url"

static void a_second_copy_is_refused_as_not_empty(void **state)
{
	char to[600], *out = NULL, *at = strstr(url, "@");
	int code;

	(void)state;
	/* The same database, with a password in the URI (the test cluster
	 * trusts local connections and ignores it): never printed. */
	assert_non_null(at);
	snprintf(to, sizeof(to), "%.*s:" URL_PASSWORD "%s", (int)(at - url), url, at);
	code = run_copy_to(to, &out);
	assert_int_equal(code, 1);
	if (!strstr(out, "not empty") || !strstr(out, "nothing was written"))
		fail_msg("%s", out);
	assert_null(strchr(strchr(out, '\n') + 1, '\n')); /* one line */
	assert_null(strstr(out, URL_PASSWORD));
	free(out);
}

/* An interrupted copy, as the database holds it: the marker the copy's
 * first transaction wrote, and part of the rows (the host's not yet in). */
static void interrupt_the_copy(void)
{
	PGconn *pg = db();
	PGresult *r;

	assert_non_null(pg);
	r = PQexec(pg, "BEGIN; INSERT INTO host_store_copy VALUES ('" HOST_COPY_UNFINISHED
		       "'::bytea, ''::bytea); DELETE FROM host_users; DELETE FROM host_sessions; "
		       "COMMIT");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(pg);
}

static void an_interrupted_copy_stops_nodes_and_runs_again(void **state)
{
	char dir[256], cfg[320], text[800], data[320], *out = NULL;
	int code;

	(void)state;
	interrupt_the_copy();
	assert_int_equal(ts_tempdir("copy-cfg", dir, sizeof(dir)), 0);
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(text, sizeof(text), "{\"store\":{\"backend\":\"postgres\",\"url\":\"%s\"}}\n",
		 url);
	assert_int_equal(ts_write_file(cfg, text, 0600), 0);
	/* Neither a node nor an admin command works on half the data. */
	{
		/* Bounded: a node that started would serve until killed. */
		const char *argv[] = { "/usr/bin/timeout",
				       "20",
				       MMHOST_BIN,
				       "serve",
				       "--config",
				       cfg,
				       "--data-dir",
				       data,
				       "--listen",
				       "127.0.0.1:0",
				       "--plugin-dir",
				       world.plugins,
				       NULL };
		assert_int_equal(ts_run(argv, &code, &out), 0);
		assert_int_equal(code, 1);
		if (!strstr(out, "unfinished mmhost store copy") || !strstr(out, "run the same"))
			fail_msg("serve: %s", out);
		free(out);
	}
	{
		const char *argv[] = { MMHOST_BIN, "user", "list", "--config", cfg, NULL };
		assert_int_equal(ts_run(argv, &code, &out), 0);
		assert_int_equal(code, 1);
		assert_non_null(strstr(out, "unfinished mmhost store copy"));
		free(out);
	}
	ts_rmtree(dir);
	/* The same copy again finds it, empties it and copies it all. */
	free(copy_out);
	copy_out = NULL;
	code = run_copy(&copy_out);
	if (code != 0 || !strstr(copy_out, "starting over"))
		fail_msg("copy again: exit %d: %s", code, copy_out);
	assert_int_equal(printed("host_users"), 3);
	assert_int_equal(printed("apps_apps"), 1);
	every_row_is_in_the_database_byte_for_byte(state);
}

/* A node on the database, with the copied node's master key file. */
static void start_on_database(struct ts_host *h, char *cfg_dir, size_t cap)
{
	char cfg[700], new_data[700], key_from[700], key_to[800], text[800];

	assert_int_equal(ts_tempdir("copy-node", cfg_dir, cap), 0);
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", cfg_dir);
	snprintf(text, sizeof(text), "{\"store\":{\"backend\":\"postgres\",\"url\":\"%s\"}}\n",
		 url);
	assert_int_equal(ts_write_file(cfg, text, 0600), 0);
	snprintf(new_data, sizeof(new_data), "%s/data/plugins/%s", cfg_dir, APPS_PLUGIN_ID);
	snprintf(key_to, sizeof(key_to), "%s/master.key", new_data);
	snprintf(key_from, sizeof(key_from), "%s/plugins/%s/master.key", data_dir, APPS_PLUGIN_ID);
	assert_int_equal(fs_mkdir_p(new_data, 0700), 0);
	assert_int_equal(ts_copy_file(key_from, key_to, 0600), 0);
	snprintf(new_data, sizeof(new_data), "%s/data", cfg_dir);
	{
		const char *extra[] = { "--config", cfg, "--data-dir", new_data, NULL };
		assert_int_equal(ts_host_start(h, world.plugins, extra), 0);
	}
}

static void a_node_on_the_copy_serves_the_hosts_data(void **state)
{
	struct ts_host *n = &node;
	struct ts_resp r;
	char cfg_dir[256], tok[64];

	(void)state;
	start_on_database(n, cfg_dir, sizeof(cfg_dir));
	/* The copied user logs in with the copied password hash. */
	assert_int_equal(ts_login(n->base_url, USER, USER_PW, tok, sizeof(tok)), 200);
	/* The copied personal token, and the copied session. */
	r = ts_api(n->base_url, "GET", "/api/v4/users/me", pat, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, user_id));
	ts_resp_free(&r);
	r = ts_api(n->base_url, "GET", "/api/v4/users/me", world.admin_tok, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, world.admin_id));
	ts_resp_free(&r);
	/* A wrong password is still wrong: the hash moved, not a bypass. */
	assert_int_equal(ts_login(n->base_url, USER, "not-the-password", NULL, 0), 401);
	assert_int_equal(ts_host_stop(n), 0);
	ts_rmtree(cfg_dir);
}

static void a_node_on_the_copy_serves_the_plugins_data(void **state)
{
	struct ts_host *n = &node;
	struct ts_resp r;
	char cfg_dir[256], why[400];
	bool ok;

	(void)state;
	start_on_database(n, cfg_dir, sizeof(cfg_dir));
	/* The App, with its client (the secret is never answered). */
	r = ts_api(n->base_url, "GET", P "/api/v1/apps/" APP, world.admin_tok, NULL);
	ok = r.status == 200 && strstr(r.body, "\"client_id\":\"copy-client\"");
	snprintf(why, sizeof(why), "GET the App: %ld %.300s", r.status, r.body ? r.body : "");
	ts_resp_free(&r);
	if (!ok)
		fail_msg("%s", why);
	/* USER's OAuth2 data, as the App acting for USER, byte for byte. */
	r = ts_api(n->base_url, "GET", P "/api/v1/oauth2/user", acting, NULL);
	ok = r.status == 200 && r.body_len == strlen(user_value) &&
	     memcmp(r.body, user_value, r.body_len) == 0;
	snprintf(why, sizeof(why), "GET oauth2/user: %ld %.300s", r.status, r.body ? r.body : "");
	ts_resp_free(&r);
	if (!ok)
		fail_msg("%s", why);
	assert_int_equal(ts_host_stop(n), 0);
	ts_rmtree(cfg_dir);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest host_tests[] = {
		cmocka_unit_test(every_row_is_in_the_database_byte_for_byte),
		cmocka_unit_test(no_secret_is_in_the_database_in_clear),
		cmocka_unit_test(a_second_copy_is_refused_as_not_empty),
		cmocka_unit_test(an_interrupted_copy_stops_nodes_and_runs_again),
		cmocka_unit_test(a_node_on_the_copy_serves_the_hosts_data),
	};
	const struct CMUnitTest plugin_tests[] = {
		cmocka_unit_test(a_node_on_the_copy_serves_the_plugins_data),
	};

	if (sodium_init() < 0)
		return 1;
	if (argc == 2 && strcmp(argv[1], "host") == 0)
		return cmocka_run_group_tests(host_tests, setup, teardown);
	if (argc == 2 && strcmp(argv[1], "plugin") == 0)
		return cmocka_run_group_tests(plugin_tests, setup, teardown);
	fprintf(stderr, "usage: test_store_copy host|plugin\n");
	return 2;
}
