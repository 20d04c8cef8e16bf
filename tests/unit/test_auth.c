/* Token extraction, CSRF, form and cookie parsing, redirects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth.h"
#include "urlencoded.h"

static void header_token_in_any_case(void **state)
{
	static const char *const ok[] = { "Bearer abc", "BEARER abc", "bearer  abc", "Token abc",
					  "tOkEn\tabc" };
	struct auth_token t;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		auth_extract(ok[i], NULL, NULL, 0, &t);
		assert_int_equal(t.source, AUTH_SRC_HEADER);
		assert_string_equal(t.token, "abc");
	}
}

static void other_schemes_fall_through_to_cookie_then_query(void **state)
{
	struct auth_token t;
	const char *q = "x=1&access_token=qqq";

	(void)state;
	auth_extract("Basic abc", "a=1; MMAUTHTOKEN=ccc; b=2", q, strlen(q), &t);
	assert_int_equal(t.source, AUTH_SRC_COOKIE);
	assert_string_equal(t.token, "ccc");
	auth_extract("Bearer", NULL, q, strlen(q), &t);
	assert_int_equal(t.source, AUTH_SRC_QUERY);
	assert_string_equal(t.token, "qqq");
	auth_extract(NULL, "MMAUTHTOKEN=", "", 0, &t);
	assert_int_equal(t.source, AUTH_SRC_NONE);
	auth_extract("Bearer hhh", "MMAUTHTOKEN=ccc", q, strlen(q), &t);
	assert_int_equal(t.source, AUTH_SRC_HEADER);
}

static void overlong_token_is_truncated_never_overflows(void **state)
{
	char h[300] = "Bearer ";
	struct auth_token t;

	(void)state;
	memset(h + 7, 'x', 280);
	h[287] = '\0';
	auth_extract(h, NULL, NULL, 0, &t);
	assert_int_equal(t.len, AUTH_TOKEN_MAX);
}

static void csrf_rule(void **state)
{
	struct host_session s;

	(void)state;
	memset(&s, 0, sizeof(s));
	memcpy(s.csrf, "abcdefghijklmnopqrstuvwxyz", 27);
	assert_true(auth_csrf_ok("GET", NULL, &s));
	assert_true(auth_csrf_ok("HEAD", NULL, &s));
	assert_false(auth_csrf_ok("POST", NULL, &s));
	assert_false(auth_csrf_ok("POST", "", &s));
	assert_false(auth_csrf_ok("DELETE", "abcdefghijklmnopqrstuvwxyZ", &s));
	assert_false(auth_csrf_ok("PUT", "abcdefghijklmnopqrstuvwxy", &s));
	assert_true(auth_csrf_ok("POST", "abcdefghijklmnopqrstuvwxyz", &s));
	s.csrf[0] = '\0';
	assert_false(auth_csrf_ok("POST", "", &s));
}

static void form_values_are_decoded_and_bounded(void **state)
{
	const char *f = "a=1&login_id=al%69ce+x&empty=&flag&bad=%zz&nul=%00&end=%4";
	char out[16];

	(void)state;
	assert_int_equal(form_get(f, strlen(f), "login_id", out, sizeof(out)), FORM_OK);
	assert_string_equal(out, "alice x");
	assert_int_equal(form_get(f, strlen(f), "empty", out, sizeof(out)), FORM_OK);
	assert_string_equal(out, "");
	assert_int_equal(form_get(f, strlen(f), "flag", out, sizeof(out)), FORM_OK);
	assert_int_equal(form_get(f, strlen(f), "bad", out, sizeof(out)), FORM_EBAD);
	assert_int_equal(form_get(f, strlen(f), "nul", out, sizeof(out)), FORM_EBAD);
	assert_int_equal(form_get(f, strlen(f), "end", out, sizeof(out)), FORM_EBAD);
	assert_int_equal(form_get(f, strlen(f), "missing", out, sizeof(out)), FORM_ENOTFOUND);
	assert_int_equal(form_get(f, strlen(f), "login_id", out, 4), FORM_ETOOLONG);
	assert_int_equal(form_get(f, 3, "login_id", out, sizeof(out)), FORM_ENOTFOUND);
}

/* form_each: collects "name=value;" and stops when asked to. */
struct pairs {
	char seen[128];
	const char *stop_at;
};

