/*
 * Apps over HTTP: the real host and plugin, the test App as its own process.
 * Listing and installing (admins only, every manifest error), calls and the
 * context the App receives, the tokens it acts with, JWT, every way an App
 * can fail, a slow App, disable and uninstall.
 */
#include <pthread.h>
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

#include "pg_harness.h"
#include "jwt.h"
#include "testsupport.h"

#define ADMIN_PW "admin-password-1"
#define USER_PW "user-password-1"
#define P "/plugins/com.mattermost.apps"

static struct ts_host host;
static struct ts_proc app;
static char plugins[256], data_dir[320], cfg_dir[256];
static char admin_tok[64], user_tok[64], admin_id[32], user_id[32];
static char app_secret[128];

static struct ts_resp api(const char *method, const char *path, const char *token, const char *body)
{
	return ts_api(host.base_url, method, path, token, body);
}

static json_t *js(const struct ts_resp *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);

	if (!j)
		fail_msg("not JSON (%ld): %.300s", r->status, r->body);
	return j;
}

static void expect(const struct ts_resp *r, long status, const char *id)
{
	json_t *j;

	if (r->status != status)
		fail_msg("status %ld, wanted %ld: %.400s", r->status, status, r->body);
	if (!id)
		return;
	j = js(r);
	if (!json_is_string(json_object_get(j, "id")) ||
	    strcmp(json_string_value(json_object_get(j, "id")), id) != 0)
		fail_msg("error id in %.300s, wanted %s", r->body, id);
	json_decref(j);
}

static char *manifest(const char *app_id, const char *perms, int use_jwt, const char *root)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "{\"app_id\":\"%s\",\"version\":\"1.0\",\"display_name\":\"Test App\","
		 "\"homepage_url\":\"https://example.com\",\"requested_permissions\":[%s],"
		 "\"requested_locations\":[\"/command\"],\"on_install\":\"/install-hook\","
		 "\"on_uninstall\":{\"path\":\"/"
		 "uninstall-hook\",\"expand\":{\"acting_user\":\"id\"}},"
		 "\"http\":{\"root_url\":\"%s\",\"use_jwt\":%s}}",
		 app_id, perms, root ? root : app.base_url, use_jwt ? "true" : "false");
	return buf;
}

#define ALL_PERMS "\"act_as_bot\",\"act_as_user\",\"remote_oauth2\""

static int setup(void **state)
{
	char cfg[300];
	const char *extra[] = { "--config", cfg, NULL };
	const char *app_argv[] = { TEST_APP_BIN, "--listen", "127.0.0.1:0", NULL };
	char body[4096];
	struct ts_resp r;
	json_t *j;

	(void)state;
	if (ts_proc_start(&app, app_argv, "test-app listening on") != 0)
		return -1;
	if (ts_tempdir("apps-cfg", cfg_dir, sizeof(cfg_dir)) != 0 ||
	    ts_tempdir("apps-plugins", plugins, sizeof(plugins)) != 0 ||
	    ts_install_plugin(plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755) != 0)
		return -1;
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", cfg_dir);
	if (ts_write_config(cfg, "{\"plugins\":{\"com.mattermost.apps\":{\"settings\":"
				 "{\"call_timeout_s\":2,\"max_concurrent_calls\":4}}}}") != 0 ||
	    ts_host_start(&host, plugins, extra) != 0)
		return -1;
	snprintf(data_dir, sizeof(data_dir), "%s/data", host.dir);
	if (ts_create_user(data_dir, "admin", ADMIN_PW, 1, admin_id) != 0 ||
	    ts_create_user(data_dir, "user", USER_PW, 0, user_id) != 0 ||
	    ts_login(host.base_url, "admin", ADMIN_PW, admin_tok, sizeof(admin_tok)) != 200 ||
	    ts_login(host.base_url, "user", USER_PW, user_tok, sizeof(user_tok)) != 200)
		return -1;
	/* The App most tests use: listed, then installed by id. */
	r = api("POST", P "/api/v1/update-app-listing", admin_tok,
		manifest("test-app", ALL_PERMS, 1, NULL));
	if (r.status != 200)
		return fprintf(stderr, "listing: %s\n", r.body), -1;
	ts_resp_free(&r);
	snprintf(body, sizeof(body), "{\"app_id\":\"test-app\",\"deploy_type\":\"http\"}");
	r = api("POST", P "/api/v1/install-app", admin_tok, body);
	if (r.status != 200)
		return fprintf(stderr, "install: %s\n", r.body), -1;
	j = json_loadb(r.body, r.body_len, 0, NULL);
	snprintf(app_secret, sizeof(app_secret), "%s",
		 json_string_value(json_object_get(j, "secret")));
	json_decref(j);
	ts_resp_free(&r);
	return 0;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_host_stop(&host);
	ts_proc_stop(&app);
	ts_rmtree(plugins);
	ts_rmtree(cfg_dir);
	return rc == 0 ? 0 : -1;
}

/* The requests the test App received, newest last. */
static json_t *received(void)
{
	char url[128];
	struct ts_resp r;
	json_t *j;

	snprintf(url, sizeof(url), "%s/_received", app.base_url);
	ts_http("GET", url, NULL, NULL, 0, 0, &r);
	j = js(&r);
	ts_resp_free(&r);
	return j;
}

