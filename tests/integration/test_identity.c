/*
 * Identity over HTTP against the real host: login, tokens in every place a
 * client may put them, logout, CSRF, spoofed identity headers, users,
 * personal access tokens, plugins admin, the login page, the admin command
 * line while the server runs, and the host API plugins use for sessions.
 * Against the LMDB backend, or (argv[1] "postgres") against PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "pg_harness.h"
#include "testsupport.h"

#define ADMIN_PW "admin-password-1"
#define ALICE_PW "alice-password-1"

static struct ts_host host;
static char plugins[256];
static char data_dir[320];
static char admin_id[32], alice_id[32];
static int postgres;

static int cli(const char *const *args, char **out)
{
	return ts_cli(data_dir, args, out);
}

static int create_user(const char *name, const char *pw, int admin, char *id_out)
{
	return ts_create_user(data_dir, name, pw, admin, id_out);
}

static int setup(void **state)
{
	struct rlimit core;

	(void)state;
	/* As an admin's shell may: core files on, as large as allowed. */
	if (getrlimit(RLIMIT_CORE, &core) == 0 && core.rlim_max != 0) {
		core.rlim_cur = core.rlim_max;
		(void)setrlimit(RLIMIT_CORE, &core);
	}
	if (ts_tempdir("id-plugins", plugins, sizeof(plugins)) != 0 ||
	    ts_install_plugin(plugins, "fixture.good", FIXTURE_DIR "/good.so", 0755) != 0 ||
	    ts_install_plugin(plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755) != 0 ||
	    ts_host_start(&host, plugins, NULL) != 0)
		return -1;
	snprintf(data_dir, sizeof(data_dir), "%s/data", host.dir);
	/* Created while the server runs: LMDB allows both processes. */
	if (create_user("admin", ADMIN_PW, 1, admin_id) != 0 ||
	    create_user("alice", ALICE_PW, 0, alice_id) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_host_stop(&host);
	ts_rmtree(plugins);
	return rc == 0 ? 0 : -1;
}

static struct ts_resp req(const char *method, const char *path, const char *const *hdrs,
			  const char *body)
{
	char url[512];
	struct ts_resp r;

	snprintf(url, sizeof(url), "%s%s", host.base_url, path);
	ts_http(method, url, hdrs, body, body ? strlen(body) : 0, 0, &r);
	return r;
}

static json_t *js(const struct ts_resp *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);

	if (!j)
		fail_msg("not JSON (%ld): %.300s", r->status, r->body);
	return j;
}

/* Every JSON answer of the host's API says that no cache may keep it. */
static void expect_no_store(const struct ts_resp *r)
{
	char v[64];

	if (ts_resp_header(r, "Cache-Control", v, sizeof(v)) != 0 || strcmp(v, "no-store") != 0)
		fail_msg("no Cache-Control: no-store in %.500s", r->headers);
}

static void expect_error(const struct ts_resp *r, long status, const char *id)
{
	json_t *j;

	if (r->status != status)
		fail_msg("status %ld, wanted %ld: %.300s", r->status, status, r->body);
	j = js(r);
	assert_string_equal(json_string_value(json_object_get(j, "id")), id);
	json_decref(j);
}

/* Logs in over the API; returns the Token header in token. */
static long login(const char *user, const char *pw, char *token, size_t cap)
{
	char body[256];
	struct ts_resp r;
	long status;

	snprintf(body, sizeof(body), "{\"login_id\":\"%s\",\"password\":\"%s\"}", user, pw);
	r = req("POST", "/api/v4/users/login", NULL, body);
	status = r.status;
	if (token && ts_resp_header(&r, "Token", token, cap) != 0)
		token[0] = '\0';
	ts_resp_free(&r);
	return status;
}

static struct ts_resp with_bearer(const char *method, const char *path, const char *token,
				  const char *body)
{
	char h[128];
	const char *hdrs[] = { h, NULL };

	snprintf(h, sizeof(h), "Authorization: Bearer %s", token);
	return req(method, path, hdrs, body);
}

/* The cookie value of name from r's Set-Cookie headers. */
static int set_cookie(const struct ts_resp *r, const char *name, char *out, size_t cap, char *line,
		      size_t line_cap)
{
	const char *p = r->headers;
	size_t n = strlen(name);

	while ((p = strstr(p, "Set-Cookie: ")) != NULL) {
		p += 12;
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			size_t len = strcspn(p + n + 1, ";\r\n");
			snprintf(out, cap, "%.*s", (int)len, p + n + 1);
			if (line)
				snprintf(line, line_cap, "%.*s", (int)strcspn(p, "\r\n"), p);
			return 0;
		}
	}
	return -1;
}

