/*
 * The HTML login form against the real host: its login-CSRF token (a
 * double-submit cookie bound to the page), refusing a POST from another
 * site's page (Origin, Sec-Fetch-Site) on the form and on the API login, and
 * the page that moves a logged-in person on without a redirect chain that a
 * browser would check against the form's CSP.
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

#include "testsupport.h"

#define ALICE_PW "alice-password-1"
#define FORM_CT "Content-Type: application/x-www-form-urlencoded"

static struct ts_host host;
static char plugins[256];
static char site[64]; /* the host's site URL: http://127.0.0.1:PORT */

static int setup(void **state)
{
	char data_dir[320], id[32];

	(void)state;
	if (ts_tempdir("form-plugins", plugins, sizeof(plugins)) != 0 ||
	    ts_host_start(&host, plugins, NULL) != 0)
		return -1;
	snprintf(site, sizeof(site), "http://127.0.0.1:%d", host.port);
	snprintf(data_dir, sizeof(data_dir), "%s/data", host.dir);
	return ts_create_user(data_dir, "alice", ALICE_PW, 0, id) == 0 ? 0 : -1;
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

/* The value of cookie name set by r (the whole Set-Cookie line in line). */
static int set_cookie(const struct ts_resp *r, const char *name, char *out, size_t cap, char *line,
		      size_t line_cap)
{
	const char *p = r->headers;
	size_t n = strlen(name);

	while ((p = strstr(p, "Set-Cookie: ")) != NULL) {
		p += 12;
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			snprintf(out, cap, "%.*s", (int)strcspn(p + n + 1, ";\r\n"), p + n + 1);
			if (line)
				snprintf(line, line_cap, "%.*s", (int)strcspn(p, "\r\n"), p);
			return 0;
		}
	}
	return -1;
}

/* A fresh form: its token and its cookie. */
static void get_form(char *token, size_t token_cap, char *cookie, size_t cookie_cap)
{
	struct ts_resp r = req("GET", "/login", NULL, NULL);

	assert_int_equal(r.status, 200);
	assert_int_equal(ts_login_form_token(&r, token, token_cap), 0);
	assert_int_equal(set_cookie(&r, "MMLOGINCSRF", cookie, cookie_cap, NULL, 0), 0);
	ts_resp_free(&r);
}

/* POSTs alice's right credentials with csrf_token token (NULL: none), the
 * cookie (NULL: none) and up to two more headers (NULL: none). */
static struct ts_resp post_form2(const char *token, const char *cookie, const char *extra,
				 const char *extra2)
{
	char body[512], ch[256];
	const char *hdrs[5] = { FORM_CT };
	size_t n = 1;

	snprintf(body, sizeof(body), "login_id=alice&password=%s&redirect_to=%%2F%s%s", ALICE_PW,
		 token ? "&csrf_token=" : "", token ? token : "");
	if (cookie) {
		snprintf(ch, sizeof(ch), "Cookie: MMLOGINCSRF=%s", cookie);
		hdrs[n++] = ch;
	}
	if (extra)
		hdrs[n++] = extra;
	if (extra2)
		hdrs[n++] = extra2;
	return req("POST", "/login", hdrs, body);
}

static struct ts_resp post_form(const char *token, const char *cookie, const char *extra)
{
	return post_form2(token, cookie, extra, NULL);
}

/* r refused the login: status, no session cookie, a page saying why with a
 * fresh form. */
static void expect_refused(const struct ts_resp *r, const char *why)
{
	char v[128];

	if (r->status != 403)
		fail_msg("status %ld, wanted 403: %.300s", r->status, r->body);
	assert_int_not_equal(set_cookie(r, "MMAUTHTOKEN", v, sizeof(v), NULL, 0), 0);
	if (!strstr(r->body, why))
		fail_msg("no \"%s\" in %.500s", why, r->body);
	assert_int_equal(ts_login_form_token(r, v, sizeof(v)), 0);
}

