#include "app_call.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app_http.h"
#include "jwt.h"
#include "manifest.h"
#include "token_refresh.h"
#include "banned.h"

/* Context fields a client may send that are passed on as they are. */
static const char *const client_context_fields[] = {
	"location", "user_agent", "track_as_submit", "channel_id", "team_id", "post_id", "root_id",
};

json_t *call_error_response(const char *text)
{
	return json_pack("{s:s, s:s}", "type", "error", "text", text);
}

void app_connect_url(const struct apps_plugin *p, const char *app_id, char *out, size_t cap)
{
	snprintf(out, cap, "%s" APPS_PATH_PREFIX "/apps/%s/oauth2/remote/connect", p->site_url,
		 app_id);
}

void app_complete_url(const struct apps_plugin *p, const char *app_id, char *out, size_t cap)
{
	snprintf(out, cap, "%s" APPS_PATH_PREFIX "/apps/%s/oauth2/remote/complete", p->site_url,
		 app_id);
}

bool app_has_remote_oauth2(const json_t *app)
{
	return perms_have(json_object_get(app, "granted_permissions"), PERM_REMOTE_OAUTH2);
}

static const char *str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static int fail(char *err, size_t cap, const char *text)
{
	snprintf(err, cap, "%s", text);
	return -1;
}

static int expand_acting_user(struct apps_plugin *p, const struct app_call_req *r, json_t *ctx,
			      char *err, size_t cap)
{
	const struct expand_item *e = &r->expand->acting_user;
	struct mmplugin_user u;

	if (e->level == EXPAND_NONE)
		return 0;
	if (!r->acting_user_id)
		return e->required ? fail(err, cap, "acting_user is required but there is none")
				   : 0;
	json_object_set_new(ctx, "acting_user_id", json_string(r->acting_user_id));
	if (e->level == EXPAND_ID)
		return 0;
	if (p->api->user_get(p->host, r->acting_user_id, &u) != MMPLUGIN_OK)
		return e->required ? fail(err, cap, "acting_user could not be read") : 0;
	json_object_set_new(ctx, "acting_user",
			    json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", u.id, "username",
				      u.username, "email", u.email, "roles", u.roles, "is_bot",
				      u.is_bot));
	return 0;
}

static int expand_tokens(struct apps_plugin *p, const struct app_call_req *r, json_t *ctx,
			 char *err, size_t cap)
{
	const json_t *perms = json_object_get(r->app, "granted_permissions");
	const struct expand_item *e = &r->expand->acting_user_access_token;
	char token[MMPLUGIN_ID_LEN + 1];

	if (perms_have(perms, PERM_ACT_AS_BOT)) {
		if (app_token(p, r->app, str(r->app, "bot_user_id"), token) != MMPLUGIN_OK)
			return fail(err, cap, "the App's bot token could not be made");
		json_object_set_new(ctx, "bot_access_token", json_string(token));
	}
	if (e->level != EXPAND_ALL)
		goto out;
	if (!perms_have(perms, PERM_ACT_AS_USER) || !r->acting_user_id) {
		if (e->required) {
			sodium_memzero(token, sizeof(token));
			return fail(err, cap,
				    "acting_user_access_token is required but the App may not act "
				    "as the user");
		}
		goto out;
	}
	if (app_token(p, r->app, r->acting_user_id, token) != MMPLUGIN_OK)
		return fail(err, cap, "the acting user's token could not be made");
	json_object_set_new(ctx, "acting_user_access_token", json_string(token));
out:
	sodium_memzero(token, sizeof(token));
	return 0;
}

