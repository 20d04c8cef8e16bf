/*
 * The OAuth2 store over HTTP, with real tokens that the test App received in
 * calls: the caller x route x App state matrix with exact statuses, byte-exact
 * round trips, the 8 KiB limit, isolation between Apps and users, the
 * oauth2_app/oauth2_user expansions, uninstall, and what is on disk.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "pg_harness.h"
#include "apps_world.h"

#define P TS_APPS
#define CLIENT_SECRET "client-secret-7f3a9c"
#define USER_TOKEN "gho_user_token_5d2e8b"

static struct ts_world world;
/* Short names for the world's parts, used throughout. */
#define host world.host
#define plugins world.plugins
#define admin_tok world.admin_tok
#define admin_id world.admin_id
static char data_dir[320];
static char u1_tok[64], u2_tok[64], u1_id[32], u2_id[32];

/* Tokens an App holds, from a call's context. */
struct app_tokens {
	char bot[64];
	char acting[64];
	char bot_id[32];
};

static struct ts_resp api(const char *method, const char *path, const char *token, const char *body)
{
	return ts_api(host.base_url, method, path, token, body);
}

static void expect(struct ts_resp r, long status, const char *id, const char *what)
{
	if (r.status != status)
		fail_msg("%s: status %ld, wanted %ld: %.300s", what, r.status, status, r.body);
	if (id && !strstr(r.body, id))
		fail_msg("%s: %.300s lacks %s", what, r.body, id);
	ts_resp_free(&r);
}

static void install(const char *app_id, const char *perms)
{
	assert_int_equal(ts_world_install(&world, app_id, perms, NULL), 0);
}

#define PERMS_ALL "\"act_as_bot\",\"act_as_user\",\"remote_oauth2\""
#define PERMS_NO_OAUTH2 "\"act_as_bot\",\"act_as_user\""

static json_t *call(const char *token, const char *app_id, const char *expand)
{
	char body[512];
	struct ts_resp r;
	json_t *j;

	snprintf(body, sizeof(body),
		 "{\"path\":\"/echo\",\"expand\":%s,\"context\":{\"app_id\":\"%s\"}}", expand,
		 app_id);
	r = api("POST", P "/api/v1/call", token, body);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	ts_resp_free(&r);
	assert_non_null(j);
	return j;
}

static json_t *ctx_of(json_t *resp)
{
	return json_object_get(json_object_get(resp, "data"), "context");
}

/* The App's tokens for the user of user_token, as a call hands them over. */
static void tokens_for(const char *user_token, const char *app_id, struct app_tokens *t)
{
	assert_int_equal(
		ts_app_tokens(host.base_url, user_token, app_id, t->bot, t->acting, t->bot_id), 0);
}

/* A session for user_id carrying mattermost_app_id=app_id, minted through
 * the fixture plugin (for Apps whose own tokens cannot exist: not installed,
 * disabled). */
static void mint(const char *user_id, const char *app_id, char *token)
{
	char path[256];
	struct ts_resp r;
	json_t *j;

	snprintf(path, sizeof(path), "/plugins/fixture.good/host-api/session?a=%s&b=%s&ms=600000",
		 user_id, app_id);
	r = api("GET", path, NULL, NULL);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	snprintf(token, 64, "%s", json_string_value(json_object_get(j, "token")));
	json_decref(j);
	ts_resp_free(&r);
}

static int setup(void **state)
{
	(void)state;
	if (ts_world_start(&world, NULL, 1, NULL) != 0 ||
	    ts_world_user(&world, "user1", 0, u1_tok, u1_id) != 0 ||
	    ts_world_user(&world, "user2", 0, u2_tok, u2_id) != 0 ||
	    ts_world_install(&world, "oauth-a", PERMS_ALL, NULL) != 0 ||
	    ts_world_install(&world, "oauth-b", PERMS_ALL, NULL) != 0 ||
	    ts_world_install(&world, "no-oauth", PERMS_NO_OAUTH2, NULL) != 0 ||
	    ts_world_install(&world, "dis-app", PERMS_ALL, NULL) != 0)
		return -1;
	snprintf(data_dir, sizeof(data_dir), "%s", world.data_dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&world);
}