static void the_form_carries_a_token_bound_to_a_cookie(void **state)
{
	char token[128], cookie[128], line[256], again[128], h[256];
	const char *with_cookie[] = { h, NULL };
	struct ts_resp r = req("GET", "/login", NULL, NULL);

	(void)state;
	assert_int_equal(r.status, 200);
	assert_int_equal(ts_login_form_token(&r, token, sizeof(token)), 0);
	assert_int_equal(strlen(token), 43); /* 32 random bytes, base64url */
	assert_int_equal(set_cookie(&r, "MMLOGINCSRF", cookie, sizeof(cookie), line, sizeof(line)),
			 0);
	assert_string_equal(cookie, token);
	assert_non_null(strstr(line, "HttpOnly"));
	assert_non_null(strstr(line, "SameSite=Strict"));
	assert_non_null(strstr(line, "Path=/"));
	ts_resp_free(&r);
	/* A second tab: the same token, so that both forms work. */
	snprintf(h, sizeof(h), "Cookie: MMLOGINCSRF=%s", cookie);
	r = req("GET", "/login", with_cookie, NULL);
	assert_int_equal(ts_login_form_token(&r, again, sizeof(again)), 0);
	assert_string_equal(again, token);
	ts_resp_free(&r);
}

static void a_post_without_the_pages_token_is_refused(void **state)
{
	char token[128], cookie[128], other[128], other_cookie[128];
	struct ts_resp r;

	(void)state;
	get_form(token, sizeof(token), cookie, sizeof(cookie));
	get_form(other, sizeof(other), other_cookie, sizeof(other_cookie));
	/* A foreign page knows neither. */
	r = post_form(NULL, NULL, NULL);
	expect_refused(&r, "expired");
	ts_resp_free(&r);
	/* A token without its cookie, a cookie without its token. */
	r = post_form(token, NULL, NULL);
	expect_refused(&r, "expired");
	ts_resp_free(&r);
	r = post_form(NULL, cookie, NULL);
	expect_refused(&r, "expired");
	ts_resp_free(&r);
	/* The token of another form (the attacker's own). */
	r = post_form(other, cookie, NULL);
	expect_refused(&r, "expired");
	ts_resp_free(&r);
	r = post_form(token, cookie, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static void a_post_from_another_sites_page_is_refused(void **state)
{
	static const char *const foreign[] = {
		"Origin: https://evil.example", "Origin: null",
		"Origin: http://localhost:1",   "Sec-Fetch-Site: cross-site",
		"Sec-Fetch-Site: same-site",
	};
	char token[128], cookie[128], same[128], by_host[128];
	struct ts_resp r;

	(void)state;
	get_form(token, sizeof(token), cookie, sizeof(cookie));
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		r = post_form(token, cookie, foreign[i]);
		if (r.status != 403)
			fail_msg("%s: %ld", foreign[i], r.status);
		expect_refused(&r, "another site");
		ts_resp_free(&r);
	}
	assert_true(ts_host_wait_log(&host, "login form from another site", 5000));
	/* The site's own origin, and the origin the browser used (the Host it
	 * sent), are this site. */
	snprintf(same, sizeof(same), "Origin: %s", site);
	r = post_form(token, cookie, same);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	snprintf(by_host, sizeof(by_host), "Origin: %s", host.base_url);
	r = post_form(token, cookie, by_host);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = post_form(token, cookie, "Sec-Fetch-Site: same-origin");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

/* Every page of the host has Referrer-Policy: no-referrer, so a browser
 * posting the login form sends "Origin: null" (Chromium does), with
 * Sec-Fetch-Site telling where the form came from. */
static void a_post_from_this_sites_no_referrer_page_is_accepted(void **state)
{
	char token[128], cookie[128];
	struct ts_resp r;

	(void)state;
	get_form(token, sizeof(token), cookie, sizeof(cookie));
	r = post_form2(token, cookie, "Origin: null", "Sec-Fetch-Site: same-origin");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = post_form2(token, cookie, "Origin: null", "Sec-Fetch-Site: cross-site");
	expect_refused(&r, "another site");
	ts_resp_free(&r);
	r = post_form2(token, cookie, "Origin: null", "Sec-Fetch-Site: same-site");
	expect_refused(&r, "another site");
	ts_resp_free(&r);
}

static void the_api_login_refuses_another_sites_page(void **state)
{
	/* A text/plain form can post a body that parses as JSON. */
	const char *body = "{\"login_id\":\"alice\",\"password\":\"" ALICE_PW "\",\"x\":\"=\"}";
	const char *evil[] = { "Content-Type: text/plain", "Origin: https://evil.example", NULL };
	const char *cross[] = { "Content-Type: text/plain", "Sec-Fetch-Site: cross-site", NULL };
	char same_h[128], v[64];
	const char *same[] = { same_h, NULL };
	struct ts_resp r;

	(void)state;
	r = req("POST", "/api/v4/users/login", evil, body);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "\"api.user.login.foreign_origin.app_error\""));
	assert_int_not_equal(set_cookie(&r, "MMAUTHTOKEN", v, sizeof(v), NULL, 0), 0);
	assert_int_not_equal(ts_resp_header(&r, "Token", v, sizeof(v)), 0);
	ts_resp_free(&r);
	r = req("POST", "/api/v4/users/login", cross, body);
	assert_int_equal(r.status, 403);
	ts_resp_free(&r);
	snprintf(same_h, sizeof(same_h), "Origin: %s", site);
	r = req("POST", "/api/v4/users/login", same, body);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	/* Clients that are not browsers send no Origin. */
	r = req("POST", "/api/v4/users/login", NULL, body);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static void a_logged_in_person_moves_on_by_a_page_not_a_redirect(void **state)
{
	char to[256], v[256];
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	assert_int_equal(ts_browser_init(&b), 0);
	assert_int_equal(ts_browser_login(&b, site, "alice", ALICE_PW,
					  "%2Fplugins%2Fx%2Fconnect%3Fa%3D1%26b%3D2", &r),
			 0);
	/* A 3xx after a form POST is part of the form's navigation, and
	 * browsers check every hop (the App's provider included) against the
	 * form page's CSP form-action; a page that moves on by itself is a
	 * new navigation. */
	assert_int_equal(r.status, 200);
	assert_int_not_equal(ts_resp_header(&r, "Location", v, sizeof(v)), 0);
	assert_int_equal(ts_page_refresh_url(&r, to, sizeof(to)), 0);
	assert_string_equal(to, "/plugins/x/connect?a=1&b=2");
	/* Without the meta refresh, a link. */
	assert_non_null(strstr(r.body, "<a href=\"/plugins/x/connect?a=1&amp;b=2\">"));
	assert_int_equal(ts_resp_header(&r, "Cache-Control", v, sizeof(v)), 0);
	assert_string_equal(v, "no-store");
	assert_int_equal(ts_resp_header(&r, "Content-Security-Policy", v, sizeof(v)), 0);
	assert_non_null(strstr(v, "default-src 'none'"));
	assert_int_equal(set_cookie(&r, "MMAUTHTOKEN", v, sizeof(v), NULL, 0), 0);
	assert_int_equal(strlen(v), 26);
	ts_resp_free(&r);
	/* The browser is logged in. */
	snprintf(to, sizeof(to), "%s/", site);
	assert_int_equal(ts_browser_go(&b, to, NULL, &r), 0);
	assert_non_null(strstr(r.body, "You are <strong>alice</strong>"));
	ts_resp_free(&r);
	ts_browser_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_form_carries_a_token_bound_to_a_cookie),
		cmocka_unit_test(a_post_without_the_pages_token_is_refused),
		cmocka_unit_test(a_post_from_another_sites_page_is_refused),
		cmocka_unit_test(a_post_from_this_sites_no_referrer_page_is_accepted),
		cmocka_unit_test(the_api_login_refuses_another_sites_page),
		cmocka_unit_test(a_logged_in_person_moves_on_by_a_page_not_a_redirect),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
