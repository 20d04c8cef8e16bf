/* App gates: the encoding, the verdicts, and the store functions that keep
 * writes from outliving the App they were checked against. Against a real
 * plugin store in a temporary folder (LMDB), or (argv[1] "postgres") in a
 * fresh PostgreSQL database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apps_store.h"
#include "pg_harness.h"
#include "state_store.h"
#include "testsupport.h"

#define USER "uuuuuuuuuuuuuuuuuuuuuuuuuu"

static struct apps_store st;
static struct sealer sealer;
static char dir[256];
static struct store_config cfg; /* LMDB, or a fresh PostgreSQL database */

static int open_store(void)
{
	char err[256];

	if (apps_store_open_backend(&st, &cfg, dir, &sealer, NULL, NULL, err, sizeof(err)) ==
	    STORE_OK)
		return 0;
	fprintf(stderr, "open: %s\n", err);
	return -1;
}

static int setup(void **state)
{
	unsigned char key[SEAL_MASTER_KEY_LEN] = { 9 };

	(void)state;
	if (sodium_init() < 0 || ts_tempdir("app-gate", dir, sizeof(dir)) != 0 ||
	    sealer_open_key(&sealer, key) != SEAL_OK)
		return -1;
	return open_store();
}

static int teardown(void **state)
{
	(void)state;
	apps_store_close(&st);
	sealer_close(&sealer);
	ts_rmtree(dir);
	return 0;
}

struct fresh {
	const char *app_id;
	const char *perm;
};

static int fresh_record(const json_t *cur, void *arg, json_t **next)
{
	const struct fresh *f = arg;
	char install[MM_ID_LEN + 1];

	if (cur) {
		*next = json_deep_copy(cur);
		return 0;
	}
	mm_id_new(install);
	*next = json_pack("{s:s, s:s, s:b, s:s, s:[s]}", "app_id", f->app_id, "install_id", install,
			  "disabled", 0, "bot_user_id", "bbbbbbbbbbbbbbbbbbbbbbbbbb",
			  "granted_permissions", f->perm);
	return 0;
}

static void install(const char *app_id, const char *perm, struct app_gate *g)
{
	struct fresh f = { app_id, perm };

	assert_int_equal(app_record_update(&st, app_id, NULL, fresh_record, &f, NULL), 0);
	assert_int_equal(app_gate_get(&st, app_id, g), 0);
}

static int set_disabled(const json_t *cur, void *arg, json_t **next)
{
	if (!cur)
		return STORE_ENOTFOUND;
	*next = json_deep_copy(cur);
	json_object_set_new(*next, "disabled", json_boolean(*(bool *)arg));
	return 0;
}

static void gates_encode_and_decode(void **state)
{
	struct app_gate g = { .app_id = "Some.App-1",
			      .install_id = "ybndrfg8ejkmcpqxot1uwisza3",
			      .bot_user_id = "bbbbbbbbbbbbbbbbbbbbbbbbbb",
			      .gen = 0x0102030405060708ull,
			      .disabled = true,
			      .remote_oauth2 = true },
			out;
	unsigned char buf[APP_GATE_MAX];
	char key[APP_ID_MAX];
	size_t n = app_gate_encode(&g, buf);

	(void)state;
	assert_int_equal(app_gate_decode(buf, n, &out), 0);
	assert_memory_equal(&g, &out, sizeof(g));
	/* Truncated, padded, another version: refused. */
	assert_int_equal(app_gate_decode(buf, n - 1, &out), -1);
	assert_int_equal(app_gate_decode(buf, n + 1, &out), -1);
	buf[0] = 2;
	assert_int_equal(app_gate_decode(buf, n, &out), -1);
	assert_int_equal(app_gate_key("Some.App-1", key), 10);
	assert_memory_equal(key, "some.app-1", 10);
}