enum caller { C_NONE, C_PERSONAL, C_USER, C_ADMIN, C_BOT };
enum app_state { S_OK, S_NOT_INSTALLED, S_DISABLED, S_NO_OAUTH2 };

static const struct {
	const char *method, *path, *body;
	int app_route;
} routes[] = {
	{ "POST", P "/api/v1/oauth2/app", "{\"client_id\":\"cid\"}", 1 },
	{ "PUT", P "/api/v1/oauth2/app", "{\"client_id\":\"cid\"}", 1 },
	{ "POST", P "/api/v1/oauth2/user", "{\"t\":1}", 0 },
	{ "PUT", P "/api/v1/oauth2/user", "{\"t\":1}", 0 },
	{ "GET", P "/api/v1/oauth2/user", NULL, 0 },
	{ "DELETE", P "/api/v1/oauth2/user", NULL, 0 },
};

static long expected(int app_route, enum caller c, enum app_state s, const char **id)
{
	static const char *const ids[] = {
		"api.context.session_expired.app_error", "apps.oauth2.not_app_session.app_error",
		"apps.oauth2.forbidden.app_error",       "apps.app.not_found.app_error",
		"apps.app.disabled.app_error",           "apps.oauth2.not_granted.app_error"
	};

	*id = NULL;
	if (c == C_NONE)
		return *id = ids[0], 401;
	if (c == C_PERSONAL)
		return *id = ids[1], 403;
	if ((app_route && c == C_USER) || (!app_route && c == C_BOT))
		return *id = ids[2], 403;
	if (s == S_NOT_INSTALLED)
		return *id = ids[3], 404;
	if (s == S_DISABLED)
		return *id = ids[4], 403;
	if (s == S_NO_OAUTH2)
		return *id = ids[5], 403;
	return 200;
}

static void full_matrix_of_caller_route_and_app_state(void **state)
{
	char tok[4][5][64]; /* [state][caller] */
	struct app_tokens t;
	const char *app_of[] = { "oauth-a", "ghost-app", "dis-app", "no-oauth" };

	(void)state;
	/* Real tokens for the installed, enabled Apps. */
	for (int s = 0; s < 4; s += 3) {
		tokens_for(u1_tok, app_of[s], &t);
		snprintf(tok[s][C_USER], 64, "%s", t.acting);
		snprintf(tok[s][C_BOT], 64, "%s", t.bot);
		tokens_for(admin_tok, app_of[s], &t);
		snprintf(tok[s][C_ADMIN], 64, "%s", t.acting);
	}
	/* Not installed: sessions naming an App that does not exist. */
	tokens_for(u1_tok, "oauth-a", &t);
	mint(u1_id, "ghost-app", tok[S_NOT_INSTALLED][C_USER]);
	mint(admin_id, "ghost-app", tok[S_NOT_INSTALLED][C_ADMIN]);
	mint(t.bot_id, "ghost-app", tok[S_NOT_INSTALLED][C_BOT]);
	/* Disabled: disabling revokes the App's sessions, so mint after it. */
	tokens_for(u1_tok, "dis-app", &t);
	expect(api("POST", P "/api/v1/disable-app", admin_tok, "{\"app_id\":\"dis-app\"}"), 200,
	       NULL, "disable");
	mint(u1_id, "dis-app", tok[S_DISABLED][C_USER]);
	mint(admin_id, "dis-app", tok[S_DISABLED][C_ADMIN]);
	mint(t.bot_id, "dis-app", tok[S_DISABLED][C_BOT]);

	for (size_t r = 0; r < sizeof(routes) / sizeof(routes[0]); r++) {
		for (int s = 0; s < 4; s++) {
			for (int c = C_NONE; c <= C_BOT; c++) {
				const char *token = c == C_NONE       ? NULL
						    : c == C_PERSONAL ? u1_tok
								      : tok[s][c];
				const char *id;
				long want = expected(routes[r].app_route, (enum caller)c,
						     (enum app_state)s, &id);
				char what[128];
				snprintf(what, sizeof(what), "%s %s caller %d state %d",
					 routes[r].method, routes[r].path, c, s);
				expect(api(routes[r].method, routes[r].path, token, routes[r].body),
				       want, id, what);
			}
		}
	}
	expect(api("POST", P "/api/v1/enable-app", admin_tok, "{\"app_id\":\"dis-app\"}"), 200,
	       NULL, "enable");
}

