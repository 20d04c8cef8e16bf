/*
 * Calling Apps over HTTP with libcurl: POST of a JSON call request, a total
 * timeout, at most 1 MiB read back, no redirects followed, http and https
 * only, connections reused across calls (a shared connection cache), and at
 * most max_calls calls in flight so that slow Apps cannot take every server
 * thread. Thread-safe.
 */
#ifndef PLUGIN_APP_HTTP_H
#define PLUGIN_APP_HTTP_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define APP_RESPONSE_MAX (1024 * 1024)

struct app_http {
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	atomic_uint in_flight;
	unsigned max_calls;
	long timeout_ms;
};

struct app_response {
	long status; /* the App's HTTP status */
	char *body;  /* malloc'd, NUL-terminated */
	size_t len;
	char error[256]; /* why there is no usable response */
};

int app_http_init(struct app_http *h, unsigned max_calls, long timeout_ms)
	__attribute__((warn_unused_result));
void app_http_cleanup(struct app_http *h);

/* POSTs body to url. auth is the Mattermost-App-Authorization value or NULL.
 * Returns 0 when a complete response of at most 1 MiB arrived (any status);
 * -1 with out->error saying what went wrong otherwise. */
int app_http_post(struct app_http *h, const char *url, const char *auth, const char *body,
		  size_t len, struct app_response *out) __attribute__((warn_unused_result));
void app_response_free(struct app_response *r);

#endif
