/*
 * The admin routes (system admins only): update-app-listing, install-app,
 * enable-app, disable-app, uninstall-app, GET apps and apps/{app_id}.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app_call.h"
#include "app_record.h"
#include "audit.h"
#include "manifest.h"
#include "mm_id.h"
#include "router.h"
#include "banned.h"

#define SECRET_BYTES 32

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The body as an object, or NULL after answering 400. */
static json_t *body_object(struct apps_call *c)
{
	json_t *j = body_json(c);

	if (j && !json_is_object(j)) {
		json_decref(j);
		reply_error(c, 400, "api.context.invalid_body_param.app_error",
			    "The body must be a JSON object.");
		return NULL;
	}
	return j;
}

static bool manifest_ok(struct apps_call *c, const json_t *m)
{
	char msg[256];

	if (manifest_validate(m, msg, sizeof(msg)) == 0)
		return true;
	reply_error(c, 400, "apps.manifest.invalid.app_error", msg);
	return false;
}

static void store_failed(struct apps_call *c, int rc, const char *what)
{
	reply_store_failed(c, rc, what);
}

/* other: the installed App's id, or NULL when unknown. */
static void id_taken(struct apps_call *c, const char *other)
{
	char msg[192];

	snprintf(msg, sizeof(msg),
		 "An App with this id in another case (%s) is installed: App ids are unique "
		 "whatever their case.",
		 other ? other : "?");
	reply_error(c, 409, "apps.install.app_id_conflict.app_error", msg);
}

void api_update_app_listing(struct apps_call *c)
{
	json_t *m;
	int rc;

	if (!require_admin(c) || !(m = body_object(c)))
		return;
	if (!manifest_ok(c, m)) {
		json_decref(m);
		return;
	}
	rc = listing_put(&c->plugin->store, json_string_value(json_object_get(m, "app_id")), m);
	if (rc != STORE_OK) {
		json_decref(m);
		store_failed(c, rc, "listing an App");
		return;
	}
	plugin_logf(c->plugin, MMPLUGIN_LOG_INFO, "app %s listed by %s",
		    json_string_value(json_object_get(m, "app_id")), c->who.user_id);
	if (!audit_request(c, "app_listed", json_string_value(json_object_get(m, "app_id")),
			   NULL)) {
		json_decref(m);
		return;
	}
	reply_value(c, 200, m);
}

/* The manifest to install: inline ({manifest}) or the listed one ({app_id}).
 * NULL after answering. */
static json_t *install_manifest(struct apps_call *c, const json_t *body, bool *inline_manifest)
{
	const json_t *inl = json_object_get(body, "manifest");
	const char *app_id = json_string_value(json_object_get(body, "app_id"));
	json_t *m = NULL;
	int rc;

	*inline_manifest = inl != NULL;
	if (inl) {
		if (!manifest_ok(c, inl))
			return NULL;
		return json_deep_copy(inl);
	}
	if (!app_id || !app_id_valid(app_id)) {
		reply_error(c, 400, "apps.install.invalid.app_error",
			    "Send {\"app_id\": ...} of a listed App, or {\"manifest\": {...}}.");
		return NULL;
	}
	rc = listing_get(&c->plugin->store, app_id, &m);
	if (rc == STORE_ENOTFOUND) {
		reply_error(c, 404, "apps.listing.not_found.app_error",
			    "No App with this app_id is listed; update-app-listing first.");
		return NULL;
	}
	if (rc != STORE_OK) {
		store_failed(c, rc, "reading the listing");
		return NULL;
	}
	return m;
}

static bool check_deploy(struct apps_call *c, const json_t *body, const json_t *m)
{
	const json_t *dt = json_object_get(body, "deploy_type");

	if (dt && (!json_is_string(dt) || strcmp(json_string_value(dt), "http") != 0)) {
		reply_error(c, 400, "apps.install.deploy_type.app_error",
			    "deploy_type must be \"http\", the only one this server runs.");
		return false;
	}
	if (!json_object_get(m, "http")) {
		reply_error(c, 400, "apps.install.deploy_type.app_error",
			    "The manifest has no http block: http.root_url is needed to install.");
		return false;
	}
	return true;
}

