/* How route handlers answer: JSON bodies and Mattermost-shaped errors. */
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "plugin.h"
#include "banned.h"

void reply_json(struct apps_call *c, int status, const char *json, size_t len)
{
	const struct mmplugin_host_api *api = c->plugin->api;

	api->response_set_status(c->resp, status);
	api->response_add_header(c->resp, "Content-Type", 12, "application/json", 16);
	if (api->response_set_body(c->resp, json, len) != MMPLUGIN_OK)
		api->response_set_status(c->resp, 500);
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

void plugin_log(const struct apps_plugin *p, int level, const char *msg)
{
	p->api->log(p->host, level, msg);
}