static json_t *last_received(const char *path)
{
	json_t *all = received(), *hit = NULL;

	for (size_t i = json_array_size(all); i > 0; i--) {
		json_t *r = json_array_get(all, i - 1);
		if (strcmp(json_string_value(json_object_get(r, "path")), path) == 0) {
			hit = json_incref(r);
			break;
		}
	}
	json_decref(all);
	return hit;
}

static size_t count_received(const char *path)
{
	json_t *all = received();
	size_t n = 0, i;
	json_t *r;

	json_array_foreach(all, i, r) n +=
		strcmp(json_string_value(json_object_get(r, "path")), path) == 0;
	json_decref(all);
	return n;
}

/* Runs a call as token; returns the parsed answer (a call response). */
static json_t *call(const char *token, const char *app_id, const char *path, const char *expand)
{
	char body[1024];
	struct ts_resp r;
	json_t *j;

	snprintf(body, sizeof(body),
		 "{\"path\":\"%s\",\"expand\":%s,\"values\":{\"k\":\"v\"},\"raw_command\":\"/t\","
		 "\"context\":{\"app_id\":\"%s\",\"location\":\"/command\",\"channel_id\":\"c1\","
		 "\"bot_access_token\":\"injected\"}}",
		 path, expand ? expand : "{}", app_id);
	r = api("POST", P "/api/v1/call", token, body);
	if (r.status != 200)
		fail_msg("call %s: %ld %.300s", path, r.status, r.body);
	j = js(&r);
	ts_resp_free(&r);
	return j;
}

static const char *ctx_str(const json_t *resp, const char *key)
{
	return json_string_value(
		json_object_get(json_object_get(json_object_get(resp, "data"), "context"), key));
}

static void admin_routes_refuse_others(void **state)
{
	static const char *const posts[] = { "/api/v1/update-app-listing", "/api/v1/install-app",
					     "/api/v1/enable-app", "/api/v1/disable-app",
					     "/api/v1/uninstall-app" };
	struct ts_resp r;

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		char path[128];
		snprintf(path, sizeof(path), P "%s", posts[i]);
		r = api("POST", path, user_tok, "{\"app_id\":\"test-app\"}");
		expect(&r, 403, "api.context.permissions.app_error");
		ts_resp_free(&r);
		r = api("POST", path, NULL, "{\"app_id\":\"test-app\"}");
		expect(&r, 401, "api.context.session_expired.app_error");
		ts_resp_free(&r);
	}
	r = api("GET", P "/api/v1/apps", user_tok, NULL);
	expect(&r, 403, "api.context.permissions.app_error");
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/apps/test-app", user_tok, NULL);
	expect(&r, 403, "api.context.permissions.app_error");
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/install-app", admin_tok, NULL);
	expect(&r, 405, "api.context.method_not_allowed.app_error");
	ts_resp_free(&r);
}

static void every_manifest_error_names_its_field(void **state)
{
	static const struct {
		const char *json;
		const char *field;
	} cases[] = {
		{ "[]", "JSON object" },
		{ "{\"display_name\":\"x\",\"homepage_url\":\"https://x\"}", "app_id" },
		{ "{\"app_id\":\"ab\",\"display_name\":\"x\",\"homepage_url\":\"https://x\"}",
		  "app_id" },
		{ "{\"app_id\":\"a b c\",\"display_name\":\"x\",\"homepage_url\":\"https://x\"}",
		  "app_id" },
		{ "{\"app_id\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"display_name\":\"x\","
		  "\"homepage_url\":\"https://x\"}",
		  "app_id" },
		{ "{\"app_id\":\"abc\",\"homepage_url\":\"https://x\"}", "display_name" },
		{ "{\"app_id\":\"abc\",\"display_name\":\"x\"}", "homepage_url" },
		{ "{\"app_id\":\"abc\",\"display_name\":\"x\",\"homepage_url\":\"javascript:x\"}",
		  "homepage_url" },
		{ "{\"app_id\":\"abc\",\"version\":\"12345678901\",\"display_name\":\"x\","
		  "\"homepage_url\":\"https://x\"}",
		  "version" },
		{ "{\"app_id\":\"abc\",\"display_name\":\"x\",\"homepage_url\":\"https://x\","
		  "\"requested_permissions\":[\"fly\"]}",
		  "unknown permission \\\"fly\\\"" },
		{ "{\"app_id\":\"abc\",\"display_name\":\"x\",\"homepage_url\":\"https://x\","
		  "\"requested_permissions\":[\"remote_oauth2\"]}",
		  "remote_oauth2 needs act_as_user" },
		{ "{\"app_id\":\"abc\",\"display_name\":\"x\",\"homepage_url\":\"https://x\","
		  "\"requested_locations\":[\"command\"]}",
		  "requested_locations" },
		{ "{\"app_id\":\"abc\",\"display_name\":\"x\",\"homepage_url\":\"https://x\","
		  "\"on_install\":\"no-slash\"}",
		  "on_install" },
		{ "{\"app_id\":\"abc\",\"display_name\":\"x\",\"homepage_url\":\"https://x\","
		  "\"get_oauth2_connect_url\":{\"path\":\"/../x\"}}",
		  "get_oauth2_connect_url" },
		{ "{\"app_id\":\"abc\",\"display_name\":\"x\",\"homepage_url\":\"https://x\","
		  "\"http\":{\"root_url\":\"ftp://x\"}}",
		  "http.root_url" },
		{ "{\"app_id\":\"abc\",\"display_name\":\"x\",\"homepage_url\":\"https://x\","
		  "\"http\":{\"root_url\":\"http://x\",\"use_jwt\":1}}",
		  "http.use_jwt" },
	};
	struct ts_resp r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = api("POST", P "/api/v1/update-app-listing", admin_tok, cases[i].json);
		expect(&r, 400,
		       cases[i].json[0] == '[' ? "api.context.invalid_body_param.app_error"
					       : "apps.manifest.invalid.app_error");
		if (cases[i].json[0] != '[' && !strstr(r.body, cases[i].field))
			fail_msg("%s: %s lacks %s", cases[i].json, r.body, cases[i].field);
		ts_resp_free(&r);
	}
	r = api("POST", P "/api/v1/update-app-listing", admin_tok, "{not json");
	expect(&r, 400, "api.context.invalid_body_param.app_error");
	ts_resp_free(&r);
}

