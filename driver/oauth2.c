/* libmmapps: the OAuth2 provider's token endpoint (code exchange, refresh).
 * See include/mmapps/client.h for the contract. */
#include <mmapps/client.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transfer.h"
#include "banned.h"

#define URL_MAX 4096
#define STYLE_SLOTS 32
#define EXPIRES_IN_MAX (100LL * 365 * 24 * 3600)
#define DESCRIPTION_MAX 200

struct param {
	const char *name;
	const char *value; /* NULL: left out */
};

/* One token request: its grant's parameters and the values that must never
 * appear in an error message. */
struct grant {
	struct param params[4];
	const char *secrets[3];
	const char *old_refresh_token; /* kept when the answer has none */
};

/* What worked for a (token URL, client id), remembered for the process as
 * Go's oauth2 does: a BLAKE2b hash of the pair, and the style. */
static struct {
	unsigned char key[crypto_generichash_BYTES];
	enum mmapps_auth_style style;
} style_cache[STYLE_SLOTS];
static unsigned style_next;
static pthread_mutex_t style_lock = PTHREAD_MUTEX_INITIALIZER;

static void style_key(const struct mmapps_oauth2_config *cfg, unsigned char *key)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)cfg->token_url,
				  strlen(cfg->token_url) + 1);
	crypto_generichash_update(&st, (const unsigned char *)cfg->client_id,
				  strlen(cfg->client_id));
	crypto_generichash_final(&st, key, crypto_generichash_BYTES);
}

static enum mmapps_auth_style style_lookup(const unsigned char *key)
{
	enum mmapps_auth_style style = MMAPPS_AUTH_STYLE_AUTO;

	pthread_mutex_lock(&style_lock);
	for (size_t i = 0; i < STYLE_SLOTS; i++) {
		if (style_cache[i].style != MMAPPS_AUTH_STYLE_AUTO &&
		    memcmp(style_cache[i].key, key, crypto_generichash_BYTES) == 0)
			style = style_cache[i].style;
	}
	pthread_mutex_unlock(&style_lock);
	return style;
}

static void style_remember(const unsigned char *key, enum mmapps_auth_style style)
{
	pthread_mutex_lock(&style_lock);
	memcpy(style_cache[style_next].key, key, crypto_generichash_BYTES);
	style_cache[style_next].style = style;
	style_next = (style_next + 1) % STYLE_SLOTS;
	pthread_mutex_unlock(&style_lock);
}

static int fail(struct mmapps_oauth2_error *e, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct mmapps_oauth2_error *e, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return rc;
}

static int is_http_url(const char *url)
{
	return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

/* Appends s to form, percent-encoded; the encoded copy is wiped. */
static int append_encoded(CURL *h, struct mmapps_body *form, const char *s)
{
	char *enc = curl_easy_escape(h, s, 0);
	size_t n = enc ? strlen(enc) : 0;
	int ok = enc && mmapps_body_write(enc, 1, n, form) == n;

	mmapps_wipe_str(enc);
	curl_free(enc);
	return ok ? 0 : -1;
}

static int append_param(CURL *h, struct mmapps_body *form, const char *name, const char *value)
{
	if (!value)
		return 0;
	if (form->len && mmapps_body_write("&", 1, 1, form) != 1)
		return -1;
	if (mmapps_body_write((char *)name, 1, strlen(name), form) != strlen(name) ||
	    mmapps_body_write("=", 1, 1, form) != 1)
		return -1;
	return append_encoded(h, form, value);
}

/* "Authorization: Basic base64(urlencode(id):urlencode(secret))", as
 * RFC 6749 section 2.3.1 says and Go's oauth2 sends. */
static int basic_header(CURL *h, const struct mmapps_oauth2_config *cfg, struct curl_slist **list)
{
	static const char prefix[] = "Authorization: Basic ";
	struct mmapps_body pair = { 0 };
	char *header = NULL;
	size_t b64_len;
	int rc = -1;

	if (append_encoded(h, &pair, cfg->client_id) != 0 ||
	    mmapps_body_write(":", 1, 1, &pair) != 1 ||
	    append_encoded(h, &pair, cfg->client_secret ? cfg->client_secret : "") != 0)
		goto out;
	b64_len = sodium_base64_ENCODED_LEN(pair.len, sodium_base64_VARIANT_ORIGINAL);
	header = malloc(sizeof(prefix) - 1 + b64_len);
	if (!header)
		goto out;
	memcpy(header, prefix, sizeof(prefix) - 1);
	sodium_bin2base64(header + sizeof(prefix) - 1, b64_len, (const unsigned char *)pair.p,
			  pair.len, sodium_base64_VARIANT_ORIGINAL);
	rc = mmapps_headers_add(list, header);
out:
	mmapps_wipe_str(header);
	free(header);
	mmapps_body_free(&pair);
	return rc;
}

/* Copies the provider's text into out for a message: at most max bytes,
 * control characters as spaces; withheld when it repeats a secret. */
static void copy_provider_text(char *out, size_t cap, size_t max, const char *text,
			       const struct grant *g, const struct mmapps_oauth2_config *cfg)
{
	const char *secrets[] = { cfg->client_secret, g->secrets[0], g->secrets[1], g->secrets[2] };
	size_t n = 0;

	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if (secrets[i] && *secrets[i] && strstr(text, secrets[i])) {
			snprintf(out, cap, "(withheld: it repeated a secret)");
			return;
		}
	}
	for (; text[n] && n < max && n + 1 < cap; n++)
		out[n] = (unsigned char)text[n] < 0x20 || text[n] == 0x7f ? ' ' : text[n];
	out[n] = '\0';
}

