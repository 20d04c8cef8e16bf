/*
 * Prometheus metrics as an operator scrapes them from the real host and
 * plugin: promtool accepts the text, counters move with traffic (the host's
 * and the plugin's), no label value comes from what a client sends, and
 * with metrics_listen absent nothing listens for them.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "apps_world.h"

#define P TS_APPS "/api/v1"

static char cfg_dir[256], cfg_path[320];

/* The metrics port from the host's "serving metrics" line; 0 when none. */
static int metrics_port(const struct ts_host *h)
{
	char *text = ts_read_file(h->log_path);
	const char *p = text ? strstr(text, "metrics_addr=127.0.0.1:") : NULL;
	int port = p ? atoi(p + strlen("metrics_addr=127.0.0.1:")) : 0;

	free(text);
	return port;
}

static char *scrape(const struct ts_host *h)
{
	char url[128];
	struct ts_resp r;
	char ct[128], *body;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", metrics_port(h));
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(ts_resp_header(&r, "Content-Type", ct, sizeof(ct)), 0);
	assert_string_equal(ct, "text/plain; version=0.0.4; charset=utf-8");
	body = r.body; /* the caller frees it */
	r.body = NULL;
	ts_resp_free(&r);
	return body;
}

/* The value of the sample written exactly as series ("name{labels}"), or
 * -1 when the scrape has no such line. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return -1;
}

/* Scrapes until series reaches at least min (a request is counted as it
 * ends, just after its answer was sent), for at most 20 s. Returns the last
 * scrape (the caller frees it). */
static char *scrape_until(const struct ts_host *h, const char *series, double min)
{
	char *text = scrape(h);

	for (int waited = 0; sample(text, series) < min && waited < 20000; waited += 50) {
		free(text);
		usleep(50 * 1000);
		text = scrape(h);
	}
	return text;
}

/* Lines that are samples (not # comments). */
static int count_series(const char *text)
{
	int n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += *p != '#' && *p != '\n';
	return n;
}

static void get(const struct ts_host *h, const char *method, const char *path)
{
	char url[512];
	struct ts_resp r;

	snprintf(url, sizeof(url), "%s%s", h->base_url, path);
	assert_int_equal(ts_http(method, url, NULL, NULL, 0, 0, &r), 0);
	ts_resp_free(&r);
}

static void promtool_accepts(const char *text)
{
	const char *argv[] = { PROMTOOL_BIN, "check", "metrics", NULL };
	char *out = NULL;
	int code = -1;

	if (!PROMTOOL_BIN[0])
		fail_msg("promtool was not found (scripts/deps.sh unpacks it into build/tools)");
	assert_int_equal(ts_run_input(argv, text, &code, &out), 0);
	if (code != 0)
		fail_msg("promtool check metrics: exit %d: %s", code, out);
	free(out);
}

static void start_world(struct ts_world *w)
{
	const char *extra[] = { "--config", cfg_path, NULL };

	assert_int_equal(ts_world_start(w, NULL, 1, extra), 0);
}

#define PING "mmhost_http_requests_total{route=\"/api/v4/system/ping\",method=\"GET\",code=\"200\"}"
#define PLUGIN_OK                                                                                  \
	"mmhost_http_requests_total{route=\"/plugins/com.mattermost.apps\",method=\"GET\","        \
	"code=\"200\"}"
#define OTHER_PLUGIN                                                                               \
	"mmhost_http_requests_total{route=\"/plugins/{id}\",method=\"GET\",code=\"404\"}"
#define UNMATCHED "mmhost_http_requests_total{route=\"unmatched\",method=\"GET\",code=\"404\"}"

