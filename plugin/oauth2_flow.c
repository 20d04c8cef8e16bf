/*
 * The browser flow, for a logged-in person:
 *   GET /apps/{app_id}/oauth2/remote/connect   makes a state and a PKCE
 *       verifier, asks the App for the provider's authorize URL, 307 there
 *   GET /apps/{app_id}/oauth2/remote/complete  checks and consumes the state,
 *       hands the provider's answer (code or error) and the verifier to the
 *       App, shows the outcome
 * Every answer is an HTML page or a redirect, never cached, never leaking a
 * referrer. The App checks are the API's: not installed 404, disabled 403,
 * remote_oauth2 not granted 403.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app_call.h"
#include "app_record.h"
#include "audit.h"
#include "flow_page.h"
#include "flow_tokens.h"
#include "manifest.h"
#include "plugin_metrics.h"
#include "router.h"
#include "state_store.h"
#include "url_origin.h"
#include "urlencoded.h"
#include "banned.h"

#define STATES_PER_USER 20
#define LOCATION_MAX 4096

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A person logged in by cookie, or a redirect to the login page that brings
 * them back here. A session presented as a token (header or ?access_token=)
 * is not a browser: refused whoever it is, so that nothing but the person's
 * own browser can drive their connection (App sessions never get here:
 * router.c refuses them on these routes). */
static bool require_person(struct apps_call *c)
{
	char target[LOCATION_MAX], enc[LOCATION_MAX * 3], location[LOCATION_MAX * 3 + 64];
	const struct mmplugin_request *req = c->req;
	int n;

	if (c->who.has_session && !c->who.cookie) {
		flow_page(c, 403, "Cannot connect",
			  "Open this link in your browser, where you are logged in: connecting "
			  "an account does not take a token.");
		return false;
	}
	if (c->who.has_session) {
		if (!caller_is_admin(c) && !c->who.user_loaded) {
			flow_page(c, 401, "Please log in again", "Your session is not valid.");
			return false;
		}
		if (c->who.user.is_bot) {
			flow_page(c, 403, "Cannot connect",
				  "A bot cannot connect an account: log in as a person.");
			return false;
		}
		return true;
	}
	n = snprintf(target, sizeof(target), APPS_PATH_PREFIX "%.*s%s%.*s", (int)req->path.len,
		     req->path.ptr, req->query.len ? "?" : "", (int)req->query.len, req->query.ptr);
	if (n < 0 || (size_t)n >= sizeof(target) || url_encode(target, enc, sizeof(enc)) != 0) {
		flow_page(c, 414, "Cannot connect", "The address is too long.");
		return false;
	}
	snprintf(location, sizeof(location), "/login?redirect_to=%s", enc);
	flow_redirect(c, 302, location);
	return false;
}

/* The App, installed, enabled and granted remote_oauth2; NULL after the
 * error page. */
static json_t *flow_app(struct apps_call *c)
{
	json_t *app;
	enum app_refusal r =
		app_open(c->plugin, c->param, APP_NEED_ENABLED | APP_NEED_OAUTH2, &app);

	if (r != APP_USABLE) {
		flow_page(c, app_refusal_status(r), "Cannot connect", app_refusal_text(r));
		return NULL;
	}
	return app;
}

/* The call the manifest names (or the default path), with the flow's
 * expansions added to its own. */
static json_t *flow_call(const json_t *app, const char *field, const char *def, bool with_user)
{
	json_t *call = manifest_call(json_object_get(app, "manifest"), field, def);
	json_t *ex = json_object_get(call, "expand");

	if (!json_is_object(ex)) {
		ex = json_object();
		json_object_set_new(call, "expand", ex);
	}
	json_object_set_new(ex, "acting_user", json_string("summary"));
	json_object_set_new(ex, "acting_user_access_token", json_string("all"));
	json_object_set_new(ex, "oauth2_app", json_string("all"));
	if (with_user)
		json_object_set_new(ex, "oauth2_user", json_string("all"));
	return call;
}

/* Runs the flow call; job->answer makes the page when the App answers
 * (from the call loop: the response is held meanwhile). Takes job. */
