#include "plugin_api.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_log.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "plugin_registry.h"
#include "response.h"
#include "sessions.h"
#include "users.h"
#include "banned.h"

#define PLUGIN_SESSION_MAX_MS (24LL * 3600 * 1000)

static void api_log(mmplugin_host *host, int level, const char *msg)
{
	enum log_level l = LOG_INFO;

	if (!host || !msg)
		return;
	if (level >= MMPLUGIN_LOG_DEBUG && level <= MMPLUGIN_LOG_ERROR)
		l = (enum log_level)level;
	/* An error the plugin gives while activating is why it failed. */
	if (l == LOG_ERROR && atomic_load(&host->activating) &&
	    pthread_equal(pthread_self(), host->activating_thread))
		snprintf(host->activate_error, sizeof(host->activate_error), "%s", msg);
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

static int map_users_rc(int rc)
{
	switch (rc) {
	case USERS_OK: return MMPLUGIN_OK;
	case USERS_ENOTFOUND: return MMPLUGIN_ENOTFOUND;
	case USERS_EINVALID: return MMPLUGIN_EINVAL;
	case USERS_EUSERNAME_TAKEN:
	case USERS_EEMAIL_TAKEN: return MMPLUGIN_EEXIST;
	case USERS_ENOMEM: return MMPLUGIN_ENOMEM;
	default: return MMPLUGIN_EIO;
	}
}

static int api_user_get(mmplugin_host *host, const char *user_id, struct mmplugin_user *out)
{
	struct host_user u;
	int rc;

	if (!host || !host->store || !user_id || !out ||
	    !mm_id_valid(user_id, strnlen(user_id, MM_ID_LEN + 1)))
		return MMPLUGIN_EINVAL;
	rc = users_get(host->store, user_id, &u);
	if (rc == USERS_OK)
		user_to_plugin(&u, out);
	return map_users_rc(rc);
}

static int api_bot_ensure(mmplugin_host *host, const char *username, struct mmplugin_user *out)
{
	struct user_new n = { .username = username, .is_bot = true };
	struct host_user u;
	char msg[256];
	int rc;

	if (!host || !host->store || !username || !out ||
	    users_check_new(&n, msg, sizeof(msg)) != USERS_OK)
		return MMPLUGIN_EINVAL;
	rc = users_find_username(host->store, username, &u);
	if (rc == USERS_OK && !u.is_bot)
		return MMPLUGIN_EEXIST;
	if (rc == USERS_OK && u.delete_at != 0) {
		rc = users_set_active(host->store, u.id, true);
		if (rc == USERS_OK)
			rc = users_get(host->store, u.id, &u);
	} else if (rc == USERS_ENOTFOUND) {
		rc = users_create(host->store, &n, &u);
		if (rc == USERS_OK)
			log_kv(LOG_INFO, "bot created", "plugin_id", host->id, "user_id", u.id,
			       "username", u.username, NULL);
	}
	if (rc == USERS_OK)
		user_to_plugin(&u, out);
	return map_users_rc(rc);
}

static int api_user_set_active(mmplugin_host *host, const char *user_id, int active)
{
	int rc;

	if (!host || !host->store || !user_id ||
	    !mm_id_valid(user_id, strnlen(user_id, MM_ID_LEN + 1)))
		return MMPLUGIN_EINVAL;
	rc = users_set_active(host->store, user_id, active != 0);
	if (rc == USERS_OK && !active &&
	    sessions_revoke_user(host->store, user_id, NULL) != SESSIONS_OK)
		rc = USERS_EIO;
	if (rc == USERS_OK)
		log_kv(LOG_INFO, active ? "user reactivated" : "user deactivated", "plugin_id",
		       host->id, "user_id", user_id, NULL);
	return map_users_rc(rc);
}

static int copy_prop(const struct mmplugin_session_prop *in, struct session_prop *out)
{
	if (!in->key.ptr || in->key.len == 0 || in->key.len > SESSION_PROP_KEY_MAX ||
	    in->value.len > SESSION_PROP_VALUE_MAX || (!in->value.ptr && in->value.len) ||
	    memchr(in->key.ptr, '\0', in->key.len) ||
	    (in->value.len && memchr(in->value.ptr, '\0', in->value.len)))
		return -1;
	memcpy(out->key, in->key.ptr, in->key.len);
	out->key[in->key.len] = '\0';
	if (in->value.len)
		memcpy(out->value, in->value.ptr, in->value.len);
	out->value[in->value.len] = '\0';
	return 0;
}

static int api_session_create(mmplugin_host *host, const char *user_id,
			      const struct mmplugin_session_prop *props, size_t props_len,
			      int64_t lifetime_ms, char *token_out, size_t token_cap,
			      int64_t *expires_at_ms)
{
	struct session_prop copies[SESSION_PROPS_MAX];
	struct session_new n = { 0 };
	struct host_session s;
	struct host_user u;
	char token[SESSION_TOKEN_LEN + 1];
	int rc;

	if (!host || !host->store || !user_id || !token_out || token_cap < SESSION_TOKEN_LEN + 1 ||
	    props_len > SESSION_PROPS_MAX || (props_len && !props) || lifetime_ms <= 0 ||
	    lifetime_ms > PLUGIN_SESSION_MAX_MS ||
	    !mm_id_valid(user_id, strnlen(user_id, MM_ID_LEN + 1)))
		return MMPLUGIN_EINVAL;
	for (size_t i = 0; i < props_len; i++) {
		if (copy_prop(&props[i], &copies[i]) != 0)
			return MMPLUGIN_EINVAL;
	}
	rc = users_get(host->store, user_id, &u);
	if (rc != USERS_OK || u.delete_at != 0)
		return rc == USERS_EIO ? MMPLUGIN_EIO : MMPLUGIN_ENOTFOUND;
	n.user_id = user_id;
	n.props = copies;
	n.props_len = props_len;
	n.lifetime_ms = lifetime_ms;
	if (sessions_create(host->store, &n, token, &s) != SESSIONS_OK)
		return MMPLUGIN_EIO;
	memcpy(token_out, token, SESSION_TOKEN_LEN + 1);
	sodium_memzero(token, sizeof(token));
	if (expires_at_ms)
		*expires_at_ms = s.expires_at;
	return MMPLUGIN_OK;
}

static int api_sessions_revoke_prop(mmplugin_host *host, const char *key, const char *value,
				    size_t *revoked)
{
	size_t count = 0;
	char n[24];

	if (!host || !host->store || !key || !value || !*key)
		return MMPLUGIN_EINVAL;
	if (sessions_revoke_prop(host->store, key, value, &count) != SESSIONS_OK)
		return MMPLUGIN_EIO;
	if (revoked)
		*revoked = count;
	snprintf(n, sizeof(n), "%zu", count);
	log_kv(LOG_INFO, "sessions revoked", "plugin_id", host->id, "prop", key, LOG_NUM("count"),
	       n, NULL);
	return MMPLUGIN_OK;
}

static void api_response_finish(mmplugin_response *resp)
{
	if (!resp)
		return;
	plugin_registry_hold_finished(resp);
	http_response_finish(resp);
}

/* The one backend this host has: LMDB under the data folder. */
static const char *api_store_json(mmplugin_host *host)
{
	return host && host->store_json ? host->store_json : "{\"backend\":\"lmdb\"}";
}

static int map_audit_rc(int rc)
{
	switch (rc) {
	case AUDIT_OK: return MMPLUGIN_OK;
	case AUDIT_EINVAL: return MMPLUGIN_EINVAL;
	case AUDIT_EBUSY: return MMPLUGIN_ELIMIT;
	case AUDIT_ENOMEM: return MMPLUGIN_ENOMEM;
	default: return MMPLUGIN_EIO;
	}
}

static int api_audit(mmplugin_host *host, const char *event, const char *actor, const char *app_id,
		     const char *target_user, const char *request_id)
{
	const struct audit_event ev = { event, actor, app_id, target_user, request_id };

	if (!host)
		return MMPLUGIN_EINVAL;
	if (!host->audit)
		return MMPLUGIN_ESTATE;
	return map_audit_rc(audit_record(host->audit, &ev, AUDIT_FROM_PLUGIN));
}

/* The plugin's callback, called with the ABI's codes. */
struct audit_later {
	void (*done)(void *arg, int rc);
	void *arg;
};

static void audit_later_done(void *arg, int rc)
{
	struct audit_later l = *(struct audit_later *)arg;

	free(arg);
	l.done(l.arg, map_audit_rc(rc));
}

static int api_audit_async(mmplugin_host *host, const char *event, const char *actor,
			   const char *app_id, const char *target_user, const char *request_id,
			   void (*done)(void *arg, int rc), void *arg)
{
	const struct audit_event ev = { event, actor, app_id, target_user, request_id };
	struct audit_later *l;
	int rc;

	if (!host || !done)
		return MMPLUGIN_EINVAL;
	if (!host->audit)
		return MMPLUGIN_ESTATE;
	l = malloc(sizeof(*l));
	if (!l)
		return MMPLUGIN_ENOMEM;
	*l = (struct audit_later){ done, arg };
	rc = audit_record_async(host->audit, &ev, AUDIT_FROM_PLUGIN, audit_later_done, l);
	if (rc != AUDIT_OK)
		free(l);
	return map_audit_rc(rc);
}

/* ---- metrics ------------------------------------------------------------ */

static int map_metrics_rc(int rc)
{
	switch (rc) {
	case METRICS_OK: return MMPLUGIN_OK;
	case METRICS_EEXIST: return MMPLUGIN_EEXIST;
	case METRICS_ELIMIT: return MMPLUGIN_ELIMIT;
	case METRICS_ENOMEM: return MMPLUGIN_ENOMEM;
	default: return MMPLUGIN_EINVAL;
	}
}

/* A plugin's series: its names may not pass for the host's. */
static int api_metric_register(mmplugin_host *host, enum metric_type type, const char *name,
			       const char *help, const double *buckets, size_t nb,
			       const struct mmplugin_label *labels, size_t n, mmplugin_metric **out)
{
	const char *names[METRICS_LABELS_MAX], *values[METRICS_LABELS_MAX];
	struct metric_series *s = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!host || !name || !out || n > METRICS_LABELS_MAX || (n && !labels))
		return MMPLUGIN_EINVAL;
	if (strncmp(name, "mmhost_", 7) == 0 || strncmp(name, "process_", 8) == 0)
		return MMPLUGIN_EINVAL;
	for (size_t i = 0; i < n; i++) {
		names[i] = labels[i].name;
		values[i] = labels[i].value;
	}
	rc = metrics_register(host, type, name, help, names, values, n, buckets, nb, &s);
	if (rc != METRICS_OK) {
		log_kv(LOG_WARN, "plugin metric refused", "plugin_id", host->id, "name", name,
		       "reason",
		       rc == METRICS_EEXIST   ? "the name is taken"
		       : rc == METRICS_ELIMIT ? "a bound was reached"
		       : rc == METRICS_EINVAL ? "malformed, or unlike the name's other series"
					      : "out of memory",
		       NULL);
		return map_metrics_rc(rc);
	}
	*out = (mmplugin_metric *)(void *)s;
	return MMPLUGIN_OK;
}

