/*
 * The real mmhost with the real plugin and the echo fixture plugin, over
 * HTTP: routing, errors, limits, request ids, what a plugin receives.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "testsupport.h"

static struct ts_host host;
static char plugins[256];

static int setup(void **state)
{
	char path[512];

	(void)state;
	if (ts_tempdir("plugins", plugins, sizeof(plugins)) != 0)
		return -1;
	if (ts_install_plugin(plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/com.mattermost.apps/plugin.json", plugins);
	if (ts_copy_file(APPS_PLUGIN_JSON, path, 0644) != 0)
		return -1;
	if (ts_install_plugin(plugins, "fixture.good", FIXTURE_DIR "/good.so", 0755) != 0 ||
	    ts_install_plugin(plugins, "fixture.v13", FIXTURE_DIR "/v13.so", 0755) != 0)
		return -1;
	return ts_host_start(&host, plugins, NULL);
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_host_stop(&host);
	ts_rmtree(plugins);
	return rc == 0 ? 0 : -1;
}

static struct ts_resp get(const char *path)
{
	char url[512];
	struct ts_resp r;

	snprintf(url, sizeof(url), "%s%s", host.base_url, path);
	ts_http("GET", url, NULL, NULL, 0, 0, &r);
	return r;
}

static void still_pings(void)
{
	struct ts_resp r = get("/api/v4/system/ping");

	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static struct ts_resp send_body(const char *method, const char *path, const char *const *hdrs,
				const void *body, size_t len, int chunked)
{
	char url[512];
	struct ts_resp r;

	snprintf(url, sizeof(url), "%s%s", host.base_url, path);
	ts_http(method, url, hdrs, body, len, chunked, &r);
	return r;
}

static json_t *body_json(const struct ts_resp *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);

	if (!j)
		fail_msg("body is not JSON: %.200s", r->body);
	return j;
}

static void assert_error_id(const struct ts_resp *r, long status, const char *id)
{
	json_t *j;
	char ct[128];

	assert_int_equal(r->status, status);
	assert_int_equal(ts_resp_header(r, "Content-Type", ct, sizeof(ct)), 0);
	assert_string_equal(ct, "application/json");
	j = body_json(r);
	assert_string_equal(json_string_value(json_object_get(j, "id")), id);
	assert_int_equal(json_integer_value(json_object_get(j, "status_code")), status);
	assert_non_null(json_object_get(j, "message"));
	assert_non_null(json_object_get(j, "detailed_error"));
	assert_int_equal(json_string_length(json_object_get(j, "request_id")), 26);
	json_decref(j);
}

static void system_ping_answers_ok_with_request_id(void **state)
{
	struct ts_resp r = get("/api/v4/system/ping");
	char ct[64], rid[64];

	(void)state;
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"OK\"}");
	assert_int_equal(ts_resp_header(&r, "Content-Type", ct, sizeof(ct)), 0);
	assert_string_equal(ct, "application/json");
	assert_int_equal(ts_resp_header(&r, "X-Request-Id", rid, sizeof(rid)), 0);
	assert_int_equal(strlen(rid), 26);
	ts_resp_free(&r);
}

static void plugin_ping_answers_through_the_plugin(void **state)
{
	struct ts_resp r = get("/plugins/com.mattermost.apps/api/v1/ping");
	json_t *j;

	(void)state;
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "OK");
	assert_string_equal(json_string_value(json_object_get(j, "version")), PROJECT_VERSION);
	json_decref(j);
	ts_resp_free(&r);
}

static void unknown_routes_are_404_with_stable_ids(void **state)
{
	struct ts_resp r;

	(void)state;
	r = get("/api/v4/nope");
	assert_error_id(&r, 404, "api.context.404.app_error");
	ts_resp_free(&r);
	r = get("/api/nope");
	assert_error_id(&r, 404, "api.context.404.app_error");
	ts_resp_free(&r);
	r = get("/plugins/no.such.plugin/api/v1/ping");
	assert_error_id(&r, 404, "api.plugin.not_found.app_error");
	ts_resp_free(&r);
	r = get("/plugins/com.mattermost.apps/api/v1/nope");
	assert_error_id(&r, 404, "api.context.404.app_error");
	ts_resp_free(&r);
}

static void wrong_method_is_405_with_allow(void **state)
{
	struct ts_resp r;
	char allow[64];

	(void)state;
	r = send_body("POST", "/plugins/com.mattermost.apps/api/v1/ping", NULL, "{}", 2, 0);
	assert_error_id(&r, 405, "api.context.method_not_allowed.app_error");
	assert_int_equal(ts_resp_header(&r, "Allow", allow, sizeof(allow)), 0);
	assert_string_equal(allow, "GET, HEAD");
	ts_resp_free(&r);
	r = send_body("DELETE", "/api/v4/system/ping", NULL, NULL, 0, 0);
	assert_error_id(&r, 405, "api.context.method_not_allowed.app_error");
	assert_int_equal(ts_resp_header(&r, "Allow", allow, sizeof(allow)), 0);
	assert_string_equal(allow, "GET, HEAD");
	ts_resp_free(&r);
}

static void head_answers_without_body(void **state)
{
	struct ts_resp r;

	(void)state;
	r = send_body("HEAD", "/plugins/com.mattermost.apps/api/v1/ping", NULL, NULL, 0, 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	ts_resp_free(&r);
}

static long echoed_body_len(const struct ts_resp *r)
{
	json_t *j = body_json(r);
	long n = (long)json_integer_value(json_object_get(j, "body_len"));

	json_decref(j);
	return n;
}

static void body_of_exactly_1mib_is_accepted(void **state)
{
	size_t len = 1024 * 1024;
	char *body = malloc(len);
	struct ts_resp r;

	(void)state;
	memset(body, 'a', len);
	r = send_body("POST", "/plugins/fixture.good/echo", NULL, body, len, 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(echoed_body_len(&r), (long)len);
	ts_resp_free(&r);
	r = send_body("POST", "/plugins/fixture.good/echo", NULL, body, len, 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(echoed_body_len(&r), (long)len);
	ts_resp_free(&r);
	free(body);
}

static void body_over_1mib_is_413_with_length_and_chunked(void **state)
{
	size_t len = 1024 * 1024 + 1;
	char *body = malloc(len);
	struct ts_resp r;

	(void)state;
	memset(body, 'a', len);
	r = send_body("POST", "/plugins/fixture.good/echo", NULL, body, len, 0);
	assert_error_id(&r, 413, "api.context.request_body_too_large.app_error");
	ts_resp_free(&r);
	r = send_body("POST", "/plugins/fixture.good/echo", NULL, body, len, 1);
	assert_error_id(&r, 413, "api.context.request_body_too_large.app_error");
	ts_resp_free(&r);
	free(body);
}

static void endless_chunked_body_is_cut_and_host_keeps_serving(void **state)
{
	size_t len = 16 * 1024 * 1024;
	char *body = malloc(len);
	struct ts_resp r;

	(void)state;
	memset(body, 'b', len);
	r = send_body("POST", "/plugins/fixture.good/echo", NULL, body, len, 1);
	/* Either the client read a 413 or the connection was closed: never a 200. */
	if (!(r.status == 413 || r.curl_rc != 0))
		fail_msg("status %ld, curl %d", r.status, r.curl_rc);
	ts_resp_free(&r);
	free(body);
	r = get("/api/v4/system/ping");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static void encoded_nul_in_path_is_400_not_a_shorter_path(void **state)
{
	struct ts_resp r;

	(void)state;
	r = get("/plugins/com.mattermost.apps/api/v1/ping%00x");
	assert_error_id(&r, 400, "api.context.invalid_url.app_error");
	ts_resp_free(&r);
	r = get("/api/v4/system/ping%00");
	assert_error_id(&r, 400, "api.context.invalid_url.app_error");
	ts_resp_free(&r);
	/* In the query it is data, not a path. */
	r = get("/api/v4/system/ping?x=%00");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static void oversized_headers_are_431_and_host_keeps_serving(void **state)
{
	size_t len = 100 * 1024;
	char *hdr = malloc(len + 16);
	const char *hdrs[] = { hdr, NULL };
	struct ts_resp r;

	(void)state;
	memcpy(hdr, "X-Big: ", 7);
	memset(hdr + 7, 'a', len);
	hdr[7 + len] = '\0';
	r = send_body("GET", "/api/v4/system/ping", hdrs, NULL, 0, 0);
	assert_int_equal(r.status, 431);
	ts_resp_free(&r);
	free(hdr);
	r = get("/api/v4/system/ping");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

static void plugin_sees_method_path_query_headers_and_no_spoofed_identity(void **state)
{
	static const char *const hdrs[] = { "X-Test: hello", "Mattermost-User-Id: spoofed",
					    "Content-Type: application/json", NULL };
	struct ts_resp r;
	char rid[64];
	json_t *j, *h;

	(void)state;
	r = send_body("PUT", "/plugins/fixture.good/a/b%20c?x=1&y=%2F", hdrs, "{\"k\":1}", 7, 0);
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "method")), "PUT");
	assert_string_equal(json_string_value(json_object_get(j, "path")), "/a/b c");
	assert_string_equal(json_string_value(json_object_get(j, "query")), "x=1&y=%2F");
	assert_string_equal(json_string_value(json_object_get(j, "body")), "{\"k\":1}");
	assert_true(json_is_null(json_object_get(j, "session")));
	assert_string_equal(json_string_value(json_object_get(j, "settings")), "{}");
	h = json_object_get(j, "headers");
	assert_string_equal(json_string_value(json_object_get(h, "x-test")), "hello");
	assert_int_equal(ts_resp_header(&r, "X-Request-Id", rid, sizeof(rid)), 0);
	assert_string_equal(json_string_value(json_object_get(j, "request_id")), rid);
	json_decref(j);
	ts_resp_free(&r);
}