static void invoke_later(struct apps_call *c, const json_t *app, const json_t *call,
			 const json_t *values, struct app_call_job *job)
{
	struct app_call_req r = { 0 };
	struct expand ex;
	char err[512];

	if (expand_parse(json_object_get(call, "expand"), &ex, err, sizeof(err)) != 0) {
		flow_page(c, 502, "Cannot connect", err);
		free(job);
		return;
	}
	r.app = app;
	r.path = json_string_value(json_object_get(call, "path"));
	r.expand = &ex;
	r.expand_json = json_object_get(call, "expand");
	r.values = values;
	r.state = json_object_get(call, "state");
	r.acting_user_id = c->who.user_id;
	app_call_answer_later(c, &r, job);
}

/* The URL the App gave: absolute http(s), and on remote_root_url's origin
 * when that is set. */
static bool connect_url_ok(const char *root, const char *url)
{
	struct url_origin to, allowed;

	if (url_origin_parse(url, &to) != 0)
		return false;
	if (!root || !*root)
		return true;
	return url_origin_parse(root, &allowed) == 0 && url_same_origin(&to, &allowed);
}

/* What the connect page needs once the App answered. */
struct connect_answer {
	struct app_call_job job; /* first: freed as one */
	char app_id[APP_ID_MAX + 1];
	char root[LOCATION_MAX]; /* remote_root_url, "" when unset */
};

static bool answer_connect(struct app_call_job *job, json_t *resp, const char *err)
{
	struct connect_answer *a = (struct connect_answer *)job;
	struct apps_call *c = &job->later;
	const char *url;

	if (!resp) {
		flow_page(c, 502, "Cannot connect", err);
		plugin_metrics_flow(FLOW_CONNECT, FLOW_APP_ERROR);
		return false;
	}
	url = json_string_value(json_object_get(resp, "data"));
	if (strcmp(json_string_value(json_object_get(resp, "type")), "error") == 0) {
		const char *text = json_string_value(json_object_get(resp, "text"));
		flow_page(c, 502, "Cannot connect",
			  text ? text : "The App answered with an error.");
	} else if (!url || !connect_url_ok(a->root, url)) {
		plugin_logf(c->plugin, MMPLUGIN_LOG_WARN, "app %s gave an unusable connect URL",
			    a->app_id);
		flow_page(c, 502, "Cannot connect",
			  "The App did not give a valid address to connect to.");
	} else {
		flow_redirect(c, 307, url);
	}
	plugin_metrics_flow_status(FLOW_CONNECT, c->status);
	return false;
}

