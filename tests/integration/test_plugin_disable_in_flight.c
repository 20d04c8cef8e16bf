/*
 * Disabling a plugin while one of its requests waits on an App that does
 * not answer (an admin's first move when an App hangs): the plugin goes
 * once that request ends, and meanwhile the rest of the host keeps
 * answering. Requests for the plugin that arrive in between must not take
 * every worker thread.
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
};

static void *run(void *arg)
{
	struct request *q = arg;
	struct ts_resp r =
		ts_api(world.host.base_url, q->method, q->path, world.admin_tok, q->body);

	q->status = r.status;
	ts_resp_free(&r);
	return NULL;
}

static void start(struct request *q, const char *method, const char *path, const char *body)
{
	q->method = method;
	q->path = path;
	q->body = body;
	assert_int_equal(pthread_create(&q->thread, NULL, run, q), 0);
}

/* GET /api/v4/system/ping with at most timeout_s to answer: its status, 0
 * when none came. */
static long ping_within(long timeout_s)
{
	char url[128];
	long status = 0;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s/api/v4/system/ping", world.host.base_url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static void the_host_answers_while_a_plugin_is_being_disabled(void **state)
{
	static struct request call, disable, pings[PLUGIN_REQUESTS];
	char root[64];
	long status;

	(void)state;
	snprintf(root, sizeof(root), "http://127.0.0.1:%d", mute.port);
	assert_int_equal(ts_world_install(&world, "mute", "\"act_as_bot\"", root), 0);
	/* A call to the App that does not answer: it holds the plugin for
	 * call_timeout_s. */
	start(&call, "POST", TS_APPS "/api/v1/call",
	      "{\"path\":\"/hang\",\"context\":{\"app_id\":\"mute\"}}");
	for (int waited = 0; atomic_load(&mute.accepted) == 0 && waited < 10000; waited += 50)
		usleep(50 * 1000);
	assert_true(atomic_load(&mute.accepted) > 0);
	/* The admin disables the plugin; it must wait for that call... */
	start(&disable, "POST", "/api/v4/plugins/com.mattermost.apps/disable", NULL);
	sleep(1);
	/* ...and clients keep using the plugin meanwhile... */
	for (int i = 0; i < PLUGIN_REQUESTS; i++)
		start(&pings[i], "GET", TS_APPS "/api/v1/ping", NULL);
	sleep(1);
	/* ...yet the host's own routes answer (they need no plugin), long
	 * before the App call gives up. */
	status = ping_within(CALL_TIMEOUT_S / 3);
	pthread_join(call.thread, NULL);
	pthread_join(disable.thread, NULL);
	for (int i = 0; i < PLUGIN_REQUESTS; i++)
		pthread_join(pings[i].thread, NULL);
	assert_int_equal(disable.status, 200);
	if (status != 200)
		fail_msg("GET /api/v4/system/ping got no answer within %d s while the plugin was "
			 "being disabled",
			 CALL_TIMEOUT_S / 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_host_answers_while_a_plugin_is_being_disabled),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
