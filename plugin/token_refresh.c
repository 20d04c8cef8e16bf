#include "token_refresh.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "plugin_metrics.h"
#include "urlencoded.h"
#include "banned.h"

/* How often a process that found another's lease re-reads the record. */
#define RECHECK_MS 100
/* Bytes of a refresh token, client id or secret this plugin sends. */
#define CREDENTIAL_MAX 4096
#define TOKEN_URL_MAX 4096

struct waiter {
	struct waiter *next;
	void (*resume)(void *arg);
	void *arg;
};

/* One refresh of one (App, user), from the first call that found it due
 * to the resumption of every call that waited on it. */
struct flight {
	struct token_refresher *t;
	struct flight *next;  /* in the table */
	struct flight *qnext; /* in the refresher's queue */
	char app_id[APP_ID_MAX + 1];
	char user_id[MMPLUGIN_ID_LEN + 1];
	char install_id[MM_ID_LEN + 1];
	char request_id[32]; /* the first call's, for the audit line */
	char token_url[TOKEN_URL_MAX];
	char *client_id, *client_secret, *refresh_token; /* wiped when freed */
	json_t *old;                                     /* the stored value (holds the token) */
	unsigned char *sealed; /* its stored bytes, for the compare-and-set */
	size_t sealed_len;
	unsigned char holder[REFRESH_LEASE_HOLDER_LEN];
	bool leased;        /* this flight holds the store's lease */
	bool form_tried;    /* the credentials went in the form */
	int64_t wait_until; /* another's lease: re-read until then (ms, monotonic) */
	int64_t next_check;
	/* The provider's answer, set on the call loop. */
	bool answered;
	enum refresh_result outcome; /* posted unanswered: how it ends */
	int rc;
	struct app_response resp;
	struct waiter *waiters;
	unsigned nwaiters;
};

struct token_refresher {
	struct apps_plugin *p;
	pthread_t thread;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	struct flight *flights; /* in flight, by (App, user) */
	unsigned nflights, nwaiters;
	struct flight *queue;   /* answered or to finish: for the thread */
	struct flight *waiting; /* another process holds the lease */
	bool stop;
};

