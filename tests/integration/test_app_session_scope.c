/*
 * App sessions are scoped, whoever they act for: the tokens an App is handed
 * (its bot's, and the acting user's, an admin's included) read users and
 * ping the host, and store through the plugin's OAuth2 routes; everything
 * else is 403 api.context.app_session_scope.app_error. Over HTTP against
 * the real host and plugin, with the tokens the test App really received.
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

#include "pg_harness.h"
#include "apps_world.h"

#define P TS_APPS
#define SCOPE "api.context.app_session_scope.app_error"

static struct ts_world world;
static char user_tok[64], user_id[32];
/* The tokens the App was handed: admin's acting-user token (in on_install),
 * a user's acting-user token and the bot's (in a call). */
static char admin_app_tok[64], user_app_tok[64], bot_tok[64], bot_id[64];

static struct ts_resp api(const char *method, const char *path, const char *token, const char *body)
{
	return ts_api(world.host.base_url, method, path, token, body);
}

static void expect(struct ts_resp r, long status, const char *id, const char *what)
{
	if (r.status != status)
		fail_msg("%s: status %ld, wanted %ld: %.300s", what, r.status, status, r.body);
	if (id && !strstr(r.body, id))
		fail_msg("%s: %.300s lacks %s", what, r.body, id);
	ts_resp_free(&r);
}

/* The acting-user token on_install was handed, from what the App received. */
static int install_hook_token(char *out)
{
	char url[128];
	struct ts_resp r;
	json_t *all, *e, *ctx;
	size_t i;

	out[0] = '\0';
	snprintf(url, sizeof(url), "%s/_received", world.app.base_url);
	if (ts_http("GET", url, NULL, NULL, 0, 0, &r) != 0)
		return -1;
	all = json_loadb(r.body, r.body_len, 0, NULL);
	json_array_foreach(all, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "path")), "/install-hook") != 0)
			continue;
		ctx = json_object_get(json_object_get(e, "body"), "context");
		snprintf(out, 64, "%s",
			 json_string_value(json_object_get(ctx, "acting_user_access_token"))
				 ? json_string_value(
					   json_object_get(ctx, "acting_user_access_token"))
				 : "");
	}
	json_decref(all);
	ts_resp_free(&r);
	return out[0] ? 0 : -1;
}

static int setup(void **state)
{
	char body[2048];
	struct ts_resp r;

	(void)state;
	if (ts_world_start(&world, NULL, 0, NULL) != 0 ||
	    ts_world_user(&world, "user", 0, user_tok, user_id) != 0)
		return -1;
	/* The App asks for the installing admin's token in on_install. */
	snprintf(body, sizeof(body),
		 "{\"manifest\":{\"app_id\":\"app-a\",\"display_name\":\"A\","
		 "\"homepage_url\":\"https://example.com\",\"requested_permissions\":[" TS_ALL_PERMS
		 "],\"on_install\":{\"path\":\"/install-hook\",\"expand\":"
		 "{\"acting_user_access_token\":\"all\"}},\"http\":{\"root_url\":\"%s\"}}}",
		 world.app.base_url);
	r = api("POST", P "/api/v1/install-app", world.admin_tok, body);
	if (r.status != 200)
		return fprintf(stderr, "install app-a: %s\n", r.body), -1;
	ts_resp_free(&r);
	if (ts_world_install(&world, "app-b", TS_ALL_PERMS, NULL) != 0 ||
	    install_hook_token(admin_app_tok) != 0 ||
	    ts_app_tokens(world.host.base_url, user_tok, "app-a", bot_tok, user_app_tok, bot_id) !=
		    0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&world);
}

static void app_tokens_read_users_and_ping_the_host(void **state)
{
	const char *toks[] = { admin_app_tok, user_app_tok, bot_tok };
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "/api/v4/users/%s", world.admin_id);
	for (size_t i = 0; i < 3; i++) {
		expect(api("GET", "/api/v4/users/me", toks[i], NULL), 200, NULL, "me");
		expect(api("GET", path, toks[i], NULL), 200, NULL, "user by id");
		expect(api("HEAD", "/api/v4/users/me", toks[i], NULL), 200, NULL, "HEAD me");
		expect(api("GET", "/api/v4/system/ping", toks[i], NULL), 200, NULL, "ping");
	}
}

static void app_tokens_cannot_mint_longer_lived_tokens(void **state)
{
	const char *toks[] = { admin_app_tok, user_app_tok, bot_tok };
	const char *ids[] = { world.admin_id, user_id, bot_id };
	char path[128];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		expect(api("POST", "/api/v4/users/me/tokens", toks[i], "{\"description\":\"x\"}"),
		       403, SCOPE, "PAT for me");
		snprintf(path, sizeof(path), "/api/v4/users/%s/tokens", ids[i]);
		expect(api("POST", path, toks[i], "{\"description\":\"x\"}"), 403, SCOPE,
		       "PAT by id");
	}
	/* The person's own session still can. */
	expect(api("POST", "/api/v4/users/me/tokens", user_tok, "{\"description\":\"mine\"}"), 200,
	       NULL, "the user's own PAT");
}