static void bot_of_another_app_is_refused(void **state)
{
	struct app_tokens a, b;
	char tok[64];

	(void)state;
	tokens_for(u1_tok, "oauth-a", &a);
	tokens_for(u1_tok, "oauth-b", &b);
	/* B's bot with a session naming A. */
	mint(b.bot_id, "oauth-a", tok);
	expect(api("POST", P "/api/v1/oauth2/app", tok, "{\"client_id\":\"x\"}"), 403,
	       "apps.oauth2.forbidden.app_error", "foreign bot");
}

static void user_data_round_trips_byte_exact(void **state)
{
	static const char *const values[] = {
		"{\"access_token\":\"" USER_TOKEN "\",\"expiry\":\"2026-12-01T00:00:00Z\"}",
		"{ \"spaced\" :  [1, 2.50, -0.0, 1e3] ,\n\t\"nested\":{\"a\":null} }",
		"\"just a string\"",
		"42",
		"-3.14159e-10",
		"true",
		"[]",
		("{\"unicode\":\"\xc3\xa9t\xc3\xa9 \xe2\x9c\x93 "
		 "\xf0\x9f\x94\x91\",\"esc\":\"\\u00e9\\n\"}"),
	};
	struct app_tokens t;
	struct ts_resp r;
	char ct[64];

	(void)state;
	tokens_for(u1_tok, "oauth-a", &t);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		expect(api(i % 2 ? "PUT" : "POST", P "/api/v1/oauth2/user", t.acting, values[i]),
		       200, NULL, values[i]);
		r = api("GET", P "/api/v1/oauth2/user", t.acting, NULL);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, strlen(values[i]));
		assert_memory_equal(r.body, values[i], r.body_len);
		assert_int_equal(ts_resp_header(&r, "Content-Type", ct, sizeof(ct)), 0);
		assert_string_equal(ct, "application/json");
		/* The user's token: no cache may keep it. */
		assert_int_equal(ts_resp_header(&r, "Cache-Control", ct, sizeof(ct)), 0);
		assert_string_equal(ct, "no-store");
		ts_resp_free(&r);
	}
	/* null deletes; DELETE deletes; nothing stored reads as null. */
	expect(api("POST", P "/api/v1/oauth2/user", t.acting, "null"), 200, "{}", "null");
	r = api("GET", P "/api/v1/oauth2/user", t.acting, NULL);
	assert_string_equal(r.body, "null");
	ts_resp_free(&r);
	expect(api("POST", P "/api/v1/oauth2/user", t.acting, "{\"x\":1}"), 200, NULL, "x");
	expect(api("DELETE", P "/api/v1/oauth2/user", t.acting, NULL), 200, "{}", "delete");
	r = api("GET", P "/api/v1/oauth2/user", t.acting, NULL);
	assert_string_equal(r.body, "null");
	ts_resp_free(&r);
}

