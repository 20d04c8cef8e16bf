/*
 * The host's route table: for each route, who may call it and its handler.
 * Authentication happens here, once, before any handler touches data.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host_request.h"
#include "html_page.h"
#include "http_metrics.h"
#include "log.h"
#include "metrics.h"
#include "banned.h"

enum route_auth {
	AUTH_NONE,    /* anyone; a bad token is ignored (e.g. a stale cookie at login) */
	AUTH_SESSION, /* a live session */
	AUTH_ADMIN,   /* a live session of a system admin */
	AUTH_PLUGIN,  /* anyone; the plugin gets the session when there is one */
};

/*
 * App sessions (a session with the prop mattermost_app_id: the tokens the
 * Apps plugin mints for an App, 10 minutes each) are scoped, whoever they
 * act for: an App reads users and pings, nothing else of the host's. So an
 * App can never mint a longer-lived token, nor use an admin's acting-user
 * token as the admin.
 */
enum route_apps {
	APPS_REFUSED = 0, /* an App session is 403 app_session_scope */
	APPS_ALLOWED,     /* GET /api/v4/users/me, /api/v4/users/{id}, /api/v4/system/ping */
	APPS_PLUGIN,      /* the plugin decides (it gets the session's props) */
};

typedef void (*host_handler)(struct host_request *r);

struct route_entry {
	enum route_kind kind;
	enum route_auth auth;
	enum route_apps apps;
	host_handler handler;
};

static void serve_plugin(struct host_request *r);

/* The methods of ROUTE_SYSTEM_PING and ROUTE_USER_GET are GET and HEAD only
 * (request_map.c): APPS_ALLOWED never lets an App write. */
static const struct route_entry table[] = {
	{ ROUTE_SYSTEM_PING, AUTH_NONE, APPS_ALLOWED, api_system_ping },
	{ ROUTE_USERS_LOGIN, AUTH_NONE, APPS_REFUSED, api_users_login },
	{ ROUTE_USERS_LOGOUT, AUTH_SESSION, APPS_REFUSED, api_users_logout },
	{ ROUTE_USERS_CREATE, AUTH_ADMIN, APPS_REFUSED, api_users_create },
	{ ROUTE_USER_GET, AUTH_SESSION, APPS_ALLOWED, api_user_get },
	{ ROUTE_USER_TOKENS, AUTH_SESSION, APPS_REFUSED, api_user_tokens },
	{ ROUTE_PLUGINS_LIST, AUTH_ADMIN, APPS_REFUSED, api_plugins_list },
	{ ROUTE_PLUGIN_ENABLE, AUTH_ADMIN, APPS_REFUSED, api_plugin_enable },
	{ ROUTE_PLUGIN_DISABLE, AUTH_ADMIN, APPS_REFUSED, api_plugin_disable },
	{ ROUTE_LOGIN_PAGE, AUTH_NONE, APPS_REFUSED, page_login },
	{ ROUTE_LOGOUT_PAGE, AUTH_NONE, APPS_REFUSED, page_logout },
	{ ROUTE_HOME, AUTH_NONE, APPS_REFUSED, page_home },
	{ ROUTE_PLUGIN, AUTH_PLUGIN, APPS_PLUGIN, serve_plugin },
};

const char *host_request_header(const struct host_request *r, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < r->headers_len; i++) {
		const struct mmplugin_header *h = &r->headers[i];
		if (h->name.len == n && strncasecmp(h->name.ptr, name, n) == 0)
			return h->value.ptr; /* NUL-terminated by libmicrohttpd */
	}
	return NULL;
}

void host_error(struct host_request *r, int status, const char *id, const char *message)
{
	response_free(r->resp);
	response_init(r->resp);
	if (response_error(r->resp, status, id, message, r->request_id) != 0)
		response_set_status(r->resp, 500);
}

void host_json(struct host_request *r, int status, const char *json)
{
	if (response_json(r->resp, status, json, strlen(json)) != 0)
		response_set_status(r->resp, 500);
}

void host_json_value(struct host_request *r, int status, json_t *value)
{
	char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(value);
	if (!text) {
		host_error(r, 500, "api.context.internal_error.app_error",
			   "The server could not encode its answer.");
		return;
	}
	host_json(r, status, text);
	/* It may hold a secret (a new token): the response has its copy. */
	sodium_memzero(text, strlen(text));
	free(text);
}

