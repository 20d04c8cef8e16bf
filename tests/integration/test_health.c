/*
 * The health check a load balancer points at, against the real host:
 * GET /api/v4/system/ping?get_server_status=true answers as Mattermost's
 * does, turns 500 when the database goes away (a private PostgreSQL that
 * the test stops) and comes back by itself, and names a plugin that failed
 * to start, which GET /api/v4/plugins lists with its error.
 */
#include <jansson.h>
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

#define HEALTH "/api/v4/system/ping?get_server_status=true"

static char dir[256];

static json_t *body_json(const struct ts_resp *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);

	if (!j)
		fail_msg("not JSON: %.300s", r->body);
	return j;
}

static const char *field(json_t *j, const char *name)
{
	const char *v = json_string_value(json_object_get(j, name));

	return v ? v : "(none)";
}

static void the_health_check_answers_as_mattermost_does(void **state)
{
	struct ts_world w;
	struct ts_resp r;
	char cc[64];
	json_t *j;

	(void)state;
	assert_int_equal(ts_world_start(&w, NULL, 0, NULL), 0);
	/* The plain ping is unchanged. */
	r = ts_api(w.host.base_url, "GET", "/api/v4/system/ping", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"OK\"}");
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "GET", HEALTH, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(ts_resp_header(&r, "Cache-Control", cc, sizeof(cc)), 0);
	assert_string_equal(cc, "no-store");
	j = body_json(&r);
	assert_string_equal(field(j, "status"), "OK");
	assert_string_equal(field(j, "database_status"), "OK");
	assert_string_equal(field(j, "filestore_status"), "OK");
	assert_string_equal(field(json_object_get(j, "plugins"), "com.mattermost.apps"), "OK");
	json_decref(j);
	ts_resp_free(&r);
	assert_int_equal(ts_world_stop(&w), 0);
}

static void a_plugin_that_failed_to_start_is_named(void **state)
{
	char cfg[320];
	const char *extra[] = { "--config", cfg, NULL };
	struct ts_world w;
	struct ts_resp r;
	json_t *j, *inactive;

	(void)state;
	snprintf(cfg, sizeof(cfg), "%s/bad-setting.json", dir);
	assert_int_equal(ts_write_file(cfg,
				       "{\"plugins\":{\"com.mattermost.apps\":{\"settings\":"
				       "{\"x\":1}}}}",
				       0600),
			 0);
	assert_int_equal(ts_world_start(&w, NULL, 0, extra), 0);

	/* Anyone: unhealthy, and which plugin. */
	r = ts_api(w.host.base_url, "GET", HEALTH, NULL, NULL);
	assert_int_equal(r.status, 500);
	j = body_json(&r);
	assert_string_equal(field(j, "status"), "UNHEALTHY");
	assert_string_equal(field(j, "database_status"), "OK");
	assert_string_equal(field(json_object_get(j, "plugins"), "com.mattermost.apps"), "failed");
	json_decref(j);
	ts_resp_free(&r);
	/* A system admin also reads why. */
	r = ts_api(w.host.base_url, "GET", HEALTH, w.admin_tok, NULL);
	assert_int_equal(r.status, 500);
	j = body_json(&r);
	assert_string_equal(field(json_object_get(j, "plugins"), "com.mattermost.apps"),
			    "failed: unknown setting \"x\"");
	json_decref(j);
	ts_resp_free(&r);
	/* As Mattermost: REST semantics on request. */
	r = ts_api(w.host.base_url, "GET", HEALTH "&use_rest_semantics=true", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"status\":\"UNHEALTHY\""));
	ts_resp_free(&r);

	r = ts_api(w.host.base_url, "GET", "/api/v4/plugins", w.admin_tok, NULL);
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	inactive = json_array_get(json_object_get(j, "inactive"), 0);
	assert_string_equal(field(inactive, "id"), "com.mattermost.apps");
	assert_string_equal(field(inactive, "error"), "unknown setting \"x\"");
	assert_int_equal(json_array_size(json_object_get(j, "active")), 0);
	json_decref(j);
	ts_resp_free(&r);

	/* Disabled by the admin, it is a choice, not a failure. */
	r = ts_api(w.host.base_url, "POST", "/api/v4/plugins/com.mattermost.apps/disable",
		   w.admin_tok, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "GET", HEALTH, NULL, NULL);
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	assert_string_equal(field(j, "status"), "OK");
	assert_string_equal(field(json_object_get(j, "plugins"), "com.mattermost.apps"),
			    "disabled");
	json_decref(j);
	ts_resp_free(&r);
	assert_int_equal(ts_world_stop(&w), 0);
}

/* Polls the health check until it answers status (at most 30 s). */
static long health_until(const struct ts_host *h, long status)
{
	long got = 0;

	for (int waited = 0; waited < 30000; waited += 100) {
		struct ts_resp r = ts_api(h->base_url, "GET", HEALTH, NULL, NULL);
		got = r.status;
		ts_resp_free(&r);
		if (got == status)
			break;
		usleep(100 * 1000);
	}
	return got;
}

static void the_health_check_fails_while_the_database_is_gone(void **state)
{
	char pstate[320], url[512], cfg[320], text[700], plugins[256];
	struct ts_host h;
	struct ts_resp r;
	json_t *j;

	(void)state;
	snprintf(pstate, sizeof(pstate), "%s/pg.state", dir);
	assert_int_equal(ts_pg_private_start(pstate), 0);
	assert_int_equal(ts_pg_private_url(pstate, "health", url, sizeof(url)), 0);
	snprintf(cfg, sizeof(cfg), "%s/pg.json", dir);
	snprintf(text, sizeof(text), "{\"store\":{\"backend\":\"postgres\",\"url\":\"%s\"}}", url);
	assert_int_equal(ts_write_file(cfg, text, 0600), 0);
	assert_int_equal(ts_tempdir("health-plugins", plugins, sizeof(plugins)), 0);
	assert_int_equal(ts_install_plugin(plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755),
			 0);
	ts_use_config(cfg);
	assert_int_equal(ts_host_start(&h, plugins, NULL), 0);
	assert_int_equal(health_until(&h, 200), 200);

	assert_int_equal(ts_pg_private_pause(pstate), 0);
	assert_int_equal(health_until(&h, 500), 500);
	r = ts_api(h.base_url, "GET", HEALTH, NULL, NULL);
	j = body_json(&r);
	assert_string_equal(field(j, "status"), "UNHEALTHY");
	assert_string_equal(field(j, "database_status"), "UNHEALTHY");
	assert_string_equal(field(j, "filestore_status"), "OK");
	json_decref(j);
	ts_resp_free(&r);
	/* The plain ping still answers: the process is alive. */
	r = ts_api(h.base_url, "GET", "/api/v4/system/ping", NULL, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	assert_true(ts_host_wait_log(&h, "health check: the database does not answer", 5000));

	assert_int_equal(ts_pg_private_resume(pstate), 0);
	assert_int_equal(health_until(&h, 200), 200);
	assert_true(ts_host_wait_log(&h, "health check: the database answers again", 5000));
	assert_int_equal(ts_host_stop(&h), 0);
	ts_use_config(NULL);
	ts_rmtree(plugins);
	assert_int_equal(ts_pg_private_stop(pstate), 0);
}

static int setup(void **state)
{
	(void)state;
	return ts_tempdir("health", dir, sizeof(dir));
}

static int teardown(void **state)
{
	(void)state;
	ts_rmtree(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_health_check_answers_as_mattermost_does),
		cmocka_unit_test(a_plugin_that_failed_to_start_is_named),
		cmocka_unit_test(the_health_check_fails_while_the_database_is_gone),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
