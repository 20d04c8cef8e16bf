/*
 * The plugin's route table: a path pattern (literal segments and at most one
 * "{id}") and the handler for each method. An unknown path is 404; a known
 * path with another method is 405 with an Allow header listing its methods.
 */
#ifndef PLUGIN_ROUTER_H
#define PLUGIN_ROUTER_H

#include "plugin.h"

typedef void (*route_handler)(struct apps_call *c);

/* Serves c->req through the table. On an I/O thread (req->on_worker 0) a
 * route that may block is not run: c->deferred is set and nothing is
 * answered (serve_http returns MMPLUGIN_DEFER). */
void router_dispatch(struct apps_call *c);

/* Fills c->who from the request's session. */
void caller_init(struct apps_call *c);
/* App sessions are scoped: only routes that welcome them (the OAuth2 routes)
 * take them; anywhere else they are 403 api.context.app_session_scope.app_error,
 * answered here. True when the caller may go on. */
bool caller_in_scope(struct apps_call *c, bool apps_welcome);

/* Handlers, by file: api_ping.c, api_apps_admin.c, api_call.c. */
void api_ping(struct apps_call *c);
void api_update_app_listing(struct apps_call *c);
void api_install_app(struct apps_call *c);
void api_enable_app(struct apps_call *c);
void api_disable_app(struct apps_call *c);
void api_uninstall_app(struct apps_call *c);
void api_apps_list(struct apps_call *c);
void api_app_get(struct apps_call *c);
void api_call(struct apps_call *c);
void api_connections(struct apps_call *c);     /* api_connections.c */
void api_admin_app_token(struct apps_call *c); /* api_app_token.c */
/* key_routes.c */
void api_keys_list(struct apps_call *c);
void api_keys_rotate(struct apps_call *c);
void api_keys_retire(struct apps_call *c);
void api_verify(struct apps_call *c); /* api_verify.c */
/* oauth2_store.c */
void api_oauth2_app(struct apps_call *c);
void api_oauth2_user(struct apps_call *c);
/* oauth2_flow.c */
void api_flow_connect(struct apps_call *c);
void api_flow_complete(struct apps_call *c);

#endif