/* The provider's refusal: its error and error_description. */
static int refused(struct mmapps_oauth2_error *e, const json_t *answer, const struct grant *g,
		   const struct mmapps_oauth2_config *cfg)
{
	const char *code = json_string_value(json_object_get(answer, "error"));
	const char *desc = json_string_value(json_object_get(answer, "error_description"));
	char d[DESCRIPTION_MAX + 1] = "";

	if (code)
		copy_provider_text(e->error, sizeof(e->error), sizeof(e->error) - 1, code, g, cfg);
	if (desc)
		copy_provider_text(d, sizeof(d), DESCRIPTION_MAX, desc, g, cfg);
	if (*e->error)
		return fail(e, MMAPPS_EHTTP, "the provider refused (HTTP %ld): %s%s%s", e->status,
			    e->error, *d ? ": " : "", d);
	return fail(e, MMAPPS_EHTTP, "the provider answered HTTP %ld", e->status);
}

/* One POST to the token URL with the client authenticated in style. On
 * MMAPPS_OK *answer is the provider's JSON object holding an access_token. */
static int attempt(CURL *h, const struct mmapps_oauth2_config *cfg, enum mmapps_auth_style style,
		   const struct grant *g, json_t **answer, struct mmapps_oauth2_error *e)
{
	struct mmapps_body form = { 0 }, out;
	struct curl_slist *hdrs = NULL;
	const json_t *access;
	json_t *j = NULL;
	CURLcode crc;
	int rc;

	*answer = NULL;
	memset(e, 0, sizeof(*e));
	mmapps_transfer_reset(h, cfg->timeout_ms > 0 ? cfg->timeout_ms : MMAPPS_DEFAULT_TIMEOUT_MS,
			      &out);
	for (size_t i = 0; i < sizeof(g->params) / sizeof(g->params[0]) && g->params[i].name; i++) {
		if (append_param(h, &form, g->params[i].name, g->params[i].value) != 0) {
			rc = fail(e, MMAPPS_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (style == MMAPPS_AUTH_STYLE_IN_PARAMS &&
	    (append_param(h, &form, "client_id", cfg->client_id) != 0 ||
	     append_param(h, &form, "client_secret",
			  cfg->client_secret && *cfg->client_secret ? cfg->client_secret : NULL))) {
		rc = fail(e, MMAPPS_ENOMEM, "out of memory");
		goto out;
	}
	if ((style == MMAPPS_AUTH_STYLE_IN_HEADER && basic_header(h, cfg, &hdrs) != 0) ||
	    mmapps_headers_add(&hdrs, "Content-Type: application/x-www-form-urlencoded") ||
	    mmapps_headers_add(&hdrs, "Accept: application/json") ||
	    mmapps_headers_add(&hdrs, "Expect:")) {
		rc = fail(e, MMAPPS_ENOMEM, "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, cfg->token_url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form.p ? form.p : "");
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form.len);
	crc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &e->status);
	if (out.too_large) {
		rc = fail(e, MMAPPS_EPROTOCOL, "the provider's answer is larger than 1 MiB");
		goto out;
	}
	if (out.no_memory) {
		rc = fail(e, MMAPPS_ENOMEM, "out of memory");
		goto out;
	}
	if (crc != CURLE_OK) {
		e->status = 0;
		rc = fail(e, MMAPPS_ENETWORK, "the token endpoint did not answer: %s",
			  curl_easy_strerror(crc));
		goto out;
	}
	j = out.p ? json_loadb(out.p, out.len, 0, NULL) : NULL;
	if (e->status < 200 || e->status > 299 ||
	    (json_string_length(json_object_get(j, "error")) > 0)) {
		rc = refused(e, j, g, cfg);
		goto out;
	}
	access = json_object_get(j, "access_token");
	if (!json_is_object(j)) {
		rc = fail(e, MMAPPS_EPROTOCOL,
			  "the provider's answer (HTTP %ld) is not a JSON object", e->status);
	} else if (!json_is_string(access) || json_string_length(access) == 0) {
		rc = fail(e, MMAPPS_EPROTOCOL, "the provider's answer has no access_token");
	} else {
		*answer = j;
		j = NULL;
		rc = MMAPPS_OK;
	}
out:
	json_decref(j);
	mmapps_headers_free(hdrs);
	mmapps_body_free(&form);
	mmapps_body_free(&out);
	return rc;
}

/* expires_in as a number of seconds (providers send a number or a string
 * of digits); 0 when absent, not positive or not a number. */
static long long expires_in(const json_t *v)
{
	long long n = 0;

	if (json_is_integer(v))
		n = (long long)json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) < (double)EXPIRES_IN_MAX)
		n = (long long)json_real_value(v);
	else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 12 &&
		 strspn(json_string_value(v), "0123456789") == json_string_length(v))
		n = strtoll(json_string_value(v), NULL, 10);
	if (n <= 0)
		return 0;
	return n > EXPIRES_IN_MAX ? EXPIRES_IN_MAX : n;
}

