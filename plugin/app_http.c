#include "app_http.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_metrics.h"
#include "banned.h"

#define CONNECT_TIMEOUT_MS 5000
#define AUTH_HEADER_MAX 2048
/* The loop wakes at least this often even when idle (curl's own timers
 * wake it sooner). */
#define LOOP_POLL_MS 1000

/* One call, from app_http_start to its completion. */
struct app_xfer {
	struct app_xfer *next, *prev; /* the queue, then the loop's active list */
	struct app_http *h;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	size_t body_len;
	struct app_response resp;
	size_t cap;
	bool too_large;
	app_http_done_fn done;
	void *arg;
	struct timespec t0; /* when it was queued */
	bool not_app_call;  /* app_http_start_form: not in the App call metrics */
};

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* What a call's end counts as (plugin_metrics.h). */
static enum app_call_result call_result(const struct app_xfer *x, CURLcode rc, const char *why,
					int ok)
{
	if (why)
		return CALL_SHUTDOWN; /* the only reason given from outside libcurl */
	if (x->too_large)
		return CALL_TOO_LARGE;
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return CALL_TIMEOUT;
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
		return CALL_UNREACHABLE;
	if (rc != CURLE_OK || ok != 0)
		return CALL_ERROR;
	return x->resp.status >= 200 && x->resp.status < 300 ? CALL_OK : CALL_HTTP_ERROR;
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct app_xfer *x = arg;
	struct app_response *r = &x->resp;
	size_t len = size * n;

	if (r->len + len > APP_RESPONSE_MAX) {
		x->too_large = true;
		return 0; /* aborts the transfer */
	}
	if (r->len + len + 1 > x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 4096;
		char *nb;
		while (cap < r->len + len + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (!nb)
			return 0;
		r->body = nb;
		x->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* The request's headers hold a bearer JWT: wiped before they are freed. */
static void headers_free(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i; i = i->next)
		sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static void xfer_free(struct app_xfer *x)
{
	if (x->easy)
		curl_easy_cleanup(x->easy);
	headers_free(x->hdrs);
	if (x->body) {
		sodium_memzero(x->body, x->body_len);
		free(x->body);
	}
	free(x);
}

/* Ends a call: its outcome to its owner, then everything is freed. On the
 * loop's thread (or the stopping one), after the easy handle left the multi
 * handle. */
static void finish(struct app_xfer *x, CURLcode rc, const char *why)
{
	struct app_response *r = &x->resp;
	app_http_done_fn done = x->done;
	void *arg = x->arg;
	struct app_response out;
	int ok = 0;

	if (x->easy)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (why) {
		snprintf(r->error, sizeof(r->error), "%s", why);
		ok = -1;
	} else if (x->too_large) {
		snprintf(r->error, sizeof(r->error), "the App's response is larger than 1 MiB");
		ok = -1;
	} else if (rc != CURLE_OK) {
		r->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
		snprintf(r->error, sizeof(r->error), "%s",
			 rc == CURLE_OPERATION_TIMEDOUT     ? "the App did not answer in time"
			 : rc == CURLE_COULDNT_CONNECT      ? "the App refused the connection"
			 : rc == CURLE_COULDNT_RESOLVE_HOST ? "the App's host name does not resolve"
							    : curl_easy_strerror(rc));
		ok = -1;
	} else if (!r->body && !(r->body = calloc(1, 1))) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		ok = -1;
	}
	if (!x->not_app_call)
		plugin_metrics_app_call(call_result(x, rc, why, ok), seconds_since(&x->t0));
	if (ok != 0)
		app_response_free(r);
	out = *r;
	memset(r, 0, sizeof(*r));
	atomic_fetch_sub(&x->h->in_flight, 1);
	xfer_free(x);
	done(arg, ok, &out);
}

static void active_add(struct app_xfer **active, struct app_xfer *x)
{
	x->prev = NULL;
	x->next = *active;
	if (*active)
		(*active)->prev = x;
	*active = x;
}

static void active_remove(struct app_xfer **active, struct app_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		*active = x->next;
	if (x->next)
		x->next->prev = x->prev;
}

static void *loop_run(void *arg)
{
	struct app_http *h = arg;
	struct app_xfer *active = NULL;

	for (;;) {
		struct app_xfer *q, *next;
		CURLMsg *msg;
		int running = 0, left = 0;
		bool stop;

		pthread_mutex_lock(&h->lock);
		q = h->queue;
		h->queue = NULL;
		stop = h->stop;
		pthread_mutex_unlock(&h->lock);
		for (; q; q = next) {
			next = q->next;
			if (stop) {
				finish(q, CURLE_OK, "the server is shutting down");
			} else if (curl_multi_add_handle(h->multi, q->easy) != CURLM_OK) {
				finish(q, CURLE_OUT_OF_MEMORY, NULL);
			} else {
				active_add(&active, q);
			}
		}
		if (stop)
			break;
		curl_multi_perform(h->multi, &running);
		while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
			struct app_xfer *x;
			char *priv = NULL;
			CURLcode result;
			if (msg->msg != CURLMSG_DONE)
				continue;
			/* msg is libcurl's until the handle leaves the multi
			 * handle: read it first. */
			result = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			x = (struct app_xfer *)(void *)priv;
			curl_multi_remove_handle(h->multi, x->easy);
			active_remove(&active, x);
			finish(x, result, NULL);
		}
		curl_multi_poll(h->multi, NULL, 0, LOOP_POLL_MS, NULL);
	}
	while (active) {
		struct app_xfer *x = active;
		active_remove(&active, x);
		curl_multi_remove_handle(h->multi, x->easy);
		finish(x, CURLE_OK, "the server is shutting down");
	}
	return NULL;
}

int app_http_init(struct app_http *h, unsigned max_calls, long timeout_ms)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->max_calls = max_calls;
	h->timeout_ms = timeout_ms;
	atomic_store(&h->in_flight, 0);
	h->multi = curl_multi_init();
	if (!h->multi)
		goto fail;
	if (pthread_create(&h->loop, NULL, loop_run, h) != 0)
		goto fail;
	h->loop_started = true;
	return 0;
fail:
	if (h->multi)
		curl_multi_cleanup(h->multi);
	h->multi = NULL;
	pthread_mutex_destroy(&h->lock);
	return -1;
}