/* Sets r->rc: ROUTE_DEFER or ROUTE_ASYNC when the plugin said so. */
static void serve_plugin(struct host_request *r)
{
	struct mmplugin_session_prop props[SESSION_PROPS_MAX];
	struct mmplugin_session session;
	struct mmplugin_user user;
	struct mmplugin_request req;
	const struct route_match *m = &r->route;
	int rc;

	memset(&req, 0, sizeof(req));
	req.struct_size = sizeof(req);
	req.method = (struct mmplugin_str){ r->method, strlen(r->method) };
	req.path = (struct mmplugin_str){ m->subpath, m->subpath_len };
	req.query = (struct mmplugin_str){ r->query, r->query_len };
	req.request_id = (struct mmplugin_str){ r->request_id, strlen(r->request_id) };
	req.body = (struct mmplugin_str){ r->body ? r->body : "", r->body_len };
	req.headers = r->headers;
	req.headers_len = r->headers_len;
	req.remote_addr = (struct mmplugin_str){ r->remote, strlen(r->remote) };
	req.on_worker = r->on_worker;
	if (r->auth == AUTH_OK) {
		const struct host_session *s = &r->session;
		for (size_t i = 0; i < s->props_len; i++) {
			props[i].key =
				(struct mmplugin_str){ s->props[i].key, strlen(s->props[i].key) };
			props[i].value = (struct mmplugin_str){ s->props[i].value,
								strlen(s->props[i].value) };
		}
		session = (struct mmplugin_session){
			.id = { s->id, strlen(s->id) },
			.user_id = { s->user_id, strlen(s->user_id) },
			.props = props,
			.props_len = s->props_len,
			.create_at_ms = s->create_at,
			.expires_at_ms = s->expires_at,
		};
		req.session = &session;
		user_to_plugin(&s->user, &user);
		req.session_user = &user;
		req.session_source = r->token.source == AUTH_SRC_HEADER   ? MMPLUGIN_SESSION_HEADER
				     : r->token.source == AUTH_SRC_COOKIE ? MMPLUGIN_SESSION_COOKIE
									  : MMPLUGIN_SESSION_QUERY;
	}
	rc = plugin_registry_serve(r->host->plugins, m->plugin_id, m->plugin_id_len, &req, r->resp);
	if (rc == REGISTRY_SERVE_NONE) {
		host_not_found(r, "api.plugin.not_found.app_error",
			       "No active plugin has this id.");
		return;
	}
	if (rc == MMPLUGIN_DEFER && !r->on_worker) {
		/* Whatever it touched (it should not have) is dropped. */
		response_free(r->resp);
		response_init(r->resp);
		r->rc = ROUTE_DEFER;
		return;
	}
	if (rc == MMPLUGIN_ASYNC) {
		r->rc = ROUTE_ASYNC;
		return;
	}
	if (rc != MMPLUGIN_DONE) {
		log_kv(LOG_ERROR, "plugin returned an unknown serve code (or deferred on a worker)",
		       "path", r->path, "request_id", r->request_id, NULL);
		host_error(r, 500, "api.plugin.no_response.app_error",
			   "The plugin did not answer the request.");
		return;
	}
	if (!r->resp->touched) {
		log_kv(LOG_ERROR, "plugin set no response", "path", r->path, "request_id",
		       r->request_id, NULL);
		host_error(r, 500, "api.plugin.no_response.app_error",
			   "The plugin did not answer the request.");
	}
}

/* Applies the route's rules; false when r was answered with an error. */
static bool check_caller(struct host_request *r, const struct route_entry *e)
{
	enum route_auth need = e->auth;

	if (r->auth == AUTH_OK && e->apps == APPS_REFUSED && auth_is_app_session(&r->session)) {
		log_kv(LOG_WARN, "App session refused", "path", r->path, "request_id",
		       r->request_id, NULL);
		host_error(r, 403, "api.context.app_session_scope.app_error",
			   "An App's token may only read users and ping the server.");
		return false;
	}
	if (need == AUTH_NONE)
		return true;
	/* Not a 401: the token may be good, and a client told 401 drops it. */
	if (r->auth == AUTH_UNAVAILABLE) {
		host_error(r, 503, "api.store.unavailable.app_error",
			   "The database cannot be reached; try again shortly.");
		return false;
	}
	if (need == AUTH_PLUGIN)
		return true;
	if (r->auth == AUTH_CSRF_FAILED) {
		log_kv(LOG_WARN, "CSRF check failed", "path", r->path, "request_id", r->request_id,
		       NULL);
		host_error(r, 401, "api.context.csrf_check_failed.app_error",
			   "A request authenticated by cookie must carry X-CSRF-Token.");
		return false;
	}
	/* sessions_lookup read the user and checked it is active. */
	if (r->auth != AUTH_OK) {
		host_error(r, 401, "api.context.session_expired.app_error",
			   "Invalid or expired session, please login again.");
		return false;
	}
	r->user = r->session.user;
	if (need == AUTH_ADMIN && !user_is_admin(&r->user)) {
		host_error(r, 403, "api.context.permissions.app_error",
			   "You do not have the appropriate permissions.");
		return false;
	}
	return true;
}

