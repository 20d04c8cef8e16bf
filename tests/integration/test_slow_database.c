/*
 * A database that hangs (PostgreSQL stopped with SIGSTOP: connections stay
 * open, nothing answers) stalls only the requests that need it. A request
 * whose session the host's cache does not hold must be looked up in the
 * store: with PostgreSQL that is a network round trip, so it runs on a
 * worker, and the HTTP I/O threads keep answering everything else at once.
 *
 * A database that is down or hangs is the server's trouble, never the
 * client's: a login is 503 (not a wrong password, and not counted against
 * the account or the address), a logout or a token it could not write is
 * 503 (a logout answered 200 must have ended the session), and each answer
 * comes within the store's 5 s deadline (plus slack), not a multiple of it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void make_user(const char *name, const char *pw)
{
	const char *args[] = { "user", "create",   "--username", name, "--password",
			       pw,     "--config", cfg,          NULL };
	char data[320], *out = NULL;

	snprintf(data, sizeof(data), "%s/data", host.dir);
	assert_int_equal(ts_cli(data, args, &out), 0);
	free(out);
}

#define UNAVAILABLE "api.store.unavailable.app_error"
/* The store's deadline is 5 s; a request that needs it answers 503 within
 * that and some slack for a loaded machine, never after a second wait. */
#define HUNG_ANSWER_MS 7500

/* method path with token while the database hangs: 503, within the bound. */
static void unavailable_in_time(const char *method, const char *path, const char *token,
				const char *body, const char *what)
{
	int64_t t0 = mono_ms(), took;
	struct ts_resp r = ts_api(host.base_url, method, path, token, body);

	took = mono_ms() - t0;
	if (r.status != 503 || !r.body || !strstr(r.body, UNAVAILABLE) || took >= HUNG_ANSWER_MS) {
		char log_path[320], *log;
		size_t len;

		snprintf(log_path, sizeof(log_path), "%s/host.log", host.dir);
		log = ts_read_file(log_path);
		len = log ? strlen(log) : 0;
		fprintf(stderr, "the host's log ends:\n%s\n",
			log ? log + (len > 3000 ? len - 3000 : 0) : "");
		free(log);
		fail_msg("%s while the database hung: %ld after %lld ms: %.300s", what, r.status,
			 (long long)took, r.body ? r.body : "");
	}
	ts_resp_free(&r);
}

static bool paused; /* a test stopped the database */

/* After each test, whatever it left: the database running and answering. */
static int database_back(void **state)
{
	(void)state;
	(void)ts_pg_private_thaw(pstate);
	if (paused)
		(void)ts_pg_private_resume(pstate);
	paused = false;
	return 0;
}

static void a_login_while_the_database_is_down_is_503_and_not_counted(void **state)
{
	char token[64];
	struct ts_resp r;
	long status = 0;

	(void)state;
	make_user("cleo", "cleo-password");
	paused = true;
	assert_int_equal(ts_pg_private_pause(pstate), 0);
	/* More than the limiter's 10 failures a minute: none of them is one. */
	for (int i = 0; i < 12; i++) {
		r = ts_api(host.base_url, "POST", "/api/v4/users/login", NULL,
			   "{\"login_id\":\"cleo\",\"password\":\"cleo-password\"}");
		if (r.status != 503 || !r.body || !strstr(r.body, UNAVAILABLE))
			fail_msg("login %d while the database was down: %ld %.300s", i, r.status,
				 r.body ? r.body : "");
		ts_resp_free(&r);
	}
	assert_int_equal(ts_pg_private_resume(pstate), 0);
	paused = false;
	for (int tries = 0; tries < 200 && status != 200; tries++) {
		status = ts_login(host.base_url, "cleo", "cleo-password", token, sizeof(token));
		if (status == 503)
			usleep(100 * 1000);
		else
			break;
	}
	assert_int_equal(status, 200);
}

