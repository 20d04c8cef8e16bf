/* The plugin's ABI entry: descriptor, activate, deactivate, serve_http. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "router.h"
#include "banned.h"

static int apps_activate(mmplugin_host *host, const struct mmplugin_host_api *api,
			 void **state_out)
{
	struct apps_plugin *p;

	/* Every member used below is part of ABI 1.0. */
	if (!api || api->abi_major != MMPLUGIN_ABI_MAJOR ||
	    !MMPLUGIN_HAS(api, struct mmplugin_host_api, site_url))
		return -1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	p->host = host;
	p->api = api;
	plugin_log(p, MMPLUGIN_LOG_INFO, "com.mattermost.apps activated");
	*state_out = p;
	return 0;
}

static void apps_deactivate(void *state)
{
	struct apps_plugin *p = state;

	if (!p)
		return;
	plugin_log(p, MMPLUGIN_LOG_INFO, "com.mattermost.apps deactivating");
	free(p);
}

static void apps_serve_http(void *state, const struct mmplugin_request *req,
			    mmplugin_response *resp)
{
	struct apps_call c = {.plugin = state, .req = req, .resp = resp};
	size_t n = req->request_id.len < sizeof(c.request_id) - 1 ? req->request_id.len
								   : sizeof(c.request_id) - 1;

	memcpy(c.request_id, req->request_id.ptr, n);
	c.request_id[n] = '\0';
	router_dispatch(&c);
}

static const struct mmplugin_descriptor descriptor = {
	.magic = MMPLUGIN_MAGIC,
	.struct_size = sizeof(struct mmplugin_descriptor),
	.abi_major = MMPLUGIN_ABI_MAJOR,
	.abi_minor = MMPLUGIN_ABI_MINOR,
	.id = PLUGIN_ID,
	.version = APPS_PLUGIN_VERSION,
	.activate = apps_activate,
	.deactivate = apps_deactivate,
	.serve_http = apps_serve_http,
};

MMPLUGIN_EXPORT const struct mmplugin_descriptor *mmplugin_entry_v1(void)
{
	return &descriptor;
}
