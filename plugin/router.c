#include "router.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

struct route {
	const char *path;
	const char *method;
	route_handler handler;
};

/* GET routes also answer HEAD (the host sends no body for HEAD). */
static const struct route routes[] = {
	{"/api/v1/ping", "GET", api_ping},
};

#define ROUTES_LEN (sizeof(routes) / sizeof(routes[0]))
#define ALLOW_MAX 128

static int str_is(struct mmplugin_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(s.ptr, lit, n) == 0;
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
	char allow[ALLOW_MAX] = "";
	int path_known = 0;

	for (size_t i = 0; i < ROUTES_LEN; i++) {
		const struct route *r = &routes[i];

		if (!str_is(req->path, r->path))
			continue;
		path_known = 1;
		if (str_is(req->method, r->method) ||
		    (strcmp(r->method, "GET") == 0 && str_is(req->method, "HEAD"))) {
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
