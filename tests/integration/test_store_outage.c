/*
 * The plugin with its PostgreSQL database gone: a private cluster is
 * stopped under the plugin's routes, then frozen (SIGSTOP: connections stay
 * open and nothing answers). The plugin's routes answer 503
 * api.store.unavailable.app_error (never hang, never another error), both
 * pings answer, and once the database is back requests succeed again
 * without a restart and every write that was acknowledged with a 200 is
 * there.
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
#include "pg_harness.h"

#define P TS_APPS
#define USERS 8
#define UNAVAILABLE "api.store.unavailable.app_error"

static struct ts_world world;
static char cfg_dir[256], pstate[320];
static char acting[USERS][64];
/* The value each user's last acknowledged write stored ("" when none). */
static char acked[USERS][96];

static int setup(void **state)
{
	char url[512], cfg[320], text[700];

	(void)state;
	if (ts_tempdir("outage", cfg_dir, sizeof(cfg_dir)) != 0)
		return -1;
	snprintf(pstate, sizeof(pstate), "%s/pg.state", cfg_dir);
	if (ts_pg_private_start(pstate) != 0 ||
	    ts_pg_private_url(pstate, "outage", url, sizeof(url)) != 0)
		return -1;
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", cfg_dir);
	snprintf(text, sizeof(text), "{\"store\":{\"backend\":\"postgres\",\"url\":\"%s\"}}", url);
	if (ts_write_file(cfg, text, 0600) != 0)
		return -1;
	ts_use_config(cfg);
	if (ts_world_start(&world, NULL, 0, NULL) != 0 ||
	    ts_world_install(&world, "outage-app", TS_ALL_PERMS, NULL) != 0 ||
	    ts_world_app_users(&world, "outage-app", "olga", USERS, acting) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_world_stop(&world);
	ts_pg_private_stop(pstate);
	ts_rmtree(cfg_dir);
	return rc;
}

static struct ts_resp api(const char *method, const char *path, const char *token, const char *body)
{
	return ts_api(world.host.base_url, method, path, token, body);
}

/* One write per user, value "<round>-<i>"; a 200 is remembered as
 * acknowledged, a 503 must say why; nothing else is allowed. */
static int write_round(int round)
{
	int ok = 0;

	for (int i = 0; i < USERS; i++) {
		char value[64], body[96];
		struct ts_resp r;

		snprintf(value, sizeof(value), "%d-%d", round, i);
		snprintf(body, sizeof(body), "\"%s\"", value);
		r = api("PUT", P "/api/v1/oauth2/user", acting[i], body);
		if (r.status == 200) {
			snprintf(acked[i], sizeof(acked[i]), "%s", body);
			ok++;
		} else if (r.status != 503 || !strstr(r.body, UNAVAILABLE)) {
			fail_msg("write %s: %ld %.300s", value, r.status, r.body);
		}
		ts_resp_free(&r);
	}
	return ok;
}

/* Polls a plugin read until it answers want (at most tries times, 100 ms
 * apart); any other answer than 200 or a 503 naming the store fails. */
static long read_until(long want, int tries)
{
	long status = 0;

	for (int t = 0; t < tries; t++) {
		struct ts_resp r = api("GET", P "/api/v1/oauth2/user", acting[0], NULL);
		status = r.status;
		if (status == 503 && !strstr(r.body, UNAVAILABLE))
			fail_msg("503 without %s: %.300s", UNAVAILABLE, r.body);
		if (status != 200 && status != 503)
			fail_msg("read: %ld %.300s", status, r.body);
		ts_resp_free(&r);
		if (status == want)
			break;
		usleep(100 * 1000);
	}
	return status;
}

static void pings_answer(void)
{
	struct ts_resp r = api("GET", "/api/v4/system/ping", NULL, NULL);

	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/ping", NULL, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static void every_acknowledged_write_is_there(void)
{
	for (int i = 0; i < USERS; i++) {
		struct ts_resp r = api("GET", P "/api/v1/oauth2/user", acting[i], NULL);
		assert_int_equal(r.status, 200);
		if (acked[i][0])
			assert_string_equal(r.body, acked[i]);
		ts_resp_free(&r);
	}
}

static void a_stopped_database_is_503_and_nothing_acknowledged_is_lost(void **state)
{
	(void)state;
	assert_int_equal(write_round(1), USERS);
	assert_int_equal(read_until(200, 1), 200);

	assert_int_equal(ts_pg_private_pause(pstate), 0);
	assert_int_equal(read_until(503, 100), 503);
	pings_answer();
	write_round(2); /* 503s, or 200s for what committed before the loss was seen */

	assert_int_equal(ts_pg_private_resume(pstate), 0);
	assert_int_equal(read_until(200, 200), 200);
	every_acknowledged_write_is_there();
	assert_int_equal(write_round(3), USERS);
	every_acknowledged_write_is_there();
}

static void a_frozen_database_is_503_not_a_hang(void **state)
{
	(void)state;
	assert_int_equal(ts_pg_private_freeze(pstate), 0);
	/* Each read waits at most the store's 5 s deadline. */
	assert_int_equal(read_until(503, 20), 503);
	pings_answer();
	write_round(4);

	assert_int_equal(ts_pg_private_thaw(pstate), 0);
	assert_int_equal(read_until(200, 200), 200);
	every_acknowledged_write_is_there();
	assert_int_equal(write_round(5), USERS);
	every_acknowledged_write_is_there();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_stopped_database_is_503_and_nothing_acknowledged_is_lost),
		cmocka_unit_test(a_frozen_database_is_503_not_a_hang),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
