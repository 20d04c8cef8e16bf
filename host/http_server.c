#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr_limit.h"
#include "api_error.h"
#include "conn_watch.h"
#include "host_request.h"
#include "http_metrics.h"
#include "log.h"
#include "metrics.h"
#include "mm_id.h"
#include "plugin_registry.h"
#include "query_room.h"
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
	bool query_no_room; /* refused at the request line (414) */
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
	struct MHD_Response *mhd_resp; /* queued from resp; released by request_end */
	atomic_int hold;               /* enum req_hold */
	bool admitted; /* head complete before the drain began: counted in in_flight */
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
	struct addr_key addr;          /* its group for the per-address limit */
	bool addr_counted;             /* counted in srv->per_addr */
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
static void client_group(struct MHD_Connection *con, struct addr_key *out);
static void request_end(struct conn *c, const char *aborted);
static void release_mhd_response(struct req_ctx *ctx);
static void held_remove(struct req_ctx *ctx);
static void answer_left_held(void *arg, struct mmplugin_host *p);

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

/* A new request line: the request is logged from here, at its completion
 * or, if libmicrohttpd drops it, when its connection closes. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct http_server *srv = cls;
	struct conn *c = conn_of(con);
	struct req_ctx *r;
	size_t len = strlen(uri);

	if (!c || !c->addr_counted)
		return NULL; /* no state, or over its address's limit: closed */
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
	r->admitted = false;
	r->mhd_resp = NULL;
	/* Until the handler runs (it may never: headers too large), the log
	 * shows the raw path without its query. */
	copy_cut(r->log_path, sizeof(r->log_path), uri, strcspn(uri, "?"));
	/* libmicrohttpd 0.9.75 keeps each query argument in the connection's
	 * memory; when they do not fit it drops the request without a word
	 * (no answer, no completion) and holds the connection until its idle
	 * timeout (query_room.h). When they might not fit, the read side is
	 * shut now: if they fit after all the handler answers 414; if not, the
	 * connection ends at once and on_connection logs and frees the
	 * request. */
	if (!query_room_fits(len, query_room_args(uri, len), HTTP_CONNECTION_MEMORY)) {
		r->query_no_room = true;
		shutdown(c->watch.fd, SHUT_RD);
	}
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
	release_mhd_response(r);
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
		client_group(con, &c->addr);
		c->addr_counted = addr_limit_take(&srv->per_addr, &c->addr);
		conn_watch_add(&srv->watch, &c->watch, ci->connect_fd);
		http_metrics_connection(1);
		*socket_context = c;
		if (!c->addr_counted) {
			/* Over per_ip_connections for its IPv4 address or IPv6
			 * /64: closed at once, as libmicrohttpd does with its own
			 * limit (which counts exact addresses only). */
			log_kv(LOG_DEBUG, "connection refused: too many from one address", "remote",
			       c->remote, NULL);
			shutdown(ci->connect_fd, SHUT_RDWR);
		}
		return;
	}
	if (!c)
		return;
	conn_watch_remove(&srv->watch, &c->watch);
	if (c->addr_counted)
		addr_limit_give(&srv->per_addr, &c->addr);
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

/*
 * Queues the request's response (ctx->resp) with the request id header.
 * libmicrohttpd sends the body from ctx->resp without copying it
 * (MHD_RESPMEM_PERSISTENT): the request keeps it until request_end, which
 * wipes it (it may be a new token) once libmicrohttpd is done with it (the
 * completion comes before libmicrohttpd drops its response). The response
 * object is kept as long, so that request_end can wipe libmicrohttpd's
 * copies of the header values (Set-Cookie, Token) too.
 */
static enum MHD_Result send_response(struct MHD_Connection *con, struct req_ctx *ctx)
{
	struct mmplugin_response *r = &ctx->resp;
	struct MHD_Response *mr;
	enum MHD_Result ret;

