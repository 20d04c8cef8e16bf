/*
 * Crash safety: writers store OAuth2 user data through the real host while
 * it is killed with SIGKILL at random moments, again and again. After every
 * restart the database opens, and every write that got a 200 is there,
 * intact (the latest acknowledged one, or the one that was in flight).
 * CRASH_ROUNDS (default 20) sets how many kills.
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

#include "apps_world.h"

#define P TS_APPS
#define USERS 8
#define PAD 200

static struct ts_world world;
static char tokens[USERS][64];

struct writer {
	pthread_t t;
	int user;
	long acked; /* the last seq that got a 200 */
	long tried; /* the last seq sent */
	char port[16];
};

static size_t discard(char *d, size_t s, size_t n, void *a)
{
	(void)d;
	(void)a;
	return s * n;
}

static void value_for(int user, long seq, char *out, size_t cap)
{
	char pad[PAD + 1];

	memset(pad, 'a' + user, PAD);
	pad[PAD] = '\0';
	snprintf(out, cap, "{\"user\":%d,\"seq\":%ld,\"pad\":\"%s\"}", user, seq, pad);
}

static void *write_until_killed(void *arg)
{
	struct writer *w = arg;
	struct curl_slist *h = NULL;
	char url[256], auth[128], body[512];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%s" P "/api/v1/oauth2/user", w->port);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tokens[w->user]);
	h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	for (long seq = w->acked + 1;; seq++) {
		long status = 0;
		value_for(w->user, seq, body, sizeof(body));
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		w->tried = seq;
		if (curl_easy_perform(c) != CURLE_OK)
			break;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			break;
		w->acked = seq;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	if (ts_world_start(&world, NULL, 0, NULL) != 0 ||
	    ts_world_install(&world, "crash-app", TS_ALL_PERMS, NULL) != 0)
		return -1;
	return ts_world_app_users(&world, "crash-app", "writer", USERS, tokens);
}

static int teardown(void **state)
{
	(void)state;
	return ts_world_stop(&world);
}

/* What GET returns for user u: its seq, checking the record is intact. */
static long stored_seq(int u)
{
	char want[512];
	struct ts_resp r =
		ts_api(world.host.base_url, "GET", P "/api/v1/oauth2/user", tokens[u], NULL);
	json_t *j;
	long seq;

	if (r.status != 200)
		fail_msg("user %d: GET %ld %s", u, r.status, r.body);
	if (strcmp(r.body, "null") == 0) {
		ts_resp_free(&r);
		return 0;
	}
	j = json_loadb(r.body, r.body_len, 0, NULL);
	seq = (long)json_integer_value(json_object_get(j, "seq"));
	value_for(u, seq, want, sizeof(want));
	if (strcmp(r.body, want) != 0)
		fail_msg("user %d: stored bytes are not what was sent: %.120s", u, r.body);
	json_decref(j);
	ts_resp_free(&r);
	return seq;
}

static void every_acknowledged_write_survives_sigkill(void **state)
{
	const char *env = getenv("CRASH_ROUNDS");
	int rounds = env ? (int)strtol(env, NULL, 10) : 20;
	struct writer w[USERS];
	long total_acked = 0;

	(void)state;
	memset(w, 0, sizeof(w));
	srand((unsigned)getpid());
	for (int round = 0; round < rounds; round++) {
		for (int u = 0; u < USERS; u++) {
			w[u].user = u;
			snprintf(w[u].port, sizeof(w[u].port), "%d", world.host.port);
			assert_int_equal(pthread_create(&w[u].t, NULL, write_until_killed, &w[u]),
					 0);
		}
		usleep((useconds_t)(20000 + rand() % 250000));
		ts_host_kill(&world.host);
		for (int u = 0; u < USERS; u++)
			pthread_join(w[u].t, NULL);
		/* The database opens: the host and the plugin come back. */
		assert_int_equal(ts_host_restart(&world.host, world.plugins, NULL), 0);
		assert_true(ts_host_log_has(&world.host,
					    "plugin activated plugin_id=com.mattermost.apps"));
		for (int u = 0; u < USERS; u++) {
			long seq = stored_seq(u);
			if (seq != w[u].acked && seq != w[u].tried)
				fail_msg("round %d user %d: stored seq %ld, acknowledged %ld, "
					 "tried %ld",
					 round, u, seq, w[u].acked, w[u].tried);
			w[u].acked = seq; /* continue from what is there */
		}
	}
	for (int u = 0; u < USERS; u++)
		total_acked += w[u].acked;
	print_message("%d kills, %ld writes acknowledged and found\n", rounds, total_acked);
	assert_true(total_acked > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_acknowledged_write_survives_sigkill),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