static void manifest_over_1mib_is_413(void **state)
{
	size_t len = 1024 * 1024 + 16;
	char *big = malloc(len + 1);
	struct ts_resp r;

	(void)state;
	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	big[len] = '\0';
	r = api("POST", P "/api/v1/update-app-listing", admin_tok, big);
	expect(&r, 413, NULL);
	ts_resp_free(&r);
	free(big);
}

static void assert_no_store(const struct ts_resp *r, const char *what)
{
	char v[64];

	if (ts_resp_header(r, "Cache-Control", v, sizeof(v)) != 0 || strcmp(v, "no-store") != 0)
		fail_msg("%s: no Cache-Control: no-store in %.300s", what, r->headers);
}

static void secret_bearing_answers_are_never_cached(void **state)
{
	struct ts_resp r;

	(void)state;
	r = api("POST", P "/api/v1/install-app", admin_tok,
		"{\"manifest\":{\"app_id\":\"cache-app\",\"display_name\":\"C\","
		"\"homepage_url\":\"https://x\",\"http\":{\"root_url\":\"http://127.0.0.1:1\"}}}");
	expect(&r, 200, NULL);
	assert_non_null(strstr(r.body, "\"secret\""));
	assert_no_store(&r, "install-app");
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/apps/cache-app", admin_tok, NULL);
	expect(&r, 200, NULL);
	assert_no_store(&r, "apps/{id}");
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/apps", admin_tok, NULL);
	assert_no_store(&r, "apps");
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/ping", NULL, NULL);
	assert_no_store(&r, "ping");
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/apps/nope-app", admin_tok, NULL);
	expect(&r, 404, "apps.app.not_found.app_error");
	assert_no_store(&r, "an error");
	ts_resp_free(&r);
}

static void install_shows_the_secret_once_then_redacts(void **state)
{
	struct ts_resp r;
	json_t *j, *arr;
	char want[16];

	(void)state;
	assert_int_equal(strlen(app_secret), 43);
	snprintf(want, sizeof(want), "****%.4s", app_secret + 39);
	r = api("GET", P "/api/v1/apps/test-app", admin_tok, NULL);
	expect(&r, 200, NULL);
	j = js(&r);
	assert_string_equal(json_string_value(json_object_get(j, "secret")), want);
	assert_string_equal(json_string_value(json_object_get(j, "app_id")), "test-app");
	assert_string_equal(json_string_value(json_object_get(j, "display_name")), "Test App");
	assert_string_equal(json_string_value(json_object_get(j, "bot_username")), "test-app");
	assert_int_equal(json_string_length(json_object_get(j, "bot_user_id")), 26);
	assert_int_equal(json_array_size(json_object_get(j, "granted_permissions")), 3);
	assert_null(strstr(r.body, app_secret));
	json_decref(j);
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/apps", admin_tok, NULL);
	arr = js(&r);
	assert_true(json_array_size(arr) >= 1);
	assert_null(strstr(r.body, app_secret));
	json_decref(arr);
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/apps/nope-app", admin_tok, NULL);
	expect(&r, 404, "apps.app.not_found.app_error");
	ts_resp_free(&r);
	/* The install hook was called. */
	j = last_received("/install-hook");
	assert_non_null(j);
	json_decref(j);
}

