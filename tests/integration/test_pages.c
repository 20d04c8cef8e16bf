/*
 * The host's pages as a person's browser meets them (a libcurl handle that
 * keeps cookies and follows no redirect): the landing page with the Apps a
 * user can connect (asked of the plugin in-process), logging out by a form
 * and never by a GET, a signed-in browser sent on from /login, HTML 404s for
 * browsers and JSON ones for APIs, and the security headers of every page.
 * The real browser walks the same pages in tests/browser/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "apps_world.h"

static struct ts_world w;
static char alice_tok[64], alice_id[32];

#define CONNECTIONS TS_APPS "/api/v1/connections"

static int setup(void **state)
{
	char body[1024];
	struct ts_resp r;
	long status;

	(void)state;
	if (sodium_init() < 0 || ts_world_start(&w, NULL, 0, NULL) != 0 ||
	    ts_world_user(&w, "alice", 0, alice_tok, alice_id) != 0)
		return -1;
	/* Listed with a name that needs escaping; remote_oauth2 granted. */
	snprintf(body, sizeof(body),
		 "{\"manifest\":{\"app_id\":\"tricky\",\"display_name\":\"Tricky <b>&</b> "
		 "\\\"App\\\"\","
		 "\"homepage_url\":\"https://example.com\",\"requested_permissions\":[" TS_ALL_PERMS
		 "],\"http\":{\"root_url\":\"%s\"}}}",
		 w.app.base_url);
	r = ts_api(w.host.base_url, "POST", TS_APPS "/api/v1/install-app", w.admin_tok, body);
	status = r.status;
	ts_resp_free(&r);
	if (status != 200)
		return -1;
	/* Not listed: no remote_oauth2, or disabled. */
	if (ts_world_install(&w, "bot-only", "\"act_as_bot\"", NULL) != 0 ||
	    ts_world_install(&w, "switched-off", TS_ALL_PERMS, NULL) != 0)
		return -1;
	r = ts_api(w.host.base_url, "POST", TS_APPS "/api/v1/disable-app", w.admin_tok,
		   "{\"app_id\":\"switched-off\"}");
	status = r.status;
	ts_resp_free(&r);
	return status == 200 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&w);
}

static void url(char *out, size_t cap, const char *path)
{
	snprintf(out, cap, "%s%s", w.host.base_url, path);
}

