/*
 * Disabling a plugin while its requests wait on an App that does not
 * answer (an admin's first move when an App hangs): one held by the
 * plugin without a thread (a call: MMPLUGIN_ASYNC), one inside serve_http
 * on a worker (installing an App whose on_install hangs). The plugin goes
 * once serve_http has returned, and meanwhile the rest of the host keeps
 * answering: requests for the plugin that arrive in between are answered
 * at once instead of waiting for it, and no host route waits either.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "apps_world.h"

#define CALL_TIMEOUT_S 12
#define PLUGIN_REQUESTS 48 /* more than the host's 32 workers */

static struct ts_world world;
static char cfg_dir[256];

/* An App server that accepts connections and never answers. */
static struct {
	int fd;
	int port;
	atomic_int accepted;
	int held[64];
	pthread_t thread;
} mute;

static void *mute_run(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(mute.fd, NULL, NULL);
		int n;
		if (c < 0)
			return NULL;
		n = atomic_fetch_add(&mute.accepted, 1);
		if (n < 64)
			mute.held[n] = c;
		else
			close(c);
	}
}

static int mute_start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	mute.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (mute.fd < 0 || bind(mute.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(mute.fd, 64) != 0 || getsockname(mute.fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	mute.port = ntohs(a.sin_port);
	return pthread_create(&mute.thread, NULL, mute_run, NULL);
}

static void mute_stop(void)
{
	int n = atomic_load(&mute.accepted);

	shutdown(mute.fd, SHUT_RDWR);
	pthread_join(mute.thread, NULL);
	close(mute.fd);
	for (int i = 0; i < n && i < 64; i++)
		close(mute.held[i]);
}

static int setup(void **state)
{
	char cfg[320], settings[256];
	const char *extra[] = { "--config", cfg, NULL };

	(void)state;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || mute_start() != 0 ||
	    ts_tempdir("disable-cfg", cfg_dir, sizeof(cfg_dir)) != 0)
		return -1;
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", cfg_dir);
	snprintf(settings, sizeof(settings),
		 "{\"plugins\":{\"com.mattermost.apps\":{\"settings\":{\"call_timeout_s\":%d}}}}",
		 CALL_TIMEOUT_S);
	if (ts_write_file(cfg, settings, 0600) != 0)
		return -1;
	return ts_world_start(&world, NULL, 0, extra);
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_world_stop(&world);
	mute_stop();
	ts_rmtree(cfg_dir);
	curl_global_cleanup();
	return rc;
}

struct request {
	const char *method, *path, *body;
	pthread_t thread;
	long status;
	atomic_int *done; /* counts finished requests (may be NULL) */
};

static void *run(void *arg)
{
	struct request *q = arg;
	struct ts_resp r =
		ts_api(world.host.base_url, q->method, q->path, world.admin_tok, q->body);

	q->status = r.status;
	ts_resp_free(&r);
	if (q->done)
		atomic_fetch_add(q->done, 1);
	return NULL;
}

static void start(struct request *q, const char *method, const char *path, const char *body)
{
	q->method = method;
	q->path = path;
	q->body = body;
	assert_int_equal(pthread_create(&q->thread, NULL, run, q), 0);
}

/* GET path as the admin with at most timeout_s to answer: its status, 0
 * when none came. */
static long get_within(const char *path, long timeout_s)
{
	char url[256], auth[128];
	struct curl_slist *h;
	long status = 0;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", world.host.base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", world.admin_tok);
	h = curl_slist_append(NULL, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return status;
}

static void wait_accepted(int n)
{
	for (int waited = 0; atomic_load(&mute.accepted) < n && waited < 10000; waited += 50)
		usleep(50 * 1000);
	assert_true(atomic_load(&mute.accepted) >= n);
}

static void the_host_answers_while_a_plugin_is_being_disabled(void **state)
{
	static struct request call, install, disable, pings[PLUGIN_REQUESTS];
	static atomic_int pinged;
	char root[64], manifest[512];
	long status, list;

	(void)state;
	snprintf(root, sizeof(root), "http://127.0.0.1:%d", mute.port);
	assert_int_equal(ts_world_install(&world, "mute", "\"act_as_bot\"", root), 0);
	/* A call to the App that does not answer: the plugin holds its
	 * response for call_timeout_s... */
	start(&call, "POST", TS_APPS "/api/v1/call",
	      "{\"path\":\"/hang\",\"context\":{\"app_id\":\"mute\"}}");
	wait_accepted(1);
	/* ...and installing an App whose on_install does not answer keeps a
	 * worker inside the plugin's serve_http as long. */
	snprintf(manifest, sizeof(manifest),
		 "{\"manifest\":{\"app_id\":\"mute2\",\"display_name\":\"mute2\","
		 "\"homepage_url\":\"https://example.com\",\"requested_permissions\":"
		 "[\"act_as_bot\"],\"on_install\":\"/hang\",\"http\":{\"root_url\":\"%s\"}}}",
		 root);
	start(&install, "POST", TS_APPS "/api/v1/install-app", manifest);
	wait_accepted(2);
	/* The admin disables the plugin; it must wait for that install... */
	start(&disable, "POST", "/api/v4/plugins/com.mattermost.apps/disable", NULL);
	sleep(1);
	/* ...and clients keep using the plugin meanwhile... */
	for (int i = 0; i < PLUGIN_REQUESTS; i++) {
		pings[i].done = &pinged;
		start(&pings[i], "GET", TS_APPS "/api/v1/ping", NULL);
	}
	/* ...yet the host's own routes answer (they need no plugin), long
	 * before the App calls give up, the admin can see the plugin's
	 * state, and the requests for the plugin were answered at once. */
	status = get_within("/api/v4/system/ping", CALL_TIMEOUT_S / 3);
	list = get_within("/api/v4/plugins", CALL_TIMEOUT_S / 3);
	for (int waited = 0;
	     atomic_load(&pinged) < PLUGIN_REQUESTS && waited < CALL_TIMEOUT_S * 333; waited += 50)
		usleep(50 * 1000);
	if (status != 200)
		fail_msg("GET /api/v4/system/ping got no answer within %d s while the plugin was "
			 "being disabled",
			 CALL_TIMEOUT_S / 3);
	if (list != 200)
		fail_msg("GET /api/v4/plugins got no answer within %d s while the plugin was "
			 "being disabled",
			 CALL_TIMEOUT_S / 3);
	if (atomic_load(&pinged) < PLUGIN_REQUESTS)
		fail_msg("%d of %d requests for the plugin waited for it to go",
			 PLUGIN_REQUESTS - atomic_load(&pinged), PLUGIN_REQUESTS);
	pthread_join(call.thread, NULL);
	pthread_join(install.thread, NULL);
	pthread_join(disable.thread, NULL);
	for (int i = 0; i < PLUGIN_REQUESTS; i++) {
		pthread_join(pings[i].thread, NULL);
		/* Not found: the plugin is no longer there for new requests. */
		assert_int_equal(pings[i].status, 404);
	}
	assert_int_equal(disable.status, 200);
	/* The held call was answered when the plugin went. */
	assert_true(call.status != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_host_answers_while_a_plugin_is_being_disabled),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
