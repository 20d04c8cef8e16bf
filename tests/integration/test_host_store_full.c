/*
 * A full store against the real host: user creation, token creation and the
 * session a login saves each answer 507 api.store.full.app_error and log the
 * reason; what was stored before stays intact and the host keeps serving.
 *
 * A full disk without root: MMHOST_TEST_STORE_MAP_BYTES caps the host's LMDB
 * map (initial and maximum size) in every mmhost this test starts, so the
 * store fills after a few hundred records, the way it does on a full disk
 * or at the real map's maximum: LMDB refuses the write with MDB_MAP_FULL and
 * the transaction is aborted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "testsupport.h"

#define ADMIN_PW "admin-password-1"
#define MAP_BYTES "131072"
#define TOKENS_MAX 3000

static char plugins[256];

static int setup(void **state)
{
	(void)state;
	return ts_tempdir("full-plugins", plugins, sizeof(plugins));
}

static int teardown(void **state)
{
	(void)state;
	ts_rmtree(plugins);
	return 0;
}

static void expect_full(const struct ts_resp *r)
{
	json_t *j;

	if (r->status != 507)
		fail_msg("status %ld, wanted 507: %.300s", r->status, r->body);
	j = json_loadb(r->body, r->body_len, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")),
			    "api.store.full.app_error");
	assert_int_equal(json_integer_value(json_object_get(j, "status_code")), 507);
	json_decref(j);
}

/* Creates tokens with a description of len characters until one is 507;
 * the last token made goes to last. Returns how many were made. */
static int tokens_until_full(const struct ts_host *h, const char *tok, const char *user_id,
			     size_t len, char *last, size_t last_cap)
{
	char path[128], desc[300], body[400];
	struct ts_resp r;
	int n;

	memset(desc, 'd', len);
	desc[len] = '\0';
	snprintf(body, sizeof(body), "{\"description\":\"%s\"}", desc);
	snprintf(path, sizeof(path), "/api/v4/users/%s/tokens", user_id);
	for (n = 0; n < TOKENS_MAX; n++) {
		json_t *j;
		r = ts_api(h->base_url, "POST", path, tok, body);
		if (r.status != 200)
			break;
		j = json_loadb(r.body, r.body_len, 0, NULL);
		snprintf(last, last_cap, "%s", json_string_value(json_object_get(j, "token")));
		json_decref(j);
		ts_resp_free(&r);
	}
	if (n == TOKENS_MAX)
		fail_msg("the store never filled (%d tokens)", n);
	expect_full(&r);
	ts_resp_free(&r);
	return n;
}

/*
 * How full is full: LMDB copies every page a write touches, so a write needs
 * free pages even when it adds little, and a write that splits a page needs
 * one more. Once tokens fill the sessions' pages, a write may still fit
 * where a page has room; so each operation below is repeated until the store
 * refuses it, a few times at most.
 */
static void a_full_store_is_507_and_keeps_what_it_had(void **state)
{
	char data_dir[320], admin_id[32], tok[64], first[64], last[64] = "", failed_user[32] = "",
							      body[256];
	struct ts_host h;
	struct ts_resp r;
	char *out = NULL;
	int code = 0;

	(void)state;
	setenv("MMHOST_TEST_STORE_MAP_BYTES", MAP_BYTES, 1);
	assert_int_equal(ts_host_start(&h, plugins, NULL), 0);
	snprintf(data_dir, sizeof(data_dir), "%s/data", h.dir);
	assert_int_equal(ts_create_user(data_dir, "admin", ADMIN_PW, 1, admin_id), 0);
	assert_int_equal(ts_login(h.base_url, "admin", ADMIN_PW, tok, sizeof(tok)), 200);
	snprintf(first, sizeof(first), "%s", tok);

	/* Personal access tokens until the store is full, then small ones. */
	assert_true(tokens_until_full(&h, tok, admin_id, 250, last, sizeof(last)) > 0);
	assert_true(ts_host_wait_log(&h, "store full op=token_create", 5000));
	assert_true(ts_host_log_has(&h, "MDB_MAP_FULL"));
	(void)tokens_until_full(&h, tok, admin_id, 1, last, sizeof(last));

	/* Users: the one refused is not half made (checked after a restart). */
	for (int i = 0; i < 40 && !failed_user[0]; i++) {
		snprintf(body, sizeof(body),
			 "{\"username\":\"u%d\",\"email\":\"u%d@example.com\","
			 "\"password\":\"u-password\"}",
			 i, i);
		r = ts_api(h.base_url, "POST", "/api/v4/users", tok, body);
		if (r.status != 201) {
			expect_full(&r);
			snprintf(failed_user, sizeof(failed_user), "u%d", i);
		}
		ts_resp_free(&r);
	}
	assert_true(failed_user[0] != '\0');
	assert_true(ts_host_wait_log(&h, "store full op=user_create", 5000));

	/* The session a login saves. */
	for (int i = 0; i < 100; i++) {
		r = ts_api(h.base_url, "POST", "/api/v4/users/login", NULL,
			   "{\"login_id\":\"admin\",\"password\":\"" ADMIN_PW "\"}");
		if (r.status != 200)
			break;
		ts_resp_free(&r);
	}
	expect_full(&r);
	assert_int_not_equal(ts_resp_header(&r, "Token", body, sizeof(body)), 0);
	ts_resp_free(&r);
	assert_true(ts_host_wait_log(&h, "store full op=login", 5000));

	/* The command line says so too. */
	for (int i = 0; i < 20 && code == 0; i++) {
		char name[32];
		const char *cli_user[] = { "user",       "create",        "--username", name,
					   "--password", "late-password", NULL };
		snprintf(name, sizeof(name), "late%d", i);
		free(out);
		out = NULL;
		code = ts_cli(data_dir, cli_user, &out);
	}
	assert_int_equal(code, 1);
	assert_non_null(strstr(out, "the store is full"));
	free(out);

	/* What was stored before still works; the host still serves. */
	r = ts_api(h.base_url, "GET", "/api/v4/users/me", first, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = ts_api(h.base_url, "GET", "/api/v4/users/me", last, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);

	/* With room again, nothing half written shows. */
	unsetenv("MMHOST_TEST_STORE_MAP_BYTES");
	assert_int_equal(ts_host_restart(&h, plugins, NULL), 0);
	assert_int_equal(ts_login(h.base_url, failed_user, "u-password", NULL, 0), 401);
	assert_int_equal(ts_login(h.base_url, "admin", ADMIN_PW, NULL, 0), 200);
	r = ts_api(h.base_url, "GET", "/api/v4/users/me", last, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	assert_int_equal(ts_host_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_full_store_is_507_and_keeps_what_it_had),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