static int expand_oauth2(struct apps_plugin *p, const struct app_call_req *r, json_t *ctx,
			 char *err, size_t cap)
{
	const struct expand_item *ea = &r->expand->oauth2_app, *eu = &r->expand->oauth2_user;
	const json_t *o = json_object_get(r->app, "remote_oauth2");
	const char *app_id = str(r->app, "app_id");
	char url[SITE_URL_MAX + 128];
	json_t *oauth2;

	if (ea->level == EXPAND_NONE && eu->level == EXPAND_NONE)
		return 0;
	if (!app_has_remote_oauth2(r->app)) {
		if (ea->required || eu->required)
			return fail(err, cap, "oauth2 is required but the App lacks remote_oauth2");
		return 0;
	}
	oauth2 = json_object();
	json_object_set_new(ctx, "oauth2", oauth2);
	if (ea->level >= EXPAND_SUMMARY) {
		json_object_set_new(oauth2, "client_id", json_string(str(o, "client_id")));
		json_object_set_new(oauth2, "remote_root_url",
				    json_string(str(o, "remote_root_url")));
		app_connect_url(p, app_id, url, sizeof(url));
		json_object_set_new(oauth2, "connect_url", json_string(url));
		app_complete_url(p, app_id, url, sizeof(url));
		json_object_set_new(oauth2, "complete_url", json_string(url));
	}
	if (ea->level == EXPAND_ALL) {
		json_t *data = json_object_get(o, "data");
		json_object_set_new(oauth2, "client_secret", json_string(str(o, "client_secret")));
		if (json_is_string(json_object_get(o, "token_url")))
			json_object_set_new(oauth2, "token_url", json_string(str(o, "token_url")));
		if (data)
			json_object_set(oauth2, "data", data);
	}
	if (eu->level >= EXPAND_SUMMARY) {
		char *plain = NULL;
		size_t len = 0;
		json_t *user = NULL;
		int rc;
		if (!r->acting_user_id)
			return eu->required ? fail(err, cap, "oauth2_user needs an acting user")
					    : 0;
		rc = oauth2_user_get(&p->store, app_id, r->acting_user_id, &plain, &len);
		if (rc == STORE_OK) {
			user = json_loadb(plain, len, JSON_DECODE_ANY, NULL);
			unseal_free(plain);
		} else if (rc != STORE_ENOTFOUND) {
			plugin_logf(p, MMPLUGIN_LOG_ERROR,
				    "oauth2_user record of app %s user %s does not open (%d)",
				    app_id, r->acting_user_id, rc);
			return fail(err, cap, "the user's stored OAuth2 data could not be read");
		}
		json_object_set_new(oauth2, "user", user ? user : json_null());
	}
	return 0;
}

/* The outgoing call request: the client's call (for /call), then path,
 * values, state, expand and the expanded context. */
static json_t *build_request(struct apps_plugin *p, const struct app_call_req *r, char *err,
			     size_t cap)
{
	const json_t *client_ctx =
		r->client_call ? json_object_get(r->client_call, "context") : NULL;
	const char *app_id = str(r->app, "app_id");
	json_t *req = json_object(), *ctx = json_object();
	char app_path[256];

	if (!req || !ctx)
		goto fail;
	if (r->client_call) {
		static const char *const fields[] = { "raw_command", "selected_field", "query" };
		for (size_t i = 0; i < 3; i++) {
			json_t *v = json_object_get(r->client_call, fields[i]);
			if (v)
				json_object_set(req, fields[i], v);
		}
	}
	for (size_t i = 0; client_ctx && i < sizeof(client_context_fields) / sizeof(char *); i++) {
		json_t *v = json_object_get(client_ctx, client_context_fields[i]);
		if (json_is_string(v) || json_is_boolean(v))
			json_object_set(ctx, client_context_fields[i], v);
	}
	snprintf(app_path, sizeof(app_path), APPS_PATH_PREFIX "/apps/%s", app_id);
	json_object_set_new(ctx, "app_id", json_string(app_id));
	json_object_set_new(ctx, "mattermost_site_url", json_string(p->site_url));
	json_object_set_new(ctx, "app_path", json_string(app_path));
	json_object_set_new(ctx, "bot_user_id", json_string(str(r->app, "bot_user_id")));
	if (expand_acting_user(p, r, ctx, err, cap) != 0 ||
	    expand_tokens(p, r, ctx, err, cap) != 0 || expand_oauth2(p, r, ctx, err, cap) != 0)
		goto fail;
	json_object_set_new(req, "path", json_string(r->path));
	if (r->expand_json)
		json_object_set(req, "expand", (json_t *)r->expand_json);
	json_object_set_new(req, "values",
			    r->values ? json_incref((json_t *)r->values) : json_object());
	if (r->state)
		json_object_set(req, "state", (json_t *)r->state);
	json_object_set_new(req, "context", ctx);
	return req;
fail:
	json_decref(req);
	json_decref(ctx);
	return NULL;
}

static const char *const response_types[] = { "", "ok", "form", "call", "navigate", "error" };

json_t *app_response_parse(const char *body, size_t len, char *err, size_t cap)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const json_t *type;
	bool known = false;

	if (!json_is_object(j)) {
		json_decref(j);
		fail(err, cap, "the App's response is not a JSON object");
		return NULL;
	}
	type = json_object_get(j, "type");
	if (!type) {
		json_object_set_new(j, "type", json_string("ok"));
		return j;
	}
	for (size_t i = 0; json_is_string(type) && i < 6; i++)
		known = known || strcmp(json_string_value(type), response_types[i]) == 0;
	if (!known) {
		json_decref(j);
		fail(err, cap, "the App's response has an unknown type");
		return NULL;
	}
	if (json_string_length(type) == 0)
		json_object_set_new(j, "type", json_string("ok"));
	return j;
}

/* A call ready to go: where, what (the body holds tokens) and the JWT. */
struct prepared {
	char url[4096];
	char *body; /* malloc'd by jansson */
	size_t len;
	char auth[1024]; /* "Bearer <JWT>" or "" */
};

