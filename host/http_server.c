#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_error.h"
#include "conn_watch.h"
#include "host_request.h"
#include "http_metrics.h"
#include "log.h"
#include "metrics.h"
#include "mm_id.h"
#include "plugin_registry.h"
#include "request_id.h"
#include "request_map.h"
#include "response.h"
#include "trusted_proxies.h"
#include "banned.h"

#define REQUEST_HEADERS_MAX 128
#define LOG_PATH_MAX 512

struct header_vec {
	struct mmplugin_header items[REQUEST_HEADERS_MAX];
	size_t len;
};

struct conn;

/* Where a request's answer is being made. */
enum req_stage {
	STAGE_NEW = 0, /* not served yet: the next call of the access handler serves it */
	STAGE_WORKER,  /* deferred: the connection is suspended, a worker serves it */
	STAGE_HELD,    /* a plugin holds the response (MMPLUGIN_ASYNC), connection suspended */
	STAGE_SENT,    /* the answer is queued */
};

/*
 * Handing a suspended request's answer back (a worker's, or a plugin's
 * response_finish from any thread) without losing a wake-up: the thread
 * that serves sets HOLD_ARMED; when it is done it either finds HOLD_FINISHED
 * (the answer came first: it resumes the connection itself) or moves
 * HOLD_ARMED to HOLD_WAITING, after which whoever finishes (exchange to
 * HOLD_FINISHED, finding HOLD_WAITING) resumes it. Exactly one resume.
 */
enum req_hold {
	HOLD_ARMED = 0,
	HOLD_WAITING = 1,
	HOLD_FINISHED = 2,
};

/* State of one request, from its request line to its completion. A
 * connection carries one request at a time; its state lives in the
 * connection's and is reset for each request. */
struct req_ctx {
	struct conn *conn;
	bool open; /* request line seen, not yet completed (or dropped) */
	char request_id[MM_ID_LEN + 1];
	const char *target; /* raw request target: path?query, not decoded (conn's buffer) */
	size_t target_len;
	char method[16];
	char log_path[LOG_PATH_MAX];
	struct timespec t0;
	bool started;
	bool too_large;
	bool must_close;    /* answer with Connection: close */
	bool too_many_args; /* refused at the request line (414) */
	char *body;
	size_t body_len;
	size_t body_cap;
	size_t discarded;
	int status; /* what was sent; 0 when nothing was */
	size_t sent_len;
	enum req_stage stage;
	/* The client: the peer, or what a trusted proxy's X-Forwarded-For
	 * says (client[]). */
	const char *remote;
	char client[CLIENT_ADDR_MAX];
	bool via_proxy;       /* remote is not the peer */
	bool forwarded_https; /* a trusted proxy says the client used https */
	bool routed;          /* the route table saw it: metric_route is set */
	unsigned metric_route;
	struct http_server *srv;
	struct MHD_Connection *con;
	const char *url;                       /* libmicrohttpd's, valid until completion */
	struct req_ctx *held_prev, *held_next; /* srv->held list, under held_lock */
	struct header_vec headers;             /* views into libmicrohttpd's memory */
	struct mmplugin_response resp;
	atomic_int hold; /* enum req_hold */
	bool admitted;   /* arrived before the drain began: counted in in_flight */
};

/* State of one connection, from accept to close (libmicrohttpd's connection
 * notifications, which it calls on every path, unlike a request's
 * completion). */
struct conn {
	struct conn_watched watch;
	struct http_server *srv;
	struct MHD_Connection *con;
	char remote[INET6_ADDRSTRLEN]; /* the peer */
	bool peer_trusted;             /* the peer is a trusted proxy */
	char *target_buf;              /* the current request's target; grown as needed */
	size_t target_cap;
	struct req_ctx req;
};