/* A browser logged in as alice through the form. */
static void alice_browser(struct ts_browser *b)
{
	struct ts_resp r;

	assert_int_equal(ts_browser_init(b), 0);
	assert_int_equal(ts_browser_login(b, w.host.base_url, "alice", "alice-password", NULL, &r),
			 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static struct ts_resp go(struct ts_browser *b, const char *path, const char *form)
{
	char u[512];
	struct ts_resp r;

	url(u, sizeof(u), path);
	assert_int_equal(ts_browser_go(b, u, form, &r), 0);
	return r;
}

static void has(const struct ts_resp *r, const char *needle)
{
	if (!strstr(r->body, needle))
		fail_msg("no \"%s\" in %.2000s", needle, r->body);
}

/* The strict headers every HTML page carries, and no script. The style
 * block is allowed by its hash: computed here from the page itself. */
static void expect_page_headers(const struct ts_resp *r)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char v[512], want[128], b64[64];
	const char *s, *e;

	assert_int_equal(ts_resp_header(r, "Content-Type", v, sizeof(v)), 0);
	assert_string_equal(v, "text/html; charset=utf-8");
	assert_int_equal(ts_resp_header(r, "Cache-Control", v, sizeof(v)), 0);
	assert_string_equal(v, "no-store");
	assert_int_equal(ts_resp_header(r, "X-Frame-Options", v, sizeof(v)), 0);
	assert_string_equal(v, "DENY");
	assert_int_equal(ts_resp_header(r, "Referrer-Policy", v, sizeof(v)), 0);
	assert_string_equal(v, "no-referrer");
	assert_int_equal(ts_resp_header(r, "Content-Security-Policy", v, sizeof(v)), 0);
	assert_non_null(strstr(v, "default-src 'none'"));
	assert_non_null(strstr(v, "frame-ancestors 'none'"));
	assert_null(strstr(v, "unsafe-inline"));
	assert_null(strstr(v, "script-src"));
	assert_null(strstr(r->body, "<script"));
	s = strstr(r->body, "<style>");
	e = s ? strstr(s, "</style>") : NULL;
	assert_non_null(e);
	s += 7;
	crypto_hash_sha256(h, (const unsigned char *)s, (size_t)(e - s));
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
	snprintf(want, sizeof(want), "style-src 'sha256-%s'", b64);
	if (!strstr(v, want))
		fail_msg("CSP \"%s\" lacks \"%s\"", v, want);
}

static void the_landing_page_lists_the_apps_a_user_can_connect(void **state)
{
	char acting[64], connect[512], v[512];
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	alice_browser(&b);
	r = go(&b, "/", NULL);
	assert_int_equal(r.status, 200);
	expect_page_headers(&r);
	has(&r, "You are <strong>alice</strong>");
	has(&r, "Tricky &lt;b&gt;&amp;&lt;/b&gt; &quot;App&quot;");
	has(&r, "Not connected");
	snprintf(connect, sizeof(connect),
		 "href=\"%s/plugins/com.mattermost.apps/apps/tricky/oauth2/remote/"
		 "connect\">Connect<",
		 w.host.base_url);
	has(&r, connect);
	assert_null(strstr(r.body, "bot-only"));
	assert_null(strstr(r.body, "switched-off"));
	/* Its log-out form carries the session's CSRF token. */
	has(&r, "<form method=\"post\" action=\"/logout\">");
	assert_int_equal(ts_login_form_token(&r, v, sizeof(v)), 0);
	assert_int_equal(strlen(v), 26);
	ts_resp_free(&r);

	/* Once the App stores alice's token, she is connected. */
	assert_int_equal(ts_app_tokens(w.host.base_url, alice_tok, "tricky", NULL, acting, NULL),
			 0);
	r = ts_api(w.host.base_url, "POST", TS_APPS "/api/v1/oauth2/user", acting,
		   "{\"access_token\":\"t\"}");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = go(&b, "/", NULL);
	has(&r, "<span class=\"ok\">Connected</span>");
	has(&r, ">Connect again<");
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "DELETE", TS_APPS "/api/v1/oauth2/user", acting, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	ts_browser_free(&b);
}

static void connections_tell_a_person_only_about_their_own_account(void **state)
{
	char acting[64], bot[64];
	struct ts_resp r;
	json_t *j, *a;

	(void)state;
	r = ts_api(w.host.base_url, "GET", CONNECTIONS, alice_tok, NULL);
	assert_int_equal(r.status, 200);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	assert_int_equal(json_array_size(j), 1);
	a = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(a, "app_id")), "tricky");
	assert_string_equal(json_string_value(json_object_get(a, "display_name")),
			    "Tricky <b>&</b> \"App\"");
	assert_true(json_is_false(json_object_get(a, "connected")));
	assert_non_null(strstr(json_string_value(json_object_get(a, "connect_url")),
			       "/plugins/com.mattermost.apps/apps/tricky/oauth2/remote/connect"));
	json_decref(j);
	ts_resp_free(&r);
	/* The admin's stored token does not make alice connected. */
	assert_int_equal(ts_app_tokens(w.host.base_url, w.admin_tok, "tricky", bot, acting, NULL),
			 0);
	r = ts_api(w.host.base_url, "POST", TS_APPS "/api/v1/oauth2/user", acting, "{\"a\":1}");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "GET", CONNECTIONS, alice_tok, NULL);
	assert_non_null(strstr(r.body, "\"connected\":false"));
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "GET", CONNECTIONS, w.admin_tok, NULL);
	assert_non_null(strstr(r.body, "\"connected\":true"));
	ts_resp_free(&r);
	/* No session: 401; an App's token: 403. */
	r = ts_api(w.host.base_url, "GET", CONNECTIONS, NULL, NULL);
	assert_int_equal(r.status, 401);
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "GET", CONNECTIONS, bot, NULL);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "api.context.app_session_scope.app_error"));
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "DELETE", TS_APPS "/api/v1/oauth2/user", acting, NULL);
	ts_resp_free(&r);
}

