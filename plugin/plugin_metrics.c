#include "plugin_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "plugin.h"
#include "banned.h"

static const char *const op_names[] = { "store_app", "store_user", "get_user", "delete_user" };
static const char *const result_words[] = { "ok", "refused", "error" };
static const char *const step_names[] = { "connect", "complete" };
static const char *const flow_words[] = { "ok", "login", "refused", "app_error", "error" };
static const char *const call_words[] = {
	"ok", "http_error", "timeout", "unreachable", "too_large", "busy", "shutdown", "error",
};
static const char *const refresh_words[] = {
	"refreshed", "lost", "invalid_grant", "timeout", "unavailable", "error",
};
static const char *const record_kinds[] = { "apps", "listed_apps", "oauth2_users",
					    "oauth2_states" };

#define OPS (sizeof(op_names) / sizeof(op_names[0]))
#define RESULTS (sizeof(result_words) / sizeof(result_words[0]))
#define STEPS (sizeof(step_names) / sizeof(step_names[0]))
#define FLOW_RESULTS (sizeof(flow_words) / sizeof(flow_words[0]))
#define CALL_RESULTS (sizeof(call_words) / sizeof(call_words[0]))
#define REFRESH_RESULTS (sizeof(refresh_words) / sizeof(refresh_words[0]))
#define KINDS (sizeof(record_kinds) / sizeof(record_kinds[0]))

/* Seconds: calls answer in milliseconds, time out at call_timeout_s (30 s
 * by default, at most 300). */
static const double call_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
				       1,     2.5,  5,     10,   30,  60,   300 };
/* Writes per commit: the seam's group commit takes at most 256. */
static const double batch_buckets[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };

/* Set once in activate, before anything counts; the host's memory stays
 * valid until the process exits, so the handles outlive a deactivate. */
static struct {
	const struct mmplugin_host_api *api;
	mmplugin_metric *store_ops[OPS][RESULTS];
	mmplugin_metric *flow[STEPS][FLOW_RESULTS];
	mmplugin_metric *calls[CALL_RESULTS];
	mmplugin_metric *refreshes[REFRESH_RESULTS];
	mmplugin_metric *call_seconds;
	mmplugin_metric *batch;
	mmplugin_metric *unseal_failures;
	mmplugin_metric *records[KINDS];
	mmplugin_metric *sweep_done;
	/* The counts taken last (plugin_metrics_count_records), and the
	 * store's counters at the last scrape (for the batch size). */
	pthread_mutex_t lock;
	struct apps_store_counts counts;
	bool counted;
	struct store_stats stats_seen;
} m = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* A host of ABI 1.3 fills these; a test's fake table may leave them NULL. */
static bool host_has_metrics(const struct mmplugin_host_api *api)
{
	return MMPLUGIN_HAS(api, struct mmplugin_host_api, metrics_on_scrape) &&
	       api->metric_counter && api->metric_gauge && api->metric_histogram &&
	       api->metric_add && api->metric_set && api->metric_observe && api->metrics_on_scrape;
}

static void set_counts(const struct apps_store_counts *c)
{
	m.api->metric_set(m.records[0], (double)c->apps);
	m.api->metric_set(m.records[1], (double)c->listed);
	m.api->metric_set(m.records[2], (double)c->users);
	m.api->metric_set(m.records[3], (double)c->states);
}

void plugin_metrics_count_records(struct apps_plugin *p)
{
	struct apps_store_counts c;

	if (!m.api || apps_store_count(&p->store, &c) != STORE_OK)
		return; /* the last values stay */
	pthread_mutex_lock(&m.lock);
	m.counts = c;
	m.counted = true;
	pthread_mutex_unlock(&m.lock);
}

/* Writes per commit since the last scrape, from the store's counters: one
 * observation per scrape that saw commits. */
static void observe_batches(struct apps_plugin *p)
{
	struct store_stats now;
	uint64_t commits, writes;

	store_get_stats(p->store.db, &now);
	pthread_mutex_lock(&m.lock);
	commits = now.commits - m.stats_seen.commits;
	writes = now.writes - m.stats_seen.writes;
	m.stats_seen = now;
	pthread_mutex_unlock(&m.lock);
	if (commits > 0)
		plugin_metrics_group_commit_batch((size_t)((writes + commits / 2) / commits));
}

/* The scrape hook, on the host's metrics thread: the records gauges (read
 * now when the store's reads never wait; else the counts the sweeper took
 * last, so that a scrape never waits on the network) and the batch size. */
static void count_records(void *arg)
{
	struct apps_plugin *p = arg;
	struct apps_store_counts c;
	bool have;

	observe_batches(p);
	if (!apps_store_reads_block(&p->store))
		plugin_metrics_count_records(p);
	pthread_mutex_lock(&m.lock);
	c = m.counts;
	have = m.counted;
	pthread_mutex_unlock(&m.lock);
	if (have)
		set_counts(&c);
}

static int reg_counter(struct apps_plugin *p, const char *name, const char *help,
		       const struct mmplugin_label *l, size_t n, mmplugin_metric **out)
{
	return p->api->metric_counter(p->host, name, help, l, n, out);
}