static void login_returns_user_token_and_cookies(void **state)
{
	struct ts_resp r = req("POST", "/api/v4/users/login", NULL,
			       "{\"login_id\":\"alice\",\"password\":\"" ALICE_PW "\"}");
	char token[64], v[128], line[256];
	json_t *j;

	(void)state;
	assert_int_equal(r.status, 200);
	j = js(&r);
	assert_string_equal(json_string_value(json_object_get(j, "id")), alice_id);
	assert_string_equal(json_string_value(json_object_get(j, "username")), "alice");
	assert_string_equal(json_string_value(json_object_get(j, "roles")), "system_user");
	assert_true(json_is_false(json_object_get(j, "is_bot")));
	assert_null(json_object_get(j, "password"));
	assert_null(strstr(r.body, "argon2"));
	json_decref(j);
	assert_int_equal(ts_resp_header(&r, "Token", token, sizeof(token)), 0);
	assert_int_equal(strlen(token), 26);
	assert_int_equal(set_cookie(&r, "MMAUTHTOKEN", v, sizeof(v), line, sizeof(line)), 0);
	assert_string_equal(v, token);
	assert_non_null(strstr(line, "HttpOnly"));
	assert_non_null(strstr(line, "SameSite=Lax"));
	assert_non_null(strstr(line, "Path=/"));
	assert_int_equal(set_cookie(&r, "MMUSERID", v, sizeof(v), NULL, 0), 0);
	assert_string_equal(v, alice_id);
	assert_int_equal(set_cookie(&r, "MMCSRF", v, sizeof(v), NULL, 0), 0);
	assert_int_equal(strlen(v), 26);
	/* The answer carries a token: no cache may keep it. */
	assert_int_equal(ts_resp_header(&r, "Cache-Control", v, sizeof(v)), 0);
	assert_string_equal(v, "no-store");
	ts_resp_free(&r);
	/* By email too. */
	assert_int_equal(login("ALICE@localhost", ALICE_PW, NULL, 0), 200);
}

static void wrong_credentials_are_the_same_401(void **state)
{
	struct ts_resp a = req("POST", "/api/v4/users/login", NULL,
			       "{\"login_id\":\"alice\",\"password\":\"nope-nope\"}");
	struct ts_resp b = req("POST", "/api/v4/users/login", NULL,
			       "{\"login_id\":\"nobody\",\"password\":\"nope-nope\"}");
	json_t *ja, *jb;

	(void)state;
	expect_error(&a, 401, "api.user.login.invalid_credentials_email_username");
	expect_error(&b, 401, "api.user.login.invalid_credentials_email_username");
	expect_no_store(&a);
	ja = js(&a);
	jb = js(&b);
	assert_string_equal(json_string_value(json_object_get(ja, "message")),
			    json_string_value(json_object_get(jb, "message")));
	json_decref(ja);
	json_decref(jb);
	ts_resp_free(&a);
	ts_resp_free(&b);
	a = req("POST", "/api/v4/users/login", NULL, "not json");
	expect_error(&a, 400, "api.context.invalid_body_param.app_error");
	ts_resp_free(&a);
}

static void token_is_read_from_header_cookie_and_query(void **state)
{
	static const char *const forms[] = { "Authorization: Bearer ", "Authorization: BEARER ",
					     "Authorization: bearer ", "Authorization: Token ",
					     "Authorization: TOKEN  ", "Cookie: MMAUTHTOKEN=" };
	char token[64], h[128], path[128];
	const char *hdrs[] = { h, NULL };
	struct ts_resp r;

	(void)state;
	assert_int_equal(login("alice", ALICE_PW, token, sizeof(token)), 200);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(h, sizeof(h), "%s%s", forms[i], token);
		r = req("GET", "/api/v4/users/me", hdrs, NULL);
		if (r.status != 200)
			fail_msg("%s: %ld", forms[i], r.status);
		ts_resp_free(&r);
	}
	snprintf(path, sizeof(path), "/api/v4/users/me?access_token=%s", token);
	r = req("GET", path, NULL, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	/* The header wins over a bad cookie. */
	snprintf(h, sizeof(h), "Authorization: Bearer %s", token);
	{
		const char *two[] = { h, "Cookie: MMAUTHTOKEN=garbage", NULL };
		r = req("GET", "/api/v4/users/me", two, NULL);
		assert_int_equal(r.status, 200);
		ts_resp_free(&r);
	}
}

