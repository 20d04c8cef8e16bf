/*
 * The framework refreshes users' OAuth2 tokens (issue #17), against the real
 * host, the real test App and the real test OAuth2 provider (its own
 * process, counting refreshes): a nearly expired token is refreshed before
 * the App sees it, concurrent calls cause one refresh, a far-off expiry
 * none, invalid_grant deletes, 503 and a slow provider pass the old token,
 * a value that is not a token passes untouched, token_url is checked, and
 * a provider that refuses HTTP Basic gets the form.
 *
 * With the argument "cluster": two hosts on one PostgreSQL database, each
 * with concurrent calls for the same user, cause one refresh.
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
#include <jansson.h>

#include "apps_world.h"
#include "provider_client.h"
#include "pg_harness.h"

#define P TS_APPS
#define CID "refresh-client"
#define SECRET "refresh-secret-9d41"
#define REDIRECT "http://localhost/complete"
/* PKCE: the verifier and its S256 challenge. */
#define VERIFIER "refresh-verifier-0123456789-0123456789-0123456789"
#define CHALLENGE "U7UpaSy7bQ6fLQSCLQnyGE2f_dlah2bdDfzHY6YxQsA"
#define APP_ID "refresh-app"
#define FORM_APP_ID "refresh-form"
#define CONCURRENT 10

static struct ts_world world;
static struct ts_host node2;
static struct ts_proc provider, form_provider;
static char cfg_dir[256], cfg[320];
static char user_tok[64], acting[64], form_acting[64];
static int host_stopped; /* by the last test */

static struct ts_resp api(const char *method, const char *path, const char *token, const char *body)
{
	return ts_api(world.host.base_url, method, path, token, body);
}

static int start_provider(struct ts_proc *p, const char *auth)
{
	const char *argv[] = {
		TEST_PROVIDER_BIN, "--listen", "127.0.0.1:0",   "--client-id", CID,
		"--client-secret", SECRET,     "--client-auth", auth,          NULL
	};

	return ts_proc_start(p, argv, "test-provider listening on");
}

static void set_mode(const struct ts_proc *p, const char *form)
{
	assert_int_equal(ts_provider_mode(p, form), 0);
}

/* The provider's count of token requests of one kind (_counts). */
static long count(const struct ts_proc *p, const char *what)
{
	long n = ts_provider_count(p, what);

	assert_true(n >= 0);
	return n;
}

/* A token from p for a fresh code, credentials in the form:
 * {access_token, refresh_token, ...}. */
static json_t *provider_token(const struct ts_proc *p)
{
	json_t *t = ts_provider_token(p, CID, SECRET, REDIRECT, CHALLENGE, VERIFIER);

	assert_non_null(t);
	return t;
}

