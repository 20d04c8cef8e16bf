#include "app_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define CONNECT_TIMEOUT_MS 5000

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *arg)
{
	struct app_http *h = arg;

	(void)handle;
	(void)access;
	pthread_mutex_lock(&h->locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *arg)
{
	struct app_http *h = arg;

	(void)handle;
	pthread_mutex_unlock(&h->locks[data]);
}

int app_http_init(struct app_http *h, unsigned max_calls, long timeout_ms)
{
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->locks[i], NULL);
	h->max_calls = max_calls;
	h->timeout_ms = timeout_ms;
	atomic_store(&h->in_flight, 0);
	h->share = curl_share_init();
	if (!h->share)
		return -1;
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	return 0;
}

void app_http_cleanup(struct app_http *h)
{
	if (h->share)
		curl_share_cleanup(h->share);
	h->share = NULL;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->locks[i]);
}

struct sink {
	struct app_response *r;
	size_t cap;
	int too_large;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (s->r->len + len > APP_RESPONSE_MAX) {
		s->too_large = 1;
		return 0; /* aborts the transfer */
	}
	if (s->r->len + len + 1 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		char *nb;
		while (cap < s->r->len + len + 1)
			cap *= 2;
		nb = realloc(s->r->body, cap);
		if (!nb)
			return 0;
		s->r->body = nb;
		s->cap = cap;
	}
	memcpy(s->r->body + s->r->len, data, len);
	s->r->len += len;
	s->r->body[s->r->len] = '\0';
	return len;
}

int app_http_post(struct app_http *h, const char *url, const char *auth, const char *body,
		  size_t len, struct app_response *out)
{
	struct sink sink = { out, 0, 0 };
	struct curl_slist *hdrs = NULL;
	char auth_header[2048];
	CURLcode rc;
	CURL *c;

	memset(out, 0, sizeof(*out));
	if (atomic_fetch_add(&h->in_flight, 1) >= h->max_calls) {
		atomic_fetch_sub(&h->in_flight, 1);
		snprintf(out->error, sizeof(out->error),
			 "too many calls to Apps are in progress; try again");
		return -1;
	}
	c = curl_easy_init();
	if (!c) {
		atomic_fetch_sub(&h->in_flight, 1);
		snprintf(out->error, sizeof(out->error), "out of memory");
		return -1;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (auth) {
		snprintf(auth_header, sizeof(auth_header), "Mattermost-App-Authorization: %s",
			 auth);
		hdrs = curl_slist_append(hdrs, auth_header);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 h->timeout_ms < CONNECT_TIMEOUT_MS ? h->timeout_ms : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mattermost-apps-plugin");
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	atomic_fetch_sub(&h->in_flight, 1);
	if (sink.too_large) {
		snprintf(out->error, sizeof(out->error), "the App's response is larger than 1 MiB");
		goto fail;
	}
	if (rc != CURLE_OK) {
		snprintf(out->error, sizeof(out->error), "%s",
			 rc == CURLE_OPERATION_TIMEDOUT     ? "the App did not answer in time"
			 : rc == CURLE_COULDNT_CONNECT      ? "the App refused the connection"
			 : rc == CURLE_COULDNT_RESOLVE_HOST ? "the App's host name does not resolve"
							    : curl_easy_strerror(rc));
		goto fail;
	}
	if (!out->body) {
		out->body = calloc(1, 1);
		if (!out->body) {
			snprintf(out->error, sizeof(out->error), "out of memory");
			return -1;
		}
	}
	return 0;
fail:
	free(out->body);
	out->body = NULL;
	out->len = 0;
	return -1;
}

void app_response_free(struct app_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
