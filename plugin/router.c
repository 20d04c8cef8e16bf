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

/* Where a route's handler may run. */
enum route_thread {
	/* Reads memory or the store only: on the host's HTTP I/O thread when
	 * the store's reads never wait (store_reads_block false: LMDB), else
	 * deferred to a worker (PostgreSQL: a read waits on the network). */
	RUN_INLINE = 0,
	/* Waits for a disk commit (group commit, App records, states), mints
	 * tokens (the host's store) or calls an App: deferred to a worker. */
	RUN_WORKER = 1,
	/* Reads memory only: on the I/O thread whatever the store. */
	RUN_MEMORY = 2,
};

struct route {
	const char *pattern;
	const char *method;
	route_handler handler;
	enum route_callers callers;
	enum route_thread thread;
};

/* GET routes also answer HEAD (the host sends no body for HEAD). */
static const struct route routes[] = {
	{ "/api/v1/ping", "GET", api_ping, PEOPLE, RUN_MEMORY },
	{ "/api/v1/update-app-listing", "POST", api_update_app_listing, PEOPLE, RUN_WORKER },
	{ "/api/v1/install-app", "POST", api_install_app, PEOPLE, RUN_WORKER },
	{ "/api/v1/enable-app", "POST", api_enable_app, PEOPLE, RUN_WORKER },
	{ "/api/v1/disable-app", "POST", api_disable_app, PEOPLE, RUN_WORKER },
	{ "/api/v1/uninstall-app", "POST", api_uninstall_app, PEOPLE, RUN_WORKER },
	{ "/api/v1/apps", "GET", api_apps_list, PEOPLE, RUN_INLINE },
	{ "/api/v1/apps/{id}", "GET", api_app_get, PEOPLE, RUN_INLINE },
	{ "/api/v1/call", "POST", api_call, PEOPLE, RUN_WORKER },
	{ "/api/v1/connections", "GET", api_connections, PEOPLE, RUN_INLINE },
	{ "/api/v1/admin/app-token", "POST", api_admin_app_token, PEOPLE, RUN_WORKER },
	{ "/api/v1/oauth2/app", "POST", api_oauth2_app, APPS_TOO, RUN_WORKER },
	{ "/api/v1/oauth2/app", "PUT", api_oauth2_app, APPS_TOO, RUN_WORKER },
	{ "/api/v1/oauth2/user", "POST", api_oauth2_user, APPS_TOO, RUN_WORKER },
	{ "/api/v1/oauth2/user", "PUT", api_oauth2_user, APPS_TOO, RUN_WORKER },
	{ "/api/v1/oauth2/user", "GET", api_oauth2_user, APPS_TOO, RUN_INLINE },
	{ "/api/v1/oauth2/user", "DELETE", api_oauth2_user, APPS_TOO, RUN_WORKER },
	{ "/apps/{id}/oauth2/remote/connect", "GET", api_flow_connect, PEOPLE, RUN_WORKER },
	{ "/apps/{id}/oauth2/remote/complete", "GET", api_flow_complete, PEOPLE, RUN_WORKER },
};

#define ROUTES_LEN (sizeof(routes) / sizeof(routes[0]))
#define ALLOW_MAX 128

/* Hosts before ABI 1.3 call serve_http on workers only. */
static bool request_on_worker(const struct mmplugin_request *req)
{
	return !MMPLUGIN_HAS(req, struct mmplugin_request, on_worker) || req->on_worker;
}

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

static bool method_matches(const struct route *r, struct mmplugin_str method)
{
	return str_is(method, r->method) ||
	       (strcmp(r->method, "GET") == 0 && str_is(method, "HEAD"));
}

void router_dispatch(struct apps_call *c)
{
	const struct mmplugin_request *req = c->req;
	char allow[ALLOW_MAX], param[PARAM_MAX + 1];
	int path_known = 0;

	for (size_t i = 0; i < ROUTES_LEN; i++) {
		const struct route *r = &routes[i];

		if (!match(r->pattern, req->path, param))
			continue;
		path_known = 1;
		if (!method_matches(r, req->method))
			continue;
		if (!request_on_worker(req) &&
		    (r->thread == RUN_WORKER ||
		     (r->thread == RUN_INLINE && apps_store_reads_block(&c->plugin->store)))) {
			c->deferred = true; /* before touching the response */
			return;
		}
		c->param = param;
		caller_init(c);
		if (caller_in_scope(c, r->callers == APPS_TOO))
			r->handler(c);
		return;
	}
	if (!path_known) {
		reply_error(c, 404, "api.context.404.app_error",
			    "Sorry, we could not find the page.");
		return;
	}
	/* 405: a second pass lists the path's methods (only a wrong method
	 * pays for it). */
	allow[0] = '\0';
	for (size_t i = 0; i < ROUTES_LEN; i++) {
		if (!match(routes[i].pattern, req->path, param))
			continue;
		allow_append(allow, sizeof(allow), routes[i].method);
		if (strcmp(routes[i].method, "GET") == 0)
			allow_append(allow, sizeof(allow), "HEAD");
	}
	c->plugin->api->response_add_header(c->resp, "Allow", 5, allow, strlen(allow));
	reply_error(c, 405, "api.context.method_not_allowed.app_error",
		    "This method is not allowed on this route.");
}