static uint64_t elapsed_us(const struct timespec *t0)
{
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - t0->tv_sec) * 1000000 + (now.tv_nsec - t0->tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

/* v in decimal at out[0..cap) with a NUL (the access line is made for every
 * request: no printf). Returns the length. */
static size_t put_u64(char *out, size_t cap, uint64_t v)
{
	char tmp[24];
	size_t n = 0, len;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(tmp));
	len = n < cap ? n : cap - 1;
	for (size_t i = 0; i < len; i++)
		out[i] = tmp[n - 1 - i];
	out[len] = '\0';
	return len;
}

/* Copies at most cap - 1 bytes of s[0..n) and a NUL. */
static void copy_cut(char *out, size_t cap, const char *s, size_t n)
{
	if (n > cap - 1)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

static const struct sockaddr *remote_address(struct MHD_Connection *con, char *out, size_t cap);
static void request_end(struct conn *c, const char *aborted);
static void held_remove(struct req_ctx *ctx);

static struct conn *conn_of(struct MHD_Connection *con)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Frees a buffer that held request bytes (passwords, secrets) after wiping
 * it. */
static void wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	sodium_memzero(p, len);
	free(p);
}

/* How many arguments libmicrohttpd will parse out of target's query. */
static size_t query_args(const char *target, size_t len)
{
	const char *q = memchr(target, '?', len);
	size_t n = 0;

	if (!q || q + 1 == target + len)
		return 0;
	for (const char *p = q + 1; p < target + len; p++)
		n += *p == '&';
	return n + 1;
}

/* A new request line: the request is counted from here until its
 * completion (or until its connection closes, if libmicrohttpd drops it). */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct http_server *srv = cls;
	struct conn *c = conn_of(con);
	struct req_ctx *r;
	size_t len = strlen(uri);

	if (!c)
		return NULL;
	r = &c->req;
	request_end(c, "dropped"); /* cannot be open: defensive */
	if (len + 1 > c->target_cap) {
		char *nb = malloc(len + 1);
		if (!nb)
			return NULL;
		wipe_free(c->target_buf, c->target_cap);
		c->target_buf = nb;
		c->target_cap = len + 1;
	}
	memcpy(c->target_buf, uri, len + 1);
	memset(r, 0, offsetof(struct req_ctx, headers));
	r->conn = c;
	r->srv = srv;
	r->con = con;
	r->open = true;
	r->target = c->target_buf;
	r->target_len = len;
	r->remote = c->remote;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	request_id_new(r->request_id);
	r->headers.len = 0;
	response_init(&r->resp);
	atomic_store(&r->hold, HOLD_ARMED);
	r->admitted = !atomic_load(&srv->draining);
	/* Until the handler runs (it may never: headers too large), the log
	 * shows the raw path without its query. */
	copy_cut(r->log_path, sizeof(r->log_path), uri, strcspn(uri, "?"));
	/* libmicrohttpd 0.9.75 keeps each query argument in the connection's
	 * memory; when they do not fit it drops the request without a word
	 * (no answer, no completion) and holds the connection until its idle
	 * timeout. Past the bound, the read side is shut now: if the arguments
	 * fit after all the handler answers 414; if not, the connection ends at
	 * once and on_connection logs and frees the request. */
	if (query_args(uri, len) > HTTP_QUERY_ARGS_MAX) {
		r->too_many_args = true;
		shutdown(c->watch.fd, SHUT_RD);
	}
	if (r->admitted)
		atomic_fetch_add(&srv->in_flight, 1);
	return r;
}

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK: return NULL;
	case MHD_REQUEST_TERMINATED_WITH_ERROR: return "error";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return "timeout";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT: return "client";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return "shutdown";
	default: return "other";
	}
}

static const char *cut_name(int cut)
{
	switch (cut) {
	case CONN_CUT_HEAD: return "head_timeout";
	case CONN_CUT_BODY: return "body_timeout";
	case CONN_CUT_ROOM: return "room";
	default: return NULL;
	}
}

/* The route label of the connection's request: what the route table saw,
 * or (for a request answered before routing: 413, 414, 503 while draining)
 * the route its path maps to. */
