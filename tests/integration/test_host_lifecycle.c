/*
 * The host as an admin runs it: the command line, refused plugins that do
 * not stop the host, disabled plugins, and a SIGTERM that drains in-flight
 * requests and exits 0.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "testsupport.h"

static size_t discard(char *d, size_t s, size_t n, void *arg)
{
	(void)d;
	(void)arg;
	return s * n;
}

static void run_host(const char *const *args, int *code, char **out)
{
	const char *argv[16] = { MMHOST_BIN };
	size_t n = 1;

	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(ts_run(argv, code, out), 0);
}

static int count_lines(const char *text)
{
	int n = 0;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

static void help_and_version_exit_0(void **state)
{
	static const char *const help[] = { "--help", NULL };
	static const char *const serve_help[] = { "serve", "--help", NULL };
	static const char *const version[] = { "--version", NULL };
	char *out;
	int code;

	(void)state;
	run_host(help, &code, &out);
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, "Usage: mmhost COMMAND"));
	free(out);
	run_host(serve_help, &code, &out);
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, "--plugin-dir"));
	free(out);
	run_host(version, &code, &out);
	assert_int_equal(code, 0);
	assert_non_null(strstr(out, "mmhost " PROJECT_VERSION));
	free(out);
}

static void usage_errors_exit_2_with_one_line(void **state)
{
	static const char *const cases[][4] = {
		{ "frobnicate", NULL },
		{ "serve", "--bogus", NULL },
		{ "serve", "--listen", "nonsense", NULL },
		{ "serve", "--site-url", "ftp://x", NULL },
		{ "serve", "--config", "/nonexistent/mmhost.json", NULL },
		{ "serve", "--listen", NULL },
		{ NULL },
	};
	char *out;
	int code;

	(void)state;
	for (size_t i = 0; cases[i][0]; i++) {
		run_host(cases[i], &code, &out);
		if (code != 2 || count_lines(out) != 1 || strncmp(out, "mmhost: ", 8) != 0)
			fail_msg("%s %s: exit %d, output \"%s\"", cases[i][0],
				 cases[i][1] ? cases[i][1] : "", code, out);
		free(out);
	}
}

static void unknown_config_key_is_named(void **state)
{
	char dir[256], path[300];
	const char *args[] = { "serve", "--config", path, NULL };
	char *out;
	int code;

	(void)state;
	assert_int_equal(ts_tempdir("cfg", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/mmhost.json", dir);
	assert_int_equal(ts_write_file(path, "{\"listen\":\"127.0.0.1:0\",\"lisen\":1}", 0600), 0);
	run_host(args, &code, &out);
	assert_int_equal(code, 2);
	assert_non_null(strstr(out, "unknown key \"lisen\""));
	assert_int_equal(count_lines(out), 1);
	free(out);
	assert_int_equal(ts_write_file(path, "{\"log\":{\"level\":\"chatty\"}}", 0600), 0);
	run_host(args, &code, &out);
	assert_int_equal(code, 2);
	assert_non_null(strstr(out, "log.level"));
	free(out);
	ts_rmtree(dir);
}

static void refused_plugins_are_logged_and_host_keeps_serving(void **state)
{
	static const char *const bad[] = { "bad_magic", "abi_major",    "abi_minor",   "no_serve",
					   "no_entry",  "small_struct", "id_mismatch", NULL };
	char plugins[256], so[512], id[128], url[256], needle[256];
	struct ts_host h;
	struct ts_resp r;

	(void)state;
	assert_int_equal(ts_tempdir("bad-plugins", plugins, sizeof(plugins)), 0);
	for (size_t i = 0; bad[i]; i++) {
		snprintf(so, sizeof(so), "%s/%s.so", FIXTURE_DIR, bad[i]);
		snprintf(id, sizeof(id), "fixture.%s", bad[i]);
		assert_int_equal(ts_install_plugin(plugins, id, so, 0755), 0);
	}
	assert_int_equal(
		ts_install_plugin(plugins, "fixture.writable", FIXTURE_DIR "/good.so", 0775), 0);
	assert_int_equal(ts_install_plugin(plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755),
			 0);
	assert_int_equal(ts_host_start(&h, plugins, NULL), 0);

	snprintf(url, sizeof(url), "%s/plugins/com.mattermost.apps/api/v1/ping", h.base_url);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	for (size_t i = 0; bad[i]; i++) {
		snprintf(needle, sizeof(needle), "plugin refused plugin_id=fixture.%s", bad[i]);
		if (!ts_host_log_has(&h, needle))
			fail_msg("no log line \"%s\"", needle);
		snprintf(url, sizeof(url), "%s/plugins/fixture.%s/echo", h.base_url, bad[i]);
		assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
		assert_int_equal(r.status, 404);
		ts_resp_free(&r);
	}
	assert_true(
		ts_host_log_has(&h, "plugin refused plugin_id=fixture.writable check=permissions"));
	assert_true(ts_host_log_has(&h, "check=abi_major"));
	assert_true(ts_host_log_has(&h, "check=magic"));
	assert_int_equal(ts_host_stop(&h), 0);
	ts_rmtree(plugins);
}

static void missing_plugin_folder_still_serves(void **state)
{
	struct ts_host h;
	struct ts_resp r;
	char url[256];

	(void)state;
	assert_int_equal(ts_host_start(&h, "/nonexistent/plugins", NULL), 0);
	snprintf(url, sizeof(url), "%s/api/v4/system/ping", h.base_url);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	assert_true(ts_host_log_has(&h, "cannot read the plugin folder"));
	assert_int_equal(ts_host_stop(&h), 0);
}

static void plugin_disabled_in_config_is_404(void **state)
{
	char dir[256], cfg[300];
	const char *extra[] = { "--config", cfg, NULL };
	struct ts_host h;
	struct ts_resp r;
	char url[256];

	(void)state;
	assert_int_equal(ts_tempdir("disabled", dir, sizeof(dir)), 0);
	assert_int_equal(ts_install_plugin(dir, "fixture.good", FIXTURE_DIR "/good.so", 0755), 0);
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", dir);
	assert_int_equal(ts_write_file(cfg,
				       "{\"plugins\":{\"fixture.good\":{\"enabled\":false}},"
				       "\"log\":{\"format\":\"json\"}}",
				       0600),
			 0);
	assert_int_equal(ts_host_start(&h, dir, extra), 0);
	snprintf(url, sizeof(url), "%s/plugins/fixture.good/echo", h.base_url);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	assert_int_equal(r.status, 404);
	ts_resp_free(&r);
	assert_true(
		ts_host_log_has(&h, "\"msg\":\"plugin disabled\",\"plugin_id\":\"fixture.good\""));
	assert_true(ts_host_wait_log(&h, "\"msg\":\"http\",\"method\":\"GET\"", 5000));
	assert_int_equal(ts_host_stop(&h), 0);
	ts_rmtree(dir);
}

struct slow_req {
	char url[256];
	long status;
};

static void *do_slow(void *arg)
{
	struct slow_req *s = arg;
	struct ts_resp r;

	ts_http("GET", s->url, NULL, NULL, 0, 0, &r);
	s->status = r.status;
	ts_resp_free(&r);
	return NULL;
}

static void sigterm_finishes_in_flight_requests_and_exits_0(void **state)
{
	char dir[256];
	struct slow_req s = { 0 };
	struct ts_host h;
	pthread_t t;

	(void)state;
	assert_int_equal(ts_tempdir("drain", dir, sizeof(dir)), 0);
	assert_int_equal(ts_install_plugin(dir, "fixture.good", FIXTURE_DIR "/good.so", 0755), 0);
	assert_int_equal(ts_host_start(&h, dir, NULL), 0);
	snprintf(s.url, sizeof(s.url), "%s/plugins/fixture.good/slow", h.base_url);
	assert_int_equal(pthread_create(&t, NULL, do_slow, &s), 0);
	usleep(150 * 1000); /* the request is now inside the plugin (it sleeps 400 ms) */
	assert_int_equal(kill(h.pid, SIGTERM), 0);
	usleep(50 * 1000);
	/* While it drains, a new request is told to come back, and its
	 * connection is closed. */
	{
		char url[256], conn[32];
		struct ts_resp r;
		snprintf(url, sizeof(url), "%s/api/v4/system/ping", h.base_url);
		assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
		assert_int_equal(r.status, 503);
		assert_non_null(strstr(r.body, "api.context.shutting_down.app_error"));
		assert_int_equal(ts_resp_header(&r, "Connection", conn, sizeof(conn)), 0);
		assert_string_equal(conn, "close");
		ts_resp_free(&r);
	}
	assert_int_equal(ts_host_stop(&h), 0);
	pthread_join(t, NULL);
	assert_int_equal(s.status, 200);
	ts_rmtree(dir);
}