static int collect(const char *name, const char *value, void *arg)
{
	struct pairs *p = arg;
	size_t n = strlen(p->seen);

	snprintf(p->seen + n, sizeof(p->seen) - n, "%s=%s;", name, value);
	return p->stop_at && strcmp(name, p->stop_at) == 0 ? 7 : 0;
}

static void form_each_decodes_pairs_and_skips_bad_ones(void **state)
{
	const char *f = "code=a%2Bb&&=nameless&flag&bad=%zz&st%61te=x+y&last=1";
	struct pairs p = { "", NULL };

	(void)state;
	assert_int_equal(form_each(f, strlen(f), collect, &p), 0);
	assert_string_equal(p.seen, "code=a+b;flag=;state=x y;last=1;");
	memset(&p, 0, sizeof(p));
	p.stop_at = "flag";
	assert_int_equal(form_each(f, strlen(f), collect, &p), 7);
	assert_string_equal(p.seen, "code=a+b;flag=;");
	memset(&p, 0, sizeof(p));
	assert_int_equal(form_each("", 0, collect, &p), 0);
	assert_string_equal(p.seen, "");
	/* An empty view may have no pointer at all (the ABI's (NULL, 0)): no
	 * arithmetic on it (UBSan: zero offset applied to a null pointer). */
	assert_int_equal(form_each(NULL, 0, collect, &p), 0);
	assert_string_equal(p.seen, "");
}

static void cookies_are_found_by_exact_name(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(
		cookie_get("XMMAUTHTOKEN=1; MMAUTHTOKEN=2", "MMAUTHTOKEN", out, sizeof(out)),
		FORM_OK);
	assert_string_equal(out, "2");
	assert_int_equal(cookie_get("MMAUTHTOKEN=\"q\"", "MMAUTHTOKEN", out, sizeof(out)), FORM_OK);
	assert_string_equal(out, "q");
	assert_int_equal(cookie_get("a=b", "MMAUTHTOKEN", out, sizeof(out)), FORM_ENOTFOUND);
	assert_int_equal(
		cookie_get("MMAUTHTOKEN=0123456789abcdefgh", "MMAUTHTOKEN", out, sizeof(out)),
		FORM_ETOOLONG);
}

static void only_local_paths_are_redirect_targets(void **state)
{
	(void)state;
	assert_true(redirect_is_local("/"));
	assert_true(redirect_is_local("/plugins/x?y=1"));
	assert_false(redirect_is_local("//evil.example"));
	assert_false(redirect_is_local("/\\evil.example"));
	assert_false(redirect_is_local("/a\\b"));
	assert_false(redirect_is_local("https://evil.example"));
	assert_false(redirect_is_local("javascript:alert(1)"));
	assert_false(redirect_is_local("/a b"));
	assert_false(redirect_is_local("/a\r\nSet-Cookie: x"));
	assert_false(redirect_is_local(""));
	assert_false(redirect_is_local(NULL));
}

static void html_is_escaped(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(html_escape("<a href=\"x\">'&'</a>", out, sizeof(out)), FORM_OK);
	assert_string_equal(out, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
	assert_int_equal(html_escape("<<<<", out, 8), FORM_ETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_token_in_any_case),
		cmocka_unit_test(other_schemes_fall_through_to_cookie_then_query),
		cmocka_unit_test(overlong_token_is_truncated_never_overflows),
		cmocka_unit_test(csrf_rule),
		cmocka_unit_test(form_values_are_decoded_and_bounded),
		cmocka_unit_test(form_each_decodes_pairs_and_skips_bad_ones),
		cmocka_unit_test(cookies_are_found_by_exact_name),
		cmocka_unit_test(only_local_paths_are_redirect_targets),
		cmocka_unit_test(html_is_escaped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