static int64_t now_ms(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- when a token is due --------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int rfc3339_parse(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	struct tm tm = { 0 };
	const char *z;

	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':' || digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
	    digits(s + 8, 2, &d) || digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
	    digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	z = s + 19;
	if (*z == '.') {
		size_t n = strspn(z + 1, "0123456789");
		if (n == 0 || n > 9)
			return -1;
		z += 1 + n;
	}
	if ((*z == 'Z' || *z == 'z') && z[1] == '\0') {
		sign = 0;
	} else if ((*z == '+' || *z == '-') && strlen(z) == 6 && z[3] == ':' &&
		   digits(z + 1, 2, &oh) == 0 && digits(z + 4, 2, &om) == 0 && oh < 24 && om < 60) {
		sign = *z == '+' ? 1 : -1;
	} else {
		return -1;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm) - sign * (int64_t)(oh * 3600 + om * 60);
	return 0;
}

bool token_refresh_due(const json_t *value, int64_t now)
{
	const char *refresh = json_string_value(json_object_get(value, "refresh_token"));
	int64_t expiry;

	if (!json_is_object(value) || !refresh || !refresh[0] ||
	    rfc3339_parse(json_string_value(json_object_get(value, "expiry")), &expiry) != 0)
		return false;
	/* Go's zero time (year 1) is a token that never expires. */
	if (expiry <= 0)
		return false;
	return expiry - now < TOKEN_REFRESH_WINDOW_S;
}

/* ---- flights ------------------------------------------------------------ */

static void free_secret(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void flight_free(struct flight *f)
{
	free_secret(f->client_id);
	free_secret(f->client_secret);
	free_secret(f->refresh_token);
	json_decref(f->old);
	free(f->sealed);
	if (f->resp.body)
		sodium_memzero(f->resp.body, f->resp.len);
	app_response_free(&f->resp);
	sodium_memzero(f, sizeof(*f));
	free(f);
}

/* Under lock. */
static struct flight *flight_find(struct token_refresher *t, const char *app_id,
				  const char *user_id)
{
	for (struct flight *f = t->flights; f; f = f->next)
		if (strcmp(f->app_id, app_id) == 0 && strcmp(f->user_id, user_id) == 0)
			return f;
	return NULL;
}

static void flight_unlink(struct token_refresher *t, struct flight *f)
{
	for (struct flight **pp = &t->flights; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			t->nflights--;
			return;
		}
	}
}

/* Hands f to the refresher's thread (to finish, or to read its answer). */
static void post(struct token_refresher *t, struct flight *f)
{
	pthread_mutex_lock(&t->lock);
	f->qnext = t->queue;
	t->queue = f;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

/* ---- the POST to the provider ------------------------------------------ */

/* On the call loop: the provider answered (or not). Must not block. */
static void on_answer(void *arg, int rc, struct app_response *resp)
{
	struct flight *f = arg;

	f->answered = true;
	f->rc = rc;
	f->resp = *resp;
	post(f->t, f);
}

/* Appends name=urlencode(value) to the form in out (cap bytes). */
static int form_add(char *out, size_t cap, size_t *len, const char *name, const char *value)
{
	size_t enc_cap = 3 * strlen(value) + 1;
	char *enc = malloc(enc_cap);
	int n, rc = -1;

	if (!enc)
		return -1;
	if (url_encode(value, enc, enc_cap) == FORM_OK) {
		n = snprintf(out + *len, cap - *len, "%s%s=%s", *len ? "&" : "", name, enc);
		if (n >= 0 && (size_t)n < cap - *len) {
			*len += (size_t)n;
			rc = 0;
		}
	}
	sodium_memzero(enc, enc_cap);
	free(enc);
	return rc;
}

/* "Basic base64(urlencode(id):urlencode(secret))", as RFC 6749 2.3.1 and
 * Go's oauth2 write it. */
static int basic_auth(const struct flight *f, char *out, size_t cap)
{
	char pair[6 * CREDENTIAL_MAX + 2];
	size_t len, id_len;
	int rc = -1;

	if (url_encode(f->client_id, pair, sizeof(pair)) != FORM_OK)
		goto out;
	id_len = strlen(pair);
	pair[id_len] = ':';
	if (url_encode(f->client_secret, pair + id_len + 1, sizeof(pair) - id_len - 1) != FORM_OK)
		goto out;
	len = strlen(pair);
	if (cap < 6 + sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL))
		goto out;
	memcpy(out, "Basic ", 6);
	sodium_bin2base64(out + 6, cap - 6, (const unsigned char *)pair, len,
			  sodium_base64_VARIANT_ORIGINAL);
	rc = 0;
out:
	sodium_memzero(pair, sizeof(pair));
	return rc;
}

/* Starts the POST: credentials by Basic, or in the form once Basic was
 * refused. 0, or -1 (logged) when it did not start. */
static int post_refresh(struct apps_plugin *p, struct flight *f)
{
	size_t cap = 128 + 3 * (strlen(f->refresh_token) + strlen(f->client_id) +
				strlen(f->client_secret)),
	       len = 0;
	char *body = malloc(cap), auth[9 * CREDENTIAL_MAX] = "", err[256];
	int rc = -1;

	if (!body)
		goto out;
	if (form_add(body, cap, &len, "grant_type", "refresh_token") != 0 ||
	    form_add(body, cap, &len, "refresh_token", f->refresh_token) != 0)
		goto out_body;
	if (f->form_tried) {
		if (form_add(body, cap, &len, "client_id", f->client_id) != 0 ||
		    form_add(body, cap, &len, "client_secret", f->client_secret) != 0)
			goto out_body;
	} else if (basic_auth(f, auth, sizeof(auth)) != 0) {
		goto out_body;
	}
	/* app_http_start_form takes body, also when it fails. */
	rc = app_http_start_form(&p->http, f->token_url, auth[0] ? auth : NULL, body, len,
				 p->settings.refresh_timeout_ms, on_answer, f, err, sizeof(err));
	if (rc != 0)
		plugin_logf(p, MMPLUGIN_LOG_WARN,
			    "token refresh for app %s user %s did not start: %s", f->app_id,
			    f->user_id, err);
	goto out;
out_body:
	plugin_logf(p, MMPLUGIN_LOG_WARN,
		    "token refresh for app %s user %s: the request cannot be made", f->app_id,
		    f->user_id);
	sodium_memzero(body, cap);
	free(body);
out:
	sodium_memzero(auth, sizeof(auth));
	return rc;
}

/* ---- the provider's answer ------------------------------------------- */

/* expires_in as seconds (a number or a string of digits); 0 when absent or
 * not positive. At most ten years. */
static int64_t expires_in(const json_t *v)
{
	const int64_t max = 10LL * 366 * 24 * 3600;
	int64_t n = 0;

	if (json_is_integer(v))
		n = (int64_t)json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < (double)max)
		n = (int64_t)json_real_value(v);
	else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 12 &&
		 strspn(json_string_value(v), "0123456789") == json_string_length(v))
		n = strtoll(json_string_value(v), NULL, 10);
	if (n <= 0)
		return 0;
	return n > max ? max : n;
}

