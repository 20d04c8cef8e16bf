/* How route handlers answer: JSON bodies and Mattermost-shaped errors. A
 * JSON answer may carry a secret (the App record install-app returns, a
 * user's OAuth2 data), so no JSON answer is ever kept by a cache. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "key_current.h"
#include "plugin.h"
#include "banned.h"

void reply_json(struct apps_call *c, int status, const char *json, size_t len)
{
	const struct mmplugin_host_api *api = c->plugin->api;

	c->status = status;
	api->response_set_status(c->resp, status);
	api->response_add_header(c->resp, "Content-Type", 12, "application/json", 16);
	api->response_add_header(c->resp, "Cache-Control", 13, "no-store", 8);
	if (api->response_set_body(c->resp, json, len) != MMPLUGIN_OK)
		api->response_set_status(c->resp, 500);
}

void reply_value(struct apps_call *c, int status, json_t *value)
{
	char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(value);
	if (!text) {
		reply_error(c, 500, "api.context.internal_error.app_error",
			    "The plugin could not encode its answer.");
		return;
	}
	reply_json(c, status, text, strlen(text));
	/* It may hold a secret (an App record's, a user's OAuth2 data): the
	 * response has its copy. */
	sodium_memzero(text, strlen(text));
	free(text);
}

void reply_error(struct apps_call *c, int status, const char *id, const char *message)
{
	size_t len = 0;
	char *body = api_error_json(id, message, c->request_id, status, &len);

	if (!body) {
		c->plugin->api->response_set_status(c->resp, 500);
		return;
	}
	reply_json(c, status, body, len);
	free(body);
}

const char *store_reason(int rc)
{
	switch (rc) {
	case STORE_EFULL:
		return "the store is full: the disk is full (ENOSPC) or the database reached "
		       "its maximum size (MDB_MAP_FULL); the store's own line says which";
	case STORE_EUNAVAILABLE: return "the database cannot be reached";
	case STORE_ECORRUPT: return "a sealed record does not open";
	case STORE_ENOMEM: return "out of memory";
	case STORE_ECONFLICT: return "another App has this id in another case";
	case STORE_EKEYSTALE:
		return "the store's current data key is not one this node's keyring holds after "
		       "reloading it (does its master key file open it?)";
	default: return "the database failed";
	}
}

void reply_store_failed(struct apps_call *c, int rc, const char *what)
{
	plugin_logf(c->plugin, MMPLUGIN_LOG_ERROR, "store: %s failed: %s (%d)", what,
		    store_reason(rc), rc);
	if (rc == STORE_EFULL)
		reply_error(c, 507, "api.store.full.app_error",
			    "The server's storage is full; nothing was changed.");
	else if (rc == STORE_EUNAVAILABLE)
		reply_error(c, 503, "api.store.unavailable.app_error",
			    "The database cannot be reached; try again later.");
	else if (rc == STORE_ECORRUPT)
		reply_error(c, 500, "apps.store.record_unreadable.app_error",
			    "The stored record could not be read; the server log says why.");
	else
		reply_error(c, 500, "apps.store.app_error",
			    "The plugin's store failed; see the server log.");
}

void plugin_log(const struct apps_plugin *p, int level, const char *msg)
{
	p->api->log(p->host, level, msg);
}

void plugin_logf(const struct apps_plugin *p, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->api->log(p->host, level, msg);
}

json_t *body_json(struct apps_call *c)
{
	json_error_t err;
	json_t *j = json_loadb(c->req->body.ptr, c->req->body.len, JSON_DECODE_ANY, &err);

	if (!j) {
		char msg[256];
		snprintf(msg, sizeof(msg), "The body is not JSON: %.120s (at %d:%d).", err.text,
			 err.line, err.column);
		reply_error(c, 400, "api.context.invalid_body_param.app_error", msg);
	}
	return j;
}
