/* GET /api/v1/ping: the plugin is up; anyone may ask. */
#include <stdio.h>

#include "router.h"
#include "banned.h"

void api_ping(struct apps_call *c)
{
	char body[96];
	int n = snprintf(body, sizeof(body), "{\"status\":\"OK\",\"version\":\"%s\"}",
			 APPS_PLUGIN_VERSION);

	reply_json(c, 200, body, (size_t)n);
}