static unsigned metric_route(struct conn *c)
{
	struct req_ctx *r = &c->req;
	struct route_match m;

	if (r->routed)
		return r->metric_route;
	request_map(r->log_path, strlen(r->log_path), &m);
	return http_metrics_route(
		m.kind, m.kind == ROUTE_PLUGIN ? plugin_registry_index(c->srv->host->plugins,
								       m.plugin_id, m.plugin_id_len)
					       : -1);
}

/* Ends the connection's request: its access-log line, then everything it
 * held is wiped and freed. aborted is NULL for a request that was
 * answered. */
static void request_end(struct conn *c, const char *aborted)
{
	struct req_ctx *r = &c->req;
	const char *cut = cut_name(atomic_load(&c->watch.cut));
	const char *k1 = NULL, *v1 = NULL, *k2 = NULL, *v2 = NULL;
	char status[8], bytes[24], ms[24];
	uint64_t us;
	size_t n;

	if (!r->open)
		return;
	if (r->stage == STAGE_HELD)
		held_remove(r); /* cannot happen: a suspended connection is never closed */
	us = elapsed_us(&r->t0);
	if (r->status)
		put_u64(status, sizeof(status), (uint64_t)r->status);
	else
		copy_cut(status, sizeof(status), "-", 1);
	put_u64(bytes, sizeof(bytes), r->sent_len);
	/* Milliseconds with two decimals. */
	n = put_u64(ms, sizeof(ms) - 4, us / 1000);
	ms[n] = '.';
	ms[n + 1] = (char)('0' + us / 100 % 10);
	ms[n + 2] = (char)('0' + us / 10 % 10);
	ms[n + 3] = '\0';
	/* Optional fields last: the first NULL key ends the line. */
	if (r->via_proxy) {
		k1 = "proxy";
		v1 = c->remote;
	}
	if (aborted) {
		*(k1 ? &k2 : &k1) = "aborted";
		*(v1 ? &v2 : &v1) = cut ? cut : aborted;
	}
	/* The query is never logged: it may hold an access_token. */
	log_buffered(LOG_INFO, "http", "method", r->method[0] ? r->method : "-", "path",
		     r->log_path[0] ? r->log_path : "-", LOG_NUM("status"), status,
		     LOG_NUM("bytes"), bytes, LOG_NUM("ms"), ms, "remote", r->remote, "request_id",
		     r->request_id, k1, v1, k2, v2, NULL);
	if (metrics_enabled()) {
		if (r->status)
			http_metrics_request(metric_route(c), r->method, r->status, us);
		if (aborted)
			http_metrics_aborted(cut ? cut : aborted);
	}
	sodium_memzero(c->target_buf, r->target_len + 1); /* past it: wiped before */
	wipe_free(r->body, r->body_cap);
	r->body = NULL;
	response_free(&r->resp);
	if (r->admitted)
		atomic_fetch_sub(&c->srv->in_flight, 1);
	r->open = false;
	conn_watch_phase(&c->watch, CONN_WAITING, conn_watch_now_ms());
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req_ctx *r = *con_cls;

	(void)cls;
	(void)con;
	if (!r)
		return;
	request_end(r->conn, termination_name(toe));
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *srv = cls;
	struct conn *c = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = calloc(1, sizeof(*c));
		if (!c || !ci) {
			/* Without state every request on it is refused (on_request). */
			free(c);
			*socket_context = NULL;
			return;
		}
		c->srv = srv;
		c->con = con;
		c->peer_trusted = trusted_proxies_match_sockaddr(
			&srv->cfg->proxies, remote_address(con, c->remote, sizeof(c->remote)));
		conn_watch_add(&srv->watch, &c->watch, ci->connect_fd);
		http_metrics_connection(1);
		*socket_context = c;
		return;
	}
	if (!c)
		return;
	conn_watch_remove(&srv->watch, &c->watch);
	http_metrics_connection(-1);
	/* libmicrohttpd dropped the request without completing it (out of
	 * connection memory while parsing it). */
	request_end(c, "dropped");
	wipe_free(c->target_buf, c->target_cap);
	free(c);
	*socket_context = NULL;
}