/* The oauth2.Token shape: access_token, token_type, refresh_token, expiry,
 * then the provider's other members. */
static json_t *token_of(const json_t *answer, const char *old_refresh, time_t now)
{
	static const char *const own[] = { "access_token", "token_type", "refresh_token",
					   "expires_in", "expiry" };
	const json_t *refresh = json_object_get(answer, "refresh_token");
	long long secs = expires_in(json_object_get(answer, "expires_in"));
	json_t *t = json_object(), *v;
	const char *key;

	if (!t)
		return NULL;
	json_object_set(t, "access_token", json_object_get(answer, "access_token"));
	if (json_is_string(json_object_get(answer, "token_type")))
		json_object_set(t, "token_type", json_object_get(answer, "token_type"));
	if (json_is_string(refresh) && json_string_length(refresh) > 0)
		json_object_set(t, "refresh_token", (json_t *)refresh);
	else if (old_refresh)
		json_object_set_new(t, "refresh_token", json_string(old_refresh));
	if (secs > 0) {
		time_t at = now + (time_t)secs;
		struct tm tm;
		char text[32];
		if (!gmtime_r(&at, &tm) ||
		    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
			json_decref(t);
			return NULL;
		}
		json_object_set_new(t, "expiry", json_string(text));
	}
	json_object_foreach((json_t *)answer, key, v)
	{
		int skip = 0;
		for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
			skip = skip || strcmp(key, own[i]) == 0;
		if (!skip)
			json_object_set(t, key, v);
	}
	return t;
}

/* Refusals that may mean "not this way of authenticating the client". */
static int try_the_form(int rc, const struct mmapps_oauth2_error *e)
{
	return rc == MMAPPS_EHTTP && (e->status == 400 || e->status == 401 || e->status == 403) &&
	       strcmp(e->error, "invalid_grant") != 0;
}

static int valid_arg(const char *s, int required)
{
	if (!s)
		return !required;
	return (!required || *s) && strnlen(s, MMAPPS_OAUTH2_ARG_MAX + 1) <= MMAPPS_OAUTH2_ARG_MAX;
}

