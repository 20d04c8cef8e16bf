#include "login_csrf.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "urlencoded.h"
#include "banned.h"

#define RAW_LEN 32

static const char *cookie_name(const struct host_request *r)
{
	return r->secure ? "__Host-MMLOGINCSRF" : "MMLOGINCSRF";
}

/* "scheme://host[:port]" of url into out, lower-case, without a default
 * port; "" when url has no such start. */
static void origin_of(const char *url, char *out, size_t cap)
{
	const char *host = strstr(url, "://");
	size_t len, scheme_len;

	out[0] = '\0';
	if (!host)
		return;
	scheme_len = (size_t)(host - url);
	host += 3;
	len = strcspn(host, "/?#");
	if (len == 0 || scheme_len + 3 + len >= cap)
		return;
	for (size_t i = 0; i < scheme_len + 3 + len; i++) {
		char c = url[i];
		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[scheme_len + 3 + len] = '\0';
	len = strlen(out);
	if (strncmp(out, "http://", 7) == 0 && len > 3 && strcmp(out + len - 3, ":80") == 0)
		out[len - 3] = '\0';
	else if (strncmp(out, "https://", 8) == 0 && len > 4 && strcmp(out + len - 4, ":443") == 0)
		out[len - 4] = '\0';
}

static bool origin_ok(const struct host_request *r, const char *origin)
{
	const char *host = host_request_header(r, "Host");
	char site[512], got[512];
	const char *rest;

	origin_of(r->host->site_url ? r->host->site_url : "", site, sizeof(site));
	origin_of(origin, got, sizeof(got));
	if (!got[0] || strlen(origin) != strlen(got))
		return false; /* "null", or more than an origin */
	if (site[0] && strcmp(got, site) == 0)
		return true;
	/* The origin the browser used: the page and the POST went to the same
	 * scheme and host, so Origin names the Host the browser sent. */
	if (strncmp(got, "http://", 7) == 0)
		rest = got + 7;
	else if (strncmp(got, "https://", 8) == 0)
		rest = got + 8;
	else
		return false;
	return host && *host && strcasecmp(rest, host) == 0;
}

bool login_csrf_same_site(const struct host_request *r)
{
	const char *origin = host_request_header(r, "Origin");
	const char *fetch_site = host_request_header(r, "Sec-Fetch-Site");

	/* A page with Referrer-Policy: no-referrer (every page here) makes
	 * the browser send "Origin: null" on its own form POST; then the
	 * browser's Sec-Fetch-Site must say same-origin. */
	if (origin && !origin_ok(r, origin) &&
	    !(strcmp(origin, "null") == 0 && fetch_site && strcmp(fetch_site, "same-origin") == 0))
		return false;
	if (fetch_site && strcmp(fetch_site, "same-origin") != 0 && strcmp(fetch_site, "none") != 0)
		return false;
	return true;
}

static bool well_formed(const char *t)
{
	if (strlen(t) != LOGIN_CSRF_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < LOGIN_CSRF_TOKEN_LEN; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* The request's cookie, when well formed. */
static bool cookie_token(const struct host_request *r, char out[LOGIN_CSRF_TOKEN_LEN + 1])
{
	const char *cookie = host_request_header(r, "Cookie");

	return cookie &&
	       cookie_get(cookie, cookie_name(r), out, LOGIN_CSRF_TOKEN_LEN + 1) == FORM_OK &&
	       well_formed(out);
}

static void set_cookie(struct host_request *r, const char *value, int max_age)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s",
			 cookie_name(r), value, max_age, r->secure ? "; Secure" : "");

	if (n > 0 && (size_t)n < sizeof(buf))
		(void)response_add_header(r->resp, "Set-Cookie", 10, buf, (size_t)n);
}

void login_csrf_token(struct host_request *r, char out[LOGIN_CSRF_TOKEN_LEN + 1])
{
	unsigned char raw[RAW_LEN];

	if (!cookie_token(r, out)) {
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(out, LOGIN_CSRF_TOKEN_LEN + 1, raw, sizeof(raw),
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		sodium_memzero(raw, sizeof(raw));
	}
	set_cookie(r, out, LOGIN_CSRF_MAX_AGE_S);
}

bool login_csrf_check(const struct host_request *r, const char *form_token)
{
	char cookie[LOGIN_CSRF_TOKEN_LEN + 1];
	bool ok;

	if (!form_token || !well_formed(form_token) || !cookie_token(r, cookie))
		return false;
	ok = sodium_memcmp(cookie, form_token, LOGIN_CSRF_TOKEN_LEN) == 0;
	sodium_memzero(cookie, sizeof(cookie));
	return ok;
}

void login_csrf_clear(struct host_request *r)
{
	set_cookie(r, "", 0);
}
