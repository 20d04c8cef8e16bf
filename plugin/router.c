#include "router.h"

#include <stdio.h>
#include <string.h>

#include "path_pattern.h"
#include "banned.h"

#define PARAM_MAX 64

/* Who may call a route, before its handler's own checks. */
enum route_callers {
	PEOPLE = 0, /* an App's session is refused (403 app_session_scope) */
	APPS_TOO,   /* App sessions too: the OAuth2 routes Apps store through */
};

struct route {
	const char *pattern;
	const char *method;
	route_handler handler;
	enum route_callers callers;
};

/* GET routes also answer HEAD (the host sends no body for HEAD). */
static const struct route routes[] = {
	{ "/api/v1/ping", "GET", api_ping, PEOPLE },
	{ "/api/v1/update-app-listing", "POST", api_update_app_listing, PEOPLE },
	{ "/api/v1/install-app", "POST", api_install_app, PEOPLE },
	{ "/api/v1/enable-app", "POST", api_enable_app, PEOPLE },
	{ "/api/v1/disable-app", "POST", api_disable_app, PEOPLE },
	{ "/api/v1/uninstall-app", "POST", api_uninstall_app, PEOPLE },
	{ "/api/v1/apps", "GET", api_apps_list, PEOPLE },
	{ "/api/v1/apps/{id}", "GET", api_app_get, PEOPLE },
	{ "/api/v1/call", "POST", api_call, PEOPLE },
	{ "/api/v1/connections", "GET", api_connections, PEOPLE },
	{ "/api/v1/admin/app-token", "POST", api_admin_app_token, PEOPLE },
	{ "/api/v1/oauth2/app", "POST", api_oauth2_app, APPS_TOO },
	{ "/api/v1/oauth2/app", "PUT", api_oauth2_app, APPS_TOO },
	{ "/api/v1/oauth2/user", "POST", api_oauth2_user, APPS_TOO },
	{ "/api/v1/oauth2/user", "PUT", api_oauth2_user, APPS_TOO },
	{ "/api/v1/oauth2/user", "GET", api_oauth2_user, APPS_TOO },
	{ "/api/v1/oauth2/user", "DELETE", api_oauth2_user, APPS_TOO },
	{ "/apps/{id}/oauth2/remote/connect", "GET", api_flow_connect, PEOPLE },
	{ "/apps/{id}/oauth2/remote/complete", "GET", api_flow_complete, PEOPLE },
};

#define ROUTES_LEN (sizeof(routes) / sizeof(routes[0]))
#define ALLOW_MAX 128

static int str_is(struct mmplugin_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* Matches path against pattern, copying the {id} segment into param. */
static int match(const char *pattern, struct mmplugin_str path, char param[PARAM_MAX + 1])
{
	const char *seg;
	size_t len;

	param[0] = '\0';
	if (!path_pattern_match(pattern, path.ptr, path.len, PARAM_MAX, &seg, &len))
		return 0;
	memcpy(param, seg ? seg : "", len);
	param[len] = '\0';
	return 1;
}

static void allow_append(char *allow, size_t cap, const char *method)
{
	size_t len = strlen(allow);

	if (strstr(allow, method))
		return;
	snprintf(allow + len, cap - len, "%s%s", len ? ", " : "", method);
}

void router_dispatch(struct apps_call *c)
{
	const struct mmplugin_request *req = c->req;
	char allow[ALLOW_MAX] = "", param[PARAM_MAX + 1];
	int path_known = 0;

	for (size_t i = 0; i < ROUTES_LEN; i++) {
		const struct route *r = &routes[i];

		if (!match(r->pattern, req->path, param))
			continue;
		path_known = 1;
		if (str_is(req->method, r->method) ||
		    (strcmp(r->method, "GET") == 0 && str_is(req->method, "HEAD"))) {
			c->param = param;
			caller_init(c);
			if (caller_in_scope(c, r->callers == APPS_TOO))
				r->handler(c);
			return;
		}
		allow_append(allow, sizeof(allow), r->method);
		if (strcmp(r->method, "GET") == 0)
			allow_append(allow, sizeof(allow), "HEAD");
	}
	if (!path_known) {
		reply_error(c, 404, "api.context.404.app_error",
			    "Sorry, we could not find the page.");
		return;
	}
	c->plugin->api->response_add_header(c->resp, "Allow", 5, allow, strlen(allow));
	reply_error(c, 405, "api.context.method_not_allowed.app_error",
		    "This method is not allowed on this route.");
}
