/* The server scaffold of the test processes (test-app, test-provider): a
 * thread per connection on 127.0.0.1:port, the "<name> listening on
 * 127.0.0.1:PORT" line the tests wait for, and a clean stop on SIGTERM. */
#ifndef TESTS_TINY_SERVER_H
#define TESTS_TINY_SERVER_H

#include <microhttpd.h>

/* Set once the server is stopping (SIGTERM): handlers that wait stop
 * waiting. */
extern volatile int tiny_stopping;

/* Sleeps ms, or less when the server stops. */
void tiny_sleep_ms(long ms);

/* The port of a "--listen ADDR:PORT" value (0 when there is none). */
unsigned tiny_port(const char *listen);

/* Serves until SIGTERM or SIGINT. 0, or 1 when the server cannot start. */
int tiny_serve(const char *name, unsigned port, MHD_AccessHandlerCallback handler,
	       MHD_RequestCompletedCallback done);

#endif