static int register_all(struct apps_plugin *p)
{
	const struct mmplugin_host_api *api = p->api;
	int rc = 0;

	for (size_t i = 0; i < OPS; i++) {
		for (size_t j = 0; j < RESULTS; j++) {
			struct mmplugin_label l[] = { { "op", op_names[i] },
						      { "result", result_words[j] } };
			rc |= reg_counter(p, "mmapps_oauth2_store_ops_total",
					  "Calls of the OAuth2 routes Apps store through "
					  "(oauth2/app, oauth2/user), by outcome.",
					  l, 2, &m.store_ops[i][j]);
		}
	}
	for (size_t i = 0; i < STEPS; i++) {
		for (size_t j = 0; j < FLOW_RESULTS; j++) {
			struct mmplugin_label l[] = { { "step", step_names[i] },
						      { "result", flow_words[j] } };
			rc |= reg_counter(p, "mmapps_flow_total",
					  "Steps of the browser OAuth2 flow (connect, complete), "
					  "by outcome.",
					  l, 2, &m.flow[i][j]);
		}
	}
	for (size_t i = 0; i < CALL_RESULTS; i++) {
		struct mmplugin_label l[] = { { "result", call_words[i] } };
		rc |= reg_counter(p, "mmapps_app_calls_total", "HTTP calls to Apps, by outcome.", l,
				  1, &m.calls[i]);
	}
	for (size_t i = 0; i < REFRESH_RESULTS; i++) {
		struct mmplugin_label l[] = { { "result", refresh_words[i] } };
		rc |= reg_counter(p, "mmapps_oauth2_refresh_total",
				  "Refreshes of users' OAuth2 tokens by the framework, by outcome.",
				  l, 1, &m.refreshes[i]);
	}
	rc |= api->metric_histogram(
		p->host, "mmapps_app_call_duration_seconds",
		"Time from sending a call to an App to its answer (or failure).", call_buckets,
		sizeof(call_buckets) / sizeof(call_buckets[0]), NULL, 0, &m.call_seconds);
	rc |= api->metric_histogram(p->host, "mmapps_group_commit_batch_size",
				    "Writes committed together in one transaction of the plugin's "
				    "store (the mean per commit since the last scrape).",
				    batch_buckets, sizeof(batch_buckets) / sizeof(batch_buckets[0]),
				    NULL, 0, &m.batch);
	rc |= reg_counter(p, "mmapps_unseal_failures_total",
			  "Sealed records that failed to open (tampered, moved, or sealed under "
			  "an unknown key).",
			  NULL, 0, &m.unseal_failures);
	for (size_t i = 0; i < KINDS; i++) {
		struct mmplugin_label l[] = { { "kind", record_kinds[i] } };
		rc |= api->metric_gauge(p->host, "mmapps_records",
					"Records in the plugin's store, by kind (counted at "
					"scrape time).",
					l, 1, &m.records[i]);
	}
	rc |= api->metric_gauge(p->host, "mmapps_key_sweep_done",
				"Records re-sealed so far by the current key rotation sweep.", NULL,
				0, &m.sweep_done);
	rc |= api->metrics_on_scrape(p->host, count_records, p);
	return rc;
}

void plugin_metrics_register(struct apps_plugin *p)
{
	if (!host_has_metrics(p->api)) {
		plugin_log(p, MMPLUGIN_LOG_INFO, "the host takes no metrics (ABI before 1.3)");
		return;
	}
	m.api = p->api;
	store_get_stats(p->store.db, &m.stats_seen);
	/* Handles that failed stay NULL: updating them does nothing. */
	if (register_all(p) != 0)
		plugin_log(p, MMPLUGIN_LOG_WARN, "some metrics could not be registered");
}

static void add(mmplugin_metric *h)
{
	if (m.api && h)
		m.api->metric_add(h, 1);
}

void plugin_metrics_store_op(enum store_op op, int status)
{
	size_t r = status >= 500 || status < 100 ? 2 : status >= 400 ? 1 : 0;

	if ((size_t)op < OPS)
		add(m.store_ops[op][r]);
}

void plugin_metrics_flow(enum flow_step step, enum flow_result result)
{
	if ((size_t)step < STEPS && (size_t)result < FLOW_RESULTS)
		add(m.flow[step][result]);
}

void plugin_metrics_flow_status(enum flow_step step, int status)
{
	enum flow_result r = status == 302                   ? FLOW_LOGIN
			     : status >= 200 && status < 400 ? FLOW_OK
			     : status == 502                 ? FLOW_APP_ERROR
			     : status >= 400 && status < 500 ? FLOW_REFUSED
							     : FLOW_ERROR;

	plugin_metrics_flow(step, r);
}

void plugin_metrics_app_call(enum app_call_result result, double seconds)
{
	if (!m.api)
		return;
	if ((size_t)result < CALL_RESULTS)
		add(m.calls[result]);
	if (m.call_seconds && seconds >= 0)
		m.api->metric_observe(m.call_seconds, seconds);
}

void plugin_metrics_refresh(enum refresh_result result)
{
	if ((size_t)result < REFRESH_RESULTS)
		add(m.refreshes[result]);
}

void plugin_metrics_group_commit_batch(size_t n)
{
	if (m.api && m.batch)
		m.api->metric_observe(m.batch, (double)n);
}

void plugin_metrics_unseal_failure(void)
{
	add(m.unseal_failures);
}

void plugin_metrics_key_sweep_done(uint64_t n)
{
	if (m.api && m.sweep_done)
		m.api->metric_set(m.sweep_done, (double)n);
}
