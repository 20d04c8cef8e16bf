/*
 * The three OAuth2 operations Apps call with the tokens they were given:
 *   POST|PUT /api/v1/oauth2/app              register the App's OAuth2 client
 *   POST|PUT|GET|DELETE /api/v1/oauth2/user  the acting user's token data
 *
 * Checks, in this order, each with its own status:
 *   1. body over 8 KiB: 413 (before parsing; nothing changes)
 *   2. no session: 401; a session that is not an App's: 403
 *   3. the caller's rule: app route: the App's bot or a system-admin acting
 *      user; user routes: an acting user, not a bot: 403
 *   4. App not installed 404, disabled 403, remote_oauth2 not granted 403;
 *      a token from an earlier install of the App: 401
 *   5. body not JSON or of the wrong shape: 400 (nothing changes)
 * The App is the one named by the session's mattermost_app_id prop, in the
 * install named by its mattermost_app_install prop. Step 4 is answered
 * early from the App cache, and checked again inside the transaction that
 * reads or writes (struct app_gate_expect): a write checked before an
 * uninstall, a disable or a reinstall is refused, never written after it.
 */
#include <stdio.h>
#include <string.h>

#include "app_call.h"
#include "app_record.h"
#include "audit.h"
#include "plugin_metrics.h"
#include "router.h"
#include "url_origin.h"
#include "banned.h"

#define OAUTH2_BODY_MAX 8192

/* Steps 1 to 3 (step 3's bot-identity half needs the record: see below). */
static bool check_caller(struct apps_call *c, bool app_route)
{
	if (c->req->body.len > OAUTH2_BODY_MAX) {
		reply_error(c, 413, "apps.oauth2.body_too_large.app_error",
			    "The body is larger than 8 KiB.");
		return false;
	}
	if (!require_session(c))
		return false;
	if (!c->who.app_session) {
		reply_error(c, 403, "apps.oauth2.not_app_session.app_error",
			    "This route takes an App's token (bot or acting user), not a "
			    "user's own session.");
		return false;
	}
	if (!caller_load_user(c)) {
		reply_error(c, 403, "apps.oauth2.forbidden.app_error", "The caller is unknown.");
		return false;
	}
	if (app_route) {
		if (c->who.user.is_bot || caller_is_admin(c))
			return true;
		reply_error(c, 403, "apps.oauth2.forbidden.app_error",
			    "Only the App's bot or a system admin acting user may register the "
			    "App's OAuth2 client.");
		return false;
	}
	if (c->who.user.is_bot) {
		reply_error(c, 403, "apps.oauth2.forbidden.app_error",
			    "A bot token carries no user: use the acting user's token.");
		return false;
	}
	return true;
}

/* What every read and write of these routes expects of the App: the
 * session's App, in the session's install, enabled, granted remote_oauth2. */
static struct app_gate_expect expectation(const struct apps_call *c)
{
	return (struct app_gate_expect){ c->who.app_id, c->who.install_id,
					 APP_NEED_ENABLED | APP_NEED_OAUTH2 };
}

/* Step 4: the App of the session, installed, enabled, granted remote_oauth2
 * (from the App cache: no sealed record opened per request); and a bot
 * caller must be that App's own bot. */
static bool oauth2_app_ok(struct apps_call *c)
{
	struct app_gate_expect e = expectation(c);
	struct app_gate a;
	enum app_refusal r = app_check(c->plugin, c->who.app_id, e.need, &a);

	if (r != APP_USABLE) {
		reply_app_refusal(c, r);
		return false;
	}
	if (c->who.user.is_bot && strcmp(a.bot_user_id, c->who.user_id) != 0) {
		reply_error(c, 403, "apps.oauth2.forbidden.app_error",
			    "This bot is not the App's bot.");
		return false;
	}
	r = app_refusal_of(app_gate_judge(&a, &e));
	if (r != APP_USABLE) {
		reply_app_refusal(c, r);
		return false;
	}
	return true;
}

/* A store result other than STORE_OK: the App's refusal when the gate said
 * no inside the transaction, else the store's failure. */
static void store_failed(struct apps_call *c, int rc)
{
	char what[128];
	enum app_refusal r = app_refusal_of(rc);

	if (r != APP_USABLE) {
		reply_app_refusal(c, r);
		return;
	}
	snprintf(what, sizeof(what), "oauth2 data of app %s user %s", c->who.app_id,
		 c->who.user_id);
	reply_store_failed(c, rc, what);
}

/* token_url, when set: an absolute http(s) URL with the origin of
 * remote_root_url when that is set (the framework POSTs the client's secret
 * there: token_refresh.h). false after answering 400. */
static bool token_url_ok(struct apps_call *c, const json_t *client)
{
	const char *token_url = json_string_value(json_object_get(client, "token_url"));
	const char *root = json_string_value(json_object_get(client, "remote_root_url"));
	struct url_origin t, r;

	if (!token_url)
		return true;
	if (url_origin_parse(token_url, &t) != 0) {
		reply_error(c, 400, "apps.oauth2.invalid_body.app_error",
			    "token_url must be an absolute http or https URL.");
		return false;
	}
	if (root && root[0] && (url_origin_parse(root, &r) != 0 || !url_same_origin(&t, &r))) {
		reply_error(c, 400, "apps.oauth2.invalid_body.app_error",
			    "token_url must have the same scheme, host and port as "
			    "remote_root_url.");
		return false;
	}
	return true;
}

/* {"client_id", "client_secret", "remote_root_url", "token_url": strings,
 * "data": any}; all optional, other keys ignored. NULL after answering 400. */
