/*
 * A master key change (DESIGN.md section 9) whose master_key_file names a
 * file that does not exist (a typo in the path, a file not yet copied to
 * this node): the node must not make a new random master key there (mmhost
 * serve made one for the audit trail) and seal every data key under it
 * (the plugin then did). Before, the node served on as if
 * the change had worked, while the only key that opened the store was a
 * file the admin never made (and the other nodes, given the file the admin
 * did make, opened nothing).
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
#define APP "misuse-app"
#define VALUE "\"gho_misuse_secret\""

static struct ts_world world;
static char dir[256], cfg_path[320], acting[64];

static void write_config(const char *extra)
{
	char text[1600];

	snprintf(text, sizeof(text), "{\"plugins\":{\"com.mattermost.apps\":{\"settings\":{%s}}}}",
		 extra ? extra : "");
	assert_int_equal(ts_write_file(cfg_path, text, 0600), 0);
}

static void restart(const char *extra_settings)
{
	const char *extra[] = { "--config", cfg_path, NULL };

	write_config(extra_settings);
	assert_int_equal(ts_host_restart(&world.host, world.plugins, extra), 0);
}

static int setup(void **state)
{
	const char *extra[] = { "--config", cfg_path, NULL };
	char user_tok[64];

	(void)state;
	if (ts_tempdir("misuse-cfg", dir, sizeof(dir)) != 0)
		return -1;
	snprintf(cfg_path, sizeof(cfg_path), "%s/mmhost.json", dir);
	if (ts_write_file(cfg_path, "{}", 0600) != 0 ||
	    ts_world_start(&world, NULL, 0, extra) != 0 ||
	    ts_world_install(&world, APP, TS_ALL_PERMS, NULL) != 0 ||
	    ts_world_user(&world, "misuser", 0, user_tok, NULL) != 0 ||
	    ts_app_tokens(world.host.base_url, user_tok, APP, NULL, acting, NULL) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&world);
}

static long value_status(void)
{
	struct ts_resp r =
		ts_api(world.host.base_url, "GET", P "/api/v1/oauth2/user", acting, NULL);
	long status = r.status;

	if (status == 200 && strcmp(r.body, VALUE) != 0)
		fail_msg("the value changed: %s", r.body);
	ts_resp_free(&r);
	return status;
}

static void a_missing_master_key_file_is_not_made_during_a_change(void **state)
{
	char missing[320], settings[1000];
	struct ts_resp r;

	(void)state;
	r = ts_api(world.host.base_url, "POST", P "/api/v1/oauth2/user", acting, VALUE);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	snprintf(missing, sizeof(missing), "%s/new-master.key", dir);
	snprintf(settings, sizeof(settings),
		 "\"master_key_file\":\"%s\","
		 "\"previous_master_key_file\":\"%s/plugins/com.mattermost.apps/master.key\"",
		 missing, world.data_dir);
	write_config(settings);
	{
		const char *extra[] = { "--config", cfg_path, NULL };
		/* Refused, whether by the host or by the plugin. */
		(void)ts_host_restart(&world.host, world.plugins, extra);
	}
	/* The node refused the change, saying why; no key file was made. */
	assert_true(ts_host_log_has(&world.host, "make the new master key file first"));
	assert_int_not_equal(access(missing, F_OK), 0);
	assert_int_not_equal(value_status(), 200);
	/* Back on the master key it had: the data opens as before. */
	restart(NULL);
	assert_int_equal(value_status(), 200);
}

/* A node that ran before, started with a master_key_file that does not
 * exist (no change under way): no new master key is made. Before, serve
 * made one and keyed the audit trail's next lines from it, so that the
 * trail no longer verified with the node's real master key ("line N was
 * altered"), and the plugin opened nothing. */
static void a_node_that_ran_makes_no_new_master_key(void **state)
{
	char missing[320], settings[1000], audit[400];
	const char *extra[] = { "--config", cfg_path, NULL };
	char *out = NULL;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/typo.key", dir);
	snprintf(settings, sizeof(settings), "\"master_key_file\":\"%s\"", missing);
	write_config(settings);
	(void)ts_host_restart(&world.host, world.plugins, extra);
	assert_true(ts_host_log_has(&world.host, "no new master key was made"));
	assert_int_not_equal(access(missing, F_OK), 0);
	/* A login, audited if the node serves. */
	(void)ts_login(world.host.base_url, "misuser", "misuser-password", NULL, 0);
	restart(NULL);
	assert_int_equal(value_status(), 200);
	snprintf(audit, sizeof(audit), "%s/audit/audit.log", world.data_dir);
	{
		const char *args[] = { "audit", "verify", audit, "--config", cfg_path, NULL };
		int code = ts_cli(world.data_dir, args, &out);
		if (code != 0)
			fail_msg("audit verify: %d %s", code, out);
	}
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_missing_master_key_file_is_not_made_during_a_change),
		cmocka_unit_test(a_node_that_ran_makes_no_new_master_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