void app_http_cleanup(struct app_http *h)
{
	if (!h->loop_started)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_mutex_unlock(&h->lock);
	curl_multi_wakeup(h->multi);
	pthread_join(h->loop, NULL);
	h->loop_started = false;
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	pthread_mutex_destroy(&h->lock);
}

struct xfer_kind {
	const char *content_type; /* the whole header line */
	const char *auth_header;  /* the header's name and ": " */
	long timeout_ms;
};

static const struct xfer_kind app_call_kind = { "Content-Type: application/json",
						"Mattermost-App-Authorization: ", 0 };

static struct app_xfer *xfer_new(struct app_http *h, const char *url, const char *auth, char *body,
				 size_t len, const struct xfer_kind *kind)
{
	long timeout_ms = kind->timeout_ms ? kind->timeout_ms : h->timeout_ms;
	struct app_xfer *x = calloc(1, sizeof(*x));
	char header[AUTH_HEADER_MAX];
	CURL *c;

	if (!x)
		return NULL;
	x->h = h;
	x->body = body;
	x->body_len = len;
	x->easy = c = curl_easy_init();
	if (!c)
		goto fail;
	x->hdrs = curl_slist_append(x->hdrs, kind->content_type);
	x->hdrs = curl_slist_append(x->hdrs, "Accept: application/json");
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	if (auth) {
		if (snprintf(header, sizeof(header), "%s%s", kind->auth_header, auth) >=
		    (int)sizeof(header))
			goto fail;
		x->hdrs = curl_slist_append(x->hdrs, header);
		sodium_memzero(header, sizeof(header));
	}
	if (!x->hdrs)
		goto fail;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)x);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mattermost-apps-plugin");
	return x;
fail:
	sodium_memzero(header, sizeof(header));
	x->body = NULL; /* the caller's, on failure */
	xfer_free(x);
	return NULL;
}

static int refuse(char *body, size_t len, char *err, size_t cap, const char *why)
{
	if (body) {
		sodium_memzero(body, len);
		free(body);
	}
	snprintf(err, cap, "%s", why);
	return -1;
}

static int start(struct app_http *h, const char *url, const char *auth, char *body, size_t len,
		 const struct xfer_kind *kind, app_http_done_fn done, void *arg, char *err,
		 size_t err_cap)
{
	struct app_xfer *x;
	bool stopping;

	if (!h->loop_started)
		return refuse(body, len, err, err_cap, "the server is shutting down");
	if (atomic_fetch_add(&h->in_flight, 1) >= h->max_calls) {
		atomic_fetch_sub(&h->in_flight, 1);
		if (kind == &app_call_kind)
			plugin_metrics_app_call(CALL_BUSY, -1);
		return refuse(body, len, err, err_cap,
			      "too many calls to Apps are in progress; try again");
	}
	x = xfer_new(h, url, auth, body, len, kind);
	if (!x) {
		atomic_fetch_sub(&h->in_flight, 1);
		return refuse(body, len, err, err_cap, "out of memory");
	}
	x->done = done;
	x->arg = arg;
	x->not_app_call = kind != &app_call_kind;
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
	pthread_mutex_lock(&h->lock);
	stopping = h->stop;
	if (!stopping) {
		x->next = h->queue;
		h->queue = x;
	}
	pthread_mutex_unlock(&h->lock);
	if (stopping) {
		atomic_fetch_sub(&h->in_flight, 1);
		xfer_free(x);
		snprintf(err, err_cap, "the server is shutting down");
		return -1;
	}
	curl_multi_wakeup(h->multi);
	return 0;
}

int app_http_start(struct app_http *h, const char *url, const char *auth, char *body, size_t len,
		   app_http_done_fn done, void *arg, char *err, size_t err_cap)
{
	return start(h, url, auth, body, len, &app_call_kind, done, arg, err, err_cap);
}

int app_http_start_form(struct app_http *h, const char *url, const char *auth, char *body,
			size_t len, long timeout_ms, app_http_done_fn done, void *arg, char *err,
			size_t err_cap)
{
	const struct xfer_kind form = { "Content-Type: application/x-www-form-urlencoded",
					"Authorization: ", timeout_ms };

	return start(h, url, auth, body, len, &form, done, arg, err, err_cap);
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int rc;
	struct app_response *out;
};

static void wake(void *arg, int rc, struct app_response *resp)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->lock);
	*w->out = *resp;
	w->rc = rc;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int app_http_post(struct app_http *h, const char *url, const char *auth, const char *body,
		  size_t len, struct app_response *out)
{
	struct waiter w = { .out = out };
	char *copy = malloc(len + 1);

	memset(out, 0, sizeof(*out));
	if (!copy) {
		snprintf(out->error, sizeof(out->error), "out of memory");
		return -1;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	if (app_http_start(h, url, auth, copy, len, wake, &w, out->error, sizeof(out->error)) !=
	    0) {
		w.rc = -1;
		goto out;
	}
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
out:
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return w.rc;
}

void app_response_free(struct app_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