static void reinstall_keeps_bot_and_secret(void **state)
{
	struct ts_resp r;
	json_t *before, *after;

	(void)state;
	r = api("GET", P "/api/v1/apps/test-app", admin_tok, NULL);
	before = js(&r);
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/install-app", admin_tok, "{\"app_id\":\"test-app\"}");
	expect(&r, 200, NULL);
	assert_null(strstr(r.body, app_secret));
	after = js(&r);
	ts_resp_free(&r);
	assert_string_equal(json_string_value(json_object_get(before, "bot_user_id")),
			    json_string_value(json_object_get(after, "bot_user_id")));
	assert_string_equal(json_string_value(json_object_get(before, "secret")),
			    json_string_value(json_object_get(after, "secret")));
	json_decref(before);
	json_decref(after);
	r = api("POST", P "/api/v1/install-app", admin_tok, "{\"app_id\":\"never-listed\"}");
	expect(&r, 404, "apps.listing.not_found.app_error");
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/install-app", admin_tok,
		"{\"app_id\":\"test-app\",\"deploy_type\":\"aws_lambda\"}");
	expect(&r, 400, "apps.install.deploy_type.app_error");
	ts_resp_free(&r);
}

static void call_gets_expanded_context_and_real_tokens(void **state)
{
	json_t *resp, *rec, *ctx, *au;
	char bot_tok[64], act_tok[64], jwt[1024];
	struct ts_resp r;
	const char *auth;

	(void)state;
	resp = call(user_tok, "test-app", "/echo",
		    "{\"acting_user\":\"summary\",\"acting_user_access_token\":\"all\"}");
	assert_string_equal(json_string_value(json_object_get(resp, "type")), "ok");
	assert_string_equal(ctx_str(resp, "app_id"), "test-app");
	assert_non_null(strstr(ctx_str(resp, "mattermost_site_url"), "http://127.0.0.1:"));
	assert_string_equal(ctx_str(resp, "app_path"), P "/apps/test-app");
	assert_string_equal(ctx_str(resp, "location"), "/command");
	assert_string_equal(ctx_str(resp, "channel_id"), "c1");
	assert_string_equal(ctx_str(resp, "acting_user_id"), user_id);
	assert_string_not_equal(ctx_str(resp, "bot_access_token"), "injected");
	ctx = json_object_get(json_object_get(resp, "data"), "context");
	au = json_object_get(ctx, "acting_user");
	assert_string_equal(json_string_value(json_object_get(au, "username")), "user");
	assert_string_equal(json_string_value(json_object_get(au, "roles")), "system_user");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(resp, "data"), "values"), "k")),
			    "v");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(resp, "data"), "raw_command")),
		"/t");
	assert_string_equal(json_string_value(json_object_get(json_object_get(resp, "app_metadata"),
							      "bot_username")),
			    "test-app");
	snprintf(bot_tok, sizeof(bot_tok), "%s", ctx_str(resp, "bot_access_token"));
	snprintf(act_tok, sizeof(act_tok), "%s", ctx_str(resp, "acting_user_access_token"));
	json_decref(resp);

	/* Both tokens authenticate against the host as the App. */
	r = api("GET", "/api/v4/users/me", bot_tok, NULL);
	expect(&r, 200, NULL);
	assert_non_null(strstr(r.body, "\"is_bot\":true"));
	ts_resp_free(&r);
	r = api("GET", "/api/v4/users/me", act_tok, NULL);
	expect(&r, 200, NULL);
	assert_non_null(strstr(r.body, user_id));
	ts_resp_free(&r);

	/* The request carried a JWT signed with the App's secret. */
	rec = last_received("/echo");
	auth = json_string_value(
		json_object_get(json_object_get(rec, "headers"), "mattermost-app-authorization"));
	assert_non_null(auth);
	assert_int_equal(strncmp(auth, "Bearer ", 7), 0);
	snprintf(jwt, sizeof(jwt), "%s", auth + 7);
	assert_int_equal(jwt_verify_hs256(jwt, (const unsigned char *)app_secret,
					  strlen(app_secret), (int64_t)time(NULL)),
			 0);
	assert_int_not_equal(
		jwt_verify_hs256(jwt, (const unsigned char *)"wrong", 5, (int64_t)time(NULL)), 0);
	json_decref(rec);

	/* A second call reuses the App's live tokens. */
	resp = call(user_tok, "test-app", "/echo", "{\"acting_user_access_token\":\"all\"}");
	assert_string_equal(ctx_str(resp, "bot_access_token"), bot_tok);
	assert_string_equal(ctx_str(resp, "acting_user_access_token"), act_tok);
	assert_null(ctx_str(resp, "acting_user_id"));
	json_decref(resp);
}

static void required_expansion_that_cannot_be_made_fails_the_call(void **state)
{
	struct ts_resp r;
	json_t *resp;

	(void)state;
	r = api("POST", P "/api/v1/install-app", admin_tok,
		"{\"manifest\":{\"app_id\":\"bot-only\",\"display_name\":\"B\","
		"\"homepage_url\":\"https://x\",\"requested_permissions\":[\"act_as_bot\"],"
		"\"http\":{\"root_url\":\"http://127.0.0.1:1\"}}}");
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	/* The App is unreachable, but the expansion fails first. */
	resp = call(user_tok, "bot-only", "/echo", "{\"acting_user_access_token\":\"+all\"}");
	assert_string_equal(json_string_value(json_object_get(resp, "type")), "error");
	assert_non_null(strstr(json_string_value(json_object_get(resp, "text")),
			       "acting_user_access_token"));
	json_decref(resp);
	resp = call(user_tok, "bot-only", "/echo", "{}");
	assert_string_equal(json_string_value(json_object_get(resp, "text")),
			    "the App refused the connection");
	json_decref(resp);
	r = api("POST", P "/api/v1/call", user_tok,
		"{\"path\":\"/"
		"x\",\"expand\":{\"acting_user\":\"most\"},\"context\":{\"app_id\":\"bot-only\"}}");
	expect(&r, 400, "apps.call.invalid.app_error");
	ts_resp_free(&r);
}

