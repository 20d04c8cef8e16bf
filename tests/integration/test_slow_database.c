/*
 * A database that hangs (PostgreSQL stopped with SIGSTOP: connections stay
 * open, nothing answers) stalls only the requests that need it. A request
 * whose session the host's cache does not hold must be looked up in the
 * store: with PostgreSQL that is a network round trip, so it runs on a
 * worker, and the HTTP I/O threads keep answering everything else at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "pg_harness.h"
#include "testsupport.h"

#define LOOKUPS 32 /* more than the I/O threads, as many as the workers */

static struct ts_host host;
static char dir[256], pstate[300], cfg[300], plugins[300];

static int setup(void **state)
{
	char url[512], text[700];
	const char *extra[] = { "--config", cfg, NULL };

	(void)state;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    ts_tempdir("slow-db", dir, sizeof(dir)) != 0)
		return -1;
	snprintf(pstate, sizeof(pstate), "%s/pg.state", dir);
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", dir);
	snprintf(plugins, sizeof(plugins), "%s/plugins", dir);
	if (ts_pg_private_start(pstate) != 0 ||
	    ts_pg_private_url(pstate, "slowdb", url, sizeof(url)) != 0)
		return -1;
	snprintf(text, sizeof(text), "{\"store\":{\"backend\":\"postgres\",\"url\":\"%s\"}}", url);
	if (ts_write_file(cfg, text, 0600) != 0 ||
	    ts_tempdir("slow-db-plugins", plugins, sizeof(plugins)) != 0)
		return -1;
	return ts_host_start(&host, plugins, extra);
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	(void)ts_pg_private_thaw(pstate);
	rc = ts_host_stop(&host);
	(void)ts_pg_private_stop(pstate);
	ts_rmtree(plugins);
	ts_rmtree(dir);
	curl_global_cleanup();
	return rc == 0 ? 0 : -1;
}

struct lookup {
	pthread_t t;
	const char *token;
	long status;
};

static atomic_int answered; /* lookups that got their answer */

static void *do_lookup(void *arg)
{
	struct lookup *l = arg;
	struct ts_resp r = ts_api(host.base_url, "GET", "/api/v4/users/me", l->token, NULL);

	l->status = r.status;
	ts_resp_free(&r);
	atomic_fetch_add(&answered, 1);
	return NULL;
}

/* GET /api/v4/system/ping without a token, at most timeout_s to answer:
 * its status, 0 when none came. */
static long ping_within(long timeout_s)
{
	char url[128];
	long status = 0;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s/api/v4/system/ping", host.base_url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static void sessions_not_cached_wait_on_workers_not_io_threads(void **state)
{
	static struct lookup lookups[LOOKUPS];
	const char *args[] = { "user",         "create",   "--username", "ann", "--password",
			       "ann-password", "--config", cfg,          NULL };
	char data[320], token[64], *out = NULL;
	struct ts_resp r;
	long status = 0;
	int answered_before_ping;

	(void)state;
	snprintf(data, sizeof(data), "%s/data", host.dir);
	assert_int_equal(ts_cli(data, args, &out), 0);
	free(out);
	/* A new session: the host has never looked it up, so its cache does
	 * not hold it. */
	assert_int_equal(ts_login(host.base_url, "ann", "ann-password", token, sizeof(token)), 200);
	assert_int_equal(ts_pg_private_freeze(pstate), 0);
	for (int i = 0; i < LOOKUPS; i++) {
		lookups[i].token = token;
		assert_int_equal(pthread_create(&lookups[i].t, NULL, do_lookup, &lookups[i]), 0);
	}
	usleep(500 * 1000);
	/* Each lookup waits for the database (up to the store's 5 s
	 * deadline). Were they made on the I/O threads, this ping would wait
	 * behind them, until some of them were answered; on workers it is
	 * answered while they all still wait. */
	status = ping_within(10);
	answered_before_ping = atomic_load(&answered);
	assert_int_equal(ts_pg_private_thaw(pstate), 0);
	for (int i = 0; i < LOOKUPS; i++) {
		pthread_join(lookups[i].t, NULL);
		/* The database did not answer in time: 503, never 401. */
		if (lookups[i].status != 200 && lookups[i].status != 503)
			fail_msg("a lookup while the database hung: %ld", lookups[i].status);
	}
	if (status != 200)
		fail_msg("the ping got no answer within 10 s while sessions were looked up in a "
			 "database that hangs");
	if (answered_before_ping != 0)
		fail_msg("the ping waited for %d session lookups in a database that hangs",
			 answered_before_ping);
	/* Once the database answers again, so does the session. */
	status = 0;
	for (int tries = 0; tries < 200 && status != 200; tries++) {
		r = ts_api(host.base_url, "GET", "/api/v4/users/me", token, NULL);
		status = r.status;
		ts_resp_free(&r);
		if (status != 200)
			usleep(100 * 1000);
	}
	assert_int_equal(status, 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sessions_not_cached_wait_on_workers_not_io_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
