/*
 * GET /api/v4/system/ping: {"status":"OK"} for anyone, on the I/O thread.
 *
 * With ?get_server_status=true it is the health check load balancers and
 * mmctl's `system status` use, shaped as Mattermost answers it:
 *   {"status":"OK","database_status":"OK","filestore_status":"OK",
 *    "plugins":{"com.mattermost.apps":"OK"}}
 * database_status: one trivial read through the store (at most
 * STORE_TIMEOUT_MS), its result kept HEALTH_CACHE_MS so that a storm of
 * health checks reads the database once a second; filestore_status: the
 * data folder can be written; plugins: each loaded plugin's state
 * (plugin_registry_health: "failed" for a plugin the admin wants that is
 * not running, with its reason for a system admin only). Any of them
 * UNHEALTHY or failed makes status "UNHEALTHY" and the answer 500 (200 with
 * use_rest_semantics=true, as in Mattermost): a node that cannot reach its
 * database, or cannot run a plugin it was configured to run, should leave
 * the load balancer's pool. It runs on a worker (route_blocks): the read
 * may wait for the database, the plugin states for an activation.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host_request.h"
#include "log.h"
#include "urlencoded.h"
#include "banned.h"

#define HEALTH_CACHE_MS 1000

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool query_is_true(const struct host_request *r, const char *name)
{
	char v[8];

	return form_get(r->query, r->query_len, name, v, sizeof(v)) == FORM_OK &&
	       strcmp(v, "true") == 0;
}

bool api_system_ping_blocks(const struct host_request *r)
{
	return r->query_len && query_is_true(r, "get_server_status");
}

/* The store answers a read: checked at most once per HEALTH_CACHE_MS. While
 * one check waits for the database, other health checks take the last
 * result instead of queueing behind it. */
static bool database_ok(struct host_store *store)
{
	static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
	static atomic_int_fast64_t checked_at; /* 0: never */
	static atomic_bool last_ok;
	int64_t at = atomic_load(&checked_at);
	int rc;

	if (at && mono_ms() - at < HEALTH_CACHE_MS)
		return atomic_load(&last_ok);
	if (pthread_mutex_trylock(&check_lock) != 0) {
		if (at)
			return atomic_load(&last_ok);
		pthread_mutex_lock(&check_lock);
	}
	at = atomic_load(&checked_at);
	if (!at || mono_ms() - at >= HEALTH_CACHE_MS) {
		bool was_ok = !at || atomic_load(&last_ok);
		int64_t now;
		rc = host_store_ping(store);
		if (rc != STORE_OK && was_ok)
			log_kv(LOG_WARN, "health check: the database does not answer", "reason",
			       store_strerror(rc), NULL);
		else if (rc == STORE_OK && !was_ok)
			log_kv(LOG_INFO, "health check: the database answers again", NULL);
		atomic_store(&last_ok, rc == STORE_OK);
		now = mono_ms();
		atomic_store(&checked_at, now ? now : 1);
	}
	pthread_mutex_unlock(&check_lock);
	return atomic_load(&last_ok);
}

static void server_status(struct host_request *r)
{
	const struct host_config *cfg = r->host->cfg;
	bool admin = r->auth == AUTH_OK && user_is_admin(&r->session.user) &&
		     !auth_is_app_session(&r->session);
	json_t *plugins = json_object(), *out;
	bool db = database_ok(r->host->store);
	bool files = access(cfg->data_dir, W_OK | X_OK) == 0;
	bool plugins_ok = plugin_registry_health(r->host->plugins, admin, plugins);
	bool ok = db && files && plugins_ok;

	out = json_pack("{s:s, s:s, s:s, s:o}", "status", ok ? "OK" : "UNHEALTHY",
			"database_status", db ? "OK" : "UNHEALTHY", "filestore_status",
			files ? "OK" : "UNHEALTHY", "plugins", plugins);
	host_json_value(r, ok || query_is_true(r, "use_rest_semantics") ? 200 : 500, out);
	(void)response_add_header(r->resp, "Cache-Control", 13, "no-store", 8);
}

void api_system_ping(struct host_request *r)
{
	if (api_system_ping_blocks(r)) {
		server_status(r);
		return;
	}
	host_json(r, 200, "{\"status\":\"OK\"}");
}
