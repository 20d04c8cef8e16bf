/*
 * Invoking an App: the outgoing call request with its expanded context, the
 * HTTP POST to <http.root_url><path> (with a JWT when http.use_jwt), and the
 * checks on what comes back. Used by /api/v1/call, the OAuth2 flow and
 * install/uninstall.
 */
#ifndef PLUGIN_APP_CALL_H
#define PLUGIN_APP_CALL_H

#include <jansson.h>
#include <stddef.h>

#include "expand.h"
#include "plugin.h"

struct app_call_req {
	const json_t *app; /* the App record */
	const char *path;  /* normalised (call_path.h) */
	const struct expand *expand;
	const json_t *expand_json;  /* sent as "expand"; may be NULL */
	const json_t *values;       /* may be NULL */
	const json_t *state;        /* may be NULL */
	const char *acting_user_id; /* may be NULL */
	const json_t *client_call;  /* /call: raw_command, selected_field, query, context */
};

/* Returns the App's call response (a JSON object with a known "type"), or
 * NULL with one sentence in err saying what went wrong (the App is
 * unreachable, too slow, answered non-200, too much, not JSON; a required
 * expansion is not possible). Never returns a secret in err. Blocks until
 * the App answers: only for a worker thread (install, uninstall). */
json_t *app_call_invoke(struct apps_plugin *p, const struct app_call_req *r, char *err, size_t cap);

/* What answering a request needs once its App has answered, possibly on
 * another thread. A handler embeds it first in a struct of its own. */
struct app_call_job {
	/* plugin, resp and request_id of the request; req and param are NULL
	 * (the request's views end when serve_http returns). */
	struct apps_call later;
	/* Answers from the App's call response (NULL when the call failed:
	 * err says why, as for app_call_invoke). Runs on the call loop's
	 * thread, or on the request's own when the call could not start; must
	 * not block (no store write, no other call). Returns false when the
	 * response is complete (it is sent at once), true when it kept the
	 * response to finish it itself later with response_finish (after its
	 * audit line is on disk: audit.h); job is freed either way, so it
	 * copies what it needs. */
	bool (*answer)(struct app_call_job *job, json_t *response, const char *err);
};

/* Calls the App for request c (on a worker: the call's tokens are minted
 * here) and answers c through job->answer when the App answers, without
 * holding a thread meanwhile: c->async is set and serve_http returns
 * MMPLUGIN_ASYNC; the host holds the connection until the call loop
 * finishes the response. When the call cannot start (too many in flight, a
 * required expansion) job->answer runs before this returns and c->async is
 * set only when the answer kept the response. job is malloc'd and taken: freed after answer.
 * c->resp must not be touched after this returns. */
void app_call_answer_later(struct apps_call *c, const struct app_call_req *r,
			   struct app_call_job *job);

/* Checks a 200 answer's body: a JSON object with a known "type" ("" and a
 * missing type become "ok"). New reference, or NULL with err set. */
json_t *app_response_parse(const char *body, size_t len, char *err, size_t cap);

/* {"type":"error","text":text} as a new reference. */
json_t *call_error_response(const char *text);

/* The App's public URLs under the site: <site>/plugins/com.mattermost.apps/apps/<id>/... */
void app_connect_url(const struct apps_plugin *p, const char *app_id, char *out, size_t cap);
void app_complete_url(const struct apps_plugin *p, const char *app_id, char *out, size_t cap);

/* Whether the App record grants remote_oauth2: the one check every OAuth2
 * entry point uses. */
bool app_has_remote_oauth2(const json_t *app);

#endif
