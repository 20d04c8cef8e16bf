/* /api/v4/plugins: list, enable, disable (system admins only; checked by
 * the route table). */
#include <stdio.h>
#include <string.h>

#include "host_request.h"
#include "log.h"
#include "banned.h"

void api_plugins_list(struct host_request *r)
{
	host_json_value(r, 200, plugin_registry_list(r->host->plugins));
}

static void set_enabled(struct host_request *r, bool enabled)
{
	char reason[PLUGIN_REASON_MAX + 64];
	char id[PLUGIN_ID_MAX + 1];
	int rc;

	rc = plugin_registry_set_enabled(r->host->plugins, r->route.param, r->route.param_len,
					 enabled, reason, sizeof(reason));
	snprintf(id, sizeof(id), "%.*s", (int)r->route.param_len, r->route.param);
	switch (rc) {
	case REGISTRY_OK:
		log_kv(LOG_INFO, enabled ? "plugin enabled" : "plugin disabled", "plugin_id", id,
		       "by", r->user.id, NULL);
		host_json(r, 200, "{\"status\":\"OK\"}");
		return;
	case REGISTRY_ENOTFOUND:
		host_error(r, 404, "app.plugin.not_installed.app_error", "No plugin has this id.");
		return;
	case REGISTRY_EREFUSED: host_error(r, 400, "app.plugin.activate.app_error", reason); return;
	default: host_error(r, 500, "app.plugin.activate.app_error", reason); return;
	}
}

void api_plugin_enable(struct host_request *r)
{
	set_enabled(r, true);
}

void api_plugin_disable(struct host_request *r)
{
	set_enabled(r, false);
}