/* The new stored value: the old one's other members kept, the token in
 * oauth2.Token shape. NULL when the answer holds no access_token. */
static json_t *new_token(const struct flight *f, const json_t *answer)
{
	const json_t *access = json_object_get(answer, "access_token");
	const json_t *refresh = json_object_get(answer, "refresh_token");
	const json_t *type = json_object_get(answer, "token_type");
	int64_t secs = expires_in(json_object_get(answer, "expires_in"));
	json_t *t;

	if (!json_is_string(access) || json_string_length(access) == 0)
		return NULL;
	t = json_copy(f->old);
	if (!t)
		return NULL;
	json_object_del(t, "expires_in");
	json_object_set(t, "access_token", (json_t *)access);
	json_object_set_new(t, "token_type",
			    json_string(json_is_string(type) ? json_string_value(type) : "Bearer"));
	if (json_is_string(refresh) && json_string_length(refresh) > 0)
		json_object_set(t, "refresh_token", (json_t *)refresh);
	if (secs > 0) {
		time_t at = time(NULL) + (time_t)secs;
		struct tm tm;
		char text[32];
		if (!gmtime_r(&at, &tm) ||
		    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
			json_decref(t);
			return NULL;
		}
		json_object_set_new(t, "expiry", json_string(text));
	} else {
		json_object_del(t, "expiry"); /* oauth2.Token's zero time: no expiry */
	}
	return t;
}

/* The provider's "error" member when it is an RFC 6749 error code (at
 * most 64 of [a-z_], so that it may be logged), or "". */
static const char *oauth2_error(const json_t *answer)
{
	const char *e = json_string_value(json_object_get(answer, "error"));
	size_t n = e ? strspn(e, "abcdefghijklmnopqrstuvwxyz_") : 0;

	return e && n > 0 && n <= 64 && e[n] == '\0' ? e : "";
}

static const char *const result_words[] = {
	[REFRESH_OK] = "refreshed",
	[REFRESH_LOST] = "the stored value changed meanwhile: it is used as it is",
	[REFRESH_INVALID_GRANT] = "the provider answered invalid_grant: the record is deleted",
	[REFRESH_TIMEOUT] = "the provider did not answer in time: the stored value is used",
	[REFRESH_UNAVAILABLE] = "the provider is unavailable: the stored value is used",
	[REFRESH_ERROR] = "failed: the stored value is used",
};

/* Compare-and-set of the new value (NULL: delete); the result. */
static enum refresh_result store(struct apps_plugin *p, struct flight *f, const json_t *next)
{
	struct app_gate_expect e = { f->app_id, f->install_id, APP_NEED_OAUTH2 };
	char *text = next ? json_dumps(next, JSON_COMPACT) : NULL;
	int rc;

