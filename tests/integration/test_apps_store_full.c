/*
 * The plugin's store on a full disk: a write is answered 507
 * api.store.full.app_error, the log says why (ENOSPC), the old value stays,
 * reads go on, and writes work again once there is room. The disk is made
 * full for the plugin's data file alone by an LD_PRELOAD library
 * (tests/support/full_disk.c) while a flag file exists.
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

#include "apps_world.h"

#define P TS_APPS
#define FULL "api.store.full.app_error"

static struct ts_world world;
static char flag_dir[256], flag[300];
static char user_tok[64], acting[64], bot[64];

static struct ts_resp api(const char *method, const char *path, const char *token, const char *body)
{
	return ts_api(world.host.base_url, method, path, token, body);
}

static void expect(struct ts_resp r, long status, const char *needle, const char *what)
{
	if (r.status != status)
		fail_msg("%s: status %ld, wanted %ld: %.300s", what, r.status, status, r.body);
	if (needle && !strstr(r.body, needle))
		fail_msg("%s: %.300s lacks %s", what, r.body, needle);
	ts_resp_free(&r);
}

static int setup(void **state)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[512];

	(void)state;
	if (ts_tempdir("full-flag", flag_dir, sizeof(flag_dir)) != 0)
		return -1;
	snprintf(flag, sizeof(flag), "%s/disk-is-full", flag_dir);
	/* Every process started from here on (the host) writes through it. */
	setenv("MM_TEST_FULL_FLAG", flag, 1);
	setenv("MM_TEST_FULL_MATCH", "/plugins/com.mattermost.apps/store/data.mdb", 1);
	setenv("LD_PRELOAD", FULL_DISK_PRELOAD, 1);
	snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0", asan ? asan : "",
		 asan && *asan ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	if (ts_world_start(&world, NULL, 0, NULL) != 0 ||
	    ts_world_user(&world, "user", 0, user_tok, NULL) != 0 ||
	    ts_world_install(&world, "full-app", TS_ALL_PERMS, NULL) != 0 ||
	    ts_app_tokens(world.host.base_url, user_tok, "full-app", bot, acting, NULL) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(flag);
	ts_rmtree(flag_dir);
	return ts_world_stop(&world);
}

static void a_full_disk_is_507_and_changes_nothing(void **state)
{
	(void)state;
	expect(api("PUT", P "/api/v1/oauth2/user", acting, "{\"v\":\"old\"}"), 200, NULL, "old");
	expect(api("PUT", P "/api/v1/oauth2/app", bot, "{\"client_id\":\"old-client\"}"), 200, NULL,
	       "old client");
	assert_int_equal(ts_write_file(flag, "", 0600), 0);

	expect(api("PUT", P "/api/v1/oauth2/user", acting, "{\"v\":\"new\"}"), 507, FULL,
	       "user write on a full disk");
	expect(api("DELETE", P "/api/v1/oauth2/user", acting, NULL), 507, FULL,
	       "user delete on a full disk");
	expect(api("PUT", P "/api/v1/oauth2/app", bot, "{\"client_id\":\"new-client\"}"), 507, FULL,
	       "app write on a full disk");
	expect(api("POST", P "/api/v1/disable-app", world.admin_tok, "{\"app_id\":\"full-app\"}"),
	       507, FULL, "disable on a full disk");
	assert_true(ts_host_wait_log(&world.host, "the disk is full (ENOSPC)", 5000));
	/* The flow cannot save its state: a page saying so, 507. */
	{
		char url[256];
		struct ts_browser b;
		struct ts_resp r;
		assert_int_equal(ts_browser_init(&b), 0);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d", world.host.port);
		assert_int_equal(ts_browser_login(&b, url, "user", "user-password", NULL, &r), 0);
		assert_int_equal(r.status, 200);
		ts_resp_free(&r);
		snprintf(url, sizeof(url),
			 "http://127.0.0.1:%d" P "/apps/full-app/oauth2/remote/connect",
			 world.host.port);
		assert_int_equal(ts_browser_go(&b, url, NULL, &r), 0);
		if (r.status != 507 || !strstr(r.body, "could not start the connection"))
			fail_msg("connect on a full disk: %ld %.200s", r.status, r.body);
		ts_resp_free(&r);
		ts_browser_free(&b);
	}
	/* Reads need no room: the old values are there. */
	expect(api("GET", P "/api/v1/oauth2/user", acting, NULL), 200, "{\"v\":\"old\"}",
	       "read on a full disk");
	expect(api("GET", P "/api/v1/apps/full-app", world.admin_tok, NULL), 200,
	       "\"disabled\":false", "the App is still enabled");

	/* Room again: writes work. */
	assert_int_equal(unlink(flag), 0);
	expect(api("PUT", P "/api/v1/oauth2/user", acting, "{\"v\":\"new\"}"), 200, NULL,
	       "write after");
	expect(api("GET", P "/api/v1/oauth2/user", acting, NULL), 200, "{\"v\":\"new\"}",
	       "read after");
	{
		struct ts_resp r =
			api("POST", P "/api/v1/call", user_tok,
			    "{\"path\":\"/echo\",\"expand\":{\"oauth2_app\":\"summary\"},"
			    "\"context\":{\"app_id\":\"full-app\"}}");
		expect(r, 200, "\"client_id\":\"old-client\"", "the client is the old one");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_full_disk_is_507_and_changes_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