static void expiry_in(long seconds, char *out, size_t cap)
{
	time_t at = time(NULL) + seconds;
	struct tm tm;

	gmtime_r(&at, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Stores for the acting user a token of p whose expiry is seconds away, in
 * oauth2.Token shape plus a member of the App's own; returns it. */
static json_t *seed(const struct ts_proc *p, const char *token, long seconds)
{
	json_t *t = provider_token(p), *stored;
	char expiry[32], *text;
	struct ts_resp r;

	expiry_in(seconds, expiry, sizeof(expiry));
	stored = json_pack("{s:O, s:s, s:O, s:s, s:s}", "access_token",
			   json_object_get(t, "access_token"), "token_type", "Bearer",
			   "refresh_token", json_object_get(t, "refresh_token"), "expiry", expiry,
			   "login", "octocat");
	json_decref(t);
	text = json_dumps(stored, JSON_COMPACT);
	r = api("POST", P "/api/v1/oauth2/user", token, text);
	free(text);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	return stored;
}

static void store_raw(const char *token, const char *body)
{
	struct ts_resp r = api("POST", P "/api/v1/oauth2/user", token, body);

	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

/* GET oauth2/user as the App: the stored JSON. */
static json_t *stored(const char *token)
{
	struct ts_resp r = api("GET", P "/api/v1/oauth2/user", token, NULL);
	json_t *j;

	assert_int_equal(r.status, 200);
	j = json_loadb(r.body, r.body_len, JSON_DECODE_ANY, NULL);
	ts_resp_free(&r);
	assert_non_null(j);
	return j;
}

/* The oauth2.user the App received in an /echo call on base_url (a new
 * reference; JSON null when none was passed). */
static json_t *call_user(const char *base_url, const char *app_id)
{
	char body[512];
	struct ts_resp r;
	json_t *j, *u;

	snprintf(body, sizeof(body),
		 "{\"path\":\"/echo\",\"expand\":{\"oauth2_user\":\"all\"},"
		 "\"context\":{\"app_id\":\"%s\"}}",
		 app_id);
	r = ts_api(base_url, "POST", P "/api/v1/call", user_tok, body);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	if (r.status != 200 || !j)
		fail_msg("call: %ld %.300s", r.status, r.body);
	ts_resp_free(&r);
	u = json_object_get(
		json_object_get(json_object_get(json_object_get(j, "data"), "context"), "oauth2"),
		"user");
	if (!u)
		fail_msg("no oauth2.user in the call");
	json_incref(u);
	json_decref(j);
	return u;
}

static const char *member(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

/* Registers the App's client through its bot. */
static long register_client(const char *app_id, const char *body)
{
	char bot[64];
	struct ts_resp r;
	long status;

	assert_int_equal(ts_app_tokens(world.host.base_url, user_tok, app_id, bot, NULL, NULL), 0);
	r = api("POST", P "/api/v1/oauth2/app", bot, body);
	status = r.status;
	if (status != 200)
		fprintf(stderr, "oauth2/app: %.300s\n", r.body);
	ts_resp_free(&r);
	return status;
}

static long register_provider(const char *app_id, const struct ts_proc *p)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"client_id\":\"" CID "\",\"client_secret\":\"" SECRET "\","
		 "\"remote_root_url\":\"%s\",\"token_url\":\"%s/token\"}",
		 p->base_url, p->base_url);
	return register_client(app_id, body);
}

static int write_config(const char *store)
{
	char text[2048];

	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", cfg_dir);
	snprintf(text, sizeof(text),
		 "{%s\"metrics_listen\":\"127.0.0.1:0\",\"plugins\":{\"com.mattermost.apps\":{"
		 "\"settings\":"
		 "{\"refresh_timeout_s\":1,\"master_key_file\":\"%s/master.key\"}}}}",
		 store, cfg_dir);
	return ts_write_file(cfg, text, 0600);
}

static int setup(void **state)
{
	const char *extra[] = { "--config", cfg, NULL };

	(void)state;
	if (ts_tempdir("refresh-cfg", cfg_dir, sizeof(cfg_dir)) != 0 || write_config("") != 0 ||
	    start_provider(&provider, "any") != 0 || start_provider(&form_provider, "form") != 0 ||
	    ts_world_start(&world, NULL, 0, extra) != 0 ||
	    ts_world_install(&world, APP_ID, TS_ALL_PERMS, NULL) != 0 ||
	    ts_world_install(&world, FORM_APP_ID, TS_ALL_PERMS, NULL) != 0 ||
	    ts_world_user(&world, "refresher", 0, user_tok, NULL) != 0 ||
	    ts_app_tokens(world.host.base_url, user_tok, APP_ID, NULL, acting, NULL) != 0 ||
	    ts_app_tokens(world.host.base_url, user_tok, FORM_APP_ID, NULL, form_acting, NULL) !=
		    0 ||
	    register_provider(APP_ID, &provider) != 200 ||
	    register_provider(FORM_APP_ID, &form_provider) != 200)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	if (host_stopped) {
		rc = 0;
		ts_proc_stop(&world.app);
		ts_rmtree(world.plugins);
	} else {
		rc = ts_world_stop(&world);
	}
	ts_proc_stop(&provider);
	ts_proc_stop(&form_provider);
	ts_rmtree(cfg_dir);
	return rc;
}

static void nearly_expired_token_is_refreshed_before_the_app_sees_it(void **state)
{
	json_t *old, *seen, *now;
	long before;

	(void)state;
	set_mode(&provider, "token=normal&rotate=0");
	old = seed(&provider, acting, 30);
	before = count(&provider, "refresh_token");
	seen = call_user(world.host.base_url, APP_ID);
	assert_int_equal(count(&provider, "refresh_token"), before + 1);
	assert_string_not_equal(member(seen, "access_token"), member(old, "access_token"));
	assert_string_not_equal(member(seen, "expiry"), member(old, "expiry"));
	/* The provider sent no new refresh token: the old one is kept, as is
	 * what the App stored beside the token. */
	assert_string_equal(member(seen, "refresh_token"), member(old, "refresh_token"));
	assert_string_equal(member(seen, "token_type"), "bearer");
	assert_string_equal(member(seen, "login"), "octocat");
	now = stored(acting);
	assert_true(json_equal(now, seen));
	json_decref(now);
	json_decref(seen);
	json_decref(old);
	set_mode(&provider, "rotate=1");
}

static void expired_token_is_refreshed_with_the_new_refresh_token_stored(void **state)
{
	json_t *old, *seen;
	long before;

	(void)state;
	old = seed(&provider, acting, -600);
	before = count(&provider, "refresh_token");
	seen = call_user(world.host.base_url, APP_ID);
	assert_int_equal(count(&provider, "refresh_token"), before + 1);
	assert_string_not_equal(member(seen, "access_token"), member(old, "access_token"));
	assert_string_not_equal(member(seen, "refresh_token"), member(old, "refresh_token"));
	json_decref(seen);
	/* The rotated refresh token works: the next refresh is no
	 * invalid_grant. */
	json_decref(old);
	old = stored(acting);
	json_object_set_new(old, "expiry", json_string("2001-01-01T00:00:00Z"));
	{
		char *text = json_dumps(old, JSON_COMPACT);
		store_raw(acting, text);
		free(text);
	}
	seen = call_user(world.host.base_url, APP_ID);
	assert_int_equal(count(&provider, "refresh_token"), before + 2);
	assert_string_not_equal(member(seen, "access_token"), member(old, "access_token"));
	json_decref(seen);
	json_decref(old);
}

struct racer {
	const char *base_url;
	json_t *seen;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	r->seen = call_user(r->base_url, APP_ID);
	return NULL;
}

/* n calls at once, half on each base URL; each saw the same new token. */
static void concurrent_calls(const char *url_a, const char *url_b, int n)
{
	struct racer racers[CONCURRENT];
	pthread_t threads[CONCURRENT];
	json_t *old = seed(&provider, acting, 10);
	long before = count(&provider, "refresh_token");

	for (int i = 0; i < n; i++) {
		racers[i] = (struct racer){ i % 2 ? url_b : url_a, NULL };
		assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
	}
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	assert_int_equal(count(&provider, "refresh_token"), before + 1);
	for (int i = 0; i < n; i++) {
		assert_non_null(racers[i].seen);
		assert_string_not_equal(member(racers[i].seen, "access_token"),
					member(old, "access_token"));
		assert_string_equal(member(racers[i].seen, "access_token"),
				    member(racers[0].seen, "access_token"));
	}
	for (int i = 0; i < n; i++)
		json_decref(racers[i].seen);
	json_decref(old);
}

static void concurrent_calls_cause_one_refresh(void **state)
{
	(void)state;
	concurrent_calls(world.host.base_url, world.host.base_url, CONCURRENT);
}

static void far_off_expiry_causes_no_refresh(void **state)
{
	json_t *old, *seen;
	long before;

	(void)state;
	old = seed(&provider, acting, 3600);
	before = count(&provider, "refresh_token");
	seen = call_user(world.host.base_url, APP_ID);
	assert_true(json_equal(seen, old));
	assert_int_equal(count(&provider, "refresh_token"), before);
	json_decref(seen);
	json_decref(old);
}

static void invalid_grant_deletes_the_record(void **state)
{
	json_t *old, *seen, *now;
	long before;

	(void)state;
	old = seed(&provider, acting, 5);
	before = count(&provider, "refresh_token");
	set_mode(&provider, "token=invalid_grant");
	seen = call_user(world.host.base_url, APP_ID);
	set_mode(&provider, "token=normal");
	assert_int_equal(count(&provider, "refresh_token"), before + 1);
	assert_true(json_is_null(seen));
	now = stored(acting);
	assert_true(json_is_null(now));
	assert_int_equal(ts_host_log_has(&world.host, "invalid_grant"), 1);
	json_decref(now);
	json_decref(seen);
	json_decref(old);
}

/* The provider fails as mode says: the App gets the stored token, which
 * stays as it was. */
static void failure_passes_the_old_token(const char *mode)
{
	json_t *old = seed(&provider, acting, 5), *seen, *now;
	long before = count(&provider, "refresh_token");

	set_mode(&provider, mode);
	seen = call_user(world.host.base_url, APP_ID);
	set_mode(&provider, "token=normal");
	assert_int_equal(count(&provider, "refresh_token"), before + 1);
	assert_true(json_equal(seen, old));
	now = stored(acting);
	assert_true(json_equal(now, old));
	json_decref(now);
	json_decref(seen);
	json_decref(old);
}

static void unavailable_provider_passes_the_old_token(void **state)
{
	(void)state;
	failure_passes_the_old_token("token=unavailable");
}

static void slow_provider_passes_the_old_token(void **state)
{
	(void)state;
	/* refresh_timeout_s is 1 here. */
	failure_passes_the_old_token("token=slow&delay_ms=2500");
	assert_int_equal(ts_host_log_has(&world.host, "did not answer in time"), 1);
}

static void value_that_is_not_a_token_is_passed_untouched(void **state)
{
	static const char *const values[] = {
		"[1,2,\"x\"]",
		"\"just a string\"",
		"{\"refresh_token\":\"r\",\"expiry\":\"yesterday\"}",
		"{\"access_token\":\"a\",\"expiry\":\"2001-01-01T00:00:00Z\"}",
		/* Go's zero time: a token that never expires. */
		"{\"refresh_token\":\"r\",\"expiry\":\"0001-01-01T00:00:00Z\"}",
	};
	long before = count(&provider, "refresh_token");

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		json_t *want = json_loads(values[i], JSON_DECODE_ANY, NULL), *seen;
		store_raw(acting, values[i]);
		seen = call_user(world.host.base_url, APP_ID);
		if (!json_equal(seen, want))
			fail_msg("value %zu was changed", i);
		json_decref(seen);
		json_decref(want);
	}
	assert_int_equal(count(&provider, "refresh_token"), before);
}

static void token_url_is_checked_and_shown_at_all(void **state)
{
	static const struct {
		const char *body;
		const char *message;
	} bad[] = {
		{ "{\"token_url\":\"ftp://example.com/token\"}", "absolute http or https URL" },
		{ "{\"token_url\":\"/token\"}", "absolute http or https URL" },
		{ "{\"token_url\":7}", "token_url must be a string" },
		{ "{\"remote_root_url\":\"https://a.example.com\","
		  "\"token_url\":\"https://b.example.com/token\"}",
		  "same scheme, host and port as remote_root_url" },
		{ "{\"remote_root_url\":\"https://a.example.com\","
		  "\"token_url\":\"http://a.example.com/token\"}",
		  "same scheme, host and port as remote_root_url" },
	};
	char bot[64], body[512];
	struct ts_resp r;
	json_t *j, *o;

	(void)state;
	assert_int_equal(ts_app_tokens(world.host.base_url, user_tok, APP_ID, bot, NULL, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = api("POST", P "/api/v1/oauth2/app", bot, bad[i].body);
		assert_int_equal(r.status, 400);
		if (!strstr(r.body, bad[i].message) ||
		    !strstr(r.body, "apps.oauth2.invalid_body.app_error"))
			fail_msg("case %zu: %.300s", i, r.body);
		ts_resp_free(&r);
	}
	/* The client stored before is still there, token_url shown at all. */
	snprintf(body, sizeof(body),
		 "{\"path\":\"/echo\",\"expand\":{\"oauth2_app\":\"all\"},"
		 "\"context\":{\"app_id\":\"" APP_ID "\"}}");
	r = api("POST", P "/api/v1/call", user_tok, body);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	ts_resp_free(&r);
	o = json_object_get(json_object_get(json_object_get(j, "data"), "context"), "oauth2");
	assert_non_null(strstr(member(o, "token_url"), provider.base_url));
	json_decref(j);
	/* summary does not show it. */
	snprintf(body, sizeof(body),
		 "{\"path\":\"/echo\",\"expand\":{\"oauth2_app\":\"summary\"},"
		 "\"context\":{\"app_id\":\"" APP_ID "\"}}");
	r = api("POST", P "/api/v1/call", user_tok, body);
	assert_null(strstr(r.body, "token_url"));
	ts_resp_free(&r);
}

static void provider_refusing_basic_gets_the_form(void **state)
{
	json_t *old, *seen, *now;
	long refreshes, basic, form;

	(void)state;
	old = seed(&form_provider, form_acting, 5);
	refreshes = count(&form_provider, "refresh_token");
	basic = count(&form_provider, "basic");
	form = count(&form_provider, "form");
	seen = call_user(world.host.base_url, FORM_APP_ID);
	assert_int_equal(count(&form_provider, "refresh_token"), refreshes + 2);
	assert_int_equal(count(&form_provider, "basic"), basic + 1);
	assert_int_equal(count(&form_provider, "form"), form + 1);
	assert_string_not_equal(member(seen, "access_token"), member(old, "access_token"));
	now = stored(form_acting);
	assert_true(json_equal(now, seen));
	json_decref(now);
	json_decref(seen);
	json_decref(old);
}

static void refreshes_and_revocations_are_audited(void **state)
{
	char path[400], *audit;

	(void)state;
	snprintf(path, sizeof(path), "%s/audit/audit.log", world.data_dir);
	audit = ts_read_file(path);
	assert_non_null(audit);
	assert_non_null(strstr(audit, "\"oauth2_token_refreshed\""));
	assert_non_null(strstr(audit, "\"oauth2_token_revoked\""));
	free(audit);
}

/* The value of series ("name{labels}") in the host's metrics; -1 when
 * absent. */
static double metric(const char *series)
{
	return ts_host_metric(&world.host, series);
}

static void refreshes_are_counted_by_outcome(void **state)
{
	(void)state;
	/* nearly expired, expired twice, concurrent, the form: five. */
	assert_true(metric("mmapps_oauth2_refresh_total{result=\"refreshed\"}") == 5);
	assert_true(metric("mmapps_oauth2_refresh_total{result=\"invalid_grant\"}") == 1);
	assert_true(metric("mmapps_oauth2_refresh_total{result=\"unavailable\"}") == 1);
	assert_true(metric("mmapps_oauth2_refresh_total{result=\"timeout\"}") == 1);
	assert_true(metric("mmapps_oauth2_refresh_total{result=\"error\"}") == 0);
	/* Refreshes are not calls to Apps. */
	assert_true(metric("mmapps_app_calls_total{result=\"timeout\"}") == 0);
}

struct held_call {
	long status;
	json_t *user;
};

static void *call_raw(void *arg)
{
	struct held_call *h = arg;
	struct ts_resp r = api("POST", P "/api/v1/call", user_tok,
			       "{\"path\":\"/echo\",\"expand\":{\"oauth2_user\":\"all\"},"
			       "\"context\":{\"app_id\":\"" APP_ID "\"}}");
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL);

	h->status = r.status;
	h->user = json_incref(json_object_get(
		json_object_get(json_object_get(json_object_get(j, "data"), "context"), "oauth2"),
		"user"));
	json_decref(j);
	ts_resp_free(&r);
	return NULL;
}

/* Last: the host stops while a call waits for a slow provider. The call is
 * answered (with the stored token) and the host exits cleanly (in the
 * sanitizer build: nothing leaked). */
static void stopping_while_a_refresh_waits_answers_the_call(void **state)
{
	struct held_call held = { 0, NULL };
	json_t *old = seed(&provider, acting, 5);
	long before = count(&provider, "refresh_token");
	pthread_t t;

	(void)state;
	set_mode(&provider, "token=slow&delay_ms=2500");
	assert_int_equal(pthread_create(&t, NULL, call_raw, &held), 0);
	for (int i = 0; i < 500 && count(&provider, "refresh_token") == before; i++)
		usleep(10 * 1000);
	assert_int_equal(count(&provider, "refresh_token"), before + 1);
	host_stopped = 1;
	assert_int_equal(ts_host_stop(&world.host), 0);
	pthread_join(t, NULL);
	set_mode(&provider, "token=normal");
	assert_int_equal(held.status, 200);
	assert_true(json_equal(held.user, old));
	json_decref(held.user);
	json_decref(old);
}

/* ---- two nodes ------------------------------------------------------------ */

static int cluster_setup(void **state)
{
	char url[512], store[700];

	(void)state;
	if (ts_tempdir("refresh-cfg", cfg_dir, sizeof(cfg_dir)) != 0 ||
	    ts_pg_database("refresh", url, sizeof(url)) != 0)
		return -1;
	snprintf(store, sizeof(store), "\"store\":{\"backend\":\"postgres\",\"url\":\"%s\"},", url);
	if (write_config(store) != 0)
		return -1;
	/* Every host and admin command of the test on that database. */
	ts_use_config(cfg);
	if (start_provider(&provider, "any") != 0 || ts_world_start(&world, NULL, 0, NULL) != 0 ||
	    ts_world_install(&world, APP_ID, TS_ALL_PERMS, NULL) != 0 ||
	    ts_world_user(&world, "refresher", 0, user_tok, NULL) != 0 ||
	    ts_app_tokens(world.host.base_url, user_tok, APP_ID, NULL, acting, NULL) != 0 ||
	    register_provider(APP_ID, &provider) != 200 ||
	    ts_host_start(&node2, world.plugins, NULL) != 0)
		return -1;
	return 0;
}

static int cluster_teardown(void **state)
{
	int rc = ts_host_stop(&node2);

	(void)state;
	rc |= ts_world_stop(&world);
	ts_proc_stop(&provider);
	ts_rmtree(cfg_dir);
	return rc;
}

static void two_nodes_refreshing_at_once_cause_one_refresh(void **state)
{
	(void)state;
	concurrent_calls(world.host.base_url, node2.base_url, CONCURRENT);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nearly_expired_token_is_refreshed_before_the_app_sees_it),
		cmocka_unit_test(expired_token_is_refreshed_with_the_new_refresh_token_stored),
		cmocka_unit_test(concurrent_calls_cause_one_refresh),
		cmocka_unit_test(far_off_expiry_causes_no_refresh),
		cmocka_unit_test(invalid_grant_deletes_the_record),
		cmocka_unit_test(unavailable_provider_passes_the_old_token),
		cmocka_unit_test(slow_provider_passes_the_old_token),
		cmocka_unit_test(value_that_is_not_a_token_is_passed_untouched),
		cmocka_unit_test(token_url_is_checked_and_shown_at_all),
		cmocka_unit_test(provider_refusing_basic_gets_the_form),
		cmocka_unit_test(refreshes_and_revocations_are_audited),
		cmocka_unit_test(refreshes_are_counted_by_outcome),
		cmocka_unit_test(stopping_while_a_refresh_waits_answers_the_call),
	};
	const struct CMUnitTest cluster[] = {
		cmocka_unit_test(two_nodes_refreshing_at_once_cause_one_refresh),
	};

	if (argc > 1 && strcmp(argv[1], "cluster") == 0)
		return cmocka_run_group_tests(cluster, cluster_setup, cluster_teardown);
	return cmocka_run_group_tests(tests, setup, teardown);
}
