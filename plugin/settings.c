/* The plugin's settings, from the host configuration. Unknown settings are
 * an error naming them, as in the host's own config. */
#include <stdio.h>
#include <string.h>

#include "plugin.h"
#include "banned.h"

/* An integer setting within [lo, hi]; -1 with msg saying the range. */
static int get_int(const json_t *v, const char *name, long lo, long hi, long *out, char *msg,
		   size_t cap)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(msg, cap, "setting %s must be an integer from %ld to %ld", name, lo, hi);
		return -1;
	}
	*out = (long)json_integer_value(v);
	return 0;
}

int settings_parse(const char *json, const char *data_dir, struct apps_settings *s, char *msg,
		   size_t cap)
{
	json_t *root = json_loads(json, 0, NULL), *v;
	const char *key;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	s->call_timeout_ms = 30000;
	s->max_calls = 1024;
	s->state_ttl_ms = 600000;
	s->key_sweep_batch = KEY_SWEEP_BATCH_DEFAULT;
	s->refresh_timeout_ms = 5000;
	snprintf(s->master_key_file, sizeof(s->master_key_file), "%s/master.key", data_dir);
	if (!json_is_object(root)) {
		snprintf(msg, cap, "settings must be a JSON object");
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		long n = 0;
		if (strcmp(key, "call_timeout_s") == 0) {
			if (get_int(v, key, 1, 300, &n, msg, cap) != 0)
				goto out;
			s->call_timeout_ms = n * 1000;
		} else if (strcmp(key, "oauth2_state_ttl_s") == 0) {
			if (get_int(v, key, 1, 86400, &n, msg, cap) != 0)
				goto out;
			s->state_ttl_ms = n * 1000;
		} else if (strcmp(key, "refresh_timeout_s") == 0) {
			if (get_int(v, key, 1, 60, &n, msg, cap) != 0)
				goto out;
			s->refresh_timeout_ms = n * 1000;
		} else if (strcmp(key, "max_concurrent_calls") == 0) {
			if (get_int(v, key, 1, APP_CALLS_MAX, &n, msg, cap) != 0)
				goto out;
			s->max_calls = (unsigned)n;
		} else if (strcmp(key, "key_sweep_batch") == 0) {
			if (get_int(v, key, 1, KEY_SWEEP_BATCH_MAX, &n, msg, cap) != 0)
				goto out;
			s->key_sweep_batch = (unsigned)n;
		} else if (strcmp(key, "key_sweep_pause_ms") == 0) {
			if (get_int(v, key, 0, KEY_SWEEP_PAUSE_MAX_MS, &n, msg, cap) != 0)
				goto out;
			s->key_sweep_pause_ms = n;
		} else if (strcmp(key, "master_key_file") == 0 ||
			   strcmp(key, "previous_master_key_file") == 0) {
			char *dst =
				key[0] == 'm' ? s->master_key_file : s->previous_master_key_file;
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) >= PATH_MAX) {
				snprintf(msg, cap, "setting %s must be a path", key);
				goto out;
			}
			snprintf(dst, PATH_MAX, "%s", json_string_value(v));
		} else {
			snprintf(msg, cap, "unknown setting \"%.64s\"", key);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}