static void missing_bad_and_revoked_tokens_are_401(void **state)
{
	char token[64];
	struct ts_resp r;

	(void)state;
	r = req("GET", "/api/v4/users/me", NULL, NULL);
	expect_error(&r, 401, "api.context.session_expired.app_error");
	ts_resp_free(&r);
	r = with_bearer("GET", "/api/v4/users/me", "aaaaaaaaaaaaaaaaaaaaaaaaaa", NULL);
	expect_error(&r, 401, "api.context.session_expired.app_error");
	ts_resp_free(&r);
	assert_int_equal(login("alice", ALICE_PW, token, sizeof(token)), 200);
	r = with_bearer("POST", "/api/v4/users/logout", token, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = with_bearer("GET", "/api/v4/users/me", token, NULL);
	expect_error(&r, 401, "api.context.session_expired.app_error");
	ts_resp_free(&r);
}

static void cookie_requests_need_the_csrf_token(void **state)
{
	struct ts_resp r = req("POST", "/api/v4/users/login", NULL,
			       "{\"login_id\":\"alice\",\"password\":\"" ALICE_PW "\"}");
	char token[64], csrf[64], cookie[256], good[128];
	const char *none[] = { cookie, NULL };
	const char *wrong[] = { cookie, "X-CSRF-Token: bbbbbbbbbbbbbbbbbbbbbbbbbb", NULL };
	const char *right[] = { cookie, good, NULL };

	(void)state;
	assert_int_equal(set_cookie(&r, "MMAUTHTOKEN", token, sizeof(token), NULL, 0), 0);
	assert_int_equal(set_cookie(&r, "MMCSRF", csrf, sizeof(csrf), NULL, 0), 0);
	ts_resp_free(&r);
	snprintf(cookie, sizeof(cookie), "Cookie: MMAUTHTOKEN=%s; MMCSRF=%s", token, csrf);
	snprintf(good, sizeof(good), "X-CSRF-Token: %s", csrf);
	r = req("GET", "/api/v4/users/me", none, NULL); /* GET needs none */
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = req("POST", "/api/v4/users/logout", none, NULL);
	expect_error(&r, 401, "api.context.csrf_check_failed.app_error");
	ts_resp_free(&r);
	r = req("POST", "/api/v4/users/logout", wrong, NULL);
	expect_error(&r, 401, "api.context.csrf_check_failed.app_error");
	ts_resp_free(&r);
	/* A plugin gets no session for such a request. */
	r = req("POST", "/plugins/fixture.good/whoami", none, "{}");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"session\":null"));
	ts_resp_free(&r);
	r = req("POST", "/api/v4/users/logout", right, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static void spoofed_user_id_header_is_ignored(void **state)
{
	char h1[128], h2[128], token[64];
	const char *anon[] = { h1, NULL };
	const char *as_alice[] = { h1, h2, NULL };
	struct ts_resp r;
	json_t *j;

	(void)state;
	snprintf(h1, sizeof(h1), "Mattermost-User-Id: %s", admin_id);
	r = req("GET", "/plugins/fixture.good/whoami", anon, NULL);
	assert_int_equal(r.status, 200);
	j = js(&r);
	assert_true(json_is_null(json_object_get(j, "session")));
	json_decref(j);
	ts_resp_free(&r);
	r = req("GET", "/api/v4/users/me", anon, NULL);
	assert_int_equal(r.status, 401);
	ts_resp_free(&r);
	assert_int_equal(login("alice", ALICE_PW, token, sizeof(token)), 200);
	snprintf(h2, sizeof(h2), "Authorization: Bearer %s", token);
	r = req("GET", "/plugins/fixture.good/whoami", as_alice, NULL);
	j = js(&r);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "session"), "user_id")),
		alice_id);
	json_decref(j);
	ts_resp_free(&r);
	r = req("GET", "/api/v4/users/me", as_alice, NULL);
	j = js(&r);
	assert_string_equal(json_string_value(json_object_get(j, "id")), alice_id);
	json_decref(j);
	ts_resp_free(&r);
}

static void admins_create_users_others_cannot(void **state)
{
	char at[64], ut[64];
	struct ts_resp r;
	json_t *j;

	(void)state;
	assert_int_equal(login("admin", ADMIN_PW, at, sizeof(at)), 200);
	assert_int_equal(login("alice", ALICE_PW, ut, sizeof(ut)), 200);
	r = with_bearer(
		"POST", "/api/v4/users", at,
		"{\"username\":\"bob\",\"email\":\"bob@example.com\",\"password\":\"bob-pass-1\"}");
	assert_int_equal(r.status, 201);
	j = js(&r);
	assert_string_equal(json_string_value(json_object_get(j, "username")), "bob");
	assert_null(json_object_get(j, "password"));
	json_decref(j);
	ts_resp_free(&r);
	assert_int_equal(login("bob", "bob-pass-1", NULL, 0), 200);
	r = with_bearer("POST", "/api/v4/users", at,
			"{\"username\":\"bob\",\"email\":\"bob2@example.com\",\"password\":\"bob-"
			"pass-1\"}");
	expect_error(&r, 400, "app.user.save.username_exists.app_error");
	ts_resp_free(&r);
	r = with_bearer("POST", "/api/v4/users", at,
			"{\"username\":\"bob2\",\"email\":\"BOB@example.com\",\"password\":\"bob-"
			"pass-1\"}");
	expect_error(&r, 400, "app.user.save.email_exists.app_error");
	ts_resp_free(&r);
	r = with_bearer(
		"POST", "/api/v4/users", at,
		"{\"username\":\"carol\",\"email\":\"c@example.com\",\"password\":\"short\"}");
	expect_error(&r, 400, "api.user.create_user.invalid.app_error");
	assert_non_null(strstr(r.body, "password"));
	ts_resp_free(&r);
	r = with_bearer("POST", "/api/v4/users", at,
			"{\"username\":\"Bad "
			"Name\",\"email\":\"c@example.com\",\"password\":\"long-enough\"}");
	expect_error(&r, 400, "api.user.create_user.invalid.app_error");
	assert_non_null(strstr(r.body, "username"));
	ts_resp_free(&r);
	r = with_bearer(
		"POST", "/api/v4/users", ut,
		"{\"username\":\"dave\",\"email\":\"d@example.com\",\"password\":\"long-enough\"}");
	expect_error(&r, 403, "api.context.permissions.app_error");
	ts_resp_free(&r);
}