static int token_request(const struct mmapps_oauth2_config *cfg, const struct grant *g,
			 char **token_json, size_t *len_out, struct mmapps_oauth2_error *err)
{
	unsigned char key[crypto_generichash_BYTES];
	enum mmapps_auth_style style;
	struct mmapps_oauth2_error e = { 0 };
	json_t *answer = NULL, *token = NULL;
	int probe, rc;
	CURL *h;

	if (!cfg || !cfg->token_url || !valid_arg(cfg->client_id, 1) ||
	    !valid_arg(cfg->client_secret, 0) || !valid_arg(cfg->redirect_url, 0)) {
		rc = fail(&e, MMAPPS_EINVAL, "the OAuth2 configuration lacks a client id or URL");
		goto out;
	}
	if (strnlen(cfg->token_url, URL_MAX + 1) > URL_MAX || !is_http_url(cfg->token_url)) {
		rc = fail(&e, MMAPPS_EINVAL, "the token URL is not an http(s) URL");
		goto out;
	}
	if (sodium_init() < 0 || !(h = curl_easy_init())) {
		rc = fail(&e, MMAPPS_ENOMEM, "out of memory");
		goto out;
	}
	style = cfg->auth_style;
	probe = style == MMAPPS_AUTH_STYLE_AUTO;
	if (probe) {
		style_key(cfg, key);
		style = style_lookup(key);
		probe = style == MMAPPS_AUTH_STYLE_AUTO;
		if (probe)
			style = MMAPPS_AUTH_STYLE_IN_HEADER;
	}
	rc = attempt(h, cfg, style, g, &answer, &e);
	if (probe && try_the_form(rc, &e)) {
		style = MMAPPS_AUTH_STYLE_IN_PARAMS;
		rc = attempt(h, cfg, style, g, &answer, &e);
	}
	curl_easy_cleanup(h);
	if (rc != MMAPPS_OK)
		goto out;
	if (probe)
		style_remember(key, style);
	token = token_of(answer, g->old_refresh_token, time(NULL));
	*token_json = token ? mmapps_json_text(token, len_out) : NULL;
	if (!*token_json)
		rc = fail(&e, MMAPPS_ENOMEM, "out of memory");
out:
	json_decref(token);
	json_decref(answer);
	if (err)
		*err = e;
	return rc;
}

int mmapps_oauth2_exchange(const struct mmapps_oauth2_config *cfg, const char *code,
			   const char *code_verifier, char **token_json, size_t *len_out,
			   struct mmapps_oauth2_error *err)
{
	struct grant g = {
		.params = { { "grant_type", "authorization_code" },
			    { "code", code },
			    { "redirect_uri", cfg ? cfg->redirect_url : NULL },
			    { "code_verifier", code_verifier } },
		.secrets = { code, code_verifier, NULL },
	};
	struct mmapps_oauth2_error e = { 0 };

	if (token_json)
		*token_json = NULL;
	if (len_out)
		*len_out = 0;
	if (!token_json || !valid_arg(code, 1) || !valid_arg(code_verifier, 0)) {
		if (err)
			*err = e;
		return err ? fail(err, MMAPPS_EINVAL, "no code, or a code or verifier too long")
			   : MMAPPS_EINVAL;
	}
	return token_request(cfg, &g, token_json, len_out, err);
}

int mmapps_oauth2_refresh(const struct mmapps_oauth2_config *cfg, const char *refresh_token,
			  char **token_json, size_t *len_out, struct mmapps_oauth2_error *err)
{
	struct grant g = {
		.params = { { "grant_type", "refresh_token" }, { "refresh_token", refresh_token } },
		.secrets = { refresh_token, NULL, NULL },
		.old_refresh_token = refresh_token,
	};
	struct mmapps_oauth2_error e = { 0 };

	if (token_json)
		*token_json = NULL;
	if (len_out)
		*len_out = 0;
	if (!token_json || !valid_arg(refresh_token, 1)) {
		if (err)
			*err = e;
		return err ? fail(err, MMAPPS_EINVAL, "no refresh token, or one too long")
			   : MMAPPS_EINVAL;
	}
	return token_request(cfg, &g, token_json, len_out, err);
}