static void limits_and_bad_bodies_leave_the_value_unchanged(void **state)
{
	char *body = malloc(8193 + 1);
	struct app_tokens t;
	struct ts_resp r;

	(void)state;
	tokens_for(u1_tok, "oauth-a", &t);
	/* Exactly 8 KiB: a JSON string of 8190 characters plus its quotes. */
	memset(body, 'a', 8192);
	body[0] = '"';
	body[8191] = '"';
	body[8192] = '\0';
	expect(api("POST", P "/api/v1/oauth2/user", t.acting, body), 200, NULL, "8 KiB");
	memset(body, 'b', 8193);
	body[0] = '"';
	body[8192] = '"';
	body[8193] = '\0';
	expect(api("POST", P "/api/v1/oauth2/user", t.acting, body), 413,
	       "apps.oauth2.body_too_large.app_error", "8 KiB + 1");
	expect(api("POST", P "/api/v1/oauth2/user", t.acting, "{broken"), 400,
	       "apps.oauth2.invalid_body.app_error", "bad json");
	expect(api("POST", P "/api/v1/oauth2/user", t.acting, ""), 400,
	       "apps.oauth2.invalid_body.app_error", "empty");
	r = api("GET", P "/api/v1/oauth2/user", t.acting, NULL);
	assert_int_equal(r.body_len, 8192);
	assert_int_equal(r.body[1], 'a');
	ts_resp_free(&r);
	/* The app route: 413, then 400 for a wrong shape, value unchanged. */
	expect(api("POST", P "/api/v1/oauth2/app", t.bot, "{\"client_id\":\"keep\"}"), 200, NULL,
	       "app");
	expect(api("POST", P "/api/v1/oauth2/app", t.bot, body), 413, NULL, "app 413");
	expect(api("POST", P "/api/v1/oauth2/app", t.bot, "{\"client_id\":7}"), 400,
	       "client_id must be a string", "client_id number");
	expect(api("POST", P "/api/v1/oauth2/app", t.bot, "[]"), 400,
	       "apps.oauth2.invalid_body.app_error", "array");
	{
		json_t *resp = call(u1_tok, "oauth-a", "{\"oauth2_app\":\"summary\"}");
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(ctx_of(resp), "oauth2"), "client_id")),
				    "keep");
		json_decref(resp);
	}
	free(body);
	expect(api("PATCH", P "/api/v1/oauth2/user", t.acting, "{}"), 405, NULL, "patch");
	r = api("PATCH", P "/api/v1/oauth2/app", t.acting, "{}");
	{
		char allow[64];
		assert_int_equal(ts_resp_header(&r, "Allow", allow, sizeof(allow)), 0);
		assert_string_equal(allow, "POST, PUT");
	}
	ts_resp_free(&r);
}

static void apps_and_users_never_see_each_other(void **state)
{
	struct app_tokens a1, a2, b1;
	struct ts_resp r;

	(void)state;
	tokens_for(u1_tok, "oauth-a", &a1);
	tokens_for(u2_tok, "oauth-a", &a2);
	tokens_for(u1_tok, "oauth-b", &b1);
	expect(api("POST", P "/api/v1/oauth2/user", a1.acting, "\"a-user1\""), 200, NULL, "a1");
	expect(api("DELETE", P "/api/v1/oauth2/user", a2.acting, NULL), 200, NULL, "a2 clear");
	expect(api("DELETE", P "/api/v1/oauth2/user", b1.acting, NULL), 200, NULL, "b1 clear");
	r = api("GET", P "/api/v1/oauth2/user", a2.acting, NULL);
	assert_string_equal(r.body, "null");
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/oauth2/user", b1.acting, NULL);
	assert_string_equal(r.body, "null");
	ts_resp_free(&r);
	expect(api("POST", P "/api/v1/oauth2/user", b1.acting, "\"b-user1\""), 200, NULL, "b1");
	expect(api("POST", P "/api/v1/oauth2/user", a2.acting, "\"a-user2\""), 200, NULL, "a2");
	r = api("GET", P "/api/v1/oauth2/user", a1.acting, NULL);
	assert_string_equal(r.body, "\"a-user1\"");
	ts_resp_free(&r);
	r = api("GET", P "/api/v1/oauth2/user", b1.acting, NULL);
	assert_string_equal(r.body, "\"b-user1\"");
	ts_resp_free(&r);
}