static void users_by_id(void **state)
{
	char ut[64], path[128];
	struct ts_resp r;
	json_t *j;

	(void)state;
	assert_int_equal(login("alice", ALICE_PW, ut, sizeof(ut)), 200);
	snprintf(path, sizeof(path), "/api/v4/users/%s", admin_id);
	r = with_bearer("GET", path, ut, NULL);
	assert_int_equal(r.status, 200);
	j = js(&r);
	assert_string_equal(json_string_value(json_object_get(j, "roles")),
			    "system_user system_admin");
	json_decref(j);
	ts_resp_free(&r);
	r = with_bearer("GET", "/api/v4/users/aaaaaaaaaaaaaaaaaaaaaaaaaa", ut, NULL);
	expect_error(&r, 404, "app.user.missing_account.const");
	ts_resp_free(&r);
}

static void personal_access_tokens(void **state)
{
	char ut[64], at[64], path[128], pat[64];
	struct ts_resp r;
	json_t *j;

	(void)state;
	assert_int_equal(login("alice", ALICE_PW, ut, sizeof(ut)), 200);
	assert_int_equal(login("admin", ADMIN_PW, at, sizeof(at)), 200);
	snprintf(path, sizeof(path), "/api/v4/users/%s/tokens", alice_id);
	r = with_bearer("POST", path, ut, "{\"description\":\"ci\"}");
	assert_int_equal(r.status, 200);
	j = js(&r);
	assert_string_equal(json_string_value(json_object_get(j, "user_id")), alice_id);
	assert_string_equal(json_string_value(json_object_get(j, "description")), "ci");
	assert_int_equal(json_string_length(json_object_get(j, "id")), 26);
	snprintf(pat, sizeof(pat), "%s", json_string_value(json_object_get(j, "token")));
	json_decref(j);
	expect_no_store(&r);
	ts_resp_free(&r);
	r = with_bearer("GET", "/api/v4/users/me", pat, NULL);
	assert_int_equal(r.status, 200);
	expect_no_store(&r);
	ts_resp_free(&r);
	r = with_bearer("POST", path, ut, "{}");
	expect_error(&r, 400, "model.user_access_token.is_valid.description.app_error");
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/api/v4/users/%s/tokens", admin_id);
	r = with_bearer("POST", path, ut, "{\"description\":\"steal\"}");
	expect_error(&r, 403, "api.context.permissions.app_error");
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/api/v4/users/%s/tokens", alice_id);
	r = with_bearer("POST", path, at, "{\"description\":\"by admin\"}");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static void plugins_admin_api(void **state)
{
	char ut[64], at[64];
	struct ts_resp r;
	json_t *j;

	(void)state;
	assert_int_equal(login("alice", ALICE_PW, ut, sizeof(ut)), 200);
	assert_int_equal(login("admin", ADMIN_PW, at, sizeof(at)), 200);
	r = with_bearer("GET", "/api/v4/plugins", ut, NULL);
	expect_error(&r, 403, "api.context.permissions.app_error");
	ts_resp_free(&r);
	r = with_bearer("GET", "/api/v4/plugins", at, NULL);
	assert_int_equal(r.status, 200);
	j = js(&r);
	assert_int_equal(json_array_size(json_object_get(j, "active")), 2);
	assert_int_equal(json_array_size(json_object_get(j, "inactive")), 0);
	json_decref(j);
	ts_resp_free(&r);
	r = with_bearer("POST", "/api/v4/plugins/com.mattermost.apps/disable", at, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"OK\"}");
	ts_resp_free(&r);
	r = req("GET", "/plugins/com.mattermost.apps/api/v1/ping", NULL, NULL);
	expect_error(&r, 404, "api.plugin.not_found.app_error");
	ts_resp_free(&r);
	r = with_bearer("GET", "/api/v4/plugins", at, NULL);
	j = js(&r);
	assert_int_equal(json_array_size(json_object_get(j, "inactive")), 1);
	json_decref(j);
	ts_resp_free(&r);
	r = with_bearer("POST", "/api/v4/plugins/com.mattermost.apps/enable", at, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = req("GET", "/plugins/com.mattermost.apps/api/v1/ping", NULL, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = with_bearer("POST", "/api/v4/plugins/no.such/enable", at, NULL);
	expect_error(&r, 404, "app.plugin.not_installed.app_error");
	ts_resp_free(&r);
	r = with_bearer("POST", "/api/v4/plugins/com.mattermost.apps/enable", ut, NULL);
	expect_error(&r, 403, "api.context.permissions.app_error");
	ts_resp_free(&r);
}

static void plugin_cli_applies_while_serving(void **state)
{
	/* The plugin must exist in the plugin folder the command looks at. */
	const char *off[] = { "plugin", "disable", "fixture.good", "--plugin-dir", plugins, NULL };
	const char *on[] = { "plugin", "enable", "fixture.good", "--plugin-dir", plugins, NULL };
	const char *list[] = { "plugin", "list", "--plugin-dir", plugins, NULL };
	struct ts_resp r;
	char *out = NULL;
	long status = 0;

	(void)state;
	assert_int_equal(cli(off, &out), 0);
	free(out);
	for (int i = 0; i < 50; i++) {
		r = req("GET", "/plugins/fixture.good/echo", NULL, NULL);
		status = r.status;
		ts_resp_free(&r);
		if (status == 404)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(status, 404);
	assert_int_equal(cli(list, &out), 0);
	assert_non_null(strstr(out, "fixture.good\tdisabled"));
	assert_non_null(strstr(out, "com.mattermost.apps\tenabled"));
	free(out);
	assert_int_equal(cli(on, &out), 0);
	free(out);
	for (int i = 0; i < 50; i++) {
		r = req("GET", "/plugins/fixture.good/echo", NULL, NULL);
		status = r.status;
		ts_resp_free(&r);
		if (status == 200)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(status, 200);
}

static void token_cli_prints_only_a_working_token(void **state)
{
	const char *args[] = { "token", "create", "--username", "alice", NULL };
	const char *nobody[] = { "token", "create", "--username", "nobody", NULL };
	char *out = NULL;
	char token[64];
	struct ts_resp r;

	(void)state;
	assert_int_equal(cli(args, &out), 0);
	assert_int_equal(strlen(out), 27);
	assert_int_equal(out[26], '\n');
	snprintf(token, sizeof(token), "%.26s", out);
	free(out);
	r = with_bearer("GET", "/api/v4/users/me", token, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	assert_int_equal(cli(nobody, &out), 1);
	assert_non_null(strstr(out, "no user is named"));
	free(out);
}

static void login_page_form_and_redirects(void **state)
{
	static const struct {
		const char *redirect;
		const char *location;
	} cases[] = {
		{ "%2Fplugins%2Fcom.mattermost.apps%2Fx%3Fa%3D1",
		  "/plugins/com.mattermost.apps/x?a=1" },
		{ "https%3A%2F%2Fevil.example%2F", "/" },
		{ "%2F%2Fevil.example%2F", "/" },
		{ "%2F%5Cevil.example", "/" },
		{ "javascript%3Aalert(1)", "/" },
	};
	char to[256], v[64];
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	r = req("GET", "/login?redirect_to=%2Fx%22%3E%3Cscript%3E", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<form method=\"post\" action=\"/login\">"));
	assert_null(strstr(r.body, "<script>"));
	assert_int_equal(ts_resp_header(&r, "Content-Type", v, sizeof(v)), 0);
	assert_string_equal(v, "text/html; charset=utf-8");
	ts_resp_free(&r);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ts_browser_init(&b), 0);
		assert_int_equal(ts_browser_login(&b, host.base_url, "alice", ALICE_PW,
						  cases[i].redirect, &r),
				 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(ts_page_refresh_url(&r, to, sizeof(to)), 0);
		if (strcmp(to, cases[i].location) != 0)
			fail_msg("redirect_to %s went to %s", cases[i].redirect, to);
		assert_int_equal(set_cookie(&r, "MMAUTHTOKEN", v, sizeof(v), NULL, 0), 0);
		ts_resp_free(&r);
		ts_browser_free(&b);
	}
	assert_int_equal(ts_browser_init(&b), 0);
	assert_int_equal(ts_browser_login(&b, host.base_url, "alice", "wrong-one", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body, "Enter a valid email or username"));
	assert_non_null(strstr(r.body, "value=\"alice\""));
	assert_int_not_equal(set_cookie(&r, "MMAUTHTOKEN", v, sizeof(v), NULL, 0), 0);
	ts_resp_free(&r);
	ts_browser_free(&b);
}

/* No core file of the server, whatever the admin's ulimit: its memory holds
 * passwords being checked and the plugin's keys. */
static void the_server_never_dumps_core(void **state)
{
	char path[64], soft[32] = "", hard[32] = "", *limits, *line;

	(void)state;
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)host.pid);
	limits = ts_read_file(path);
	assert_non_null(limits);
	line = strstr(limits, "Max core file size");
	assert_non_null(line);
	line += strlen("Max core file size");
	/* Soft and hard limits both 0 (setup raised the soft one). */
	if (sscanf(line, "%31s %31s", soft, hard) != 2 || strcmp(soft, "0") != 0 ||
	    strcmp(hard, "0") != 0)
		fail_msg("core limit: soft %s, hard %s", soft, hard);
	free(limits);
}

/* The config every mmhost of this run gets (the backend), as two
 * arguments that end an argv when there is none. */
#define CONFIG_FLAG (ts_used_config() ? "--config" : NULL)
#define CONFIG_PATH ts_used_config()

static void user_create_reads_the_password_from_stdin(void **state)
{
	const char *from_stdin[] = { MMHOST_BIN,   "user",   "create",
				     "--username", "grace",  "--password-stdin",
				     "--data-dir", data_dir, CONFIG_FLAG,
				     CONFIG_PATH,  NULL };
	const char *no_flag[] = { MMHOST_BIN,   "user",   "create",    "--username", "heidi",
				  "--data-dir", data_dir, CONFIG_FLAG, CONFIG_PATH,  NULL };
	const char *both[] = { MMHOST_BIN,   "user",       "create",        "--username",
			       "ivan",       "--password", "ivan-password", "--password-stdin",
			       "--data-dir", data_dir,     CONFIG_FLAG,     CONFIG_PATH,
			       NULL };
	char *out = NULL;
	int code = -1;

	(void)state;
	assert_int_equal(ts_run_input(from_stdin, "grace-password\n", &code, &out), 0);
	assert_int_equal(code, 0);
	assert_null(strstr(out, "grace-password"));
	free(out);
	assert_int_equal(login("grace", "grace-password", NULL, 0), 200);
	/* Without --password, the first line of stdin (a pipe: no prompt). */
	assert_int_equal(ts_run_input(no_flag, "heidi-password\r\nignored\n", &code, &out), 0);
	assert_int_equal(code, 0);
	free(out);
	assert_int_equal(login("heidi", "heidi-password", NULL, 0), 200);
	assert_int_equal(ts_run_input(both, "", &code, &out), 0);
	assert_int_equal(code, 2);
	assert_non_null(strstr(out, "--password-stdin"));
	free(out);
	/* Nothing on stdin. */
	assert_int_equal(ts_run_input(from_stdin, "", &code, &out), 0);
	assert_int_equal(code, 2);
	assert_non_null(strstr(out, "no password"));
	free(out);
}

/* Reads the pseudo-terminal's master into buf (appending) until needle
 * shows, the child closes it, or 20 s pass. True when needle showed. */
static int pty_wait(int master, char *buf, size_t cap, size_t *len, const char *needle)
{
	for (int waited = 0; waited < 20000 && !strstr(buf, needle);) {
		struct pollfd p = { master, POLLIN, 0 };
		ssize_t n;
		if (poll(&p, 1, 100) == 0) {
			waited += 100;
			continue;
		}
		n = read(master, buf + *len, cap - 1 - *len);
		if (n <= 0)
			break;
		*len += (size_t)n;
		buf[*len] = '\0';
	}
	return strstr(buf, needle) != NULL;
}

/* At a terminal: a prompt, asked twice, never shown. */
static void user_create_prompts_at_a_terminal_without_echo(void **state)
{
	char buf[4096] = "", *slave_name;
	size_t len = 0;
	int master, status = -1;
	pid_t pid;

	(void)state;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave_name = ptsname(master);
	assert_non_null(slave_name);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int slave;
		setsid();
		slave = open(slave_name, O_RDWR);
		if (slave < 0)
			_exit(126);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		execl(MMHOST_BIN, MMHOST_BIN, "user", "create", "--username", "judy", "--data-dir",
		      data_dir, CONFIG_FLAG, CONFIG_PATH, (char *)NULL);
		_exit(127);
	}
	assert_true(pty_wait(master, buf, sizeof(buf), &len, "Password: "));
	assert_int_equal(write(master, "judy-password\n", 14), 14);
	assert_true(pty_wait(master, buf, sizeof(buf), &len, "Again: "));
	assert_int_equal(write(master, "judy-password\n", 14), 14);
	(void)pty_wait(master, buf, sizeof(buf), &len, "no such text");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(master);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("user create: %s", buf);
	if (strstr(buf, "judy-password"))
		fail_msg("the password was echoed: %s", buf);
	assert_int_equal(login("judy", "judy-password", NULL, 0), 200);
}

/* Sessions minted for an App through the host API (ABI 1.1). */
static void plugin_sessions_authenticate_and_revoke_by_prop(void **state)
{
	char path[256], bot_id[32], token[64];
	struct ts_resp r;
	json_t *j;

	(void)state;
	r = req("GET", "/plugins/fixture.good/host-api/bot?a=hello-app", NULL, NULL);
	j = js(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "rc")), 0);
	snprintf(bot_id, sizeof(bot_id), "%s",
		 json_string_value(json_object_get(json_object_get(j, "user"), "id")));
	assert_true(json_is_true(json_object_get(json_object_get(j, "user"), "is_bot")));
	json_decref(j);
	ts_resp_free(&r);
	/* Same name again: the same bot. */
	r = req("GET", "/plugins/fixture.good/host-api/bot?a=hello-app", NULL, NULL);
	assert_non_null(strstr(r.body, bot_id));
	ts_resp_free(&r);
	/* A human's name: refused. */
	r = req("GET", "/plugins/fixture.good/host-api/bot?a=alice", NULL, NULL);
	assert_non_null(strstr(r.body, "\"rc\":-7"));
	ts_resp_free(&r);
	/* Bots cannot log in with a password. */
	assert_int_equal(login("hello-app", "anything-at-all", NULL, 0), 401);

	snprintf(path, sizeof(path),
		 "/plugins/fixture.good/host-api/session?a=%s&b=hello&ms=600000", bot_id);
	r = req("GET", path, NULL, NULL);
	j = js(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "rc")), 0);
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(j, "token")));
	json_decref(j);
	ts_resp_free(&r);
	r = with_bearer("GET", "/api/v4/users/me", token, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"is_bot\":true"));
	ts_resp_free(&r);
	r = with_bearer("GET", "/plugins/fixture.good/whoami", token, NULL);
	assert_non_null(strstr(r.body, "\"mattermost_app_id\":\"hello\""));
	ts_resp_free(&r);
	r = req("GET", "/plugins/fixture.good/host-api/revoke?a=hello", NULL, NULL);
	assert_non_null(strstr(r.body, "\"revoked\":1"));
	ts_resp_free(&r);
	r = with_bearer("GET", "/api/v4/users/me", token, NULL);
	assert_int_equal(r.status, 401);
	ts_resp_free(&r);

	/* Lifetime: a 1 ms session is dead on arrival. */
	snprintf(path, sizeof(path), "/plugins/fixture.good/host-api/session?a=%s&b=x&ms=1",
		 bot_id);
	r = req("GET", path, NULL, NULL);
	j = js(&r);
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(j, "token")));
	json_decref(j);
	ts_resp_free(&r);
	usleep(20 * 1000);
	r = with_bearer("GET", "/api/v4/users/me", token, NULL);
	assert_int_equal(r.status, 401);
	ts_resp_free(&r);
	/* Limits and unknown users. */
	r = req("GET",
		"/plugins/fixture.good/host-api/session?a=aaaaaaaaaaaaaaaaaaaaaaaaaa&ms=1000", NULL,
		NULL);
	assert_non_null(strstr(r.body, "\"rc\":-4"));
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/plugins/fixture.good/host-api/session?a=%s&ms=0", bot_id);
	r = req("GET", path, NULL, NULL);
	assert_non_null(strstr(r.body, "\"rc\":-1"));
	ts_resp_free(&r);
}

