/*
 * POST /api/v1/admin/verify (system admins; on a worker): opens every sealed
 * record of the plugin's store, a read transaction of APPS_SCAN_MAX records
 * at a time, and answers
 *   {"records":N, "ok":N, "unreadable":[{"kind":table, "key":record key,
 *     "key_id":the data key it names}]}
 * listing at most VERIFY_LIST_MAX records that do not open (tampered,
 * truncated, moved, or naming a data key the keyring does not hold). A
 * record's key is shown as text ("app_id", "app_id/user_id") or, for the
 * flow states (keyed by a hash), in hex; never a secret: nothing opened is
 * kept or shown.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "banned.h"

#define VERIFY_LIST_MAX 1000
#define VERIFY_KEY_MAX 512

struct verify_arg {
	const struct sealer *sealer;
	enum key_table table;
	uint64_t records, ok;
	json_t *unreadable;
	size_t listed;
	unsigned char last[VERIFY_KEY_MAX];
	size_t last_len;
};

static bool printable(const unsigned char *k, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((k[i] < 0x20 && k[i] != 0) || k[i] > 0x7e)
			return false;
	return true;
}

/* The record's key as a reader names it. */
static json_t *key_text(enum key_table t, const unsigned char *k, size_t len)
{
	char text[VERIFY_KEY_MAX * 2 + 1];

	if (t == KEY_TABLE_OAUTH2_STATE || !printable(k, len)) {
		sodium_bin2hex(text, sizeof(text), k, len);
		return json_string(text);
	}
	memcpy(text, k, len);
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\0')
			text[i] = '/'; /* app_id \0 user_id */
	return json_stringn(text, len);
}

static int verify_one(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct verify_arg *a = arg;
	char *plain = NULL;
	size_t plen = 0;
	uint32_t id = 0;

	a->records++;
	a->last_len = klen <= sizeof(a->last) ? klen : 0;
	memcpy(a->last, key, a->last_len);
	if (unseal_record(a->sealer, apps_table_name(a->table), key, klen, val, vlen, &plain,
			  &plen) == SEAL_OK) {
		unseal_free(plain);
		a->ok++;
		return 0;
	}
	if (a->listed < VERIFY_LIST_MAX) {
		if (seal_key_id(val, vlen, &id) != SEAL_OK)
			id = 0;
		json_array_append_new(a->unreadable, json_pack("{s:s, s:o, s:I}", "kind",
							       apps_table_name(a->table), "key",
							       key_text(a->table, key, klen),
							       "key_id", (json_int_t)id));
		a->listed++;
	}
	return 0;
}

void api_verify(struct apps_call *c)
{
	struct verify_arg *a;
	int rc = STORE_OK;

	if (!require_admin(c))
		return;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->unreadable = json_array())) {
		free(a);
		reply_store_failed(c, STORE_ENOMEM, "verifying the store");
		return;
	}
	a->sealer = &c->plugin->sealer;
	for (int t = 0; t < APPS_SEALED_TABLES && rc == STORE_OK; t++) {
		size_t visited = APPS_SCAN_MAX;
		a->table = (enum key_table)t;
		a->last_len = 0;
		for (bool first = true; rc == STORE_OK && visited == APPS_SCAN_MAX; first = false) {
			rc = apps_store_scan(&c->plugin->store, a->table, NULL, 0,
					     first ? NULL : a->last, a->last_len, APPS_SCAN_MAX,
					     verify_one, a, &visited);
			if (rc == STORE_OK && visited == APPS_SCAN_MAX && a->last_len == 0)
				rc = STORE_EIO;
		}
	}
	if (rc != STORE_OK) {
		json_decref(a->unreadable);
		free(a);
		reply_store_failed(c, rc, "verifying the store");
		return;
	}
	plugin_logf(c->plugin, MMPLUGIN_LOG_INFO,
		    "store verified by %s: %llu sealed records, %llu open, %llu do not",
		    c->who.user_id, (unsigned long long)a->records, (unsigned long long)a->ok,
		    (unsigned long long)(a->records - a->ok));
	reply_value(c, 200,
		    json_pack("{s:I, s:I, s:o}", "records", (json_int_t)a->records, "ok",
			      (json_int_t)a->ok, "unreadable", a->unreadable));
	free(a);
}
