#include "http_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "banned.h"

#define ROUTE_LABEL_MAX (PLUGIN_ID_MAX + 16)
#define METHODS 8
#define SLOT_OVERFLOW HTTP_METRICS_SLOTS /* counts what no slot could take */

static const char *const method_names[METHODS] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
};

/* What the access log says a request that ended unanswered was. */
static const char *const abort_reasons[] = {
	"error",   "timeout",      "client",       "shutdown", "other",
	"dropped", "head_timeout", "body_timeout", "room",
};
#define ABORT_REASONS (sizeof(abort_reasons) / sizeof(abort_reasons[0]))

/* Upper bounds of the duration buckets, in microseconds: the fast path
 * answers in tens of microseconds, a call to an App up to its timeout. */
static const uint64_t bounds_us[] = {
	100,    250,    500,    1000,    2500,    5000,    10000,    25000,    50000,
	100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
};
#define BOUNDS (sizeof(bounds_us) / sizeof(bounds_us[0]))

_Static_assert(HTTP_METRICS_SLOTS == 1u << 11, "slot_of hashes to 11 bits");
_Static_assert(HTTP_ROUTES < 1u << 18, "a route index fits its key");
/* Per route: BOUNDS + 1 bucket cells, then the sum in microseconds. */
#define DURATION_CELLS (BOUNDS + 2)

static struct {
	char routes[HTTP_ROUTES][ROUTE_LABEL_MAX];
	/* (route + 1) << 13 | method << 10 | status; 0: free. */
	_Atomic uint32_t keys[HTTP_METRICS_SLOTS];
	unsigned requests_cell;  /* HTTP_METRICS_SLOTS + 1 cells */
	unsigned durations_cell; /* HTTP_ROUTES * DURATION_CELLS */
	unsigned aborted_cell;   /* ABORT_REASONS */
	unsigned connections_cell;
	const atomic_long *in_flight;
} hm;

unsigned http_metrics_route(enum route_kind kind, int plugin_slot)
{
	if (kind != ROUTE_PLUGIN)
		return kind < ROUTE_KIND_COUNT ? (unsigned)kind : ROUTE_NOT_FOUND;
	if (plugin_slot >= 0 && plugin_slot < PLUGINS_MAX)
		return HTTP_ROUTE_PLUGIN_BASE + (unsigned)plugin_slot;
	return HTTP_ROUTE_OTHER_PLUGIN;
}

void http_metrics_name_plugin(unsigned slot, const char *id)
{
	if (slot < PLUGINS_MAX)
		snprintf(hm.routes[HTTP_ROUTE_PLUGIN_BASE + slot], ROUTE_LABEL_MAX, "/plugins/%s",
			 id);
}

static unsigned method_index(const char *m)
{
	for (unsigned i = 0; i < METHODS - 1; i++) {
		if (m[0] == method_names[i][0] && strcmp(m, method_names[i]) == 0)
			return i;
	}
	return METHODS - 1;
}

/* The slot of key, claiming a free one the first time; SLOT_OVERFLOW when
 * the table is full. Lock-free: a slot's key never changes once set. */
static unsigned slot_of(uint32_t key)
{
	unsigned h = (key * 2654435761u) >> (32 - 11);

	for (unsigned i = 0; i < HTTP_METRICS_SLOTS; i++) {
		unsigned s = (h + i) & (HTTP_METRICS_SLOTS - 1);
		uint32_t k = atomic_load_explicit(&hm.keys[s], memory_order_acquire);

		if (k == key)
			return s;
		if (k == 0) {
			uint32_t expected = 0;
			if (atomic_compare_exchange_strong(&hm.keys[s], &expected, key) ||
			    expected == key)
				return s;
		}
	}
	return SLOT_OVERFLOW;
}

void http_metrics_request(unsigned route, const char *method, int status, uint64_t us)
{
	unsigned d, b = 0;
	uint32_t key;

	if (!metrics_enabled())
		return;
	if (route >= HTTP_ROUTES)
		route = ROUTE_NOT_FOUND;
	if (status < 100 || status > 999)
		status = 999;
	key = (uint32_t)(route + 1) << 13 | (uint32_t)method_index(method) << 10 | (uint32_t)status;
	metrics_cell_add(hm.requests_cell + slot_of(key), 1);
	while (b < BOUNDS && us > bounds_us[b])
		b++;
	d = hm.durations_cell + route * DURATION_CELLS;
	metrics_cell_add(d + b, 1);
	metrics_cell_add(d + BOUNDS + 1, us);
}

void http_metrics_aborted(const char *reason)
{
	if (!metrics_enabled() || !reason)
		return;
	for (unsigned i = 0; i < ABORT_REASONS; i++) {
		if (strcmp(reason, abort_reasons[i]) == 0) {
			metrics_cell_add(hm.aborted_cell + i, 1);
			return;
		}
	}
	metrics_cell_add(hm.aborted_cell + 4, 1); /* "other" */
}

void http_metrics_connection(int delta)
{
	if (metrics_enabled())
		metrics_cell_add(hm.connections_cell, (uint64_t)(int64_t)delta);
}

static void put_route(struct metrics_buf *b, unsigned route)
{
	metrics_buf_put(b, "route=\"", 7);
	metrics_put_label_value(b, hm.routes[route][0] ? hm.routes[route] : "unmatched");
	metrics_buf_put(b, "\"", 1);
}

