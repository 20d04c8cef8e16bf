/*
 * What the HTTP server counts, for the metrics listener:
 *   mmhost_http_requests_total{route,method,code}   answered requests
 *   mmhost_http_request_duration_seconds{route}      request line to answer
 *   mmhost_http_requests_aborted_total{reason}       requests that ended unanswered
 *                                                    or cut (timeouts, client gone)
 *   mmhost_http_connections                          open connections
 *   mmhost_http_requests_in_flight                   admitted, not yet ended
 *
 * Labels come from fixed tables, never from what a client sends: route is
 * the route table's pattern ("/api/v4/users/{id}"), "/plugins/<id>" for a
 * plugin the host loaded, "/plugins/{id}" for any other plugin path and
 * "unmatched" for a path no route has; method is one of GET, HEAD, POST,
 * PUT, DELETE, PATCH, OPTIONS or "other"; code is the status sent. So the
 * number of series is bounded (routes x 8 methods x the statuses the
 * handlers send; a table of HTTP_METRICS_SLOTS).
 *
 * Each request costs a few relaxed atomic adds on the thread's own shard and
 * a lookup in an open-addressed table of integer keys (no lock, no string
 * hashing). Everything here does nothing while metrics are off.
 */
#ifndef HOST_HTTP_METRICS_H
#define HOST_HTTP_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "plugin_registry.h"
#include "request_map.h"

/* Route indexes: the host's kinds, then the plugins' slots, then any other
 * plugin path. */
#define HTTP_ROUTE_PLUGIN_BASE ROUTE_KIND_COUNT
#define HTTP_ROUTE_OTHER_PLUGIN (ROUTE_KIND_COUNT + PLUGINS_MAX)
#define HTTP_ROUTES (HTTP_ROUTE_OTHER_PLUGIN + 1)
/* Distinct (route, method, code) a run can count. */
#define HTTP_METRICS_SLOTS 2048

/* Registers the families (after metrics_init). in_flight is the server's
 * count of admitted requests. 0 or -1. */
int http_metrics_init(const atomic_long *in_flight) __attribute__((warn_unused_result));

/* Names route index HTTP_ROUTE_PLUGIN_BASE + slot "/plugins/<id>" (the
 * registry's slot of a loaded plugin). Before serving. */
void http_metrics_name_plugin(unsigned slot, const char *id);

/* The route index of a mapped request: plugin_slot is the registry's slot
 * of the plugin named in the path (ROUTE_PLUGIN), -1 when none has it. */
unsigned http_metrics_route(enum route_kind kind, int plugin_slot);

/* One answered request: its route index, method, status and duration. */
void http_metrics_request(unsigned route, const char *method, int status, uint64_t us);
/* One request that ended without an answer sent in full: reason is one of
 * the access log's aborted= words. */
void http_metrics_aborted(const char *reason);
/* A connection opened (+1) or closed (-1). */
void http_metrics_connection(int delta);

#endif
