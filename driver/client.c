/* libmmapps: see include/mmapps/client.h for the contract. */
#include <mmapps/client.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define ERROR_MAX 512
#define ROUTE "/plugins/com.mattermost.apps/api/v1/oauth2/"

struct mmapps_client {
	CURL *curl;
	char *site_url;
	char *auth_header; /* "Authorization: Bearer <token>", wiped on free */
	long timeout_ms;
	long status;
	char error[ERROR_MAX];
};

/* The token is secret: overwrite before free, in a way the compiler keeps. */
static void wipe(char *s)
{
	volatile char *p = s;

	while (p && *p)
		*p++ = 0;
}

static int fail(mmapps_client *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(mmapps_client *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return rc;
}

mmapps_client *mmapps_client_new(const char *site_url, const char *token)
{
	mmapps_client *c;
	size_t n, hlen;

	if (!site_url || !token || !*token || strpbrk(token, "\r\n") ||
	    (strncmp(site_url, "http://", 7) != 0 && strncmp(site_url, "https://", 8) != 0))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->site_url = strdup(site_url);
	hlen = strlen("Authorization: Bearer ") + strlen(token) + 1;
	c->auth_header = malloc(hlen);
	c->curl = curl_easy_init();
	if (!c->site_url || !c->auth_header || !c->curl) {
		mmapps_client_free(c);
		return NULL;
	}
	snprintf(c->auth_header, hlen, "Authorization: Bearer %s", token);
	n = strlen(c->site_url);
	while (n > 0 && c->site_url[n - 1] == '/')
		c->site_url[--n] = '\0';
	c->timeout_ms = MMAPPS_DEFAULT_TIMEOUT_MS;
	return c;
}

void mmapps_client_free(mmapps_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	wipe(c->auth_header);
	free(c->auth_header);
	free(c->site_url);
	free(c);
}

int mmapps_client_set_timeout(mmapps_client *c, long timeout_ms)
{
	if (!c || timeout_ms < 1 || timeout_ms > 600000)
		return MMAPPS_EINVAL;
	c->timeout_ms = timeout_ms;
	return MMAPPS_OK;
}

const char *mmapps_client_error(const mmapps_client *c)
{
	return c ? c->error : "no client";
}

long mmapps_client_status(const mmapps_client *c)
{
	return c ? c->status : 0;
}

void mmapps_free(void *p)
{
	free(p);
}

struct body {
	char *p;
	size_t len;
	int too_large;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	char *np;

	if (b->len + len > MMAPPS_RESPONSE_MAX) {
		b->too_large = 1;
		return 0;
	}
	np = realloc(b->p, b->len + len + 1);
	if (!np)
		return 0;
	memcpy(np + b->len, data, len);
	b->p = np;
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

/* The server's Mattermost-shaped error, for the message. */
static void describe_http_error(mmapps_client *c, const struct body *b)
{
	json_t *j = b->p ? json_loadb(b->p, b->len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "message"));
	const char *id = json_string_value(json_object_get(j, "id"));

	if (msg)
		fail(c, MMAPPS_EHTTP, "HTTP %ld: %.300s (%.120s)", c->status, msg,
		     id ? id : "no id");
	else
		fail(c, MMAPPS_EHTTP, "HTTP %ld from the server", c->status);
	json_decref(j);
}

/* One request to ROUTE<path>. On MMAPPS_OK *out holds the 200/201 body. */
static int request(mmapps_client *c, const char *method, const char *path, const char *body,
		   size_t len, struct body *out)
{
	struct curl_slist *hdrs = NULL;
	char url[4096];
	CURLcode rc;
	CURL *h = c->curl;

	memset(out, 0, sizeof(*out));
	c->status = 0;
	c->error[0] = '\0';
	if ((size_t)snprintf(url, sizeof(url), "%s" ROUTE "%s", c->site_url, path) >= sizeof(url))
		return fail(c, MMAPPS_EINVAL, "the site URL is too long");
	hdrs = curl_slist_append(hdrs, c->auth_header);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (!hdrs)
		return fail(c, MMAPPS_ENOMEM, "out of memory");
	curl_easy_reset(h); /* keeps the connection */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "libmmapps/" MMAPPS_VERSION);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	curl_slist_free_all(hdrs);
	if (out->too_large) {
		free(out->p);
		out->p = NULL;
		return fail(c, MMAPPS_EPROTOCOL, "the answer is larger than 1 MiB");
	}
	if (rc != CURLE_OK) {
		free(out->p);
		out->p = NULL;
		c->status = 0;
		return fail(c, MMAPPS_ENETWORK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	}
	if (c->status != 200 && c->status != 201) {
		describe_http_error(c, out);
		free(out->p);
		out->p = NULL;
		return MMAPPS_EHTTP;
	}
	return MMAPPS_OK;
}

static int simple(mmapps_client *c, const char *method, const char *path, const char *body,
		  size_t len)
{
	struct body out;
	int rc = request(c, method, path, body, len, &out);

	free(out.p);
	return rc;
}

static int is_json(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY, NULL);

	json_decref(j);
	return j != NULL;
}

int mmapps_store_oauth2_app(mmapps_client *c, const struct mmapps_oauth2_app *app)
{
	json_t *o;
	char *text;
	int rc;

	if (!c || !app)
		return MMAPPS_EINVAL;
	o = json_object();
	if (!o)
		return fail(c, MMAPPS_ENOMEM, "out of memory");
	if (app->client_id)
		json_object_set_new(o, "client_id", json_string(app->client_id));
	if (app->client_secret)
		json_object_set_new(o, "client_secret", json_string(app->client_secret));
	if (app->remote_root_url)
		json_object_set_new(o, "remote_root_url", json_string(app->remote_root_url));
	if (app->data_json) {
		json_t *d = json_loads(app->data_json, JSON_DECODE_ANY, NULL);
		if (!d) {
			json_decref(o);
			return fail(c, MMAPPS_EINVAL, "data_json is not JSON");
		}
		json_object_set_new(o, "data", d);
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return fail(c, MMAPPS_EINVAL, "a member is not valid UTF-8");
	rc = simple(c, "POST", "app", text, strlen(text));
	wipe(text); /* it held the client secret */
	free(text);
	return rc;
}

int mmapps_store_oauth2_user(mmapps_client *c, const char *json, size_t len)
{
	if (!c || !json)
		return MMAPPS_EINVAL;
	if (!is_json(json, len))
		return fail(c, MMAPPS_EINVAL, "the user data is not JSON");
	return simple(c, "POST", "user", json, len);
}

int mmapps_get_oauth2_user(mmapps_client *c, char **json_out, size_t *len_out)
{
	struct body out;
	int rc;

	if (!c || !json_out)
		return MMAPPS_EINVAL;
	*json_out = NULL;
	if (len_out)
		*len_out = 0;
	rc = request(c, "GET", "user", NULL, 0, &out);
	if (rc != MMAPPS_OK)
		return rc;
	if (!out.p || !is_json(out.p, out.len)) {
		free(out.p);
		return fail(c, MMAPPS_EPROTOCOL, "the answer is not JSON");
	}
	if (out.len == 4 && memcmp(out.p, "null", 4) == 0) {
		free(out.p);
		return MMAPPS_OK; /* nothing stored */
	}
	*json_out = out.p;
	if (len_out)
		*len_out = out.len;
	return MMAPPS_OK;
}

int mmapps_delete_oauth2_user(mmapps_client *c)
{
	if (!c)
		return MMAPPS_EINVAL;
	return simple(c, "DELETE", "user", NULL, 0);
}
