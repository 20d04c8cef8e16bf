/*
 * The set of plugins found in plugin_dir: scanning, activation, routing a
 * request to an active plugin, deactivation at shutdown.
 */
#ifndef HOST_PLUGIN_REGISTRY_H
#define HOST_PLUGIN_REGISTRY_H

#include <stddef.h>

#include "config.h"
#include "plugin_loader.h"
#include "host_store.h"

#define PLUGINS_MAX 64

struct plugin_registry {
	struct mmplugin_host *items[PLUGINS_MAX];
	size_t len;
	const struct host_config *cfg;
	struct host_store *store; /* plugin states; handed to plugins' host API */
	struct audit_log *audit;  /* the node's audit trail, for plugins' events; may be NULL */
	const char *site_url;     /* borrowed from the server */
	/* Serialises (de)activation: enable, disable, sync, shutdown. Held as
	 * long as a plugin takes to go: no request may wait for it. */
	pthread_mutex_t admin_lock;
	/* Answers the responses a deactivated plugin left unfinished (the
	 * HTTP server's); under admin_lock. */
	void (*answer_held)(void *arg, struct mmplugin_host *p);
	void *answer_held_arg;
};

enum registry_rc {
	REGISTRY_OK = 0,
	REGISTRY_ENOTFOUND = -1, /* no plugin folder has this id */
	REGISTRY_EREFUSED = -2,  /* the plugin failed a load check */
	REGISTRY_EACTIVATE = -3, /* its activate failed */
	REGISTRY_EIO = -4,       /* the state could not be saved */
};

/* Loads every folder of cfg's plugin_dir (sorted by name, at most
 * PLUGINS_MAX) and activates the enabled ones, handing them store and audit
 * (may be NULL: then their audit calls answer MMPLUGIN_ESTATE). Refusals and failed
 * activations are logged, one line each, and do not stop the host. Returns 0,
 * or -1 only when plugin_dir cannot be read (logged; the registry is then
 * empty and the host keeps serving). */
int plugin_registry_load(struct plugin_registry *reg, const struct host_config *cfg,
			 struct host_store *store, struct audit_log *audit, const char *plugin_dir,
			 const char *site_url);

/* Enables or disables plugin id now and saves the choice in the store (it
 * then wins over the config file). On failure reason gets one line. */
int plugin_registry_set_enabled(struct plugin_registry *reg, const char *id, size_t id_len,
				bool enabled, char *reason, size_t reason_cap);

/* Applies plugin states saved by another process (`mmhost plugin enable`).
 * Called periodically by the server. */
void plugin_registry_sync(struct plugin_registry *reg);

/* {"active":[manifest...],"inactive":[manifest...]}; new reference or NULL. */
json_t *plugin_registry_list(struct plugin_registry *reg);

/* Activates one loaded plugin: 0, or -1 with the reason stored in the
 * plugin's record and logged. Requests reach it from then on. The caller
 * serialises (de)activation (admin_lock, or before serving starts). */
int plugin_activate(struct plugin_registry *reg, struct mmplugin_host *p);

/* Deactivates one plugin: from the first instruction no new request
 * reaches it (they are answered as for an inactive plugin: 404), then it
 * waits for the serve_http calls in progress to return (however long a
 * plugin takes: the caller is an admin request on a worker, the upkeep
 * thread or the shutdown), calls deactivate (which finishes the responses
 * the plugin holds) and has the HTTP server answer 503 to any it left. The
 * caller serialises as for plugin_activate. */
void plugin_deactivate(struct plugin_registry *reg, struct mmplugin_host *p);

/* No active plugin has the id (plugin_registry_serve). */
#define REGISTRY_SERVE_NONE (-1)

/* Calls the active plugin id's serve_http and returns what it returned (enum
 * mmplugin_serve_rc; MMPLUGIN_DONE for plugins built for ABI 1.2), or
 * REGISTRY_SERVE_NONE when no such plugin is active, or it is being
 * deactivated. Never waits for a lock. A 1.2 plugin is only called with
 * req->on_worker set: for a request on an I/O thread it returns
 * MMPLUGIN_DEFER without calling it. resp->holder names the plugin; a
 * response it holds (MMPLUGIN_ASYNC) is counted until
 * plugin_registry_hold_finished. */
int plugin_registry_serve(struct plugin_registry *reg, const char *id, size_t id_len,
			  const struct mmplugin_request *req, struct mmplugin_response *resp);

/* A response a plugin held is finished (by the plugin's response_finish, or
 * answered by the host after the plugin went). Call it once per held
 * response, before the response is handed back. */
void plugin_registry_hold_finished(struct mmplugin_response *resp);

/* Sets who answers what a deactivated plugin left held (NULL: nobody). */
void plugin_registry_on_left_held(struct plugin_registry *reg,
				  void (*fn)(void *arg, struct mmplugin_host *p), void *arg);

/* Deactivates every active plugin (at shutdown, before the HTTP server
 * stops: a plugin finishes the responses it holds in deactivate). */
void plugin_registry_deactivate_all(struct plugin_registry *reg);

/* The slot (0..PLUGINS_MAX-1) of the loaded plugin id, or -1. Slots are
 * fixed once the registry is loaded. */
int plugin_registry_index(const struct plugin_registry *reg, const char *id, size_t id_len);

/* True for a plugin the admin wants active that is not: refused by a load
 * check, or its activate failed (p->reason says why). */
bool plugin_failed(const struct mmplugin_host *p);

/* For the health check: sets out[id] for every loaded plugin to "OK"
 * (active), "disabled" (the admin's choice), "failed" ("failed: <reason>"
 * with detail) or "inactive" (between states). False when any plugin
 * failed. Takes the admin lock (waits for an enable or disable). */
bool plugin_registry_health(struct plugin_registry *reg, bool detail, json_t *out);

/* Metrics (ABI 1.3): sets the plugin's scrape hook (NULL: none). */
void plugin_set_scrape_hook(struct mmplugin_host *p, void (*fn)(void *), void *arg);
/* Calls every active plugin's scrape hook (reg is a struct
 * plugin_registry); for the metrics listener, before each scrape. */
void plugin_registry_scrape(void *reg);

/* Deactivates every active plugin and frees the registry. */
void plugin_registry_close(struct plugin_registry *reg);

#endif
