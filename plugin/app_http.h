/*
 * Calling Apps over HTTP: POST of a JSON call request, a total timeout, at
 * most 1 MiB read back, no redirects followed, http and https only.
 *
 * Every call runs on one libcurl multi handle driven by a thread of its own
 * (the call loop), not on the thread that asked for it: hundreds of slow
 * Apps cost no thread each, only a socket and a bounded buffer. Connections
 * to an App are kept and reused across calls (the multi handle's cache).
 * At most max_calls are in flight; past it a call is refused at once.
 *
 * Threading: app_http_start and app_http_post may be called from any thread.
 * Completions (app_http_done_fn) run on the call loop's thread, one at a
 * time: they must not block (no disk commit, no call waiting on another
 * call).
 */
#ifndef PLUGIN_APP_HTTP_H
#define PLUGIN_APP_HTTP_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define APP_RESPONSE_MAX (1024 * 1024)
/* Bounds of the max_concurrent_calls setting. */
#define APP_CALLS_MAX 65536

struct app_response {
	long status; /* the App's HTTP status */
	char *body;  /* malloc'd, NUL-terminated */
	size_t len;
	char error[256]; /* why there is no usable response */
	bool timed_out;  /* the error is the total timeout */
};

/* Called once per started call, on the call loop's thread. rc is 0 when a
 * complete response of at most 1 MiB arrived (any status), -1 with
 * resp->error saying what went wrong. resp is the callee's: it frees it with
 * app_response_free. */
typedef void (*app_http_done_fn)(void *arg, int rc, struct app_response *resp);

struct app_xfer;

struct app_http {
	CURLM *multi;
	pthread_t loop;
	bool loop_started;
	pthread_mutex_t lock;   /* guards queue and stop */
	struct app_xfer *queue; /* started, not yet handed to the multi handle */
	bool stop;
	atomic_uint in_flight;
	unsigned max_calls;
	long timeout_ms;
};

/* Starts the call loop. 0, or -1 when libcurl or a thread could not be had. */
int app_http_init(struct app_http *h, unsigned max_calls, long timeout_ms)
	__attribute__((warn_unused_result));

/* Stops the loop. Calls still in flight end at once with the error "the
 * server is shutting down" (their completions run, on this thread). */
void app_http_cleanup(struct app_http *h);

/* Starts POSTing body (len bytes; ownership taken: wiped and freed when the
 * call ends, since it holds tokens) to url. auth is the
 * Mattermost-App-Authorization value or NULL (copied). Returns 0 when the
 * call started: done(arg, ...) will run exactly once, on the loop's thread,
 * possibly before this returns. Returns -1 with err (one sentence) when it
 * did not start (too many calls in flight, out of memory, stopping): done is
 * not called and body was freed. */
int app_http_start(struct app_http *h, const char *url, const char *auth, char *body, size_t len,
		   app_http_done_fn done, void *arg, char *err, size_t err_cap)
	__attribute__((warn_unused_result));

/* A POST of an application/x-www-form-urlencoded body (ownership taken,
 * wiped and freed as above) to an OAuth2 provider's token endpoint, on the
 * same loop and under the same max_calls, with its own total timeout. auth
 * is the whole Authorization header value ("Basic ...") or NULL (copied,
 * wiped). Not counted as a call to an App. Returns and calls done as
 * app_http_start. */
int app_http_start_form(struct app_http *h, const char *url, const char *auth, char *body,
			size_t len, long timeout_ms, app_http_done_fn done, void *arg, char *err,
			size_t err_cap) __attribute__((warn_unused_result));

/* The same call, waiting for its end (for a worker thread that may block:
 * install and uninstall). body is borrowed. 0 or -1 as for done's rc, with
 * out filled. Never call it from a completion. */
int app_http_post(struct app_http *h, const char *url, const char *auth, const char *body,
		  size_t len, struct app_response *out) __attribute__((warn_unused_result));

void app_response_free(struct app_response *r);

#endif
