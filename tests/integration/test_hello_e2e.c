/*
 * End to end: the real host with the plugin, the example App hello-oauth2
 * (built on libmmapps) and the test OAuth2 provider, each its own process.
 * The admin installs the App from its manifest, hands it the App's secret
 * and configures it; a person walks the browser flow; /me says connected;
 * /disconnect; /me says not. And the App trusts nobody else: calls without
 * the framework's JWT are 401, and no request, signed or not, makes it send
 * a secret or a token to a site other than its own (a capture server, here
 * the test App, records whatever reaches it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "jwt.h"
#include "testsupport.h"

#define P "/plugins/com.mattermost.apps"

static struct ts_host host;
static struct ts_proc hello, provider, capture;
static char plugins[256], data_dir[320], site[128], secret_dir[256], secret_path[300];
static char admin_tok[64], user_tok[64], admin_id[32], user_id[32];
static char app_secret[128];

/* Runs an App call through the framework as token; returns the App's answer. */
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

/* Lists the App from its own manifest and installs it; keeps the secret the
 * answer shows once. */
static int install(void)
{
	char url[256];
	struct ts_resp m, r;
	json_t *j;
	int rc = -1;

	snprintf(url, sizeof(url), "%s/manifest.json", hello.base_url);
	if (ts_http("GET", url, NULL, NULL, 0, 0, &m) != 0)
		return -1;
	r = ts_api(host.base_url, "POST", P "/api/v1/update-app-listing", admin_tok, m.body);
	ts_resp_free(&m);
	if (r.status != 200)
		goto out;
	ts_resp_free(&r);
	r = ts_api(host.base_url, "POST", P "/api/v1/install-app", admin_tok,
		   "{\"app_id\":\"hello-oauth2\",\"deploy_type\":\"http\"}");
	j = r.status == 200 ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
	if (json_is_string(json_object_get(j, "secret")) &&
	    json_is_true(json_object_get(json_object_get(j, "http"), "use_jwt"))) {
		snprintf(app_secret, sizeof(app_secret), "%s",
			 json_string_value(json_object_get(j, "secret")));
		rc = 0;
	}
	json_decref(j);
out:
	ts_resp_free(&r);
	return rc;
}

static int setup(void **state)
{
	const char *prov_argv[] = { TEST_PROVIDER_BIN, "--listen",
				    "127.0.0.1:0",     "--client-id",
				    "hello-client",    "--client-secret",
				    "hello-secret",    NULL };
	const char *capture_argv[] = { TEST_APP_BIN, "--listen", "127.0.0.1:0", NULL };
	const char *hello_argv[] = {
		HELLO_BIN,           "--listen",  "127.0.0.1:0",    "--site-url",      site,
		"--app-secret-file", secret_path, "--provider-url", provider.base_url, NULL
	};

	(void)state;
	if (ts_proc_start(&provider, prov_argv, "test-provider listening on") != 0 ||
	    ts_proc_start(&capture, capture_argv, "test-app listening on") != 0 ||
	    ts_tempdir("e2e-plugins", plugins, sizeof(plugins)) != 0 ||
	    ts_tempdir("e2e-secret", secret_dir, sizeof(secret_dir)) != 0 ||
	    ts_install_plugin(plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755) != 0 ||
	    ts_host_start(&host, plugins, NULL) != 0)
		return -1;
	/* The site URL the host derived, as the plugin puts it in each call. */
	snprintf(site, sizeof(site), "http://127.0.0.1:%d", host.port);
	snprintf(secret_path, sizeof(secret_path), "%s/app-secret", secret_dir);
	snprintf(data_dir, sizeof(data_dir), "%s/data", host.dir);
	if (ts_proc_start(&hello, hello_argv, "hello-oauth2 listening on") != 0 ||
	    ts_create_user(data_dir, "admin", "admin-password", 1, admin_id) != 0 ||
	    ts_create_user(data_dir, "dana", "dana-password", 0, user_id) != 0 ||
	    ts_login(host.base_url, "admin", "admin-password", admin_tok, 64) != 200 ||
	    ts_login(host.base_url, "dana", "dana-password", user_tok, 64) != 200 || install() != 0)
		return -1;
	/* What the admin does with the secret install-app showed. */
	return ts_write_file(secret_path, app_secret, 0600);
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_host_stop(&host);
	ts_proc_stop(&hello);
	ts_proc_stop(&provider);
	ts_proc_stop(&capture);
	ts_rmtree(plugins);
	ts_rmtree(secret_dir);
	return rc == 0 ? 0 : -1;
}