static void the_landing_page_says_when_the_apps_plugin_is_off(void **state)
{
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	r = ts_api(w.host.base_url, "POST", "/api/v4/plugins/com.mattermost.apps/disable",
		   w.admin_tok, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	alice_browser(&b);
	r = go(&b, "/", NULL);
	assert_int_equal(r.status, 200);
	has(&r, "You are <strong>alice</strong>");
	has(&r, "is not active, so no Apps are shown");
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "POST", "/api/v4/plugins/com.mattermost.apps/enable",
		   w.admin_tok, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	ts_browser_free(&b);
}

static void a_signed_out_visitor_is_shown_the_way_to_log_in(void **state)
{
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	assert_int_equal(ts_browser_init(&b), 0);
	r = go(&b, "/", NULL);
	assert_int_equal(r.status, 200);
	expect_page_headers(&r);
	has(&r, "You are not signed in.");
	has(&r, "<a href=\"/login\">Log in</a>");
	ts_resp_free(&r);
	ts_browser_free(&b);
}

/* The MMAUTHTOKEN the browser holds, or "" (read back from libcurl's jar). */
static void auth_cookie(struct ts_browser *b, char *out, size_t cap)
{
	struct curl_slist *list = NULL, *i;

	out[0] = '\0';
	curl_easy_getinfo(b->curl, CURLINFO_COOKIELIST, &list);
	for (i = list; i; i = i->next) {
		const char *name = strstr(i->data, "\tMMAUTHTOKEN\t");
		if (name)
			snprintf(out, cap, "%s", name + 13);
	}
	curl_slist_free_all(list);
}

static void logging_out_takes_the_form_and_its_token(void **state)
{
	char token[64], csrf[64], form[128], v[256];
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	alice_browser(&b);
	auth_cookie(&b, token, sizeof(token));
	assert_int_equal(strlen(token), 26);
	/* A GET never logs out: it shows the form. */
	r = go(&b, "/logout", NULL);
	assert_int_equal(r.status, 200);
	expect_page_headers(&r);
	has(&r, "<form method=\"post\" action=\"/logout\">");
	assert_int_equal(ts_login_form_token(&r, csrf, sizeof(csrf)), 0);
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "GET", "/api/v4/users/me", token, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	/* A POST without the session's token (another site's form) does not. */
	r = go(&b, "/logout", "csrf_token=not-the-token");
	assert_int_equal(r.status, 403);
	has(&r, "expired");
	ts_resp_free(&r);
	r = go(&b, "/logout", "x=1");
	assert_int_equal(r.status, 403);
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "GET", "/api/v4/users/me", token, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	/* The form does: the session ends, cookies go, on to the login page. */
	snprintf(form, sizeof(form), "csrf_token=%s", csrf);
	r = go(&b, "/logout", form);
	assert_int_equal(r.status, 303);
	assert_int_equal(ts_resp_header(&r, "Location", v, sizeof(v)), 0);
	assert_string_equal(v, "/login");
	assert_non_null(strstr(r.headers, "Set-Cookie: MMAUTHTOKEN=;"));
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "GET", "/api/v4/users/me", token, NULL);
	assert_int_equal(r.status, 401);
	ts_resp_free(&r);
	r = go(&b, "/", NULL);
	has(&r, "You are not signed in.");
	ts_resp_free(&r);
	ts_browser_free(&b);
}

static void a_signed_in_browser_is_sent_on_from_the_login_page(void **state)
{
	static const struct {
		const char *path, *to;
	} cases[] = {
		{ "/login", "/" },
		{ "/login?redirect_to=%2Fplugins%2Fx%2Fy%3Fa%3D1", "/plugins/x/y?a=1" },
		{ "/login?redirect_to=%2F%2Fevil.example%2F", "/" },
		{ "/login?redirect_to=https%3A%2F%2Fevil.example%2F", "/" },
		{ "/login?redirect_to=%2Flogin%3Fredirect_to%3D%252Flogin", "/" },
	};
	struct ts_browser b;
	struct ts_resp r;
	char v[256];

	(void)state;
	alice_browser(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = go(&b, cases[i].path, NULL);
		if (r.status != 302)
			fail_msg("%s: %ld, wanted 302", cases[i].path, r.status);
		assert_int_equal(ts_resp_header(&r, "Location", v, sizeof(v)), 0);
		assert_string_equal(v, cases[i].to);
		ts_resp_free(&r);
	}
	ts_browser_free(&b);
}