static void expansions_hand_the_app_its_client_and_the_users_data(void **state)
{
	struct app_tokens t;
	json_t *resp, *o;
	char url[256];

	(void)state;
	tokens_for(u1_tok, "oauth-a", &t);
	expect(api("PUT", P "/api/v1/oauth2/app", t.bot,
		   "{\"client_id\":\"cid-a\",\"client_secret\":\"" CLIENT_SECRET "\","
		   "\"remote_root_url\":\"https://provider.example\",\"data\":{\"scope\":\"repo\"},"
		   "\"ignored\":1}"),
	       200, NULL, "register");
	expect(api("POST", P "/api/v1/oauth2/user", t.acting,
		   "{\"access_token\":\"" USER_TOKEN "\"}"),
	       200, NULL, "store");
	resp = call(u1_tok, "oauth-a", "{\"oauth2_app\":\"all\",\"oauth2_user\":\"all\"}");
	o = json_object_get(ctx_of(resp), "oauth2");
	assert_string_equal(json_string_value(json_object_get(o, "client_id")), "cid-a");
	assert_string_equal(json_string_value(json_object_get(o, "client_secret")), CLIENT_SECRET);
	assert_string_equal(json_string_value(json_object_get(o, "remote_root_url")),
			    "https://provider.example");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "data"), "scope")),
			    "repo");
	snprintf(url, sizeof(url), "%s" P "/apps/oauth-a/oauth2/remote/connect",
		 json_string_value(json_object_get(ctx_of(resp), "mattermost_site_url")));
	assert_string_equal(json_string_value(json_object_get(o, "connect_url")), url);
	assert_non_null(strstr(json_string_value(json_object_get(o, "complete_url")),
			       "/apps/oauth-a/oauth2/remote/complete"));
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(o, "user"), "access_token")),
		USER_TOKEN);
	assert_null(json_object_get(o, "ignored"));
	json_decref(resp);
	/* summary: no secret, no data. */
	resp = call(u1_tok, "oauth-a", "{\"oauth2_app\":\"summary\"}");
	o = json_object_get(ctx_of(resp), "oauth2");
	assert_string_equal(json_string_value(json_object_get(o, "client_id")), "cid-a");
	assert_null(json_object_get(o, "client_secret"));
	assert_null(json_object_get(o, "data"));
	assert_null(json_object_get(o, "user"));
	json_decref(resp);
	/* Another user sees null as oauth2.user. */
	resp = call(u2_tok, "oauth-a", "{\"oauth2_user\":\"summary\"}");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(ctx_of(resp), "oauth2"), "user")),
		"a-user2");
	json_decref(resp);
	/* Without remote_oauth2: left out, or the call fails when required. */
	resp = call(u1_tok, "no-oauth", "{\"oauth2_app\":\"all\"}");
	assert_null(json_object_get(ctx_of(resp), "oauth2"));
	json_decref(resp);
	resp = call(u1_tok, "no-oauth", "{\"oauth2_app\":\"+all\"}");
	assert_string_equal(json_string_value(json_object_get(resp, "type")), "error");
	assert_non_null(strstr(json_string_value(json_object_get(resp, "text")), "remote_oauth2"));
	json_decref(resp);
	/* The admin view redacts the client secret. */
	{
		struct ts_resp r = api("GET", P "/api/v1/apps/oauth-a", admin_tok, NULL);
		assert_null(strstr(r.body, CLIENT_SECRET));
		assert_non_null(strstr(r.body, "\"client_secret\":\"****3a9c\""));
		ts_resp_free(&r);
	}
}

/* Every file under dir; fails when one holds needle. */
static void assert_no_file_holds(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[1024];
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(lstat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			assert_no_file_holds(path, needle);
		} else if (S_ISREG(st.st_mode)) {
			size_t len = 0;
			char *text = ts_read_file_n(path, &len);
			assert_non_null(text);
			if (memmem(text, len, needle, strlen(needle)))
				fail_msg("%s holds \"%s\" in clear", path, needle);
			free(text);
		}
	}
	closedir(d);
}

static void nothing_secret_is_on_disk_in_clear(void **state)
{
	char url[512];

	(void)state;
	/* The previous test stored both; they are in the store right now. */
	assert_no_file_holds(data_dir, CLIENT_SECRET);
	assert_no_file_holds(data_dir, USER_TOKEN);
	assert_no_file_holds(data_dir, "cid-a");
	if (ts_pg_hosts_url(url, sizeof(url)) == 0) { /* and none in a dump of the database */
		assert_int_equal(ts_pg_dump_holds(url, CLIENT_SECRET), 0);
		assert_int_equal(ts_pg_dump_holds(url, USER_TOKEN), 0);
		assert_int_equal(ts_pg_dump_holds(url, "cid-a"), 0);
		/* What is not secret is there, so the dump is the store's. */
		assert_int_equal(ts_pg_dump_holds(url, "oauth-a"), 1);
	}
	assert_false(ts_host_log_has(&host, CLIENT_SECRET));
	assert_false(ts_host_log_has(&host, USER_TOKEN));
}

