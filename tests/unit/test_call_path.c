/* The normal form of App call paths: what passes, what it becomes, what is
 * refused, and that the form is a fixed point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "call_path.h"

static int norm(const char *in, char *out)
{
	return call_path_normalize(in, strlen(in), out, CALL_PATH_MAX + 1);
}

static void paths_become_the_form_the_app_routes(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/", "/" },
		{ "/echo", "/echo" },
		{ "/oauth2/complete", "/oauth2/complete" },
		{ "/oauth2/%63omplete", "/oauth2/complete" },
		{ "/oauth2/%63%6F%6d%70lete", "/oauth2/complete" },
		{ "/oauth2//complete", "/oauth2/complete" },
		{ "//oauth2/complete", "/oauth2/complete" },
		{ "/./oauth2/./complete/.", "/oauth2/complete" },
		{ "/oauth2/%2e/complete", "/oauth2/complete" },
		{ "/oauth2/complete/", "/oauth2/complete" },
		{ "/oauth2/complete//", "/oauth2/complete" },
		{ "//", "/" },
		{ "/.", "/" },
		{ "/OAuth2/Complete", "/OAuth2/Complete" },
		{ "/a-b_c.d~e!$&'()*+,=:@", "/a-b_c.d~e!$&'()*+,=:@" },
		{ "/..a/b..", "/..a/b.." },
		{ "/...", "/..." },
		{ "/%41", "/A" },
	};
	char out[CALL_PATH_MAX + 1], again[CALL_PATH_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (norm(cases[i].in, out) != CALL_PATH_OK || strcmp(out, cases[i].out) != 0)
			fail_msg("%s: got \"%s\", wanted \"%s\"", cases[i].in, out, cases[i].out);
		assert_int_equal(norm(out, again), CALL_PATH_OK);
		assert_string_equal(again, out);
	}
}

static void what_could_hide_a_path_is_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"echo",
		"%2Fecho",
		"/..",
		"/a/../b",
		"/a/%2e%2e/b",
		"/a/.%2E/b",
		"/oauth2%2Fcomplete",
		"/oauth2%2fcomplete",
		"/oauth2%5Ccomplete",
		"/a\\b",
		"/oauth2/%2563omplete", /* decodes to a '%': a second round */
		"/a%",
		"/a%4",
		"/a%zz",
		"/a%%41",
		"/a?b",
		"/a%3Fb",
		"/a#b",
		"/a%23b",
		"/a;b",
		"/oauth2/complete;x",
		"/a b",
		"/a%20b",
		"/a\tb",
		"/a%00b",
		"/a%0Ab",
		"/caf\xc3\xa9",
		"/a%C3%A9",
		"/a%7F",
	};
	char out[CALL_PATH_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = norm(bad[i], out);
		if (rc == CALL_PATH_OK)
			fail_msg("\"%s\" was accepted as \"%s\"", bad[i], out);
		assert_string_equal(out, "");
	}
	/* An embedded NUL is a byte like any other: refused, not a cut. */
	assert_int_not_equal(call_path_normalize("/a\0/b", 5, out, sizeof(out)), CALL_PATH_OK);
}

static void bounded(void **state)
{
	char in[CALL_PATH_MAX + 2], out[CALL_PATH_MAX + 1], small[8];

	(void)state;
	memset(in, 'a', sizeof(in));
	in[0] = '/';
	assert_int_equal(call_path_normalize(in, CALL_PATH_MAX, out, sizeof(out)), CALL_PATH_OK);
	assert_int_equal(strlen(out), CALL_PATH_MAX);
	assert_int_equal(call_path_normalize(in, CALL_PATH_MAX + 1, out, sizeof(out)),
			 CALL_PATH_ETOOLONG);
	assert_int_equal(call_path_normalize("/abcdefgh", 9, small, sizeof(small)),
			 CALL_PATH_ETOOLONG);
	assert_int_equal(call_path_normalize("/abcdef", 7, small, sizeof(small)), CALL_PATH_OK);
	assert_string_equal(small, "/abcdef");
}

static void same_route_ignores_case(void **state)
{
	(void)state;
	assert_true(call_path_same_route("/oauth2/complete", "/OAuth2/COMPLETE"));
	assert_false(call_path_same_route("/oauth2/complete", "/oauth2/completed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths_become_the_form_the_app_routes),
		cmocka_unit_test(what_could_hide_a_path_is_refused),
		cmocka_unit_test(bounded),
		cmocka_unit_test(same_route_ignores_case),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
