#include "audit.h"

#include <stddef.h>
#include <stdlib.h>

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

/* The caller's callback, then the count: the last touch of p. */
struct later {
	struct apps_plugin *p;
	void (*done)(void *arg, int rc);
	void *arg;
};

static void later_done(void *arg, int rc)
{
	struct later l = *(struct later *)arg;

	free(arg);
	l.done(l.arg, rc);
	pthread_mutex_lock(&l.p->audit_lock);
	if (--l.p->audits_pending == 0)
		pthread_cond_broadcast(&l.p->audit_cond);
	pthread_mutex_unlock(&l.p->audit_lock);
}

int plugin_audit_later(struct apps_plugin *p, const char *event, const char *actor,
		       const char *app_id, const char *target_user, const char *request_id,
		       void (*done)(void *arg, int rc), void *arg)
{
	const struct mmplugin_host_api *api = p->api;
	struct later *l;
	int rc;

	if (!MMPLUGIN_HAS(api, struct mmplugin_host_api, audit_async) || !api->audit_async)
		return 0;
	l = malloc(sizeof(*l));
	if (!l)
		return MMPLUGIN_ENOMEM;
	*l = (struct later){ p, done, arg };
	pthread_mutex_lock(&p->audit_lock);
	p->audits_pending++;
	pthread_mutex_unlock(&p->audit_lock);
	rc = api->audit_async(p->host, event, or_null(actor), or_null(app_id), or_null(target_user),
			      or_null(request_id), later_done, l);
	if (rc == MMPLUGIN_OK)
		return 1;
	free(l);
	pthread_mutex_lock(&p->audit_lock);
	if (--p->audits_pending == 0)
		pthread_cond_broadcast(&p->audit_cond);
	pthread_mutex_unlock(&p->audit_lock);
	plugin_logf(p, MMPLUGIN_LOG_ERROR, "audit: %s for app %s not recorded (%d)", event,
		    app_id ? app_id : "-", rc);
	return rc < 0 ? rc : -1;
}

void plugin_audit_init(struct apps_plugin *p)
{
	pthread_mutex_init(&p->audit_lock, NULL);
	pthread_cond_init(&p->audit_cond, NULL);
	p->audits_pending = 0;
}

void plugin_audit_drain(struct apps_plugin *p)
{
	pthread_mutex_lock(&p->audit_lock);
	while (p->audits_pending > 0)
		pthread_cond_wait(&p->audit_cond, &p->audit_lock);
	pthread_mutex_unlock(&p->audit_lock);
	pthread_cond_destroy(&p->audit_cond);
	pthread_mutex_destroy(&p->audit_lock);
}