static void uninstall_removes_the_apps_records(void **state)
{
	struct app_tokens t;
	struct ts_resp r;

	(void)state;
	tokens_for(u1_tok, "oauth-b", &t);
	expect(api("POST", P "/api/v1/oauth2/user", t.acting, "\"keep-me?\""), 200, NULL, "store");
	expect(api("POST", P "/api/v1/uninstall-app", admin_tok, "{\"app_id\":\"oauth-b\"}"), 200,
	       NULL, "uninstall");
	r = api("GET", P "/api/v1/oauth2/user", t.acting, NULL);
	assert_int_equal(r.status, 401); /* its sessions went with it */
	ts_resp_free(&r);
	install("oauth-b", PERMS_ALL);
	tokens_for(u1_tok, "oauth-b", &t);
	r = api("GET", P "/api/v1/oauth2/user", t.acting, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "null");
	ts_resp_free(&r);
}

static void wrong_master_key_is_a_500_never_data(void **state)
{
	char cfg[400], other[400];
	const char *extra[] = { "--config", cfg, NULL };
	struct app_tokens t;
	struct ts_resp r;

	(void)state;
	tokens_for(u1_tok, "oauth-a", &t);
	snprintf(cfg, sizeof(cfg), "%s/other-key.json", host.dir);
	snprintf(other, sizeof(other),
		 "{\"plugins\":{\"com.mattermost.apps\":{\"settings\":"
		 "{\"master_key_file\":\"%s/other.key\"}}}}",
		 host.dir);
	assert_int_equal(ts_write_config(cfg, other), 0);
	/* Another key that exists (serve makes no new master key for a node
	 * that ran before). */
	snprintf(other, sizeof(other), "%s/other.key", host.dir);
	assert_int_equal(ts_write_file(other, "0123456789abcdef0123456789abcdef", 0600), 0);
	assert_int_equal(ts_host_restart(&host, plugins, extra), 0);
	/* Sessions live in the host's store: the App's token still works. */
	r = api("GET", P "/api/v1/oauth2/user", t.acting, NULL);
	expect(r, 500, "apps.store.record_unreadable.app_error", "other key");
	r = api("GET", P "/api/v1/apps/oauth-a", admin_tok, NULL);
	expect(r, 500, "apps.store.record_unreadable.app_error", "other key, admin");
	assert_true(ts_host_log_has(&host, "app record oauth-a does not open"));
	assert_false(ts_host_log_has(&host, USER_TOKEN));
	/* The right key again: everything is back. */
	assert_int_equal(ts_host_restart(&host, plugins, NULL), 0);
	r = api("GET", P "/api/v1/oauth2/user", t.acting, NULL);
	expect(r, 200, USER_TOKEN, "right key");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_matrix_of_caller_route_and_app_state),
		cmocka_unit_test(bot_of_another_app_is_refused),
		cmocka_unit_test(user_data_round_trips_byte_exact),
		cmocka_unit_test(limits_and_bad_bodies_leave_the_value_unchanged),
		cmocka_unit_test(apps_and_users_never_see_each_other),
		cmocka_unit_test(expansions_hand_the_app_its_client_and_the_users_data),
		cmocka_unit_test(nothing_secret_is_on_disk_in_clear),
		cmocka_unit_test(wrong_master_key_is_a_500_never_data),
		cmocka_unit_test(uninstall_removes_the_apps_records),
	};
	/* argv[1] "postgres": the hosts keep everything in PostgreSQL. */
	if (argc > 1 && strcmp(argv[1], "postgres") == 0 &&
	    ts_pg_use_for_hosts("oauth2_store") != 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
