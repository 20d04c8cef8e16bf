/* The pieces of the framework's token refresh that stand alone: when a
 * stored value is a token due for refresh (RFC 3339 as Go writes it), and
 * the store's compare-and-set and lease, with the semantics of store_cas
 * in common/store.h. Against a real plugin store in a temporary folder
 * (LMDB), or (argv[1] "postgres") in a fresh PostgreSQL database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apps_store.h"
#include "mm_id.h"
#include "pg_harness.h"
#include "testsupport.h"
#include "token_refresh.h"

#define APP "refresh-app"
#define USER "uuuuuuuuuuuuuuuuuuuuuuuuuu"

static struct apps_store st;
static struct sealer sealer;
static char dir[256];
static struct app_gate gate;
static struct store_config cfg; /* LMDB, or a fresh PostgreSQL database */

static int installed(const json_t *cur, void *arg, json_t **next)
{
	char install[MM_ID_LEN + 1];

	(void)cur;
	(void)arg;
	mm_id_new(install);
	*next = json_pack("{s:s, s:s, s:b, s:s, s:[s]}", "app_id", APP, "install_id", install,
			  "disabled", 0, "bot_user_id", "bbbbbbbbbbbbbbbbbbbbbbbbbb",
			  "granted_permissions", "remote_oauth2");
	return 0;
}

static int setup(void **state)
{
	unsigned char key[SEAL_MASTER_KEY_LEN] = { 7 };
	char err[256];

	(void)state;
	if (sodium_init() < 0 || ts_tempdir("token-refresh", dir, sizeof(dir)) != 0 ||
	    sealer_open_key(&sealer, key) != SEAL_OK ||
	    apps_store_open_backend(&st, &cfg, dir, &sealer, NULL, NULL, err, sizeof(err)) !=
		    STORE_OK ||
	    app_record_update(&st, APP, NULL, installed, NULL, NULL) != STORE_OK ||
	    app_gate_get(&st, APP, &gate) != STORE_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	apps_store_close(&st);
	sealer_close(&sealer);
	ts_rmtree(dir);
	return 0;
}

static void rfc3339_as_go_writes_it(void **state)
{
	static const struct {
		const char *text;
		int64_t want;
	} good[] = {
		{ "2026-12-02T10:00:00Z", 1796205600 },
		{ "2026-12-02T10:00:00.123456789Z", 1796205600 },
		{ "2026-12-02T11:30:00+01:30", 1796205600 },
		{ "2026-12-02T08:00:00.5-02:00", 1796205600 },
		{ "1970-01-01T00:00:00Z", 0 },
	};
	static const char *const bad[] = {
		"",
		"2026-12-02",
		"2026-12-02 10:00:00Z",
		"2026-12-02T10:00:00",
		"2026-12-02T10:00:00.Z",
		"2026-13-02T10:00:00Z",
		"2026-12-02T10:00:00+0100",
		"2026-12-02T10:00:00Zjunk",
		"yesterday",
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (rfc3339_parse(good[i].text, &t) != 0 || t != good[i].want)
			fail_msg("%s", good[i].text);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rfc3339_parse(bad[i], &t) == 0)
			fail_msg("%s parsed", bad[i]);
	}
	assert_int_equal(rfc3339_parse(NULL, &t), -1);
}

