#include "tiny_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile int tiny_stopping;

void tiny_sleep_ms(long ms)
{
	for (long slept = 0; slept < ms && !tiny_stopping; slept += 20) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

unsigned tiny_port(const char *listen)
{
	const char *colon = listen ? strrchr(listen, ':') : NULL;

	return colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
}

int tiny_serve(const char *name, unsigned port, MHD_AccessHandlerCallback handler,
	       MHD_RequestCompletedCallback done)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	addr.sin_port = htons((uint16_t)port);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			     NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &addr,
			     MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "%s: cannot listen on 127.0.0.1:%u (is the port in use?)\n", name,
			port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr, "%s listening on 127.0.0.1:%u\n", name, (unsigned)info->port);
	fflush(stderr);
	sigwait(&set, &sig);
	tiny_stopping = 1;
	MHD_stop_daemon(d);
	return 0;
}
