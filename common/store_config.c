/* The "store" config object, read the same way by the host (its config
 * file) and the plugin (the host API's store_json). */
#include "store.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

#define STORE_CONFIG_TEXT_MAX (64 * 1024)

static bool url_ok(const char *url, size_t len)
{
	if (len == 0 || len >= STORE_URL_MAX || strlen(url) != len)
		return false;
	if (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

int store_config_parse(struct store_config *cfg, const char *json, size_t len, char *err,
		       size_t err_cap)
{
	struct store_config c;
	const char *key;
	json_t *root, *v;
	bool have_url = false;
	int rc = STORE_EINVAL;

	store_config_init(&c);
	if (len > STORE_CONFIG_TEXT_MAX) {
		snprintf(err, err_cap, "store is too large");
		return STORE_EINVAL;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		snprintf(err, err_cap, "store must be an object");
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "backend") == 0) {
			const char *b = json_string_value(v);
			if (b && strcmp(b, "lmdb") == 0) {
				c.backend = STORE_BACKEND_LMDB;
			} else if (b && strcmp(b, "postgres") == 0) {
				c.backend = STORE_BACKEND_POSTGRES;
			} else {
				snprintf(err, err_cap,
					 "store.backend must be \"lmdb\" or \"postgres\"");
				goto out;
			}
		} else if (strcmp(key, "url") == 0) {
			if (!json_is_string(v) ||
			    !url_ok(json_string_value(v), json_string_length(v))) {
				/* Never echo the URL: it may hold a password. */
				snprintf(err, err_cap,
					 "store.url must be a postgresql:// connection URI "
					 "of at most %d characters",
					 STORE_URL_MAX - 1);
				goto out;
			}
			snprintf(c.url, sizeof(c.url), "%s", json_string_value(v));
			have_url = true;
		} else if (strcmp(key, "pool_size") == 0) {
			json_int_t n = json_integer_value(v);
			if (!json_is_integer(v) || n < 1 || n > STORE_POOL_MAX) {
				snprintf(err, err_cap, "store.pool_size must be between 1 and %d",
					 STORE_POOL_MAX);
				goto out;
			}
			c.pool_size = (unsigned)n;
		} else {
			snprintf(err, err_cap, "unknown key \"store.%.64s\"", key);
			goto out;
		}
	}
	if (c.backend == STORE_BACKEND_POSTGRES && !have_url) {
		snprintf(err, err_cap, "store.url is required with the postgres backend");
		goto out;
	}
	if (c.backend == STORE_BACKEND_LMDB && have_url) {
		snprintf(err, err_cap, "store.url is only for the postgres backend");
		goto out;
	}
	*cfg = c;
	rc = STORE_OK;
out:
	json_decref(root);
	return rc;
}