static void the_scrape_passes_promtool_and_counts_the_traffic(void **state)
{
	char url[256], acting[64], *before, *after;
	struct ts_world w;
	struct ts_resp r;

	(void)state;
	start_world(&w);
	assert_int_equal(ts_world_install(&w, "metrics-app", TS_ALL_PERMS, NULL), 0);
	{
		char mia[64];
		assert_int_equal(ts_world_user(&w, "mia", 0, mia, NULL), 0);
		assert_int_equal(
			ts_app_tokens(w.host.base_url, mia, "metrics-app", NULL, acting, NULL), 0);
	}
	r = ts_api(w.host.base_url, "POST", P "/oauth2/user", acting, "{\"access_token\":\"t\"}");
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "GET", P "/oauth2/user", acting, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = ts_api(w.host.base_url, "GET", P "/oauth2/user", NULL, NULL);
	assert_int_equal(r.status, 401);
	ts_resp_free(&r);
	/* A browser not logged in, sent to log in first. */
	r = ts_api(w.host.base_url, "GET", TS_APPS "/apps/metrics-app/oauth2/remote/connect", NULL,
		   NULL);
	assert_int_equal(r.status, 302);
	ts_resp_free(&r);

	get(&w.host, "GET", "/api/v4/system/ping"); /* its series exists from here */
	before = scrape_until(&w.host, PING, 1);
	for (int i = 0; i < 5; i++)
		get(&w.host, "GET", "/api/v4/system/ping");
	for (int i = 0; i < 3; i++)
		get(&w.host, "GET", P "/ping");
	free(scrape_until(&w.host, PLUGIN_OK, sample(before, PLUGIN_OK) + 3));
	after = scrape_until(&w.host, PING, sample(before, PING) + 5);
	promtool_accepts(after);

	assert_true(sample(after, PING) - sample(before, PING) == 5);
	assert_true(sample(after, PLUGIN_OK) - sample(before, PLUGIN_OK) >= 3);
	assert_true(sample(after, "mmhost_http_request_duration_seconds_count{route=\"/api/v4/"
				  "system/ping\"}") >= 5);
	assert_true(sample(after, "mmhost_http_requests_total{route=\"/plugins/"
				  "com.mattermost.apps\",method=\"GET\",code=\"401\"}") >= 1);
	assert_true(sample(after, "mmhost_login_attempts_total{result=\"ok\"}") >= 2);
	assert_true(sample(after, "mmhost_sessions_cache_hits_total") +
			    sample(after, "mmhost_sessions_cache_misses_total") >
		    0);
	assert_true(sample(after, "mmhost_http_connections") >= 0);
	assert_true(sample(after, "process_cpu_seconds_total") > 0);
	assert_true(sample(after, "process_open_fds") > 0);
	assert_true(sample(after, "process_start_time_seconds") > 1.7e9);
	/* The plugin's own, through the host API. */
	assert_true(sample(after,
			   "mmapps_oauth2_store_ops_total{op=\"store_user\",result=\"ok\"}") == 1);
	assert_true(sample(after, "mmapps_oauth2_store_ops_total{op=\"get_user\",result=\"ok\"}") ==
		    1);
	assert_true(sample(after, "mmapps_oauth2_store_ops_total{op=\"get_user\","
				  "result=\"refused\"}") == 1);
	assert_true(sample(after, "mmapps_records{kind=\"apps\"}") == 1);
	assert_true(sample(after, "mmapps_records{kind=\"oauth2_users\"}") == 1);
	assert_true(sample(after, "mmapps_app_calls_total{result=\"ok\"}") >= 1);
	assert_true(sample(after, "mmapps_app_call_duration_seconds_count") >= 1);
	assert_true(sample(after, "mmapps_group_commit_batch_size_count") >= 1);
	assert_true(sample(after, "mmapps_unseal_failures_total") == 0);
	assert_true(sample(after, "mmapps_key_sweep_done") == 0);
	assert_true(sample(after, "mmapps_flow_total{step=\"connect\",result=\"ok\"}") == 0);
	assert_true(sample(after, "mmapps_flow_total{step=\"connect\",result=\"login\"}") == 1);
	free(before);
	free(after);

	/* Only GET /metrics. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/other", metrics_port(&w.host));
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	assert_int_equal(r.status, 404);
	ts_resp_free(&r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", metrics_port(&w.host));
	assert_int_equal(ts_http("POST", url, NULL, "x", 1, 0, &r), 0);
	assert_int_equal(r.status, 405);
	ts_resp_free(&r);
	assert_int_equal(ts_world_stop(&w), 0);
}

/* Paths, plugin ids and methods a client makes up. */
static void made_up_requests(const struct ts_host *h, const char *tag, int n)
{
	char path[256], word[40];

	for (int i = 0; i < n; i++) {
		unsigned char raw[8];
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(word, sizeof(word), raw, sizeof(raw));
		snprintf(path, sizeof(path), TS_APPS "/%s-%s", tag, word);
		get(h, "GET", path);
		snprintf(path, sizeof(path), TS_APPS "/api/v1/apps/%s-%s", tag, word);
		get(h, "GET", path);
		snprintf(path, sizeof(path), "/plugins/%s-%s/x", tag, word);
		get(h, "GET", path);
		snprintf(path, sizeof(path), "/%s-%s", tag, word);
		get(h, "GET", path);
		snprintf(path, sizeof(path), "/api/v4/users/%s%s", tag, word);
		get(h, "GET", path);
		get(h, word, path); /* a method of the client's own */
	}
}

static void no_series_comes_from_what_a_client_sends(void **state)
{
	struct ts_world w;
	char *before, *after;

	(void)state;
	start_world(&w);
	/* Every kind of request once: its series exist from here on. */
	made_up_requests(&w.host, "warm", 1);
	/* The last request of the round (method "other") ends last; its
	 * series appears with it. */
	before = scrape_until(&w.host,
			      "mmhost_http_requests_total{route=\"/api/v4/users/{id}\","
			      "method=\"other\",code=\"405\"}",
			      1);
	made_up_requests(&w.host, "zqx", 20);
	free(scrape_until(&w.host, UNMATCHED, 21));
	free(scrape_until(&w.host, OTHER_PLUGIN, 21));
	after = scrape_until(&w.host,
			     "mmhost_http_requests_total{route=\"/api/v4/users/{id}\","
			     "method=\"other\",code=\"405\"}",
			     21);
	assert_int_equal(count_series(after), count_series(before));
	assert_null(strstr(after, "zqx"));
	assert_null(strstr(after, "warm"));
	/* They were counted, under fixed words. */
	assert_true(sample(after, OTHER_PLUGIN) >= 21);
	assert_true(sample(after, UNMATCHED) >= 21);
	promtool_accepts(after);
	free(before);
	free(after);
	assert_int_equal(ts_world_stop(&w), 0);
}

/* The TCP sockets process pid listens on (from /proc: its descriptors'
 * inodes, in LISTEN state in /proc/net/tcp and tcp6). */
static int listening_sockets(pid_t pid)
{
	static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	unsigned long inodes[256];
	size_t n = 0;
	char dir[64], link[PATH_MAX], target[256];
	struct dirent *e;
	int listening = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL && n < 256) {
		ssize_t len;
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%lu]", &inodes[n]) == 1)
			n++;
	}
	closedir(d);
	for (size_t t = 0; t < 2; t++) {
		char *text = ts_read_file(tables[t]);
		for (char *line = text ? strchr(text, '\n') : NULL; line && line[1];
		     line = strchr(line + 1, '\n')) {
			char st[8];
			unsigned long inode = 0;
			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
			if (sscanf(line + 1, "%*s %*s %*s %7s %*s %*s %*s %*s %*s %lu", st,
				   &inode) != 2)
				continue;
			for (size_t i = 0; i < n; i++)
				listening += strcmp(st, "0A") == 0 && inodes[i] == inode;
		}
		free(text);
	}
	return listening;
}

