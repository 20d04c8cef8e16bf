/*
 * End to end: the real host with the plugin, the example App hello-oauth2
 * (built on libmmapps) and the test OAuth2 provider, each its own process.
 * The admin installs the App from its manifest and configures it; a person
 * walks the browser flow; /me says connected; /disconnect; /me says not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "testsupport.h"

#define P "/plugins/com.mattermost.apps"

static struct ts_host host;
static struct ts_proc hello, provider;
static char plugins[256], data_dir[320], site[128];
static char admin_tok[64], user_tok[64];

static int setup(void **state)
{
	const char *prov_argv[] = { TEST_PROVIDER_BIN, "--listen",
				    "127.0.0.1:0",     "--client-id",
				    "hello-client",    "--client-secret",
				    "hello-secret",    NULL };
	const char *hello_argv[] = { HELLO_BIN,        "--listen",        "127.0.0.1:0",
				     "--provider-url", provider.base_url, NULL };

	(void)state;
	if (ts_proc_start(&provider, prov_argv, "test-provider listening on") != 0 ||
	    ts_proc_start(&hello, hello_argv, "hello-oauth2 listening on") != 0 ||
	    ts_tempdir("e2e-plugins", plugins, sizeof(plugins)) != 0 ||
	    ts_install_plugin(plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755) != 0 ||
	    ts_host_start(&host, plugins, NULL) != 0)
		return -1;
	snprintf(site, sizeof(site), "http://localhost:%d", host.port);
	snprintf(data_dir, sizeof(data_dir), "%s/data", host.dir);
	if (ts_create_user(data_dir, "admin", "admin-password", 1, NULL) != 0 ||
	    ts_create_user(data_dir, "dana", "dana-password", 0, NULL) != 0 ||
	    ts_login(host.base_url, "admin", "admin-password", admin_tok, 64) != 200 ||
	    ts_login(host.base_url, "dana", "dana-password", user_tok, 64) != 200)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_host_stop(&host);
	ts_proc_stop(&hello);
	ts_proc_stop(&provider);
	ts_rmtree(plugins);
	return rc == 0 ? 0 : -1;
}

/* Runs an App call as token and returns the App's answer. */
static json_t *call(const char *token, const char *path, const char *expand, const char *values)
{
	char body[1024];
	struct ts_resp r;
	json_t *j;

	snprintf(body, sizeof(body),
		 "{\"path\":\"%s\",\"expand\":%s,\"values\":%s,"
		 "\"context\":{\"app_id\":\"hello-oauth2\",\"location\":\"/command\"}}",
		 path, expand, values ? values : "{}");
	r = ts_api(host.base_url, "POST", P "/api/v1/call", token, body);
	assert_int_equal(r.status, 200);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	ts_resp_free(&r);
	assert_non_null(j);
	return j;
}

static void expect_text(json_t *resp, const char *type, const char *text)
{
	const char *t = json_string_value(json_object_get(resp, "text"));

	if (strcmp(json_string_value(json_object_get(resp, "type")), type) != 0 || !t ||
	    !strstr(t, text))
		fail_msg("wanted %s \"%s\", got %s", type, text, json_dumps(resp, 0));
	json_decref(resp);
}

static void install_configure_connect_me_disconnect(void **state)
{
	char url[256], location[2048], back[2048], connect_url[512];
	struct ts_browser b;
	struct ts_resp r;
	json_t *resp;

	(void)state;
	/* Install from the App's own manifest: two requests. */
	snprintf(url, sizeof(url), "%s/manifest.json", hello.base_url);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	{
		struct ts_resp l = ts_api(host.base_url, "POST", P "/api/v1/update-app-listing",
					  admin_tok, r.body);
		assert_int_equal(l.status, 200);
		ts_resp_free(&l);
	}
	ts_resp_free(&r);
	r = ts_api(host.base_url, "POST", P "/api/v1/install-app", admin_tok,
		   "{\"app_id\":\"hello-oauth2\",\"deploy_type\":\"http\"}");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);

	/* Not configured yet; a person cannot configure it. */
	expect_text(call(user_tok, "/connect", "{\"oauth2_app\":\"summary\"}", NULL), "error",
		    "not configured yet");
	expect_text(call(user_tok, "/configure", "{\"acting_user\":\"summary\"}",
			 "{\"client_id\":\"x\",\"client_secret\":\"y\"}"),
		    "error", "Only a system admin");
	/* The admin registers the provider's client through the driver. */
	expect_text(call(admin_tok, "/configure", "{\"acting_user\":\"summary\"}",
			 "{\"client_id\":\"hello-client\",\"client_secret\":\"hello-secret\"}"),
		    "ok", "configured");
	expect_text(call(user_tok, "/me", "{\"acting_user_access_token\":\"all\"}", NULL), "ok",
		    "You are not connected.");

	resp = call(user_tok, "/connect", "{\"oauth2_app\":\"summary\"}", NULL);
	snprintf(connect_url, sizeof(connect_url), "%s",
		 json_string_value(json_object_get(json_object_get(resp, "data"), "connect_url")));
	expect_text(resp, "ok", "Connect your account: ");
	assert_non_null(strstr(connect_url, "/apps/hello-oauth2/oauth2/remote/connect"));

	/* The person, in a browser: log in, connect, the provider, back. */
	assert_int_equal(ts_browser_init(&b), 0);
	assert_int_equal(ts_browser_login(&b, site, "dana", "dana-password", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	assert_int_equal(ts_browser_go(&b, connect_url, NULL, &r), 0);
	assert_int_equal(r.status, 307);
	assert_int_equal(ts_resp_header(&r, "Location", location, sizeof(location)), 0);
	ts_resp_free(&r);
	assert_int_equal(strncmp(location, provider.base_url, strlen(provider.base_url)), 0);
	assert_int_equal(ts_browser_go(&b, location, NULL, &r), 0);
	assert_int_equal(r.status, 302);
	assert_int_equal(ts_resp_header(&r, "Location", back, sizeof(back)), 0);
	ts_resp_free(&r);
	assert_int_equal(ts_browser_go(&b, back, NULL, &r), 0);
	if (r.status != 200 || !strstr(r.body, "You have connected your account."))
		fail_msg("complete: %ld %s", r.status, r.body);
	ts_resp_free(&r);
	ts_browser_free(&b);

	expect_text(call(user_tok, "/me", "{\"acting_user_access_token\":\"all\"}", NULL), "ok",
		    "You are connected as octocat.");
	/* Another person is not. */
	expect_text(call(admin_tok, "/me", "{\"acting_user_access_token\":\"all\"}", NULL), "ok",
		    "You are not connected.");
	expect_text(call(user_tok, "/disconnect", "{\"acting_user_access_token\":\"all\"}", NULL),
		    "ok", "Disconnected.");
	expect_text(call(user_tok, "/me", "{\"acting_user_access_token\":\"all\"}", NULL), "ok",
		    "You are not connected.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(install_configure_connect_me_disconnect),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
