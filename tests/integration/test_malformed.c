/*
 * Bad input from the network: odd methods, huge or broken headers, truncated
 * and broken bodies (plain and chunked), invalid UTF-8, deeply nested JSON,
 * slow clients. Each is answered with a 4xx or the connection is closed, and
 * the host keeps serving.
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

#define P "/plugins/com.mattermost.apps"

static struct ts_host host;
static char plugins[256], cfg_dir[256];
static char resp[65536];

static int setup(void **state)
{
	char cfg[300];
	const char *extra[] = { "--config", cfg, NULL };

	(void)state;
	if (ts_tempdir("bad-plugins", plugins, sizeof(plugins)) != 0 ||
	    ts_tempdir("bad-cfg", cfg_dir, sizeof(cfg_dir)) != 0 ||
	    ts_install_plugin(plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755) != 0)
		return -1;
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", cfg_dir);
	if (ts_write_file(cfg, "{\"limits\":{\"idle_timeout_s\":2,\"per_ip_connections\":512}}",
			  0600) != 0)
		return -1;
	return ts_host_start(&host, plugins, extra);
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_host_stop(&host);
	ts_rmtree(plugins);
	ts_rmtree(cfg_dir);
	return rc == 0 ? 0 : -1;
}

static void still_serving(void)
{
	char url[128];
	struct ts_resp r;

	snprintf(url, sizeof(url), "%s/api/v4/system/ping", host.base_url);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

/* 4xx, or no answer at all (closed). */
static void expect_refused(const char *what, int status)
{
	if (status != 0 && (status < 400 || status > 499))
		fail_msg("%s: answered %d: %.200s", what, status, resp);
	still_serving();
}

static int raw(const char *req)
{
	return ts_raw(host.port, req, strlen(req), 0, 0, 3000, resp, sizeof(resp));
}

static void odd_request_lines_and_methods(void **state)
{
	static const char *const reqs[] = {
		"FROB " P "/api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET\r\n\r\n",
		"\x01\x02\x03\x04 / HTTP/1.1\r\n\r\n",
		"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET " P "/api/v1/ping%00x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /api/v4/users/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		("POST /api/v4/users/login HTTP/1.1\r\nHost: x\r\nContent-Length: "
		 "99999999999999999999\r\n\r\n"),
		"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		int status = raw(reqs[i]);
		/* An unknown HTTP version has its own answer, 505. */
		if (strstr(reqs[i], "HTTP/9.9") && status == 505)
			status = 400;
		expect_refused(reqs[i], status);
	}
}

static void huge_and_many_headers(void **state)
{
	size_t n = 200 * 1024, off;
	char *req = malloc(n + 256);

	(void)state;
	off = (size_t)snprintf(req, 256, "GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + off, 'a', n);
	memcpy(req + off + n, "\r\n\r\n", 5);
	expect_refused("huge header",
		       ts_raw(host.port, req, strlen(req), 0, 0, 3000, resp, sizeof(resp)));
	off = (size_t)snprintf(req, 256, "GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 5000 && off + 32 < n; i++)
		off += (size_t)snprintf(req + off, 32, "X-%d: v\r\n", i);
	memcpy(req + off, "\r\n", 3);
	expect_refused("5000 headers",
		       ts_raw(host.port, req, strlen(req), 0, 0, 3000, resp, sizeof(resp)));
	free(req);
}

static void truncated_and_broken_bodies(void **state)
{
	static const char *const reqs[] = {
		/* Says 100 bytes, sends 10, closes. */
		"POST " P
		"/api/v1/call HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
		/* A chunked body cut short. */
		"POST " P "/api/v1/call HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nab",
		/* A chunk size that is not hex. */
		"POST " P "/api/v1/call HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		"zz\r\nabc\r\n0\r\n\r\n",
		/* Both lengths. */
		"POST " P "/api/v1/call HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		expect_refused(reqs[i], ts_raw(host.port, reqs[i], strlen(reqs[i]), 0, 0, 300, resp,
					       sizeof(resp)));
}

static void bad_json_is_400_never_500(void **state)
{
	size_t depth = 100000;
	char *deep = malloc(2 * depth + 1);
	char req[512];
	int status;
	const char *bodies[] = { "{\"path\":\"\xff\xfe\",\"context\":{\"app_id\":\"x\"}}",
				 "{\"a\":\"\xc3\x28\"}",
				 "\"\xed\xa0\x80\"",
				 "{",
				 "",
				 NULL };

	(void)state;
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	deep[2 * depth] = '\0';
	bodies[5] = deep;
	for (size_t i = 0; i < 6; i++) {
		const char *paths[] = { P "/api/v1/update-app-listing", "/api/v4/users/login",
					P "/api/v1/call" };
		for (size_t k = 0; k < 3; k++) {
			char *full = malloc(strlen(bodies[i]) + 512);
			snprintf(req, sizeof(req),
				 "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
				 "Connection: close\r\n\r\n",
				 paths[k], strlen(bodies[i]));
			snprintf(full, strlen(bodies[i]) + 512, "%s%s", req, bodies[i]);
			status = ts_raw(host.port, full, strlen(full), 0, 0, 3000, resp,
					sizeof(resp));
			free(full);
			/* No session: 401 comes first on these routes; never a 5xx. */
			if (status < 400 || status > 499)
				fail_msg("%s body %zu: %d", paths[k], i, status);
		}
	}
	free(deep);
	still_serving();
}

static void slow_clients_are_cut_off_and_others_served(void **state)
{
	static const char partial[] = "GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	int status;

	(void)state;
	/* One byte every 100 ms, never finishing: the idle timeout (2 s) does
	 * not fire while bytes arrive, so the request never completes... */
	status = ts_raw(host.port, partial, strlen(partial), 1, 100, 500, resp, sizeof(resp));
	assert_int_equal(status, 0);
	still_serving();
	/* ...and a client that goes quiet is closed after the idle timeout. */
	status = ts_raw(host.port, partial, strlen(partial), 0, 0, 5000, resp, sizeof(resp));
	assert_int_equal(status, 0);
	assert_int_equal(strlen(resp), 0);
	still_serving();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(odd_request_lines_and_methods),
		cmocka_unit_test(huge_and_many_headers),
		cmocka_unit_test(truncated_and_broken_bodies),
		cmocka_unit_test(bad_json_is_400_never_500),
		cmocka_unit_test(slow_clients_are_cut_off_and_others_served),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
