#include "metrics_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "banned.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static enum MHD_Result answer_text(struct MHD_Connection *con, unsigned status, const char *text,
				   const char *allow)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	rc = MHD_queue_response(con, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct metrics_server *ms = cls;
	struct metrics_buf text;
	struct MHD_Response *r;
	enum MHD_Result rc;

	(void)version;
	(void)upload;
	if (!*con_cls) { /* headers only: wait for the (ignored) body */
		*con_cls = ms;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return answer_text(con, MHD_HTTP_NOT_FOUND,
				   "Not found: the metrics are at /metrics\n", NULL);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer_text(con, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed\n",
				   "GET, HEAD");
	if (ms->before)
		ms->before(ms->before_arg);
	if (metrics_render(&text) != 0) {
		log_kv(LOG_ERROR, "metrics: the scrape's text could not be made", NULL);
		return answer_text(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "Out of memory\n", NULL);
	}
	r = MHD_create_response_from_buffer(text.len, text.p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text.p);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	rc = MHD_queue_response(con, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_kv(LOG_DEBUG, "libmicrohttpd (metrics)", "detail", msg, NULL);
}

static int bind_listen(const struct sockaddr *addr, socklen_t len, uint16_t *port)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int one = 1;
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, addr, len) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						  : ((struct sockaddr_in *)&bound)->sin_port);
	return fd;
}

int metrics_server_start(struct metrics_server *ms, const struct sockaddr *addr, socklen_t len,
			 metrics_scrape_fn before, void *before_arg, char *err, size_t err_cap)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int fd;

	memset(ms, 0, sizeof(*ms));
	ms->before = before;
	ms->before_arg = before_arg;
	fd = bind_listen(addr, len, &ms->port);
	if (fd < 0) {
		snprintf(err, err_cap, "cannot listen on metrics_listen: %s", strerror(errno));
		return -1;
	}
	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	ms->daemon =
		MHD_start_daemon(flags, 0, NULL, NULL, on_request, ms, MHD_OPTION_LISTEN_SOCKET, fd,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS_MAX,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_IDLE_TIMEOUT_S,
				 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, ms, MHD_OPTION_END);
	if (!ms->daemon) {
		close(fd);
		snprintf(err, err_cap, "cannot start the metrics listener");
		return -1;
	}
	return 0;
}

void metrics_server_stop(struct metrics_server *ms)
{
	if (ms->daemon)
		MHD_stop_daemon(ms->daemon); /* closes the listening socket */
	ms->daemon = NULL;
}