/* libmicrohttpd's own messages (its format strings). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_kv(LOG_DEBUG, "libmicrohttpd", "detail", msg, NULL);
}

/* Sends r (consuming its body) with the request id header. */
static enum MHD_Result send_response(struct MHD_Connection *con, struct req_ctx *ctx,
				     struct mmplugin_response *r)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;

	if (r->body_len) {
		mr = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE);
		if (mr)
			r->body = NULL;
	} else {
		mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!mr)
		return MHD_NO;
	for (size_t i = 0; i < r->headers_len; i++) {
		if (MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value) != MHD_YES)
			log_kv(LOG_WARN, "response header dropped", "name", r->headers[i].name,
			       "request_id", ctx->request_id, NULL);
	}
	MHD_add_response_header(mr, "X-Request-Id", ctx->request_id);
	if (!ctx->admitted || ctx->must_close)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
	ctx->status = r->status ? r->status : 200;
	ctx->sent_len = r->body_len;
	ret = MHD_queue_response(con, (unsigned)ctx->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *con, struct req_ctx *ctx, int status,
				  const char *id, const char *message, const char *allow)
{
	struct mmplugin_response r;
	enum MHD_Result ret;

	response_init(&r);
	if (response_error(&r, status, id, message, ctx->request_id) != 0) {
		response_free(&r);
		return MHD_NO;
	}
	if (allow)
		(void)response_add_header(&r, "Allow", 5, allow, strlen(allow));
	ret = send_response(con, ctx, &r);
	response_free(&r);
	return ret;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      size_t key_size, const char *value, size_t value_size)
{
	struct header_vec *v = cls;

	(void)kind;
	if (v->len == REQUEST_HEADERS_MAX)
		return MHD_NO;
	v->items[v->len].name = (struct mmplugin_str){ key, key_size };
	v->items[v->len].value =
		(struct mmplugin_str){ value ? value : "", value ? value_size : 0 };
	v->len++;
	return MHD_YES;
}

/* The peer's address as text into out; returns it as a socket address
 * (NULL when libmicrohttpd has none). */
static const struct sockaddr *remote_address(struct MHD_Connection *con, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, cap, "-");
	if (!sa)
		return NULL;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  out, (socklen_t)cap);
	return sa;
}

/* Collects the values of every X-Forwarded-For header, in order. */
struct xff_list {
	const char *values[XFF_HEADERS_MAX];
	size_t len;
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct xff_list *l = cls;

	(void)kind;
	if (value && strcasecmp(key, "X-Forwarded-For") == 0 && l->len < XFF_HEADERS_MAX)
		l->values[l->len++] = value;
	return MHD_YES;
}

/* A request from a trusted proxy: the client is who its X-Forwarded-For
 * names (trusted_proxies.h), and X-Forwarded-Proto says whether the
 * client used https. From anyone else both headers are ignored. */
