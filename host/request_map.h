/*
 * Request mapping: which handler serves a URL path. Pure functions, no I/O,
 * so that they can be unit-tested and fuzzed.
 */
#ifndef HOST_REQUEST_MAP_H
#define HOST_REQUEST_MAP_H

#include <stddef.h>

#define PLUGIN_ID_MAX 190

enum route_kind {
	ROUTE_NOT_FOUND = 0,
	ROUTE_SYSTEM_PING,    /* GET /api/v4/system/ping */
	ROUTE_USERS_LOGIN,    /* POST /api/v4/users/login */
	ROUTE_USERS_LOGOUT,   /* POST /api/v4/users/logout */
	ROUTE_USERS_CREATE,   /* POST /api/v4/users */
	ROUTE_USER_GET,       /* GET /api/v4/users/{id|me} */
	ROUTE_USER_TOKENS,    /* POST /api/v4/users/{id|me}/tokens */
	ROUTE_PLUGINS_LIST,   /* GET /api/v4/plugins */
	ROUTE_PLUGIN_ENABLE,  /* POST /api/v4/plugins/{id}/enable */
	ROUTE_PLUGIN_DISABLE, /* POST /api/v4/plugins/{id}/disable */
	ROUTE_LOGIN_PAGE,     /* GET, POST /login */
	ROUTE_LOGOUT_PAGE,    /* GET, POST /logout */
	ROUTE_HOME,           /* GET / */
	ROUTE_PLUGIN,         /* ANY /plugins/{id}[/...] */
	ROUTE_KIND_COUNT
};

struct route_match {
	enum route_kind kind;
	const char *allow; /* methods the route accepts, for 405's Allow; NULL: any */
	const char *param; /* the {id} segment of the path, if the route has one */
	size_t param_len;
	const char *plugin_id; /* ROUTE_PLUGIN: view into the path */
	size_t plugin_id_len;
	const char *subpath; /* ROUTE_PLUGIN: after /plugins/{id}; "/" when empty */
	size_t subpath_len;
};

/* Maps path[0..len) (URL-decoded, starting with '/') to a route. Always fills
 * *out; kind is ROUTE_NOT_FOUND for anything unknown or malformed. */
void request_map(const char *path, size_t len, struct route_match *out);

/* The pattern a host route kind is mapped from ("/api/v4/users/{id}"), or
 * NULL for ROUTE_NOT_FOUND and ROUTE_PLUGIN. Static storage. */
const char *request_map_pattern(enum route_kind kind);

/* True when method is one of the comma-separated names in allow. */
int request_method_allowed(const char *allow, const char *method);

/* True when s[0..len) is a valid plugin id: 1..190 of [A-Za-z0-9._-], not
 * "." or "..". */
int plugin_id_valid(const char *s, size_t len);

/* Splits a raw request target "path?query" at the first '?': *query points
 * after it (length 0 when there is none). */
void request_split_query(const char *target, size_t len, const char **query, size_t *query_len);

#endif