static void plugin_that_sets_nothing_gives_500(void **state)
{
	struct ts_resp r = get("/plugins/fixture.good/nothing");

	(void)state;
	assert_error_id(&r, 500, "api.plugin.no_response.app_error");
	ts_resp_free(&r);
}

static void plugin_cannot_inject_headers(void **state)
{
	struct ts_resp r = get("/plugins/fixture.good/bad-header");
	char v[64];
	json_t *j;

	(void)state;
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "crlf")), -1);
	assert_int_equal(json_integer_value(json_object_get(j, "reserved")), -1);
	assert_int_equal(json_integer_value(json_object_get(j, "status")), -1);
	assert_int_not_equal(ts_resp_header(&r, "X-B", v, sizeof(v)), 0);
	assert_int_not_equal(ts_resp_header(&r, "X-A", v, sizeof(v)), 0);
	json_decref(j);
	ts_resp_free(&r);
}

static void access_log_has_one_line_and_never_the_query(void **state)
{
	struct ts_resp r = get("/plugins/fixture.good/logged?access_token=supersecretvalue");
	char rid[64], needle[128];

	(void)state;
	assert_int_equal(r.status, 200);
	assert_int_equal(ts_resp_header(&r, "X-Request-Id", rid, sizeof(rid)), 0);
	snprintf(needle, sizeof(needle), "request_id=%s", rid);
	assert_true(ts_host_wait_log(&host, needle, 5000));
	assert_true(ts_host_log_has(&host, "path=/plugins/fixture.good/logged status=200"));
	assert_false(ts_host_log_has(&host, "supersecretvalue"));
	ts_resp_free(&r);
}