void api_flow_connect(struct apps_call *c)
{
	struct apps_plugin *p = c->plugin;
	char state[FLOW_TOKEN_LEN + 1], verifier[FLOW_TOKEN_LEN + 1], challenge[FLOW_TOKEN_LEN + 1];
	unsigned char hash[STATE_HASH_LEN];
	const char *client_id, *root;
	json_t *app, *call = NULL, *values = NULL;
	struct connect_answer *a;
	size_t evicted = 0;
	int rc;

	if (!require_person(c) || !(app = flow_app(c))) {
		plugin_metrics_flow_status(FLOW_CONNECT, c->status);
		return;
	}
	client_id = json_string_value(
		json_object_get(json_object_get(app, "remote_oauth2"), "client_id"));
	if (!client_id || !*client_id) {
		flow_page(c, 409, "Cannot connect yet",
			  "The App has not registered its OAuth2 client yet; ask an admin to "
			  "configure it.");
		goto out;
	}
	flow_random_token(state);
	flow_random_token(verifier);
	pkce_challenge_s256(verifier, challenge);
	state_hash(state, strlen(state), hash);
	rc = oauth2_state_create(&p->store, hash, c->param,
				 json_string_value(json_object_get(app, "install_id")),
				 c->who.user_id, verifier, now_ms(), p->settings.state_ttl_ms,
				 STATES_PER_USER, &evicted);
	sodium_memzero(verifier, sizeof(verifier));
	if (app_refusal_of(rc) != APP_USABLE) { /* the App changed since flow_app */
		flow_page(c, app_refusal_status(app_refusal_of(rc)), "Cannot connect",
			  app_refusal_text(app_refusal_of(rc)));
		goto out;
	}
	if (rc != STORE_OK) {
		plugin_logf(p, MMPLUGIN_LOG_ERROR, "oauth2 state for app %s not saved: %s (%d)",
			    c->param, store_reason(rc), rc);
		flow_page(c,
			  rc == STORE_EFULL          ? 507
			  : rc == STORE_EUNAVAILABLE ? 503
						     : 500,
			  "Cannot connect", "The server could not start the connection.");
		goto out;
	}
	call = flow_call(app, "get_oauth2_connect_url", "/oauth2/connect", false);
	values = json_pack("{s:s, s:s, s:s}", "state", state, "code_challenge", challenge,
			   "code_challenge_method", "S256");
	a = calloc(1, sizeof(*a));
	if (!a) {
		flow_page(c, 500, "Cannot connect", "The server is out of memory.");
		goto out;
	}
	a->job.answer = answer_connect;
	snprintf(a->app_id, sizeof(a->app_id), "%s", c->param);
	root = json_string_value(
		json_object_get(json_object_get(app, "remote_oauth2"), "remote_root_url"));
	snprintf(a->root, sizeof(a->root), "%s", root ? root : "");
	invoke_later(c, app, call, values, &a->job);
out:
	/* Answered here (the App's answer, even one given at once, is
	 * counted by answer_connect on the call's own copy). */
	if (c->status)
		plugin_metrics_flow_status(FLOW_CONNECT, c->status);
	sodium_memzero(state, sizeof(state));
	json_decref(values);
	json_decref(call);
	json_decref(app);
}

static int add_first(const char *name, const char *value, void *arg)
{
	json_t *obj = arg;

	if (!json_object_get(obj, name) && json_object_size(obj) < 64)
		json_object_set_new(obj, name, json_string(value));
	return 0;
}

static const char *state_problem(int rc)
{
	switch (rc) {
	case STATE_ENOTFOUND:
		return "This connection link is unknown or was already used. Start again from "
		       "the App.";
	case STATE_EEXPIRED: return "This connection link has expired. Start again from the App.";
	case STATE_EMISMATCH:
		return "This connection link was made for another App or another user.";
	default: return "The connection could not be checked; the server log says why.";
	}
}

/* What the complete page needs once the App answered. */
struct complete_answer {
	struct app_call_job job; /* first: freed as one */
	char app_id[APP_ID_MAX + 1];
	char user_id[MMPLUGIN_ID_LEN + 1];
};

#define OUTCOME_TEXT_MAX 2048

/* The complete page, shown once its audit line is on disk. */
struct flow_outcome {
	struct apps_call later; /* plugin, resp, request_id */
	int status;
	const char *title;
	char text[OUTCOME_TEXT_MAX];
};

static const char audit_failed_text[] =
	"The server could not record this in its audit trail, so it cannot tell you that your "
	"account is connected. Tell the server's administrator.";

static void outcome_audited(void *arg, int rc)
{
	struct flow_outcome *o = arg;

	if (rc == MMPLUGIN_OK)
		flow_page(&o->later, o->status, o->title, o->text);
	else
		flow_page(&o->later, 500, "Cannot connect", audit_failed_text);
	o->later.plugin->api->response_finish(o->later.resp);
	free(o);
}

/* On the call loop's thread (must not block): the outcome goes to the audit
 * trail first, and the page follows from outcome_audited. */
