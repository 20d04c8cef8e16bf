#include "audit.h"

#include <stddef.h>

#include "banned.h"

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

int plugin_audit(struct apps_plugin *p, const char *event, const char *actor, const char *app_id,
		 const char *target_user, const char *request_id)
{
	const struct mmplugin_host_api *api = p->api;
	int rc;

	if (!MMPLUGIN_HAS(api, struct mmplugin_host_api, audit) || !api->audit)
		return MMPLUGIN_OK;
	rc = api->audit(p->host, event, or_null(actor), or_null(app_id), or_null(target_user),
			or_null(request_id));
	if (rc != MMPLUGIN_OK)
		plugin_logf(p, MMPLUGIN_LOG_ERROR, "audit: %s for app %s not recorded (%d)", event,
			    app_id ? app_id : "-", rc);
	return rc;
}

bool audit_request(struct apps_call *c, const char *event, const char *app_id,
		   const char *target_user)
{
	if (plugin_audit(c->plugin, event, c->who.user_id, app_id, target_user, c->request_id) ==
	    MMPLUGIN_OK)
		return true;
	reply_error(c, 500, "api.audit.write_failed.app_error",
		    "The change was made, but the server could not record it in its audit trail; "
		    "see the server log.");
	return false;
}

int plugin_audit_later(struct apps_plugin *p, const char *event, const char *actor,
		       const char *app_id, const char *target_user, const char *request_id,
		       void (*done)(void *arg, int rc), void *arg)
{
	const struct mmplugin_host_api *api = p->api;
	int rc;

	if (!MMPLUGIN_HAS(api, struct mmplugin_host_api, audit_async) || !api->audit_async)
		return 0;
	rc = api->audit_async(p->host, event, or_null(actor), or_null(app_id), or_null(target_user),
			      or_null(request_id), done, arg);
	if (rc == MMPLUGIN_OK)
		return 1;
	plugin_logf(p, MMPLUGIN_LOG_ERROR, "audit: %s for app %s not recorded (%d)", event,
		    app_id ? app_id : "-", rc);
	return rc < 0 ? rc : -1;
}
