#include "app_record.h"

#include <stdio.h>
#include <string.h>

#include "app_call.h"
#include "manifest.h"
#include "banned.h"

json_t *redact(const char *s)
{
	char out[16];
	size_t n = s ? strlen(s) : 0;

	if (n >= 8)
		snprintf(out, sizeof(out), "****%s", s + n - 4);
	else
		snprintf(out, sizeof(out), "****");
	return json_string(out);
}

static const struct {
	int status;
	const char *id;
	const char *text;
} refusals[] = {
	[APP_NOT_INSTALLED] = { 404, "apps.app.not_found.app_error", "The App is not installed." },
	[APP_UNREADABLE] = { 500, "apps.store.record_unreadable.app_error",
			     "The App's record could not be read; the server log says why." },
	[APP_DISABLED] = { 403, "apps.app.disabled.app_error", "The App is disabled." },
	[APP_NOT_GRANTED] = { 403, "apps.oauth2.not_granted.app_error",
			      "The App was not granted remote_oauth2." },
	[APP_OTHER_INSTALL] = { 401, "api.context.session_expired.app_error",
				"This token is from an earlier install of the App; it no longer "
				"works." },
	[APP_STORE_UNAVAILABLE] = { 503, "api.store.unavailable.app_error",
				    "The database cannot be reached; try again later." },
};

int app_refusal_status(enum app_refusal r)
{
	return refusals[r].status;
}

const char *app_refusal_text(enum app_refusal r)
{
	return refusals[r].text;
}

void reply_app_refusal(struct apps_call *c, enum app_refusal r)
{
	reply_error(c, refusals[r].status, refusals[r].id, refusals[r].text);
}

static enum app_refusal from_store(struct apps_plugin *p, const char *app_id, int rc)
{
	if (rc == STORE_ENOTFOUND)
		return APP_NOT_INSTALLED;
	if (rc == STORE_EUNAVAILABLE) {
		plugin_logf(p, MMPLUGIN_LOG_ERROR, "app record %s not read: %s", app_id,
			    store_reason(rc));
		return APP_STORE_UNAVAILABLE;
	}
	plugin_logf(p, MMPLUGIN_LOG_ERROR,
		    "app record %s does not open (%d): tampered, moved or wrong master key", app_id,
		    rc);
	return APP_UNREADABLE;
}

enum app_refusal app_open(struct apps_plugin *p, const char *app_id, unsigned need, json_t **out)
{
	json_t *app = NULL;
	enum app_refusal r = APP_USABLE;
	int rc;

	if (out)
		*out = NULL;
	if (!app_id || !app_id_valid(app_id))
		return APP_NOT_INSTALLED;
	rc = app_record_get(&p->store, app_id, &app);
	if (rc != STORE_OK)
		return from_store(p, app_id, rc);
	if ((need & APP_NEED_ENABLED) && json_is_true(json_object_get(app, "disabled")))
		r = APP_DISABLED;
	else if ((need & APP_NEED_OAUTH2) && !app_has_remote_oauth2(app))
		r = APP_NOT_GRANTED;
	if (r == APP_USABLE && out)
		*out = app;
	else
		json_decref(app);
	return r;
}

enum app_refusal app_refusal_of(int rc)
{
	switch (rc) {
	case APP_GATE_GONE: return APP_NOT_INSTALLED;
	case APP_GATE_DISABLED: return APP_DISABLED;
	case APP_GATE_NOT_GRANTED: return APP_NOT_GRANTED;
	case APP_GATE_REINSTALLED: return APP_OTHER_INSTALL;
	default: return APP_USABLE;
	}
}

enum app_refusal app_check(struct apps_plugin *p, const char *app_id, unsigned need,
			   struct app_gate *out)
{
	int rc;

	if (!app_id || !app_id_valid(app_id))
		return APP_NOT_INSTALLED;
	rc = app_cache_get(&p->apps, &p->store, app_id, out);
	if (rc != STORE_OK)
		return from_store(p, app_id, rc);
	if ((need & APP_NEED_ENABLED) && out->disabled)
		return APP_DISABLED;
	if ((need & APP_NEED_OAUTH2) && !out->remote_oauth2)
		return APP_NOT_GRANTED;
	return APP_USABLE;
}

json_t *app_load(struct apps_call *c, const char *app_id, bool require_enabled)
{
	json_t *app;
	enum app_refusal r =
		app_open(c->plugin, app_id, require_enabled ? APP_NEED_ENABLED : 0, &app);

	if (r != APP_USABLE) {
		reply_app_refusal(c, r);
		return NULL;
	}
	return app;
}

json_t *app_view(const json_t *record, bool show_secrets)
{
	static const char *const fields[] = {
		"app_id",   "deploy_type",         "bot_user_id",       "bot_username",
		"disabled", "granted_permissions", "granted_locations", "installed_at"
	};
	const json_t *m = json_object_get(record, "manifest");
	const json_t *o = json_object_get(record, "remote_oauth2");
	const char *secret = json_string_value(json_object_get(record, "secret"));
	json_t *view = json_is_object(m) ? json_deep_copy(m) : json_object();

	if (!view)
		return NULL;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = json_object_get(record, fields[i]);
		if (v)
			json_object_set(view, fields[i], v);
	}
	json_object_set_new(view, "secret",
			    show_secrets && secret ? json_string(secret) : redact(secret));
	if (json_is_object(o)) {
		const char *cs = json_string_value(json_object_get(o, "client_secret"));
		json_t *ov = json_object();
		json_object_set(ov, "client_id", json_object_get(o, "client_id"));
		json_object_set(ov, "remote_root_url", json_object_get(o, "remote_root_url"));
		if (cs)
			json_object_set_new(ov, "client_secret", redact(cs));
		if (json_object_get(o, "data"))
			json_object_set_new(ov, "data", json_string("****"));
		json_object_set_new(view, "remote_oauth2", ov);
	}
	return view;
}
