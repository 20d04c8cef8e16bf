#include "plugin_api.h"

#include "log.h"
#include "plugin_loader.h"
#include "response.h"
#include "banned.h"

static void api_log(mmplugin_host *host, int level, const char *msg)
{
	enum log_level l = LOG_INFO;

	if (!host || !msg)
		return;
	if (level >= MMPLUGIN_LOG_DEBUG && level <= MMPLUGIN_LOG_ERROR)
		l = (enum log_level)level;
	log_kv(l, msg, "plugin_id", host->id, NULL);
}

static const char *api_settings_json(mmplugin_host *host)
{
	return host && host->settings_json ? host->settings_json : "{}";
}

static const char *api_data_dir(mmplugin_host *host)
{
	return host ? host->data_dir : NULL;
}

static const char *api_site_url(mmplugin_host *host)
{
	return host ? host->site_url : NULL;
}

const struct mmplugin_host_api plugin_host_api = {
	.struct_size = sizeof(struct mmplugin_host_api),
	.abi_major = MMPLUGIN_ABI_MAJOR,
	.abi_minor = MMPLUGIN_ABI_MINOR,
	.response_set_status = response_set_status,
	.response_add_header = response_add_header,
	.response_set_body = response_set_body,
	.log = api_log,
	.settings_json = api_settings_json,
	.data_dir = api_data_dir,
	.site_url = api_site_url,
};
