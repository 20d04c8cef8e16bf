/*
 * Admin changes to an App racing the App's own traffic, over HTTP against
 * the real host and plugin, round after round:
 *   - uninstall while the App's writers store OAuth2 user data: after the
 *     App is installed again, nothing of the old install is there;
 *   - disable while calls are minting the App's tokens: once disable-app
 *     has answered, no token any of those calls handed the App works.
 * RACE_ROUNDS multiplies the rounds (default 1).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "pg_harness.h"
#include "apps_world.h"

#define P TS_APPS
#define WRITERS 6
#define UNINSTALL_ROUNDS 30
#define CALLERS 12
#define DISABLE_ROUNDS 40
#define PERMS "\"act_as_bot\",\"act_as_user\",\"remote_oauth2\""

static struct ts_world world;
static char user_tok[CALLERS][64];

static int rounds(int base)
{
	const char *env = getenv("RACE_ROUNDS");
	int k = env ? (int)strtol(env, NULL, 10) : 1;

	return base * (k > 0 ? k : 1);
}

static int setup(void **state)
{
	(void)state;
	if (ts_world_start(&world, NULL, 0, NULL) != 0)
		return -1;
	for (int i = 0; i < CALLERS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "racer%d", i);
		if (ts_world_user(&world, name, 0, user_tok[i], NULL) != 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&world);
}

static long admin_post(const char *route, const char *app_id)
{
	char path[128], body[128];
	struct ts_resp r;
	long status;

	snprintf(path, sizeof(path), P "/api/v1/%s", route);
	snprintf(body, sizeof(body), "{\"app_id\":\"%s\"}", app_id);
	r = ts_api(world.host.base_url, "POST", path, world.admin_tok, body);
	status = r.status;
	if (status != 200)
		fail_msg("%s %s: %ld %.200s", route, app_id, status, r.body);
	ts_resp_free(&r);
	return status;
}

static size_t discard(char *d, size_t s, size_t n, void *a)
{
	(void)d;
	(void)a;
	return s * n;
}

struct writer {
	pthread_t t;
	char token[64];
	int round, id;
	volatile int acked; /* writes that got a 200 */
};

