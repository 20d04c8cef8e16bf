/* The plugin's ABI entry: descriptor, activate, deactivate, serve_http. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "audit.h"
#include "plugin.h"
#include "plugin_metrics.h"
#include "router.h"
#include "state_store.h"
#include "token_refresh.h"
#include "banned.h"

#define SWEEP_INTERVAL_S 60

static void *sweep_states(void *arg)
{
	struct apps_plugin *p = arg;

	/* A store whose reads may wait is counted here, not at scrape time. */
	if (apps_store_reads_block(&p->store))
		plugin_metrics_count_records(p);
	pthread_mutex_lock(&p->sweep_lock);
	while (!p->stopping) {
		struct timespec until, now;
		size_t n = 0;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += SWEEP_INTERVAL_S;
		pthread_cond_timedwait(&p->sweep_cond, &p->sweep_lock, &until);
		if (p->stopping)
			break;
		pthread_mutex_unlock(&p->sweep_lock);
		clock_gettime(CLOCK_REALTIME, &now);
		if (oauth2_state_sweep(&p->store,
				       (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
				       &n) == STORE_OK &&
		    n)
			plugin_logf(p, MMPLUGIN_LOG_INFO, "%zu expired oauth2 states swept", n);
		if (apps_store_reads_block(&p->store))
			plugin_metrics_count_records(p);
		pthread_mutex_lock(&p->sweep_lock);
	}
	pthread_mutex_unlock(&p->sweep_lock);
	return NULL;
}

static void stop_state_sweeper(struct apps_plugin *p)
{
	pthread_mutex_lock(&p->sweep_lock);
	p->stopping = true;
	pthread_cond_signal(&p->sweep_cond);
	pthread_mutex_unlock(&p->sweep_lock);
	pthread_join(p->sweeper, NULL);
	pthread_cond_destroy(&p->sweep_cond);
	pthread_mutex_destroy(&p->sweep_lock);
}

/* The data keys from the store (key_store.h): the first one migrated from
 * the first releases, those under the previous master key moved under this
 * one (audited: master_key_changed). 0 or -1 with err. */
static int attach_keys(struct apps_plugin *p, char *err, size_t err_cap)
{
	struct key_load l;

	p->keys.st = &p->store;
	p->keys.sealer = &p->sealer;
	if (key_store_attach(&p->keys, &l, err, err_cap) != STORE_OK)
		return -1;
	if (l.migrated)
		plugin_log(p, MMPLUGIN_LOG_INFO,
			   "data key 1 (derived from the master key by earlier releases) is now "
			   "stored sealed in the keys table");
	if (l.rewrapped) {
		plugin_logf(p, MMPLUGIN_LOG_INFO,
			    "master key changed: %u data key%s sealed again under %s; the "
			    "previous master key file may go once every node runs with this one",
			    l.rewrapped, l.rewrapped == 1 ? "" : "s", p->settings.master_key_file);
		if (plugin_audit(p, "master_key_changed", NULL, NULL, NULL, NULL) != MMPLUGIN_OK)
			plugin_log(p, MMPLUGIN_LOG_ERROR,
				   "the audit trail did not record master_key_changed");
	}
	if (l.unopened || !l.current)
		plugin_logf(p, MMPLUGIN_LOG_ERROR,
			    "the master key file %s opens %u of the store's data keys%s; sealed "
			    "records under the others do not open and nothing new can be sealed "
			    "until the right master_key_file (or previous_master_key_file) is set",
			    p->settings.master_key_file, l.opened,
			    l.current ? "" : ", not the current one");
	return 0;
}

/* The seam's log lines (connection lost, disk full, ...) go to the host's
 * log; they never hold a secret. */
static void store_log(void *arg, int level, const char *msg)
{
	struct apps_plugin *p = arg;

	plugin_log(p,
		   level >= STORE_LOG_ERROR  ? MMPLUGIN_LOG_ERROR
		   : level == STORE_LOG_WARN ? MMPLUGIN_LOG_WARN
					     : MMPLUGIN_LOG_INFO,
		   msg);
}

/* The backend the admin configured for the node (host API store_json, ABI
 * 1.3); LMDB for an older host. */
static int store_backend(struct apps_plugin *p, struct store_config *cfg, char *err, size_t cap)
{
	const char *json = NULL;
	int rc;

	store_config_init(cfg);
	if (MMPLUGIN_HAS(p->api, struct mmplugin_host_api, store_json) && p->api->store_json)
		json = p->api->store_json(p->host);
	if (!json)
		return 0;
	rc = store_config_parse(cfg, json, strlen(json), err, cap);
	return rc == STORE_OK ? 0 : -1;
}

