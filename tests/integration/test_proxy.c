/*
 * Behind a reverse proxy, against the real host: X-Forwarded-For and
 * X-Forwarded-Proto are believed only from trusted_proxies, the client's
 * address reaches the access log and the plugin, and the failed-login
 * limiter counts per client address and per account, so one noisy address
 * or a spray of unknown names locks nobody else out.
 *
 * The proxy is 127.0.0.1; another peer is 127.0.0.2 (any 127.0.0.0/8
 * address reaches the host on loopback).
 */
#include <curl/curl.h>
#include <jansson.h>
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

#define BOB_PW "bob-password-1"
#define CAROL_PW "carol-password-1"
#define PROXY "127.0.0.1"
#define STRANGER "127.0.0.2"

static char dir[256], plugins[256];

struct reply {
	long status;
	char body[8192];
	size_t len;
	char headers[8192];
	size_t hlen;
};

static size_t take(char *p, size_t size, size_t n, void *arg)
{
	char *buf = arg;
	size_t have = strlen(buf), len = size * n, room = 8191 - have;

	memcpy(buf + have, p, len < room ? len : room);
	buf[have + (len < room ? len : room)] = '\0';
	return size * n;
}

/* One request from the peer address from, with extra headers (may be
 * NULL) and a JSON body (NULL: GET). */
static struct reply *request(const struct ts_host *h, const char *path, const char *from,
			     const char *const *headers, const char *body)
{
	static struct reply out;
	struct curl_slist *hl = NULL;
	char url[512];
	CURL *c = curl_easy_init();

	memset(&out, 0, sizeof(out));
	snprintf(url, sizeof(url), "%s%s", h->base_url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_INTERFACE, from);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out.body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, take);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out.headers);
	for (size_t i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (body)
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return &out;
}

/* The address the plugin got for a request (the fixture echoes it). */
static char *plugin_sees(const struct ts_host *h, const char *from, const char *xff)
{
	static char addr[64];
	char header[256];
	const char *headers[] = { header, NULL };
	struct reply *r;
	json_t *j;

	snprintf(header, sizeof(header), "X-Forwarded-For: %s", xff);
	r = request(h, "/plugins/fixture.good/echo", from, xff ? headers : NULL, NULL);
	assert_int_equal(r->status, 200);
	j = json_loads(r->body, 0, NULL);
	assert_non_null(j);
	snprintf(addr, sizeof(addr), "%s", json_string_value(json_object_get(j, "remote_addr")));
	json_decref(j);
	return addr;
}

static void start(struct ts_host *h, const char *trusted)
{
	char cfg[320], text[256], data_dir[320], id[32];
	const char *extra[] = { "--config", cfg, NULL };

	snprintf(cfg, sizeof(cfg), "%s/proxy-%d.json", dir, (int)getpid());
	snprintf(text, sizeof(text), "{\"trusted_proxies\":[%s]}", trusted);
	assert_int_equal(ts_write_file(cfg, text, 0600), 0);
	assert_int_equal(ts_host_start(h, plugins, extra), 0);
	snprintf(data_dir, sizeof(data_dir), "%s/data", h->dir);
	assert_int_equal(ts_create_user(data_dir, "bob", BOB_PW, 0, id), 0);
	assert_int_equal(ts_create_user(data_dir, "carol", CAROL_PW, 0, id), 0);
}

static void forwarded_for_is_believed_only_from_a_trusted_proxy(void **state)
{
	struct ts_host h;

	(void)state;
	start(&h, "\"" PROXY "\", \"10.0.0.0/8\"");
	assert_string_equal(plugin_sees(&h, PROXY, "203.0.113.7"), "203.0.113.7");
	/* A client's own X-Forwarded-For on the left proves nothing; hops in
	 * trusted networks are skipped. */
	assert_string_equal(plugin_sees(&h, PROXY, "198.51.100.1, 203.0.113.9, 10.1.2.3"),
			    "203.0.113.9");
	/* Not from a trusted proxy: the header is ignored. */
	assert_string_equal(plugin_sees(&h, STRANGER, "203.0.113.8"), STRANGER);
	assert_string_equal(plugin_sees(&h, PROXY, NULL), PROXY);
	/* The access log says who the client is, and through which proxy. */
	/* Each I/O thread buffers its own log lines: wait for every one. */
	assert_true(ts_host_wait_log(&h, "remote=203.0.113.7 ", 5000));
	assert_true(ts_host_wait_log(&h, "remote=203.0.113.9 ", 5000));
	assert_true(ts_host_wait_log(&h, "remote=127.0.0.2 ", 5000));
	assert_true(ts_host_log_has(&h, "proxy=127.0.0.1"));
	assert_false(ts_host_log_has(&h, "203.0.113.8"));
	assert_false(ts_host_log_has(&h, "198.51.100.1"));
	assert_int_equal(ts_host_stop(&h), 0);

	/* Without trusted_proxies nobody is believed. */
	start(&h, "");
	assert_string_equal(plugin_sees(&h, PROXY, "203.0.113.7"), PROXY);
	assert_int_equal(ts_host_stop(&h), 0);
}

static long login(const struct ts_host *h, const char *from, const char *client, const char *user,
		  const char *pw, const char *proto, char *set_cookie, size_t cap)
{
	char body[256], xff[128], xfp[64];
	const char *headers[3] = { NULL, NULL, NULL };
	size_t n = 0;
	struct reply *r;

	snprintf(body, sizeof(body), "{\"login_id\":\"%s\",\"password\":\"%s\"}", user, pw);
	if (client) {
		snprintf(xff, sizeof(xff), "X-Forwarded-For: %s", client);
		headers[n++] = xff;
	}
	if (proto) {
		snprintf(xfp, sizeof(xfp), "X-Forwarded-Proto: %s", proto);
		headers[n++] = xfp;
	}
	r = request(h, "/api/v4/users/login", from, headers, body);
	if (set_cookie) {
		const char *c = strstr(r->headers, "MMAUTHTOKEN=");
		snprintf(set_cookie, cap, "%.*s", c ? (int)strcspn(c, "\r\n") : 0, c ? c : "");
	}
	return r->status;
}

