/*
 * The plugin's Prometheus metrics, registered through the host API at
 * activation (ABI 1.3) and served by the host on its metrics listener:
 *
 *   mmapps_oauth2_store_ops_total{op,result}  the OAuth2 routes Apps call:
 *       op store_app, store_user, get_user, delete_user; result ok,
 *       refused (a 4xx: caller, App or body), error (a 5xx: the store)
 *   mmapps_flow_total{step,result}  the browser flow: step connect,
 *       complete; result ok, login (sent to log in first), refused (4xx:
 *       state, App, caller), app_error (the App failed or said no), error
 *   mmapps_app_calls_total{result}  calls to Apps: ok (2xx), http_error
 *       (another status), timeout, unreachable, too_large, busy (past
 *       max_concurrent_calls), shutdown, error
 *   mmapps_app_call_duration_seconds  calls to Apps, start to answer
 *   mmapps_group_commit_batch_size  writes per commit of the plugin's store
 *       (the seam's group commit): the mean since the last scrape, observed
 *       at each scrape that saw commits
 *   mmapps_unseal_failures_total  sealed records that did not open
 *   mmapps_records{kind}  apps, listed_apps, oauth2_users, oauth2_states:
 *       counted from the store (a walk of keys, up to APPS_COUNT_MAX each)
 *       when a scrape asks if the store's reads never wait (LMDB), else by
 *       the state sweeper every minute (PostgreSQL: a scrape never waits on
 *       the database); not maintained by the writers
 *   mmapps_oauth2_refresh_total{result}  refreshes of users' tokens by the
 *       framework (token_refresh.h): refreshed, lost (the stored value
 *       changed meanwhile, or another node refreshed it), invalid_grant
 *       (the record was deleted), timeout, unavailable (5xx, network),
 *       error
 *   mmapps_key_sweep_done  records re-sealed by the current key sweep (0
 *       until key rotation sets it with plugin_metrics_key_sweep_done)
 *
 * Label values are the fixed words above. The handles are process-wide, so
 * that any module counts without a plugin pointer; every function is a
 * no-op before plugin_metrics_register (unit tests, a host without
 * metrics) and costs one relaxed atomic add in the host after it.
 * Thread-safe.
 */
#ifndef PLUGIN_PLUGIN_METRICS_H
#define PLUGIN_PLUGIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct apps_plugin;

enum store_op { STORE_OP_APP = 0, STORE_OP_USER_PUT, STORE_OP_USER_GET, STORE_OP_USER_DEL };
enum flow_step { FLOW_CONNECT = 0, FLOW_COMPLETE };
enum flow_result {
	FLOW_OK = 0,
	FLOW_LOGIN,
	FLOW_REFUSED,
	FLOW_APP_ERROR,
	FLOW_ERROR,
};
enum app_call_result {
	CALL_OK = 0,
	CALL_HTTP_ERROR,
	CALL_TIMEOUT,
	CALL_UNREACHABLE,
	CALL_TOO_LARGE,
	CALL_BUSY,
	CALL_SHUTDOWN,
	CALL_ERROR,
};

enum refresh_result {
	REFRESH_OK = 0,
	REFRESH_LOST,
	REFRESH_INVALID_GRANT,
	REFRESH_TIMEOUT,
	REFRESH_UNAVAILABLE,
	REFRESH_ERROR,
};

/* Registers every series and the scrape hook (counting records); logs and
 * goes on without metrics when the host cannot take them. From activate,
 * before the plugin starts threads that count. */
void plugin_metrics_register(struct apps_plugin *p);

/* One OAuth2 route answered with HTTP status. */
void plugin_metrics_store_op(enum store_op op, int status);
/* One flow step answered with HTTP status (mapped to a result). */
void plugin_metrics_flow_status(enum flow_step step, int status);
void plugin_metrics_flow(enum flow_step step, enum flow_result result);
/* One call to an App ended, after seconds (< 0: refused before it started;
 * counted, not timed). */
void plugin_metrics_app_call(enum app_call_result result, double seconds);
/* One token refresh ended. */
void plugin_metrics_refresh(enum refresh_result result);
/* One group commit of n writes. */
void plugin_metrics_group_commit_batch(size_t n);
/* Counts the records in the store now, for the gauges (may wait on the
 * store: from the sweeper, not an I/O thread). */
void plugin_metrics_count_records(struct apps_plugin *p);
/* One sealed record did not open. */
void plugin_metrics_unseal_failure(void);
/* Records re-sealed so far by the current key sweep. */
void plugin_metrics_key_sweep_done(uint64_t n);

#endif
