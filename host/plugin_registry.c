#include "plugin_registry.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fs_util.h"
#include "http_metrics.h"
#include "log.h"
#include "plugin_api.h"
#include "response.h"
#include "banned.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct mmplugin_host *find(struct plugin_registry *reg, const char *id, size_t id_len)
{
	for (size_t i = 0; i < reg->len; i++) {
		struct mmplugin_host *p = reg->items[i];
		if (strlen(p->id) == id_len && memcmp(p->id, id, id_len) == 0)
			return p;
	}
	return NULL;
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
	if (prepare_env(reg, p) != 0)
		goto fail;
	p->ever_activated = true;
	p->store = reg->store;
	p->audit = reg->audit;
	p->store_json = reg->cfg ? reg->cfg->store_json : NULL;
	p->activate_error[0] = '\0';
	p->activating_thread = pthread_self();
	atomic_store(&p->activating, true);
	rc = p->desc->activate(p, &plugin_host_api, &state);
	atomic_store(&p->activating, false);
	if (rc != 0) {
		/* What the plugin said, else what it returned. */
		if (p->activate_error[0])
			snprintf(p->reason, sizeof(p->reason), "%s", p->activate_error);
		else
			snprintf(p->reason, sizeof(p->reason), "activate returned %d", rc);
		p->activate_failed = true;
		plugin_set_scrape_hook(p, NULL, NULL); /* its state is gone */
		goto fail;
	}
	p->state = state;
	p->status = PLUGIN_STATUS_ACTIVE;
	p->activate_failed = false;
	p->reason[0] = '\0';
	/* Requests see the state only after this. */
	atomic_store(&p->open, true);
	log_kv(LOG_INFO, "plugin activated", "plugin_id", p->id, "version", p->desc->version, NULL);
	return 0;
fail:
	log_kv(LOG_ERROR, "plugin not activated", "plugin_id", p->id, "reason", p->reason, NULL);
	return -1;
}

/*
 * A serve_http call gets in only while the plugin is open. Counted first,
 * then checked: deactivation closes, then waits for the count to reach 0,
 * so either it waits for this call or this call sees it closed. Nobody
 * waits here: a plugin being deactivated is not found.
 */
static void plugin_leave(struct mmplugin_host *p)
{
	if (atomic_fetch_sub(&p->calls, 1) == 1 && !atomic_load(&p->open)) {
		pthread_mutex_lock(&p->idle_lock);
		pthread_cond_broadcast(&p->idle);
		pthread_mutex_unlock(&p->idle_lock);
	}
}

static bool plugin_enter(struct mmplugin_host *p)
{
	atomic_fetch_add(&p->calls, 1);
	if (atomic_load(&p->open))
		return true;
	plugin_leave(p);
	return false;
}

/* After closing: waits until every serve_http call has returned (the
 * broadcast comes from the call that ends last; the timeout only paces a
 * log line). */
static void wait_idle(struct mmplugin_host *p)
{
	int seconds = 0;

	pthread_mutex_lock(&p->idle_lock);
	while (atomic_load(&p->calls) > 0) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		if (pthread_cond_timedwait(&p->idle, &p->idle_lock, &until) == 0)
			continue;
		if (++seconds % 10 == 0) {
			char n[24];
			snprintf(n, sizeof(n), "%ld", atomic_load(&p->calls));
			log_kv(LOG_WARN, "waiting for the plugin's requests to end before it goes",
			       "plugin_id", p->id, "requests", n, NULL);
		}
	}
	pthread_mutex_unlock(&p->idle_lock);
}

