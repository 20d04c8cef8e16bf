/*
 * What the host's own route handlers work with: the server's shared state
 * (store, plugins, limiter) and one request, already authenticated.
 */
#ifndef HOST_HOST_REQUEST_H
#define HOST_HOST_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <mmplugin/plugin.h>

#include "auth.h"
#include "config.h"
#include "login_limiter.h"
#include "plugin_registry.h"
#include "request_map.h"
#include "response.h"
#include "host_store.h"
#include "users.h"

/* Lifetime of a session made by logging in. */
#define LOGIN_SESSION_MS (30LL * 24 * 3600 * 1000)

struct audit_log;

struct host_ctx {
	const struct host_config *cfg;
	struct host_store *store;
	struct audit_log *audit; /* the node's audit trail (logins) */
	struct plugin_registry *plugins;
	struct login_limiter limiter;
	const char *site_url;
	bool secure_cookies; /* site_url is https */
};

/* What routes_serve did. */
enum route_rc {
	ROUTE_DONE = 0,  /* r->resp holds the answer */
	ROUTE_DEFER = 1, /* nothing was answered: serving may block; call again on a worker */
	ROUTE_ASYNC = 2, /* a plugin holds r->resp and finishes it later (response_finish) */
};

struct host_request {
	struct host_ctx *host;
	/* false on an HTTP I/O thread, where nothing may block (see
	 * routes_serve); true on a worker. */
	bool on_worker;
	const char *method;
	const char *path;  /* URL-decoded */
	const char *query; /* raw, without '?' */
	size_t query_len;
	const char *body;
	size_t body_len;
	const char *request_id;
	const char *remote; /* the client: the peer, or as a trusted proxy says */
	bool secure;        /* https: site_url is, or a trusted proxy says the client used it */
	const struct mmplugin_header *headers;
	size_t headers_len;
	struct route_match route;
	unsigned metric_route; /* the route's label (http_metrics.h), set by routes_serve */
	enum auth_state auth;
	struct auth_token token;
	struct host_session session; /* when auth == AUTH_OK */
	struct host_user user;       /* the session's user, on routes that need one */
	struct mmplugin_response *resp;
	enum route_rc rc; /* set by the plugin route; the host's handlers leave ROUTE_DONE */
};

/* The first value of header name (case-insensitive), NUL-terminated, or
 * NULL. */
const char *host_request_header(const struct host_request *r, const char *name);

/* Serves r through the route table (auth checks included). With
 * r->on_worker false it runs on an HTTP I/O thread and returns ROUTE_DEFER,
 * before touching r->resp, for anything that may block (a password hash, a
 * store write, a plugin that defers, and when the store's reads may wait
 * (store_reads_block: PostgreSQL) a session the session cache does not hold
 * or a route that reads the store); routing and authentication have no
 * side effects, so the worker runs it all again. */
enum route_rc routes_serve(struct host_request *r);

/* Answers r with a Mattermost-shaped error. */
void host_error(struct host_request *r, int status, const char *id, const char *message);
/* Answers r with JSON text (Content-Type: application/json). */
void host_json(struct host_request *r, int status, const char *json);
/* Answers r with a JSON value (consumed). 500 when it cannot be encoded. */
void host_json_value(struct host_request *r, int status, json_t *value);

/* Route handlers, one file per resource. */
void api_system_ping(struct host_request *r);
/* Whether the ping asks for the server's health (get_server_status=true),
 * which may wait for the store: served on a worker. */
bool api_system_ping_blocks(const struct host_request *r);
void api_users_login(struct host_request *r);
void api_users_logout(struct host_request *r);
void api_users_create(struct host_request *r);
void api_user_get(struct host_request *r);
void api_user_tokens(struct host_request *r);
void api_plugins_list(struct host_request *r);
void api_plugin_enable(struct host_request *r);
void api_plugin_disable(struct host_request *r);
void page_login(struct host_request *r);
void page_home(struct host_request *r);
void page_logout(struct host_request *r);

#endif