static void forwarded_proto_https_from_a_trusted_proxy_makes_cookies_secure(void **state)
{
	char cookie[512];
	struct ts_host h;

	(void)state;
	start(&h, "\"" PROXY "\"");
	assert_int_equal(
		login(&h, PROXY, "203.0.113.5", "bob", BOB_PW, "https", cookie, sizeof(cookie)),
		200);
	assert_non_null(strstr(cookie, "; Secure"));
	assert_int_equal(login(&h, STRANGER, NULL, "bob", BOB_PW, "https", cookie, sizeof(cookie)),
			 200);
	assert_non_null(strstr(cookie, "MMAUTHTOKEN="));
	assert_null(strstr(cookie, "Secure"));
	assert_int_equal(
		login(&h, PROXY, "203.0.113.5", "bob", BOB_PW, "http", cookie, sizeof(cookie)),
		200);
	assert_null(strstr(cookie, "Secure"));
	assert_int_equal(ts_host_stop(&h), 0);
}

/* Regression: behind a proxy every client was 127.0.0.1, so one client's
 * failures used up everyone's attempts. */
static void one_noisy_client_behind_the_proxy_locks_out_only_itself(void **state)
{
	char name[32];
	struct ts_host h;

	(void)state;
	start(&h, "\"" PROXY "\"");
	/* Client A sprays made-up names: each name counts once, the address
	 * ten times. */
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "nobody%d", i);
		assert_int_equal(
			login(&h, PROXY, "203.0.113.20", name, "x-password", NULL, NULL, 0), 401);
	}
	/* A is limited, even with a right password... */
	assert_int_equal(login(&h, PROXY, "203.0.113.20", "bob", BOB_PW, NULL, NULL, 0), 429);
	/* ...nobody else behind the same proxy is, */
	assert_int_equal(login(&h, PROXY, "203.0.113.21", "bob", BOB_PW, NULL, NULL, 0), 200);
	assert_int_equal(login(&h, PROXY, "203.0.113.22", "carol", CAROL_PW, NULL, NULL, 0), 200);
	/* and a client cannot dodge its limit with a made-up hop on the left. */
	assert_int_equal(login(&h, PROXY, "192.0.2.1, 203.0.113.20", "bob", BOB_PW, NULL, NULL, 0),
			 429);
	assert_true(ts_host_wait_log(&h, "limit=address", 5000));
	assert_int_equal(ts_host_stop(&h), 0);
}

static void an_account_is_limited_whatever_the_addresses(void **state)
{
	char client[32];
	struct ts_host h;

	(void)state;
	start(&h, "\"" PROXY "\"");
	/* bob's password guessed from ten addresses, once each. */
	for (int i = 0; i < 10; i++) {
		snprintf(client, sizeof(client), "198.51.100.%d", 10 + i);
		assert_int_equal(login(&h, PROXY, client, "bob", "wrong-password", NULL, NULL, 0),
				 401);
	}
	/* bob's account is what is limited, from an address that never
	 * failed too (a spray from many addresses would guess on otherwise)... */
	assert_int_equal(login(&h, PROXY, "198.51.100.99", "bob", BOB_PW, NULL, NULL, 0), 429);
	/* ...and only bob's: carol logs in from the same addresses. */
	assert_int_equal(login(&h, PROXY, "198.51.100.10", "carol", CAROL_PW, NULL, NULL, 0), 200);
	assert_int_equal(login(&h, PROXY, "198.51.100.99", "carol", CAROL_PW, NULL, NULL, 0), 200);
	assert_true(ts_host_wait_log(&h, "limit=account", 5000));
	assert_int_equal(ts_host_stop(&h), 0);
}

static void a_bad_trusted_proxy_entry_stops_the_start_naming_it(void **state)
{
	char cfg[320];
	const char *argv[] = {
		MMHOST_BIN, "serve", "--config", cfg, "--listen", "127.0.0.1:0", NULL
	};
	char *out = NULL;
	int code = 0;

	(void)state;
	snprintf(cfg, sizeof(cfg), "%s/bad-proxy.json", dir);
	assert_int_equal(
		ts_write_file(cfg, "{\"trusted_proxies\":[\"10.0.0.0/8\",\"10.0.0.1/8\"]}", 0600),
		0);
	assert_int_equal(ts_run(argv, &code, &out), 0);
	assert_int_equal(code, 2);
	assert_non_null(strstr(out, "10.0.0.1/8"));
	free(out);
}

static int setup(void **state)
{
	(void)state;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    ts_tempdir("proxy", dir, sizeof(dir)) != 0 ||
	    ts_tempdir("proxy-plugins", plugins, sizeof(plugins)) != 0)
		return -1;
	return ts_install_plugin(plugins, "fixture.good", FIXTURE_DIR "/good.so", 0755);
}

static int teardown(void **state)
{
	(void)state;
	ts_rmtree(dir);
	ts_rmtree(plugins);
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forwarded_for_is_believed_only_from_a_trusted_proxy),
		cmocka_unit_test(forwarded_proto_https_from_a_trusted_proxy_makes_cookies_secure),
		cmocka_unit_test(one_noisy_client_behind_the_proxy_locks_out_only_itself),
		cmocka_unit_test(an_account_is_limited_whatever_the_addresses),
		cmocka_unit_test(a_bad_trusted_proxy_entry_stops_the_start_naming_it),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
