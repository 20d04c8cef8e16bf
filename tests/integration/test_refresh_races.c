/*
 * Token refresh (issue #17) racing what else changes the stored record,
 * against the real host, the real test App and the real test provider
 * (rotating refresh tokens: each is good once):
 *
 *   - the key sweep (issue #15) seals the record again under a new data key
 *     while the provider answers: the refreshed token must still be stored
 *     and passed, since the value the refresh read is unchanged (only its
 *     sealing is). Otherwise the provider has spent the old refresh token,
 *     the new one is thrown away, and the next refresh is invalid_grant:
 *     the user is disconnected by a key rotation.
 *   - the user disconnects (DELETE oauth2/user) while the provider answers:
 *     the refreshed token is not written back.
 *
 * With the argument "crash" (refresh_timeout_s 1: the lease lives 12 s):
 *   - the host dies (SIGKILL) while the provider holds its refresh; once
 *     restarted, a call for that user refreshes when the dead process's
 *     lease has expired, instead of passing the expired token it waited
 *     behind.
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

#define P TS_APPS
#define CID "race-client"
#define SECRET "race-secret-5c02"
#define REDIRECT "http://localhost/complete"
#define VERIFIER "refresh-verifier-0123456789-0123456789-0123456789"
#define CHALLENGE "U7UpaSy7bQ6fLQSCLQnyGE2f_dlah2bdDfzHY6YxQsA"
#define APP_ID "race-app"
/* The provider answers after this long: long enough for the key sweep to
 * reach the record, shorter than refresh_timeout_s below. */
#define SLOW "token=slow&delay_ms=5000"

static struct ts_world world;
static struct ts_proc provider;
static int crash_mode;
static char cfg_dir[256], cfg[320];
static char user_tok[64], acting[64];

static struct ts_resp api(const char *method, const char *path, const char *token, const char *body)
{
	return ts_api(world.host.base_url, method, path, token, body);
}

static void set_mode(const char *form)
{
	assert_int_equal(ts_provider_mode(&provider, form), 0);
}

static long refreshes(void)
{
	long n = ts_provider_count(&provider, "refresh_token");

	assert_true(n >= 0);
	return n;
}

/* A token from the provider for a fresh code. */
static json_t *provider_token(void)
{
	json_t *t = ts_provider_token(&provider, CID, SECRET, REDIRECT, CHALLENGE, VERIFIER);

	assert_non_null(t);
	return t;
}

/* Stores for the acting user a provider token that expired a minute ago. */
static json_t *seed_expired(void)
{
	json_t *t = provider_token(), *stored;
	char *text;
	struct ts_resp r;

	stored = json_pack("{s:O, s:s, s:O, s:s}", "access_token",
			   json_object_get(t, "access_token"), "token_type", "Bearer",
			   "refresh_token", json_object_get(t, "refresh_token"), "expiry",
			   "2001-01-01T00:00:00Z");
	json_decref(t);
	text = json_dumps(stored, JSON_COMPACT);
	r = api("POST", P "/api/v1/oauth2/user", acting, text);
	free(text);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	return stored;
}

static json_t *stored(void)
{
	struct ts_resp r = api("GET", P "/api/v1/oauth2/user", acting, NULL);
	json_t *j;

	assert_int_equal(r.status, 200);
	j = json_loadb(r.body, r.body_len, JSON_DECODE_ANY, NULL);
	ts_resp_free(&r);
	assert_non_null(j);
	return j;
}

/* The oauth2.user the App received in an /echo call (JSON null: none). */
static json_t *call_user(void)
{
	struct ts_resp r = api("POST", P "/api/v1/call", user_tok,
			       "{\"path\":\"/echo\",\"expand\":{\"oauth2_user\":\"all\"},"
			       "\"context\":{\"app_id\":\"" APP_ID "\"}}");
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL), *u;

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

static void *call_thread(void *arg)
{
	*(json_t **)arg = call_user();
	return NULL;
}

/* A call whose answer does not matter (its host may die meanwhile). */
static void *blind_call_thread(void *arg)
{
	struct ts_resp r = api("POST", P "/api/v1/call", user_tok,
			       "{\"path\":\"/echo\",\"expand\":{\"oauth2_user\":\"all\"},"
			       "\"context\":{\"app_id\":\"" APP_ID "\"}}");

	(void)arg;
	ts_resp_free(&r);
	return NULL;
}

/* Starts a call whose refresh the provider holds; returns once the
 * provider has the request. */
static void start_held_call(pthread_t *t, json_t **seen)
{
	long before = refreshes();

	set_mode(SLOW);
	assert_int_equal(pthread_create(t, NULL, seen ? call_thread : blind_call_thread, seen), 0);
	for (int i = 0; i < 500 && refreshes() == before; i++)
		usleep(10 * 1000);
	assert_int_equal(refreshes(), before + 1);
	set_mode("token=normal");
}