static void resolve_client(struct MHD_Connection *con, struct req_ctx *ctx)
{
	const struct host_config *cfg = ctx->srv->cfg;
	struct xff_list xff = { .len = 0 };

	ctx->remote = ctx->conn->remote;
	if (!ctx->conn->peer_trusted)
		return;
	MHD_get_connection_values(con, MHD_HEADER_KIND, collect_xff, &xff);
	if (xff.len) {
		trusted_proxies_client(&cfg->proxies, xff.values, xff.len, ctx->conn->remote,
				       ctx->client, sizeof(ctx->client));
		ctx->remote = ctx->client;
		ctx->via_proxy = strcmp(ctx->client, ctx->conn->remote) != 0;
	}
	ctx->forwarded_https = forwarded_proto_is_https(
		MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-Forwarded-Proto"));
}

static void held_add(struct req_ctx *ctx)
{
	struct http_server *srv = ctx->srv;

	pthread_mutex_lock(&srv->held_lock);
	ctx->held_prev = NULL;
	ctx->held_next = srv->held;
	if (srv->held)
		srv->held->held_prev = ctx;
	srv->held = ctx;
	pthread_mutex_unlock(&srv->held_lock);
}

static void held_remove(struct req_ctx *ctx)
{
	struct http_server *srv = ctx->srv;

	pthread_mutex_lock(&srv->held_lock);
	if (ctx->held_prev)
		ctx->held_prev->held_next = ctx->held_next;
	else if (srv->held == ctx)
		srv->held = ctx->held_next;
	if (ctx->held_next)
		ctx->held_next->held_prev = ctx->held_prev;
	ctx->held_prev = ctx->held_next = NULL;
	pthread_mutex_unlock(&srv->held_lock);
}

/* The request as the route table sees it: views into ctx. */
static void request_view(struct req_ctx *ctx, bool on_worker, struct host_request *r)
{
	/* All but the session (6 KiB of prop slots, filled by auth when there
	 * is one): zeroing it per request showed in the profile. */
	memset(r, 0, offsetof(struct host_request, session));
	memset(&r->user, 0, sizeof(r->user));
	r->host = ctx->srv->host;
	r->on_worker = on_worker;
	r->method = ctx->method;
	r->path = ctx->url;
	r->body = ctx->body;
	r->body_len = ctx->body_len;
	r->request_id = ctx->request_id;
	r->remote = ctx->remote;
	r->secure = r->host->secure_cookies || ctx->forwarded_https;
	r->headers = ctx->headers.items;
	r->headers_len = ctx->headers.len;
	r->resp = &ctx->resp;
	r->auth = AUTH_ANONYMOUS;
	r->rc = ROUTE_DONE;
	request_split_query(ctx->target, ctx->target_len, &r->query, &r->query_len);
}

/* The request's token and the session's CSRF token stay in memory no
 * longer than the request (the rest of the session is no secret: the user's
 * password hash never leaves the store). */
static void request_view_wipe(struct host_request *r)
{
	sodium_memzero(&r->token, sizeof(r->token));
	if (r->auth != AUTH_ANONYMOUS)
		sodium_memzero(r->session.csrf, sizeof(r->session.csrf));
}

/* After serving ended with ROUTE_ASYNC on a suspended connection: the
 * answer may already be there (then wake the connection now), else
 * whoever finishes wakes it (see enum req_hold). ctx may be reused as soon
 * as the CAS succeeds. */
static void hold_suspended(struct req_ctx *ctx, struct MHD_Connection *con)
{
	int expected = HOLD_ARMED;

	if (!atomic_compare_exchange_strong(&ctx->hold, &expected, HOLD_WAITING))
		MHD_resume_connection(con);
}

/* Runs on a worker: the route's handler, then wakes the connection. */
static void run_request(void *arg)
{
	struct req_ctx *ctx = arg;
	struct MHD_Connection *con = ctx->con;
	struct host_request r;
	enum route_rc rc;

	request_view(ctx, true, &r);
	rc = routes_serve(&r);
	ctx->metric_route = r.metric_route;
	ctx->routed = true;
	request_view_wipe(&r);
	if (rc == ROUTE_ASYNC) {
		ctx->stage = STAGE_HELD;
		held_add(ctx);
		hold_suspended(ctx, con);
		return;
	}
	/* ROUTE_DONE (a deferral from a worker is answered 500 by the route
	 * table). */
	atomic_store(&ctx->hold, HOLD_FINISHED);
	MHD_resume_connection(con);
}

void http_response_finish(struct mmplugin_response *resp)
{
	struct req_ctx *ctx =
		(struct req_ctx *)(void *)((char *)resp - offsetof(struct req_ctx, resp));
	struct MHD_Connection *con = ctx->con;
	int prev = atomic_exchange(&ctx->hold, HOLD_FINISHED);

	if (prev == HOLD_WAITING)
		MHD_resume_connection(con);
	else if (prev != HOLD_ARMED)
		log_kv(LOG_ERROR, "response_finish called twice for one response", NULL);
}

/* Suspends the connection and queues its handler on a worker. */
static enum MHD_Result defer(struct http_server *srv, struct MHD_Connection *con,
			     struct req_ctx *ctx)
{
	ctx->stage = STAGE_WORKER;
	atomic_store(&ctx->hold, HOLD_ARMED);
	MHD_suspend_connection(con);
	if (work_pool_submit(&srv->workers, run_request, ctx) != 0) {
		MHD_resume_connection(con);
		ctx->stage = STAGE_SENT;
		log_kv(LOG_WARN, "request queue full", "request_id", ctx->request_id, NULL);
		return send_error(con, ctx, 503, "api.context.server_busy.app_error",
				  "The server is busy; try again.", NULL);
	}
	return MHD_YES;
}

/* The request is complete: serve it here, on the I/O thread, unless the
 * route table says it may block (then a worker does) or a plugin answers
 * later. */
static enum MHD_Result serve(struct http_server *srv, struct MHD_Connection *con,
			     struct req_ctx *ctx, const char *url)
{
	struct host_request r;
	enum route_rc rc;

	conn_watch_phase(&ctx->conn->watch, CONN_SERVING, conn_watch_now_ms());
	/* Collected here, on the connection's own thread; the views stay valid
	 * until the request completes. */
	ctx->headers.len = 0;
	MHD_get_connection_values_n(con, MHD_HEADER_KIND, collect_header, &ctx->headers);
	ctx->url = url;
	atomic_store(&ctx->hold, HOLD_ARMED);
	request_view(ctx, false, &r);
	rc = routes_serve(&r);
	ctx->metric_route = r.metric_route;
	ctx->routed = true;
	request_view_wipe(&r);
	if (rc == ROUTE_DEFER)
		return defer(srv, con, ctx);
	if (rc == ROUTE_ASYNC && atomic_load(&ctx->hold) != HOLD_FINISHED) {
		ctx->stage = STAGE_HELD;
		held_add(ctx);
		MHD_suspend_connection(con);
		hold_suspended(ctx, con);
		return MHD_YES;
	}
	ctx->stage = STAGE_SENT;
	return send_response(con, ctx, &ctx->resp);
}

static bool path_has_encoded_nul(const char *target)
{
	size_t n = strcspn(target, "?");

	for (size_t i = 0; i + 3 <= n; i++) {
		if (target[i] == '%' && target[i + 1] == '0' && target[i + 2] == '0')
			return true;
	}
	return false;
}

/* First call for a request: headers are in. A request that arrived after
 * SIGTERM is told to come back (and its connection closed: send_response);
 * a declared body that is too large is refused before any of it is read. */
static enum MHD_Result begin_request(struct MHD_Connection *con, struct req_ctx *ctx,
				     const char *url, const char *method)
{
	const char *cl;

	ctx->started = true;
	conn_watch_phase(&ctx->conn->watch, CONN_BODY, conn_watch_now_ms());
	copy_cut(ctx->method, sizeof(ctx->method), method, strlen(method));
	copy_cut(ctx->log_path, sizeof(ctx->log_path), url, strnlen(url, sizeof(ctx->log_path)));
	resolve_client(con, ctx);
	if (!ctx->admitted)
		return send_error(con, ctx, 503, "api.context.shutting_down.app_error",
				  "The server is shutting down; try again shortly.", NULL);
	if (ctx->too_many_args) {
		ctx->must_close = true;
		return send_error(con, ctx, 414, "api.context.query_too_long.app_error",
				  "The query string has too many arguments.", NULL);
	}
	/* libmicrohttpd decodes %00 to a NUL, which would cut the path short:
	 * "/x/ping%00y" must not be served as "/x/ping". */
	if (path_has_encoded_nul(ctx->target))
		return send_error(con, ctx, 400, "api.context.invalid_url.app_error",
				  "The path holds an encoded NUL (%00).", NULL);
	cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno == ERANGE || n > HTTP_BODY_MAX)
			return send_error(con, ctx, 413,
					  "api.context.request_body_too_large.app_error",
					  "The request body is larger than 1 MiB.", NULL);
	}
	return MHD_YES;
}