/* The echo's "thread" and "on_worker", after checking the status. */
static json_t *echo_of(const char *path, int status)
{
	struct ts_resp r = get(path);
	json_t *j;

	if (r.status != status)
		fail_msg("%s: %ld %.300s", path, r.status, r.body ? r.body : "");
	j = json_loadb(r.body, r.body_len, 0, NULL);
	ts_resp_free(&r);
	assert_non_null(j);
	return j;
}

static void plugin_built_for_1_2_runs_on_workers_only(void **state)
{
	json_t *j = echo_of("/plugins/fixture.good/echo", 200);

	(void)state;
	/* The 1.2 fixture answers 500 when called off a worker. */
	assert_string_equal(json_string_value(json_object_get(j, "thread")), "mmhost-worker");
	assert_int_equal(json_integer_value(json_object_get(j, "on_worker")), 1);
	json_decref(j);
}

static void plugin_built_for_1_3_answers_inline_and_defers_what_blocks(void **state)
{
	json_t *j = echo_of("/plugins/fixture.v13/inline", 200);

	(void)state;
	/* No hand-off: the I/O thread that read the request answers it. */
	assert_string_equal(json_string_value(json_object_get(j, "thread")), "MHD-worker");
	assert_int_equal(json_integer_value(json_object_get(j, "on_worker")), 0);
	json_decref(j);
	/* MMPLUGIN_DEFER: called again on a worker, never blocking an I/O
	 * thread. */
	j = echo_of("/plugins/fixture.v13/echo?x=1", 200);
	assert_string_equal(json_string_value(json_object_get(j, "thread")), "mmhost-worker");
	assert_int_equal(json_integer_value(json_object_get(j, "on_worker")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "query")), "x=1");
	json_decref(j);
	/* Deferring again from a worker is a plugin bug: 500. */
	j = echo_of("/plugins/fixture.v13/defer-again", 500);
	assert_string_equal(json_string_value(json_object_get(j, "id")),
			    "api.plugin.no_response.app_error");
	json_decref(j);
	/* The host's own routes answer on the I/O thread too. */
	still_pings();
}