static void call_request_errors(void **state)
{
	static const char *const reserved[] = { "/oauth2/connect", "/oauth2/complete",
						"/install-hook", "/uninstall-hook" };
	struct ts_resp r;
	char body[256];

	(void)state;
	r = api("POST", P "/api/v1/call", NULL,
		"{\"path\":\"/echo\",\"context\":{\"app_id\":\"test-app\"}}");
	expect(&r, 401, "api.context.session_expired.app_error");
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/call", user_tok,
		"{\"path\":\"/echo\",\"context\":{\"app_id\":\"ghost\"}}");
	expect(&r, 404, "apps.app.not_found.app_error");
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/call", user_tok, "{\"path\":\"/echo\"}");
	expect(&r, 400, "apps.call.invalid.app_error");
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/call", user_tok, "[1]");
	expect(&r, 400, "apps.call.invalid.app_error");
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/call", user_tok,
		"{\"path\":\"/a/../b\",\"context\":{\"app_id\":\"test-app\"}}");
	expect(&r, 400, "apps.call.invalid.app_error");
	ts_resp_free(&r);
	for (size_t i = 0; i < 4; i++) {
		snprintf(body, sizeof(body),
			 "{\"path\":\"%s\",\"context\":{\"app_id\":\"test-app\"}}", reserved[i]);
		r = api("POST", P "/api/v1/call", user_tok, body);
		expect(&r, 403, "apps.call.forbidden_path.app_error");
		ts_resp_free(&r);
	}
}

static void reserved_paths_are_reserved_however_spelled(void **state)
{
	static const char *const reserved[] = {
		"/oauth2/%63omplete", "/oauth2/%63%6F%6Dplete", "/oauth2//complete",
		"/./oauth2/complete", "/OAuth2/Complete",       "/oauth2/complete/",
		"/oauth2/connect/.",  "/install%2Dhook",        "/UNINSTALL-HOOK",
	};
	static const char *const refused[] = {
		"/oauth2%2Fcomplete", "/x/%2e%2e/oauth2/complete", "/oauth2/%2563omplete",
		"/oauth2/complete;x", "/oauth2/complete%3Fx",
	};
	size_t completes = count_received("/oauth2/complete");
	size_t connects = count_received("/oauth2/connect");
	struct ts_resp r;
	json_t *resp, *rec;
	char body[256];

	(void)state;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		snprintf(
			body, sizeof(body),
			"{\"path\":\"%s\",\"values\":{\"code\":\"chosen\",\"code_verifier\":\"v\"},"
			"\"context\":{\"app_id\":\"test-app\"}}",
			reserved[i]);
		r = api("POST", P "/api/v1/call", user_tok, body);
		if (r.status != 403 || !strstr(r.body, "apps.call.forbidden_path.app_error"))
			fail_msg("%s: %ld %.200s", reserved[i], r.status, r.body);
		ts_resp_free(&r);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(body, sizeof(body),
			 "{\"path\":\"%s\",\"context\":{\"app_id\":\"test-app\"}}", refused[i]);
		r = api("POST", P "/api/v1/call", user_tok, body);
		if (r.status != 400 || !strstr(r.body, "apps.call.invalid.app_error"))
			fail_msg("%s: %ld %.200s", refused[i], r.status, r.body);
		ts_resp_free(&r);
	}
	assert_int_equal(count_received("/oauth2/complete"), completes);
	assert_int_equal(count_received("/oauth2/connect"), connects);
	/* The App is sent the path that was checked. */
	resp = call(user_tok, "test-app", "/ech%6f//", NULL);
	assert_string_equal(json_string_value(json_object_get(resp, "type")), "ok");
	json_decref(resp);
	rec = last_received("/echo");
	assert_non_null(rec);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(rec, "body"), "path")), "/echo");
	json_decref(rec);
}

static void every_app_failure_is_an_error_response(void **state)
{
	static const struct {
		const char *path;
		const char *text;
	} cases[] = {
		{ "/fail", "the App answered HTTP 500" },
		{ "/garbage", "the App's response is not a JSON object" },
		{ "/huge", "the App's response is larger than 1 MiB" },
		{ "/slow", "the App did not answer in time" },
		{ "/badtype", "the App's response has an unknown type" },
	};
	json_t *resp;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		resp = call(user_tok, "test-app", cases[i].path, NULL);
		assert_string_equal(json_string_value(json_object_get(resp, "type")), "error");
		if (strcmp(json_string_value(json_object_get(resp, "text")), cases[i].text) != 0)
			fail_msg("%s: %s", cases[i].path,
				 json_string_value(json_object_get(resp, "text")));
		assert_non_null(json_object_get(resp, "app_metadata"));
		json_decref(resp);
	}
	/* The App's own error response is passed through. */
	resp = call(user_tok, "test-app", "/error", NULL);
	assert_string_equal(json_string_value(json_object_get(resp, "text")), "it broke");
	json_decref(resp);
}

