/*
 * Bad input from the network: odd methods, huge or broken headers, truncated
 * and broken bodies (plain and chunked), invalid UTF-8, deeply nested JSON,
 * slow clients. Each is answered with a 4xx or the connection is closed, and
 * the host keeps serving.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "testsupport.h"

#define P "/plugins/com.mattermost.apps"

static struct ts_host host;
static char plugins[256], cfg_dir[256];
static char resp[65536];

static int setup(void **state)
{
	char cfg[300];
	const char *extra[] = { "--config", cfg, NULL };

	(void)state;
	if (ts_tempdir("bad-plugins", plugins, sizeof(plugins)) != 0 ||
	    ts_tempdir("bad-cfg", cfg_dir, sizeof(cfg_dir)) != 0 ||
	    ts_install_plugin(plugins, "com.mattermost.apps", APPS_PLUGIN_SO, 0755) != 0)
		return -1;
	snprintf(cfg, sizeof(cfg), "%s/mmhost.json", cfg_dir);
	if (ts_write_file(cfg,
			  "{\"limits\":{\"idle_timeout_s\":2,\"body_timeout_s\":2,"
			  "\"per_ip_connections\":512}}",
			  0600) != 0)
		return -1;
	return ts_host_start(&host, plugins, extra);
}

static int teardown(void **state)
{
	int rc;

	(void)state;
	rc = ts_host_stop(&host);
	ts_rmtree(plugins);
	ts_rmtree(cfg_dir);
	return rc == 0 ? 0 : -1;
}

static void still_serving(void)
{
	char url[128];
	struct ts_resp r;

	snprintf(url, sizeof(url), "%s/api/v4/system/ping", host.base_url);
	assert_int_equal(ts_http("GET", url, NULL, NULL, 0, 0, &r), 0);
	assert_int_equal(r.status, 200);
	ts_resp_free(&r);
}

/* 4xx, or no answer at all (closed). */
static void expect_refused(const char *what, int status)
{
	if (status != 0 && (status < 400 || status > 499))
		fail_msg("%s: answered %d: %.200s", what, status, resp);
	still_serving();
}

static int raw(const char *req)
{
	return ts_raw(host.port, req, strlen(req), 0, 0, 3000, resp, sizeof(resp));
}

static void odd_request_lines_and_methods(void **state)
{
	static const char *const reqs[] = {
		"FROB " P "/api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET\r\n\r\n",
		"\x01\x02\x03\x04 / HTTP/1.1\r\n\r\n",
		"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET " P "/api/v1/ping%00x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /api/v4/users/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		("POST /api/v4/users/login HTTP/1.1\r\nHost: x\r\nContent-Length: "
		 "99999999999999999999\r\n\r\n"),
		"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		int status = raw(reqs[i]);
		/* An unknown HTTP version has its own answer, 505. */
		if (strstr(reqs[i], "HTTP/9.9") && status == 505)
			status = 400;
		expect_refused(reqs[i], status);
	}
}