	if (next && !text)
		return REFRESH_ERROR;
	if (text && strlen(text) > TOKEN_REFRESH_VALUE_MAX) {
		plugin_logf(
			p, MMPLUGIN_LOG_WARN,
			"token refresh for app %s user %s: the new token is larger than %d bytes",
			f->app_id, f->user_id, TOKEN_REFRESH_VALUE_MAX);
		sodium_memzero(text, strlen(text));
		free(text);
		return REFRESH_ERROR;
	}
	rc = oauth2_user_cas(&p->store, &e, f->user_id, f->sealed, f->sealed_len, text,
			     text ? strlen(text) : 0);
	if (text) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	if (rc == STORE_OK)
		return next ? REFRESH_OK : REFRESH_INVALID_GRANT;
	if (rc == STORE_ESTALE)
		return REFRESH_LOST;
	plugin_logf(p, MMPLUGIN_LOG_ERROR, "token refresh for app %s user %s: the store failed: %s",
		    f->app_id, f->user_id, store_reason(rc));
	return REFRESH_ERROR;
}

/* What the provider's answer means; -1: try again with the form. */
static int judge(struct apps_plugin *p, struct flight *f)
{
	const struct app_response *r = &f->resp;
	json_t *answer, *next;
	int out;

	if (f->rc != 0)
		return r->timed_out ? REFRESH_TIMEOUT : REFRESH_UNAVAILABLE;
	if (r->status >= 500)
		return REFRESH_UNAVAILABLE;
	answer = json_loadb(r->body, r->len, 0, NULL);
	if (r->status == 200) {
		next = json_is_object(answer) ? new_token(f, answer) : NULL;
		json_decref(answer);
		if (!next) {
			plugin_logf(p, MMPLUGIN_LOG_WARN,
				    "token refresh for app %s user %s: the provider's answer holds "
				    "no token",
				    f->app_id, f->user_id);
			return REFRESH_ERROR;
		}
		out = store(p, f, next);
		json_decref(next);
		return out;
	}
	if ((r->status == 400 || r->status == 401) && !f->form_tried &&
	    strcmp(oauth2_error(answer), "invalid_client") == 0) {
		json_decref(answer);
		return -1;
	}
	if (r->status == 400 && strcmp(oauth2_error(answer), "invalid_grant") == 0) {
		json_decref(answer);
		return store(p, f, NULL);
	}
	plugin_logf(p, MMPLUGIN_LOG_WARN,
		    "token refresh for app %s user %s: the provider answered HTTP %ld (%s)",
		    f->app_id, f->user_id, r->status, oauth2_error(answer));
	json_decref(answer);
	return REFRESH_ERROR;
}

/* ---- the refresher's thread ---------------------------------------------- */

/* The end of a flight: the lease given back, the outcome logged, counted
 * and audited, then every waiting call resumed. On the refresher's thread. */
static void land(struct token_refresher *t, struct flight *f, enum refresh_result result)
{
	struct apps_plugin *p = t->p;
	struct waiter *w;
	int rc;

	if (f->leased &&
	    refresh_lease_release(&p->store, f->app_id, f->user_id, f->holder) != STORE_OK)
		plugin_logf(p, MMPLUGIN_LOG_WARN,
			    "token refresh for app %s user %s: the lease could not be released "
			    "(it expires by itself)",
			    f->app_id, f->user_id);
	plugin_logf(p,
		    result == REFRESH_OK || result == REFRESH_LOST ? MMPLUGIN_LOG_INFO
								   : MMPLUGIN_LOG_WARN,
		    "token refresh for app %s user %s: %s", f->app_id, f->user_id,
		    result_words[result]);
	plugin_metrics_refresh(result);
	if (result == REFRESH_OK || result == REFRESH_INVALID_GRANT) {
		rc = plugin_audit(
			p, result == REFRESH_OK ? "oauth2_token_refreshed" : "oauth2_token_revoked",
			f->user_id, f->app_id, f->user_id, f->request_id[0] ? f->request_id : NULL);
		if (rc != MMPLUGIN_OK)
			plugin_logf(p, MMPLUGIN_LOG_ERROR,
				    "token refresh for app %s user %s: the audit line was not "
				    "written (%d)",
				    f->app_id, f->user_id, rc);
	}
	pthread_mutex_lock(&t->lock);
	flight_unlink(t, f);
	w = f->waiters;
	f->waiters = NULL;
	t->nwaiters -= f->nwaiters;
	pthread_mutex_unlock(&t->lock);
	flight_free(f);
	while (w) {
		struct waiter *next = w->next;
		w->resume(w->arg);
		free(w);
		w = next;
	}
}