struct slow {
	pthread_t t;
	volatile int done;
	char text[256];
};

static void *slow_call(void *arg)
{
	struct slow *s = arg;
	json_t *resp = call(user_tok, "test-app", "/slow", NULL);

	snprintf(s->text, sizeof(s->text), "%s", json_string_value(json_object_get(resp, "text")));
	json_decref(resp);
	s->done = 1;
	return NULL;
}

static void slow_apps_do_not_stop_other_routes(void **state)
{
	size_t before = count_received("/slow");
	struct slow s[4];
	struct ts_resp r;
	json_t *resp;

	(void)state;
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&s[i].t, NULL, slow_call, &s[i]), 0);
	/* Wait until the App holds all four (it answers after 3 s; the plugin
	 * gives up after 2 s). */
	for (int i = 0; i < 150 && count_received("/slow") < before + 4; i++)
		usleep(10 * 1000);
	if (count_received("/slow") != before + 4) {
		for (int i = 0; i < 4; i++)
			pthread_join(s[i].t, NULL);
		fail_msg("the App got %zu of 4 slow calls: %s | %s | %s | %s",
			 count_received("/slow") - before, s[0].text, s[1].text, s[2].text,
			 s[3].text);
	}
	r = api("GET", P "/api/v1/ping", NULL, NULL);
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	r = api("GET", "/api/v4/users/me", user_tok, NULL);
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	/* A fifth call is refused at once rather than taking a thread. */
	resp = call(user_tok, "test-app", "/echo", NULL);
	assert_string_equal(json_string_value(json_object_get(resp, "text")),
			    "too many calls to Apps are in progress; try again");
	json_decref(resp);
	for (int i = 0; i < 4; i++)
		assert_false(s[i].done);
	for (int i = 0; i < 4; i++) {
		pthread_join(s[i].t, NULL);
		assert_string_equal(s[i].text, "the App did not answer in time");
	}
}

static void disable_revokes_tokens_and_blocks_calls(void **state)
{
	char bot_tok[64], act_tok[64];
	struct ts_resp r;
	json_t *resp;

	(void)state;
	resp = call(user_tok, "test-app", "/echo", "{\"acting_user_access_token\":\"all\"}");
	snprintf(bot_tok, sizeof(bot_tok), "%s", ctx_str(resp, "bot_access_token"));
	snprintf(act_tok, sizeof(act_tok), "%s", ctx_str(resp, "acting_user_access_token"));
	json_decref(resp);
	r = api("POST", P "/api/v1/disable-app", admin_tok, "{\"app_id\":\"test-app\"}");
	expect(&r, 200, NULL);
	assert_non_null(strstr(r.body, "\"disabled\":true"));
	ts_resp_free(&r);
	r = api("GET", "/api/v4/users/me", bot_tok, NULL);
	expect(&r, 401, NULL);
	ts_resp_free(&r);
	r = api("GET", "/api/v4/users/me", act_tok, NULL);
	expect(&r, 401, NULL);
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/call", user_tok,
		"{\"path\":\"/echo\",\"context\":{\"app_id\":\"test-app\"}}");
	expect(&r, 403, "apps.app.disabled.app_error");
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/enable-app", admin_tok, "{\"app_id\":\"test-app\"}");
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	resp = call(user_tok, "test-app", "/echo", NULL);
	assert_string_equal(json_string_value(json_object_get(resp, "type")), "ok");
	assert_string_not_equal(ctx_str(resp, "bot_access_token"), bot_tok);
	r = api("GET", "/api/v4/users/me", ctx_str(resp, "bot_access_token"), NULL);
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	json_decref(resp);
	r = api("POST", P "/api/v1/enable-app", admin_tok, "{\"app_id\":\"ghost-app\"}");
	expect(&r, 404, "apps.app.not_found.app_error");
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/enable-app", admin_tok, "{}");
	expect(&r, 400, "api.context.invalid_body_param.app_error");
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/uninstall-app", admin_tok, "{\"app_id\":\"a\"}");
	expect(&r, 400, "api.context.invalid_body_param.app_error");
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/disable-app", admin_tok, "not json");
	expect(&r, 400, NULL);
	ts_resp_free(&r);
}