/* Appends upload data; past the cap it is dropped and counted. The buffer
 * grows by copy and wipe (never realloc, which would leave the old bytes
 * behind in freed memory). */
static enum MHD_Result take_body(struct req_ctx *ctx, const char *data, size_t len)
{
	if (ctx->too_large || ctx->body_len + len > HTTP_BODY_MAX) {
		ctx->too_large = true;
		ctx->discarded += len;
		return ctx->discarded > HTTP_BODY_DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (ctx->body_len + len > ctx->body_cap) {
		size_t cap = ctx->body_cap ? ctx->body_cap : 4096;
		char *nb;
		while (cap < ctx->body_len + len)
			cap *= 2;
		if (cap > HTTP_BODY_MAX)
			cap = HTTP_BODY_MAX;
		nb = malloc(cap);
		if (!nb)
			return MHD_NO;
		if (ctx->body_len)
			memcpy(nb, ctx->body, ctx->body_len);
		wipe_free(ctx->body, ctx->body_cap);
		ctx->body = nb;
		ctx->body_cap = cap;
	}
	memcpy(ctx->body + ctx->body_len, data, len);
	ctx->body_len += len;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct req_ctx *ctx = *con_cls;

	(void)version;
	if (!ctx)
		return MHD_NO; /* no state for this connection (out of memory) */
	if (!ctx->started)
		return begin_request(con, ctx, url, method);
	if (*upload_data_size) {
		enum MHD_Result r = take_body(ctx, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return r;
	}
	if (ctx->too_large)
		return send_error(con, ctx, 413, "api.context.request_body_too_large.app_error",
				  "The request body is larger than 1 MiB.", NULL);
	switch (ctx->stage) {
	case STAGE_NEW: return serve(srv, con, ctx, url);
	case STAGE_WORKER:
	case STAGE_HELD:
		/* Resumed: the answer is ready. */
		if (atomic_load(&ctx->hold) != HOLD_FINISHED)
			return MHD_YES;
		if (ctx->stage == STAGE_HELD)
			held_remove(ctx);
		ctx->stage = STAGE_SENT;
		return send_response(con, ctx, &ctx->resp);
	case STAGE_SENT: break;
	}
	return MHD_YES;
}

int http_server_bind(struct http_server *srv, const struct host_config *cfg, char *err,
		     size_t err_cap)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int one = 1;
	int fd;

	memset(srv, 0, sizeof(*srv));
	srv->cfg = cfg;
	srv->listen_fd = -1;
	fd = socket(cfg->listen_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&cfg->listen_addr, cfg->listen_addr_len) != 0 ||
	    listen(fd, 511) != 0 || getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		close(fd);
		goto fail;
	}
	srv->listen_fd = fd;
	srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						      : ((struct sockaddr_in *)&bound)->sin_port);
	return 0;
