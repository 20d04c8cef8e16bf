/*
 * Who is calling: the token of a request, in this order
 * (Authorization: Bearer|Token <t>, scheme case-insensitive; the MMAUTHTOKEN
 * cookie; ?access_token=), its session, and the CSRF rule for cookies.
 * A Mattermost-User-Id header is never read.
 */
#ifndef HOST_AUTH_H
#define HOST_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "sessions.h"
#include "host_store.h"

#define AUTH_TOKEN_MAX 64

enum auth_source { AUTH_SRC_NONE = 0, AUTH_SRC_HEADER, AUTH_SRC_COOKIE, AUTH_SRC_QUERY };

enum auth_state {
	AUTH_ANONYMOUS = 0, /* no token at all */
	AUTH_OK,            /* a live session */
	AUTH_INVALID,       /* a token that is unknown, revoked or expired */
	AUTH_CSRF_FAILED,   /* a cookie session without the right X-CSRF-Token */
	AUTH_UNAVAILABLE,   /* the store could not be reached to check the token */
	AUTH_NOT_CACHED,    /* not checked: only the store can tell, and it may wait */
};

struct auth_token {
	enum auth_source source;
	char token[AUTH_TOKEN_MAX + 1];
	size_t len;
};

/* Picks the request's token. authorization and cookie are header values (may
 * be NULL); query is the raw query string. A token longer than
 * AUTH_TOKEN_MAX is kept as an (invalid) over-long marker. */
void auth_extract(const char *authorization, const char *cookie, const char *query,
		  size_t query_len, struct auth_token *out);

/* True when a cookie-authenticated request may go on: GET and HEAD always;
 * other methods need csrf_header equal to the session's CSRF token
 * (compared in constant time). */
bool auth_csrf_ok(const char *method, const char *csrf_header, const struct host_session *s);

/* The prop that makes a session an App's: the Apps plugin mints sessions
 * with mattermost_app_id=<app> for the Apps it calls. */
#define AUTH_APP_SESSION_PROP "mattermost_app_id"

/* True when s is an App's session (it has the prop, whatever its value).
 * App sessions are scoped: routes.c lets them only read users and ping. */
bool auth_is_app_session(const struct host_session *s);

/* Resolves the token to a session and applies the CSRF rule. With
 * cached_only, only the session cache is asked (sessions_lookup_cached):
 * AUTH_NOT_CACHED when it cannot tell. */
enum auth_state auth_resolve(struct host_store *store, const struct auth_token *t,
			     const char *method, const char *csrf_header, bool cached_only,
			     struct host_session *out);

#endif