static void uninstall_calls_the_app_and_removes_everything(void **state)
{
	char bot_tok[64], bot_id[32], path[128];
	struct ts_resp r;
	json_t *resp, *rec;

	(void)state;
	{
		char body[1024];
		snprintf(
			body, sizeof(body),
			"{\"manifest\":{\"app_id\":\"gone-app\",\"display_name\":\"G\","
			"\"homepage_url\":\"https://x\",\"requested_permissions\":[\"act_as_bot\"],"
			"\"on_uninstall\":\"/uninstall-hook\",\"http\":{\"root_url\":\"%s\"}}}",
			app.base_url);
		r = api("POST", P "/api/v1/install-app", admin_tok, body);
		expect(&r, 200, NULL);
		ts_resp_free(&r);
	}
	resp = call(user_tok, "gone-app", "/echo", NULL);
	snprintf(bot_tok, sizeof(bot_tok), "%s", ctx_str(resp, "bot_access_token"));
	snprintf(bot_id, sizeof(bot_id), "%s", ctx_str(resp, "bot_user_id"));
	json_decref(resp);
	r = api("POST", P "/api/v1/uninstall-app", admin_tok, "{\"app_id\":\"gone-app\"}");
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	rec = last_received("/uninstall-hook");
	assert_non_null(rec);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(rec, "body"), "context"), "app_id")),
		"gone-app");
	json_decref(rec);
	r = api("GET", P "/api/v1/apps/gone-app", admin_tok, NULL);
	expect(&r, 404, "apps.app.not_found.app_error");
	ts_resp_free(&r);
	r = api("GET", "/api/v4/users/me", bot_tok, NULL);
	expect(&r, 401, NULL);
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/api/v4/users/%s", bot_id);
	r = api("GET", path, admin_tok, NULL);
	expect(&r, 200, NULL);
	assert_null(strstr(r.body, "\"delete_at\":0"));
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/uninstall-app", admin_tok, "{\"app_id\":\"gone-app\"}");
	expect(&r, 404, "apps.app.not_found.app_error");
	ts_resp_free(&r);
}

/* On PostgreSQL, deleting host sessions made to fail (a trigger): disabling
 * or uninstalling an App must not answer 200 while its tokens still work;
 * repeating it once the database is well finishes the work. */
#define FAIL_SESSION_DELETES                                                                       \
	"CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS "                     \
	"$$BEGIN RAISE EXCEPTION 'refused by the test'; END$$; "                                   \
	"CREATE TRIGGER refuse_delete BEFORE DELETE ON host_sessions FOR EACH ROW "                \
	"EXECUTE FUNCTION refuse_delete()"
#define ALLOW_SESSION_DELETES                                                                      \
	"DROP TRIGGER refuse_delete ON host_sessions; DROP FUNCTION refuse_delete()"

static void revoke_fails_for(const char *route, const char *app_id, const char *token)
{
	char url[512], body[128], path[128];
	struct ts_resp r;

	assert_int_equal(ts_pg_hosts_url(url, sizeof(url)), 0);
	snprintf(body, sizeof(body), "{\"app_id\":\"%s\"}", app_id);
	snprintf(path, sizeof(path), P "/api/v1/%s", route);
	assert_int_equal(ts_pg_exec(url, FAIL_SESSION_DELETES), 0);
	r = api("POST", path, admin_tok, body);
	if (r.status != 503 || !strstr(r.body, "apps.app.sessions_not_revoked.app_error") ||
	    !strstr(r.body, "Repeat"))
		fail_msg("%s while the App's sessions could not be revoked: %ld %.300s", route,
			 r.status, r.body);
	ts_resp_free(&r);
	/* Why it must not be 200: the App's token still works on the host. */
	r = api("GET", "/api/v4/users/me", token, NULL);
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	/* The App stays installed and disabled meanwhile. */
	snprintf(path, sizeof(path), P "/api/v1/apps/%s", app_id);
	r = api("GET", path, admin_tok, NULL);
	expect(&r, 200, NULL);
	assert_non_null(strstr(r.body, "\"disabled\":true"));
	ts_resp_free(&r);
	assert_int_equal(ts_pg_exec(url, ALLOW_SESSION_DELETES), 0);
	/* Repeated: done, and the token is refused. */
	snprintf(path, sizeof(path), P "/api/v1/%s", route);
	r = api("POST", path, admin_tok, body);
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	r = api("GET", "/api/v4/users/me", token, NULL);
	expect(&r, 401, NULL);
	ts_resp_free(&r);
}

static void disable_or_uninstall_that_cannot_revoke_is_503_and_can_be_repeated(void **state)
{
	char bot_tok[64], body[1024];
	struct ts_resp r;
	json_t *resp;

	(void)state;
	if (ts_pg_hosts_url(body, sizeof(body)) != 0)
		skip(); /* LMDB: the host's store cannot be made to fail alone */
	resp = call(user_tok, "test-app", "/echo", NULL);
	snprintf(bot_tok, sizeof(bot_tok), "%s", ctx_str(resp, "bot_access_token"));
	json_decref(resp);
	revoke_fails_for("disable-app", "test-app", bot_tok);
	r = api("POST", P "/api/v1/enable-app", admin_tok, "{\"app_id\":\"test-app\"}");
	expect(&r, 200, NULL);
	ts_resp_free(&r);

	snprintf(body, sizeof(body),
		 "{\"manifest\":{\"app_id\":\"stuck-app\",\"display_name\":\"S\","
		 "\"homepage_url\":\"https://x\",\"requested_permissions\":[\"act_as_bot\"],"
		 "\"http\":{\"root_url\":\"%s\"}}}",
		 app.base_url);
	r = api("POST", P "/api/v1/install-app", admin_tok, body);
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	resp = call(user_tok, "stuck-app", "/echo", NULL);
	snprintf(bot_tok, sizeof(bot_tok), "%s", ctx_str(resp, "bot_access_token"));
	json_decref(resp);
	revoke_fails_for("uninstall-app", "stuck-app", bot_tok);
	r = api("GET", P "/api/v1/apps/stuck-app", admin_tok, NULL);
	expect(&r, 404, "apps.app.not_found.app_error");
	ts_resp_free(&r);
}

