/* Manifest rules, paths, expand levels, JWT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "expand.h"
#include "jwt.h"
#include "manifest.h"

static void app_ids(void **state)
{
	(void)state;
	assert_true(app_id_valid("abc"));
	assert_true(app_id_valid("Hello.World_1-2"));
	assert_true(app_id_valid("abcdefghijklmnopqrstuvwxyz012345"));
	assert_false(app_id_valid("ab"));
	assert_false(app_id_valid("abcdefghijklmnopqrstuvwxyz0123456"));
	assert_false(app_id_valid("a/b"));
	assert_false(app_id_valid("a b"));
	assert_false(app_id_valid(NULL));
}

static void app_paths(void **state)
{
	(void)state;
	assert_true(app_path_valid("/"));
	assert_true(app_path_valid("/oauth2/connect"));
	assert_false(app_path_valid(""));
	assert_false(app_path_valid("x"));
	assert_false(app_path_valid("/a/../b"));
	assert_false(app_path_valid("//evil.example/x"));
	assert_false(app_path_valid("/a?b"));
	assert_false(app_path_valid("/a#b"));
	assert_false(app_path_valid("/a b"));
	assert_false(app_path_valid("/a\\b"));
	assert_false(app_path_valid("/a\nb"));
}

static void call_paths_and_defaults(void **state)
{
	json_t *m = json_loads("{\"on_install\":\"/i\",\"on_oauth2_complete\":{\"path\":\"/c\","
			       "\"expand\":{\"acting_user\":\"all\"}}}",
			       0, NULL);
	json_t *call;

	(void)state;
	assert_string_equal(manifest_call_path(m, "on_install", NULL), "/i");
	assert_string_equal(manifest_call_path(m, "on_oauth2_complete", "/x"), "/c");
	assert_string_equal(manifest_call_path(m, "get_oauth2_connect_url", "/oauth2/connect"),
			    "/oauth2/connect");
	assert_null(manifest_call_path(m, "on_uninstall", NULL));
	call = manifest_call(m, "on_oauth2_complete", NULL);
	assert_non_null(json_object_get(call, "expand"));
	json_decref(call);
	call = manifest_call(m, "get_oauth2_connect_url", "/oauth2/connect");
	assert_string_equal(json_string_value(json_object_get(call, "path")), "/oauth2/connect");
	json_decref(call);
	json_decref(m);
}

static void expand_levels(void **state)
{
	json_t *e = json_loads("{\"acting_user\":\"+summary\",\"oauth2_app\":\"all\","
			       "\"channel\":\"all\",\"oauth2_user\":\"none\"}",
			       0, NULL);
	json_t *bad = json_loads("{\"acting_user\":\"everything\"}", 0, NULL);
	struct expand ex;
	char msg[128];

	(void)state;
	assert_int_equal(expand_parse(e, &ex, msg, sizeof(msg)), 0);
	assert_int_equal(ex.acting_user.level, EXPAND_SUMMARY);
	assert_true(ex.acting_user.required);
	assert_int_equal(ex.oauth2_app.level, EXPAND_ALL);
	assert_false(ex.oauth2_app.required);
	assert_int_equal(ex.oauth2_user.level, EXPAND_NONE);
	assert_int_equal(expand_parse(bad, &ex, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "expand.acting_user"));
	assert_int_equal(expand_parse(NULL, &ex, msg, sizeof(msg)), 0);
	json_decref(e);
	json_decref(bad);
}

static void jwt_signs_and_expires(void **state)
{
	const unsigned char secret[] = "s3cret";
	char *t = jwt_sign_hs256(secret, 6, "user1", 1000);

	(void)state;
	assert_non_null(t);
	assert_int_equal(jwt_verify_hs256(t, secret, 6, 1000), 0);
	assert_int_equal(jwt_verify_hs256(t, secret, 6, 1000 + JWT_TTL_S), -1);
	assert_int_equal(jwt_verify_hs256(t, (const unsigned char *)"other", 5, 1000), -1);
	t[strlen(t) - 1] ^= 1;
	assert_int_equal(jwt_verify_hs256(t, secret, 6, 1000), -1);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(app_ids),
		cmocka_unit_test(app_paths),
		cmocka_unit_test(call_paths_and_defaults),
		cmocka_unit_test(expand_levels),
		cmocka_unit_test(jwt_signs_and_expires),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