static int apps_activate(mmplugin_host *host, const struct mmplugin_host_api *api, void **state_out)
{
	struct apps_plugin *p;
	char err[512], dir[PATH_MAX];
	const char *data_dir;
	struct store_config cfg;

	/* Users and sessions arrived with ABI 1.1; an older host cannot run
	 * Apps. */
	if (!api || api->abi_major != MMPLUGIN_ABI_MAJOR ||
	    !MMPLUGIN_HAS(api, struct mmplugin_host_api, sessions_revoke_prop))
		return -1;
	/* Whatever the host did: libsodium must be ready before sodium_malloc. */
	if (sodium_init() < 0)
		return -1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	p->host = host;
	p->api = api;
	plugin_audit_init(p);
	data_dir = api->data_dir(host);
	snprintf(p->site_url, sizeof(p->site_url), "%s", api->site_url(host));
	if (settings_parse(api->settings_json(host), data_dir, &p->settings, err, sizeof(err)) != 0)
		goto fail_log;
	if (sealer_open(&p->sealer, p->settings.master_key_file, err, sizeof(err)) != SEAL_OK)
		goto fail_log;
	if (p->settings.previous_master_key_file[0] &&
	    sealer_open_previous(&p->sealer, p->settings.previous_master_key_file, err,
				 sizeof(err)) != SEAL_OK)
		goto fail_sealer;
	snprintf(dir, sizeof(dir), "%s/store", data_dir);
	if (store_backend(p, &cfg, err, sizeof(err)) != 0 ||
	    apps_store_open_backend(&p->store, &cfg, dir, &p->sealer, store_log, p, err,
				    sizeof(err)) != STORE_OK) {
		sodium_memzero(&cfg, sizeof(cfg)); /* the URL may hold a password */
		goto fail_sealer;
	}
	sodium_memzero(&cfg, sizeof(cfg));
	if (attach_keys(p, err, sizeof(err)) != 0)
		goto fail_store;
	plugin_metrics_register(p); /* before the threads that count */
	if (app_http_init(&p->http, p->settings.max_calls, p->settings.call_timeout_ms) != 0) {
		snprintf(err, sizeof(err), "cannot initialise libcurl");
		goto fail_store;
	}
	if (token_refresh_init(p) != 0) {
		snprintf(err, sizeof(err), "cannot start the token refresher");
		app_http_cleanup(&p->http);
		goto fail_store;
	}
	token_cache_init(&p->tokens);
	app_cache_init(&p->apps);
	pthread_mutex_init(&p->admin_lock, NULL);
	pthread_mutex_init(&p->sweep_lock, NULL);
	pthread_cond_init(&p->sweep_cond, NULL);
	if (pthread_create(&p->sweeper, NULL, sweep_states, p) != 0) {
		snprintf(err, sizeof(err), "cannot start the state sweeper");
		app_http_cleanup(&p->http);
		token_refresh_stop(p);
		token_cache_destroy(&p->tokens);
		goto fail_store;
	}
	if (key_sweep_start(&p->key_sweep, p, &p->keys, p->settings.key_sweep_batch,
			    p->settings.key_sweep_pause_ms) != 0) {
		snprintf(err, sizeof(err), "cannot start the key sweep");
		stop_state_sweeper(p);
		app_http_cleanup(&p->http);
		token_cache_destroy(&p->tokens);
		goto fail_store;
	}
	plugin_logf(p, MMPLUGIN_LOG_INFO, "com.mattermost.apps %s activated (store %s)",
		    APPS_PLUGIN_VERSION,
		    apps_store_reads_block(&p->store) ? "PostgreSQL tables apps_*" : dir);
	*state_out = p;
	return 0;
fail_store:
	apps_store_close(&p->store);
fail_sealer:
	sealer_close(&p->sealer);
fail_log:
	api->log(host, MMPLUGIN_LOG_ERROR, err);
	plugin_audit_drain(p);
	free(p);
	return -1;
}

static void apps_deactivate(void *state)
{
	struct apps_plugin *p = state;

	if (!p)
		return;
	plugin_log(p, MMPLUGIN_LOG_INFO, "com.mattermost.apps deactivating");
	key_sweep_stop(&p->key_sweep);
	stop_state_sweeper(p);
	/* Refreshes in flight end (at most refresh_timeout_s twice) and the
	 * calls that waited on them start, while the call loop still runs. */
	token_refresh_stop(p);
	app_http_cleanup(&p->http);
	/* The calls the loop ended may have queued their flow pages' audit
	 * lines: their callbacks finish those responses. */
	plugin_audit_drain(p);
	token_cache_destroy(&p->tokens);
	app_cache_destroy(&p->apps);
	apps_store_close(&p->store);
	sealer_close(&p->sealer);
	pthread_mutex_destroy(&p->admin_lock);
	free(p);
}

static int apps_serve_http(void *state, const struct mmplugin_request *req, mmplugin_response *resp)
{
	struct apps_call c = { .plugin = state, .req = req, .resp = resp };
	size_t n = req->request_id.len < sizeof(c.request_id) - 1 ? req->request_id.len
								  : sizeof(c.request_id) - 1;

	memcpy(c.request_id, req->request_id.ptr, n);
	c.request_id[n] = '\0';
	router_dispatch(&c);
	if (c.deferred)
		return MMPLUGIN_DEFER;
	return c.async ? MMPLUGIN_ASYNC : MMPLUGIN_DONE;
}

static const struct mmplugin_descriptor descriptor = {
	.magic = MMPLUGIN_MAGIC,
	.struct_size = sizeof(struct mmplugin_descriptor),
	.abi_major = MMPLUGIN_ABI_MAJOR,
	.abi_minor = MMPLUGIN_ABI_MINOR,
	.id = PLUGIN_ID,
	.version = APPS_PLUGIN_VERSION,
	.activate = apps_activate,
	.deactivate = apps_deactivate,
	.serve_http = apps_serve_http,
};

MMPLUGIN_EXPORT const struct mmplugin_descriptor *mmplugin_entry_v1(void)
{
	return &descriptor;
}