static void verdicts_come_in_order(void **state)
{
	struct app_gate g = { .app_id = "app", .install_id = "ybndrfg8ejkmcpqxot1uwisza3" };
	struct app_gate_expect e = { "app", "ybndrfg8ejkmcpqxot1uwisza3",
				     APP_NEED_ENABLED | APP_NEED_OAUTH2 };

	(void)state;
	assert_int_equal(app_gate_judge(NULL, &e), APP_GATE_GONE);
	g.disabled = true;
	assert_int_equal(app_gate_judge(&g, &e), APP_GATE_DISABLED);
	g.disabled = false;
	assert_int_equal(app_gate_judge(&g, &e), APP_GATE_NOT_GRANTED);
	g.remote_oauth2 = true;
	assert_int_equal(app_gate_judge(&g, &e), APP_GATE_OK);
	e.install_id = "ybndrfg8ejkmcpqxot1uwisza4";
	assert_int_equal(app_gate_judge(&g, &e), APP_GATE_REINSTALLED);
	e.install_id = NULL;
	assert_int_equal(app_gate_judge(&g, &e), APP_GATE_OK);
	e.app_id = "APP"; /* another App */
	assert_int_equal(app_gate_judge(&g, &e), APP_GATE_GONE);
}

static void the_gate_follows_the_record(void **state)
{
	struct app_gate g, after;
	bool yes = true, no = false;

	(void)state;
	install("follow-app", "remote_oauth2", &g);
	assert_int_equal(g.gen, 1);
	assert_false(g.disabled);
	assert_true(g.remote_oauth2);
	assert_string_equal(g.bot_user_id, "bbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_int_equal(app_record_update(&st, "follow-app", NULL, set_disabled, &yes, NULL), 0);
	assert_int_equal(app_gate_get(&st, "follow-app", &after), 0);
	assert_true(after.disabled);
	assert_int_equal(after.gen, 2);
	assert_string_equal(after.install_id, g.install_id);
	/* A write that changes nothing in the gate keeps its gen. */
	assert_int_equal(app_record_update(&st, "follow-app", NULL, set_disabled, &yes, NULL), 0);
	assert_int_equal(app_gate_get(&st, "follow-app", &after), 0);
	assert_int_equal(after.gen, 2);
	assert_int_equal(app_record_update(&st, "follow-app", NULL, set_disabled, &no, NULL), 0);
	assert_int_equal(app_gate_get(&st, "follow-app", &after), 0);
	assert_int_equal(after.gen, 3);
}

static void ids_are_unique_whatever_their_case(void **state)
{
	struct fresh f = { "CASE-GATE", "act_as_bot" };
	struct app_gate g;
	bool yes = true;

	(void)state;
	install("case-gate", "act_as_bot", &g);
	assert_int_equal(app_record_update(&st, "CASE-GATE", NULL, fresh_record, &f, NULL),
			 STORE_ECONFLICT);
	assert_int_equal(app_record_update(&st, "Case-Gate", NULL, set_disabled, &yes, NULL),
			 STORE_ECONFLICT);
	assert_int_equal(app_gate_get(&st, "CASE-GATE", &g), STORE_ECONFLICT);
	assert_string_equal(g.app_id, "case-gate");
	/* Uninstalling another spelling leaves the App and its gate. */
	assert_int_equal(apps_store_delete_app(&st, "CASE-GATE", NULL, NULL), STORE_ENOTFOUND);
	assert_int_equal(app_gate_get(&st, "case-gate", &g), 0);
	assert_false(g.disabled);
}

static void writes_checked_before_an_uninstall_are_refused(void **state)
{
	struct app_gate g, again;
	struct app_gate_expect e;
	unsigned char hash[STATE_HASH_LEN] = { 1 };
	char *data;
	size_t len, users = 0;

	(void)state;
	install("gone-app", "remote_oauth2", &g);
	e = (struct app_gate_expect){ "gone-app", g.install_id,
				      APP_NEED_ENABLED | APP_NEED_OAUTH2 };
	assert_int_equal(oauth2_user_put(&st, &e, USER, "\"v1\"", 4), 0);
	assert_int_equal(oauth2_user_read(&st, &e, USER, &data, &len), 0);
	assert_memory_equal(data, "\"v1\"", 4);
	unseal_free(data);
	assert_int_equal(apps_store_delete_app(&st, "gone-app", &users, NULL), 0);
	assert_int_equal(users, 1);
	assert_int_equal(app_gate_get(&st, "gone-app", &again), STORE_ENOTFOUND);
	/* What was checked against the old install no longer lands. */
	assert_int_equal(oauth2_user_put(&st, &e, USER, "\"v2\"", 4), APP_GATE_GONE);
	assert_int_equal(oauth2_user_del(&st, &e, USER), APP_GATE_GONE);
	assert_int_equal(oauth2_state_create(&st, hash, "gone-app", g.install_id, USER, "verifier",
					     1000, 60000, 20, NULL),
			 APP_GATE_GONE);
	/* Installed again: a new install, and still nothing of the old one. */
	install("gone-app", "remote_oauth2", &again);
	assert_string_not_equal(again.install_id, g.install_id);
	assert_int_equal(oauth2_user_put(&st, &e, USER, "\"v3\"", 4), APP_GATE_REINSTALLED);
	assert_int_equal(oauth2_user_read(&st, &e, USER, &data, &len), APP_GATE_REINSTALLED);
	assert_int_equal(oauth2_user_get(&st, "gone-app", USER, &data, &len), STORE_ENOTFOUND);
	e.install_id = again.install_id;
	assert_int_equal(oauth2_user_read(&st, &e, USER, &data, &len), STORE_ENOTFOUND);
}

static void disabled_and_not_granted_apps_take_no_writes(void **state)
{
	struct app_gate g;
	struct app_gate_expect e;
	bool yes = true;
	char *data;
	size_t len;

	(void)state;
	install("no-grant", "act_as_user", &g);
	e = (struct app_gate_expect){ "no-grant", g.install_id,
				      APP_NEED_ENABLED | APP_NEED_OAUTH2 };
	assert_int_equal(oauth2_user_put(&st, &e, USER, "1", 1), APP_GATE_NOT_GRANTED);
	install("off-app", "remote_oauth2", &g);
	e = (struct app_gate_expect){ "off-app", g.install_id, APP_NEED_ENABLED | APP_NEED_OAUTH2 };
	assert_int_equal(oauth2_user_put(&st, &e, USER, "1", 1), 0);
	assert_int_equal(app_record_update(&st, "off-app", NULL, set_disabled, &yes, NULL), 0);
	assert_int_equal(oauth2_user_put(&st, &e, USER, "2", 1), APP_GATE_DISABLED);
	/* An update expecting the App enabled is refused too, and changes
	 * nothing. */
	assert_int_equal(app_record_update(&st, "off-app", &e, set_disabled, &yes, NULL),
			 APP_GATE_DISABLED);
	assert_int_equal(oauth2_user_get(&st, "off-app", USER, &data, &len), 0);
	assert_memory_equal(data, "1", 1);
	unseal_free(data);
}

/* An App record as the first release wrote it: no install_id, no gate. */
static int legacy_put(struct store_txn *txn, void *arg)
{
	const char *text = "{\"app_id\":\"Old-App\",\"disabled\":true,"
			   "\"granted_permissions\":[\"remote_oauth2\"]}";
	unsigned char *sealed;
	size_t len;
	int rc;

	(void)arg;
	if (seal_record(st.sealer, "apps", "Old-App", 7, text, strlen(text), &sealed, &len) != 0)
		return STORE_ENOMEM;
	rc = store_put(txn, APPS_T_APPS, "Old-App", 7, sealed, len, 0);
	free(sealed);
	return rc;
}

static void apps_installed_before_gates_get_one_at_open(void **state)
{
	struct app_gate g;
	json_t *rec;

	(void)state;
	assert_int_equal(store_write(st.db, legacy_put, NULL), 0);
	assert_int_equal(app_gate_get(&st, "Old-App", &g), STORE_ENOTFOUND);
	apps_store_close(&st);
	assert_int_equal(open_store(), 0);
	assert_int_equal(app_gate_get(&st, "Old-App", &g), 0);
	assert_true(g.disabled);
	assert_true(g.remote_oauth2);
	assert_int_equal(g.gen, 1);
	assert_int_equal(app_record_get(&st, "Old-App", &rec), 0);
	assert_string_equal(json_string_value(json_object_get(rec, "install_id")), g.install_id);
	json_decref(rec);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gates_encode_and_decode),
		cmocka_unit_test(verdicts_come_in_order),
		cmocka_unit_test(the_gate_follows_the_record),
		cmocka_unit_test(ids_are_unique_whatever_their_case),
		cmocka_unit_test(writes_checked_before_an_uninstall_are_refused),
		cmocka_unit_test(disabled_and_not_granted_apps_take_no_writes),
		cmocka_unit_test(apps_installed_before_gates_get_one_at_open),
	};
	store_config_init(&cfg);
	if (argc > 1 && strcmp(argv[1], "postgres") == 0) {
		cfg.backend = STORE_BACKEND_POSTGRES;
		if (ts_pg_database("app_gate", cfg.url, sizeof(cfg.url)) != 0)
			return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