static const char *member(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static int setup(void **state)
{
	char text[1024], bot[64], body[1024];
	const char *extra[] = { "--config", cfg, NULL };
	const char *argv[] = { TEST_PROVIDER_BIN, "--listen", "127.0.0.1:0", "--client-id", CID,
			       "--client-secret", SECRET,     NULL };
	struct ts_resp r;

	(void)state;
	if (ts_tempdir("refresh-races", cfg_dir, sizeof(cfg_dir)) != 0)
		return -1;
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", cfg_dir);
	snprintf(text, sizeof(text),
		 "{\"plugins\":{\"com.mattermost.apps\":{\"settings\":"
		 "{\"refresh_timeout_s\":%d,\"key_sweep_batch\":2,\"key_sweep_pause_ms\":0}}}}",
		 crash_mode ? 1 : 15);
	if (ts_write_file(cfg, text, 0600) != 0 ||
	    ts_proc_start(&provider, argv, "test-provider listening on") != 0 ||
	    ts_world_start(&world, NULL, 0, extra) != 0 ||
	    ts_world_install(&world, APP_ID, TS_ALL_PERMS, NULL) != 0 ||
	    ts_world_user(&world, "racer", 0, user_tok, NULL) != 0 ||
	    ts_app_tokens(world.host.base_url, user_tok, APP_ID, bot, acting, NULL) != 0)
		return -1;
	snprintf(body, sizeof(body),
		 "{\"client_id\":\"" CID "\",\"client_secret\":\"" SECRET "\","
		 "\"remote_root_url\":\"%s\",\"token_url\":\"%s/token\"}",
		 provider.base_url, provider.base_url);
	r = api("POST", P "/api/v1/oauth2/app", bot, body);
	if (r.status != 200) {
		ts_resp_free(&r);
		return -1;
	}
	ts_resp_free(&r);
	return 0;
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_world_stop(&world);
	ts_proc_stop(&provider);
	ts_rmtree(cfg_dir);
	return rc;
}

/* The key sweep's progress: whether it ran to its end. */
static int sweep_done(void)
{
	struct ts_resp r = api("GET", P "/api/v1/admin/keys", world.admin_tok, NULL);
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL), *s;
	int done;

	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	s = json_object_get(j, "sweep");
	done = strcmp(member(s, "state"), "idle") == 0 &&
	       json_integer_value(json_object_get(s, "done")) ==
		       json_integer_value(json_object_get(s, "total"));
	json_decref(j);
	return done;
}

static void refresh_racing_the_key_sweep_keeps_the_new_token(void **state)
{
	json_t *old = seed_expired(), *seen = NULL, *now, *next;
	struct ts_resp r;
	pthread_t t;

	(void)state;
	start_held_call(&t, &seen);
	/* While the provider holds the answer, a rotation's sweep seals the
	 * record again (same value, new data key). */
	r = api("POST", P "/api/v1/admin/keys/rotate", world.admin_tok, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	pthread_join(t, NULL);
	assert_non_null(seen);
	assert_true(sweep_done());
	/* The App got the refreshed token, and it is the one stored. */
	assert_string_not_equal(member(seen, "access_token"), member(old, "access_token"));
	now = stored();
	assert_true(json_equal(now, seen));
	/* The user is still connected: the next call does not refresh
	 * (the new token is not due), and the stored value stays. */
	next = call_user();
	assert_true(json_equal(next, seen));
	json_decref(next);
	json_decref(now);
	json_decref(seen);
	json_decref(old);
}

static void refresh_racing_a_disconnect_does_not_write_the_token_back(void **state)
{
	json_t *old = seed_expired(), *seen = NULL, *now;
	struct ts_resp r;
	pthread_t t;

	(void)state;
	start_held_call(&t, &seen);
	r = api("DELETE", P "/api/v1/oauth2/user", acting, NULL);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
	pthread_join(t, NULL);
	assert_non_null(seen);
	assert_true(json_is_null(seen));
	now = stored();
	assert_true(json_is_null(now));
	json_decref(now);
	json_decref(seen);
	json_decref(old);
}

static void a_refresh_lease_left_by_a_dead_process_is_taken_over(void **state)
{
	const char *extra[] = { "--config", cfg, NULL };
	json_t *old = seed_expired(), *seen;
	long before;
	pthread_t t;

	(void)state;
	start_held_call(&t, NULL);
	ts_host_kill(&world.host);
	pthread_join(t, NULL);
	assert_int_equal(ts_host_restart(&world.host, world.plugins, extra), 0);
	before = refreshes();
	seen = call_user();
	/* The provider was asked again (the dead process's answer is lost),
	 * rather than the call passing the expired token unrefreshed. */
	assert_int_equal(refreshes(), before + 1);
	assert_false(json_is_object(seen) &&
		     strcmp(member(seen, "access_token"), member(old, "access_token")) == 0);
	json_decref(seen);
	json_decref(old);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refresh_racing_the_key_sweep_keeps_the_new_token),
		cmocka_unit_test(refresh_racing_a_disconnect_does_not_write_the_token_back),
	};
	const struct CMUnitTest crash[] = {
		cmocka_unit_test(a_refresh_lease_left_by_a_dead_process_is_taken_over),
	};

	crash_mode = argc > 1 && strcmp(argv[1], "crash") == 0;
	if (crash_mode)
		return cmocka_run_group_tests(crash, setup, teardown);
	return cmocka_run_group_tests(tests, setup, teardown);
}
