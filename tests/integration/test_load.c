/*
 * Load: 64 connections at once, each a different user of an App, writing
 * its OAuth2 data and reading it back (plus pings and logins' worth of
 * reads) for LOAD_SECONDS (default 5). No answer may be a 5xx, no write may
 * be lost (each read returns exactly the last acknowledged write), and the
 * host's memory stays flat once warm.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "apps_world.h"

#define P TS_APPS
#define CONNS 64

static struct ts_world world;
static char tokens[CONNS][64];
static volatile int stop;

struct conn {
	pthread_t t;
	int id;
	long writes, reads, errors_5xx, lost, failures;
};

struct sink {
	char buf[4096];
	size_t len;
};

static size_t collect(char *d, size_t s, size_t n, void *arg)
{
	struct sink *k = arg;
	size_t len = s * n, room = sizeof(k->buf) - 1 - k->len;

	memcpy(k->buf + k->len, d, len < room ? len : room);
	k->len += len < room ? len : room;
	k->buf[k->len] = '\0';
	return len;
}

static long perform(CURL *c, const char *method, const char *url, const char *body,
		    struct sink *out)
{
	long status = 0;

	out->len = 0;
	out->buf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (!body)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L),
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (curl_easy_perform(c) != CURLE_OK)
		return 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static void *run(void *arg)
{
	struct conn *k = arg;
	struct curl_slist *h = NULL;
	char user_url[256], ping_url[256], auth[128], body[128], last[128] = "null";
	struct sink out;
	CURL *c = curl_easy_init();

	snprintf(user_url, sizeof(user_url), "%s" P "/api/v1/oauth2/user", world.host.base_url);
	snprintf(ping_url, sizeof(ping_url), "%s" P "/api/v1/ping", world.host.base_url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tokens[k->id]);
	h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	for (long seq = 1; !stop; seq++) {
		long status;
		if (seq % 3 == 0) { /* a write */
			snprintf(body, sizeof(body), "{\"conn\":%d,\"seq\":%ld}", k->id, seq);
			status = perform(c, "POST", user_url, body, &out);
			if (status == 200) {
				snprintf(last, sizeof(last), "%s", body);
				k->writes++;
			}
		} else if (seq % 3 == 1) { /* read back what was written */
			status = perform(c, "GET", user_url, NULL, &out);
			if (status == 200 && strcmp(out.buf, last) != 0)
				k->lost++;
			k->reads++;
		} else { /* ping takes no App token (App sessions are scoped) */
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
			status = perform(c, "GET", ping_url, NULL, &out);
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
			k->reads++;
		}
		if (status >= 500)
			k->errors_5xx++;
		else if (status == 0 || status >= 400)
			k->failures++;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	if (ts_world_start(&world, NULL, 0, NULL) != 0 ||
	    ts_world_install(&world, "load-app", TS_ALL_PERMS, NULL) != 0)
		return -1;
	return ts_world_app_users(&world, "load-app", "load", CONNS, tokens);
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&world);
}

static void sixty_four_connections_no_5xx_no_lost_write_flat_memory(void **state)
{
	const char *env = getenv("LOAD_SECONDS");
	int seconds = env ? (int)strtol(env, NULL, 10) : 5;
	struct conn k[CONNS];
	long warm, end, writes = 0, reads = 0, e5 = 0, lost = 0, fails = 0;

	(void)state;
	memset(k, 0, sizeof(k));
	for (int i = 0; i < CONNS; i++) {
		k[i].id = i;
		assert_int_equal(pthread_create(&k[i].t, NULL, run, &k[i]), 0);
	}
	sleep(1);
	warm = ts_rss_kib(world.host.pid);
	sleep((unsigned)(seconds > 1 ? seconds - 1 : 1));
	end = ts_rss_kib(world.host.pid);
	stop = 1;
	for (int i = 0; i < CONNS; i++) {
		pthread_join(k[i].t, NULL);
		writes += k[i].writes;
		reads += k[i].reads;
		e5 += k[i].errors_5xx;
		lost += k[i].lost;
		fails += k[i].failures;
	}
	print_message("%ld writes, %ld reads in %d s on %d connections; RSS %ld -> %ld KiB\n",
		      writes, reads, seconds, CONNS, warm, end);
	assert_int_equal(e5, 0);
	assert_int_equal(lost, 0);
	assert_int_equal(fails, 0);
	assert_true(writes > 0 && reads > 0);
#ifndef MM_SANITIZE
	/* Flat once warm: AddressSanitizer's quarantine makes this meaningless
	 * in the sanitizer build. */
	assert_true(warm > 0 && end > 0);
	if (end > warm + 16 * 1024)
		fail_msg("the host grew from %ld to %ld KiB under steady load", warm, end);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sixty_four_connections_no_5xx_no_lost_write_flat_memory),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