/* A flight handed to the thread: answered by the provider, or to land. */
static void handle(struct token_refresher *t, struct flight *f)
{
	struct apps_plugin *p = t->p;
	int result;

	if (!f->answered) {
		land(t, f, f->outcome);
		return;
	}
	result = judge(p, f);
	if (f->resp.body)
		sodium_memzero(f->resp.body, f->resp.len);
	app_response_free(&f->resp);
	f->answered = false;
	if (result == -1) {
		f->form_tried = true;
		if (post_refresh(p, f) == 0)
			return; /* answered again later */
		result = REFRESH_ERROR;
	}
	land(t, f, (enum refresh_result)result);
}

/* Whether the stored value is no longer the one the flight read (the same
 * value sealed again by the key sweep is not a change). */
static bool stored_changed(struct apps_plugin *p, const struct flight *f)
{
	unsigned char *sealed = NULL;
	size_t sealed_len = 0, len = 0;
	char *plain = NULL;
	int rc = oauth2_user_get_sealed(&p->store, f->app_id, f->user_id, &sealed, &sealed_len,
					&plain, &len);
	bool changed = rc != STORE_OK || sealed_len != f->sealed_len ||
		       memcmp(sealed, f->sealed, sealed_len) != 0;
	json_t *now;

	if (changed && rc == STORE_OK) {
		now = json_loadb(plain, len, JSON_DECODE_ANY, NULL);
		changed = !now || !json_equal(now, f->old);
		json_decref(now);
	}
	free(sealed);
	unseal_free(plain);
	return changed;
}

static int64_t lease_ttl(const struct apps_plugin *p)
{
	return 2 * (int64_t)p->settings.refresh_timeout_ms + 10000;
}

/* On the refresher's thread: takes the lease a dead process left and
 * starts the POST. False when another process took it first (f waits
 * again); true when f is refreshing now or has landed. */
static bool take_over(struct token_refresher *t, struct flight *f)
{
	struct apps_plugin *p = t->p;
	int rc = refresh_lease_take(&p->store, f->app_id, f->user_id, f->holder,
				    now_ms(CLOCK_REALTIME), lease_ttl(p));

	if (rc == STORE_EBUSY)
		return false;
	if (rc != STORE_OK) {
		plugin_logf(p, MMPLUGIN_LOG_ERROR,
			    "token refresh for app %s user %s: the lease could not be taken: %s",
			    f->app_id, f->user_id, store_reason(rc));
		land(t, f, REFRESH_ERROR);
		return true;
	}
	f->leased = true;
	plugin_logf(p, MMPLUGIN_LOG_INFO,
		    "token refresh for app %s user %s: the lease of a process that stopped "
		    "mid-refresh expired; this one refreshes",
		    f->app_id, f->user_id);
	if (post_refresh(p, f) != 0)
		land(t, f, REFRESH_ERROR);
	return true;
}