struct hammer {
	pthread_t t;
	char url[256];
	volatile int *stop;
	int bad; /* answers other than 200 or 503 */
	int ok;
};

/* One keep-alive connection, requests back to back until told to stop or the
 * server goes away. */
static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	CURL *c = curl_easy_init();

	curl_easy_setopt(c, CURLOPT_URL, h->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	while (!*h->stop) {
		long status = 0;
		if (curl_easy_perform(c) != CURLE_OK)
			break;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200)
			h->ok++;
		else if (status != 503)
			h->bad++;
	}
	curl_easy_cleanup(c);
	return NULL;
}

static void shutdown_under_keep_alive_load_exits_0(void **state)
{
	char dir[256];
	(void)state;
	assert_int_equal(ts_tempdir("hammer", dir, sizeof(dir)), 0);
	assert_int_equal(ts_install_plugin(dir, "fixture.good", FIXTURE_DIR "/good.so", 0755), 0);
	for (int round = 0; round < 3; round++) {
		struct hammer h[8];
		volatile int stop = 0;
		struct ts_host host;

		assert_int_equal(ts_host_start(&host, dir, NULL), 0);
		for (int i = 0; i < 8; i++) {
			memset(&h[i], 0, sizeof(h[i]));
			snprintf(h[i].url, sizeof(h[i].url), "%s/plugins/fixture.good/echo",
				 host.base_url);
			h[i].stop = &stop;
			assert_int_equal(pthread_create(&h[i].t, NULL, hammer_run, &h[i]), 0);
		}
		usleep(200 * 1000);
		/* The requests keep coming over open connections while it drains. */
		assert_int_equal(ts_host_stop(&host), 0);
		stop = 1;
		for (int i = 0; i < 8; i++) {
			pthread_join(h[i].t, NULL);
			assert_int_equal(h[i].bad, 0);
			assert_true(h[i].ok > 0);
		}
	}
	ts_rmtree(dir);
}

