/* Request mapping: which handler a path reaches, and what a plugin sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "request_map.h"

static void map(const char *path, struct route_match *m)
{
	request_map(path, strlen(path), m);
}

static void ping_maps_to_system_ping_with_get_and_head(void **state)
{
	struct route_match m;

	(void)state;
	map("/api/v4/system/ping", &m);
	assert_int_equal(m.kind, ROUTE_SYSTEM_PING);
	assert_true(request_method_allowed(m.allow, "GET"));
	assert_true(request_method_allowed(m.allow, "HEAD"));
	assert_false(request_method_allowed(m.allow, "POST"));
	assert_false(request_method_allowed(m.allow, "GE"));
}

static void plugin_path_gives_id_and_subpath(void **state)
{
	struct route_match m;

	(void)state;
	map("/plugins/com.mattermost.apps/api/v1/ping", &m);
	assert_int_equal(m.kind, ROUTE_PLUGIN);
	assert_int_equal(m.plugin_id_len, strlen("com.mattermost.apps"));
	assert_memory_equal(m.plugin_id, "com.mattermost.apps", m.plugin_id_len);
	assert_int_equal(m.subpath_len, strlen("/api/v1/ping"));
	assert_memory_equal(m.subpath, "/api/v1/ping", m.subpath_len);
	assert_null(m.allow);
}

static void plugin_root_gives_slash(void **state)
{
	struct route_match m;

	(void)state;
	map("/plugins/some.plugin", &m);
	assert_int_equal(m.kind, ROUTE_PLUGIN);
	assert_int_equal(m.subpath_len, 1);
	assert_memory_equal(m.subpath, "/", 1);
	map("/plugins/some.plugin/", &m);
	assert_int_equal(m.kind, ROUTE_PLUGIN);
	assert_int_equal(m.subpath_len, 1);
}

static void malformed_paths_are_not_found(void **state)
{
	static const char *const bad[] = {
		"",
		"x",
		"//",
		"/plugins",
		"/plugins/",
		"/plugins//x",
		"/plugins/../x",
		"/plugins/./x",
		"/plugins/a b/x",
		"/plugins/a%2F/x",
		"/api/v4/system/ping/",
		"/api/v4/system/pingx",
		"/API/v4/system/ping",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct route_match m;
		map(bad[i], &m);
		if (m.kind != ROUTE_NOT_FOUND)
			fail_msg("\"%s\" should not map", bad[i]);
	}
}

static void plugin_id_longer_than_limit_is_refused(void **state)
{
	char path[300] = "/plugins/";
	struct route_match m;

	(void)state;
	memset(path + 9, 'a', PLUGIN_ID_MAX + 1);
	path[9 + PLUGIN_ID_MAX + 1] = '\0';
	map(path, &m);
	assert_int_equal(m.kind, ROUTE_NOT_FOUND);
	path[9 + PLUGIN_ID_MAX] = '\0';
	map(path, &m);
	assert_int_equal(m.kind, ROUTE_PLUGIN);
}

static void api_routes_capture_their_id(void **state)
{
	struct route_match m;

	(void)state;
	map("/api/v4/users/me", &m);
	assert_int_equal(m.kind, ROUTE_USER_GET);
	assert_int_equal(m.param_len, 2);
	assert_memory_equal(m.param, "me", 2);
	map("/api/v4/users/abc/tokens", &m);
	assert_int_equal(m.kind, ROUTE_USER_TOKENS);
	assert_memory_equal(m.param, "abc", 3);
	map("/api/v4/users/login", &m);
	assert_int_equal(m.kind, ROUTE_USERS_LOGIN);
	assert_string_equal(m.allow, "POST");
	map("/api/v4/users", &m);
	assert_int_equal(m.kind, ROUTE_USERS_CREATE);
	map("/api/v4/plugins/com.x/enable", &m);
	assert_int_equal(m.kind, ROUTE_PLUGIN_ENABLE);
	assert_memory_equal(m.param, "com.x", 5);
	map("/api/v4/plugins", &m);
	assert_int_equal(m.kind, ROUTE_PLUGINS_LIST);
	map("/login", &m);
	assert_int_equal(m.kind, ROUTE_LOGIN_PAGE);
	map("/", &m);
	assert_int_equal(m.kind, ROUTE_HOME);
	map("/api/v4/users//tokens", &m);
	assert_int_equal(m.kind, ROUTE_NOT_FOUND);
	map("/api/v4/users/a/b", &m);
	assert_int_equal(m.kind, ROUTE_NOT_FOUND);
}

static void query_is_split_at_first_question_mark(void **state)
{
	const char *q;
	size_t qlen;
	const char *t = "/a/b?x=1&y=?2";

	(void)state;
	request_split_query(t, strlen(t), &q, &qlen);
	assert_int_equal(qlen, strlen("x=1&y=?2"));
	assert_memory_equal(q, "x=1&y=?2", qlen);
	request_split_query("/a", 2, &q, &qlen);
	assert_int_equal(qlen, 0);
	request_split_query("/a?", 3, &q, &qlen);
	assert_int_equal(qlen, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ping_maps_to_system_ping_with_get_and_head),
		cmocka_unit_test(plugin_path_gives_id_and_subpath),
		cmocka_unit_test(plugin_root_gives_slash),
		cmocka_unit_test(malformed_paths_are_not_found),
		cmocka_unit_test(plugin_id_longer_than_limit_is_refused),
		cmocka_unit_test(api_routes_capture_their_id),
		cmocka_unit_test(query_is_split_at_first_question_mark),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