static void *refresher_run(void *arg)
{
	struct token_refresher *t = arg;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct flight *q = t->queue, *ready = NULL;
		int64_t now = now_ms(CLOCK_MONOTONIC), next = now + 1000;
		bool stop = t->stop;

		t->queue = NULL;
		/* Flights waiting on another process whose turn came (all of
		 * them when stopping). */
		for (struct flight **pp = &t->waiting; *pp;) {
			struct flight *f = *pp;
			if (stop || f->next_check <= now) {
				*pp = f->qnext;
				f->qnext = ready;
				ready = f;
			} else {
				next = f->next_check < next ? f->next_check : next;
				pp = &f->qnext;
			}
		}
		if (!q && !ready) {
			struct timespec until;
			int64_t wait = next - now;
			if (stop && t->nflights == 0)
				break;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += (time_t)(wait / 1000);
			until.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&t->cond, &t->lock, &until);
			continue;
		}
		pthread_mutex_unlock(&t->lock);
		while (q) {
			struct flight *f = q;
			q = q->qnext;
			handle(t, f);
		}
		while (ready) {
			struct flight *f = ready;
			int busy = 0;
			ready = ready->qnext;
			/* Done when the value changed, or the lease was
			 * released with it unchanged (that refresh failed: the
			 * stored value is used), or the time is up. A lease
			 * that expired unreleased (its process died) is taken
			 * over: this flight refreshes. */
			if (!stop && !stored_changed(t->p, f))
				busy = refresh_lease_busy(&t->p->store, f->app_id, f->user_id,
							  f->holder, now_ms(CLOCK_REALTIME));
			if (busy == 2) {
				if (take_over(t, f))
					continue;
				busy = 1; /* another process took it first: wait for it */
			}
			if (busy != 1 || now_ms(CLOCK_MONOTONIC) >= f->wait_until) {
				land(t, f, REFRESH_LOST);
				continue;
			}
			f->next_check = now_ms(CLOCK_MONOTONIC) + RECHECK_MS;
			pthread_mutex_lock(&t->lock);
			f->qnext = t->waiting;
			t->waiting = f;
			pthread_mutex_unlock(&t->lock);
		}
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int token_refresh_init(struct apps_plugin *p)
{
	struct token_refresher *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->p = p;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	if (pthread_create(&t->thread, NULL, refresher_run, t) != 0) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return -1;
	}
	p->refresher = t;
	return 0;
}

void token_refresh_stop(struct apps_plugin *p)
{
	struct token_refresher *t = p->refresher;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
	p->refresher = NULL;
}

/* ---- a call that finds its token due ------------------------------------ */

static char *dup_string(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && strlen(s) < CREDENTIAL_MAX ? strdup(s) : NULL;
}

/* A new flight for the value read (old and sealed are taken), or NULL. */
static struct flight *flight_new(struct token_refresher *t, const json_t *app, const char *user_id,
				 const char *request_id, json_t *old, unsigned char *sealed,
				 size_t sealed_len)
{
	const json_t *o = json_object_get(app, "remote_oauth2");
	struct flight *f = calloc(1, sizeof(*f));

	if (!f) {
		json_decref(old);
		free(sealed);
		return NULL;
	}
	f->t = t;
	f->outcome = REFRESH_ERROR;
	f->old = old;
	f->sealed = sealed;
	f->sealed_len = sealed_len;
	snprintf(f->app_id, sizeof(f->app_id), "%s",
		 json_string_value(json_object_get(app, "app_id")));
	snprintf(f->user_id, sizeof(f->user_id), "%s", user_id);
	snprintf(f->install_id, sizeof(f->install_id), "%s",
		 json_string_value(json_object_get(app, "install_id")));
	snprintf(f->request_id, sizeof(f->request_id), "%s", request_id ? request_id : "");
	if (snprintf(f->token_url, sizeof(f->token_url), "%s",
		     json_string_value(json_object_get(o, "token_url"))) >=
	    (int)sizeof(f->token_url))
		goto fail;
	f->client_id = dup_string(o, "client_id");
	f->client_secret = dup_string(o, "client_secret");
	f->refresh_token = dup_string(old, "refresh_token");
	if (!f->client_id || !f->client_secret || !f->refresh_token)
		goto fail;
	randombytes_buf(f->holder, sizeof(f->holder));
	return f;
fail:
	flight_free(f);
	return NULL;
}

/* On the worker, for the flight's first call: the lease, a last look at
 * the stored bytes, the POST. Whatever happens, the flight lands on the
 * refresher's thread. */