/* Stores values until the App's token stops working (the uninstall). */
static void *write_until_refused(void *arg)
{
	struct writer *w = arg;
	struct curl_slist *h = NULL;
	char url[256], auth[128], body[128];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s" P "/api/v1/oauth2/user", world.host.base_url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->token);
	h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	for (int seq = 0; seq < 100000; seq++) {
		long status = 0;
		snprintf(body, sizeof(body), "{\"round\":%d,\"writer\":%d,\"seq\":%d}", w->round,
			 w->id, seq);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		if (curl_easy_perform(c) != CURLE_OK)
			break;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			break;
		w->acked++;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static void uninstalled_data_never_comes_back(void **state)
{
	int n = rounds(UNINSTALL_ROUNDS), bad_rounds = 0;
	char first_bad[256] = "";

	(void)state;
	for (int round = 0; round < n; round++) {
		struct writer w[WRITERS];
		int bad = 0;

		memset(w, 0, sizeof(w));
		assert_int_equal(ts_world_install(&world, "race-app", PERMS, NULL), 0);
		for (int i = 0; i < WRITERS; i++) {
			w[i].round = round;
			w[i].id = i;
			assert_int_equal(ts_app_tokens(world.host.base_url, user_tok[i], "race-app",
						       NULL, w[i].token, NULL),
					 0);
		}
		for (int i = 0; i < WRITERS; i++)
			assert_int_equal(pthread_create(&w[i].t, NULL, write_until_refused, &w[i]),
					 0);
		/* Every writer is under way, then the App goes. */
		for (int i = 0, tries = 0; i < WRITERS && tries < 2000; tries++) {
			if (w[i].acked > 0)
				i++;
			else
				usleep(1000);
		}
		admin_post("uninstall-app", "race-app");
		for (int i = 0; i < WRITERS; i++)
			pthread_join(w[i].t, NULL);
		assert_int_equal(ts_world_install(&world, "race-app", PERMS, NULL), 0);
		for (int i = 0; i < WRITERS; i++) {
			char tok[64];
			struct ts_resp r;
			assert_int_equal(ts_app_tokens(world.host.base_url, user_tok[i], "race-app",
						       NULL, tok, NULL),
					 0);
			r = ts_api(world.host.base_url, "GET", P "/api/v1/oauth2/user", tok, NULL);
			assert_int_equal(r.status, 200);
			if (strcmp(r.body, "null") != 0) {
				bad++;
				if (!first_bad[0])
					snprintf(first_bad, sizeof(first_bad),
						 "round %d writer %d: %.120s", round, i, r.body);
			}
			ts_resp_free(&r);
		}
		bad_rounds += bad > 0;
		admin_post("uninstall-app", "race-app");
	}
	if (bad_rounds)
		fail_msg("%d of %d rounds brought uninstalled data back (first: %s)", bad_rounds, n,
			 first_bad);
}

struct caller {
	pthread_t t;
	pthread_barrier_t *go;
	const char *user_tok;
	char bot[64], acting[64];
};

/* One call whose context hands the App its bot and acting-user tokens. */
static void *call_once(void *arg)
{
	struct caller *c = arg;

	pthread_barrier_wait(c->go);
	c->bot[0] = c->acting[0] = '\0';
	/* A call refused because the App is disabled hands out nothing. */
	(void)ts_app_tokens(world.host.base_url, c->user_tok, "toggle-app", c->bot, c->acting,
			    NULL);
	return NULL;
}

static int token_works(const char *tok)
{
	struct ts_resp r;
	long status;

	if (!tok[0])
		return 0;
	r = ts_api(world.host.base_url, "GET", "/api/v4/users/me", tok, NULL);
	status = r.status;
	ts_resp_free(&r);
	if (status != 200 && status != 401)
		fail_msg("GET users/me with an App token: %ld", status);
	return status == 200;
}

static void no_token_works_after_disable_returns(void **state)
{
	int n = rounds(DISABLE_ROUNDS), alive = 0, handed = 0;

	(void)state;
	srand((unsigned)getpid());
	assert_int_equal(ts_world_install(&world, "toggle-app", PERMS, NULL), 0);
	for (int round = 0; round < n; round++) {
		struct caller c[CALLERS];
		pthread_barrier_t go;

		if (round > 0)
			admin_post("enable-app", "toggle-app");
		pthread_barrier_init(&go, NULL, CALLERS + 1);
		for (int i = 0; i < CALLERS; i++) {
			c[i].go = &go;
			c[i].user_tok = user_tok[i];
			assert_int_equal(pthread_create(&c[i].t, NULL, call_once, &c[i]), 0);
		}
		pthread_barrier_wait(&go);
		usleep((useconds_t)(rand() % 4000));
		admin_post("disable-app", "toggle-app");
		for (int i = 0; i < CALLERS; i++)
			pthread_join(c[i].t, NULL);
		pthread_barrier_destroy(&go);
		for (int i = 0; i < CALLERS; i++) {
			handed += (c[i].bot[0] != 0) + (c[i].acting[0] != 0);
			alive += token_works(c[i].bot) + token_works(c[i].acting);
		}
	}
	print_message("%d rounds: %d tokens handed to the App, %d still worked after disable\n", n,
		      handed, alive);
	assert_int_equal(alive, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uninstalled_data_never_comes_back),
		cmocka_unit_test(no_token_works_after_disable_returns),
	};
	/* argv[1] "postgres": the hosts keep everything in PostgreSQL. */
	if (argc > 1 && strcmp(argv[1], "postgres") == 0 && ts_pg_use_for_hosts("app_races") != 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