static void an_admins_app_token_is_not_the_admin_on_the_host(void **state)
{
	static const struct {
		const char *method, *path, *body;
	} routes[] = {
		{ "POST", "/api/v4/users",
		  "{\"username\":\"mallory\",\"email\":\"m@x.io\",\"password\":\"long-enough-"
		  "1\"}" },
		{ "GET", "/api/v4/plugins", NULL },
		{ "POST", "/api/v4/plugins/com.mattermost.apps/disable", NULL },
		{ "POST", "/api/v4/plugins/com.mattermost.apps/enable", NULL },
		{ "POST", "/api/v4/users/logout", NULL },
		{ "POST", "/api/v4/users/login", "{\"login_id\":\"user\",\"password\":\"x\"}" },
		{ "GET", "/login", NULL },
		{ "GET", "/", NULL },
	};
	const char *toks[] = { admin_app_tok, user_app_tok, bot_tok };

	(void)state;
	for (size_t t = 0; t < 3; t++) {
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			char what[160];
			snprintf(what, sizeof(what), "token %zu %s %s", t, routes[i].method,
				 routes[i].path);
			expect(api(routes[i].method, routes[i].path, toks[t], routes[i].body), 403,
			       SCOPE, what);
		}
	}
	/* Nothing happened: the plugin is active, the token still reads. */
	expect(api("GET", P "/api/v1/ping", NULL, NULL), 200, NULL, "plugin still active");
	expect(api("GET", "/api/v4/users/me", admin_app_tok, NULL), 200, NULL, "not logged out");
}

static void app_tokens_reach_only_the_plugins_oauth2_routes(void **state)
{
	static const struct {
		const char *method, *path, *body;
	} routes[] = {
		{ "GET", P "/api/v1/ping", NULL },
		{ "POST", P "/api/v1/update-app-listing", "{}" },
		{ "POST", P "/api/v1/install-app", "{\"app_id\":\"app-b\"}" },
		{ "POST", P "/api/v1/enable-app", "{\"app_id\":\"app-b\"}" },
		{ "POST", P "/api/v1/disable-app", "{\"app_id\":\"app-b\"}" },
		{ "POST", P "/api/v1/uninstall-app", "{\"app_id\":\"app-b\"}" },
		{ "GET", P "/api/v1/apps", NULL },
		{ "GET", P "/api/v1/apps/app-b", NULL },
		{ "POST", P "/api/v1/call",
		  "{\"path\":\"/echo\",\"context\":{\"app_id\":\"app-b\"}}" },
		{ "GET", P "/apps/app-b/oauth2/remote/connect", NULL },
		{ "GET", P "/apps/app-b/oauth2/remote/complete?state=x&code=y", NULL },
	};
	const char *toks[] = { admin_app_tok, user_app_tok, bot_tok };

	(void)state;
	for (size_t t = 0; t < 3; t++) {
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			char what[160];
			snprintf(what, sizeof(what), "token %zu %s %s", t, routes[i].method,
				 routes[i].path);
			expect(api(routes[i].method, routes[i].path, toks[t], routes[i].body), 403,
			       SCOPE, what);
		}
	}
	/* Where they belong, they work. */
	expect(api("PUT", P "/api/v1/oauth2/app", admin_app_tok, "{\"client_id\":\"c\"}"), 200,
	       NULL, "oauth2/app as the admin acting user");
	expect(api("PUT", P "/api/v1/oauth2/app", bot_tok, "{\"client_id\":\"c\"}"), 200, NULL,
	       "oauth2/app as the bot");
	expect(api("PUT", P "/api/v1/oauth2/user", user_app_tok, "{\"t\":1}"), 200, NULL,
	       "oauth2/user");
	expect(api("GET", P "/api/v1/oauth2/user", user_app_tok, NULL), 200, "{\"t\":1}",
	       "oauth2/user back");
}

static void an_app_cannot_take_over_another_app(void **state)
{
	char body[1024];
	struct ts_resp r;
	json_t *j;

	(void)state;
	/* App A, holding the admin's acting-user token, reinstalls B at its
	 * own URL: B's secrets would follow B's calls there. */
	snprintf(body, sizeof(body),
		 "{\"manifest\":{\"app_id\":\"app-b\",\"display_name\":\"B\","
		 "\"homepage_url\":\"https://example.com\",\"requested_permissions\":[" TS_ALL_PERMS
		 "],\"http\":{\"root_url\":\"http://127.0.0.1:9/evil\"}}}");
	expect(api("POST", P "/api/v1/install-app", admin_app_tok, body), 403, SCOPE,
	       "reinstall B");
	r = api("GET", P "/api/v1/apps/app-b", world.admin_tok, NULL);
	assert_int_equal(r.status, 200);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "http"), "root_url")),
		world.app.base_url);
	json_decref(j);
	ts_resp_free(&r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(app_tokens_read_users_and_ping_the_host),
		cmocka_unit_test(app_tokens_cannot_mint_longer_lived_tokens),
		cmocka_unit_test(an_admins_app_token_is_not_the_admin_on_the_host),
		cmocka_unit_test(app_tokens_reach_only_the_plugins_oauth2_routes),
		cmocka_unit_test(an_app_cannot_take_over_another_app),
	};
	/* argv[1] "postgres": the hosts keep everything in PostgreSQL. */
	if (argc > 1 && strcmp(argv[1], "postgres") == 0 &&
	    ts_pg_use_for_hosts("app_session_scope") != 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