static void browsers_get_an_html_404_and_apis_keep_json(void **state)
{
	static const char *const html[] = { "/nope", "/login/x", "/plugins/no.such/page",
					    "/plugins/no.such" };
	static const char *const api[] = { "/api/v4/nope", "/api", "/plugins/no.such/api/v1/x",
					   TS_APPS "/api/v1/nope" };
	char u[256], v[128];
	struct ts_resp r;

	(void)state;
	for (size_t i = 0; i < sizeof(html) / sizeof(html[0]); i++) {
		url(u, sizeof(u), html[i]);
		assert_int_equal(ts_http("GET", u, NULL, NULL, 0, 0, &r), 0);
		if (r.status != 404)
			fail_msg("%s: %ld", html[i], r.status);
		expect_page_headers(&r);
		has(&r, "Page not found");
		has(&r, "<a href=\"/\">");
		ts_resp_free(&r);
	}
	for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++) {
		url(u, sizeof(u), api[i]);
		assert_int_equal(ts_http("GET", u, NULL, NULL, 0, 0, &r), 0);
		if (r.status != 404)
			fail_msg("%s: %ld", api[i], r.status);
		assert_int_equal(ts_resp_header(&r, "Content-Type", v, sizeof(v)), 0);
		if (strcmp(v, "application/json") != 0)
			fail_msg("%s: %s", api[i], v);
		ts_resp_free(&r);
	}
}

static void every_page_carries_the_strict_headers(void **state)
{
	struct ts_browser b;
	struct ts_resp r;
	char u[256];

	(void)state;
	assert_int_equal(ts_browser_init(&b), 0);
	r = go(&b, "/login", NULL);
	expect_page_headers(&r);
	ts_resp_free(&r);
	/* The page a login answers with, and the wrong-password form. */
	assert_int_equal(
		ts_browser_login(&b, w.host.base_url, "alice", "wrong-password-1", NULL, &r), 0);
	assert_int_equal(r.status, 401);
	expect_page_headers(&r);
	has(&r, "Enter a valid email or username and/or password.");
	ts_resp_free(&r);
	url(u, sizeof(u), "");
	assert_int_equal(ts_browser_login(&b, u, "alice", "alice-password", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	expect_page_headers(&r);
	ts_resp_free(&r);
	ts_browser_free(&b);
}

/* A site URL on another host name than the listen address splits a
 * browser's cookies: serve says so at start; the default never does. */
static void a_site_url_on_another_host_is_warned_about(void **state)
{
	const char *const extra[] = { "--site-url", "http://localhost:1", NULL };
	struct ts_host h;

	(void)state;
	assert_false(ts_host_log_has(&w.host, "site_url names another host"));
	assert_true(ts_host_log_has(&w.host, "site_url=http://127.0.0.1:"));
	assert_int_equal(ts_host_start(&h, w.plugins, extra), 0);
	assert_true(ts_host_wait_log(&h, "site_url names another host than listen", 5000));
	assert_int_equal(ts_host_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_landing_page_lists_the_apps_a_user_can_connect),
		cmocka_unit_test(connections_tell_a_person_only_about_their_own_account),
		cmocka_unit_test(the_landing_page_says_when_the_apps_plugin_is_off),
		cmocka_unit_test(a_signed_out_visitor_is_shown_the_way_to_log_in),
		cmocka_unit_test(logging_out_takes_the_form_and_its_token),
		cmocka_unit_test(a_signed_in_browser_is_sent_on_from_the_login_page),
		cmocka_unit_test(browsers_get_an_html_404_and_apis_keep_json),
		cmocka_unit_test(every_page_carries_the_strict_headers),
		cmocka_unit_test(a_site_url_on_another_host_is_warned_about),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