fail:
	snprintf(err, err_cap, "cannot listen on %s: %s", cfg->listen, strerror(errno));
	return -1;
}

int http_server_start(struct http_server *srv, struct host_ctx *host)
{
	const struct host_config *cfg = srv->cfg;
	/* Not MHD_USE_TURBO: it registers a connection with epoll only once
	 * a read would block, so a connection whose head libmicrohttpd could
	 * not buffer is never polled again and a shutdown(2) by the watcher or
	 * at the request line goes unseen until the idle timeout. With
	 * keep-alive it made no measurable difference (bench/mhd_hello). */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
			 MHD_ALLOW_SUSPEND_RESUME;

	if (cfg->listen_addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->host = host;
	atomic_store(&srv->in_flight, 0);
	atomic_store(&srv->draining, false);
	pthread_mutex_init(&srv->held_lock, NULL);
	srv->held = NULL;
	if (conn_watch_start(&srv->watch, cfg->max_connections, (int64_t)cfg->idle_timeout_s * 1000,
			     (int64_t)cfg->body_timeout_s * 1000) != 0) {
		log_kv(LOG_ERROR, "cannot start the connection watcher", NULL);
		return -1;
	}
	if (work_pool_start(&srv->workers, cfg->workers, HTTP_QUEUE_MAX) != 0) {
		log_kv(LOG_ERROR, "cannot start the worker threads", NULL);
		conn_watch_stop(&srv->watch);
		return -1;
	}
	srv->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
		MHD_OPTION_LISTEN_SOCKET, srv->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
		MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
		/* Malformed header lines are refused, not skipped. */
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_URI_LOG_CALLBACK, on_request_line,
		srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, srv, MHD_OPTION_END);
	if (!srv->daemon) {
		log_kv(LOG_ERROR, "cannot start the HTTP server", "listen", cfg->listen, NULL);
		work_pool_stop(&srv->workers);
		work_pool_destroy(&srv->workers);
		conn_watch_stop(&srv->watch);
		return -1;
	}
	return 0;
}