static void render_requests(struct metrics_buf *b, void *arg)
{
	(void)arg;
	for (unsigned s = 0; s <= HTTP_METRICS_SLOTS; s++) {
		char tail[64], *labels;
		struct metrics_buf l = { 0 };
		uint32_t key;

		if (s == SLOT_OVERFLOW) {
			uint64_t n = metrics_cell_sum(hm.requests_cell + s);
			if (n)
				metrics_put_sample_u64(
					b, "mmhost_http_requests_total", NULL,
					"route=\"overflow\",method=\"other\",code=\"other\"", n);
			break;
		}
		key = atomic_load_explicit(&hm.keys[s], memory_order_acquire);
		if (!key)
			continue;
		put_route(&l, (key >> 13) - 1);
		snprintf(tail, sizeof(tail), ",method=\"%s\",code=\"%u\"",
			 method_names[(key >> 10) & 7], key & 1023);
		metrics_buf_put(&l, tail, strlen(tail));
		labels = l.failed ? NULL : l.p;
		if (labels)
			metrics_put_sample_u64(b, "mmhost_http_requests_total", NULL, labels,
					       metrics_cell_sum(hm.requests_cell + s));
		free(l.p);
	}
}

static void render_durations(struct metrics_buf *b, void *arg)
{
	double bounds[BOUNDS];

	(void)arg;
	for (size_t i = 0; i < BOUNDS; i++)
		bounds[i] = (double)bounds_us[i] / 1e6;
	for (unsigned r = 0; r < HTTP_ROUTES; r++) {
		unsigned d = hm.durations_cell + r * DURATION_CELLS;
		struct metrics_buf l = { 0 };
		uint64_t count = 0;

		for (unsigned i = 0; i <= BOUNDS; i++)
			count += metrics_cell_sum(d + i);
		if (!count)
			continue;
		put_route(&l, r);
		if (!l.failed)
			metrics_put_histogram(b, "mmhost_http_request_duration_seconds", l.p,
					      bounds, BOUNDS, d,
					      (double)metrics_cell_sum(d + BOUNDS + 1) / 1e6);
		free(l.p);
	}
}

static void render_aborted(struct metrics_buf *b, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < ABORT_REASONS; i++) {
		char labels[48];
		snprintf(labels, sizeof(labels), "reason=\"%s\"", abort_reasons[i]);
		metrics_put_sample_u64(b, "mmhost_http_requests_aborted_total", NULL, labels,
				       metrics_cell_sum(hm.aborted_cell + i));
	}
}

static void render_connections(struct metrics_buf *b, void *arg)
{
	(void)arg;
	metrics_put_sample(b, "mmhost_http_connections", NULL, "",
			   (double)(int64_t)metrics_cell_sum(hm.connections_cell));
}

static void render_in_flight(struct metrics_buf *b, void *arg)
{
	(void)arg;
	metrics_put_sample(b, "mmhost_http_requests_in_flight", NULL, "",
			   hm.in_flight ? (double)atomic_load(hm.in_flight) : 0);
}

int http_metrics_init(const atomic_long *in_flight)
{
	memset(hm.routes, 0, sizeof(hm.routes));
	for (unsigned k = 1; k < ROUTE_KIND_COUNT; k++) {
		const char *p = request_map_pattern((enum route_kind)k);
		if (p)
			snprintf(hm.routes[k], ROUTE_LABEL_MAX, "%s", p);
	}
	snprintf(hm.routes[ROUTE_NOT_FOUND], ROUTE_LABEL_MAX, "unmatched");
	snprintf(hm.routes[HTTP_ROUTE_OTHER_PLUGIN], ROUTE_LABEL_MAX, "/plugins/{id}");
	for (unsigned s = 0; s < HTTP_METRICS_SLOTS; s++)
		atomic_store(&hm.keys[s], 0);
	hm.in_flight = in_flight;
	if (metrics_cells_reserve(HTTP_METRICS_SLOTS + 1, &hm.requests_cell) != 0 ||
	    metrics_cells_reserve(HTTP_ROUTES * DURATION_CELLS, &hm.durations_cell) != 0 ||
	    metrics_cells_reserve(ABORT_REASONS, &hm.aborted_cell) != 0 ||
	    metrics_cells_reserve(1, &hm.connections_cell) != 0)
		return -1;
	if (metrics_register_custom("mmhost_http_requests_total",
				    "HTTP requests answered, by route pattern, method and status.",
				    METRIC_COUNTER, render_requests, NULL) != 0 ||
	    metrics_register_custom("mmhost_http_request_duration_seconds",
				    "Time from a request's first line to its answer, by route "
				    "pattern.",
				    METRIC_HISTOGRAM, render_durations, NULL) != 0 ||
	    metrics_register_custom("mmhost_http_requests_aborted_total",
				    "Requests that ended without their answer sent in full, by "
				    "reason (client gone, timeouts, connections cut for room).",
				    METRIC_COUNTER, render_aborted, NULL) != 0 ||
	    metrics_register_custom("mmhost_http_connections", "Open HTTP connections.",
				    METRIC_GAUGE, render_connections, NULL) != 0 ||
	    metrics_register_custom("mmhost_http_requests_in_flight",
				    "Requests admitted and not yet ended (held ones included).",
				    METRIC_GAUGE, render_in_flight, NULL) != 0)
		return -1;
	return 0;
}