static void huge_and_many_headers(void **state)
{
	size_t n = 200 * 1024, off;
	char *req = malloc(n + 256);

	(void)state;
	off = (size_t)snprintf(req, 256, "GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + off, 'a', n);
	memcpy(req + off + n, "\r\n\r\n", 5);
	expect_refused("huge header",
		       ts_raw(host.port, req, strlen(req), 0, 0, 3000, resp, sizeof(resp)));
	off = (size_t)snprintf(req, 256, "GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 5000 && off + 32 < n; i++)
		off += (size_t)snprintf(req + off, 32, "X-%d: v\r\n", i);
	memcpy(req + off, "\r\n", 3);
	expect_refused("5000 headers",
		       ts_raw(host.port, req, strlen(req), 0, 0, 3000, resp, sizeof(resp)));
	free(req);
}

static void truncated_and_broken_bodies(void **state)
{
	static const char *const reqs[] = {
		/* Says 100 bytes, sends 10, closes. */
		"POST " P
		"/api/v1/call HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
		/* A chunked body cut short. */
		"POST " P "/api/v1/call HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nab",
		/* A chunk size that is not hex. */
		"POST " P "/api/v1/call HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		"zz\r\nabc\r\n0\r\n\r\n",
		/* Both lengths. */
		"POST " P "/api/v1/call HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		expect_refused(reqs[i], ts_raw(host.port, reqs[i], strlen(reqs[i]), 0, 0, 300, resp,
					       sizeof(resp)));
}

static void bad_json_is_400_never_500(void **state)
{
	size_t depth = 100000;
	char *deep = malloc(2 * depth + 1);
	char req[512];
	int status;
	const char *bodies[] = { "{\"path\":\"\xff\xfe\",\"context\":{\"app_id\":\"x\"}}",
				 "{\"a\":\"\xc3\x28\"}",
				 "\"\xed\xa0\x80\"",
				 "{",
				 "",
				 NULL };

	(void)state;
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	deep[2 * depth] = '\0';
	bodies[5] = deep;
	for (size_t i = 0; i < 6; i++) {
		const char *paths[] = { P "/api/v1/update-app-listing", "/api/v4/users/login",
					P "/api/v1/call" };
		for (size_t k = 0; k < 3; k++) {
			char *full = malloc(strlen(bodies[i]) + 512);
			snprintf(req, sizeof(req),
				 "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
				 "Connection: close\r\n\r\n",
				 paths[k], strlen(bodies[i]));
			snprintf(full, strlen(bodies[i]) + 512, "%s%s", req, bodies[i]);
			status = ts_raw(host.port, full, strlen(full), 0, 0, 3000, resp,
					sizeof(resp));
			free(full);
			/* No session: 401 comes first on these routes; never a 5xx. */
			if (status < 400 || status > 499)
				fail_msg("%s body %zu: %d", paths[k], i, status);
		}
	}
	free(deep);
	still_serving();
}

static void slow_clients_are_cut_off_and_others_served(void **state)
{
	static const char partial[] = "GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	int status;

	(void)state;
	/* One byte every 100 ms, never finishing: the idle timeout (2 s) does
	 * not fire while bytes arrive, so the request never completes... */
	status = ts_raw(host.port, partial, strlen(partial), 1, 100, 500, resp, sizeof(resp));
	assert_int_equal(status, 0);
	still_serving();
	/* ...and a client that goes quiet is closed after the idle timeout. */
	status = ts_raw(host.port, partial, strlen(partial), 0, 0, 5000, resp, sizeof(resp));
	assert_int_equal(status, 0);
	assert_int_equal(strlen(resp), 0);
	still_serving();
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether the server ended the connection (closed it, or answered) within
 * ms; the first bytes of an answer go to resp. */
static int ended_within(int fd, int ms, char *out, size_t cap)
{
	long deadline = now_ms() + ms;
	size_t got = 0;

	out[0] = '\0';
	while (now_ms() < deadline) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;
		if (poll(&p, 1, 50) <= 0)
			continue;
		r = recv(fd, out + got, cap - 1 - got, 0);
		if (r <= 0)
			return 1;
		got += (size_t)r;
		out[got] = '\0';
		if (got + 1 == cap)
			return 1;
	}
	return got > 0;
}

/* Sends prefix, then one more byte of tail every interval_ms until the
 * server ends the connection or tail runs out. Returns 1 when the server
 * ended it first. */
static int trickle_is_cut(int port, const char *prefix, const char *tail, int interval_ms)
{
	int fd = connect_to(port), cut = 0;
	char buf[512];

	assert_true(fd >= 0);
	assert_int_equal(send(fd, prefix, strlen(prefix), MSG_NOSIGNAL), (ssize_t)strlen(prefix));
	for (size_t i = 0; tail[i] && !cut; i++) {
		if (send(fd, tail + i, 1, MSG_NOSIGNAL) != 1) {
			cut = 1;
			break;
		}
		cut = ended_within(fd, interval_ms, buf, sizeof(buf));
	}
	close(fd);
	return cut;
}

static void slow_head_is_cut_at_its_deadline(void **state)
{
	char tail[64];

	(void)state;
	/* One byte every 300 ms keeps the idle timeout (2 s) from firing; the
	 * whole head must still arrive within 2 s of the connection opening,
	 * so the server ends it long before the 45 bytes (13 s) are sent. */
	memset(tail, 'a', 45);
	tail[45] = '\0';
	assert_true(trickle_is_cut(host.port, "GET /api/v4/system/ping HTTP/1.1\r\nX-Slow: ", tail,
				   300));
	assert_true(ts_host_wait_log(&host, "aborted=head_timeout", 5000));
	still_serving();
}

static void slow_body_is_cut_at_its_deadline(void **state)
{
	char tail[64];

	(void)state;
	/* The body must arrive within body_timeout_s (2 s) of the head. */
	memset(tail, 'b', 45);
	tail[45] = '\0';
	assert_true(trickle_is_cut(host.port,
				   "POST /api/v4/users/login HTTP/1.1\r\nHost: x\r\n"
				   "Content-Length: 1000\r\n\r\n",
				   tail, 300));
	assert_true(ts_host_wait_log(&host, "aborted=body_timeout", 5000));
	still_serving();
}

/* How many times needle appears in the host's log. */
static size_t log_count(const char *needle)
{
	char *text = ts_read_file(host.log_path);
	size_t n = 0;

	for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(text);
	return n;
}

static void many_query_arguments_end_at_once_and_are_freed(void **state)
{
	enum { REQUESTS = 500 };
	size_t len = 64 + 2 * 1000 + 64;
	char *req = malloc(len), out[512];
	long before, after;
	size_t off;

	(void)state;
	/* libmicrohttpd runs out of connection memory parsing 1000 query
	 * arguments and drops the request without telling the host. Each must
	 * still end at once (an answer, or the connection closed), leave
	 * nothing behind, and get its access-log line. */
	off = (size_t)snprintf(req, len, "GET /many-args?");
	for (int i = 0; i < 1000; i++)
		off += (size_t)snprintf(req + off, len - off, "a&");
	snprintf(req + off, len - off, " HTTP/1.1\r\nHost: x\r\n\r\n");
	before = ts_rss_kib(host.pid);
	for (int i = 0; i < REQUESTS; i++) {
		int fd = connect_to(host.port);
		assert_true(fd >= 0);
		assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
		if (!ended_within(fd, 1500, out, sizeof(out)))
			fail_msg("request %d: neither answered nor closed within 1.5 s", i);
		if (out[0] && strncmp(out, "HTTP/1.1 414", 12) != 0 &&
		    strncmp(out, "HTTP/1.1 431", 12) != 0)
			fail_msg("request %d: answered %.40s", i, out);
		close(fd);
	}
	after = ts_rss_kib(host.pid);
	/* Held connections cost about 50 KiB each (100 MB for 2000). */
	if (after - before > 32 * 1024)
		fail_msg("RSS grew from %ld KiB to %ld KiB", before, after);
	for (int waited = 0; log_count("path=/many-args ") < REQUESTS && waited < 10000;
	     waited += 50)
		usleep(50 * 1000);
	assert_int_equal(log_count("path=/many-args "), REQUESTS);
	free(req);
	still_serving();
}

static void request_bodies_are_wiped_from_memory(void **state)
{
	enum { BODY = 48 * 1024 };
	char marker[64], head[256], out[512];
	unsigned char rnd[12];
	char *body = malloc(BODY);
	int fd, found = 1;
	FILE *ur = fopen("/dev/urandom", "r");

	(void)state;
	assert_non_null(ur);
	assert_int_equal(fread(rnd, 1, sizeof(rnd), ur), sizeof(rnd));
	fclose(ur);
	snprintf(marker, sizeof(marker), "secret-%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x-",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9],
		 rnd[10], rnd[11]);
	for (size_t i = 0; i < BODY; i++)
		body[i] = marker[i % strlen(marker)];
	snprintf(head, sizeof(head),
		 "POST /api/v4/nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
		 "Connection: close\r\n\r\n",
		 BODY);
	fd = connect_to(host.port);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
	for (size_t sent = 0; sent < BODY; sent += 4096) {
		assert_int_equal(send(fd, body + sent, 4096, MSG_NOSIGNAL), 4096);
		usleep(2000); /* in pieces, so that the host's buffer grows */
	}
	assert_true(ended_within(fd, 3000, out, sizeof(out)));
	assert_int_equal(strncmp(out, "HTTP/1.1 404", 12), 0);
	close(fd);
	/* The request is freed right after its answer is sent. */
	for (int waited = 0; found && waited < 5000; waited += 100) {
		found = ts_memory_holds(host.pid, marker);
		if (found)
			usleep(100 * 1000);
	}
	assert_false(found);
	free(body);
}

