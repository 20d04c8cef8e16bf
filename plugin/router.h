/*
 * The plugin's route table: a path (exact) and the handler for each method.
 * An unknown path is 404; a known path with another method is 405 with an
 * Allow header listing the methods it takes.
 */
#ifndef PLUGIN_ROUTER_H
#define PLUGIN_ROUTER_H

#include "plugin.h"

typedef void (*route_handler)(struct apps_call *c);

/* Serves c->req through the table. */
void router_dispatch(struct apps_call *c);

/* Handlers, one file each, named after their routes. */
void api_ping(struct apps_call *c);

#endif
