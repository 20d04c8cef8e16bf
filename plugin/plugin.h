/*
 * The com.mattermost.apps plugin's shared state, the request a handler works
 * on, and how handlers answer. Handlers run on many threads at once; all
 * shared state is either read-only after activate or guarded by its module.
 */
#ifndef PLUGIN_PLUGIN_H
#define PLUGIN_PLUGIN_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <mmplugin/plugin.h>

#include "app_cache.h"
#include "app_http.h"
#include "app_tokens.h"
#include "apps_store.h"
#include "key_store.h"
#include "key_sweep.h"
#include "seal.h"

#define PLUGIN_ID "com.mattermost.apps"
#define APPS_PATH_PREFIX "/plugins/com.mattermost.apps"
/* Props of the sessions minted for Apps (app_tokens.h): the App, its install
 * (app_gate.h) and one random id per minted session, so that one session can
 * be revoked by itself. */
#define SESSION_PROP_APP_ID "mattermost_app_id"
#define SESSION_PROP_INSTALL "mattermost_app_install"
#define SESSION_PROP_MINT "mattermost_app_mint"
#define SITE_URL_MAX 1024

/* Settings (the host config's plugins."com.mattermost.apps".settings). */
struct apps_settings {
	long call_timeout_ms;           /* "call_timeout_s", default 30 */
	unsigned max_calls;             /* "max_concurrent_calls", default 1024, at most 65536 */
	long state_ttl_ms;              /* "oauth2_state_ttl_s", default 600 */
	long refresh_timeout_ms;        /* "refresh_timeout_s", default 5, 1 to 60 */
	char master_key_file[PATH_MAX]; /* "master_key_file", default <data dir>/master.key */
	/* "previous_master_key_file": while the master key changes, the old
	 * one; "" when not set (key_store.h) */
	char previous_master_key_file[PATH_MAX];
	unsigned key_sweep_batch; /* "key_sweep_batch", default 256, 1..1024 (key_sweep.h) */
	long key_sweep_pause_ms;  /* "key_sweep_pause_ms", default 0, at most 60000 */
};

struct apps_plugin {
	mmplugin_host *host;
	const struct mmplugin_host_api *api;
	char site_url[SITE_URL_MAX];
	struct apps_settings settings;
	struct sealer sealer;
	struct apps_store store;
	struct key_store keys;      /* the data keys in the store */
	struct key_sweep key_sweep; /* re-seals records after a rotation */
	struct token_cache tokens;
	struct app_cache apps;
	struct app_http http;
	struct token_refresher *refresher; /* token_refresh.h */
	pthread_mutex_t admin_lock;        /* install, enable, disable, uninstall one at a time */
	/* Audit lines queued with plugin_audit_later and not yet done
	 * (audit.h): deactivate waits for them, as their callbacks finish
	 * responses and touch this struct. */
	pthread_mutex_t audit_lock;
	pthread_cond_t audit_cond;
	unsigned audits_pending;
	/* Sweeps expired OAuth2 states every minute until deactivate. */
	pthread_t sweeper;
	pthread_mutex_t sweep_lock;
	pthread_cond_t sweep_cond;
	bool stopping;
};

/* Who is calling, from the session the host authenticated. */
struct caller {
	bool has_session;
	bool cookie;      /* the session came in the MMAUTHTOKEN cookie: a browser */
	bool app_session; /* the session has the prop mattermost_app_id */
	char user_id[MMPLUGIN_ID_LEN + 1];
	char app_id[APP_ID_MAX + 1];    /* the session's mattermost_app_id, or "" */
	char install_id[MM_ID_LEN + 1]; /* its mattermost_app_install, or "" */
	bool user_loaded;
	struct mmplugin_user user;
};

/* One request as a handler sees it. */
struct apps_call {
	struct apps_plugin *plugin;
	const struct mmplugin_request *req;
	mmplugin_response *resp;
	char request_id[32]; /* NUL-terminated copy for error bodies */
	const char *param;   /* the {app_id} segment of the route, NUL-terminated */
	struct caller who;
	/* Set by the router when the route may block and the request is on an
	 * I/O thread (serve_http returns MMPLUGIN_DEFER), and by a handler that
	 * handed the response to the call loop (MMPLUGIN_ASYNC). */
	bool deferred;
	bool async;
	int status; /* what the answer's status was set to (reply_json, flow pages); 0: none yet */
};

/* Answers status with a JSON body, Content-Type: application/json and
 * Cache-Control: no-store (every plugin JSON answer). */
void reply_json(struct apps_call *c, int status, const char *json, size_t len);
/* The same with a JSON value (consumed); 500 when it cannot be encoded. */
void reply_value(struct apps_call *c, int status, json_t *value);
/* Answers a Mattermost-shaped error (see docs/errors.md for the ids). */
void reply_error(struct apps_call *c, int status, const char *id, const char *message);
/* Logs why the store failed at what (never a secret) and answers it: 507
 * api.store.full.app_error when the disk or the map is full, 503
 * api.store.unavailable.app_error when the database cannot be reached, 500
 * apps.store.record_unreadable.app_error for a record that does not open,
 * 500 apps.store.app_error otherwise. */
void reply_store_failed(struct apps_call *c, int rc, const char *what);
/* One phrase naming a store error (enum store_rc), for logs. */
const char *store_reason(int rc);

/* Logs at level through the host; msg never holds a secret. */
void plugin_log(const struct apps_plugin *p, int level, const char *msg);
void plugin_logf(const struct apps_plugin *p, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parses settings JSON into s; -1 with msg naming the setting. */
int settings_parse(const char *json, const char *data_dir, struct apps_settings *s, char *msg,
		   size_t cap);

/* The request body as JSON (any value), or NULL after answering 400. */
json_t *body_json(struct apps_call *c);

/* Caller checks; each answers the error and returns false when it fails. */
bool require_session(struct apps_call *c);  /* 401 */
bool require_admin(struct apps_call *c);    /* 401, 403 */
bool caller_is_admin(struct apps_call *c);  /* loads the user when needed */
bool caller_load_user(struct apps_call *c); /* false when the user cannot be read */

#endif
