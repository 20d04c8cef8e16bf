/*
 * bench-mhd-hello: the anchor of bench/run, a bare libmicrohttpd handler
 * with the host's own daemon flags (an epoll thread pool, inter-thread
 * channel, suspend/resume allowed; see host/http_server.c) answering every
 * request with one fixed JSON body and its Content-Type.
 * What the host's request path costs is measured against it.
 *
 *   bench-mhd-hello PORT THREADS BODY
 *
 * Prints "mhd-hello listening on 127.0.0.1:PORT" and serves until SIGTERM.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static struct MHD_Response *answer;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)data;
	/* The first call (headers in) only marks the request: an answer
	 * queued that early makes libmicrohttpd close the connection. */
	if (!*con_cls) {
		*con_cls = &answer;
		return MHD_YES;
	}
	if (*data_size) {
		*data_size = 0;
		return MHD_YES;
	}
	return MHD_queue_response(con, MHD_HTTP_OK, answer);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	if (argc != 4) {
		fprintf(stderr, "usage: bench-mhd-hello PORT THREADS BODY\n");
		return 2;
	}
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	addr.sin_port = htons((uint16_t)strtoul(argv[1], NULL, 10));
	answer = MHD_create_response_from_buffer(strlen(argv[3]), argv[3], MHD_RESPMEM_PERSISTENT);
	if (!answer)
		return 1;
	MHD_add_response_header(answer, "Content-Type", "application/json");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
				     MHD_ALLOW_SUSPEND_RESUME,
			     0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
			     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)strtoul(argv[2], NULL, 10),
			     MHD_OPTION_CONNECTION_LIMIT, 1024u,
			     /* The host's HTTP_CONNECTION_MEMORY: libmicrohttpd zeroes
			      * it at every request. */
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
			     MHD_OPTION_END);
	if (!d)
		return 1;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr, "mhd-hello listening on 127.0.0.1:%u\n", (unsigned)info->port);
	fflush(stderr);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(answer);
	return 0;
}