static void a_hung_database_is_503_in_time_and_a_logout_it_did_not_take_is_not_200(void **state)
{
	char cached[64], fresh[64];
	struct ts_resp r;
	long status = 0;

	(void)state;
	make_user("dora", "dora-password");
	assert_int_equal(ts_login(host.base_url, "dora", "dora-password", cached, sizeof(cached)),
			 200);
	assert_int_equal(ts_login(host.base_url, "dora", "dora-password", fresh, sizeof(fresh)),
			 200);
	/* cached is in the host's session cache, fresh is not. */
	r = ts_api(host.base_url, "GET", "/api/v4/users/me", cached, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);

	assert_int_equal(ts_pg_private_freeze(pstate), 0);
	unavailable_in_time("POST", "/api/v4/users/logout", cached, NULL, "a logout");
	unavailable_in_time("POST", "/api/v4/users/me/tokens", cached, "{\"description\":\"x\"}",
			    "a token creation");
	unavailable_in_time("GET", "/api/v4/users/me", fresh, NULL, "a session lookup");
	assert_int_equal(ts_pg_private_thaw(pstate), 0);

	/* The logout was not acknowledged: the token still works, and a
	 * logout now ends it. */
	for (int tries = 0; tries < 200 && status != 200; tries++) {
		r = ts_api(host.base_url, "GET", "/api/v4/users/me", cached, NULL);
		status = r.status;
		ts_resp_free(&r);
		if (status == 503)
			usleep(100 * 1000);
		else
			break;
	}
	assert_int_equal(status, 200);
	r = ts_api(host.base_url, "POST", "/api/v4/users/logout", cached, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	r = ts_api(host.base_url, "GET", "/api/v4/users/me", cached, NULL);
	assert_int_equal(r.status, 401);
	ts_resp_free(&r);
}

/* The browser's log-out form while the database hangs: a 503 page saying
 * the database cannot be reached (not a 500), and the session still works
 * once it is back. */
static void the_logout_form_while_the_database_hangs_is_a_503_page(void **state)
{
	char url[256], csrf[64], form[128];
	struct ts_browser b;
	struct ts_resp r;

	(void)state;
	make_user("emma", "emma-password");
	assert_int_equal(ts_browser_init(&b), 0);
	assert_int_equal(ts_browser_login(&b, host.base_url, "emma", "emma-password", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	/* The form (and the session in the host's cache). */
	snprintf(url, sizeof(url), "%s/logout", host.base_url);
	assert_int_equal(ts_browser_go(&b, url, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(ts_login_form_token(&r, csrf, sizeof(csrf)), 0);
	ts_resp_free(&r);
	snprintf(form, sizeof(form), "csrf_token=%s", csrf);

	assert_int_equal(ts_pg_private_freeze(pstate), 0);
	assert_int_equal(ts_browser_go(&b, url, form, &r), 0);
	if (r.status != 503 || !r.body || !strstr(r.body, "The database cannot be reached"))
		fail_msg("the logout form while the database hung: %ld %.400s", r.status,
			 r.body ? r.body : "");
	ts_resp_free(&r);
	assert_int_equal(ts_pg_private_thaw(pstate), 0);
	/* Not logged out: the form is shown again once the database is back. */
	for (int tries = 0; tries < 200; tries++) {
		assert_int_equal(ts_browser_go(&b, url, NULL, &r), 0);
		if (r.status != 503)
			break;
		ts_resp_free(&r);
		usleep(100 * 1000);
	}
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "action=\"/logout\""));
	ts_resp_free(&r);
	ts_browser_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sessions_not_cached_wait_on_workers_not_io_threads),
		cmocka_unit_test_teardown(
			a_hung_database_is_503_in_time_and_a_logout_it_did_not_take_is_not_200,
			database_back),
		cmocka_unit_test_teardown(a_login_while_the_database_is_down_is_503_and_not_counted,
					  database_back),
		cmocka_unit_test_teardown(the_logout_form_while_the_database_hangs_is_a_503_page,
					  database_back),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
