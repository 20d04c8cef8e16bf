/*
 * POST /api/v1/call: a logged-in user runs one of an App's calls, as
 * @mattermost/client's executeAppCall sends it. The answer is always the
 * App's call response (200), or {"type":"error","text":...} when the App
 * failed; request problems are 4xx.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_call.h"
#include "call_path.h"
#include "app_record.h"
#include "manifest.h"
#include "router.h"
#include "banned.h"

/* Calls that only the plugin makes: the OAuth2 flow and the lifecycle.
 * path is normalised; so are the manifest's paths (listings made before
 * they had to be are normalised here). */
static bool path_reserved(const json_t *app, const char *path)
{
	const json_t *m = json_object_get(app, "manifest");
	const char *reserved[] = {
		manifest_call_path(m, "get_oauth2_connect_url", "/oauth2/connect"),
		manifest_call_path(m, "on_oauth2_complete", "/oauth2/complete"),
		manifest_call_path(m, "on_install", NULL),
		manifest_call_path(m, "on_uninstall", NULL),
	};
	char norm[CALL_PATH_MAX + 1];

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (!reserved[i])
			continue;
		if (call_path_normalize(reserved[i], strlen(reserved[i]), norm, sizeof(norm)) != 0)
			snprintf(norm, sizeof(norm), "%s", reserved[i]);
		if (call_path_same_route(norm, path))
			return true;
	}
	return false;
}

/* The answer to a call, once the App answered: its call response (or the
 * error), with the App's bot. */
struct call_answer {
	struct app_call_job job; /* first: freed as one */
	json_t *metadata;        /* app_metadata */
};

static bool answer_call(struct app_call_job *job, json_t *response, const char *err)
{
	struct call_answer *a = (struct call_answer *)job;
	json_t *out = response ? json_incref(response) : call_error_response(err);

	json_object_set_new(out, "app_metadata", a->metadata);
	reply_value(&job->later, 200, out);
	return false;
}

void api_call(struct apps_call *c)
{
	const char *path, *app_id;
	struct app_call_req r = { 0 };
	json_t *body, *app = NULL, *ctx;
	struct call_answer *a;
	struct expand ex;
	char err[512], norm[CALL_PATH_MAX + 1];

	if (!require_session(c) || !(body = body_json(c)))
		return;
	ctx = json_object_get(body, "context");
	path = json_string_value(json_object_get(body, "path"));
	app_id = json_string_value(json_object_get(ctx, "app_id"));
	if (!json_is_object(body) || !path || !json_is_object(ctx) || !app_id) {
		reply_error(c, 400, "apps.call.invalid.app_error",
			    "A call request needs \"path\" and \"context\": {\"app_id\"}.");
		goto out;
	}
	app = app_load(c, app_id, true);
	if (!app)
		goto out;
	/* Decided on, and sent, in the form the App will route. */
	if (call_path_normalize(path, json_string_length(json_object_get(body, "path")), norm,
				sizeof(norm)) != CALL_PATH_OK) {
		reply_error(c, 400, "apps.call.invalid.app_error",
			    "path must start with \"/\" and hold no \"..\" segment, escaped "
			    "slash, \"?\", \"#\", \";\" or spaces.");
		goto out;
	}
	path = norm;
	if (path_reserved(app, path)) {
		reply_error(c, 403, "apps.call.forbidden_path.app_error",
			    "This path is called by the server only (OAuth2 flow, install, "
			    "uninstall).");
		goto out;
	}
	if (expand_parse(json_object_get(body, "expand"), &ex, err, sizeof(err)) != 0) {
		reply_error(c, 400, "apps.call.invalid.app_error", err);
		goto out;
	}
	r.app = app;
	r.path = path;
	r.expand = &ex;
	r.expand_json = json_object_get(body, "expand");
	r.values = json_object_get(body, "values");
	r.state = json_object_get(body, "state");
	r.acting_user_id = c->who.user_id;
	r.client_call = body;
	a = calloc(1, sizeof(*a));
	if (!a) {
		reply_error(c, 500, "api.context.internal_error.app_error", "Out of memory.");
		goto out;
	}
	a->job.answer = answer_call;
	a->metadata = json_pack("{s:O?, s:O?}", "bot_user_id", json_object_get(app, "bot_user_id"),
				"bot_username", json_object_get(app, "bot_username"));
	/* Answered when the App answers, from the call loop. */
	app_call_answer_later(c, &r, &a->job);
out:
	json_decref(app);
	json_decref(body);
}
