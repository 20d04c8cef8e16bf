/*
 * The host's HTTP server: libmicrohttpd with an epoll thread pool, bounded
 * connections, bodies and headers, one access-log line and an X-Request-Id
 * per request, and a drain on shutdown.
 *
 * Threading: a complete request is served on the libmicrohttpd epoll thread
 * that read it (limits.threads) when nothing on its way can block: the
 * route table says which host routes may (password hashes, store writes),
 * and plugins built for ABI 1.3 say so by returning MMPLUGIN_DEFER. Those
 * are handed to a worker thread (limits.workers) while the connection is
 * suspended. A plugin may also keep a response and finish it later from a
 * thread of its own (MMPLUGIN_ASYNC, http_response_finish): the connection
 * stays suspended meanwhile, without a thread. See README, "Threads".
 */
#ifndef HOST_HTTP_SERVER_H
#define HOST_HTTP_SERVER_H

#include <stdatomic.h>
#include <stdint.h>

#include "addr_limit.h"
#include "config.h"
#include "conn_watch.h"
#include "plugin_registry.h"
#include "work_pool.h"

struct host_ctx;
struct req_ctx;
struct mmplugin_response;

#define HTTP_BODY_MAX (1024 * 1024)
/* A chunked body that passes HTTP_BODY_MAX is read and dropped up to this
 * many more bytes so that the client can read its 413; past it the
 * connection is closed. */
#define HTTP_BODY_DISCARD_MAX (4 * 1024 * 1024)
/* Bounds the request line and headers (libmicrohttpd answers 431 past it).
 * libmicrohttpd 0.9.75 zeroes all of it at every request of a connection:
 * 64 KiB cost a 64 KiB memset per request (a tenth of a GET's time), so it
 * is libmicrohttpd's own default. The query arguments must fit beside the
 * request line (query_room.h). */
#define HTTP_CONNECTION_MEMORY (32 * 1024)
#define HTTP_DRAIN_TIMEOUT_MS 30000
/* Requests waiting for a worker; past it the server answers 503. */
#define HTTP_QUEUE_MAX 4096

struct http_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	uint16_t port;
	const struct host_config *cfg;
	struct host_ctx *host;
	struct work_pool workers;
	struct conn_watch watch;    /* head and body deadlines, room for new clients */
	struct addr_limit per_addr; /* connections per IPv4 address or IPv6 /64 */
	atomic_long in_flight;      /* requests admitted and not yet completed */
	atomic_bool draining;       /* SIGTERM: new requests are answered 503 */
	pthread_mutex_t held_lock;
	struct req_ctx *held; /* requests whose response a plugin holds */
};

/* Creates the listening socket for cfg->listen and reports the bound port
 * (useful with port 0). 0, or -1 with a message in err. */
int http_server_bind(struct http_server *srv, const struct host_config *cfg, char *err,
		     size_t err_cap) __attribute__((warn_unused_result));

/* Starts serving on the bound socket. 0 or -1 (logged). */
int http_server_start(struct http_server *srv, struct host_ctx *host)
	__attribute__((warn_unused_result));

/* Stops admitting requests (a request whose head completes from now on gets
 * 503 and a closed connection), waits for the admitted ones (from their
 * complete head to their completion), held responses included (at most
 * HTTP_DRAIN_TIMEOUT_MS), deactivates the plugins (each finishes what it
 * still holds), answers 503 to anything still held, then stops every
 * thread. */
void http_server_shutdown(struct http_server *srv);

/* The host side of the ABI's response_finish: hands back a response whose
 * serve_http returned (or will return) MMPLUGIN_ASYNC, from any thread. */
void http_response_finish(struct mmplugin_response *resp);

#endif