static json_t *client_from_body(struct apps_call *c)
{
	static const char *const strings[] = { "client_id", "client_secret", "remote_root_url",
					       "token_url" };
	json_t *body = body_json(c), *out;

	if (!body)
		return NULL;
	if (!json_is_object(body)) {
		json_decref(body);
		reply_error(c, 400, "apps.oauth2.invalid_body.app_error",
			    "The body must be an object {client_id, client_secret, "
			    "remote_root_url, token_url, data}.");
		return NULL;
	}
	out = json_object();
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		json_t *v = json_object_get(body, strings[i]);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v)) {
			char msg[96];
			snprintf(msg, sizeof(msg), "%s must be a string.", strings[i]);
			reply_error(c, 400, "apps.oauth2.invalid_body.app_error", msg);
			json_decref(out);
			json_decref(body);
			return NULL;
		}
		json_object_set(out, strings[i], v);
	}
	if (json_object_get(body, "data"))
		json_object_set(out, "data", json_object_get(body, "data"));
	json_decref(body);
	if (!token_url_ok(c, out)) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* In the write transaction: the App's record with its client replaced. */
static int set_client(const json_t *cur, void *arg, json_t **next)
{
	if (!cur)
		return APP_GATE_GONE;
	*next = json_deep_copy(cur);
	if (!*next)
		return STORE_ENOMEM;
	json_object_set(*next, "remote_oauth2", arg); /* a full replace */
	return 0;
}

static void oauth2_app(struct apps_call *c)
{
	struct apps_plugin *p = c->plugin;
	struct app_gate_expect e;
	json_t *client;
	int rc;

	if (!check_caller(c, true) || !oauth2_app_ok(c))
		return;
	client = client_from_body(c);
	if (!client)
		return;
	e = expectation(c);
	rc = app_record_update(&p->store, c->who.app_id, &e, set_client, client, NULL);
	json_decref(client);
	if (rc != STORE_OK) {
		store_failed(c, rc);
		return;
	}
	plugin_logf(p, MMPLUGIN_LOG_INFO, "app %s: OAuth2 client stored by %s", c->who.app_id,
		    c->who.user_id);
	if (audit_request(c, "oauth2_client_stored", c->who.app_id, NULL))
		reply_json(c, 200, "{}", 2);
}

/* The gate was judged from the App cache (oauth2_app_ok): exact for changes
 * made on this node, within a second for other nodes', as the host's
 * session revocations are; an uninstall deletes the data in its own
 * transaction, so no other install's data can be read. One store read, no
 * second round trip for the gate. */
static void user_get(struct apps_call *c)
{
	char *data = NULL;
	size_t len = 0;
	int rc = oauth2_user_get(&c->plugin->store, c->who.app_id, c->who.user_id, &data, &len);

	if (rc == STORE_ENOTFOUND) {
		reply_json(c, 200, "null", 4);
		return;
	}
	if (rc != STORE_OK) {
		store_failed(c, rc);
		return;
	}
	reply_json(c, 200, data, len);
	unseal_free(data);
}

static void user_delete(struct apps_call *c)
{
	struct app_gate_expect e = expectation(c);
	int rc = oauth2_user_del(&c->plugin->store, &e, c->who.user_id);

	if (rc != STORE_OK && rc != STORE_ENOTFOUND) {
		store_failed(c, rc);
		return;
	}
	if (audit_request(c, "oauth2_user_deleted", c->who.app_id, c->who.user_id))
		reply_json(c, 200, "{}", 2);
}

/* Any JSON value, stored as the bytes that were sent; null deletes. */
static void user_put(struct apps_call *c)
{
	const struct mmplugin_str *b = &c->req->body;
	json_t *v = json_loadb(b->ptr, b->len, JSON_DECODE_ANY, NULL);
	struct app_gate_expect e;
	int rc;

	if (!v) {
		reply_error(c, 400, "apps.oauth2.invalid_body.app_error",
			    "The body must be a JSON value (null deletes).");
		return;
	}
	if (json_is_null(v)) {
		json_decref(v);
		user_delete(c);
		return;
	}
	json_decref(v);
	e = expectation(c);
	rc = oauth2_user_put(&c->plugin->store, &e, c->who.user_id, b->ptr, b->len);
	if (rc != STORE_OK) {
		store_failed(c, rc);
		return;
	}
	if (audit_request(c, "oauth2_user_stored", c->who.app_id, c->who.user_id))
		reply_json(c, 200, "{}", 2);
}

void api_oauth2_app(struct apps_call *c)
{
	oauth2_app(c);
	plugin_metrics_store_op(STORE_OP_APP, c->status);
}

static enum store_op user_op(const struct mmplugin_str *m)
{
	if ((m->len == 3 && memcmp(m->ptr, "GET", 3) == 0) ||
	    (m->len == 4 && memcmp(m->ptr, "HEAD", 4) == 0))
		return STORE_OP_USER_GET;
	if (m->len == 6 && memcmp(m->ptr, "DELETE", 6) == 0)
		return STORE_OP_USER_DEL;
	return STORE_OP_USER_PUT; /* POST, PUT (a null body deletes: still a store) */
}

void api_oauth2_user(struct apps_call *c)
{
	enum store_op op = user_op(&c->req->method);

	if (check_caller(c, false) && oauth2_app_ok(c)) {
		if (op == STORE_OP_USER_GET)
			user_get(c);
		else if (op == STORE_OP_USER_DEL)
			user_delete(c);
		else
			user_put(c);
	}
	plugin_metrics_store_op(op, c->status);
}