static void without_metrics_listen_nothing_listens_for_them(void **state)
{
	struct ts_world w;

	(void)state;
	assert_int_equal(ts_world_start(&w, NULL, 0, NULL), 0);
	assert_int_equal(listening_sockets(w.host.pid), 1);
	assert_false(ts_host_log_has(&w.host, "serving metrics"));
	assert_int_equal(ts_world_stop(&w), 0);
	/* The same count with the listener on: the method sees it. */
	start_world(&w);
	assert_int_equal(listening_sockets(w.host.pid), 2);
	assert_int_equal(ts_world_stop(&w), 0);
}

static void a_taken_metrics_address_stops_the_start(void **state)
{
	char cfg[320], text[128];
	const char *extra[] = { "--config", cfg, NULL };
	struct ts_world w;
	struct ts_host h;

	(void)state;
	start_world(&w);
	/* Another host asks for the first one's metrics port. */
	snprintf(cfg, sizeof(cfg), "%s/taken.json", cfg_dir);
	snprintf(text, sizeof(text), "{\"metrics_listen\":\"127.0.0.1:%d\"}",
		 metrics_port(&w.host));
	assert_int_equal(ts_write_file(cfg, text, 0600), 0);
	assert_int_equal(ts_host_start(&h, w.plugins, extra), -1);
	assert_true(ts_host_log_has(&h, "cannot listen on metrics_listen"));
	ts_rmtree(h.dir);
	assert_int_equal(ts_world_stop(&w), 0);
}

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || ts_tempdir("metrics-cfg", cfg_dir, sizeof(cfg_dir)) != 0)
		return -1;
	snprintf(cfg_path, sizeof(cfg_path), "%s/metrics.json", cfg_dir);
	return ts_write_file(cfg_path, "{\"metrics_listen\":\"127.0.0.1:0\"}", 0600);
}

static int teardown(void **state)
{
	(void)state;
	ts_rmtree(cfg_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_scrape_passes_promtool_and_counts_the_traffic),
		cmocka_unit_test(no_series_comes_from_what_a_client_sends),
		cmocka_unit_test(without_metrics_listen_nothing_listens_for_them),
		cmocka_unit_test(a_taken_metrics_address_stops_the_start),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