/* Waits at most ms for every admitted request to end; true when they did. */
static bool wait_drained(struct http_server *srv, int ms)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	for (int waited = 0; atomic_load(&srv->in_flight) > 0 && waited < ms; waited += 10)
		nanosleep(&pause, NULL);
	return atomic_load(&srv->in_flight) == 0;
}

/* After the plugins were deactivated, no one will finish what is still
 * held: answer it here. */
static void answer_held(struct http_server *srv)
{
	pthread_mutex_lock(&srv->held_lock);
	for (struct req_ctx *ctx = srv->held; ctx; ctx = ctx->held_next) {
		if (atomic_load(&ctx->hold) != HOLD_WAITING)
			continue;
		log_kv(LOG_WARN, "a plugin left a response unfinished; answering 503", "request_id",
		       ctx->request_id, NULL);
		response_free(&ctx->resp);
		response_init(&ctx->resp);
		(void)response_error(&ctx->resp, 503, "api.context.shutting_down.app_error",
				     "The server is shutting down; try again shortly.",
				     ctx->request_id);
		atomic_store(&ctx->hold, HOLD_FINISHED);
		MHD_resume_connection(ctx->con);
	}
	pthread_mutex_unlock(&srv->held_lock);
}

void http_server_shutdown(struct http_server *srv)
{
	if (!srv->daemon)
		return;
	/* Stop admitting requests: those that arrive from now on are answered
	 * 503 and their connections closed. MHD_quiesce_daemon is not used: in
	 * libmicrohttpd 0.9.75 it races its own pool threads over the listening
	 * socket's epoll registration and can abort the process. */
	atomic_store(&srv->draining, true);
	if (!wait_drained(srv, HTTP_DRAIN_TIMEOUT_MS))
		log_kv(LOG_WARN, "drain timed out; closing the remaining connections", NULL);
	/* A plugin finishes the responses it still holds (calls to Apps past
	 * the drain) in deactivate; what a plugin left is answered here: a
	 * suspended connection must be resumed before libmicrohttpd stops. */
	plugin_registry_deactivate_all(srv->host->plugins);
	answer_held(srv);
	(void)wait_drained(srv, 2000);
	/* Workers finish what they hold before the daemon goes. A request that
	 * arrives after this is answered 503; the pool is freed only once the
	 * daemon, which submits to it, is gone. The daemon closes the listening
	 * socket it was given. */
	work_pool_stop(&srv->workers);
	MHD_stop_daemon(srv->daemon);
	work_pool_destroy(&srv->workers);
	conn_watch_stop(&srv->watch);
	pthread_mutex_destroy(&srv->held_lock);
	log_flush();
	srv->daemon = NULL;
	srv->listen_fd = -1;
}
