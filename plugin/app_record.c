#include "app_record.h"

#include <stdio.h>
#include <string.h>

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

json_t *app_load(struct apps_call *c, const char *app_id, bool require_enabled)
{
	json_t *app = NULL;
	int rc = app_id ? app_record_get(&c->plugin->store, app_id, &app) : STORE_ENOTFOUND;

	if (rc == STORE_ENOTFOUND) {
		reply_error(c, 404, "apps.app.not_found.app_error", "The App is not installed.");
		return NULL;
	}
	if (rc != STORE_OK) {
		plugin_logf(c->plugin, MMPLUGIN_LOG_ERROR,
			    "app record %s does not open (%d): tampered, moved or wrong master key",
			    app_id, rc);
		reply_error(c, 500, "apps.store.record_unreadable.app_error",
			    "The App's record could not be read; the server log says why.");
		return NULL;
	}
	if (require_enabled && json_is_true(json_object_get(app, "disabled"))) {
		json_decref(app);
		reply_error(c, 403, "apps.app.disabled.app_error", "The App is disabled.");
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