static void install_configure_connect_me_disconnect(void **state)
{
	char location[2048], back[2048], connect_url[512];
	struct ts_browser b;
	struct ts_resp r;
	json_t *resp;

	(void)state;
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

/* The App stores the token in Go's oauth2.Token shape (through the
 * driver's exchange), so that the framework and Apps in Go can read and
 * refresh it: /me reports its expiry, an hour after the exchange. */
static void the_stored_token_is_a_go_oauth2_token(void **state)
{
	char url[256], location[2048], back[2048];
	struct ts_browser b;
	struct ts_resp r;
	const char *expiry;
	struct tm tm = { 0 };
	long long left;
	json_t *resp;

	(void)state;
	assert_int_equal(ts_browser_init(&b), 0);
	assert_int_equal(ts_browser_login(&b, site, "dana", "dana-password", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	snprintf(url, sizeof(url), "%s" P "/apps/hello-oauth2/oauth2/remote/connect", site);
	assert_int_equal(ts_browser_go(&b, url, NULL, &r), 0);
	assert_int_equal(ts_resp_header(&r, "Location", location, sizeof(location)), 0);
	ts_resp_free(&r);
	assert_int_equal(ts_browser_go(&b, location, NULL, &r), 0);
	assert_int_equal(ts_resp_header(&r, "Location", back, sizeof(back)), 0);
	ts_resp_free(&r);
	assert_int_equal(ts_browser_go(&b, back, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	ts_browser_free(&b);

	resp = call(user_tok, "/me", "{\"acting_user_access_token\":\"all\"}", NULL);
	expiry = json_string_value(json_object_get(json_object_get(resp, "data"), "expiry"));
	if (!expiry || strlen(expiry) != 20 || !strptime(expiry, "%Y-%m-%dT%H:%M:%SZ", &tm))
		fail_msg("no RFC 3339 expiry: %s", json_dumps(resp, 0));
	left = (long long)timegm(&tm) - (long long)time(NULL);
	assert_true(left > 3000 && left <= 3600);
	expect_text(resp, "ok", "You are connected as octocat.");
}

/* POSTs body straight to hello-oauth2's path with the given
 * Mattermost-App-Authorization value (NULL: none). */
static struct ts_resp to_hello(const char *path, const char *auth, const char *body)
{
	char url[256], header[2048];
	const char *headers[] = { "Content-Type: application/json", header, NULL };
	struct ts_resp r;

	snprintf(url, sizeof(url), "%s%s", hello.base_url, path);
	snprintf(header, sizeof(header), "Mattermost-App-Authorization: %s", auth ? auth : "");
	if (!auth)
		headers[1] = NULL;
	assert_int_equal(ts_http("POST", url, headers, body, strlen(body), 0, &r), 0);
	return r;
}

static void bearer(char *out, size_t cap, const char *secret, const char *user, int64_t iat)
{
	char *jwt = jwt_sign_hs256((const unsigned char *)secret, strlen(secret), user, iat);

	assert_non_null(jwt);
	snprintf(out, cap, "Bearer %s", jwt);
	free(jwt);
}

/* Everything the capture server has been sent so far. */
static void capture_got_nothing(void)
{
	char url[256];
	struct ts_resp r;

	snprintf(url, sizeof(url), "%s/_received", capture.base_url);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	if (strcmp(r.body, "[]") != 0)
		fail_msg("the capture server was sent: %s", r.body);
	ts_resp_free(&r);
}

static void every_call_needs_the_frameworks_jwt(void **state)
{
	static const char *const paths[] = { "/configure",       "/connect", "/oauth2/connect",
					     "/oauth2/complete", "/me",      "/disconnect",
					     "/no-such-call" };
	static const char body[] = "{\"path\":\"/me\",\"context\":{\"app_id\":\"hello-oauth2\"}}";
	char wrong[1024], expired[1024];
	struct ts_resp r;

	(void)state;
	bearer(wrong, sizeof(wrong), "a-secret-that-is-not-the-apps-secret", user_id,
	       (int64_t)time(NULL));
	bearer(expired, sizeof(expired), app_secret, user_id, (int64_t)time(NULL) - 3600);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *auths[] = { NULL,  "",      "Bearer not.a.jwt",
					wrong, expired, "Basic aGVsbG86b2F1dGgy" };
		for (size_t k = 0; k < sizeof(auths) / sizeof(auths[0]); k++) {
			r = to_hello(paths[i], auths[k], body);
			if (r.status != 401)
				fail_msg("%s with %s: %ld %s", paths[i],
					 auths[k] ? auths[k] : "none", r.status, r.body);
			ts_resp_free(&r);
		}
	}
	r = to_hello("/me", wrong, body);
	assert_non_null(strstr(r.body, "signature"));
	ts_resp_free(&r);
	r = to_hello("/me", expired, body);
	assert_non_null(strstr(r.body, "expired"));
	ts_resp_free(&r);
	/* The manifest stays public: the admin lists the App from it. */
	{
		char url[256];
		snprintf(url, sizeof(url), "%s/manifest.json", hello.base_url);
		assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "\"use_jwt\":true"));
		ts_resp_free(&r);
	}
}

/* The attack of issue #11: one unauthenticated POST to /configure naming a
 * capture server as the site used to deliver the configured client secret
 * (--client-secret) there. */
static void no_secret_or_token_goes_to_a_site_a_request_names(void **state)
{
	char body[2048], auth[1024], other_user[1024];
	struct ts_resp r;

	(void)state;
	snprintf(body, sizeof(body),
		 "{\"path\":\"/configure\",\"context\":{\"app_id\":\"hello-oauth2\","
		 "\"mattermost_site_url\":\"%s\",\"bot_access_token\":\"t\","
		 "\"acting_user\":{\"id\":\"%s\",\"roles\":\"system_user system_admin\"}}}",
		 capture.base_url, admin_id);
	r = to_hello("/configure", NULL, body);
	assert_int_equal(r.status, 401);
	ts_resp_free(&r);
	capture_got_nothing();

	/* Even a call signed with the App's secret cannot send it elsewhere. */
	bearer(auth, sizeof(auth), app_secret, admin_id, (int64_t)time(NULL));
	r = to_hello("/configure", auth, body);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "another Mattermost site"));
	ts_resp_free(&r);
	snprintf(body, sizeof(body),
		 "{\"path\":\"/oauth2/complete\",\"values\":{\"code\":\"c\",\"code_verifier\":"
		 "\"v\"},\"context\":{\"app_id\":\"hello-oauth2\",\"mattermost_site_url\":\"%s/\","
		 "\"acting_user_access_token\":\"t\",\"acting_user_id\":\"%s\",\"oauth2\":{"
		 "\"client_id\":\"hello-client\",\"client_secret\":\"hello-secret\"}}}",
		 capture.base_url, admin_id);
	r = to_hello("/oauth2/complete", auth, body);
	assert_non_null(strstr(r.body, "another Mattermost site"));
	ts_resp_free(&r);
	snprintf(body, sizeof(body),
		 "{\"path\":\"/me\",\"context\":{\"app_id\":\"hello-oauth2\","
		 "\"mattermost_site_url\":\"%s\",\"acting_user_access_token\":\"t\","
		 "\"acting_user_id\":\"%s\"}}",
		 capture.base_url, admin_id);
	r = to_hello("/me", auth, body);
	assert_non_null(strstr(r.body, "another Mattermost site"));
	ts_resp_free(&r);
	/* A token for one user does not speak for another. */
	bearer(other_user, sizeof(other_user), app_secret, user_id, (int64_t)time(NULL));
	r = to_hello("/me", other_user, body);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body, "acting user"));
	ts_resp_free(&r);
	capture_got_nothing();
}

/* Until the admin writes the secret, the App refuses every call and the
 * person sees why. */
static void without_its_secret_the_app_refuses_calls(void **state)
{
	char moved[320];

	(void)state;
	snprintf(moved, sizeof(moved), "%s.away", secret_path);
	assert_int_equal(rename(secret_path, moved), 0);
	expect_text(call(user_tok, "/me", "{\"acting_user_access_token\":\"all\"}", NULL), "error",
		    "503");
	/* A secret file others may read is refused too. */
	assert_int_equal(ts_write_file(secret_path, app_secret, 0644), 0);
	expect_text(call(user_tok, "/me", "{\"acting_user_access_token\":\"all\"}", NULL), "error",
		    "503");
	assert_int_equal(rename(moved, secret_path), 0);
	expect_text(call(user_tok, "/me", "{\"acting_user_access_token\":\"all\"}", NULL), "ok",
		    "You are");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(install_configure_connect_me_disconnect),
		cmocka_unit_test(the_stored_token_is_a_go_oauth2_token),
		cmocka_unit_test(every_call_needs_the_frameworks_jwt),
		cmocka_unit_test(no_secret_or_token_goes_to_a_site_a_request_names),
		cmocka_unit_test(without_its_secret_the_app_refuses_calls),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