	if (ctx->mhd_resp)
		return MHD_YES; /* one answer per request */
	mr = MHD_create_response_from_buffer(r->body_len, r->body_len ? r->body : (void *)"",
					     MHD_RESPMEM_PERSISTENT);
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
	if (ret == MHD_YES)
		ctx->mhd_resp = mr;
	else
		MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result wipe_value(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	(void)cls;
	(void)kind;
	(void)key;
	/* libmicrohttpd's own copy (malloc'd by MHD_add_response_header),
	 * about to be freed, no longer read: the answer was sent. */
	if (value)
		sodium_memzero((char *)(uintptr_t)value, strlen(value));
	return MHD_YES;
}

/* Drops the request's reference to its libmicrohttpd response after wiping
 * the header values libmicrohttpd copied. */
static void release_mhd_response(struct req_ctx *ctx)
{
	if (!ctx->mhd_resp)
		return;
	(void)MHD_get_response_headers(ctx->mhd_resp, wipe_value, NULL);
	MHD_destroy_response(ctx->mhd_resp);
	ctx->mhd_resp = NULL;
}

/* Answers with a Mattermost-shaped error (nothing was answered yet). */
static enum MHD_Result send_error(struct MHD_Connection *con, struct req_ctx *ctx, int status,
				  const char *id, const char *message, const char *allow)
{
	if (ctx->mhd_resp)
		return MHD_YES;
	response_free(&ctx->resp);
	response_init(&ctx->resp);
	if (response_error(&ctx->resp, status, id, message, ctx->request_id) != 0)
		return MHD_NO;
	if (allow)
		(void)response_add_header(&ctx->resp, "Allow", 5, allow, strlen(allow));
	return send_response(con, ctx);
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

static void client_group(struct MHD_Connection *con, struct addr_key *out)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	addr_key_of(ci ? ci->client_addr : NULL, out);
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
	return send_response(con, ctx);
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

/*
 * A request counts for the drain from its complete head: what has not sent
 * its head yet (a slow client, a request libmicrohttpd dropped while
 * parsing it) is not waited for. Counted first, then checked, so that the
 * drain (which sets draining, then waits for in_flight to reach 0) either
 * sees this request or this request sees the drain.
 */
static bool admit(struct http_server *srv)
{
	atomic_fetch_add(&srv->in_flight, 1);
	if (!atomic_load(&srv->draining))
		return true;
	atomic_fetch_sub(&srv->in_flight, 1);
	return false;
}

/* First call for a request: headers are in. A request that arrived after
 * SIGTERM is told to come back (and its connection closed: send_response);
 * a declared body that is too large is refused before any of it is read. */
static enum MHD_Result begin_request(struct MHD_Connection *con, struct req_ctx *ctx,
				     const char *url, const char *method)
{
	const char *cl =
		MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long declared = 0;
	bool too_long = false;

	if (cl) {
		char *end;
		errno = 0;
		declared = strtoull(cl, &end, 10);
		too_long = errno == ERANGE || declared > HTTP_BODY_MAX;
	}
	ctx->started = true;
	conn_watch_body_start(&ctx->conn->watch, cl && !too_long ? (int64_t)declared : -1,
			      conn_watch_now_ms());
	copy_cut(ctx->method, sizeof(ctx->method), method, strlen(method));
	copy_cut(ctx->log_path, sizeof(ctx->log_path), url, strnlen(url, sizeof(ctx->log_path)));
	ctx->admitted = admit(ctx->srv);
	resolve_client(con, ctx);
	if (!ctx->admitted)
		return send_error(con, ctx, 503, "api.context.shutting_down.app_error",
				  "The server is shutting down; try again shortly.", NULL);
	if (ctx->query_no_room) {
		ctx->must_close = true;
		return send_error(con, ctx, 414, "api.context.query_too_long.app_error",
				  "The query string is too long for its number of arguments.",
				  NULL);
	}
	/* libmicrohttpd decodes %00 to a NUL, which would cut the path short:
	 * "/x/ping%00y" must not be served as "/x/ping". */
	if (path_has_encoded_nul(ctx->target))
		return send_error(con, ctx, 400, "api.context.invalid_url.app_error",
				  "The path holds an encoded NUL (%00).", NULL);
	if (too_long)
		return send_error(con, ctx, 413, "api.context.request_body_too_large.app_error",
				  "The request body is larger than 1 MiB.", NULL);
	return MHD_YES;
}

/* Appends upload data; past the cap it is dropped and counted. The buffer
 * grows by copy and wipe (never realloc, which would leave the old bytes
 * behind in freed memory). */
static enum MHD_Result take_body(struct req_ctx *ctx, const char *data, size_t len)
{
	conn_watch_body_got(&ctx->conn->watch, (int64_t)(ctx->body_len + ctx->discarded + len));
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
		return send_response(con, ctx);
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
	if (addr_limit_init(&srv->per_addr, cfg->max_connections, cfg->per_ip_connections) != 0) {
		log_kv(LOG_ERROR, "out of memory for the per-address limit", NULL);
		conn_watch_stop(&srv->watch);
		return -1;
	}
	if (work_pool_start(&srv->workers, cfg->workers, HTTP_QUEUE_MAX) != 0) {
		log_kv(LOG_ERROR, "cannot start the worker threads", NULL);
		addr_limit_destroy(&srv->per_addr);
		conn_watch_stop(&srv->watch);
		return -1;
	}
	srv->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
		MHD_OPTION_LISTEN_SOCKET, srv->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
		MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
		/* The per-address limit is the host's (addr_limit.h): libmicrohttpd
		 * counts each exact IPv6 address. */
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
		/* Malformed header lines are refused, not skipped. */
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_URI_LOG_CALLBACK, on_request_line,
		srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, srv, MHD_OPTION_END);
	if (srv->daemon)
		plugin_registry_on_left_held(host->plugins, answer_left_held, srv);
	if (!srv->daemon) {
		log_kv(LOG_ERROR, "cannot start the HTTP server", "listen", cfg->listen, NULL);
		work_pool_stop(&srv->workers);
		work_pool_destroy(&srv->workers);
		addr_limit_destroy(&srv->per_addr);
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

/*
 * Answers 503 to the responses a plugin (holder; NULL: any) holds and will
 * not finish: it was deactivated. Safe against the serving thread (the
 * exchange of enum req_hold decides who resumes) and, since deactivate has
 * returned, against the plugin. A request is in the list from just after
 * its serve_http returned until its answer is sent.
 */
static void answer_held(struct http_server *srv, const struct mmplugin_host *holder)
{
	pthread_mutex_lock(&srv->held_lock);
	for (struct req_ctx *ctx = srv->held; ctx; ctx = ctx->held_next) {
		if ((holder && ctx->resp.holder != holder) ||
		    atomic_load(&ctx->hold) == HOLD_FINISHED)
			continue;
		log_kv(LOG_WARN, "a plugin left a response unfinished; answering 503", "request_id",
		       ctx->request_id, NULL);
		plugin_registry_hold_finished(&ctx->resp);
		response_free(&ctx->resp);
		response_init(&ctx->resp);
		if (atomic_load(&srv->draining))
			(void)response_error(&ctx->resp, 503, "api.context.shutting_down.app_error",
					     "The server is shutting down; try again shortly.",
					     ctx->request_id);
		else
			(void)response_error(&ctx->resp, 503, "api.plugin.unavailable.app_error",
					     "The plugin was disabled before it answered.",
					     ctx->request_id);
		if (atomic_exchange(&ctx->hold, HOLD_FINISHED) == HOLD_WAITING)
			MHD_resume_connection(ctx->con);
	}
	pthread_mutex_unlock(&srv->held_lock);
}

/* The registry's hook after plugin p was deactivated with responses still
 * held. One that was just handed back (ASYNC) may not be in the list yet:
 * look again until the plugin's count says none is left (a bounded wait:
 * the serving thread adds it right after serve_http returns). */
static void answer_left_held(void *arg, struct mmplugin_host *p)
{
	struct http_server *srv = arg;
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	for (int waited = 0; atomic_load(&p->held) > 0 && waited < 2000; waited += 10) {
		answer_held(srv, p);
		if (atomic_load(&p->held) > 0)
			nanosleep(&pause, NULL);
	}
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
	plugin_registry_on_left_held(srv->host->plugins, NULL, NULL);
	answer_held(srv, NULL);
	(void)wait_drained(srv, 2000);
	/* Workers finish what they hold before the daemon goes. A request that
	 * arrives after this is answered 503; the pool is freed only once the
	 * daemon, which submits to it, is gone. The daemon closes the listening
	 * socket it was given. */
	work_pool_stop(&srv->workers);
	MHD_stop_daemon(srv->daemon);
	work_pool_destroy(&srv->workers);
	conn_watch_stop(&srv->watch);
	addr_limit_destroy(&srv->per_addr);
	pthread_mutex_destroy(&srv->held_lock);
	log_flush();
	srv->daemon = NULL;
	srv->listen_fd = -1;
}