static void deactivated_user_loses_sessions_and_login(void **state)
{
	char id[32], token[64], path[256];
	struct ts_resp r;

	(void)state;
	assert_int_equal(create_user("erin", "erin-password", 0, id), 0);
	assert_int_equal(login("erin", "erin-password", token, sizeof(token)), 200);
	snprintf(path, sizeof(path), "/plugins/fixture.good/host-api/set-active?a=%s&b=0", id);
	r = req("GET", path, NULL, NULL);
	assert_non_null(strstr(r.body, "\"rc\":0"));
	ts_resp_free(&r);
	r = with_bearer("GET", "/api/v4/users/me", token, NULL);
	assert_int_equal(r.status, 401);
	ts_resp_free(&r);
	assert_int_equal(login("erin", "erin-password", NULL, 0), 401);
	snprintf(path, sizeof(path), "/plugins/fixture.good/host-api/user?a=%s", id);
	r = req("GET", path, NULL, NULL);
	assert_non_null(strstr(r.body, "\"deleted\":true"));
	ts_resp_free(&r);
}

/* On a host of its own: the failures of the other tests count for this IP. */
static void eleventh_failed_login_in_a_minute_is_429(void **state)
{
	struct ts_host h;
	struct ts_resp r;
	char retry[16], url[256], saved_dir[320], id[32];
	const char *bad = "{\"login_id\":\"frank\",\"password\":\"wrong-password\"}";
	const char *good = "{\"login_id\":\"alice\",\"password\":\"" ALICE_PW "\"}";

	(void)state;
	if (postgres) /* a host with users of its own */
		assert_int_equal(ts_pg_use_for_hosts("identity2"), 0);
	assert_int_equal(ts_host_start(&h, plugins, NULL), 0);
	snprintf(saved_dir, sizeof(saved_dir), "%s", data_dir);
	snprintf(data_dir, sizeof(data_dir), "%s/data", h.dir);
	assert_int_equal(create_user("alice", ALICE_PW, 0, id), 0);
	snprintf(url, sizeof(url), "%s/api/v4/users/login", h.base_url);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(ts_http("POST", url, NULL, bad, strlen(bad), 0, &r), 0);
		assert_int_equal(r.status, 401);
		ts_resp_free(&r);
	}
	assert_int_equal(ts_http("POST", url, NULL, bad, strlen(bad), 0, &r), 0);
	expect_error(&r, 429, "api.user.login.rate_limited.app_error");
	assert_int_equal(ts_resp_header(&r, "Retry-After", retry, sizeof(retry)), 0);
	assert_true(strtol(retry, NULL, 10) >= 1 && strtol(retry, NULL, 10) <= 60);
	ts_resp_free(&r);
	/* Blocked even with the right password, for this IP. */
	assert_int_equal(ts_http("POST", url, NULL, good, strlen(good), 0, &r), 0);
	assert_int_equal(r.status, 429);
	ts_resp_free(&r);
	assert_true(ts_host_log_has(&h, "login rate limited"));
	assert_false(ts_host_log_has(&h, "wrong-password"));
	assert_false(ts_host_log_has(&h, ALICE_PW));
	snprintf(data_dir, sizeof(data_dir), "%s", saved_dir);
	assert_int_equal(ts_host_stop(&h), 0);
}

