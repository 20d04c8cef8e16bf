/*
 * One user's logout must not make the host forget every other user's
 * session. It did: a logout (or any revocation) bumped one session
 * generation for the whole cache, in this process and, through the store's
 * notifications, on every node of a cluster. A user who logs in a few
 * times and then logs out one session at a time (or creates personal
 * access tokens and "logs out" with each: POST /api/v4/users/logout revokes
 * whatever token the request carries) turned every cached session of every
 * node into a store read, one per logout (seen on two nodes on PostgreSQL:
 * 60 logouts on node A, 60 more session reads for another user on node B).
 * A single revocation now notifies the token's hash and every node drops
 * that entry alone; sweeps (a user's sessions, an App's) keep emptying the
 * cache.
 *
 * Argument "postgres": the same on PostgreSQL, and with a second node on
 * the same database, whose cache must keep the other user's session too.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
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

#define MISSES "mmhost_sessions_cache_misses_total"

static bool postgres; /* two nodes on one database */
static struct ts_host host, node_b;
static char dir[256], cfg[300], plugins[300];

static int setup(void **state)
{
	const char *extra[] = { "--config", cfg, NULL };

	(void)state;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    ts_tempdir("cache-scope", dir, sizeof(dir)) != 0 ||
	    ts_tempdir("cache-scope-plugins", plugins, sizeof(plugins)) != 0)
		return -1;
	if (postgres && ts_pg_use_for_hosts("cache_scope") != 0)
		return -1;
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", dir);
	/* With postgres, the store of the hosts' config is added. */
	if (ts_write_config(cfg, "{\"metrics_listen\":\"127.0.0.1:0\"}") != 0)
		return -1;
	if (ts_host_start(&host, plugins, extra) != 0)
		return -1;
	return postgres ? ts_host_start(&node_b, plugins, extra) : 0;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_host_stop(&host);
	if (postgres)
		rc |= ts_host_stop(&node_b);
	ts_rmtree(plugins);
	ts_rmtree(dir);
	curl_global_cleanup();
	return rc == 0 ? 0 : -1;
}

/* h's count of session reads from the store. */
static double misses_on(const struct ts_host *h)
{
	char *log = ts_read_file(h->log_path), url[128];
	const char *p = log ? strstr(log, "metrics_addr=127.0.0.1:") : NULL;
	int port = p ? atoi(p + strlen("metrics_addr=127.0.0.1:")) : 0;
	struct ts_resp r;
	double v = -1;

	free(log);
	assert_true(port > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	assert_int_equal(r.status, 200);
	p = strstr(r.body, "\n" MISSES " ");
	if (p)
		v = strtod(p + strlen("\n" MISSES " "), NULL);
	ts_resp_free(&r);
	assert_true(v >= 0);
	return v;
}

static double misses(void)
{
	return misses_on(&host);
}

static long me_on(const struct ts_host *h, const char *token)
{
	struct ts_resp r = ts_api(h->base_url, "GET", "/api/v4/users/me", token, NULL);
	long status = r.status;

	ts_resp_free(&r);
	return status;
}

static void me(const char *token, long want)
{
	assert_int_equal(me_on(&host, token), want);
}

static void make_user(const char *name, const char *password)
{
	const char *args[] = { "user",   "create",   "--username", name, "--password",
			       password, "--config", cfg,          NULL };
	char data[320], *out = NULL;

	snprintf(data, sizeof(data), "%s/data", host.dir);
	if (ts_cli(data, args, &out) != 0)
		fail_msg("user create %s: %s", name, out ? out : "");
	free(out);
}

static void a_logout_leaves_other_users_sessions_cached(void **state)
{
	char alice[64], mallory[64];
	struct ts_resp r;
	double before;

	(void)state;
	make_user("alice", "alice-password");
	make_user("mallory", "mallory-password");
	assert_int_equal(ts_login(host.base_url, "alice", "alice-password", alice, sizeof(alice)),
			 200);
	assert_int_equal(
		ts_login(host.base_url, "mallory", "mallory-password", mallory, sizeof(mallory)),
		200);
	me(alice, 200); /* read once: cached from now on */
	me(alice, 200);
	before = misses();
	me(alice, 200);
	assert_true(misses() == before); /* the test's own premise: a hit */

	r = ts_api(host.base_url, "POST", "/api/v4/users/logout", mallory, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	me(mallory, 401);
	before = misses();
	me(alice, 200);
	if (misses() != before)
		fail_msg(
			"mallory's logout made the host read alice's session from the store again");
}

/* Logouts on node A: node B drops each ended session as it hears of it
 * (its token is refused there), and keeps another user's session cached. */
static void logouts_on_one_node_leave_other_sessions_cached_on_another(void **state)
{
	char bob[64], eve[64];
	double before;

	(void)state;
	if (!postgres)
		skip();
	make_user("bob", "bob-password");
	make_user("eve", "eve-password");
	assert_int_equal(ts_login(node_b.base_url, "bob", "bob-password", bob, sizeof(bob)), 200);
	assert_int_equal(me_on(&node_b, bob), 200); /* cached on B from now on */
	for (int i = 0; i < 5; i++) {
		struct ts_resp r;
		long status = 200;

		assert_int_equal(ts_login(host.base_url, "eve", "eve-password", eve, sizeof(eve)),
				 200);
		assert_int_equal(me_on(&node_b, eve), 200); /* cached on B too */
		before = misses_on(&node_b);
		assert_int_equal(me_on(&node_b, bob), 200);
		assert_true(misses_on(&node_b) == before); /* the premise: a hit */
		r = ts_api(host.base_url, "POST", "/api/v4/users/logout", eve, NULL);
		assert_int_equal(r.status, 200);
		ts_resp_free(&r);
		/* B hears of it (about a second is the contract). */
		for (int tries = 0; tries < 60 && status == 200; tries++) {
			status = me_on(&node_b, eve);
			if (status == 200)
				usleep(50 * 1000);
		}
		assert_int_equal(status, 401);
		before = misses_on(&node_b);
		assert_int_equal(me_on(&node_b, bob), 200);
		if (misses_on(&node_b) != before)
			fail_msg("logout %d on node A made node B read bob's session from the "
				 "store again",
				 i);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_logout_leaves_other_users_sessions_cached),
		cmocka_unit_test(logouts_on_one_node_leave_other_sessions_cached_on_another),
	};

	postgres = argc > 1 && strcmp(argv[1], "postgres") == 0;
	return cmocka_run_group_tests(tests, setup, teardown);
}