/* Holds a connection open with half a request. */
static int open_half_request(int port)
{
	static const char half[] = "GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    send(fd, half, sizeof(half) - 1, MSG_NOSIGNAL) < 0)
		fail_msg("cannot open a connection");
	return fd;
}

static void per_ip_connection_limit_is_enforced(void **state)
{
	char dir[256], cfg[300], url[256], resp[1024];
	const char *extra[] = { "--config", cfg, NULL };
	static const char ping[] = "GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\n"
				   "Connection: close\r\n\r\n";
	struct ts_host h;
	struct ts_resp r;
	int fds[3];

	(void)state;
	assert_int_equal(ts_tempdir("limits", dir, sizeof(dir)), 0);
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", dir);
	assert_int_equal(ts_write_file(cfg, "{\"limits\":{\"per_ip_connections\":3}}", 0600), 0);
	assert_int_equal(ts_host_start(&h, "/nonexistent/plugins", extra), 0);
	for (int i = 0; i < 3; i++)
		fds[i] = open_half_request(h.port);
	usleep(100 * 1000);
	/* A fourth connection from the same address gets no answer. */
	assert_int_equal(ts_raw(h.port, ping, sizeof(ping) - 1, 0, 0, 1000, resp, sizeof(resp)), 0);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	usleep(200 * 1000);
	snprintf(url, sizeof(url), "%s/api/v4/system/ping", h.base_url);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	assert_int_equal(ts_host_stop(&h), 0);
	ts_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(help_and_version_exit_0),
		cmocka_unit_test(usage_errors_exit_2_with_one_line),
		cmocka_unit_test(unknown_config_key_is_named),
		cmocka_unit_test(refused_plugins_are_logged_and_host_keeps_serving),
		cmocka_unit_test(missing_plugin_folder_still_serves),
		cmocka_unit_test(plugin_disabled_in_config_is_404),
		cmocka_unit_test(sigterm_finishes_in_flight_requests_and_exits_0),
		cmocka_unit_test(shutdown_under_keep_alive_load_exits_0),
		cmocka_unit_test(per_ip_connection_limit_is_enforced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
