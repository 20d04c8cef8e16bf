/*
 * The data keys' admin routes (DESIGN.md section 9), system admins only (App
 * sessions never reach them: router), each on a worker (they read the
 * whole store or wait for a commit):
 *
 *   GET    /api/v1/admin/keys         the keys, records per key (read from
 *          the records' headers), the sweep's progress
 *   POST   /api/v1/admin/keys/rotate  a new current key; starts the sweep
 *   DELETE /api/v1/admin/keys/{id}    retires a key no record names
 *
 * Rotating and retiring are audited (key_rotated, key_retired) before the
 * answer.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "key_count.h"
#include "key_sweep.h"
#include "router.h"
#include "banned.h"

/* Logs and answers a key_store or store error. */
static void reply_keys_failed(struct apps_call *c, int rc, const char *what)
{
	if (rc == KEY_STORE_EBUSY) {
		reply_error(c, 409, "apps.keys.busy.app_error",
			    "The data keys changed meanwhile (another admin or node); try again.");
		return;
	}
	if (rc == KEY_STORE_EFULL) {
		reply_error(c, 409, "apps.keys.too_many.app_error",
			    "There are 64 data keys: retire old ones before rotating again.");
		return;
	}
	if (rc == KEY_STORE_ENOKEY) {
		reply_error(c, 409, "apps.keys.no_current_key.app_error",
			    "The master key opens no current data key: check master_key_file "
			    "(and previous_master_key_file) before rotating.");
		return;
	}
	reply_store_failed(c, rc, what);
}

static struct key_counts *count_keys(struct apps_call *c, uint32_t *current, int64_t *created)
{
	struct key_counts *k = calloc(1, sizeof(*k));
	int rc;

	if (!k) {
		reply_store_failed(c, STORE_ENOMEM, "counting records per key");
		return NULL;
	}
	/* The store's keys, also when another node rotated a moment ago. */
	rc = key_store_reload(&c->plugin->keys);
	if (rc == STORE_OK) {
		k->len = keyring_list(&c->plugin->sealer.keys->ring, k->ids, created);
		*current = keyring_current_id(&c->plugin->sealer.keys->ring);
		rc = key_count_records(&c->plugin->store, k);
	}
	if (rc != STORE_OK) {
		reply_keys_failed(c, rc, "counting records per key");
		free(k);
		return NULL;
	}
	return k;
}

void api_keys_list(struct apps_call *c)
{
	struct key_sweep_progress pr;
	struct key_counts *k;
	int64_t created[KEYRING_MAX];
	uint32_t current = 0;
	json_t *keys, *out;
	int rc;

	if (!require_admin(c) || !(k = count_keys(c, &current, created)))
		return;
	rc = key_sweep_progress_read(&c->plugin->store, &pr);
	if (rc != STORE_OK) {
		free(k);
		reply_keys_failed(c, rc, "reading the key sweep's progress");
		return;
	}
	keys = json_array();
	for (size_t i = 0; keys && i < k->len; i++)
		json_array_append_new(keys,
				      json_pack("{s:I, s:I, s:I}", "id", (json_int_t)k->ids[i],
						"created_at", (json_int_t)created[i], "records",
						(json_int_t)k->n[i]));
	/* phase: withdrawing the older keys (the rotation's second step), then
	 * sweeping, then done (key_store.h). */
	out = json_pack("{s:I, s:o, s:{s:s, s:s, s:I, s:I}}", "current", (json_int_t)current,
			"keys", keys, "sweep", "state", pr.running ? "running" : "idle", "phase",
			pr.withdrawing ? "withdrawing"
			: pr.running   ? "sweeping"
				       : "done",
			"done", (json_int_t)pr.done, "total", (json_int_t)pr.total);
	free(k);
	reply_value(c, 200, out);
}

/* The sweep's first progress row, for the id the new key gets. */
static char *sweep_row(uint32_t id, void *arg, size_t *len)
{
	return key_sweep_start_row(id, *(const uint64_t *)arg, len);
}

