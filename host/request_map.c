#include "request_map.h"

#include <string.h>

#include "path_pattern.h"
#include "banned.h"

#define PLUGINS_PREFIX "/plugins/"

int plugin_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > PLUGIN_ID_MAX)
		return 0;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

struct route_pattern {
	const char *pattern; /* literal segments and at most one "{id}" */
	enum route_kind kind;
	const char *allow;
};

static const struct route_pattern patterns[] = {
	{ "/api/v4/system/ping", ROUTE_SYSTEM_PING, "GET, HEAD" },
	{ "/api/v4/users/login", ROUTE_USERS_LOGIN, "POST" },
	{ "/api/v4/users/logout", ROUTE_USERS_LOGOUT, "POST" },
	{ "/api/v4/users", ROUTE_USERS_CREATE, "POST" },
	{ "/api/v4/users/{id}", ROUTE_USER_GET, "GET, HEAD" },
	{ "/api/v4/users/{id}/tokens", ROUTE_USER_TOKENS, "POST" },
	{ "/api/v4/plugins", ROUTE_PLUGINS_LIST, "GET, HEAD" },
	{ "/api/v4/plugins/{id}/enable", ROUTE_PLUGIN_ENABLE, "POST" },
	{ "/api/v4/plugins/{id}/disable", ROUTE_PLUGIN_DISABLE, "POST" },
	{ "/login", ROUTE_LOGIN_PAGE, "GET, HEAD, POST" },
	{ "/logout", ROUTE_LOGOUT_PAGE, "GET, HEAD, POST" },
	{ "/", ROUTE_HOME, "GET, HEAD" },
};

#define PARAM_MAX 190

void request_map(const char *path, size_t len, struct route_match *out)
{
	const size_t plen = sizeof(PLUGINS_PREFIX) - 1;

	memset(out, 0, sizeof(*out));
	out->kind = ROUTE_NOT_FOUND;
	if (len == 0 || path[0] != '/')
		return;
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		if (path_pattern_match(patterns[i].pattern, path, len, PARAM_MAX, &out->param,
				       &out->param_len)) {
			out->kind = patterns[i].kind;
			out->allow = patterns[i].allow;
			return;
		}
		out->param = NULL;
		out->param_len = 0;
	}
	if (len > plen && memcmp(path, PLUGINS_PREFIX, plen) == 0) {
		const char *id = path + plen;
		const char *slash = memchr(id, '/', len - plen);
		size_t id_len = slash ? (size_t)(slash - id) : len - plen;

		if (!plugin_id_valid(id, id_len))
			return;
		out->kind = ROUTE_PLUGIN;
		out->plugin_id = id;
		out->plugin_id_len = id_len;
		if (slash) {
			out->subpath = slash;
			out->subpath_len = len - plen - id_len;
		} else {
			out->subpath = "/";
			out->subpath_len = 1;
		}
	}
}

const char *request_map_pattern(enum route_kind kind)
{
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		if (patterns[i].kind == kind)
			return patterns[i].pattern;
	}
	return NULL;
}

int request_method_allowed(const char *allow, const char *method)
{
	size_t mlen = strlen(method);
	const char *p = allow;

	if (!allow)
		return 1;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == mlen && memcmp(p, method, n) == 0)
			return 1;
		p += n;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return 0;
}

void request_split_query(const char *target, size_t len, const char **query, size_t *query_len)
{
	const char *q = memchr(target, '?', len);

	if (!q) {
		*query = target + len;
		*query_len = 0;
		return;
	}
	*query = q + 1;
	*query_len = len - (size_t)(q + 1 - target);
}