static int api_metric_counter(mmplugin_host *host, const char *name, const char *help,
			      const struct mmplugin_label *labels, size_t n, mmplugin_metric **out)
{
	return api_metric_register(host, METRIC_COUNTER, name, help, NULL, 0, labels, n, out);
}

static int api_metric_gauge(mmplugin_host *host, const char *name, const char *help,
			    const struct mmplugin_label *labels, size_t n, mmplugin_metric **out)
{
	return api_metric_register(host, METRIC_GAUGE, name, help, NULL, 0, labels, n, out);
}

static int api_metric_histogram(mmplugin_host *host, const char *name, const char *help,
				const double *buckets, size_t nb,
				const struct mmplugin_label *labels, size_t n,
				mmplugin_metric **out)
{
	if (nb == 0)
		return MMPLUGIN_EINVAL;
	return api_metric_register(host, METRIC_HISTOGRAM, name, help, buckets, nb, labels, n, out);
}

static void api_metric_add(mmplugin_metric *m, uint64_t n)
{
	metric_series_add((struct metric_series *)(void *)m, n);
}

static void api_metric_set(mmplugin_metric *m, double v)
{
	metric_series_set((struct metric_series *)(void *)m, v);
}

static void api_metric_observe(mmplugin_metric *m, double v)
{
	metric_series_observe((struct metric_series *)(void *)m, v);
}

static int api_metrics_on_scrape(mmplugin_host *host, void (*fn)(void *arg), void *arg)
{
	if (!host)
		return MMPLUGIN_EINVAL;
	plugin_set_scrape_hook(host, fn, arg);
	return MMPLUGIN_OK;
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
	.user_get = api_user_get,
	.bot_ensure = api_bot_ensure,
	.user_set_active = api_user_set_active,
	.session_create = api_session_create,
	.sessions_revoke_prop = api_sessions_revoke_prop,
	.response_finish = api_response_finish,
	.store_json = api_store_json,
	.audit = api_audit,
	.audit_async = api_audit_async,
	.metric_counter = api_metric_counter,
	.metric_gauge = api_metric_gauge,
	.metric_histogram = api_metric_histogram,
	.metric_add = api_metric_add,
	.metric_set = api_metric_set,
	.metric_observe = api_metric_observe,
	.metrics_on_scrape = api_metrics_on_scrape,
};