static void due_only_within_the_window(void **state)
{
	const int64_t now = 1796205600; /* 2026-12-02T10:00:00Z */
	static const struct {
		const char *json;
		bool due;
	} cases[] = {
		{ "{\"refresh_token\":\"r\",\"expiry\":\"2026-12-02T10:00:59Z\"}", true },
		{ "{\"refresh_token\":\"r\",\"expiry\":\"2026-12-02T10:01:00Z\"}", false },
		{ "{\"refresh_token\":\"r\",\"expiry\":\"2026-12-01T10:00:00Z\"}", true },
		{ "{\"refresh_token\":\"r\",\"expiry\":\"0001-01-01T00:00:00Z\"}", false },
		{ "{\"refresh_token\":\"\",\"expiry\":\"2026-12-02T10:00:00Z\"}", false },
		{ "{\"refresh_token\":7,\"expiry\":\"2026-12-02T10:00:00Z\"}", false },
		{ "{\"expiry\":\"2026-12-02T10:00:00Z\"}", false },
		{ "{\"refresh_token\":\"r\"}", false },
		{ "{\"refresh_token\":\"r\",\"expiry\":1796205600}", false },
		{ "[\"refresh_token\",\"expiry\"]", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		if (token_refresh_due(v, now) != cases[i].due)
			fail_msg("%s", cases[i].json);
		json_decref(v);
	}
}

static void cas_replaces_only_the_bytes_that_were_read(void **state)
{
	struct app_gate_expect e = { APP, gate.install_id, APP_NEED_OAUTH2 };
	unsigned char *sealed = NULL, *again = NULL;
	size_t sealed_len = 0, again_len = 0, len = 0;
	char *plain = NULL;

	(void)state;
	/* No record: a CAS expecting none creates it; one expecting bytes
	 * does not. */
	assert_int_equal(oauth2_user_cas(&st, &e, USER, (const unsigned char *)"x", 1, "{}", 2),
			 STORE_ESTALE);
	assert_int_equal(oauth2_user_cas(&st, &e, USER, NULL, 0, "{\"v\":1}", 7), STORE_OK);
	assert_int_equal(oauth2_user_cas(&st, &e, USER, NULL, 0, "{\"v\":9}", 7), STORE_ESTALE);
	assert_int_equal(oauth2_user_get_sealed(&st, APP, USER, &sealed, &sealed_len, &plain, &len),
			 0);
	assert_string_equal(plain, "{\"v\":1}");
	unseal_free(plain);
	/* The winner replaces the bytes it read; a loser holding the same
	 * bytes finds them gone. */
	assert_int_equal(oauth2_user_cas(&st, &e, USER, sealed, sealed_len, "{\"v\":2}", 7),
			 STORE_OK);
	assert_int_equal(oauth2_user_cas(&st, &e, USER, sealed, sealed_len, "{\"v\":3}", 7),
			 STORE_ESTALE);
	assert_int_equal(oauth2_user_get_sealed(&st, APP, USER, &again, &again_len, &plain, &len),
			 0);
	assert_string_equal(plain, "{\"v\":2}");
	unseal_free(plain);
	/* A delete by CAS, then nothing is there. */
	assert_int_equal(oauth2_user_cas(&st, &e, USER, sealed, sealed_len, NULL, 0), STORE_ESTALE);
	assert_int_equal(oauth2_user_cas(&st, &e, USER, again, again_len, NULL, 0), STORE_OK);
	assert_int_equal(oauth2_user_get(&st, APP, USER, &plain, &len), STORE_ENOTFOUND);
	/* Another install of the App: refused by the gate. */
	e.install_id = "iiiiiiiiiiiiiiiiiiiiiiiiii";
	assert_int_equal(oauth2_user_cas(&st, &e, USER, NULL, 0, "{}", 2), APP_GATE_REINSTALLED);
	free(sealed);
	free(again);
}

static void a_lease_is_one_holders_until_it_expires(void **state)
{
	unsigned char a[REFRESH_LEASE_HOLDER_LEN] = { 1 }, b[REFRESH_LEASE_HOLDER_LEN] = { 2 };

	(void)state;
	assert_int_equal(refresh_lease_take(&st, APP, USER, a, 1000, 500), STORE_OK);
	assert_int_equal(refresh_lease_take(&st, APP, USER, b, 1200, 500), STORE_EBUSY);
	assert_int_equal(refresh_lease_busy(&st, APP, USER, b, 1200), 1);
	assert_int_equal(refresh_lease_busy(&st, APP, USER, a, 1200), 0);
	assert_int_equal(refresh_lease_take(&st, APP, USER, a, 1200, 500), STORE_OK);
	/* Another user's lease is another row. */
	assert_int_equal(refresh_lease_take(&st, APP, "vvvvvvvvvvvvvvvvvvvvvvvvvv", b, 1200, 500),
			 STORE_OK);
	/* A's lease (renewed until 1700) expires: a holder that died. */
	assert_int_equal(refresh_lease_take(&st, APP, USER, b, 1699, 500), STORE_EBUSY);
	assert_int_equal(refresh_lease_busy(&st, APP, USER, b, 1701), 2);
	assert_int_equal(refresh_lease_take(&st, APP, USER, b, 1701, 500), STORE_OK);
	/* A late release by a leaves b's lease alone; b's own frees it. */
	assert_int_equal(refresh_lease_release(&st, APP, USER, a), STORE_OK);
	assert_int_equal(refresh_lease_take(&st, APP, USER, a, 1800, 500), STORE_EBUSY);
	assert_int_equal(refresh_lease_release(&st, APP, USER, b), STORE_OK);
	assert_int_equal(refresh_lease_take(&st, APP, USER, a, 1800, 500), STORE_OK);
	assert_int_equal(refresh_lease_release(&st, APP, USER, a), STORE_OK);
	assert_int_equal(refresh_lease_release(&st, APP, USER, a), STORE_OK);
	assert_int_equal(refresh_lease_busy(&st, APP, USER, b, 1800), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc3339_as_go_writes_it),
		cmocka_unit_test(due_only_within_the_window),
		cmocka_unit_test(cas_replaces_only_the_bytes_that_were_read),
		cmocka_unit_test(a_lease_is_one_holders_until_it_expires),
	};

	store_config_init(&cfg);
	if (argc > 1 && strcmp(argv[1], "postgres") == 0) {
		cfg.backend = STORE_BACKEND_POSTGRES;
		if (ts_pg_database("token_refresh", cfg.url, sizeof(cfg.url)) != 0)
			return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
