/* libmmapps: see include/mmapps/client.h for the contract. */
#include <mmapps/client.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transfer.h"
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
	mmapps_wipe_str(c->auth_header);
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
	mmapps_wipe_str(p); /* every string the library returns is NUL-terminated */
	free(p);
}

/* The server's Mattermost-shaped error, for the message. */
static void describe_http_error(mmapps_client *c, const struct mmapps_body *b)
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
		   size_t len, struct mmapps_body *out)
{
	struct curl_slist *hdrs = NULL;
	char url[4096];
	CURLcode rc;
	CURL *h = c->curl;

	mmapps_transfer_reset(h, c->timeout_ms, out);
	c->status = 0;
	c->error[0] = '\0';
	if ((size_t)snprintf(url, sizeof(url), "%s" ROUTE "%s", c->site_url, path) >= sizeof(url))
		return fail(c, MMAPPS_EINVAL, "the site URL is too long");
	if (mmapps_headers_add(&hdrs, c->auth_header) ||
	    mmapps_headers_add(&hdrs, "Content-Type: application/json") ||
	    mmapps_headers_add(&hdrs, "Accept: application/json") ||
	    mmapps_headers_add(&hdrs, "Expect:"))
		return fail(c, MMAPPS_ENOMEM, "out of memory");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	mmapps_headers_free(hdrs);
	if (out->too_large) {
		mmapps_body_free(out);
		return fail(c, MMAPPS_EPROTOCOL, "the answer is larger than 1 MiB");
	}
	if (out->no_memory) {
		mmapps_body_free(out);
		return fail(c, MMAPPS_ENOMEM, "out of memory");
	}
	if (rc != CURLE_OK) {
		mmapps_body_free(out);
		c->status = 0;
		return fail(c, MMAPPS_ENETWORK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	}
	if (c->status != 200 && c->status != 201) {
		describe_http_error(c, out);
		mmapps_body_free(out);
		return MMAPPS_EHTTP;
	}
	return MMAPPS_OK;
}

static int simple(mmapps_client *c, const char *method, const char *path, const char *body,
		  size_t len)
{
	struct mmapps_body out;
	int rc = request(c, method, path, body, len, &out);

	mmapps_body_free(&out);
	return rc;
}

static int is_json(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY, NULL);

	json_decref(j);
	return j != NULL;
}

/* Sets o[key] = value when value is not NULL; -1 when it is not UTF-8. */
static int set_string(json_t *o, const char *key, const char *value)
{
	return value ? json_object_set_new(o, key, json_string(value)) : 0;
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
	if (set_string(o, "client_id", app->client_id) ||
	    set_string(o, "client_secret", app->client_secret) ||
	    set_string(o, "remote_root_url", app->remote_root_url) ||
	    set_string(o, "token_url", app->token_url)) {
		json_decref(o);
		return fail(c, MMAPPS_EINVAL, "a member is not valid UTF-8");
	}
	if (app->data_json) {
		json_t *d = json_loads(app->data_json, JSON_DECODE_ANY, NULL);
		if (!d) {
			json_decref(o);
			return fail(c, MMAPPS_EINVAL, "data_json is not JSON");
		}
		json_object_set_new(o, "data", d);
	}
	text = mmapps_json_text(o, NULL);
	json_decref(o);
	if (!text)
		return fail(c, MMAPPS_ENOMEM, "out of memory");
	rc = simple(c, "POST", "app", text, strlen(text));
	mmapps_wipe_str(text); /* it held the client secret */
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
	struct mmapps_body out;
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
		mmapps_body_free(&out);
		return fail(c, MMAPPS_EPROTOCOL, "the answer is not JSON");
	}
	if (out.len == 4 && memcmp(out.p, "null", 4) == 0) {
		mmapps_body_free(&out);
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