static void prepared_wipe(struct prepared *c)
{
	if (c->body) {
		sodium_memzero(c->body, c->len);
		free(c->body);
		c->body = NULL;
	}
	sodium_memzero(c->auth, sizeof(c->auth));
}

/* Builds the call: URL, request with its expanded context (minting the
 * App's tokens), and the JWT when http.use_jwt. 0, or -1 with err. */
static int prepare(struct apps_plugin *p, const struct app_call_req *r, struct prepared *out,
		   char *err, size_t cap)
{
	const json_t *http = json_object_get(json_object_get(r->app, "manifest"), "http");
	const char *root = json_string_value(json_object_get(http, "root_url"));
	char *jwt;
	json_t *req;
	size_t root_len;

	memset(out, 0, sizeof(*out));
	if (!root)
		return fail(err, cap, "the App has no http.root_url");
	root_len = strlen(root);
	while (root_len && root[root_len - 1] == '/')
		root_len--;
	if (snprintf(out->url, sizeof(out->url), "%.*s%s", (int)root_len, root, r->path) >=
	    (int)sizeof(out->url))
		return fail(err, cap, "the App's URL is too long");
	req = build_request(p, r, err, cap);
	if (!req)
		return -1;
	out->body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!out->body)
		return fail(err, cap, "out of memory");
	out->len = strlen(out->body);
	if (json_is_true(json_object_get(http, "use_jwt"))) {
		const char *secret = str(r->app, "secret");
		jwt = jwt_sign_hs256((const unsigned char *)secret, strlen(secret),
				     r->acting_user_id, (int64_t)time(NULL));
		if (!jwt) {
			prepared_wipe(out);
			return fail(err, cap, "the call's JWT could not be made");
		}
		snprintf(out->auth, sizeof(out->auth), "Bearer %s", jwt);
		sodium_memzero(jwt, strlen(jwt));
		free(jwt);
	}
	return 0;
}

/* The App's answer checked: a call response, or NULL with err (logged). */
static json_t *result(struct apps_plugin *p, const char *app_id, const char *path, int rc,
		      const struct app_response *resp, char *err, size_t cap)
{
	json_t *out = NULL;

	if (rc != 0)
		snprintf(err, cap, "%s", resp->error);
	else if (resp->status != 200)
		snprintf(err, cap, "the App answered HTTP %ld", resp->status);
	else
		out = app_response_parse(resp->body, resp->len, err, cap);
	if (!out)
		plugin_logf(p, MMPLUGIN_LOG_WARN, "call to app %s at %.256s failed: %s", app_id,
			    path, err);
	return out;
}

json_t *app_call_invoke(struct apps_plugin *p, const struct app_call_req *r, char *err, size_t cap)
{
	struct app_response resp;
	struct prepared call;
	json_t *out;
	int rc;

	if (prepare(p, r, &call, err, cap) != 0) {
		plugin_logf(p, MMPLUGIN_LOG_WARN, "call to app %s at %.256s failed: %s",
			    str(r->app, "app_id"), r->path, err);
		return NULL;
	}
	rc = app_http_post(&p->http, call.url, call.auth[0] ? call.auth : NULL, call.body, call.len,
			   &resp);
	prepared_wipe(&call);
	out = result(p, str(r->app, "app_id"), r->path, rc, &resp, err, cap);
	app_response_free(&resp);
	return out;
}

/* A call in flight, as the call loop sees it. */
struct pending {
	struct app_call_job *job;
	char app_id[APP_ID_MAX + 1];
	char path[256]; /* for the log line */
};

/* Whether the answer kept the response (it finishes it itself). */
static bool answer_now(struct app_call_job *job, json_t *response, const char *err)
{
	bool kept = job->answer(job, response, err);

	free(job);
	return kept;
}

/* On the call loop's thread: the App answered (or did not). */
static void on_answer(void *arg, int rc, struct app_response *resp)
{
	struct pending *pe = arg;
	struct app_call_job *job = pe->job;
	struct apps_plugin *p = job->later.plugin;
	mmplugin_response *held = job->later.resp;
	char err[512] = "";
	bool kept;
	json_t *out = result(p, pe->app_id, pe->path, rc, resp, err, sizeof(err));

	app_response_free(resp);
	kept = answer_now(job, out, err);
	json_decref(out);
	free(pe);
	if (!kept)
		p->api->response_finish(held);
}

/* Prepares r's call and hands it to the call loop; job->answer runs when
 * the App answers, or before this returns when the call cannot start.
 * true when the response is held (by the call loop, or kept by the
 * answer), false when it is complete and must be sent. */
static bool start_call(struct apps_plugin *p, const struct app_call_req *r,
		       struct app_call_job *job)
{
	struct pending *pe = NULL;
	struct prepared call;
	char err[512];
	bool held;

