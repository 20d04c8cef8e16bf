#include "plugin_registry.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs_util.h"
#include "log.h"
#include "plugin_api.h"
#include "banned.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prepares what the plugin is handed: its data folder, settings, site URL. */
static int prepare_env(struct plugin_registry *reg, struct mmplugin_host *p)
{
	const json_t *settings = config_plugin_settings(reg->cfg, p->id);
	size_t len = strlen(reg->cfg->data_dir) + strlen("/plugins/") + strlen(p->id) + 1;

	free(p->data_dir);
	free(p->settings_json);
	free(p->site_url);
	p->data_dir = malloc(len);
	p->settings_json = settings ? json_dumps(settings, JSON_COMPACT) : strdup("{}");
	p->site_url = strdup(reg->site_url);
	if (!p->data_dir || !p->settings_json || !p->site_url) {
		snprintf(p->reason, sizeof(p->reason), "out of memory");
		return -1;
	}
	snprintf(p->data_dir, len, "%s/plugins/%s", reg->cfg->data_dir, p->id);
	if (fs_mkdir_p(p->data_dir, 0700) != 0) {
		snprintf(p->reason, sizeof(p->reason), "cannot create its data folder %.200s: %s",
			 p->data_dir, strerror(errno));
		return -1;
	}
	return 0;
}

int plugin_activate(struct plugin_registry *reg, struct mmplugin_host *p)
{
	void *state = NULL;
	int rc;

	if (p->status == PLUGIN_STATUS_ACTIVE)
		return 0;
	if (p->status == PLUGIN_STATUS_REFUSED)
		return -1;
	pthread_rwlock_wrlock(&p->lock);
	if (prepare_env(reg, p) != 0) {
		rc = -1;
		goto out;
	}
	p->ever_activated = true;
	rc = p->desc->activate(p, &plugin_host_api, &state);
	if (rc != 0) {
		snprintf(p->reason, sizeof(p->reason), "activate returned %d", rc);
		rc = -1;
		goto out;
	}
	p->state = state;
	p->status = PLUGIN_STATUS_ACTIVE;
	p->reason[0] = '\0';
out:
	pthread_rwlock_unlock(&p->lock);
	if (rc == 0)
		log_kv(LOG_INFO, "plugin activated", "plugin_id", p->id, "version",
		       p->desc->version, NULL);
	else
		log_kv(LOG_ERROR, "plugin not activated", "plugin_id", p->id, "reason", p->reason,
		       NULL);
	return rc;
}

void plugin_deactivate(struct mmplugin_host *p)
{
	pthread_rwlock_wrlock(&p->lock);
	if (p->status != PLUGIN_STATUS_ACTIVE) {
		pthread_rwlock_unlock(&p->lock);
		return;
	}
	p->desc->deactivate(p->state);
	p->state = NULL;
	p->status = PLUGIN_STATUS_INACTIVE;
	snprintf(p->reason, sizeof(p->reason), "deactivated");
	pthread_rwlock_unlock(&p->lock);
	log_kv(LOG_INFO, "plugin deactivated", "plugin_id", p->id, NULL);
}

/* Lists the folder names in dir, sorted, at most PLUGINS_MAX. */
static int list_folders(const char *dir, char **names, size_t *count)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	size_t n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		if (n == PLUGINS_MAX) {
			log_kv(LOG_WARN, "too many plugin folders; the rest are ignored", "plugin_dir",
			       dir, NULL);
			break;
		}
		names[n] = strdup(e->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	*count = n;
	return 0;
}

int plugin_registry_load(struct plugin_registry *reg, const struct host_config *cfg,
			 const char *plugin_dir, const char *site_url)
{
	char *names[PLUGINS_MAX];
	size_t count = 0;

	memset(reg, 0, sizeof(*reg));
	reg->cfg = cfg;
	reg->site_url = site_url;
	if (list_folders(plugin_dir, names, &count) != 0) {
		log_kv(LOG_ERROR, "cannot read the plugin folder; no plugin is loaded", "plugin_dir",
		       plugin_dir, "error", strerror(errno), NULL);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		struct mmplugin_host *p = plugin_load(plugin_dir, names[i]);

		free(names[i]);
		if (!p) {
			log_kv(LOG_ERROR, "out of memory loading a plugin", NULL);
			continue;
		}
		reg->items[reg->len++] = p;
		if (p->status == PLUGIN_STATUS_REFUSED) {
			log_kv(LOG_ERROR, "plugin refused", "plugin_id", p->id, "check",
			       plugin_refusal_name(p->refusal), "reason", p->reason, NULL);
			continue;
		}
		if (!config_plugin_enabled(cfg, p->id)) {
			snprintf(p->reason, sizeof(p->reason), "disabled in the configuration");
			log_kv(LOG_INFO, "plugin disabled", "plugin_id", p->id, NULL);
			continue;
		}
		(void)plugin_activate(reg, p);
	}
	return 0;
}

int plugin_registry_serve(struct plugin_registry *reg, const char *id, size_t id_len,
			  const struct mmplugin_request *req, struct mmplugin_response *resp)
{
	for (size_t i = 0; i < reg->len; i++) {
		struct mmplugin_host *p = reg->items[i];

		if (strlen(p->id) != id_len || memcmp(p->id, id, id_len) != 0)
			continue;
		pthread_rwlock_rdlock(&p->lock);
		if (p->status != PLUGIN_STATUS_ACTIVE) {
			pthread_rwlock_unlock(&p->lock);
			return -1;
		}
		p->desc->serve_http(p->state, req, resp);
		pthread_rwlock_unlock(&p->lock);
		return 0;
	}
	return -1;
}

void plugin_registry_close(struct plugin_registry *reg)
{
	for (size_t i = 0; i < reg->len; i++) {
		plugin_deactivate(reg->items[i]);
		plugin_free(reg->items[i]);
	}
	reg->len = 0;
}