static void bot_name_taken_by_a_person_is_409(void **state)
{
	char id[32];
	struct ts_resp r;

	(void)state;
	assert_int_equal(ts_create_user(data_dir, "taken-name", "long-enough-pw", 0, id), 0);
	r = api("POST", P "/api/v1/install-app", admin_tok,
		"{\"manifest\":{\"app_id\":\"taken-name\",\"display_name\":\"T\","
		"\"homepage_url\":\"https://x\",\"http\":{\"root_url\":\"http://127.0.0.1:1\"}}}");
	expect(&r, 409, "apps.install.bot_conflict.app_error");
	ts_resp_free(&r);
}

static void app_ids_differing_in_case_are_one_app(void **state)
{
	char body[1024], bot_tok[64], bot_path[128];
	struct ts_resp r;
	json_t *resp;

	(void)state;
	snprintf(body, sizeof(body),
		 "{\"manifest\":{\"app_id\":\"case-app\",\"display_name\":\"C\","
		 "\"homepage_url\":\"https://x\",\"requested_permissions\":[\"act_as_bot\"],"
		 "\"http\":{\"root_url\":\"%s\"}}}",
		 app.base_url);
	r = api("POST", P "/api/v1/install-app", admin_tok, body);
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	resp = call(user_tok, "case-app", "/echo", NULL);
	snprintf(bot_tok, sizeof(bot_tok), "%s", ctx_str(resp, "bot_access_token"));
	snprintf(bot_path, sizeof(bot_path), "/api/v4/users/%s", ctx_str(resp, "bot_user_id"));
	json_decref(resp);
	/* CASE-APP would get case-app's bot, and take it away when it goes. */
	snprintf(body, sizeof(body),
		 "{\"manifest\":{\"app_id\":\"CASE-APP\",\"display_name\":\"C\","
		 "\"homepage_url\":\"https://x\",\"requested_permissions\":[\"act_as_bot\"],"
		 "\"http\":{\"root_url\":\"http://127.0.0.1:1\"}}}");
	r = api("POST", P "/api/v1/install-app", admin_tok, body);
	expect(&r, 409, "apps.install.app_id_conflict.app_error");
	assert_non_null(strstr(r.body, "case-app"));
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/uninstall-app", admin_tok, "{\"app_id\":\"CASE-APP\"}");
	expect(&r, 404, "apps.app.not_found.app_error");
	ts_resp_free(&r);
	r = api("POST", P "/api/v1/disable-app", admin_tok, "{\"app_id\":\"Case-App\"}");
	expect(&r, 404, "apps.app.not_found.app_error");
	ts_resp_free(&r);
	/* case-app is untouched: installed, enabled, its bot active. */
	r = api("GET", P "/api/v1/apps/case-app", admin_tok, NULL);
	expect(&r, 200, NULL);
	assert_non_null(strstr(r.body, "\"disabled\":false"));
	ts_resp_free(&r);
	r = api("GET", bot_path, admin_tok, NULL);
	expect(&r, 200, NULL);
	assert_non_null(strstr(r.body, "\"delete_at\":0"));
	ts_resp_free(&r);
	r = api("GET", "/api/v4/users/me", bot_tok, NULL);
	expect(&r, 200, NULL);
	ts_resp_free(&r);
	resp = call(user_tok, "case-app", "/echo", NULL);
	assert_string_equal(json_string_value(json_object_get(resp, "type")), "ok");
	json_decref(resp);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(admin_routes_refuse_others),
		cmocka_unit_test(every_manifest_error_names_its_field),
		cmocka_unit_test(manifest_over_1mib_is_413),
		cmocka_unit_test(install_shows_the_secret_once_then_redacts),
		cmocka_unit_test(secret_bearing_answers_are_never_cached),
		cmocka_unit_test(reinstall_keeps_bot_and_secret),
		cmocka_unit_test(call_gets_expanded_context_and_real_tokens),
		cmocka_unit_test(required_expansion_that_cannot_be_made_fails_the_call),
		cmocka_unit_test(call_request_errors),
		cmocka_unit_test(reserved_paths_are_reserved_however_spelled),
		cmocka_unit_test(every_app_failure_is_an_error_response),
		cmocka_unit_test(slow_apps_do_not_stop_other_routes),
		cmocka_unit_test(disable_revokes_tokens_and_blocks_calls),
		cmocka_unit_test(uninstall_calls_the_app_and_removes_everything),
		cmocka_unit_test(
			disable_or_uninstall_that_cannot_revoke_is_503_and_can_be_repeated),
		cmocka_unit_test(bot_name_taken_by_a_person_is_409),
		cmocka_unit_test(app_ids_differing_in_case_are_one_app),
	};
	/* argv[1] "postgres": the hosts keep everything in PostgreSQL. */
	if (argc > 1 && strcmp(argv[1], "postgres") == 0 && ts_pg_use_for_hosts("apps") != 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
