/* libFuzzer: the host's JSON config parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct host_config cfg;
	char err[CONFIG_ERR_MAX];

	if (config_init(&cfg) != 0)
		return 0;
	if (config_load_text(&cfg, (const char *)data, size, err, sizeof(err)) == 0) {
		char *url = config_site_url(&cfg, 8065);
		free(url);
		(void)config_plugin_enabled(&cfg, "com.mattermost.apps");
	}
	config_free(&cfg);
	return 0;
}