	if (prepare(p, r, &call, err, sizeof(err)) != 0) {
		plugin_logf(p, MMPLUGIN_LOG_WARN, "call to app %s at %.256s failed: %s",
			    str(r->app, "app_id"), r->path, err);
		return answer_now(job, NULL, err);
	}
	pe = calloc(1, sizeof(*pe));
	if (!pe) {
		prepared_wipe(&call);
		return answer_now(job, NULL, "out of memory");
	}
	pe->job = job;
	snprintf(pe->app_id, sizeof(pe->app_id), "%s", str(r->app, "app_id"));
	snprintf(pe->path, sizeof(pe->path), "%s", r->path);
	/* From here the response belongs to the call loop: it may even be
	 * finished before app_http_start returns. */
	held = true;
	if (app_http_start(&p->http, call.url, call.auth[0] ? call.auth : NULL, call.body, call.len,
			   on_answer, pe, err, sizeof(err)) != 0) {
		free(pe);
		plugin_logf(p, MMPLUGIN_LOG_WARN, "call to app %s at %.256s failed: %s",
			    str(r->app, "app_id"), r->path, err);
		held = answer_now(job, NULL, err);
	}
	call.body = NULL; /* app_http_start took it */
	prepared_wipe(&call);
	return held;
}

/* A call waiting for its user's token refresh (token_refresh.h): its
 * request, kept (the request's views end when serve_http returns). */
struct waiting_call {
	struct apps_plugin *p;
	struct app_call_job *job;
	struct expand expand;
	json_t *app, *expand_json, *values, *state, *client_call;
	char *path;
	char acting_user_id[MMPLUGIN_ID_LEN + 1];
};

static json_t *keep(const json_t *j)
{
	return json_incref((json_t *)j);
}

static void waiting_call_free(struct waiting_call *w)
{
	json_decref(w->app);
	json_decref(w->expand_json);
	json_decref(w->values);
	json_decref(w->state);
	json_decref(w->client_call);
	free(w->path);
	free(w);
}

static struct waiting_call *waiting_call_new(struct apps_plugin *p, const struct app_call_req *r,
					     struct app_call_job *job)
{
	struct waiting_call *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->p = p;
	w->job = job;
	w->expand = *r->expand;
	w->app = keep(r->app);
	w->expand_json = keep(r->expand_json);
	w->values = keep(r->values);
	w->state = keep(r->state);
	w->client_call = keep(r->client_call);
	w->path = strdup(r->path);
	snprintf(w->acting_user_id, sizeof(w->acting_user_id), "%s", r->acting_user_id);
	if (!w->path) {
		waiting_call_free(w);
		return NULL;
	}
	return w;
}

/* On the refresher's thread: the stored token is final; the call goes on. */
static void resume_call(void *arg)
{
	struct waiting_call *w = arg;
	struct app_call_req r = { .app = w->app,
				  .path = w->path,
				  .expand = &w->expand,
				  .expand_json = w->expand_json,
				  .values = w->values,
				  .state = w->state,
				  .acting_user_id = w->acting_user_id,
				  .client_call = w->client_call };
	struct apps_plugin *p = w->p;
	mmplugin_response *held = w->job->later.resp;

	if (!start_call(p, &r, w->job))
		p->api->response_finish(held);
	waiting_call_free(w);
}

/* Whether r's expansion may pass a token the framework refreshes. */
static bool may_refresh(const struct app_call_req *r)
{
	const json_t *o = json_object_get(r->app, "remote_oauth2");

	return r->expand->oauth2_user.level >= EXPAND_SUMMARY && r->acting_user_id &&
	       app_has_remote_oauth2(r->app) && json_string_length(json_object_get(o, "token_url"));
}

void app_call_answer_later(struct apps_call *c, const struct app_call_req *r,
			   struct app_call_job *job)
{
	struct apps_plugin *p = c->plugin;
	struct waiting_call *w;
	char err[512];
	json_t *out;

	job->later = (struct apps_call){ .plugin = p, .resp = c->resp };
	memcpy(job->later.request_id, c->request_id, sizeof(job->later.request_id));
	/* A host without response_finish (none can load this plugin: it is
	 * built for ABI 1.3) gets the answer the blocking way. */
	if (!MMPLUGIN_HAS(p->api, struct mmplugin_host_api, response_finish)) {
		out = app_call_invoke(p, r, err, sizeof(err));
		c->async = answer_now(job, out, err);
		json_decref(out);
		return;
	}
	if (may_refresh(r) && (w = waiting_call_new(p, r, job)) != NULL) {
		/* From here resume_call may run (and finish the response) at
		 * any time. */
		if (token_refresh_before_call(p, r->app, r->acting_user_id, c->request_id,
					      resume_call, w) == 1) {
			c->async = true;
			return;
		}
		waiting_call_free(w);
	}
	c->async = start_call(p, r, job);
}
