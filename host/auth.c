#include "auth.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "urlencoded.h"
#include "banned.h"

static void set_token(struct auth_token *out, enum auth_source src, const char *t, size_t len)
{
	out->source = src;
	if (len > AUTH_TOKEN_MAX)
		len = AUTH_TOKEN_MAX; /* cannot match any token: lookups check the length */
	memcpy(out->token, t, len);
	out->token[len] = '\0';
	out->len = len;
}

/* "Bearer <t>" or "Token <t>", any case, one or more spaces. */
static bool from_authorization(const char *h, struct auth_token *out)
{
	static const char *const schemes[] = { "bearer", "token" };

	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(schemes[i]);
		if (strncasecmp(h, schemes[i], n) == 0 && (h[n] == ' ' || h[n] == '\t')) {
			const char *t = h + n;
			size_t len;
			while (*t == ' ' || *t == '\t')
				t++;
			len = strcspn(t, " \t");
			if (len == 0)
				return false;
			set_token(out, AUTH_SRC_HEADER, t, len);
			return true;
		}
	}
	return false;
}

void auth_extract(const char *authorization, const char *cookie, const char *query,
		  size_t query_len, struct auth_token *out)
{
	char buf[AUTH_TOKEN_MAX + 1];

	memset(out, 0, sizeof(*out));
	if (authorization && from_authorization(authorization, out))
		return;
	if (cookie && cookie_get(cookie, "MMAUTHTOKEN", buf, sizeof(buf)) == FORM_OK && buf[0]) {
		set_token(out, AUTH_SRC_COOKIE, buf, strlen(buf));
		return;
	}
	if (query && form_get(query, query_len, "access_token", buf, sizeof(buf)) == FORM_OK &&
	    buf[0]) {
		set_token(out, AUTH_SRC_QUERY, buf, strlen(buf));
		return;
	}
}

bool auth_csrf_ok(const char *method, const char *csrf_header, const struct host_session *s)
{
	size_t n;

	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return true;
	if (!csrf_header)
		return false;
	n = strlen(s->csrf);
	return n > 0 && strlen(csrf_header) == n && sodium_memcmp(csrf_header, s->csrf, n) == 0;
}

bool auth_is_app_session(const struct host_session *s)
{
	return session_prop(s, AUTH_APP_SESSION_PROP) != NULL;
}

enum auth_state auth_resolve(struct host_store *store, const struct auth_token *t,
			     const char *method, const char *csrf_header, bool cached_only,
			     struct host_session *out)
{
	int rc;

	if (t->source == AUTH_SRC_NONE)
		return AUTH_ANONYMOUS;
	rc = cached_only ? sessions_lookup_cached(store, t->token, t->len, out)
			 : sessions_lookup(store, t->token, t->len, out);
	switch (rc) {
	case SESSIONS_OK: break;
	case SESSIONS_ENOTCACHED: return AUTH_NOT_CACHED;
	case SESSIONS_EUNAVAILABLE: return AUTH_UNAVAILABLE;
	default: return AUTH_INVALID;
	}
	if (t->source == AUTH_SRC_COOKIE && !auth_csrf_ok(method, csrf_header, out))
		return AUTH_CSRF_FAILED;
	return AUTH_OK;
}