static void take_off(struct token_refresher *t, struct flight *f)
{
	struct apps_plugin *p = t->p;
	int64_t ttl = lease_ttl(p);
	int rc = refresh_lease_take(&p->store, f->app_id, f->user_id, f->holder,
				    now_ms(CLOCK_REALTIME), ttl);

	if (rc == STORE_EBUSY) {
		/* Another process refreshes: wait for the value it stores. */
		f->wait_until = now_ms(CLOCK_MONOTONIC) + ttl;
		f->next_check = now_ms(CLOCK_MONOTONIC) + RECHECK_MS;
		pthread_mutex_lock(&t->lock);
		f->qnext = t->waiting;
		t->waiting = f;
		pthread_cond_signal(&t->cond);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (rc != STORE_OK) {
		plugin_logf(p, MMPLUGIN_LOG_ERROR,
			    "token refresh for app %s user %s: the lease could not be taken: %s",
			    f->app_id, f->user_id, store_reason(rc));
		f->outcome = REFRESH_ERROR;
		post(t, f);
		return;
	}
	f->leased = true;
	/* A refresh that ended between the read and the lease stored another
	 * value (and may have spent the refresh token): use that one. */
	if (stored_changed(p, f)) {
		f->outcome = REFRESH_LOST;
		post(t, f);
	} else if (post_refresh(p, f) != 0) {
		f->outcome = REFRESH_ERROR;
		post(t, f);
	}
}

int token_refresh_before_call(struct apps_plugin *p, const json_t *app, const char *user_id,
			      const char *request_id, void (*resume)(void *arg), void *arg)
{
	struct token_refresher *t = p->refresher;
	const json_t *o = json_object_get(app, "remote_oauth2");
	const char *app_id = json_string_value(json_object_get(app, "app_id"));
	const char *token_url = json_string_value(json_object_get(o, "token_url"));
	unsigned char *sealed = NULL;
	size_t sealed_len = 0, len = 0;
	struct flight *f, *mine = NULL;
	struct waiter *w;
	char *plain = NULL;
	json_t *old;
	int out = 0;

	if (!t || !app_id || !token_url || !token_url[0] || !user_id)
		return 0;
	if (oauth2_user_get_sealed(&p->store, app_id, user_id, &sealed, &sealed_len, &plain,
				   &len) != STORE_OK)
		return 0; /* the expansion reads it again and says what is wrong */
	old = json_loadb(plain, len, JSON_DECODE_ANY, NULL);
	unseal_free(plain);
	w = calloc(1, sizeof(*w));
	if (!w || !token_refresh_due(old, (int64_t)time(NULL))) {
		free(w);
		json_decref(old);
		free(sealed);
		return 0;
	}
	w->resume = resume;
	w->arg = arg;
	pthread_mutex_lock(&t->lock);
	f = flight_find(t, app_id, user_id);
	if (!f && t->nflights < TOKEN_REFRESH_FLIGHTS_MAX && !t->stop) {
		pthread_mutex_unlock(&t->lock);
		/* Built outside the lock; another call may start one meanwhile. */
		mine = flight_new(t, app, user_id, request_id, old, sealed, sealed_len);
		old = NULL;
		sealed = NULL;
		if (!mine)
			plugin_logf(p, MMPLUGIN_LOG_WARN,
				    "token refresh for app %s user %s: the App's client or the "
				    "token cannot be used",
				    app_id, user_id);
		pthread_mutex_lock(&t->lock);
		f = flight_find(t, app_id, user_id);
		if (!f && mine) {
			mine->next = t->flights;
			t->flights = mine;
			t->nflights++;
			f = mine;
		}
	}
	/* A new flight takes its first call past the bound. */
	if (f && (f == mine || t->nwaiters < TOKEN_REFRESH_WAITERS_MAX)) {
		w->next = f->waiters;
		f->waiters = w;
		f->nwaiters++;
		t->nwaiters++;
		w = NULL;
		out = 1;
	}
	pthread_mutex_unlock(&t->lock);
	free(w);
	json_decref(old);
	free(sealed);
	if (mine && f == mine)
		take_off(t, mine);
	else if (mine)
		flight_free(mine);
	return out;
}
