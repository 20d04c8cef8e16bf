/*
 * The com.mattermost.apps plugin's shared state and the helpers its route
 * handlers use to answer. Handlers are called from many threads at once.
 */
#ifndef PLUGIN_PLUGIN_H
#define PLUGIN_PLUGIN_H

#include <stddef.h>

#include <mmplugin/plugin.h>

#define PLUGIN_ID "com.mattermost.apps"

/* Everything the plugin holds between activate and deactivate. */
struct apps_plugin {
	mmplugin_host *host;
	const struct mmplugin_host_api *api;
};

/* One request as a handler sees it. */
struct apps_call {
	struct apps_plugin *plugin;
	const struct mmplugin_request *req;
	mmplugin_response *resp;
	char request_id[32]; /* NUL-terminated copy for error bodies */
};

/* Answers status with a JSON body and Content-Type: application/json. */
void reply_json(struct apps_call *c, int status, const char *json, size_t len);

/* Answers a Mattermost-shaped error (see docs/errors.md for the ids). */
void reply_error(struct apps_call *c, int status, const char *id, const char *message);

/* Logs at level through the host. */
void plugin_log(const struct apps_plugin *p, int level, const char *msg);

#endif