void api_keys_rotate(struct apps_call *c)
{
	struct key_counts *k;
	int64_t created[KEYRING_MAX];
	uint32_t current = 0, id = 0;
	uint64_t total;
	int rc;

	if (!require_admin(c) || !(k = count_keys(c, &current, created)))
		return;
	total = k->total; /* the sweep visits every sealed record once a pass */
	free(k);
	rc = key_store_rotate(&c->plugin->keys, sweep_row, &total, &id);
	if (rc != STORE_OK) {
		reply_keys_failed(c, rc, "rotating the data key");
		return;
	}
	plugin_logf(c->plugin, MMPLUGIN_LOG_INFO,
		    "data key %u is current (rotated by %s); the key sweep starts", id,
		    c->who.user_id);
	key_sweep_kick(&c->plugin->key_sweep);
	if (!audit_request(c, "key_rotated", NULL, NULL))
		return;
	reply_value(c, 200, json_pack("{s:I}", "current", (json_int_t)id));
}

/* The {id} segment as a key id; 0 when it is not one. */
static uint32_t param_key_id(const char *s)
{
	char *end = NULL;
	unsigned long long v;

	if (!s[0] || s[0] < '1' || s[0] > '9' || strlen(s) > 10)
		return 0;
	v = strtoull(s, &end, 10);
	return *end == '\0' && v <= UINT32_MAX ? (uint32_t)v : 0;
}

void api_keys_retire(struct apps_call *c)
{
	uint32_t id = param_key_id(c->param), current = 0;
	int64_t created[KEYRING_MAX];
	struct key_counts *k;
	uint64_t records = 0;
	bool known = false;
	char msg[200];
	int rc;

	if (!require_admin(c))
		return;
	if (!id) {
		reply_error(c, 400, "api.context.invalid_url_param.app_error",
			    "The key id must be a positive integer.");
		return;
	}
	if (!(k = count_keys(c, &current, created)))
		return;
	for (size_t i = 0; i < k->len; i++)
		if (k->ids[i] == id) {
			known = true;
			records = k->n[i];
		}
	free(k);
	if (id == current) {
		reply_error(c, 409, "apps.keys.current.app_error",
			    "The current data key cannot be retired: rotate first.");
		return;
	}
	if (records) {
		snprintf(msg, sizeof(msg),
			 "%llu records are still sealed with data key %u: wait until the key "
			 "sweep is done (GET admin/keys), then retire it.",
			 (unsigned long long)records, id);
		reply_error(c, 409, "apps.keys.in_use.app_error", msg);
		return;
	}
	if (!known) {
		reply_error(c, 404, "apps.keys.not_found.app_error", "There is no such data key.");
		return;
	}
	rc = key_store_retire(&c->plugin->keys, id);
	if (rc == KEY_STORE_ENOTFOUND) {
		reply_error(c, 404, "apps.keys.not_found.app_error", "There is no such data key.");
		return;
	}
	if (rc == KEY_STORE_ECURRENT) {
		reply_error(c, 409, "apps.keys.current.app_error",
			    "The current data key cannot be retired: rotate first.");
		return;
	}
	if (rc == KEY_STORE_EACTIVE) {
		snprintf(msg, sizeof(msg),
			 "Data key %u is not withdrawn yet (nodes may still seal with it): wait "
			 "until the key sweep is done (GET admin/keys), then retire it.",
			 id);
		reply_error(c, 409, "apps.keys.in_use.app_error", msg);
		return;
	}
	if (rc != STORE_OK) {
		reply_keys_failed(c, rc, "retiring a data key");
		return;
	}
	plugin_logf(c->plugin, MMPLUGIN_LOG_INFO, "data key %u retired by %s", id, c->who.user_id);
	if (!audit_request(c, "key_retired", NULL, NULL))
		return;
	reply_json(c, 200, "{\"status\":\"OK\"}", 15);
}