struct async_get {
	pthread_t t;
	char path[128];
	long status;
	char body[512];
};

static void *do_async_get(void *arg)
{
	struct async_get *g = arg;
	struct ts_resp r = get(g->path);

	g->status = r.status;
	snprintf(g->body, sizeof(g->body), "%s", r.body ? r.body : "");
	ts_resp_free(&r);
	return NULL;
}

static void held_responses_are_answered_when_the_plugin_finishes_them(void **state)
{
	enum { N = 64 };
	static struct async_get g[N];
	const char *paths[] = { "/plugins/fixture.v13/async?ms=300",
				"/plugins/fixture.v13/async-early",
				"/plugins/fixture.v13/async-self" };

	(void)state;
	/* Finished later, by another thread; before serve_http returned; by
	 * serve_http itself: each answered once, none lost. */
	for (int i = 0; i < N; i++) {
		snprintf(g[i].path, sizeof(g[i].path), "%s", paths[i % 3]);
		assert_int_equal(pthread_create(&g[i].t, NULL, do_async_get, &g[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(g[i].t, NULL);
		if (g[i].status != 200 || !strstr(g[i].body, "\"async\""))
			fail_msg("%s: %ld %s", g[i].path, g[i].status, g[i].body);
	}
	still_pings();
}

/* Run last: it disables fixture.v13. */
static void held_responses_a_disabled_plugin_left_are_answered_503(void **state)
{
	static struct async_get g;
	const char *args[] = { "plugin", "disable", "fixture.v13", "--plugin-dir", plugins, NULL };
	char data[320], *out = NULL;
	struct ts_resp r;

	(void)state;
	/* The plugin holds the response and never finishes it, not even when
	 * it is deactivated (the ABI says it must: this one is broken). */
	snprintf(g.path, sizeof(g.path), "/plugins/fixture.v13/async-never");
	assert_int_equal(pthread_create(&g.t, NULL, do_async_get, &g), 0);
	usleep(300 * 1000);
	/* An admin disables it; the running server applies that within a
	 * second, and answers what the plugin left instead of holding the
	 * connection for ever. */
	snprintf(data, sizeof(data), "%s/data", host.dir);
	if (ts_cli(data, args, &out) != 0)
		fail_msg("mmhost plugin disable: %s", out ? out : "");
	free(out);
	pthread_join(g.t, NULL);
	if (g.status != 503 || !strstr(g.body, "api.plugin.unavailable.app_error"))
		fail_msg("the held request got %ld %s", g.status, g.body);
	r = get("/plugins/fixture.v13/inline");
	assert_int_equal(r.status, 404);
	ts_resp_free(&r);
	still_pings();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(system_ping_answers_ok_with_request_id),
		cmocka_unit_test(plugin_ping_answers_through_the_plugin),
		cmocka_unit_test(unknown_routes_are_404_with_stable_ids),
		cmocka_unit_test(wrong_method_is_405_with_allow),
		cmocka_unit_test(head_answers_without_body),
		cmocka_unit_test(body_of_exactly_1mib_is_accepted),
		cmocka_unit_test(body_over_1mib_is_413_with_length_and_chunked),
		cmocka_unit_test(endless_chunked_body_is_cut_and_host_keeps_serving),
		cmocka_unit_test(oversized_headers_are_431_and_host_keeps_serving),
		cmocka_unit_test(encoded_nul_in_path_is_400_not_a_shorter_path),
		cmocka_unit_test(plugin_sees_method_path_query_headers_and_no_spoofed_identity),
		cmocka_unit_test(plugin_that_sets_nothing_gives_500),
		cmocka_unit_test(plugin_cannot_inject_headers),
		cmocka_unit_test(access_log_has_one_line_and_never_the_query),
		cmocka_unit_test(plugin_built_for_1_2_runs_on_workers_only),
		cmocka_unit_test(plugin_built_for_1_3_answers_inline_and_defers_what_blocks),
		cmocka_unit_test(held_responses_are_answered_when_the_plugin_finishes_them),
		cmocka_unit_test(held_responses_a_disabled_plugin_left_are_answered_503),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