static bool answer_complete(struct app_call_job *job, json_t *resp, const char *err)
{
	struct complete_answer *a = (struct complete_answer *)job;
	struct apps_call *c = &job->later;
	struct flow_outcome *o = calloc(1, sizeof(*o));
	const char *text = NULL;
	int queued;

	if (!o) {
		flow_page(c, 500, "Cannot connect", "The server is out of memory.");
		return false;
	}
	o->later = *c;
	if (!resp) {
		o->status = 502;
		o->title = "Cannot connect";
		text = err;
	} else if (strcmp(json_string_value(json_object_get(resp, "type")), "error") == 0) {
		o->status = 400;
		o->title = "Could not connect your account";
		text = json_string_value(json_object_get(resp, "text"));
		if (!text)
			text = "The App could not finish the connection.";
	} else {
		plugin_logf(c->plugin, MMPLUGIN_LOG_INFO, "app %s: user %s connected", a->app_id,
			    a->user_id);
		o->status = 200;
		o->title = "Connected";
		text = "You have connected your account. You can close this window.";
	}
	plugin_metrics_flow(FLOW_COMPLETE, o->status == 200 ? FLOW_OK : FLOW_APP_ERROR);
	snprintf(o->text, sizeof(o->text), "%s", text);
	queued = plugin_audit_later(c->plugin, o->status == 200 ? "flow_connected" : "flow_failed",
				    a->user_id, a->app_id, a->user_id, c->request_id,
				    outcome_audited, o);
	if (queued > 0)
		return true;
	if (queued == 0)
		flow_page(c, o->status, o->title, o->text);
	else
		flow_page(c, 500, "Cannot connect", audit_failed_text);
	free(o);
	return false;
}

/* A complete refused before the App is called (on a worker): flow_failed in
 * the audit trail, then the page. */
static void flow_failed(struct apps_call *c, int status, const char *text)
{
	if (plugin_audit(c->plugin, "flow_failed", c->who.user_id, c->param, c->who.user_id,
			 c->request_id) != MMPLUGIN_OK)
		flow_page(c, 500, "Cannot connect", audit_failed_text);
	else
		flow_page(c, status, "Cannot connect", text);
}

void api_flow_complete(struct apps_call *c)
{
	struct apps_plugin *p = c->plugin;
	char verifier[STATE_VERIFIER_MAX];
	unsigned char hash[STATE_HASH_LEN];
	json_t *app, *values = json_object(), *call = NULL;
	struct complete_answer *a;
	const char *state;
	int rc;

	if (!require_person(c) || !(app = flow_app(c))) {
		plugin_metrics_flow_status(FLOW_COMPLETE, c->status);
		json_decref(values);
		return;
	}
	form_each(c->req->query.ptr, c->req->query.len, add_first, values);
	state = json_string_value(json_object_get(values, "state"));
	if (!state || !*state) {
		flow_failed(c, 403, "The provider sent no state back.");
		goto out;
	}
	state_hash(state, strlen(state), hash);
	rc = oauth2_state_consume(&p->store, hash, c->param, c->who.user_id, now_ms(), verifier,
				  sizeof(verifier));
	if (rc != STATE_OK) {
		plugin_logf(p, MMPLUGIN_LOG_WARN, "app %s: oauth2 state refused for user %s (%d)",
			    c->param, c->who.user_id, rc);
		flow_failed(c,
			    rc == STORE_EFULL          ? 507
			    : rc == STORE_EUNAVAILABLE ? 503
			    : rc == STORE_ECORRUPT || (rc < STORE_ENOTFOUND && rc > STORE_ECALLER)
				    ? 500
				    : 403,
			    state_problem(rc));
		goto out;
	}
	json_object_set_new(values, "code_verifier", json_string(verifier));
	sodium_memzero(verifier, sizeof(verifier));
	call = flow_call(app, "on_oauth2_complete", "/oauth2/complete", true);
	a = calloc(1, sizeof(*a));
	if (!a) {
		flow_page(c, 500, "Cannot connect", "The server is out of memory.");
		goto out;
	}
	a->job.answer = answer_complete;
	snprintf(a->app_id, sizeof(a->app_id), "%s", c->param);
	snprintf(a->user_id, sizeof(a->user_id), "%s", c->who.user_id);
	invoke_later(c, app, call, values, &a->job);
out:
	if (c->status)
		plugin_metrics_flow_status(FLOW_COMPLETE, c->status);
	json_decref(call);
	json_decref(values);
	json_decref(app);
}