/* The App's bot: created, or found again on reinstall. */
static bool ensure_bot(struct apps_call *c, const char *app_id, struct mmplugin_user *bot)
{
	char name[APP_ID_MAX + 1];
	size_t i = 0;
	int rc;

	for (; app_id[i] && i < APP_ID_MAX; i++)
		name[i] = (char)tolower((unsigned char)app_id[i]);
	name[i] = '\0';
	rc = c->plugin->api->bot_ensure(c->plugin->host, name, bot);
	if (rc == MMPLUGIN_OK)
		return true;
	if (rc == MMPLUGIN_EEXIST)
		reply_error(c, 409, "apps.install.bot_conflict.app_error",
			    "A user with the App's bot name already exists.");
	else if (rc == MMPLUGIN_EINVAL)
		reply_error(c, 400, "apps.install.bot_name.app_error",
			    "The app_id cannot name a bot user: start it with a letter or digit.");
	else
		reply_error(c, 500, "apps.install.bot.app_error",
			    "The App's bot could not be made.");
	return false;
}

static json_t *new_secret(void)
{
	unsigned char raw[SECRET_BYTES];
	char text[sodium_base64_ENCODED_LEN(SECRET_BYTES,
					    sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	json_t *j;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(text, sizeof(text), raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	j = json_string(text);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(text, sizeof(text));
	return j;
}

/* Best effort: the App is told, its failure is logged and changes nothing. */
static void call_lifecycle(struct apps_call *c, const json_t *app, const char *field)
{
	const json_t *m = json_object_get(app, "manifest");
	json_t *call = manifest_call(m, field, NULL), *resp;
	const char *path = call ? json_string_value(json_object_get(call, "path")) : NULL;
	struct expand ex;
	struct app_call_req r = { 0 };
	char err[256];

	if (!path || expand_parse(json_object_get(call, "expand"), &ex, err, sizeof(err)) != 0) {
		json_decref(call);
		return;
	}
	r.app = app;
	r.path = path;
	r.expand = &ex;
	r.expand_json = json_object_get(call, "expand");
	r.state = json_object_get(call, "state");
	r.acting_user_id = c->who.user_id;
	resp = app_call_invoke(c->plugin, &r, err, sizeof(err));
	if (!resp)
		plugin_logf(c->plugin, MMPLUGIN_LOG_WARN, "app %s: %s failed: %s",
			    json_string_value(json_object_get(app, "app_id")), field, err);
	json_decref(resp);
	json_decref(call);
}

static json_t *requested(const json_t *m, const char *key)
{
	const json_t *v = json_object_get(m, key);

	return json_is_array(v) ? json_deep_copy(v) : json_array();
}

struct install_arg {
	const char *app_id;
	const json_t *manifest;
	const struct mmplugin_user *bot;
	bool fresh; /* out: no record was there */
};

/* In the write transaction: a fresh record, or the installed one with the
 * new manifest. Reinstalling keeps the install, the secret, the OAuth2
 * client and the disabled flag. */
static int install_record(const json_t *cur, void *arg, json_t **next)
{
	struct install_arg *a = arg;
	json_t *app = cur ? json_deep_copy(cur) : json_object();

	if (!app)
		return STORE_ENOMEM;
	a->fresh = cur == NULL;
	if (a->fresh) {
		char install_id[MM_ID_LEN + 1];
		mm_id_new(install_id);
		json_object_set_new(app, "secret", new_secret());
		json_object_set_new(app, "disabled", json_false());
		json_object_set_new(app, "install_id", json_string(install_id));
		json_object_set_new(app, "installed_at", json_integer(now_ms()));
	}
	json_object_set_new(app, "app_id", json_string(a->app_id));
	json_object_set(app, "manifest", (json_t *)a->manifest);
	json_object_set_new(app, "deploy_type", json_string("http"));
	json_object_set_new(app, "bot_user_id", json_string(a->bot->id));
	json_object_set_new(app, "bot_username", json_string(a->bot->username));
	json_object_set_new(app, "granted_permissions",
			    requested(a->manifest, "requested_permissions"));
	json_object_set_new(app, "granted_locations",
			    requested(a->manifest, "requested_locations"));
	*next = app;
	return 0;
}

/* Another App installed under this id in another case: 409 answered. */
static bool id_free(struct apps_call *c, const char *app_id)
{
	struct app_gate g;
	int rc = app_gate_get(&c->plugin->store, app_id, &g);

	if (rc == STORE_ECONFLICT) {
		id_taken(c, g.app_id);
		return false;
	}
	if (rc != STORE_OK && rc != STORE_ENOTFOUND) {
		store_failed(c, rc, "reading an App's gate");
		return false;
	}
	return true;
}

static void install(struct apps_call *c, json_t *body)
{
	struct apps_plugin *p = c->plugin;
	struct mmplugin_user bot;
	struct install_arg ia = { 0 };
	bool inline_manifest;
	json_t *m, *app = NULL, *view;
	const char *app_id;
	int rc;

	m = install_manifest(c, body, &inline_manifest);
	if (!m)
		return;
	app_id = json_string_value(json_object_get(m, "app_id"));
	/* Before the bot: APPA's bot would be appa's. */
	if (!check_deploy(c, body, m) || !id_free(c, app_id) || !ensure_bot(c, app_id, &bot))
		goto out;
	if (inline_manifest && (rc = listing_put(&p->store, app_id, m)) != STORE_OK) {
		store_failed(c, rc, "listing an App");
		goto out;
	}
	ia = (struct install_arg){ app_id, m, &bot, false };
	rc = app_record_update(&p->store, app_id, NULL, install_record, &ia, &app);
	if (rc == STORE_ECONFLICT) {
		id_taken(c, NULL);
		goto out;
	}
	if (rc != STORE_OK) {
		store_failed(c, rc, "saving an App record");
		goto out;
	}
	plugin_logf(p, MMPLUGIN_LOG_INFO, "app %s %s by %s (bot %s)", app_id,
		    ia.fresh ? "installed" : "reinstalled", c->who.user_id, bot.id);
	if (ia.fresh)
		call_lifecycle(c, app, "on_install");
	if (!audit_request(c, "app_installed", app_id, bot.id))
		goto out;
	/* The secret is shown once: in the answer that created it. */
	view = app_view(app, ia.fresh);
	reply_value(c, 200, view);
out:
	json_decref(app);
	json_decref(m);
}

void api_install_app(struct apps_call *c)
{
	json_t *body;

	if (!require_admin(c) || !(body = body_object(c)))
		return;
	pthread_mutex_lock(&c->plugin->admin_lock);
	install(c, body);
	pthread_mutex_unlock(&c->plugin->admin_lock);
	json_decref(body);
}

/*
 * The caller of enable, disable and uninstall must be an admin and the body
 * {app_id}: the App id, with *body to decref. NULL after answering.
 */
static const char *admin_app_id(struct apps_call *c, json_t **body)
{
	const char *app_id;

	if (!require_admin(c) || !(*body = body_object(c)))
		return NULL;
	app_id = json_string_value(json_object_get(*body, "app_id"));
	if (!app_id || !app_id_valid(app_id)) {
		reply_error(c, 400, "api.context.invalid_body_param.app_error",
			    "The body must be {\"app_id\": \"<3 to 32 of A-Z a-z 0-9 . _ ->\"}.");
		json_decref(*body);
		return NULL;
	}
	return app_id;
}

/* Ends every host session minted for the App. false (logged) when the host
 * could not: its tokens still work until they expire. */
static bool revoke_app_sessions(struct apps_plugin *p, const char *app_id)
{
	size_t n = 0;
	bool ok = p->api->sessions_revoke_prop(p->host, SESSION_PROP_APP_ID, app_id, &n) ==
		  MMPLUGIN_OK;

	if (!ok)
		plugin_logf(p, MMPLUGIN_LOG_ERROR, "app %s: its sessions could not be revoked",
			    app_id);
	token_cache_forget_app(&p->tokens, app_id);
	return ok;
}

/* The App is disabled (and stays so), but its sessions were not revoked:
 * the admin must repeat the request, which does it again. */
static void sessions_not_revoked(struct apps_call *c, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg),
		 "The App is disabled, but the server could not revoke its sessions (its "
		 "database failed or cannot be reached; the log says why): its tokens may "
		 "still work until they expire. Repeat the %s.",
		 what);
	reply_error(c, 503, "apps.app.sessions_not_revoked.app_error", msg);
}

/* In the write transaction: the installed record with disabled set. */
static int disabled_record(const json_t *cur, void *arg, json_t **next)
{
	if (!cur)
		return STORE_ENOTFOUND;
	*next = json_deep_copy(cur);
	if (!*next)
		return STORE_ENOMEM;
	json_object_set_new(*next, "disabled", json_boolean(*(const bool *)arg));
	return 0;
}

/*
 * Disabling commits the App's gate first, then revokes the App's sessions:
 * a token minted meanwhile is either revoked here (it committed before the
 * revocation) or sees the new gate and revokes itself (app_tokens.c). When
 * the revocation fails the answer is 503 and the App stays disabled;
 * disabling it again revokes again.
 */
static void set_disabled(struct apps_call *c, bool disabled)
{
	struct apps_plugin *p = c->plugin;
	const char *app_id;
	json_t *body, *app = NULL;
	int rc;

	if (!(app_id = admin_app_id(c, &body)))
		return;
	pthread_mutex_lock(&p->admin_lock);
	rc = app_record_update(&p->store, app_id, NULL, disabled_record, &disabled, &app);
	if (rc == STORE_ENOTFOUND || rc == STORE_ECONFLICT) {
		reply_app_refusal(c, APP_NOT_INSTALLED);
	} else if (rc != STORE_OK) {
		store_failed(c, rc, "saving an App record");
	} else if (disabled && !revoke_app_sessions(p, app_id)) {
		sessions_not_revoked(c, "disable");
	} else {
		plugin_logf(p, MMPLUGIN_LOG_INFO, "app %s %s by %s", app_id,
			    disabled ? "disabled" : "enabled", c->who.user_id);
		if (audit_request(c, disabled ? "app_disabled" : "app_enabled", app_id, NULL))
			reply_value(c, 200, app_view(app, false));
	}
	json_decref(app);
	pthread_mutex_unlock(&p->admin_lock);
	json_decref(body);
}

void api_enable_app(struct apps_call *c)
{
	set_disabled(c, false);
}

void api_disable_app(struct apps_call *c)
{
	set_disabled(c, true);
}

void api_uninstall_app(struct apps_call *c)
{
	struct apps_plugin *p = c->plugin;
	size_t users = 0, states = 0;
	bool disabled = true;
	const char *app_id;
	json_t *body, *app;
	int rc;

	if (!(app_id = admin_app_id(c, &body)))
		return;
	pthread_mutex_lock(&p->admin_lock);
	app = app_load(c, app_id, false);
	if (!app)
		goto out;
	if (!json_is_true(json_object_get(app, "disabled")))
		call_lifecycle(c, app, "on_uninstall");
	/* Disabled, its sessions revoked, then deleted: when the revocation
	 * fails the App is left installed and disabled, and uninstalling it
	 * again (on_uninstall is not called twice) finishes the work. */
	rc = app_record_update(&p->store, app_id, NULL, disabled_record, &disabled, NULL);
	if (rc == STORE_ENOTFOUND || rc == STORE_ECONFLICT) {
		reply_app_refusal(c, APP_NOT_INSTALLED);
		goto out;
	}
	if (rc != STORE_OK) {
		store_failed(c, rc, "disabling an App to uninstall it");
		goto out;
	}
	if (!revoke_app_sessions(p, app_id)) {
		sessions_not_revoked(c, "uninstall");
		goto out;
	}
	rc = apps_store_delete_app(&p->store, app_id, &users, &states);
	if (rc != STORE_OK) {
		store_failed(c, rc, "deleting an App");
		goto out;
	}
	if (p->api->user_set_active(p->host, json_string_value(json_object_get(app, "bot_user_id")),
				    0) != MMPLUGIN_OK)
		plugin_logf(p, MMPLUGIN_LOG_WARN, "app %s: its bot could not be deactivated",
			    app_id);
	plugin_logf(p, MMPLUGIN_LOG_INFO,
		    "app %s uninstalled by %s (%zu user records, %zu states deleted)", app_id,
		    c->who.user_id, users, states);
	if (audit_request(c, "app_uninstalled", app_id,
			  json_string_value(json_object_get(app, "bot_user_id"))))
		reply_json(c, 200, "{}", 2);
out:
	pthread_mutex_unlock(&p->admin_lock);
	json_decref(app);
	json_decref(body);
}

void api_apps_list(struct apps_call *c)
{
	json_t *records, *out, *r;
	size_t corrupt = 0, i;
	int rc;

	if (!require_admin(c))
		return;
	rc = app_records_list(&c->plugin->store, &records, &corrupt);
	if (rc != STORE_OK) {
		store_failed(c, rc, "listing App records");
		return;
	}
	if (corrupt)
		plugin_logf(c->plugin, MMPLUGIN_LOG_ERROR,
			    "%zu app records do not open: tampered, moved or wrong master key",
			    corrupt);
	out = json_array();
	json_array_foreach(records, i, r) json_array_append_new(out, app_view(r, false));
	json_decref(records);
	reply_value(c, 200, out);
}

void api_app_get(struct apps_call *c)
{
	json_t *app;

	if (!require_admin(c))
		return;
	app = app_load(c, c->param, false);
	if (!app)
		return;
	reply_value(c, 200, app_view(app, false));
	json_decref(app);
}