void plugin_deactivate(struct plugin_registry *reg, struct mmplugin_host *p)
{
	if (p->status != PLUGIN_STATUS_ACTIVE)
		return;
	atomic_store(&p->open, false);
	wait_idle(p);
	p->desc->deactivate(p->state);
	plugin_set_scrape_hook(p, NULL, NULL);
	p->state = NULL;
	p->status = PLUGIN_STATUS_INACTIVE;
	snprintf(p->reason, sizeof(p->reason), "deactivated");
	/* The ABI says deactivate finishes what the plugin holds; what it
	 * left must still be answered, or its connection would wait for
	 * ever. */
	if (atomic_load(&p->held) > 0 && reg->answer_held)
		reg->answer_held(reg->answer_held_arg, p);
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
			log_kv(LOG_WARN, "too many plugin folders; the rest are ignored",
			       "plugin_dir", dir, NULL);
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

/* The saved state wins over the config file. */
static bool wanted_enabled(struct plugin_registry *reg, const char *id)
{
	int saved = reg->store ? host_store_plugin_state(reg->store, id) : -1;

	return saved >= 0 ? saved == 1 : config_plugin_enabled(reg->cfg, id);
}

int plugin_registry_load(struct plugin_registry *reg, const struct host_config *cfg,
			 struct host_store *store, struct audit_log *audit, const char *plugin_dir,
			 const char *site_url)
{
	char *names[PLUGINS_MAX];
	size_t count = 0;

	memset(reg, 0, sizeof(*reg));
	pthread_mutex_init(&reg->admin_lock, NULL);
	reg->cfg = cfg;
	reg->store = store;
	reg->audit = audit;
	reg->site_url = site_url;
	if (list_folders(plugin_dir, names, &count) != 0) {
		log_kv(LOG_ERROR, "cannot read the plugin folder; no plugin is loaded",
		       "plugin_dir", plugin_dir, "error", strerror(errno), NULL);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		struct mmplugin_host *p = plugin_load(plugin_dir, names[i]);

		free(names[i]);
		if (!p) {
			log_kv(LOG_ERROR, "out of memory loading a plugin", NULL);
			continue;
		}
		http_metrics_name_plugin((unsigned)reg->len, p->id);
		reg->items[reg->len++] = p;
		p->wanted = wanted_enabled(reg, p->id);
		if (p->status == PLUGIN_STATUS_REFUSED) {
			log_kv(LOG_ERROR, "plugin refused", "plugin_id", p->id, "check",
			       plugin_refusal_name(p->refusal), "reason", p->reason, NULL);
			continue;
		}
		if (!p->wanted) {
			snprintf(p->reason, sizeof(p->reason), "disabled");
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
	struct mmplugin_host *p = find(reg, id, id_len);
	int rc;

	if (!p || !plugin_enter(p))
		return REGISTRY_SERVE_NONE;
	resp->holder = p;
	if (p->desc->abi_minor < 3 && !req->on_worker) {
		rc = MMPLUGIN_DEFER; /* 1.2 plugins run on workers only */
	} else if (p->desc->abi_minor >= 3) {
		rc = p->desc->serve_http(p->state, req, resp);
	} else {
		p->desc->serve_http_v12(p->state, req, resp);
		rc = MMPLUGIN_DONE;
	}
	/* Counted before the call ends, so that deactivation, which waits for
	 * the calls, sees it. */
	if (rc == MMPLUGIN_ASYNC)
		atomic_fetch_add(&p->held, 1);
	plugin_leave(p);
	return rc;
}

void plugin_registry_hold_finished(struct mmplugin_response *resp)
{
	if (resp->holder)
		atomic_fetch_sub(&resp->holder->held, 1);
}

void plugin_registry_on_left_held(struct plugin_registry *reg,
				  void (*fn)(void *arg, struct mmplugin_host *p), void *arg)
{
	pthread_mutex_lock(&reg->admin_lock);
	reg->answer_held = fn;
	reg->answer_held_arg = arg;
	pthread_mutex_unlock(&reg->admin_lock);
}

void plugin_registry_deactivate_all(struct plugin_registry *reg)
{
	pthread_mutex_lock(&reg->admin_lock);
	for (size_t i = 0; i < reg->len; i++)
		plugin_deactivate(reg, reg->items[i]);
	pthread_mutex_unlock(&reg->admin_lock);
}

/* Brings p to the wanted state; caller holds admin_lock. */
static int apply(struct plugin_registry *reg, struct mmplugin_host *p, bool enabled, char *reason,
		 size_t cap)
{
	p->wanted = enabled;
	if (!enabled) {
		plugin_deactivate(reg, p);
		if (p->status != PLUGIN_STATUS_REFUSED)
			snprintf(p->reason, sizeof(p->reason), "disabled");
		return REGISTRY_OK;
	}
	if (p->status == PLUGIN_STATUS_REFUSED) {
		snprintf(reason, cap, "the plugin was refused: %.250s", p->reason);
		return REGISTRY_EREFUSED;
	}
	if (plugin_activate(reg, p) != 0) {
		snprintf(reason, cap, "the plugin did not activate: %.250s", p->reason);
		return REGISTRY_EACTIVATE;
	}
	return REGISTRY_OK;
}

int plugin_registry_set_enabled(struct plugin_registry *reg, const char *id, size_t id_len,
				bool enabled, char *reason, size_t reason_cap)
{
	struct mmplugin_host *p;
	int rc;

	reason[0] = '\0';
	pthread_mutex_lock(&reg->admin_lock);
	p = find(reg, id, id_len);
	if (!p) {
		pthread_mutex_unlock(&reg->admin_lock);
		snprintf(reason, reason_cap, "no plugin has this id");
		return REGISTRY_ENOTFOUND;
	}
	rc = apply(reg, p, enabled, reason, reason_cap);
	if (rc == REGISTRY_OK && reg->store &&
	    host_store_set_plugin_state(reg->store, p->id, enabled) != 0) {
		snprintf(reason, reason_cap, "the plugin's state could not be saved");
		rc = REGISTRY_EIO;
	}
	pthread_mutex_unlock(&reg->admin_lock);
	return rc;
}

void plugin_registry_sync(struct plugin_registry *reg)
{
	char reason[PLUGIN_REASON_MAX];

	pthread_mutex_lock(&reg->admin_lock);
	for (size_t i = 0; i < reg->len; i++) {
		struct mmplugin_host *p = reg->items[i];
		int saved = reg->store ? host_store_plugin_state(reg->store, p->id) : -1;
		bool active = p->status == PLUGIN_STATUS_ACTIVE;

		if (saved >= 0)
			p->wanted = saved == 1; /* also for a plugin that cannot run */
		if (saved < 0 || (saved == 1) == active)
			continue;
		/* Retrying a plugin that cannot activate would log every second. */
		if (saved == 1 && p->status == PLUGIN_STATUS_REFUSED)
			continue;
		if (saved == 1 && p->activate_failed)
			continue;
		(void)apply(reg, p, saved == 1, reason, sizeof(reason));
	}
	pthread_mutex_unlock(&reg->admin_lock);
}

bool plugin_failed(const struct mmplugin_host *p)
{
	return p->wanted && p->status != PLUGIN_STATUS_ACTIVE &&
	       (p->status == PLUGIN_STATUS_REFUSED || p->activate_failed);
}

json_t *plugin_registry_list(struct plugin_registry *reg)
{
	json_t *active = json_array(), *inactive = json_array();

	/* Without admin_lock: an enable or disable may hold it for as long as
	 * a plugin takes to go, and this runs on an I/O thread. A plugin being
	 * disabled is listed inactive (it takes no more requests). */
	for (size_t i = 0; i < reg->len; i++) {
		struct mmplugin_host *p = reg->items[i];
		json_t *m =
			p->manifest ? json_deep_copy(p->manifest) : json_pack("{s:s}", "id", p->id);
		/* Why a plugin the admin wants is not running. The reason is
		 * written only while the plugin is closed, under admin_lock,
		 * before its state flags say it failed. */
		if (plugin_failed(p) && json_is_object(m))
			json_object_set_new(m, "error", json_string(p->reason));
		json_array_append_new(atomic_load(&p->open) ? active : inactive, m);
	}
	return json_pack("{s:o, s:o}", "active", active, "inactive", inactive);
}

void plugin_registry_close(struct plugin_registry *reg)
{
	for (size_t i = 0; i < reg->len; i++) {
		plugin_deactivate(reg, reg->items[i]);
		plugin_free(reg->items[i]);
	}
	reg->len = 0;
	pthread_mutex_destroy(&reg->admin_lock);
}

int plugin_registry_index(const struct plugin_registry *reg, const char *id, size_t id_len)
{
	for (size_t i = 0; i < reg->len; i++) {
		const struct mmplugin_host *p = reg->items[i];
		if (strlen(p->id) == id_len && memcmp(p->id, id, id_len) == 0)
			return (int)i;
	}
	return -1;
}

/* Guards every plugin's scrape hook (set from any thread, activate
 * included, where the plugin's own lock is already held). */
static pthread_mutex_t scrape_lock = PTHREAD_MUTEX_INITIALIZER;

void plugin_set_scrape_hook(struct mmplugin_host *p, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&scrape_lock);
	p->scrape_fn = fn;
	p->scrape_arg = arg;
	pthread_mutex_unlock(&scrape_lock);
}

void plugin_registry_scrape(void *arg)
{
	struct plugin_registry *reg = arg;

	for (size_t i = 0; i < reg->len; i++) {
		struct mmplugin_host *p = reg->items[i];
		void (*fn)(void *);
		void *fn_arg;

		/* Counted like a request: deactivation waits for the hook to
		 * return, and a plugin being deactivated is skipped. */
		if (!plugin_enter(p))
			continue;
		pthread_mutex_lock(&scrape_lock);
		fn = p->scrape_fn;
		fn_arg = p->scrape_arg;
		pthread_mutex_unlock(&scrape_lock);
		if (fn)
			fn(fn_arg);
		plugin_leave(p);
	}
}

bool plugin_registry_health(struct plugin_registry *reg, bool detail, json_t *out)
{
	bool healthy = true;

	pthread_mutex_lock(&reg->admin_lock);
	for (size_t i = 0; i < reg->len; i++) {
		const struct mmplugin_host *p = reg->items[i];
		char text[PLUGIN_REASON_MAX + 16];

		if (p->status == PLUGIN_STATUS_ACTIVE)
			snprintf(text, sizeof(text), "OK");
		else if (!p->wanted)
			snprintf(text, sizeof(text), "disabled");
		else if (plugin_failed(p) && detail)
			snprintf(text, sizeof(text), "failed: %s", p->reason);
		else if (plugin_failed(p))
			snprintf(text, sizeof(text), "failed");
		else
			snprintf(text, sizeof(text), "inactive");
		healthy = healthy && !plugin_failed(p);
		json_object_set_new(out, p->id, json_string(text));
	}
	pthread_mutex_unlock(&reg->admin_lock);
	return healthy;
}