/* PostgreSQL goes away under a running host (a private cluster: stopping
 * the shared one would break the other tests): a request with a good token
 * is 503 api.store.unavailable.app_error, never 401 (a client told 401
 * forgets its token), ping still answers, and the host recovers alone. */
static void database_down_is_503_not_401_and_recovers(void **state)
{
	char pstate[300], url[512], cfg_path[300], text[700], token[64], saved_dir[320], id[32];
	const char *extra[] = { "--config", cfg_path, NULL };
	struct ts_host h;
	struct ts_resp r;
	long status = 0;
	int tries;

	(void)state;
	if (!postgres)
		skip();
	snprintf(pstate, sizeof(pstate), "%s/pg.state", host.dir);
	assert_int_equal(ts_pg_private_start(pstate), 0);
	assert_int_equal(ts_pg_private_url(pstate, "outage", url, sizeof(url)), 0);
	snprintf(cfg_path, sizeof(cfg_path), "%s/outage.json", host.dir);
	snprintf(text, sizeof(text), "{\"store\":{\"backend\":\"postgres\",\"url\":\"%s\"}}", url);
	assert_int_equal(ts_write_file(cfg_path, text, 0600), 0);
	assert_int_equal(ts_host_start(&h, plugins, extra), 0);
	snprintf(saved_dir, sizeof(saved_dir), "%s", data_dir);
	snprintf(data_dir, sizeof(data_dir), "%s/data", h.dir);
	{
		const char *args[] = { "user",     "create",     "--username",
				       "olga",     "--password", "olga-password",
				       "--config", cfg_path,     NULL };
		char *out = NULL;
		assert_int_equal(ts_cli(data_dir, args, &out), 0);
		free(out);
	}
	(void)id;
	snprintf(data_dir, sizeof(data_dir), "%s", saved_dir);
	{
		char body[128], u[256];
		snprintf(body, sizeof(body),
			 "{\"login_id\":\"olga\",\"password\":\"olga-password\"}");
		snprintf(u, sizeof(u), "%s/api/v4/users/login", h.base_url);
		assert_int_equal(ts_http("POST", u, NULL, body, strlen(body), 0, &r), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(ts_resp_header(&r, "Token", token, sizeof(token)), 0);
		ts_resp_free(&r);
	}
	r = ts_api(h.base_url, "GET", "/api/v4/users/me", token, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);

	assert_int_equal(ts_pg_private_pause(pstate), 0);
	/* Cached sessions may answer until the loss is noticed (seconds);
	 * never a 401. */
	for (tries = 0; tries < 100; tries++) {
		r = ts_api(h.base_url, "GET", "/api/v4/users/me", token, NULL);
		status = r.status;
		if (status != 200 && status != 503)
			fail_msg("status %ld while the database is down: %.200s", status, r.body);
		if (status == 503) {
			assert_non_null(strstr(r.body, "api.store.unavailable.app_error"));
			ts_resp_free(&r);
			break;
		}
		ts_resp_free(&r);
		usleep(100 * 1000);
	}
	assert_int_equal(status, 503);
	r = ts_api(h.base_url, "GET", "/api/v4/system/ping", NULL, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);

	assert_int_equal(ts_pg_private_resume(pstate), 0);
	for (tries = 0; tries < 200; tries++) {
		r = ts_api(h.base_url, "GET", "/api/v4/users/me", token, NULL);
		status = r.status;
		ts_resp_free(&r);
		if (status == 200)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(status, 200);
	assert_true(ts_host_log_has(&h, "database"));
	assert_int_equal(ts_host_stop(&h), 0);
	assert_int_equal(ts_pg_private_stop(pstate), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(login_returns_user_token_and_cookies),
		cmocka_unit_test(wrong_credentials_are_the_same_401),
		cmocka_unit_test(token_is_read_from_header_cookie_and_query),
		cmocka_unit_test(missing_bad_and_revoked_tokens_are_401),
		cmocka_unit_test(cookie_requests_need_the_csrf_token),
		cmocka_unit_test(spoofed_user_id_header_is_ignored),
		cmocka_unit_test(admins_create_users_others_cannot),
		cmocka_unit_test(users_by_id),
		cmocka_unit_test(personal_access_tokens),
		cmocka_unit_test(plugins_admin_api),
		cmocka_unit_test(plugin_cli_applies_while_serving),
		cmocka_unit_test(token_cli_prints_only_a_working_token),
		cmocka_unit_test(login_page_form_and_redirects),
		cmocka_unit_test(the_server_never_dumps_core),
		cmocka_unit_test(user_create_reads_the_password_from_stdin),
		cmocka_unit_test(user_create_prompts_at_a_terminal_without_echo),
		cmocka_unit_test(plugin_sessions_authenticate_and_revoke_by_prop),
		cmocka_unit_test(deactivated_user_loses_sessions_and_login),
		cmocka_unit_test(eleventh_failed_login_in_a_minute_is_429),
		cmocka_unit_test(database_down_is_503_not_401_and_recovers),
	};

	postgres = argc > 1 && strcmp(argv[1], "postgres") == 0;
	if (postgres && ts_pg_use_for_hosts("identity") != 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