static void slow_clients_leave_room_for_others(void **state)
{
	enum { MAX = 32 };
	const char *extra[] = { "--config", NULL, NULL };
	char cfg[300];
	struct ts_host small;
	int fds[2 * MAX], ok = 0;

	(void)state;
	/* A server of 32 connections with a long idle timeout: clients that
	 * open a connection and send half a head take every connection (twice
	 * as many as fit: each I/O thread has its share of the limit)... */
	snprintf(cfg, sizeof(cfg), "%s/small.json", cfg_dir);
	assert_int_equal(ts_write_file(cfg,
				       "{\"limits\":{\"max_connections\":32,"
				       "\"per_ip_connections\":64,\"idle_timeout_s\":60}}",
				       0600),
			 0);
	extra[1] = cfg;
	assert_int_equal(ts_host_start(&small, plugins, extra), 0);
	for (int i = 0; i < 2 * MAX; i++) {
		fds[i] = connect_to(small.port);
		if (fds[i] >= 0)
			send(fds[i], "GET / HTTP/1.1\r\nX-Slow: ", 24, MSG_NOSIGNAL);
	}
	/* ...yet a new client is served within seconds, not after 60 s. */
	for (int tries = 0; !ok && tries < 15; tries++) {
		static const char ping[] = "GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\n"
					   "Connection: close\r\n\r\n";
		char out[256];
		int fd = connect_to(small.port);
		if (fd < 0)
			continue;
		send(fd, ping, sizeof(ping) - 1, MSG_NOSIGNAL);
		ok = ended_within(fd, 1000, out, sizeof(out)) &&
		     strncmp(out, "HTTP/1.1 200", 12) == 0;
		close(fd);
	}
	assert_true(ok);
	assert_true(ts_host_wait_log(&small, "aborted=room", 5000));
	for (int i = 0; i < 2 * MAX; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	assert_int_equal(ts_host_stop(&small), 0);
}

/* A host of its own with the given limits (JSON), in *h. */
static void start_limited(struct ts_host *h, const char *name, const char *limits)
{
	const char *extra[] = { "--config", NULL, NULL };
	char cfg[300];

	snprintf(cfg, sizeof(cfg), "%s/%s.json", cfg_dir, name);
	assert_int_equal(ts_write_file(cfg, limits, 0600), 0);
	extra[1] = cfg;
	assert_int_equal(ts_host_start(h, plugins, extra), 0);
}

/* Whether a new client gets its ping answered (one try of at most 1 s). */
static int ping_answered(int port)
{
	static const char ping[] = "GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\n"
				   "Connection: close\r\n\r\n";
	char out[256];
	int fd = connect_to(port), ok;

	if (fd < 0)
		return 0;
	send(fd, ping, sizeof(ping) - 1, MSG_NOSIGNAL);
	ok = ended_within(fd, 1000, out, sizeof(out)) && strncmp(out, "HTTP/1.1 200", 12) == 0;
	close(fd);
	return ok;
}

static void slow_bodies_leave_room_for_others(void **state)
{
	enum { MAX = 32 };
	static const char head[] = "POST /api/v4/users/login HTTP/1.1\r\nHost: x\r\n"
				   "Content-Length: 100000\r\n\r\n{";
	struct ts_host small;
	int fds[2 * MAX], ok = 0;

	(void)state;
	/* The same server of 32 connections, with a long body deadline:
	 * clients that send a whole head, then a body one byte at a time,
	 * take every connection (a head is cheap; 4 addresses, or one IPv6
	 * host, are enough at the default per-address limit)... */
	start_limited(&small, "small-body",
		      "{\"limits\":{\"max_connections\":32,\"per_ip_connections\":64,"
		      "\"idle_timeout_s\":60,\"body_timeout_s\":60}}");
	for (int i = 0; i < 2 * MAX; i++) {
		fds[i] = connect_to(small.port);
		if (fds[i] >= 0)
			send(fds[i], head, sizeof(head) - 1, MSG_NOSIGNAL);
	}
	/* ...yet a new client is served within seconds, not after 60 s. */
	for (int tries = 0; !ok && tries < 15; tries++) {
		for (int i = 0; i < 2 * MAX; i++)
			if (fds[i] >= 0)
				send(fds[i], "\"", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		ok = ping_answered(small.port);
	}
	for (int i = 0; i < 2 * MAX; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	assert_true(ok);
	assert_int_equal(ts_host_stop(&small), 0);
}

/* A target of about value_len * 50 bytes with 50 query arguments. With
 * 600-byte values (30 KiB): far under any argument count, yet libmicrohttpd
 * 0.9.75 cannot hold the arguments beside the request line in the
 * connection's 32 KiB and drops the request without a word, like the 1000
 * short arguments above. */
static char *long_target_request(size_t value_len)
{
	size_t cap = 50 * (value_len + 8) + 128, off;
	char *req = malloc(cap);

	assert_non_null(req);
	off = (size_t)snprintf(req, cap, "GET /long-target?");
	for (int i = 0; i < 50; i++) {
		off += (size_t)snprintf(req + off, cap - off, "%sa%d=", i ? "&" : "", i);
		memset(req + off, 'b', value_len);
		off += value_len;
	}
	snprintf(req + off, cap - off, " HTTP/1.1\r\nHost: x\r\n\r\n");
	return req;
}

static void dropped_long_targets_end_at_once_and_hold_no_drain(void **state)
{
	struct ts_host h;
	char *req = long_target_request(300), out[512];
	int fd, ended;

	(void)state;
	/* A long idle timeout: an ending that waits for it is plain to see. */
	start_limited(&h, "long-idle",
		      "{\"limits\":{\"idle_timeout_s\":60,\"body_timeout_s\":60}}");
	/* Half as long (15 KiB) is served as usual. */
	fd = connect_to(h.port);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	assert_true(ended_within(fd, 3000, out, sizeof(out)));
	if (strncmp(out, "HTTP/1.1 404", 12) != 0)
		fail_msg("a 15 KiB target: answered %.40s", out);
	close(fd);
	free(req);
	req = long_target_request(600);
	fd = connect_to(h.port);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	/* It ends at once (an answer, or the connection closed)... */
	ended = ended_within(fd, 3000, out, sizeof(out));
	if (ended && out[0] && strncmp(out, "HTTP/1.1 4", 10) != 0)
		fail_msg("answered %.40s", out);
	/* ...and, sent again and left open, does not hold up a shutdown. */
	close(fd);
	fd = connect_to(h.port);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	free(req);
	usleep(300 * 1000);
	assert_int_equal(kill(h.pid, SIGTERM), 0);
	assert_true(ended);
	assert_true(ts_host_wait_log(&h, "info  stopped", 10000));
	assert_false(ts_host_log_has(&h, "drain timed out"));
	close(fd);
	assert_int_equal(ts_host_stop(&h), 0);
}

/* Run last: it stops the host. */
static void drain_ends_after_dropped_requests(void **state)
{
	(void)state;
	/* Nothing the server dropped is waited for at shutdown. */
	assert_int_equal(kill(host.pid, SIGTERM), 0);
	assert_true(ts_host_wait_log(&host, "info  stopped", 20000));
	assert_false(ts_host_log_has(&host, "drain timed out"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(odd_request_lines_and_methods),
		cmocka_unit_test(huge_and_many_headers),
		cmocka_unit_test(truncated_and_broken_bodies),
		cmocka_unit_test(bad_json_is_400_never_500),
		cmocka_unit_test(slow_clients_are_cut_off_and_others_served),
		cmocka_unit_test(slow_head_is_cut_at_its_deadline),
		cmocka_unit_test(slow_body_is_cut_at_its_deadline),
		cmocka_unit_test(many_query_arguments_end_at_once_and_are_freed),
		cmocka_unit_test(request_bodies_are_wiped_from_memory),
		cmocka_unit_test(slow_clients_leave_room_for_others),
		cmocka_unit_test(slow_bodies_leave_room_for_others),
		cmocka_unit_test(dropped_long_targets_end_at_once_and_hold_no_drain),
		cmocka_unit_test(drain_ends_after_dropped_requests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
