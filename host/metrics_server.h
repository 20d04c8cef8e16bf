/*
 * The metrics listener: a small libmicrohttpd daemon of its own (one
 * internal thread, so scrapes run one at a time) on the config's
 * metrics_listen address, answering GET /metrics with the registry's text
 * (Content-Type: text/plain; version=0.0.4). Anything else is 404 (405 for
 * another method on /metrics). It shares nothing with the main server's
 * threads, limits or access log: a slow scrape never holds a request.
 *
 * Off unless metrics_listen is set: then nothing listens.
 */
#ifndef HOST_METRICS_SERVER_H
#define HOST_METRICS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* At most this many scrapers at once; each is cut after this long idle. */
#define METRICS_CONNECTIONS_MAX 16
#define METRICS_IDLE_TIMEOUT_S 10

/* Called before each scrape renders (the plugins' scrape hooks). */
typedef void (*metrics_scrape_fn)(void *arg);

struct metrics_server {
	struct MHD_Daemon *daemon;
	uint16_t port; /* the bound port (useful with port 0) */
	metrics_scrape_fn before;
	void *before_arg;
};

/* Binds addr and starts serving. 0, or -1 with one line in err. */
int metrics_server_start(struct metrics_server *ms, const struct sockaddr *addr, socklen_t len,
			 metrics_scrape_fn before, void *before_arg, char *err, size_t err_cap)
	__attribute__((warn_unused_result));
/* Stops serving (a scrape in progress finishes first). */
void metrics_server_stop(struct metrics_server *ms);

#endif