/* Whether serving r may block its thread (a password hash, a store write
 * that waits for its commit, activating a plugin, and, when store_waits, a
 * store read: PostgreSQL is a network round trip): such requests go to a
 * worker. Everything else only reads memory or LMDB (cheap, never waits on
 * a lock held across a commit) and runs on the I/O thread. */
static bool route_blocks(const struct host_request *r, bool store_waits)
{
	switch (r->route.kind) {
	case ROUTE_USERS_LOGIN:
	case ROUTE_USERS_LOGOUT:
	case ROUTE_USERS_CREATE:
	case ROUTE_USER_TOKENS:
	case ROUTE_PLUGIN_ENABLE:
	case ROUTE_PLUGIN_DISABLE: return true;
	/* The landing page asks the plugin in-process (plugin_subrequest.c,
	 * which says on_worker): a worker, not an I/O thread. */
	case ROUTE_HOME: return true;
	/* The health check reads the store and waits for plugin changes. */
	case ROUTE_SYSTEM_PING: return api_system_ping_blocks(r);
	case ROUTE_LOGIN_PAGE:
	case ROUTE_LOGOUT_PAGE:
		return strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0;
	/* Another user than the session's own is read from the store. */
	case ROUTE_USER_GET:
		return store_waits &&
		       !(r->route.param_len == 2 && memcmp(r->route.param, "me", 2) == 0);
	default: return false;
	}
}

enum route_rc routes_serve(struct host_request *r)
{
	const struct route_entry *e = NULL;
	bool store_waits;

	request_map(r->path, strlen(r->path), &r->route);
	r->metric_route = http_metrics_route(
		r->route.kind, r->route.kind == ROUTE_PLUGIN && metrics_enabled()
				       ? plugin_registry_index(r->host->plugins, r->route.plugin_id,
							       r->route.plugin_id_len)
				       : -1);
	if (r->route.kind == ROUTE_NOT_FOUND) {
		host_not_found(r, "api.context.404.app_error",
			       "Sorry, we could not find the page.");
		return ROUTE_DONE;
	}
	if (!request_method_allowed(r->route.allow, r->method)) {
		host_error(r, 405, "api.context.method_not_allowed.app_error",
			   "This method is not allowed on this route.");
		(void)response_add_header(r->resp, "Allow", 5, r->route.allow,
					  strlen(r->route.allow));
		return ROUTE_DONE;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].kind == r->route.kind)
			e = &table[i];
	}
	if (!e) {
		host_not_found(r, "api.context.404.app_error",
			       "Sorry, we could not find the page.");
		return ROUTE_DONE;
	}
	store_waits = !r->on_worker && store_reads_block(r->host->store->st);
	if (!r->on_worker && route_blocks(r, store_waits))
		return ROUTE_DEFER;
	/* A session lookup is a cache hit or one LMDB read: inline. When a
	 * store read may wait (PostgreSQL), an I/O thread asks the session
	 * cache only, and a session it does not hold is looked up on a
	 * worker. */
	auth_extract(host_request_header(r, "Authorization"), host_request_header(r, "Cookie"),
		     r->query, r->query_len, &r->token);
	r->auth = auth_resolve(r->host->store, &r->token, r->method,
			       host_request_header(r, "X-CSRF-Token"), store_waits, &r->session);
	if (r->auth == AUTH_NOT_CACHED)
		return ROUTE_DEFER;
	if (!check_caller(r, e))
		return ROUTE_DONE;
	r->rc = ROUTE_DONE;
	e->handler(r);
	return r->rc;
}
